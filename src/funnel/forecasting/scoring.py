"""
Rule-based lead scoring: *fit* from firmographics, *engagement* from touches.

A :class:`ScoringModel` is data, not code: a list of :class:`FitRule` (the
company against the profile: industry in a set, head count in a range,
region, revenue...) and a list of :class:`EngagementRule` (points for each
touch of a kind: a form fill, a reply, a meeting held, a mass email...).

How a score is computed, as of an explicit moment ``at``:

* **fit points** = the sum of the points of every fit rule that matches.
  A rule whose firmographic is unknown adds nothing (it is listed as unknown).
* **engagement points** = for every touch at or before ``at`` and every rule
  it matches, ``points * 0.5 ** (age_days / half_life_days)``: a touch loses
  half its weight every ``half_life_days`` (no decay when the half-life is
  ``None``). Touches after ``at`` are ignored.
* **fit** and **engagement** are each put on 0-100:
  ``clamp(100 * points / max_points, 0, 100)``, where ``fit_max`` defaults to
  the best a company can score (per firmographic field, the largest positive
  rule) and ``engagement_max`` (default 100 points) is the engagement that
  counts as full.
* **total** = ``fit_weight * fit + (1 - fit_weight) * engagement`` (default
  weight 0.5), on 0-100, rounded to 2 decimals. A model with no fit rules
  scores on engagement alone, one with no engagement rules on fit alone.

:class:`~funnel.spec.definition.Thresholds` (the funnel's ``thresholds``, or an
argument) turn a total into a level (raw / MQL / SQL) with :func:`level_for`;
:func:`promote` moves a raw lead to MQL through the funnel's machine, so the
machine's guards still apply (the default ``mark_mql`` needs an inbound touch).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

import attrs

from funnel._base.time import require_aware
from funnel.engine.funnel import DEFAULT_FUNNEL, Funnel, advance
from funnel.exceptions import ScoringError, TransitionError, ValidationError
from funnel.model.records import Lead, Prospect, QualificationLevel
from funnel.model.touch import Channel, Direction, Reach, Touch
from funnel.spec.definition import Thresholds

#: Firmographic fields a :class:`FitRule` can read, and whether they are numbers.
FIT_FIELDS: Mapping[str, bool] = {
    "industry": False,
    "region": False,
    "employees": True,
    "annual_revenue": True,
    "title": False,
    "source": False,
    "segment": False,
}

Number = int | float | Decimal


def _values(values: Iterable[str]) -> frozenset[str]:
    if isinstance(values, str):
        raise ValidationError(f"expected a collection of strings, got the string {values!r}")
    return frozenset(str(v).strip().lower() for v in values)


def _optional_decimal(value: Number | None) -> Decimal | None:
    return None if value is None else Decimal(str(value))


@attrs.frozen(kw_only=True)
class FitRule:
    """
    Points for a firmographic that matches the profile.

    Give either ``values`` (text fields: the value, lower-cased, is in the
    set) or ``minimum`` / ``maximum`` (numeric fields: the value lies in the
    range, both ends inclusive, either end optional).

    Attributes:
        name: The rule's name, shown in explanations.
        field: One of :data:`FIT_FIELDS` (``industry``, ``region``,
            ``employees``, ``annual_revenue``, ``title``, ``source``, ``segment``).
        points: Points added when the rule matches (may be negative).
        values: Accepted values for a text field.
        minimum: Smallest accepted number (inclusive).
        maximum: Largest accepted number (inclusive).

    >>> FitRule(name="software", field="industry", values={"Software"}, points=20).values
    frozenset({'software'})
    """

    name: str = attrs.field(validator=attrs.validators.min_len(1))
    field: str
    points: float = attrs.field(converter=float)
    values: frozenset[str] = attrs.field(default=frozenset(), converter=_values)
    minimum: Decimal | None = attrs.field(default=None, converter=_optional_decimal)
    maximum: Decimal | None = attrs.field(default=None, converter=_optional_decimal)

    def __attrs_post_init__(self) -> None:
        where = f"FitRule {self.name!r}"
        if self.field not in FIT_FIELDS:
            raise ScoringError(
                f"{where}: unknown field {self.field!r}; expected one of {sorted(FIT_FIELDS)}",
                field=self.field,
            )
        numeric = FIT_FIELDS[self.field]
        has_range = self.minimum is not None or self.maximum is not None
        if numeric and (self.values or not has_range):
            raise ScoringError(
                f"{where}: {self.field} is numeric: give minimum and/or maximum, not values",
                field=self.field,
            )
        if not numeric and (has_range or not self.values):
            raise ScoringError(
                f"{where}: {self.field} is text: give values, not a range", field=self.field
            )
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise ScoringError(
                f"{where}: minimum {self.minimum} > maximum {self.maximum}", field=self.field
            )

    def read(self, record: Lead | Prospect) -> object:
        """The firmographic this rule reads from *record* (``None`` when unknown)."""
        if self.field in ("source", "segment"):
            return getattr(record, self.field)
        if self.field == "title":
            return record.contact.title
        company = record.contact.company
        return None if company is None else getattr(company, self.field)

    def matches(self, value: object) -> bool | None:
        """Whether *value* satisfies the rule; ``None`` when the value is unknown."""
        if value is None:
            return None
        if FIT_FIELDS[self.field]:
            number = Decimal(str(value))
            if self.minimum is not None and number < self.minimum:
                return False
            return not (self.maximum is not None and number > self.maximum)
        return str(value).strip().lower() in self.values


@attrs.frozen(kw_only=True)
class EngagementRule:
    """
    Points for every touch of a kind, decaying with the touch's age.

    Each attribute left as ``None`` matches anything; a touch matches when all
    given attributes agree. Every matching rule adds its points, so make rules
    exclusive (e.g. ``reply=False``) when a touch should count once.

    Attributes:
        name: The rule's name, shown in explanations.
        points: Points per matching touch, before decay (may be negative).
        direction: Inbound or outbound.
        channel: Email, form, meeting, ...
        reach: Mass or personal.
        reply: Whether the touch answers another touch (``in_reply_to`` set).
        connected: For calls and meetings: whether it took place.
        max_count: Count at most this many matching touches (the most recent).

    >>> rule = EngagementRule(name="form fill", points=15, direction="inbound", channel="form")
    >>> rule.channel
    <Channel.FORM: 'form'>
    """

    name: str = attrs.field(validator=attrs.validators.min_len(1))
    points: float = attrs.field(converter=float)
    direction: Direction | None = attrs.field(
        default=None, converter=attrs.converters.optional(Direction)
    )
    channel: Channel | None = attrs.field(
        default=None, converter=attrs.converters.optional(Channel)
    )
    reach: Reach | None = attrs.field(default=None, converter=attrs.converters.optional(Reach))
    reply: bool | None = None
    connected: bool | None = None
    max_count: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.ge(1))
    )

    def matches(self, touch: Touch) -> bool:
        """Whether *touch* is of this rule's kind."""
        return (
            (self.direction is None or touch.direction is self.direction)
            and (self.channel is None or touch.channel is self.channel)
            and (self.reach is None or touch.reach is self.reach)
            and (self.reply is None or (touch.in_reply_to is not None) == self.reply)
            and (self.connected is None or touch.connected == self.connected)
        )


def _positive(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and not (isinstance(value, int | float) and value > 0):
        raise ScoringError(
            f"ScoringModel.{attribute.name} must be a positive number, got {value!r}",
            field=attribute.name,
        )


def _weight(instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if not 0 <= value <= 1:
        raise ScoringError(
            f"ScoringModel.fit_weight must lie in [0, 1], got {value!r}", field="fit_weight"
        )


def _fit_rules(rules: Iterable[FitRule]) -> tuple[FitRule, ...]:
    items = tuple(rules)
    for item in items:
        if not isinstance(item, FitRule):
            raise ValidationError(f"expected FitRule, got {type(item).__name__}: {item!r}")
    return items


def _engagement_rules(rules: Iterable[EngagementRule]) -> tuple[EngagementRule, ...]:
    items = tuple(rules)
    for item in items:
        if not isinstance(item, EngagementRule):
            raise ValidationError(f"expected EngagementRule, got {type(item).__name__}: {item!r}")
    return items


@attrs.frozen(kw_only=True)
class ScoringModel:
    """
    A rule-based scoring model: fit rules, engagement rules, decay and weights.

    Attributes:
        fit_rules: Firmographic rules.
        engagement_rules: Touch rules.
        half_life_days: Days after which a touch counts half; ``None``: no decay.
        fit_max: Fit points that count as 100; default: the best score a
            company can reach (per field, the largest positive rule).
        engagement_max: Engagement points that count as 100.
        fit_weight: The weight of fit in the total (engagement gets the rest).
    """

    fit_rules: tuple[FitRule, ...] = attrs.field(default=(), converter=_fit_rules)
    engagement_rules: tuple[EngagementRule, ...] = attrs.field(
        default=(), converter=_engagement_rules
    )
    half_life_days: float | None = attrs.field(default=30.0, validator=_positive)
    fit_max: float | None = attrs.field(default=None, validator=_positive)
    engagement_max: float = attrs.field(default=100.0, validator=_positive)
    fit_weight: float = attrs.field(default=0.5, converter=float, validator=_weight)

    def __attrs_post_init__(self) -> None:
        names = [r.name for r in self.fit_rules] + [r.name for r in self.engagement_rules]
        for name in names:
            if names.count(name) > 1:
                raise ScoringError(f"rule name {name!r} is used twice", field=name)

    @property
    def effective_fit_max(self) -> float:
        """The fit points that count as 100 (declared, or the best reachable)."""
        if self.fit_max is not None:
            return self.fit_max
        best: dict[str, float] = {}
        for rule in self.fit_rules:
            best[rule.field] = max(best.get(rule.field, 0.0), rule.points)
        return sum(best.values()) or 1.0

    def decay(self, age_days: float) -> float:
        """The weight of a touch *age_days* old."""
        if self.half_life_days is None:
            return 1.0
        return float(0.5 ** (age_days / self.half_life_days))


@attrs.frozen
class Contribution:
    """
    What one rule added to a score.

    Attributes:
        rule: The rule's name.
        kind: ``"fit"`` or ``"engagement"``.
        points: Points added (after decay, for engagement).
        detail: Why, e.g. ``"industry 'software'"`` or ``"2 touch(es)"``.
    """

    rule: str
    kind: Literal["fit", "engagement"]
    points: float
    detail: str

    def __str__(self) -> str:
        return f"{self.points:+.2f} {self.rule} ({self.kind}: {self.detail})"


@attrs.frozen(kw_only=True)
class Score:
    """
    A record's score, with the contributions that make it up.

    Attributes:
        record_id: The scored record.
        at: The moment the score holds for.
        fit: Fit on 0-100.
        engagement: Engagement on 0-100.
        total: The combined score on 0-100.
        fit_points: Raw fit points.
        engagement_points: Raw engagement points (after decay).
        contributions: Every non-zero contribution, largest effect first.
        unknown: Fit fields that could not be judged (value missing).
    """

    record_id: str
    at: datetime
    fit: float
    engagement: float
    total: float
    fit_points: float
    engagement_points: float
    contributions: tuple[Contribution, ...]
    unknown: tuple[str, ...] = ()

    def top(self, n: int = 3) -> tuple[Contribution, ...]:
        """The *n* contributions with the largest effect (by absolute points)."""
        return self.contributions[:n]

    def explain(self) -> tuple[str, ...]:
        """The score as text lines: the totals, then each contribution."""
        lines = [
            f"{self.record_id!r}: total {self.total:.2f} = fit {self.fit:.2f} "
            f"({self.fit_points:.2f} pts) and engagement {self.engagement:.2f} "
            f"({self.engagement_points:.2f} pts)"
        ]
        lines.extend(f"  {c}" for c in self.contributions)
        lines.extend(f"  unknown: {u}" for u in self.unknown)
        return tuple(lines)

    def __str__(self) -> str:
        return "\n".join(self.explain())

    def __repr__(self) -> str:
        return (
            f"Score(record_id={self.record_id!r}, at={self.at.isoformat()!r}, "
            f"total={self.total:.2f}, fit={self.fit:.2f}, engagement={self.engagement:.2f}, "
            f"<{len(self.contributions)} contributions>, <{len(self.unknown)} unknown>)"
        )

    def to_frame(self, backend: str = "polars") -> Any:
        """The contributions as a frame: one row each (rule, kind, points, detail)."""
        from funnel.forecasting._frames import to_frame

        return to_frame(
            {
                "rule": [c.rule for c in self.contributions],
                "kind": [c.kind for c in self.contributions],
                "points": [c.points for c in self.contributions],
                "detail": [c.detail for c in self.contributions],
            },
            backend,
            kinds={"rule": "str", "kind": "str", "points": "float", "detail": "str"},
        )

    def _repr_html_(self) -> str:
        from funnel.forecasting._frames import html_table

        shown = self.contributions[:_CARD_ROWS]
        rows: list[tuple[str, str, str, str]] = [
            (c.rule, c.kind, f"{c.points:+.2f}", c.detail) for c in shown
        ]
        if len(self.contributions) > len(shown):
            rows.append(("...", "", "", f"and {len(self.contributions) - len(shown)} more"))
        rows.extend(("(unknown)", "fit", "", u) for u in self.unknown[:_CARD_ROWS])
        title = (
            f"Score of {self.record_id[:60]}: {self.total:.2f} "
            f"(fit {self.fit:.2f}, engagement {self.engagement:.2f})"
        )
        return html_table(title, rows, ("rule", "kind", "points", "detail"))


#: Contributions a score's notebook table shows (the rest are counted).
_CARD_ROWS = 12


def _scale(points: float, maximum: float) -> float:
    return min(100.0, max(0.0, 100.0 * points / maximum))


def score(record: Lead | Prospect, model: ScoringModel, *, at: datetime) -> Score:
    """
    Score *record* with *model* as of *at*.

    >>> from datetime import datetime, timezone
    >>> from funnel import Company, Contact, Lead, Touch
    >>> at = datetime(2026, 3, 31, tzinfo=timezone.utc)
    >>> model = ScoringModel(
    ...     fit_rules=[FitRule(name="software", field="industry", values={"software"}, points=40)],
    ...     engagement_rules=[EngagementRule(name="form", points=50, channel="form")],
    ...     half_life_days=30, engagement_max=100)
    >>> form = Touch(id="f1", at=datetime(2026, 3, 1, tzinfo=timezone.utc),
    ...              direction="inbound", channel="form", reach="mass")
    >>> lead = Lead(id="L1", source="web", created_at=form.at, touches=[form],
    ...             contact=Contact(name="Ada", company=Company(name="Acme", industry="Software")))
    >>> s = score(lead, model, at=at)
    >>> s.fit, s.engagement, s.total   # form fill 30 days old: 50 * 0.5 = 25 points
    (100.0, 25.0, 62.5)
    >>> print(s.top(1)[0])
    +40.00 software (fit: industry 'software')
    """
    if not isinstance(record, Lead | Prospect):
        raise ValidationError(
            f"score() takes a Lead or Prospect, got {type(record).__name__}", field="record"
        )
    if not isinstance(model, ScoringModel):
        raise ValidationError(
            f"score() takes a ScoringModel, got {type(model).__name__}", field="model"
        )
    at = require_aware(at, "at", field="at")
    contributions: list[Contribution] = []
    unknown: list[str] = []
    fit_points = 0.0
    for rule in model.fit_rules:
        value = rule.read(record)
        verdict = rule.matches(value)
        if verdict is None:
            unknown.append(f"{rule.field} (rule {rule.name!r})")
        elif verdict:
            fit_points += rule.points
            detail = f"{rule.field} {value!r}"
            contributions.append(Contribution(rule.name, "fit", rule.points, detail))
    engagement_points = 0.0
    touches = [t for t in record.touches if t.at <= at]
    for erule in model.engagement_rules:
        matching = [t for t in touches if erule.matches(t)]
        if erule.max_count is not None:
            matching = matching[-erule.max_count :]
        if not matching:
            continue
        points = sum(
            erule.points * model.decay((at - t.at).total_seconds() / 86400) for t in matching
        )
        engagement_points += points
        contributions.append(
            Contribution(erule.name, "engagement", points, f"{len(matching)} touch(es)")
        )
    fit = _scale(fit_points, model.effective_fit_max)
    eng = _scale(engagement_points, model.engagement_max)
    weight = model.fit_weight
    if not model.fit_rules:
        weight = 0.0
    elif not model.engagement_rules:
        weight = 1.0
    total = weight * fit + (1 - weight) * eng
    contributions.sort(key=lambda c: (-abs(c.points), c.rule))
    return Score(
        record_id=record.id,
        at=at,
        fit=round(fit, 2),
        engagement=round(eng, 2),
        total=round(total, 2),
        fit_points=round(fit_points, 2),
        engagement_points=round(engagement_points, 2),
        contributions=tuple(c for c in contributions if c.points != 0),
        unknown=tuple(unknown),
    )


def level_for(total: float, thresholds: Thresholds) -> QualificationLevel:
    """
    The qualification level a score of *total* earns under *thresholds*.

    >>> level_for(55.0, Thresholds(mql=40, sql=70))
    <QualificationLevel.MQL: 'mql'>
    """
    if isinstance(total, bool) or not isinstance(total, int | float):
        raise ValidationError(f"total must be a number, got {type(total).__name__}", field="total")
    if not isinstance(thresholds, Thresholds):
        raise ValidationError(
            f"thresholds must be Thresholds, got {type(thresholds).__name__}", field="thresholds"
        )
    if total >= thresholds.sql:
        return QualificationLevel.SQL
    if total >= thresholds.mql:
        return QualificationLevel.MQL
    return QualificationLevel.RAW


def thresholds_for(funnel: Funnel, thresholds: Thresholds | float | None = None) -> Thresholds:
    """
    Resolve the thresholds to use: the argument, else ``funnel.thresholds``.

    A plain number is the MQL threshold (SQL stays at the funnel's, or at the
    MQL value if that is higher).

    >>> thresholds_for(DEFAULT_FUNNEL, 40)
    Thresholds(mql=40.0, sql=75)
    """
    declared = getattr(funnel, "thresholds", None)
    base = declared if isinstance(declared, Thresholds) else Thresholds()
    if isinstance(thresholds, Thresholds):
        return thresholds
    if isinstance(thresholds, bool) or not isinstance(thresholds, int | float | None):
        raise ScoringError(
            f"thresholds must be Thresholds or a number, got {type(thresholds).__name__}",
            field="thresholds",
        )
    if thresholds is None:
        return base
    try:
        return Thresholds(mql=float(thresholds), sql=max(float(thresholds), base.sql))
    except OverflowError:
        raise ScoringError("thresholds is too large for a number", field="thresholds") from None
    except ValueError as exc:
        raise ScoringError(str(exc), field="thresholds") from None


@attrs.frozen(kw_only=True)
class Promotion:
    """
    The outcome of :func:`promote`.

    Attributes:
        record: The lead after the attempt (unchanged when not promoted).
        score: The score that was compared with the threshold.
        threshold: The MQL threshold used.
        promoted: Whether the lead moved to MQL.
        reasons: Why not, when not promoted (score too low, wrong level, or
            the machine's guard refusals).
        error: The machine's :class:`~funnel.exceptions.TransitionError`, when
            it refused.
    """

    record: Lead
    score: Score
    threshold: float
    promoted: bool
    reasons: tuple[str, ...] = ()
    error: TransitionError | None = None


def promote(
    lead: Lead,
    model: ScoringModel,
    *,
    at: datetime,
    funnel: Funnel = DEFAULT_FUNNEL,
    thresholds: Thresholds | float | None = None,
    event: str = "mark_mql",
) -> Promotion:
    """
    Move a raw lead to MQL when its score reaches the MQL threshold.

    The move goes through ``funnel.advance(lead, event, at=at)``: the machine's
    guards still decide (the default ``mark_mql`` requires an inbound touch).
    Nothing is raised for a refusal; the :class:`Promotion` says why.

    >>> from datetime import datetime, timezone
    >>> from funnel import Contact, Lead, Touch
    >>> at = datetime(2026, 3, 1, tzinfo=timezone.utc)
    >>> model = ScoringModel(engagement_rules=[EngagementRule(name="mass email", points=60,
    ...                                                       reach="mass")])
    >>> mail = Touch(id="m1", at=at, direction="outbound", channel="email", reach="mass")
    >>> lead = Lead(id="L2", contact=Contact(name="Bo"), source="list", created_at=at,
    ...             touches=[mail])
    >>> result = promote(lead, model, at=at, thresholds=40)
    >>> result.promoted
    False
    >>> for line in result.reasons:
    ...     print(line)
    Lead 'L2' cannot mark_mql from stage 'acquired'
    has_inbound_action: no inbound action yet (form fill, sign-up, quote request, email in)
    """
    if not isinstance(lead, Lead):
        raise ValidationError(f"promote() takes a Lead, got {type(lead).__name__}", field="lead")
    if not isinstance(model, ScoringModel):
        raise ValidationError(
            f"promote() takes a ScoringModel, got {type(model).__name__}", field="model"
        )
    limits = thresholds_for(funnel, thresholds)
    result = score(lead, model, at=at)
    if lead.level is not QualificationLevel.RAW:
        reason = f"lead {lead.id!r} is already {lead.level.value}, not raw"
        return Promotion(
            record=lead, score=result, threshold=limits.mql, promoted=False, reasons=(reason,)
        )
    if result.total < limits.mql:
        reason = f"score {result.total:.2f} is below the MQL threshold {limits.mql:g}"
        return Promotion(
            record=lead, score=result, threshold=limits.mql, promoted=False, reasons=(reason,)
        )
    try:
        moved = advance(
            lead, event, at=at, funnel=funnel, why=f"score {result.total:.2f} >= {limits.mql:g}"
        )
    except TransitionError as exc:
        return Promotion(
            record=lead,
            score=result,
            threshold=limits.mql,
            promoted=False,
            reasons=(exc.summary, *exc.reasons),
            error=exc,
        )
    return Promotion(record=moved, score=result, threshold=limits.mql, promoted=True)
