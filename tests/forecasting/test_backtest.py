"""Pipeline simulation and the back-test: real ages, no leakage, intervals, frames, charts."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from funnel.exceptions import ForecastWarning, LoadError, SimulationError, ValidationError
from funnel.forecasting import backtest, backtest_chart, simulate_pipeline, stage_survival
from funnel.forecasting.backtest import BACKTEST_COLUMNS, log_histories
from funnel.forecasting.pipeline import open_deals_at

T0 = datetime(2026, 1, 1, tzinfo=UTC)
WON, LOST = {"won"}, {"lost"}
H = timedelta(days=30)


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def histories(n: int = 120) -> dict[str, list[tuple[str, datetime | None]]]:
    """A deal a day entering sql; even ones won after 10 days, odd ones lost after 4."""
    out: dict[str, list[tuple[str, datetime | None]]] = {}
    for i in range(n):
        end = ("won", day(i + 10)) if i % 2 == 0 else ("lost", day(i + 4))
        out[f"D{i:03d}"] = [("opportunity", None), ("sql", day(i)), end]
    return out


def values() -> dict[str, list[tuple[datetime | None, float | None]]]:
    return {k: [(v[-1][1], 100.0)] for k, v in histories().items()}


class TestSimulatePipeline:
    def test_same_seed_same_result(self) -> None:
        kw: dict[str, Any] = {
            "cutoff": day(90),
            "horizon": H,
            "won_stages": WON,
            "lost_stages": LOST,
            "runs": 40,
            "draws": 10,
        }
        assert simulate_pipeline(histories(), **kw) == simulate_pipeline(histories(), **kw)

    def test_open_deals_start_at_their_real_age(self) -> None:
        """Open at day 90: deals 80-89 (even ones win at 10 days, odd ones lose at 4)."""
        cutoff = day(89.5)
        deals = open_deals_at(histories(), cutoff, finals=WON | LOST)
        # even deals 80-88 (they win at 10 days), odd 87 and 89 (they lose at 4)
        assert sorted(d.id for d in deals) == [f"D{i:03d}" for i in (80, 82, 84, 86, 87, 88, 89)]
        assert sorted(d.age for d in deals) == [0.5, 1.5, 2.5, 3.5, 5.5, 7.5, 9.5]
        result = simulate_pipeline(
            histories(),
            cutoff=cutoff,
            horizon=H,
            won_stages=WON,
            lost_stages=LOST,
            arrivals=False,
            runs=50,
            draws=5,
            uncertainty="none",
        )
        # the Monte Carlo mean agrees with the analytic time-aware sum over the same ages
        fit = stage_survival(histories(), cutoff=cutoff, won_stages=WON, lost_stages=LOST)
        expected = sum(fit.win_probability(d.stage, d.age, H) for d in deals)
        mean, _, _ = result.interval("open")
        assert mean == pytest.approx(expected, abs=0.6)

    def test_a_deal_older_than_every_exit_never_wins(self) -> None:
        h = histories()
        h["OLD"] = [("sql", day(0))]
        result = simulate_pipeline(
            {"OLD": h["OLD"], **{k: v for k, v in h.items() if k < "D080"}},
            cutoff=day(90),
            horizon=H,
            won_stages=WON,
            lost_stages=LOST,
            arrivals=False,
            runs=30,
            draws=3,
        )
        assert result.open_deals == 1
        assert set(result.open_won) == {0}

    def test_arrivals_from_the_recent_window(self) -> None:
        """One deal a day entered sql over the last 30 days: about 30 arrive in 30 days."""
        result = simulate_pipeline(
            histories(),
            cutoff=day(119.5),
            horizon=H,
            won_stages=WON,
            lost_stages=LOST,
            runs=200,
            draws=20,
            seed=3,
        )
        assert result.arrival_rates == {"sql": pytest.approx(28 / 28)}
        assert 27 < sum(result.arrivals) / result.runs < 33

    def test_parameter_uncertainty_widens_the_interval(self) -> None:
        """Arrivals come in alternate weeks: the weekly bootstrap carries that into the runs."""
        clumpy: dict[str, list[tuple[str, datetime | None]]] = {}
        for w in range(0, 20, 2):
            for k in range(14):
                i = w * 14 + k
                start = 7 * w + k * 0.25
                end = ("won", day(start + 10)) if i % 2 == 0 else ("lost", day(start + 4))
                clumpy[f"D{i:03d}"] = [("sql", day(start)), end]
        kw: dict[str, Any] = {
            "cutoff": day(139.9),
            "horizon": H,
            "won_stages": WON,
            "lost_stages": LOST,
            "runs": 300,
            "draws": 30,
            "seed": 1,
        }
        wide = simulate_pipeline(clumpy, **kw)
        narrow = simulate_pipeline(clumpy, uncertainty="none", **kw)
        assert statistics.pstdev(wide.total_won) > 1.5 * statistics.pstdev(narrow.total_won)
        lo, hi = wide.interval("total")[1:], narrow.interval("total")[1:]
        assert lo[1] - lo[0] > hi[1] - hi[0]

    @staticmethod
    def clumpy() -> dict[str, list[tuple[str, datetime | None]]]:
        """14 deals in every other week, none between."""
        out: dict[str, list[tuple[str, datetime | None]]] = {}
        for w in range(0, 20, 2):
            for k in range(14):
                i = w * 14 + k
                start = 7 * w + k * 0.25
                end = ("won", day(start + 10)) if i % 2 == 0 else ("lost", day(start + 4))
                out[f"D{i:03d}"] = [("sql", day(start)), end]
        return out

    def test_weekly_arrival_noise_is_as_overdispersed_as_the_window(self) -> None:
        """
        Weekly counts 14, 0, 14, 0 (mean 7, variance 65): a Poisson count of 30 arrivals has a
        variance near 30, the negative binomial one near 30 / 7 x 65 = 280.
        """
        kw: dict[str, Any] = {
            "cutoff": day(139.9),
            "horizon": H,
            "won_stages": WON,
            "lost_stages": LOST,
            "runs": 400,
            "draws": 1,
            "seed": 2,
            "uncertainty": "none",
        }
        poisson = simulate_pipeline(self.clumpy(), **kw)
        weekly = simulate_pipeline(self.clumpy(), arrival_noise="weekly", **kw)
        for r in (poisson, weekly):
            assert 26 < statistics.mean(r.arrivals) < 34
        assert statistics.variance(poisson.arrivals) < 45
        assert statistics.variance(weekly.arrivals) > 150

    def test_weekly_arrival_noise_is_poisson_when_weeks_are_even(self) -> None:
        """A deal a day: 7 every week, no over-dispersion, the same runs as Poisson."""
        kw: dict[str, Any] = {
            "cutoff": day(119.5),
            "horizon": H,
            "won_stages": WON,
            "lost_stages": LOST,
            "runs": 40,
            "draws": 4,
        }
        assert simulate_pipeline(histories(), arrival_noise="weekly", **kw) == (
            simulate_pipeline(histories(), **kw)
        )
        with pytest.raises(SimulationError, match="arrival_noise"):
            simulate_pipeline(histories(), arrival_noise="gamma", **kw)  # type: ignore[arg-type]

    def test_frames_and_chart(self) -> None:
        result = simulate_pipeline(
            histories(),
            cutoff=day(90),
            horizon=H,
            won_stages=WON,
            lost_stages=LOST,
            values=values(),
            runs=20,
            draws=4,
        )
        assert result.to_frame().height == 20
        summary = result.summary()
        assert summary["quantity"].to_list() == [
            "open_wins",
            "total_wins",
            "open_value",
            "total_value",
        ]
        assert result.default_value == 100.0
        assert type(result.chart()).__name__ == "Figure"

    def test_bad_arguments(self) -> None:
        with pytest.raises(SimulationError, match="runs"):
            simulate_pipeline(histories(), cutoff=day(90), horizon=H, runs=0)
        with pytest.raises(SimulationError, match="uncertainty"):
            simulate_pipeline(histories(), cutoff=day(90), horizon=H, uncertainty="x")  # type: ignore[arg-type]


def log_frame(flip_future_after: datetime | None = None) -> pl.DataFrame:
    rows = []
    for lead, visits in histories().items():
        for stage, at in visits:
            if flip_future_after is not None and at is not None and at > flip_future_after:
                stage = "lost"
            rows.append(
                {
                    "lead_id": lead,
                    "at": at,
                    "stage": stage,
                    "value": 100.0 if stage in WON else None,
                }
            )
    return pl.DataFrame(
        rows,
        schema={
            "lead_id": pl.String,
            "at": pl.Datetime("us", "UTC"),
            "stage": pl.String,
            "value": pl.Float64,
        },
    )


class TestBacktest:
    def test_frame_and_actuals(self) -> None:
        frame = backtest(log_frame(), ["2026-03-31"], horizon=H, runs=40, draws=10)
        assert tuple(frame.columns) == BACKTEST_COLUMNS
        assert frame["model"].unique(maintain_order=True).to_list() == [
            "weighted",
            "survival",
            "markov",
            "simulation",
            "development",
        ]
        open_row = frame.filter(pl.col("model") == "simulation", pl.col("scope") == "open")
        total_row = frame.filter(pl.col("model") == "simulation", pl.col("scope") == "total")
        # cut-off end of day 89 (2026-03-31): deals 80-89 open -> even ones won in the horizon
        # cut-off: the end of day 89 (2026-03-31): open are the even deals 80-88 and the
        # odd 87 and 89; the even ones are won in the horizon
        assert open_row["open_deals"].item() == 7
        assert open_row["actual_wins"].item() == 5
        # every even deal won in (end of day 89, end of day 119]: deals 80, 82, ..., 108
        assert total_row["actual_wins"].item() == 15
        assert total_row["actual_value"].item() == 1500.0

    def test_no_leakage_from_after_the_cutoff(self) -> None:
        """Flip every outcome after the cut-off: forecasts stay, actuals change."""
        cut = "2026-03-31"
        kw: dict[str, Any] = {
            "horizon": H,
            "runs": 40,
            "draws": 10,
            "models": ("weighted", "survival", "simulation"),
        }
        a = backtest(log_frame(), [cut], **kw)
        b = backtest(log_frame(flip_future_after=datetime(2026, 4, 1, tzinfo=UTC)), [cut], **kw)
        assert a["forecast_wins"].to_list() == b["forecast_wins"].to_list()
        assert a["wins_low"].to_list() == b["wins_low"].to_list()
        assert a["actual_wins"].to_list() != b["actual_wins"].to_list()

    def test_pandas_backend_and_chart(self) -> None:
        frame = backtest(
            log_frame(), ["2026-03-31"], horizon=H, models=("survival",), backend="pandas"
        )
        assert list(frame.columns) == list(BACKTEST_COLUMNS)
        assert type(backtest_chart(frame)).__name__ == "Figure"

    def test_bad_input(self) -> None:
        with pytest.raises(ValidationError, match="unknown model"):
            backtest(log_frame(), ["2026-03-31"], models=("oracle",))
        with pytest.raises(ValidationError, match="cutoff"):
            backtest(log_frame(), ["31/03/2026"])
        with pytest.raises(LoadError, match="event log has no 'at' column and no 'stage'"):
            log_histories(pl.DataFrame({"lead_id": ["a"]}))
        naive = pl.DataFrame({"lead_id": ["a"], "at": [datetime(2026, 1, 1)], "stage": ["sql"]})  # noqa: DTZ001
        with pytest.raises(ValidationError, match="timezone-aware"):
            log_histories(naive)

    @pytest.mark.parametrize("engine", ["polars", "pandas", "pandas_nullable"])
    def test_rows_without_a_lead_are_refused_not_skipped(self, engine: str) -> None:
        at = datetime(2026, 1, 1, tzinfo=UTC)
        frame = pl.DataFrame(
            {"lead_id": ["a", None, " "], "at": [at] * 3, "stage": ["sql", "won", None]}
        )
        pdf = frame.to_pandas()
        log = {"polars": frame, "pandas": pdf, "pandas_nullable": pdf.convert_dtypes()}[engine]
        with pytest.raises(LoadError, match=r"^2 row\(s\) have no lead_id"):
            log_histories(log)
        with pytest.raises(LoadError, match="have no lead_id"):
            backtest(log, ["2026-03-31"], models=("survival",))


def truncated(per_day: int = 5) -> dict[str, list[tuple[str, datetime | None]]]:
    """
    *per_day* deals a day enter sql from day 0; even ones win after 10 days, odd ones lose
    after 6; the log records no close before day 80 (the deals that closed earlier are
    missing, as in the Maven file).
    """
    out: dict[str, list[tuple[str, datetime | None]]] = {}
    for i in range(100):
        for j in range(per_day):
            k = i * per_day + j
            close = i + (10 if k % 2 == 0 else 6)
            if close < 80:
                continue
            end = ("won" if k % 2 == 0 else "lost", day(close))
            out[f"D{k:04d}"] = [("sql", day(i)), end]
    return out


class TestShortOutcomeHistory:
    """Ten days of outcomes for a 90-day horizon: the forecast says it extrapolates."""

    KW: dict[str, Any] = {  # noqa: RUF012
        "cutoff": day(89.5),
        "horizon": timedelta(days=90),
        "won_stages": WON,
        "lost_stages": LOST,
        "observed_from": "first-outcome",
        "arrivals": False,
        "runs": 400,
        "draws": 100,
        "seed": 2,
    }

    def test_simulate_pipeline_warns_and_carries_it(self) -> None:
        with pytest.warns(ForecastWarning, match=r"9\.5 day\(s\), from 2026-03-22") as caught:
            result = simulate_pipeline(truncated(), **self.KW)
        assert caught[0].filename == __file__
        assert result.history is not None
        assert (result.outcome_days, result.short_history) == (9.5, True)
        assert result.discount == pytest.approx(9.5 / 90)
        assert "short outcome history" in repr(result)
        assert "short outcome history: 10 days" in result._repr_html_()

    def test_the_interval_widens_by_the_discount(self) -> None:
        """Dirichlet(f) weights, f = 9.5 / 90: the parameter spread of a tenth of the leads."""
        with pytest.warns(ForecastWarning):
            wide = simulate_pipeline(truncated(), **self.KW)
        with pytest.warns(ForecastWarning):
            plain = simulate_pipeline(truncated(), history_discount=False, **self.KW)
        assert plain.discount == 1.0
        assert statistics.pstdev(wide.open_won) > 1.5 * statistics.pstdev(plain.open_won)
        # the mean stays where it was (within Monte Carlo noise)
        assert wide.interval("open")[0] == pytest.approx(plain.interval("open")[0], rel=0.1)

    def test_a_long_history_is_not_discounted(self) -> None:
        kw = {**self.KW, "horizon": timedelta(days=5), "runs": 40, "draws": 10}
        result = simulate_pipeline(truncated(), **kw)  # warnings are errors here
        assert (result.short_history, result.discount) == (False, 1.0)
        again = simulate_pipeline(truncated(), history_discount=False, **kw)
        assert again.open_won == result.open_won

    def test_no_open_deal_no_arrival_no_warning(self) -> None:
        closed = {k: v for k, v in truncated().items() if v[-1][1] is not None}
        result = simulate_pipeline(closed, **{**self.KW, "cutoff": day(200), "runs": 4})
        assert result.open_deals == 0
        assert not result.arrival_rates

    def test_bad_flag(self) -> None:
        with pytest.raises(ValidationError, match="history_discount"):
            simulate_pipeline(truncated(), history_discount="yes", **self.KW)  # type: ignore[arg-type]
        with pytest.raises(ValidationError, match="history_discount"):
            backtest(log_frame(), ["2026-03-31"], history_discount=1)  # type: ignore[arg-type]

    def test_backtest_rows_say_which_cutoffs_extrapolate(self) -> None:
        h = truncated(per_day=1)
        log = pl.DataFrame(
            [(k, t, s) for k, vs in h.items() for s, t in vs],
            schema={"lead_id": pl.String, "at": pl.Datetime("us", "UTC"), "stage": pl.String},
            orient="row",
        )
        with pytest.warns(ForecastWarning, match="1 cut-off.*2026-03-31 \\(10.0 days") as caught:
            frame = backtest(
                log,
                ["2026-03-31", "2026-05-31"],
                horizon=timedelta(days=30),
                models=("weighted", "survival"),
                min_samples=5,
            )
        assert len(caught) == 1
        assert caught[0].filename == __file__
        rows = frame.filter(pl.col("model") == "survival")
        assert rows["outcome_days"].to_list() == [pytest.approx(10.0), pytest.approx(71.0)]
        assert rows["short_history"].to_list() == [True, False]
        assert rows["open_deals"].to_list() == [8, 0]  # even 80-88, odd 85-89
        chart = backtest_chart(frame)
        marked = [t for t in chart.data if t.name == "short outcome history"]
        assert len(marked) == 1
        assert list(marked[0].y) == [rows["actual_wins"][0]]


@given(st.sets(st.sampled_from(["lead_id", "at", "stage", "event", "value", "id"])))
def test_a_missing_column_is_refused_in_the_words_of_the_loaders(names: set[str]) -> None:
    """backtest said "the event log lacks column(s) ..." (a ValidationError); the loaders
    and reports say "event log has no 'at' column; has [...]" (a LoadError)."""
    from funnel.analytics.eventlog import check_log_columns

    columns = sorted(names)
    frame = pl.DataFrame({c: ["x"] for c in columns})
    if {"lead_id", "at", "stage"} <= names:
        return
    with pytest.raises(LoadError) as refused:
        backtest(frame, ["2026-03-31"], horizon=H)
    message = str(refused.value)
    assert message.startswith("event log has no ")
    assert message.endswith(f"; has {columns}")
    for name in ("lead_id", "at", "stage"):
        assert (f"'{name}' column" in message) == (name not in names)
    if "stage" in names:  # the same words as the loaders', to the letter
        with pytest.raises(LoadError) as loaders:
            check_log_columns(columns)
        assert message == str(loaders.value)


def test_log_histories_read_pandas_missing_values_as_polars_does() -> None:
    frame = pl.DataFrame(
        {
            "lead_id": [1.0, 1.0, 2.0],
            "at": [T0, None, T0],
            "stage": ["sql", "won", None],
        }
    )
    expected: tuple[dict[str, list[Any]], dict[str, Any]] = (
        {"1": [("sql", T0), ("won", None)]},
        {},
    )
    assert log_histories(frame) == expected
    assert log_histories(frame.to_pandas()) == expected  # NaT a missing time, NaN no stage
    assert log_histories(frame.to_pandas().convert_dtypes()) == expected  # pd.NA alike
    assert log_histories(frame.to_pandas().astype({"stage": object})) == expected
