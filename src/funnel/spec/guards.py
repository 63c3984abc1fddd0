"""
Guards: the named conditions on transitions.

A machine declares guards by name (``cond="is_two_way"``); both the real
python-statemachine instance and the derived transition table call the same
:class:`Guard` from the funnel's :class:`GuardRegistry` (by default
:data:`GUARDS`), so they cannot disagree. A guard returns
the reasons it refuses; no reasons means it passes. Guards are pure: they read
the record and the context and change nothing.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING

import attrs

from funnel._base.fields import is_blank, shown
from funnel._base.time import to_utc
from funnel.exceptions import GuardError, UnknownName, ValidationError, describe
from funnel.model.engagement import Engagement, EngagementFinding, assess_engagement
from funnel.model.evidence import Verdict, evidence_order
from funnel.model.qualification import Qualification, qualify
from funnel.model.touch import Direction

if TYPE_CHECKING:
    from funnel.model.records import FunnelRecord
    from funnel.spec.definition import FunnelDefinition


@attrs.frozen(kw_only=True)
class GuardContext:
    """
    What a guard may read besides the record.

    One context is made per decision (one ``advance``, ``convert`` or
    ``explain``): it remembers each guard's verdict and the qualification, so
    every guard is evaluated at most once per decision however many edges
    and explanations ask for it.

    Attributes:
        funnel: The funnel definition in force.
        at: The moment of the transition.
        why: The reason given with the event, if any.
    """

    funnel: FunnelDefinition
    at: datetime = attrs.field(converter=to_utc)  # compared with stored (UTC) times
    why: str | None = None
    _memo: dict[object, object] = attrs.field(factory=dict, init=False, eq=False, repr=False)

    def refusals(self, name: str, record: FunnelRecord) -> tuple[str, ...]:
        """
        The reasons guard *name* refuses *record* (empty: it passes), evaluated once.

        Raises:
            GuardError: the guard raised, or returned anything but a tuple (or
                list) of strings.
        """
        key = ("guard", name, id(record))
        if key not in self._memo:
            self._memo[key] = (record, _run_guard(self.funnel.guards[name], record, self))
        return self._memo[key][1]  # type: ignore[index, no-any-return]

    def passes(self, name: str, record: FunnelRecord) -> bool:
        """Whether guard *name* lets *record* through."""
        return not self.refusals(name, record)


GuardCheck = Callable[["FunnelRecord", GuardContext], tuple[str, ...]]


@attrs.frozen
class Guard:
    """
    A named, pure condition.

    Attributes:
        name: The name machines use in ``cond=``.
        description: What it requires, for docs and diagrams.
        check: Returns the reasons it refuses (empty tuple = passes).
    """

    name: str
    description: str
    check: GuardCheck

    def passes(self, record: FunnelRecord, ctx: GuardContext) -> bool:
        """Whether the guard lets the transition through."""
        return not self.check(record, ctx)


def _run_guard(guard: Guard, record: FunnelRecord, ctx: GuardContext) -> tuple[str, ...]:
    """Call *guard*'s check; whatever goes wrong in it is a :class:`GuardError`."""
    who = f"{type(record).__name__} {getattr(record, 'id', None)!r}"
    try:
        result: object = guard.check(record, ctx)
    except GuardError:
        raise
    except Exception as exc:
        raise GuardError(
            f"guard {guard.name!r} failed on {who}: {describe(exc)} "
            "(the guard's own error is the __cause__)",
            guard=guard.name,
            record=record,
        ) from exc
    if type(result) is tuple and all(type(r) is str for r in result):
        return result
    if isinstance(result, tuple | list) and all(isinstance(r, str) for r in result):
        return tuple(str(r) for r in result)
    close = getattr(result, "close", None)
    if inspect.isawaitable(result) and callable(close):
        close()  # an async guard: never awaited
    raise GuardError(
        f"guard {guard.name!r} returned {type(result).__name__} on {who}; a guard returns "
        "a tuple of reasons, empty when it passes (async guards are not supported)",
        guard=guard.name,
        record=record,
    )


def _origin(check: GuardCheck) -> str:
    """Where a check was defined: module and qualified name."""
    module = getattr(check, "__module__", "?")
    return f"{module}.{getattr(check, '__qualname__', type(check).__name__)}"


class GuardRegistry(Mapping[str, Guard]):
    """
    Guards by name: the conditions a funnel's machine may name in ``cond=``.

    :data:`GUARDS` is the default registry, holding the built-in guards;
    every funnel uses it unless given its own. A company that needs a guard
    only for its own funnel makes a registry that extends the default one and
    passes it to its funnel (``Funnel(machine=..., guards=acme_guards)``), so
    two funnels in one process can have different guards of the same name.

    >>> acme_guards = GUARDS.extend()
    >>> @acme_guards.register("has_phone", "a phone number is known")
    ... def _has_phone(record, ctx):
    ...     return () if record.contact.phone else ("no phone number",)
    >>> "has_phone" in acme_guards, "has_phone" in GUARDS
    (True, False)
    """

    def __init__(self, guards: Iterable[Guard] = (), *, name: str = "guards") -> None:
        self._guards: dict[str, Guard] = {}
        self.name = _registry_name(name)
        given: object = guards
        try:
            items = list(guards) if not isinstance(given, str | bytes) else None
        except TypeError:
            items = None
        if items is None:
            raise ValidationError(
                f"GuardRegistry takes a collection of Guard, got {type(guards).__name__}",
                record=f"GuardRegistry {self.name!r}",
                field="guards",
            )
        for i, guard in enumerate(items):
            if not isinstance(guard, Guard):
                raise ValidationError(
                    f"GuardRegistry {self.name!r}: guards[{i}] must be a Guard, "
                    f"got {type(guard).__name__}",
                    record=f"GuardRegistry {self.name!r}",
                    field="guards",
                )
            self._guards[guard.name] = guard

    def __getitem__(self, name: str) -> Guard:
        try:
            return self._guards[name]
        except (KeyError, TypeError):
            raise UnknownName(
                f"no guard {shown(name)} in {self!r}", field="name", allowed=tuple(self._guards)
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._guards)

    def __len__(self) -> int:
        return len(self._guards)

    def __repr__(self) -> str:
        return f"<GuardRegistry {self.name!r}: {', '.join(self._guards)}>"

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._guards

    def extend(self, name: str = "guards") -> GuardRegistry:
        """A new registry holding these guards; guards added to it stay in it."""
        return GuardRegistry(self._guards.values(), name=name)

    def register(
        self, name: str, description: str, *, replace: bool = False
    ) -> Callable[[GuardCheck], Guard]:
        """
        Register a guard under *name* (a decorator).

        The check receives the record and a :class:`GuardContext` and returns
        the reasons it refuses. A name taken by another check is refused
        unless *replace* is true; ``is_two_way`` and ``is_qualified``, which
        define when a lead may become a prospect, are never replaced. Registering the same function
        again (a re-run notebook cell, a reloaded module) is allowed.

        Raises:
            ValidationError: *name* is not an identifier, or is taken by another check.
        """
        if (
            not isinstance(name, str)
            or not name.isidentifier()
            or name.startswith(("on_", "before_", "after_", "_"))
        ):
            raise ValidationError(
                f"guard name {shown(name)} must be an identifier without a callback prefix",
                field="name",
            )
        if not isinstance(description, str):
            raise ValidationError(
                f"guard {name!r}: description must be a string, got {type(description).__name__}",
                field="description",
            )
        if not isinstance(replace, bool):
            raise ValidationError(
                f"guard {name!r}: replace must be True or False, got {type(replace).__name__}",
                field="replace",
            )

        def decorate(check: GuardCheck) -> Guard:
            if not callable(check):
                raise ValidationError(f"guard {name!r}: the check must be callable", field="check")
            taken = self._guards.get(name)
            if (
                name in CONVERSION_RULE
                and taken is not None
                and _origin(taken.check) != _origin(check)
            ):
                raise ValidationError(
                    f"guard {name!r} defines when a lead may become a prospect and cannot be "
                    "replaced, in any registry; change the funnel's framework or profile instead",
                    field="name",
                )
            if taken is not None and not replace and _origin(taken.check) != _origin(check):
                raise ValidationError(
                    f"guard {name!r} is already registered ({taken.description!r}, "
                    f"{_origin(taken.check)}); pass replace=True to replace it",
                    field="name",
                )
            guard = Guard(name, description, check)
            self._guards[name] = guard
            return guard

        return decorate

    def unregister(self, name: str) -> Guard:
        """
        Remove guard *name* from this registry and return it (built-in guards stay).

        Funnels already built keep their table; a funnel built later whose
        machine names the guard is refused.

        Raises:
            ValidationError: *name* is a built-in guard, or not registered.
        """
        if name not in self:
            raise ValidationError(f"no guard {shown(name)} in {self!r}", field="name")
        if name in _BUILT_IN:
            raise ValidationError(
                f"guard {name!r} is built in and cannot be removed", field="name"
            )
        return self._guards.pop(name)


def _registry_name(name: object) -> str:
    if not isinstance(name, str):
        raise ValidationError(
            f"a GuardRegistry's name must be a string, got {type(name).__name__}",
            record="GuardRegistry",
            field="name",
        )
    return name


#: The default guard registry: the built-in guards, and those added with :func:`register_guard`.
GUARDS = GuardRegistry(name="default")


def register_guard(
    name: str, description: str, *, replace: bool = False
) -> Callable[[GuardCheck], Guard]:
    """
    Register a guard in the default registry :data:`GUARDS` (a decorator).

    See :meth:`GuardRegistry.register`; for a guard only one funnel should
    see, register it on that funnel's own registry (:meth:`GuardRegistry.extend`).

    Raises:
        ValidationError: *name* is not an identifier, or is taken by another check.

    >>> from funnel import register_guard
    >>> from funnel.spec.guards import GUARDS
    >>> @GUARDS.register("has_phone", "a phone number is known")
    ... def _has_phone(record, ctx):
    ...     return () if record.contact.phone else ("no phone number",)
    >>> "has_phone" in GUARDS
    True
    >>> register_guard("is_two_way", "my own check")(lambda record, ctx: ())
    Traceback (most recent call last):
    ...
    funnel.exceptions.ValidationError: guard 'is_two_way' defines when a lead may become ...
    """
    return GUARDS.register(name, description, replace=replace)


def qualification_of(record: FunnelRecord, ctx: GuardContext) -> Qualification:
    """
    Judge *record* with the funnel's framework and profile, as of ``ctx.at``.

    Computed once per context: the ``is_qualified`` guard, ``convert`` and
    ``explain`` share the one verdict.
    """
    key = ("qualification", id(record))
    memo = ctx._memo
    if key not in memo:
        memo[key] = (record, _qualify(record, ctx))
    return memo[key][1]  # type: ignore[index, no-any-return]


#: The guards every lead -> prospect edge carries: what makes a prospect. No registry
#: may replace them (a prospect is a lead in a dialogue that passed qualification).
CONVERSION_RULE = frozenset({"is_two_way", "is_qualified"})

#: The guards the library itself defines (below): never removed, never replaced by accident.
_BUILT_IN = frozenset(
    {"is_two_way", "is_qualified", "has_reason", "fits_profile", "has_inbound_action"}
)


def engagement_of(record: FunnelRecord, ctx: GuardContext) -> EngagementFinding:
    """The record's engagement from its touches up to ``ctx.at``, computed once per context."""
    key = ("engagement", id(record))
    memo = ctx._memo
    if key not in memo:
        memo[key] = (record, assess_engagement(t for t in record.touches if t.at <= ctx.at))
    return memo[key][1]  # type: ignore[index, no-any-return]


def _qualify(record: FunnelRecord, ctx: GuardContext) -> Qualification:
    funnel = ctx.funnel
    return qualify(
        record.evidence,
        framework=funnel.framework,
        company=record.contact.company,
        icp=funnel.icp,
        at=ctx.at,
        funnel_version=funnel.version,
    )


@GUARDS.register("is_two_way", "two-way communication exists")
def _is_two_way(record: FunnelRecord, ctx: GuardContext) -> tuple[str, ...]:
    finding = engagement_of(record, ctx)
    if finding.level is Engagement.TWO_WAY:
        return ()
    return (f"engagement is {finding.level.value}: {finding.reason}",)


@GUARDS.register("is_qualified", "the qualification framework passes")
def _is_qualified(record: FunnelRecord, ctx: GuardContext) -> tuple[str, ...]:
    q = qualification_of(record, ctx)
    return () if q.passed else q.explain()


@GUARDS.register("has_reason", "a reason is given")
def _has_reason(record: FunnelRecord, ctx: GuardContext) -> tuple[str, ...]:
    if ctx.why and not is_blank(ctx.why):
        return ()
    return ("a reason is required (pass why=...)",)


@GUARDS.register("fits_profile", "the company fits the ideal customer profile")
def _fits_profile(record: FunnelRecord, ctx: GuardContext) -> tuple[str, ...]:
    funnel = ctx.funnel
    key = funnel.icp.criterion if funnel.icp is not None else "fit"
    recorded = [e for e in record.evidence if e.criterion == key and e.at <= ctx.at]
    if recorded:
        latest = max(recorded, key=evidence_order)  # as qualify() reads a tie
        if latest.verdict is Verdict.MET:
            return ()
        # The note is free text that may quote the contact: name who recorded it, and when.
        return (
            f"{key} is {latest.verdict.value} "
            f"(recorded by {latest.source} on {latest.at:%Y-%m-%d})",
        )
    if funnel.icp is None:
        return (f"no {key!r} evidence and the funnel declares no ideal customer profile",)
    verdict, why = funnel.icp.assess(record.contact.company)
    if verdict is Verdict.MET:
        return ()
    return (f"ideal customer profile: {verdict.value} ({'; '.join(why)})",)


@GUARDS.register("has_inbound_action", "the person acted on a call to action")
def _has_inbound_action(record: FunnelRecord, ctx: GuardContext) -> tuple[str, ...]:
    if any(t.direction is Direction.INBOUND and t.at <= ctx.at for t in record.touches):
        return ()
    return ("no inbound action yet (form fill, sign-up, quote request, email in)",)
