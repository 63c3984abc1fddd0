"""
Qualification: criteria and frameworks as data, and the verdict on a record.

A :class:`Framework` is a named set of :class:`Criterion` with a
:class:`PassRule` (all of them, or at least *k* of *n*). Each criterion is
three-valued: met, not met, or unknown. The verdict on a criterion comes
from the latest :class:`~funnel.Evidence` recorded for it; where none is
recorded, an :class:`IdealCustomerProfile` can decide the *fit* criterion
from the company's firmographics.

Shipped frameworks: :data:`DEFAULT` (the sources' fit, means, authority,
intention), :data:`BANT`, :data:`CHAMP`, :data:`ANUM` and :data:`MEDDIC`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar, Literal, TypeAlias

import attrs

from funnel._base.fields import (
    check_text,
    count,
    instance,
    non_negative_money,
    number_shown,
    record_label,
    require_int,
    shown,
    text,
)
from funnel._base.items import typed_tuple
from funnel._base.money import optional_money
from funnel._base.privacy import escape_controls
from funnel._base.time import aware, to_utc, utc
from funnel.exceptions import UnknownName, ValidationError
from funnel.model._cards import qualification_card, qualification_repr
from funnel.model.contact import Company
from funnel.model.evidence import Evidence, Verdict, sort_evidence

#: The kinds of :class:`PassRule`.
PassRuleKind: TypeAlias = Literal["all", "at-least"]
_RULE_KINDS: tuple[PassRuleKind, ...] = ("all", "at-least")


def _key(instance: object, attribute: attrs.Attribute[str], value: object) -> None:
    # A criterion is labelled by its key: do not label it by the key being refused.
    labelled_by = getattr(type(instance), "_label_field", "id")
    record = type(instance).__name__ if labelled_by == attribute.name else record_label(instance)
    check_text(value, record=record, field=attribute.name, blank=False)
    if (
        not isinstance(value, str)
        or not value.replace("_", "").isalnum()
        or value != value.lower()
    ):
        raise ValidationError(
            f"{record}: {attribute.name} must be a lower-case identifier "
            f"such as 'budget' or 'economic_buyer', got {shown(value)}",
            record=record,
            field=attribute.name,
        )


def _strings(values: Iterable[str]) -> frozenset[str]:
    # Items are checked by the field's validator (_each_text), which knows the record.
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise ValidationError(f"expected a collection of strings, got {type(values).__name__}")
    return frozenset(values)


def _lower_strings(values: Iterable[str]) -> frozenset[str]:
    return frozenset(v.lower() if isinstance(v, str) else v for v in _strings(values))


def _each_text(instance: Any, attribute: attrs.Attribute[Any], values: frozenset[object]) -> None:
    for value in values:
        check_text(value, record=record_label(instance), field=attribute.name, blank=False)


def _criteria(values: Iterable[Criterion]) -> tuple[Criterion, ...]:
    return typed_tuple(values, Criterion, field="criteria")


@attrs.frozen(kw_only=True)
class Criterion:
    """
    One qualification criterion.

    Attributes:
        key: A stable identifier, e.g. ``"budget"``.
        name: A display name, e.g. ``"Budget"``.
        question: What a rep must find out.
        aliases: Keys of equivalent criteria in other frameworks; evidence
            recorded under an alias counts for this criterion (``"money"``
            counts for ``"budget"``).
    """

    _label_field: ClassVar[str] = "key"

    key: str = attrs.field(validator=_key)
    name: str = attrs.field(validator=text(blank=False))
    question: str = attrs.field(default="", validator=text())
    aliases: frozenset[str] = attrs.field(
        default=frozenset(), converter=_strings, validator=_each_text
    )

    def matches(self, key: str) -> bool:
        """Whether evidence recorded under *key* is about this criterion."""
        return isinstance(key, str) and (key == self.key or key in self.aliases)


@attrs.frozen
class PassRule:
    """
    How many criteria must be met: all of them, or at least *k*.

    >>> str(PassRule.at_least(3)), PassRule.at_least(3).passes(met=3, total=4)
    ('at least 3', True)
    >>> PassRule.all().passes(met=3, total=4)
    False
    """

    kind: PassRuleKind
    k: int | None = None

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.kind, str) or self.kind not in _RULE_KINDS:
            raise ValidationError(
                f"PassRule: kind must be one of 'all', 'at-least', got {shown(self.kind)}",
                record="PassRule",
                field="kind",
                allowed=_RULE_KINDS,
            )
        if self.kind == "all" and self.k is not None:
            raise ValidationError("PassRule 'all' takes no k", record="PassRule", field="k")
        k = require_int(self.k, record="PassRule", field="k") if self.kind == "at-least" else 1
        if k < 1:
            raise ValidationError(
                f"PassRule 'at-least' needs k >= 1, got {number_shown(k)}",
                record="PassRule",
                field="k",
            )

    @classmethod
    def all(cls) -> PassRule:
        """Every criterion must be met."""
        return cls("all")

    @classmethod
    def at_least(cls, k: int) -> PassRule:
        """At least *k* criteria must be met."""
        return cls("at-least", k)

    def required(self, total: int) -> int:
        """How many of *total* criteria must be met."""
        return total if self.k is None else self.k

    def passes(self, *, met: int, total: int) -> bool:
        """Whether *met* of *total* satisfies the rule."""
        return met >= self.required(total)

    def __str__(self) -> str:
        return "all" if self.k is None else f"at least {self.k}"


@attrs.frozen(kw_only=True)
class Framework:
    """
    A named qualification framework: criteria and a pass rule.

    >>> BANT.keys
    ('budget', 'authority', 'need', 'timeline')
    >>> str(BANT.with_rule(PassRule.at_least(3)).rule)
    'at least 3'
    """

    _label_field: ClassVar[str] = "name"

    name: str = attrs.field(validator=text(blank=False))
    criteria: tuple[Criterion, ...] = attrs.field(converter=_criteria)
    rule: PassRule = attrs.field(factory=lambda: PassRule("all"), validator=instance(PassRule))
    description: str = attrs.field(default="", validator=text())

    def __attrs_post_init__(self) -> None:
        label = record_label(self)
        if not self.criteria:
            raise ValidationError(
                f"{label} needs at least one criterion", record=label, field="criteria"
            )
        seen: set[str] = set()
        for c in self.criteria:
            if c.key in seen:
                raise ValidationError(
                    f"{label}: duplicate criterion {c.key!r}", record=label, field="criteria"
                )
            seen.add(c.key)
        # An alias equal to another criterion's key or alias would let one finding
        # count for two criteria.
        named: dict[str, str] = {c.key: c.key for c in self.criteria}
        for c in self.criteria:
            for alias in sorted(c.aliases):
                other = named.get(alias, c.key)
                if other != c.key:
                    raise ValidationError(
                        f"{label}: criterion {c.key!r} has alias {alias!r}, which also names "
                        f"criterion {other!r} (one finding would count for both)",
                        record=label,
                        field="criteria",
                    )
                named[alias] = c.key
        if self.rule.k is not None and self.rule.k > len(self.criteria):
            raise ValidationError(
                f"{label}: rule needs {self.rule.k} criteria met "
                f"but there are only {len(self.criteria)}",
                record=label,
                field="rule",
            )

    @property
    def keys(self) -> tuple[str, ...]:
        """The criterion keys, in order."""
        return tuple(c.key for c in self.criteria)

    def criterion(self, key: str) -> Criterion:
        """
        Return the criterion with this key (or alias).

        Raises:
            UnknownName: no criterion has this key or alias (also a ``KeyError``).
        """
        if isinstance(key, str):
            for c in self.criteria:
                if c.matches(key):
                    return c
        raise UnknownName(
            f"framework {self.name!r} has no criterion {shown(key)}",
            record=record_label(self),
            field="criterion",
            allowed=self.keys,
        )

    def with_rule(self, rule: PassRule) -> Framework:
        """Return a copy with another pass rule (e.g. BANT 3-of-4)."""
        return attrs.evolve(self, rule=rule)


def _c(key: str, name: str, question: str, *aliases: str) -> Criterion:
    return Criterion(key=key, name=name, question=question, aliases=frozenset(aliases))


_MONEY = ("budget", "means", "money", "funds")
_AUTHORITY = ("authority", "economic_buyer")
_NEED = ("need", "challenges", "identify_pain")
_TIMING = ("timeline", "urgency", "prioritization")


def _others(key: str, group: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(k for k in group if k != key)


#: The sources' own criteria: fits the target market, has the means to buy,
#: has the authority to decide, and shows intention to buy.
DEFAULT = Framework(
    name="default",
    description="Fit, means, authority and intention, as the funnel's sources name them.",
    criteria=(
        _c("fit", "Fit", "Does the company match the target market and buyer persona?"),
        _c("means", "Means", "Can they pay for it?", *_others("means", _MONEY)),
        _c("authority", "Authority", "Can this person decide?", *_others("authority", _AUTHORITY)),
        _c("intention", "Intention", "Do they intend to buy?", *_NEED, *_TIMING),
    ),
)

#: Budget, Authority, Need, Timeline (IBM). IBM's own guidance accepts 3 of 4:
#: ``BANT.with_rule(PassRule.at_least(3))``.
BANT = Framework(
    name="BANT",
    description="Budget, Authority, Need, Timeline.",
    criteria=(
        _c("budget", "Budget", "Is money set aside for this?", *_others("budget", _MONEY)),
        _c("authority", "Authority", "Can this person decide?", *_others("authority", _AUTHORITY)),
        _c("need", "Need", "Is there a problem we solve?", *_others("need", _NEED)),
        _c("timeline", "Timeline", "When will they buy?", *_others("timeline", _TIMING)),
    ),
)

#: CHallenges, Authority, Money, Prioritization: the need comes first.
CHAMP = Framework(
    name="CHAMP",
    description="Challenges, Authority, Money, Prioritization.",
    criteria=(
        _c(
            "challenges",
            "Challenges",
            "What problem must they solve?",
            *_others("challenges", _NEED),
        ),
        _c("authority", "Authority", "Who decides?", *_others("authority", _AUTHORITY)),
        _c("money", "Money", "Is there money for it?", *_others("money", _MONEY)),
        _c(
            "prioritization",
            "Prioritization",
            "How high is it on their list?",
            *_others("prioritization", _TIMING),
        ),
    ),
)

#: Authority, Need, Urgency, Money: authority first.
ANUM = Framework(
    name="ANUM",
    description="Authority, Need, Urgency, Money.",
    criteria=(
        _c(
            "authority",
            "Authority",
            "Is this the decision maker?",
            *_others("authority", _AUTHORITY),
        ),
        _c("need", "Need", "Is there a problem we solve?", *_others("need", _NEED)),
        _c("urgency", "Urgency", "How soon must it be solved?", *_others("urgency", _TIMING)),
        _c("money", "Money", "Can they pay?", *_others("money", _MONEY)),
    ),
)

#: Metrics, Economic buyer, Decision criteria, Decision process, Identify pain,
#: Champion: for complex enterprise deals.
MEDDIC = Framework(
    name="MEDDIC",
    description=(
        "Metrics, Economic buyer, Decision criteria, Decision process, Identify pain, Champion."
    ),
    criteria=(
        _c("metrics", "Metrics", "What measurable gain do they expect?"),
        _c(
            "economic_buyer",
            "Economic buyer",
            "Who controls the money?",
            *_others("economic_buyer", _AUTHORITY),
        ),
        _c("decision_criteria", "Decision criteria", "How will they compare offers?"),
        _c("decision_process", "Decision process", "Which steps and people lead to a signature?"),
        _c(
            "identify_pain",
            "Identify pain",
            "What does the problem cost them?",
            *_others("identify_pain", _NEED),
        ),
        _c("champion", "Champion", "Who sells for us inside?"),
    ),
)

#: Every shipped framework by name.
FRAMEWORKS: Mapping[str, Framework] = {f.name: f for f in (DEFAULT, BANT, CHAMP, ANUM, MEDDIC)}


@attrs.frozen(kw_only=True)
class IdealCustomerProfile:
    """
    A rule that decides the *fit* criterion from a company's firmographics.

    Each declared bound must hold; a bound whose firmographic is missing
    makes the verdict unknown rather than failed.

    Attributes:
        industries: Accepted industries (lower-case); empty means any.
        regions: Accepted regions (compared ignoring case); empty means any.
        min_employees: Smallest head count accepted.
        max_employees: Largest head count accepted.
        min_revenue: Smallest annual revenue accepted.
        criterion: Which criterion key the profile decides (default ``"fit"``).

    >>> icp = IdealCustomerProfile(industries={"software"}, min_employees=50)
    >>> icp.assess(Company(name="Acme", industry="software", employees=10))[0]
    <Verdict.NOT_MET: 'not-met'>
    """

    industries: frozenset[str] = attrs.field(
        default=frozenset(), converter=_lower_strings, validator=_each_text
    )
    regions: frozenset[str] = attrs.field(
        default=frozenset(), converter=_strings, validator=_each_text
    )
    min_employees: int | None = attrs.field(default=None, validator=count(optional=True))
    max_employees: int | None = attrs.field(default=None, validator=count(optional=True))
    min_revenue: Decimal | None = attrs.field(
        default=None,
        converter=optional_money,  # type: ignore[misc]  # mypy plugin: attrs.Converter
        validator=non_negative_money(),
    )
    criterion: str = attrs.field(default="fit", validator=_key)

    def __attrs_post_init__(self) -> None:
        lo, hi = self.min_employees, self.max_employees
        if lo is not None and hi is not None and lo > hi:
            raise ValidationError(
                f"IdealCustomerProfile: min_employees {lo} > max_employees {hi}",
                record="IdealCustomerProfile",
                field="min_employees",
            )

    def assess(self, company: Company | None) -> tuple[Verdict, tuple[str, ...]]:
        """Return the verdict and one reason per declared bound."""
        _require_company(company)
        if company is None:
            return Verdict.UNKNOWN, ("no company recorded",)
        failed: list[str] = []
        unknown: list[str] = []
        passed: list[str] = []

        def check(ok: bool | None, text: str) -> None:
            (unknown if ok is None else passed if ok else failed).append(text)

        if self.industries:
            ind = company.industry
            check(
                None if ind is None else ind in self.industries,
                f"industry {ind!r} {'in' if ind in self.industries else 'not in'} "
                f"{sorted(self.industries)}"
                if ind is not None
                else "industry unknown",
            )
        if self.regions:
            reg = company.region
            folded = {r.casefold() for r in self.regions}
            inside = reg is not None and reg.casefold() in folded
            check(
                None if reg is None else inside,
                f"region {reg!r} {'in' if inside else 'not in'} {sorted(self.regions)}"
                if reg is not None
                else "region unknown",
            )
        emp = company.employees
        if self.min_employees is not None:
            check(
                None if emp is None else emp >= self.min_employees,
                "employees unknown"
                if emp is None
                else f"{emp} employees (min {self.min_employees})",
            )
        if self.max_employees is not None:
            check(
                None if emp is None else emp <= self.max_employees,
                "employees unknown"
                if emp is None
                else f"{emp} employees (max {self.max_employees})",
            )
        rev = company.annual_revenue
        if self.min_revenue is not None:
            check(
                None if rev is None else rev >= self.min_revenue,
                "revenue unknown" if rev is None else f"revenue {rev} (min {self.min_revenue})",
            )
        if failed:
            return Verdict.NOT_MET, tuple(failed)
        if unknown:
            return Verdict.UNKNOWN, tuple(unknown)
        return Verdict.MET, tuple(passed) or ("the profile sets no bounds",)


def _require_company(company: object) -> None:
    if company is not None and not isinstance(company, Company):
        raise ValidationError(
            f"company must be a Company or None, got {type(company).__name__}", field="company"
        )


@attrs.frozen(kw_only=True)
class CriterionResult:
    """
    The verdict on one criterion and where it came from.

    Attributes:
        criterion: The criterion.
        verdict: Met, not met or unknown.
        evidence: The deciding evidence (``None`` when nothing is known).
        reason: Why, in one line.
    """

    criterion: Criterion = attrs.field(validator=instance(Criterion))
    verdict: Verdict = attrs.field(validator=instance(Verdict))
    evidence: Evidence | None = attrs.field(validator=instance(Evidence, optional=True))
    reason: str = attrs.field(validator=text())


def _results(values: Iterable[CriterionResult]) -> tuple[CriterionResult, ...]:
    return typed_tuple(values, CriterionResult, record="Qualification", field="results")


@attrs.frozen(kw_only=True)
class Qualification:
    """
    The verdict of a framework on one record, as of a moment.

    Attributes:
        framework: The framework's name.
        rule: The pass rule applied.
        results: One result per criterion, in framework order.
        at: The moment the verdict is valid for.
        funnel_version: The version of the funnel definition that judged it.
    """

    framework: str = attrs.field(validator=text(blank=False))
    rule: PassRule = attrs.field(validator=instance(PassRule))
    results: tuple[CriterionResult, ...] = attrs.field(converter=_results)
    at: datetime = attrs.field(converter=to_utc, validator=aware)
    funnel_version: str | None = attrs.field(default=None, validator=text(optional=True))

    def _with(self, verdict: Verdict) -> tuple[str, ...]:
        return tuple(r.criterion.key for r in self.results if r.verdict is verdict)

    @property
    def met(self) -> tuple[str, ...]:
        """Keys of the criteria that are met."""
        return self._with(Verdict.MET)

    @property
    def not_met(self) -> tuple[str, ...]:
        """Keys of the criteria that are not met."""
        return self._with(Verdict.NOT_MET)

    @property
    def unknown(self) -> tuple[str, ...]:
        """Keys of the criteria nobody has established yet."""
        return self._with(Verdict.UNKNOWN)

    @property
    def required(self) -> int:
        """How many criteria the rule requires."""
        return self.rule.required(len(self.results))

    @property
    def passed(self) -> bool:
        """Whether the pass rule is satisfied."""
        return self.rule.passes(met=len(self.met), total=len(self.results))

    def explain(self) -> tuple[str, ...]:
        """
        One line for the overall verdict, then one per criterion that is not met.

        When the framework passes, the lines list what was met instead.
        """
        head = (
            f"{self.framework} ({self.rule} of {len(self.results)}): "
            f"{len(self.met)} met, {len(self.not_met)} not met, {len(self.unknown)} unknown"
            f" -> {'qualified' if self.passed else 'not qualified'}"
        )
        lines = [head]
        for r in self.results:
            if self.passed or r.verdict is not Verdict.MET:
                lines.append(f"{r.criterion.key}: {r.verdict.value} ({r.reason})")
        return tuple(lines)

    def __str__(self) -> str:
        # Reasons quote evidence notes and sources: a terminal must not act on them.
        return escape_controls("\n".join(self.explain()))

    # A short repr, and a notebook card (funnel.model._cards).
    def __repr__(self) -> str:
        return qualification_repr(self)

    def _repr_html_(self) -> str:
        return qualification_card(self)


def _describe(ev: Evidence) -> str:
    # Who recorded it and when; never the note: it is free text that may name anyone
    # (the reason reaches error messages, logs and cards). Read ``result.evidence.note``.
    return f"{ev.source} on {ev.at.date().isoformat()}"


def qualify(
    evidence: Iterable[Evidence],
    *,
    framework: Framework = DEFAULT,
    company: Company | None = None,
    icp: IdealCustomerProfile | None = None,
    at: datetime,
    funnel_version: str | None = None,
) -> Qualification:
    """
    Judge evidence against a framework as of *at*.

    For each criterion, the latest recorded evidence at or before *at* decides
    (evidence under an alias counts); of findings at the same instant, the one
    last in :func:`~funnel.model.evidence.evidence_order` (not-met over met over
    unknown), whatever order they are given in. Times are compared as instants.
    Where nothing is recorded and *icp* decides this criterion, the profile is
    applied to *company*. Everything else is unknown.

    >>> from datetime import datetime, timezone
    >>> at = datetime(2026, 3, 1, tzinfo=timezone.utc)
    >>> ev = [Evidence(criterion="budget", verdict="met", source="rep:al", at=at)]
    >>> q = qualify(ev, framework=BANT.with_rule(PassRule.at_least(3)), at=at)
    >>> q.met, q.unknown, q.passed
    (('budget',), ('authority', 'need', 'timeline'), False)
    """
    at = utc(at, "at", field="at")
    if not isinstance(framework, Framework):
        raise ValidationError(
            f"framework must be a Framework, got {type(framework).__name__}", field="framework"
        )
    if icp is not None and not isinstance(icp, IdealCustomerProfile):
        raise ValidationError(
            f"icp must be an IdealCustomerProfile or None, got {type(icp).__name__}", field="icp"
        )
    _require_company(company)
    items = typed_tuple(evidence, Evidence, field="evidence")
    latest: dict[str, Evidence] = {}
    for ev in sort_evidence(items):  # the latest decides; a tie by the one total order
        if ev.at > at:
            continue
        for c in framework.criteria:
            if c.matches(ev.criterion):
                latest[c.key] = ev
    results = []
    for c in framework.criteria:
        found = latest.get(c.key)
        if found is not None:
            results.append(
                CriterionResult(
                    criterion=c, verdict=found.verdict, evidence=found, reason=_describe(found)
                )
            )
        elif icp is not None and c.matches(icp.criterion):
            verdict, why = icp.assess(company)
            rule_ev = Evidence(
                criterion=c.key, verdict=verdict, source="rule:icp", at=at, note="; ".join(why)
            )
            results.append(
                CriterionResult(
                    criterion=c,
                    verdict=verdict,
                    evidence=rule_ev,
                    reason="ideal customer profile: " + "; ".join(why),
                )
            )
        else:
            results.append(
                CriterionResult(
                    criterion=c,
                    verdict=Verdict.UNKNOWN,
                    evidence=None,
                    reason="not established yet",
                )
            )
    return Qualification(
        framework=framework.name,
        rule=framework.rule,
        results=tuple(results),
        at=at,
        funnel_version=funnel_version,
    )
