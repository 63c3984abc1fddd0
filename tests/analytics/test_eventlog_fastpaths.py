"""The loader's fast paths give the verdicts of its general paths."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from funnel.analytics import load_frame
from funnel.analytics.eventlog import _parse_iso, _parse_text_timestamps

T = datetime(2026, 3, 1, tzinfo=UTC)
STAGES = ["acquired", "mql", "sql", "nurturing", "opportunity", "won", "lost", "disqualified"]

texts = st.one_of(
    st.integers(min_value=0, max_value=10**6).map(
        lambda s: (T + timedelta(seconds=s)).strftime("%Y-%m-%dT%H:%M:%SZ")
    ),
    st.sampled_from(
        [
            "2026-13-01T09:00:00Z",  # the fast shape, not a time
            "2026-02-30T09:00:00Z",
            "2026-01-01T24:00:00Z",
            " 2026-01-01T09:00:00Z",
            "2026-01-01T09:00:00Z ",
            "2026-01-01T09:00Z",
            "2026-01-01T09:00:00.5Z",
            "2026-01-01 09:00:00Z",  # 20 bytes, ends in Z, not the fixed format
            "2026-01-01T09:00:0ZZ",
            "20260101T090000+01Z",
            "２０２６-01-01T09:00Z",
            "2026-01-01 09:00:00+01:00",
            "2026-01-01T09:00:00",
            "2026-01-01",
            "",
            "nope",
        ]
    ),
    st.none(),
)


@given(st.lists(texts, max_size=30), st.sampled_from([None, "Europe/Paris"]))
def test_fast_timestamp_path_gives_the_general_parse(values, timezone):
    raw = pl.Series("at", values, dtype=pl.String)
    fast = _parse_text_timestamps(raw, timezone)
    general = _parse_iso(raw, timezone)
    assert fast[0].to_list() == general[0].to_list()
    assert fast[1].to_list() == general[1].to_list()


def _verdicts(frame: Any, rows: list[tuple[str, str, str]]) -> tuple[Any, ...]:
    result = load_frame(frame)
    warnings = sorted(
        (rows[w["row"] - 1], rows[w["other_row"] - 1], w["reason"]) for w in result.warning_rows()
    )
    accepted = sorted(
        (r, str(at)) for r, at in zip(result.accepted["row"], result.accepted["at"], strict=True)
    )
    return warnings, [(rows[r - 1], at) for r, at in accepted]


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c"]),
            st.integers(min_value=0, max_value=5),
            st.sampled_from(STAGES),
        ),
        max_size=20,
    ),
    st.integers(min_value=0, max_value=2**32 - 1),
)
def test_logs_in_lead_and_time_order_flag_the_conflicts_of_any_order(rows, seed):
    """A log in (lead, time) order skips the conflict group-by unless a row steps back."""
    log = [
        (lead, (T + timedelta(hours=h)).strftime("%Y-%m-%dT%H:%M:%SZ"), s) for lead, h, s in rows
    ]
    ordered = sorted(log, key=lambda r: (r[0], r[1]))
    shuffled = log[:]
    random.Random(seed).shuffle(shuffled)

    def frame(version: list[tuple[str, str, str]]) -> pl.DataFrame:
        return pl.DataFrame(version, schema=["lead_id", "at", "stage"], orient="row")

    by_content = []
    for version in (ordered, shuffled):
        warnings, accepted = _verdicts(frame(version), version)
        by_content.append((warnings, sorted(accepted)))
        pandas_warnings, _ = _verdicts(frame(version).to_pandas(), version)
        assert pandas_warnings == warnings
    assert by_content[0] == by_content[1]


def test_a_contiguous_log_stepping_back_is_still_flagged():
    log = pl.DataFrame(
        {
            "lead_id": ["a", "a", "a", "b"],
            "at": [f"2026-01-0{d}T00:00:00Z" for d in (1, 2, 3, 1)],
            "stage": ["acquired", "won", "mql", "acquired"],
        }
    )
    result = load_frame(log)
    assert [(w["row"], w["other_row"], w["other_stage"]) for w in result.warning_rows()] == [
        (3, 2, "won")
    ]
