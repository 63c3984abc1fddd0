"""
One replay and one report: every engine gives the same figures.

The replay (``replay_log``, ``bulk_replay``, ``bulk_replay_frame``,
``bulk_replay_columns``, ``replay_dask``) and the report (``funnel_report`` on
polars, pandas and DuckDB, ``reached_polars``, ``report_dask``, on stage logs and
on replayed event logs) agree on a generated log and on the shared datasets.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from funnel import DEFAULT_FUNNEL
from funnel.analytics import funnel_report, load_maven, load_olist
from funnel.analytics.datasets import MAVEN_STEPS, OLIST_STEPS
from funnel.analytics.replay import replay_log
from funnel.engine.replay import (
    ReachedCounts,
    bulk_replay,
    bulk_replay_columns,
    bulk_replay_frame,
    reached_polars,
    report_steps,
    step_table,
)
from funnel.model.eventlog import AT, EVENT, LEAD_ID, ROW, STAGE
from tests.analytics.conftest import ENGINES, T0

TABLE = DEFAULT_FUNNEL.table

dask = pytest.importorskip("dask")
dd = pytest.importorskip("dask.dataframe")


@pytest.fixture(autouse=True)
def synchronous() -> Iterator[None]:
    with dask.config.set(scheduler="synchronous"):
        yield


def generated_log(n_leads: int, seed: int) -> pl.DataFrame:
    """A created row (stage only) per lead, then events with the stage they leave the lead in."""
    rng = random.Random(seed)
    step = step_table()
    cols: dict[str, list[Any]] = {LEAD_ID: [], AT: [], EVENT: [], STAGE: []}
    for i in range(n_leads):
        stage = TABLE.initial
        rows: list[tuple[str | None, str]] = [(None, stage)]
        for _ in range(rng.randint(0, 8)):
            allowed = sorted(TABLE.allowed(stage))
            if allowed and rng.random() < 0.85:
                event = rng.choice(allowed)
            else:
                event = rng.choice(TABLE.events)  # may be illegal: the stage stays
            stage = step.get((stage, event), stage)
            rows.append((event, stage))
        for k, (what, st) in enumerate(rows):
            cols[LEAD_ID].append(f"L{i:04d}")
            cols[AT].append(T0 + timedelta(hours=k))
            cols[EVENT].append(what)
            cols[STAGE].append(st)
    frame = pl.DataFrame(cols, schema_overrides={AT: pl.Datetime("us", "UTC")})
    # interleave the leads (each lead's rows stay in time order), then number the rows
    frame = frame.sort(AT, LEAD_ID)
    return frame.with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64))


def counts(report: Any) -> tuple[tuple[int, ...], int, int, int]:
    return tuple(report.counts), report.won, report.lost, report.open


def reports_of_a_stage_log(log: pl.DataFrame, steps: tuple[str, ...]) -> dict[str, Any]:
    """The reached report of *log* through every engine and every entry point."""
    out = {name: counts(funnel_report(to(log), steps=steps)) for name, to in ENGINES.items()}
    out["reached_polars"] = counts(reached_polars(log, steps=steps))
    out["reached_polars lazy"] = counts(reached_polars(log.lazy(), steps=steps))
    ddf = dd.from_pandas(log.select(LEAD_ID, AT, STAGE).to_pandas(), npartitions=3)
    from funnel.analytics.distributed import report_dask

    out["report_dask"] = counts(report_dask(ddf, steps=steps))
    replayed = replay_log(log).stage_frame()
    out["replay_log then funnel_report"] = counts(funnel_report(replayed, steps=steps))
    return out


def assert_all_equal(figures: dict[str, Any]) -> None:
    first = next(iter(figures.values()))
    assert {k: v for k, v in figures.items() if v != first} == {}, first


@pytest.fixture(scope="module")
def log() -> pl.DataFrame:
    return generated_log(400, 21)


class TestGeneratedLog:
    def test_every_replay_gives_the_same_stages_and_refusals(self, log: pl.DataFrame):
        from funnel.analytics.distributed import rejects_dask, replay_dask

        events = log.filter(pl.col(EVENT).is_not_null())
        lists = bulk_replay(events[LEAD_ID].to_list(), events[EVENT].to_list(), rows=events[ROW])
        frame = bulk_replay_frame(log)
        columns = bulk_replay_columns(log).to_result()
        analytics = replay_log(log)
        pdf = log.to_pandas()
        dask_final = replay_dask(dd.from_pandas(pdf, npartitions=3)).compute()
        dask_rejects = rejects_dask(dd.from_pandas(pdf, npartitions=2)).compute()
        finals = {
            "bulk_replay": lists.final,
            "bulk_replay_frame": frame.final,
            "bulk_replay_columns": columns.final,
            # replay_log also keeps the leads whose only row names a stage
            "replay_log": {k: v for k, v in analytics.current.items() if k in lists.final},
            "replay_dask": dict(zip(dask_final[LEAD_ID], dask_final[STAGE], strict=True)),
        }
        assert_all_equal(finals)
        refused = {
            "bulk_replay": sorted(r.row for r in lists.rejects),
            "bulk_replay_frame": [r.row for r in frame.rejects],
            "bulk_replay_columns": [r.row for r in columns.rejects],
            "replay_log": [p.row for p in analytics.problems],
            "rejects_dask": sorted(dask_rejects[ROW].tolist()),
        }
        assert_all_equal(refused)
        assert refused["replay_log"], "the log should contain illegal events"
        assert {p.kind for p in analytics.problems} == {"illegal-event"}
        idle = {k: v for k, v in analytics.current.items() if k not in lists.final}
        assert set(idle.values()) == {TABLE.initial}
        assert len(idle) + len(lists.final) == log[LEAD_ID].n_unique()

    @pytest.mark.parametrize(
        "steps", [report_steps(), ("acquired", "sql", "opportunity", "won"), ("mql", "won")]
    )
    def test_every_report_gives_the_same_counts(self, log: pl.DataFrame, steps: tuple[str, ...]):
        figures = reports_of_a_stage_log(log, steps)
        events_only = log.drop(STAGE)
        # an event-only log is replayed first; leads with no event are not seen
        from funnel.analytics.distributed import report_dask

        active = log.filter(pl.col(EVENT).is_not_null())[LEAD_ID].unique().implode()
        seen = log.filter(pl.col(LEAD_ID).is_in(active))
        replayed = {
            "funnel_report of events": counts(funnel_report(events_only, steps=steps)),
            "report_dask of events": counts(
                report_dask(dd.from_pandas(events_only.to_pandas(), npartitions=2), steps=steps)
            ),
            "reached_polars of seen": counts(reached_polars(seen, steps=steps)),
        }
        assert_all_equal(figures)
        assert_all_equal(replayed)
        if steps[0] == TABLE.initial:
            assert figures["polars"][0][0] == log[LEAD_ID].n_unique()

    def test_breakdowns_and_cohorts_total_the_report(self, log: pl.DataFrame):
        from funnel.analytics import breakdown, cohorts

        whole = funnel_report(log)
        for to in ENGINES.values():
            total = cohorts(to(log), "1d").total
            assert counts(total) == counts(whole)
        split = breakdown(log.with_columns(pl.col(LEAD_ID).str.slice(0, 3).alias("grp")), "grp")
        assert counts(split.total) == counts(whole)
        assert sum(r.leads for r in split.reports.values()) == whole.leads


def test_reached_counts_is_the_report(shared_data: Path):
    maven = load_maven(shared_data)
    ours = reached_polars(maven.accepted, steps=MAVEN_STEPS)
    theirs = funnel_report(maven, steps=MAVEN_STEPS)
    assert isinstance(ours, ReachedCounts)
    assert counts(ours) == counts(theirs)


@pytest.mark.parametrize(
    ("loader", "steps"), [(load_maven, MAVEN_STEPS), (load_olist, OLIST_STEPS)]
)
def test_shared_datasets_through_every_engine(shared_data: Path, loader: Any, steps: Any):
    loaded = loader(shared_data)
    log = loaded.accepted
    assert_all_equal(reports_of_a_stage_log(log, steps))
    replay = replay_log(loaded)
    last = dict(
        log.sort(ROW).group_by(LEAD_ID, maintain_order=True).agg(pl.col(STAGE).last()).rows()
    )
    assert dict(replay.current) == last
    assert replay.stage_counts() == {
        s: n for s in DEFAULT_FUNNEL.stages if (n := list(last.values()).count(s))
    }
