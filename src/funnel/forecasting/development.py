"""
Development (chain-ladder) probabilities: how deals of the same age did one horizon ago.

An exit curve by age (:mod:`funnel.forecasting.survival`) assumes that every
deal of a given age in a stage leaves it at the same rate, whatever the
calendar and whatever group of deals it came in with. Two things break that on
real pipelines (both measured on the Maven log in ``docs/how-to/forecasting.md``):

* **The calendar.** Closing is seasonal (quarter ends): a deal's chance over the
  next 90 days depends on which months those are, not only on its age.
* **Groups of deals that never close.** Deals that sit open forever come in
  batches (a campaign, a bulk import): a week whose deals are mostly dead is
  not told apart by age, so its open deals are valued like those of any week.

This module estimates, per stage, the chance that a deal open at the cut-off
``T`` wins within the horizon ``h`` from the deals of the same stage **that had
the same age one horizon earlier**, at ``T - h``, and what they did in
``(T - h, T]``: fully known at ``T``, over the same stretch of the season (for
a horizon of a quarter) and without a model of time. Deals are grouped by
their entry into the stage, in ``width``-day cohorts counted back from the
cut-off (cohort *k*: entered ``k * width`` to ``(k + 1) * width`` days before
it). For cohort *k* at ``T`` and the reference cohort *k* at ``T - h``:

* **Lagged rate** (Bornhuetter-Ferguson with the reference as prior): each open
  deal wins with ``W_R / O_R``, the wins in ``(T - h, T]`` of the reference
  cohort's ``O_R`` deals open at ``T - h``.
* **Chain ladder** (the actuaries' development method): the cohort's future
  wins are its exits so far, ``C``, times the reference's development
  ``W_R / C_R`` (its wins in the horizon per exit it had made by ``T - h``), so
  each of the ``O`` open deals wins with ``C W_R / (C_R O)``. A cohort in which
  many deals will never close has made fewer exits than its reference at the
  same age and gets proportionally fewer wins: this is the mixture model with
  a cure (never-close) fraction of its own per cohort and a common time to
  close, without estimating either.

The chain ladder is used where the reference cohort is *fully observed* (it
entered after the log's exits start, ``observed_from``) and has made at least
``min_samples`` exits by ``T - h``; else the lagged rate, where at least
``min_samples`` reference deals were open at ``T - h`` and ``T - h`` is
observed; else (the first ``h`` of a log, or thin cohorts) the Aalen-Johansen
estimate of :func:`~funnel.forecasting.stage_survival` (period analysis over
the last ``h``, stale deals at 0). Moves to another open stage count as exits;
a reference deal wins when it reaches a won stage in ``(T - h, T]`` by any path.
The horizon is fixed at fitting time: the estimate is for that horizon only.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any, Literal

import attrs

from funnel.engine.funnel import DEFAULT_FUNNEL
from funnel.exceptions import ForecastError, ValidationError
from funnel.forecasting._frames import to_frame
from funnel.forecasting._validate import (
    check_collection,
    check_int,
    check_optional_datetime,
    check_optional_mapping,
    check_timedelta,
)
from funnel.forecasting.survival import (
    DAY,
    OutcomeHistory,
    StageSurvival,
    Visit,
    WinEstimate,
    _dated,
    spells_at,
    stage_survival,
)

#: How a cohort's probability was obtained.
Method = Literal["chain-ladder", "lagged", "survival"]


@attrs.frozen(kw_only=True)
class Cohort:
    """
    One stage's deals that entered it in the same ``width`` days, and their reference.

    Attributes:
        stage: The stage.
        k: Entered ``k * width`` to ``(k + 1) * width`` days before the cut-off.
        open: Deals of the cohort still in the stage at the cut-off (weighted).
        exits: Deals of the cohort that had left the stage by the cut-off.
        reference_open: The reference cohort's deals open at ``cutoff - horizon``.
        reference_exits: The reference cohort's exits by ``cutoff - horizon``.
        reference_wins: Reference deals open then that won in the horizon after it.
        probability: The chance each open deal wins within the horizon
            (``None`` where the survival fallback values each deal at its own age).
        method: ``"chain-ladder"``, ``"lagged"`` or ``"survival"``.
    """

    stage: str
    k: int
    open: float
    exits: float
    reference_open: float
    reference_exits: float
    reference_wins: float
    probability: float | None
    method: Method


@attrs.frozen(kw_only=True)
class StageDevelopment:
    """
    Per stage and entry cohort, the chance of winning within the horizon; see the module docs.

    Build it with :func:`stage_development`.

    Attributes:
        cutoff: The cut-off.
        horizon: The one horizon the estimate is for.
        width: The cohort width.
        cohorts: (stage, k) -> :class:`Cohort`.
        fallback: The Aalen-Johansen fit used where no reference applies.
        won_stages: Stages meaning won.
        lost_stages: Stages meaning lost.
        min_samples: The sample floor.
        observed_from: Where the log's exits start (left truncation), if known.
    """

    cutoff: datetime
    horizon: timedelta
    width: timedelta
    cohorts: Mapping[tuple[str, int], Cohort] = attrs.field(repr=False)
    fallback: StageSurvival = attrs.field(repr=False)
    won_stages: frozenset[str]
    lost_stages: frozenset[str]
    min_samples: int
    observed_from: datetime | None = None

    def __repr__(self) -> str:
        methods = [c.method for c in self.cohorts.values()]
        counts = ", ".join(f"{m} {methods.count(m)}" for m in dict.fromkeys(methods))
        return (
            f"StageDevelopment(cutoff={self.cutoff:%Y-%m-%d}, horizon={self.horizon.days} days, "
            f"{len(self.cohorts)} cohorts: {counts or 'none'})"
        )

    def _repr_html_(self) -> str:
        from funnel.forecasting._frames import html_table

        methods = [c.method for c in self.cohorts.values()]
        return html_table(
            f"StageDevelopment at {self.cutoff:%Y-%m-%d}, {self.horizon.days}-day horizon",
            [(m, str(methods.count(m))) for m in dict.fromkeys(methods)],
            ("method", "cohorts"),
        )

    def estimate(
        self, stage: str, age: float, horizon: timedelta, *, record: str | None = None
    ) -> WinEstimate:
        """
        The chance a deal in *stage*, *age* days old there at the cut-off, wins within *horizon*.

        Raises:
            ForecastError: a negative age, or a horizon other than the fitted one.
            InsufficientHistory: the survival fallback lacks history for the stage.
        """
        from funnel.forecasting.survival import _check_estimate

        _check_estimate(stage, age, horizon)
        if stage in self.won_stages | self.lost_stages:
            p = 1.0 if stage in self.won_stages else 0.0
            return WinEstimate(stage, age, p, 0.0, age, False, False)
        if not isinstance(age, int | float) or not age >= 0:
            raise ForecastError(f"age must be >= 0 days, got {age!r}", record=record, field="age")
        if horizon != self.horizon:
            raise ForecastError(
                f"this development fit is for a {self.horizon} horizon, got {horizon}",
                field="horizon",
            )
        k = int(age // (self.width.total_seconds() / DAY))
        cohort = self.cohorts.get((stage, k))
        if cohort is None or cohort.probability is None:
            return self.fallback.estimate(stage, age, horizon, record=record)
        return WinEstimate(
            stage, age, cohort.probability, cohort.reference_open, age, False, False
        )

    def win_probability(
        self, stage: str, age: float, horizon: timedelta, *, record: str | None = None
    ) -> float:
        """:meth:`estimate`'s probability alone."""
        return self.estimate(stage, age, horizon, record=record).probability

    def outcome_history(
        self, horizon: timedelta | None = None, *, stages: Iterable[str] | None = None
    ) -> OutcomeHistory:
        """
        How much outcome history the fit has (:meth:`StageSurvival.outcome_history` of
        its fallback, for *horizon*, default the fitted one).
        """
        return self.fallback.outcome_history(
            self.horizon if horizon is None else horizon, stages=stages
        )

    def to_frame(self, backend: str = "polars") -> Any:
        """One row per stage and cohort (the columns of :class:`Cohort`, plus ``age_from``)."""
        rows = sorted(self.cohorts.values(), key=lambda c: (c.stage, c.k))
        days = self.width.total_seconds() / DAY
        return to_frame(
            {
                "stage": [c.stage for c in rows],
                "age_from": [c.k * days for c in rows],
                "open": [c.open for c in rows],
                "exits": [c.exits for c in rows],
                "reference_open": [c.reference_open for c in rows],
                "reference_exits": [c.reference_exits for c in rows],
                "reference_wins": [c.reference_wins for c in rows],
                "probability": [c.probability for c in rows],
                "method": [c.method for c in rows],
            },
            backend,
        )


def _state(
    histories: Mapping[str, Sequence[Visit]], at: datetime, finals: Collection[str]
) -> dict[str, tuple[str, datetime]]:
    """Per lead open at *at*, its stage and when it entered it."""
    out: dict[str, tuple[str, datetime]] = {}
    for lead, visits in histories.items():
        dated = _dated(visits, at)
        if dated and dated[-1][0] not in finals:
            out[str(lead)] = dated[-1]
    return out


def stage_development(
    histories: Mapping[str, Sequence[Visit]],
    *,
    cutoff: datetime,
    horizon: timedelta,
    won_stages: Collection[str] | None = None,
    lost_stages: Collection[str] | None = None,
    width: timedelta = timedelta(days=7),
    min_samples: int = 30,
    observed_from: datetime | None = None,
    weights: Mapping[str, float] | None = None,
    fallback: StageSurvival | None = None,
) -> StageDevelopment:
    """
    Fit the development probabilities of every open stage at *cutoff* (see the module docs).

    Args:
        histories: Lead id -> its (stage, entered_at) visits (undated ones are
            not used; visits after *cutoff* are ignored).
        cutoff: The moment of the forecast (aware).
        horizon: The horizon (the reference is ``cutoff - horizon``).
        won_stages: Stages meaning won (default: the default funnel's).
        lost_stages: Stages meaning lost (default: the default funnel's).
        width: The width of an entry cohort.
        min_samples: The floor of a reference cohort (open deals, or exits
            for the chain ladder).
        observed_from: Where the log's exits start (left truncation): a
            reference before it is not fully observed.
        weights: Lead -> weight (a bootstrap draw); default 1 each.
        fallback: The survival fit for cohorts without a reference (default:
            :func:`~funnel.forecasting.stage_survival` over the last *horizon*).

    Raises:
        ValidationError: a naive or non-datetime *cutoff*, a wrong-typed argument.
        ForecastError: a horizon or width that is not positive.

    >>> from datetime import datetime, timedelta, timezone
    >>> d = lambda n: datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(days=n)
    >>> # 200 days of 10 deals a day; odd ones win at 20 days, even ones never close
    >>> h = {f"D{i}-{j}": [("sql", d(i))] + ([("won", d(i + 20))] if j % 2 else [])
    ...      for i in range(200) for j in range(10)}
    >>> fit = stage_development(h, cutoff=d(199.5), horizon=timedelta(days=60),
    ...                         won_stages={"won"}, lost_stages={"lost"})
    >>> # a week-old cohort: half of the deals open 60 days ago at that age won since
    >>> round(fit.win_probability("sql", 3, timedelta(days=60)), 2)
    0.5
    >>> fit.win_probability("sql", 40, timedelta(days=60))   # only the never-closers left
    0.0
    """
    from funnel.forecasting._validate import check_datetime, check_histories

    cutoff = check_datetime(cutoff, "cutoff")
    check_histories(histories)
    horizon = check_timedelta(horizon, "horizon")
    width = check_timedelta(width, "width")
    min_samples = check_int(min_samples, "min_samples", minimum=1)
    for name, span in (("horizon", horizon), ("width", width)):
        if span <= timedelta(0):
            raise ForecastError(f"{name} must be positive, got {span}", field=name)
    won_given = check_collection(won_stages, "won_stages")
    lost_given = check_collection(lost_stages, "lost_stages")
    won_set = DEFAULT_FUNNEL.won_stages if won_given is None else won_given
    lost_set = DEFAULT_FUNNEL.lost_stages if lost_given is None else lost_given
    finals = won_set | lost_set
    observed_from = check_optional_datetime(observed_from, "observed_from")
    check_optional_mapping(weights, "weights")
    if fallback is not None and not isinstance(fallback, StageSurvival):
        raise ValidationError(
            f"fallback must be a StageSurvival, got {type(fallback).__name__}", field="fallback"
        )
    if fallback is None:
        start = cutoff - horizon
        fallback = stage_survival(
            histories,
            cutoff=cutoff,
            won_stages=won_set,
            lost_stages=lost_set,
            min_samples=min_samples,
            observed_from=start if observed_from is None else max(start, observed_from),
            weights=weights,
        )
    lag = cutoff - horizon
    w_days = width.total_seconds() / DAY

    def weight(lead: str) -> float:
        return 1.0 if weights is None else weights.get(lead, 0.0)

    def bucket(at: datetime, entered: datetime) -> int:
        return math.floor((at - entered).total_seconds() / DAY / w_days)

    # the cohorts at the cut-off: open deals and exits so far, per stage and k
    now: dict[tuple[str, int], list[float]] = {}
    for sp in spells_at(histories, cutoff, finals=finals):
        slot = now.setdefault((sp.stage, bucket(cutoff, sp.entered)), [0.0, 0.0])
        slot[0 if sp.target is None else 1] += weight(sp.lead)
    # the reference cohorts at cutoff - horizon, and the wins of their open deals since
    ref: dict[tuple[str, int], list[float]] = {}
    observed = observed_from is None or lag >= observed_from
    if observed:
        open_then = _state(histories, lag, finals)
        for sp in spells_at(histories, lag, finals=finals):
            key = (sp.stage, bucket(lag, sp.entered))
            # weighted open, exits, wins; then the unweighted open and exits, which the
            # minimum-sample rule counts (so that a bootstrap draw keeps the point fit's method)
            slot = ref.setdefault(key, [0.0, 0.0, 0.0, 0.0, 0.0])
            w = weight(sp.lead)
            slot[3 if sp.target is None else 4] += 1
            if sp.target is None:
                slot[0] += w
                if sp.lead in open_then and _won_between(
                    histories[sp.lead], lag, cutoff, won_set, finals
                ):
                    slot[2] += w
            else:
                slot[1] += w
    cohorts: dict[tuple[str, int], Cohort] = {}
    for stage in dict.fromkeys(key[0] for key in sorted(set(now) | set(ref))):
        ks = sorted({k for s, k in set(now) | set(ref) if s == stage})
        lo_k, hi_k = ks[0], ks[-1]
        for k in ks:
            o, c = now.get((stage, k), [0.0, 0.0])
            # the minimum-sample rule: widen the reference to the neighbouring cohorts
            # (both sides, one step at a time) until it holds min_samples open deals
            j = 0
            pool = [k]
            empty = [0.0] * 5
            while True:
                n_open = sum(ref.get((stage, i), empty)[3] for i in pool)
                if n_open >= min_samples or (k - j <= lo_k and k + j >= hi_k):
                    break
                j += 1
                pool = list(range(max(lo_k, k - j), min(hi_k, k + j) + 1))
            o_r = sum(ref.get((stage, i), empty)[0] for i in pool)
            c_r = sum(ref.get((stage, i), empty)[1] for i in pool)
            w_r = sum(ref.get((stage, i), empty)[2] for i in pool)
            n_exits = sum(ref.get((stage, i), empty)[4] for i in pool)
            o_p = sum(now.get((stage, i), [0.0, 0.0])[0] for i in pool)
            c_p = sum(now.get((stage, i), [0.0, 0.0])[1] for i in pool)
            # the reference cohorts entered after the exits start: all their exits are recorded
            full = observed_from is None or (
                lag - timedelta(days=(max(pool) + 1) * w_days) >= observed_from
            )
            p: float | None = None
            method: Method = "survival"
            if observed and n_open >= min_samples and o_r > 0:
                if full and n_exits >= min_samples and o_p > 0 and c_r > 0:
                    p = min(1.0, c_p * w_r / (c_r * o_p))
                    method = "chain-ladder"
                else:
                    p = w_r / o_r
                    method = "lagged"
            cohorts[(stage, k)] = Cohort(
                stage=stage,
                k=k,
                open=o,
                exits=c,
                reference_open=o_r,
                reference_exits=c_r,
                reference_wins=w_r,
                probability=p,
                method=method,
            )
    return StageDevelopment(
        cutoff=cutoff,
        horizon=horizon,
        width=width,
        cohorts=MappingProxyType(cohorts),
        fallback=fallback,
        won_stages=won_set,
        lost_stages=lost_set,
        min_samples=min_samples,
        observed_from=observed_from,
    )


def _won_between(
    visits: Sequence[Visit],
    start: datetime,
    end: datetime,
    won: Collection[str],
    finals: Collection[str],
) -> bool:
    """Whether the first final visit after *start* is a won one at or before *end*."""
    for stage, at in _dated(visits, end):
        if at > start and stage in finals:
            return stage in won
    return False
