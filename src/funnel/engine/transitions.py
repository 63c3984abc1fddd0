"""
Moving a record: the one path every transition takes.

:func:`decide` finds what an event does to a record (the edge, or the
typed error saying why not) without changing anything; :func:`move` applies
it and runs the options of that one path: python-statemachine listeners
(through a real machine instance) and :class:`~funnel.engine.hooks.Hooks`.
:class:`funnel.Funnel`'s methods (``advance``, ``convert``, ``fire``,
``can``, ``enabled_events``) and the module-level shortcuts are thin layers
over these two functions.

Each decision makes one :class:`~funnel.spec.guards.GuardContext`, which
evaluates every guard (and the qualification) at most once, however many
edges, error messages and explanations ask.

Every function takes the moment of the change as ``at`` (timezone-aware),
never reads the clock, and leaves its input unchanged: on failure it raises a
:class:`~funnel.exceptions.TransitionError` carrying the record, the event
and the reasons.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import attrs

from funnel._base import log as _log
from funnel._base.fields import shown
from funnel._base.markup import mask_line
from funnel._base.privacy import is_name
from funnel._base.time import utc
from funnel.exceptions import (
    ChronologyError,
    GuardFailed,
    IllegalEvent,
    NotQualified,
    TransitionError,
    ValidationError,
    WrongLevel,
)
from funnel.model.history import StageChange
from funnel.model.records import Lead, Level, Prospect
from funnel.spec.definition import FunnelDefinition
from funnel.spec.guards import GuardContext, engagement_of, qualification_of
from funnel.spec.table import Edge

if TYPE_CHECKING:
    from funnel.engine.hooks import Hooks

R = TypeVar("R", bound=Lead | Prospect)
Record = Lead | Prospect

#: Transitions and refusals are logged here at INFO, by record id, event and stages only.
LOG = _log.get_logger(__name__)

#: What a call allows: ``"same"`` keeps the level (advance), ``"convert"``
#: requires a conversion, ``"any"`` takes either (fire).
Crossing = Literal["same", "convert", "any"]


def owner(record: Record) -> str:
    """How errors name a record: its type and id, never its contact data."""
    return f"{type(record).__name__} {record.id!r}"


def context(funnel: FunnelDefinition, at: datetime, why: str | None = None) -> GuardContext:
    """A fresh decision context: guards evaluated in it are evaluated once."""
    if why is not None and not isinstance(why, str):
        raise ValidationError(
            f"why must be a string or None, got {type(why).__name__}", field="why"
        )
    # In UTC, so that every comparison with stored (UTC) times is one of instants.
    return GuardContext(funnel=funnel, at=utc(at, "at", field="at"), why=why)


def require_record(record: object, field: str = "record") -> None:
    """
    Refuse anything but a :class:`~funnel.Lead` or a :class:`~funnel.Prospect`.

    Raises:
        ValidationError: naming *field* and the type given.
    """
    if not isinstance(record, Lead | Prospect):
        raise ValidationError(
            f"{field} must be a Lead or a Prospect, got {type(record).__name__}", field=field
        )


def check_options(funnel: FunnelDefinition, hooks: object, listeners: object) -> None:
    """
    Refuse hooks of another funnel, or options of the wrong type.

    Hooks validate their event and stage names against their own funnel and
    decide what a conversion is from it; used with another funnel they would
    silently miss changes, so that is refused.
    """
    from funnel.engine.hooks import Hooks  # same layer; hooks imports nothing of this module

    if hooks is not None:
        if not isinstance(hooks, Hooks):
            raise ValidationError(
                f"hooks must be a funnel.Hooks, got {type(hooks).__name__}", field="hooks"
            )
        if hooks.funnel != funnel:
            raise ValidationError(
                f"these hooks were made for funnel {hooks.funnel.name!r} v{hooks.funnel.version}, "
                f"not {funnel.name!r} v{funnel.version}: make them with Hooks(funnel=...)",
                field="hooks",
            )
    if isinstance(listeners, str | bytes) or not isinstance(listeners, Sequence):
        raise ValidationError(
            f"listeners must be a list of listener objects, got {type(listeners).__name__}",
            field="listeners",
        )


def check_record(record: Record, funnel: FunnelDefinition, event: str) -> None:
    """
    Refuse a record that *funnel* could not have made (wrong stage, level or history).

    Raises:
        IllegalEvent: the record's stage or a history step is not in the funnel.
        WrongLevel: the record's type and its stage's level disagree.
    """
    require_record(record)
    problems = funnel.record_problems(record)
    if not problems:
        return
    reasons = tuple(f"{field}: {text}" for field, text in problems)
    stage_known = record.stage in funnel.machine.levels
    error = WrongLevel if stage_known and problems[0][0] == "stage" else IllegalEvent
    raise error(
        f"{owner(record)} does not fit funnel {funnel.name!r} v{funnel.version}",
        record=record,
        event=event,
        stage=record.stage,
        reasons=reasons,
    )


def check_time(record: Record, event: str, at: datetime) -> None:
    """
    Refuse a change dated before the record's last change.

    Raises:
        ChronologyError: *at* precedes the last change (or the record's creation).
    """
    last = record.history[-1].at if record.history else record.created_at
    if at < last:
        said = event if is_name(event) else "take an event that is not a name (not shown)"
        raise ChronologyError(
            f"{owner(record)} cannot {said} at {at.isoformat()}: its last change was at "
            f"{last.isoformat()}",
            record=record,
            event=event,
            stage=record.stage,
            reasons=("time only moves forward",),
        )


def guard_reasons(edge: Edge, record: Record, ctx: GuardContext) -> list[str]:
    """Why *edge*'s guards refuse *record* (empty: they all agree)."""
    reasons: list[str] = []
    for name, expected in edge.guards:
        refusal = ctx.refusals(name, record)
        if (not refusal) != expected:
            if expected:
                reasons.extend(f"{name}: {r}" for r in refusal)
            else:
                reasons.append(f"{name}: must not hold, but it does")
    return reasons


def crosses(funnel: FunnelDefinition, edge: Edge) -> bool:
    """Whether *edge* turns a lead into a prospect."""
    return funnel.level_of(edge.source) is Level.LEAD and (
        funnel.level_of(edge.target) is Level.PROSPECT
    )


def select_edge(record: Record, event: str, ctx: GuardContext) -> Edge:
    """
    Find the edge *event* takes from the record's stage, exactly as the machine would.

    The first edge (in declaration order) whose guards all pass wins.

    Raises:
        IllegalEvent: no edge for *event* from this stage.
        GuardFailed: edges exist but every one is refused (``NotQualified``,
            with the qualification, when the refused edges lead to a prospect stage).
    """
    funnel = ctx.funnel
    table = funnel.table
    options = table.options(record.stage, event)
    if not options:
        allowed = sorted(table.allowed(record.stage))
        hint = (
            f"stage {record.stage!r} is terminal: it accepts no event"
            if record.stage in funnel.finals
            else f"events allowed from {record.stage!r}: {', '.join(allowed)}"
        )
        if event not in table.events:
            named = repr(event) if is_name(event) else "by that name (not shown: not a name)"
            hint = f"funnel {funnel.name!r} has no event {named}; " + hint
        # An event from data that is not a name may be anything (a misplaced phone number).
        said = event if is_name(event) else "take an event that is not a name (not shown)"
        raise IllegalEvent(
            f"{owner(record)} cannot {said} from stage {record.stage!r}",
            record=record,
            event=event,
            stage=record.stage,
            reasons=(hint,),
        )
    chosen: Edge | None = table.resolve(record.stage, event, lambda name: ctx.passes(name, record))
    if chosen is not None:
        return chosen
    reasons: list[str] = []
    for edge in options:
        reasons.extend(guard_reasons(edge, record, ctx))
    message = f"{owner(record)} cannot {event} from stage {record.stage!r}"
    unique = tuple(dict.fromkeys(reasons))
    if any(crosses(funnel, e) for e in options):
        raise NotQualified(
            message,
            record=record,
            event=event,
            stage=record.stage,
            reasons=unique,
            qualification=qualification_of(record, ctx),
        )
    raise GuardFailed(message, record=record, event=event, stage=record.stage, reasons=unique)


def decide(record: Record, event: str, ctx: GuardContext, crossing: Crossing) -> Edge:
    """
    The edge *event* takes, or the typed error why it cannot: nothing is changed.

    Raises:
        TransitionError: one of its subclasses, with the record, event and reasons.
    """
    if not isinstance(event, str):
        raise ValidationError(f"event must be a string, got {type(event).__name__}", field="event")
    check_record(record, ctx.funnel, event)
    check_time(record, event, ctx.at)
    edge = select_edge(record, event, ctx)
    funnel = ctx.funnel
    converting = crosses(funnel, edge)
    if converting and crossing == "same":
        raise WrongLevel(
            f"{owner(record)}: {event} leads to prospect stage {edge.target!r}",
            record=record,
            event=event,
            stage=record.stage,
            reasons=("use convert() (or fire()) to turn a lead into a prospect",),
        )
    if not converting and crossing == "convert":
        raise ValidationError(
            f"{shown(event)} is not a conversion event of funnel {funnel.name!r}: "
            f"{funnel.conversion_events}",
            field="event",
            allowed=funnel.conversion_events,
        )
    return edge


def apply(record: Record, edge: Edge, ctx: GuardContext, owner_: str | None = None) -> Record:
    """The record after *edge*: a new record, the input unchanged."""
    funnel = ctx.funnel
    change = StageChange(
        from_stage=edge.source, to_stage=edge.target, event=edge.event, at=ctx.at, why=ctx.why
    )
    if isinstance(record, Lead) and crosses(funnel, edge):
        return Prospect(
            id=record.id,
            contact=record.contact,
            source=record.source,
            created_at=record.created_at,
            stage=edge.target,
            qualification=qualification_of(record, ctx),
            engagement=engagement_of(record, ctx),
            converted_at=ctx.at,
            lead_level=record.level,
            touches=record.touches,
            evidence=record.evidence,
            history=(*record.history, change),
            owner=owner_ if owner_ is not None else record.owner,
            segment=record.segment,
            closed_at=ctx.at if edge.target in funnel.finals else None,
            merged_from=record.merged_from,
        )
    changes: dict[str, Any] = {"stage": edge.target, "history": (*record.history, change)}
    if isinstance(record, Lead):
        level = funnel.qualification_level(edge.target)
        if level is not None:
            changes["level"] = level
    elif edge.target in funnel.finals:
        changes["closed_at"] = ctx.at
    if owner_ is not None:
        changes["owner"] = owner_
    return attrs.evolve(record, **changes)


def machine_for(record: Record, ctx: GuardContext, listeners: Sequence[object] = ()) -> Any:
    """
    A real python-statemachine instance resumed at the record's stage.

    The machine is bound to a :class:`~funnel.spec.machine.Cursor`, never to
    the frozen record; its guards are the funnel's, evaluated through *ctx*.
    """
    from funnel.spec.machine import Cursor, GuardListener  # python-statemachine: only here

    cursor = Cursor(record=record, stage=record.stage, ctx=ctx)
    return ctx.funnel.machine(
        model=cursor, state_field="stage", listeners=[GuardListener(cursor), *listeners]
    )


def _run_machine(
    record: Record, event: str, edge: Edge, ctx: GuardContext, listeners: Sequence[object]
) -> None:
    from statemachine.exceptions import TransitionNotAllowed

    sm = machine_for(record, ctx, listeners)
    try:
        sm.send(event)
    except TransitionNotAllowed as exc:  # pragma: no cover - table and machine agree (tested)
        raise IllegalEvent(
            f"machine refused {event}", record=record, event=event, stage=record.stage
        ) from exc
    target = sm.model.stage
    if target != edge.target:  # pragma: no cover - table and machine agree (tested)
        raise AssertionError(f"machine went to {target!r}, table to {edge.target!r}")


def decide_and_apply(
    record: Record,
    event: str,
    ctx: GuardContext,
    crossing: Crossing,
    listeners: Sequence[object] = (),
    owner_: str | None = None,
) -> Record:
    """
    Decide, run python-statemachine *listeners* if any, and return the new record.

    With *listeners*, a real machine instance takes the event (after the
    decision, so the errors are the same) and python-statemachine calls them
    (``after_transition``, ``on_enter_<stage>``, ...).
    """
    edge = decide(record, event, ctx, crossing)
    if listeners:
        _run_machine(record, event, edge, ctx, listeners)
    return apply(record, edge, ctx, owner_)


def observed(
    record: Record,
    event: str,
    ctx: GuardContext,
    crossing: Crossing,
    listeners: Sequence[object] = (),
    owner_: str | None = None,
    veto: Veto | None = None,
) -> Record:
    """
    :func:`decide_and_apply`, logged (INFO on :data:`LOG`) and, with OpenTelemetry, traced.

    A move is a span ``funnel.transition`` when the application has set a tracer
    provider; a refusal is logged with the error's type and reasons (which guard,
    which criteria), and the span records it. Nothing names personal data.

    *veto* (the before hooks) sees the old and the new record before any listener
    runs and before the move is logged: a vetoed move is logged as a refusal, reaches
    no listener, and its span ends with the error.
    """
    tracer = _log.tracer()
    if tracer is None:
        return _logged(record, event, ctx, crossing, listeners, owner_, veto)
    with tracer.start_as_current_span(
        "funnel.transition", attributes=_span(record, event, ctx)
    ) as span:
        new = _logged(record, event, ctx, crossing, listeners, owner_, veto)
        span.set_attribute("funnel.to_stage", new.stage)
        return new


#: A before-hook check: raises (a :class:`~funnel.exceptions.TransitionError`) to refuse.
Veto = Callable[[Record, Record], None]
AsyncVeto = Callable[[Record, Record], Awaitable[None]]


def _span(record: Record, event: str, ctx: GuardContext) -> dict[str, str]:
    return {
        "funnel.record.id": _id(record),
        "funnel.record.type": type(record).__name__,
        "funnel.event": _name(event),
        "funnel.from_stage": _name(record.stage),
        "funnel.funnel": ctx.funnel.name,
    }


def _id(record: Record) -> str:
    """How log lines (and their ``extra``) name a record: e-mails and phone numbers masked."""
    return mask_line(record.id)


def _name(value: object) -> str:
    # An event or stage from data may be anything (a misplaced phone): only names are shown.
    return value if isinstance(value, str) and is_name(value) else "(not shown: not a name)"


def _log_refusal(record: Record, event: str, exc: TransitionError) -> None:
    if LOG.isEnabledFor(logging.INFO):
        rid, name, stage = _id(record), _name(event), _name(exc.stage)
        LOG.info(
            "%s %r refused %s from %s: %s%s",
            type(record).__name__,
            rid,
            name,
            stage,
            type(exc).__name__,
            "".join(f"; {r}" for r in exc.reasons),
            extra={
                "funnel_record_id": rid,
                "funnel_event": name,
                "funnel_stage": stage,
                "funnel_error": type(exc).__name__,
                "funnel_reasons": exc.reasons,
            },
        )


def _log_move(record: Record, new: Record, event: str, ctx: GuardContext) -> None:
    if LOG.isEnabledFor(logging.INFO):
        rid = _id(record)
        LOG.info(
            "%s %r %s: %s -> %s",
            type(new).__name__,
            rid,
            event,
            record.stage,
            new.stage,
            extra={
                "funnel_record_id": rid,
                "funnel_event": event,
                "funnel_from_stage": record.stage,
                "funnel_to_stage": new.stage,
                "funnel_at": ctx.at.isoformat(),
            },
        )


def _logged(
    record: Record,
    event: str,
    ctx: GuardContext,
    crossing: Crossing,
    listeners: Sequence[object],
    owner_: str | None,
    veto: Veto | None = None,
) -> Record:
    try:
        edge = decide(record, event, ctx, crossing)
        new = apply(record, edge, ctx, owner_)
        if veto is not None:
            veto(record, new)
        if listeners:
            _run_machine(record, event, edge, ctx, listeners)
    except TransitionError as exc:
        _log_refusal(record, event, exc)
        raise
    _log_move(record, new, event, ctx)
    return new


async def _alogged(
    record: Record,
    event: str,
    ctx: GuardContext,
    crossing: Crossing,
    listeners: Sequence[object],
    owner_: str | None,
    veto: AsyncVeto,
) -> Record:
    try:
        edge = decide(record, event, ctx, crossing)
        new = apply(record, edge, ctx, owner_)
        await veto(record, new)
        if listeners:
            _run_machine(record, event, edge, ctx, listeners)
    except TransitionError as exc:
        _log_refusal(record, event, exc)
        raise
    _log_move(record, new, event, ctx)
    return new


def move(
    record: Record,
    event: str,
    ctx: GuardContext,
    *,
    crossing: Crossing,
    hooks: Hooks | None = None,
    listeners: Sequence[object] = (),
    owner_: str | None = None,
) -> Record:
    """
    The one path that moves a record: decide, run veto hooks, run listeners, apply, run hooks.

    With *hooks*, the veto hooks run once the new record is known and before
    anything else sees the move (listeners, the log, the span): a veto is logged
    as a refusal. The after hooks run once the move stands (see
    :mod:`funnel.engine.hooks`).
    """
    check_options(ctx.funnel, hooks, listeners)
    veto = hooks.check_before if hooks is not None else None
    new = observed(record, event, ctx, crossing, listeners, owner_, veto)
    if hooks is not None:
        hooks.dispatch(record, new)
    return new


async def amove(
    record: Record,
    event: str,
    ctx: GuardContext,
    *,
    crossing: Crossing,
    hooks: Hooks | None = None,
    listeners: Sequence[object] = (),
    owner_: str | None = None,
) -> Record:
    """:func:`move` for async hooks: async listeners of *hooks* are awaited."""
    check_options(ctx.funnel, hooks, listeners)
    if hooks is None:
        return observed(record, event, ctx, crossing, listeners, owner_)
    tracer = _log.tracer()
    if tracer is None:
        new = await _alogged(record, event, ctx, crossing, listeners, owner_, hooks.acheck_before)
    else:
        with tracer.start_as_current_span(
            "funnel.transition", attributes=_span(record, event, ctx)
        ) as span:
            new = await _alogged(
                record, event, ctx, crossing, listeners, owner_, hooks.acheck_before
            )
            span.set_attribute("funnel.to_stage", new.stage)
    await hooks.adispatch(record, new)
    return new


def conversion_event(funnel: FunnelDefinition, event: str | None, stage: str) -> str:
    """
    The conversion event to use from *stage*: *event*, or the one the stage has.

    With *event* ``None``, a funnel with one conversion event uses it; a funnel
    with several uses the one that has an edge from *stage* (and asks for
    ``event=`` only when several do).

    Raises:
        ValidationError: *event* is not a conversion event, or *stage* has
            several and none was chosen.
    """
    events = funnel.conversion_events
    if event is not None:
        if not isinstance(event, str) or event not in events:
            raise ValidationError(
                f"{shown(event)} is not a conversion event of funnel {funnel.name!r}: {events}",
                field="event",
                allowed=events,
            )
        return event
    if len(events) == 1:
        return events[0]
    here = tuple(e for e in events if funnel.table.options(stage, e))
    if len(here) == 1:
        return here[0]
    if not here:  # the decision then says the stage cannot convert, with the allowed events
        return events[0] if events else "convert"
    raise ValidationError(
        f"stage {stage!r} of funnel {funnel.name!r} has conversion events {here}; pass event=",
        field="event",
        allowed=here,
    )


def accepts(record: Record, event: str, ctx: GuardContext, crossing: Crossing = "any") -> bool:
    """Whether :func:`move` would accept *event* in *ctx* (guards evaluated, once)."""
    try:
        decide(record, event, ctx, crossing)
    except (IllegalEvent, GuardFailed, ChronologyError, WrongLevel):
        return False
    except ValidationError:
        if crossing == "convert":
            return False
        raise
    return True


def enabled(record: Record, ctx: GuardContext) -> tuple[str, ...]:
    """Events *record* accepts in *ctx*, guards evaluated, in declaration order."""
    table = ctx.funnel.table
    allowed = table.allowed(record.stage)
    return tuple(e for e in table.events if e in allowed and accepts(record, e, ctx))
