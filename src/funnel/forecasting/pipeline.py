"""
Pipeline simulation from real ages in stage, observed durations and recent arrivals.

:func:`simulate_pipeline` answers "how many wins (and how much value) in the
next *horizon*?" at a cut-off, with an interval that carries the uncertainty
of its own parameters:

* **Open deals start where they are.** Each deal open at the cut-off starts
  in its stage *at its real age there*; its exit (when, and to where) is drawn
  from the stage's Aalen-Johansen curve (:mod:`funnel.forecasting.survival`)
  *conditional on having already lasted that long*. Durations are the
  observed ones, censoring included: no distribution shape, no rate. A deal
  older than every exit ever seen stays open (stale); the minimum-sample rule
  reads an under-supported age at the oldest supported one.
* **Arrivals from the recent window.** New leads enter the stages where dated
  histories start, at the rate seen over the full weeks of ``arrival_window``
  before the cut-off (a Poisson stream, uniform in time), and walk the same curves from
  age 0 with the time left. With ``arrival_noise="weekly"`` the stream is
  over-dispersed as the window's weeks were: each future week's rate is a
  gamma draw whose spread reproduces the observed week-to-week variance (a
  gamma-Poisson, i.e. negative-binomial, count of variance ``v`` a week where
  the window's weekly counts had mean ``m`` and variance ``v > m``; Poisson
  when ``v <= m``).
* **Parameter uncertainty.** ``draws`` parameter sets are drawn; each is a
  *Bayesian bootstrap* of the history (every lead gets an ``Exp(1)`` weight,
  i.e. Dirichlet(1, ..., 1) weights over leads, and the curves are refitted
  with them) and a bootstrap of the window's weekly arrival counts (so the
  week-to-week variation of arrivals, not only Poisson noise, enters the
  interval). ``runs // draws`` Monte Carlo runs use each set. With
  ``uncertainty="none"`` every run uses the point estimate (Monte Carlo noise
  only, for comparison).
* **A short outcome history widens it.** When the outcomes (wins and losses)
  recorded before the cut-off span less than the horizon
  (:class:`~funnel.forecasting.survival.OutcomeHistory`), the closes of that
  span stand for a longer stretch of calendar than they saw (one quarter-end
  month posing as a quarter). The bootstrap then counts the history as only
  ``f = outcome_days / horizon`` of its size: each lead's weight is a
  ``Gamma(f, 1/f)`` draw (mean 1, variance ``1/f``) instead of ``Exp(1)``, i.e.
  Dirichlet(f, ..., f) weights, the Bayesian bootstrap of a likelihood raised
  to the power ``f`` (a *power prior* with ``a0 = f``): the parameter spread of
  ``n f`` observations rather than ``n``. The rule is fixed in advance (it
  reads the log's dates only, never what came after the cut-off);
  ``history_discount=False`` turns it off. Whether short or not, the result
  says so (:attr:`PipelineForecast.history`), and a short one issues a
  :class:`~funnel.exceptions.ForecastWarning`.

With ``method="development"`` the exits are not walked: each open deal wins with
its :func:`~funnel.forecasting.stage_development` probability (what the deals of
its stage and entry cohort's age did one horizon earlier, chain ladder), and each
arrival with the share of the leads that arrived in the horizon before the cut-off
that had won by it; both refitted on every bootstrap draw. Where the log does not
reach back one horizon before the cut-off (``observed_from``), the exit curves are
walked as above.

Every draw uses ``random.Random(f"{seed}:...")``: the same seed gives the same result.
"""

from __future__ import annotations

import bisect
import contextlib
import math
import random
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

import attrs

from funnel._base.time import require_aware
from funnel.engine.funnel import DEFAULT_FUNNEL
from funnel.exceptions import ForecastError, InsufficientHistory, SimulationError, ValidationError
from funnel.forecasting._frames import plotly, to_frame
from funnel.forecasting._validate import (
    check_choice,
    check_collection,
    check_datetime,
    check_histories,
    check_int,
    check_number,
    check_optional_mapping,
    check_optional_timedelta,
    check_timedelta,
)
from funnel.forecasting.simulation import quantile
from funnel.forecasting.survival import (
    DAY,
    OutcomeHistory,
    StageCurve,
    StageSurvival,
    Visit,
    _dated,
    first_outcome,
    spells_at,
    stage_survival,
)


@attrs.frozen
class OpenDeal:
    """
    A deal open at the cut-off.

    Attributes:
        id: Its id.
        stage: Its stage then.
        age: Days it had spent in that stage.
        value: Its value if known then, else ``None`` (the default value is used).
    """

    id: str
    stage: str
    age: float
    value: float | None = None


def open_deals_at(
    histories: Mapping[str, Sequence[Visit]],
    cutoff: datetime,
    *,
    finals: Collection[str],
    values: Mapping[str, Sequence[tuple[datetime | None, float | None]]] | None = None,
) -> list[OpenDeal]:
    """
    The deals open at *cutoff*: a dated visit at or before it, none of them final.

    *values* (lead -> (time, value) rows) gives each deal the last value known
    at the cut-off; a value recorded later (on the row that closed it, say) is
    not known then and is not used.

    Raises:
        ValidationError: a wrong-typed argument (naming it).
    """
    cutoff = check_datetime(cutoff, "cutoff")
    check_histories(histories)
    finals = check_collection(finals, "finals") or frozenset()
    check_optional_mapping(values, "values")
    out: list[OpenDeal] = []
    for lead, visits in histories.items():
        dated = _dated(visits, cutoff)
        if not dated or dated[-1][0] in finals:
            continue
        stage, entered = dated[-1]
        known = [
            v
            for at, v in (values or {}).get(lead, ())
            if v is not None and at is not None and at <= cutoff
        ]
        out.append(
            OpenDeal(
                str(lead),
                stage,
                (cutoff - entered).total_seconds() / DAY,
                known[-1] if known else None,
            )
        )
    return out


def arrival_times(
    histories: Mapping[str, Sequence[Visit]], cutoff: datetime, window: timedelta
) -> dict[str, list[float]]:
    """Per entry stage, the days before *cutoff* at which leads first appeared within *window*."""
    out: dict[str, list[float]] = {}
    start = cutoff - window
    for visits in histories.values():
        dated = _dated(visits, None)
        if not dated:
            continue
        stage, at = dated[0]
        if start < at <= cutoff:
            out.setdefault(stage, []).append((cutoff - at).total_seconds() / DAY)
    return out


@attrs.frozen(kw_only=True)
class PipelineForecast:
    """
    The runs of :func:`simulate_pipeline`.

    Attributes:
        cutoff: The cut-off.
        horizon: The horizon.
        runs: How many runs.
        seed: The seed.
        uncertainty: ``"bootstrap"`` or ``"none"``.
        open_deals: Deals open at the cut-off.
        open_won: Per run, wins among the open deals.
        arrival_won: Per run, wins among the arrivals.
        arrivals: Per run, how many leads arrived.
        won_value: Per run, the value won (open deals and arrivals).
        open_won_value: Per run, the value won among the open deals.
        arrival_rates: Entry stage -> leads per day (point estimate).
        default_value: The value given to a won deal whose value was unknown.
        history: How much outcome history the fit had (``None`` when not known).
        discount: The share ``f`` of its size the bootstrap counted the history
            as (1: not discounted; see the module docs).
    """

    cutoff: datetime
    horizon: timedelta
    runs: int
    seed: int
    uncertainty: str
    open_deals: int
    open_won: tuple[int, ...]
    arrival_won: tuple[int, ...]
    arrivals: tuple[int, ...]
    won_value: tuple[float, ...]
    open_won_value: tuple[float, ...]
    arrival_rates: Mapping[str, float]
    default_value: float
    history: OutcomeHistory | None = None
    discount: float = 1.0

    def __repr__(self) -> str:
        mean, low, high = self.interval("total")
        short = ", short outcome history" if self.short_history else ""
        return (
            f"PipelineForecast(cutoff={self.cutoff:%Y-%m-%d}, horizon={self.horizon.days} days, "
            f"{self.open_deals} open deals, {self.runs} runs: total wins {mean:.1f} "
            f"(90 %: {low:.0f}-{high:.0f}){short})"
        )

    @property
    def outcome_days(self) -> float | None:
        """Days of outcomes recorded before the cut-off (``None`` when not known)."""
        return None if self.history is None else self.history.outcome_days

    @property
    def short_history(self) -> bool:
        """Whether the forecast extrapolates beyond its outcome history."""
        return self.history is not None and self.history.short

    def _repr_html_(self) -> str:
        from funnel.forecasting._frames import html_table

        names: tuple[tuple[str, str], ...] = (("open", "open wins"), ("total", "total wins"))
        names += (("open_value", "open value"), ("value", "total value"))
        rows = []
        for what, label in names:
            mean, low, high = self.interval(what)  # type: ignore[arg-type]
            rows.append((label, f"{mean:,.1f}", f"{low:,.0f}", f"{high:,.0f}"))
        short = ""
        if self.history is not None and self.history.short:
            short = f" (short outcome history: {self.history.outcome_days:.0f} days)"
        return html_table(
            f"Pipeline forecast at {self.cutoff:%Y-%m-%d}, {self.horizon.days} days, "
            f"{self.open_deals} open deals, {self.runs} runs{short}",
            rows,
            ("quantity", "mean", "5 %", "95 %"),
        )

    @property
    def total_won(self) -> tuple[int, ...]:
        """Per run, all wins (open deals plus arrivals)."""
        return tuple(a + b for a, b in zip(self.open_won, self.arrival_won, strict=True))

    def interval(
        self, what: Literal["open", "total", "value", "open_value"] = "total", level: float = 0.9
    ) -> tuple[float, float, float]:
        """
        The mean and the central *level* interval of *what*.

        Raises:
            ValidationError: *what* is not one of the four quantities, or
                *level* not a number in (0, 1).
        """
        check_choice(what, "what", ("open", "total", "value", "open_value"))
        _check_level(level)
        series: Sequence[float] = {
            "open": self.open_won,
            "total": self.total_won,
            "value": self.won_value,
            "open_value": self.open_won_value,
        }[what]
        tail = (1 - level) / 2
        return (
            sum(series) / len(series),
            quantile(series, tail),
            quantile(series, 1 - tail),
        )

    def summary(self, *, level: float = 0.9, backend: str = "polars") -> Any:
        """A frame: per quantity (open wins, total wins, value), mean, low and high."""
        _check_level(level)
        names = ("open", "total", "open_value", "value")
        rows = [self.interval(n, level) for n in names]  # type: ignore[arg-type]
        return to_frame(
            {
                "quantity": ["open_wins", "total_wins", "open_value", "total_value"],
                "mean": [r[0] for r in rows],
                "low": [r[1] for r in rows],
                "high": [r[2] for r in rows],
                "level": [level] * len(rows),
            },
            backend,
        )

    def to_frame(self, backend: str = "polars") -> Any:
        """A frame with one row per run."""
        return to_frame(
            {
                "run": list(range(self.runs)),
                "open_won": list(self.open_won),
                "arrival_won": list(self.arrival_won),
                "total_won": list(self.total_won),
                "arrivals": list(self.arrivals),
                "won_value": list(self.won_value),
            },
            backend,
        )

    def chart(self, *, title: str | None = None) -> Any:
        """A plotly histogram of total wins per run, with the 90 % interval marked."""
        go = plotly()
        mean, low, high = self.interval("total")
        fig = go.Figure(go.Histogram(x=list(self.total_won), name="total wins"))
        for x, label in ((low, "5 %"), (mean, "mean"), (high, "95 %")):
            fig.add_vline(x=x, line_dash="dash", annotation_text=label)
        fig.update_layout(
            title=title or f"Wins in the {self.horizon.days} days after {self.cutoff:%Y-%m-%d}",
            xaxis_title="wins",
            yaxis_title="runs",
        )
        return fig


class _Sampler:
    """Draws exits from fitted curves, conditional on the age reached."""

    def __init__(self, fit: StageSurvival) -> None:
        self.fit = fit
        self.neg: dict[str, tuple[float, ...]] = {
            s: tuple(-x for x in c.survival) for s, c in fit.curves.items()
        }

    def walk(self, stage: str, age: float, left: float, rng: random.Random) -> bool:
        """Whether a deal in *stage* at *age* is won within *left* days."""
        fit = self.fit
        elapsed = 0.0
        for _ in range(64):
            if stage in fit.won_stages:
                return True
            curve: StageCurve | None = fit.curves.get(stage)
            if stage in fit.lost_stages or curve is None:
                return False
            s_a = curve.survival_at(age)
            if s_a <= 0.0:
                return False
            lo = bisect.bisect_right(curve.times, age)
            target = -s_a * (1.0 - rng.random())
            j = bisect.bisect_left(self.neg[stage], target, lo)
            if j >= len(curve.times):
                return False  # no exit in the observed support: stays open
            elapsed += curve.times[j] - age
            if elapsed > left:
                return False
            exits = curve.exits[j]
            pick = rng.random() * sum(exits.values())
            acc = 0.0
            nxt = stage
            for t, d in exits.items():
                acc += d
                nxt = t
                if pick < acc:
                    break
            stage, age = nxt, 0.0
        return False


def _supported_age(fit: StageSurvival, stage: str, age: float, memo: dict[Any, float]) -> float:
    key = (stage, age)
    if key not in memo:
        curve = fit.curves.get(stage)
        last = None if curve is None else curve.last_exit
        stale = curve is None or last is None or age > last
        # a stale deal keeps its age (it stays open); a thin age is read at the oldest supported
        memo[key] = age if stale or curve is None else fit._supported(curve, age)
    return memo[key]


def simulate_pipeline(
    histories: Mapping[str, Sequence[Visit]],
    *,
    cutoff: datetime,
    horizon: timedelta,
    won_stages: Collection[str] | None = None,
    lost_stages: Collection[str] | None = None,
    values: Mapping[str, Sequence[tuple[datetime | None, float | None]]] | None = None,
    window: timedelta | None = None,
    observed_from: datetime | Literal["first-outcome"] | None = None,
    arrival_window: timedelta | None = None,
    arrivals: bool = True,
    arrival_noise: Literal["poisson", "weekly"] = "poisson",
    runs: int = 500,
    draws: int = 100,
    seed: int = 0,
    min_samples: int = 30,
    uncertainty: Literal["bootstrap", "none"] = "bootstrap",
    method: Literal["survival", "development"] = "survival",
    history_discount: bool = True,
) -> PipelineForecast:
    """
    Simulate the wins of the *horizon* after *cutoff* (see the module docs).

    Args:
        histories: Lead id -> (stage, entered_at) visits; only what is dated
            at or before *cutoff* is used to fit and to start.
        cutoff: When the forecast is made.
        horizon: How far ahead.
        won_stages: Stages meaning won (default: the default funnel's).
        lost_stages: Stages meaning lost (default: the default funnel's).
        values: Lead -> (time, value) rows, for the value forecast.
        window: Fit the curves on the exits and exposure of this recent window
            only (period analysis); ``None``: all history.
        observed_from: Left truncation: exits before it were not recorded
            (``"first-outcome"``: the first won or lost row in the history).
        arrival_window: The recent window arrival rates are read from
            (default: *horizon*), in whole weeks (its last full 7-day blocks).
        arrivals: Whether new leads arrive during the horizon.
        arrival_noise: ``"poisson"`` (a Poisson count around the rate) or
            ``"weekly"`` (negative binomial, as over-dispersed as the window's
            weekly counts; see the module docs).
        runs: Monte Carlo runs.
        draws: Parameter draws (``runs // draws`` runs each).
        seed: The seed.
        min_samples: The floor of the minimum-sample rule.
        uncertainty: ``"bootstrap"`` (parameter draws) or ``"none"``.
        method: ``"survival"`` (every deal walks the exit curves) or
            ``"development"``: each open deal wins with its
            :func:`~funnel.forecasting.stage_development` probability, and
            each arrival with the share of the leads that arrived in the
            horizon before the cut-off that had won by it (see the module docs);
            where the log does not reach back that far, as ``"survival"``.
        history_discount: Widen the parameter draws when the outcome history
            is shorter than the horizon (see the module docs).

    Raises:
        SimulationError: runs or draws < 1, a horizon that is not positive,
            an unknown *uncertainty* or *arrival_noise*.
        InsufficientHistory: an open deal's stage has too little history.

    Warns:
        ForecastWarning: the outcome history is short (:attr:`PipelineForecast.history`)
            and there is something to forecast (an open deal or an arrival rate).
    """
    forecast = _simulate_pipeline(
        histories,
        cutoff=cutoff,
        horizon=horizon,
        won_stages=won_stages,
        lost_stages=lost_stages,
        values=values,
        window=window,
        observed_from=observed_from,
        arrival_window=arrival_window,
        arrivals=arrivals,
        arrival_noise=arrival_noise,
        runs=runs,
        draws=draws,
        seed=seed,
        min_samples=min_samples,
        uncertainty=uncertainty,
        method=method,
        history_discount=history_discount,
    )
    # nothing to extrapolate (no open deal, no arrival): nothing to warn about
    if forecast.history is not None and (forecast.open_deals or forecast.arrival_rates):
        forecast.history.warn(stacklevel=2)
    return forecast


def _simulate_pipeline(
    histories: Mapping[str, Sequence[Visit]],
    *,
    cutoff: datetime,
    horizon: timedelta,
    won_stages: Collection[str] | None,
    lost_stages: Collection[str] | None,
    values: Mapping[str, Sequence[tuple[datetime | None, float | None]]] | None,
    window: timedelta | None,
    observed_from: datetime | Literal["first-outcome"] | None,
    arrival_window: timedelta | None,
    arrivals: bool,
    arrival_noise: Literal["poisson", "weekly"],
    runs: int,
    draws: int,
    seed: int,
    min_samples: int,
    uncertainty: Literal["bootstrap", "none"],
    method: Literal["survival", "development"],
    history_discount: bool,
) -> PipelineForecast:
    """:func:`simulate_pipeline` without the warning (the back-test reports it in its frame)."""
    cutoff = check_datetime(cutoff, "cutoff")
    check_histories(histories)
    check_timedelta(horizon, "horizon")
    won_given = check_collection(won_stages, "won_stages")
    lost_given = check_collection(lost_stages, "lost_stages")
    check_optional_mapping(values, "values")
    check_optional_timedelta(window, "window")
    check_optional_timedelta(arrival_window, "arrival_window")
    if not (observed_from is None or observed_from == "first-outcome"):
        check_datetime(observed_from, "observed_from")
    runs = check_int(runs, "runs")
    draws = check_int(draws, "draws")
    check_int(seed, "seed")
    min_samples = check_int(min_samples, "min_samples", minimum=0)
    if runs < 1 or draws < 1:
        raise SimulationError(f"runs and draws must be >= 1, got {runs} and {draws}")
    if horizon <= timedelta(0):
        raise SimulationError(f"horizon must be positive, got {horizon}")
    if uncertainty not in ("bootstrap", "none"):
        raise SimulationError(f"uncertainty must be 'bootstrap' or 'none', got {uncertainty!r}")
    if arrival_noise not in ("poisson", "weekly"):
        raise SimulationError(
            f"arrival_noise must be 'poisson' or 'weekly', got {arrival_noise!r}"
        )
    if method not in ("survival", "development"):
        raise SimulationError(f"method must be 'survival' or 'development', got {method!r}")
    if not isinstance(history_discount, bool):
        raise ValidationError(
            f"history_discount must be True or False, got {type(history_discount).__name__}",
            field="history_discount",
        )
    won_set = DEFAULT_FUNNEL.won_stages if won_given is None else won_given
    lost_set = DEFAULT_FUNNEL.lost_stages if lost_given is None else lost_given
    finals = won_set | lost_set
    start = fit_start(histories, cutoff, window, observed_from, finals)
    limit = horizon.total_seconds() / DAY
    spells = spells_at(histories, cutoff, finals=finals)
    base = stage_survival(
        histories,
        cutoff=cutoff,
        won_stages=won_set,
        lost_stages=lost_set,
        min_samples=min_samples,
        observed_from=start,
        spells=spells,
    )
    deals = open_deals_at(histories, cutoff, finals=finals, values=values)
    memo: dict[Any, float] = {}
    starts: list[tuple[str, float, float | None]] = []
    for deal in deals:
        curve = base.curves.get(deal.stage)
        if curve is None or curve.spells < min_samples:
            raise InsufficientHistory(
                deal.stage, 0 if curve is None else curve.spells, min_samples, deal.id
            )
        starts.append((deal.stage, _supported_age(base, deal.stage, deal.age, memo), deal.value))
    history = base.outcome_history(horizon, stages=[d.stage for d in deals])
    f = history.discount if history_discount and uncertainty == "bootstrap" else 1.0
    default_value = _mean_won_value(histories, values, cutoff, won_set)
    development = method == "development"
    observed = fit_start(histories, cutoff, None, observed_from, finals) if development else None
    reference = _reference_arrivals(histories, cutoff, horizon, won_set, observed)
    a_window = arrival_window or horizon
    entry = arrival_times(histories, cutoff, a_window) if arrivals else {}
    weeks = max(1, int(a_window.total_seconds() / DAY // 7))
    weekly = {s: _weekly(ages, weeks) for s, ages in entry.items()}
    rates = {s: sum(c) / (7.0 * weeks) for s, c in weekly.items()}
    shapes = {s: _gamma_shape(c) for s, c in weekly.items()} if arrival_noise == "weekly" else {}
    leads = sorted(histories, key=str)
    per_draw = max(1, runs // draws)
    n_draws = math.ceil(runs / per_draw)
    open_won: list[int] = []
    arrival_won: list[int] = []
    arrived: list[int] = []
    value_won: list[float] = []
    open_value: list[float] = []
    weights: dict[str, float] | None
    for d in range(n_draws):
        if uncertainty == "bootstrap":
            prng = random.Random(f"{seed}:params:{d}")
            # Dirichlet(1, ..., 1) over leads; Dirichlet(f, ..., f) for a short history
            weights = (
                {lead: prng.expovariate(1.0) for lead in leads}
                if f >= 1.0
                else {lead: prng.gammavariate(f, 1.0 / f) for lead in leads}
            )
            fit = stage_survival(
                histories,
                cutoff=cutoff,
                won_stages=won_set,
                lost_stages=lost_set,
                min_samples=min_samples,
                observed_from=start,
                weights=weights,
                spells=spells,
            )
            draw_rates = {
                s: sum(prng.choice(c) for _ in range(weeks)) / (7.0 * weeks)
                for s, c in weekly.items()
            }
        else:
            weights = None
            fit, draw_rates = base, rates
        sampler = _Sampler(fit)
        chances: list[float] | None = None
        arrival_chance: float | None = None
        if development:
            from funnel.forecasting.development import stage_development

            dev = stage_development(
                histories,
                cutoff=cutoff,
                horizon=horizon,
                won_stages=won_set,
                lost_stages=lost_set,
                min_samples=min_samples,
                observed_from=observed,
                weights=weights,
                fallback=fit,
            )
            chances = [dev.win_probability(d.stage, d.age, horizon) for d in deals]
            arrival_chance = _arrival_chance(reference, weights, min_samples)
        for r in range(per_draw):
            run = d * per_draw + r
            if run >= runs:
                break
            rng = random.Random(f"{seed}:{run}")
            won = 0
            val = 0.0
            for i, (stage, age, value) in enumerate(starts):
                if (
                    rng.random() < chances[i]
                    if chances is not None
                    else sampler.walk(stage, age, limit, rng)
                ):
                    won += 1
                    val += default_value if value is None else value
            arng = random.Random(f"{seed}:{run}:arrivals")
            new = 0
            new_won = 0
            new_val = 0.0
            for stage, rate in draw_rates.items():
                mean = rate * limit
                shape = shapes.get(stage)
                if shape is not None and mean > 0:
                    # the sum of limit / 7 weeks, each Gamma(shape, 7 rate / shape)
                    k = shape * limit / 7.0
                    mean = arng.gammavariate(k, mean / k)
                for _ in range(_poisson_count(arng, mean)):
                    new += 1
                    if (
                        arng.random() < arrival_chance
                        if arrival_chance is not None
                        else sampler.walk(stage, 0.0, limit * arng.random(), arng)
                    ):
                        new_won += 1
                        new_val += default_value
            open_won.append(won)
            arrival_won.append(new_won)
            arrived.append(new)
            open_value.append(val)
            value_won.append(val + new_val)
    return PipelineForecast(
        cutoff=cutoff,
        horizon=horizon,
        runs=runs,
        seed=seed,
        uncertainty=uncertainty,
        open_deals=len(deals),
        open_won=tuple(open_won),
        arrival_won=tuple(arrival_won),
        arrivals=tuple(arrived),
        won_value=tuple(value_won),
        open_won_value=tuple(open_value),
        arrival_rates=rates,
        default_value=default_value,
        history=history,
        discount=f,
    )


def _reference_arrivals(
    histories: Mapping[str, Sequence[Visit]],
    cutoff: datetime,
    horizon: timedelta,
    won: Collection[str],
    observed: datetime | None,
) -> list[tuple[str, bool]] | None:
    """
    The leads that first appeared in the horizon before *cutoff*, and whether each had won by it.

    ``None`` when that stretch starts before the log's exits do (*observed*).
    """
    start = cutoff - horizon
    if observed is not None and start < observed:
        return None
    out: list[tuple[str, bool]] = []
    for lead, visits in histories.items():
        dated = _dated(visits, cutoff)
        if dated and start < dated[0][1] <= cutoff:
            out.append((str(lead), any(s in won for s, _ in dated)))
    return out


def _arrival_chance(
    reference: list[tuple[str, bool]] | None,
    weights: Mapping[str, float] | None,
    min_samples: int,
) -> float | None:
    """The (weighted) share of *reference* arrivals won; ``None`` below *min_samples*."""
    if reference is None or len(reference) < min_samples:
        return None
    total = wins = 0.0
    for lead, won in reference:
        w = 1.0 if weights is None else weights.get(lead, 0.0)
        total += w
        wins += w * won
    return wins / total if total > 0 else None


def fit_start(
    histories: Mapping[str, Sequence[Visit]],
    cutoff: datetime,
    window: timedelta | None,
    observed_from: datetime | Literal["first-outcome"] | None,
    finals: Collection[str],
) -> datetime | None:
    """Where the fitted exposure starts: the later of the window's start and *observed_from*."""
    starts: list[datetime] = []
    if window is not None:
        if window <= timedelta(0):
            raise ForecastError(f"window must be positive, got {window}", field="window")
        starts.append(cutoff - window)
    if observed_from == "first-outcome":
        known = {
            k: [v for v in vs if v[1] is not None and v[1] <= cutoff]
            for k, vs in histories.items()
        }
        with contextlib.suppress(ForecastError):
            starts.append(first_outcome(known, finals))
    elif observed_from is not None:
        starts.append(require_aware(observed_from, "observed_from"))
    return max(starts) if starts else None


def _check_level(level: object) -> float:
    value = check_number(level, "level")
    if not 0 < value < 1:
        raise ValidationError(f"level must lie in (0, 1), got {value}", field="level")
    return value


def _weekly(ages: Iterable[float], weeks: int) -> list[int]:
    """Counts per 7-day block before the cut-off (the last *weeks* full blocks)."""
    counts = [0] * weeks
    for age in ages:
        k = int(age // 7)
        if k < weeks:
            counts[k] += 1
    return counts


def _gamma_shape(counts: Sequence[int]) -> float | None:
    """
    The gamma shape ``m**2 / (v - m)`` of weekly *counts* with mean ``m`` and
    variance ``v`` (``None``: not over-dispersed, or fewer than two weeks).
    """
    if len(counts) < 2:
        return None
    m = sum(counts) / len(counts)
    v = sum((c - m) ** 2 for c in counts) / (len(counts) - 1)
    return m * m / (v - m) if v > m > 0 else None


def _poisson_count(rng: random.Random, mean: float) -> int:
    """A Poisson(*mean*) count (normal approximation above 500, exact below)."""
    if mean <= 0:
        return 0
    if mean > 500:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit = math.exp(-mean)
    k, p = 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def _mean_won_value(
    histories: Mapping[str, Sequence[Visit]],
    values: Mapping[str, Sequence[tuple[datetime | None, float | None]]] | None,
    cutoff: datetime,
    won: Collection[str],
) -> float:
    """The mean value of the deals won at or before *cutoff* (0 without values)."""
    if not values:
        return 0.0
    found: list[float] = []
    for lead, visits in histories.items():
        dated = _dated(visits, cutoff)
        if not dated or dated[-1][0] not in won:
            continue
        known = [
            v
            for at, v in values.get(lead, ())
            if v is not None and at is not None and at <= cutoff
        ]
        if known:
            found.append(known[-1])
    return sum(found) / len(found) if found else 0.0
