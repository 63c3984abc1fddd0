"""
The one replay of event logs over plain values, and the one reached-stage computation.

:func:`advance` costs a few microseconds per event (a table lookup plus
``attrs.evolve``); a python-statemachine instance costs about 150 µs per
event and 12 KB per instance. To replay millions of logged events, this
module steps a **stage per lead** through the successors of a precomputed
``{(stage, event): target}`` table derived from the funnel's
:class:`~funnel.spec.table.TransitionTable`, and builds no record at all. One loop
(:func:`replay_rows`) does it for every caller: :func:`bulk_replay` (Python
rows), :func:`bulk_replay_frame`, :func:`bulk_replay_columns` (frames),
``funnel.analytics.replay_log`` and the Dask and Spark replays.

Every funnel report derives from one computation, :func:`reached_per_lead`
(per lead: highest step reached, won, lost, entry time) counted by
:func:`tally_reached`, on any narwhals engine (imported when called).

Guards. A log records what *happened*: each event was accepted when it
happened, so by default every guard counts as passed and the step table
holds, for each ``(stage, event)``, the first edge in declaration order
(python-statemachine's order). Pass ``passes`` to :func:`step_table` to fix
other outcomes (e.g. ``lambda name: name != "has_reason"`` refuses every
edge needing a reason). Guards that depend on the record itself (touches,
evidence) cannot be evaluated from a log of events: use :func:`funnel.advance`
or :func:`funnel.advance` (with ``listeners=``) on real records for that.

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
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import attrs

from funnel._base.frames import is_polars_frame, pandas_times_in_utc
from funnel.engine.funnel import DEFAULT_FUNNEL, Funnel
from funnel.exceptions import LoadError, ValidationError
from funnel.model.eventlog import AT, EVENT, LEAD_ID, ROW, STAGE, TRANSITIONS, VALUE
from funnel.spec.table import TransitionTable

if TYPE_CHECKING:
    import polars as pl

#: One step of a lead's history: ``(row, from_stage, to_stage, event)``.
Step = tuple[int, str, str, str]


def step_table(
    table: TransitionTable | Funnel = DEFAULT_FUNNEL,
    passes: Callable[[str], bool] | None = None,
) -> dict[tuple[str, str], str]:
    """
    ``{(stage, event): target}`` for every pair the funnel accepts under *passes*.

    *passes* answers, for a guard name, whether it holds; the first edge in
    declaration order whose guards agree wins, as in the machine (a ``cond``
    guard agrees when it holds, an ``unless`` guard when it does not). By
    default (``None``) every guard agrees (the log records accepted events), so
    each pair takes its first edge in declaration order, ``unless`` edges included.

    >>> step_table()[("acquired", "convert")]
    'organisation'
    >>> ("acquired", "disqualify") in step_table(passes=lambda name: name != "has_reason")
    False
    """
    t = table.table if isinstance(table, Funnel) else table
    out: dict[tuple[str, str], str] = {}
    for stage in t.stages:
        for event in t.events:
            if passes is None:
                options = t.options(stage, event)
                edge = options[0] if options else None
            else:
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
        return stage_counts(self.final.values(), funnel)


def stage_counts(stages: Iterable[str], funnel: Funnel = DEFAULT_FUNNEL) -> dict[str, int]:
    """
    How many of *stages* are each stage of the funnel, in funnel order (none: left out).

    >>> stage_counts(["mql", "acquired", "mql"])
    {'acquired': 1, 'mql': 2}
    """
    tally: dict[str, int] = {}
    for stage in stages:
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
    sorted by ``(lead_id, at)`` are fastest (they are stepped as they come;
    interleaved leads are first grouped, keeping each lead's order). A lead
    starts at ``start[lead_id]`` if given, else at the funnel's initial stage.

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
        ValidationError: *lead_ids*, *events* and *rows* differ in length, or a
            lead id or event cannot be a dict key (a list), naming its row.
    """
    ids = _seq(lead_ids)
    evs = _seq(events)
    nums: Sequence[int] = range(1, len(ids) + 1) if rows is None else _seq(rows)
    if not len(ids) == len(evs) == len(nums):
        raise ValidationError(
            f"lead_ids, events and rows differ in length: {len(ids)}, {len(evs)}, {len(nums)}",
            field="rows" if len(ids) == len(evs) else "events",
        )
    if not history:
        # the common case, leads in runs: final stages and counts straight into dicts
        first_stage, states, begin = _event_states(funnel, table, initial, start)
        try:
            fast = _walk_into(ids, evs, states[first_stage], begin)
        except TypeError:  # an unhashable id or event: name its row
            _refuse_unhashable(ids, evs, None, nums)
            raise
        if fast is not None:
            final, counts, refused = fast
            return BulkResult(
                final=final,
                transitions=counts,
                rejects=tuple(BulkReject(nums[p], ids[p], s, evs[p]) for p, s in refused),
            )
    walk = _checked_replay_rows(
        ids,
        evs,
        None,
        nums,
        funnel=funnel,
        table=table,
        start=start,
        initial=initial,
        history=history,
    )
    hist: dict[Any, list[Step]] | None = None
    if walk.steps is not None:
        hist = {}
        for pos, a, b in walk.steps:
            hist.setdefault(ids[pos], []).append((nums[pos], a, b, evs[pos]))
    return BulkResult(
        final=dict(zip(walk.leads, walk.final, strict=True)),
        transitions=dict(zip(walk.leads, walk.transitions, strict=True)),
        rejects=tuple(BulkReject(nums[p], ids[p], s, evs[p]) for p, s in walk.rejects),
        history=hist,
    )


def _seq(values: Iterable[Any]) -> Sequence[Any]:
    return values if isinstance(values, Sequence) else list(values)


# --------------------------------------------------------------------------- the stepping core


@attrs.frozen(kw_only=True)
class RowReplay:
    """
    What :func:`replay_rows` found, by position (0-based) in its input rows.

    Attributes:
        leads: Each lead once, in first-seen order.
        first: Each lead's first row.
        begin: The stage each lead started in.
        final: The stage each lead ended in.
        transitions: Each lead's accepted rows.
        rejects: ``(row, stage)`` for each refused row (the lead stayed in *stage*), in row order.
        steps: ``(row, from_stage, to_stage)`` for each accepted row, lead by lead,
            when *history* was asked for, else ``None``.
    """

    leads: list[Any]
    first: list[int]
    begin: list[str]
    final: list[str]
    transitions: list[int]
    rejects: list[tuple[int, str]]
    steps: list[tuple[int, str, str]] | None


def replay_rows(
    lead_ids: Sequence[Any],
    events: Sequence[Any],
    stages: Sequence[Any] | None = None,
    *,
    funnel: Funnel = DEFAULT_FUNNEL,
    table: Mapping[tuple[str, str], str] | None = None,
    start: Mapping[Any, str] | None = None,
    initial: str | None = None,
    history: bool = False,
) -> RowReplay:
    """
    Step each lead's stage through its rows: the one replay loop behind every replay.

    :func:`bulk_replay` (Python rows), :func:`bulk_replay_frame` (polars and
    pandas frames), ``funnel.analytics.replay_log`` and the Dask and Spark
    replays call this; :func:`bulk_replay_columns` runs the same loop on
    integer codes made by polars. Each stage is a dict of its successors by
    row kind, so a step is one lookup of the event itself (no key tuple is built).

    A row with an *event* moves the lead along the event's edge; with *stages*
    given, a row's stage (where not ``None``) is what the event must enter,
    else the row is refused, and a row with a stage and no event moves the
    lead to that stage, edge or not (the log is what was observed; naming the
    current stage is a no-op, neither accepted nor refused), except that a row
    taking a prospect back to a lead stage is refused. A lead whose first row names a stage
    and no event starts in that stage. Rows of one lead must come in time
    order; leads may interleave (they are grouped first, each lead's rows in order).

    >>> walk = replay_rows(["a", "a", "b"], ["mark_mql", "win", None], ["mql", None, "sql"])
    >>> walk.final, walk.rejects
    (['mql', 'sql'], [(1, 'mql')])

    Raises:
        ValidationError: a lead id, event or stage cannot be a dict key (a list, a
            dict), naming its row (1-based).
    """
    return _checked_replay_rows(
        lead_ids,
        events,
        stages,
        range(1, len(lead_ids) + 1),
        funnel=funnel,
        table=table,
        start=start,
        initial=initial,
        history=history,
    )


def _checked_replay_rows(
    lead_ids: Sequence[Any],
    events: Sequence[Any],
    stages: Sequence[Any] | None,
    rows: Sequence[int],
    **options: Any,
) -> RowReplay:
    """:func:`_replay_rows`, an unhashable id, event or stage named by its number in *rows*."""
    try:
        return _replay_rows(lead_ids, events, stages, **options)
    except TypeError:
        _refuse_unhashable(lead_ids, events, stages, rows)
        raise


def _refuse_unhashable(
    lead_ids: Sequence[Any],
    events: Sequence[Any],
    stages: Sequence[Any] | None,
    rows: Sequence[int],
) -> None:
    """Raise a ValidationError naming the first row whose id, event or stage is unhashable."""
    columns: list[tuple[str, Sequence[Any]]] = [("lead id", lead_ids), ("event", events)]
    if stages is not None:
        columns.append(("stage", stages))
    for i in range(len(lead_ids)):
        for what, values in columns:
            try:
                hash(values[i])
            except TypeError:
                field = {"lead id": "lead_ids", "event": "events", "stage": "stages"}[what]
                raise ValidationError(
                    f"row {rows[i]}: the {what} must be a string or another hashable value, "
                    f"got {type(values[i]).__name__}",
                    field=field,
                ) from None


def _replay_rows(
    lead_ids: Sequence[Any],
    events: Sequence[Any],
    stages: Sequence[Any] | None,
    *,
    funnel: Funnel,
    table: Mapping[tuple[str, str], str] | None,
    start: Mapping[Any, str] | None,
    initial: str | None,
    history: bool,
) -> RowReplay:
    step = step_table(funnel) if table is None else table
    first_stage = funnel.table.initial if initial is None else initial
    begin_of: Mapping[Any, str] = start or {}
    if stages is None:
        keys: Sequence[Any] = events
        names = _stage_names(funnel, step, first_stage, begin_of.values())
        states = _states(names, {e for _, e in step}, lambda stage, e: step.get((stage, e)))
    else:
        keys = list(zip(events, stages, strict=True))
        vocab = dict.fromkeys(keys)
        observed = [s for _, s in vocab if s is not None]
        names = _stage_names(funnel, step, first_stage, [*begin_of.values(), *observed])
        levels = dict(funnel.machine.levels)
        states = _states(
            names, vocab, lambda stage, key: _observed(step, stage, *key, levels=levels)
        )
        # a lead whose first row names a stage and no event starts there
        firsts = dict(zip(reversed(lead_ids), reversed(keys), strict=True))
        begin_of = {
            lead: s if e is None and s is not None else begin_of.get(lead, first_stage)
            for lead, (e, s) in firsts.items()
        }
    begin = {lead: states[s] for lead, s in begin_of.items()}
    ids = lead_ids
    walk = _walk(ids, keys, states[first_stage], begin, history=history)
    order: list[int] | None = None
    if len(set(walk[0])) != len(walk[0]):  # interleaved leads: group them, each in its order
        rank: dict[Any, int] = dict.fromkeys(walk[0], 0)
        for k, lead in enumerate(rank):
            rank[lead] = k
        order = sorted(range(len(ids)), key=list(map(rank.__getitem__, ids)).__getitem__)
        ids = [ids[i] for i in order]
        keys = [keys[i] for i in order]
        walk = _walk(ids, keys, states[first_stage], begin, history=history)
    leads, first, ends, counts, bad, trail = walk
    if stages is not None:  # a stage row naming the current stage is a no-op, not a refusal
        bad = [
            (p, s) for p, s in bad if keys[p][0] is not None or keys[p][1] not in (None, names[s])
        ]
    rejects = [(p, names[s]) for p, s in bad]
    steps = None if trail is None else [(p, names[a], names[b]) for p, a, b in trail]
    if order is not None:  # back to positions in the input
        first = [order[p] for p in first]
        rejects = sorted((order[p], s) for p, s in rejects)
        steps = None if steps is None else [(order[p], a, b) for p, a, b in steps]
    return RowReplay(
        leads=leads,
        first=first,
        begin=[begin_of.get(lead, first_stage) for lead in leads]
        if begin_of
        else [first_stage] * len(leads),
        final=list(map(names.__getitem__, ends)),
        transitions=counts,
        rejects=rejects,
        steps=steps,
    )


#: Precedes the first row, so that the first row starts a run.
_NEW = object()
#: The key of a state's own stage index in a state dict.
_INDEX = object()
#: The key of a state's own stage name in a state dict.
_NAME = object()


def _event_states(
    funnel: Funnel,
    table: Mapping[tuple[str, str], str] | None,
    initial: str | None,
    start: Mapping[Any, str] | None,
) -> tuple[str, dict[str, dict[Any, Any]], dict[Any, dict[Any, Any]]]:
    """The initial stage, the states by event and each started lead's state (rows of events)."""
    step = step_table(funnel) if table is None else table
    first_stage = funnel.table.initial if initial is None else initial
    begin_of: Mapping[Any, str] = start or {}
    names = _stage_names(funnel, step, first_stage, begin_of.values())
    states = _states(names, {e for _, e in step}, lambda stage, e: step.get((stage, e)))
    return first_stage, states, {lead: states[s] for lead, s in begin_of.items()}


def _observed(
    step: Mapping[tuple[str, str], str],
    stage: str,
    event: Any,
    expect: Any,
    *,
    levels: Mapping[str, str] | None = None,
) -> str | None:
    """
    Where a row ``(event, expected stage)`` takes a lead in *stage* (``None``: refused).

    An observed stage with no event is taken as it is, edge or not, except that a
    prospect never goes back to a lead stage (*levels*: each stage's level), as no
    event of a funnel may take it there.
    """
    if event is None:
        if expect is None or expect == stage:
            return None
        if levels and levels.get(stage) == "prospect" and levels.get(expect) == "lead":
            return None  # a prospect is never a lead again
        return str(expect)
    target = step.get((stage, event))
    return target if expect is None or target == expect else None


def _stage_names(
    funnel: Funnel, step: Mapping[tuple[str, str], str], initial: str, extra: Iterable[str]
) -> list[str]:
    """Every stage a replay can be in: the funnel's, the table's and *extra*, each once."""
    return list(
        dict.fromkeys([*funnel.stages, *(s for s, _ in step), *step.values(), initial, *extra])
    )


def _states(
    names: Sequence[str], kinds: Iterable[Any], target: Callable[[str, Any], str | None]
) -> dict[str, dict[Any, Any]]:
    """
    Each stage as a dict: ``{row kind: successor state or None}``, and :data:`_INDEX`: its index.

    ``target(stage, kind)`` names the successor (``None``: the row is refused);
    stepping is then ``cur[kind]``, one dict lookup per row.
    """
    states: dict[str, dict[Any, Any]] = {
        name: {_INDEX: i, _NAME: name} for i, name in enumerate(names)
    }
    kinds = list(kinds)
    for name, state in states.items():
        for kind in kinds:
            nxt = target(name, kind)
            state[kind] = None if nxt is None else states[nxt]
    return states


def _walk(
    leads: Iterable[Any],
    kinds: Iterable[Any],
    initial: dict[Any, Any],
    begin: Mapping[Any, dict[Any, Any]] | None = None,
    *,
    history: bool = False,
) -> tuple[
    list[Any],
    list[int],
    list[int],
    list[int],
    list[tuple[int, int]],
    list[tuple[int, int, int]] | None,
]:
    """
    The stepping loop. A run is a stretch of rows of one lead (``leads[i]`` changes).

    Each run starts in ``begin[lead]`` (default: *initial*); row *i* moves it to
    ``cur[kinds[i]]`` if that is a state, else is refused. Returns, per run, its
    lead, first row, final stage index and accepted rows; ``(row, stage)``
    per refused row; with *history*, ``(row, from, to)`` per accepted row.
    """
    run_leads: list[Any] = []
    firsts: list[int] = []
    ends: list[int] = []
    counts: list[int] = []
    bad: list[tuple[int, int]] = []
    trail: list[tuple[int, int, int]] | None = [] if history else None
    add_lead, add_first, add_end, add_count = (
        run_leads.append,
        firsts.append,
        ends.append,
        counts.append,
    )
    prev: Any = _NEW
    cur = initial
    n = -1  # before the first run
    for i, (lead, kind) in enumerate(zip(leads, kinds, strict=True)):
        if lead != prev:
            if n >= 0:
                add_end(cur[_INDEX])
                add_count(n)
            add_lead(lead)
            add_first(i)
            cur = begin.get(lead, initial) if begin else initial
            prev = lead
            n = 0
        try:
            nxt = cur[kind]
        except KeyError:  # a kind no stage knows (an unknown event)
            nxt = None
        if nxt is None:
            bad.append((i, cur[_INDEX]))
            continue
        if trail is not None:
            trail.append((i, cur[_INDEX], nxt[_INDEX]))
        cur = nxt
        n += 1
    if n >= 0:
        add_end(cur[_INDEX])
        add_count(n)
    return run_leads, firsts, ends, counts, bad, trail


def _walk_into(
    leads: Sequence[Any],
    kinds: Sequence[Any],
    initial: dict[Any, Any],
    begin: Mapping[Any, dict[Any, Any]],
) -> tuple[dict[Any, str], dict[Any, int], list[tuple[int, str]]] | None:
    """
    :func:`_walk` for :func:`bulk_replay`: each run's final stage and count go
    straight into ``{lead: ...}`` dicts, refused rows as ``(row, stage name)``.

    ``None`` when a lead has more than one run (interleaved leads): the caller
    then groups the rows (:func:`replay_rows`).
    """
    final: dict[Any, str] = {}
    counts: dict[Any, int] = {}
    bad: list[tuple[int, str]] = []
    refuse = bad.append
    prev: Any = _NEW
    cur = initial
    n = -1  # before the first run
    runs = 0
    for i, (lead, kind) in enumerate(zip(leads, kinds, strict=True)):
        if lead != prev:
            if n >= 0:
                final[prev] = cur[_NAME]
                counts[prev] = n
            cur = begin.get(lead, initial) if begin else initial
            prev = lead
            n = 0
            runs += 1
        try:
            nxt = cur[kind]
        except KeyError:  # a kind no stage knows (an unknown event)
            nxt = None
        if nxt is None:
            refuse((i, cur[_NAME]))
            continue
        cur = nxt
        n += 1
    if n >= 0:
        final[prev] = cur[_NAME]
        counts[prev] = n
    return (final, counts, bad) if runs == len(final) else None


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
    initial = funnel.table.initial
    names = _stage_names(funnel, step, initial, ())
    codes = range(len(vocab))
    states = _states(names, codes, lambda stage, k: step.get((stage, vocab[k])))
    start = lead.ne_missing(lead.shift()) | (pl.int_range(pl.len()) == 0)
    cols = df.select(
        start.alias("_start"),
        # runs alternate 1, 0, 1, ...: the lead "changes" exactly where a run starts
        (start.cum_sum() % 2).cast(pl.Int8).alias("_run"),
        pl.col(EVENT).replace_strict(vocab, codes, return_dtype=pl.Int32).alias("_e"),
    )
    starts = cols.get_column("_start")
    _, _, ends, counts, bad, _ = _walk(
        cols.get_column("_run").to_list(), cols.get_column("_e").to_list(), states[initial]
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
    at = pl.Series([p for p, _ in bad], dtype=pl.UInt32)
    rejects = pl.DataFrame(
        {
            ROW: df.get_column("_row").gather(at).cast(pl.Int64),
            LEAD_ID: df.get_column(LEAD_ID).gather(at),
            STAGE: stage_names.gather(pl.Series([k for _, k in bad], dtype=pl.UInt32)),
            EVENT: df.get_column(EVENT).gather(at),
        }
    ).sort(ROW)
    return BulkFrames(final=final, rejects=rejects)


# --------------------------------------------------------------------------- reached report
#
# One computation behind every funnel report: reached_per_lead gives, per lead,
# the highest step reached, won / lost flags and the entry time, on any narwhals
# engine (polars eager and lazy, pandas, DuckDB, Dask, PySpark); tally_reached
# turns it into counts. funnel.analytics' funnel_report, breakdown and cohorts,
# reached_polars here, and report_dask / report_spark all call the two.

#: Per-lead columns of :func:`reached_per_lead` (besides ``lead_id``).
ENTERED = "_t0"
REACHED = "_reached"
WON = "_won"
LOST = "_lost"
KEY = "_key"

#: How :func:`reached_per_lead` orders a lead's steps.
ORDERS = ("reached", "ordered", "strict", "unordered")
#: The orders that follow each lead's attempts step by step (an attempt starts at step 1).
ATTEMPT_ORDERS = ("ordered", "strict", "unordered")
#: The step times :func:`reached_per_lead` adds with ``times=True``: ``_at0``, ``_at1``, ...
STEP_TIME = "_at"
#: The lead's deal value (the ``value`` column), with ``value=True``.
VALUE_COL = "_value"


def report_steps(
    funnel: Funnel = DEFAULT_FUNNEL, steps: Iterable[str] | None = None, order: str = "reached"
) -> tuple[str, ...]:
    """
    The steps of a report: *steps* checked against *funnel*, or its default steps.

    The default is the funnel's :attr:`~funnel.Funnel.main_path` (initial,
    qualification stages, open prospect stages, won), as
    ``funnel.analytics.default_steps``. With ``order="reached"`` given steps must
    be distinct stage names of the funnel, each reachable from the one before (a
    lead counts as reaching a step when it enters that step or a later one). The
    other orders follow each lead's rows, so any stages of the funnel may be
    steps, and a stage may repeat (``["mql", "nurturing", "mql"]``).

    Raises:
        ValidationError: *steps* is not a sequence of stage names, names an
            unknown stage (the message lists the known ones), repeats one, or
            does not follow the funnel (``order="reached"``).

    >>> report_steps()
    ('acquired', 'mql', 'sql', 'organisation', 'opportunity', 'stakeholder', 'won')
    >>> report_steps(steps=["acquired", "sale"])
    Traceback (most recent call last):
    ...
    funnel.exceptions.ValidationError: ...unknown stage 'sale'; the stages are acquired, mql, ...
    >>> report_steps(steps=["mql", "nurturing", "mql"], order="ordered")
    ('mql', 'nurturing', 'mql')
    """
    if steps is None:
        return funnel.main_path
    if isinstance(steps, str | bytes) or not isinstance(steps, Iterable):
        raise ValidationError(
            f"steps must be a sequence of stage names, got {type(steps).__name__} {steps!r}",
            field="steps",
        )
    steps_t = tuple(steps)
    known = funnel.stages
    for s in steps_t:
        if not isinstance(s, str):
            raise ValidationError(
                f"steps must be stage names (str), got {type(s).__name__} {s!r}", field="steps"
            )
        if s not in known:
            raise ValidationError(
                f"steps must be distinct stages of the funnel: unknown stage {s!r}; "
                f"the stages are {', '.join(known)}",
                field="steps",
                allowed=known,
            )
    if not steps_t:
        raise ValidationError("steps must be stages of the funnel, at least one", field="steps")
    if order != "reached":
        return steps_t
    if len(set(steps_t)) != len(steps_t):
        raise ValidationError(
            f"steps must be distinct stages of the funnel, at least one; got {list(steps_t)} "
            "(repeated steps need order='ordered' or 'strict')",
            field="steps",
        )
    table = funnel.table
    for before, after in itertools.pairwise(steps_t):
        if after not in table.reachable(before):
            raise ValidationError(
                f"steps must follow the funnel: {after!r} cannot be reached from {before!r} "
                f"(steps {list(steps_t)}); a lead counts as reaching a step when it enters "
                "that step or a later one",
                field="steps",
            )
    return steps_t


def check_window(window: Any, name: str = "window") -> timedelta | None:
    """
    *window* if it is ``None`` or a positive :class:`datetime.timedelta`.

    Raises:
        ValidationError: anything else (a number of days, say), naming the argument.

    >>> check_window(30)
    Traceback (most recent call last):
    ...
    funnel.exceptions.ValidationError: window must be a datetime.timedelta (...), got int 30
    """
    if window is None:
        return None
    if not isinstance(window, timedelta):
        raise ValidationError(
            f"{name} must be a datetime.timedelta (e.g. timedelta(days=30)), "
            f"got {type(window).__name__} {window!r}",
            field=name,
        )
    if window <= timedelta(0):
        raise ValidationError(
            f"{name} must be a positive datetime.timedelta, got {window}", field=name
        )
    return window


def check_order(order: Any) -> str:
    """*order* if it is one of :data:`ORDERS`, else a :class:`ValidationError`."""
    if not isinstance(order, str) or order not in ORDERS:
        raise ValidationError(
            f"order must be one of {', '.join(repr(o) for o in ORDERS)}, got {order!r}",
            field="order",
            allowed=ORDERS,
        )
    return order


#: One checked exclusion: the excluded stages, and the step indices it lies between.
Exclusion = tuple[tuple[str, ...], int, int]


def check_exclude(
    exclude: Any, steps: Sequence[str], funnel: Funnel = DEFAULT_FUNNEL, order: str = "ordered"
) -> tuple[Exclusion, ...]:
    """
    *exclude* as ``((stages, from_step, to_step), ...)``, step indices 0-based.

    Each item is ``(stage, step_a, step_b)``: a lead's attempt is excluded when
    it enters *stage* (a stage name or a collection of them) after reaching
    step *a* and before reaching step *b* (or, if it never reaches *b*, at any
    later time within the window). Steps are named (the first *a*, then the
    first *b* after it) or given as indices.

    Raises:
        ValidationError: *exclude* is malformed, names unknown stages or steps,
            *b* is not after *a*, or the order is ``"reached"`` or ``"unordered"``.

    >>> check_exclude([("nurturing", "mql", "sql")], ("acquired", "mql", "sql"))
    ((('nurturing',), 1, 2),)
    """
    if exclude is None or (isinstance(exclude, Sequence) and not exclude):
        return ()
    if isinstance(exclude, str | bytes) or not isinstance(exclude, Iterable):
        raise ValidationError(
            f"exclude must be a list of (stage, from_step, to_step), got {exclude!r}",
            field="exclude",
        )
    if order not in ("ordered", "strict"):
        raise ValidationError(
            f"exclude needs order='ordered' or 'strict' (steps in time order), got {order!r}",
            field="exclude",
        )
    out: list[Exclusion] = []
    for item in exclude:
        if not isinstance(item, tuple | list) or len(item) != 3:
            raise ValidationError(
                f"exclude items must be (stage, from_step, to_step), got {item!r}",
                field="exclude",
            )
        what, a, b = item
        stages = (what,) if isinstance(what, str) else tuple(what)
        unknown = [s for s in stages if s not in funnel.stages]
        if not stages or unknown:
            raise ValidationError(
                f"exclude: not stages of the funnel: {unknown or list(stages)}; "
                f"the stages are {', '.join(funnel.stages)}",
                field="exclude",
                allowed=funnel.stages,
            )
        i = _step_index(a, steps, 0)
        j = _step_index(b, steps, i + 1)
        if i >= j:
            raise ValidationError(
                f"exclude: step {b!r} must come after step {a!r} in steps {list(steps)}",
                field="exclude",
            )
        out.append((stages, i, j))
    return tuple(out)


def _step_index(step: Any, steps: Sequence[str], after: int) -> int:
    if isinstance(step, int) and not isinstance(step, bool):
        if 0 <= step < len(steps):
            return step
    elif isinstance(step, str):
        for k in range(after, len(steps)):
            if steps[k] == step:
                return k
    raise ValidationError(
        f"exclude: {step!r} is not a step of {list(steps)} (give a step name or index)",
        field="exclude",
    )


def _as_sets(steps: Sequence[str | Sequence[str]]) -> tuple[tuple[str, ...], ...]:
    return tuple((s,) if isinstance(s, str) else tuple(s) for s in steps)


def reached_per_lead(
    log: Any,
    *,
    funnel: Funnel = DEFAULT_FUNNEL,
    steps: Iterable[str] | None = None,
    order: str = "reached",
    window: timedelta | None = None,
    by: str | Sequence[str] | None = None,
    every: str | None = None,
    exclude: Any = (),
    attribution: Any = "first",
    times: bool = False,
    value: bool = False,
) -> Any:
    """
    One row per lead in the funnel: the per-lead figures every report derives from.

    *log* is a stage log (``lead_id``, ``at``, ``stage`` [, ``row``, *by*]) as a
    native frame or a narwhals one: polars (eager or lazy), pandas, DuckDB,
    Dask, PySpark. Returns a narwhals frame (lazy for lazy engines) with
    ``lead_id``, :data:`ENTERED` (when the lead entered the funnel: its first
    step row; in the other orders, the start of its counted attempt),
    :data:`REACHED` (the index of the highest step reached), :data:`WON` and
    :data:`LOST` (1 if it entered a won, a lost stage, within the window), and
    :data:`KEY` (``_key``, ``_key1``, ... for several *by* columns) with the
    attributed value of *by*, or the entry period of *every* (``dt.truncate``).
    ``times=True`` adds ``_at0``, ``_at1``, ... (when the counted attempt entered
    each step; ordered and strict orders), ``value=True`` the lead's deal value
    (its last non-empty ``value``).

    Orders (``funnel.analytics.funnel_report`` documents them): ``"reached"``
    (open funnel), ``"ordered"``, ``"strict"``, ``"unordered"``. In the last three
    every entry into step 1 starts an attempt with its own *window*; a lead counts
    for the furthest step any attempt reaches (ties: the attempt that got there
    first, then the latest start: a re-entry into step 1 restarts the window).

    Raises:
        ValidationError: bad *steps*, *order*, *window*, *exclude* or *attribution*.
    """
    import narwhals as nw

    check_order(order)
    steps_t = report_steps(funnel, steps, order)
    check_window(window)
    excl = check_exclude(exclude, steps_t, funnel, order)
    nwf = _planned(
        log
        if isinstance(log, nw.DataFrame | nw.LazyFrame)
        else nw.from_native(pandas_times_in_utc(log))
    )
    return per_lead_checked(
        nwf,
        funnel=funnel,
        sets=_as_sets(steps_t),
        order=order,
        window=window,
        by=_by_columns(by),
        every=every,
        exclude=excl,
        attribution=check_attribution(attribution, steps_t),
        times=times,
        value=value,
    )


def _by_columns(by: str | Sequence[str] | None) -> tuple[str, ...]:
    if by is None:
        return ()
    if isinstance(by, str):
        return (by,)
    if not isinstance(by, Sequence) or not by or not all(isinstance(b, str) for b in by):
        raise ValidationError(
            f"by must be a column name or a list of them, got {by!r}", field="by"
        )
    return tuple(by)


#: What a breakdown attributes a lead to: its first or last non-empty value, or a step's.
ATTRIBUTIONS = ("first", "last")


def check_attribution(attribution: Any, steps: Sequence[str]) -> str | tuple[str, int]:
    """
    ``"first"``, ``"last"``, or ``("step", index)`` for ``("step", stage_or_index)``.

    Raises:
        ValidationError: anything else, or a step that is not one of *steps*.
    """
    if isinstance(attribution, str) and attribution in ATTRIBUTIONS:
        return attribution
    if (
        isinstance(attribution, tuple | list)
        and len(attribution) == 2
        and attribution[0] == "step"
    ):
        target = attribution[1]
        if isinstance(target, str) and target in steps:
            return ("step", list(steps).index(target))
        if isinstance(target, int) and not isinstance(target, bool) and 0 <= target < len(steps):
            return ("step", target)
    raise ValidationError(
        "attribution must be 'first', 'last' or ('step', a step of the report), "
        f"got {attribution!r}",
        field="attribution",
        allowed=(*ATTRIBUTIONS, "('step', <step>)"),
    )


#: White space as Python's ``str.isspace`` has it: an id of nothing else is blank, no id, on
#: every engine (polars' own strip keeps U+001C-U+001F, which Python and Arrow strip).
WHITE_SPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


def raise_missing_leads(count: int) -> None:
    """The :class:`LoadError` of a log with *count* rows without a lead id (or a blank one)."""
    raise LoadError(
        f"{count} row(s) have no {LEAD_ID} (a null or blank id): a row without a lead id "
        "cannot be attributed to a lead; drop them, or load the log with load_frame(...) "
        "or load_csv(...), which reject them ('missing-id')"
    )


def blank_suspects(lead: Any) -> Any:
    """
    Whether a text lead id (a polars or narwhals expression) may be blank: it is empty or
    starts with white space.

    Every white-space character is below ``"!"`` or beyond ASCII, and text compares by
    its UTF-8 bytes: two comparisons, not a strip of every id (:func:`missing_lead_rows`
    strips the suspects' rows when there are any).
    """
    return (lead < "!") | (lead >= "\u0080")


def missing_lead_rows(frame: Any, *, polars_native: bool = False) -> int:
    """
    How many rows of *frame* (a narwhals or native polars frame, eager or lazy) have no
    lead id: a null, a NaN (float ids), or a blank one (white space only, :data:`WHITE_SPACE`;
    text ids, categorical ones read as their text).
    """
    if polars_native:
        import polars as pl

        kind = _polars_lead_kind(frame.collect_schema()[LEAD_ID])
        lead = pl.col(LEAD_ID)
        bad = lead.is_null()
        if kind == "float":
            bad = bad | lead.is_nan()
        elif kind == "text":
            bad = bad | (lead.cast(pl.String).str.strip_chars(WHITE_SPACE) == "")
        found = frame.lazy().select(bad.sum()).collect().item()
        return int(found or 0)
    import narwhals as nw

    kind = _lead_kind(frame)
    ids = nw.col(LEAD_ID)
    missing = ids.is_null()
    if kind == "float":
        missing = missing | ids.is_nan()
    elif kind == "text":
        missing = missing | (ids.cast(nw.String).str.strip_chars(WHITE_SPACE) == "")
    return int(collect(frame.select(missing.cast(nw.Int64).sum())).item() or 0)


def _polars_lead_kind(dtype: Any) -> str:
    """A polars lead id type as the checks read it (:func:`_lead_kind`)."""
    import polars as pl

    if dtype == pl.String or dtype == pl.Categorical or isinstance(dtype, pl.Enum):
        return "text"
    return "float" if dtype.is_float() else "other"


def lead_suspects(dtype: Any) -> Any:
    """
    A polars expression: whether a row's lead id (of polars type *dtype*) is null or may
    be no lead (a text id :func:`blank_suspects` flags, a NaN float);
    :func:`missing_lead_rows` counts the rows for sure.
    """
    import polars as pl

    lead = pl.col(LEAD_ID)
    kind = _polars_lead_kind(dtype)
    if kind == "text":
        return lead.is_null() | blank_suspects(lead.cast(pl.String))
    return lead.is_null() | lead.is_nan() if kind == "float" else lead.is_null()


def _lead_kind(nwf: Any) -> str:
    """*nwf*'s lead ids as the checks read them: ``"text"``, ``"float"`` or ``"other"``."""
    import narwhals as nw

    dtype = nwf.collect_schema()[LEAD_ID]
    if dtype == nw.String or dtype == nw.Categorical or dtype == nw.Enum:
        return "text"
    return "float" if dtype.is_float() else "other"


def check_lead_ids(nwf: Any, *, blanks: bool = True) -> None:
    """
    A :class:`LoadError` (:func:`raise_missing_leads`) if a row of *nwf* has no lead id
    (a null, or a NaN float) or (*blanks*) a blank one; the error counts them all.

    Eager frames keep the null count (polars, pyarrow) or count it in one vectorised
    pass (pandas); a lazy one runs one aggregation. Text ids are tested for blanks by
    two comparisons (:func:`blank_suspects`), and stripped only if one may be blank.
    """
    import narwhals as nw

    kind = _lead_kind(nwf)
    if isinstance(nwf, nw.DataFrame):
        ids = nwf.get_column(LEAD_ID)
        nulls = int(ids.null_count())
        if kind == "float":
            nulls = missing_lead_rows(nwf) if nulls or bool(ids.is_nan().any()) else 0
        elif kind == "text":
            text = ids.cast(nw.String)
            if nulls or (blanks and bool(blank_suspects(text).fill_null(False).any())):
                nulls = missing_lead_rows(nwf)  # (the count of the error: nulls and blanks)
    elif kind != "other" and blanks:
        nulls = missing_lead_rows(nwf)
    else:  # (DuckDB counts no rows as a null)
        nulls = int(collect(nwf.select(nw.col(LEAD_ID).null_count())).item() or 0)
        if nulls and kind != "other":
            nulls = missing_lead_rows(nwf)
    if nulls:
        raise_missing_leads(nulls)


def per_lead_checked(
    nwf: Any,
    *,
    funnel: Funnel,
    sets: tuple[tuple[str, ...], ...],
    order: str,
    window: timedelta | None,
    by: tuple[str, ...] = (),
    every: str | None = None,
    exclude: tuple[Exclusion, ...] = (),
    attribution: str | tuple[str, int] = "first",
    times: bool = False,
    value: bool = False,
) -> Any:
    """:func:`reached_per_lead` on checked arguments; a step may be several stages."""
    import narwhals as nw

    check_lead_ids(nwf)
    has_row = ROW in nwf.columns
    extra = [c for c in dict.fromkeys(by) if c not in (LEAD_ID, AT, STAGE, ROW)]
    if value and VALUE not in extra and VALUE in nwf.columns:
        extra.append(VALUE)
    stage = nw.col(STAGE)
    every_stage = sorted({s for group in sets for s in group})
    schema = nwf.collect_schema() if extra else {}
    # a categorical (Enum, pandas category, pyarrow dictionary) column groups as its text:
    # "" is no value, as in a String column, and every engine can take its min and max
    texts = [
        nw.col(c).cast(nw.String) if isinstance(schema[c], (nw.Categorical, nw.Enum)) else c
        for c in extra
    ]
    f = nwf.select(LEAD_ID, AT, STAGE, *([ROW] if has_row else []), *texts).with_columns(
        stage.is_in(sorted(funnel.won_stages)).cast(nw.Int64).alias(WON),
        stage.is_in(sorted(funnel.lost_stages)).cast(nw.Int64).alias(LOST),
    )
    outcome = (nw.col(WON).max(), nw.col(LOST).max())
    if order == "reached":
        f = f.with_columns(
            # -1: not a step (no nulls: Dask's int64 holds none)
            stage.replace_strict(
                {s[0]: i for i, s in enumerate(sets)}, default=-1, return_dtype=nw.Int64
            ).alias("_step"),
        )
        step = nw.col("_step")
        if window is None:
            # one group-by, no join
            marked = f.with_columns(nw.when(step >= 0).then(nw.col(AT)).alias("_ts"))
            per = (
                marked.group_by(LEAD_ID)
                .agg(nw.col("_ts").min().alias(ENTERED), step.max().alias(REACHED), *outcome)
                .filter(nw.col(REACHED) >= 0)
            )
        else:
            t0 = f.filter(step >= 0).group_by(LEAD_ID).agg(nw.col(AT).min().alias(ENTERED))
            g = _in_window(f.join(t0, on=LEAD_ID, how="inner"), window)
            per = g.group_by(LEAD_ID).agg(
                nw.col(ENTERED).min(), step.max().alias(REACHED), *outcome
            )
    else:
        f = _checkpoint(f)
        chain = _attempts(f, sets, order, window, has_row)
        chain = _exclude(chain, f, exclude, window)
        chosen = _checkpoint(_choose(chain, len(sets), order))
        g = _in_window(f.join(chosen.select(LEAD_ID, ENTERED), on=LEAD_ID, how="inner"), window)
        outcomes = g.group_by(LEAD_ID).agg(*outcome)
        keep = [LEAD_ID, ENTERED, REACHED]
        if times:
            keep += [f"{STEP_TIME}{k}" for k in range(len(sets))]
        per = chosen.select(*keep).join(outcomes, on=LEAD_ID, how="inner")
    if by:
        touch = f.filter(stage.is_in(every_stage))
        for i, column in enumerate(by):
            name = KEY if i == 0 else f"{KEY}{i}"
            if isinstance(attribution, tuple):
                picked = _step_touch(touch, per, column, sets, attribution[1], order, has_row)
            else:
                picked = _touch(touch, column, attribution, has_row)
            per = per.join(picked.rename({column: name}), on=LEAD_ID, how="left")
    if value:
        if VALUE in f.columns:
            valued = _touch(f, VALUE, "last", has_row)
            per = per.join(valued.rename({VALUE: VALUE_COL}), on=LEAD_ID, how="left")
        else:
            per = per.with_columns(nw.lit(None, dtype=nw.Float64).alias(VALUE_COL))
    return _with_period(per, every) if not by else per


def _checkpoint(frame: Any) -> Any:
    """
    A polars or DuckDB lazy frame computed now, as a new lazy frame (others: as is).

    The joins of the attempt orders reuse each step's result. DuckDB inlines every
    reuse into one SQL statement (planning it grew to seconds at seven steps), and
    polars re-ran shared sub-plans (a strict funnel on 450k rows: 45 s; computed step
    by step: 1 s). Materialising each step (DuckDB: to Arrow, in DuckDB's process)
    keeps each plan one step deep; the frames kept are per attempt, not per row.
    """
    import narwhals as nw

    impl: Any = getattr(frame, "implementation", None)
    if impl is nw.Implementation.POLARS and isinstance(frame, nw.LazyFrame):
        return frame.collect().lazy()
    if impl is nw.Implementation.DUCKDB:
        import duckdb

        table = frame.collect(backend="pyarrow").to_native()
        return nw.from_native(duckdb.from_arrow(table))
    return frame


def _attempts(
    f: Any, sets: tuple[tuple[str, ...], ...], order: str, window: timedelta | None, has_row: bool
) -> Any:
    """
    One row per attempt (``lead_id``, ``_a`` its start, ``_s`` its key, ``_at0``, ``_at1``, ...).

    An attempt starts at each row of step 1; ``_atk`` is when it entered step *k*
    (null: not reached). Ordered: the first row of step *k* at or after step
    *k-1* (strictly after when the step repeats a stage of the one before);
    strict: the next step row of the lead must be step *k*; unordered: the first
    row of step *k* at or after the start, in any order.
    """
    import narwhals as nw

    stage = nw.col(STAGE)
    at = nw.col(AT)
    secs = None if window is None else window.total_seconds()

    def in_window(frame: Any) -> Any:
        if secs is None:
            return frame
        return frame.filter((at - nw.col("_a")).dt.total_seconds() <= secs)

    n = len(sets)
    if order == "ordered":
        starts = f.filter(stage.is_in(list(sets[0]))).select(LEAD_ID, AT).unique()
        chain = starts.select(LEAD_ID, at.alias("_a"), at.alias("_s"), at.alias("_at0"))
        prev = chain.select(LEAD_ID, "_a", "_s", nw.col("_at0").alias("_tp"))
        for k in range(1, n):
            rows = f.filter(stage.is_in(list(sets[k]))).select(LEAD_ID, AT)
            cand = rows.join(prev, on=LEAD_ID, how="inner")
            later = at > nw.col("_tp") if set(sets[k]) & set(sets[k - 1]) else at >= nw.col("_tp")
            cand = in_window(cand.filter(later))
            got = _checkpoint(
                cand.group_by(LEAD_ID, "_s").agg(nw.col("_a").min(), at.min().alias("_tp"))
            )
            chain = chain.join(
                got.select(LEAD_ID, "_s", nw.col("_tp").alias(f"_at{k}")),
                on=[LEAD_ID, "_s"],
                how="left",
            )
            prev = got
        return _checkpoint(chain)
    steps_only = f.filter(stage.is_in(sorted({s for g in sets for s in g})))
    if order == "strict":
        order_by = [AT, ROW] if has_row else [AT, STAGE]
        if steps_only.implementation is nw.Implementation.PYARROW:
            # pyarrow has no ordered window per lead: number the rows sorted by lead then
            # time; the numbers are consecutive within each lead, all the joins need
            numbered = steps_only.sort(LEAD_ID, *order_by).with_row_index("_n")
            numbered = numbered.with_columns(nw.col("_n").cast(nw.Int64))
        else:
            numbered = steps_only.with_columns(
                nw.lit(1, dtype=nw.Int64).alias("_one")
            ).with_columns(
                nw.col("_one")
                .cum_sum()
                .over(LEAD_ID, order_by=order_by)
                .cast(nw.Int64)
                .alias("_n")
            )
        chain = numbered.filter(stage.is_in(list(sets[0]))).select(
            LEAD_ID, at.alias("_a"), nw.col("_n").alias("_s"), at.alias("_at0")
        )
        prev = chain.select(LEAD_ID, "_a", "_s")
        for k in range(1, n):
            rows = numbered.filter(stage.is_in(list(sets[k]))).select(LEAD_ID, AT, "_n")
            want = prev.with_columns((nw.col("_s") + k).alias("_n"))
            cand = in_window(rows.join(want, on=[LEAD_ID, "_n"], how="inner"))
            got = _checkpoint(cand.select(LEAD_ID, "_a", "_s", at.alias(f"_at{k}")))
            chain = chain.join(got.drop("_a"), on=[LEAD_ID, "_s"], how="left")
            prev = got.select(LEAD_ID, "_a", "_s")
        return _checkpoint(chain)
    # unordered: every step row starts an attempt; count the steps done from it
    starts = steps_only.select(LEAD_ID, at.alias("_a")).unique()
    pairs = in_window(
        steps_only.select(LEAD_ID, AT, STAGE)
        .join(starts, on=LEAD_ID, how="inner")
        .filter(at >= nw.col("_a"))
    )
    pairs = pairs.with_columns(
        *(nw.when(stage.is_in(list(sets[k]))).then(at).alias(f"_u{k}") for k in range(n))
    )
    return (
        pairs.group_by(LEAD_ID, "_a")
        .agg(*(nw.col(f"_u{k}").min().alias(f"_at{k}") for k in range(n)))
        .with_columns(nw.col("_a").alias("_s"))
    )


def _exclude(chain: Any, f: Any, exclude: tuple[Exclusion, ...], window: timedelta | None) -> Any:
    """*chain* without the attempts that entered an excluded stage between its two steps."""
    import narwhals as nw

    for stages, i, j in exclude:
        x = nw.col("_x")
        ti, tj = nw.col(f"_at{i}"), nw.col(f"_at{j}")
        open_end = tj.is_null()
        if window is not None:
            open_end = open_end & ((x - nw.col("_a")).dt.total_seconds() <= window.total_seconds())
        hits = (
            f.filter(nw.col(STAGE).is_in(list(stages)))
            .select(LEAD_ID, nw.col(AT).alias("_x"))
            .join(chain.select(LEAD_ID, "_a", "_s", f"_at{i}", f"_at{j}"), on=LEAD_ID, how="inner")
            .filter(~ti.is_null() & (x > ti) & (open_end | (x < tj)))
            .select(LEAD_ID, "_s")
            .unique()
        )
        chain = chain.join(hits, on=[LEAD_ID, "_s"], how="anti")
    return chain


def _choose(chain: Any, n: int, order: str) -> Any:
    """
    Each lead's counted attempt: the furthest step, then the earliest there, then the latest start.
    """
    import narwhals as nw

    steps_done: Any = nw.lit(-1, dtype=nw.Int64)
    for k in range(n):
        steps_done = steps_done + (~nw.col(f"_at{k}").is_null()).cast(nw.Int64)
    chain = chain.with_columns(steps_done.alias(REACHED))
    if order != "unordered":
        # the time of the last step reached (nw.coalesce misaligned Dask partitions)
        last: Any = nw.col("_at0")
        for k in range(1, n):
            last = nw.when(nw.col(REACHED) == k).then(nw.col(f"_at{k}")).otherwise(last)
        chain = chain.with_columns(last.alias("_tend"))
    else:
        chain = chain.with_columns(nw.col("_a").alias("_tend"))
    chain = _checkpoint(chain)
    reached = chain.group_by(LEAD_ID).agg(nw.col(REACHED).max().alias("_best"))
    chain = chain.join(reached, on=LEAD_ID, how="inner").filter(nw.col(REACHED) == nw.col("_best"))
    chain = _checkpoint(chain.drop("_best"))
    if order != "unordered":
        first = chain.group_by(LEAD_ID).agg(nw.col("_tend").min().alias("_first"))
        chain = chain.join(first, on=LEAD_ID, how="inner").filter(
            nw.col("_tend") == nw.col("_first")
        )
        chain = _checkpoint(chain.drop("_first"))
    latest = chain.group_by(LEAD_ID).agg(nw.col("_a").max().alias("_latest"))
    chain = chain.join(latest, on=LEAD_ID, how="inner").filter(nw.col("_a") == nw.col("_latest"))
    chain = _checkpoint(chain.drop("_latest"))
    cols = [REACHED, *(f"_at{k}" for k in range(n))]
    return chain.group_by(LEAD_ID).agg(
        nw.col("_a").min().alias(ENTERED), *(nw.col(c).min() for c in cols)
    )


def _non_empty(column: str, frame: Any) -> Any:
    import narwhals as nw

    ok = ~nw.col(column).is_null()
    if frame.collect_schema()[column] == nw.String:
        ok = ok & (nw.col(column) != "")
    return ok


def _touch(rows: Any, column: str, which: str, has_row: bool) -> Any:
    """``lead_id, column``: each lead's first (or last) non-empty value, ties broken by row."""
    import narwhals as nw

    picked = rows.filter(_non_empty(column, rows))
    keys = [AT, ROW] if has_row else [AT]
    for key in keys:
        agg = nw.col(key).min() if which == "first" else nw.col(key).max()
        best = picked.group_by(LEAD_ID).agg(agg.alias("_best"))
        picked = picked.join(best, on=LEAD_ID, how="inner").filter(nw.col(key) == nw.col("_best"))
        picked = picked.drop("_best")
    # without a row column, equal times fall back to the smallest value
    return picked.group_by(LEAD_ID).agg(nw.col(column).min())


def _step_touch(
    rows: Any,
    per: Any,
    column: str,
    sets: tuple[tuple[str, ...], ...],
    k: int,
    order: str,
    has_row: bool,
) -> Any:
    """``lead_id, column``: the value on the lead's row entering step *k* (none: not reached)."""
    import narwhals as nw

    at_step = rows.filter(nw.col(STAGE).is_in(list(sets[k])))
    if order in ("ordered", "strict") and f"_at{k}" in per.columns:
        when = per.select(LEAD_ID, nw.col(f"_at{k}").alias("_when"))
        at_step = at_step.join(when, on=LEAD_ID, how="inner").filter(nw.col(AT) == nw.col("_when"))
        at_step = at_step.drop("_when")
    return _touch(at_step, column, "first", has_row)


def _planned(nwf: Any) -> Any:
    """
    An eager polars frame as a lazy one, so that polars plans the whole report at once.

    Eagerly, each step would materialise full-length columns (10M rows each on a
    10M-row log); lazily, polars prunes unused columns and fuses the steps, which
    keeps the report's cost per row flat as logs grow. Other engines are left as given.
    """
    import narwhals as nw

    if isinstance(nwf, nw.DataFrame) and nwf.implementation is nw.Implementation.POLARS:
        return nwf.lazy()
    return nwf


def _in_window(frame: Any, window: timedelta | None) -> Any:
    import narwhals as nw

    if window is None:
        return frame
    secs = window.total_seconds()
    return frame.filter((nw.col(AT) - nw.col(ENTERED)).dt.total_seconds() <= secs)


def _with_period(per: Any, every: str | None) -> Any:
    """Add :data:`KEY`, the entry period, when *every* is given."""
    import narwhals as nw

    if every is None:
        return per
    period = nw.col(ENTERED).dt.truncate(every)
    if per.implementation is nw.Implementation.PANDAS:
        # pandas 3 warns when narwhals truncates tz-aware values: do it in naive UTC
        naive = nw.col(ENTERED).dt.replace_time_zone(None).dt.truncate(every)
        period = naive.dt.replace_time_zone("UTC")
    return per.with_columns(period.alias(KEY))


@attrs.frozen(kw_only=True)
class ReachedCounts:
    """
    Distinct leads reaching each step, and outcomes.

    A lead reached step *k* if it entered step *k* or any later step (open
    funnel; the other orders: see :func:`reached_per_lead`); won if it entered
    a won stage; lost if it entered a lost stage and was not won. Only leads
    with a row in some step count. These are the figures of
    ``funnel.analytics.funnel_report(log)`` (``order="reached"``, no window).

    Attributes:
        steps: The steps, in order.
        counts: Distinct leads that reached each step.
        won: Leads that entered a won stage.
        lost: Leads that entered a lost stage and were not won.
        open: The others.
        values: The sum of the deal values of the leads reaching each step
            (leads with no value add nothing; all zero when values were not asked for).
        valued: How many of them have a value.
        won_value: The sum of the won leads' values.
        won_valued: How many won leads have a value.
    """

    steps: tuple[str, ...]
    counts: tuple[int, ...]
    won: int
    lost: int
    open: int
    values: tuple[float, ...] = ()
    valued: tuple[int, ...] = ()
    won_value: float = 0.0
    won_valued: int = 0

    @property
    def conversion(self) -> tuple[float | None, ...]:
        """Each step's count over the previous step's (``None`` for the first or a zero)."""
        out: list[float | None] = [None]
        for a, b in zip(self.counts, self.counts[1:], strict=False):
            out.append(b / a if a else None)
        return tuple(out)

    @classmethod
    def from_tally(
        cls,
        steps: Sequence[str],
        reached: Mapping[int, int],
        won: int,
        lost: int,
        value: Mapping[int, tuple[float, int]] | None = None,
        won_value: tuple[float, int] = (0.0, 0),
    ) -> ReachedCounts:
        """Build from ``{highest step index: leads}``, the won / lost-only totals and values."""
        counts: list[int] = []
        sums: list[float] = []
        ns: list[int] = []
        running, total_v, total_n = 0, 0.0, 0
        for k in reversed(range(len(steps))):
            running += int(reached.get(k, 0))
            v, nv = (value or {}).get(k, (0.0, 0))
            total_v += float(v)
            total_n += int(nv)
            counts.append(running)
            sums.append(total_v)
            ns.append(total_n)
        counts.reverse()
        sums.reverse()
        ns.reverse()
        total = counts[0] if counts else 0
        return cls(
            steps=tuple(steps),
            counts=tuple(counts),
            won=int(won),
            lost=int(lost),
            open=total - int(won) - int(lost),
            values=tuple(sums),
            valued=tuple(ns),
            won_value=float(won_value[0]),
            won_valued=int(won_value[1]),
        )


def key_columns(per: Any) -> list[str]:
    """The :data:`KEY` columns of a :func:`reached_per_lead` frame, in order."""
    cols = list(per.columns)
    return [c for c in cols if c == KEY or (c.startswith(KEY) and c[len(KEY) :].isdigit())]


def tally_reached(
    per: Any, steps: Sequence[str], *, keyed: bool = False
) -> dict[Any, ReachedCounts]:
    """
    The counts of a :func:`reached_per_lead` frame: ``{key: ReachedCounts}``.

    Without *keyed* the only key is ``None``; with it, one per value of
    :data:`KEY` (``None`` for a missing value; a tuple of values for several
    key columns). One group-by, then a few numbers leave the engine. An empty
    frame gives ``{}``.
    """
    import narwhals as nw

    kcols = key_columns(per) if keyed else []
    keys = [*kcols, REACHED]
    lost_only = ((nw.col(LOST) == 1) & (nw.col(WON) == 0)).cast(nw.Int64)
    aggs = [
        nw.len().alias("_n"),
        nw.col(WON).sum().alias("_nw"),
        nw.col("_lost_only").sum().alias("_nl"),
    ]
    frame = per.with_columns(lost_only.alias("_lost_only"))
    has_value = VALUE_COL in per.columns
    if has_value:
        v = nw.col(VALUE_COL)
        frame = frame.with_columns(
            v.fill_null(0.0).cast(nw.Float64).alias("_v"),
            (~v.is_null()).cast(nw.Int64).alias("_hv"),
            (v.fill_null(0.0).cast(nw.Float64) * nw.col(WON)).alias("_wv"),
            ((~v.is_null()).cast(nw.Int64) * nw.col(WON)).alias("_whv"),
        )
        aggs += [nw.col(c).sum() for c in ("_v", "_hv", "_wv", "_whv")]
    agg = frame.group_by(keys).agg(*aggs)
    tally: dict[Any, tuple[dict[int, int], list[float], dict[int, tuple[float, int]]]] = {}
    for row in collect(agg).iter_rows(named=True):
        if not keyed:
            key = None
        elif len(kcols) == 1:
            key = plain_value(row[KEY])
        else:
            key = tuple(plain_value(row[c]) for c in kcols)
        reached, outcome, values = tally.setdefault(key, ({}, [0, 0, 0.0, 0], {}))
        k = int(row[REACHED])
        reached[k] = reached.get(k, 0) + int(row["_n"])
        outcome[0] += int(row["_nw"] or 0)
        outcome[1] += int(row["_nl"] or 0)
        if has_value:
            old_v, old_n = values.get(k, (0.0, 0))
            values[k] = (old_v + float(row["_v"] or 0.0), old_n + int(row["_hv"] or 0))
            outcome[2] += float(row["_wv"] or 0.0)
            outcome[3] += int(row["_whv"] or 0)
    return {
        key: ReachedCounts.from_tally(
            steps,
            reached,
            int(won),
            int(lost),
            values,
            (float(wv), int(wn)),
        )
        for key, (reached, (won, lost, wv, wn), values) in tally.items()
    }


def collect(frame: Any) -> Any:
    """A narwhals frame, eager: lazy ones (polars, DuckDB, Dask, Spark) are collected to polars."""
    import narwhals as nw

    if isinstance(frame, nw.LazyFrame):
        return frame.collect(backend="polars")
    return frame


#: The types of the missing values of pandas and numpy (``NaT``, ``pd.NA``), by name:
#: neither is imported to test for them.
_MISSING_TYPES = frozenset({"NaTType", "NAType"})


def plain_value(value: Any) -> Any:
    """
    A cell as a plain Python value: a missing one ``None``, a pandas Timestamp a datetime.

    Missing is NaN, pandas' ``NaT`` and ``NA``, and numpy's ``NaT`` (a ``datetime64`` or
    ``timedelta64`` that is not a time).

    >>> plain_value(float("nan")) is None, plain_value(3)
    (True, 3)
    """
    if value is None:
        return None
    if isinstance(value, float):
        return None if math.isnan(value) else value
    kind = type(value)
    if kind.__name__ in _MISSING_TYPES:
        return None
    numpy_time = kind.__name__ in ("datetime64", "timedelta64") and kind.__module__ == "numpy"
    if numpy_time and str(value) == "NaT":
        return None
    if hasattr(value, "to_pydatetime"):
        return value.to_pydatetime()
    return value


def reached_polars(
    log: pl.DataFrame | pl.LazyFrame,
    *,
    funnel: Funnel = DEFAULT_FUNNEL,
    steps: Sequence[str] | None = None,
) -> ReachedCounts:
    """
    The reached-stage report of a stage log (``lead_id``, ``at``, ``stage``) with polars.

    :func:`reached_per_lead` then :func:`tally_reached`: one group-by over the
    rows, then a tally over leads; nothing leaves polars but a few numbers.
    """
    steps_t = report_steps(funnel, steps)
    per = reached_per_lead(log, funnel=funnel, steps=steps_t)
    return tally_reached(per, steps_t).get(None) or ReachedCounts.from_tally(steps_t, {}, 0, 0)


# --------------------------------------------------------------------------- one-pass tally
#
# The reached report as one aggregation: each row becomes a bitmask (a bit per step
# whose stage it names, one for a won stage, one for a lost stage), each lead the OR
# of its rows' masks, and the report a count of leads per distinct mask (a few
# hundred at most). The lead ids are hashed once, by that one group-by; the stages
# present in the log are the OR of every mask, so present_steps needs no pass of its
# own. Breakdowns attribute with one min (max) per column of an Int128 key that
# orders rows as _touch does: (at, row, the value's rank among the column's values).


@attrs.frozen(kw_only=True)
class MaskTally:
    """
    What :func:`mask_tally` found.

    Attributes:
        steps: The report's steps (the present ones when none were given).
        reports: ``{key: ReachedCounts}`` (key ``None`` without *by* or *every*).
        total: The counts over every lead.
        also: The *also* plans, collected with the tally (polars: in one run).
    """

    steps: tuple[str, ...]
    reports: dict[Any, ReachedCounts]
    total: ReachedCounts
    also: tuple[Any, ...] = ()


#: Where the mask of :func:`mask_tally` keeps the outcomes, "a null stage (to replay)" and
#: "a stage the funnel does not know (or a null one, not replayed)", after the step bits.
_WON_BIT, _LOST_BIT, _REPLAY_BIT, _UNKNOWN_BIT, _NOLEAD_BIT = 0, 1, 2, 3, 4
_FLAGS = 5


def _stage_bits(funnel: Funnel, bit_steps: Sequence[str]) -> tuple[dict[str, int], int]:
    """``{stage: mask}`` and the number of step bits (outcome bits follow them)."""
    n = len(bit_steps)
    out: dict[str, int] = {}
    for stage in funnel.stages:
        m = 0
        for i, s in enumerate(bit_steps):
            if s == stage:
                m |= 1 << i
        if stage in funnel.won_stages:
            m |= 1 << (n + _WON_BIT)
        if stage in funnel.lost_stages:
            m |= 1 << (n + _LOST_BIT)
        out[stage] = m
    return out, n


def _decode(
    rows: Iterable[tuple[Any, int, int]],
    bit_steps: Sequence[str],
    steps_given: bool,
    nulls_checked: bool = False,
) -> tuple[tuple[str, ...], dict[Any, ReachedCounts], ReachedCounts] | None:
    """
    Counts from ``(key, mask, leads)`` rows; ``None`` when some row has a null stage
    (it may need a replay), unless *nulls_checked* says none does.
    """
    n = len(bit_steps)
    rows = list(rows)
    seen = 0
    for _, m, _ in rows:
        seen |= int(m)
    if seen >> (n + _REPLAY_BIT) & 1 and not nulls_checked:
        return None
    if steps_given:
        kept = list(range(n))
    else:  # present_steps: the main-path stages some row names (none: all of them)
        kept = [i for i in range(n) if seen >> i & 1] or list(range(n))
    steps = tuple(bit_steps[i] for i in kept)
    index = {bit: k for k, bit in enumerate(kept)}
    step_mask = (1 << n) - 1
    highest: dict[int, int] = {}
    tallies: dict[Any, tuple[dict[int, int], list[int]]] = {}
    total: tuple[dict[int, int], list[int]] = ({}, [0, 0])
    for key, m, count in rows:
        m = int(m)
        s = m & step_mask
        if not s:
            continue  # not in the funnel
        k = highest.get(s)
        if k is None:
            k = highest[s] = index[s.bit_length() - 1]
        won = m >> (n + _WON_BIT) & 1
        lost = (m >> (n + _LOST_BIT) & 1) and not won
        for reached, outcome in (tallies.setdefault(key, ({}, [0, 0])), total):
            reached[k] = reached.get(k, 0) + count
            outcome[0] += count if won else 0
            outcome[1] += count if lost else 0
    reports = {
        key: ReachedCounts.from_tally(steps, r, w, lo) for key, (r, (w, lo)) in tallies.items()
    }
    return steps, reports, ReachedCounts.from_tally(steps, total[0], total[1][0], total[1][1])


def mask_tally(
    nwf: Any,
    *,
    funnel: Funnel = DEFAULT_FUNNEL,
    steps: Sequence[str] | None = None,
    by: Sequence[str] = (),
    attribution: Any = "first",
    every: str | None = None,
    also: Sequence[Any] = (),
) -> MaskTally | None:
    """
    The reached report (``order="reached"``, no window) in one aggregation, or ``None``.

    The same figures as :func:`reached_per_lead` then :func:`tally_reached` (and,
    with *steps* ``None``, the steps of ``present_steps``), for polars frames
    (eager or lazy; narwhals-wrapped or native, the latter read without importing
    narwhals) and DuckDB relations; breakdown columns (*by*, first or last
    touch) and cohorts (*every*) on polars. ``None`` says "use the general path":
    another engine, a column type the keys cannot order, or rows that need a
    replay (a null stage with an event). *also* are more lazy polars plans over
    the same log (polars only), run with the tally in one ``collect_all`` so
    that polars reads the log once; their frames come back in ``also``.
    """
    polars_native = is_polars_frame(nwf)  # a native polars frame: no narwhals at all
    columns: list[str] = nwf.collect_schema().names() if polars_native else nwf.columns
    if STAGE not in columns or LEAD_ID not in columns or AT not in columns:
        return None
    if attribution not in ATTRIBUTIONS or (by and every is not None):
        return None
    bit_steps = tuple(funnel.main_path if steps is None else steps)
    if len(set(bit_steps)) != len(bit_steps):
        return None
    bits, n = _stage_bits(funnel, bit_steps)
    if n + _FLAGS > 63:
        return None
    check_replay = EVENT in columns
    extra: tuple[Any, ...] = ()
    if polars_native:
        impl, native = None, nwf
    else:
        import narwhals as nw

        impl, native = nwf.implementation, nwf.to_native()
    if polars_native or impl is nw.Implementation.POLARS:
        found_rows = _mask_rows_polars(
            native,
            bits,
            n,
            bit_steps,
            by,
            attribution,
            every,
            check_replay=check_replay,
            also=also,
        )
        rows, extra = found_rows if found_rows is not None else (None, ())
    elif also:
        return None
    elif impl is nw.Implementation.DUCKDB and not by and every is None:
        rows = _mask_rows_duckdb(native, bits, n, check_replay=check_replay)
    else:
        return None
    if rows is None:
        return None
    if any(int(m) >> (n + _UNKNOWN_BIT) & 1 for _k, m, _c in rows):
        check_stages(nwf, funnel, polars_native=polars_native)  # or only null stages
    found = _decode(rows, bit_steps, steps is not None)
    if found is None:  # null stages: rows with an event need a replay, others add nothing
        if needs_replay_rows(nwf, polars_native=polars_native):
            return None
        found = _decode(rows, bit_steps, steps is not None, nulls_checked=True)
        if found is None:
            return None
    steps_t, reports, total = found
    return MaskTally(steps=steps_t, reports=reports, total=total, also=extra)


def check_stages(frame: Any, funnel: Funnel, *, polars_native: bool = False) -> None:
    """
    A :class:`LoadError` (:func:`raise_unknown_stages`) if a row of *frame* (a narwhals
    or native polars frame, eager or lazy) names a stage *funnel* does not have.

    One pass over the stage column; a null stage is no unknown one.
    """
    stages = list(funnel.stages)
    if polars_native:
        import polars as pl

        known = pl.col(STAGE).cast(pl.String).is_in(stages)
        odd = pl.col(STAGE).is_not_null() & ~known
        found = frame.lazy().select(odd.sum()).collect().item()
    else:
        import narwhals as nw

        stage = nw.col(STAGE)
        text = stage.cast(nw.String) if frame.collect_schema()[STAGE] != nw.String else stage
        odd_nw = (~stage.is_null() & ~text.is_in(stages)).cast(nw.Int64).sum()
        found = collect(frame.select(odd_nw)).item()
    if found:
        raise_unknown_stages(int(found), funnel)


def raise_unknown_stages(count: int, funnel: Funnel) -> None:
    """The :class:`LoadError` of a log with *count* rows whose stage *funnel* lacks."""
    raise LoadError(
        f"{count} row(s) have a stage that is not a stage of funnel {funnel.name!r} "
        f"({', '.join(funnel.stages)}); they would count for nothing. Load the log with "
        "load_frame(...) or load_csv(...): they list each such row ('unknown-stage'), "
        "and stages={...} maps a CRM's names onto the funnel's"
    )


def needs_replay_rows(frame: Any, *, polars_native: bool) -> bool:
    """Whether some row of *frame* has an event and no stage (a narwhals or polars frame)."""
    if polars_native:
        import polars as pl

        found = (
            frame.lazy()
            .select((pl.col(STAGE).is_null() & pl.col(EVENT).is_not_null()).sum())
            .collect()
        )
        return bool(found.item())
    import narwhals as nw

    needs = frame.select(
        (nw.col(STAGE).is_null() & ~nw.col(EVENT).is_null()).cast(nw.Int64).sum().alias("n")
    )
    if isinstance(needs, nw.LazyFrame):
        needs = needs.collect()
    return bool(needs.item() or 0)


def _codes(column: str, values: Sequence[str]) -> Any:
    """
    Each row's index in *values* (a null for a null or any other value), as polars codes.

    Cast to an ``Enum`` of *values*, a string column's codes cost well under what a
    ``replace_strict`` lookup of the same strings does (one race of 21 rounds at 1M
    rows: the report's mask 31 ms against 53 ms, its whole query 56 ms against 81 ms;
    at 10M the query 0.69 s against 1.06 s).
    """
    import polars as pl

    return pl.col(column).cast(pl.Enum(values), strict=False).to_physical()


def _free_name(name: str, taken: Sequence[str]) -> str:
    """*name*, or *name* with more leading underscores, so that it is none of *taken*."""
    while name in taken:
        name = "_" + name
    return name


def _mask_expr(bits: Mapping[str, int], n: int, check_replay: bool) -> Any:
    import polars as pl

    dtype = pl.UInt32 if n + _FLAGS <= 32 else pl.UInt64
    stages = list(bits)
    # a stage's mask by its code; a null or unknown stage has no code: the unknown bit
    # (mask_tally then counts the unknown stages; null ones only are "not in the funnel")
    unknown = 1 << (n + _UNKNOWN_BIT)
    lookup = pl.Series([bits[s] for s in stages] + [unknown], dtype=dtype)
    m = pl.lit(lookup).gather(_codes(STAGE, stages).fill_null(len(stages)))
    if check_replay:  # a null stage (reading the event column only if there is one)
        # (a when/then: a null old value in replace_strict measured slower on scan_parquet)
        replay = pl.col(STAGE).is_null()
        m = pl.when(replay).then(pl.lit(1 << (n + _REPLAY_BIT), dtype=dtype)).otherwise(m)
    return m


#: What the one aggregation on polars gives: the tally's ``(key, mask, leads)`` rows and
#: the frames of its *also* plans.
_MaskRows = tuple[list[tuple[Any, int, int]], tuple[Any, ...]]

#: Rows read for a guess at a long text column's values (a breakdown's *by*).
_SAMPLE = 1 << 14

#: The step between a sample's rows, as a fraction of the frame's height (1/phi).
_SPREAD = 0.6180339887498949

#: More distinct values than this in a sample: the column's values are read from all rows.
_GUESS_MAX = _SAMPLE // 64

#: Leads to recount that are more than 1/this of the leads, or whose rows are more than
#: 1/this of the rows: one exact count of all rows instead.
_RECOUNT_SHARE = 4

#: A value the guess did not see (a guessed column's code 0).
_UNSEEN = object()


def _mask_rows_polars(
    native: Any,
    bits: Mapping[str, int],
    n: int,
    bit_steps: Sequence[str],
    by: Sequence[str],
    attribution: str,
    every: str | None,
    *,
    check_replay: bool,
    also: Sequence[Any] = (),
    sample: bool = True,
    guesses: Mapping[str, list[str]] | None = None,
) -> _MaskRows | None:
    """
    The tally's ``(key, mask, leads)`` rows and the frames of *also*, or ``None``.

    A long text *by* column of an eager frame is coded from a guess at its values, read
    from a sample of its rows (with *sample*; *guesses* gives them instead). A value the
    guess lacks has code 0, below every other: a lead's key is exact unless it is 0 (its
    first or last row, or one tied with it, has such a value). If some lead's key is,
    the rows of the leads with such a value are tallied again, both ways, and their
    guessed counts replaced by the exact ones.
    """
    import polars as pl

    if check_replay and isinstance(native, pl.DataFrame) and not native[STAGE].null_count():
        check_replay = False  # no null stage, no row to replay (a count kept by the column)
    lf = native.lazy()
    schema = lf.collect_schema()
    if not (schema[STAGE] in (pl.String, pl.Categorical) or isinstance(schema[STAGE], pl.Enum)):
        return None

    def tally_of(frame: Any, **options: Any) -> _MaskRows | None:
        """This tally (the same steps, keys and checks) of *frame*, with *options*."""
        return _mask_rows_polars(
            frame, bits, n, bit_steps, by, attribution, every, check_replay=check_replay, **options
        )

    if (by or every is not None) and not schema[AT].is_temporal():
        return None
    has_row = ROW in schema
    # the mask is a column of its own first, under a name no column of the log has (a by
    # column may be named "_m"); a step row's mask has a step bit (an integer test on the
    # column, not a second lookup of the stage strings). One with_columns computing the
    # mask's expression twice, shared by polars' common-subexpression pass, measured
    # slower: at 1M rows the breakdown's query 111 ms against 97 ms.
    m_name = _free_name("_m", schema.names())
    masked = lf.with_columns(_mask_expr(bits, n, check_replay).alias(m_name))
    is_step = (pl.col(m_name) & ((1 << n) - 1)) != 0
    cols: list[Any] = []
    aggs: list[Any] = [pl.col(m_name).bitwise_or().alias("_m")]
    keys: list[str] = []
    decoders: list[list[Any] | None] = []
    guessed: set[str] = set()
    if by:
        for c in by:
            if not (
                schema[c] == pl.String or schema[c].is_integer() or isinstance(schema[c], pl.Enum)
            ):
                return None
        if has_row and not schema[ROW].is_integer():
            return None
        # an Enum column's values are its categories: no pass to find them. A long text
        # column of an eager frame: a guess, the values of a sample of its rows, checked
        # by the tally (a value the sample missed has code 0, which shows where it counts)
        eager = isinstance(native, pl.DataFrame)
        long = eager and sample and native.height >= 2 * _SAMPLE
        if guesses is not None:
            guessed = set(guesses)
        else:
            guessed = {c for c in by if long and schema[c] == pl.String}
        # the sample's rows: the fraction of i * the golden ratio, times the height, for i
        # below _SAMPLE: spread evenly at every height (three gap sizes at most), and in
        # step with no regular layout of rows, as every n-th row is with n rows a lead
        if guessed:
            spread = (pl.int_range(_SAMPLE).cast(pl.Float64) * _SPREAD) % 1.0
            picks = (spread * pl.len()).floor().cast(pl.Int64)
        phys = pl.col(AT).to_physical()
        wanted = [phys.min().alias("_t0"), phys.max().alias("_t1")]
        if has_row:
            row_c = pl.col(ROW)
            wanted += [row_c.min().alias("_r0"), row_c.max().alias("_r1")]
            wanted.append(row_c.null_count().alias("_rn"))
        scanned = False  # a column's values read from all its rows
        for i, c in enumerate(by):
            if not isinstance(schema[c], pl.Enum) and (guesses is None or c not in guesses):
                scanned = scanned or c not in guessed
                v = pl.col(c).gather(picks) if c in guessed else pl.col(c)
                wanted.append(v.drop_nulls().unique().implode().alias(f"_v{i}"))
        # one select: its expressions run side by side. A lazy one when it reads a column's
        # values (at 1M rows a lazy unique takes 4 ms, an eager one 12 ms), else an eager
        # one (the bounds and a sample: 0.45 ms, against 1.4 ms lazy)
        found = native.select(wanted) if eager and not scanned else lf.select(wanted).collect()
        limits = found.row(0, named=True)
        if has_row and limits["_rn"]:
            return None  # rows without a row number: the general path's ties
        # one integer orders a lead's touch rows as _touch does: (at, row, value rank)
        t_lo = limits["_t0"] or 0
        t_bits = max(int((limits["_t1"] or 0) - t_lo), 0).bit_length()
        r_lo = (limits["_r0"] or 0) if has_row else 0
        r_bits = max(int((limits["_r1"] or 0) - r_lo), 0).bit_length() if has_row else 0
        uniques: list[list[Any]] = []
        sampled: dict[str, list[str]] = {}  # a guessed column's values, "" if the sample has it
        for i, c in enumerate(by):
            if c in guessed:
                sampled[c] = list(guesses[c]) if guesses is not None else limits[f"_v{i}"]
                uniques.append(sorted(v for v in sampled[c] if v != ""))
            elif isinstance(schema[c], pl.Enum):
                uniques.append(sorted(v for v in schema[c].categories.to_list() if v != ""))
            else:
                uniques.append(sorted(v for v in limits[f"_v{i}"] if v != ""))
        if guesses is None and any(len(uniques[by.index(c)]) > _GUESS_MAX for c in guessed):
            # many values in the sample: a long tail it misses much of; read them all
            return tally_of(native, also=also, sample=False)
        # a guessed column's codes start at 1: 0 is a value the sample did not see, which
        # wins every tie, so that a lead whose key it is shows (the exact path then runs)
        c_bits = max(  # the largest code: len(u) - 1, or len(u) from 1
            max(len(u) - (c not in guessed), 0) for c, u in zip(by, uniques, strict=True)
        ).bit_length()
        width = t_bits + r_bits + c_bits
        if width > 126:
            return None
        # the key's type holds the key and each row number cast to it (a UInt64 one of
        # 2**63 or more fits no Int64)
        small = width <= 62 and (limits.get("_r1") or 0) < 1 << 63
        dtype = pl.Int64 if small else pl.Int128
        t = (phys.cast(dtype) - t_lo) * (1 << (r_bits + c_bits))
        if has_row:
            t = t + (pl.col(ROW).cast(dtype) - r_lo) * (1 << c_bits)
        code_mask = (1 << c_bits) - 1
        for i, (c, uniq) in enumerate(zip(by, uniques, strict=True)):
            # a null or empty value has no code (it is not in uniq): a null key, which
            # min/max skip, so no test of its own
            if c in guessed and "" in sampled[c]:  # the rank from 1; a value not seen: 0
                code = (_codes(c, uniq).cast(dtype) + 1).fill_null(0) if uniq else pl.lit(0)
            elif c in guessed:  # the same, by the code in ["", *uniq]; and "" has code 0
                code = _codes(c, ["", *uniq]).cast(dtype).fill_null(0)
            elif not uniq:
                code = pl.lit(None, dtype=dtype)
            elif isinstance(schema[c], pl.Enum):  # the category's rank, by its code
                rank = {v: k for k, v in enumerate(uniq)}
                ranks = [rank.get(v) for v in schema[c].categories.to_list()]
                code = pl.lit(pl.Series(ranks, dtype=dtype)).gather(pl.col(c).to_physical())
            elif schema[c] == pl.String:  # the value's rank: its code in the sorted values
                code = _codes(c, uniq).cast(dtype)
            else:
                code = pl.col(c).replace_strict(
                    uniq, range(len(uniq)), default=None, return_dtype=dtype
                )
            if attribution == "last":  # the latest row, then the smallest value
                code = code_mask - code
            name = f"_k{i}"
            # a row with the empty text has no key (a null one); where the sample saw none,
            # its code is 0 instead, as a missed value's (one test less a row, measured
            # 1 ms of 39 at 1M): its lead is recounted as one with a missed value is
            if c in guessed:
                step = is_step & (pl.col(c) != "" if "" in sampled[c] else pl.col(c).is_not_null())
            else:
                step = is_step
            cols.append(pl.when(step).then(t + code).alias(name))
            aggs.append(pl.col(name).min() if attribution == "first" else pl.col(name).max())
            keys.append(name)
            decoders.append([_UNSEEN, *uniq] if c in guessed else uniq)
    if every is not None:
        cols.append(pl.when(is_step).then(pl.col(AT)).alias("_t"))
        aggs.append(pl.col("_t").min())
        keys.append("_k0")
        decoders.append(None)
    per = masked.with_columns(*cols).group_by(LEAD_ID).agg(*aggs)

    if by:
        low = [pl.col(k) & code_mask for k in keys]  # the value's rank: the low bits
        per = per.with_columns(
            (v if attribution == "first" else code_mask - v).cast(pl.Int64).alias(k)
            for k, v in zip(keys, low, strict=True)
        )
    if every is not None:
        per = per.with_columns(pl.col("_t").dt.truncate(every).alias("_k0"))
    # a null lead id is one more group of the lead group-by, and a blank one a lead: keyed
    # apart by a test of the lead (a key of the small group-by of leads, not a pass over
    # the rows), the rows are counted below if any lead may be no lead
    if isinstance(native, pl.DataFrame) and native[LEAD_ID].null_count():  # (kept count)
        raise_missing_leads(missing_lead_rows(native, polars_native=True))
    suspect = lead_suspects(schema[LEAD_ID])
    # (a bit of the mask, which the tally groups by anyway: a key of its own measured 6 %
    # of the breakdown's time at 10M rows)
    nolead_bit = 1 << (n + _NOLEAD_BIT)
    mask_type = pl.UInt32 if n + _FLAGS <= 32 else pl.UInt64
    per = per.with_columns(pl.col("_m") | (suspect.cast(mask_type) * nolead_bit))
    plan = per.group_by(*keys, "_m").agg(pl.len())
    if also:
        tally, *extra = pl.collect_all([plan, *also])
    else:
        tally, extra = plan.collect(), []
    # (tested in Python: the tally has a few hundred rows, and after the big query each
    # eager polars operation on it took 0.3-0.5 ms at 1M rows)
    rows = tally.rows()
    if any((row[-2] or 0) & nolead_bit for row in rows):
        missing = missing_lead_rows(native, polars_native=True)
        if missing:
            raise_missing_leads(missing)
    out: list[tuple[Any, int, int]] = []
    for row in rows:
        ks, m, count = row[:-2], row[-2], row[-1]
        vals = [
            None if v is None else (dec[v] if dec is not None else plain_value(v))
            for v, dec in zip(ks, decoders, strict=True)
        ]
        key = None if not keys else vals[0] if len(vals) == 1 else tuple(vals)
        out.append((key, int(m or 0), int(count)))
    if guesses is None and guessed and any(_unseen_in(key) for key, _m, _c in out):
        # a value the guess lacks is some lead's key: those leads, exactly
        found = _recounted(out, lf, schema, by, sampled, native.height, tally_of)
        if found is None:  # (many leads to recount) one exact count of all rows
            exact = tally_of(native, sample=False)
            if exact is None:
                return None
            found = exact[0]
        out = found
    return out, tuple(extra)


def _recounted(
    out: list[tuple[Any, int, int]],
    lf: pl.LazyFrame,
    schema: Any,
    by: Sequence[str],
    given: Mapping[str, list[str]],
    height: int,
    tally_of: Callable[..., _MaskRows | None],
) -> list[tuple[Any, int, int]] | None:
    """
    The tally *out* (from the guesses *given*, of a log *lf* of *height* rows) with the
    leads that hold a value the guesses lack counted exactly, by *tally_of* (the same
    tally of other rows), or ``None`` when they are too many (more than 1 in
    :data:`_RECOUNT_SHARE` of the leads or of the rows) or a count goes wrong: count
    all rows then.
    """
    import polars as pl

    leads_in = sum(count for _k, _m, count in out)
    missed = sum(count for key, _m, count in out if _unseen_in(key))
    if missed * _RECOUNT_SHARE > leads_in:
        return None
    unseen = []  # a value not in the sample; the empty text too, if the sample had none
    for c, values in given.items():
        known = [v for v in values if v != ""]
        test = pl.col(c).is_not_null() & (pl.col(c) != "" if "" in values else pl.lit(True))
        unseen.append(test & (_codes(c, known).is_null() if known else pl.lit(True)))
    # the leads with such a value on any row (a superset: a cheaper test than one of
    # step rows only), then all their rows, in the columns a count reads: two lazy
    # queries, which measured a third faster at 1M rows than one with the semi-join
    leads = lf.filter(pl.any_horizontal(unseen)).select(pl.col(LEAD_ID).unique()).collect()
    if leads.height * _RECOUNT_SHARE > leads_in:
        return None
    read = [LEAD_ID, AT, STAGE, *((ROW,) if ROW in schema else ()), *by]
    their_rows = (
        lf.select(list(dict.fromkeys(read))).join(leads.lazy(), on=LEAD_ID, how="semi").collect()
    )
    if their_rows.height * _RECOUNT_SHARE > height:
        return None  # few leads, most rows: counted twice more, where one count would do
    again = [tally_of(their_rows, sample=False, guesses=g) for g in (given, None)]
    if again[0] is None or again[1] is None:
        return None
    counts: dict[tuple[Any, int], int] = {}
    for sign, found_rows in ((1, out), (-1, again[0][0]), (1, again[1][0])):
        for key, m, count in found_rows:
            counts[key, m] = counts.get((key, m), 0) + sign * count
    found = [(key, m, count) for (key, m), count in counts.items() if count]
    if any(count < 0 or _unseen_in(key) for key, _m, count in found):  # (never seen)
        return None
    return found


def _unseen_in(key: Any) -> bool:
    return key is _UNSEEN or (isinstance(key, tuple) and any(k is _UNSEEN for k in key))


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _mask_rows_duckdb(
    rel: Any, bits: Mapping[str, int], n: int, *, check_replay: bool
) -> list[tuple[Any, int, int]]:
    # the null check sits in ELSE: DuckDB evaluates it only for rows no stage matched; a
    # stage the funnel does not know has the unknown bit (mask_tally counts them)
    null = 1 << (n + _REPLAY_BIT) if check_replay else 0
    other = f"CASE WHEN {STAGE} IS NULL THEN {null} ELSE {1 << (n + _UNKNOWN_BIT)} END"
    cases = " ".join(f"WHEN {_sql_string(s)} THEN {m}" for s, m in bits.items())
    mask = f"CASE {STAGE} {cases} ELSE {other} END"
    # the relational API, not rel.query(sql): the same plan, with fewer round trips through
    # DuckDB's Python layer (measured 4-5 ms less a call, on a 2,000-row and a 1M-row file)
    # a null or (text ids) possibly blank lead: keyed apart, counted if there is one
    types = dict(zip(rel.columns, (str(t) for t in rel.types), strict=True))
    kind = types.get(LEAD_ID, "")
    text = kind == "VARCHAR" or kind.startswith("ENUM")
    lead = f"CAST({LEAD_ID} AS VARCHAR)" if kind.startswith("ENUM") else LEAD_ID  # (its text)
    nan = kind in ("DOUBLE", "FLOAT", "REAL")
    nolead = (
        f"{lead} IS NULL OR {lead} < '!' OR {lead} >= '\u0080'"
        if text
        else f"{lead} IS NULL OR isnan({lead})"
        if nan
        else f"{lead} IS NULL"
    )
    per_lead = rel.aggregate(f"bit_or({mask}) AS m, ({nolead}) AS nolead", LEAD_ID)
    found = per_lead.aggregate("m, nolead, count(*) AS n", "m, nolead").fetchall()
    if any(nolead for _m, nolead, _c in found):
        bad = (
            f"{lead} IS NULL OR trim({lead}, {_sql_string(WHITE_SPACE)}) = ''" if text else nolead
        )
        nulls = rel.filter(bad).aggregate("count(*)").fetchall()
        if int(nulls[0][0]):
            raise_missing_leads(int(nulls[0][0]))
    return [(None, int(m or 0), int(c)) for m, _nolead, c in found]
