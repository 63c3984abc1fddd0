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
from tests.model._html import parse_card

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


# --------------------------------------------------------------------------- frames and cards


def test_frames_in_pandas_have_the_same_rows_and_types() -> None:
    result = replay_log(load_frame(_log()))
    polars_frame, pandas_frame = result.to_frame(), result.to_frame(backend="pandas")
    assert isinstance(pandas_frame, pd.DataFrame)
    assert pandas_frame["row"].tolist() == polars_frame["row"].to_list() == [1, 3, 6]
    assert str(pandas_frame["at"].dtype).startswith("datetime64")
    assert "UTC" in str(pandas_frame["at"].dtype)
    assert pandas_frame["at"].tolist() == list(polars_frame["at"].to_list())
    stages = result.stage_frame(backend="pandas")
    assert stages.columns.tolist() == ["lead_id", "row", "at", "stage"]
    assert stages["stage"].tolist() == result.stage_frame()["stage"].to_list()


def test_an_empty_replay_gives_typed_empty_frames() -> None:
    empty = replay_log(pl.DataFrame({"lead_id": ["a"], "at": [T], "stage": ["acquired"]}))
    for backend in ("polars", "pandas"):
        frame = empty.to_frame(backend=backend)
        assert len(frame) == 0
        assert list(frame.columns) == ["lead_id", "row", "at", "from_stage", "to_stage", "event"]
    assert empty.to_frame().schema["at"] == pl.Datetime("us", "UTC")
    assert str(empty.to_frame(backend="pandas")["row"].dtype) == "Int64"


def test_an_unknown_backend_is_a_validation_error() -> None:
    from funnel import ValidationError

    with pytest.raises(ValidationError, match="backend must be 'polars' or 'pandas'"):
        replay_log(load_frame(_log())).to_frame(backend="spark")


def test_the_card_summarises_counts_stages_problems_and_first_transitions() -> None:
    result = replay_log(load_frame(_log()))
    text = parse_card(result._repr_html_())
    assert "leads3" in text
    assert "transitions3" in text
    assert "3 (1 illegal-event, 1 no-edge, 1 event-stage-mismatch)" in text
    for stage, n in result.stage_counts().items():
        assert f"{stage}{n}" in text
    assert "acquired → mql" in text
    assert "(observed)" in text
    assert ".to_frame()" in text
    assert repr(result) == (
        "Replay(funnel='sources', leads=3, stages={'acquired': 1, 'sql': 1, 'won': 1}, "
        "transitions=3, problems=<3 problems>)"
    )


def test_a_big_replay_summarises_in_a_few_kilobytes() -> None:
    n = 20_000
    rows = {
        "lead_id": [f"L{i:05d}" for i in range(n) for _ in range(2)],
        "at": [T + timedelta(hours=k) for _ in range(n) for k in range(2)],
        "event": [e for _ in range(n) for e in ("mark_mql", "win")],  # win: a problem each
    }
    result = replay_log(pl.DataFrame(rows))
    card, shown = result._repr_html_(), repr(result)
    assert len(card) < 10_000
    assert len(shown) < 1_000
    text = parse_card(card)
    assert "and 19,995 more problems" in text
    assert "and 19,995 more transitions" in text
    assert f"leads{n:,}" in text


def test_a_lead_id_that_is_an_email_address_shows_masked() -> None:
    log = pl.DataFrame(
        {
            "lead_id": ["ada.lovelace@acme.example", "<b>x</b>"],
            "at": [T, T],
            "event": ["mark_mql", "win"],
        }
    )
    result = replay_log(log)
    card = result._repr_html_()
    assert "ada.lovelace" not in card
    assert "a***@acme.example" in parse_card(card)
    assert "<b>" not in card


def test_the_maven_replay_card_and_repr_stay_small(shared_data) -> None:
    """A Replay of Maven printed 186 KB: every lead's stage."""
    from funnel.analytics import load_maven

    result = replay_log(load_maven(shared_data))
    assert len(result.current) > 8_000
    assert len(repr(result)) < 1_000
    assert len(result._repr_html_()) < 10_000
    assert len(result.to_frame()) == result.transition_count()


#: Rows needing a replay (an event, no stage) beside a row without a time: missing
#: (allow_missing_time) or cleared by a time conflict (g wins before it is acquired).
_MISSING_TIME = {
    "lead_id": ["e", "e", "g", "h"],
    "at": ["2026-01-11T09:00Z", "2026-01-12T09:00Z", None, "2026-02-03T09:00Z"],
    "stage": [None, None, "acquired", "acquired"],
    "event": ["mark_mql", "mark_sql", None, None],
    "source": ["web", "web", "ads", "ads"],
}
_TIME_CONFLICT = {
    "lead_id": ["e", "g", "g"],
    "at": ["2026-01-11T09:00Z", "2026-03-01T09:00Z", "2026-02-01T09:00Z"],
    "stage": [None, "acquired", "won"],
    "event": ["mark_mql", None, None],
    "source": ["web", "ads", "ads"],
}


@pytest.mark.parametrize("data", [_MISSING_TIME, _TIME_CONFLICT], ids=["missing", "conflict"])
def test_a_pandas_log_with_a_missing_time_replays_as_polars_does(data) -> None:
    """pandas' NaT reached the replay's frames as a datetime: TypeError (polars: None)."""
    from funnel.analytics import breakdown, cohorts, funnel_report, time_to_convert

    pandas = load_frame(pd.DataFrame(data), allow_missing_time=True)
    polars = load_frame(pl.DataFrame(data), allow_missing_time=True)
    assert pandas.accepted["at"].isna().sum() == 1
    frame = replay_log(pandas).stage_frame()
    assert frame.to_dicts() == replay_log(polars).stage_frame().to_dicts()
    assert frame["at"].null_count() == 1
    assert replay_log(pandas).stage_frame("pandas")["at"].isna().sum() == 1
    assert funnel_report(pandas).counts == funnel_report(polars).counts
    by_source = breakdown(pandas, "source").reports
    assert {k: r.counts for k, r in by_source.items()} == {
        k: r.counts for k, r in breakdown(polars, "source").reports.items()
    }
    assert [r.counts for r in cohorts(pandas, "1mo").reports.values()] == [
        r.counts for r in cohorts(polars, "1mo").reports.values()
    ]
    ttc, want = (
        time_to_convert(pandas, "acquired", "mql"),
        time_to_convert(polars, "acquired", "mql"),
    )
    assert (ttc.count, ttc.median) == (want.count, want.median) == (1, timedelta(0))


def test_a_replay_problem_repr_masks_the_lead_and_the_message() -> None:
    """ReplayProblem's repr showed lead_id='ada@acme.example', as records never do."""
    log = pl.DataFrame(
        {
            "lead_id": ["ada@acme.example", "ada@acme.example", "+44 20 7946 0958"],
            "at": [T, T, T],
            "event": ["win", "nurture", "mark_mql"],
            "stage": [None, None, "555-010-9999"],
        }
    )
    problems = replay_log(log).problems
    assert [p.lead_id for p in problems] == ["ada@acme.example", "+44 20 7946 0958"]
    text = repr(problems)
    assert "lead_id='a***@acme.example'" in text
    assert "lead_id='***58'" in text
    assert "ada@acme" not in text
    assert "7946" not in text
    assert "010-9999" not in text
    assert "'***99'" in text  # the message's stage, masked
    assert "555-010-9999" in problems[1].message  # the message itself is kept
