"""
Funnel reports, breakdowns, cohorts and durations, on any narwhals engine.

Counting rules (compare PostHog, Mixpanel and Amplitude; the how-to
``docs/how-to/funnel-types.md`` counts each type by hand):

* The **steps** are an ordered list of stages. By default
  (:func:`present_steps`): the funnel's main path (:func:`default_steps`: the
  initial stage, the stages that confer a qualification level, the prospect
  stages that are not final, then the won stages, ``acquired → mql → sql →
  organisation → opportunity → stakeholder → won`` for the default funnel),
  keeping the stages the log has.
* ``order="reached"`` (default, an *open* funnel): a lead reached step *k*
  if it entered step *k* **or any later step** (a lead seen in ``won`` also
  passed the stages before it). Every lead with a row in some step counts.
  The counts are of distinct leads, never a snapshot of current stages.
* ``order="ordered"`` (PostHog's "ordered", a *closed* funnel): a lead must
  enter step 1, and counts for step *k* only if it entered step *k* at or
  after the time it entered step *k-1*; other stages in between are allowed.
  A stage may repeat in the steps (a repeat needs a later row).
* ``order="strict"``: as ordered, and the lead's next row in any step's stage
  must be the next step (no other step event in between).
* ``order="unordered"``: step *k* counts the leads that did at least *k* of the
  steps, in any order.
* In the last three every entry into step 1 is an **attempt** (unordered: every
  step row); a lead counts for the furthest step an attempt reaches, and the
  attempt counted is the one that got there first (then the latest start).
* ``window``: a conversion window from the lead's entry into the funnel (its
  first step row; in the attempt orders, each attempt's start, so a re-entry
  into step 1 restarts it). Rows later than the window are ignored, for the
  steps and for won/lost.
* ``exclude=[(stage, step_a, step_b)]``: attempts that enter *stage* after step
  *a* and before step *b* are left out (ordered and strict).
* **won / lost / open**: a lead is won if it entered a won stage, lost if it
  entered a lost stage (``lost``, ``disqualified``) and was not won, else
  open. The win rate is on closed leads: ``won / (won + lost)``.
* Breakdowns use **first-touch** attribution by default: the first non-empty
  value of the column on the lead's step rows (equal times: the lower
  ``row``); ``attribution="last"`` or ``("step", stage)`` choose otherwise.
  Cohorts group leads by the period of their entry.
* **Values**: a lead's deal value is its last non-empty ``value``; reports sum
  and average it per step and for the won leads.
* :func:`time_to_convert` and :func:`step_durations` time the attempts the
  ordered (or strict) report counts, so they measure exactly its converted leads.

Everything is computed with narwhals expressions (group-by, join); only the
final small aggregates are pulled into Python. polars, pandas and DuckDB
give the same numbers (tested). pyarrow's median is approximate.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import attrs

from funnel._base.frames import is_polars_frame
from funnel.analytics.eventlog import (
    LoadResult,
    check_log_columns,
    present_steps,
    read_log,
)
from funnel.engine.funnel import DEFAULT_FUNNEL, Funnel
from funnel.engine.replay import (
    KEY,
    REACHED,
    MaskTally,
    ReachedCounts,
    check_attribution,
    check_exclude,
    check_lead_ids,
    check_order,
    check_stages,
    check_window,
    collect,
    lead_suspects,
    mask_tally,
    missing_lead_rows,
    needs_replay_rows,
    per_lead_checked,
    plain_value,
    raise_missing_leads,
    raise_unknown_stages,
    reached_per_lead,
    report_steps,
    tally_reached,
)
from funnel.exceptions import LoadError, UnknownName, ValidationError
from funnel.model.eventlog import AT, EVENT, LEAD_ID, ROW, STAGE, VALUE

if TYPE_CHECKING:
    import narwhals as nw  # imported where used: the polars report path never loads it

Order = Literal["reached", "ordered", "strict", "unordered"]


def default_steps(funnel: Funnel = DEFAULT_FUNNEL) -> tuple[str, ...]:
    """
    The main path of *funnel*: initial, qualification stages, open prospect stages, won.

    >>> default_steps()
    ('acquired', 'mql', 'sql', 'organisation', 'opportunity', 'stakeholder', 'won')
    """
    return report_steps(funnel)


def _rate(num: int, den: int) -> float | None:
    return num / den if den else None


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.2f}%"


def _money(value: float | None) -> str:
    return "–" if value is None else f"{value:,.2f}"


def format_duration(value: timedelta | None) -> str:
    """
    *value* for people: days and hours, hours and minutes, or seconds.

    >>> format_duration(timedelta(days=2, hours=3, minutes=20))
    '2 d 3 h'
    >>> format_duration(timedelta(hours=5, minutes=30)), format_duration(timedelta(seconds=42))
    ('5 h 30 min', '42 s')
    >>> format_duration(None)
    '–'
    """
    if value is None:
        return "–"
    total = value.total_seconds()
    sign, total = ("-", -total) if total < 0 else ("", total)
    minutes = round(total / 60)
    if total >= 86400:
        hours = round(total / 3600)
        days, hours = divmod(hours, 24)
        return f"{sign}{days} d {hours} h" if hours else f"{sign}{days} d"
    if total >= 3600:
        hours, minutes = divmod(minutes, 60)
        return f"{sign}{hours} h {minutes} min" if minutes else f"{sign}{hours} h"
    if total >= 60:
        return f"{sign}{minutes} min"
    return f"{sign}{total:.0f} s"


@attrs.frozen(kw_only=True)
class FunnelReport:
    """
    Distinct leads reaching each step, conversion, drop-off and outcomes.

    Attributes:
        steps: The steps, in order.
        counts: Distinct leads that reached each step.
        won: Leads that entered a won stage.
        lost: Leads that entered a lost stage and were not won.
        open: Leads neither won nor lost.
        order: ``"reached"`` or ``"ordered"``.
        window: The conversion window, if any.
        label: The group this report is for (breakdowns, cohorts); ``str()``, the
            repr and the notebook table write it as :func:`group_label` does (masked).
        backend: The engine :meth:`to_frame` builds for (``"polars"``,
            ``"pandas"``, ``"pyarrow"``).
        names: The steps' display names (:meth:`funnel.Funnel.stage_name`).
        values: Sum of the deal values (the log's ``value`` column) of the
            leads reaching each step; zeros when the log has no values.
        valued: How many of those leads have a value.
        won_value: Sum of the won leads' deal values.
        won_valued: How many won leads have a value.
        durations: With ``funnel_report(..., durations=True)``: the time to
            convert from the first step to a won stage (:func:`time_to_convert`).
    """

    steps: tuple[str, ...]
    counts: tuple[int, ...]
    won: int
    lost: int
    open: int
    order: str = "reached"
    window: timedelta | None = None
    label: Any = None
    backend: str = "polars"
    names: tuple[str, ...] = ()
    values: tuple[float, ...] = ()
    valued: tuple[int, ...] = ()
    won_value: float = 0.0
    won_valued: int = 0
    durations: Durations | None = attrs.field(default=None, repr=False)

    def __repr__(self) -> str:
        label = f", label={group_label(self.label)[:60]!r}" if self.label is not None else ""
        leads = self.counts[0] if self.counts else 0
        return (
            f"FunnelReport(<{len(self.steps)} steps>, leads={leads}, won={self.won}, "
            f"lost={self.lost}, open={self.open}, order={self.order!r}{label})"
        )

    @property
    def display_names(self) -> tuple[str, ...]:
        """The steps' display names (the stage names when none were given)."""
        return self.names if len(self.names) == len(self.steps) else self.steps

    @property
    def average_values(self) -> tuple[float | None, ...]:
        """Average deal value of the leads reaching each step (over those with a value)."""
        vs = self.values or (0.0,) * len(self.steps)
        ns = self.valued or (0,) * len(self.steps)
        return tuple(v / n if n else None for v, n in zip(vs, ns, strict=True))

    @property
    def won_average_value(self) -> float | None:
        """Average deal value of the won leads (over those with a value)."""
        return self.won_value / self.won_valued if self.won_valued else None

    @property
    def has_values(self) -> bool:
        """Whether any lead had a deal value."""
        return any(self.valued)

    @property
    def leads(self) -> int:
        """Leads in the funnel (those that reached the first step)."""
        return self.counts[0] if self.counts else 0

    @property
    def closed(self) -> int:
        """Won plus lost."""
        return self.won + self.lost

    @property
    def conversion_from_previous(self) -> tuple[float | None, ...]:
        """Each step's count over the previous step's (first step: over itself)."""
        prev = [self.leads, *self.counts[:-1]]
        return tuple(_rate(c, p) for c, p in zip(self.counts, prev, strict=True))

    @property
    def conversion_from_first(self) -> tuple[float | None, ...]:
        """Each step's count over the first step's."""
        return tuple(_rate(c, self.leads) for c in self.counts)

    @property
    def drop_off(self) -> tuple[int, ...]:
        """Leads lost between the previous step and this one (0 for the first)."""
        prev = [self.leads, *self.counts[:-1]]
        return tuple(p - c for c, p in zip(self.counts, prev, strict=True))

    @property
    def win_rate(self) -> float | None:
        """Won over closed (won + lost); ``None`` when nothing closed."""
        return _rate(self.won, self.closed)

    @property
    def overall_win_rate(self) -> float | None:
        """Won over every lead in the funnel."""
        return _rate(self.won, self.leads)

    def rows(self) -> list[dict[str, Any]]:
        """
        One dict per step: step, name, leads, from_previous, from_first, drop_off,
        value (sum of deal values) and average_value.
        """
        vs = self.values or (0.0,) * len(self.steps)
        return [
            {
                "step": s,
                "name": n,
                "leads": c,
                "from_previous": p,
                "from_first": f,
                "drop_off": d,
                "value": v,
                "average_value": a,
            }
            for s, n, c, p, f, d, v, a in zip(
                self.steps,
                self.display_names,
                self.counts,
                self.conversion_from_previous,
                self.conversion_from_first,
                self.drop_off,
                vs,
                self.average_values,
                strict=True,
            )
        ]

    def to_frame(self, backend: str | None = None) -> Any:
        """The per-step table as a native frame (the input's engine, or polars)."""
        rows = self.rows()
        names = ["step", "name", "leads", "from_previous", "from_first", "drop_off"]
        if self.has_values:
            names += ["value", "average_value"]
        data = {k: [r[k] for r in rows] for k in names}
        return _frame_from_dict(data, backend or self.backend)

    def summary(self) -> str:
        """One line: won, lost, open and the win rates (and the won value, if any)."""
        line = (
            f"won {self.won}, lost {self.lost}, open {self.open}; "
            f"win rate on closed {_pct(self.win_rate)}, overall {_pct(self.overall_win_rate)}"
        )
        if self.has_values:
            line += (
                f"; won value {_money(self.won_value)}, average {_money(self.won_average_value)}"
            )
        return line

    def __str__(self) -> str:
        width = max([14, *(len(n) + 2 for n in self.display_names)])
        head = f"{'step':<{width}}{'leads':>9}{'from prev':>11}{'from first':>11}{'drop-off':>10}"
        if self.has_values:
            head += f"{'value':>14}{'average':>12}"
        lines = [head] if self.label is None else [f"[{group_label(self.label)}]", head]
        for r in self.rows():
            line = (
                f"{r['name']:<{width}}{r['leads']:>9}{_pct(r['from_previous']):>11}"
                f"{_pct(r['from_first']):>11}{r['drop_off']:>10}"
            )
            if self.has_values:
                line += f"{_money(r['value']):>14}{_money(r['average_value']):>12}"
            lines.append(line)
        lines.append(self.summary())
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        values = self.has_values
        cells = "".join(
            f"<tr><td>{html.escape(r['name'])}</td><td>{r['leads']}</td>"
            f"<td>{_pct(r['from_previous'])}</td><td>{_pct(r['from_first'])}</td>"
            f"<td>{r['drop_off']}</td>"
            + (
                f"<td>{_money(r['value'])}</td><td>{_money(r['average_value'])}</td>"
                if values
                else ""
            )
            + "</tr>"
            for r in self.rows()
        )
        title = "" if self.label is None else f"<b>{html.escape(group_label(self.label))}</b>"
        value_head = "<th>value</th><th>average</th>" if values else ""
        return (
            f"{title}<table><thead><tr><th>step</th><th>leads</th><th>from previous</th>"
            f"<th>from first</th><th>drop-off</th>{value_head}</tr></thead>"
            f"<tbody>{cells}</tbody></table>"
            f"<p>{html.escape(self.summary())}</p>"
        )


@attrs.frozen(kw_only=True)
class Breakdown:
    """
    One :class:`FunnelReport` per value of a column (or per cohort period).

    Attributes:
        by: The column (or ``"cohort"``; several columns: their names joined by ``", "``).
        reports: ``{value: report}``, values sorted (``None`` last); with several
            columns the keys are tuples of values.
        total: The report over every lead.
        columns: The columns broken down by.
        every: For cohorts, the period they were cut by (``"1mo"``, ...): the
            tables label the periods ``2016-10``, ``2016-Q4``, ... (:func:`period_labels`).

    ``str()`` and the notebook table write cohorts by period (``2016-10``), other keys
    as they are (:func:`group_label`); :attr:`reports` keeps the keys themselves.
    """

    by: str
    reports: Mapping[Any, FunnelReport]
    total: FunnelReport
    columns: tuple[str, ...] = ()
    every: str | None = None

    def __getitem__(self, key: Any) -> FunnelReport:
        return self.reports[key]

    def labels(self) -> list[str]:
        """The groups as the tables write them, in the order of :attr:`reports`."""
        keys = list(self.reports)
        if self.every is not None:
            return period_labels(keys, self.every)
        return [group_label(k) for k in keys]

    def rows(self) -> list[dict[str, Any]]:
        """Long format: one dict per group and step (plus won/lost/open/win_rate)."""
        out: list[dict[str, Any]] = []
        for key, rep in self.reports.items():
            for r in rep.rows():
                out.append(
                    {
                        self.by: key,
                        **r,
                        "won": rep.won,
                        "lost": rep.lost,
                        "open": rep.open,
                        "win_rate": rep.win_rate,
                    }
                )
        return out

    def to_frame(self, backend: str | None = None) -> Any:
        """The long table as a native frame (the input's engine, or polars)."""
        rows = self.rows()
        names = [
            self.by,
            "step",
            "leads",
            "from_previous",
            "from_first",
            "drop_off",
            "won",
            "lost",
            "open",
            "win_rate",
        ]
        return _frame_from_dict(
            {n: [r[n] for r in rows] for n in names}, backend or self.total.backend
        )

    def summary_rows(self) -> list[dict[str, Any]]:
        """One dict per group: leads, each step's count, won, lost, open, win rate."""
        return [
            {
                self.by: key,
                **dict(zip(rep.steps, rep.counts, strict=True)),
                "won": rep.won,
                "lost": rep.lost,
                "open": rep.open,
                "win_rate": rep.win_rate,
            }
            for key, rep in self.reports.items()
        ]

    def __str__(self) -> str:
        steps = self.total.display_names
        labels = self.labels()
        width = max([len(str(self.by)), *(len(k) for k in labels)]) + 2
        head = f"{self.by:<{width}}" + "".join(f"{s[:11]:>12}" for s in steps)
        head += f"{'won':>8}{'lost':>8}{'open':>8}{'win rate':>10}"
        lines = [head]
        for label, rep in [
            *zip(labels, self.reports.values(), strict=True),
            ("(all)", self.total),
        ]:
            lines.append(
                f"{label:<{width}}"
                + "".join(f"{c:>12}" for c in rep.counts)
                + f"{rep.won:>8}{rep.lost:>8}{rep.open:>8}{_pct(rep.win_rate):>10}"
            )
        return "\n".join(lines)

    def __repr__(self) -> str:
        every = f", every={self.every!r}" if self.every is not None else ""
        return (
            f"Breakdown(by={self.by[:60]!r}, <{len(self.reports)} groups>{every}, "
            f"total=<{self.total.counts[0] if self.total.counts else 0} leads, "
            f"{self.total.won} won>)"
        )

    def _repr_html_(self) -> str:
        steps = self.total.display_names
        head = "".join(f"<th>{html.escape(s)}</th>" for s in steps)
        body = ""
        groups = list(zip(self.labels(), self.reports.values(), strict=True))
        hidden = len(groups) - TABLE_GROUPS
        if hidden > 0:
            groups = groups[:TABLE_GROUPS]
        for label, rep in [*groups, ("(all)", self.total)]:
            body += (
                f"<tr><td>{html.escape(label)}</td>"
                + "".join(f"<td>{c}</td>" for c in rep.counts)
                + f"<td>{rep.won}</td><td>{rep.lost}</td><td>{rep.open}</td>"
                f"<td>{_pct(rep.win_rate)}</td></tr>"
            )
        more = (
            f"<p>and {hidden} more groups: <code>.to_frame()</code> has them all</p>"
            if hidden > 0
            else ""
        )
        return (
            f"<table><thead><tr><th>{html.escape(self.by)}</th>{head}<th>won</th>"
            f"<th>lost</th><th>open</th><th>win rate</th></tr></thead>"
            f"<tbody>{body}</tbody></table>{more}"
        )


def group_label(key: Any) -> str:
    """
    A group key for people: tuples of several columns joined by " / ".

    A key may be personal (an owner column of e-mail addresses): addresses and phone
    numbers in it are masked, as records mask them; :attr:`Breakdown.reports` keeps
    the keys themselves.
    """
    from funnel._base.markup import NO_SECRETS
    from funnel._base.privacy import escape_controls

    if isinstance(key, tuple):
        text = " / ".join("–" if k is None else str(k) for k in key)
    else:
        text = str(key)
    return escape_controls(NO_SECRETS(text))


#: Groups a breakdown's notebook table shows; the rest are counted (``to_frame()`` has all).
TABLE_GROUPS = 30


@attrs.frozen(kw_only=True)
class Durations:
    """
    A distribution of durations (time to convert), exact on polars, pandas, DuckDB.

    Attributes:
        start: Stages the clock starts at (first entry into any of them).
        end: Stages the clock stops at (first entry into any, not before start).
        count: Leads measured.
        median: The median, or ``None`` when nothing was measured.
        mean: The mean, or ``None``.
        quantiles: ``{q: duration}`` (linear interpolation).
        seconds: Native frame ``lead_id, seconds`` (for histograms).
        groups: Per-group durations when a breakdown column was given.
        names: Display names of the start and end (:meth:`funnel.Funnel.stage_name`).

    ``str()`` prints the durations in days and hours (or hours and minutes).
    """

    start: tuple[str, ...]
    end: tuple[str, ...]
    count: int
    median: timedelta | None
    mean: timedelta | None
    quantiles: Mapping[float, timedelta]
    seconds: Any = attrs.field(default=None, repr=False)
    groups: Mapping[Any, Durations] = attrs.field(factory=dict, repr=False)
    names: tuple[str, str] | None = None

    def __str__(self) -> str:
        fmt = format_duration
        qs = ", ".join(f"p{round(q * 100)} {fmt(v)}" for q, v in self.quantiles.items())
        names = self.names or (" | ".join(self.start), " | ".join(self.end))
        return (
            f"{names[0]} → {names[1]}: {self.count} leads, "
            f"median {fmt(self.median)}, mean {fmt(self.mean)}; {qs}"
        )

    def histogram(self, bins: int = 10, unit: Literal["days", "hours"] = "days") -> Any:
        """
        The measured durations in *bins* equal-width bins: a native frame.

        Columns ``bin_start`` and ``bin_end`` (in *unit*; a bin holds
        ``bin_start <= d < bin_end``, the last one also its end) and ``leads``.
        The bins span the smallest to the largest duration; nothing measured:
        no rows.

        Raises:
            ValidationError: *bins* is not a positive int or *unit* is neither
                ``"days"`` nor ``"hours"``.
        """
        if not isinstance(bins, int) or isinstance(bins, bool) or bins < 1:
            raise ValidationError(f"bins must be a positive int, got {bins!r}", field="bins")
        values = self.values(unit)
        starts: list[float] = []
        ends: list[float] = []
        counts: list[int] = []
        if values:
            lo, hi = min(values), max(values)
            width = (hi - lo) / bins or 1.0
            tally = [0] * bins
            for v in values:
                tally[min(int((v - lo) / width), bins - 1)] += 1
            starts = [lo + i * width for i in range(bins)]
            ends = [lo + (i + 1) * width for i in range(bins)]
            counts = tally
        data: dict[str, list[Any]] = {"bin_start": starts, "bin_end": ends, "leads": counts}
        return _frame_from_dict(data, "polars")

    def values(self, unit: Literal["days", "hours"] = "days") -> list[float]:
        """The measured durations in *unit*, in lead order."""
        import narwhals as nw

        scale = _unit_seconds(unit)
        if self.seconds is None:
            return []
        column = nw.from_native(self.seconds, eager_only=True).get_column("seconds").to_list()
        return [s / scale for s in column if s is not None]

    def to_frame(self, backend: str = "polars") -> Any:
        """
        The summary as a frame: one row per group (one row when ungrouped) with
        ``group``, ``leads``, ``median``, ``mean`` and one column per quantile
        (``p90``), durations as durations. Polars by default, or ``backend="pandas"``.
        """
        from funnel.analytics._cards import durations_frame

        return durations_frame(self, backend)

    def _repr_html_(self) -> str:
        from funnel.analytics._cards import durations_card

        return durations_card(self)


# --------------------------------------------------------------------------- helpers


def _unit_seconds(unit: Any) -> float:
    if unit == "days":
        return 86400.0
    if unit == "hours":
        return 3600.0
    raise ValidationError(
        f"unit must be 'days' or 'hours', got {unit!r}", field="unit", allowed=("days", "hours")
    )


def _frame_from_dict(data: dict[str, list[Any]], backend: str) -> Any:
    import narwhals as nw

    engine: Literal["polars", "pandas", "pyarrow"] = (
        "pandas" if backend == "pandas" else "pyarrow" if backend == "pyarrow" else "polars"
    )
    return nw.from_dict(data, backend=engine).to_native()


def _input(
    log: Any, funnel: Funnel | None, every: str | None = None, *, check: bool = True
) -> tuple[Any, Funnel, str, bool]:
    """
    A narwhals frame (eager or lazy) with a stage column, the funnel, the backend name,
    and whether the log's ``at`` holds dates (before any cast).

    *check*: the rows' stages are checked (:func:`check_stages`), unless *log* is a load
    result of the funnel's; ``False`` leaves it to the caller.
    """
    check = check and not _validated(log, funnel)
    nwf, funnel, backend, dates = _read(log, funnel, every)
    if check and STAGE in nwf.columns:
        check_stages(nwf, funnel)
    if EVENT in nwf.columns and _needs_replay(nwf):
        # the ids checked before the replay: it steps each lead's rows, and a row without
        # a lead (or one it refuses) would not reach the checks after it
        check_lead_ids(nwf)
        nwf = _replayed(nwf, funnel)
    return nwf, funnel, backend, dates


def _validated(log: Any, funnel: Funnel | None) -> bool:
    """Whether *log* is a load result of *funnel*'s (its stages checked by the loader)."""
    return isinstance(log, LoadResult) and (funnel is None or funnel is log.funnel)


def _read(
    log: Any, funnel: Funnel | None, every: str | None = None, *, times: bool = True
) -> tuple[Any, Funnel, str, bool]:
    """
    :func:`_input` without the replay of event-only rows (:func:`_prepared` frames).

    *times*: whether the caller reads ``at`` (``False``: its type is checked, not cast).
    """
    import narwhals as nw

    _check_funnel(funnel)
    nwf, funnel = read_log(log, funnel)
    check_log_columns(nwf.columns)
    nwf, dates = _prepared(nwf, every, times=times)
    impl = nwf.implementation
    backend = (
        "pandas"
        if impl is nw.Implementation.PANDAS
        else "pyarrow"
        if impl is nw.Implementation.PYARROW and isinstance(nwf, nw.DataFrame)
        else "polars"
    )
    return nwf, funnel, backend, dates


def _stage_type_error(dtype: Any) -> LoadError:
    return LoadError(
        f"column {STAGE!r} holds {dtype} values, not stage names: it must be text "
        "(the names of the funnel's stages), or nulls"
    )


def _polars_prepared(frame: Any, schema: Any) -> Any:
    """
    A native polars log (eager or lazy, its *schema* given) in the types the reports
    compute on, or a :class:`LoadError`: text in ``at``, or a stage column of numbers,
    times or booleans. A stage column of nulls only (polars' ``Null`` type) becomes text.
    """
    import polars as pl

    at = schema.get(AT)
    if at == pl.String:
        raise _text_time_error()
    fixes: list[Any] = []
    if isinstance(at, pl.Datetime):
        if at.time_zone is None:
            raise _naive_time_error()
        if at.time_zone != "UTC":  # periods are UTC ones, on every engine
            fixes.append(pl.col(AT).dt.convert_time_zone("UTC"))
    elif at == pl.Null:  # no time at all: times that are all missing
        fixes.append(pl.col(AT).cast(pl.Datetime("us", "UTC")))
    elif at is not None and at != pl.Date:
        raise _time_type_error(at)
    dtype = schema.get(STAGE)
    if dtype == pl.Null:
        fixes.append(pl.col(STAGE).cast(pl.String))
    elif dtype is not None and (dtype.is_numeric() or dtype.is_temporal() or dtype == pl.Boolean):
        raise _stage_type_error(dtype)
    return frame.with_columns(*fixes) if fixes else frame


def _time_type_error(dtype: Any) -> LoadError:
    return LoadError(
        f"column {AT!r} holds {dtype} values, not times: it must hold timestamps with a "
        "time zone, or dates (pandas: pd.to_datetime(frame['at'], utc=True)); or load the "
        "log with load_frame(...)"
    )


def _naive_time_error(*, duckdb: bool = False) -> LoadError:
    fix = (
        'DuckDB: relation.project("* REPLACE (timezone(\'UTC\', \\"at\\") AS \\"at\\")")'
        if duckdb
        else "polars: .dt.replace_time_zone('UTC'); pandas: .dt.tz_localize('UTC')"
    )
    return LoadError(
        f"column {AT!r} holds naive timestamps; say which zone they are in: load the log "
        f"with load_frame(..., timezone='UTC'), or give the column its zone ({fix})"
    )


def _text_time_error() -> LoadError:
    return LoadError(
        f"column {AT!r} holds text, not times: parse it first, e.g. load the log "
        "with load_frame(...) or load_csv(...) (they parse ISO 8601 text; date_format= "
        "for others)"
    )


#: DuckDB's time types, as the reports compute on them: a time with a zone as its UTC
#: wall time (DuckDB truncates a TIMESTAMPTZ in the session's zone; the periods are UTC
#: ones, keyed with their zone again), a DATE as its midnight (keyed as a date again).
_DUCKDB_TIMES = {
    "TIMESTAMP WITH TIME ZONE": "timezone('UTC', {})",
    "TIMESTAMPTZ_NS": "timezone('UTC', {})",
    "DATE": "CAST({} AS TIMESTAMP)",
    '"NULL"': "CAST({} AS TIMESTAMP)",
}
#: DuckDB's times without a zone (refused, as on every engine).
_DUCKDB_NAIVE = frozenset({"TIMESTAMP", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S"})


def _prepared(nwf: Any, every: str | None, *, times: bool = True) -> tuple[Any, bool]:
    """
    *nwf* in the types every engine's report computes on, or a typed error; and whether
    its ``at`` holds dates (before any cast: the periods are keyed as dates then).

    Read from the schema only (no pass over the rows). ``at`` must hold times with a
    zone or dates: text is a :class:`LoadError` (it compares as text and cannot be
    timed), and so are times without a zone (which instant they name is the writer's
    to say) and any other type (numbers, durations, times of day, pandas' ``object``).
    Times in another zone are read in UTC (the periods are UTC ones on every engine;
    DuckDB computes on the UTC wall time, as its truncation follows the session's
    zone); a DuckDB DATE is cast to a TIMESTAMP, which DuckDB subtracts and
    truncates, a pandas one to its UTC midnights, a pyarrow ``date64`` to a date; an
    ``at`` of nulls only is a time column with every time missing. pyarrow's
    null-typed columns (a column of nothing but nulls) become text, which pyarrow
    can join; a period of several units (``"7d"``) on DuckDB, which narwhals cannot
    truncate to, is a :class:`ValidationError`.
    """
    import narwhals as nw

    impl = nwf.implementation
    if impl is nw.Implementation.DUCKDB:
        rel = nwf.to_native()
        types = {c: str(t) for c, t in zip(rel.columns, rel.types, strict=True)}
        kind = types.get(AT, "")
        if kind == "VARCHAR":
            raise _text_time_error()
        if kind in _DUCKDB_NAIVE:
            raise _naive_time_error(duckdb=True)
        if kind and kind not in _DUCKDB_TIMES:
            raise _time_type_error(kind)
        stage_type = types.get(STAGE, "VARCHAR")
        if not (stage_type in ("VARCHAR", '"NULL"') or stage_type.startswith("ENUM")):
            raise _stage_type_error(stage_type)
        if every is not None and parse_every(every)[0] != 1:
            raise ValidationError(
                f"every={every!r}: DuckDB relations take single units only ('1d', '1mo'); "
                "for several, read the relation into polars or pyarrow first "
                "(relation.pl() or relation.arrow())",
                field="every",
            )
        # (the dates from the relation's own types: narwhals' schema asks DuckDB for the
        # session's time zone, a query of 3 ms a call on a 1M-row file)
        dates = kind == "DATE"
        target = _DUCKDB_TIMES.get(kind)  # (None: no at column)
        if target is None or not times:  # (a projection the mask's aggregation would carry)
            return nwf, dates
        cols = [
            f"{target.format(_quoted(c))} AS {_quoted(c)}" if c == AT else _quoted(c)
            for c in rel.columns
        ]
        return nw.from_native(rel.project(", ".join(cols))), dates
    if impl is nw.Implementation.POLARS:  # the native frame's check, as _fast's
        import polars as pl

        native = nwf.to_native()
        native_schema = native.collect_schema()
        fixed = _polars_prepared(native, native_schema)
        dates = native_schema.get(AT) == pl.Date
        return (nwf if fixed is native else nw.from_native(fixed)), dates
    if impl is nw.Implementation.PYARROW and isinstance(nwf, nw.DataFrame):
        import pyarrow as pa

        table = nwf.to_native()
        field = table.schema.field(AT) if AT in nwf.columns else None
        if field is not None and pa.types.is_date64(field.type):  # narwhals' "Unknown"
            nwf = nwf.with_columns(nw.col(AT).cast(nw.Date))
        elif field is not None and pa.types.is_null(field.type):  # times all missing
            i = table.schema.get_field_index(AT)
            missing = table.column(i).cast(pa.timestamp("us", tz="UTC"))
            nwf = nw.from_native(table.set_column(i, AT, missing), eager_only=True)
    schema = nwf.collect_schema()
    at_type = schema.get(AT)
    dates = at_type == nw.Date
    if at_type == nw.String:
        raise _text_time_error()
    if isinstance(at_type, nw.Datetime):
        if at_type.time_zone is None:
            raise _naive_time_error()
        if at_type.time_zone != "UTC":  # periods are UTC ones, on every engine
            nwf = nwf.with_columns(nw.col(AT).dt.convert_time_zone("UTC"))
    elif at_type is not None and at_type not in (nw.Date, nw.Unknown):
        raise _time_type_error(at_type)
    elif at_type == nw.Unknown:
        raise _time_type_error(_native_type(nwf, AT))
    if at_type == nw.Date and impl is nw.Implementation.PANDAS:
        # pyarrow's date kernels cannot truncate pandas' date32[pyarrow]: time its midnights
        nwf = nwf.with_columns(nw.col(AT).cast(nw.Datetime("us")).dt.replace_time_zone("UTC"))
    stage = schema.get(STAGE)
    if stage is not None and (stage.is_numeric() or stage.is_temporal() or stage == nw.Boolean):
        raise _stage_type_error(stage)
    if impl is nw.Implementation.PYARROW and isinstance(nwf, nw.DataFrame):
        import pyarrow as pa

        table = nwf.to_native()

        # null-typed columns, and string views (which pyarrow's compare and take kernels
        # lack), as text
        def text(kind: Any) -> Any:
            if pa.types.is_null(kind) or pa.types.is_string_view(kind):
                return pa.string()
            if pa.types.is_dictionary(kind) and pa.types.is_string_view(kind.value_type):
                return pa.dictionary(kind.index_type, pa.string())
            return None

        texts = [(i, text(field.type)) for i, field in enumerate(table.schema)]
        texts = [(i, kind) for i, kind in texts if kind is not None]
        for i, kind in texts:
            field = table.schema.field(i)
            table = table.set_column(i, field.name, table.column(i).cast(kind))
        if texts:
            return nw.from_native(table, eager_only=True), dates
    return nwf, dates


def _native_type(nwf: Any, column: str) -> str:
    """The engine's own name of *column*'s type (narwhals calls the ones it lacks Unknown)."""
    native = nwf.to_native()
    schema = getattr(native, "schema", None)
    if schema is not None and hasattr(schema, "field"):  # pyarrow
        return str(schema.field(column).type)
    dtypes = getattr(native, "dtypes", None)
    if dtypes is not None and hasattr(dtypes, "get"):  # pandas
        return str(dtypes.get(column))
    return "Unknown"


def _quoted(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def _check_funnel(funnel: object) -> None:
    if funnel is not None and not isinstance(funnel, Funnel):
        raise ValidationError(
            f"funnel must be a funnel.Funnel, got {type(funnel).__name__}", field="funnel"
        )


def _polars_log(log: Any, funnel: Funnel | None) -> tuple[Any, Funnel] | None:
    """
    The native polars frame (eager or lazy) of *log* and its funnel, or ``None``.

    *log* is a polars frame or a :class:`LoadResult` of one; anything else is read
    through narwhals (:func:`_read`). Neither polars nor narwhals is imported here
    unless the frame is polars'.
    """
    _check_funnel(funnel)
    frame = log.accepted if isinstance(log, LoadResult) else log
    if not is_polars_frame(frame):
        return None
    if isinstance(log, LoadResult):
        funnel = funnel or log.funnel
    return frame, funnel or DEFAULT_FUNNEL


def _replayed(nwf: Any, funnel: Funnel) -> Any:
    """The stage log of a log whose rows need a replay (events without stages)."""
    import narwhals as nw

    from funnel.analytics.replay import replay_log

    extra = [c for c in nwf.columns if c not in (LEAD_ID, AT, STAGE, EVENT, ROW)]
    if extra and ROW not in nwf.columns:
        # Number the rows first, as the loaders do: the other columns join back on them.
        if isinstance(nwf, nw.LazyFrame):
            nwf = nwf.collect(backend="polars")
        nwf = nwf.with_row_index(ROW).with_columns((nw.col(ROW) + 1).cast(nw.Int64))
    result = replay_log(nwf.to_native(), funnel=funnel)
    stages = nw.from_native(result.stage_frame(), eager_only=True)
    if ROW in nwf.columns and extra:
        attrs_frame = nwf.select(ROW, *extra)
        if isinstance(attrs_frame, nw.LazyFrame):
            attrs_frame = attrs_frame.collect(backend="polars")
        attrs_frame = nw.from_native(_to_polars_frame(attrs_frame), eager_only=True)
        stages = stages.join(attrs_frame, on=ROW, how="left")
    return stages


def _fast(
    log: Any,
    funnel: Funnel | None,
    steps: Sequence[str] | None,
    *,
    order: str,
    window: timedelta | None,
    exclude: Any,
    by: tuple[str, ...] = (),
    every: str | None = None,
    attribution: Any = "first",
    also: Sequence[Any] = (),
) -> tuple[MaskTally, Funnel, str] | None:
    """
    The one-aggregation report (:func:`funnel.engine.replay.mask_tally`) when it applies.

    It applies to ``order="reached"`` with no window, exclusion or deal values, on
    polars and DuckDB; anything else (or a log needing a replay) returns ``None``.
    """
    if order != "reached" or window is not None or exclude:
        return None
    native = _polars_log(log, funnel)
    if native is not None:  # read as it is, without narwhals
        nwf, funnel = native
        schema = nwf.collect_schema()
        columns = schema.names()
        backend = "polars"
        check_log_columns(columns)
        nwf = _polars_prepared(nwf, schema)
    else:
        # the one aggregation reads no time unless it cuts periods
        nwf, funnel, backend, _ = _read(log, funnel, every, times=bool(by) or every is not None)
        columns = nwf.columns
    if STAGE not in columns or VALUE in columns:
        return None
    missing = [b for b in by if b not in columns]
    if missing:
        raise LoadError(f"no column {missing[0]!r} to break down by; has {columns}")
    if steps is not None:
        report_steps(funnel, steps, order)
    if isinstance(attribution, str):
        check_attribution(attribution, ())
    tally = mask_tally(
        nwf,
        funnel=funnel,
        steps=steps,
        by=by,
        attribution=attribution,
        every=every,
        also=also,
    )
    return None if tally is None else (tally, funnel, backend)


def _to_polars_frame(frame: nw.DataFrame[Any]) -> Any:
    import narwhals as nw
    import polars as pl

    if frame.implementation is nw.Implementation.POLARS:
        return frame.to_native()
    return pl.from_arrow(frame.to_arrow())


def _needs_replay(nwf: Any) -> bool:
    import narwhals as nw

    if STAGE not in nwf.columns:
        return True
    if isinstance(nwf, nw.DataFrame) and not nwf.get_column(STAGE).null_count():
        return False  # no null stage: nothing to replay (the count is the column's, no pass)
    return needs_replay_rows(nwf, polars_native=False)


def _report(
    counts: ReachedCounts | None,
    steps: tuple[str, ...],
    funnel: Funnel,
    *,
    order: str,
    window: timedelta | None,
    backend: str,
    label: Any = None,
) -> FunnelReport:
    """A :class:`FunnelReport` of the engine's counts (none: every count zero)."""
    figures = attrs.asdict(counts or ReachedCounts.from_tally(steps, {}, 0, 0), recurse=False)
    return FunnelReport(
        **figures,
        order=order,
        window=window,
        label=label,
        backend=backend,
        names=tuple(funnel.stage_name(s) for s in steps),
    )


_G = TypeVar("_G")


def _null_key(key: Any) -> Any:
    """A group key with its missing values ``None`` (:func:`plain_value`), whichever engine."""
    if isinstance(key, tuple):
        return tuple(_null_key(k) for k in key)
    return plain_value(key)


def _by_key(groups: Mapping[Any, _G]) -> list[tuple[Any, _G]]:
    """*groups*' items with their keys' missing values ``None`` (:func:`_null_key`), sorted."""
    items = [(_null_key(k), v) for k, v in groups.items()]
    return sorted(items, key=lambda item: _sort_key(item[0]))


def _sort_key(key: Any) -> tuple[int, Any]:
    if isinstance(key, tuple):
        return (0, tuple(_sort_key(k) for k in key))
    return (1, "") if key is None else (0, key)


# --------------------------------------------------------------------------- public API


def _steps(nwf: Any, funnel: Funnel, steps: Sequence[str] | None, order: str) -> tuple[str, ...]:
    """The checked *steps*, or the log's :func:`present_steps`."""
    return report_steps(funnel, present_steps(nwf, funnel) if steps is None else steps, order)


def funnel_report(
    log: Any,
    *,
    steps: Sequence[str] | None = None,
    funnel: Funnel | None = None,
    order: Order = "reached",
    window: timedelta | None = None,
    exclude: Sequence[tuple[Any, Any, Any]] = (),
    durations: bool = False,
    quantiles: Sequence[float] = (0.25, 0.5, 0.75, 0.9),
) -> FunnelReport:
    """
    The funnel report of an event log (see the module docs for the counting rules).

    Args:
        log: A :class:`~funnel.analytics.LoadResult` or a native frame with
            ``lead_id``, ``at`` and ``stage`` (or ``event``) columns: polars
            (eager or lazy), pandas, pyarrow, DuckDB, ...
        steps: The ordered steps; default: the stages of the funnel's main
            path that the log has (:func:`present_steps`). With the orders
            ``"ordered"`` and ``"strict"`` a stage may repeat.
        funnel: The funnel (default: the load result's, or the default funnel).
        order: ``"reached"`` (open funnel), ``"ordered"`` (closed, in order,
            other stages in between allowed), ``"strict"`` (no other step's
            stage in between) or ``"unordered"`` (steps in any order).
        window: Conversion window from funnel entry (each attempt's, see the module docs).
        exclude: ``[(stage, step_a, step_b), ...]``: leads that enter *stage*
            after step *a* and before step *b* are left out (orders
            ``"ordered"`` and ``"strict"``).

    Raises:
        LoadError: *log* is not a frame or lacks a required column, its ``at``
            column holds text (load it with :func:`load_frame` or
            :func:`load_csv`, which parse it), naive timestamps (say their zone:
            ``load_frame(log, timezone=...)``) or no time type (pandas ``object``),
            or rows have no ``lead_id`` or a stage that is not one of the funnel's
            (the message counts them; the loaders reject such rows).
        ValidationError: *steps* is not a sequence of stage names or names an
            unknown stage (the message lists the known ones), *order* is not
            one of the four, *window* is not a positive :class:`datetime.timedelta`
            (``window=30`` is refused: say ``timedelta(days=30)``), or *exclude*
            is malformed. It is also a :class:`ValueError`.

    With ``durations=True`` the report also carries :attr:`FunnelReport.durations`,
    the time to convert from the first step to a won stage: exactly
    ``time_to_convert(log, steps[0], funnel.won_stages, window=window,
    order="strict" if order == "strict" else "ordered", quantiles=quantiles)``.
    On polars the end rows are collected first, then both plans run in one
    ``collect_all`` (the two aggregations share the cores).

    >>> import polars as pl
    >>> from datetime import datetime, timezone
    >>> from funnel.analytics import funnel_report
    >>> t = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> log = pl.DataFrame(dict(lead_id=["a", "a", "b", "c"], at=[t] * 4,
    ...                         stage=["acquired", "won", "acquired", "lost"]))
    >>> report = funnel_report(log, steps=["acquired", "mql", "won"])
    >>> report.counts, report.won, report.lost, report.open
    ((2, 1, 1), 1, 0, 1)
    """
    check_order(order)
    check_window(window)
    if not isinstance(durations, bool):
        raise ValidationError(
            f"durations must be True or False, got {durations!r}", field="durations"
        )
    if durations:
        quantiles = _check_quantiles(quantiles)
        return _report_with_durations(
            log, steps, funnel, order=order, window=window, exclude=exclude, quantiles=quantiles
        )
    fast = _fast(log, funnel, steps, order=order, window=window, exclude=exclude)
    if fast is not None:
        tally, funnel, backend = fast
        return _report(tally.total, tally.steps, funnel, order=order, window=None, backend=backend)
    return _general_report(log, steps, funnel, order=order, window=window, exclude=exclude)


def _general_report(
    log: Any,
    steps: Sequence[str] | None,
    funnel: Funnel | None,
    *,
    order: str,
    window: timedelta | None,
    exclude: Any,
) -> FunnelReport:
    """:func:`funnel_report` on any engine: per-lead figures, then a tally."""
    nwf, funnel, backend, _ = _input(log, funnel)
    steps_t = _steps(nwf, funnel, steps, order)
    check_exclude(exclude, steps_t, funnel, order)
    per = reached_per_lead(
        nwf,
        funnel=funnel,
        steps=steps_t,
        order=order,
        window=window,
        exclude=exclude,
        value=VALUE in nwf.columns,
    )
    counts = tally_reached(per, steps_t).get(None)
    return _report(counts, steps_t, funnel, order=order, window=window, backend=backend)


def _report_with_durations(
    log: Any,
    steps: Sequence[str] | None,
    funnel: Funnel | None,
    *,
    order: Order,
    window: timedelta | None,
    exclude: Any,
    quantiles: tuple[float, ...],
) -> FunnelReport:
    """The report and its time to convert (first step to won), in one run where it can."""
    ttc_order: Literal["ordered", "strict"] = "strict" if order == "strict" else "ordered"
    nwf, funnel_f, _, _ = _read(log, funnel)
    end = tuple(sorted(funnel_f.won_stages))
    # the first step: given, or (present steps) the main path's first if the log has it
    first = report_steps(funnel_f, steps, order)[0] if steps is not None else None
    start = (first or funnel_f.main_path[0],)
    plan = _fast_conversion(nwf, start, end, order=ttc_order, window=window, by=())
    fast = None
    if plan is not None:
        # the conversion plan runs with the report's in one collect_all; it groups only
        # the start rows of leads with an end row, cheaper than joining the end rows to
        # every lead's first start time from the report's group-by (measured 1.4x the
        # two calls at 1M, 15 rounds under load, min-max 0.72-2.60)
        fast = _fast(log, funnel, steps, order=order, window=window, exclude=exclude, also=(plan,))
    if fast is not None:
        tally, funnel_f, backend = fast
        rep = _report(
            tally.total, tally.steps, funnel_f, order=order, window=None, backend=backend
        )
        if tally.steps[0] == start[0]:
            return attrs.evolve(
                rep,
                durations=_conversion_durations(tally.also[0], funnel_f, start, end, quantiles),
            )
    else:
        rep = funnel_report(
            log, steps=steps, funnel=funnel, order=order, window=window, exclude=exclude
        )
    found = time_to_convert(
        log,
        rep.steps[0],
        end,
        funnel=funnel,
        window=window,
        order=ttc_order,
        quantiles=quantiles,
    )
    return attrs.evolve(rep, durations=found)


def breakdown(
    log: Any,
    by: str | Sequence[str],
    *,
    steps: Sequence[str] | None = None,
    funnel: Funnel | None = None,
    order: Order = "reached",
    window: timedelta | None = None,
    exclude: Sequence[tuple[Any, Any, Any]] = (),
    attribution: str | tuple[str, str] = "first",
) -> Breakdown:
    """
    One funnel report per value of column *by* (or per combination of several columns).

    *attribution* says which of a lead's values counts: ``"first"`` (first
    touch: the first non-empty value on the lead's step rows, in time order,
    equal times broken by ``row``), ``"last"`` (the last one), or
    ``("step", stage)`` (the value on the row where the lead entered that
    step; leads that never did form the group ``None``). Leads with no value
    (null or ``""``; a categorical column, polars ``Categorical``/``Enum``,
    pandas ``category`` or a pyarrow dictionary, counts as its text) form the
    group ``None``; with several columns the keys are tuples.

    Raises:
        LoadError: *by* is not a column of the log, or as for :func:`funnel_report`.
        ValidationError: as for :func:`funnel_report`, or a bad *attribution*.
    """
    return _grouped(
        log,
        by,
        None,
        steps=steps,
        funnel=funnel,
        order=order,
        window=window,
        exclude=exclude,
        attribution=attribution,
    )


def cohorts(
    log: Any,
    every: str = "1mo",
    *,
    steps: Sequence[str] | None = None,
    funnel: Funnel | None = None,
    order: Order = "reached",
    window: timedelta | None = None,
    exclude: Sequence[tuple[Any, Any, Any]] = (),
) -> Breakdown:
    """
    One funnel report per entry period (``dt.truncate(every)``, e.g. ``"7d"``, ``"1mo"``).

    DuckDB inputs accept only single units (``"1mo"``, not ``"3mo"``: a
    :class:`ValidationError` on field ``every``): narwhals limits them.

    The keys are the periods' start times (UTC); a log of dates has periods of dates
    (:class:`datetime.date` keys, on every engine).

    Raises:
        ValidationError: *every* is not ``<number><unit>`` with a unit of ``ns``, ``us``,
            ``ms``, ``s``, ``m``, ``h``, ``d``, ``mo``, ``q`` or ``y``.
    """
    return _grouped(
        log,
        None,
        check_every(every),
        steps=steps,
        funnel=funnel,
        order=order,
        window=window,
        exclude=exclude,
        attribution="first",
    )


#: The units of a period (narwhals' units, which every engine truncates to; no weeks: ``7d``).
EVERY_UNITS = ("ns", "us", "ms", "s", "m", "h", "d", "mo", "q", "y")
_EVERY = re.compile(r"([1-9][0-9]{0,5})(ns|us|ms|s|m|h|d|mo|q|y)")


def parse_every(every: Any) -> tuple[int, str]:
    """
    *every* as ``(number, unit)``: the one definition of a period, for cohorts and labels.

    >>> parse_every("3mo")
    (3, 'mo')
    >>> parse_every("1w")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    funnel.exceptions.ValidationError: every must be <number><unit> ... (weeks: "7d"), got '1w'
    """
    found = _EVERY.fullmatch(every) if isinstance(every, str) else None
    if found is None:
        shown = repr(every[:20]) if isinstance(every, str) else f"a {type(every).__name__}"
        raise ValidationError(
            "every must be <number><unit> with a unit of ns, us, ms, s, m, h, d, mo, q or y "
            f'(weeks: "7d"), got {shown}',
            field="every",
            allowed=EVERY_UNITS,
        )
    return int(found.group(1)), found.group(2)


def check_every(every: Any) -> str:
    """
    *every* if it is a period narwhals can truncate to (:func:`parse_every`), else a
    ValidationError.

    >>> check_every("1mo")
    '1mo'
    """
    parse_every(every)
    return str(every)


# --------------------------------------------------------------------------- period labels

#: The label of the group of leads without a value (or, in cohorts, without an entry time).
NONE_LABEL = "(none)"

#: Grain of a period: how its start is written.
Grain = Literal["year", "quarter", "month", "week", "day", "time"]


def _grain_of_every(every: str) -> Grain:
    n, unit = parse_every(every)
    if unit == "y" or (unit == "mo" and n % 12 == 0):
        return "year"
    if unit == "q" or (unit == "mo" and n % 3 == 0):
        return "quarter"
    if unit == "mo":
        return "month"
    if unit == "d":
        return "day"
    return "time"


def _is_midnight(value: datetime) -> bool:
    return (value.hour, value.minute, value.second, value.microsecond) == (0, 0, 0, 0)


def _infer_grain(values: Sequence[datetime | date]) -> Grain:
    """The coarsest grain every value starts a period of (weeks, quarters, years need two)."""
    stamps = [
        v if isinstance(v, datetime) else datetime(v.year, v.month, v.day, tzinfo=UTC)
        for v in values
    ]
    if not all(_is_midnight(v) for v in stamps):
        return "time"
    several = len(stamps) >= 2
    if all(v.day == 1 for v in stamps):
        if several and all(v.month == 1 for v in stamps):
            return "year"
        if several and all(v.month in (1, 4, 7, 10) for v in stamps):
            return "quarter"
        return "month"
    if several and all(v.weekday() == 0 for v in stamps):
        return "week"
    return "day"


def _format(value: datetime | date, grain: Grain) -> str:
    if grain == "year":
        return f"{value.year}"
    if grain == "quarter":
        return f"{value.year}-Q{(value.month - 1) // 3 + 1}"
    if grain == "month":
        return f"{value.year}-{value.month:02d}"
    if grain == "week":
        year, week, _ = value.isocalendar()
        return f"{year}-W{week:02d}"
    if grain == "day" or not isinstance(value, datetime):
        return f"{value.year}-{value.month:02d}-{value.day:02d}"
    return value.strftime("%Y-%m-%d %H:%M")


def period_labels(keys: Sequence[Any], every: str | None = None) -> list[str]:
    """
    Labels for cohort keys: period starts written at their grain, other keys as text.

    *every* is the period the keys were cut by, as :func:`cohorts` takes it
    (``"1mo"``, ``"3mo"`` or ``"1q"``, ``"7d"``, ``"1y"``: :func:`parse_every`);
    without it the grain is inferred from the keys themselves (first days of
    quarter months are quarters, Mondays are ISO weeks, ...). Keys that are not
    dates (a breakdown by source) are written by :func:`group_label`; ``None``
    is ``"(none)"``.

    >>> from datetime import datetime, timezone
    >>> months = [datetime(2016, m, 1, tzinfo=timezone.utc) for m in (10, 11, 12)]
    >>> period_labels(months)
    ['2016-10', '2016-11', '2016-12']
    >>> period_labels([datetime(2016, 10, 1), datetime(2017, 1, 1)])
    ['2016-Q4', '2017-Q1']
    >>> period_labels(months, every="1mo")
    ['2016-10', '2016-11', '2016-12']
    >>> period_labels([datetime(2016, 10, 3), datetime(2016, 10, 10)])
    ['2016-W40', '2016-W41']
    >>> period_labels([datetime(2016, 10, 6), datetime(2016, 10, 13)], every="7d")
    ['2016-10-06', '2016-10-13']
    >>> period_labels(["web", None, ("ads", "ann")])
    ['web', '(none)', 'ads / ann']

    Raises:
        ValidationError: *every* is not a period.
    """
    keys = list(keys)
    given = _grain_of_every(every) if every is not None else None
    dates = [k for k in keys if isinstance(k, date)]
    if not dates:
        return [NONE_LABEL if k is None else group_label(k) for k in keys]
    grain = given or _infer_grain(dates)
    return [
        _format(k, grain) if isinstance(k, date) else (NONE_LABEL if k is None else group_label(k))
        for k in keys
    ]


def period_label(key: Any, every: str | None = None) -> str:
    """
    One cohort key as :func:`period_labels` writes it (alone, a first of the month is a month).

    >>> from datetime import datetime, timezone
    >>> period_label(datetime(2016, 10, 1, tzinfo=timezone.utc))
    '2016-10'
    >>> period_label(datetime(2016, 10, 1, tzinfo=timezone.utc), every="3mo")
    '2016-Q4'
    """
    return period_labels([key], every)[0]


def _period_key(key: Any, dates: bool) -> Any:
    """
    A period's start as the reports key it: a date for a log of *dates* (the engines that
    time dates time their midnights), else a UTC time (DuckDB computes on UTC wall times).
    """
    if not isinstance(key, datetime):
        return key
    if dates:
        return key.date()
    # (one zone object on every engine: polars' keys came as ZoneInfo('UTC'))
    return key.replace(tzinfo=UTC) if key.tzinfo is None else key.astimezone(UTC)


def _check_by(by: Any) -> tuple[str, ...]:
    if by is None:
        return ()
    if isinstance(by, str):
        found: tuple[str, ...] = (by,)
    elif (
        isinstance(by, Sequence)
        and by
        and all(isinstance(b, str) for b in by)
        and len(set(by)) == len(by)
    ):
        found = tuple(by)
    else:
        raise ValidationError(
            f"by must be a column name (str) or a list of distinct names, got {by!r}", field="by"
        )
    if LEAD_ID in found:
        raise ValidationError(
            f"by cannot be {LEAD_ID!r}: a lead is counted once, so each group would be one "
            "lead; break down by a column of the leads' attributes",
            field="by",
        )
    return found


def _grouped(
    log: Any,
    by: str | Sequence[str] | None,
    every: str | None,
    *,
    steps: Sequence[str] | None,
    funnel: Funnel | None,
    order: Order,
    window: timedelta | None,
    exclude: Sequence[tuple[Any, Any, Any]],
    attribution: Any,
) -> Breakdown:
    import narwhals as nw

    check_order(order)
    check_window(window)
    by_t = _check_by(by)
    if every is not None and not isinstance(every, str):
        raise ValidationError(
            f"every must be a period such as '7d' or '1mo', got {every!r}", field="every"
        )
    fast = _fast(
        log,
        funnel,
        steps,
        order=order,
        window=window,
        exclude=exclude,
        by=by_t,
        every=every,
        attribution=attribution,
    )
    if fast is not None:
        tally, funnel, backend = fast
        return Breakdown(
            by=(by_t[0] if len(by_t) == 1 else ", ".join(by_t)) if by_t else "cohort",
            columns=by_t or ("cohort",),
            every=every,
            reports={
                k: _report(
                    counts,
                    tally.steps,
                    funnel,
                    order=order,
                    window=None,
                    backend=backend,
                    label=k,
                )
                # (a period's time in the one UTC zone object the other engines key by; a
                # date log's periods come as dates)
                for k, counts in (
                    (_period_key(k, False) if every is not None else k, c)
                    for k, c in _by_key(tally.reports)
                )
            },
            total=_report(
                tally.total, tally.steps, funnel, order=order, window=None, backend=backend
            ),
        )
    nwf, funnel, backend, dates = _input(log, funnel, every)
    missing = [b for b in by_t if b not in nwf.columns]
    if missing:
        raise LoadError(f"no column {missing[0]!r} to break down by; has {nwf.columns}")
    steps_t = _steps(nwf, funnel, steps, order)
    check_exclude(exclude, steps_t, funnel, order)
    check_attribution(attribution, steps_t)
    per = reached_per_lead(
        nwf,
        funnel=funnel,
        steps=steps_t,
        order=order,
        window=window,
        by=by_t or None,
        every=every,
        exclude=exclude,
        attribution=attribution,
        value=VALUE in nwf.columns,
    )
    if isinstance(per, nw.LazyFrame) and per.implementation is nw.Implementation.POLARS:
        per = per.collect()  # one plan, read twice below
    keyed = tally_reached(per, steps_t, keyed=True)
    if every is not None:  # UTC periods, or dates for a log of dates, on every engine
        keyed = {_period_key(k, dates): v for k, v in keyed.items()}
    total = tally_reached(per, steps_t).get(None)
    reports = {
        k: _report(counts, steps_t, funnel, order=order, window=window, backend=backend, label=k)
        for k, counts in _by_key(keyed)
    }
    return Breakdown(
        by=(by_t[0] if len(by_t) == 1 else ", ".join(by_t)) if by_t else "cohort",
        columns=by_t or ("cohort",),
        every=every,
        reports=reports,
        total=_report(total, steps_t, funnel, order=order, window=window, backend=backend),
    )


def conversion_trend(
    log: Any,
    every: str = "1mo",
    *,
    steps: Sequence[str] | None = None,
    funnel: Funnel | None = None,
    order: Order = "reached",
    window: timedelta | None = None,
) -> Any:
    """
    Conversion rate per period of entry: a native frame, one row per period.

    Columns: ``period`` (start, UTC), ``leads`` (entered the funnel then),
    ``converted`` (of those, reached the last step), ``conversion``
    (``converted / leads``). The cohorts of :func:`cohorts`, one number each.

    >>> import polars as pl
    >>> from datetime import datetime, timezone
    >>> jan, feb = (datetime(2026, m, 3, tzinfo=timezone.utc) for m in (1, 2))
    >>> log = pl.DataFrame(dict(lead_id=["a", "a", "b", "c", "c"], at=[jan, feb, jan, feb, feb],
    ...                         stage=["acquired", "won", "acquired", "acquired", "won"]))
    >>> trend = conversion_trend(log, steps=["acquired", "won"])
    >>> [(str(p.date()), n, c, r) for p, n, c, r in trend.rows()]
    [('2026-01-01', 2, 1, 0.5), ('2026-02-01', 1, 1, 1.0)]
    """
    split = cohorts(log, every, steps=steps, funnel=funnel, order=order, window=window)
    periods = list(split.reports)
    data: dict[str, list[Any]] = {
        "period": periods,
        "leads": [split[p].leads for p in periods],
        "converted": [split[p].counts[-1] for p in periods],
        "conversion": [split[p].conversion_from_first[-1] for p in periods],
    }
    return _frame_from_dict(data, split.total.backend)


def dropped_off(
    log: Any,
    step: str | int,
    *,
    steps: Sequence[str] | None = None,
    funnel: Funnel | None = None,
    order: Order = "reached",
    window: timedelta | None = None,
    exclude: Sequence[tuple[Any, Any, Any]] = (),
) -> list[Any]:
    """
    The leads that dropped off at *step*: they reached the step before it, not it.

    *step* is a step name (its first occurrence after the first step) or its
    index in *steps*; the report's counting rules apply, so
    ``len(dropped_off(log, k)) == funnel_report(log).drop_off[k]``. Ids sorted.

    Raises:
        ValidationError: *step* is not a step after the first, or as for :func:`funnel_report`.
    """
    import narwhals as nw

    check_order(order)
    check_window(window)
    nwf, funnel, _, _ = _input(log, funnel)
    steps_t = _steps(nwf, funnel, steps, order)
    k: int | None = None
    if isinstance(step, int) and not isinstance(step, bool):
        k = step if 1 <= step < len(steps_t) else None
    elif isinstance(step, str) and step in steps_t[1:]:
        k = steps_t.index(step, 1)
    if k is None:
        raise ValidationError(
            f"step must be a step after the first of {list(steps_t)} (a name or index), "
            f"got {step!r}",
            field="step",
            allowed=steps_t[1:],
        )
    per = reached_per_lead(
        nwf, funnel=funnel, steps=steps_t, order=order, window=window, exclude=exclude
    )
    ids = collect(per.filter(nw.col(REACHED) == k - 1).select(LEAD_ID))
    return sorted(plain_value(v) for v in ids.get_column(LEAD_ID).to_list())


def _as_set(stages: Any, funnel: Funnel, name: str) -> tuple[str, ...]:
    """*stages* (a stage name or several) checked against *funnel*; *name* is the argument."""
    out = (stages,) if isinstance(stages, str) else stages
    if not isinstance(out, Collection) or not all(isinstance(s, str) for s in out):
        raise ValidationError(
            f"{name} must be a stage name or a collection of them, got {stages!r}", field=name
        )
    out = tuple(out)
    if not out:
        raise ValidationError(
            f"{name} must name at least one stage; the stages are {', '.join(funnel.stages)}",
            field=name,
            allowed=funnel.stages,
        )
    unknown = [s for s in out if s not in funnel.stages]
    if unknown:  # a typo would otherwise measure nothing (count 0), as a stage absent from the log
        raise UnknownName(
            f"{name}: not stages of funnel {funnel.name!r}: {unknown}; "
            f"the stages are {', '.join(funnel.stages)}",
            record=f"funnel {funnel.name!r}",
            field=name,
            allowed=funnel.stages,
        )
    return out


def _check_quantiles(quantiles: Any) -> tuple[float, ...]:
    ok = isinstance(quantiles, Sequence) and not isinstance(quantiles, str)
    if ok and all(
        isinstance(q, int | float) and not isinstance(q, bool) and 0 <= q <= 1 for q in quantiles
    ):
        return tuple(float(q) for q in quantiles)
    raise ValidationError(
        f"quantiles must be a sequence of numbers from 0 to 1, got {quantiles!r}",
        field="quantiles",
    )


def _durations(
    frame: Any, start: tuple[str, ...], end: tuple[str, ...], quantiles: Sequence[float]
) -> dict[Any, Durations]:
    """Per ``_key`` (or None) stats of column ``_s`` (seconds)."""
    import narwhals as nw

    s = nw.col("_s")
    aggs = [nw.len().alias("_n"), s.median().alias("_median"), s.mean().alias("_mean")]
    aggs += [
        s.quantile(q, interpolation="linear").alias(f"_q{i}") for i, q in enumerate(quantiles)
    ]
    keyed = "_key" in frame.columns
    if keyed and frame.implementation is nw.Implementation.PYARROW:
        # pyarrow's group-by has no quantile: one select per group (a row per lead
        # measured, few groups)
        keys = frame.get_column("_key").unique().to_list()
        parts = [
            frame.filter(nw.col("_key").is_null() if k is None else nw.col("_key") == k)
            .select(*aggs)
            .with_columns(nw.lit(k).alias("_key"))
            for k in keys
            if k is not None
        ]
        if None in keys:
            none = frame.filter(nw.col("_key").is_null()).select(*aggs)
            parts.append(none.with_columns(nw.lit(None).alias("_key")))
        stats = nw.concat(parts, how="diagonal") if parts else frame.select(*aggs).head(0)
    else:
        stats = frame.group_by("_key").agg(*aggs) if keyed else frame.select(*aggs)
    out: dict[Any, Durations] = {}

    def td(v: Any) -> timedelta | None:
        v = plain_value(v)  # pandas' pd.NA (pyarrow dtypes) too
        return None if v is None else timedelta(seconds=float(v))

    for row in collect(stats).iter_rows(named=True):
        n = int(plain_value(row["_n"]) or 0)
        qs = {q: td(row[f"_q{i}"]) for i, q in enumerate(quantiles)}
        out[plain_value(row["_key"]) if keyed else None] = Durations(
            start=start,
            end=end,
            count=n,
            median=td(row["_median"]) if n else None,
            mean=td(row["_mean"]) if n else None,
            quantiles={q: v for q, v in qs.items() if v is not None and n},
        )
    return out


def _seconds(v: Any) -> timedelta | None:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    return timedelta(seconds=float(v))


def _polars_durations(
    values: Any, start: tuple[str, ...], end: tuple[str, ...], quantiles: Sequence[float]
) -> Durations:
    """
    :func:`_durations` of one polars series of seconds, sorted once.

    The median and each quantile then read the sorted values (polars knows they are
    sorted) instead of sorting them again; the mean sums them in that order, so it
    does not depend on the order the rows came in.
    """
    n = values.len()
    x = values.drop_nulls().sort()
    if not n:
        return Durations(start=start, end=end, count=0, median=None, mean=None, quantiles={})
    qs = {q: _seconds(x.quantile(q, interpolation="linear")) for q in quantiles}
    return Durations(
        start=start,
        end=end,
        count=n,
        median=_seconds(x.median()),
        mean=_seconds(x.mean()),
        quantiles={q: v for q, v in qs.items() if v is not None},
    )


def _conversion_order(order: Any) -> str:
    if order not in ("ordered", "strict"):
        raise ValidationError(
            f"order must be 'ordered' or 'strict' for conversion times, got {order!r}",
            field="order",
            allowed=("ordered", "strict"),
        )
    return str(order)


def _measured(
    nwf: Any,
    funnel: Funnel,
    sets: tuple[tuple[str, ...], ...],
    k: int,
    *,
    order: str,
    window: timedelta | None,
    by: tuple[str, ...],
    attribution: Any,
    quantiles: Sequence[float],
    exclude: tuple[Any, ...] = (),
) -> Durations:
    """The durations from step *k-1* to step *k* of the engine's counted attempts."""
    import narwhals as nw

    per = per_lead_checked(
        nwf,
        funnel=funnel,
        sets=sets,
        order=order,
        window=window,
        by=by,
        exclude=exclude,
        attribution=attribution,
        times=True,
    )
    start, end = sets[k - 1], sets[k]
    conv = per.filter(nw.col(REACHED) >= k).with_columns(
        (nw.col(f"_at{k}") - nw.col(f"_at{k - 1}")).dt.total_seconds().cast(nw.Float64).alias("_s")
    )
    if isinstance(conv, nw.LazyFrame) and conv.implementation is nw.Implementation.POLARS:
        conv = conv.collect()
    seconds = collect(conv.select(LEAD_ID, nw.col("_s").alias("seconds")).sort(LEAD_ID))
    whole = _durations(conv.drop(KEY) if KEY in conv.columns else conv, start, end, quantiles)
    groups: dict[Any, Durations] = {}
    if by:
        found = _durations(conv, start, end, quantiles)
        groups = dict(_by_key(found))
    base = whole.get(None) or Durations(
        start=start, end=end, count=0, median=None, mean=None, quantiles={}
    )
    names = (_names(funnel, start), _names(funnel, end))
    return attrs.evolve(
        base,
        seconds=seconds.to_native(),
        groups={g: attrs.evolve(d, names=names) for g, d in groups.items()},
        names=names,
    )


def _conversion_plan(
    lazy: Any,
    start: tuple[str, ...],
    end: tuple[str, ...],
    *,
    leads_checked: bool = False,
    check: Funnel | None = None,
) -> Any:
    """
    ``lead_id, _s``: seconds from start to end of each converted lead (in lead order).

    The ordered attempts of :func:`_measured` for two steps with no window and
    disjoint stages, without listing the attempts: a lead converts at its first
    *end* row at or after its first *start* row (``e``), timed from its latest
    *start* row at or before ``e`` (the attempt that converts first, latest start).
    Only the start and end rows are read. The end rows are collected first (when
    the plan is built) and the start rows then filtered to the leads among them, in the
    same pass as their stage test (a lead without an end row cannot convert; the
    leads that reach a won stage are few, so the start rows kept and the group-bys
    stay small as the log grows; a semi join in the plan measured 1.8x slower at 10M,
    as it first gathers every start row). A lazy polars plan, written in polars
    (building it through narwhals cost more than a millisecond per call).

    With *check*, a funnel, the rows' stages are checked in the same pass
    (:func:`check_stages`' error): the end rows are read as the rows of no other stage
    of the funnel's (a null stage is neither), which keeps the rows of unknown stages
    too. A pass of its own measured 1.44x the best peer's time at 1M, against 1.09x
    without it.
    """
    import polars as pl

    stage, at = pl.col(STAGE), pl.col(AT)
    if check is None:
        ends_plan = lazy.filter(stage.is_in(list(end))).select(LEAD_ID, AT)
    else:
        others = [s for s in check.stages if s not in end]
        ends_plan = lazy.filter(~stage.is_in(others)).select(LEAD_ID, AT, STAGE)
    if leads_checked:  # an eager log, its lead ids checked whole (polars keeps the count)
        found = ends_plan.collect()
    else:  # the lead ids' null count beside the end rows, in one collect_all
        # (a start row without its lead would be dropped by the filters below; on
        # scan_parquet the count measured 1.14x the plan's time, on a lazy frame in
        # memory 1.02x)
        found, nulls = pl.collect_all([ends_plan, lazy.select(pl.col(LEAD_ID).null_count())])
        if nulls.item():
            raise_missing_leads(missing_lead_rows(lazy, polars_native=True))
    # a blank lead id among the end rows (the only rows whose lead can convert): the end
    # rows are few, the start rows are kept only for their leads
    suspects = found.select(lead_suspects(found.schema[LEAD_ID]).any()).item()
    if suspects and missing_lead_rows(found, polars_native=True):
        raise_missing_leads(missing_lead_rows(lazy, polars_native=True))
    if check is not None:
        odd = found.filter(~stage.is_in(list(end))).height
        if odd:
            raise_unknown_stages(odd, check)
        found = found.select(LEAD_ID, AT)
    leads = found.get_column(LEAD_ID).implode()
    ends = found.lazy()
    starts = lazy.filter(stage.is_in(list(start)) & pl.col(LEAD_ID).is_in(leads))
    starts = starts.select(LEAD_ID, AT)
    first = starts.group_by(LEAD_ID).agg(at.min().alias("_s0"))
    converted = (
        ends.join(first, on=LEAD_ID, how="inner")
        .filter(at >= pl.col("_s0"))
        .group_by(LEAD_ID)
        .agg(at.min().alias("_e"))
    )
    timed = (
        starts.join(converted, on=LEAD_ID, how="inner")
        .filter(at <= pl.col("_e"))
        .group_by(LEAD_ID)
        .agg(at.max().alias("_b"), pl.col("_e").min())
    )
    seconds = (pl.col("_e") - pl.col("_b")).dt.total_seconds().cast(pl.Float64).alias("_s")
    return timed.select(LEAD_ID, seconds).sort(LEAD_ID)


def _fast_conversion(
    nwf: Any,
    start: tuple[str, ...],
    end: tuple[str, ...],
    *,
    order: str,
    window: timedelta | None,
    by: tuple[str, ...],
    check: Funnel | None = None,
) -> Any:
    """:func:`_conversion_plan` (a lazy polars plan) when it applies, else ``None``."""
    import narwhals as nw

    if order != "ordered" or window is not None or by or set(start) & set(end):
        return None
    if nwf.implementation is not nw.Implementation.POLARS or STAGE not in nwf.columns:
        return None
    eager = isinstance(nwf, nw.DataFrame)
    if eager:
        # polars keeps the null count: no pass (blank ids: among the end rows, in the plan)
        check_lead_ids(nwf, blanks=False)
    return _conversion_plan(nwf.to_native().lazy(), start, end, leads_checked=eager, check=check)


def _conversion_durations(
    conv: Any, funnel: Funnel, start: tuple[str, ...], end: tuple[str, ...], quantiles: Any
) -> Durations:
    """The :class:`Durations` of the collected :func:`_conversion_plan` (a polars frame)."""
    seconds = conv.rename({"_s": "seconds"})
    base = _polars_durations(conv.get_column("_s"), start, end, quantiles)
    names = (_names(funnel, start), _names(funnel, end))
    return attrs.evolve(base, seconds=seconds, names=names)


def _names(funnel: Funnel, stages: tuple[str, ...]) -> str:
    return " | ".join(funnel.stage_name(s) for s in stages)


def time_to_convert(
    log: Any,
    start: str | Collection[str] | None = None,
    end: str | Collection[str] | None = None,
    *,
    by: str | Sequence[str] | None = None,
    funnel: Funnel | None = None,
    quantiles: Sequence[float] = (0.25, 0.5, 0.75, 0.9),
    window: timedelta | None = None,
    order: Literal["ordered", "strict"] = "ordered",
    attribution: str | tuple[str, str] = "first",
) -> Durations:
    """
    Time from a lead's entry into *start* to its first entry into *end* at or after it.

    The leads measured are exactly those ``funnel_report(log, steps=[start, end],
    order="ordered", window=window)`` counts as converted, timed on the same
    attempt: every entry into *start* starts one (a re-entry restarts the
    clock), *end* must come at or after it, within *window*; of several
    converting attempts the first to convert counts, timed from its own start.
    ``mql`` on day 0, ``acquired`` on day 1 and ``mql`` on day 3 converts
    ``acquired → mql`` in 2 days.

    Args:
        log: As for :func:`funnel_report`.
        start: A stage or stages (default: the first default step).
        end: A stage or stages (default: the won stages).
        by: Also give per-group durations (attributed as for :func:`breakdown`): one
            column name (or a list of one).
        quantiles: Which quantiles to compute (linear interpolation).
        window: The conversion window (a :class:`datetime.timedelta`).
        order: ``"ordered"`` (other stages in between allowed) or ``"strict"``.
        attribution: For *by*, as for :func:`breakdown`.

    Raises:
        LoadError: as for :func:`funnel_report`: rows without a lead id (null, or
            blank), unknown stages, times without a zone. On polars (ordered, no window,
            no *by*), which reads only the start and end rows, a blank id is looked for
            among the end rows: a row that cannot convert changes no figure.

    >>> import polars as pl
    >>> from datetime import datetime, timedelta, timezone
    >>> t = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> log = pl.DataFrame(dict(lead_id=["a", "a", "b", "b"],
    ...                         at=[t, t + timedelta(days=2), t, t + timedelta(days=4)],
    ...                         stage=["acquired", "won", "acquired", "won"]))
    >>> time_to_convert(log).median
    datetime.timedelta(days=3)
    """
    quantiles = _check_quantiles(quantiles)
    by_t = _check_by(by)
    if len(by_t) > 1:
        raise ValidationError(f"by must be one column name, got {by!r}", field="by")
    check_window(window)
    order_s = _conversion_order(order)
    checked = _validated(log, funnel)
    nwf, funnel, _, _ = _input(log, funnel, check=False)  # (checked below)
    start_t = _as_set(start if start is not None else default_steps(funnel)[0], funnel, "start")
    end_t = _as_set(end if end is not None else sorted(funnel.won_stages), funnel, "end")
    if by_t and by_t[0] not in nwf.columns:
        raise LoadError(f"no column {by_t[0]!r} to break down by; has {nwf.columns}")
    stages = None if checked or STAGE not in nwf.columns else funnel
    plan = _fast_conversion(
        nwf, start_t, end_t, order=order_s, window=window, by=by_t, check=stages
    )
    if plan is not None:
        return _conversion_durations(plan.collect(), funnel, start_t, end_t, quantiles)
    if stages is not None:
        check_stages(nwf, stages)
    return _measured(
        nwf,
        funnel,
        (start_t, end_t),
        1,
        order=order_s,
        window=window,
        by=by_t,
        attribution=check_attribution(attribution, ("start", "end")),
        quantiles=quantiles,
    )


def step_durations(
    log: Any,
    *,
    steps: Sequence[str] | None = None,
    funnel: Funnel | None = None,
    order: Literal["ordered", "strict"] = "ordered",
    window: timedelta | None = None,
    exclude: Sequence[tuple[Any, Any, Any]] = (),
    quantiles: Sequence[float] = (0.25, 0.5, 0.75, 0.9),
) -> tuple[Durations, ...]:
    """
    Time to convert per step: one :class:`Durations` per pair of consecutive steps.

    Each lead is timed on the attempt :func:`funnel_report` (same *order*,
    *window*, *exclude*) counts, so the ``k``-th result measures exactly the
    ``counts[k + 1]`` leads that reached step ``k + 1``.
    :meth:`Durations.histogram` bins them.
    """
    quantiles = _check_quantiles(quantiles)
    check_window(window)
    order_s = _conversion_order(order)
    nwf, funnel, _, _ = _input(log, funnel)
    steps_t = _steps(nwf, funnel, steps, order_s)
    excl = check_exclude(exclude, steps_t, funnel, order_s)
    sets = tuple((s,) for s in steps_t)
    return tuple(
        _measured(
            nwf,
            funnel,
            sets,
            k,
            order=order_s,
            window=window,
            by=(),
            attribution="first",
            quantiles=quantiles,
            exclude=excl,
        )
        for k in range(1, len(sets))
    )


def time_in_stage(
    log: Any,
    *,
    funnel: Funnel | None = None,
    unit: Literal["days", "hours"] = "days",
) -> Any:
    """
    How long leads stayed in each stage: a native frame, one row per stage.

    A stay ends at the lead's next row. Columns: ``stage``, ``entries``,
    ``still_in`` (no later row: open stays, not measured), ``median_<unit>``,
    ``mean_<unit>``, ``p90_<unit>``. Stages in funnel order.
    """
    import narwhals as nw

    if unit not in ("days", "hours"):
        raise ValidationError(
            f"unit must be 'days' or 'hours', got {unit!r}",
            field="unit",
            allowed=("days", "hours"),
        )
    nwf, funnel, backend, _ = _input(log, funnel)
    check_lead_ids(nwf)
    order_by = [AT, ROW] if ROW in nwf.columns else [AT]
    f = nwf.select(LEAD_ID, STAGE, *order_by)
    if nwf.implementation is nw.Implementation.PYARROW:
        # narwhals runs neither a shift over a window nor a grouped quantile on pyarrow:
        # the table's columns computed in polars (the answer is still a pyarrow table)
        import polars as pl

        f = nw.from_native(pl.from_arrow(f.to_arrow()), eager_only=True)
    f = f.with_columns(_next=nw.col(AT).shift(-1).over(LEAD_ID, order_by=order_by))
    scale = 86400.0 if unit == "days" else 3600.0
    f = f.with_columns(
        _s=(nw.col("_next") - nw.col(AT)).dt.total_seconds().cast(nw.Float64) / scale,
        _open=nw.col("_next").is_null().cast(nw.Int64),
    )
    # still_in cast after the aggregation (DuckDB's sum is a DECIMAL; pyarrow aggregates
    # nothing but plain columns)
    stats = (
        f.group_by(STAGE)
        .agg(
            nw.len().alias("entries"),
            nw.col("_open").sum().alias("still_in"),
            nw.col("_s").median().alias(f"median_{unit}"),
            nw.col("_s").mean().alias(f"mean_{unit}"),
            nw.col("_s").quantile(0.9, interpolation="linear").alias(f"p90_{unit}"),
        )
        .with_columns(nw.col("still_in").cast(nw.Int64))
    )
    rows = {r[STAGE]: r for r in collect(stats).iter_rows(named=True)}
    names = [STAGE, "entries", "still_in", f"median_{unit}", f"mean_{unit}", f"p90_{unit}"]
    ordered = [rows[s] for s in funnel.stages if s in rows]
    data = {n: [plain_value(r[n]) for r in ordered] for n in names}
    return _frame_from_dict(data, backend)
