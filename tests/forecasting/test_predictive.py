"""Odoo-style predictive lead scoring: hand-computed naive Bayes with 0.1 smoothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from funnel import Company, Contact, Lead
from funnel.engine.funnel import advance
from funnel.exceptions import PredictiveError
from funnel.forecasting.predictive import (
    TrainingRow,
    brier_score,
    pls_stages,
    roc_auc,
    rows_from_records,
    train_pls,
)

STAGES = ("new", "qualified", "proposal")

# Six closed leads. Won leads count for every stage; lost leads for the stages they reached.
ROWS = [
    TrainingRow(values={"country": "BE", "source": "web"}, won=True),
    TrainingRow(values={"country": "BE", "source": "ads"}, won=True),
    TrainingRow(values={"country": "FR", "source": "web"}, won=True),
    TrainingRow(values={"country": "BE", "source": "web"}, won=False, stage="new"),
    TrainingRow(values={"country": "FR", "source": "ads"}, won=False, stage="qualified"),
    TrainingRow(values={"country": "FR", "source": None}, won=False, stage="proposal"),
]


@pytest.fixture
def model():
    return train_pls(ROWS, stages=STAGES, won_stages={"won"})


class TestCounts:
    def test_stage_counts(self, model) -> None:
        """new: won 3 (+0.1), lost 3 (+0.1); qualified: lost 2; proposal: lost 1."""
        f = model.stage_frequencies
        assert (f["new"].won, f["new"].lost) == pytest.approx((3.1, 3.1))
        assert (f["qualified"].won, f["qualified"].lost) == pytest.approx((3.1, 2.1))
        assert (f["proposal"].won, f["proposal"].lost) == pytest.approx((3.1, 1.1))
        assert (model.won, model.lost) == pytest.approx((3.1, 3.1))
        assert model.prior == pytest.approx(0.5)

    def test_value_counts_and_missing_values(self, model) -> None:
        """country BE: won 2, lost 1; source None is skipped, so web lost=1, ads lost=1."""
        be = model.frequencies["country"]["BE"]
        assert (be.won, be.lost, be.samples) == (pytest.approx(2.1), pytest.approx(1.1), 3)
        web = model.frequencies["source"]["web"]
        assert (web.won, web.lost) == (pytest.approx(2.1), pytest.approx(1.1))
        assert None not in model.frequencies["source"]


class TestPredict:
    def test_hand_computed_probability(self, model) -> None:
        """
        Lead at 'qualified', country BE, source web.

        prior: P(won) = 3.1 / 6.2 = 0.5, P(lost) = 0.5
        stage: P(q|won) = 3.1 / 3.1 = 1,  P(q|lost) = 2.1 / 3.1
        country (totals won 2.1 + 1.1 = 3.2, lost 1.1 + 2.1 = 3.2):
            P(BE|won) = 2.1 / 3.2,  P(BE|lost) = 1.1 / 3.2
        source (totals won 2.1 + 1.1 = 3.2, lost 1.1 + 1.1 = 2.2):
            P(web|won) = 2.1 / 3.2, P(web|lost) = 1.1 / 2.2
        """
        s_won = 0.5 * 1 * (2.1 / 3.2) * (2.1 / 3.2)
        s_lost = 0.5 * (2.1 / 3.1) * (1.1 / 3.2) * (1.1 / 2.2)
        expected = s_won / (s_won + s_lost)  # 0.78795...
        p = model.predict({"country": "BE", "source": "web"}, stage="qualified")
        assert p.fraction == pytest.approx(expected)
        assert p.probability == round(100 * expected, 2) == 78.72

    def test_deeper_stage_scores_higher(self, model) -> None:
        """Fewer lost leads reached 'proposal' than 'new', so the same lead scores higher there."""
        values = {"country": "FR", "source": "ads"}
        by_stage = [model.predict(values, stage=s).probability for s in STAGES]
        assert by_stage == sorted(by_stage)
        assert by_stage[0] < by_stage[-1]

    def test_won_stage_no_stage_unknown_stage(self, model) -> None:
        assert model.predict({}, stage="won").probability == 100.0
        assert model.predict({"country": "BE"}).probability == 0.0
        with pytest.raises(PredictiveError, match="stage 'lost' is not one") as info:
            model.predict({}, stage="lost")
        assert info.value.field == "stage"

    def test_unseen_values_are_skipped(self, model) -> None:
        p = model.predict({"country": "DE", "source": "web"}, stage="new")
        assert "country='DE': never seen in training" in p.skipped
        assert [c.field for c in p.contributions] == ["stage", "source"]

    def test_sample_floor(self) -> None:
        """With a floor of 3, source ads (2 samples) is ignored: in prediction and in totals."""
        m = train_pls(ROWS, stages=STAGES, field_min_samples={"source": 3})
        p = m.predict({"source": "ads"}, stage="new")
        assert p.skipped == ("country: unknown", "source='ads': 2 sample(s) < floor 3")
        # web alone remains: P(web|won) = 2.1 / 2.1 = 1, P(web|lost) = 1.1 / 1.1 = 1 -> no effect
        web = m.predict({"source": "web"}, stage="new")
        assert web.fraction == pytest.approx(0.5)

    def test_clamped_like_odoo(self) -> None:
        """Always won: pending leads stay below 100 (99.99 at most)."""
        rows = [TrainingRow(values={"x": "a"}, won=True) for _ in range(5000)]
        rows.append(TrainingRow(values={"x": "b"}, won=False))
        m = train_pls(rows)
        assert m.predict({"x": "a"}).probability == 99.99

    def test_top_and_bottom_contributions(self, model) -> None:
        """Scores: BE 2.1/(2.1+1.1)=0.656 (for), stage new 1-3.1/3.1=0 (against)."""
        p = model.predict({"country": "BE", "source": "ads"}, stage="new")
        top = p.top()
        assert top[0].field == "country"
        assert top[0].score == pytest.approx((2.1 / 3.2) / (2.1 / 3.2 + 1.1 / 3.2))
        bottom = p.bottom(1)
        assert bottom[0].field == "stage"
        assert bottom[0].score == pytest.approx(0.0)

    def test_multi_valued_field(self) -> None:
        """A tuple is several values (tags): each gets counted."""
        rows = [
            TrainingRow(values={"tags": ("a", "b")}, won=True),
            TrainingRow(values={"tags": ("a",)}, won=False),
        ]
        m = train_pls(rows)
        assert m.frequencies["tags"]["a"].samples == 2
        assert m.frequencies["tags"]["b"].samples == 1


class TestErrors:
    def test_lost_row_without_reached_stage(self) -> None:
        rows = [TrainingRow(values={}, won=False, stage="nowhere", id="L9")]
        with pytest.raises(PredictiveError, match="training row 'L9'") as info:
            train_pls(rows, stages=STAGES)
        assert (info.value.row, info.value.field) == ("L9", "stage")

    def test_no_rows(self) -> None:
        with pytest.raises(PredictiveError, match="insufficient history"):
            train_pls([])


class TestRecords:
    def test_rows_from_records(self) -> None:
        """A disqualified lead is a lost row that reached 'acquired'; open leads are skipped."""
        at = datetime(2026, 1, 1, tzinfo=UTC)
        company = Company(name="A", industry="software", region="EU")
        open_lead = Lead(
            id="O", contact=Contact(name="A", company=company), source="web", created_at=at
        )
        dropped = advance(open_lead, "disqualify", at=at, why="no budget")
        rows = rows_from_records([open_lead, dropped])
        assert len(rows) == 1
        assert rows[0].won is False
        assert rows[0].stage == "acquired"
        assert rows[0].values["industry"] == "software"
        assert "acquired" in pls_stages()
        assert "won" not in pls_stages()
        model = train_pls(rows, stages=pls_stages())
        assert model.lost == pytest.approx(1.1)


class TestMetrics:
    def test_auc_hand_computed(self) -> None:
        """Pairs (pos, neg): (0.9,0.4)=1, (0.9,0.1)=1, (0.4,0.4)=0.5, (0.4,0.1)=1 -> 3.5/4."""
        assert roc_auc([0.9, 0.4, 0.4, 0.1], [True, True, False, False]) == 0.875
        assert roc_auc([0.1, 0.9], [True, False]) == 0.0
        with pytest.raises(PredictiveError):
            roc_auc([0.5], [True])

    @given(st.lists(st.tuples(st.floats(0, 1), st.booleans()), min_size=2, max_size=30))
    def test_auc_matches_pair_counting(self, data) -> None:
        scores = [s for s, _ in data]
        labels = [y for _, y in data]
        pos = [s for s, y in data if y]
        neg = [s for s, y in data if not y]
        if not pos or not neg:
            return
        pairs = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
        assert roc_auc(scores, labels) == pytest.approx(pairs / (len(pos) * len(neg)))

    def test_brier(self) -> None:
        """((0.8-1)^2 + (0.3-0)^2) / 2 = (0.04 + 0.09) / 2 = 0.065."""
        assert brier_score([0.8, 0.3], [True, False]) == pytest.approx(0.065)
