"""Replay: current stage and history from the derived transition table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from funnel import LoadError
from funnel.analytics import load_frame
from funnel.analytics.replay import replay_log

T = datetime(2026, 2, 1, tzinfo=UTC)


def _log() -> pl.DataFrame:
    rows = [
        ("a", None, "mark_mql"),  # starts at the initial stage
        ("a", None, "win"),  # illegal from mql
        ("a", "sql", None),  # stage row with an edge
        ("a", "sql", None),  # repeat: no-op
        ("b", "organisation", None),  # enters mid-funnel
        ("b", "won", None),  # no edge organisation -> won, followed
        ("c", "acquired", "mark_mql"),  # event and stage disagree
    ]
    return pl.DataFrame(
        {
            "lead_id": [r[0] for r in rows],
            "at": [T + timedelta(hours=i) for i in range(len(rows))],
            "stage": [r[1] for r in rows],
            "event": [r[2] for r in rows],
        }
    )


@pytest.mark.parametrize("to_native", [lambda f: f, lambda f: f.to_pandas()])
def test_replay_follows_the_table_and_reports_problems(to_native):
    loaded = load_frame(to_native(_log()))
    assert loaded.n_rejected == 0
    result = replay_log(loaded)
    assert dict(result.current) == {"a": "sql", "b": "won", "c": "acquired"}
    kinds = [(p.row, p.kind) for p in result.problems]
    assert kinds == [(2, "illegal-event"), (6, "no-edge"), (7, "event-stage-mismatch")]
    history = result.history("a")
    assert [(h.from_stage, h.to_stage, h.event) for h in history] == [
        ("acquired", "mql", "mark_mql"),
        ("mql", "sql", "mark_sql"),
    ]
    assert history[0].at == T
    assert result.stage_counts() == {"acquired": 1, "sql": 1, "won": 1}


def test_frames():
    result = replay_log(load_frame(_log()))
    transitions = result.to_frame()
    assert transitions["row"].to_list() == [1, 3, 6]
    stages = result.stage_frame()
    assert stages.filter(pl.col("lead_id") == "a")["stage"].to_list() == ["acquired", "mql", "sql"]


def test_bad_input():
    with pytest.raises(LoadError):
        replay_log(pd.DataFrame({"lead_id": ["a"]}))


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_an_event_log_gives_the_same_replay_in_any_row_order(data):
    """replay_log walked rows in file order: a shuffled event log gave other stages."""
    import polars as pl

    from funnel.analytics import replay_log

    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    road = ["mark_mql", "mark_sql", "convert", "open_opportunity", "engage_stakeholder", "win"]
    rows = []
    for lead in range(data.draw(st.integers(1, 6))):
        steps = data.draw(st.integers(0, len(road)))
        for i, event in enumerate(road[:steps]):
            rows.append({"lead_id": f"L{lead}", "at": t0 + timedelta(days=i), "event": event})
    if not rows:
        return
    frame = pl.DataFrame(rows)
    shuffled = frame.sample(fraction=1.0, shuffle=True, seed=data.draw(st.integers(0, 10**6)))
    assert replay_log(shuffled).current == replay_log(frame).current
