"""
The one-aggregation paths (polars, DuckDB) give the general engine's figures.

``funnel_report``, ``breakdown`` and ``cohorts`` (order "reached", no window) run
one bitmask aggregation on polars and DuckDB; ``time_to_convert`` (ordered, no
window) three joins over the start and end rows. pandas takes the general path
(per-lead figures, attempts), so every property compares the two on the same rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import attrs
import duckdb
import narwhals as nw
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from funnel import DEFAULT_FUNNEL, ValidationError
from funnel.analytics import breakdown, cohorts, funnel_report, time_to_convert
from funnel.engine import replay
from funnel.engine.replay import mask_tally
from funnel.exceptions import LoadError

T = datetime(2026, 1, 1, tzinfo=UTC)
STAGES = [*DEFAULT_FUNNEL.stages, None]  # a null stage: no stage of the funnel's
SOURCES = [None, "", "web", "ads", "b"]

rows_strategy = st.lists(
    st.tuples(
        st.sampled_from("abcdef"),
        st.integers(0, 6),  # few times: ties within a lead
        st.sampled_from(STAGES),
        st.sampled_from(SOURCES),
        st.integers(0, 3),
    ),
    min_size=0,
    max_size=40,
)


def frame_of(
    rows: Sequence[tuple[str, int, str | None, str | None, int]], shuffle: int
) -> pl.DataFrame:
    n = len(rows)
    row = [(i * 7 + shuffle) % (n + 3) for i in range(n)]  # distinct, not in frame order
    return pl.DataFrame(
        {
            "row": row,
            "lead_id": [r[0] for r in rows],
            "at": [T + timedelta(days=30 * r[1]) for r in rows],
            "stage": [r[2] for r in rows],
            "source": [r[3] for r in rows],
            "tier": [r[4] for r in rows],
        },
        schema={
            "row": pl.Int64,
            "lead_id": pl.String,
            "at": pl.Datetime("us", "UTC"),
            "stage": pl.String,
            "source": pl.String,
            "tier": pl.Int64,
        },
    )


def general(rep: object) -> object:
    return attrs.evolve(rep, backend="polars")  # type: ignore[misc]


@settings(max_examples=30, deadline=None)
@given(rows_strategy, st.integers(0, 5))
def test_report_breakdown_cohorts_equal_the_general_path(rows, shuffle):
    frame = frame_of(rows, shuffle)
    pdf = frame.to_pandas()
    assert funnel_report(frame) == general(funnel_report(pdf))
    assert funnel_report(frame.drop("row")) == general(funnel_report(pdf.drop(columns="row")))
    steps = ["mql", "sql", "won"]
    assert funnel_report(frame, steps=steps) == general(funnel_report(pdf, steps=steps))
    for attribution in ("first", "last"):
        for by in ("source", "tier", ["source", "tier"]):
            fast = breakdown(frame, by, attribution=attribution)
            slow = breakdown(pdf, by, attribution=attribution)
            assert fast.reports.keys() == slow.reports.keys()
            assert all(fast[k] == general(slow[k]) for k in fast.reports)
            assert fast.total == general(slow.total)
        nrow = breakdown(frame.drop("row"), "source", attribution=attribution)
        slow = breakdown(pdf.drop(columns="row"), "source", attribution=attribution)
        assert {k: r.counts for k, r in nrow.reports.items()} == {
            k: r.counts for k, r in slow.reports.items()
        }
    fast_c, slow_c = cohorts(frame, "1mo"), cohorts(pdf, "1mo")
    assert list(fast_c.reports) == list(slow_c.reports)
    assert all(fast_c[k] == general(slow_c[k]) for k in fast_c.reports)


@settings(max_examples=20, deadline=None)
@given(rows_strategy, st.integers(0, 5))
def test_duckdb_report_is_the_one_aggregation_and_agrees(rows, shuffle):
    frame = frame_of(rows, shuffle).select("lead_id", "at", "stage")
    con = duckdb.connect()
    rel = con.from_arrow(frame.to_arrow())
    assert mask_tally(nw.from_native(rel)) is not None
    assert funnel_report(rel) == funnel_report(frame)


@settings(max_examples=30, deadline=None)
@given(rows_strategy, st.integers(0, 5))
def test_time_to_convert_equals_the_attempt_engine(rows, shuffle):
    frame = frame_of(rows, shuffle)
    pdf = frame.to_pandas()
    for start, end in (("acquired", "won"), ("mql", ["won", "lost"]), (["mql", "sql"], "won")):
        fast = time_to_convert(frame, start, end)
        slow = time_to_convert(pdf, start, end)
        assert (fast.count, fast.median, fast.mean, fast.quantiles) == (
            slow.count,
            slow.median,
            slow.mean,
            slow.quantiles,
        )
        assert fast.seconds.rows() == list(
            zip(slow.seconds["lead_id"], slow.seconds["seconds"], strict=True)
        )


@settings(max_examples=20, deadline=None)
@given(rows_strategy, st.integers(0, 5))
def test_durations_true_is_the_report_and_its_time_to_convert(rows, shuffle):
    frame = frame_of(rows, shuffle)
    for steps in (None, ["mql", "won"]):
        rep = funnel_report(frame, steps=steps, durations=True)
        assert attrs.evolve(rep, durations=None) == funnel_report(frame, steps=steps)
        ttc = time_to_convert(frame, rep.steps[0], sorted(DEFAULT_FUNNEL.won_stages))
        assert rep.durations is not None
        assert (rep.durations.count, rep.durations.median, rep.durations.quantiles) == (
            ttc.count,
            ttc.median,
            ttc.quantiles,
        )
        assert rep.durations.mean == ttc.mean
        assert rep.durations.seconds.equals(ttc.seconds)
        slow = time_to_convert(frame.to_pandas(), rep.steps[0], sorted(DEFAULT_FUNNEL.won_stages))
        assert rep.durations.seconds.rows() == list(
            zip(slow.seconds["lead_id"], slow.seconds["seconds"], strict=True)
        )


def test_durations_follow_the_order_and_window():
    frame = pl.DataFrame(
        {
            "lead_id": ["a", "a", "a", "b", "b"],
            "at": [T, T + timedelta(days=2), T + timedelta(days=40), T, T + timedelta(days=5)],
            "stage": ["acquired", "mql", "won", "acquired", "won"],
        }
    )
    rep = funnel_report(frame, order="ordered", window=timedelta(days=30), durations=True)
    assert rep.durations is not None
    assert rep.durations.count == 1  # a's won is outside the window
    assert rep.durations.median == timedelta(days=5)
    # the first present step starts the clock: no 'acquired' rows, so 'mql'
    rep = funnel_report(frame.filter(pl.col("stage") != "acquired"), durations=True)
    assert rep.steps[0] == "mql"
    assert rep.durations is not None
    assert rep.durations.count == 1
    assert rep.durations.median == timedelta(days=38)


def test_durations_must_be_a_bool():
    frame = pl.DataFrame({"lead_id": ["a"], "at": [T], "stage": ["acquired"]})
    with pytest.raises(ValidationError, match="durations must be True or False"):
        funnel_report(frame, durations="yes")  # type: ignore[arg-type]


def test_rows_needing_a_replay_leave_the_one_aggregation():
    """A null stage with an event: the events are replayed, as on the general path."""
    frame = pl.DataFrame(
        {
            "lead_id": ["a", "a", "b"],
            "at": [T, T + timedelta(days=1), T],
            "event": [None, "mark_mql", None],
            "stage": ["acquired", None, "acquired"],
        }
    )
    assert mask_tally(nw.from_native(frame)) is None
    assert funnel_report(frame) == general(funnel_report(frame.to_pandas()))
    assert funnel_report(frame).counts[:2] == (2, 1)


def test_null_stages_without_events_stay_in_the_one_aggregation():
    """A null stage with no event adds nothing: the one aggregation still answers."""
    frame = pl.DataFrame(
        {
            "lead_id": ["a", "a", "b"],
            "at": [T, T + timedelta(days=1), T],
            "event": [None, None, None],
            "stage": ["acquired", None, "mql"],
        },
        schema_overrides={"event": pl.String},
    )
    for log in (frame, frame.lazy(), duckdb.connect().from_arrow(frame.to_arrow())):
        found = mask_tally(nw.from_native(log))
        assert found is not None
        assert found.steps == ("acquired", "mql")
        assert found.total.counts == (2, 1)
    assert funnel_report(frame) == general(funnel_report(frame.to_pandas()))


@settings(max_examples=25, deadline=None)
@given(rows_strategy, st.integers(0, 5), st.randoms(use_true_random=False))
def test_fast_paths_do_not_depend_on_row_order(rows, shuffle, rnd):
    """The same rows in another order: the same figures, to the last bit of every mean."""
    frame = frame_of(rows, shuffle)
    order = list(range(frame.height))
    rnd.shuffle(order)
    moved = frame[order]
    for log in (frame, frame.drop("row")):
        other = moved if "row" in log.columns else moved.drop("row")
        assert funnel_report(log) == funnel_report(other)
        a, b = funnel_report(log, durations=True), funnel_report(other, durations=True)
        assert attrs.evolve(a, durations=None) == attrs.evolve(b, durations=None)
        assert a.durations is not None
        assert b.durations is not None
        assert attrs.evolve(a.durations, seconds=None) == attrs.evolve(b.durations, seconds=None)
        assert a.durations.seconds.equals(b.durations.seconds)
        for attribution in ("first", "last"):
            by_source = breakdown(log, "source", attribution=attribution)
            assert by_source == breakdown(other, "source", attribution=attribution)
        assert cohorts(log, "1mo") == cohorts(other, "1mo")
        x, y = time_to_convert(log), time_to_convert(other)
        assert (x.count, x.median, x.mean, x.quantiles) == (y.count, y.median, y.mean, y.quantiles)
        assert x.seconds.equals(y.seconds)


def test_durations_in_one_pass_time_the_unsettled_leads_from_their_rows():
    """
    The one pass times most leads from their first/last start and end times; a lead
    that restarts after converting (a) or ends before its first start (b) needs its rows.
    """
    d = [T + timedelta(days=i) for i in range(6)]
    rows = [
        ("a", d[0], "acquired"), ("a", d[2], "won"), ("a", d[5], "acquired"),
        ("b", d[0], "won"), ("b", d[1], "acquired"), ("b", d[4], "won"),
        ("c", d[0], "won"), ("c", d[1], "acquired"),
        ("d", d[0], "acquired"), ("d", d[3], "acquired"), ("d", d[5], "won"),
        ("e", None, "acquired"), ("e", d[1], "acquired"), ("e", d[2], "won"),
        ("f", d[2], "acquired"), ("f", d[2], "won"),
        ("g", d[1], "acquired"), ("g", None, "won"),
    ]  # fmt: skip
    frame = pl.DataFrame(
        {
            "lead_id": [r[0] for r in rows],
            "at": [r[1] for r in rows],
            "stage": [r[2] for r in rows],
        },
        schema={"lead_id": pl.String, "at": pl.Datetime("us", "UTC"), "stage": pl.String},
    )
    rep = funnel_report(frame, steps=["acquired", "won"], durations=True)
    assert rep.durations is not None
    days = {k: s / 86400 for k, s in rep.durations.seconds.iter_rows()}
    assert days == {"a": 2, "b": 3, "d": 2, "e": 1, "f": 0}
    slow = time_to_convert(frame.to_pandas(), "acquired", "won")
    assert rep.durations.seconds.rows() == list(
        zip(slow.seconds["lead_id"], slow.seconds["seconds"], strict=True)
    )
    lazy = funnel_report(frame.lazy(), steps=["acquired", "won"], durations=True)
    assert lazy.durations is not None
    assert lazy.durations.seconds.equals(rep.durations.seconds)


@settings(max_examples=25, deadline=None)
@given(rows_strategy, st.integers(0, 5))
def test_categorical_and_enum_stage_columns_give_the_string_columns_figures(rows, shuffle):
    """The mask reads a stage's code: a Categorical or Enum stage column (its own categories,
    in its own order, with ones no funnel has) counts as the same text does."""
    frame = frame_of(rows, shuffle)
    categories = [*reversed(DEFAULT_FUNNEL.stages), "extra"]  # one category no row has
    for dtype in (pl.Categorical, pl.Enum(categories)):
        coded = frame.with_columns(pl.col("stage").cast(dtype))
        assert funnel_report(coded) == funnel_report(frame)
        assert breakdown(coded, "source") == breakdown(frame, "source")
        assert cohorts(coded, "1mo") == cohorts(frame, "1mo")


@settings(max_examples=25, deadline=None)
@given(rows_strategy, st.integers(0, 5), st.integers(0, 40))
def test_a_stage_no_funnel_has_is_refused_on_every_path(rows, shuffle, where):
    """It counted for nothing, on the fast paths and the general one alike."""
    rows = list(rows)
    odd = ("a", 1, "unknown", "web", 0)
    rows.insert(where % (len(rows) + 1), odd)
    frame = frame_of(rows, shuffle)
    con = duckdb.connect()
    for log in (frame, frame.lazy(), frame.to_pandas(), con.from_arrow(frame.to_arrow())):
        with pytest.raises(LoadError, match=r"^1 row"):
            funnel_report(log)
        with pytest.raises(LoadError, match=r"^1 row"):
            breakdown(log, "source")
        with pytest.raises(LoadError, match=r"^1 row"):
            time_to_convert(log, "acquired", "won")
    for dtype in (pl.Categorical, pl.Enum(["unknown", *DEFAULT_FUNNEL.stages])):
        with pytest.raises(LoadError, match=r"^1 row"):
            cohorts(frame.with_columns(pl.col("stage").cast(dtype)), "1mo")


@settings(max_examples=25, deadline=None)
@given(rows_strategy, st.integers(0, 5))
def test_an_enum_by_column_gives_the_text_columns_breakdown(rows, shuffle):
    """An Enum column's values are its categories (listed in any order, with ones no row
    has and the empty text): the fast path reads no pass for them, and counts as the text."""
    frame = frame_of(rows, shuffle)
    coded = frame.with_columns(pl.col("source").cast(pl.Enum(["web", "", "zzz", "b", "ads"])))
    for attribution in ("first", "last"):
        for by in ("source", ["source", "tier"]):
            assert breakdown(coded, by, attribution=attribution) == breakdown(
                frame, by, attribution=attribution
            )
    found = mask_tally(coded, by=("source",))
    assert found is not None  # the one aggregation, not the general path


# a breakdown by a long text column of an eager frame codes it from a sample of its
# values (funnel.engine.replay._SAMPLE rows); a value the sample missed has code 0 and
# its leads are counted again exactly. A sample of 1 to 3 rows misses most values here.
RARE_SOURCES = [None, "", "web", "ads", "b", "zz", "Äx", "a b", "web2"]
rare_rows = st.lists(
    st.tuples(
        st.sampled_from("abcdef"),
        st.integers(0, 6),
        st.sampled_from(STAGES),
        st.sampled_from(RARE_SOURCES),
        st.integers(0, 3),
    ),
    min_size=0,
    max_size=60,
)


@settings(max_examples=60, deadline=None)
@given(
    rare_rows,
    st.integers(0, 5),
    st.integers(1, 3),
    st.sampled_from([1, 2, 1 << 20]),  # most values in a sample: read them all instead
    st.sampled_from([0, 4]),  # 0: recount the leads however many rows they have
)
def test_a_breakdown_from_a_sample_of_the_values_is_the_exact_one(
    rows, shuffle, sample, most, share
):
    frame = frame_of(rows, shuffle).with_columns(
        medium=pl.col("tier").replace_strict({0: "x", 1: "", 2: "y"}, default=None)
    )
    pdf = frame.to_pandas()
    bys = ("source", ["source", "tier"], ["medium", "source"])
    for attribution in ("first", "last"):
        with mock.patch.object(replay, "_SAMPLE", 1 << 40):  # no sample: every value
            exact = {str(b): breakdown(frame, b, attribution=attribution) for b in bys}
        with (
            mock.patch.object(replay, "_SAMPLE", sample),
            mock.patch.object(replay, "_GUESS_MAX", most),
            mock.patch.object(replay, "_RECOUNT_SHARE", share),
        ):
            for by in bys:
                sampled = breakdown(frame, by, attribution=attribution)
                assert sampled == exact[str(by)]
                slow = breakdown(pdf, by, attribution=attribution)
                assert sampled.reports.keys() == slow.reports.keys()
                assert all(sampled[k] == general(slow[k]) for k in sampled.reports)
            nrow = breakdown(frame.drop("row"), "source", attribution=attribution)
            slow_nrow = breakdown(pdf.drop(columns="row"), "source", attribution=attribution)
            assert {k: r.counts for k, r in nrow.reports.items()} == {
                k: r.counts for k, r in slow_nrow.reports.items()
            }


def _calls_of_breakdown(
    frame: pl.DataFrame, sample: int, attribution: str = "last"
) -> tuple[list[tuple[int, bool]], Any]:
    """
    The tallies one breakdown by source runs, (rows, sampled or not) each, and the
    breakdown, checked equal to the general path's.
    """
    calls: list[tuple[int, bool]] = []
    tally = replay._mask_rows_polars

    def spy(native: pl.DataFrame, *args: Any, **kwargs: Any) -> Any:
        calls.append((native.height, kwargs.get("sample", True)))
        return tally(native, *args, **kwargs)

    with (
        mock.patch.object(replay, "_SAMPLE", sample),
        mock.patch.object(replay, "_mask_rows_polars", spy),
    ):
        found = breakdown(frame, "source", attribution=attribution)
    slow = breakdown(frame.to_pandas(), "source", attribution=attribution)
    assert all(found[k] == general(slow[k]) for k in slow.reports)
    assert found.reports.keys() == slow.reports.keys()
    return calls, found


def test_a_value_the_sample_missed_that_wins_a_tie_is_counted_exactly():
    """Lead a's first touch is a tie of "web" (sampled) and "ads" (missed): "ads" wins,
    as it does on every other path. Only leads a and b are counted again."""
    rows = [("a", 0, "acquired", "web", 0), ("a", 0, "mql", "ads", 0)]
    rows += [(f"c{i}", 1, "acquired", "web", 0) for i in range(10)]
    rows += [("b", 2, "acquired", "zz", 0)]
    frame = frame_of(rows, 0).drop("row")
    # a sample of one row, row 0: "web" only
    calls, found = _calls_of_breakdown(frame, 1, "first")
    # the guess, then the three rows of leads a and b counted both ways, not all rows
    assert calls == [(13, True), (3, False), (3, False)]
    _, last = _calls_of_breakdown(frame, 1, "last")
    assert {k: r.counts[0] for k, r in found.reports.items()} == {"ads": 1, "web": 10, "zz": 1}
    assert {k: r.counts[0] for k, r in last.reports.items()} == {"ads": 1, "web": 10, "zz": 1}


def test_the_sample_is_not_in_step_with_a_regular_log():
    """Each lead's rows in turn "web" then "ads": every second row (the sample this had
    been) saw "web" only, and every lead was counted again. The sample sees both."""
    rows = [
        (f"l{i:03d}", day, stage, source, 0)
        for i in range(64)
        for day, stage, source in ((0, "acquired", "web"), (1, "mql", "ads"))
    ]
    assert _calls_of_breakdown(frame_of(rows, 0).drop("row"), 64)[0] == [(128, True)]


def test_a_sample_missing_most_leads_values_counts_all_rows_once():
    """Values the sample missed on most leads: one count of all rows, not a recount."""
    rows = [(f"l{i:03d}", 0, "acquired", "web" if i == 0 else f"v{i}", 0) for i in range(40)]
    assert _calls_of_breakdown(frame_of(rows, 0).drop("row"), 1)[0] == [(40, True), (40, False)]


def test_an_empty_text_the_sample_did_not_see_is_recounted_not_counted():
    """Where the sample saw no empty text, a row with one has code 0, as a missed value
    does: lead a (first "" then "web") is recounted, and its first touch is "web"."""
    rows = [("c0", 1, "acquired", "web", 0), ("a", 0, "acquired", "", 0)]
    rows += [("a", 1, "mql", "web", 0)] + [
        (f"c{i}", 1, "acquired", "web", 0) for i in range(1, 10)
    ]
    frame = frame_of(rows, 0).drop("row")
    # the sample: row 0, "web"; lead a's two rows recounted
    calls, found = _calls_of_breakdown(frame, 1, "first")
    assert calls == [(12, True), (2, False), (2, False)]
    assert {k: r.counts[0] for k, r in found.reports.items()} == {"web": 11}


@pytest.mark.parametrize("height", [40620, 39243])  # 2654435761 % height: 1, height - 2
def test_the_sample_is_spread_at_every_height(height):
    """A step of i * a prime modulo the height read the first rows only, or every second
    row, at heights like these: a source that starts at 70 % of the log was missed."""
    late = int(height * 0.7)
    frame = pl.DataFrame(
        {
            "lead_id": [f"l{i // 2:06d}" for i in range(height)],
            "at": [T + timedelta(minutes=i) for i in range(height)],
            "stage": ["acquired" if i % 2 == 0 else "mql" for i in range(height)],
            "source": [
                ("web" if i < late else "new") if i % 2 == 0 else "" for i in range(height)
            ],
        },
        schema_overrides={"at": pl.Datetime("us", "UTC")},
    )
    assert _calls_of_breakdown(frame, replay._SAMPLE, "first")[0] == [(height, True)]


def test_few_leads_holding_most_rows_are_counted_once_not_recounted():
    """200 leads of 50 rows, each with a value the sample misses, and 800 of one row: the
    leads are a fifth of all, their rows most of them. One exact count of all rows."""
    rows = [
        (f"h{i:03d}", j, "acquired", "web" if j else f"r{i}", 0)
        for i in range(200)
        for j in range(50)
    ]
    rows += [(f"s{i:03d}", 0, "acquired", "web", 0) for i in range(800)]
    assert _calls_of_breakdown(frame_of(rows, 0).drop("row"), 64, "first")[0] == [
        (10800, True),
        (10800, False),
    ]


@pytest.mark.parametrize("lazy", [False, True])
def test_a_uint64_row_number_past_the_int64_range_breaks_ties(lazy):
    """A UInt64 row of 2**63 or more raised polars' raw InvalidOperationError (review)."""
    n = 40_000  # a long frame: the sampled text column too
    frame = pl.DataFrame(
        {
            "lead_id": [f"l{i // 2}" for i in range(n)],
            "at": [T + timedelta(minutes=i // 4) for i in range(n)],  # ties, broken by row
            "stage": ["acquired" if i % 2 == 0 else "mql" for i in range(n)],
            "source": ["web" if i % 3 else "ads" for i in range(n)],
            "row": pl.Series([(1 << 63) + n - i for i in range(n)], dtype=pl.UInt64),
        },
        schema_overrides={"at": pl.Datetime("us", "UTC")},
    )
    log = frame.lazy() if lazy else frame
    for attribution in ("first", "last"):
        found = breakdown(log, "source", attribution=attribution)
        slow = breakdown(frame.to_pandas(), "source", attribution=attribution)
        assert found.reports.keys() == slow.reports.keys()
        assert all(found[k] == general(slow[k]) for k in slow.reports)
