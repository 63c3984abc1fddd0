"""Loading you can trust (issue 12): order, conflicts, missing times, foreign exports."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import narwhals as nw
import pandas as pd
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from funnel import LoadError, ValidationError
from funnel.analytics import funnel_report, load_csv, load_frame, load_path, time_to_convert
from funnel.analytics.eventlog import WARNING_COLUMNS, present_steps

T = datetime(2026, 3, 1, tzinfo=UTC)
STAGES = ["acquired", "mql", "sql", "nurturing", "opportunity", "won", "lost", "limbo", None]


def _frame(rows: Sequence[tuple[Any, Any, Any]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "lead_id": [r[0] for r in rows],
            "at": [r[1] for r in rows],
            "stage": [r[2] for r in rows],
        },
        schema={"lead_id": pl.String, "at": pl.String, "stage": pl.String},
    )


def _content(frame: Any, drop: tuple[str, ...] = ("row",)) -> list[tuple[object, ...]]:
    """The rows of a frame as a sorted multiset, without *drop* columns."""
    nwf = nw.from_native(frame, eager_only=True)
    keep = [c for c in nwf.columns if c not in drop]
    rows = nwf.select(keep).iter_rows()
    return sorted(
        (tuple("None" if v is None or v != v else str(v) for v in r) for r in rows), key=str
    )


def _verdicts(result: Any, by_row: dict[int, Any]) -> tuple[list[Any], list[Any]]:
    """Rejections and warnings keyed by the content of the row they name."""
    rejects = sorted(
        (str(by_row[r["row"]]), r["column"], r["reason"], str(r["value"]))
        for r in result.rejections()
    )
    warnings = sorted(
        (str(by_row[w["row"]]), str(by_row[w["other_row"]]), w["at"], w["other_at"])
        for w in result.warning_rows()
    )
    return rejects, warnings


times = st.one_of(
    st.integers(min_value=0, max_value=6).map(
        lambda h: (T + timedelta(hours=h)).strftime("%Y-%m-%dT%H:%M:%SZ")
    ),
    st.sampled_from(["", "nope"]),
)


@given(
    rows=st.lists(
        st.tuples(st.sampled_from(["a", "b", "c", None]), times, st.sampled_from(STAGES)),
        max_size=25,
    ),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_any_permutation_gives_the_same_result(rows, seed):
    """Issue 12.1: same accepted set, same rejects, same warnings, same report."""
    shuffled = rows[:]
    random.Random(seed).shuffle(shuffled)
    results = []
    for version in (rows, shuffled):
        result = load_frame(_frame(version))
        assert result.rows_in == len(version) == result.n_accepted + result.n_rejected
        by_row = dict(enumerate(version, start=1))
        report = funnel_report(result)
        results.append(
            (
                _content(result.accepted),
                _verdicts(result, by_row),
                (report.counts, report.won, report.lost, report.open),
            )
        )
    assert results[0] == results[1]


@settings(max_examples=25, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.sampled_from(["a", "b", None]), times, st.sampled_from(STAGES)),
        max_size=15,
    ),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_pandas_gives_the_polars_verdicts_in_any_order(rows, seed):
    shuffled = rows[:]
    random.Random(seed).shuffle(shuffled)
    expected = load_frame(_frame(rows))
    result = load_frame(_frame(shuffled).to_pandas())
    assert _content(result.accepted) == _content(expected.accepted)
    by_row = dict(enumerate(rows, start=1))
    by_shuffled = dict(enumerate(shuffled, start=1))
    assert _verdicts(result, by_shuffled) == _verdicts(expected, by_row)


def test_newest_first_log_loses_nothing():
    forward = [
        ("a", "2026-01-01T00:00Z", "acquired"),
        ("a", "2026-01-02T00:00Z", "mql"),
        ("a", "2026-01-03T00:00Z", "won"),
        ("b", "2026-01-01T00:00Z", "acquired"),
        ("b", "2026-01-04T00:00Z", "lost"),
    ]
    for rows in (forward, forward[::-1]):
        result = load_frame(_frame(rows))
        assert (result.n_accepted, result.n_rejected, result.n_warnings) == (5, 0, 0)
        report = funnel_report(result, steps=["acquired", "mql", "won"])
        assert (report.counts, report.won, report.lost) == ((2, 1, 1), 1, 1)


@pytest.mark.parametrize("engine", ["polars", "pandas", "duckdb"])
def test_time_conflict_is_a_warning_on_every_engine(engine):
    """Issue 12.2: a row that conflicts with another row's time is flagged, not deleted."""
    rows = [
        ("a", "2026-01-03T00:00Z", "mql"),  # first contact recorded after the win
        ("a", "2026-01-01T00:00Z", "won"),
        ("b", "2026-01-01T00:00Z", "mql"),
        ("b", "2026-01-05T00:00Z", "won"),
        ("c", "2026-01-01T00:00Z", "won"),  # same time: no conflict
        ("c", "2026-01-01T00:00Z", "mql"),
    ]
    frame = _frame(rows)
    native = {
        "polars": frame,
        "pandas": frame.to_pandas(),
        "duckdb": duckdb.from_arrow(frame.to_arrow()),
    }[engine]
    result = load_frame(native)
    assert (result.rows_in, result.n_accepted, result.n_rejected) == (6, 6, 0)
    assert result.warning_rows() == [
        {
            "row": 1,
            "lead_id": "a",
            "stage": "mql",
            "at": "2026-01-03T00:00:00Z",
            "other_row": 2,
            "other_stage": "won",
            "other_at": "2026-01-01T00:00:00Z",
            "reason": "time-conflict",
        }
    ]
    assert tuple(nw.from_native(result.warnings, eager_only=True).columns) == WARNING_COLUMNS
    assert "1 accepted with a warning (time-conflict)" in str(result)
    assert "other_at" in result._repr_html_()
    report = funnel_report(result, steps=["mql", "won"])
    assert report.counts == (3, 3)  # the flagged row counts for reached stages
    durations = time_to_convert(result, "mql", "won")
    assert durations.count == 2  # ... and is left out of durations
    assert durations.median == timedelta(days=2)


def test_missing_time_is_accepted_for_stage_rows_only_when_asked():
    """Issue 12.4: a null at is accepted for reached counts, not for durations."""
    frame = pl.DataFrame(
        {
            "lead_id": ["a", "a", "b", "c"],
            "at": [None, "2026-01-05T00:00Z", None, None],
            "stage": ["opportunity", "won", "opportunity", None],
            "event": [None, None, None, "mark_mql"],
        },
        schema={"lead_id": pl.String, "at": pl.String, "stage": pl.String, "event": pl.String},
    )
    strict = load_frame(frame)
    assert {r["reason"] for r in strict.rejections()} == {"missing-timestamp"}
    assert strict.n_rejected == 3
    loose = load_frame(frame, allow_missing_time=True)
    assert [r["row"] for r in loose.rejections()] == [4]  # an event row needs a time
    assert loose.accepted["at"].null_count() == 2
    report = funnel_report(loose, steps=["opportunity", "won"])
    assert report.counts == (2, 1)
    assert time_to_convert(loose, "opportunity", "won").count == 0
    pandas = load_frame(frame.to_pandas(), allow_missing_time=True)
    assert pandas.rejections() == loose.rejections()


@pytest.mark.parametrize("to_native", [lambda f: f, lambda f: f.to_pandas()])
def test_stage_mapping(to_native):
    """Issue 12.5: stages={...}; unknown stages after mapping are rejected as written."""
    frame = _frame(
        [
            ("a", "2026-01-01T00:00Z", "New"),
            ("a", "2026-01-02T00:00Z", "Won"),
            ("b", "2026-01-01T00:00Z", "mql"),  # already a funnel stage: kept
            ("c", "2026-01-01T00:00Z", "Limbo"),
        ]
    )
    result = load_frame(to_native(frame), stages={"New": "acquired", "Won": "won"})
    stages = nw.from_native(result.accepted, eager_only=True).get_column("stage").to_list()
    assert stages == ["acquired", "won", "mql"]
    [bad] = result.rejections()
    assert (bad["row"], bad["column"], bad["reason"], bad["value"]) == (
        4,
        "stage",
        "unknown-stage",
        "Limbo",
    )
    with pytest.raises(ValidationError, match="stages"):
        load_frame(frame, stages=["New"])  # type: ignore[arg-type]


def test_csv_date_format_separator_and_load_path(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text("lead_id;at;stage\na;31/01/2026;New\na;01/02/2026;Won\nb;32/01/2026;New\n")
    stages = {"New": "acquired", "Won": "won"}
    kwargs = {"separator": ";", "date_format": "%d/%m/%Y", "stages": stages}
    naive = load_csv(path, **kwargs)  # type: ignore[arg-type]
    assert {r["reason"] for r in naive.rejections()} == {"naive-timestamp", "bad-timestamp"}
    result = load_path(path, timezone="UTC", **kwargs)
    assert result.n_accepted == 2
    assert result.accepted["at"].to_list() == [
        datetime(2026, 1, 31, tzinfo=UTC),
        datetime(2026, 2, 1, tzinfo=UTC),
    ]
    assert [(r["row"], r["reason"], r["value"]) for r in result.rejections()] == [
        (3, "bad-timestamp", "32/01/2026")
    ]
    offset = tmp_path / "offset.csv"
    offset.write_text("lead_id,at,stage\na,2026-01-31 10:00 +0100,acquired\n")
    aware = load_csv(offset, date_format="%Y-%m-%d %H:%M %z")
    assert aware.accepted["at"].to_list() == [datetime(2026, 1, 31, 9, tzinfo=UTC)]
    with pytest.raises(ValidationError, match="separator"):
        load_csv(path, separator=";;")
    with pytest.raises(ValidationError, match="date_format"):
        load_csv(path, separator=";", date_format="day/month")
    parquet = tmp_path / "log.parquet"
    pl.read_csv(path, separator=";").write_parquet(parquet)
    with pytest.raises(ValidationError, match="separator"):
        load_path(parquet, separator=";")
    with pytest.raises(LoadError):
        load_csv(tmp_path / "absent.csv", separator=";")


def test_present_steps():
    log = _frame(
        [
            ("a", "2026-01-01T00:00Z", "won"),
            ("b", "2026-01-01T00:00Z", "mql"),
            ("b", "2026-01-02T00:00Z", "lost"),
        ]
    )
    assert present_steps(log) == ("mql", "won")
    assert present_steps(load_frame(log)) == ("mql", "won")
    assert present_steps(log.to_pandas()) == ("mql", "won")
    assert present_steps(pd.DataFrame({"lead_id": ["a"], "event": ["win"]})) == (
        "acquired",
        "mql",
        "sql",
        "organisation",
        "opportunity",
        "stakeholder",
        "won",
    )


def test_a_load_result_repr_is_one_line() -> None:
    """Found in review: the repr printed the whole polars preview (2.5 KB on Maven)."""
    import polars as pl

    from funnel.analytics import load_frame

    at = datetime(2026, 1, 1, tzinfo=UTC)
    frame = pl.DataFrame({"lead_id": ["L1", "L2"], "at": [at, at], "stage": ["acquired", "x"]})
    loaded = load_frame(frame)
    assert repr(loaded) == "LoadResult(<2 rows in: 1 accepted, 1 rejected>)"


def test_a_load_result_table_masks_lead_ids_and_values_and_keeps_the_reasons() -> None:
    """The rejected rows' table showed lead ids and values as they were: addresses, numbers."""
    log = pl.DataFrame(
        {
            "lead_id": ["ada@acme.example", "555.010.9999", "+44 20 7946 0958"],
            "at": ["2026-01-05T09:00Z"] * 3,
            "stage": ["nowhere", "demo-555-010-9999", "acquired"],
        }
    )
    result = load_frame(log)
    assert result.n_rejected == 2
    html = result._repr_html_()
    for raw in ("ada@acme.example", "555.010.9999", "555-010-9999"):
        assert raw not in html
    assert "a***@acme.example" in html
    assert "demo-***99" in html
    assert html.count("unknown-stage") == 2
    assert [r["lead_id"] for r in result.rejections()] == ["ada@acme.example", "555.010.9999"]
