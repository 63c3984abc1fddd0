"""Rule-based scoring: fit and engagement with decay, thresholds, promotion through the machine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from funnel import Company, Contact, Lead, Touch
from funnel.engine.funnel import DEFAULT_FUNNEL
from funnel.exceptions import ScoringError
from funnel.forecasting.scoring import (
    EngagementRule,
    FitRule,
    ScoringModel,
    level_for,
    promote,
    score,
    thresholds_for,
)
from funnel.model.records import QualificationLevel
from funnel.spec.definition import Thresholds

T0 = datetime(2026, 3, 1, tzinfo=UTC)

MODEL = ScoringModel(
    fit_rules=[
        FitRule(
            name="target industry", field="industry", values={"software", "fintech"}, points=30
        ),
        FitRule(name="mid-market", field="employees", minimum=50, maximum=500, points=20),
        FitRule(name="enterprise", field="employees", minimum=501, points=10),
        FitRule(name="EU", field="region", values={"eu"}, points=10),
        FitRule(name="student", field="title", values={"student"}, points=-15),
    ],
    engagement_rules=[
        EngagementRule(name="form fill", points=20, direction="inbound", channel="form"),
        EngagementRule(name="reply", points=30, direction="inbound", reply=True),
        EngagementRule(name="meeting held", points=40, channel="meeting", connected=True),
        EngagementRule(name="mass email", points=2, reach="mass", direction="outbound"),
    ],
    half_life_days=10,
    engagement_max=80,
)


def lead(
    company: Company | None = None, touches: tuple[Touch, ...] = (), title: str | None = None
):
    return Lead(
        id="L1",
        contact=Contact(name="Ada", company=company, title=title),
        source="web",
        created_at=T0,
        touches=touches,
    )


def touch(tid: str, days: float, **kw: object) -> Touch:
    return Touch(id=tid, at=T0 + timedelta(days=days), **kw)  # type: ignore[arg-type]


class TestFit:
    def test_fit_points_and_scale(self) -> None:
        """Matching rules add; fit_max is the best per field: 30 + max(20, 10) + 10 + 0 = 60."""
        assert MODEL.effective_fit_max == 60
        company = Company(name="Acme", industry="Software", employees=120, region="US")
        s = score(lead(company), MODEL, at=T0)
        # 30 (industry) + 20 (mid-market) = 50 points; 100 * 50 / 60 = 83.33
        assert s.fit_points == 50
        assert s.fit == 83.33
        assert [c.rule for c in s.contributions] == ["target industry", "mid-market"]

    def test_range_bounds_are_inclusive(self) -> None:
        """Employees 500 is mid-market; 501 is enterprise."""
        at500 = score(lead(Company(name="A", employees=500)), MODEL, at=T0)
        at501 = score(lead(Company(name="A", employees=501)), MODEL, at=T0)
        assert at500.fit_points == 20
        assert at501.fit_points == 10

    def test_negative_rule_and_unknown_fields(self) -> None:
        """A student loses 15 points; unknown firmographics add nothing and are listed."""
        s = score(lead(None, title="Student"), MODEL, at=T0)
        assert s.fit_points == -15
        assert s.fit == 0.0  # clamped at 0
        assert "industry (rule 'target industry')" in s.unknown
        assert s.top(1)[0].rule == "student"

    def test_bad_rules_are_typed_errors_naming_the_field(self) -> None:
        """Unknown field, text rule with a range, numeric rule with values, inverted range."""
        with pytest.raises(ScoringError, match="unknown field 'colour'") as info:
            FitRule(name="x", field="colour", values={"red"}, points=1)
        assert info.value.field == "colour"
        with pytest.raises(ScoringError, match="industry is text"):
            FitRule(name="x", field="industry", minimum=1, points=1)
        with pytest.raises(ScoringError, match="employees is numeric"):
            FitRule(name="x", field="employees", values={"10"}, points=1)
        with pytest.raises(ScoringError, match="minimum 10 > maximum 5"):
            FitRule(name="x", field="employees", minimum=10, maximum=5, points=1)
        with pytest.raises(ScoringError, match="used twice"):
            ScoringModel(
                fit_rules=[FitRule(name="a", field="region", values={"eu"}, points=1)],
                engagement_rules=[EngagementRule(name="a", points=1)],
            )
        with pytest.raises(ScoringError, match="fit_weight"):
            ScoringModel(fit_weight=1.5)


class TestEngagement:
    def test_decay_halves_each_half_life(self) -> None:
        """Form fill 10 days old (one half-life): 20 * 0.5 = 10; reply 0 days: 30. Total 40."""
        mail = touch("m1", 0, direction="outbound", channel="email", reach="personal")
        form = touch("f1", 0, direction="inbound", channel="form", reach="mass")
        reply = touch("r1", 10, direction="inbound", channel="email", in_reply_to="m1")
        s = score(lead(touches=(mail, form, reply)), MODEL, at=T0 + timedelta(days=10))
        assert s.engagement_points == 40.0
        # 100 * 40 / 80 = 50; fit 0 (nothing known); total 0.5 * 0 + 0.5 * 50 = 25
        assert (s.engagement, s.total) == (50.0, 25.0)
        assert [c.rule for c in s.contributions] == ["reply", "form fill"]

    def test_touches_after_at_are_ignored(self) -> None:
        """Scoring is as of `at`: a later meeting does not count yet."""
        meeting = touch("k1", 5, direction="outbound", channel="meeting", connected=True)
        assert score(lead(touches=(meeting,)), MODEL, at=T0).engagement_points == 0
        assert score(lead(touches=(meeting,)), MODEL, at=T0 + timedelta(days=5)).engagement == 50

    def test_two_half_lives_and_no_decay(self) -> None:
        """20 days = two half-lives: 40 * 0.25 = 10; without decay 40."""
        meeting = touch("k1", 0, direction="outbound", channel="meeting", connected=True)
        at = T0 + timedelta(days=20)
        assert score(lead(touches=(meeting,)), MODEL, at=at).engagement_points == 10
        flat = ScoringModel(engagement_rules=MODEL.engagement_rules, half_life_days=None)
        assert score(lead(touches=(meeting,)), flat, at=at).engagement_points == 40

    def test_max_count_keeps_the_most_recent(self) -> None:
        """max_count=2 counts the 2 latest of 3 mailings: no decay, 2 * 5 = 10 points."""
        model = ScoringModel(
            engagement_rules=[EngagementRule(name="mass", points=5, reach="mass", max_count=2)],
            half_life_days=None,
        )
        mails = tuple(
            touch(f"m{i}", i, direction="outbound", channel="email", reach="mass")
            for i in range(3)
        )
        s = score(lead(touches=mails), model, at=T0 + timedelta(days=3))
        assert s.engagement_points == 10
        assert s.contributions[0].detail == "2 touch(es)"

    def test_combined_weights(self) -> None:
        """fit_weight 0.8: fit 100, engagement 25 -> 0.8 * 100 + 0.2 * 25 = 85."""
        model = ScoringModel(
            fit_rules=[FitRule(name="eu", field="region", values={"EU"}, points=10)],
            engagement_rules=[EngagementRule(name="form", points=25, channel="form")],
            half_life_days=None,
            fit_weight=0.8,
        )
        form = touch("f1", 0, direction="inbound", channel="form", reach="mass")
        s = score(lead(Company(name="A", region="EU"), (form,)), model, at=T0)
        assert (s.fit, s.engagement, s.total) == (100.0, 25.0, 85.0)
        assert "total 85.00" in s.explain()[0]

    def test_naive_at_is_rejected(self) -> None:
        with pytest.raises(ValueError, match="timezone-aware"):
            score(lead(), MODEL, at=datetime(2026, 1, 1))  # noqa: DTZ001


class TestThresholds:
    def test_levels(self) -> None:
        t = Thresholds(mql=40, sql=70)
        assert level_for(39.99, t) is QualificationLevel.RAW
        assert level_for(40, t) is QualificationLevel.MQL
        assert level_for(70, t) is QualificationLevel.SQL

    def test_resolution_order(self) -> None:
        """Argument first, then the funnel's thresholds; a plain number is the MQL threshold."""
        assert thresholds_for(DEFAULT_FUNNEL) == DEFAULT_FUNNEL.thresholds
        assert thresholds_for(DEFAULT_FUNNEL, Thresholds(mql=10, sql=20)) == Thresholds(10, 20)
        assert thresholds_for(DEFAULT_FUNNEL, 90).sql == 90
        with pytest.raises(ScoringError) as info:
            thresholds_for(DEFAULT_FUNNEL, 120)
        assert info.value.field == "thresholds"


class TestPromote:
    def test_promotes_when_score_passes_and_guard_allows(self) -> None:
        """A form fill today: engagement 100 * 20 / 80 = 25, fit 0 -> total 12.5 >= 10."""
        form = touch("f1", 0, direction="inbound", channel="form", reach="mass")
        result = promote(lead(touches=(form,)), MODEL, at=T0, thresholds=10)
        assert result.promoted
        assert result.record.stage == "mql"
        assert result.record.level is QualificationLevel.MQL
        assert result.record.history[-1].why == "score 12.50 >= 10"

    def test_score_below_threshold(self) -> None:
        form = touch("f1", 0, direction="inbound", channel="form", reach="mass")
        original = lead(touches=(form,))
        result = promote(original, MODEL, at=T0, thresholds=30)
        assert not result.promoted
        assert result.record is original
        assert result.reasons == ("score 12.50 is below the MQL threshold 30",)

    def test_machine_guard_refusal_is_reported(self) -> None:
        """Meeting held: 40 / 80 -> engagement 50, total 25 >= 20, but no inbound action."""
        meeting = touch("k1", 0, direction="outbound", channel="meeting", connected=True)
        result = promote(lead(touches=(meeting,)), MODEL, at=T0, thresholds=20)
        assert not result.promoted
        assert result.error is not None
        assert result.error.event == "mark_mql"
        assert any("has_inbound_action" in r for r in result.reasons)

    def test_already_qualified_lead_is_not_promoted(self) -> None:
        form = touch("f1", 0, direction="inbound", channel="form", reach="mass")
        first = promote(lead(touches=(form,)), MODEL, at=T0, thresholds=10).record
        again = promote(first, MODEL, at=T0, thresholds=10)
        assert not again.promoted
        assert again.reasons == ("lead 'L1' is already mql, not raw",)


def test_a_score_shows_briefly_and_as_a_table() -> None:
    """Before: the repr dumped every contribution; no notebook table, no frame."""
    from datetime import UTC, datetime

    from funnel import Company, Contact, Lead, Touch
    from funnel.forecasting.scoring import EngagementRule, FitRule, ScoringModel, score

    at = datetime(2026, 3, 31, tzinfo=UTC)
    model = ScoringModel(
        fit_rules=[FitRule(name="software", field="industry", values={"software"}, points=40)],
        engagement_rules=[EngagementRule(name="form", points=50, channel="form")],
        half_life_days=30,
        engagement_max=100,
    )
    touches = [
        Touch(
            id=f"f{i}",
            at=datetime(2026, 3, 1 + i, tzinfo=UTC),
            direction="inbound",
            channel="form",
            reach="mass",
        )
        for i in range(20)
    ]
    lead = Lead(
        id="L<1>",
        source="web",
        created_at=touches[0].at,
        touches=touches,
        contact=Contact(name="Ada", company=Company(name="Acme", industry="Software")),
    )
    s = score(lead, model, at=at)
    assert repr(s).startswith("Score(record_id='L<1>'")
    assert "<2 contributions>" in repr(s)
    assert "Contribution(" not in repr(s)
    html = s._repr_html_()
    assert "L&lt;1&gt;" in html
    assert "L<1>" not in html
    assert "+40.00" in html
    frame = s.to_frame()
    assert frame.columns == ["rule", "kind", "points", "detail"]
    assert frame["points"].to_list() == [c.points for c in s.contributions]
    assert list(s.to_frame("pandas")["rule"]) == [c.rule for c in s.contributions]
