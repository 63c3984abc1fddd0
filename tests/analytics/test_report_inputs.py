"""
Unusual inputs to the report functions: the same answer on every engine, or a typed error.

A new user's review found raw engine tracebacks (pyarrow, DuckDB, pandas) and answers that
depended on the engine; each test below failed before its fix.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from funnel.analytics import (
    breakdown,
    cohorts,
    funnel_report,
    load_csv,
    load_frame,
    load_parquet,
    step_durations,
    time_in_stage,
    time_to_convert,
)
from funnel.exceptions import LoadError, ValidationError

T = datetime(2026, 1, 5, 9, tzinfo=UTC)


def _days(*n: float) -> list[datetime]:
    return [T + timedelta(days=d) for d in n]


def _pandas(frame: pl.DataFrame) -> Any:
    pytest.importorskip("pandas")
    return frame.to_pandas()


def _pyarrow(frame: pl.DataFrame) -> Any:
    pytest.importorskip("pyarrow")
    return frame.to_arrow()


def _duckdb(frame: pl.DataFrame) -> Any:
    duckdb = pytest.importorskip("duckdb")
    return duckdb.from_arrow(frame.to_arrow())


def _narwhals(frame: pl.DataFrame) -> Any:
    nw = pytest.importorskip("narwhals")
    return nw.from_native(frame)


ENGINES: dict[str, Callable[[pl.DataFrame], Any]] = {
    "polars": lambda f: f,
    "polars-lazy": lambda f: f.lazy(),
    "narwhals": _narwhals,
    "pandas": _pandas,
    "pyarrow": _pyarrow,
    "duckdb": _duckdb,
}


@pytest.fixture(params=sorted(ENGINES))
def engine(request: pytest.FixtureRequest) -> Callable[[pl.DataFrame], Any]:
    return ENGINES[request.param]


LOG = pl.DataFrame(
    {
        "lead_id": ["a", "a", "a", "b", "b", "c", "c"],
        "at": _days(0, 1, 3, 0, 2, 1, 5),
        "stage": ["acquired", "mql", "won", "acquired", "lost", "acquired", "won"],
        "source": ["web", "ads", "web", "", "ads", "ref", None],
    }
)


def _counts(result: Any) -> dict[Any, tuple[int, ...]]:
    return {k: r.counts for k, r in result.reports.items()}


def _secs(d: Any) -> tuple[int, float | None]:
    return d.count, None if d.median is None else d.median.total_seconds()


# --------------------------------------------------------------- 1. pyarrow tables


def test_time_to_convert_by_a_column_is_the_same_on_every_engine(engine: Any) -> None:
    found = time_to_convert(engine(LOG), "acquired", "won", by="source")
    assert _secs(found) == (2, 3.5 * 86400)
    assert {k: _secs(v) for k, v in found.groups.items()} == {
        "web": (1, 3 * 86400),
        "ref": (1, 4 * 86400),
    }


def test_the_strict_order_is_the_same_on_every_engine(engine: Any) -> None:
    log = engine(LOG)
    assert funnel_report(log, steps=["acquired", "mql", "won"], order="strict").counts == (
        3,
        1,
        1,
    )
    # strict between the two steps only: mql is no step, so a converts (3 d) and c (4 d)
    assert _secs(time_to_convert(log, "acquired", "won", order="strict")) == (2, 3.5 * 86400)


def test_a_null_typed_by_column_is_one_group_none_on_every_engine(engine: Any) -> None:
    found = breakdown(engine(LOG.with_columns(source=pl.lit(None))), "source")
    assert _counts(found) == {None: (3, 2, 2)}


# --------------------------------------------------------------- 2. DuckDB time types


@pytest.mark.parametrize("unit", ["ns", "ms"])
def test_times_in_any_unit_are_timed_and_truncated_on_every_engine(engine: Any, unit: str) -> None:
    log = engine(LOG.with_columns(pl.col("at").dt.cast_time_unit(unit)))  # type: ignore[arg-type]
    rep = funnel_report(log, steps=["acquired", "won"], durations=True)
    assert rep.durations is not None
    assert _secs(rep.durations) == (2, 3.5 * 86400)
    assert [d.count for d in step_durations(log, steps=["acquired", "mql", "won"])] == [1, 1]
    assert [(k.year, k.month) for k in cohorts(log, "1mo").reports] == [(2026, 1)]


def _dated(engine_name: str, frame: pl.DataFrame) -> Any:
    """*frame* on an engine, its dates kept as dates (pandas: pyarrow's date32)."""
    if engine_name == "pandas":
        pd = pytest.importorskip("pandas")
        pytest.importorskip("pyarrow")
        return frame.to_pandas(types_mapper=pd.ArrowDtype)
    return ENGINES[engine_name](frame)


@pytest.mark.parametrize("name", sorted(ENGINES))
def test_date_times_are_timed_on_every_engine(name: str) -> None:
    log = _dated(name, LOG.with_columns(pl.col("at").dt.date()))
    assert _secs(time_to_convert(log, "acquired", "won")) == (2, 3.5 * 86400)


@pytest.mark.parametrize("name", sorted(ENGINES))
@pytest.mark.parametrize("every", ["1mo", "1d"])
def test_a_log_of_dates_has_periods_of_dates_on_every_engine(name: str, every: str) -> None:
    """DuckDB keyed them as naive datetimes, pandas' date32 raised pyarrow's error."""
    log = _dated(name, LOG.with_columns(pl.col("at").dt.date()))
    keys = list(cohorts(log, every).reports)
    want = [date(2026, 1, 1)] if every == "1mo" else [date(2026, 1, 5), date(2026, 1, 6)]
    assert keys == want
    assert all(type(k) is date for k in keys)


def test_duckdb_periods_of_several_units_are_a_validation_error() -> None:
    log = _duckdb(LOG)
    with pytest.raises(ValidationError, match="single units") as info:
        cohorts(log, "7d")
    assert info.value.field == "every"
    assert list(cohorts(log, "1d").reports)  # one unit still works


# --------------------------------------------------------------- 3. text in 'at'

CALLS: dict[str, Callable[[Any], Any]] = {
    "report": funnel_report,
    "durations": lambda x: funnel_report(x, durations=True),
    "breakdown": lambda x: breakdown(x, "source"),
    "cohorts": cohorts,
    "time_to_convert": time_to_convert,
    "step_durations": step_durations,
    "time_in_stage": time_in_stage,
}


@pytest.mark.parametrize("call", sorted(CALLS))
def test_text_times_are_a_load_error_naming_at_on_every_engine(engine: Any, call: str) -> None:
    text = LOG.with_columns(pl.col("at").dt.to_string("%Y-%m-%dT%H:%M:%S%z"))
    with pytest.raises(LoadError, match=r"column 'at' holds text, not times.*load_frame"):
        CALLS[call](engine(text))


@pytest.mark.parametrize("call", sorted(CALLS))
def test_naive_times_are_a_load_error_on_every_engine(engine: Any, call: str) -> None:
    """polars and DuckDB keyed their periods as naive times, pandas read them as UTC."""
    naive = LOG.with_columns(pl.col("at").dt.replace_time_zone(None))
    with pytest.raises(LoadError, match=r"column 'at' holds naive timestamps.*timezone="):
        CALLS[call](engine(naive))


@pytest.mark.parametrize("call", sorted(CALLS))
def test_pandas_objects_in_at_are_a_load_error(call: str) -> None:
    """A pandas column of Python dates raised pandas' AttributeError (no .dt accessor)."""
    frame = _pandas(LOG)
    frame["at"] = [t.date() for t in LOG["at"]]
    assert str(frame["at"].dtype) == "object"
    with pytest.raises(LoadError, match=r"column 'at' holds Object values, not times"):
        CALLS[call](frame)


UNKNOWN = LOG.with_columns(
    stage=pl.Series(
        ["acquired", "mql", "Closed (Jane Doe)", "acquired", "lost", "acquired", "won"]
    )
)


@pytest.mark.parametrize("call", sorted(CALLS))
def test_a_stage_the_funnel_lacks_is_a_load_error_on_every_engine(engine: Any, call: str) -> None:
    """Such rows counted for nothing: lead a's win was silently not one."""
    with pytest.raises(
        LoadError, match=r"^1 row\(s\) have a stage that is not a stage of"
    ) as info:
        CALLS[call](engine(UNKNOWN))
    assert "Jane" not in str(info.value)  # the data's values are not repeated
    assert "unknown-stage" in str(info.value)


@pytest.mark.parametrize("kind", ["categorical", "enum"])
def test_a_categorical_stage_the_funnel_lacks_is_a_load_error(kind: str) -> None:
    dtype = pl.Categorical() if kind == "categorical" else pl.Enum(sorted(set(UNKNOWN["stage"])))
    frame = UNKNOWN.with_columns(pl.col("stage").cast(dtype))
    for call in CALLS.values():
        with pytest.raises(LoadError, match="not a stage of"):
            call(frame)


def test_null_stages_are_no_unknown_stages() -> None:
    nulls = LOG.with_columns(
        stage=pl.Series(["acquired", None, "won", "acquired", "lost", "acquired", "won"])
    )
    assert funnel_report(nulls).counts == (3, 2)
    assert funnel_report(nulls.to_pandas()).counts == (3, 2)
    for log in (nulls, nulls.lazy(), nulls.to_pandas()):  # the fast path's check, and not
        assert time_to_convert(log, "acquired", "won").count == 2


def test_a_loaded_log_lists_the_rows_the_reports_refuse() -> None:
    loaded = load_frame(UNKNOWN)
    assert [r["reason"] for r in loaded.rejections()] == ["unknown-stage"]
    assert funnel_report(loaded).counts == (3, 2, 1)


PARIS = LOG.with_columns(
    at=pl.Series([*_days(0, 1, 3, 0, 2, 1, 5)[:6], datetime(2026, 1, 31, 23, 30, tzinfo=UTC)])
).with_columns(pl.col("at").dt.convert_time_zone("Europe/Paris"))


@pytest.mark.parametrize("name", sorted(ENGINES))
def test_times_in_another_zone_are_cut_into_utc_periods_on_every_engine(name: str) -> None:
    """polars cut them in Paris months, pandas too but keyed them as UTC midnights, and
    DuckDB cut them in its session's zone (here Tokyo)."""
    if name == "duckdb":
        duckdb = pytest.importorskip("duckdb")
        con = duckdb.connect()
        con.sql("SET TimeZone = 'Asia/Tokyo'")
        log = con.from_arrow(PARIS.to_arrow())
    else:
        log = ENGINES[name](PARIS)
    found = cohorts(log, "1mo")
    # lead c entered on 31 Jan 23:30 UTC (1 Feb 00:30 in Paris, 1 Feb in Tokyo): January
    assert _counts(found) == {datetime(2026, 1, 1, tzinfo=UTC): (3, 2, 2)}
    assert [k.utcoffset() for k in found.reports] == [timedelta(0)]


NOT_TIMES: dict[str, Callable[[], Any]] = {
    "polars time of day": lambda: LOG.with_columns(pl.col("at").dt.time()),
    "polars duration": lambda: LOG.with_columns(pl.col("at") - pl.col("at").min()),
    "polars integer": lambda: LOG.with_columns(pl.col("at").dt.epoch("s")),
    "pyarrow integer": lambda: _pyarrow(LOG.with_columns(pl.col("at").dt.epoch("s"))),
    "pandas timedelta": lambda: _pandas(LOG.with_columns(pl.col("at") - pl.col("at").min())),
    "duckdb integer": lambda: _duckdb(LOG.with_columns(pl.col("at").dt.epoch("s"))),
}


@pytest.mark.parametrize("call", sorted(CALLS))
@pytest.mark.parametrize("kind", sorted(NOT_TIMES))
def test_an_at_of_no_time_type_is_a_load_error(kind: str, call: str) -> None:
    """Each was a raw engine error in cohorts, and time_to_convert timed the numbers."""
    with pytest.raises(LoadError, match=r"column 'at' holds .* values, not times"):
        CALLS[call](NOT_TIMES[kind]())


def test_a_pyarrow_date64_at_is_a_date() -> None:
    pa = pytest.importorskip("pyarrow")
    dates = LOG.with_columns(pl.col("at").dt.date())
    table = dates.to_arrow()
    table = table.set_column(1, "at", table.column(1).cast(pa.date64()))
    assert list(cohorts(table, "1mo").reports) == [date(2026, 1, 1)]
    assert _secs(time_to_convert(table, "acquired", "won")) == (2, 3.5 * 86400)


@pytest.mark.parametrize("name", sorted(ENGINES))
def test_an_at_of_nulls_only_is_missing_times(name: str) -> None:
    """A polars or DuckDB null-typed at raised their own errors in cohorts and durations."""
    if name == "pandas":
        pytest.skip("pandas has no null type: a column of None is an object one")
    log = ENGINES[name](LOG.with_columns(at=pl.lit(None)))
    assert list(cohorts(log, "1mo").reports) == [None]
    assert time_to_convert(log, "acquired", "won").count == 0


def test_time_in_stage_takes_a_pyarrow_table() -> None:
    """It raised narwhals' NotImplementedError (no shift over a window on pyarrow)."""
    table = time_in_stage(_pyarrow(LOG))
    assert pl.from_arrow(table).equals(time_in_stage(LOG))


def test_time_in_stage_counts_open_stays_as_integers_on_duckdb() -> None:
    found = time_in_stage(_duckdb(LOG))
    assert found.schema["still_in"] == pl.Int64  # DuckDB's sum was a DECIMAL(38, 0)
    assert found.equals(time_in_stage(LOG))


def _arrow_pandas(frame: pl.DataFrame) -> Any:
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    return frame.to_pandas(types_mapper=pd.ArrowDtype)


def test_pyarrow_backed_pandas_durations_of_no_lead_are_empty() -> None:
    """pd.NA in the aggregates raised float()'s TypeError."""
    log = _arrow_pandas(LOG)
    assert _secs(time_to_convert(log, "acquired", "won")) == (2, 3.5 * 86400)
    unwon = time_to_convert(_arrow_pandas(LOG.filter(pl.col("stage") != "won")), "acquired", "won")
    assert (unwon.count, unwon.median) == (0, None)
    none = time_to_convert(log.iloc[:0], "acquired", "won")
    assert (none.count, none.median) == (0, None)
    rep = funnel_report(log.iloc[:0], durations=True)
    assert rep.durations is not None
    assert rep.durations.count == 0
    assert all(d.count == 0 for d in step_durations(log.iloc[:0]))


def test_pyarrow_backed_pandas_logs_with_event_rows_are_replayed() -> None:
    """pd.NA's != had no truth value: every report function raised TypeError."""
    events = pl.DataFrame(
        {
            "lead_id": ["a", "a", "b"],
            "at": _days(0, 1, 2),
            "stage": ["acquired", None, "acquired"],
            "event": [None, "mark_mql", None],
        }
    )
    assert funnel_report(_arrow_pandas(events)).counts == funnel_report(events).counts == (2, 1)
    assert _counts(cohorts(_arrow_pandas(events))) == _counts(cohorts(events))


def test_naive_times_loaded_with_a_zone_give_the_report() -> None:
    naive = LOG.with_columns(pl.col("at").dt.replace_time_zone(None))
    loaded = load_frame(naive, timezone="UTC")
    assert funnel_report(loaded).counts == funnel_report(LOG).counts
    assert list(cohorts(loaded).reports) == list(cohorts(LOG).reports)


def test_text_times_loaded_give_the_report_of_the_parsed_log() -> None:
    text = LOG.with_columns(pl.col("at").dt.to_string("%Y-%m-%dT%H:%M:%SZ"))
    loaded = load_frame(text)
    assert funnel_report(loaded).counts == funnel_report(LOG).counts


# --------------------------------------------------------------- 4. categorical by columns


def _categorical(engine_name: str, frame: pl.DataFrame) -> Any:
    if engine_name == "pandas":
        return _pandas(frame).astype({"source": "category"})
    cat = frame.with_columns(pl.col("source").cast(pl.Categorical))
    return ENGINES[engine_name](cat)


@pytest.mark.parametrize("name", sorted(ENGINES))
@pytest.mark.parametrize("attribution", ["first", "last"])
def test_categorical_by_columns_group_as_their_text(name: str, attribution: str) -> None:
    want = _counts(breakdown(LOG, "source", attribution=attribution))
    assert "" not in want  # an empty value is no value: its lead takes the next one
    got = breakdown(_categorical(name, LOG), "source", attribution=attribution)
    assert _counts(got) == want


def test_enum_by_columns_group_as_their_text() -> None:
    enum = LOG.with_columns(pl.col("source").cast(pl.Enum(["", "ads", "ref", "web"])))
    assert _counts(breakdown(enum, "source")) == _counts(breakdown(LOG, "source"))


def test_pandas_pyarrow_backed_dtypes_give_the_polars_breakdown() -> None:
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    frame = LOG.with_columns(n=pl.Series([1, None, 2, 3, None, 4, None]))
    backed = frame.to_pandas().convert_dtypes(dtype_backend="pyarrow")
    assert isinstance(backed["source"].dtype, pd.ArrowDtype)
    for by in ("source", "n", ["source", "n"]):
        for attribution in ("first", "last"):
            want = _counts(breakdown(frame, by, attribution=attribution))
            assert _counts(breakdown(backed, by, attribution=attribution)) == want


# --------------------------------------------------------------- 5. rows without a lead id

NULL_LEAD = pl.DataFrame(
    {
        "lead_id": ["a", None, None],
        "at": _days(0, 0, 1),
        "stage": ["acquired", "mql", "won"],
        "source": ["web", "ads", "ads"],
    }
)


@pytest.mark.parametrize(
    "call",
    [
        "report",
        "durations",
        "breakdown",
        "breakdown-window",
        "cohorts",
        "time_to_convert",
        "strict",
        "time_in_stage",
    ],
)
def test_rows_without_a_lead_id_are_a_load_error_on_every_engine(engine: Any, call: str) -> None:
    calls: dict[str, Callable[[Any], Any]] = {
        **CALLS,
        "breakdown-window": lambda x: breakdown(x, "source", window=timedelta(days=9)),
        "strict": lambda x: funnel_report(x, order="strict"),
    }
    with pytest.raises(LoadError, match=r"^2 row\(s\) have no lead_id"):
        calls[call](engine(NULL_LEAD))


@pytest.mark.parametrize("lazy", [False, True])
def test_a_start_row_without_a_lead_id_is_a_load_error_in_time_to_convert(lazy: bool) -> None:
    """Only a start row lacks its lead: the lazy plan, which reads the end rows first,
    used to drop it without a word."""
    log = pl.DataFrame(
        {"lead_id": ["a", None, "a"], "at": _days(0, 0, 1), "stage": ["acquired"] * 2 + ["won"]}
    )
    frame = log.lazy() if lazy else log
    with pytest.raises(LoadError, match=r"^1 row\(s\) have no lead_id"):
        time_to_convert(frame)
    with pytest.raises(LoadError, match=r"^1 row\(s\) have no lead_id"):
        funnel_report(frame, durations=True)


BLANK_LEAD = NULL_LEAD.with_columns(pl.Series("lead_id", ["a", " \u00a0", "\x1c"]))


@pytest.mark.parametrize(
    "call",
    ["report", "durations", "breakdown", "cohorts", "time_to_convert", "strict", "time_in_stage"],
)
def test_rows_with_a_blank_lead_id_are_a_load_error_on_every_engine(
    engine: Any, call: str
) -> None:
    """A blank id is no id, as the loaders have it: the reports counted it as a lead."""
    calls: dict[str, Callable[[Any], Any]] = {
        **CALLS,
        "strict": lambda x: funnel_report(x, order="strict"),
    }
    with pytest.raises(LoadError, match=r"^2 row\(s\) have no lead_id \(a null or blank id\)"):
        calls[call](engine(BLANK_LEAD))


def test_ids_that_only_start_with_white_space_or_beyond_ascii_are_leads(engine: Any) -> None:
    log = NULL_LEAD.with_columns(pl.Series("lead_id", ["a", " b", "Ökotech"]))
    assert funnel_report(engine(log)).counts == (3, 2, 1)  # three leads, none refused
    assert time_to_convert(engine(log), "acquired", "won").count == 0


def test_the_loaders_reject_rows_without_a_lead_id() -> None:
    loaded = load_frame(NULL_LEAD)
    assert loaded.n_rejected == 2
    assert {r["reason"] for r in loaded.rejections()} == {"missing-id"}
    assert funnel_report(loaded).counts == (1,)


# --------------------------------------------------------------- 7. stages= targets


def test_load_frame_refuses_a_stage_mapping_onto_no_stage() -> None:
    with pytest.raises(ValidationError, match="'wonn', which is not a stage") as info:
        load_frame(LOG, stages={"Closed Won (Jane Doe)": "wonn", "New": "acquired"})
    assert info.value.field == "stages"
    assert "Jane" not in str(info.value)  # the names in the data are not repeated


def test_load_csv_and_load_parquet_refuse_it_too(tmp_path: Path) -> None:
    LOG.write_csv(tmp_path / "log.csv")
    LOG.write_parquet(tmp_path / "log.parquet")
    with pytest.raises(ValidationError, match="'closed', which is not a stage"):
        load_csv(tmp_path / "log.csv", stages={"Won": "closed"})
    with pytest.raises(ValidationError, match="'closed', which is not a stage"):
        load_parquet(tmp_path / "log.parquet", stages={"Won": "closed"})


# --------------------------------------------------------------- 6. missing times as None


@pytest.mark.parametrize("name", ["polars", "pandas"])
def test_a_cohort_of_leads_without_a_time_is_keyed_none(name: str) -> None:
    raw = pl.DataFrame(
        {"lead_id": ["a", "b"], "at": ["2026-01-05T09:00Z", None], "stage": ["acquired", "mql"]}
    )
    frame = raw if name == "polars" else _pandas(raw)
    found = cohorts(load_frame(frame, allow_missing_time=True), "1mo")
    assert [k if k is None else (k.year, k.month) for k in found.reports] == [(2026, 1), None]
    assert found.labels() == ["2026-01", "(none)"]
    assert "(none)" in str(found)
    assert "(none)" in found._repr_html_()


@pytest.mark.parametrize("by", ["lead_id", ["source", "lead_id"]])
def test_a_breakdown_by_the_lead_id_is_a_validation_error(by: Any) -> None:
    """It was a narwhals DuplicateError from deep in the plan."""
    with pytest.raises(ValidationError, match="by cannot be 'lead_id'") as err:
        breakdown(LOG, by)
    assert err.value.field == "by"
    with pytest.raises(ValidationError, match="by cannot be 'lead_id'"):
        time_to_convert(LOG, by="lead_id")


@pytest.mark.parametrize("dtype", [pl.Int64, pl.String])
@pytest.mark.parametrize("lazy", [False, True])
def test_a_by_column_named_like_the_masks_column_counts_its_own_values(
    dtype: Any, lazy: bool
) -> None:
    """The one aggregation names its mask "_m": a by column of that name was read as the
    mask (wrong groups for integers, a polars error for text)."""
    log = pl.DataFrame(
        {
            "lead_id": ["a", "a", "b"],
            "at": _days(0, 1, 0),
            "stage": ["acquired", "mql", "acquired"],
            "_m": [1, 1, 2],
        }
    ).with_columns(pl.col("_m").cast(dtype))
    want = {k: r.counts for k, r in breakdown(log.to_pandas(), "_m").reports.items()}
    frame = log.lazy() if lazy else log
    got = {k: r.counts for k, r in breakdown(frame, "_m").reports.items()}
    assert got == want
    assert len(got) == 2


def test_an_empty_duckdb_relation_gives_empty_reports_on_the_general_path() -> None:
    """DuckDB counts the null lead ids of no rows as NULL: it was a TypeError."""
    duckdb = pytest.importorskip("duckdb")
    empty = pl.DataFrame(
        schema={
            "lead_id": pl.String,
            "at": pl.Datetime("us", "UTC"),
            "stage": pl.String,
            "src": pl.String,
        }
    )
    rel = duckdb.from_arrow(empty.to_arrow())
    assert funnel_report(rel, order="ordered").leads == 0
    assert breakdown(rel, "src").reports == {}
    assert time_to_convert(rel).count == 0


def test_time_to_convert_takes_by_as_a_list_of_one_name() -> None:
    """A one-name list named the list in its error ("no column ['source']") though the column
    is there."""
    listed = time_to_convert(LOG, by=["source"])
    named = time_to_convert(LOG, by="source")
    assert listed.count == named.count
    with pytest.raises(LoadError, match=r"no column 'nope' to break down by"):
        time_to_convert(LOG, by=["nope"])


@pytest.mark.parametrize("call", sorted(CALLS))
def test_a_numeric_stage_column_is_a_load_error_naming_stage_on_every_engine(
    engine: Any, call: str
) -> None:
    """It was a polars, narwhals or DuckDB traceback (pandas counted nothing)."""
    numeric = LOG.with_columns(pl.int_range(pl.len()).alias("stage"))
    with pytest.raises(LoadError, match=r"^column 'stage' holds .* not stage names"):
        CALLS[call](engine(numeric))


@pytest.mark.parametrize("lazy", [False, True])
def test_a_stage_column_of_nulls_only_counts_nothing_on_polars_as_on_pandas(lazy: bool) -> None:
    """polars types a column of nothing but nulls as Null: it was a narwhals error."""
    nulls = LOG.with_columns(pl.lit(None).alias("stage"))
    assert nulls.schema["stage"] == pl.Null
    frame = nulls.lazy() if lazy else nulls
    want = funnel_report(nulls.to_pandas())
    got = funnel_report(frame)
    assert (got.steps, got.counts, got.won, got.lost) == (
        want.steps,
        want.counts,
        want.won,
        want.lost,
    )
    assert (
        breakdown(frame, "source").total.counts
        == breakdown(nulls.to_pandas(), "source").total.counts
    )


@pytest.mark.parametrize(
    "zone", ["America/New_York", "Etc/GMT+8", "America/Argentina/Buenos_Aires"]
)
def test_pandas_times_in_a_zone_narwhals_cannot_name_are_read_in_utc(zone: str) -> None:
    # narwhals reads these pandas zones (a '_', '+' or '-' in the name) as an unknown type:
    # every report function refused them, and load_frame too
    from funnel.engine.replay import reached_per_lead

    at = [datetime(2026, 1, 31, 23, 30, tzinfo=UTC), datetime(2026, 2, 3, tzinfo=UTC)]
    log = pl.DataFrame({"lead_id": ["a", "a"], "at": at, "stage": ["acquired", "won"]})
    pdf = _pandas(log)
    pdf["at"] = pdf["at"].dt.tz_convert(zone)
    assert funnel_report(pdf).counts == funnel_report(log).counts == (1, 1)
    assert list(cohorts(pdf, "1mo").reports) == list(cohorts(log, "1mo").reports)
    assert time_to_convert(pdf).median == time_to_convert(log).median
    assert len(reached_per_lead(pdf)) == 1
    loaded = load_frame(pdf)
    assert loaded.n_accepted == 2
    assert str(loaded.accepted["at"].dtype) == "datetime64[us, UTC]"
    renamed = load_frame(pdf.rename(columns={"at": "when"}), columns={"when": "at"})
    assert renamed.n_accepted == 2


def test_the_fix_a_duckdb_naive_time_error_gives_runs_as_written() -> None:
    duckdb = pytest.importorskip("duckdb")
    con = duckdb.connect()
    relation = con.sql(
        "SELECT 'a' AS lead_id, TIMESTAMP '2026-01-01 09:00:00' AS at, 'acquired' AS stage"
    )
    with pytest.raises(LoadError, match="naive timestamps") as caught:
        funnel_report(relation)
    code = str(caught.value).split("DuckDB: ")[1].removesuffix(")")
    assert code.startswith("relation.project(")
    fixed = eval(code, {"relation": relation})  # noqa: S307 - our own message
    assert funnel_report(fixed).counts == (1,)


@pytest.mark.parametrize("kind", ["categorical", "enum"])
def test_blank_lead_ids_of_a_categorical_column_are_a_load_error(engine: Any, kind: str) -> None:
    ids = pl.Categorical if kind == "categorical" else pl.Enum(["a", " "])
    log = BLANK_LEAD.with_columns(pl.Series("lead_id", ["a", " ", " "]).cast(ids))
    for call in (funnel_report, time_in_stage, lambda x: funnel_report(x, order="ordered")):
        with pytest.raises(LoadError, match=r"^2 row\(s\) have no lead_id"):
            call(engine(log))


def test_nan_lead_ids_are_no_lead_on_every_engine(engine: Any) -> None:
    log = NULL_LEAD.with_columns(pl.Series("lead_id", [1.0, float("nan"), None]))
    for call in (funnel_report, time_in_stage, lambda x: funnel_report(x, order="ordered")):
        with pytest.raises(LoadError, match=r"^2 row\(s\) have no lead_id"):
            call(engine(log))


@pytest.mark.parametrize("dtype", ["str", "category", "string[pyarrow]", "object"])
def test_rows_without_a_lead_are_counted_before_a_replay(dtype: str) -> None:
    """A log whose null-stage rows need a replay: pandas dropped the rows without a lead."""
    pd = pytest.importorskip("pandas")
    log = pd.DataFrame(
        {
            "lead_id": pd.Series(["a", "a", None, " "], dtype=dtype),
            "at": _days(0, 1, 0, 2),
            "stage": ["acquired", "won", "acquired", None],
            "event": [None, None, None, "win"],
        }
    )
    for call in (funnel_report, time_in_stage, time_to_convert):
        with pytest.raises(LoadError, match=r"^2 row\(s\) have no lead_id"):
            call(log)


def test_null_and_blank_ids_are_counted_together_in_time_to_convert() -> None:
    log = pl.DataFrame(
        {
            "lead_id": [None, "a", " ", " "],
            "at": _days(0, 1, 0, 1),
            "stage": ["acquired", "won"] * 2,
        }
    )
    for frame in (log, log.lazy()):
        with pytest.raises(LoadError, match=r"^3 row\(s\) have no lead_id"):
            time_to_convert(frame)


def test_a_pyarrow_string_view_column_reads_as_text() -> None:
    pa = pytest.importorskip("pyarrow")
    table = LOG.to_arrow()
    i = table.schema.get_field_index("lead_id")
    views = table.set_column(i, "lead_id", table.column(i).cast(pa.string_view()))
    assert funnel_report(views).counts == funnel_report(LOG).counts
    assert time_to_convert(views).count == time_to_convert(LOG).count


def test_cohort_keys_are_the_same_objects_on_every_engine(engine: Any) -> None:
    """The keys compared equal already; polars' carried ZoneInfo('UTC'), the others UTC."""
    keys = list(cohorts(engine(LOG), "1mo").reports)
    assert keys
    assert all(k.tzinfo is UTC for k in keys if isinstance(k, datetime))
    assert [repr(k) for k in keys] == [repr(k) for k in cohorts(LOG.to_pandas(), "1mo").reports]


@pytest.mark.parametrize("lazy", [False, True])
def test_time_to_convert_on_polars_finds_categorical_blank_and_nan_end_row_ids(lazy: bool) -> None:
    log = pl.DataFrame(
        {
            "lead_id": ["a", " ", "b", "b"],
            "at": _days(0, 5, 0, 2),
            "stage": ["acquired", "won"] * 2,
        }
    )
    for ids in (pl.Categorical, pl.Enum(["a", " ", "b"])):
        frame = log.with_columns(pl.col("lead_id").cast(ids))
        with pytest.raises(LoadError, match=r"^1 row\(s\) have no lead_id"):
            time_to_convert(frame.lazy() if lazy else frame)
    nan = log.with_columns(pl.Series("lead_id", [1.0, float("nan"), 2.0, 2.0]))
    with pytest.raises(LoadError, match=r"^1 row\(s\) have no lead_id"):
        time_to_convert(nan.lazy() if lazy else nan)


def test_a_duckdb_enum_lead_id_is_tested_for_blanks() -> None:
    duckdb = pytest.importorskip("duckdb")
    con = duckdb.connect()
    con.execute("CREATE TYPE ids AS ENUM ('a', 'b', ' ')")
    con.register("log", BLANK_LEAD.with_columns(pl.Series("lead_id", ["a", " ", "b"])).to_arrow())
    relation = con.sql('SELECT CAST(lead_id AS ids) AS lead_id, "at", stage FROM log')
    with pytest.raises(LoadError, match=r"^1 row\(s\) have no lead_id"):
        funnel_report(relation)
    kept = con.sql(
        "SELECT CAST(lead_id AS ids) AS lead_id, \"at\", stage FROM log WHERE lead_id <> ' '"
    )
    expected = BLANK_LEAD.with_columns(pl.Series("lead_id", ["a", " ", "b"]))
    assert (
        funnel_report(kept).counts
        == funnel_report(expected.filter(pl.col("lead_id") != " ")).counts
    )


def test_pyarrow_dictionary_of_string_views_reads_as_text() -> None:
    pa = pytest.importorskip("pyarrow")
    table = LOG.to_arrow()
    i = table.schema.get_field_index("lead_id")
    kind = pa.dictionary(pa.int32(), pa.string_view())
    views = table.set_column(i, "lead_id", table.column(i).cast(kind))
    assert funnel_report(views).counts == funnel_report(LOG).counts
    ordered = funnel_report(views, order="ordered").counts
    assert ordered == funnel_report(LOG, order="ordered").counts
    assert time_to_convert(views).count == time_to_convert(LOG).count


def test_cohort_labels_are_in_utc_as_their_keys() -> None:
    for key, report in cohorts(LOG, "1mo").reports.items():
        assert report.label == key
        assert report.label.tzinfo is UTC
