"""Markov chain estimation, Monte Carlo, what-if with common random numbers, reproducibility."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from funnel import Contact, Lead, Touch
from funnel.engine.funnel import advance
from funnel.exceptions import SimulationError
from funnel.forecasting.simulation import (
    compare,
    estimate_chain,
    history_of,
    quantile,
    simulate,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
WON, LOST = {"won"}, {"lost"}


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


# 10 leads: mql -> sql 6 times (after 2 or 4 days), mql -> lost 4 times (after 1 day);
# sql -> won 3 times (after 10 days), sql -> lost 2 times (after 5 days), 1 sql still open.
HISTORIES = (
    [[("mql", day(0)), ("sql", day(2)), ("won", day(12))]] * 2
    + [[("mql", day(0)), ("sql", day(4)), ("won", day(14))]]
    + [[("mql", day(0)), ("sql", day(2)), ("lost", day(7))]] * 2
    + [[("mql", day(0)), ("sql", day(4))]]
    + [[("mql", day(0)), ("lost", day(1))]] * 4
)


@pytest.fixture
def chain():
    return estimate_chain(HISTORIES, won_stages=WON, lost_stages=LOST)


class TestEstimate:
    def test_transition_probabilities(self, chain) -> None:
        """mql: 6 of 10 to sql; sql: 3 of 5 observed exits to won (the open lead is censored)."""
        assert chain.probability("mql", "sql") == pytest.approx(0.6)
        assert chain.probability("mql", "lost") == pytest.approx(0.4)
        assert chain.probability("sql", "won") == pytest.approx(0.6)
        assert chain.counts["sql"] == {"won": 3, "lost": 2}
        assert chain.open_counts == {"sql": 1}
        assert chain.stages == ("mql", "sql", "won", "lost")

    def test_durations_per_edge(self, chain) -> None:
        assert chain.durations[("mql", "sql")] == (2.0, 2.0, 2.0, 2.0, 4.0, 4.0)
        assert chain.durations[("sql", "won")] == (10.0, 10.0, 10.0)
        rows = {(r["source"], r["target"]): r for r in chain.rows()}
        assert rows[("mql", "sql")]["median_days"] == 2.0

    def test_win_probability(self, chain) -> None:
        """From mql: 0.6 * 0.6 = 0.36."""
        assert chain.win_probability("mql") == pytest.approx(0.36)
        assert chain.win_probability("won") == 1.0

    def test_backwards_history_is_rejected_not_dropped_silently(self) -> None:
        bad = [("mql", day(5)), ("won", day(1))]
        chain = estimate_chain([*HISTORIES, bad], won_stages=WON, lost_stages=LOST)
        assert len(chain.rejected) == 1
        index, reason = chain.rejected[0]
        assert index == len(HISTORIES)
        assert "earlier than the previous visit" in reason
        naive = [("mql", datetime(2026, 1, 1))]  # noqa: DTZ001
        assert "timezone-aware" in estimate_chain([*HISTORIES, naive]).rejected[0][1]

    def test_no_moves(self) -> None:
        with pytest.raises(SimulationError, match="insufficient history"):
            estimate_chain([[("mql", T0)]])

    def test_from_records(self) -> None:
        form = Touch(id="f", at=T0, direction="inbound", channel="form", reach="mass")
        lead = Lead(id="L", contact=Contact(name="A"), source="web", created_at=T0, touches=[form])
        moved = advance(advance(lead, "mark_mql", at=day(1)), "nurture", at=day(3))
        assert history_of(moved) == (("acquired", T0), ("mql", day(1)), ("nurturing", day(3)))
        chain = estimate_chain([moved, lead])
        assert chain.probability("acquired", "mql") == 1.0
        assert chain.durations[("mql", "nurturing")] == (2.0,)
        assert chain.open_counts == {"nurturing": 1, "acquired": 1}


class TestWhatIf:
    def test_with_conversion_renormalises(self, chain) -> None:
        """mql -> sql 0.6 * 1.1 = 0.66; mql -> lost 0.4 * (0.34 / 0.4) = 0.34."""
        up = chain.with_conversion("mql", "sql", 1.10)
        assert up.probability("mql", "sql") == pytest.approx(0.66)
        assert up.probability("mql", "lost") == pytest.approx(0.34)
        assert up.probability("sql", "won") == chain.probability("sql", "won")
        assert chain.probability("mql", "sql") == pytest.approx(0.6)  # original unchanged
        assert up.win_probability("mql") == pytest.approx(0.66 * 0.6)

    def test_capped_at_one(self, chain) -> None:
        certain = chain.with_conversion("mql", "sql", 3)
        assert certain.probability("mql", "sql") == 1.0
        assert certain.probability("mql", "lost") == 0.0

    def test_unobserved_transition(self, chain) -> None:
        with pytest.raises(SimulationError, match="no observed transition 'mql' -> 'won'"):
            chain.with_conversion("mql", "won", 1.1)


class TestMonteCarlo:
    def test_same_seed_same_result_other_seed_differs(self, chain) -> None:
        kw = {"starting": {"mql": 50}, "horizon": timedelta(days=30), "runs": 40}
        a = simulate(chain, seed=7, **kw)  # type: ignore[arg-type]
        b = simulate(chain, seed=7, **kw)  # type: ignore[arg-type]
        c = simulate(chain, seed=8, **kw)  # type: ignore[arg-type]
        assert a == b
        assert a.won != c.won

    def test_long_horizon_matches_the_absorption_probability(self, chain) -> None:
        """With no time limit every lead closes: mean wins ≈ 200 * 0.36 = 72."""
        result = simulate(chain, starting={"mql": 200}, horizon=timedelta(days=365), runs=300)
        assert all(w + lost == 200 for w, lost in zip(result.won, result.lost, strict=True))
        # standard error of the mean: sqrt(200 * 0.36 * 0.64) / sqrt(300) ≈ 0.39
        assert result.mean_won == pytest.approx(72, abs=2)

    def test_horizon_cuts_time_to_win(self, chain) -> None:
        """A win takes 2 + 10 or 4 + 10 days: 11 days see none, 12 days only the 2-day path."""
        none = simulate(chain, starting={"mql": 100}, horizon=timedelta(days=11), runs=20)
        assert sum(none.won) == 0
        some = simulate(chain, starting={"mql": 100}, horizon=timedelta(days=12), runs=20)
        assert sum(some.won) > 0
        assert set(some.days_to_win) == {12.0}
        full = simulate(chain, starting={"mql": 100}, horizon=timedelta(days=30), runs=20)
        assert set(full.days_to_win) == {12.0, 14.0}
        low, high = full.days_to_win_quantiles((0, 1))
        assert (low, high) == (12.0, 14.0)

    def test_compare_uses_common_random_numbers(self, chain) -> None:
        """Raising mql -> sql never loses a win in a run: the draws are shared."""
        up = chain.with_conversion("mql", "sql", 1.10)
        result = compare(
            chain, up, starting={"mql": 100}, horizon=timedelta(days=365), runs=200, seed=3
        )
        assert result.baseline == simulate(
            chain, starting={"mql": 100}, horizon=timedelta(days=365), runs=200, seed=3
        )
        # expected extra wins: 100 * (0.396 - 0.36) = 3.6
        assert result.mean_difference == pytest.approx(3.6, abs=1.0)
        assert min(result.difference) >= -3

    def test_nan_factor_and_bad_horizon(self, chain) -> None:
        with pytest.raises(SimulationError, match="factor must be >= 0"):
            chain.with_conversion("mql", "sql", float("nan"))
        for horizon in (timedelta(0), timedelta(days=-1)):
            with pytest.raises(SimulationError, match="horizon must be positive"):
                simulate(chain, starting={"mql": 1}, horizon=horizon)

    def test_all_rejected_says_why(self) -> None:
        naive = datetime(2026, 1, 1)  # noqa: DTZ001 - the point of the test
        with pytest.raises(SimulationError, match=r"2 rejected: 0: .*naive"):
            estimate_chain([[("mql", naive), ("won", naive)]] * 2)

    def test_bad_inputs(self, chain) -> None:
        with pytest.raises(SimulationError, match="starting stage 'sql2'"):
            simulate(chain, starting=["sql2"], horizon=timedelta(days=1))
        with pytest.raises(SimulationError, match="runs must be >= 1"):
            simulate(chain, starting=["mql"], horizon=timedelta(days=1), runs=0)
        with pytest.raises(SimulationError, match="count >= 0"):
            simulate(chain, starting={"mql": -1}, horizon=timedelta(days=1))


class TestArrivals:
    def test_rates_are_estimated_from_history_starts(self, chain) -> None:
        """Starts per day over the span of starts; none when every history starts at once."""
        assert chain.arrival_rates == {}
        spread = [[("mql", day(i)), ("lost", day(i + 1))] for i in range(10)]
        spread += [[("sql", day(3)), ("won", day(5))]]
        rates = estimate_chain(spread, won_stages=WON, lost_stages=LOST).arrival_rates
        assert rates == pytest.approx({"mql": 10 / 9, "sql": 1 / 9})

    def test_poisson_count(self, chain) -> None:
        """Rate 2 a day for 50 days: 100 arrivals a run on average (standard error 0.5)."""
        result = simulate(
            chain, starting={}, horizon=timedelta(days=50), runs=400, arrivals={"mql": 2.0}
        )
        assert result.started == 0
        assert sum(result.arrived) / 400 == pytest.approx(100, abs=2)
        assert result.arrived != (result.arrived[0],) * 400

    def test_arrivals_win_only_with_time_left(self, chain) -> None:
        """
        A win takes 12 days (p 2/3) or 14 (p 1/3) with chance 0.36; an arrival at day a wins
        within 30 days only if it needs at most 30 - a: 5 a day x 0.36 x (18 x 2/3 + 16 x 1/3)
        = 31.2 expected wins, and days to win are counted from the arrival.
        """
        result = simulate(
            chain, starting={}, horizon=timedelta(days=30), runs=400, arrivals={"mql": 5.0}
        )
        assert set(result.days_to_win) == {12.0, 14.0}
        assert result.mean_won == pytest.approx(31.2, abs=1.5)
        alone = simulate(chain, starting={"mql": 10}, horizon=timedelta(days=30), runs=400)
        both = simulate(
            chain,
            starting={"mql": 10},
            horizon=timedelta(days=30),
            runs=400,
            arrivals={"mql": 5.0},
        )
        assert both.mean_won == pytest.approx(alone.mean_won + 31.2, abs=2)
        assert alone.arrived == (0,) * 400

    def test_compare_shares_the_arrivals(self, chain) -> None:
        up = chain.with_conversion("mql", "sql", 1.10)
        assert up.arrival_rates == chain.arrival_rates
        result = compare(
            chain,
            up,
            starting={},
            horizon=timedelta(days=60),
            runs=100,
            seed=4,
            arrivals={"mql": 3.0},
        )
        assert result.baseline.arrived == result.scenario.arrived
        assert result.mean_difference > 0

    def test_bad_arrivals(self, chain) -> None:
        quarter = timedelta(days=91)
        with pytest.raises(SimulationError, match="arrival stage 'nowhere'"):
            simulate(chain, starting={}, horizon=quarter, arrivals={"nowhere": 1.0})
        for bad in (-1.0, float("nan")):
            with pytest.raises(SimulationError, match="rate >= 0 per day"):
                simulate(chain, starting={}, horizon=quarter, arrivals={"mql": bad})
        zero = simulate(chain, starting={}, horizon=quarter, runs=3, arrivals={"mql": 0.0})
        assert (zero.won, zero.arrived) == ((0, 0, 0), (0, 0, 0))


def test_quantile() -> None:
    """Linear interpolation: position 0.25 * 3 = 0.75 between 10 and 20 -> 17.5."""
    assert quantile([10, 20, 30, 40], 0.25) == 17.5
    assert quantile([5], 0.9) == 5
    with pytest.raises(SimulationError):
        quantile([], 0.5)


def test_chain_and_result_as_frames(chain) -> None:
    frame = chain.to_frame()
    assert frame.columns == ["source", "target", "probability", "count", "median_days"]
    assert frame.height == len(chain.rows())
    result = simulate(chain, starting={"mql": 10}, horizon=timedelta(days=30), runs=5, seed=2)
    runs = result.to_frame()
    assert runs["won"].to_list() == list(result.won)
    assert runs["arrived"].to_list() == [0] * 5
