"""
:class:`Funnel`: a funnel definition that moves its own records.

A :class:`Funnel` is a :class:`~funnel.spec.definition.FunnelDefinition`
(the machine, its guards, levels, framework, profile and communication
rules) with the methods that move records through it. Every move takes one
path (:func:`funnel.engine.transitions.move`); python-statemachine listeners
and :class:`~funnel.engine.hooks.Hooks` are options of that path, not other
functions.

>>> from datetime import datetime, timezone
>>> from funnel import Contact, Lead, Touch
>>> at = datetime(2026, 3, 1, tzinfo=timezone.utc)
>>> form = Touch(id="f1", at=at, direction="inbound", channel="form", reach="mass")
>>> lead = Lead(id="L1", contact=Contact(name="Ada"), source="web", created_at=at,
...             touches=[form])
>>> from funnel import DEFAULT_FUNNEL
>>> DEFAULT_FUNNEL.advance(lead, "mark_mql", at=at).stage
'mql'

The module-level functions (:func:`advance`, :func:`convert`, :func:`fire`,
:func:`explain`, ...) are shortcuts over :data:`DEFAULT_FUNNEL`, or over the
funnel passed as ``funnel=``.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar, cast, overload

import attrs

from funnel._base.privacy import escape_controls
from funnel.engine import touches as _touches
from funnel.engine.explain import Explanation, explain_record
from funnel.engine.transitions import (
    accepts,
    amove,
    check_options,
    context,
    conversion_event,
    enabled,
    machine_for,
    move,
    require_record,
)
from funnel.exceptions import ValidationError
from funnel.model.records import Lead, Prospect
from funnel.model.touch import Touch
from funnel.spec.definition import FunnelDefinition
from funnel.spec.levels import SALES_LEVELS  # noqa: F401 - declares the default stage levels

if TYPE_CHECKING:
    from funnel.engine.hooks import Hooks
    from funnel.spec.machine import SalesStep

    #: The sources' funnel with their own criteria (fit, means, authority, intention).
    #: Built the first time it is used, so ``import funnel`` loads no python-statemachine.
    DEFAULT_FUNNEL: Funnel

R = TypeVar("R", bound=Lead | Prospect)
Record = Lead | Prospect

__all__ = (
    "DEFAULT_FUNNEL",
    "Funnel",
    "advance",
    "allowed_events",
    "can",
    "check_touch",
    "convert",
    "enabled_events",
    "explain",
    "fire",
    "plan_touch",
    "resolve_funnel",
)


@attrs.frozen(kw_only=True)
class Funnel(FunnelDefinition):
    """
    A validated funnel definition that moves records: the class you work with.

    Build one from a machine class (``Funnel(machine=AcmeFunnel, name="acme")``)
    or load one from a file (:func:`funnel.load_funnel`). Every method takes
    the moment as ``at`` (timezone-aware) and returns new records; the input
    is never changed, also when a change is refused.

    Each decision (one ``advance``, ``convert``, ``explain``...) evaluates
    every guard of the funnel's registry at most once.
    """

    # A funnel is immutable: a copy is the funnel itself. It does not pickle (a machine
    # built from a file is a class made at load time, a registry may hold lambdas):
    # send its definition file instead.
    def __copy__(self) -> Funnel:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> Funnel:
        return self

    def __reduce_ex__(self, protocol: object) -> NoReturn:
        """
        Refuse to pickle, saying what to send instead: the definition file
        (:func:`funnel.dump_funnel`), which :func:`funnel.loads_funnel` rebuilds.
        """
        raise ValidationError(
            "a Funnel does not pickle: send its definition (funnel.dump_funnel(f)) and "
            "rebuild it with funnel.loads_funnel(text, guards=f.guards)"
        )

    def __repr__(self) -> str:
        """
        One line: name, version, how many stages and events, the framework.

        The whole definition is :meth:`mermaid` (and the notebook's diagram); the
        fields themselves are attributes.

        >>> from funnel import DEFAULT_FUNNEL
        >>> DEFAULT_FUNNEL
        <Funnel 'sources' v1: 10 stages, 10 events, framework 'default'>
        """
        table = self.table
        return (
            f"<Funnel {_short(self.name)} v{_short(self.version, quote=False)}: "
            f"{len(table.stages)} stages, {len(table.events)} events, "
            f"framework {_short(self.framework.name)}>"
        )

    # -- moving ------------------------------------------------------------------------

    def advance(
        self,
        record: R,
        event: str,
        *,
        at: datetime,
        why: str | None = None,
        hooks: Hooks | None = None,
        listeners: Sequence[object] = (),
    ) -> R:
        """
        Send *event* to *record* and return the record in its new stage.

        A lead stays a lead and a prospect a prospect; the change is appended
        to ``history`` with *at* and *why*.

        Args:
            record: A lead or a prospect of this funnel.
            event: The event name.
            at: When it happens.
            why: A reason (required by guards such as ``has_reason``).
            hooks: Veto and after hooks to run (see :mod:`funnel.engine.hooks`).
            listeners: python-statemachine listeners; the event then goes
                through a real machine instance (``on_enter_<stage>``,
                ``after_transition``...). The result is the same.

        Raises:
            IllegalEvent: the event has no transition from the current stage.
            GuardFailed: a guard refused (e.g. ``lose`` without *why*).
            WrongLevel: the event would cross from lead to prospect (use
                :meth:`convert`), or the record's type and stage disagree.
            ChronologyError: *at* precedes the record's last change.
        """
        ctx = context(self, at, why)
        new = move(record, event, ctx, crossing="same", hooks=hooks, listeners=listeners)
        return cast(R, new)  # crossing="same" keeps the record's type

    def convert(
        self,
        lead: Lead,
        *,
        at: datetime,
        why: str | None = None,
        event: str | None = None,
        owner: str | None = None,
        hooks: Hooks | None = None,
        listeners: Sequence[object] = (),
    ) -> Prospect:
        """
        Turn *lead* into a :class:`~funnel.Prospect`.

        Allowed only when two-way communication exists and the funnel's
        qualification framework passes, both as of *at*. The prospect keeps
        the lead's id, contact (and consent), touches, evidence and history,
        and records the qualification (with the funnel's version) and the
        touch that made the communication two-way.

        Args:
            lead: The lead.
            at: When the conversion happens.
            why: An optional note for the history.
            event: The conversion event, if the funnel has several.
            owner: A new owner for the prospect (default: the lead's owner).
            hooks: Hooks to run, as in :meth:`advance`.
            listeners: python-statemachine listeners, as in :meth:`advance`.

        Raises:
            NotQualified: engagement or qualification is missing; ``reasons``
                lists every gap and ``qualification`` holds the verdict.
            IllegalEvent: the lead's stage cannot convert (e.g. disqualified).
        """
        if not isinstance(lead, Lead):
            raise ValidationError(
                f"convert() takes a Lead, got {type(lead).__name__}", field="lead"
            )
        name = conversion_event(self, event, lead.stage)
        if owner is not None and not isinstance(owner, str):
            raise ValidationError("owner must be a string", field="owner")
        ctx = context(self, at, why)
        new = move(
            lead, name, ctx, crossing="convert", hooks=hooks, listeners=listeners, owner_=owner
        )
        return cast(Prospect, new)  # crossing="convert" always makes a prospect

    @overload
    def fire(
        self,
        record: Lead,
        event: str,
        *,
        at: datetime,
        why: str | None = ...,
        hooks: Hooks | None = ...,
        listeners: Sequence[object] = ...,
    ) -> Lead | Prospect: ...
    @overload
    def fire(
        self,
        record: Prospect,
        event: str,
        *,
        at: datetime,
        why: str | None = ...,
        hooks: Hooks | None = ...,
        listeners: Sequence[object] = ...,
    ) -> Prospect: ...
    def fire(
        self,
        record: Lead | Prospect,
        event: str,
        *,
        at: datetime,
        why: str | None = None,
        hooks: Hooks | None = None,
        listeners: Sequence[object] = (),
    ) -> Lead | Prospect:
        """
        Send any event, conversion included: where events come from data (a log, a queue).

        Same errors as :meth:`advance` and :meth:`convert`.
        """
        ctx = context(self, at, why)
        return move(record, event, ctx, crossing="any", hooks=hooks, listeners=listeners)

    async def afire(
        self,
        record: Lead | Prospect,
        event: str,
        *,
        at: datetime,
        hooks: Hooks,
        why: str | None = None,
    ) -> Lead | Prospect:
        """:meth:`fire` with async hooks: async listeners are awaited (concurrently)."""
        ctx = context(self, at, why)
        return await amove(record, event, ctx, crossing="any", hooks=hooks)

    # -- asking ------------------------------------------------------------------------

    def can(self, record: Record, event: str, *, at: datetime, why: str | None = None) -> bool:
        """Whether :meth:`fire` would accept *event* now (guards evaluated)."""
        return accepts(record, event, context(self, at, why))

    def allowed_events(self, record: Record) -> frozenset[str]:
        """Events with a transition from the record's stage, guards not evaluated."""
        require_record(record)
        return self.table.allowed(record.stage)

    def enabled_events(
        self, record: Record, *, at: datetime, why: str | None = None
    ) -> tuple[str, ...]:
        """Events the record would accept now, guards evaluated, in declaration order."""
        require_record(record)
        return enabled(record, context(self, at, why))

    def explain(self, record: Record, *, at: datetime) -> Explanation:
        """
        Explain where *record* stands as of *at*.

        For a lead, ``ready`` is True exactly when :meth:`convert` with the
        same *at* would succeed, and ``blockers`` lists precisely why not:
        missing two-way communication, each criterion not met or unknown, a
        stage with no conversion event, a moment before the last change.
        """
        require_record(record)
        return explain_record(record, context(self, at))

    def check(self, record: R) -> R:
        """
        Return *record* if this funnel could have made it; raise otherwise.

        Its stage is a stage of this funnel at the level of its type, and
        every history step is an edge of the funnel (a prospect's history
        crosses to the prospect level once, through a conversion).

        Raises:
            ValidationError: naming the record and the field (``stage``,
                ``history[i]``) of each problem.
        """
        require_record(record)
        problems = self.record_problems(record)
        if problems:
            who = f"{type(record).__name__} {record.id!r}"
            lines = "".join(f"\n  - {field}: {text}" for field, text in problems)
            raise ValidationError(
                f"{who} does not fit funnel {self.name!r} v{self.version}{lines}",
                record=who,
                field=problems[0][0],
            )
        return record

    def machine_for(
        self,
        record: Record,
        *,
        at: datetime,
        why: str | None = None,
        listeners: Sequence[object] = (),
    ) -> Any:
        """
        A real python-statemachine instance resumed at the record's stage.

        For diagrams of one record or for listeners; :meth:`advance` is about
        1000x cheaper for moving records.
        """
        require_record(record)
        check_options(self, None, listeners)
        return machine_for(record, context(self, at, why), listeners)

    # -- touches -----------------------------------------------------------------------

    def check_touch(self, record: Record, touch: Touch) -> tuple[str, ...]:
        """The reasons the communication rules and consent refuse *touch* (empty: allowed)."""
        return _touches.check_touch(record, touch, funnel=self)

    def add_touch(self, record: R, touch: Touch, *, imported: bool = False) -> R:
        """
        Return *record* with *touch* added, under this funnel's communication rules.

        The same as :func:`funnel.add_touch` with ``funnel=self``: the touch must not
        be dated before the record's latest change, and the contact's consent and the
        rules for the record's stage apply, unless ``imported=True`` (a past touch
        brought in from another system, recorded as given).

        Raises:
            ChronologyError: without *imported*, the touch precedes the record's latest
                change.
            CommunicationRefused: with ``record``, ``touch`` and every reason.
        """
        return _touches.add_touch(record, touch, funnel=self, imported=imported)

    def plan_touch(self, record: R, touch: Touch) -> R:
        """
        Return *record* with *touch* added, if the communication rules allow it.

        Raises:
            CommunicationRefused: with ``record``, ``touch`` and every reason.
        """
        return _touches.plan_touch(record, touch, funnel=self)


def _short(text: str, *, quote: bool = True, limit: int = 40) -> str:
    """*text* for a one-line repr: clipped to *limit* characters, control characters escaped."""
    clipped = text if len(text) <= limit else text[: limit - 1] + "…"
    return repr(clipped) if quote else escape_controls(clipped).replace("\n", "\\n")


_default: Funnel | None = None
_default_lock = threading.RLock()


def _default_funnel() -> Funnel:
    """
    The sources' funnel with their own criteria (fit, means, authority, intention).

    This is :data:`DEFAULT_FUNNEL`. It is built the first time it is asked for,
    from :class:`~funnel.spec.machine.SalesFunnel` (which loads python-statemachine
    and derives the transition table), so ``import funnel`` stays light; every
    later call returns the same object.
    """
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                from funnel.spec.machine import SalesFunnel

                _default = Funnel(
                    machine=SalesFunnel,
                    name="sources",
                    version="1",
                    description="The funnel as the two source articles describe it.",
                )
                globals()["DEFAULT_FUNNEL"] = _default
    return _default


def __getattr__(name: str) -> Any:
    if name == "DEFAULT_FUNNEL":  # PEP 562: built on first use, then a plain global
        return _default_funnel()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# -- shortcuts over the default funnel -------------------------------------------------


@overload
def advance(
    record: R,
    event: SalesStep,
    *,
    at: datetime,
    why: str | None = ...,
    funnel: None = ...,
    hooks: Hooks | None = ...,
    listeners: Sequence[object] = ...,
) -> R: ...
@overload
def advance(
    record: R,
    event: str,
    *,
    at: datetime,
    why: str | None = ...,
    funnel: Funnel,
    hooks: Hooks | None = ...,
    listeners: Sequence[object] = ...,
) -> R: ...
def advance(
    record: R,
    event: str,
    *,
    at: datetime,
    why: str | None = None,
    funnel: Funnel | None = None,
    hooks: Hooks | None = None,
    listeners: Sequence[object] = (),
) -> R:
    """
    :meth:`Funnel.advance` on *funnel* (default: :data:`DEFAULT_FUNNEL`).

    Without ``funnel=``, *event* is one of the default funnel's events, so a
    type checker catches a misspelt one.

    >>> from datetime import datetime, timezone
    >>> from funnel import Contact, Lead, Touch
    >>> at = datetime(2026, 3, 1, tzinfo=timezone.utc)
    >>> form = Touch(id="f1", at=at, direction="inbound", channel="form", reach="mass")
    >>> lead = Lead(id="L1", contact=Contact(name="Ada"), source="web", created_at=at,
    ...             touches=[form])
    >>> advance(lead, "mark_mql", at=at).stage
    'mql'
    """
    return resolve_funnel(funnel).advance(
        record, event, at=at, why=why, hooks=hooks, listeners=listeners
    )


def convert(
    lead: Lead,
    *,
    at: datetime,
    why: str | None = None,
    funnel: Funnel | None = None,
    event: str | None = None,
    owner: str | None = None,
    hooks: Hooks | None = None,
    listeners: Sequence[object] = (),
) -> Prospect:
    """:meth:`Funnel.convert` on *funnel* (default: :data:`DEFAULT_FUNNEL`)."""
    return resolve_funnel(funnel).convert(
        lead, at=at, why=why, event=event, owner=owner, hooks=hooks, listeners=listeners
    )


@overload
def fire(
    record: Lead,
    event: str,
    *,
    at: datetime,
    why: str | None = ...,
    funnel: Funnel | None = ...,
    hooks: Hooks | None = ...,
    listeners: Sequence[object] = ...,
) -> Lead | Prospect: ...
@overload
def fire(
    record: Prospect,
    event: str,
    *,
    at: datetime,
    why: str | None = ...,
    funnel: Funnel | None = ...,
    hooks: Hooks | None = ...,
    listeners: Sequence[object] = ...,
) -> Prospect: ...
def fire(
    record: Lead | Prospect,
    event: str,
    *,
    at: datetime,
    why: str | None = None,
    funnel: Funnel | None = None,
    hooks: Hooks | None = None,
    listeners: Sequence[object] = (),
) -> Lead | Prospect:
    """:meth:`Funnel.fire` on *funnel* (default: :data:`DEFAULT_FUNNEL`)."""
    return resolve_funnel(funnel).fire(
        record, event, at=at, why=why, hooks=hooks, listeners=listeners
    )


def can(
    record: Record,
    event: str,
    *,
    at: datetime,
    why: str | None = None,
    funnel: Funnel | None = None,
) -> bool:
    """:meth:`Funnel.can` on *funnel* (default: :data:`DEFAULT_FUNNEL`)."""
    return resolve_funnel(funnel).can(record, event, at=at, why=why)


def allowed_events(record: Record, *, funnel: Funnel | None = None) -> frozenset[str]:
    """:meth:`Funnel.allowed_events` on *funnel* (default: :data:`DEFAULT_FUNNEL`)."""
    return resolve_funnel(funnel).allowed_events(record)


def enabled_events(
    record: Record, *, at: datetime, why: str | None = None, funnel: Funnel | None = None
) -> tuple[str, ...]:
    """:meth:`Funnel.enabled_events` on *funnel* (default: :data:`DEFAULT_FUNNEL`)."""
    return resolve_funnel(funnel).enabled_events(record, at=at, why=why)


def explain(record: Record, *, at: datetime, funnel: Funnel | None = None) -> Explanation:
    """
    :meth:`Funnel.explain` on *funnel* (default: :data:`DEFAULT_FUNNEL`).

    >>> from datetime import datetime, timezone
    >>> from funnel import Contact, Lead
    >>> at = datetime(2026, 3, 1, tzinfo=timezone.utc)
    >>> lead = Lead(id="L7", contact=Contact(name="Bo"), source="list", created_at=at)
    >>> for line in explain(lead, at=at).blockers:
    ...     print(line)
    no two-way communication: no touches yet
    fit: unknown (not established yet)
    means: unknown (not established yet)
    authority: unknown (not established yet)
    intention: unknown (not established yet)
    """
    return resolve_funnel(funnel).explain(record, at=at)


def check_touch(record: Record, touch: Touch, *, funnel: Funnel | None = None) -> tuple[str, ...]:
    """:meth:`Funnel.check_touch` on *funnel* (default: :data:`DEFAULT_FUNNEL`)."""
    return resolve_funnel(funnel).check_touch(record, touch)


def plan_touch(record: R, touch: Touch, *, funnel: Funnel | None = None) -> R:
    """
    :meth:`Funnel.plan_touch` on *funnel* (default: :data:`DEFAULT_FUNNEL`).

    Raises:
        CommunicationRefused: with ``record``, ``touch`` and every reason.
    """
    return resolve_funnel(funnel).plan_touch(record, touch)


def resolve_funnel(funnel: object) -> Funnel:
    """
    *funnel*, or :data:`DEFAULT_FUNNEL` for ``None``.

    Raises:
        ValidationError: *funnel* is neither ``None`` nor a :class:`Funnel`.
    """
    if funnel is None:
        return _default if _default is not None else _default_funnel()
    if not isinstance(funnel, Funnel):
        raise ValidationError(
            f"funnel= takes a funnel.Funnel, got {type(funnel).__name__}", field="funnel"
        )
    return funnel
