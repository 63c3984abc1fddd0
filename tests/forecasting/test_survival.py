"""Time-aware stage probabilities: Aalen-Johansen with censoring, truncation, floors, ageing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from funnel.exceptions import ForecastError, ForecastWarning, FunnelWarning, InsufficientHistory
from funnel.forecasting import stage_development, stage_survival
from funnel.forecasting.forecast import Deal, weighted_pipeline
from funnel.forecasting.survival import StageSurvival, outcome_history, spells_at

T0 = datetime(2026, 1, 1, tzinfo=UTC)
WON, LOST = {"won"}, {"lost"}
H30 = timedelta(days=30)


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def book(open_n: int = 40) -> dict[str, list[tuple[str, datetime | None]]]:
    """30 won after 10 days, 30 lost after 5, *open_n* still open (entered days 0..)."""
    h: dict[str, list[tuple[str, datetime | None]]] = {}
    for i in range(30):
        h[f"W{i}"] = [("sql", day(i)), ("won", day(i + 10))]
        h[f"L{i}"] = [("sql", day(i)), ("lost", day(i + 5))]
    for i in range(open_n):
        h[f"O{i}"] = [("sql", day(i))]
    return h


def fit(h: Any, cutoff: datetime | None = None, **kw: Any) -> StageSurvival:
    cutoff = day(60) if cutoff is None else cutoff
    return stage_survival(h, cutoff=cutoff, won_stages=WON, lost_stages=LOST, **kw)


class TestEstimator:
    def test_censored_deals_stay_in_the_risk_set(self) -> None:
        """100 at risk: 30 lost at 5 days (S = 0.7), then 30 of 70 won at 10: 0.3 won."""
        f = fit(book())
        curve = f.curves["sql"]
        assert curve.times == (5.0, 10.0)
        assert curve.at_risk == (100.0, 70.0)
        assert curve.survival == pytest.approx((0.7, 0.4))
        assert f.win_probability("sql", 0, H30) == pytest.approx(0.3)

    def test_open_deals_left_out_would_overstate(self) -> None:
        """Without the 40 open deals the same exits give 0.5: censoring matters."""
        assert fit(book(open_n=0)).win_probability("sql", 0, H30) == pytest.approx(0.5)

    def test_age_conditions_the_estimate(self) -> None:
        f = fit(book())
        assert f.win_probability("sql", 7, H30) == pytest.approx(0.3 / 0.7)
        # horizon too short to reach the wins at 10 days
        assert f.win_probability("sql", 0, timedelta(days=9)) == 0.0

    def test_stale_deals_age_out(self) -> None:
        """Older than every exit ever seen: probability 0, flagged stale."""
        est = fit(book()).estimate("sql", 40, H30)
        assert est.probability == 0.0
        assert est.stale
        assert not fit(book()).estimate("sql", 3, H30).stale

    def test_nothing_after_the_cutoff_is_used(self) -> None:
        """The wins at 10 days fall after the cut-off at day 9.5 for some leads: censored."""
        early = fit(book(), cutoff=day(9.5))
        # only exits dated <= day 9.5 count; the future rows change nothing
        h = book()
        h["W0"] = [("sql", day(0)), ("lost", day(9.9))]  # a different future
        assert fit(h, cutoff=day(9.5)).curves["sql"] == early.curves["sql"]
        assert early.curves["sql"].times == (5.0,)

    def test_undated_rows_are_not_used(self) -> None:
        h = book()
        h["U"] = [("mql", None), ("sql", None)]
        assert fit(h).curves == fit(book()).curves
        assert all(sp.lead != "U" for sp in spells_at(h, day(60), finals=WON | LOST))

    def test_left_truncation(self) -> None:
        """observed_from=day 8: the losses (days 5-34) before day 8 are outside the window."""
        f = fit(book(), observed_from=day(8))
        curve = f.curves["sql"]
        # the lost spells of leads 0, 1, 2 ended (days 5, 6, 7) before day 8: outside
        assert curve.spells == 100 - 3
        # a lead entered on day i < 8 joins the risk set at age 8 - i (just before it, so
        # lead 3's loss on day 8 itself is observed): at age 5, the leads i >= 3 of each kind
        assert curve.at_risk[0] == 27 + 27 + 37
        assert curve.exits[0] == {"lost": 27.0}

    def test_moves_through_other_open_stages(self) -> None:
        """mql -> sql after 2 days, sql -> won after 10: a win 12 days after entering mql."""
        h = {f"D{i}": [("mql", day(0)), ("sql", day(2)), ("won", day(12))] for i in range(30)}
        f = fit(h, cutoff=day(20))
        assert f.win_probability("mql", 0, timedelta(days=12)) == pytest.approx(1.0)
        assert f.win_probability("mql", 0, timedelta(days=11)) == 0.0
        assert f.win_probability("sql", 0, timedelta(days=10)) == pytest.approx(1.0)

    def test_weights_weigh_leads(self) -> None:
        weights = {k: (0.0 if k.startswith("L") else 1.0) for k in book()}
        assert fit(book(), weights=weights).win_probability("sql", 0, H30) == pytest.approx(
            30 / 70
        )

    def test_table_is_a_frame(self) -> None:
        frame = fit(book()).table(H30, ages=(0, 7, 40))
        assert frame.columns == [
            "stage",
            "age_days",
            "win_probability",
            "at_risk",
            "capped",
            "stale",
        ]
        assert frame["win_probability"].round(4).to_list() == [0.3, 0.4286, 0.0]
        assert fit(book()).table(H30, ages=(0,), backend="pandas").shape == (1, 6)


class TestPeriodAnalysis:
    """``window=``: only the exposure and exits inside the last *window* before the cut-off."""

    @staticmethod
    def drifting() -> dict[str, list[tuple[str, datetime | None]]]:
        """Cut-off day 100, window 30 (from day 70): an old regime of slow losses, then a new."""
        h: dict[str, list[tuple[str, datetime | None]]] = {}
        for i in range(30):
            h[f"A{i}"] = [("sql", day(0)), ("lost", day(50))]  # ended before the window
            h[f"B{i}"] = [("sql", day(60)), ("won", day(80))]  # in the window from age 10
            h[f"D{i}"] = [("sql", day(75)), ("lost", day(80))]  # lost at 5 days
        for i in range(40):
            h[f"C{i}"] = [("sql", day(85))]  # open at the cut-off, 15 days old
        return h

    def test_hand_computed_period_table(self) -> None:
        """
        Period: at age 5, 30 D + 40 C at risk (B enters at age 10), 30 lost: S = 40/70;
        at age 20 only the 30 B are left and win: 40/70 won within 30 days. All history
        instead: 30 of 130 lost at 5, then 30 of 60 (A and B) won at 20: 100/130 x 1/2.
        """
        f = fit(self.drifting(), cutoff=day(100), window=H30)
        curve = f.curves["sql"]
        assert curve.spells == 100  # the 30 A spells lie wholly before the window
        assert curve.times == (5.0, 20.0)
        assert curve.at_risk == (70.0, 30.0)
        assert f.win_probability("sql", 0, H30) == pytest.approx(40 / 70)
        whole = fit(self.drifting(), cutoff=day(100))
        assert whole.win_probability("sql", 0, H30) == pytest.approx(100 / 130 / 2)

    def test_window_is_left_truncation_at_its_start(self) -> None:
        h = self.drifting()
        by_window = fit(h, cutoff=day(100), window=H30)
        assert by_window.observed_from == day(70)
        assert by_window.curves == fit(h, cutoff=day(100), observed_from=day(70)).curves
        # with both, the later start wins
        later = fit(h, cutoff=day(100), window=timedelta(days=90), observed_from=day(70))
        assert later.observed_from == day(70)

    def test_window_must_be_positive(self) -> None:
        with pytest.raises(ForecastError, match="window must be positive") as info:
            fit(book(), window=timedelta(0))
        assert info.value.field == "window"


class TestMinimumSamples:
    def test_thin_ages_are_read_at_the_oldest_supported_age(self) -> None:
        """Past 5 days 70 spells remain at risk; with a floor of 71 age 8 is read earlier."""
        f = fit(book(), min_samples=71)
        est = f.estimate("sql", 8, H30)
        assert est.capped
        assert est.used_age < 5
        assert est.at_risk >= 71
        assert est.probability == pytest.approx(0.3)
        assert not fit(book(), min_samples=70).estimate("sql", 8, H30).capped

    def test_stale_beats_the_floor(self) -> None:
        """Older than every exit, on thin history: still 0, not re-read as a young deal."""
        est = fit(book(), min_samples=71).estimate("sql", 25, H30)
        assert est.stale
        assert est.probability == 0.0

    def test_a_stage_below_the_floor_refuses(self) -> None:
        with pytest.raises(InsufficientHistory) as info:
            fit(book(), min_samples=500).estimate("sql", 0, H30, record="D1")
        assert info.value.stage == "sql"
        assert info.value.record == "D1"

    def test_bad_age_and_horizon(self) -> None:
        f = fit(book())
        with pytest.raises(ForecastError, match="age"):
            f.estimate("sql", -1, H30)
        with pytest.raises(ForecastError, match="horizon"):
            f.estimate("sql", 0, timedelta(0))


@given(
    age=st.floats(min_value=0, max_value=80),
    h1=st.integers(min_value=1, max_value=60),
    extra=st.integers(min_value=0, max_value=60),
)
def test_probability_is_a_probability_and_grows_with_the_horizon(age, h1, extra) -> None:
    f = FIT
    p1 = f.win_probability("sql", age, timedelta(days=h1))
    p2 = f.win_probability("sql", age, timedelta(days=h1 + extra))
    assert 0.0 <= p1 <= p2 + 1e-12 <= 1.0 + 1e-12


FIT = fit(book())


class TestWeightedPipelineWithHorizon:
    def test_each_deal_at_its_age(self) -> None:
        at = day(60)
        deals = [
            Deal(id="new", value=1000, stage="sql", entered=at),
            Deal(id="week", value=1000, stage="sql", entered=at - timedelta(days=7)),
            Deal(id="stale", value=1000, stage="sql", entered=at - timedelta(days=40)),
            Deal(id="done", value=500, stage="won"),
        ]
        fc = weighted_pipeline(deals, FIT, horizon=H30, at=at)
        assert [str(ln.weighted) for ln in fc.lines] == ["300.00", "428.57", "0.00", "500.00"]
        assert fc.to_frame()["weighted"].to_list() == [300.0, 428.57, 0.0, 500.0]

    def test_needs_at_and_entered_and_a_survival_model(self) -> None:
        deal = Deal(id="D", value=10, stage="sql")
        with pytest.raises(ForecastError, match="at="):
            weighted_pipeline([deal], FIT, horizon=H30)
        with pytest.raises(ForecastError, match="entered") as info:
            weighted_pipeline([deal], FIT, horizon=H30, at=day(60))
        assert info.value.record == "D"
        with pytest.raises(ForecastError, match="StageSurvival"):
            weighted_pipeline([deal], {"sql": 0.5}, horizon=H30, at=day(60))
        late = Deal(id="E", value=10, stage="sql", entered=day(61))
        with pytest.raises(ForecastError, match="after"):
            weighted_pipeline([late], FIT, horizon=H30, at=day(60))


class TestOutcomeHistory:
    """How much outcome history a fit has against the horizon (short: it extrapolates)."""

    def test_span_closes_and_discount(self) -> None:
        # outcomes from day 5 (the first loss); at day 60: 55 days of outcomes
        got = outcome_history(
            book(), cutoff=day(60), horizon=H30, won_stages=WON, lost_stages=LOST
        )
        assert got.first_outcome == day(5)
        assert got.outcome_days == 55.0
        assert dict(got.closes) == {"sql": 60}
        assert (got.short, got.discount) == (False, 1.0)
        quarter = outcome_history(
            book(), cutoff=day(60), horizon=timedelta(days=90), won_stages=WON, lost_stages=LOST
        )
        assert quarter.short
        assert quarter.short_span
        assert quarter.thin_stages == ()
        assert quarter.discount == pytest.approx(55 / 90)
        assert "55.0 day(s), from 2026-01-06, less than the 90-day horizon" in quarter.message()

    def test_a_stage_with_few_closes_is_thin(self) -> None:
        h = book()
        h |= {f"Q{i}": [("sql", day(0)), ("demo", day(1))] for i in range(40)}
        h["Q0"] = [("sql", day(0)), ("demo", day(1)), ("won", day(3))]
        got = outcome_history(h, cutoff=day(60), horizon=H30, won_stages=WON, lost_stages=LOST)
        assert dict(got.closes) == {"sql": 61, "demo": 1}
        assert got.thin_stages == ("demo",)
        assert got.short
        assert not got.short_span
        assert "stage 'demo' has 1 closed deal(s), fewer than 30" in got.message()
        only_sql = outcome_history(
            h, cutoff=day(60), horizon=H30, won_stages=WON, lost_stages=LOST, stages=["sql"]
        )
        assert not only_sql.short

    def test_nothing_closed_yet(self) -> None:
        h = {f"O{i}": [("sql", day(i))] for i in range(40)}
        got = outcome_history(h, cutoff=day(60), horizon=H30, won_stages=WON, lost_stages=LOST)
        assert (got.first_outcome, got.outcome_days, got.short) == (None, 0.0, True)
        assert got.discount == pytest.approx(1 / 30)  # floored at one day
        assert "no won or lost deal is recorded" in got.message()

    def test_nothing_after_the_cutoff_counts(self) -> None:
        got = outcome_history(book(), cutoff=day(7), horizon=H30, won_stages=WON, lost_stages=LOST)
        # losses at days 5, 6, 7 only
        assert (got.outcome_days, dict(got.closes)) == (2.0, {"sql": 3})

    def test_the_fit_knows_its_history(self) -> None:
        quarter = timedelta(days=90)
        mine = FIT.outcome_history(quarter)
        assert mine == outcome_history(
            book(), cutoff=day(60), horizon=quarter, won_stages=WON, lost_stages=LOST
        )
        assert "55.0 days of outcomes for a 90-day horizon: short" in repr(mine)

    def test_weighted_pipeline_warns_when_it_extrapolates(self) -> None:
        deals = [Deal(id="A", value=1000, stage="sql", entered=day(55))]
        with pytest.warns(ForecastWarning, match="55.0 day.*90-day horizon") as caught:
            weighted_pipeline(deals, FIT, horizon=timedelta(days=90), at=day(60))
        assert caught[0].filename == __file__
        dev = stage_development(
            book(), cutoff=day(60), horizon=timedelta(days=90), won_stages=WON, lost_stages=LOST
        )
        assert dev.outcome_history().short
        with pytest.warns(ForecastWarning, match="extrapolates"):
            weighted_pipeline(deals, dev, horizon=timedelta(days=90), at=day(60))
        # 55 days of outcomes for a 30-day horizon: no warning (warnings are errors here)
        weighted_pipeline(deals, FIT, horizon=H30, at=day(60))
        # closed deals only: nothing is extrapolated
        weighted_pipeline(
            [Deal(id="W", value=5, stage="won")], FIT, horizon=timedelta(days=90), at=day(60)
        )


@given(
    deals=st.lists(
        st.tuples(st.integers(0, 100), st.one_of(st.none(), st.integers(1, 60)), st.booleans()),
        max_size=40,
    ),
    cut=st.integers(0, 200),
    horizon=st.integers(1, 120),
)
def test_outcome_history_is_what_was_known(
    deals: list[tuple[int, int | None, bool]], cut: int, horizon: int
) -> None:
    """The first outcome is the earliest close known at the cut-off; the discount is in (0, 1]."""
    h: dict[str, list[tuple[str, datetime | None]]] = {}
    for i, (start, length, won) in enumerate(deals):
        h[f"D{i}"] = [("sql", day(start))]
        if length is not None:
            h[f"D{i}"].append(("won" if won else "lost", day(start + length)))
    got = outcome_history(
        h, cutoff=day(cut), horizon=timedelta(days=horizon), won_stages=WON, lost_stages=LOST
    )
    closes = [s + n for s, n, _ in deals if n is not None and s + n <= cut]
    assert got.first_outcome == (day(min(closes)) if closes else None)
    assert got.outcome_days == (cut - min(closes) if closes else 0.0)
    assert 0 < got.discount <= 1
    assert got.short_span == (got.outcome_days < horizon)
    assert got.closes.get("sql", 0) == len(closes)
    assert got.short == (got.short_span or got.closes.get("sql", 30) < 30)


def test_a_short_history_warning_is_a_typed_forecast_warning() -> None:
    """The interim plain FunnelWarning became ForecastWarning, carrying what it measured."""
    warning = ForecastWarning(
        "at 2017-03-31: 31 days of outcomes, mail ada@acme.example",
        outcome_days=31.0,
        horizon_days=90.0,
        thin_stages=("Engaging",),
    )
    assert isinstance(warning, FunnelWarning)
    assert (warning.kind, warning.outcome_days, warning.horizon_days) == (
        "short-outcome-history",
        31.0,
        90.0,
    )
    assert warning.thin_stages == ("Engaging",)
    assert "ada@" not in str(warning)
