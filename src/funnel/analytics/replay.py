"""
Replay an event log into each lead's current stage and stage history.

The rows are taken in input order (``row``) and stepped by the engine's one
replay loop, :func:`funnel.engine.replay.replay_rows`, with the first edge of
each ``(stage, event)`` of the funnel's derived :class:`~funnel.spec.table.TransitionTable`;
``(stage, target) -> event`` names the edge a stage row followed. Guards are not
evaluated: the log records what happened, and the replay checks it against the
funnel's edges.

* A lead starts at the stage of its first row if that row names a stage
  only; otherwise (its first row names an event) at the funnel's initial
  stage, entered at that row's time.
* An **event** row moves the lead along the event's edge. If the event has
  no edge from the lead's stage, the row is reported (``illegal-event``) and
  the lead stays; if the row also names a stage and the edge leads
  elsewhere, it is reported (``event-stage-mismatch``) and the lead stays.
* A **stage** row moves the lead to that stage. If no edge joins the two
  stages, the row is reported (``no-edge``) but the lead still moves: the
  log is what was observed. Repeating the current stage is a no-op.

Problems are returned, never raised.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs
import narwhals as nw

from funnel._base.frames import Kind, check_backend, to_frame
from funnel._base.markup import label_repr
from funnel.analytics._cards import replay_card, replay_repr
from funnel.analytics.eventlog import check_log_columns, read_log
from funnel.engine.funnel import Funnel
from funnel.engine.replay import plain_value, replay_rows, stage_counts
from funnel.model.eventlog import AT, EVENT, FROM_STAGE, LEAD_ID, ROW, STAGE, TO_STAGE
from funnel.model.history import StageChange

#: One transition: (from_stage, to_stage, event, at, row). ``event`` is ``""``
#: when a stage row had no edge.
_Change = tuple[str, str, str, datetime, int]


@attrs.frozen
class ReplayProblem:
    """
    A row the replay could not follow as written.

    Attributes:
        row: The row number (1-based data row, as in the load result).
        lead_id: The lead.
        kind: ``illegal-event``, ``event-stage-mismatch`` or ``no-edge``.
        message: What went wrong, for people.

    The repr masks e-mail addresses and phone numbers in the lead id and the message
    (:func:`funnel._base.markup.label_repr`, as records' reprs do).
    """

    row: int
    lead_id: str = attrs.field(repr=label_repr)
    kind: str
    message: str = attrs.field(repr=label_repr)


@attrs.frozen(kw_only=True)
class Replay:
    """
    Every lead's current stage and history after replaying a log.

    Attributes:
        funnel: The funnel replayed against.
        current: ``{lead_id: current stage}``.
        entered: ``{lead_id: (first stage, time, row)}``.
        problems: Rows that could not be followed as written.
    """

    funnel: Funnel = attrs.field(repr=False)
    current: Mapping[str, str]
    entered: Mapping[str, tuple[str, datetime, int]] = attrs.field(repr=False)
    problems: tuple[ReplayProblem, ...]
    _changes: Mapping[str, list[_Change]] = attrs.field(repr=False, alias="changes")

    def history(self, lead_id: str) -> tuple[StageChange, ...]:
        """The lead's transitions as :class:`~funnel.StageChange` records."""
        return tuple(
            StageChange(from_stage=a, to_stage=b, event=e or "(observed)", at=t)
            for a, b, e, t, _ in self._changes.get(lead_id, ())
        )

    def stage_counts(self) -> dict[str, int]:
        """How many leads are currently in each stage (funnel order)."""
        return stage_counts(self.current.values(), self.funnel)

    def transition_count(self) -> int:
        """How many transitions the replay followed (every lead, every change)."""
        return sum(len(changes) for changes in self._changes.values())

    def to_frame(self, backend: str = "polars") -> Any:
        """
        The transitions as a frame: lead_id, row, at, from_stage, to_stage, event, by row.

        A polars frame by default; ``backend="pandas"`` gives a pandas frame.
        """
        rows = [
            (lead, row, at, a, b, e)
            for lead, changes in self._changes.items()
            for a, b, e, at, row in changes
        ]
        return _frame(rows, (LEAD_ID, ROW, AT, FROM_STAGE, TO_STAGE, EVENT), backend, (ROW,))

    def stage_frame(self, backend: str = "polars") -> Any:
        """
        One row per stage entered (first entries included): lead_id, row, at, stage.

        Sorted by row then time; a polars frame, or pandas with ``backend="pandas"``.
        """
        rows = [(lead, row, at, stage) for lead, (stage, at, row) in self.entered.items()]
        rows += [
            (lead, row, at, b)
            for lead, changes in self._changes.items()
            for _, b, _, at, row in changes
        ]
        return _frame(rows, (LEAD_ID, ROW, AT, STAGE), backend, (ROW, AT))

    # A summary, never every lead: a replay of a CRM has thousands (funnel.analytics._cards).
    def __repr__(self) -> str:
        return replay_repr(self)

    def _repr_html_(self) -> str:
        return replay_card(self, self._changes)


def _frame(
    rows: list[tuple[Any, ...]], names: tuple[str, ...], backend: str, by: tuple[str, ...]
) -> Any:
    """A frame of *rows* sorted *by*: ``row`` Int64, ``at`` UTC timestamps, other columns text."""
    check_backend(backend)
    if backend == "polars":  # row-wise straight into polars: the report's replay path
        import polars as pl

        dtypes: dict[str, pl.DataType] = {ROW: pl.Int64(), AT: pl.Datetime("us", "UTC")}
        schema = {name: dtypes.get(name, pl.String()) for name in names}
        return pl.DataFrame(rows, schema=schema, orient="row").sort(by)
    columns = dict(zip(names, map(list, zip(*rows, strict=True)), strict=True)) if rows else {}
    kinds: dict[str, Kind] = dict.fromkeys(names, "str")
    kinds.update({ROW: "int", AT: "datetime"})
    frame = to_frame({name: columns.get(name, []) for name in names}, backend, kinds=kinds)
    return frame.sort_values(list(by), kind="stable", na_position="first").reset_index(drop=True)


def replay_log(log: Any, *, funnel: Funnel | None = None) -> Replay:
    """
    Replay *log* (a load result or a frame of accepted rows) through the funnel.

    Rows are taken in ``row`` order when that column exists, else in frame
    order (lazy frames: sorted by ``at``).

    Raises:
        LoadError: *log* is not a frame or lacks ``lead_id``/``at``/``stage``-or-``event``.

    >>> import polars as pl
    >>> from datetime import datetime, timezone
    >>> t = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> log = pl.DataFrame(dict(lead_id=["a", "a", "a"], at=[t, t, t],
    ...                         event=[None, "mark_mql", "win"],
    ...                         stage=["acquired", None, None]))
    >>> result = replay_log(log)
    >>> result.current["a"], [p.kind for p in result.problems]
    ('mql', ['illegal-event'])
    """
    nwf, funnel = read_log(log, funnel)
    check_log_columns(nwf.columns)
    # Each lead's rows in time order, ties (and rows without a time, first) in file order:
    # the result does not depend on how the file was sorted.
    if ROW not in nwf.columns and isinstance(nwf, nw.DataFrame):
        nwf = nwf.with_row_index(ROW).with_columns(nw.col(ROW) + 1)
    order = [AT, ROW] if ROW in nwf.columns else [AT]
    if AT in nwf.columns:
        nwf = nwf.sort(order, nulls_last=False)
    if isinstance(nwf, nw.LazyFrame):
        nwf = nwf.collect(backend="polars")
    cols = nwf.columns
    n = int(nwf.shape[0])
    stages = _values(nwf, STAGE, n)
    events = _values(nwf, EVENT, n)
    rows = nwf.get_column(ROW).to_list() if ROW in cols else list(range(1, n + 1))
    at = nwf.get_column(AT)
    # A missing time is None, whichever engine read it (pandas gives NaT, which polars and
    # the frames built from the replay cannot take as a datetime).
    ats = _values(nwf, AT, n) if at.null_count() else at.to_list()
    return _replay(funnel, nwf.get_column(LEAD_ID).to_list(), ats, stages, events, rows)


def _values(nwf: Any, name: str, n: int) -> list[Any]:
    """
    The column's values, ``None`` for missing ones (NaN, ``NaT`` and ``pd.NA`` in pandas,
    whose ``!=`` has no truth value); all ``None`` if absent.
    """
    if name not in nwf.columns:
        return [None] * n
    return [plain_value(v) for v in nwf.get_column(name).to_list()]


def _replay(
    funnel: Funnel,
    leads: list[Any],
    ats: list[Any],
    stages: list[Any],
    events: list[Any],
    rows: list[Any],
) -> Replay:
    """Step the rows with the engine's replay, then name the problems and the transitions."""
    table = funnel.table
    target: dict[tuple[str, str], str] = {}
    move: dict[tuple[str, str], str] = {}
    for edge in table.edges:
        target.setdefault((edge.source, edge.event), edge.target)
        move.setdefault((edge.source, edge.target), edge.event)
    said = [
        i for i, (e, s) in enumerate(zip(events, stages, strict=True)) if (e, s) != (None, None)
    ]
    if len(said) != len(leads):  # a row with neither stage nor event says nothing
        leads, ats, stages, events, rows = (
            [col[i] for i in said] for col in (leads, ats, stages, events, rows)
        )
    walk = replay_rows(leads, events, stages, funnel=funnel, table=target, history=True)
    found: list[tuple[int, ReplayProblem]] = []
    for pos, cur in walk.rejects:
        event, stage = events[pos], stages[pos]
        nxt = target.get((cur, event))
        found.append(
            (
                pos,
                ReplayProblem(
                    rows[pos],
                    leads[pos],
                    "illegal-event",
                    f"event {event!r} has no edge from {cur!r}",
                )
                if nxt is None
                else ReplayProblem(
                    rows[pos],
                    leads[pos],
                    "event-stage-mismatch",
                    f"event {event!r} from {cur!r} enters {nxt!r}, not {stage!r}",
                ),
            )
        )
    changes: dict[str, list[_Change]] = {}
    for pos, a, b in walk.steps or ():
        event = events[pos]
        if event is None:  # a stage row: the edge it followed, if any
            event = move.get((a, b))
            if event is None:
                event = ""
                found.append(
                    (
                        pos,
                        ReplayProblem(
                            rows[pos], leads[pos], "no-edge", f"no edge from {a!r} to {b!r}"
                        ),
                    )
                )
        changes.setdefault(leads[pos], []).append((a, b, event, ats[pos], rows[pos]))
    found.sort(key=lambda item: item[0])
    return Replay(
        funnel=funnel,
        current=dict(zip(walk.leads, walk.final, strict=True)),
        entered={
            lead: (stage, ats[pos], rows[pos])
            for lead, stage, pos in zip(walk.leads, walk.begin, walk.first, strict=True)
        },
        problems=tuple(p for _, p in found),
        changes=changes,
    )
