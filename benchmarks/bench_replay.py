"""Replay: bulk_replay and bulk_replay_columns against a dict loop and python-statemachine."""

from __future__ import annotations

import contextlib
import statistics
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from benchmarks.common import race, timed
from funnel import DEFAULT_FUNNEL, Funnel
from funnel.engine.replay import bulk_replay, bulk_replay_columns
from funnel.model.eventlog import EVENT, LEAD_ID, STAGE
from funnel.spec.guards import GUARDS, Guard, GuardContext, GuardRegistry
from funnel.spec.machine import Cursor, GuardListener, SalesFunnel


def dict_baseline(
    leads: Sequence[str], events: Sequence[str], table: dict[tuple[str, str], str], initial: str
) -> dict[str, str]:
    """The simplest hand-written dict transition table loop: state per lead in a dict."""
    state: dict[str, str] = {}
    for lead, event in zip(leads, events, strict=True):
        stage = state.get(lead, initial)
        state[lead] = table.get((stage, event), stage)
    return state


def run_dict_loop(
    leads: Sequence[str], events: Sequence[str], table: dict[tuple[str, str], str], initial: str
) -> tuple[dict[str, str], dict[str, int], list[tuple[int, str, str, str]]]:
    """
    The best hand-written peer: walk each lead's run of rows (the log is grouped by
    lead), the stage's successors in a dict of dicts; final stage, accepted events
    and refused rows, as :func:`funnel.engine.replay.bulk_replay` gives them.
    """
    succ: dict[str, dict[str, str]] = {}
    for (stage, event), target in table.items():
        succ.setdefault(stage, {})[event] = target
        succ.setdefault(target, {})
    succ.setdefault(initial, {})
    final: dict[str, str] = {}
    count: dict[str, int] = {}
    refused: list[tuple[int, str, str, str]] = []
    prev: Any = None
    cur, moves, n = initial, succ[initial], 0
    for row, (lead, event) in enumerate(zip(leads, events, strict=True), start=1):
        if lead != prev:
            if prev is not None:
                final[prev], count[prev] = cur, n
            prev, cur, moves, n = lead, initial, succ[initial], 0
        nxt = moves.get(event)
        if nxt is None:
            refused.append((row, lead, cur, event))
            continue
        cur, moves, n = nxt, succ[nxt], n + 1
    if prev is not None:
        final[prev], count[prev] = cur, n
    return final, count, refused


def _always(name: str) -> Guard:
    return Guard(name, "benchmark: the log records accepted events", lambda r, c: ())


def psm_replay(groups: list[tuple[str, list[str]]]) -> dict[str, str]:
    """One python-statemachine instance per lead, every event sent to it."""
    from statemachine.exceptions import TransitionNotAllowed

    # A log records accepted events: every guard passes, as in bulk_replay's default table.
    accepting = Funnel(machine=SalesFunnel, guards=GuardRegistry(_always(name) for name in GUARDS))
    ctx = GuardContext(funnel=accepting, at=datetime(2026, 1, 1, tzinfo=UTC))
    out: dict[str, str] = {}
    for lead, events in groups:
        cursor = Cursor(record=None, stage=DEFAULT_FUNNEL.initial, ctx=ctx)
        sm = SalesFunnel(model=cursor, state_field="stage", listeners=[GuardListener(cursor)])
        for event in events:
            with contextlib.suppress(TransitionNotAllowed):
                sm.send(event)
        out[lead] = cursor.stage
    return out


def bench_replay(
    frame: Any, repeat: int, psm_leads: int
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    import polars as pl

    ev = frame.filter(pl.col(EVENT).is_not_null())
    leads: list[str] = ev[LEAD_ID].to_list()
    events: list[str] = ev[EVENT].to_list()
    n = len(events)
    table = DEFAULT_FUNNEL.table.as_dict()
    initial = DEFAULT_FUNNEL.initial
    bulk = bulk_replay(leads, events)
    base = dict_baseline(leads, events, table, initial)
    assert bulk.final == base, "bulk replay and the dict baseline disagree"
    expected = dict(
        frame.group_by(LEAD_ID, maintain_order=True).agg(pl.col(STAGE).last()).iter_rows()
    )
    assert all(bulk.final[k] == v for k, v in expected.items() if k in bulk.final)
    peer = run_dict_loop(leads, events, table, initial)
    assert (bulk.final, bulk.transitions) == peer[:2], "bulk replay and the run loop disagree"
    assert [(r.row, r.lead_id, r.stage, r.event) for r in bulk.rejects] == peer[2]
    cols = bulk_replay_columns(frame).to_result()
    assert (cols.final, cols.transitions) == (bulk.final, bulk.transitions), "columns disagree"
    assert [(r.lead_id, r.stage, r.event) for r in cols.rejects] == [
        (r.lead_id, r.stage, r.event) for r in bulk.rejects
    ], "columns reject other events"

    def dict_from_frame() -> dict[str, str]:
        """The dict baseline starting from the frame, as bulk_replay_columns does."""
        e = frame.filter(pl.col(EVENT).is_not_null())
        return dict_baseline(e[LEAD_ID].to_list(), e[EVENT].to_list(), table, initial)

    raced = race(
        {
            "bulk_replay": lambda: bulk_replay(leads, events),
            "run_dict_loop": lambda: run_dict_loop(leads, events, table, initial),
            "dict_baseline": lambda: dict_baseline(leads, events, table, initial),
            "bulk_replay_columns": lambda: bulk_replay_columns(frame),
            "dict_from_frame": dict_from_frame,
        },
        repeat,
    )
    times = raced.medians()
    out: dict[str, Any] = {
        "events": n,
        "leads": len(bulk.final),
        "rejects": len(bulk.rejects),
        "bulk_s": times["bulk_replay"],
        "dict_s": times["dict_baseline"],
        "run_loop_s": times["run_dict_loop"],
        "vs_run_loop": {
            k: round(v, 3) for k, v in raced.ratio("bulk_replay", "run_dict_loop").items()
        },
        "bulk_spread": round(raced.spread("bulk_replay"), 3),
        "run_loop_spread": round(raced.spread("run_dict_loop"), 3),
        "columns_s": times["bulk_replay_columns"],
        "dict_from_frame_s": times["dict_from_frame"],
        "bulk_us_per_event": 1e6 * times["bulk_replay"] / n,
        "dict_us_per_event": 1e6 * times["dict_baseline"] / n,
        "columns_us_per_event": 1e6 * times["bulk_replay_columns"] / n,
        "dict_from_frame_us_per_event": 1e6 * times["dict_from_frame"] / n,
    }
    psm: dict[str, Any] | None = None
    if psm_leads:
        first = ev.select(pl.col(LEAD_ID).unique(maintain_order=True).head(psm_leads))
        sample = ev.join(first, on=LEAD_ID, how="semi", maintain_order="left")
        groups = [
            (k, v)
            for k, v in sample.group_by(LEAD_ID, maintain_order=True)
            .agg(pl.col(EVENT))
            .iter_rows()
        ]
        s_leads = sample[LEAD_ID].to_list()
        s_events = sample[EVENT].to_list()
        psm_final = psm_replay(groups)
        assert psm_final == bulk_replay(s_leads, s_events).final, "psm and bulk disagree"
        t_psm = statistics.median(timed(lambda: psm_replay(groups))[0] for _ in range(repeat))
        t_bulk = race({"b": lambda: bulk_replay(s_leads, s_events)}, max(repeat, 5)).median("b")
        m = len(s_events)
        psm = {
            "sample_leads": len(groups),
            "sample_events": m,
            "psm_us_per_event": 1e6 * t_psm / m,
            "bulk_us_per_event_sample": 1e6 * t_bulk / m,
            "bulk_us_per_event_full_log": out["bulk_us_per_event"],
            "psm_us_per_lead": 1e6 * t_psm / len(groups),
        }
    return out, psm
