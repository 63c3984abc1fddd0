"""
Notebook cards and short plain reprs of leads, prospects and qualifications.

A record's card (its ``_repr_html_``) shows its id, kind, stage, level, engagement,
the criteria as a met / not met / unknown table, the events it accepts next and the
last few stage changes. What a *funnel* says about a record (the events it accepts,
the qualification its framework gives a lead) is the engine's to say: the engine
registers an :class:`Outlook` source here when it is imported
(:func:`set_outlook_source`); without one, a lead is judged by the default framework
and its next events are not shown.

Nothing personal is shown: the contact's name, title, e-mail and phone never appear
(not even inside a note or a reason, where they are masked), every other value is
masked for e-mail addresses and phone numbers, clipped and HTML-escaped
(:mod:`funnel._base.markup`), and every list is cut to a few rows with "and N more".
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

import attrs

from funnel._base.markup import (
    NO_SECRETS,
    Markup,
    Redactor,
    bullet_list,
    card,
    clip,
    esc,
    facts,
    moment,
    muted,
    paragraph,
    pill,
    pills,
    section,
    table,
    verdict_badge,
)

if TYPE_CHECKING:
    from funnel.model.engagement import EngagementFinding
    from funnel.model.qualification import Qualification
    from funnel.model.records import Lead, Prospect

#: How many stage changes a record's card lists (the latest ones).
HISTORY_ROWS = 5
#: How many criteria a table lists (every shipped framework has at most six).
CRITERIA_ROWS = 12


@attrs.frozen(kw_only=True)
class Outlook:
    """
    What a funnel says about a record at a moment: the record card's live part.

    Attributes:
        funnel: The funnel's name.
        at: The moment judged (the record's latest recorded moment).
        qualification: The funnel framework's verdict on the record's evidence.
        engagement: The engagement its touches show.
        next_events: The events the record accepts at *at*, guards evaluated.
    """

    funnel: str
    at: datetime
    qualification: Qualification
    engagement: EngagementFinding
    next_events: tuple[str, ...]


#: Gives the outlook of a record, or ``None`` when no known funnel can judge it.
OutlookSource = Callable[["Lead | Prospect"], "Outlook | None"]
_SOURCES: list[OutlookSource] = []


def set_outlook_source(source: OutlookSource) -> None:
    """Make *source* the one that judges records for their cards (the engine calls this)."""
    _SOURCES[:] = [source]


def latest_moment(record: Lead | Prospect) -> datetime:
    """The latest moment a record knows of: its creation, last change, touch or finding."""
    moments = [record.created_at]
    for items in (record.history, record.touches, record.evidence):
        if items:
            moments.append(items[-1].at)
    return max(moments)


def record_redactor(record: Lead | Prospect) -> Redactor:
    """Masks the personal values of a record's contact (and a prospect's stakeholder)."""
    return Redactor.of(record)


def _outlook(record: Lead | Prospect) -> Outlook | None:
    for source in _SOURCES:
        try:
            found = source(record)
        except Exception:
            found = None
        if found is not None:
            return found
    return None


def _fallback_qualification(record: Lead) -> Qualification:
    from funnel.model.qualification import DEFAULT, qualify

    company = record.contact.company
    return qualify(record.evidence, framework=DEFAULT, company=company, at=latest_moment(record))


# --------------------------------------------------------------------------- qualification


def qualification_line(q: Qualification) -> str:
    """``default (all of 4): 2 met, 1 not met, 1 unknown -> not qualified``."""
    return (
        f"{clip(q.framework, 40)} ({q.rule} of {len(q.results)}): {len(q.met)} met, "
        f"{len(q.not_met)} not met, {len(q.unknown)} unknown -> "
        f"{'qualified' if q.passed else 'not qualified'}"
    )


def criteria_table(q: Qualification, hide: Redactor = NO_SECRETS) -> Markup:
    """The criteria as a table: criterion, met / not met / unknown, and why."""
    rows = [
        (
            esc(r.criterion.name, 40),
            verdict_badge(r.verdict),
            esc(r.reason, 100, hide),
        )
        for r in q.results[:CRITERIA_ROWS]
    ]
    more = len(q.results) - len(rows)
    return table(("criterion", "status", "why"), rows, more=more, noun="more criteria")


def qualification_card(q: Qualification) -> Markup:
    """A qualification's card: the verdict, the rule and the criteria table."""
    verdict = "qualified" if q.passed else "not qualified"
    title = Markup(f"Qualification {pill(q.framework)} {esc(verdict)}")
    rows = [
        ("rule", esc(f"{q.rule} of {len(q.results)} (needs {q.required} met)")),
        ("tally", esc(f"{len(q.met)} met, {len(q.not_met)} not met, {len(q.unknown)} unknown")),
        ("as of", esc(moment(q.at))),
    ]
    if q.funnel_version is not None:
        rows.append(("funnel version", esc(q.funnel_version)))
    return card(title, facts(rows), section("criteria", criteria_table(q)))


def qualification_repr(q: Qualification) -> str:
    """A short plain repr: the framework, the rule, the criteria by verdict, passed or not."""
    return (
        f"Qualification(framework={clip(q.framework, 40)!r}, rule={str(q.rule)!r}, "
        f"met={q.met!r}, not_met={q.not_met!r}, unknown={q.unknown!r}, passed={q.passed}, "
        f"at={q.at.isoformat()!r}, funnel_version={q.funnel_version!r})"
    )


# --------------------------------------------------------------------------- records


def history_table(record: Lead | Prospect, hide: Redactor = NO_SECRETS) -> Markup:
    """The last few stage changes, oldest first, with "and N earlier changes"."""
    changes = record.history[-HISTORY_ROWS:]
    if not changes:
        return paragraph(muted("no stage changes yet"))
    rows = [
        (
            esc(c.at.date().isoformat()),
            Markup(f"{esc(c.from_stage, 40)} → {esc(c.to_stage, 40)}"),
            esc(c.event, 40),
            esc(c.why, 60, hide) if c.why else muted("–"),
        )
        for c in changes
    ]
    earlier = len(record.history) - len(changes)
    head = muted(f"{earlier:,} earlier changes not shown") if earlier else Markup("")
    return Markup(
        (paragraph(head) if earlier else "") + table(("date", "change", "event", "why"), rows)
    )


def record_card(record: Lead | Prospect) -> Markup:
    """A lead's or a prospect's card (see the module's docstring)."""
    from funnel.model.records import Lead

    hide = record_redactor(record)
    outlook = _outlook(record)
    kind = type(record).__name__
    title = Markup(f"{esc(kind)} {esc(record.id, 60, hide)} {pill(record.stage)}")
    rows: list[tuple[str, Markup]] = [("stage", pill(record.stage))]
    if isinstance(record, Lead):
        rows.append(("level", pill(record.level.value)))
        if outlook is not None:
            engagement = outlook.engagement
            qualification = outlook.qualification
        else:
            from funnel.model.engagement import assess_engagement

            engagement = assess_engagement(record.touches)
            qualification = _fallback_qualification(record)
        criteria_title = "criteria (as of the latest record)"
    else:
        was = muted(f"(a {record.lead_level.value} lead when it converted)")
        rows.append(("level", Markup(f"{pill('prospect')} {was}")))
        engagement = record.engagement
        qualification = record.qualification
        criteria_title = "criteria (the verdict that admitted it)"
    rows.append(
        (
            "engagement",
            Markup(f"{pill(engagement.level.value)} {muted(engagement.reason, 100, hide)}"),
        )
    )
    rows.append(("qualification", esc(qualification_line(qualification), 120)))
    rows.append(("source", esc(record.source, 40, hide) if record.source else muted("–")))
    rows.append(("created", esc(record.created_at.date().isoformat())))
    if not isinstance(record, Lead):
        rows.append(("converted", esc(record.converted_at.date().isoformat())))
        if record.value is not None:
            rows.append(("value", esc(record.value)))
        if record.closed_at is not None:
            rows.append(("closed", esc(record.closed_at.date().isoformat())))
    rows.append(("touches", esc(f"{len(record.touches):,}")))
    rows.append(("evidence", esc(f"{len(record.evidence):,}")))
    if outlook is not None:
        rows.append(("next events", pills(outlook.next_events)))
        rows.append(
            ("judged by", muted(f"funnel {clip(outlook.funnel, 40)} as of {moment(outlook.at)}"))
        )
    else:
        rows.append(("next events", muted("unknown: no loaded funnel knows this stage")))
    return card(
        title,
        facts(rows),
        section(criteria_title, criteria_table(qualification, hide)),
        section("history", history_table(record, hide)),
    )


def blocker_list(blockers: tuple[str, ...], hide: Redactor = NO_SECRETS) -> Markup:
    """What stands in the way, one bullet each (the first ten, then "and N more")."""
    shown = [esc(b, 140, hide) for b in blockers[:10]]
    return bullet_list(shown, more=len(blockers) - len(shown))
