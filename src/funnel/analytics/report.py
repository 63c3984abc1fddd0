"""
Funnel reports, breakdowns, cohorts and durations, on any narwhals engine.

Counting rules (compare PostHog, Mixpanel and Amplitude):

* The **steps** are an ordered list of stages. By default
  (:func:`default_steps`): the initial stage, the stages that confer a
  qualification level (MQL, SQL), the prospect stages that are not final,
  then the won stages: ``acquired → mql → sql → organisation → opportunity →
  stakeholder → won`` for the default funnel.
* ``order="reached"`` (default, an *open* funnel): a lead reached step *k*
  if it entered step *k* **or any later step** (a lead seen in ``won`` also
  passed the stages before it). Every lead with a row in some step counts.
  The counts are of distinct leads, never a snapshot of current stages.
* ``order="ordered"`` (PostHog's "ordered", a *closed* funnel): a lead must
  enter step 1, and counts for step *k* only if it entered step *k* at or
  after the time it entered step *k-1*; other stages in between are allowed.
* ``window``: a conversion window measured from the lead's entry into the
  funnel (its first step row; in ordered mode, its first step-1 row). Rows
  later than the window are ignored, for the steps and for won/lost.
* **won / lost / open**: a lead is won if it entered a won stage, lost if it
  entered a lost stage (``lost``, ``disqualified``) and was not won, else
  open. The win rate is on closed leads: ``won / (won + lost)``.
* Breakdowns use **first-touch** attribution: the value of the column on the
  lead's first step row. Cohorts group leads by the period of that row.

Everything is computed with narwhals expressions (group-by, join); only the
final small aggregates are pulled into Python. polars, pandas and DuckDB
give the same numbers (tested). pyarrow's median is approximate.
"""

from __future__ import annotations

import html
import math
from collections.abc import Collection, Mapping, Sequence
from datetime import timedelta
from typing import Any, Literal

import attrs
import narwhals as nw

from funnel.analytics.eventlog import read_log
from funnel.engine.funnel import DEFAULT_FUNNEL, Funnel
from funnel.engine.replay import (
    ReachedCounts,
    check_order,
    check_window,
    collect,
    plain_value,
    reached_per_lead,
    report_steps,
    tally_reached,
)
from funnel.exceptions import LoadError, ValidationError
from funnel.model.eventlog import AT, EVENT, LEAD_ID, ROW, STAGE

Order = Literal["reached", "ordered"]


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
        label: The group this report is for (breakdowns, cohorts).
        backend: The engine :meth:`to_frame` builds for (``"polars"``,
            ``"pandas"``, ``"pyarrow"``).
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
        """One dict per step: step, leads, from_previous, from_first, drop_off."""
        return [
            {
                "step": s,
                "leads": c,
                "from_previous": p,
                "from_first": f,
                "drop_off": d,
            }
            for s, c, p, f, d in zip(
                self.steps,
                self.counts,
                self.conversion_from_previous,
                self.conversion_from_first,
                self.drop_off,
                strict=True,
            )
        ]

    def to_frame(self, backend: str | None = None) -> Any:
        """The per-step table as a native frame (the input's engine, or polars)."""
        rows = self.rows()
        data = {
            k: [r[k] for r in rows]
            for k in ("step", "leads", "from_previous", "from_first", "drop_off")
        }
        return _frame_from_dict(data, backend or self.backend)

    def summary(self) -> str:
        """One line: won, lost, open and the win rates."""
        return (
            f"won {self.won}, lost {self.lost}, open {self.open}; "
            f"win rate on closed {_pct(self.win_rate)}, overall {_pct(self.overall_win_rate)}"
        )

    def __str__(self) -> str:
        head = f"{'step':<14}{'leads':>9}{'from prev':>11}{'from first':>11}{'drop-off':>10}"
        lines = [head] if self.label is None else [f"[{self.label}]", head]
        for r in self.rows():
            lines.append(
                f"{r['step']:<14}{r['leads']:>9}{_pct(r['from_previous']):>11}"
                f"{_pct(r['from_first']):>11}{r['drop_off']:>10}"
            )
        lines.append(self.summary())
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        cells = "".join(
            f"<tr><td>{html.escape(r['step'])}</td><td>{r['leads']}</td>"
            f"<td>{_pct(r['from_previous'])}</td><td>{_pct(r['from_first'])}</td>"
            f"<td>{r['drop_off']}</td></tr>"
            for r in self.rows()
        )
        title = "" if self.label is None else f"<b>{html.escape(str(self.label))}</b>"
        return (
            f"{title}<table><thead><tr><th>step</th><th>leads</th><th>from previous</th>"
            f"<th>from first</th><th>drop-off</th></tr></thead><tbody>{cells}</tbody></table>"
            f"<p>{html.escape(self.summary())}</p>"
        )


@attrs.frozen(kw_only=True)
class Breakdown:
    """
    One :class:`FunnelReport` per value of a column (or per cohort period).

    Attributes:
        by: The column (or ``"cohort"``).
        reports: ``{value: report}``, values sorted (``None`` last).
        total: The report over every lead.
    """

    by: str
    reports: Mapping[Any, FunnelReport]
    total: FunnelReport

    def __getitem__(self, key: Any) -> FunnelReport:
        return self.reports[key]

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
        steps = self.total.steps
        width = max([len(str(self.by)), *(len(str(k)) for k in self.reports)]) + 2
        head = f"{self.by:<{width}}" + "".join(f"{s[:11]:>12}" for s in steps)
        head += f"{'won':>8}{'lost':>8}{'open':>8}{'win rate':>10}"
        lines = [head]
        for key, rep in [*self.reports.items(), ("(all)", self.total)]:
            lines.append(
                f"{key!s:<{width}}"
                + "".join(f"{c:>12}" for c in rep.counts)
                + f"{rep.won:>8}{rep.lost:>8}{rep.open:>8}{_pct(rep.win_rate):>10}"
            )
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        steps = self.total.steps
        head = "".join(f"<th>{html.escape(s)}</th>" for s in steps)
        body = ""
        for key, rep in [*self.reports.items(), ("(all)", self.total)]:
            body += (
                f"<tr><td>{html.escape(str(key))}</td>"
                + "".join(f"<td>{c}</td>" for c in rep.counts)
                + f"<td>{rep.won}</td><td>{rep.lost}</td><td>{rep.open}</td>"
                f"<td>{_pct(rep.win_rate)}</td></tr>"
            )
        return (
            f"<table><thead><tr><th>{html.escape(self.by)}</th>{head}<th>won</th>"
            f"<th>lost</th><th>open</th><th>win rate</th></tr></thead>"
            f"<tbody>{body}</tbody></table>"
        )


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
    """

    start: tuple[str, ...]
    end: tuple[str, ...]
    count: int
    median: timedelta | None
    mean: timedelta | None
    quantiles: Mapping[float, timedelta]
    seconds: Any = attrs.field(default=None, repr=False)
    groups: Mapping[Any, Durations] = attrs.field(factory=dict, repr=False)

    def __str__(self) -> str:
        def fmt(d: timedelta | None) -> str:
            return "–" if d is None else f"{d.total_seconds() / 86400:.1f} d"

        qs = ", ".join(f"p{round(q * 100)} {fmt(v)}" for q, v in self.quantiles.items())
        return (
            f"{'|'.join(self.start)} → {'|'.join(self.end)}: {self.count} leads, "
            f"median {fmt(self.median)}, mean {fmt(self.mean)}; {qs}"
        )


# --------------------------------------------------------------------------- helpers


def _frame_from_dict(data: dict[str, list[Any]], backend: str) -> Any:
    engine: Literal["polars", "pandas", "pyarrow"] = (
        "pandas" if backend == "pandas" else "pyarrow" if backend == "pyarrow" else "polars"
    )
    return nw.from_dict(data, backend=engine).to_native()


def _input(log: Any, funnel: Funnel | None) -> tuple[Any, Funnel, str]:
    """A narwhals frame (eager or lazy) with a stage column, the funnel, the backend name."""
    if funnel is not None and not isinstance(funnel, Funnel):
        raise ValidationError(
            f"funnel must be a funnel.Funnel, got {type(funnel).__name__}", field="funnel"
        )
    nwf, funnel = read_log(log, funnel)
    missing = [c for c in (LEAD_ID, AT) if c not in nwf.columns]
    if missing or (STAGE not in nwf.columns and EVENT not in nwf.columns):
        raise LoadError(f"event log lacks lead_id, at, or stage/event; has {nwf.columns}")
    impl = nwf.implementation
    backend = (
        "pandas"
        if impl is nw.Implementation.PANDAS
        else "pyarrow"
        if impl is nw.Implementation.PYARROW and isinstance(nwf, nw.DataFrame)
        else "polars"
    )
    if EVENT in nwf.columns and _needs_replay(nwf):
        from funnel.analytics.replay import replay_log

        result = replay_log(nwf.to_native(), funnel=funnel)
        stages = nw.from_native(result.stage_frame(), eager_only=True)
        extra = [c for c in nwf.columns if c not in (LEAD_ID, AT, STAGE, EVENT, ROW)]
        if ROW in nwf.columns and extra:
            attrs_frame = nwf.select(ROW, *extra)
            if isinstance(attrs_frame, nw.LazyFrame):
                attrs_frame = attrs_frame.collect(backend="polars")
            attrs_frame = nw.from_native(_to_polars_frame(attrs_frame), eager_only=True)
            stages = stages.join(attrs_frame, on=ROW, how="left")
        nwf = stages
    return nwf, funnel, backend


def _check_by(by: Any) -> None:
    if by is not None and not isinstance(by, str):
        raise ValidationError(f"by must be a column name (str), got {by!r}", field="by")


def _to_polars_frame(frame: nw.DataFrame[Any]) -> Any:
    import polars as pl

    if frame.implementation is nw.Implementation.POLARS:
        return frame.to_native()
    return pl.from_arrow(frame.to_arrow())


def _needs_replay(nwf: Any) -> bool:
    if STAGE not in nwf.columns:
        return True
    q = nwf.select((nw.col(STAGE).is_null() & ~nw.col(EVENT).is_null()).cast(nw.Int64).sum())
    if isinstance(q, nw.LazyFrame):
        q = q.collect()
    return bool(q.item() or 0)


def _report(
    counts: ReachedCounts | None,
    steps: tuple[str, ...],
    *,
    order: str,
    window: timedelta | None,
    backend: str,
    label: Any = None,
) -> FunnelReport:
    """A :class:`FunnelReport` of the engine's counts (none: every count zero)."""
    figures = attrs.asdict(counts or ReachedCounts.from_tally(steps, {}, 0, 0), recurse=False)
    return FunnelReport(**figures, order=order, window=window, label=label, backend=backend)


def _sort_key(key: Any) -> tuple[int, Any]:
    return (1, "") if key is None else (0, key)


# --------------------------------------------------------------------------- public API


def funnel_report(
    log: Any,
    *,
    steps: Sequence[str] | None = None,
    funnel: Funnel | None = None,
    order: Order = "reached",
    window: timedelta | None = None,
) -> FunnelReport:
    """
    The funnel report of an event log (see the module docs for the counting rules).

    Args:
        log: A :class:`~funnel.analytics.LoadResult` or a native frame with
            ``lead_id``, ``at`` and ``stage`` (or ``event``) columns: polars
            (eager or lazy), pandas, pyarrow, DuckDB, ...
        steps: The ordered steps; default :func:`default_steps`.
        funnel: The funnel (default: the load result's, or the default funnel).
        order: ``"reached"`` (open funnel) or ``"ordered"`` (closed, in order).
        window: Conversion window from funnel entry.

    Raises:
        LoadError: *log* is not a frame or lacks a required column.
        ValidationError: *steps* is not a sequence of stage names or names an
            unknown stage (the message lists the known ones), *order* is neither
            ``"reached"`` nor ``"ordered"``, or *window* is not a positive
            :class:`datetime.timedelta` (``window=30`` is refused: say
            ``timedelta(days=30)``). It is also a :class:`ValueError`.

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
    nwf, funnel, backend = _input(log, funnel)
    steps_t = report_steps(funnel, steps)
    per = reached_per_lead(nwf, funnel=funnel, steps=steps_t, order=order, window=window)
    counts = tally_reached(per, steps_t).get(None)
    return _report(counts, steps_t, order=order, window=window, backend=backend)


def breakdown(
    log: Any,
    by: str,
    *,
    steps: Sequence[str] | None = None,
    funnel: Funnel | None = None,
    order: Order = "reached",
    window: timedelta | None = None,
) -> Breakdown:
    """
    One funnel report per value of column *by* (first-touch attribution).

    Leads whose first step row has no value form the group ``None``.

    Raises:
        LoadError: *by* is not a column of the log.
        ValidationError: as for :func:`funnel_report`.
    """
    return _grouped(log, by, None, steps=steps, funnel=funnel, order=order, window=window)


def cohorts(
    log: Any,
    every: str = "1mo",
    *,
    steps: Sequence[str] | None = None,
    funnel: Funnel | None = None,
    order: Order = "reached",
    window: timedelta | None = None,
) -> Breakdown:
    """
    One funnel report per entry period (``dt.truncate(every)``, e.g. ``"7d"``, ``"1mo"``).

    DuckDB inputs accept only single units (``"1mo"``, not ``"3mo"``): narwhals limits them.

    The keys are the periods' start times (UTC).
    """
    return _grouped(log, None, every, steps=steps, funnel=funnel, order=order, window=window)


def _grouped(
    log: Any,
    by: str | None,
    every: str | None,
    *,
    steps: Sequence[str] | None,
    funnel: Funnel | None,
    order: Order,
    window: timedelta | None,
) -> Breakdown:
    check_order(order)
    check_window(window)
    _check_by(by)
    if every is not None and not isinstance(every, str):
        raise ValidationError(
            f"every must be a period such as '7d' or '1mo', got {every!r}", field="every"
        )
    nwf, funnel, backend = _input(log, funnel)
    if by is not None and by not in nwf.columns:
        raise LoadError(f"no column {by!r} to break down by; has {nwf.columns}")
    steps_t = report_steps(funnel, steps)
    per = reached_per_lead(
        nwf, funnel=funnel, steps=steps_t, order=order, window=window, by=by, every=every
    )
    if isinstance(per, nw.LazyFrame) and per.implementation is nw.Implementation.POLARS:
        per = per.collect()  # one plan, read twice below
    keyed = tally_reached(per, steps_t, keyed=True)
    total = tally_reached(per, steps_t).get(None)
    reports = {
        k: _report(keyed[k], steps_t, order=order, window=window, backend=backend, label=k)
        for k in sorted(keyed, key=_sort_key)
    }
    return Breakdown(
        by=by or "cohort",
        reports=reports,
        total=_report(total, steps_t, order=order, window=window, backend=backend),
    )


def _as_set(stages: Any, funnel: Funnel, name: str) -> tuple[str, ...]:
    """*stages* (a stage name or several) checked against *funnel*; *name* is the argument."""
    out = (stages,) if isinstance(stages, str) else stages
    if not isinstance(out, Collection) or not all(isinstance(s, str) for s in out):
        raise ValidationError(
            f"{name} must be a stage name or a collection of them, got {stages!r}", field=name
        )
    out = tuple(out)
    unknown = [s for s in out if s not in funnel.stages]
    if unknown or not out:
        raise ValidationError(
            f"{name}: not stages of the funnel: {unknown or list(out)}; "
            f"the stages are {', '.join(funnel.stages)}",
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
    s = nw.col("_s")
    aggs = [nw.len().alias("_n"), s.median().alias("_median"), s.mean().alias("_mean")]
    aggs += [
        s.quantile(q, interpolation="linear").alias(f"_q{i}") for i, q in enumerate(quantiles)
    ]
    keyed = "_key" in frame.columns
    stats = frame.group_by("_key").agg(*aggs) if keyed else frame.select(*aggs)
    out: dict[Any, Durations] = {}

    def td(v: Any) -> timedelta | None:
        return (
            None
            if v is None or (isinstance(v, float) and math.isnan(v))
            else timedelta(seconds=float(v))
        )

    for row in collect(stats).iter_rows(named=True):
        n = int(row["_n"] or 0)
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


def time_to_convert(
    log: Any,
    start: str | Collection[str] | None = None,
    end: str | Collection[str] | None = None,
    *,
    by: str | None = None,
    funnel: Funnel | None = None,
    quantiles: Sequence[float] = (0.25, 0.5, 0.75, 0.9),
) -> Durations:
    """
    Time from a lead's first entry into *start* to its first entry into *end*.

    Only leads that entered both, *end* not before *start*, are measured.

    Args:
        log: As for :func:`funnel_report`.
        start: A stage or stages (default: the first default step).
        end: A stage or stages (default: the won stages).
        by: Also give per-group durations (first-touch value of this column).
        quantiles: Which quantiles to compute (linear interpolation).

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
    _check_by(by)
    nwf, funnel, _backend = _input(log, funnel)
    start_t = _as_set(start if start is not None else default_steps(funnel)[0], funnel, "start")
    end_t = _as_set(end if end is not None else sorted(funnel.won_stages), funnel, "end")
    if by is not None and by not in nwf.columns:
        raise LoadError(f"no column {by!r} to break down by; has {nwf.columns}")
    stage = nw.col(STAGE)
    f = nwf.select(LEAD_ID, AT, STAGE, *([by] if by else [])).with_columns(
        _ts=nw.when(stage.is_in(list(start_t))).then(nw.col(AT)),
        _te=nw.when(stage.is_in(list(end_t))).then(nw.col(AT)),
    )
    per = f.group_by(LEAD_ID).agg(nw.col("_ts").min(), nw.col("_te").min())
    per = per.filter(~nw.col("_ts").is_null() & ~nw.col("_te").is_null())
    per = per.filter(nw.col("_te") >= nw.col("_ts")).with_columns(
        _s=(nw.col("_te") - nw.col("_ts")).dt.total_seconds().cast(nw.Float64)
    )
    seconds = collect(per.select(LEAD_ID, nw.col("_s").alias("seconds")).sort(LEAD_ID))
    whole = _durations(per, start_t, end_t, quantiles).get(None)
    groups: dict[Any, Durations] = {}
    if by is not None:
        t0 = (
            f.filter(~nw.col("_ts").is_null()).group_by(LEAD_ID).agg(nw.col(AT).min().alias("_t0"))
        )
        keys = (
            f.join(t0, on=LEAD_ID, how="inner")
            .filter(nw.col(AT) == nw.col("_t0"))
            .group_by(LEAD_ID)
            .agg(nw.col(by).min().alias("_key"))
        )
        found = _durations(per.join(keys, on=LEAD_ID, how="left"), start_t, end_t, quantiles)
        groups = {k: found[k] for k in sorted(found, key=_sort_key)}
    base = whole or Durations(
        start=start_t, end=end_t, count=0, median=None, mean=None, quantiles={}
    )
    return attrs.evolve(base, seconds=seconds.to_native(), groups=groups)


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
    if unit not in ("days", "hours"):
        raise ValidationError(
            f"unit must be 'days' or 'hours', got {unit!r}",
            field="unit",
            allowed=("days", "hours"),
        )
    nwf, funnel, backend = _input(log, funnel)
    order_by = [AT, ROW] if ROW in nwf.columns else [AT]
    f = nwf.select(LEAD_ID, STAGE, *order_by).with_columns(
        _next=nw.col(AT).shift(-1).over(LEAD_ID, order_by=order_by)
    )
    scale = 86400.0 if unit == "days" else 3600.0
    f = f.with_columns(
        _s=(nw.col("_next") - nw.col(AT)).dt.total_seconds().cast(nw.Float64) / scale,
        _open=nw.col("_next").is_null().cast(nw.Int64),
    )
    stats = f.group_by(STAGE).agg(
        nw.len().alias("entries"),
        nw.col("_open").sum().alias("still_in"),
        nw.col("_s").median().alias(f"median_{unit}"),
        nw.col("_s").mean().alias(f"mean_{unit}"),
        nw.col("_s").quantile(0.9, interpolation="linear").alias(f"p90_{unit}"),
    )
    rows = {r[STAGE]: r for r in collect(stats).iter_rows(named=True)}
    names = [STAGE, "entries", "still_in", f"median_{unit}", f"mean_{unit}", f"p90_{unit}"]
    ordered = [rows[s] for s in funnel.stages if s in rows]
    data = {n: [plain_value(r[n]) for r in ordered] for n in names}
    return _frame_from_dict(data, backend)
