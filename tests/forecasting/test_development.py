"""Development (chain-ladder) probabilities: the same age one horizon earlier, per entry cohort."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from funnel.exceptions import ForecastError, SimulationError, ValidationError
from funnel.forecasting import simulate_pipeline, stage_survival
from funnel.forecasting.development import stage_development
from funnel.forecasting.forecast import Deal, weighted_pipeline

T0 = datetime(2026, 1, 1, tzinfo=UTC)
H = timedelta(days=60)
KW: dict[str, Any] = {"won_stages": {"won"}, "lost_stages": {"lost"}}
CUTOFF = T0 + timedelta(days=199.5)
BATCH = range(179, 186)  # entered 14.5-20.5 days before the cut-off: cohort k=2


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def log() -> dict[str, list[tuple[str, datetime | None]]]:
    """
    20 deals a day for 200 days. Normally 10 of them close: won at 10 days (even j) or
    at 40 days (odd j); the rest never close. In one week (BATCH) only 2 of the 20 close.
    """
    out: dict[str, list[tuple[str, datetime | None]]] = {}
    for i in range(200):
        closers = 2 if i in BATCH else 10
        for j in range(20):
            visits: list[tuple[str, datetime | None]] = [("sql", day(i))]
            if j < closers:
                visits.append(("won", day(i + (10 if j % 2 == 0 else 40))))
            out[f"D{i}-{j}"] = visits
    return out


class TestChainLadder:
    def test_a_week_of_dead_deals_gets_its_own_lower_chance(self) -> None:
        fit = stage_development(log(), cutoff=CUTOFF, horizon=H, **KW)
        cohort = fit.cohorts[("sql", 2)]
        assert cohort.method == "chain-ladder"
        # 7 exits so far, 133 open; the reference week: 35 exits, 35 wins in the horizon
        assert (cohort.exits, cohort.open) == (7, 133)
        assert (cohort.reference_exits, cohort.reference_wins) == (35, 35)
        assert fit.win_probability("sql", 17, H) == pytest.approx(7 / 133)
        # what came: the 7 slow closers of the week, out of 133 open deals
        truth = 7 / 133
        # an exit curve by age cannot tell this week from the others: about 35 / 105
        survival = stage_survival(log(), cutoff=CUTOFF, **KW).win_probability("sql", 17, H)
        assert survival > 4 * truth
        # nor can the lagged rate alone (the reference week's wins per open deal)
        assert cohort.reference_wins / cohort.reference_open == pytest.approx(1 / 3)

    def test_an_ordinary_week_is_valued_like_its_reference(self) -> None:
        fit = stage_development(log(), cutoff=CUTOFF, horizon=H, **KW)
        # ages 28-35: fast closers gone, slow ones win at 40; 5 of the 15 open deals a day
        assert fit.win_probability("sql", 30, H) == pytest.approx(1 / 3)

    def test_a_reference_before_the_observed_start_falls_back_to_the_exit_curves(self) -> None:
        start = CUTOFF - H + timedelta(days=1)  # the reference moment is not observed
        fit = stage_development(log(), cutoff=CUTOFF, horizon=H, observed_from=start, **KW)
        assert {c.method for c in fit.cohorts.values()} == {"survival"}
        assert fit.win_probability("sql", 17, H) == pytest.approx(
            fit.fallback.win_probability("sql", 17, H)
        )

    def test_a_reference_that_entered_before_the_observed_start_gets_the_lagged_rate(
        self,
    ) -> None:
        # exits recorded from day 130 on: the reference week (entered 119-125) is not
        # fully observed, so its exits cannot scale the cohort: the lagged rate is used
        fit = stage_development(log(), cutoff=CUTOFF, horizon=H, observed_from=day(130), **KW)
        cohort = fit.cohorts[("sql", 2)]
        assert cohort.method == "lagged"
        assert cohort.probability == pytest.approx(35 / 105)

    def test_thin_cohorts_borrow_from_their_neighbours(self) -> None:
        fit = stage_development(log(), cutoff=CUTOFF, horizon=H, min_samples=200, **KW)
        cohort = fit.cohorts[("sql", 4)]
        # one week holds 140 deals: the reference pools neighbouring weeks up to 200 open
        assert cohort.reference_open >= 200

    def test_weights_scale_every_count(self) -> None:
        histories = log()
        fit = stage_development(
            histories,
            cutoff=CUTOFF,
            horizon=H,
            weights=dict.fromkeys(histories, 2.0),
            **KW,
        )
        # the minimum-sample rule counts deals, not weights: the method stays chain ladder
        assert fit.cohorts[("sql", 2)].method == "chain-ladder"
        assert fit.cohorts[("sql", 2)].exits == 14
        assert fit.win_probability("sql", 17, H) == pytest.approx(7 / 133)


class TestInterface:
    def test_weighted_pipeline_takes_a_development_fit(self) -> None:
        fit = stage_development(log(), cutoff=CUTOFF, horizon=H, **KW)
        deals = [Deal(id="A", value=1330, stage="sql", entered=CUTOFF - timedelta(days=17))]
        fc = weighted_pipeline(deals, fit, horizon=H, at=CUTOFF)
        assert fc.lines[0].weighted == pytest.approx(70, abs=0.01)

    def test_another_horizon_is_refused(self) -> None:
        fit = stage_development(log(), cutoff=CUTOFF, horizon=H, **KW)
        with pytest.raises(ForecastError, match="60 days, 0:00:00 horizon") as info:
            fit.win_probability("sql", 3, timedelta(days=30))
        assert info.value.field == "horizon"

    @pytest.mark.parametrize(
        ("kw", "field"),
        [
            ({"horizon": 60}, "horizon"),
            ({"width": "7"}, "width"),
            ({"cutoff": "2026-07-01"}, "cutoff"),
            ({"min_samples": 2.5}, "min_samples"),
            ({"won_stages": 5}, "won_stages"),
            ({"fallback": {}}, "fallback"),
        ],
    )
    def test_wrong_types_name_the_argument(self, kw: dict[str, object], field: str) -> None:
        args: dict[str, object] = {"cutoff": CUTOFF, "horizon": H, **KW, **kw}
        with pytest.raises(ValidationError) as info:
            stage_development(log(), **args)  # type: ignore[arg-type]
        assert info.value.field == field

    def test_a_horizon_that_is_not_positive_is_a_forecast_error(self) -> None:
        with pytest.raises(ForecastError, match="horizon must be positive"):
            stage_development(log(), cutoff=CUTOFF, horizon=timedelta(0), **KW)

    def test_frame_and_reprs(self) -> None:
        pytest.importorskip("polars")
        fit = stage_development(log(), cutoff=CUTOFF, horizon=H, **KW)
        frame = fit.to_frame()
        assert frame.columns[:2] == ["stage", "age_from"]
        row = frame.filter(frame["age_from"] == 14.0).row(0, named=True)
        assert (row["method"], row["open"]) == ("chain-ladder", 133.0)
        assert repr(fit).startswith("StageDevelopment(cutoff=2026-07-19, horizon=60 days")
        assert len(repr(fit)) < 120
        assert "<table>" in fit._repr_html_()


class TestSimulation:
    def test_development_simulation_follows_the_cohorts(self) -> None:
        histories = log()
        common = {"cutoff": CUTOFF, "horizon": H, "runs": 40, "draws": 4, "arrivals": False}
        dev = simulate_pipeline(histories, method="development", **common, **KW)  # type: ignore[arg-type]
        fit = stage_development(histories, cutoff=CUTOFF, horizon=H, **KW)
        from funnel.forecasting.pipeline import open_deals_at

        deals = open_deals_at(histories, CUTOFF, finals={"won", "lost"})
        expected = sum(fit.win_probability(d.stage, d.age, H) for d in deals)
        mean, low, high = dev.interval("open")
        assert low <= expected <= high
        assert mean == pytest.approx(expected, rel=0.1)

    def test_arrivals_win_at_the_last_horizons_share(self) -> None:
        histories = log()
        result = simulate_pipeline(
            histories,
            cutoff=CUTOFF,
            horizon=H,
            runs=40,
            draws=4,
            method="development",
            uncertainty="none",
            **KW,
        )
        # of the 1200 leads that arrived in the 60 days before the cut-off, 322 had won by
        # it: the fast closers of days 140-189 (5 a day, 1 in the batch week: 222) and the
        # slow ones of days 140-159 (100)
        share = sum(result.arrival_won) / sum(result.arrivals)
        assert share == pytest.approx(322 / 1200, abs=0.01)

    def test_an_unknown_method_is_refused(self) -> None:
        with pytest.raises(SimulationError, match="method must be"):
            simulate_pipeline(log(), cutoff=CUTOFF, horizon=H, method="magic", **KW)  # type: ignore[arg-type]
