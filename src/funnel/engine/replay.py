"""
Fast bulk replay of event logs over plain values, and the columnar reached-stage report.

:func:`advance` costs a few microseconds per event (a table lookup plus
``attrs.evolve``); a python-statemachine instance costs about 150 µs per
event and 12 KB per instance. To replay millions of logged events, this
module steps a **stage string per lead** through a precomputed
``{(stage, event): target}`` dict derived from the funnel's
:class:`~funnel.TransitionTable`, and builds no record at all.

Guards. A log records what *happened*: each event was accepted when it
happened, so by default every guard counts as passed and the step table
holds, for each ``(stage, event)``, the first edge in declaration order
(python-statemachine's order). Pass ``passes`` to :func:`step_table` to fix
other outcomes (e.g. ``lambda name: name != "has_reason"`` refuses every
edge needing a reason). Guards that depend on the record itself (touches,
evidence) cannot be evaluated from a log of events: use :func:`funnel.advance`
or :func:`funnel.advance_with_machine` on real records for that.

Rejects. An event with no edge from the lead's current stage is not raised:
it is collected as a :class:`BulkReject` with its row number, and the lead
stays where it was.

>>> result = bulk_replay(["a", "a", "a", "b"], ["mark_mql", "win", "mark_sql", "nurture"])
>>> result.final
{'a': 'sql', 'b': 'nurturing'}
>>> result.rejects
(BulkReject(row=2, lead_id='a', stage='mql', event='win'),)
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from funnel.exceptions import ValidationError
from funnel.model.eventlog import AT, EVENT, LEAD_ID, ROW, STAGE, TRANSITIONS
from funnel.spec.definition import DEFAULT_FUNNEL, Funnel
from funnel.spec.table import TransitionTable

if TYPE_CHECKING:
    import polars as pl

#: One step of a lead's history: ``(row, from_stage, to_stage, event)``.
Step = tuple[int, str, str, str]


def _all_pass(name: str) -> bool:
    return True


def step_table(
    table: TransitionTable | Funnel = DEFAULT_FUNNEL,
    passes: Callable[[str], bool] = _all_pass,
) -> dict[tuple[str, str], str]:
    """
    ``{(stage, event): target}`` for every pair the funnel accepts under *passes*.

    *passes* answers, for a guard name, whether it holds; by default every
    guard passes (the log records accepted events). The first edge in
    declaration order whose guards agree wins, as in the machine.

    >>> step_table()[("acquired", "convert")]
    'organisation'
    >>> ("acquired", "disqualify") in step_table(passes=lambda name: name != "has_reason")
    False
    """
    t = table.table if isinstance(table, Funnel) else table
    out: dict[tuple[str, str], str] = {}
    for stage in t.stages:
        for event in t.events:
            edge = t.resolve(stage, event, passes)
            if edge is not None:
                out[(stage, event)] = edge.target
    return out


@attrs.frozen
class BulkReject:
    """
    An event the lead's stage did not accept; the lead stayed in *stage*.

    Attributes:
        row: The row number (1-based unless ``rows=`` gave others).
        lead_id: The lead.
        stage: The lead's stage when the event came.
        event: The refused event.
    """

    row: int
    lead_id: Any
    stage: str
    event: Any


@attrs.frozen(kw_only=True)
class BulkResult:
    """
    What :func:`bulk_replay` found.

    Attributes:
        final: ``{lead_id: stage after its last row}``, leads in first-seen order.
        transitions: ``{lead_id: number of accepted events}``.
        rejects: Refused events, in the order the rows were processed.
        history: ``{lead_id: [(row, from, to, event), ...]}`` when asked for, else ``None``.
    """

    final: dict[Any, str]
    transitions: dict[Any, int]
    rejects: tuple[BulkReject, ...]
    history: dict[Any, list[Step]] | None = None

    def stage_counts(self, funnel: Funnel = DEFAULT_FUNNEL) -> dict[str, int]:
        """How many leads end in each stage, in funnel order (stages with none left out)."""
        tally: dict[str, int] = {}
        for stage in self.final.values():
            tally[stage] = tally.get(stage, 0) + 1
        return {s: tally[s] for s in funnel.stages if s in tally}


def bulk_replay(
    lead_ids: Iterable[Any],
    events: Iterable[Any],
    *,
    funnel: Funnel = DEFAULT_FUNNEL,
    table: Mapping[tuple[str, str], str] | None = None,
    start: Mapping[Any, str] | None = None,
    initial: str | None = None,
    rows: Iterable[int] | None = None,
    history: bool = False,
) -> BulkResult:
    """
    Replay ``(lead_id, event)`` rows through the funnel, one stage string per lead.

    Rows of one lead must come in time order; leads may interleave, but rows
    sorted by ``(lead_id, at)`` are fastest (the current lead's stage stays
    in a local variable). A lead starts at ``start[lead_id]`` if given, else
    at the funnel's initial stage.

    Args:
        lead_ids: One lead id per row (any hashable).
        events: One event name per row.
        funnel: The funnel whose table is used (default: the default funnel).
        table: A ready ``{(stage, event): target}`` (see :func:`step_table`);
            default: ``step_table(funnel)``, every guard passing.
        start: Stages leads are in before the first row.
        initial: The stage of leads not in *start* (default: the funnel's initial stage).
        rows: Row numbers to report rejects with (default ``1, 2, 3, ...``).
        history: Also keep each lead's accepted steps.

    Raises:
        ValueError: *lead_ids* and *events* differ in length.
    """
    ids = lead_ids if isinstance(lead_ids, Sequence) else list(lead_ids)
    evs = events if isinstance(events, Sequence) else list(events)
    nums: Sequence[int] = range(1, len(ids) + 1) if rows is None else _seq(rows)
    if not len(ids) == len(evs) == len(nums):
        raise ValidationError(
            f"lead_ids, events and rows differ in length: {len(ids)}, {len(evs)}, {len(nums)}"
        )
    step = step_table(funnel) if table is None else table
    initial = funnel.table.initial if initial is None else initial
    begin: Mapping[Any, str] = start or {}
    if not history:
        fast = _runs(ids, evs, nums, step, initial, begin)
        if fast is not None:
            return fast
    return _general(ids, evs, nums, step, initial, begin, history)


def _result(
    final: dict[Any, str],
    counts: dict[Any, int],
    bad: list[tuple[int, Any, str, Any]],
    hist: dict[Any, list[Step]] | None = None,
) -> BulkResult:
    return BulkResult(
        final=final,
        transitions=counts,
        rejects=tuple(BulkReject(r, lead, s, e) for r, lead, s, e in bad),
        history=hist,
    )


def _runs(
    ids: Sequence[Any],
    evs: Sequence[Any],
    nums: Sequence[int],
    step: Mapping[tuple[str, str], str],
    initial: str,
    begin: Mapping[Any, str],
) -> BulkResult | None:
    """
    The fast path for rows grouped by lead: one run per lead, no per-lead dict lookups.

    Runs are collected in lists and turned into dicts at the end (in C); if
    a lead turns out to have two runs (rows not grouped), returns ``None``
    and the caller uses the general path.
    """
    run_leads: list[Any] = []
    run_stages: list[str] = []
    run_counts: list[int] = []
    add_lead, add_stage, add_count = run_leads.append, run_stages.append, run_counts.append
    bad: list[tuple[int, Any, str, Any]] = []
    sentinel = object()
    prev: Any = sentinel
    cur = initial
    n = 0
    get = step.get
    for lead, event, row in zip(ids, evs, nums, strict=True):
        if lead != prev:
            if prev is not sentinel:
                add_lead(prev)
                add_stage(cur)
                add_count(n)
            cur = begin.get(lead, initial) if begin else initial
            n = 0
            prev = lead
        nxt = get((cur, event))
        if nxt is None:
            bad.append((row, lead, cur, event))
            continue
        cur = nxt
        n += 1
    if prev is not sentinel:
        add_lead(prev)
        add_stage(cur)
        add_count(n)
    final = dict(zip(run_leads, run_stages, strict=True))
    if len(final) != len(run_leads):
        return None
    return _result(final, dict(zip(run_leads, run_counts, strict=True)), bad)


def _general(
    ids: Sequence[Any],
    evs: Sequence[Any],
    nums: Sequence[int],
    step: Mapping[tuple[str, str], str],
    initial: str,
    begin: Mapping[Any, str],
    history: bool,
) -> BulkResult:
    """Any row order: each lead's stage kept in a dict; optionally its history."""
    final: dict[Any, str] = {}
    counts: dict[Any, int] = {}
    bad: list[tuple[int, Any, str, Any]] = []
    hist: dict[Any, list[Step]] | None = {} if history else None
    sentinel = object()
    prev: Any = sentinel
    cur = initial
    n = 0
    get = step.get
    for lead, event, row in zip(ids, evs, nums, strict=True):
        if lead != prev:
            if prev is not sentinel:
                final[prev] = cur
                counts[prev] = n
            cur = final.get(lead) or begin.get(lead, initial)
            n = counts.get(lead, 0)
            prev = lead
        nxt = get((cur, event))
        if nxt is None:
            bad.append((row, lead, cur, event))
            continue
        if hist is not None:
            hist.setdefault(lead, []).append((row, cur, nxt, event))
        cur = nxt
        n += 1
    if prev is not sentinel:
        final[prev] = cur
        counts[prev] = n
    return _result(final, counts, bad, hist)


def _seq(rows: Iterable[int]) -> Sequence[int]:
    return rows if isinstance(rows, Sequence) else list(rows)


def bulk_replay_frame(
    frame: Any,
    *,
    funnel: Funnel = DEFAULT_FUNNEL,
    table: Mapping[tuple[str, str], str] | None = None,
    history: bool = False,
    sort: bool = True,
) -> BulkResult:
    """
    :func:`bulk_replay` over a polars or pandas frame with ``lead_id``, ``at``, ``event``.

    Rows without an event (e.g. stage-only rows) are skipped. With *sort*,
    rows are sorted by ``(lead_id, at)`` first (stable, so ties keep their
    order); reject row numbers are always the 1-based positions in *frame*,
    and rejects come in row order.
    """

    df = _event_rows(frame)
    if sort:
        df = df.sort(LEAD_ID, AT, maintain_order=True)
    result = bulk_replay(
        df.get_column(LEAD_ID).to_list(),
        df.get_column(EVENT).to_list(),
        funnel=funnel,
        table=table,
        rows=df.get_column("_row").to_list(),
        history=history,
    )
    if sort:
        rejects = tuple(sorted(result.rejects, key=lambda r: r.row))
        result = attrs.evolve(result, rejects=rejects)
    return result


def _event_rows(frame: Any) -> pl.DataFrame:
    """The rows of a polars or pandas log with an event: ``lead_id``, ``at``, ``event``, ``_row``.

    ``_row`` is the row's 1-based position in *frame*, for naming rejects.
    """
    import polars as pl

    df = frame if isinstance(frame, pl.DataFrame) else pl.from_pandas(frame)
    return (
        df.select(LEAD_ID, AT, EVENT)
        .with_row_index("_row", offset=1)
        .filter(pl.col(EVENT).is_not_null())
    )


# --------------------------------------------------------------------------- columnar replay


@attrs.frozen(kw_only=True)
class BulkFrames:
    """
    What :func:`bulk_replay_columns` found, as polars frames.

    Attributes:
        final: One row per lead: ``lead_id``, ``stage`` (after its last row) and
            ``transitions`` (accepted events), in the order of the replayed runs.
        rejects: One row per refused event: ``row`` (its 1-based position in the
            input frame), ``lead_id``, ``stage`` (where the lead stayed) and ``event``,
            in row order.
    """

    final: pl.DataFrame
    rejects: pl.DataFrame

    def to_result(self) -> BulkResult:
        """The same figures as a :class:`BulkResult` of dicts (builds one per lead)."""
        leads = self.final.get_column(LEAD_ID).to_list()
        return BulkResult(
            final=dict(zip(leads, self.final.get_column(STAGE).to_list(), strict=True)),
            transitions=dict(
                zip(leads, self.final.get_column(TRANSITIONS).to_list(), strict=True)
            ),
            rejects=tuple(BulkReject(*row) for row in self.rejects.iter_rows()),
        )


def bulk_replay_columns(
    frame: Any,
    *,
    funnel: Funnel = DEFAULT_FUNNEL,
    table: Mapping[tuple[str, str], str] | None = None,
    sort: bool = True,
) -> BulkFrames:
    """
    :func:`bulk_replay_frame` for big logs: frames in, frames out, cost linear in rows.

    The lead ids never become Python objects: polars marks where each lead's
    run of rows starts and codes the events as small integers; the Python
    loop steps integer-coded stages; the results go back into polars. With
    millions of leads this avoids building a dict of millions of keys, whose
    cost per key grows once it outgrows the CPU caches.

    Args:
        frame: A polars or pandas frame with ``lead_id``, ``at`` and ``event``
            (rows without an event are skipped; a null ``lead_id`` is a lead of its own).
        funnel: The funnel whose table is used.
        table: A ready ``{(stage, event): target}`` (see :func:`step_table`).
        sort: Sort rows by ``(lead_id, at)`` first (stable). With ``sort=False``
            each lead's rows are taken in frame order; leads that interleave are
            grouped by a stable sort on ``lead_id``.

    >>> import polars as pl
    >>> from datetime import datetime, timezone
    >>> t = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> log = pl.DataFrame(dict(lead_id=["a", "a", "b"], at=[t] * 3,
    ...                         event=["mark_mql", "win", "nurture"]))
    >>> out = bulk_replay_columns(log)
    >>> out.final.rows()
    [('a', 'mql', 1), ('b', 'nurturing', 1)]
    >>> out.rejects.rows()
    [(2, 'a', 'mql', 'win')]
    """
    import polars as pl

    df = _event_rows(frame).with_columns(pl.col(EVENT).cast(pl.String))
    lead = pl.col(LEAD_ID)
    if sort:
        df = df.sort(LEAD_ID, AT, maintain_order=True, nulls_last=True)
    else:
        runs = df.select(lead.ne_missing(lead.shift()).sum()).item()
        if df.height and runs + 1 - int(df[0, LEAD_ID] is not None) != df[LEAD_ID].n_unique():
            df = df.sort(LEAD_ID, maintain_order=True, nulls_last=True)
    step = step_table(funnel) if table is None else table
    vocab: list[str] = df.get_column(EVENT).unique(maintain_order=True).to_list()
    names = list(dict.fromkeys([*funnel.stages, *(s for s, _ in step), *step.values()]))
    start = names.index(funnel.table.initial)
    # each stage is a list: its successor per event code (or None), then its own index
    width = len(vocab)
    states: list[list[Any]] = [[None] * width + [i] for i in range(len(names))]
    codes_of = {e: k for k, e in enumerate(vocab)}
    for (stage, event), target in step.items():
        if event in codes_of:
            states[names.index(stage)][codes_of[event]] = states[names.index(target)]
    cols = df.select(
        (lead.ne_missing(lead.shift()) | (pl.int_range(pl.len()) == 0)).alias("_start"),
        pl.col(EVENT).replace_strict(vocab, range(width), return_dtype=pl.Int32).alias("_e"),
    )
    starts = cols.get_column("_start")
    ends, counts, bad = _step_codes(
        starts.to_list(), cols.get_column("_e").to_list(), states[start], width
    )
    stage_names = pl.Series(STAGE, names, dtype=pl.String)
    final = (
        df.filter(starts)
        .select(LEAD_ID)
        .with_columns(
            stage_names.gather(pl.Series(ends, dtype=pl.UInt32)),
            pl.Series(TRANSITIONS, counts, dtype=pl.Int64),
        )
    )
    at = pl.Series(bad[0], dtype=pl.UInt32)
    rejects = pl.DataFrame(
        {
            ROW: df.get_column("_row").gather(at).cast(pl.Int64),
            LEAD_ID: df.get_column(LEAD_ID).gather(at),
            STAGE: stage_names.gather(pl.Series(bad[1], dtype=pl.UInt32)),
            EVENT: df.get_column(EVENT).gather(at),
        }
    ).sort(ROW)
    return BulkFrames(final=final, rejects=rejects)


def _step_codes(
    starts: list[bool], codes: list[int], initial: list[Any], width: int
) -> tuple[list[int], list[int], tuple[list[int], list[int]]]:
    """Step coded events: final stage and accepted count per run; reject positions and stages."""
    ends: list[int] = []
    counts: list[int] = []
    bad_at: list[int] = []
    bad_stage: list[int] = []
    add_end, add_count = ends.append, counts.append
    cur = initial
    n = 0
    first = True
    for i, (new, code) in enumerate(zip(starts, codes, strict=True)):
        if new:
            if not first:
                add_end(cur[width])
                add_count(n)
            first = False
            cur = initial
            n = 0
        nxt = cur[code]
        if nxt is None:
            bad_at.append(i)
            bad_stage.append(cur[width])
            continue
        cur = nxt
        n += 1
    if not first:
        add_end(cur[width])
        add_count(n)
    return ends, counts, (bad_at, bad_stage)


# --------------------------------------------------------------------------- reached report


def report_steps(funnel: Funnel = DEFAULT_FUNNEL) -> tuple[str, ...]:
    """
    The default report steps: initial, qualification stages, open prospect stages, won.

    The funnel's :attr:`~funnel.Funnel.main_path`, as ``funnel.analytics.default_steps``.

    >>> report_steps()
    ('acquired', 'mql', 'sql', 'organisation', 'opportunity', 'stakeholder', 'won')
    """
    return funnel.main_path


@attrs.frozen(kw_only=True)
class ReachedCounts:
    """
    Distinct leads reaching each step (an open funnel), and outcomes.

    A lead reached step *k* if it entered step *k* or any later step; won
    if it entered a won stage; lost if it entered a lost stage and was not
    won. Only leads with a row in some step count. These are the figures of
    ``funnel.analytics.funnel_report(log)`` (``order="reached"``, no window).

    Attributes:
        steps: The steps, in order.
        counts: Distinct leads that reached each step.
        won: Leads that entered a won stage.
        lost: Leads that entered a lost stage and were not won.
        open: The others.
    """

    steps: tuple[str, ...]
    counts: tuple[int, ...]
    won: int
    lost: int
    open: int

    @property
    def conversion(self) -> tuple[float | None, ...]:
        """Each step's count over the previous step's (``None`` for the first or a zero)."""
        out: list[float | None] = [None]
        for a, b in zip(self.counts, self.counts[1:], strict=False):
            out.append(b / a if a else None)
        return tuple(out)

    @classmethod
    def from_tally(
        cls, steps: Sequence[str], reached: Mapping[int, int], won: int, lost: int
    ) -> ReachedCounts:
        """Build from ``{highest step index: leads}`` and the won / lost-only totals."""
        counts: list[int] = []
        running = 0
        for k in reversed(range(len(steps))):
            running += int(reached.get(k, 0))
            counts.append(running)
        counts.reverse()
        total = counts[0] if counts else 0
        return cls(
            steps=tuple(steps),
            counts=tuple(counts),
            won=int(won),
            lost=int(lost),
            open=total - int(won) - int(lost),
        )


def stage_flags(
    funnel: Funnel = DEFAULT_FUNNEL, steps: Sequence[str] | None = None
) -> tuple[tuple[str, ...], dict[str, int], list[str], list[str]]:
    """``(steps, {stage: step index}, won stages, lost stages)`` for a report."""
    steps_t = tuple(steps) if steps is not None else report_steps(funnel)
    unknown = [s for s in steps_t if s not in funnel.stages]
    if unknown or not steps_t or len(set(steps_t)) != len(steps_t):
        raise ValidationError(
            f"steps must be distinct stages of the funnel; bad: {unknown or list(steps_t)}"
        )
    table = funnel.table
    for before, after in itertools.pairwise(steps_t):
        if after not in table.reachable(before):
            raise ValidationError(
                f"steps must follow the funnel: {after!r} cannot be reached from {before!r} "
                f"(steps {list(steps_t)}); a lead counts as reaching a step when it enters "
                "that step or a later one"
            )
    index = {s: i for i, s in enumerate(steps_t)}
    return steps_t, index, sorted(funnel.won_stages), sorted(funnel.lost_stages)


def per_lead_polars(
    log: pl.DataFrame | pl.LazyFrame,
    *,
    funnel: Funnel = DEFAULT_FUNNEL,
    steps: Sequence[str] | None = None,
) -> pl.LazyFrame:
    """One row per lead in the funnel: ``lead_id``, ``_reached`` (step), ``_won``, ``_lost``."""
    import polars as pl

    _, index, won, lost = stage_flags(funnel, steps)
    stage = pl.col(STAGE)
    return (
        log.lazy()
        .select(
            LEAD_ID,
            stage.replace_strict(index, default=None, return_dtype=pl.Int64).alias("_step"),
            stage.is_in(won).alias("_w"),
            stage.is_in(lost).alias("_l"),
        )
        .group_by(LEAD_ID)
        .agg(
            pl.col("_step").max().alias("_reached"),
            pl.col("_w").any().alias("_won"),
            pl.col("_l").any().alias("_lost"),
        )
        .filter(pl.col("_reached").is_not_null())
    )


def reached_polars(
    log: pl.DataFrame | pl.LazyFrame,
    *,
    funnel: Funnel = DEFAULT_FUNNEL,
    steps: Sequence[str] | None = None,
) -> ReachedCounts:
    """
    The reached-stage report of a stage log (``lead_id``, ``stage``) with polars.

    One group-by over the rows, then a tally over leads; nothing leaves
    polars but a few numbers.
    """
    import polars as pl

    steps_t, _, _, _ = stage_flags(funnel, steps)
    tally = (
        per_lead_polars(log, funnel=funnel, steps=steps_t)
        .group_by("_reached")
        .agg(
            pl.len().alias("n"),
            pl.col("_won").sum().alias("w"),
            (pl.col("_lost") & ~pl.col("_won")).sum().alias("l"),
        )
        .collect()
    )
    reached = dict(zip(tally["_reached"].to_list(), tally["n"].to_list(), strict=True))
    return ReachedCounts.from_tally(
        steps_t, reached, int(tally["w"].sum() or 0), int(tally["l"].sum() or 0)
    )
