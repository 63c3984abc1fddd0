"""Weighted pipeline: per-deal rounding, closed deals, stage probabilities with a sample floor."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

import pytest

from funnel import Contact, Evidence, Lead, Touch
from funnel.engine.funnel import Funnel, advance, convert
from funnel.exceptions import ForecastError, InsufficientHistory
from funnel.forecasting.forecast import (
    Deal,
    path_of,
    stage_probabilities,
    weighted_pipeline,
)
from funnel.model.qualification import BANT
from funnel.spec.machine import SalesFunnel

WON, LOST = {"won"}, {"lost"}


class TestRounding:
    def test_rounds_per_deal_half_even(self) -> None:
        """Three deals of 0.25 at 50 %: each 0.125 -> 0.12, total 0.36 (not round(0.375)=0.38)."""
        deals = [Deal(id=f"D{i}", value="0.25", stage="sql") for i in range(3)]
        fc = weighted_pipeline(deals, {"sql": "0.5"})
        assert [ln.weighted for ln in fc.lines] == [Decimal("0.12")] * 3
        assert fc.total == Decimal("0.36")

    def test_half_up_on_request(self) -> None:
        """0.125 rounds half-up to 0.13."""
        fc = weighted_pipeline(
            [Deal(id="D", value="0.25", stage="sql")], {"sql": "0.5"}, rounding=ROUND_HALF_UP
        )
        assert fc.total == Decimal("0.13")
        assert fc.rounding == ROUND_HALF_UP

    def test_float_values_keep_their_decimal_meaning(self) -> None:
        """1234.5 * 0.3 = 370.35 exactly in Decimal (a float would give 370.34999...)."""
        fc = weighted_pipeline([Deal(id="D", value=1234.5, stage="sql")], {"sql": 0.3})
        assert fc.total == Decimal("370.35")


class TestClosedDeals:
    def test_won_counts_value_lost_counts_zero(self) -> None:
        """A mapping that (wrongly) gives 'lost' a probability is overridden: lost is 0."""
        deals = [
            Deal(id="W", value="500", stage="won"),
            Deal(id="L", value="800", stage="lost"),
            Deal(id="O", value="1000", stage="opportunity"),
        ]
        fc = weighted_pipeline(deals, {"opportunity": "0.4", "lost": "0.9"})
        # 500 + 0 + 1000 * 0.4 = 900
        assert fc.total == Decimal("900.00")
        assert (fc.won_total, fc.open_total) == (Decimal("500.00"), Decimal("400.00"))
        assert [ln.status for ln in fc.lines] == ["won", "lost", "open"]
        assert fc.by_stage()["lost"] == Decimal("0.00")

    def test_unknown_stage_and_bad_probability(self) -> None:
        with pytest.raises(ForecastError, match="no probability for stage 'sql'") as info:
            weighted_pipeline([Deal(id="X", value=1, stage="sql")], {"mql": "0.1"})
        assert (info.value.record, info.value.field) == ("X", "stage")
        with pytest.raises(ForecastError, match=r"must lie in \[0, 1\]"):
            weighted_pipeline([], {"sql": 1.5})
        with pytest.raises(ForecastError, match="value must be >= 0"):
            Deal(id="N", value=-1, stage="sql")


class TestStageProbabilities:
    PATHS = (
        [["mql", "sql", "won"]] * 3
        + [["mql", "sql", "lost"]] * 1
        + [["mql", "lost"]] * 4
        + [["mql", "sql"]] * 5  # open: skipped
    )

    def test_share_of_closed_leads_that_reached_the_stage_and_won(self) -> None:
        """mql: 3 won of 8 closed = 0.375; sql: 3 of 4 = 0.75."""
        probs = stage_probabilities(self.PATHS, won_stages=WON, lost_stages=LOST, min_samples=4)
        assert probs.probability("mql") == Decimal("0.375")
        assert probs.probability("sql") == Decimal("0.75")
        assert probs.stages["sql"].reached == 4
        assert probs.probability("won") == 1
        assert probs.probability("lost") == 0

    def test_below_the_floor_refuses(self) -> None:
        """sql has 4 closed leads; a floor of 5 makes it 'insufficient_history'."""
        probs = stage_probabilities(self.PATHS, won_stages=WON, lost_stages=LOST, min_samples=5)
        assert probs.stages["sql"].source == "insufficient_history"
        assert not probs.stages["sql"].sufficient
        assert probs.stages["mql"].sufficient
        with pytest.raises(InsufficientHistory) as info:
            weighted_pipeline([Deal(id="D7", value=100, stage="sql")], probs)
        assert (info.value.stage, info.value.samples, info.value.min_samples) == ("sql", 4, 5)
        assert info.value.record == "D7"
        assert "deal 'D7': insufficient history for stage 'sql'" in str(info.value)

    def test_fallback_below_the_floor(self) -> None:
        probs = stage_probabilities(
            self.PATHS,
            won_stages=WON,
            lost_stages=LOST,
            min_samples=5,
            fallback={"sql": "0.6", "stakeholder": "0.8"},
        )
        assert probs.stages["sql"].source == "fallback"
        fc = weighted_pipeline(
            [Deal(id="A", value=100, stage="sql"), Deal(id="B", value=100, stage="stakeholder")],
            probs,
        )
        assert fc.total == Decimal("140.00")

    def test_order_fills_in_skipped_stages(self) -> None:
        """With an order, a lead that went acquired -> sql -> won also reached mql."""
        paths = [["acquired", "sql", "won"], ["acquired", "mql", "lost"]]
        plain = stage_probabilities(paths, won_stages=WON, lost_stages=LOST, min_samples=1)
        ordered = stage_probabilities(
            paths,
            won_stages=WON,
            lost_stages=LOST,
            min_samples=1,
            order=["acquired", "mql", "sql"],
        )
        assert plain.probability("mql") == 0
        assert ordered.probability("mql") == Decimal("0.5")
        assert list(ordered.stages) == ["acquired", "mql", "sql"]


class TestRecords:
    def test_prospects_and_their_paths(self) -> None:
        """A converted prospect forecasts from its value; without a value it is an error."""
        at = datetime(2026, 1, 5, tzinfo=UTC)
        mail = Touch(id="m", at=at, direction="outbound", channel="email")
        reply = Touch(id="r", at=at, direction="inbound", channel="email", in_reply_to="m")
        evidence = [
            Evidence(criterion=c.key, verdict="met", source="rep:al", at=at) for c in BANT.criteria
        ]
        bant = Funnel(machine=SalesFunnel, framework=BANT)
        lead = Lead(
            id="P1",
            contact=Contact(name="Al"),
            source="web",
            created_at=at,
            touches=[mail, reply],
            evidence=evidence,
        )
        prospect = convert(lead, at=at, funnel=bant)
        with pytest.raises(ForecastError, match="Prospect 'P1' has no value") as info:
            weighted_pipeline([prospect], {"organisation": "0.2"}, funnel=bant)
        assert info.value.field == "value"
        import attrs

        valued = attrs.evolve(prospect, value=Decimal("1000"))
        fc = weighted_pipeline([valued], {"organisation": "0.2"}, funnel=bant)
        assert fc.total == Decimal("200.00")
        lost = advance(valued, "lose", at=at, why="budget cut", funnel=bant)
        assert path_of(lost) == ("acquired", "organisation", "lost")
        assert weighted_pipeline([lost], {}, funnel=bant).total == 0


@pytest.mark.parametrize("bad", [float("nan"), "Infinity", float("-inf")])
def test_non_finite_values_are_refused_with_the_field(bad: object) -> None:
    """pandas' missing values arrive as NaN: refused with ForecastError, not decimal's error."""
    from funnel.forecasting.forecast import Deal

    with pytest.raises(match="value must be a finite number"):
        Deal(id="x", value=bad, stage="sql")  # type: ignore[arg-type]


def test_stage_probabilities_as_a_frame() -> None:
    paths = [["mql", "sql", "won"]] * 3 + [["mql", "lost"]] * 2
    probs = stage_probabilities(paths, won_stages={"won"}, lost_stages={"lost"}, min_samples=4)
    frame = probs.to_frame()
    assert frame["stage"].to_list() == ["mql", "sql"]
    assert frame["probability"].to_list() == [0.6, None]
    assert frame["source"].to_list() == ["history", "insufficient_history"]
    assert probs.to_frame(backend="pandas").shape == (2, 5)
