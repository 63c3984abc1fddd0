"""polars input is validated in one lazy polars plan; pandas through narwhals: same verdicts."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from funnel.analytics import load_csv, load_frame
from funnel.analytics.eventlog import LoadResult

pd = pytest.importorskip("pandas")

times = st.one_of(
    st.sampled_from(
        [
            "2026-01-01T09:00:00Z",  # the fast shape
            "2026-01-02T09:00:00Z",
            "2026-01-03T10:30:00Z",
            "2026-13-01T09:00:00Z",  # the fast shape, not a time
            "2026-01-01 09:00:00Z",  # 20 bytes, not the fixed format
            "2026-01-01T09:00:00+0",  # 20 bytes, no Z
            "2026-01-02 10:00:00+01:00",
            "2026-01-01T09:00Z",
            "2026-01-02T09:00:00",  # naive
            "2026-01-03",
            "0000-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",  # cannot be expressed in UTC later: bad-timestamp
            " 2026-01-01T09:00:00Z",
            "",
            "yesterday",
        ]
    ),
    st.none(),
)
rows = st.lists(
    st.tuples(
        # blank ids of every kind of white space, and ids that only start with it or with
        # a character beyond ASCII (the polars plan's blank test, refined after it)
        st.sampled_from(
            [
                "a",
                "b",
                "c",
                " ",
                None,
                "",
                "\t\n",
                "\u00a0",
                "\u3000 ",
                "\x1c",
                "\x1f b",
                " b",
                "Ökotech",
            ]
        ),
        times,
        st.sampled_from(["acquired", "mql", "sql", "won", "lost", "Won", "limbo", None]),
        st.sampled_from(["mark_mql", "teleport", None]),
        st.sampled_from(["12.5", " 3 ", "lots", None]),
    ),
    max_size=25,
)


def _plain(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "isoformat"):  # pandas Timestamp and datetime alike
        return None if value != value else value.isoformat()
    return value


def _verdicts(result: LoadResult) -> tuple[Any, ...]:
    accepted = result.accepted
    if isinstance(accepted, pl.DataFrame):
        accepted_rows = accepted.to_dicts()
    else:
        accepted_rows = accepted.astype(object).to_dict("records")
    return (
        result.rows_in,
        [{k: _plain(v) for k, v in r.items()} for r in accepted_rows],
        result.rejections(),
        result.warning_rows(),
    )


@settings(max_examples=60, deadline=None)
@given(rows, st.sampled_from([None, "Europe/Paris"]), st.booleans())
def test_polars_and_pandas_inputs_get_the_same_verdicts(data, timezone, allow_missing_time):
    frame = pl.DataFrame(
        data, schema=["lead_id", "at", "stage", "event", "value"], orient="row"
    ).cast(pl.String)
    options: dict[str, Any] = {
        "timezone": timezone,
        "stages": {"Won": "won"},
        "allow_missing_time": allow_missing_time,
    }
    mine = load_frame(frame, **options)
    theirs = load_frame(frame.to_pandas(), **options)
    assert _verdicts(mine) == _verdicts(theirs)
    assert mine.rows_in == mine.n_accepted + mine.n_rejected == len(data)


@settings(max_examples=30, deadline=None)
@given(rows)
def test_a_lazy_frame_and_its_collected_frame_get_the_same_verdicts(data):
    frame = pl.DataFrame(
        data, schema=["lead_id", "at", "stage", "event", "value"], orient="row"
    ).cast(pl.String)
    assert _verdicts(load_frame(frame.lazy())) == _verdicts(load_frame(frame))


def test_datetime_and_date_columns_match_pandas():
    from datetime import date, datetime

    frame = pl.DataFrame(
        {
            "lead_id": ["a", "a", "b"],
            "at": [datetime(2026, 1, 1, 9), None, datetime(2026, 1, 2, 9)],  # noqa: DTZ001 - naive on purpose
            "stage": ["acquired", "mql", "acquired"],
        }
    )
    for zone in ("UTC", "Europe/Paris"):
        mine = load_frame(frame, timezone=zone)
        theirs = load_frame(frame.to_pandas(), timezone=zone)
        assert mine.rejections() == theirs.rejections()
        assert mine.accepted["at"].to_list() == [t.to_pydatetime() for t in theirs.accepted["at"]]
    dates = pl.DataFrame({"lead_id": ["a"], "at": [date(2026, 1, 1)], "stage": ["acquired"]})
    assert str(load_frame(dates, timezone="UTC").accepted["at"][0]) == "2026-01-01 00:00:00+00:00"


LIGHT = """
import sys
from funnel.analytics import load_csv
result = load_csv(sys.argv[1])
print(result.n_accepted, result.n_rejected, result.n_warnings, len(result.rejections()),
      "narwhals" in sys.modules)
"""


def test_loading_a_csv_into_polars_imports_no_narwhals(tmp_path: Path):
    """The polars path (every file) needs no narwhals, also to count and list the rows."""
    log = tmp_path / "log.csv"
    log.write_text(
        "lead_id,at,stage\n"
        "a,2026-01-01T00:00:00Z,acquired\n"
        "a,2026-01-02T00:00:00Z,mql\n"
        ",2026-01-02T00:00:00Z,mql\n"
        "b,2026-01-02 10:00:00+01:00,acquired\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", LIGHT, str(log)], check=True, capture_output=True, text=True
    ).stdout.split()
    assert out == ["3", "1", "0", "1", "False"]


def test_a_time_conflict_in_a_csv_is_flagged(tmp_path: Path):
    """The polars path hands logs not plainly in order to the conflict group-by."""
    log = tmp_path / "log.csv"
    log.write_text(
        "lead_id,at,stage\n"
        "a,2026-01-01T00:00:00Z,acquired\n"
        "a,2026-01-03T00:00:00Z,won\n"
        "a,2026-01-05T00:00:00Z,mql\n"
        "b,2026-01-01T00:00:00Z,limbo\n"
    )
    result = load_csv(log)
    assert [(w["row"], w["other_row"]) for w in result.warning_rows()] == [(3, 2)]
    assert result.accepted["at"].null_count() == 1
    assert [r["reason"] for r in result.rejections()] == ["unknown-stage"]


def test_a_time_out_of_range_is_rejected_when_missing_times_are_allowed():
    """With allow_missing_time, a null problem code let year 0 through on polars."""
    frame = pl.DataFrame({"lead_id": ["c"], "at": ["0000-01-01T00:00:00Z"], "stage": ["won"]})
    for log in (frame, frame.to_pandas()):
        result = load_frame(log, allow_missing_time=True)
        assert [(r["row"], r["reason"]) for r in result.rejections()] == [(1, "bad-timestamp")]
