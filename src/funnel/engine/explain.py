"""
Explanations: where a record stands, and exactly what stands in the way.

:func:`explain` answers "why is this lead not a prospect yet?" from the very
decision :func:`funnel.convert` would take with the same arguments, so
``explain(lead, at=t).ready`` is True exactly when ``convert(lead, at=t)``
would succeed. Guards and the qualification are evaluated once for the
whole explanation.
"""

from __future__ import annotations

from datetime import datetime

import attrs

from funnel._base.markup import (
    Markup,
    Redactor,
    badge,
    card,
    clip,
    esc,
    facts,
    markdown_text,
    moment,
    muted,
    paragraph,
    pill,
    pills,
    section,
)
from funnel._base.privacy import escape_controls
from funnel.engine.transitions import (
    check_record,
    check_time,
    context,
    conversion_event,
    decide_and_apply,
    enabled,
    guard_reasons,
)
from funnel.exceptions import ChronologyError, FunnelError, ValidationError
from funnel.model._cards import (
    Outlook,
    blocker_list,
    criteria_table,
    latest_moment,
    qualification_line,
    record_redactor,
    set_outlook_source,
)
from funnel.model.engagement import Engagement, EngagementFinding
from funnel.model.qualification import Qualification
from funnel.model.records import Lead, Level, Prospect
from funnel.spec.definition import FunnelDefinition
from funnel.spec.guards import GuardContext, engagement_of, qualification_of

Record = Lead | Prospect


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
        ready: For a lead: whether :func:`funnel.convert` with the same
            ``at`` would succeed. For a prospect: whether it is still open.
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
    #: Masks the record's personal values (its contact's name, title, e-mail, phone)
    #: wherever the card quotes a note or a reason. Not part of the value.
    _hide: Redactor = attrs.field(factory=Redactor, repr=False, eq=False, alias="hide")

    def _head(self) -> str:
        return f"{self.kind.value} {self.record_id!r} in stage {self.stage!r}"

    def _verdict(self) -> str | None:
        if self.kind is not Level.LEAD:
            return None
        return "ready to become a prospect" if self.ready else "not a prospect yet because:"

    def _qualification_lines(self) -> list[str]:
        """The qualification's verdict, then its criteria not already listed as blockers."""
        head, *rest = self.qualification.explain()
        shown = set(self.blockers)
        return [head, *(line for line in rest if line not in shown)]

    def _next(self) -> str:
        return f"next events: {', '.join(self.next_events) or 'none'}"

    def lines(self) -> tuple[str, ...]:
        """
        The explanation as text lines, safe for a terminal.

        A note, a reason or an id may hold anything: the contact's own name, title,
        e-mail and phone, and any e-mail address or phone number, are masked in them
        (the text is printed and logged), and control characters (an ESC sequence a
        terminal would act on) are written as escapes.
        """
        return tuple(escape_controls(self._hide(line)) for line in self._raw_lines())

    def _raw_lines(self) -> tuple[str, ...]:
        out = [
            self._head(),
            f"engagement: {self.engagement.level.value} ({self.engagement.reason})",
        ]
        out.extend(
            f"qualification: {line}" if i == 0 else f"  {line}"
            for i, line in enumerate(self._qualification_lines())
        )
        verdict = self._verdict()
        if verdict is not None:
            out.append(verdict)
        out.extend(f"  - {b}" for b in self.blockers)
        out.append(self._next())
        return tuple(out)

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def __repr__(self) -> str:
        return explanation_repr(self)

    def _repr_html_(self) -> str:
        return explanation_card(self)

    def _repr_markdown_(self) -> str:
        def md(text: str) -> str:
            return markdown_text(self._hide(text))

        out = [f"**{md(self._head())}**", ""]
        out.append(
            f"- engagement: {md(self.engagement.level.value)} ({md(self.engagement.reason)})"
        )
        out.append("- qualification:")
        out.extend(f"  - {md(line)}" for line in self._qualification_lines())
        verdict = self._verdict()
        if verdict is not None:
            out.append(f"- {md(verdict)}")
            out.extend(f"  - {md(b)}" for b in self.blockers)
        else:
            out.extend(f"- {md(b)}" for b in self.blockers)
        out.append(f"- {md(self._next())}")
        return "\n".join(out)


def explanation_repr(e: Explanation) -> str:
    """A short plain repr: the verdict and what stands in the way, by count."""
    q = e.qualification
    return (
        f"Explanation(record_id={clip(e.record_id, 60)!r}, kind={e.kind.value!r}, "
        f"stage={clip(e.stage, 60)!r}, at={e.at.isoformat()!r}, "
        f"engagement=<{e.engagement.level.value}>, "
        f"qualification=<{clip(q.framework, 40)}: {len(q.met)}/{len(q.results)} met, "
        f"{'passed' if q.passed else 'not passed'}>, ready={e.ready}, "
        f"blockers=<{len(e.blockers)} blockers>, next_events={e.next_events!r})"
    )


def explanation_card(e: Explanation) -> Markup:
    """
    An explanation's card: the verdict, the blockers, the criteria table, the next events.

    A blocker that is an unmet criterion is shown once, in the criteria table.
    """
    q = e.qualification
    hide = e._hide
    if e.kind is Level.LEAD:
        verdict = "ready to become a prospect" if e.ready else "not a prospect yet"
    else:
        verdict = "open" if e.ready else "closed"
    title = Markup(
        f"{esc(e.kind.value.capitalize())} {esc(e.record_id, 60, hide)} {pill(e.stage)} "
        f"{badge(verdict, 'met' if e.ready else 'not-met')}"
    )
    rows = [
        ("stage", pill(e.stage)),
        (
            "engagement",
            Markup(f"{pill(e.engagement.level.value)} {muted(e.engagement.reason, 100, hide)}"),
        ),
        ("qualification", esc(qualification_line(q), 120)),
        ("next events", pills(e.next_events)),
        ("as of", esc(moment(e.at))),
    ]
    criteria_lines = {f"{r.criterion.key}: {r.verdict.value} ({r.reason})" for r in q.results}
    others = tuple(b for b in e.blockers if b not in criteria_lines)
    parts = [facts(rows)]
    if e.blockers:
        folded = len(e.blockers) - len(others)
        body = blocker_list(others, hide)
        if folded:
            note = f"{folded} {'criterion' if folded == 1 else 'criteria'} not met yet (below)"
            body = Markup(body + paragraph(muted(note)))
        parts.append(section("blockers", body))
    parts.append(section("criteria", criteria_table(q, hide)))
    return card(title, *parts)


def _lead_blockers(lead: Lead, ctx: GuardContext) -> list[str]:
    """Everything that makes ``convert(lead, at=ctx.at)`` fail, one line each."""
    funnel = ctx.funnel
    events = funnel.conversion_events
    table = funnel.table
    try:
        check_time(lead, events[0] if events else "convert", ctx.at)
    except ChronologyError as exc:
        last = lead.history[-1].at if lead.history else lead.created_at
        return [
            f"{ctx.at.isoformat()} precedes the last change ({last.isoformat()}); {exc.reasons[0]}"
        ]
    edges = [e for ev in events for e in table.options(lead.stage, ev)]
    if not edges:
        if lead.stage in funnel.finals:
            return [f"stage {lead.stage!r} is terminal"]
        allowed = ", ".join(sorted(table.allowed(lead.stage))) or "none"
        return [
            f"stage {lead.stage!r} has no conversion event "
            f"({', '.join(events) or 'the funnel has none'}); events allowed from it: {allowed}"
        ]
    for edge in edges:
        if not guard_reasons(edge, lead, ctx):
            return []
    blockers: list[str] = []
    engagement = engagement_of(lead, ctx)
    qualification = qualification_of(lead, ctx)
    guard_names = {name for edge in edges for name, _ in edge.guards}
    if "is_two_way" in guard_names and engagement.level is not Engagement.TWO_WAY:
        blockers.append(f"no two-way communication: {engagement.reason}")
    if "is_qualified" in guard_names and not qualification.passed:
        blockers.extend(
            f"{r.criterion.key}: {r.verdict.value} ({r.reason})"
            for r in qualification.results
            if r.verdict.value != "met"
        )
        if not any(r.verdict.value != "met" for r in qualification.results):
            blockers.extend(qualification.explain())
    for edge in edges:
        for line in guard_reasons(edge, lead, ctx):
            if not line.startswith(("is_two_way:", "is_qualified:")):
                blockers.append(line)
    return list(dict.fromkeys(blockers))


def explain_record(record: Record, ctx: GuardContext) -> Explanation:
    """Explain *record* in the decision context *ctx* (see :func:`funnel.explain`)."""
    funnel = ctx.funnel
    check_record(record, funnel, "explain")
    engagement = engagement_of(record, ctx)
    qualification = qualification_of(record, ctx)
    if isinstance(record, Lead):
        # ready is the very decision convert() takes with the same arguments.
        try:
            event = conversion_event(funnel, None, record.stage)
        except ValidationError as exc:
            ready, blockers = False, [exc.summary]
        else:
            refusal = _refusal(record, event, ctx)
            ready = refusal is None
            blockers = [] if ready else _lead_blockers(record, ctx) or [refusal or ""]
    else:
        ready = record.stage not in funnel.finals
        blockers = []
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
        next_events=enabled(record, ctx),
        hide=record_redactor(record),
    )


def _refusal(lead: Lead, event: str, ctx: GuardContext) -> str | None:
    """Why ``convert`` with *event* refuses *lead* in *ctx*, or ``None`` if it converts."""
    try:
        new = decide_and_apply(lead, event, ctx, "convert")
    except FunnelError as exc:
        return exc.summary
    return None if isinstance(new, Prospect) else f"{event} does not make a prospect"


def explain(record: Record, *, at: datetime, funnel: FunnelDefinition) -> Explanation:
    """Explain where *record* stands in *funnel* as of *at*."""
    return explain_record(record, context(funnel, at))


def _default_outlook(record: Record) -> Outlook | None:
    """What :data:`~funnel.DEFAULT_FUNNEL` says about *record* at its latest moment."""
    from funnel.engine.funnel import DEFAULT_FUNNEL

    at = latest_moment(record)
    try:
        found = explain_record(record, context(DEFAULT_FUNNEL, at))
    except FunnelError:
        return None
    return Outlook(
        funnel=DEFAULT_FUNNEL.name,
        at=at,
        qualification=found.qualification,
        engagement=found.engagement,
        next_events=found.next_events,
    )


# A record's card shows the default funnel's view of it (funnel.model._cards).
set_outlook_source(_default_outlook)
