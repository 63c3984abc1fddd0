"""
Back-test forecasts on an event log: fit on what was known at each cut-off, compare with what came.

:func:`backtest` takes an event log (a polars or pandas frame in the schema of
:mod:`funnel.model.eventlog`, or a loader's :class:`~funnel.analytics.LoadResult`),
cut-offs and a horizon. At each cut-off every model is fitted **only on what
was known then**: rows dated at or before the cut-off (an undated row, such as
Maven's entry into Prospecting, cannot be placed in time and is not used; a
value is known from the row that carries it). The deals open at the cut-off
are those whose last dated row then is not won or lost; their stage is that
row's stage and their age in it is counted from that row.

Then it counts what happened in ``(cutoff, cutoff + horizon]``:

* ``scope="open"``: wins among the deals open at the cut-off, and their value;
* ``scope="total"``: every win in the horizon (open deals plus leads that
  first appeared after the cut-off), and its value.

Models (``models=``):

* ``"weighted"`` - the classic weighted pipeline: each open deal at its stage's
  share of closed deals won (:func:`~funnel.forecasting.forecast.stage_probabilities`),
  no horizon, no interval;
* ``"survival"`` - the time-aware weighted pipeline: each open deal at its
  chance of winning *within the horizon given its age in stage*
  (:mod:`funnel.forecasting.survival`); the interval is the Poisson-binomial
  spread of the outcomes (normal approximation), parameters taken as known;
* ``"markov"`` - the Markov chain of :mod:`funnel.forecasting.simulation`
  (open deals start as if they had just entered their stage, arrivals at the
  chain's rate over all history, Monte Carlo noise only);
* ``"simulation"`` - :func:`~funnel.forecasting.pipeline.simulate_pipeline`
  (real ages, observed durations, recent arrivals, parameter uncertainty);
* ``"development"`` - the same simulation with ``method="development"``: each
  open deal at the chance that deals of its stage and age one horizon earlier
  won in the horizon after (chain ladder, :mod:`funnel.forecasting.development`),
  each arrival at the share of the last horizon's arrivals won by the cut-off.

**Short outcome history.** Every row says how many days of outcomes (wins and
losses) were recorded before its cut-off (``outcome_days``, from the first
won or lost exit known then) and whether the forecast extrapolates beyond them
(``short_history``: fewer days than the horizon, or a stage holding open deals
with fewer than ``min_samples`` closed deals; see
:class:`~funnel.forecasting.survival.OutcomeHistory`). The simulation widens
its parameter draws there (``history_discount``; see
:mod:`funnel.forecasting.pipeline`), and :func:`backtest` issues one
:class:`~funnel.exceptions.ForecastWarning` naming the short cut-offs.

A log without a ``value`` column gets no value figures (nulls, not zeros).
The result is a frame (polars by default, ``backend="pandas"`` on request), one
row per cut-off, model and scope; :func:`backtest_chart` draws it.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from funnel._base.time import require_aware
from funnel.engine.funnel import DEFAULT_FUNNEL, Funnel
from funnel.engine.replay import plain_value, raise_missing_leads
from funnel.exceptions import ForecastError, ForecastWarning, ValidationError
from funnel.forecasting._frames import plotly, to_frame
from funnel.forecasting._validate import (
    check_choice,
    check_datetime,
    check_int,
    check_iterable,
    check_timedelta,
)
from funnel.forecasting.forecast import stage_probabilities
from funnel.forecasting.pipeline import (
    _mean_won_value,
    _simulate_pipeline,
    fit_start,
    open_deals_at,
)
from funnel.forecasting.simulation import estimate_chain, simulate
from funnel.forecasting.survival import (
    DAY,
    OutcomeHistory,
    Visit,
    _dated,
    outcome_history,
    stage_survival,
)
from funnel.model.eventlog import AT, LEAD_ID, STAGE, VALUE, require_columns

#: The models :func:`backtest` knows, in the order it reports them.
MODELS = ("weighted", "survival", "markov", "simulation", "development")

#: Columns of the :func:`backtest` frame.
BACKTEST_COLUMNS = (
    "cutoff",
    "horizon_days",
    "outcome_days",
    "short_history",
    "model",
    "scope",
    "open_deals",
    "forecast_wins",
    "wins_low",
    "wins_high",
    "actual_wins",
    "wins_error",
    "wins_inside",
    "forecast_value",
    "value_low",
    "value_high",
    "actual_value",
    "value_error",
    "value_inside",
)

#: Z for a central 90 % normal interval.
Z90 = 1.6448536269514722

Values = dict[str, list[tuple[datetime | None, float | None]]]


def _check_log_columns(columns: Sequence[str]) -> None:
    """
    A :class:`~funnel.exceptions.LoadError` naming what is missing unless *columns* has
    ``lead_id``, ``at`` and ``stage``: the columns a back-test reads.

    The loaders' check (:func:`funnel.model.eventlog.require_columns`) with ``stage``
    required: an ``event`` column alone holds no stages.

    >>> _check_log_columns(["lead_id", "at", "stage", "value"])
    >>> _check_log_columns(["lead_id", "at", "event"])
    Traceback (most recent call last):
    ...
    funnel.exceptions.LoadError: event log has no 'stage' column; has ['lead_id', 'at', 'event']
    >>> _check_log_columns(["id", "at"])
    Traceback (most recent call last):
    ...
    funnel.exceptions.LoadError: event log has no 'lead_id' column and no 'stage' column; \
has ['id', 'at']
    """
    require_columns(columns, (LEAD_ID, AT, STAGE))


def log_histories(log: Any) -> tuple[dict[str, list[Visit]], Values]:
    """
    Per lead, its (stage, at) visits and its (at, value) rows, from an event log frame.

    *log* is a polars or pandas frame with ``lead_id``, ``at`` and ``stage``
    (``value`` optional), or anything with an ``accepted`` frame (a
    :class:`~funnel.analytics.LoadResult`). Rows without a stage (event rows)
    are skipped; rows keep their order within a lead.

    Raises:
        LoadError: the frame lacks ``lead_id``, ``at`` or ``stage``, or a row has no
            lead id (the error counts them).
        ValidationError: *log* is no frame, or a time is naive.
    """
    import narwhals as nw

    frame = getattr(log, "accepted", log)
    try:
        nwf = nw.from_native(frame, eager_only=True)
    except TypeError as exc:
        raise ValidationError(
            f"backtest needs an event-log dataframe, got {type(frame).__name__}"
        ) from exc
    _check_log_columns(nwf.columns)
    cols = [LEAD_ID, AT, STAGE] + ([VALUE] if VALUE in nwf.columns else [])
    histories: dict[str, list[Visit]] = {}
    values: Values = {}
    no_lead = 0
    # whole-number float ids (a pandas id column with a gap) as the loaders write them: "3"
    ids = nwf.get_column(LEAD_ID)
    whole = ids.dtype.is_float() and bool((ids.is_null() | (ids == ids.round(0))).all())
    for row in nwf.select(cols).iter_rows(named=False):
        # (pandas' NA and NaT, and NaN, are missing values: plain_value makes them None)
        lead, at, stage = plain_value(row[0]), plain_value(row[1]), plain_value(row[2])
        if whole and isinstance(lead, float):
            lead = int(lead)
        if lead is None or not str(lead).strip():
            no_lead += 1  # refused below, counted: the history of no lead
            continue
        if stage is None:
            continue
        if at is not None:
            at = require_aware(at, f"lead {lead!r}: time", field=AT)
        histories.setdefault(str(lead), []).append((str(stage), at))
        if len(row) > 3:
            value = plain_value(row[3])
            if value is not None:
                values.setdefault(str(lead), []).append((at, float(value)))
    if no_lead:
        raise_missing_leads(no_lead)
    return histories, values


def _paths(histories: Mapping[str, Sequence[Visit]], cutoff: datetime) -> list[list[str]]:
    """Per lead known then, its stages at or before the cut-off, undated ones first."""
    out: list[list[str]] = []
    for visits in histories.values():
        dated = _dated(visits, cutoff)
        if not dated:
            continue
        undated = [s for s, at in visits if at is None and s != dated[0][0]]
        out.append(list(dict.fromkeys([*undated, *(s for s, _ in dated)])))
    return out


def _actuals(
    histories: Mapping[str, Sequence[Visit]],
    values: Values,
    cutoff: datetime,
    end: datetime,
    won: Collection[str],
    finals: Collection[str],
    open_ids: Collection[str],
) -> dict[str, float]:
    open_wins = open_value = total_wins = total_value = 0.0
    for lead, visits in histories.items():
        before = _dated(visits, cutoff)
        if before and before[-1][0] in finals:
            continue
        after = [v for v in _dated(visits, end) if v[1] > cutoff and v[0] in finals]
        if not after or after[0][0] not in won:
            continue
        at = after[0][1]
        row_values = [v for t, v in values.get(lead, ()) if v is not None and t == at]
        known = [v for t, v in values.get(lead, ()) if v is not None and t is not None and t <= at]
        value = row_values[-1] if row_values else (known[-1] if known else 0.0)
        total_wins += 1
        total_value += value
        if lead in open_ids:
            open_wins += 1
            open_value += value
    return {
        "open_wins": open_wins,
        "open_value": open_value,
        "total_wins": total_wins,
        "total_value": total_value,
    }


def _row(
    cutoff: datetime,
    horizon: timedelta,
    history: OutcomeHistory,
    model: str,
    scope: str,
    open_deals: int,
    wins: tuple[float, float | None, float | None],
    value: tuple[float | None, float | None, float | None],
    actual_wins: float,
    actual_value: float,
) -> dict[str, object]:
    def error(forecast: float | None, actual: float) -> float | None:
        return None if forecast is None or actual == 0 else forecast / actual - 1

    def inside(low: float | None, high: float | None, actual: float) -> bool | None:
        return None if low is None or high is None else low <= actual <= high

    return {
        "cutoff": cutoff,
        "horizon_days": horizon.total_seconds() / DAY,
        "outcome_days": history.outcome_days,
        "short_history": history.short,
        "model": model,
        "scope": scope,
        "open_deals": open_deals,
        "forecast_wins": wins[0],
        "wins_low": wins[1],
        "wins_high": wins[2],
        "actual_wins": int(actual_wins),
        "wins_error": error(wins[0], actual_wins),
        "wins_inside": inside(wins[1], wins[2], actual_wins),
        "forecast_value": value[0],
        "value_low": value[1],
        "value_high": value[2],
        "actual_value": actual_value,
        "value_error": error(value[0], actual_value),
        "value_inside": inside(value[1], value[2], actual_value),
    }


def backtest(
    log: Any,
    cutoffs: Sequence[datetime | str],
    *,
    horizon: timedelta = timedelta(days=90),
    models: Sequence[str] = MODELS,
    funnel: Funnel = DEFAULT_FUNNEL,
    window: timedelta | Literal["horizon"] | None = "horizon",
    observed_from: datetime | Literal["first-outcome"] | None = "first-outcome",
    min_samples: int = 30,
    arrival_noise: Literal["poisson", "weekly"] = "poisson",
    runs: int = 500,
    draws: int = 100,
    seed: int = 0,
    history_discount: bool = True,
    backend: str = "polars",
) -> Any:
    """
    Back-test *models* at each of *cutoffs* over *horizon* (see the module docs).

    Args:
        log: The event log (frame or ``LoadResult``).
        cutoffs: Aware datetimes, or ISO dates (``"2017-06-30"``, read as UTC midnight
            at the *end* of that day).
        horizon: How far after each cut-off the forecast looks.
        models: Which of :data:`MODELS` to run.
        funnel: Gives the won and lost stages.
        window: For ``survival`` and ``simulation``: fit the exit curves on
            the exposure of this recent window only (``"horizon"``: a window
            as long as the horizon; ``None``: all history).
        observed_from: Left truncation for ``survival`` and ``simulation``
            (``"first-outcome"``: exits are taken as recorded from the first
            won or lost row in the log known at the cut-off).
        min_samples: The floor of the minimum-sample rules.
        arrival_noise: Arrival counts of ``simulation``: ``"poisson"`` or
            ``"weekly"`` (as over-dispersed as the recent weeks; see
            :func:`~funnel.forecasting.simulate_pipeline`).
        runs: Monte Carlo runs (``markov``, ``simulation``).
        draws: Parameter draws of ``simulation``.
        seed: The seed.
        history_discount: Widen the simulation's parameter draws where the
            outcome history is shorter than the horizon (see
            :func:`~funnel.forecasting.simulate_pipeline`).
        backend: ``"polars"`` or ``"pandas"``.

    Raises:
        ValidationError: an unknown model, a bad cut-off, a log that is no frame.
        LoadError: a log without ``lead_id``, ``at`` or ``stage``.
        ForecastError: a horizon that is not positive.

    Warns:
        ForecastWarning: once, naming the cut-offs with open deals whose outcome
            history is short (their rows say ``short_history``).
    """
    models = [
        m if isinstance(m, str) else type(m).__name__ for m in check_iterable(models, "models")
    ]
    cutoffs = list(check_iterable(cutoffs, "cutoffs"))
    check_timedelta(horizon, "horizon")
    if not isinstance(funnel, Funnel):
        raise ValidationError(
            f"funnel must be a Funnel, got {type(funnel).__name__}", field="funnel"
        )
    if not (window is None or window == "horizon"):
        check_timedelta(window, "window")
    if not (observed_from is None or observed_from == "first-outcome"):
        check_datetime(observed_from, "observed_from")
    min_samples = check_int(min_samples, "min_samples", minimum=0)
    runs = check_int(runs, "runs", minimum=1)
    draws = check_int(draws, "draws", minimum=1)
    seed = check_int(seed, "seed")
    check_choice(arrival_noise, "arrival_noise", ("poisson", "weekly"))
    check_choice(backend, "backend", ("polars", "pandas"))
    if not isinstance(history_discount, bool):
        raise ValidationError(
            f"history_discount must be True or False, got {type(history_discount).__name__}",
            field="history_discount",
        )
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        raise ValidationError(
            f"unknown model(s) {', '.join(map(repr, unknown))}; expected some of {list(MODELS)}",
            field="models",
            allowed=MODELS,
        )
    if horizon <= timedelta(0):
        raise ForecastError(f"horizon must be positive, got {horizon}", field="horizon")
    histories, values = log_histories(log)
    won = funnel.won_stages
    lost = funnel.lost_stages
    finals = won | lost
    fit_window = horizon if window == "horizon" else window
    rows: list[dict[str, object]] = []
    short: list[OutcomeHistory] = []
    for raw in cutoffs:
        cutoff = _cutoff(raw)
        end = cutoff + horizon
        deals = open_deals_at(histories, cutoff, finals=finals, values=values)
        ids = {d.id for d in deals}
        actual = _actuals(histories, values, cutoff, end, won, finals, ids)
        default_value = _mean_won_value(histories, values, cutoff, won)

        def deal_value(v: float | None, default: float = default_value) -> float:
            return default if v is None else v

        n_open = len(deals)
        history = outcome_history(
            histories,
            cutoff=cutoff,
            horizon=horizon,
            won_stages=won,
            lost_stages=lost,
            min_closes=min_samples,
            stages=[d.stage for d in deals],
        )
        if history.short and n_open:
            short.append(history)
        for model in MODELS:
            if model not in models:
                continue
            if model == "weighted":
                probs = stage_probabilities(
                    _paths(histories, cutoff),
                    won_stages=won,
                    lost_stages=lost,
                    order=[s for s in funnel.stages if s not in finals],
                    min_samples=min_samples,
                )
                ps = [float(probs.probability(d.stage, record=d.id)) for d in deals]
                mean = sum(ps)
                val = sum(p * deal_value(d.value) for p, d in zip(ps, deals, strict=True))
                rows.append(
                    _row(
                        cutoff,
                        horizon,
                        history,
                        model,
                        "open",
                        n_open,
                        (mean, None, None),
                        (val, None, None),
                        actual["open_wins"],
                        actual["open_value"],
                    )
                )
            elif model == "survival":
                start = fit_start(histories, cutoff, fit_window, observed_from, finals)
                fit = stage_survival(
                    histories,
                    cutoff=cutoff,
                    won_stages=won,
                    lost_stages=lost,
                    min_samples=min_samples,
                    observed_from=start,
                )
                memo: dict[tuple[str, float], float] = {}
                ps = []
                for d in deals:
                    key = (d.stage, d.age)
                    if key not in memo:
                        memo[key] = fit.win_probability(d.stage, d.age, horizon, record=d.id)
                    ps.append(memo[key])
                mean = sum(ps)
                spread = Z90 * math.sqrt(sum(p * (1 - p) for p in ps))
                vals = [deal_value(d.value) for d in deals]
                val = sum(p * v for p, v in zip(ps, vals, strict=True))
                vspread = Z90 * math.sqrt(
                    sum(p * (1 - p) * v * v for p, v in zip(ps, vals, strict=True))
                )
                rows.append(
                    _row(
                        cutoff,
                        horizon,
                        history,
                        model,
                        "open",
                        n_open,
                        (mean, mean - spread, mean + spread),
                        (val, val - vspread, val + vspread),
                        actual["open_wins"],
                        actual["open_value"],
                    )
                )
            elif model == "markov":
                rows.extend(
                    _markov(
                        histories,
                        cutoff,
                        horizon,
                        history,
                        funnel,
                        deals,
                        default_value,
                        runs,
                        seed,
                        actual,
                    )
                )
            else:
                fc = _simulate_pipeline(
                    histories,
                    cutoff=cutoff,
                    horizon=horizon,
                    won_stages=won,
                    lost_stages=lost,
                    values=values,
                    window=fit_window,
                    observed_from=observed_from,
                    arrival_window=None,
                    arrivals=True,
                    arrival_noise=arrival_noise,
                    runs=runs,
                    draws=draws,
                    seed=seed,
                    min_samples=min_samples,
                    uncertainty="bootstrap",
                    method="development" if model == "development" else "survival",
                    history_discount=history_discount,
                )
                rows.append(
                    _row(
                        cutoff,
                        horizon,
                        history,
                        model,
                        "open",
                        n_open,
                        fc.interval("open"),
                        fc.interval("open_value"),
                        actual["open_wins"],
                        actual["open_value"],
                    )
                )
                rows.append(
                    _row(
                        cutoff,
                        horizon,
                        history,
                        model,
                        "total",
                        n_open,
                        fc.interval("total"),
                        fc.interval("value"),
                        actual["total_wins"],
                        actual["total_value"],
                    )
                )
    if short:
        warning = ForecastWarning(
            _short_message(short, horizon), horizon_days=horizon / timedelta(days=1)
        )
        warnings.warn(warning, stacklevel=2)
    if not values:  # the log has no values: no value forecast, rather than zeros
        money = [c for c in BACKTEST_COLUMNS if "value" in c]
        rows = [{**r, **dict.fromkeys(money)} for r in rows]
    return to_frame({c: [r[c] for r in rows] for c in BACKTEST_COLUMNS}, backend)


def _markov(
    histories: Mapping[str, Sequence[Visit]],
    cutoff: datetime,
    horizon: timedelta,
    history: OutcomeHistory,
    funnel: Funnel,
    deals: Sequence[Any],
    default_value: float,
    runs: int,
    seed: int,
    actual: Mapping[str, float],
) -> list[dict[str, object]]:
    known = {k: _dated(v, cutoff) for k, v in histories.items()}
    known = {k: v for k, v in known.items() if v}
    chain = estimate_chain(known, won_stages=funnel.won_stages, lost_stages=funnel.lost_stages)
    starting = [d.stage for d in deals if d.stage in chain.stages]
    kw: dict[str, Any] = {"horizon": horizon, "runs": runs, "seed": seed}
    alone = simulate(chain, starting=starting, **kw)
    both = simulate(chain, starting=starting, arrivals=chain.arrival_rates, **kw)
    out = []
    for scope, result, wins, value in (
        ("open", alone, actual["open_wins"], actual["open_value"]),
        ("total", both, actual["total_wins"], actual["total_value"]),
    ):
        lo, hi = result.won_quantiles((0.05, 0.95))
        mean = result.mean_won
        out.append(
            _row(
                cutoff,
                horizon,
                history,
                "markov",
                scope,
                len(deals),
                (mean, lo, hi),
                (mean * default_value, lo * default_value, hi * default_value),
                wins,
                value,
            )
        )
    return out


def _short_message(short: Sequence[OutcomeHistory], horizon: timedelta) -> str:
    """One sentence naming the cut-offs whose forecasts extrapolate beyond their outcomes."""
    parts = []
    for h in short:
        why = [f"{h.outcome_days:.1f} days of outcomes"] if h.short_span else []
        why += [f"{s!r} {h.closes[s]} closed deal(s)" for s in h.thin_stages]
        parts.append(f"{h.cutoff:%Y-%m-%d} ({', '.join(why)})")
    return (
        f"back-test: the forecasts at {len(short)} cut-off(s) extrapolate beyond their "
        f"outcome history (fewer days of wins and losses than the {horizon.days}-day horizon, "
        f"or a stage with fewer closed deals than min_samples): {'; '.join(parts)}; "
        "their rows say short_history"
    )


def _cutoff(raw: datetime | str) -> datetime:
    if isinstance(raw, datetime):
        return require_aware(raw, "cutoff")
    if isinstance(raw, str):
        from datetime import UTC, date

        try:
            day = date.fromisoformat(raw)
        except ValueError as exc:
            raise ValidationError(
                f"cutoff must be an ISO date or an aware datetime, got {raw!r}", field="cutoff"
            ) from exc
        return (
            datetime(day.year, day.month, day.day, tzinfo=UTC)
            + timedelta(days=1)
            - (timedelta(microseconds=1))
        )
    raise ValidationError(
        f"cutoff must be an ISO date or an aware datetime, got {type(raw).__name__}",
        field="cutoff",
    )


def backtest_chart(frame: Any, *, scope: str = "open", title: str | None = None) -> Any:
    """
    A plotly chart of a :func:`backtest` frame: per cut-off, each model's forecast
    (with its interval as error bars) against the actual; the actuals of the
    cut-offs whose outcome history is short (``short_history``) are ringed.
    """
    import narwhals as nw

    go = plotly()
    data = nw.from_native(frame, eager_only=True)
    rows = [r for r in data.iter_rows(named=True) if r["scope"] == scope]
    fig = go.Figure()
    for model in dict.fromkeys(r["model"] for r in rows):
        mine = [r for r in rows if r["model"] == model]
        up = [
            None if r["wins_high"] is None else r["wins_high"] - r["forecast_wins"] for r in mine
        ]
        down = [
            None if r["wins_low"] is None else r["forecast_wins"] - r["wins_low"] for r in mine
        ]
        fig.add_trace(
            go.Scatter(
                x=[r["cutoff"] for r in mine],
                y=[r["forecast_wins"] for r in mine],
                mode="markers+lines",
                name=model,
                error_y={"type": "data", "array": up, "arrayminus": down, "symmetric": False},
            )
        )
    actual = {r["cutoff"]: r["actual_wins"] for r in rows}
    fig.add_trace(
        go.Scatter(
            x=list(actual),
            y=list(actual.values()),
            mode="markers",
            name="actual",
            marker={"symbol": "x", "size": 12, "color": "black"},
        )
    )
    short = {r["cutoff"]: r["actual_wins"] for r in rows if r.get("short_history")}
    if short:
        fig.add_trace(
            go.Scatter(
                x=list(short),
                y=list(short.values()),
                mode="markers",
                name="short outcome history",
                marker={"symbol": "circle-open", "size": 22, "color": "firebrick"},
                hovertext=[
                    "fewer days of outcomes than the horizon (or a thin stage): "
                    "the forecast extrapolates"
                ]
                * len(short),
            )
        )
    fig.update_layout(
        title=title or f"Back-test: wins in the horizon ({scope} deals)",
        xaxis_title="cut-off",
        yaxis_title="wins",
    )
    return fig
