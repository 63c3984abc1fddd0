"""
Predictive lead scoring: the probability of winning, learned from closed history.

This is a pure-Python port of the frequency-based naive Bayes that Odoo CRM
calls *predictive lead scoring* (PLS). In our own words:

1. **Count.** For every field (``source``, ``industry``, ``region``, ...) and
   every value it takes, count how many closed leads with that value were won
   and how many were lost. Each count starts at **0.1** rather than 0, so a
   value never seen with a lost lead does not make winning certain.
2. **Stages are special.** A won lead counts as won for **every** stage of the
   funnel (it went through all of them); a lost lead counts as lost only for
   the stages it **reached** (every stage up to and including the one it was
   lost from, in funnel order). So the deeper a lead is, the fewer lost leads
   share its stage, and the higher its chance.
3. **Prior.** ``P(won) = won / (won + lost)`` with both read from the first
   stage (every closed lead reached it), smoothing included.
4. **Likelihoods.** ``P(value | won) = won_count(value) / Σ won_count(field)``
   and the same for lost, summing over the field's values. For the stage the
   denominator is the total won (resp. lost) instead, because a won lead is
   counted once per stage.
5. **Naive Bayes.** ``S_won = P(won) · Π P(value | won)`` and
   ``S_lost = P(lost) · Π P(value | lost)`` over the lead's known values;
   ``probability = S_won / (S_won + S_lost)``. Values never seen in training are
   skipped, and so are values seen fewer than a **sample floor** of times
   (Odoo applies a floor of 50 to tags; here any field can have one). The
   result is given in percent, rounded to 2 decimals and kept within
   [0.01, 99.99]; a lead in a won stage scores 100, one with no stage 0.
6. **Explanation.** Each value gets a score ``P(v|won) / (P(v|won) + P(v|lost))``
   (for the stage: ``1 − P(stage | lost)``); above 0.5 it pushes towards
   winning, below 0.5 towards losing. :meth:`Prediction.top` and
   :meth:`Prediction.bottom` list the strongest of each.

Training takes plain :class:`TrainingRow` values (a mapping of field to value,
won or lost, the stage reached), so it works on funnel records (see
:func:`rows_from_records`) as well as on rows read from any dataset.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

import attrs

from funnel.engine.funnel import DEFAULT_FUNNEL, Funnel
from funnel.exceptions import PredictiveError, ValidationError
from funnel.forecasting._validate import check_int, check_number
from funnel.model.records import Lead, Prospect

#: The initial count of every (field, value) pair, as in Odoo.
SMOOTHING = 0.1


def _type(value: object) -> str:
    return type(value).__name__


def _check_rows(rows: object, name: str) -> list[TrainingRow]:
    """*rows* as a list of :class:`TrainingRow`, or a ValidationError naming *name*."""
    if isinstance(rows, str | bytes | Mapping) or not isinstance(rows, Iterable):
        raise ValidationError(
            f"{name} must be a list of TrainingRow, got {_type(rows)}", field=name
        )
    items = list(rows)
    for i, row in enumerate(items):
        if not isinstance(row, TrainingRow):
            raise ValidationError(
                f"{name}[{i}] must be a TrainingRow, got {_type(row)}", field=name
            )
    return items


def _check_scored(scores: object, labels: object, what: str) -> tuple[list[float], list[bool]]:
    """Scores (real numbers) and labels (bools or 0/1) as lists, or a ValidationError."""
    for name, seq in (
        ("scores" if what == "roc_auc" else "probabilities", scores),
        ("labels", labels),
    ):
        if isinstance(seq, str | bytes | Mapping) or not isinstance(seq, Iterable):
            raise ValidationError(
                f"{what}: {name} must be a sequence, got {_type(seq)}", field=name
            )
    xs = list(scores)  # type: ignore[call-overload]
    ys = list(labels)  # type: ignore[call-overload]
    for x in xs:
        if isinstance(x, bool) or not isinstance(x, int | float):
            raise ValidationError(
                f"{what}: a score must be a number, got {_type(x)}", field="scores"
            )
    for y in ys:
        if not isinstance(y, bool | int):
            raise ValidationError(
                f"{what}: a label must be a bool, got {_type(y)}", field="labels"
            )
    return [float(x) for x in xs], [bool(y) for y in ys]


def _is_missing(value: object) -> bool:
    if value is None or value == "":
        return True
    return isinstance(value, float) and math.isnan(value)


def _expand(value: object) -> tuple[object, ...]:
    """A field's values: several for a collection (tags), none when missing."""
    if isinstance(value, list | tuple | set | frozenset):
        return tuple(v for v in value if not _is_missing(v))
    return () if _is_missing(value) else (value,)


@attrs.frozen(kw_only=True)
class TrainingRow:
    """
    One closed lead, as PLS sees it.

    Attributes:
        values: Field -> value. ``None``, ``""`` and NaN mean unknown and are
            skipped; a list, tuple or set is several values (like tags).
        won: Whether it was won (else lost).
        stage: The stage it reached before closing (for a lost lead, the
            stage it was lost from). Ignored for won leads, which count for
            every stage.
        id: An id for error messages.
    """

    values: Mapping[str, object]
    won: bool
    stage: str | None = None
    id: str | None = None


@attrs.frozen
class Frequency:
    """
    Smoothed won and lost counts of one value (each starts at 0.1).

    Attributes:
        won: 0.1 + the number of won leads with the value.
        lost: 0.1 + the number of lost leads with the value.
    """

    won: float
    lost: float

    @property
    def samples(self) -> int:
        """How many closed leads had the value (smoothing removed)."""
        return round(self.won + self.lost - 2 * SMOOTHING)


@attrs.frozen
class Contribution:
    """
    How much one value pushes a prediction towards winning.

    Attributes:
        field: The field (``"stage"`` for the stage).
        value: The value.
        score: In (0, 1): above 0.5 favours winning, below 0.5 losing.
    """

    field: str
    value: object
    score: float

    def __str__(self) -> str:
        return f"{self.field}={self.value!r} ({self.score:.2f})"


@attrs.frozen(kw_only=True)
class Prediction:
    """
    A probability of winning, with what drove it.

    Attributes:
        probability: In percent, rounded to 2 decimals, within [0.01, 99.99]
            (100 for a won stage, 0 without a stage).
        fraction: The unrounded probability in [0, 1].
        contributions: Every value that entered the computation.
        skipped: Values left out (unknown, never seen, or below the floor).
    """

    probability: float
    fraction: float
    contributions: tuple[Contribution, ...] = ()
    skipped: tuple[str, ...] = ()

    def top(self, n: int = 3) -> tuple[Contribution, ...]:
        """The *n* values that favour winning most (score above 0.5)."""
        ranked = sorted(self.contributions, key=lambda c: (-c.score, c.field))
        return tuple(c for c in ranked if c.score > 0.5)[:n]

    def bottom(self, n: int = 3) -> tuple[Contribution, ...]:
        """The *n* values that favour losing most (score below 0.5)."""
        ranked = sorted(self.contributions, key=lambda c: (c.score, c.field))
        return tuple(c for c in ranked if c.score < 0.5)[:n]


def _freeze(
    table: dict[str, dict[object, list[float]]],
) -> Mapping[str, Mapping[object, Frequency]]:
    return MappingProxyType(
        {
            f: MappingProxyType({v: Frequency(c[0], c[1]) for v, c in values.items()})
            for f, values in table.items()
        }
    )


@attrs.frozen(kw_only=True)
class PLSModel:
    """
    A trained predictive lead scoring model (see the module docs).

    Attributes:
        fields: The fields used, in order.
        stages: The stages in funnel order (empty: stage not used).
        won_stages: Stages that mean won (a lead there scores 100).
        frequencies: Field -> value -> :class:`Frequency`.
        stage_frequencies: Stage -> :class:`Frequency`.
        min_samples: Field -> sample floor; values seen fewer times are ignored.
        won: Smoothed count of won leads (the prior's numerator).
        lost: Smoothed count of lost leads.
    """

    fields: tuple[str, ...]
    stages: tuple[str, ...]
    won_stages: frozenset[str]
    frequencies: Mapping[str, Mapping[object, Frequency]]
    stage_frequencies: Mapping[str, Frequency]
    min_samples: Mapping[str, int]
    won: float
    lost: float

    def __repr__(self) -> str:
        # field values (owners, sources) stay out: they can be personal data
        return (
            f"PLSModel({len(self.fields)} fields, {len(self.stages)} stages, "
            f"{self.won:g} won / {self.lost:g} lost, prior {self.prior:.3f})"
        )

    @property
    def prior(self) -> float:
        """``P(won)`` before looking at any field."""
        return self.won / (self.won + self.lost)

    def _totals(self, field: str) -> tuple[float, float]:
        floor = self.min_samples.get(field, 0)
        kept = [f for f in self.frequencies.get(field, {}).values() if f.samples >= floor]
        return sum(f.won for f in kept), sum(f.lost for f in kept)

    def predict(self, values: Mapping[str, object], stage: str | None = None) -> Prediction:
        """
        The probability that a lead with *values* in *stage* will be won.

        Raises:
            PredictiveError: *stage* is not one of the model's stages.
            ValidationError: *values* is not a mapping, or *stage* not a string.
        """
        if not isinstance(values, Mapping):
            raise ValidationError(f"values must be a mapping, got {_type(values)}", field="values")
        if stage is not None and not isinstance(stage, str):
            raise ValidationError(f"stage must be a str, got {_type(stage)}", field="stage")
        if self.stages:
            if stage is None:
                return Prediction(probability=0.0, fraction=0.0, skipped=("stage: none",))
            if stage in self.won_stages:
                return Prediction(probability=100.0, fraction=1.0)
            if stage not in self.stage_frequencies:
                raise PredictiveError(
                    f"stage {stage!r} is not one of the model's stages {list(self.stages)}",
                    field="stage",
                )
        s_won, s_lost = self.prior, 1 - self.prior
        contributions: list[Contribution] = []
        skipped: list[str] = []
        if self.stages and stage is not None:
            freq = self.stage_frequencies[stage]
            p_won, p_lost = freq.won / self.won, freq.lost / self.lost
            s_won *= p_won
            s_lost *= p_lost
            contributions.append(Contribution("stage", stage, 1 - p_lost))
        for field in self.fields:
            raw = values.get(field)
            items = _expand(raw)
            if not items:
                skipped.append(f"{field}: unknown")
                continue
            won_total, lost_total = self._totals(field)
            floor = self.min_samples.get(field, 0)
            table = self.frequencies.get(field, {})
            for value in items:
                freq_or_none = table.get(value)
                if freq_or_none is None:
                    skipped.append(f"{field}={value!r}: never seen in training")
                    continue
                if freq_or_none.samples < floor:
                    skipped.append(
                        f"{field}={value!r}: {freq_or_none.samples} sample(s) < floor {floor}"
                    )
                    continue
                p_won = freq_or_none.won / won_total
                p_lost = freq_or_none.lost / lost_total
                s_won *= p_won
                s_lost *= p_lost
                contributions.append(Contribution(field, value, p_won / (p_won + p_lost)))
        fraction = s_won / (s_won + s_lost)
        percent = min(max(round(100 * fraction, 2), 0.01), 99.99)
        return Prediction(
            probability=percent,
            fraction=fraction,
            contributions=tuple(contributions),
            skipped=tuple(skipped),
        )


def train_pls(
    rows: Iterable[TrainingRow],
    *,
    stages: Sequence[str] = (),
    won_stages: Iterable[str] = (),
    fields: Sequence[str] | None = None,
    min_samples: int = 0,
    field_min_samples: Mapping[str, int] | None = None,
) -> PLSModel:
    """
    Learn a :class:`PLSModel` from closed leads.

    Args:
        rows: The closed leads.
        stages: The funnel's open stages in order; empty to ignore stages.
        won_stages: Stages meaning won (a lead predicted there gets 100).
        fields: The fields to use (default: every field in the rows, sorted).
        min_samples: The default sample floor of every field.
        field_min_samples: Floors per field, overriding *min_samples*
            (e.g. ``{"tags": 50}`` as Odoo does for tags).

    Raises:
        PredictiveError: no rows, or a lost row whose stage is missing or
            not in *stages* (naming the row).

    >>> rows = [TrainingRow(values={"source": "web"}, won=True),
    ...         TrainingRow(values={"source": "web"}, won=False),
    ...         TrainingRow(values={"source": "list"}, won=False)]
    >>> model = train_pls(rows)
    >>> model.predict({"source": "web"}).probability
    48.99
    """
    if isinstance(stages, str) or not isinstance(stages, Iterable):
        raise ValidationError(
            f"stages must be a list of stages, got {_type(stages)}", field="stages"
        )
    if isinstance(won_stages, str) or not isinstance(won_stages, Iterable):
        raise ValidationError(
            f"won_stages must be a list of stages, got {_type(won_stages)}", field="won_stages"
        )
    if isinstance(min_samples, bool) or not isinstance(min_samples, int):
        raise ValidationError(
            f"min_samples must be an int, got {_type(min_samples)}", field="min_samples"
        )
    order = tuple(stages)
    index = {s: i for i, s in enumerate(order)}
    if len(index) != len(order):
        raise PredictiveError(f"stages must be distinct, got {list(order)}", field="stage")
    items = _check_rows(rows, "rows")
    if not items:
        raise PredictiveError("no training rows: insufficient history")
    names = (
        tuple(fields)
        if fields is not None
        else tuple(sorted({f for row in items for f in row.values}))
    )
    table: dict[str, dict[object, list[float]]] = {f: {} for f in names}
    stage_table: dict[str, list[float]] = {}
    won = lost = 0
    for i, row in enumerate(items):
        where = row.id if row.id is not None else i
        slot = 0 if row.won else 1
        won += row.won
        lost += not row.won
        if order:
            if row.won:
                reached: Sequence[str] = order
            else:
                if row.stage is None or row.stage not in index:
                    raise PredictiveError(
                        f"training row {where!r}: lost lead has stage {row.stage!r}, "
                        f"expected one of {list(order)}",
                        row=where,
                        field="stage",
                    )
                reached = order[: index[row.stage] + 1]
            for stage in reached:
                stage_table.setdefault(stage, [SMOOTHING, SMOOTHING])[slot] += 1
        for field in names:
            for value in _expand(row.values.get(field)):
                try:
                    counts = table[field].setdefault(value, [SMOOTHING, SMOOTHING])
                except TypeError:
                    raise PredictiveError(
                        f"training row {where!r}: {field}={value!r} is not hashable",
                        row=where,
                        field=field,
                    ) from None
                counts[slot] += 1
    if order:
        first = stage_table[order[0]]
        team_won, team_lost = first[0], first[1]
    else:
        team_won, team_lost = won + SMOOTHING, lost + SMOOTHING
    floors = dict.fromkeys(names, min_samples)
    floors.update(field_min_samples or {})
    return PLSModel(
        fields=names,
        stages=order,
        won_stages=frozenset(won_stages),
        frequencies=_freeze(table),
        stage_frequencies=MappingProxyType(
            {s: Frequency(c[0], c[1]) for s, c in stage_table.items()}
        ),
        min_samples=MappingProxyType(floors),
        won=team_won,
        lost=team_lost,
    )


def record_values(record: Lead | Prospect) -> dict[str, object]:
    """The default PLS fields of a record: source, segment, owner, industry, region."""
    if not isinstance(record, Lead | Prospect):
        raise ValidationError(
            f"record_values() takes a Lead or Prospect, got {_type(record)}", field="record"
        )
    company = record.contact.company
    return {
        "source": record.source,
        "segment": record.segment,
        "owner": record.owner,
        "industry": company.industry if company is not None else None,
        "region": company.region if company is not None else None,
    }


def pls_stages(funnel: Funnel = DEFAULT_FUNNEL) -> tuple[str, ...]:
    """The funnel's open (non-final) stages in declaration order: PLS's stage order."""
    if not isinstance(funnel, Funnel):
        raise ValidationError(f"funnel must be a Funnel, got {_type(funnel)}", field="funnel")
    return tuple(s for s in funnel.stages if s not in funnel.finals)


def rows_from_records(
    records: Iterable[Lead | Prospect],
    *,
    funnel: Funnel = DEFAULT_FUNNEL,
    values: Callable[[Lead | Prospect], Mapping[str, object]] = record_values,
) -> list[TrainingRow]:
    """
    Training rows from the closed records among *records* (open ones are skipped).

    A record is won in one of ``funnel.won_stages`` and lost in one of
    ``funnel.lost_stages``; the stage it reached is the one its last change
    left.
    """
    if isinstance(records, str | bytes | Mapping) or not isinstance(records, Iterable):
        raise ValidationError(
            f"records must be a list of Lead or Prospect, got {_type(records)}", field="records"
        )
    if not isinstance(funnel, Funnel):
        raise ValidationError(f"funnel must be a Funnel, got {_type(funnel)}", field="funnel")
    out: list[TrainingRow] = []
    for i, record in enumerate(records):
        if not isinstance(record, Lead | Prospect):
            raise ValidationError(
                f"records[{i}] must be a Lead or Prospect, got {_type(record)}", field="records"
            )
        if record.stage in funnel.won_stages:
            won = True
        elif record.stage in funnel.lost_stages:
            won = False
        else:
            continue
        reached = record.history[-1].from_stage if record.history else None
        out.append(TrainingRow(values=dict(values(record)), won=won, stage=reached, id=record.id))
    return out


def roc_auc(scores: Sequence[float], labels: Sequence[bool]) -> float:
    """
    The area under the ROC curve: the chance a random won lead outscores a random lost one.

    Ties count one half (the Mann-Whitney statistic).

    Raises:
        PredictiveError: the lengths differ, or one class is empty.

    >>> roc_auc([0.9, 0.4, 0.4, 0.1], [True, True, False, False])
    0.875
    """
    scores, labels = _check_scored(scores, labels, "roc_auc")
    if len(scores) != len(labels):
        raise PredictiveError(f"{len(scores)} scores but {len(labels)} labels")
    pairs = sorted(zip(scores, labels, strict=True), key=lambda p: p[0])
    positives = sum(1 for _, y in pairs if y)
    negatives = len(pairs) - positives
    if not positives or not negatives:
        raise PredictiveError("AUC needs at least one won and one lost lead")
    rank_sum = 0.0
    i = 0
    while i < len(pairs):
        j = i
        while j + 1 < len(pairs) and pairs[j + 1][0] == pairs[i][0]:
            j += 1
        mid_rank = (i + j) / 2 + 1
        rank_sum += mid_rank * sum(1 for k in range(i, j + 1) if pairs[k][1])
        i = j + 1
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def brier_score(probabilities: Sequence[float], labels: Sequence[bool]) -> float:
    """
    The mean squared error of probabilities in [0, 1] against outcomes (lower is better).

    >>> brier_score([1.0, 0.5], [True, False])
    0.125
    """
    probabilities, labels = _check_scored(probabilities, labels, "brier_score")
    if len(probabilities) != len(labels) or not labels:
        raise PredictiveError("brier_score needs as many probabilities as labels, at least one")
    return sum((p - float(y)) ** 2 for p, y in zip(probabilities, labels, strict=True)) / len(
        labels
    )


def log_loss(probabilities: Sequence[float], labels: Sequence[bool], eps: float = 1e-6) -> float:
    """
    The mean negative log-likelihood of the outcomes (lower is better), clipped at *eps*.

    >>> round(log_loss([0.5, 0.5], [True, False]), 4)
    0.6931
    """
    probabilities, labels = _check_scored(probabilities, labels, "log_loss")
    if isinstance(eps, bool) or not isinstance(eps, int | float) or not 0 < eps < 0.5:
        raise ValidationError("eps must be a number in (0, 0.5)", field="eps")
    if len(probabilities) != len(labels) or not labels:
        raise PredictiveError("log_loss needs as many probabilities as labels, at least one")
    total = 0.0
    for p, y in zip(probabilities, labels, strict=True):
        q = min(max(p, eps), 1 - eps)
        total -= math.log(q if y else 1 - q)
    return total / len(labels)


@attrs.frozen
class ReliabilityBin:
    """
    One bin of a reliability curve.

    Attributes:
        low: The bin's lower edge (inclusive).
        high: Its upper edge (exclusive, but 1 is in the last bin).
        count: Predictions in the bin.
        mean_predicted: Their mean probability.
        observed: The share of them won.
    """

    low: float
    high: float
    count: int
    mean_predicted: float
    observed: float


def reliability(
    probabilities: Sequence[float], labels: Sequence[bool], *, bins: int = 10
) -> tuple[ReliabilityBin, ...]:
    """
    A reliability curve: equal-width bins of predicted probability, each with its win rate.

    A calibrated model has ``observed ≈ mean_predicted`` in every bin. Empty
    bins are left out.

    >>> [(b.count, b.observed) for b in reliability([0.1, 0.15, 0.9], [False, True, True], bins=2)]
    [(2, 0.5), (1, 1.0)]
    """
    probabilities, labels = _check_scored(probabilities, labels, "reliability")
    bins = check_int(bins, "bins")
    if any(not 0 <= p <= 1 for p in probabilities):
        raise PredictiveError("reliability needs probabilities in [0, 1]", field="probabilities")
    if len(probabilities) != len(labels) or not labels:
        raise PredictiveError("reliability needs as many probabilities as labels, at least one")
    if bins < 1:
        raise PredictiveError(f"bins must be >= 1, got {bins}")
    groups: dict[int, list[tuple[float, bool]]] = {}
    for p, y in zip(probabilities, labels, strict=True):
        k = min(int(p * bins), bins - 1)
        groups.setdefault(k, []).append((p, y))
    return tuple(
        ReliabilityBin(
            k / bins,
            (k + 1) / bins,
            len(g),
            sum(p for p, _ in g) / len(g),
            sum(1 for _, y in g if y) / len(g),
        )
        for k, g in sorted(groups.items())
    )


@attrs.frozen(kw_only=True)
class FieldWinRate:
    """
    A baseline: the smoothed win rate of a lead's value of one field.

    ``rate(v) = (won(v) + weight * base) / (n(v) + weight)``: a value seen
    rarely stays near the base rate; an unseen or missing value gets the base rate.

    Attributes:
        field: The field.
        base: The training win rate.
        weight: The smoothing weight (pseudo-leads at the base rate).
        rates: Value -> smoothed win rate.
    """

    field: str
    base: float
    weight: float
    rates: Mapping[object, float]

    def predict(self, values: Mapping[str, object]) -> float:
        """The win rate of *values*' value of :attr:`field` (the base rate if unseen)."""
        items = _expand(values.get(self.field))
        known = [self.rates[v] for v in items if v in self.rates]
        return sum(known) / len(known) if known else self.base


def field_win_rate(
    rows: Sequence[TrainingRow], field: str, *, weight: float = 10.0
) -> FieldWinRate:
    """
    Fit a :class:`FieldWinRate` baseline on *rows*.

    Raises:
        PredictiveError: no rows.

    >>> rows = [TrainingRow(values={"src": "web"}, won=True)] * 3 + [
    ...     TrainingRow(values={"src": "ads"}, won=False)]
    >>> baseline = field_win_rate(rows, "src", weight=1)
    >>> baseline.predict({"src": "web"}), baseline.predict({"src": "tv"})   # (3 + .75) / 4
    (0.9375, 0.75)
    """
    rows = _check_rows(rows, "rows")
    if not isinstance(field, str):
        raise ValidationError(f"field must be a str, got {_type(field)}", field="field")
    if not check_number(weight, "weight") >= 0:
        raise ValidationError("weight must be a number >= 0", field="weight")
    if not rows:
        raise PredictiveError("no training rows: insufficient history")
    base = sum(1 for r in rows if r.won) / len(rows)
    counts: dict[object, list[int]] = {}
    for row in rows:
        for v in _expand(row.values.get(field)):
            c = counts.setdefault(v, [0, 0])
            c[0] += row.won
            c[1] += 1
    rates = {v: (w + weight * base) / (n + weight) for v, (w, n) in counts.items()}
    return FieldWinRate(field=field, base=base, weight=weight, rates=MappingProxyType(rates))


def time_split(
    rows: Sequence[TrainingRow], times: Sequence[object], cutoff: object
) -> tuple[list[TrainingRow], list[TrainingRow]]:
    """
    Rows whose time is at or before *cutoff* (train) and after it (test).

    Times are anything comparable (datetimes, ISO dates as text); a row
    without a time (``None``) is in neither, and is counted by no metric.

    Raises:
        PredictiveError: the lengths differ.
        ValidationError: rows or times of the wrong type, or times that cannot
            be compared with *cutoff* (naming the row).
    """
    rows = _check_rows(rows, "rows")
    if isinstance(times, str | bytes | Mapping) or not isinstance(times, Iterable):
        raise ValidationError(f"times must be a sequence, got {_type(times)}", field="times")
    times = list(times)
    if len(rows) != len(times):
        raise PredictiveError(f"{len(rows)} rows but {len(times)} times")
    train: list[TrainingRow] = []
    test: list[TrainingRow] = []
    for i, (row, t) in enumerate(zip(rows, times, strict=True)):
        if t is None:
            continue
        try:
            before = bool(t <= cutoff)  # type: ignore[operator]
        except Exception:  # a TypeError, or a tzinfo of the caller's own that fails
            raise ValidationError(
                f"times[{i}] ({_type(t)}) cannot be compared with the cutoff ({_type(cutoff)})",
                field="times",
            ) from None
        (train if before else test).append(row)
    return train, test


def _lift(scores: Sequence[float], labels: Sequence[bool], share: float = 0.1) -> float:
    """
    The expected win rate of the top *share* by score over the overall win rate.

    Ties are broken at random in expectation: the tie group straddling the cut
    counts with its mean win rate, so a constant score has a lift of exactly 1.
    """
    overall = sum(labels) / len(labels)
    if overall == 0:
        return float("nan")
    want = max(1.0, share * len(scores))
    groups: dict[float, list[bool]] = {}
    for s, y in zip(scores, labels, strict=True):
        groups.setdefault(s, []).append(y)
    taken = won = 0.0
    for s in sorted(groups, reverse=True):
        g = groups[s]
        take = min(float(len(g)), want - taken)
        won += take * sum(g) / len(g)
        taken += take
        if taken >= want:
            break
    return (won / taken) / overall


@attrs.frozen(kw_only=True)
class ScoringEvaluation:
    """
    How a predictive model does on held-out leads, against two baselines.

    Attributes:
        rows: One mapping per model (``"base rate"``, ``"win rate: <field>"`` for
            every field, ``"pls"``): ``n``, ``auc``, ``brier``, ``brier_skill``
            (``1 - brier / brier(base rate)``: > 0 beats the base rate),
            ``log_loss``, ``lift_top10`` (win rate of the top 10 % over the
            overall one), ``mean_predicted``, ``observed``.
        reliability: The model's reliability curve on the test leads.
        train: Training leads.
        test: Test leads.
    """

    rows: tuple[Mapping[str, object], ...]
    reliability: tuple[ReliabilityBin, ...]
    train: int
    test: int

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{r['model']} {float(r['brier']):.3f}"  # type: ignore[arg-type]
            for r in self.rows
            if r["model"] in ("base rate", "pls")
        )
        return (
            f"ScoringEvaluation(train={self.train}, test={self.test}, "
            f"{len(self.rows)} models; Brier: {shown})"
        )

    def _repr_html_(self) -> str:
        from funnel.forecasting._frames import html_table

        def cell(value: object) -> str:
            return f"{value:.3f}" if isinstance(value, float) else str(value)

        names = ("model", "auc", "brier", "brier_skill", "lift_top10")
        rows = [tuple(cell(r[n]) for n in names) for r in self.rows]
        return html_table(
            f"Scoring on {self.test} test leads (trained on {self.train})", rows, names
        )

    def metric(self, model: str, name: str) -> float:
        """One figure, e.g. ``metric("pls", "auc")``."""
        for row in self.rows:
            if row["model"] == model:
                value = row[name]
                assert isinstance(value, int | float), name
                return float(value)
        raise PredictiveError(f"no model {model!r} in {[r['model'] for r in self.rows]}")

    def best_baseline(self, name: str = "brier") -> Mapping[str, object]:
        """The per-field baseline with the lowest *name* (Brier by default)."""
        base = [r for r in self.rows if str(r["model"]).startswith("win rate")]
        if not base:
            raise PredictiveError("no per-field baseline was evaluated")
        return min(base, key=lambda r: float(r[name]))  # type: ignore[arg-type]

    def to_frame(self, backend: str = "polars") -> Any:
        """The metrics, one row per model."""
        from funnel.forecasting._frames import rows_to_columns, to_frame

        names = (
            "model",
            "n",
            "auc",
            "brier",
            "brier_skill",
            "log_loss",
            "lift_top10",
            "mean_predicted",
            "observed",
        )
        return to_frame(rows_to_columns(self.rows, names), backend)

    def reliability_frame(self, backend: str = "polars") -> Any:
        """The reliability curve, one row per bin."""
        from funnel.forecasting._frames import to_frame

        return to_frame(
            {
                "low": [b.low for b in self.reliability],
                "high": [b.high for b in self.reliability],
                "count": [b.count for b in self.reliability],
                "mean_predicted": [b.mean_predicted for b in self.reliability],
                "observed": [b.observed for b in self.reliability],
            },
            backend,
        )

    def chart(self, *, title: str | None = None) -> Any:
        """A plotly reliability diagram (observed against predicted, the diagonal dashed)."""
        from funnel.forecasting._frames import plotly

        go = plotly()
        fig = go.Figure()
        fig.add_trace(
            go.Scatter(
                x=[0, 1],
                y=[0, 1],
                mode="lines",
                name="calibrated",
                line={"dash": "dash", "color": "grey"},
            )
        )
        fig.add_trace(
            go.Scatter(
                x=[b.mean_predicted for b in self.reliability],
                y=[b.observed for b in self.reliability],
                mode="markers+lines",
                name="model",
                text=[f"{b.count} leads" for b in self.reliability],
            )
        )
        fig.update_layout(
            title=title or "Reliability curve (held-out leads)",
            xaxis_title="mean predicted probability",
            yaxis_title="share won",
        )
        return fig


def evaluate_scoring(
    model: PLSModel,
    train: Sequence[TrainingRow],
    test: Sequence[TrainingRow],
    *,
    stage: str | None = None,
    fields: Sequence[str] | None = None,
    weight: float = 10.0,
    bins: int = 10,
) -> ScoringEvaluation:
    """
    Judge *model* on *test* against the base rate and per-field win rates fitted on *train*.

    Split by time (:func:`time_split`: train on what closed before a cut-off,
    test on what closed after), not at random, to judge what the model would
    have done.

    Args:
        model: The trained model (on *train*).
        train: Its training rows (for the baselines).
        test: The held-out rows.
        stage: The stage every test lead is predicted in (``None`` for a model
            without stages).
        fields: The per-field baselines (default: the model's fields).
        weight: The baselines' smoothing weight.
        bins: Bins of the reliability curve.

    Raises:
        PredictiveError: no training or test rows, or a test set of one class.
        ValidationError: a wrong-typed argument.
    """
    if not isinstance(model, PLSModel):
        raise ValidationError(f"model must be a PLSModel, got {_type(model)}", field="model")
    train = _check_rows(train, "train")
    test = _check_rows(test, "test")
    bins = check_int(bins, "bins")
    if not train or not test:
        raise PredictiveError("evaluate_scoring needs training and test rows")
    labels = [r.won for r in test]
    base = sum(1 for r in train if r.won) / len(train)
    scored: list[tuple[str, list[float]]] = [("base rate", [base] * len(test))]
    for field in fields if fields is not None else model.fields:
        baseline = field_win_rate(train, field, weight=weight)
        scored.append((f"win rate: {field}", [baseline.predict(r.values) for r in test]))
    pls = [model.predict(r.values, stage=stage).fraction for r in test]
    scored.append(("pls", pls))
    base_brier = brier_score([base] * len(test), labels)
    rows = []
    for name, ps in scored:
        b = brier_score(ps, labels)
        rows.append(
            MappingProxyType(
                {
                    "model": name,
                    "n": len(test),
                    "auc": roc_auc(ps, labels),
                    "brier": b,
                    "brier_skill": 1 - b / base_brier if base_brier else float("nan"),
                    "log_loss": log_loss(ps, labels),
                    "lift_top10": _lift(ps, labels),
                    "mean_predicted": sum(ps) / len(ps),
                    "observed": sum(labels) / len(labels),
                }
            )
        )
    return ScoringEvaluation(
        rows=tuple(rows),
        reliability=reliability(pls, labels, bins=bins),
        train=len(train),
        test=len(test),
    )
