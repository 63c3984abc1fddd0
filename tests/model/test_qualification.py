"""Criteria, frameworks, pass rules, the ideal customer profile and qualify()."""

from __future__ import annotations

from decimal import Decimal

import pytest

from funnel import Evidence, Framework, IdealCustomerProfile, PassRule
from funnel.model.evidence import Verdict, VerdictName
from funnel.model.qualification import (
    ANUM,
    BANT,
    CHAMP,
    DEFAULT,
    FRAMEWORKS,
    MEDDIC,
    Criterion,
    qualify,
)
from tests.helpers import company, day


def ev(criterion: str, verdict: VerdictName, at: float = 0, source: str = "rep:a") -> Evidence:
    return Evidence(criterion=criterion, verdict=verdict, source=source, at=day(at))


class TestFrameworks:
    def test_shipped_frameworks(self):
        """The sources' criteria, BANT, CHAMP, ANUM and MEDDIC are shipped by name."""
        assert {"default", "BANT", "CHAMP", "ANUM", "MEDDIC"} == set(FRAMEWORKS)
        assert DEFAULT.keys == ("fit", "means", "authority", "intention")
        assert BANT.keys == ("budget", "authority", "need", "timeline")
        assert CHAMP.keys == ("challenges", "authority", "money", "prioritization")
        assert ANUM.keys == ("authority", "need", "urgency", "money")
        assert len(MEDDIC.criteria) == 6

    def test_rule_larger_than_criteria_is_refused(self):
        """At least 5 of BANT's 4 criteria is an error."""
        with pytest.raises(ValueError, match="only 4"):
            BANT.with_rule(PassRule.at_least(5))

    def test_duplicate_criterion_is_refused(self):
        """A framework cannot list one criterion twice."""
        c = Criterion(key="fit", name="Fit")
        with pytest.raises(ValueError, match="duplicate criterion 'fit'"):
            Framework(name="x", criteria=(c, c))

    def test_bad_key_is_refused(self):
        """Criterion keys are lower-case identifiers."""
        with pytest.raises(ValueError, match="lower-case identifier"):
            Criterion(key="Budget!", name="Budget")

    def test_pass_rule_validation(self):
        """at-least needs k >= 1; all takes no k."""
        with pytest.raises(ValueError, match="k >= 1"):
            PassRule.at_least(0)
        with pytest.raises(ValueError, match="takes no k"):
            PassRule("all", 2)


class TestQualify:
    def test_three_valued(self):
        """Each criterion is met, not met or unknown."""
        q = qualify([ev("budget", "met"), ev("need", "not-met")], framework=BANT, at=day(1))
        assert q.met == ("budget",)
        assert q.not_met == ("need",)
        assert q.unknown == ("authority", "timeline")
        assert not q.passed

    def test_k_of_n(self):
        """BANT 3-of-4 passes with three met and one unknown; all-of-4 does not."""
        evidence = [ev("budget", "met"), ev("authority", "met"), ev("need", "met")]
        assert qualify(evidence, framework=BANT.with_rule(PassRule.at_least(3)), at=day(1)).passed
        assert not qualify(evidence, framework=BANT, at=day(1)).passed

    def test_latest_evidence_wins(self):
        """A later finding replaces an earlier one for the same criterion."""
        q = qualify(
            [ev("budget", "met", 0), ev("budget", "not-met", 2)], framework=BANT, at=day(3)
        )
        assert q.not_met == ("budget",)

    def test_evidence_after_at_is_ignored(self):
        """Qualification as of a moment ignores later evidence."""
        q = qualify([ev("budget", "met", 5)], framework=BANT, at=day(1))
        assert "budget" in q.unknown

    def test_aliases_count_across_frameworks(self):
        """Evidence about 'money' counts for BANT's budget and the default's means."""
        evidence = [ev("money", "met")]
        assert qualify(evidence, framework=BANT, at=day(1)).met == ("budget",)
        assert qualify(evidence, framework=DEFAULT, at=day(1)).met == ("means",)

    def test_icp_decides_fit_when_nothing_recorded(self):
        """The ideal customer profile decides fit from firmographics."""
        icp = IdealCustomerProfile(industries={"software"}, min_employees=50)
        q = qualify([], company=company(employees=10), icp=icp, at=day(1))
        assert q.not_met == ("fit",)
        result = q.results[0]
        assert result.evidence is not None
        assert result.evidence.source == "rule:icp"
        assert "10 employees (min 50)" in result.reason

    def test_recorded_evidence_overrides_icp(self):
        """A rep's finding beats the rule."""
        icp = IdealCustomerProfile(min_employees=50)
        q = qualify([ev("fit", "met")], company=company(employees=10), icp=icp, at=day(1))
        assert q.met == ("fit",)

    def test_explain_names_every_gap(self):
        """explain() has a headline and one line per criterion not met."""
        q = qualify([ev("budget", "met"), ev("need", "not-met")], framework=BANT, at=day(1))
        lines = q.explain()
        assert lines[0].startswith("BANT (all of 4): 1 met, 1 not met, 2 unknown")
        assert sorted(
            (line.split(":")[0] for line in lines[1:]), key=["need", "authority", "timeline"].index
        ) == ["need", "authority", "timeline"]

    def test_naive_at_is_refused(self):
        """qualify() needs an aware moment."""
        from datetime import datetime

        with pytest.raises(ValueError, match="timezone-aware"):
            qualify([], at=datetime(2026, 1, 1))  # noqa: DTZ001


class TestIdealCustomerProfile:
    @pytest.mark.parametrize(
        ("kw", "verdict"),
        [
            ({}, Verdict.MET),
            ({"industry": "retail"}, Verdict.NOT_MET),
            ({"employees": None}, Verdict.UNKNOWN),
            ({"region": "APAC"}, Verdict.NOT_MET),
            ({"annual_revenue": Decimal(10)}, Verdict.NOT_MET),
        ],
    )
    def test_verdicts(self, kw, verdict):
        """Each bound can fail; a missing firmographic makes the verdict unknown."""
        icp = IdealCustomerProfile(
            industries={"Software"}, regions={"EU"}, min_employees=50, min_revenue=1000
        )
        base = {"annual_revenue": Decimal(5000)}
        base.update(kw)
        assert verdict == icp.assess(company(**base))[0]

    def test_no_company_is_unknown(self):
        """Without a company the profile cannot decide."""
        assert IdealCustomerProfile().assess(None)[0] == Verdict.UNKNOWN

    def test_inverted_bounds_refused(self):
        """min_employees above max_employees is an error."""
        with pytest.raises(ValueError, match="min_employees 10 > max_employees 5"):
            IdealCustomerProfile(min_employees=10, max_employees=5)


def test_regions_compare_ignoring_case() -> None:
    from funnel import Company, IdealCustomerProfile
    from funnel.model.evidence import Verdict

    icp = IdealCustomerProfile(regions={"EU"})
    assert icp.assess(Company(name="A", region="eu")) == (Verdict.MET, ("region 'eu' in ['EU']",))
    verdict, reasons = icp.assess(Company(name="B", region="us"))
    assert (verdict, reasons) == (Verdict.NOT_MET, ("region 'us' not in ['EU']",))


def test_an_alias_naming_another_criterion_is_refused() -> None:
    """fit, intention (alias need) and need with at_least 2: one 'need: met' passed (review)."""
    import pytest

    from funnel import ValidationError
    from funnel.model.qualification import Criterion, Framework, PassRule

    def crit(key: str, *aliases: str) -> Criterion:
        return Criterion(key=key, name=key.title(), question="?", aliases=frozenset(aliases))

    picked = (crit("fit"), crit("intention", "need", "urgency"), crit("need"))
    with pytest.raises(ValidationError, match="alias 'need', which also names"):
        Framework(name="double", criteria=picked, rule=PassRule.at_least(2))
    twice = (crit("fit", "icp"), crit("means", "icp"))
    with pytest.raises(ValidationError, match="alias 'icp', which also names"):
        Framework(name="twice", criteria=twice, rule=PassRule.at_least(2))
    fine = Framework(name="fine", criteria=picked[:2], rule=PassRule.at_least(2))
    assert fine.keys == ("fit", "intention")
