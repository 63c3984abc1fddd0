"""
Funnel types (ordered, strict, unordered, exclusions, repeated steps, windows) and
conversion times that agree with the report, on every engine.

The log ``TYPES`` is the worked example of ``docs/how-to/funnel-types.md``; its
counts are computed by hand there (and below, in the comments).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from funnel import ValidationError
from funnel.analytics import dropped_off, funnel_report, step_durations, time_to_convert
from funnel.engine.replay import reached_per_lead, tally_reached
from tests.analytics.conftest import ENGINES, T0

DAY = timedelta(days=1)
STEPS = ("acquired", "mql", "sql")

#: (lead, day, stage)
TYPES: list[tuple[str, float, str]] = [
    ("p", 0, "acquired"),
    ("p", 1, "mql"),
    ("p", 2, "sql"),
    ("q", 0, "acquired"),
    ("q", 1, "nurturing"),
    ("q", 2, "mql"),
    ("q", 3, "sql"),
    ("r", 0, "acquired"),
    ("r", 1, "sql"),
    ("r", 2, "mql"),
    ("r", 3, "sql"),
    ("s", 0, "mql"),
    ("s", 1, "acquired"),
    ("s", 2, "sql"),
    ("u", 0, "acquired"),
    ("u", 30, "mql"),
    ("u", 40, "acquired"),
    ("u", 45, "mql"),
    ("u", 50, "sql"),
    ("v", 0, "sql"),
    ("v", 1, "mql"),
]


def frame(rows: list[tuple[str, float, str]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "row": list(range(1, len(rows) + 1)),
            "lead_id": [r[0] for r in rows],
            "at": [T0 + r[1] * DAY for r in rows],
            "stage": [r[2] for r in rows],
        },
        schema_overrides={"at": pl.Datetime("us", "UTC")},
    )


@pytest.fixture
def types_log() -> pl.DataFrame:
    return frame(TYPES)


# (order, window, exclude, steps) -> counts, counted by hand:
CASES: list[tuple[str, timedelta | None, list[Any], tuple[str, ...], tuple[int, ...]]] = [
    # p q r u pass in order (r: acquired 0, mql 2, sql 3); s never has mql after acquired
    ("ordered", None, [], STEPS, (5, 4, 4)),
    # u's first attempt (day 0) sees mql only on day 30: the re-entry on day 40 restarts
    ("ordered", 10 * DAY, [], STEPS, (5, 4, 4)),
    # strict: r's next step row after acquired is sql; u converts from its day-40 entry
    ("strict", None, [], STEPS, (5, 3, 3)),
    # unordered: v (sql, mql, no acquired) did two of the three steps
    ("unordered", None, [], STEPS, (6, 6, 5)),
    ("unordered", 10 * DAY, [], STEPS, (6, 6, 5)),
    # q enters nurturing between acquired and mql: left out
    ("ordered", None, [("nurturing", "acquired", "mql")], STEPS, (4, 3, 3)),
    # only u enters mql twice after acquired
    ("ordered", None, [], ("acquired", "mql", "mql"), (5, 4, 1)),
    # a two-day window: p does all three; q and r reach mql on day 2, sql on day 3 is late
    ("ordered", 2 * DAY, [], STEPS, (5, 3, 1)),
]


@pytest.mark.parametrize(("order", "window", "exclude", "steps", "expected"), CASES)
def test_funnel_types_counted_by_hand(types_log, engine, order, window, exclude, steps, expected):
    report = funnel_report(
        engine(types_log), steps=steps, order=order, window=window, exclude=exclude
    )
    assert report.counts == expected


dask = pytest.importorskip("dask")
dd = pytest.importorskip("dask.dataframe")


@pytest.fixture
def synchronous() -> Iterator[None]:
    with dask.config.set(scheduler="synchronous"):
        yield


@pytest.mark.usefixtures("synchronous")
@pytest.mark.parametrize(
    ("order", "window", "expected"),
    [
        (o, w, e)
        for o, w, x, s, e in CASES
        if o in ("ordered", "unordered") and not x and s == STEPS
    ],
)
def test_dask_gives_the_same_ordered_and_unordered_counts(types_log, order, window, expected):
    import narwhals as nw

    ddf = dd.from_pandas(types_log.to_pandas(), npartitions=2)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Dask support is moving", FutureWarning)
        per = reached_per_lead(nw.from_native(ddf), steps=STEPS, order=order, window=window)
        counts = tally_reached(per, STEPS)[None]
    assert counts.counts == expected


def test_ordered_window_restarts_at_reentry():
    """Fails before the fix: the window was timed from the first entry only."""
    log = frame([("u", 0.0, "acquired"), ("u", 20.0, "acquired"), ("u", 25.0, "mql")])
    report = funnel_report(log, steps=["acquired", "mql"], order="ordered", window=10 * DAY)
    assert report.counts == (1, 1)
    d = time_to_convert(log, "acquired", "mql", window=10 * DAY)
    assert (d.count, d.median) == (1, 5 * DAY)


def test_time_to_convert_counts_an_end_after_a_later_start(engine):
    """mql d0, acquired d1, mql d3: converted acquired -> mql in 2 days (was dropped)."""
    log = frame([("x", 0.0, "mql"), ("x", 1.0, "acquired"), ("x", 3.0, "mql")])
    d = time_to_convert(engine(log), "acquired", "mql")
    assert (d.count, d.median) == (1, 2 * DAY)
    assert funnel_report(engine(log), steps=["acquired", "mql"], order="ordered").counts == (1, 1)


def test_first_of_several_conversions_is_timed_from_its_own_start():
    x = [("x", 0.0, "acquired"), ("x", 2.0, "acquired"), ("x", 3.0, "mql"), ("x", 9.0, "mql")]
    y = [("y", 0.0, "acquired"), ("y", 3.0, "mql"), ("y", 5.0, "acquired"), ("y", 6.0, "mql")]
    log = frame([*x, *y])
    d = time_to_convert(log, "acquired", "mql")
    seconds = dict(d.seconds.iter_rows())
    # x: the re-entry on day 2 restarts the clock; y: the first conversion (day 3) counts
    assert seconds == {"x": DAY.total_seconds(), "y": 3 * DAY.total_seconds()}


STAGES = ["acquired", "mql", "sql", "nurturing", "won", "lost"]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from("abcde"), st.integers(0, 30), st.sampled_from(STAGES)),
        min_size=1,
        max_size=30,
    ),
    st.sampled_from(["acquired", "mql", "nurturing"]),
    st.sampled_from(["mql", "sql", "won"]),
    st.sampled_from([None, 1, 3, 10]),
    st.sampled_from(["ordered", "strict"]),
)
def test_time_to_convert_measures_exactly_the_converted_leads(rows, a, b, days, order):
    log = frame([(lead, float(d), s) for lead, d, s in rows])
    window = None if days is None else days * DAY
    report = funnel_report(log, steps=[a, b], order=order, window=window)
    d = time_to_convert(log, a, b, window=window, order=order)
    measured = set(d.seconds["lead_id"].to_list())
    entered = set(log.filter(pl.col("stage") == a)["lead_id"].to_list())
    converted = entered - set(dropped_off(log, 1, steps=[a, b], order=order, window=window))
    assert measured == converted
    assert d.count == report.counts[1] == len(measured)
    assert all(
        s >= 0 and (window is None or s <= window.total_seconds()) for s in d.seconds["seconds"]
    )


def test_step_durations_time_the_leads_each_step_counts(types_log, engine):
    ds = step_durations(engine(types_log), steps=STEPS, order="ordered")
    report = funnel_report(types_log, steps=STEPS, order="ordered")
    assert [d.count for d in ds] == list(report.counts[1:])
    # acquired -> mql: p 1, q 2, r 2, u 5 (u's attempts both reach sql on day 50:
    # the later start, day 40, counts: a re-entry restarts the clock)
    assert sorted(ds[0].values()) == [1.0, 2.0, 2.0, 5.0]
    hist = ds[0].histogram(bins=2)
    assert hist["leads"].to_list() == [3, 1]
    assert hist["bin_start"].to_list() == [1.0, 3.0]
    assert str(ds[0]).startswith("Acquired → MQL: 4 leads, median 2 d, mean 2 d 12 h")


def test_dropped_off_are_the_drop_off(types_log, engine):
    report = funnel_report(engine(types_log), steps=STEPS, order="strict")
    assert report.drop_off == (0, 2, 0)
    assert dropped_off(engine(types_log), "mql", steps=STEPS, order="strict") == ["r", "s"]
    assert dropped_off(engine(types_log), 2, steps=STEPS, order="strict") == []


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda log: funnel_report(log, order="unordered", exclude=[("lost", 0, 1)]), "exclude"),
        (lambda log: funnel_report(log, order="ordered", exclude=[("lost", 1, 0)]), "exclude"),
        (lambda log: funnel_report(log, order="ordered", exclude=[("nowhere", 0, 1)]), "exclude"),
        (lambda log: funnel_report(log, order="ordered", exclude="lost"), "exclude"),  # type: ignore[arg-type]
        (lambda log: funnel_report(log, steps=["mql", "mql"]), "steps"),
        (lambda log: time_to_convert(log, order="unordered"), "order"),  # type: ignore[arg-type]
        (lambda log: dropped_off(log, "acquired"), "step"),
        (lambda log: dropped_off(log, 99), "step"),
        (lambda log: step_durations(log)[0].histogram(bins=0), "bins"),
        (lambda log: step_durations(log)[0].histogram(unit="weeks"), "unit"),  # type: ignore[arg-type]
    ],
)
def test_bad_funnel_type_arguments_name_the_argument(
    types_log: pl.DataFrame, call: Callable[[pl.DataFrame], Any], field: str
):
    with pytest.raises(ValidationError) as e:
        call(types_log)
    assert e.value.field == field


def test_engines_agree_on_every_type(types_log):
    figures = {
        (name, order): funnel_report(to(types_log), steps=STEPS, order=order).counts
        for name, to in ENGINES.items()
        for order in ("reached", "ordered", "strict", "unordered")
    }
    for (_, order), counts in figures.items():
        assert counts == figures[("polars", order)]
    assert datetime(2026, 1, 5, 9, tzinfo=UTC) == T0


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from("abcd"), st.integers(0, 12), st.sampled_from(STAGES)),
        min_size=1,
        max_size=25,
    ),
    st.sampled_from(["ordered", "strict", "unordered"]),
    st.sampled_from([None, 2, 5]),
)
def test_polars_and_pandas_agree_on_every_type(rows, order, days):
    log = frame([(lead, float(d), s) for lead, d, s in rows])
    window = None if days is None else days * DAY
    steps = ["acquired", "mql", "sql", "won"]
    ours = funnel_report(log, steps=steps, order=order, window=window)
    theirs = funnel_report(log.to_pandas(), steps=steps, order=order, window=window)
    assert (ours.counts, ours.won, ours.lost) == (theirs.counts, theirs.won, theirs.lost)
    assert list(ours.counts) == sorted(ours.counts, reverse=True)
