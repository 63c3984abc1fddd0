"""Funnel reports: hand-counted numbers, identical on polars, pandas and DuckDB."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs
import narwhals as nw
import pandas as pd
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from funnel import LoadError
from funnel.analytics import (
    breakdown,
    cohorts,
    default_steps,
    funnel_report,
    load_frame,
    time_in_stage,
    time_to_convert,
)

DAYS = timedelta(days=1)


def test_default_steps_are_the_main_path():
    assert default_steps() == (
        "acquired",
        "mql",
        "sql",
        "organisation",
        "opportunity",
        "stakeholder",
        "won",
    )


def test_reached_counts_distinct_leads_at_or_beyond_each_step(log_polars, engine):
    report = funnel_report(engine(log_polars))
    assert report.counts == (5, 4, 3, 3, 2, 2, 2)
    assert (report.won, report.lost, report.open) == (2, 2, 1)
    assert report.win_rate == 0.5
    assert report.overall_win_rate == 2 / 5
    assert report.drop_off == (0, 1, 1, 0, 1, 0, 0)
    assert report.conversion_from_previous[1] == 4 / 5
    assert report.conversion_from_first[-1] == 2 / 5


def test_ordered_funnel_needs_step_one_and_order(log_polars, engine):
    report = funnel_report(engine(log_polars), order="ordered")
    assert report.counts == (3, 2, 1, 1, 1, 1, 1)
    assert (report.won, report.lost, report.open) == (1, 1, 1)


def test_window_counts_only_rows_within_the_window_from_entry(log_polars, engine):
    report = funnel_report(engine(log_polars), window=10 * DAYS)
    assert report.counts == (5, 4, 2, 2, 1, 0, 0)
    assert (report.won, report.lost, report.open) == (0, 1, 4)


def test_breakdown_uses_first_touch(log_polars, engine):
    split = breakdown(engine(log_polars), "source")
    assert list(split.reports) == ["ads", "web"]
    assert split["web"].counts == (2, 2, 2, 2, 1, 1, 1)
    assert split["ads"].counts == (3, 2, 1, 1, 1, 1, 1)
    assert (split["ads"].won, split["ads"].lost, split["ads"].open) == (1, 1, 1)
    assert split.total.counts == (5, 4, 3, 3, 2, 2, 2)


def test_cohorts_by_entry_month(log_polars, engine):
    split = cohorts(engine(log_polars), "1mo")
    jan = datetime(2026, 1, 1, tzinfo=UTC)
    feb = datetime(2026, 2, 1, tzinfo=UTC)
    assert list(split.reports) == [jan, feb]
    assert split[jan].leads == 3
    assert split[feb].counts == (2, 1, 1, 1, 1, 1, 1)


@pytest.mark.parametrize(
    ("every", "labels"),
    [("1mo", ["2026-01", "2026-02"]), ("1q", ["2026-Q1"]), ("1y", ["2026"])],
)
def test_cohorts_print_their_periods(log_polars, engine, every, labels):
    """The cohort table printed periods as 2016-10-01 00:00:00+00:00."""
    split = cohorts(engine(log_polars), every)
    assert split.every == every
    assert split.labels() == labels
    text, page = str(split), split._repr_html_()
    for label in labels:
        assert f"\n{label} " in text
        assert f"<td>{label}</td>" in page
    assert "00:00" not in text
    assert "00:00" not in page
    assert isinstance(next(iter(split.reports)), datetime)  # the keys stay datetimes


def test_breakdown_keys_are_written_as_they_are(log_polars):
    split = breakdown(log_polars, "source")
    assert split.every is None
    assert split.labels() == ["ads", "web"]
    assert "\nads " in str(split)


def test_time_to_convert(log_polars, engine):
    d = time_to_convert(engine(log_polars), "mql", "won", by="source")
    assert d.count == 2
    assert d.median == timedelta(days=39.5)
    assert d.quantiles[0.25] == timedelta(days=29.25)
    assert d.groups["web"].median == 19 * DAYS
    assert d.groups["ads"].median == 60 * DAYS
    assert time_to_convert(engine(log_polars)).median == 20 * DAYS


def test_time_in_stage(log_polars, engine):
    frame = nw.from_native(time_in_stage(engine(log_polars)), eager_only=True)
    rows = {r["stage"]: r for r in frame.iter_rows(named=True)}
    assert list(rows)[:3] == ["acquired", "mql", "sql"]
    assert (rows["acquired"]["entries"], rows["acquired"]["still_in"]) == (3, 1)
    assert rows["acquired"]["median_days"] == 1.5
    assert rows["mql"]["median_days"] == 2.0
    assert rows["organisation"]["median_days"] == 12.0


def test_output_frames_follow_the_input_engine(log_polars):
    assert isinstance(funnel_report(log_polars.to_pandas()).to_frame(), pd.DataFrame)
    assert isinstance(funnel_report(log_polars).to_frame(), pl.DataFrame)
    assert isinstance(breakdown(log_polars.to_pandas(), "owner").to_frame(), pd.DataFrame)
    assert funnel_report(log_polars).to_frame()["leads"].to_list() == [5, 4, 3, 3, 2, 2, 2]


def test_text_and_html_renderings(log_polars):
    report = funnel_report(log_polars)
    text = str(report)
    assert "Organisation" in text  # display names (funnel.stage_name)
    assert "win rate on closed 50.00%" in text
    assert "<table>" in report._repr_html_()
    split = breakdown(log_polars, "owner")
    assert "(all)" in str(split)
    assert "<th>owner</th>" in split._repr_html_()


def test_bad_arguments(log_polars):
    with pytest.raises(ValueError, match="steps"):
        funnel_report(log_polars, steps=["acquired", "nowhere"])
    with pytest.raises(ValueError, match="window"):
        funnel_report(log_polars, window=timedelta(0))
    with pytest.raises(ValueError, match="order"):
        funnel_report(log_polars, order="sideways")  # type: ignore[arg-type]
    with pytest.raises(LoadError, match="region"):
        breakdown(log_polars, "region")
    with pytest.raises(LoadError):
        funnel_report(log_polars.drop("stage"))


def test_event_logs_are_replayed_into_stages():
    t = datetime(2026, 3, 1, tzinfo=UTC)
    log = pl.DataFrame(
        {
            "lead_id": ["x", "x", "x", "x", "y"],
            "at": [t + i * DAYS for i in range(5)],
            "stage": ["acquired", None, None, None, "acquired"],
            "event": [None, "mark_mql", "mark_sql", "win", None],
            "source": ["a", "a", "a", "a", "b"],
        }
    )
    loaded = load_frame(log)
    # default steps: the main path's stages the (replayed) log has
    report = funnel_report(loaded)
    assert report.steps == ("acquired", "mql", "sql")
    assert report.counts == (2, 1, 1)
    assert funnel_report(loaded, steps=default_steps()).counts == (2, 1, 1, 0, 0, 0, 0)
    assert breakdown(loaded, "source")["a"].counts[2] == 1


STAGES = ["acquired", "mql", "sql", "organisation", "won", "lost", "nurturing"]


@given(
    st.lists(
        st.tuples(st.sampled_from("abcdef"), st.integers(0, 50), st.sampled_from(STAGES)),
        min_size=1,
        max_size=40,
    ),
    st.randoms(use_true_random=False),
)
def test_properties_rates_bounds_and_order_independence(rows, rng):
    t = datetime(2026, 1, 1, tzinfo=UTC)
    frame = pl.DataFrame(
        {
            "lead_id": [r[0] for r in rows],
            "at": [t + r[1] * DAYS for r in rows],
            "stage": [r[2] for r in rows],
        }
    )
    report = funnel_report(frame)
    assert list(report.counts) == sorted(report.counts, reverse=True)
    assert report.won + report.lost + report.open == report.leads
    for rate in (*report.conversion_from_previous, *report.conversion_from_first):
        assert rate is None or 0 <= rate <= 1
    shuffled = frame.sample(fraction=1.0, shuffle=True, seed=rng.randint(0, 1000))
    assert funnel_report(shuffled) == report
    assert funnel_report(frame.to_pandas()) == attrs.evolve(report, backend="pandas")


def test_steps_must_follow_the_funnel(log_polars):
    """Out-of-order steps would double count ("reached" includes later steps): refused."""
    from funnel import ValidationError

    with pytest.raises(ValidationError, match="'acquired' cannot be reached from 'won'"):
        funnel_report(log_polars, steps=["won", "acquired"])
    with pytest.raises(ValidationError, match="'sql' cannot be reached from 'organisation'"):
        breakdown(log_polars, "source", steps=["acquired", "organisation", "sql"])


@pytest.mark.parametrize("window", [30, 30.0, "30d", True, -DAYS, timedelta(0)])
def test_window_must_be_a_positive_timedelta(log_polars, window):
    """window=30 (days meant) is refused with a ValidationError naming the argument."""
    from funnel import ValidationError

    for report in (funnel_report, cohorts):
        with pytest.raises(ValidationError, match=r"window must be a .*datetime\.timedelta") as e:
            report(log_polars, window=window)
        assert e.value.field == "window"
    with pytest.raises(ValidationError, match="window"):
        breakdown(log_polars, "source", window=window)


@pytest.mark.parametrize(
    ("steps", "match"),
    [
        ("acquired", "sequence of stage names"),
        (42, "sequence of stage names"),
        (["acquired", 1], r"stage names \(str\)"),
        ([], "at least one"),
        (["acquired", "acquired"], "distinct"),
        (["acquired", "nowhere"], r"unknown stage 'nowhere'; the stages are acquired, mql"),
    ],
)
def test_steps_must_be_stage_names(log_polars, steps, match):
    from funnel import ValidationError
    from funnel.engine.replay import reached_polars

    for call in (
        lambda: funnel_report(log_polars, steps=steps),
        lambda: breakdown(log_polars, "source", steps=steps),
        lambda: cohorts(log_polars, steps=steps),
        lambda: reached_polars(log_polars, steps=steps),
    ):
        with pytest.raises(ValidationError, match=match) as e:
            call()
        assert e.value.field == "steps"


def test_other_arguments_are_checked(log_polars):
    from funnel import ValidationError

    with pytest.raises(ValidationError, match="order") as e:
        funnel_report(log_polars, order=1)  # type: ignore[arg-type]
    assert e.value.allowed == ("reached", "ordered", "strict", "unordered")
    with pytest.raises(ValidationError, match="every"):
        cohorts(log_polars, 7)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="by must be a column name"):
        breakdown(log_polars, 3)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=r"funnel must be a funnel\.Funnel"):
        funnel_report(log_polars, funnel="default")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=r"start: not stages .*'nowhere'.*the stages are"):
        time_to_convert(log_polars, start="nowhere")
    with pytest.raises(ValidationError, match="end must be a stage name"):
        time_to_convert(log_polars, end=5)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="quantiles"):
        time_to_convert(log_polars, quantiles=[0.5, 2])
    with pytest.raises(ValidationError, match="unit"):
        time_in_stage(log_polars, unit="weeks")  # type: ignore[arg-type]


@pytest.mark.parametrize("every", ["1w", "bogus", "", "0d", 7, None])
def test_cohorts_refuse_a_period_no_engine_truncates_to(every: object) -> None:
    """cohorts(pandas_log, "1w") raised narwhals' bare ValueError."""
    import pandas as pd

    import funnel.analytics as fa
    from funnel import ValidationError

    log = pd.DataFrame(
        {
            "lead_id": ["a", "a"],
            "stage": ["acquired", "mql"],
            "at": pd.to_datetime(["2026-01-01T00:00Z", "2026-01-05T00:00Z"]),
        }
    )
    with pytest.raises(ValidationError) as err:
        fa.cohorts(log, every)  # type: ignore[arg-type]
    assert err.value.field == "every"


def test_a_big_breakdown_summarises_and_masks_personal_keys() -> None:
    """Found in review: 20,000 groups gave a 4.4 MB repr and a 1.5 MB table; owners' e-mails."""
    import polars as pl

    from funnel.analytics import breakdown, load_frame
    from funnel.analytics.report import TABLE_GROUPS

    at = datetime(2026, 1, 1, tzinfo=UTC)
    n = 2_000
    frame = pl.DataFrame(
        {
            "lead_id": [f"L{i}" for i in range(n)],
            "at": [at] * n,
            "stage": ["acquired"] * n,
            "owner": [
                f"rep{i}@acme.example" if i % 2 else f"+33 6 12 34 {i:04d}" for i in range(n)
            ],
        }
    )
    split = breakdown(load_frame(frame), "owner")
    assert len(split.reports) == n
    assert len(repr(split)) < 200
    assert f"<{n} groups>" in repr(split)
    html = split._repr_html_()
    assert html.count("<tr>") == TABLE_GROUPS + 2  # header, groups shown, (all)
    assert f"and {n - TABLE_GROUPS} more groups" in html
    assert "rep1@acme" not in html
    assert "rep1@acme" not in str(split)
    assert "12 34" not in str(split)
    assert "rep1@acme.example" in split.reports  # the keys themselves are kept


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        ("limbo", "won", "start"),
        ("acquired", "Won", "end"),
        (["acquired", "nowhere"], "won", "start"),
    ],
)
def test_time_to_convert_refuses_a_stage_the_funnel_does_not_know(
    log_polars, engine, start, end, field
):
    """A typo is refused by name (UnknownName), not measured as zero leads."""
    from funnel.exceptions import UnknownName

    with pytest.raises(UnknownName, match=f"{field}: not stages of funnel") as e:
        time_to_convert(engine(log_polars), start, end)
    assert e.value.field == field
    assert "won" in (e.value.allowed or ())
    assert isinstance(e.value, KeyError)  # as Funnel.level_of refuses a name


def test_time_to_convert_of_a_known_stage_the_log_lacks_measures_nobody(log_polars, engine):
    """As the ordered report counts 0 leads entering a step the log lacks, so do the durations."""
    d = time_to_convert(engine(log_polars), "nurturing", "won")
    assert (d.count, d.median, d.mean, dict(d.quantiles)) == (0, None, None, {})
    report = funnel_report(engine(log_polars), steps=["nurturing", "won"], order="ordered")
    assert report.counts == (0, 0)


@pytest.mark.parametrize("lazy", [False, True])
def test_a_narwhals_wrapped_polars_log_reports_as_the_native_one(log_polars, lazy):
    """The polars path reads native frames without narwhals; a wrapped one takes narwhals'."""
    native = log_polars.lazy() if lazy else log_polars
    wrapped = nw.from_native(native)
    for a, b in (
        (funnel_report(native), funnel_report(wrapped)),
        (breakdown(native, "source"), breakdown(wrapped, "source")),
        (cohorts(native, "1mo"), cohorts(wrapped, "1mo")),
    ):
        assert a == b


def test_a_native_polars_log_with_event_only_rows_is_replayed(log_polars):
    """Null stages with an event need a replay on the native path too (not counted as none)."""
    t = datetime(2026, 1, 1, tzinfo=UTC)
    log = pl.DataFrame(
        {
            "lead_id": ["a", "a"],
            "at": [t, t + DAYS],
            "event": [None, "mark_mql"],
            "stage": ["acquired", None],
        }
    )
    assert funnel_report(log, steps=["acquired", "mql"]).counts == (1, 1)
    assert funnel_report(log.lazy(), steps=["acquired", "mql"]).counts == (1, 1)


def test_a_pandas_cohort_without_a_time_is_keyed_none_as_on_polars() -> None:
    """pandas keyed the no-time cohort NaT: labels(), str() and the table raised ValueError."""
    data = {"lead_id": ["a", "b"], "at": ["2026-01-05T09:00Z", None], "stage": ["acquired", "mql"]}
    jan = datetime(2026, 1, 1, tzinfo=UTC)
    polars = cohorts(load_frame(pl.DataFrame(data), allow_missing_time=True), "1mo")
    for split in (polars, cohorts(load_frame(pd.DataFrame(data), allow_missing_time=True), "1mo")):
        assert list(split.reports) == [jan, None]
        assert split[None].counts == polars[None].counts == (1, 1)
        assert split[None].label is None
        assert split.labels() == ["2026-01", "(none)"]
        assert str(split) == str(polars)
        assert "<td>(none)</td>" in split._repr_html_()


def test_a_pandas_datetime_column_broken_down_keys_its_missing_values_none() -> None:
    """The same NaT key from a breakdown (and time_to_convert's groups) by a pandas time column."""
    t = datetime(2026, 1, 5, tzinfo=UTC)
    frame = pd.DataFrame(
        {
            "lead_id": ["a", "a", "b", "b"],
            "at": [t, t + DAYS, t, t + 2 * DAYS],
            "stage": ["acquired", "mql", "acquired", "mql"],
            "signed": [t, t, pd.NaT, pd.NaT],
        }
    )
    split = breakdown(frame, "signed")
    assert list(split.reports) == [t, None]
    assert split.labels() == breakdown(pl.from_pandas(frame), "signed").labels()
    durations = time_to_convert(frame, "acquired", "mql", by="signed")
    assert {k: d.median for k, d in durations.groups.items()} == {t: DAYS, None: 2 * DAYS}


def test_a_raw_log_needing_a_replay_keeps_its_other_columns(engine) -> None:
    """Without a row column the replay dropped them: breakdown by one was a LoadError."""
    t = datetime(2026, 1, 5, tzinfo=UTC)
    log = pl.DataFrame(
        {
            "lead_id": ["a", "a", "b", "c", "c"],
            "at": [t, t + DAYS, t, t, t + 3 * DAYS],
            "stage": ["acquired", None, "acquired", "acquired", None],
            "event": [None, "mark_mql", None, None, "mark_mql"],
            "source": ["web", "web", "ads", "ads", "ads"],
        }
    )
    split = breakdown(engine(log), "source")
    assert {k: r.counts for k, r in split.reports.items()} == {"ads": (2, 1), "web": (1, 1)}
    durations = time_to_convert(engine(log), "acquired", "mql", by="source")
    assert {k: d.median for k, d in durations.groups.items()} == {"ads": 3 * DAYS, "web": DAYS}
    numbered = log.with_row_index("row", 1).with_columns(pl.col("row").cast(pl.Int64))
    assert split.reports == breakdown(engine(numbered), "source").reports


def test_one_group_of_a_breakdown_masks_its_label_as_the_breakdown_does() -> None:
    """split[owner] showed the owner's raw address and number in its repr, str and table."""
    t = datetime(2026, 1, 5, tzinfo=UTC)
    owners = ["bo@beta.example", "+44 20 7946 0958"]
    frame = pl.DataFrame(
        {"lead_id": ["a", "b"], "at": [t, t], "stage": ["acquired", "mql"], "owner": owners}
    )
    split = breakdown(frame, "owner")
    for owner in owners:
        report = split[owner]
        assert report.label == owner  # the key itself is kept
        shown = (repr(report), str(report), report._repr_html_())
        assert not any(owner in text or "7946" in text for text in shown)
    assert "label='***@beta.example'" in repr(split["bo@beta.example"])
    assert str(split["+44 20 7946 0958"]).splitlines()[0] == "[***58]"
    assert "<b>***@beta.example</b>" in split["bo@beta.example"]._repr_html_()
    jan = cohorts(frame, "1mo")[datetime(2026, 1, 1, tzinfo=UTC)]
    assert str(jan).splitlines()[0] == "[2026-01-01 00:00:00+00:00]"
