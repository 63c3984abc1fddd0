"""
Weighted pipeline and forecast, in :class:`~decimal.Decimal` money.

* **Weighted value of a deal** = ``value × probability``, rounded **per deal**
  to cents (``0.01``) with :data:`~decimal.ROUND_HALF_EVEN` by default
  (banker's rounding: halves go to the even cent, so a long sum of rounded
  deals carries no upward bias; pass ``rounding=ROUND_HALF_UP`` for the
  schoolbook rule). The pipeline total is the sum of the rounded deals, so a
  report's lines always add up to its total.
* **Closed deals**: a won deal counts its full value, a lost deal counts
  **zero**, whatever probability its stage would have.
* **Stage probabilities from history** (:func:`stage_probabilities`): the
  probability of stage *s* is the share of **closed** leads that reached *s*
  and were won, ``won(s) / (won(s) + lost(s))``. Open leads are left out
  (they have no outcome yet). A stage with fewer than ``min_samples`` closed
  leads gets no probability ("insufficient history"): a declared fallback is
  used if given, otherwise asking for it raises :class:`InsufficientHistory`.
  Textbook defaults (10/25/50/75/90 %) are never invented.
* **With a horizon** (``weighted_pipeline(..., horizon=, at=)`` and a
  :class:`~funnel.forecasting.survival.StageSurvival`): each open deal is
  weighed by its chance of winning *within the horizon given its age in
  stage*, so a deal that has sat in its stage longer than any deal ever left
  it weighs nothing. When the fit's outcome history is short (fewer days of
  wins and losses before its cut-off than the horizon, or an open deal's
  stage with fewer than ``min_samples`` closed deals; see
  :class:`~funnel.forecasting.survival.OutcomeHistory`), a
  :class:`~funnel.exceptions.ForecastWarning` says so.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

import attrs

from funnel._base.money import to_decimal
from funnel.engine.funnel import DEFAULT_FUNNEL, Funnel
from funnel.exceptions import ForecastError, InsufficientHistory, ValidationError
from funnel.model.records import Lead, Prospect

if TYPE_CHECKING:
    from funnel.forecasting.development import StageDevelopment
    from funnel.forecasting.survival import StageSurvival

CENT = Decimal("0.01")
Money = Decimal | int | float | str


def to_money(value: Money, *, what: str = "value") -> Decimal:
    """*value* as a finite Decimal (floats by their shortest repr, so 0.1 stays 0.1)."""
    try:
        return to_decimal(value, what)
    except ValidationError as exc:
        raise ForecastError(str(exc), field=what) from None


def _probability(value: Money, what: str, record: str | None = None) -> Decimal:
    p = to_money(value, what=what)
    if not Decimal(0) <= p <= Decimal(1):
        raise ForecastError(
            f"{what} must lie in [0, 1], got {p}", record=record, field="probability"
        )
    return p


@attrs.frozen(kw_only=True)
class Deal:
    """
    A plain deal row: an id, a value, a stage and (optionally) when it entered that stage.

    >>> Deal(id="D1", value=1200.5, stage="Engaging").value
    Decimal('1200.5')
    """

    id: str
    value: Decimal = attrs.field(converter=to_money)
    stage: str
    entered: datetime | None = None

    def __attrs_post_init__(self) -> None:
        if self.value < 0:
            raise ForecastError(
                f"deal {self.id!r}: value must be >= 0, got {self.value}",
                record=self.id,
                field="value",
            )


@attrs.frozen
class StageProbability:
    """
    A stage's probability of winning, estimated from closed history.

    Attributes:
        stage: The stage.
        reached: Closed leads that reached the stage.
        won: Of those, how many were won.
        probability: ``won / reached`` (or the fallback); ``None`` when history
            is insufficient and no fallback was given.
        source: ``"history"``, ``"fallback"`` or ``"insufficient_history"``.
    """

    stage: str
    reached: int
    won: int
    probability: Decimal | None
    source: Literal["history", "fallback", "insufficient_history"]

    @property
    def sufficient(self) -> bool:
        """Whether the probability comes from enough history."""
        return self.source == "history"


@attrs.frozen(kw_only=True)
class StageProbabilities:
    """
    Probabilities of winning per stage, with the sample floor they obey.

    Attributes:
        stages: Stage -> :class:`StageProbability`, in the order first seen
            (or the declared order).
        won_stages: Stages that count as won (probability 1).
        lost_stages: Stages that count as lost (probability 0).
        min_samples: The sample floor.
    """

    stages: Mapping[str, StageProbability]
    won_stages: frozenset[str]
    lost_stages: frozenset[str]
    min_samples: int

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{e.stage} {'?' if e.probability is None else f'{float(e.probability):.3f}'}"
            for e in self.stages.values()
        )
        return f"StageProbabilities({shown or 'no stage'}; min_samples={self.min_samples})"

    def _repr_html_(self) -> str:
        from funnel.forecasting._frames import html_table

        rows = [
            (
                e.stage,
                str(e.reached),
                str(e.won),
                "" if e.probability is None else f"{float(e.probability):.3f}",
                e.source,
            )
            for e in self.stages.values()
        ]
        return html_table(
            f"Stage probabilities (min_samples={self.min_samples})",
            rows,
            ("stage", "reached", "won", "probability", "source"),
        )

    def probability(self, stage: str, *, record: str | None = None) -> Decimal:
        """
        The probability for a deal in *stage*: 1 for won, 0 for lost, else from history.

        Raises:
            InsufficientHistory: the stage lacks history and has no fallback.
        """
        if stage in self.won_stages:
            return Decimal(1)
        if stage in self.lost_stages:
            return Decimal(0)
        entry = self.stages.get(stage)
        if entry is None:
            raise InsufficientHistory(stage, 0, self.min_samples, record)
        if entry.probability is None:
            raise InsufficientHistory(stage, entry.reached, self.min_samples, record)
        return entry.probability

    def rows(self) -> list[dict[str, object]]:
        """One dict per stage, for a table or a dataframe."""
        return [
            {
                "stage": e.stage,
                "reached": e.reached,
                "won": e.won,
                "probability": e.probability,
                "source": e.source,
            }
            for e in self.stages.values()
        ]

    def to_frame(self, backend: str = "polars") -> Any:
        """One row per stage (probability as a float, null when insufficient)."""
        from funnel.forecasting._frames import to_frame

        entries = list(self.stages.values())
        return to_frame(
            {
                "stage": [e.stage for e in entries],
                "reached": [e.reached for e in entries],
                "won": [e.won for e in entries],
                "probability": [
                    None if e.probability is None else float(e.probability) for e in entries
                ],
                "source": [e.source for e in entries],
            },
            backend,
        )


def stage_probabilities(
    paths: Iterable[Sequence[str]],
    *,
    won_stages: Collection[str] | None = None,
    lost_stages: Collection[str] | None = None,
    order: Sequence[str] | None = None,
    min_samples: int = 30,
    fallback: Mapping[str, Money] | None = None,
) -> StageProbabilities:
    """
    Estimate each stage's probability of winning from the stage paths of leads.

    Args:
        paths: Per lead, the stages it went through in order; the last one
            tells the outcome (won, lost, or still open, then skipped).
        won_stages: Final stages meaning won (default: the default funnel's).
        lost_stages: Final stages meaning lost (default: the default funnel's).
        order: The funnel's stage order. When given, a lead that reached a
            stage also counts as having reached every earlier stage in
            *order* (stage skipping), and the result follows this order.
        min_samples: The fewest closed leads a stage needs.
        fallback: Probabilities (0-1) to use for stages below the floor.

    Raises:
        ForecastError: a fallback probability outside [0, 1].

    >>> paths = [["mql", "sql", "won"], ["mql", "lost"], ["mql", "sql", "lost"], ["mql", "sql"]]
    >>> probs = stage_probabilities(paths, won_stages={"won"}, lost_stages={"lost"},
    ...                             min_samples=2)
    >>> probs.probability("mql"), probs.probability("sql")   # 1 of 3, 1 of 2; open lead skipped
    (Decimal('0.3333333333333333333333333333'), Decimal('0.5'))
    """
    won_set = frozenset(DEFAULT_FUNNEL.won_stages if won_stages is None else won_stages)
    lost_set = frozenset(DEFAULT_FUNNEL.lost_stages if lost_stages is None else lost_stages)
    finals = won_set | lost_set
    if isinstance(paths, str | bytes | Mapping) or not isinstance(paths, Iterable):
        raise ValidationError(
            f"paths must be a list of stage paths, got {type(paths).__name__}", field="paths"
        )
    paths = list(paths)
    for i, path in enumerate(paths):
        if isinstance(path, str | bytes) or not isinstance(path, Sequence):
            raise ValidationError(
                f"paths[{i}] must be a list of stages, got {type(path).__name__}", field="paths"
            )
        if not all(isinstance(s, str) for s in path):
            raise ValidationError(f"paths[{i}] must hold stage names (str)", field="paths")
    if isinstance(min_samples, bool) or not isinstance(min_samples, int):
        raise ValidationError(
            f"min_samples must be an int, got {type(min_samples).__name__}", field="min_samples"
        )
    if fallback is not None and not isinstance(fallback, Mapping):
        raise ValidationError(
            f"fallback must be a mapping stage -> probability, got {type(fallback).__name__}",
            field="fallback",
        )
    position = {s: i for i, s in enumerate(order or ())}
    counts: dict[str, list[int]] = {s: [0, 0] for s in (order or ()) if s not in finals}
    for path in paths:
        if not path or path[-1] not in finals:
            continue
        won = path[-1] in won_set
        reached = {s for s in path if s not in finals}
        if position:
            deepest = max((position[s] for s in reached if s in position), default=-1)
            reached |= {s for s, i in position.items() if i <= deepest and s not in finals}
        for stage in sorted(reached, key=lambda s: (position.get(s, len(position)), s)):
            entry = counts.setdefault(stage, [0, 0])
            entry[0] += 1
            entry[1] += won
    fallback = fallback or {}
    table: dict[str, StageProbability] = {}
    for stage, (reached_n, won_n) in counts.items():
        if reached_n >= min_samples and reached_n > 0:
            table[stage] = StageProbability(
                stage, reached_n, won_n, Decimal(won_n) / Decimal(reached_n), "history"
            )
        elif stage in fallback:
            p = _probability(fallback[stage], f"fallback[{stage!r}]")
            table[stage] = StageProbability(stage, reached_n, won_n, p, "fallback")
        else:
            table[stage] = StageProbability(stage, reached_n, won_n, None, "insufficient_history")
    for stage, value in fallback.items():
        if stage not in table:
            p = _probability(value, f"fallback[{stage!r}]")
            table[stage] = StageProbability(stage, 0, 0, p, "fallback")
    return StageProbabilities(
        stages=MappingProxyType(table),
        won_stages=won_set,
        lost_stages=lost_set,
        min_samples=min_samples,
    )


def path_of(record: Lead | Prospect) -> tuple[str, ...]:
    """The stages a record went through, from its first stage to its current one."""
    if not isinstance(record, Lead | Prospect):
        raise ValidationError(
            f"path_of() takes a Lead or Prospect, got {type(record).__name__}", field="record"
        )
    if not record.history:
        return (record.stage,)
    return (record.history[0].from_stage, *(c.to_stage for c in record.history))


@attrs.frozen
class ForecastLine:
    """
    One deal in a forecast.

    Attributes:
        id: The deal's id.
        stage: Its stage.
        value: Its value.
        probability: The probability used (0-1).
        weighted: ``value × probability`` rounded to cents.
        status: ``"open"``, ``"won"`` or ``"lost"``.
    """

    id: str
    stage: str
    value: Decimal
    probability: Decimal
    weighted: Decimal
    status: Literal["open", "won", "lost"]


@attrs.frozen(kw_only=True)
class Forecast:
    """
    A weighted pipeline: one line per deal and the totals.

    Attributes:
        lines: One :class:`ForecastLine` per deal, in input order.
        rounding: The rounding mode used per deal.
    """

    lines: tuple[ForecastLine, ...]
    rounding: str

    def __repr__(self) -> str:
        status = [ln.status for ln in self.lines]
        return (
            f"Forecast({len(self.lines)} deals: {status.count('open')} open, "
            f"{status.count('won')} won, {status.count('lost')} lost; total {self.total})"
        )

    def _repr_html_(self) -> str:
        from funnel.forecasting._frames import html_table

        rows = [
            (stage, str(sum(1 for ln in self.lines if ln.stage == stage)), f"{value:,}")
            for stage, value in self.by_stage().items()
        ]
        rows.append(("total", str(len(self.lines)), f"{self.total:,}"))
        return html_table("Weighted pipeline", rows, ("stage", "deals", "weighted"))

    @property
    def total(self) -> Decimal:
        """Sum of the rounded weighted values (won deals at full value, lost at zero)."""
        return sum((line.weighted for line in self.lines), Decimal("0.00"))

    @property
    def open_total(self) -> Decimal:
        """Sum over open deals only."""
        return sum((ln.weighted for ln in self.lines if ln.status == "open"), Decimal("0.00"))

    @property
    def won_total(self) -> Decimal:
        """Value already won."""
        return sum((ln.weighted for ln in self.lines if ln.status == "won"), Decimal("0.00"))

    def by_stage(self) -> dict[str, Decimal]:
        """Weighted value per stage."""
        out: dict[str, Decimal] = {}
        for line in self.lines:
            out[line.stage] = out.get(line.stage, Decimal("0.00")) + line.weighted
        return out

    def rows(self) -> list[dict[str, object]]:
        """One dict per deal, for a table or a dataframe."""
        return [attrs.asdict(line) for line in self.lines]

    def to_frame(self, backend: str = "polars") -> Any:
        """
        One row per deal (``id``, ``stage``, ``value``, ``probability``, ``weighted``,
        ``status``) as a polars (or pandas) frame; money as floats.
        """
        from funnel.forecasting._frames import to_frame

        return to_frame(
            {
                "id": [ln.id for ln in self.lines],
                "stage": [ln.stage for ln in self.lines],
                "value": [float(ln.value) for ln in self.lines],
                "probability": [float(ln.probability) for ln in self.lines],
                "weighted": [float(ln.weighted) for ln in self.lines],
                "status": [ln.status for ln in self.lines],
            },
            backend,
        )


def _deal_fields(deal: Deal | Prospect) -> tuple[str, Decimal, str, datetime | None]:
    if isinstance(deal, Deal):
        return deal.id, deal.value, deal.stage, deal.entered
    if isinstance(deal, Prospect):
        if deal.value is None:
            raise ForecastError(
                f"Prospect {deal.id!r} has no value; set Prospect.value to forecast it",
                record=deal.id,
                field="value",
            )
        entered = deal.history[-1].at if deal.history else deal.created_at
        return deal.id, deal.value, deal.stage, entered
    raise ValidationError(f"expected Deal or Prospect, got {type(deal).__name__}", field="deals")


def weighted_pipeline(
    deals: Iterable[Deal | Prospect],
    probabilities: StageProbabilities | StageSurvival | StageDevelopment | Mapping[str, Money],
    *,
    funnel: Funnel = DEFAULT_FUNNEL,
    rounding: str = ROUND_HALF_EVEN,
    horizon: timedelta | None = None,
    at: datetime | None = None,
) -> Forecast:
    """
    Weigh each deal by its stage's probability, rounding per deal.

    Args:
        deals: :class:`Deal` rows or :class:`~funnel.Prospect` records (with a value).
        probabilities: Estimated :class:`StageProbabilities`, or a plain
            mapping stage -> probability (0-1). With a plain mapping, won and
            lost stages are those of *funnel*.
        funnel: Gives won/lost stages for a plain mapping.
        rounding: A :mod:`decimal` rounding mode for each deal's cents.
        horizon: With a :class:`~funnel.forecasting.survival.StageSurvival`
            or a :class:`~funnel.forecasting.development.StageDevelopment`:
            weigh each open deal by its chance of winning within this horizon
            given its age in stage (``at`` minus when it entered its stage;
            :attr:`Deal.entered`, or a prospect's last change). The
            probability is kept to 6 decimals.
        at: The moment of the forecast (needed with *horizon*).

    Raises:
        ForecastError: a deal without value, or a stage without probability;
            a horizon without time-aware probabilities or without *at*, or an
            open deal that does not say when it entered its stage.
        InsufficientHistory: a stage whose history is below the floor.

    Warns:
        ForecastWarning: with a horizon, when the fit's outcome history is short.

    >>> deals = [Deal(id="A", value="1000", stage="sql"), Deal(id="B", value="0.25", stage="sql"),
    ...          Deal(id="C", value="500", stage="won"), Deal(id="D", value="800", stage="lost")]
    >>> fc = weighted_pipeline(deals, {"sql": "0.5"})
    >>> [str(line.weighted) for line in fc.lines]   # 0.125 rounds half-even to 0.12
    ['500.00', '0.12', '500.00', '0.00']
    >>> fc.total
    Decimal('1000.12')
    """
    from funnel.forecasting.development import StageDevelopment
    from funnel.forecasting.survival import StageSurvival

    if isinstance(deals, str | bytes | Mapping) or not isinstance(deals, Iterable):
        raise ValidationError(
            f"deals must be a list of Deal or Prospect, got {type(deals).__name__}", field="deals"
        )
    if horizon is not None and not isinstance(horizon, timedelta):
        raise ValidationError(
            f"horizon must be a datetime.timedelta, got {type(horizon).__name__}",
            field="horizon",
        )
    if isinstance(probabilities, StageSurvival | StageDevelopment) or horizon is not None:
        return _weighted_within(deals, probabilities, horizon, at, rounding)
    if not isinstance(probabilities, StageProbabilities | Mapping):
        raise ValidationError(
            "probabilities must be StageProbabilities, a StageSurvival, a StageDevelopment "
            f"or a mapping stage -> probability, got {type(probabilities).__name__}",
            field="probabilities",
        )
    if isinstance(probabilities, StageProbabilities):
        table = probabilities
        plain = False
    else:
        given = {s: _probability(p, f"probabilities[{s!r}]") for s, p in probabilities.items()}
        table = StageProbabilities(
            stages=MappingProxyType(
                {s: StageProbability(s, 0, 0, p, "fallback") for s, p in given.items()}
            ),
            won_stages=funnel.won_stages,
            lost_stages=funnel.lost_stages,
            min_samples=0,
        )
        plain = True
    closed = table.won_stages | table.lost_stages
    lines: list[ForecastLine] = []
    for deal in deals:
        deal_id, value, stage, _ = _deal_fields(deal)
        if plain and stage not in table.stages and stage not in closed:
            raise ForecastError(
                f"deal {deal_id!r}: no probability for stage {stage!r}",
                record=deal_id,
                field="stage",
            )
        p = table.probability(stage, record=deal_id)
        status: Literal["open", "won", "lost"] = "open"
        if stage in table.won_stages:
            status = "won"
        elif stage in table.lost_stages:
            status = "lost"
        weighted = (value * p).quantize(CENT, rounding=rounding)
        lines.append(ForecastLine(deal_id, stage, value, p, weighted, status))
    return Forecast(lines=tuple(lines), rounding=rounding)


def _weighted_within(
    deals: Iterable[Deal | Prospect],
    probabilities: object,
    horizon: timedelta | None,
    at: datetime | None,
    rounding: str,
) -> Forecast:
    """The weighted pipeline with time-aware probabilities (see :func:`weighted_pipeline`)."""
    from funnel._base.time import require_aware
    from funnel.forecasting.development import StageDevelopment
    from funnel.forecasting.survival import StageSurvival

    if not isinstance(probabilities, StageSurvival | StageDevelopment):
        raise ForecastError(
            "a horizon needs time-aware probabilities: pass a StageSurvival "
            "(funnel.forecasting.stage_survival) or a StageDevelopment "
            "(funnel.forecasting.stage_development), not per-stage probabilities",
            field="horizon",
        )
    if horizon is None or at is None:
        raise ForecastError(
            "time-aware probabilities need horizon= and at= (the moment of the forecast)",
            field="horizon" if horizon is None else "at",
        )
    at = require_aware(at, "at", field="at")
    lines: list[ForecastLine] = []
    open_stages: list[str] = []
    for deal in deals:
        deal_id, value, stage, entered = _deal_fields(deal)
        status: Literal["open", "won", "lost"] = "open"
        if stage in probabilities.won_stages:
            status, p = "won", Decimal(1)
        elif stage in probabilities.lost_stages:
            status, p = "lost", Decimal(0)
        else:
            if entered is None:
                raise ForecastError(
                    f"deal {deal_id!r}: a time-aware forecast needs when it entered "
                    f"stage {stage!r} (Deal.entered)",
                    record=deal_id,
                    field="entered",
                )
            age = (at - require_aware(entered, "entered", record=deal_id)).total_seconds() / 86400
            if age < 0:
                raise ForecastError(
                    f"deal {deal_id!r} entered its stage after at={at.isoformat()}",
                    record=deal_id,
                    field="entered",
                )
            q = probabilities.win_probability(stage, age, horizon, record=deal_id)
            p = Decimal(f"{q:.6f}")
            open_stages.append(stage)
        weighted = (value * p).quantize(CENT, rounding=rounding)
        lines.append(ForecastLine(deal_id, stage, value, p, weighted, status))
    fitted = (
        probabilities.fallback if isinstance(probabilities, StageDevelopment) else probabilities
    )
    if fitted.cutoff is not None and open_stages:
        # weighted_pipeline -> _weighted_within -> warn: the caller's line is 4 up
        fitted.outcome_history(horizon, stages=open_stages).warn(stacklevel=3)
    return Forecast(lines=tuple(lines), rounding=rounding)
