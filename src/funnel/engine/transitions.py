"""
Moving records through the funnel.

* :func:`advance` sends an event to a lead or a prospect and returns the new
  record; a lead stays a lead and a prospect stays a prospect.
* :func:`convert` is the only way from lead to prospect: it needs two-way
  communication and a passing qualification, and records both.
* :func:`explain` says where a record stands and exactly what is missing.
* :func:`advance_with_machine` does what :func:`advance` does through a real
  python-statemachine instance, for per-record listeners and hooks.

Every function takes the moment of the change as ``at`` (timezone-aware),
never reads the clock, and leaves its input unchanged: on failure it raises a
:class:`~funnel.exceptions.TransitionError` carrying the record, the event
and the reasons.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, TypeVar, overload

import attrs
from statemachine.exceptions import TransitionNotAllowed

from funnel._time import require_aware
from funnel.exceptions import (
    ChronologyError,
    GuardFailed,
    IllegalEvent,
    NotQualified,
    ValidationError,
    WrongLevel,
)
from funnel.model.engagement import EngagementFinding, assess_engagement
from funnel.model.evidence import Evidence
from funnel.model.history import StageChange
from funnel.model.qualification import Qualification
from funnel.model.records import Lead, Level, Prospect
from funnel.model.touch import Touch
from funnel.spec.definition import DEFAULT_FUNNEL, Funnel
from funnel.spec.guards import GUARDS, GuardContext, qualification_of
from funnel.spec.machine import Cursor
from funnel.spec.table import Edge

R = TypeVar("R", bound=Lead | Prospect)


def _owner(record: Lead | Prospect) -> str:
    return f"{type(record).__name__} {record.id!r}"


def _context(funnel: Funnel, at: datetime, why: str | None) -> GuardContext:
    return GuardContext(funnel=funnel, at=require_aware(at, "at"), why=why)


def _check_stage(record: Lead | Prospect, event: str, funnel: Funnel) -> None:
    if record.stage not in funnel.machine.levels:
        raise IllegalEvent(
            f"{_owner(record)} is in stage {record.stage!r}, which funnel "
            f"{funnel.name!r} v{funnel.version} does not have",
            record=record,
            event=event,
            stage=record.stage,
            reasons=(f"known stages: {', '.join(funnel.stages)}",),
        )
    expected = record.record_level
    if funnel.level_of(record.stage) is not expected:
        raise WrongLevel(
            f"{_owner(record)} is in {funnel.level_of(record.stage).value} stage {record.stage!r}",
            record=record,
            event=event,
            stage=record.stage,
        )


def _check_time(record: Lead | Prospect, event: str, at: datetime) -> None:
    last = record.history[-1].at if record.history else record.created_at
    if at < last:
        raise ChronologyError(
            f"{_owner(record)} cannot {event} at {at.isoformat()}: its last change was at "
            f"{last.isoformat()}",
            record=record,
            event=event,
            stage=record.stage,
            reasons=("time only moves forward",),
        )


def _guard_reasons(edge: Edge, record: Lead | Prospect, ctx: GuardContext) -> list[str]:
    reasons: list[str] = []
    for name, expected in edge.guards:
        refusal = GUARDS[name].check(record, ctx)
        if (not refusal) != expected:
            if expected:
                reasons.extend(f"{name}: {r}" for r in refusal)
            else:
                reasons.append(f"{name}: must not hold, but it does")
    return reasons


def select_edge(record: Lead | Prospect, event: str, ctx: GuardContext) -> Edge:
    """
    Find the edge *event* takes from the record's stage, exactly as the machine would.

    The first edge (in declaration order) whose guards all pass wins.

    Raises:
        IllegalEvent: no edge for *event* from this stage.
        GuardFailed: edges exist but every one is refused (``NotQualified``
            when the refused edges lead to a prospect stage).
    """
    funnel = ctx.funnel
    _check_stage(record, event, funnel)
    options = funnel.table.options(record.stage, event)
    if not options:
        allowed = sorted(funnel.table.allowed(record.stage))
        hint = (
            f"stage {record.stage!r} is terminal: it accepts no event"
            if record.stage in funnel.finals
            else f"events allowed from {record.stage!r}: {', '.join(allowed)}"
        )
        if event not in funnel.table.events:
            hint = f"funnel {funnel.name!r} has no event {event!r}; " + hint
        raise IllegalEvent(
            f"{_owner(record)} cannot {event} from stage {record.stage!r}",
            record=record,
            event=event,
            stage=record.stage,
            reasons=(hint,),
        )
    verdicts: dict[str, bool] = {}

    def passes(name: str) -> bool:
        if name not in verdicts:
            verdicts[name] = GUARDS[name].passes(record, ctx)
        return verdicts[name]

    chosen = funnel.table.resolve(record.stage, event, passes)
    if chosen is not None:
        return chosen
    reasons: list[str] = []
    for edge in options:
        reasons.extend(_guard_reasons(edge, record, ctx))
    crosses = any(funnel.level_of(e.target) is not funnel.level_of(e.source) for e in options)
    error = NotQualified if crosses else GuardFailed
    raise error(
        f"{_owner(record)} cannot {event} from stage {record.stage!r}",
        record=record,
        event=event,
        stage=record.stage,
        reasons=tuple(dict.fromkeys(reasons)),
    )


def _apply(record: R, edge: Edge, ctx: GuardContext) -> R:
    change = StageChange(
        from_stage=edge.source, to_stage=edge.target, event=edge.event, at=ctx.at, why=ctx.why
    )
    changes: dict[str, Any] = {"stage": edge.target, "history": (*record.history, change)}
    if isinstance(record, Lead):
        level = ctx.funnel.qualification_level(edge.target)
        if level is not None:
            changes["level"] = level
    elif edge.target in ctx.funnel.finals:
        changes["closed_at"] = ctx.at
    return attrs.evolve(record, **changes)


def _prepare(record: Lead | Prospect, event: str, ctx: GuardContext) -> Edge:
    _check_time(record, event, ctx.at)
    edge = select_edge(record, event, ctx)
    if ctx.funnel.level_of(edge.target) is not record.record_level:
        raise WrongLevel(
            f"{_owner(record)}: {event} leads to {ctx.funnel.level_of(edge.target).value} "
            f"stage {edge.target!r}; use funnel.convert() to turn a lead into a prospect",
            record=record,
            event=event,
            stage=record.stage,
        )
    return edge


def advance(
    record: R,
    event: str,
    *,
    at: datetime,
    why: str | None = None,
    funnel: Funnel = DEFAULT_FUNNEL,
) -> R:
    """
    Send *event* to *record* and return the record in its new stage.

    The change is appended to ``history`` with *at* and *why*. The input is
    not modified.

    Raises:
        IllegalEvent: the event has no transition from the current stage.
        GuardFailed: a guard refused (e.g. ``lose`` without *why*).
        WrongLevel: the event would cross from lead to prospect (use
            :func:`convert`).
        ChronologyError: *at* precedes the record's last change.

    >>> from datetime import datetime, timezone
    >>> from funnel import Contact, Lead, Touch
    >>> at = datetime(2026, 3, 1, tzinfo=timezone.utc)
    >>> form = Touch(id="f1", at=at, direction="inbound", channel="form", reach="mass")
    >>> lead = Lead(id="L1", contact=Contact(name="Ada"), source="web", created_at=at,
    ...             touches=[form])
    >>> advance(lead, "mark_mql", at=at).stage
    'mql'
    """
    ctx = _context(funnel, at, why)
    edge = _prepare(record, event, ctx)
    return _apply(record, edge, ctx)


def convert(
    lead: Lead,
    *,
    at: datetime,
    why: str | None = None,
    funnel: Funnel = DEFAULT_FUNNEL,
    event: str | None = None,
    owner: str | None = None,
) -> Prospect:
    """
    Turn *lead* into a :class:`~funnel.Prospect`.

    Allowed only when two-way communication exists and the funnel's
    qualification framework passes, both as of *at*. The prospect keeps the
    lead's id, contact (and consent), touches, evidence and history, and
    records the qualification (with the funnel's version) and the touch that
    made the communication two-way.

    Args:
        lead: The lead.
        at: When the conversion happens.
        why: An optional note for the history.
        funnel: The funnel definition.
        event: The conversion event, if the funnel has several.
        owner: A new owner for the prospect (default: the lead's owner).

    Raises:
        NotQualified: engagement or qualification is missing; ``reasons``
            lists every gap and ``qualification`` holds the verdict.
        IllegalEvent: the lead's stage cannot convert (e.g. disqualified).
    """
    if not isinstance(lead, Lead):
        raise ValidationError(f"convert() takes a Lead, got {type(lead).__name__}")
    events = funnel.conversion_events
    if event is None:
        if len(events) != 1:
            raise ValidationError(
                f"funnel {funnel.name!r} has conversion events {events}; pass event="
            )
        event = events[0]
    elif event not in events:
        raise ValidationError(
            f"{event!r} is not a conversion event of funnel {funnel.name!r}: {events}"
        )
    ctx = _context(funnel, at, why)
    _check_time(lead, event, ctx.at)
    qualification = qualification_of(lead, ctx)
    try:
        edge = select_edge(lead, event, ctx)
    except NotQualified as exc:
        raise NotQualified(
            str(exc).split("\n", 1)[0],
            record=lead,
            event=event,
            stage=lead.stage,
            reasons=exc.reasons,
            qualification=qualification,
        ) from None
    if funnel.level_of(edge.target) is not Level.PROSPECT:  # pragma: no cover - validated
        raise WrongLevel(
            f"{event} does not lead to a prospect stage",
            record=lead,
            event=event,
            stage=lead.stage,
        )
    engagement = assess_engagement(t for t in lead.touches if t.at <= ctx.at)
    change = StageChange(
        from_stage=edge.source, to_stage=edge.target, event=edge.event, at=ctx.at, why=why
    )
    return Prospect(
        id=lead.id,
        contact=lead.contact,
        source=lead.source,
        created_at=lead.created_at,
        stage=edge.target,
        qualification=qualification,
        engagement=engagement,
        converted_at=ctx.at,
        lead_level=lead.level,
        touches=lead.touches,
        evidence=lead.evidence,
        history=(*lead.history, change),
        owner=owner if owner is not None else lead.owner,
        segment=lead.segment,
    )


@overload
def fire(
    record: Lead, event: str, *, at: datetime, why: str | None = ..., funnel: Funnel = ...
) -> Lead | Prospect: ...
@overload
def fire(
    record: Prospect, event: str, *, at: datetime, why: str | None = ..., funnel: Funnel = ...
) -> Prospect: ...
def fire(
    record: Lead | Prospect,
    event: str,
    *,
    at: datetime,
    why: str | None = None,
    funnel: Funnel = DEFAULT_FUNNEL,
) -> Lead | Prospect:
    """
    Send any event, conversion included: :func:`convert` or :func:`advance` as fits.

    Useful where events come from data (an event log, a queue).
    """
    if isinstance(record, Lead) and event in funnel.conversion_events:
        return convert(record, at=at, why=why, funnel=funnel, event=event)
    if isinstance(record, Lead):
        return advance(record, event, at=at, why=why, funnel=funnel)
    return advance(record, event, at=at, why=why, funnel=funnel)


def can(
    record: Lead | Prospect,
    event: str,
    *,
    at: datetime,
    why: str | None = None,
    funnel: Funnel = DEFAULT_FUNNEL,
) -> bool:
    """Whether :func:`fire` would accept *event* now (guards evaluated)."""
    try:
        ctx = _context(funnel, at, why)
        _check_time(record, event, ctx.at)
        select_edge(record, event, ctx)
    except (IllegalEvent, GuardFailed, ChronologyError, WrongLevel):
        return False
    return True


def allowed_events(record: Lead | Prospect, *, funnel: Funnel = DEFAULT_FUNNEL) -> frozenset[str]:
    """Events with a transition from the record's stage, guards not evaluated."""
    return funnel.table.allowed(record.stage)


def enabled_events(
    record: Lead | Prospect,
    *,
    at: datetime,
    why: str | None = None,
    funnel: Funnel = DEFAULT_FUNNEL,
) -> tuple[str, ...]:
    """Events the record would accept now, guards evaluated, in declaration order."""
    allowed = funnel.table.allowed(record.stage)
    return tuple(
        e
        for e in funnel.table.events
        if e in allowed and can(record, e, at=at, why=why, funnel=funnel)
    )


def add_touch(record: R, touch: Touch) -> R:
    """Return *record* with *touch* added (touches stay ordered by time)."""
    return attrs.evolve(record, touches=(*record.touches, touch))


def add_evidence(record: R, *evidence: Evidence) -> R:
    """Return *record* with *evidence* added (evidence stays ordered by time)."""
    return attrs.evolve(record, evidence=(*record.evidence, *evidence))


@attrs.frozen(kw_only=True)
class Explanation:
    """
    Where a record stands and why: the answer to "why is this lead not a prospect yet?".

    Attributes:
        record_id: The record's id.
        kind: ``"lead"`` or ``"prospect"``.
        stage: The current stage.
        at: The moment the explanation holds for.
        engagement: The engagement finding.
        qualification: The framework's verdict now.
        ready: For a lead: whether it can become a prospect now. For a
            prospect: whether it is still open.
        blockers: What stands in the way, one line each (empty when ready).
        next_events: Events the record accepts now.
    """

    record_id: str
    kind: Level
    stage: str
    at: datetime
    engagement: EngagementFinding
    qualification: Qualification
    ready: bool
    blockers: tuple[str, ...]
    next_events: tuple[str, ...]

    def lines(self) -> tuple[str, ...]:
        """The explanation as text lines."""
        head = f"{self.kind.value} {self.record_id!r} in stage {self.stage!r}"
        out = [head, f"engagement: {self.engagement.level.value} ({self.engagement.reason})"]
        out.extend(
            f"qualification: {line}" if i == 0 else f"  {line}"
            for i, line in enumerate(self.qualification.explain())
        )
        if self.kind is Level.LEAD:
            out.append(
                "ready to become a prospect" if self.ready else "not a prospect yet because:"
            )
        out.extend(f"  - {b}" for b in self.blockers)
        out.append(f"next events: {', '.join(self.next_events) or 'none (terminal stage)'}")
        return tuple(out)

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def _repr_markdown_(self) -> str:
        return "\n".join(
            f"- {line}" if i else f"**{line}**" for i, line in enumerate(self.lines())
        )


def explain(
    record: Lead | Prospect, *, at: datetime, funnel: Funnel = DEFAULT_FUNNEL
) -> Explanation:
    """
    Explain where *record* stands as of *at*.

    For a lead, ``blockers`` lists precisely why it is not a prospect yet:
    missing two-way communication, and each criterion not met or unknown.

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
    ctx = _context(funnel, at, None)
    engagement = assess_engagement(t for t in record.touches if t.at <= ctx.at)
    qualification = qualification_of(record, ctx)
    blockers: list[str] = []
    if isinstance(record, Lead):
        if engagement.level.value != "two-way":
            blockers.append(f"no two-way communication: {engagement.reason}")
        if not qualification.passed:
            blockers.extend(
                f"{r.criterion.key}: {r.verdict.value} ({r.reason})"
                for r in qualification.results
                if r.verdict.value != "met"
            )
        if record.stage in funnel.finals:
            blockers.insert(0, f"stage {record.stage!r} is terminal")
        ready = not blockers
    else:
        ready = record.stage not in funnel.finals
        if not ready:
            why = record.history[-1].why if record.history else None
            blockers.append(f"closed in stage {record.stage!r}" + (f": {why}" if why else ""))
    return Explanation(
        record_id=record.id,
        kind=record.record_level,
        stage=record.stage,
        at=ctx.at,
        engagement=engagement,
        qualification=qualification,
        ready=ready,
        blockers=tuple(blockers),
        next_events=enabled_events(record, at=at, funnel=funnel),
    )


def machine_for(
    record: Lead | Prospect,
    *,
    at: datetime,
    why: str | None = None,
    funnel: Funnel = DEFAULT_FUNNEL,
    listeners: Sequence[object] = (),
) -> Any:
    """
    A real python-statemachine instance resumed at the record's stage.

    The machine is bound to a :class:`~funnel.spec.machine.Cursor`, never to the
    frozen record. Use it for diagrams of one record or for listeners; use
    :func:`advance` for everything else (it is ~1000x cheaper).
    """
    ctx = _context(funnel, at, why)
    cursor = Cursor(record=record, stage=record.stage, ctx=ctx)
    return funnel.machine(model=cursor, state_field="stage", listeners=list(listeners))


def advance_with_machine(
    record: R,
    event: str,
    *,
    at: datetime,
    why: str | None = None,
    funnel: Funnel = DEFAULT_FUNNEL,
    listeners: Iterable[object] = (),
) -> R:
    """
    Like :func:`advance`, but through a real machine instance, so that
    python-statemachine listeners (``after_transition``, ``on_enter_<stage>``, ...)
    run. The resulting record equals what :func:`advance` returns.
    """
    ctx = _context(funnel, at, why)
    edge = _prepare(record, event, ctx)  # same errors as advance(), raised before any listener
    sm = machine_for(record, at=at, why=why, funnel=funnel, listeners=tuple(listeners))
    try:
        sm.send(event)
    except TransitionNotAllowed as exc:  # pragma: no cover - table and machine agree (tested)
        raise IllegalEvent(
            f"machine refused {event}", record=record, event=event, stage=record.stage
        ) from exc
    target = sm.model.stage
    if target != edge.target:  # pragma: no cover - table and machine agree (tested)
        raise AssertionError(f"machine went to {target!r}, table to {edge.target!r}")
    return _apply(record, edge, ctx)
