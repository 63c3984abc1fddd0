"""Replay and report on Dask equal the polars / bulk results; Spark skips without pyspark."""

from __future__ import annotations

import importlib
import random
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, strategies

from funnel import DEFAULT_FUNNEL
from funnel.analytics.distributed import (
    rejects_dask,
    replay_dask,
    replay_spark,
    report_dask,
    report_spark,
    stage_log_dask,
)
from funnel.engine.replay import bulk_replay, bulk_replay_frame, reached_polars, step_table
from tests.helpers import T0

pd = pytest.importorskip("pandas")
pl = pytest.importorskip("polars")
dd = pytest.importorskip("dask.dataframe")
dask = pytest.importorskip("dask")

TABLE = DEFAULT_FUNNEL.table


def make_log(n_leads: int, seed: int) -> Any:
    """A pandas log: a created row (stage only) per lead, then events with their stage."""
    rng = random.Random(seed)
    cols: dict[str, list[Any]] = {"lead_id": [], "at": [], "event": [], "stage": []}
    for i in range(n_leads):
        stage = TABLE.initial
        rows: list[tuple[Any, str]] = [(None, stage)]
        for _ in range(rng.randint(0, 7)):
            allowed = sorted(TABLE.allowed(stage))
            if allowed and rng.random() < 0.9:
                event = rng.choice(allowed)
                stage = TABLE.options(stage, event)[0].target
            else:
                event = rng.choice(TABLE.events)  # may be illegal: the stage stays
                stage = step_table().get((stage, event), stage)
            rows.append((event, stage))
        for k, (event, st) in enumerate(rows):
            cols["lead_id"].append(f"L{i:05d}")
            cols["at"].append(T0 + timedelta(hours=k))
            cols["event"].append(event)
            cols["stage"].append(st)
    frame = pd.DataFrame(cols)
    # Shuffle rows so that partitions mix leads and their rows.
    frame = frame.sample(frac=1, random_state=seed).reset_index(drop=True)
    frame["row"] = range(1, len(frame) + 1)
    return frame


@pytest.fixture(autouse=True)
def synchronous() -> Iterator[None]:
    with dask.config.set(scheduler="synchronous"):
        yield


@pytest.fixture(scope="module")
def log() -> Any:
    return make_log(700, 11)


@pytest.mark.parametrize("partitions", [2, 4])
def test_replay_equals_bulk(log: Any, partitions: int):
    """Final stages, transition and reject counts equal the single-machine bulk replay."""
    expected = bulk_replay_frame(pl.from_pandas(log))
    ddf = dd.from_pandas(log, npartitions=partitions)
    got = replay_dask(ddf).compute()
    assert list(got.columns) == ["lead_id", "stage", "transitions", "rejected"]
    assert dict(zip(got["lead_id"], got["stage"], strict=True)) == expected.final
    assert dict(zip(got["lead_id"], got["transitions"], strict=True)) == expected.transitions
    rejected: dict[str, int] = {}
    for r in expected.rejects:
        rejected[r.lead_id] = rejected.get(r.lead_id, 0) + 1
    assert {k: v for k, v in zip(got["lead_id"], got["rejected"], strict=True) if v} == rejected
    assert rejected, "the log should contain illegal events"


def test_rejects_equal_bulk(log: Any):
    expected = bulk_replay_frame(pl.from_pandas(log))
    got = rejects_dask(dd.from_pandas(log, npartitions=3)).compute().sort_values("row")
    # bulk_replay_frame numbers rows by position, which equals the "row" column here.
    assert [(r.row, r.lead_id, r.stage, r.event) for r in expected.rejects] == list(
        got.itertuples(index=False, name=None)
    )
    with pytest.raises(ValueError, match="'row' column"):
        rejects_dask(dd.from_pandas(log.drop(columns="row"), npartitions=2))


def test_report_equals_polars_and_analytics(log: Any):
    """The reached-stage report on Dask equals polars and funnel.analytics."""
    from funnel.analytics import funnel_report

    ddf = dd.from_pandas(log, npartitions=3)
    got = report_dask(ddf)
    frame = pl.from_pandas(log)
    assert got == reached_polars(frame)
    theirs = funnel_report(frame)
    assert (got.counts, got.won, got.lost, got.open) == (
        theirs.counts,
        theirs.won,
        theirs.lost,
        theirs.open,
    )
    steps = ["acquired", "sql", "opportunity", "won"]
    assert report_dask(ddf, steps=steps) == reached_polars(frame, steps=steps)


def test_report_of_an_event_only_log_replays_it(log: Any):
    """Without a stage column the events are replayed first; the figures are the same."""
    events_only = log.drop(columns="stage")
    got = report_dask(dd.from_pandas(events_only, npartitions=2))
    # A row with neither stage nor event says nothing: leads without events are not seen.
    active = log[log["lead_id"].isin(set(log.loc[log["event"].notna(), "lead_id"]))]
    assert got == report_dask(dd.from_pandas(active, npartitions=2))
    assert got.counts[0] < report_dask(dd.from_pandas(log, npartitions=2)).counts[0]
    stages = stage_log_dask(dd.from_pandas(events_only, npartitions=2)).compute()
    result = bulk_replay_frame(pl.from_pandas(log), history=True)
    expected_rows = len(result.final) + sum(len(v) for v in (result.history or {}).values())
    assert len(stages) == expected_rows


def test_replay_needs_events(log: Any):
    with pytest.raises(ValueError, match="'event' column"):
        replay_dask(dd.from_pandas(log.drop(columns="event"), npartitions=2))


def test_replay_honours_a_custom_table(log: Any):
    no_reason = step_table(passes=lambda name: name != "has_reason")
    got = replay_dask(dd.from_pandas(log, npartitions=2), table=no_reason).compute()
    ordered = log.sort_values(["lead_id", "at"])
    ordered = ordered[ordered["event"].notna()]
    expected = bulk_replay(ordered["lead_id"].tolist(), ordered["event"].tolist(), table=no_reason)
    assert dict(zip(got["lead_id"], got["stage"], strict=True)) == expected.final
    assert "disqualified" not in set(got["stage"])


def test_spark_without_pyspark():
    """The Spark variant says what to install when pyspark is missing."""
    try:
        importlib.import_module("pyspark")
    except ImportError:
        with pytest.raises(ImportError, match=r"pip install .salesfunnel\[spark\]"):
            replay_spark(object())
        with pytest.raises(ImportError, match=r"pip install .salesfunnel\[spark\]"):
            report_spark(object())
    else:  # pragma: no cover - only where pyspark is installed
        pytest.skip("pyspark is installed: see test_spark_equals_polars")


@pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning")
def test_spark_equals_polars(log: Any):  # pragma: no cover - needs pyspark and Java
    sql = pytest.importorskip("pyspark.sql")
    SparkSession = sql.SparkSession  # noqa: N806

    spark = SparkSession.builder.master("local[2]").appName("funnel-test").getOrCreate()
    try:
        sdf = spark.createDataFrame(log.drop(columns="at").assign(at=log["at"].astype("int64")))
        got = {row["lead_id"]: row["stage"] for row in replay_spark(sdf).collect()}
        expected = bulk_replay_frame(pl.from_pandas(log))
        assert got == expected.final
        assert report_spark(sdf) == reached_polars(pl.from_pandas(log))
    finally:
        spark.stop()


def test_report_refuses_rows_with_an_event_and_no_stage():
    """Such rows were left out: report_dask counted mql 1 where funnel_report counts 2."""
    from funnel.exceptions import LoadError

    log = pd.DataFrame(
        {
            "lead_id": ["a", "a", "b", "b"],
            "at": [T0, T0 + timedelta(days=1), T0, T0 + timedelta(days=1)],
            "stage": ["acquired", "mql", "acquired", None],
            "event": [None, None, None, "mark_mql"],
        }
    )
    with pytest.raises(LoadError, match="1 row\\(s\\) have an event and no stage"):
        report_dask(dd.from_pandas(log, npartitions=2))
    staged = log.assign(stage=["acquired", "mql", "acquired", "mql"])
    assert report_dask(dd.from_pandas(staged, npartitions=2)).counts[:2] == (2, 2)


@given(
    columns=strategies.sets(strategies.sampled_from(["lead_id", "at", "stage", "event", "row"])),
    count=strategies.integers(min_value=0, max_value=10**9),
    replays=strategies.booleans(),
)
def test_the_unstaged_check_refuses_exactly_logs_with_both_columns_and_such_rows(
    columns: set[str], count: int, replays: bool
) -> None:
    """report_spark left rows with an event and no stage out, as report_dask once did."""
    from funnel.analytics.distributed import _check_staged
    from funnel.exceptions import LoadError

    asked: list[int] = []

    def unstaged() -> int:
        asked.append(count)
        return count

    both = {"stage", "event"} <= columns
    who = "report_dask" if replays else "report_spark"
    if both and count:
        with pytest.raises(LoadError) as refused:
            _check_staged(who, sorted(columns), unstaged, replays=replays)
        fix = (
            "give every row a stage, or drop the stage column to have the events replayed"
            if replays
            else "give every row a stage (report_spark does not replay events)"
        )
        assert str(refused.value) == f"{who}: {count} row(s) have an event and no stage; {fix}"
    else:
        _check_staged(who, sorted(columns), unstaged, replays=replays)
    assert asked == ([count] if both else [])  # the engine's query runs only when it can matter


def _spark_session() -> Any:  # pragma: no cover - needs pyspark and Java
    sql = pytest.importorskip("pyspark.sql")
    return sql.SparkSession.builder.master("local[2]").appName("funnel-test").getOrCreate()


@pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning")
def test_report_spark_refuses_rows_with_an_event_and_no_stage() -> None:  # pragma: no cover
    """report_spark left them out; report_dask refuses them (the same log as the Dask test)."""
    from funnel.exceptions import LoadError

    spark = _spark_session()
    try:
        log = pd.DataFrame(
            {
                "lead_id": ["a", "a", "b", "b"],
                "at": [0, 1, 0, 1],
                "stage": ["acquired", "mql", "acquired", None],
                "event": [None, None, None, "mark_mql"],
            }
        )
        schema = "lead_id string, at long, stage string, event string"
        sdf = spark.createDataFrame(log.astype(object).where(log.notna(), None), schema=schema)
        with pytest.raises(LoadError, match=r"^report_spark: 1 row\(s\) have an event and no"):
            report_spark(sdf)
        with pytest.raises(LoadError, match="event log has no 'stage' column"):
            report_spark(sdf.drop("stage"))
        staged = log.assign(stage=["acquired", "mql", "acquired", "mql"])
        sdf = spark.createDataFrame(staged.astype(object).where(staged.notna(), None), schema)
        assert report_spark(sdf).counts[:2] == (2, 2)
    finally:
        spark.stop()
