"""
Replay an event log into each lead's current stage and stage history.

The replay walks the rows in input order (``row``) in one tight loop over
plain Python values, using two dicts built from the funnel's derived
:class:`~funnel.TransitionTable`: ``(stage, event) -> target`` and
``(stage, target) -> event``. Guards are not evaluated: the log records what
happened, and the replay checks it against the funnel's edges.

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

from funnel.analytics.eventlog import read_log
from funnel.exceptions import LoadError
from funnel.model.eventlog import AT, EVENT, FROM_STAGE, LEAD_ID, ROW, STAGE, TO_STAGE
from funnel.model.history import StageChange
from funnel.spec.definition import Funnel

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
    """

    row: int
    lead_id: str
    kind: str
    message: str


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
        tally: dict[str, int] = {}
        for stage in self.current.values():
            tally[stage] = tally.get(stage, 0) + 1
        return {s: tally[s] for s in self.funnel.stages if s in tally}

    def to_frame(self) -> Any:
        """The transitions as a polars frame: lead_id, row, at, from_stage, to_stage, event."""
        import polars as pl

        rows = [
            (lead, row, at, a, b, e)
            for lead, changes in self._changes.items()
            for a, b, e, at, row in changes
        ]
        return pl.DataFrame(
            rows,
            schema={
                LEAD_ID: pl.String,
                ROW: pl.Int64,
                AT: pl.Datetime("us", "UTC"),
                FROM_STAGE: pl.String,
                TO_STAGE: pl.String,
                EVENT: pl.String,
            },
            orient="row",
        ).sort(ROW)

    def stage_frame(self) -> Any:
        """One row per stage entered (first entries included): lead_id, row, at, stage."""
        import polars as pl

        rows = [(lead, row, at, stage) for lead, (stage, at, row) in self.entered.items()]
        rows += [
            (lead, row, at, b)
            for lead, changes in self._changes.items()
            for _, b, _, at, row in changes
        ]
        return pl.DataFrame(
            rows,
            schema={
                LEAD_ID: pl.String,
                ROW: pl.Int64,
                AT: pl.Datetime("us", "UTC"),
                STAGE: pl.String,
            },
            orient="row",
        ).sort(ROW, AT)


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
    if isinstance(nwf, nw.LazyFrame):
        nwf = nwf.sort(ROW if ROW in nwf.columns else AT).collect(backend="polars")
    elif ROW in nwf.columns:
        nwf = nwf.sort(ROW)
    cols = nwf.columns
    if LEAD_ID not in cols or AT not in cols or (STAGE not in cols and EVENT not in cols):
        raise LoadError(f"event log lacks lead_id, at, or stage/event; has {cols}")
    n = int(nwf.shape[0])
    leads = nwf.get_column(LEAD_ID).to_list()
    ats = nwf.get_column(AT).to_list()
    stages = nwf.get_column(STAGE).to_list() if STAGE in cols else [None] * n
    events = nwf.get_column(EVENT).to_list() if EVENT in cols else [None] * n
    rows = nwf.get_column(ROW).to_list() if ROW in cols else list(range(1, n + 1))
    return _run(funnel, leads, ats, stages, events, rows)


def _run(
    funnel: Funnel,
    leads: list[Any],
    ats: list[Any],
    stages: list[Any],
    events: list[Any],
    rows: list[Any],
) -> Replay:
    table = funnel.table
    target: dict[tuple[str, str], str] = {}
    move: dict[tuple[str, str], str] = {}
    for edge in table.edges:
        target.setdefault((edge.source, edge.event), edge.target)
        move.setdefault((edge.source, edge.target), edge.event)
    initial = table.initial
    current: dict[str, str] = {}
    entered: dict[str, tuple[str, datetime, int]] = {}
    changes: dict[str, list[_Change]] = {}
    problems: list[ReplayProblem] = []
    for lead, at, stage, event, row in zip(leads, ats, stages, events, rows, strict=True):
        cur = current.get(lead)
        if cur is None:
            if event is None or event != event:  # None or NaN (pandas)
                current[lead] = stage
                entered[lead] = (stage, at, row)
                continue
            cur = initial
            current[lead] = cur
            entered[lead] = (cur, at, row)
        if event is not None and event == event:
            nxt = target.get((cur, event))
            if nxt is None:
                problems.append(
                    ReplayProblem(
                        row, lead, "illegal-event", f"event {event!r} has no edge from {cur!r}"
                    )
                )
                continue
            if stage is not None and stage == stage and stage != nxt:
                problems.append(
                    ReplayProblem(
                        row,
                        lead,
                        "event-stage-mismatch",
                        f"event {event!r} from {cur!r} enters {nxt!r}, not {stage!r}",
                    )
                )
                continue
        else:
            if stage == cur:
                continue
            nxt = stage
            event = move.get((cur, stage))
            if event is None:
                event = ""
                problems.append(
                    ReplayProblem(row, lead, "no-edge", f"no edge from {cur!r} to {stage!r}")
                )
        current[lead] = nxt
        changes.setdefault(lead, []).append((cur, nxt, event, at, row))
    return Replay(
        funnel=funnel,
        current=current,
        entered=entered,
        problems=tuple(problems),
        changes=changes,
    )
