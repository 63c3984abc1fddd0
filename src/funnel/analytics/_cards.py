"""
Notebook cards and short plain reprs of analytics results that can be big.

A :class:`~funnel.analytics.replay.Replay` of a whole CRM (thousands of leads) and a
:class:`~funnel.analytics.report.Durations` with many groups summarise: counts, a few
rows, "and N more", and the method that gives every row as a frame (``to_frame()``).
Every value is masked, clipped and HTML-escaped by :mod:`funnel._base.markup`: a lead id
that is an e-mail address shows masked.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from funnel._base.frames import Kind, to_frame
from funnel._base.markup import (
    Markup,
    card,
    clip,
    esc,
    facts,
    moment,
    muted,
    paragraph,
    pill,
    section,
    table,
)

if TYPE_CHECKING:
    from funnel.analytics.replay import Replay
    from funnel.analytics.report import Durations

#: How many rows of each list a card shows.
ROWS = 5
#: How many stages (or groups) a card lists.
STAGES = 15

#: One transition as a Replay keeps it: (from_stage, to_stage, event, at, row).
Change = tuple[str, str, str, datetime, int]


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "–"


def replay_repr(replay: Replay) -> str:
    """A short plain repr: the funnel, the leads and per stage, transitions, problems."""
    counts = replay.stage_counts()
    shown = dict(list(counts.items())[:STAGES])
    stages = clip(repr(shown), 400)
    return (
        f"Replay(funnel={clip(replay.funnel.name, 40)!r}, leads={len(replay.current)}, "
        f"stages={stages}, transitions={replay.transition_count()}, "
        f"problems=<{len(replay.problems)} problems>)"
    )


def first_changes(changes: Mapping[str, list[Change]], n: int) -> list[tuple[str, Change]]:
    """The *n* transitions of the earliest rows, in row order."""
    every: Iterable[tuple[str, Change]] = (
        (lead, change) for lead, items in changes.items() for change in items
    )
    return heapq.nsmallest(n, every, key=lambda item: item[1][4])


def replay_card(replay: Replay, changes: Mapping[str, list[Change]]) -> Markup:
    """A replay's card: counts, leads per current stage, the first problems and transitions."""
    leads = len(replay.current)
    transitions = sum(len(items) for items in changes.values())
    kinds = Counter(p.kind for p in replay.problems)
    title = Markup(f"Replay {pill(replay.funnel.name)}")
    problems = ", ".join(f"{n:,} {kind}" for kind, n in kinds.most_common()) if kinds else "none"
    rows = [
        ("leads", esc(f"{leads:,}")),
        ("transitions", esc(f"{transitions:,}")),
        ("problems", esc(f"{len(replay.problems):,} ({problems})" if kinds else "none")),
    ]
    counts = list(replay.stage_counts().items())
    stage_rows = [
        (pill(stage), esc(f"{n:,}"), esc(_pct(n, leads))) for stage, n in counts[:STAGES]
    ]
    parts = [
        facts(rows),
        section(
            "current stage",
            table(
                ("stage", "leads", "share"),
                stage_rows,
                more=len(counts) - len(stage_rows),
                noun="more stages",
            ),
        ),
    ]
    if replay.problems:
        shown = replay.problems[:ROWS]
        parts.append(
            section(
                "problems",
                table(
                    ("row", "lead", "kind", "what"),
                    [
                        (esc(p.row), esc(p.lead_id, 40), esc(p.kind), esc(p.message, 100))
                        for p in shown
                    ],
                    more=len(replay.problems) - len(shown),
                    noun="more problems",
                ),
            )
        )
    first = first_changes(changes, ROWS)
    if first:
        parts.append(
            section(
                "first transitions",
                table(
                    ("row", "lead", "at", "change", "event"),
                    [
                        (
                            esc(row),
                            esc(lead, 40),
                            esc(moment(at) if isinstance(at, datetime) else at),
                            Markup(f"{esc(a, 40)} → {esc(b, 40)}"),
                            esc(event or "(observed)", 40),
                        )
                        for lead, (a, b, event, at, row) in first
                    ],
                    more=transitions - len(first),
                    noun="more transitions",
                ),
            )
        )
    parts.append(
        paragraph(muted("every transition: .to_frame(); every stage entered: .stage_frame()"))
    )
    return card(title, *parts)


# --------------------------------------------------------------------------- durations


def _duration(value: timedelta | None) -> str:
    from funnel.analytics.report import format_duration

    return format_duration(value)


def quantile_name(q: float) -> str:
    """``0.9`` -> ``p90``, ``0.975`` -> ``p97.5``."""
    return f"p{q * 100:g}"


def durations_card(d: Durations) -> Markup:
    """A durations card: the span, the count, median, mean, quantiles, a few groups."""
    names = d.names or (" | ".join(d.start), " | ".join(d.end))
    title = Markup(f"Durations {pill(names[0])} → {pill(names[1])}")
    quantiles = ", ".join(f"{quantile_name(q)} {_duration(v)}" for q, v in d.quantiles.items())
    rows = [
        ("leads", esc(f"{d.count:,}")),
        ("median", esc(_duration(d.median))),
        ("mean", esc(_duration(d.mean))),
        ("quantiles", esc(quantiles or "–", 200)),
    ]
    parts = [facts(rows)]
    if d.groups:
        groups = list(d.groups.items())
        shown = groups[:STAGES]
        parts.append(
            section(
                "by group",
                table(
                    ("group", "leads", "median", "mean"),
                    [
                        (
                            esc(_group(key), 60),
                            esc(f"{g.count:,}"),
                            esc(_duration(g.median)),
                            esc(_duration(g.mean)),
                        )
                        for key, g in shown
                    ],
                    more=len(groups) - len(shown),
                    noun="more groups",
                ),
            )
        )
    parts.append(paragraph(muted("as a table: .to_frame(); per lead: .seconds")))
    return card(title, *parts)


def _group(key: Any) -> str:
    from funnel.analytics.report import group_label

    return group_label(key)


def durations_columns(d: Durations) -> dict[str, list[Any]]:
    """One row per group (or one for the whole when ungrouped): group, leads, median, ..."""
    items: list[tuple[Any, Durations]] = list(d.groups.items()) if d.groups else [(None, d)]
    columns: dict[str, list[Any]] = {
        "group": [key for key, _ in items],
        "leads": [g.count for _, g in items],
        "median": [g.median for _, g in items],
        "mean": [g.mean for _, g in items],
    }
    for q in d.quantiles:
        columns[quantile_name(q)] = [g.quantiles.get(q) for _, g in items]
    return columns


def durations_frame(d: Durations, backend: str) -> Any:
    """:meth:`Durations.to_frame <funnel.analytics.report.Durations.to_frame>`."""
    columns = durations_columns(d)
    kinds: dict[str, Kind] = dict.fromkeys(columns, "duration")
    kinds["leads"] = "int"
    if all(key is None or isinstance(key, str) for key in columns["group"]):
        kinds["group"] = "str"
    else:
        del kinds["group"]  # numbers, dates or tuples of several columns: as they are
    return to_frame(columns, backend, kinds=kinds)
