"""
Hooks: your code, called on each stage change (e.g. tell the owner a lead became a prospect).

Register listeners on a :class:`Hooks` registry, for every change
(:meth:`Hooks.on_any`), one event (:meth:`Hooks.on_event`), entering a
stage (:meth:`Hooks.on_enter`) or a conversion (:meth:`Hooks.on_conversion`).
Each listener receives one :class:`Transition`: the record before, the
record after, and the :class:`~funnel.StageChange`.

Hooks are an option of the one path that moves records: pass them to
:meth:`funnel.Funnel.advance`, ``convert`` or ``fire`` (or the module-level
shortcuts) as ``hooks=``.

**When hooks run, and what a failing hook does.** The new record is always
computed first (so guard errors come before any hook). Then:

1. *before* hooks (:meth:`Hooks.before`) may **veto**: raising any exception
   refuses the transition with :class:`HookVetoed` (a
   :class:`~funnel.TransitionError`). Nothing is returned or stored, and the
   input record is unchanged (records are frozen).
2. *after* hooks (all the others) run once the transition stands. They
   cannot undo it: every listener runs even if one fails, and the failures
   are then raised together as :class:`HookError`, whose ``.record`` is the
   new, consistent record (or only logged, with ``Hooks(errors="log")``).
   With a store, run them after the commit:
   ``store.transact(id, change, after=hooks.dispatch)``.

So a failing hook never leaves a half-applied record: either the whole
transition is refused (before), or it stands in full (after).

Async listeners (``async def``) are awaited by :meth:`funnel.Funnel.afire` /
:meth:`Hooks.adispatch`, concurrently (:func:`asyncio.gather`). For
python-statemachine's own callbacks (``on_enter_<stage>``, ...), pass
``listeners=`` to the same methods.

>>> from funnel import Contact, Lead
>>> at = datetime(2026, 3, 1, tzinfo=timezone.utc)
>>> hooks = Hooks()
>>> @hooks.on_enter("nurturing")
... def tell_owner(t):
...     print(f"{t.new.owner}: {t.record_id} now {t.change.to_stage}")
>>> lead = Lead(id="L1", contact=Contact(name="Ada"), source="web", created_at=at, owner="alice")
>>> funnel.advance(lead, "nurture", at=at, hooks=hooks).stage
alice: L1 now nurturing
'nurturing'
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import Literal, TypeVar

import attrs

from funnel._base.fields import record_label, shown
from funnel.engine.transitions import require_record
from funnel.exceptions import HookError, HookVetoed, ValidationError, describe
from funnel.model.history import StageChange
from funnel.model.records import Lead, Level, Prospect
from funnel.spec.definition import FunnelDefinition

__all__ = ("HookFailure", "Hooks", "Listener", "Transition")

logger = logging.getLogger("funnel.engine.hooks")

Record = Lead | Prospect


@attrs.frozen(kw_only=True)
class Transition:
    """
    One stage change, as listeners see it.

    Attributes:
        old: The record before the change(s).
        new: The record after (consistent; already stored, for after-commit hooks).
        change: The stage change this call is about.
        converted: Whether this change turned a lead into a prospect.
    """

    old: Record
    new: Record
    change: StageChange
    converted: bool = False

    @property
    def record_id(self) -> str:
        """The record's id."""
        return self.new.id


Listener = Callable[[Transition], object]
"""A hook: a function (or ``async def``) taking a :class:`Transition`."""

F = TypeVar("F", bound=Listener)


@attrs.frozen
class HookFailure:
    """A listener that raised: its name, the transition it was called for, and the error."""

    listener: str
    transition: Transition
    error: BaseException


def _name(listener: object) -> str:
    # Never repr(): a partial or a callable object may carry personal data in its repr.
    name = getattr(listener, "__qualname__", None)
    return name if isinstance(name, str) else type(listener).__name__


def _callable(listener: F) -> F:
    if not callable(listener):
        raise ValidationError(
            f"a hook must be callable, got {type(listener).__name__}", field="listener"
        )
    return listener


def _changes(old: Record, new: Record) -> tuple[StageChange, ...]:
    require_record(old, "old")
    require_record(new, "new")
    if new.id != old.id:
        raise ValidationError(f"hooks compare one record, got {old.id!r} and {new.id!r}")
    if new.history[: len(old.history)] != old.history:
        raise ValidationError(f"record {new.id!r}: the new history does not extend the old one")
    return new.history[len(old.history) :]


class Hooks:
    """
    A registry of listeners on stage changes.

    Args:
        funnel: The funnel whose stages and events listeners name (checked
            when registering).
        errors: ``"raise"`` (default): after hooks that fail raise
            :class:`HookError` once all have run; ``"log"``: failures are only
            logged (logger ``funnel.engine.hooks``).
    """

    def __init__(
        self,
        *,
        funnel: FunnelDefinition | None = None,
        errors: Literal["raise", "log"] = "raise",
    ) -> None:
        if not isinstance(errors, str) or errors not in ("raise", "log"):
            raise ValidationError(
                f"errors must be 'raise' or 'log', got {shown(errors)}",
                field="errors",
                allowed=("raise", "log"),
            )
        if funnel is None:
            from funnel.engine.funnel import DEFAULT_FUNNEL  # same layer; avoids a cycle

            funnel = DEFAULT_FUNNEL
        if not isinstance(funnel, FunnelDefinition):
            raise ValidationError(
                f"Hooks(funnel=) takes a funnel.Funnel, got {type(funnel).__name__}",
                field="funnel",
            )
        self.funnel: FunnelDefinition = funnel
        self.errors = errors
        self._before: list[Listener] = []
        self._any: list[Listener] = []
        self._conversion: list[Listener] = []
        self._by_event: dict[str, list[Listener]] = {}
        self._by_stage: dict[str, list[Listener]] = {}

    # -- registering -------------------------------------------------------------------

    def before(self, listener: F) -> F:
        """Register a veto hook: it runs before the transition stands; raising refuses it."""
        self._before.append(_callable(listener))
        return listener

    def on_any(self, listener: F) -> F:
        """Register a listener for every stage change."""
        self._any.append(_callable(listener))
        return listener

    def on_conversion(self, listener: F) -> F:
        """Register a listener for a lead becoming a prospect."""
        self._conversion.append(_callable(listener))
        return listener

    def on_event(self, event: str) -> Callable[[F], F]:
        """Register a listener for one event (``@hooks.on_event("win")``)."""
        if not isinstance(event, str) or event not in self.funnel.table.events:
            raise ValidationError(
                f"funnel {self.funnel.name!r} has no event {shown(event)}; "
                f"events: {', '.join(self.funnel.table.events)}",
                field="event",
                allowed=self.funnel.table.events,
            )

        def register(listener: F) -> F:
            self._by_event.setdefault(event, []).append(_callable(listener))
            return listener

        return register

    def on_enter(self, stage: str) -> Callable[[F], F]:
        """Register a listener for entering one stage (``@hooks.on_enter("won")``)."""
        if not isinstance(stage, str) or stage not in self.funnel.stages:
            raise ValidationError(
                f"funnel {self.funnel.name!r} has no stage {shown(stage)}; "
                f"stages: {', '.join(self.funnel.stages)}",
                field="stage",
                allowed=self.funnel.stages,
            )

        def register(listener: F) -> F:
            self._by_stage.setdefault(stage, []).append(_callable(listener))
            return listener

        return register

    # -- dispatching -------------------------------------------------------------------

    def transitions(self, old: Record, new: Record) -> tuple[Transition, ...]:
        """The :class:`Transition` of each change *new* has beyond *old*."""
        levels = self.funnel.levels
        return tuple(
            Transition(
                old=old,
                new=new,
                change=ch,
                converted=levels.get(ch.from_stage) is Level.LEAD
                and levels.get(ch.to_stage) is Level.PROSPECT,
            )
            for ch in _changes(old, new)
        )

    def _after(self, transition: Transition) -> Iterator[Listener]:
        yield from self._any
        yield from self._by_event.get(transition.change.event, ())
        yield from self._by_stage.get(transition.change.to_stage, ())
        if transition.converted:
            yield from self._conversion

    def _calls(self, old: Record, new: Record) -> list[tuple[Listener, Transition]]:
        return [(fn, t) for t in self.transitions(old, new) for fn in self._after(t)]

    def check_before(self, old: Record, new: Record) -> None:
        """
        Run the veto hooks on the change from *old* to *new* (sync listeners only).

        Raises:
            HookVetoed: a hook raised; its exception is the cause.
        """
        for transition in self.transitions(old, new):
            for listener in self._before:
                try:
                    result = listener(transition)
                    if inspect.isawaitable(result):
                        _close(result)
                        raise ValidationError("async veto hook: use Funnel.afire()")
                except Exception as exc:
                    raise _veto(old, transition, listener, exc) from exc

    def dispatch(self, old: Record, new: Record) -> None:
        """
        Call the after hooks for every change *new* has beyond *old*.

        Every listener is called, in registration order (any, event, stage,
        conversion), even when an earlier one fails.

        Raises:
            HookError: with ``errors="raise"``, when any listener failed.
        """
        calls = self._calls(old, new)
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s: %d hook call(s)", record_label(new), len(calls))
        failures: list[HookFailure] = []
        for listener, transition in calls:
            try:
                result = listener(transition)
                if inspect.isawaitable(result):
                    _close(result)
                    raise ValidationError(
                        "async listener called from sync code: use Funnel.afire() or adispatch()"
                    )
            except Exception as exc:
                failures.append(HookFailure(_name(listener), transition, exc))
        self._report(new, failures)

    async def acheck_before(self, old: Record, new: Record) -> None:
        """Like :meth:`check_before`, awaiting async veto hooks (in order)."""
        for transition in self.transitions(old, new):
            for listener in self._before:
                try:
                    result = listener(transition)
                    if inspect.isawaitable(result):
                        await result
                except Exception as exc:
                    raise _veto(old, transition, listener, exc) from exc

    async def adispatch(self, old: Record, new: Record) -> None:
        """
        Like :meth:`dispatch`, for sync and async listeners.

        Sync listeners run first, in order; the async ones then run
        concurrently (:func:`asyncio.gather`); all run even if some fail.
        """
        calls = self._calls(old, new)
        failures: list[HookFailure] = []
        pending: list[tuple[Listener, Transition, Awaitable[object]]] = []
        for listener, transition in calls:
            try:
                result = listener(transition)
            except Exception as exc:
                failures.append(HookFailure(_name(listener), transition, exc))
                continue
            if inspect.isawaitable(result):
                pending.append((listener, transition, result))
        outcomes = await asyncio.gather(*(p[2] for p in pending), return_exceptions=True)
        for (listener, transition, _), outcome in zip(pending, outcomes, strict=True):
            if isinstance(outcome, Exception):
                failures.append(HookFailure(_name(listener), transition, outcome))
            elif isinstance(outcome, BaseException):  # CancelledError, KeyboardInterrupt
                raise outcome
        self._report(new, failures)

    def _report(self, new: Record, failures: list[HookFailure]) -> None:
        for failure in failures:
            # The hook's own message may hold personal data: the log names its type.
            logger.error(
                "hook %s failed on %s (%s -> %s): %s",
                failure.listener,
                record_label(new),  # the id masked as in every message (no e-mail, phone)
                failure.transition.change.from_stage,
                failure.transition.change.to_stage,
                describe(failure.error),
            )
        if failures and self.errors == "raise":
            raise HookError(new, failures)


def _close(awaitable: object) -> None:
    close = getattr(awaitable, "close", None)
    if callable(close):
        close()


def _veto(old: Record, transition: Transition, listener: object, exc: Exception) -> HookVetoed:
    change = transition.change
    return HookVetoed(
        f"{type(old).__name__} {old.id!r}: {change.event} ({change.from_stage} -> "
        f"{change.to_stage}) vetoed by hook {_name(listener)}",
        record=old,
        event=change.event,
        stage=old.stage,
        reasons=(f"{describe(exc)} (the hook's own error is the __cause__)",),
    )
