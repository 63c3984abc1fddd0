"""
The back-test figures quoted in docs/how-to/forecasting.md and simulation.md, and the
scoring figures of docs/how-to/scoring.md, on the real datasets in ../shared/data.

Issue 15's "done when" asks, on the Maven log at 2017-03-31, 2017-06-30 and 2017-09-30
with a 90-day horizon: the pipeline forecast of wins among open deals within 15 % of the
actual, and the simulation's total within 15 % with the actual inside its 90 % interval at
least twice. These tests pin what the models do measure; where that misses the target,
the docs say so with these numbers.

The Maven file records no close before 2017-03-01 and Olist no win before 2017-12-05: the
back-test rows of the cut-offs with fewer days of outcomes than the 90-day horizon say
``short_history`` (Maven 2017-03-31 and 2017-04-30, Olist 2018-01-31 and 2018-02-28), the
back-test warns once naming them, and the simulation discounts its bootstrap there.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from funnel.exceptions import FunnelWarning
from funnel.forecasting import backtest, evaluate_scoring, time_split
from funnel.forecasting.predictive import TrainingRow, train_pls

pytest.importorskip("polars")

CUTOFFS = ["2017-03-31", "2017-06-30", "2017-09-30"]


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def _figures(frame: Any, model: str, scope: str, column: str) -> list[Any]:
    import polars as pl

    rows = frame.filter(pl.col("model") == model, pl.col("scope") == scope)
    out: list[Any] = rows[column].to_list()
    return out


MONTH_ENDS = [
    "2017-03-31",
    "2017-04-30",
    "2017-05-31",
    "2017-06-30",
    "2017-07-31",
    "2017-08-31",
    "2017-09-30",
]


def _errors(frame: Any, model: str, scope: str, cutoffs: list[str] = CUTOFFS) -> list[float]:
    import polars as pl

    rows = frame.filter(
        pl.col("model") == model,
        pl.col("scope") == scope,
        pl.col("cutoff").dt.strftime("%Y-%m-%d").is_in(cutoffs),
    )
    return [round(e, 3) for e in rows["wins_error"].to_list()]


def _short(*cutoffs: str) -> Any:
    """The one warning of a back-test whose outcome history is short at *cutoffs*."""
    return pytest.warns(
        FunnelWarning,
        match=rf"{len(cutoffs)} cut-off\(s\) extrapolate.*" + r".*".join(cutoffs),
    )


def _at(
    frame: Any, model: str, scope: str, column: str, cutoffs: list[str] = CUTOFFS
) -> list[Any]:
    import polars as pl

    rows = frame.filter(
        pl.col("model") == model,
        pl.col("scope") == scope,
        pl.col("cutoff").dt.strftime("%Y-%m-%d").is_in(cutoffs),
    )
    out: list[Any] = rows[column].to_list()
    return out


@pytest.mark.slow
def test_maven_backtest_and_issue_15s_done_when(shared_data: Path) -> None:
    """
    Every Maven back-test figure of forecasting.md and simulation.md, at the month ends
    2017-03-31 to 2017-09-30, and issue 15's "done when" judged on the three cut-offs.
    """
    from funnel.analytics.datasets import load_maven

    with _short("2017-03-31", "2017-04-30"):
        frame = backtest(load_maven(shared_data), MONTH_ENDS, runs=200, draws=50, seed=0)
    # outcomes from 2017-03-01: 31 and 61 days at the first two month ends, then 92 and more
    assert [round(x, 1) for x in _at(frame, "weighted", "open", "outcome_days", MONTH_ENDS)] == [
        31.0,
        61.0,
        92.0,
        122.0,
        153.0,
        184.0,
        214.0,
    ]
    for model in ("weighted", "survival", "markov", "simulation", "development"):
        assert _at(frame, model, "open", "short_history", MONTH_ENDS) == [True, True] + [False] * 5
    assert _at(frame, "weighted", "open", "open_deals") == [1330, 1686, 2409]
    assert _at(frame, "weighted", "open", "actual_wins") == [609, 597, 541]
    assert _at(frame, "simulation", "total", "actual_wins") == [1238, 1219, 1150]
    # before: the classic weighted pipeline, 1092, 1123, 1551 wins (+79 %, +88 %, +187 %)
    assert _errors(frame, "weighted", "open") == [0.792, 0.882, 1.866]
    # before: the exit curves, 998, 695, 774 (+64 %, +16 %, +43 %)
    assert _errors(frame, "survival", "open") == [0.639, 0.164, 0.43]
    # at 2017-03-31 the simulation's bootstrap counts the history as 31/90 of its size
    assert _errors(frame, "simulation", "open") == [0.645, 0.162, 0.431]
    # the old chain: open deals as if new, arrivals over all history
    assert _errors(frame, "markov", "total") == [-0.156, 0.054, 0.505]
    assert _at(frame, "markov", "total", "wins_inside") == [False, False, False]
    # before: the simulation's total, 1460, 1272, 1364 (+17.9 %, +4.4 %, +18.6 %); inside once
    assert _errors(frame, "simulation", "total") == [0.179, 0.044, 0.186]
    assert _at(frame, "simulation", "total", "wins_inside") == [False, True, False]
    assert [round(x) for x in _at(frame, "simulation", "total", "wins_low")] == [1341, 1205, 1254]
    assert [round(x) for x in _at(frame, "simulation", "total", "wins_high")] == [1577, 1344, 1480]
    # after: development, open deals 1002, 627, 615 (+64.6 %, +5.1 %, +13.6 %)
    assert [round(x) for x in _at(frame, "development", "open", "forecast_wins")] == [
        1002,
        627,
        615,
    ]
    assert _errors(frame, "development", "open") == [0.646, 0.051, 0.136]
    assert [round(x) for x in _at(frame, "development", "open", "wins_low")] == [924, 564, 548]
    assert [round(x) for x in _at(frame, "development", "open", "wins_high")] == [1064, 676, 693]
    assert _at(frame, "development", "open", "wins_inside") == [False, True, False]
    # after: development, all wins 1460, 1232, 1224 (+18.0 %, +1.1 %, +6.5 %), inside twice
    assert [round(x) for x in _at(frame, "development", "total", "forecast_wins")] == [
        1460,
        1232,
        1224,
    ]
    assert _errors(frame, "development", "total") == [0.18, 0.011, 0.065]
    assert [round(x) for x in _at(frame, "development", "total", "wins_low")] == [1348, 1152, 1098]
    assert [round(x) for x in _at(frame, "development", "total", "wins_high")] == [
        1561,
        1311,
        1337,
    ]
    assert _at(frame, "development", "total", "wins_inside") == [False, True, True]
    assert [round(e, 3) for e in _at(frame, "development", "total", "value_error")] == [
        0.033,
        0.012,
        0.073,
    ]
    # issue 15's "done when", with the development model: met at 2017-06-30 and
    # 2017-09-30 and for the interval; not at 2017-03-31, where the log holds 31 days of
    # outcomes for a 90-day horizon (short_history; forecasting.md says why)
    within = [abs(e) <= 0.15 for e in _errors(frame, "development", "open")]
    total_within = [abs(e) <= 0.15 for e in _errors(frame, "development", "total")]
    inside = sum(_at(frame, "development", "total", "wins_inside"))
    assert within == [False, True, True]
    assert total_within == [False, True, True]
    assert inside >= 2
    assert not (all(within) and all(total_within) and inside >= 2)
    # the other month ends: 2017-04-30, -05-31, -07-31, -08-31
    others = [c for c in MONTH_ENDS if c not in CUTOFFS]
    assert _at(frame, "weighted", "open", "actual_wins", others) == [718, 616, 711, 553]
    assert _errors(frame, "survival", "open", others) == [0.42, 0.132, 0.18, 0.375]
    assert _errors(frame, "development", "open", others) == [0.418, 0.346, 0.093, 0.104]
    assert _at(frame, "development", "open", "wins_inside", others) == [False, False, True, True]
    assert _at(frame, "simulation", "total", "actual_wins", others) == [1251, 1266, 1209, 1173]
    assert _errors(frame, "simulation", "total", others) == [0.286, -0.006, 0.241, 0.19]
    assert _at(frame, "simulation", "total", "wins_inside", others) == [False, True, False, False]
    assert _errors(frame, "development", "total", others) == [0.288, 0.135, 0.092, 0.069]
    assert _at(frame, "development", "total", "wins_inside", others) == [False, False, True, True]

    # over the seven month ends: mean absolute error of the open and the total forecasts
    def mae(model: str, scope: str) -> float:
        errors = _errors(frame, model, scope, MONTH_ENDS)
        return round(100 * sum(map(abs, errors)) / len(errors), 1)

    assert (mae("survival", "open"), mae("development", "open")) == (33.4, 25.6)
    assert (mae("simulation", "total"), mae("development", "total")) == (16.2, 12.0)
    # coverage of the 90 % intervals over the seven month ends
    assert sum(_at(frame, "development", "total", "wins_inside", MONTH_ENDS)) == 4
    assert sum(_at(frame, "simulation", "total", "wins_inside", MONTH_ENDS)) == 2
    assert sum(_at(frame, "development", "open", "wins_inside", MONTH_ENDS)) == 3


@pytest.mark.slow
def test_maven_short_history_discount(shared_data: Path) -> None:
    """
    The same back-test without the discount (``history_discount=False``) at the two month
    ends with less than 90 days of outcomes: the 90 % intervals are narrower, neither
    covers the actual, and no discount by outcome_days / horizon could (the miss is bias).
    """
    from funnel.analytics.datasets import load_maven

    short = ["2017-03-31", "2017-04-30"]
    kw: dict[str, Any] = {"runs": 200, "draws": 50, "seed": 0}
    kw["models"] = ("simulation", "development")
    with _short(*short):
        plain = backtest(load_maven(shared_data), short, history_discount=False, **kw)

    columns = ("forecast_wins", "wins_low", "wins_high", "wins_error", "wins_inside")

    def figures(model: str, scope: str) -> list[tuple[int, int, int, float, bool]]:
        return [
            (round(f), round(lo), round(hi), round(e, 3), inside)
            for f, lo, hi, e, inside in zip(
                *(_at(plain, model, scope, c, short) for c in columns), strict=True
            )
        ]

    assert figures("development", "open") == [
        (990, 940, 1035, 0.625, False),
        (1006, 943, 1071, 0.401, False),
    ]
    assert figures("development", "total") == [
        (1445, 1336, 1560, 0.167, False),
        (1602, 1495, 1708, 0.28, False),
    ]
    assert figures("simulation", "total") == [
        (1443, 1333, 1556, 0.166, False),
        (1601, 1497, 1708, 0.28, False),
    ]


def test_maven_development_cohort_width(shared_data: Path) -> None:
    """Point estimates at 2017-06-30 and 2017-09-30 for weekly, fortnightly and 30-day cohorts."""
    from datetime import timedelta

    from funnel.analytics.datasets import load_maven
    from funnel.forecasting import stage_development
    from funnel.forecasting.backtest import _cutoff, log_histories
    from funnel.forecasting.pipeline import fit_start, open_deals_at

    histories, _ = log_histories(load_maven(shared_data))
    finals = {"won", "lost"}
    horizon = timedelta(days=90)
    out = []
    for cut, actual in (("2017-06-30", 597), ("2017-09-30", 541)):
        cutoff = _cutoff(cut)
        deals = open_deals_at(histories, cutoff, finals=finals)
        start = fit_start(histories, cutoff, None, "first-outcome", finals)
        for days in (7, 14, 30):
            fit = stage_development(
                histories,
                cutoff=cutoff,
                horizon=horizon,
                won_stages={"won"},
                lost_stages={"lost"},
                observed_from=start,
                width=timedelta(days=days),
            )
            forecast = sum(fit.win_probability(d.stage, d.age, horizon) for d in deals)
            out.append(round(100 * (forecast / actual - 1), 1))
    assert out == [4.4, 11.7, 10.3, 11.5, 1.9, -1.4]


def test_maven_arrivals_won_in_the_last_quarter(shared_data: Path) -> None:
    """619 of the 2700 deals engaged in the 90 days before 2017-09-30 had won by it."""
    from datetime import timedelta

    from funnel.analytics.datasets import load_maven
    from funnel.forecasting.backtest import _cutoff, log_histories
    from funnel.forecasting.pipeline import _arrival_chance, _reference_arrivals

    histories, _ = log_histories(load_maven(shared_data))
    cutoff = _cutoff("2017-09-30")
    reference = _reference_arrivals(histories, cutoff, timedelta(days=90), {"won"}, None)
    assert reference is not None
    assert (len(reference), sum(won for _, won in reference)) == (2700, 619)
    assert _arrival_chance(reference, None, 30) == pytest.approx(619 / 2700)


def test_maven_survival_sensitivity(shared_data: Path) -> None:
    """The other fitting windows and no truncation, as quoted in forecasting.md."""
    from datetime import timedelta

    from funnel.analytics.datasets import load_maven

    log = load_maven(shared_data)

    def errors(**kw: Any) -> list[float]:
        with _short("2017-03-31"):
            frame = backtest(log, CUTOFFS, models=("survival",), **kw)
        return [round(e, 3) for e in frame["wins_error"].to_list()]

    # period analysis (the default: the last 90 days, the horizon) against all history
    assert errors() == [0.639, 0.164, 0.43]
    assert errors(window=None) == [0.639, 0.353, 0.663]
    assert errors(window=timedelta(days=180)) == [0.639, 0.353, 0.507]
    assert errors(observed_from=None) == [0.431, 0.164, 0.43]


def test_maven_period_analysis_and_the_cohorts(shared_data: Path) -> None:
    """
    Why period analysis still runs high at 2017-09-30 (forecasting.md): 454 of the 489 deals
    open then aged 60-90 days engaged in July 2017, and 31 of them won in the quarter; the
    last 90 days' exits at those ages came from the May and June cohorts (372 of 470).
    """
    from datetime import timedelta

    from funnel.analytics.datasets import load_maven
    from funnel.forecasting import stage_survival
    from funnel.forecasting.backtest import _cutoff, log_histories
    from funnel.forecasting.pipeline import open_deals_at
    from funnel.forecasting.survival import spells_at

    histories, _ = log_histories(load_maven(shared_data))
    cutoff = _cutoff("2017-09-30")
    finals = {"won", "lost"}
    deals = [d for d in open_deals_at(histories, cutoff, finals=finals) if 60 <= d.age < 90]
    assert len(deals) == 489
    july = [d for d in deals if (cutoff - timedelta(days=d.age)).month == 7]
    assert len(july) == 454
    q4 = cutoff + timedelta(days=90)
    won = [
        d
        for d in deals
        if any(s == "won" and at is not None and cutoff < at <= q4 for s, at in histories[d.id])
    ]
    assert len(won) == 36  # 7 %
    fit = stage_survival(
        histories,
        cutoff=cutoff,
        won_stages={"won"},
        lost_stages=finals - {"won"},
        window=timedelta(days=90),
    )
    period = sum(fit.win_probability(d.stage, d.age, timedelta(days=90)) for d in deals)
    assert round(period / len(deals), 2) == 0.45
    exits = [
        sp
        for sp in spells_at(histories, cutoff, finals=finals)
        if sp.target in finals
        and 60 <= sp.age < 90
        and sp.entered + timedelta(days=sp.age) > cutoff - timedelta(days=90)
    ]
    assert len(exits) == 470
    assert sum(sp.entered.month in (5, 6) for sp in exits) == 372


def test_olist_backtest_open_leads(shared_data: Path) -> None:
    """No lost stage: the weighted pipeline values every open MQL at 1; survival does not."""
    from funnel.analytics.datasets import load_olist

    with _short("2018-01-31"):
        frame = backtest(
            load_olist(shared_data),
            ["2018-01-31", "2018-03-31", "2018-05-31"],
            models=("weighted", "survival"),
        )
    # the first win is dated 2017-12-05: 57.9 days of outcomes at 2018-01-31
    assert [round(x, 1) for x in _figures(frame, "survival", "open", "outcome_days")] == [
        57.9,
        116.9,
        177.9,
    ]
    assert _figures(frame, "survival", "open", "short_history") == [True, False, False]
    assert _figures(frame, "weighted", "open", "forecast_wins") == [3067.0, 5009.0, 7335.0]
    assert _figures(frame, "survival", "open", "actual_wins") == [85, 121, 124]
    assert [round(x, 1) for x in _figures(frame, "survival", "open", "forecast_wins")] == [
        38.7,
        88.7,
        139.1,
    ]
    # on all history instead of the last 90 days: 38.7, 76.1, 118.7 (-54 %, -37 %, -4 %)
    with _short("2018-01-31"):
        whole = backtest(
            load_olist(shared_data),
            ["2018-01-31", "2018-03-31", "2018-05-31"],
            models=("survival",),
            window=None,
        )
    assert [round(e, 3) for e in whole["wins_error"].to_list()] == [-0.544, -0.371, -0.043]
    # the log has no values: value columns are null, not zeros
    assert set(_figures(frame, "survival", "open", "forecast_value")) == {None}


@pytest.mark.slow
def test_olist_backtest_simulation(shared_data: Path) -> None:
    """The Olist simulation and chain figures quoted in simulation.md."""
    from funnel.analytics.datasets import load_olist

    with _short("2018-01-31"):
        frame = backtest(
            load_olist(shared_data),
            ["2018-01-31", "2018-03-31", "2018-05-31"],
            models=("markov", "simulation", "development"),
            runs=200,
            draws=50,
            seed=0,
        )
    assert _figures(frame, "simulation", "total", "actual_wins") == [467, 386, 124]
    # development: open 39.4, 49.5, 148.9 (-54 %, -59 %, +20 %), worse than the exit curves
    assert [round(x, 1) for x in _figures(frame, "development", "open", "forecast_wins")] == [
        39.4,
        49.5,
        148.9,
    ]
    assert [round(x) for x in _figures(frame, "development", "total", "forecast_wins")] == [
        154,
        368,
        506,
    ]
    assert [round(x) for x in _figures(frame, "development", "total", "wins_low")] == [
        101,
        317,
        453,
    ]
    assert [round(x) for x in _figures(frame, "development", "total", "wins_high")] == [
        216,
        427,
        563,
    ]
    assert _figures(frame, "development", "total", "wins_inside") == [False, True, False]
    assert [round(x) for x in _figures(frame, "simulation", "total", "forecast_wins")] == [
        155,
        393,
        501,
    ]
    assert [round(x) for x in _figures(frame, "simulation", "total", "wins_low")] == [
        100,
        347,
        448,
    ]
    assert [round(x) for x in _figures(frame, "simulation", "total", "wins_high")] == [
        209,
        444,
        556,
    ]
    assert _figures(frame, "simulation", "total", "wins_inside") == [False, True, False]
    assert [round(x) for x in _figures(frame, "markov", "total", "forecast_wins")] == [
        3997,
        6280,
        8585,
    ]


def test_scoring_on_a_time_split(shared_data: Path) -> None:
    """Maven: PLS adds nothing over the base rate; Olist: nothing over the landing page."""
    base = shared_data / "maven_crm"
    sectors = {r["account"]: r["sector"] for r in _read(base / "accounts.csv")}
    offices = {r["sales_agent"]: r["regional_office"] for r in _read(base / "sales_teams.csv")}
    deals = [d for d in _read(base / "sales_pipeline.csv") if d["deal_stage"] in ("Won", "Lost")]
    rows = [
        TrainingRow(
            values={
                "product": d["product"].replace(" ", ""),
                "sector": sectors.get(d["account"]) or None,
                "regional_office": offices[d["sales_agent"]],
            },
            won=d["deal_stage"] == "Won",
            stage="Engaging",
        )
        for d in deals
    ]
    train, test = time_split(rows, [d["close_date"] for d in deals], "2017-09-30")
    assert (len(train), len(test)) == (4726, 1985)
    model = train_pls(train, stages=("Prospecting", "Engaging"))
    ev = evaluate_scoring(model, train, test, stage="Engaging")
    assert round((ev.metric("pls", "auc")), 3) == 0.488
    assert round((ev.metric("pls", "brier")), 4) == 0.2424
    assert round((ev.metric("base rate", "brier")), 4) == 0.2412
    assert ev.metric("pls", "brier_skill") < 0  # worse than the base rate
    assert round(ev.best_baseline()["brier"], 4) == 0.2413  # type: ignore[call-overload]
    assert round((ev.metric("pls", "lift_top10")), 2) == 0.93
    assert ev.to_frame().height == 5
    assert sum(ev.reliability_frame()["count"]) == 1985

    olist = shared_data / "olist"
    won = {d["mql_id"] for d in _read(olist / "olist_closed_deals_dataset.csv")}
    mqls = _read(olist / "olist_marketing_qualified_leads_dataset.csv")
    orows = [
        TrainingRow(
            values={"origin": q["origin"] or None, "landing_page": q["landing_page_id"]},
            won=q["mql_id"] in won,
        )
        for q in mqls
    ]
    otrain, otest = time_split(orows, [q["first_contact_date"] for q in mqls], "2018-02-28")
    assert (len(otrain), len(otest)) == (4171, 3829)
    omodel = train_pls(otrain, fields=["origin", "landing_page"], min_samples=30)
    oev = evaluate_scoring(omodel, otrain, otest)
    assert round((oev.metric("pls", "auc")), 3) == 0.657
    assert round((oev.metric("win rate: landing_page", "auc")), 3) == 0.647
    assert round((oev.metric("pls", "brier")), 4) == 0.1066
    assert round((oev.metric("win rate: landing_page", "brier")), 4) == 0.1067
    assert round((oev.metric("base rate", "brier")), 4) == 0.1111
    assert round((oev.metric("pls", "lift_top10")), 2) == 1.82
    assert round((oev.metric("win rate: landing_page", "lift_top10")), 2) == 1.73


@pytest.mark.slow
def test_simulation_other_fits(shared_data: Path) -> None:
    """All history instead of period analysis, and over-dispersed arrivals (simulation.md)."""
    from funnel.analytics.datasets import load_maven, load_olist

    maven, olist = load_maven(shared_data), load_olist(shared_data)
    kw: dict[str, Any] = {"models": ("simulation",), "runs": 200, "draws": 50, "seed": 0}
    ocuts = ["2018-01-31", "2018-03-31", "2018-05-31"]

    def total(frame: Any) -> tuple[list[int], list[int], list[int], list[bool]]:
        return (
            [round(x) for x in _figures(frame, "simulation", "total", "forecast_wins")],
            [round(x) for x in _figures(frame, "simulation", "total", "wins_low")],
            [round(x) for x in _figures(frame, "simulation", "total", "wins_high")],
            _figures(frame, "simulation", "total", "wins_inside"),
        )

    def run(log: Any, cuts: list[str], **more: Any) -> Any:
        with _short(cuts[0]):
            return backtest(log, cuts, **kw, **more)

    # all history: worse at 2017-06-30 and 2017-09-30, never inside
    assert total(run(maven, CUTOFFS, window=None)) == (
        [1460, 1387, 1534],
        [1341, 1318, 1418],
        [1577, 1458, 1647],
        [False, False, False],
    )
    assert total(run(olist, ocuts, window=None)) == (
        [155, 362, 452],
        [100, 320, 407],
        [209, 403, 498],
        [False, True, False],
    )
    # negative-binomial arrivals: wider intervals, the same cut-offs covered
    assert total(run(maven, CUTOFFS, arrival_noise="weekly")) == (
        [1459, 1271, 1363],
        [1323, 1193, 1239],
        [1609, 1352, 1490],
        [False, True, False],
    )
    assert total(run(olist, ocuts, arrival_noise="weekly")) == (
        [155, 394, 500],
        [92, 347, 447],
        [228, 445, 562],
        [False, True, False],
    )
    # without the left truncation: -9.3 %, +4.4 %, +18.6 %, inside once
    assert total(run(maven, CUTOFFS, observed_from=None)) == (
        [1123, 1272, 1364],
        [1046, 1205, 1254],
        [1207, 1344, 1480],
        [False, True, False],
    )


def test_maven_weekly_arrivals_are_overdispersed(shared_data: Path) -> None:
    """The 12 weeks before each cut-off: variance 19.5, 3.9, 17.0 x the mean (simulation.md)."""
    import statistics
    from datetime import timedelta

    from funnel.analytics.datasets import load_maven
    from funnel.forecasting.backtest import _cutoff, log_histories
    from funnel.forecasting.pipeline import _weekly, arrival_times

    histories, _ = log_histories(load_maven(shared_data))
    ratios = []
    for cut in CUTOFFS:
        (ages,) = arrival_times(histories, _cutoff(cut), timedelta(days=90)).values()
        weeks = _weekly(ages, 12)
        ratios.append(round(statistics.variance(weeks) / statistics.mean(weeks), 1))
    assert ratios == [19.5, 3.9, 17.0]


def test_maven_why_a_curve_by_age_misses(shared_data: Path) -> None:
    """
    The causes quoted in forecasting.md, measured on the file: the quarter calendar, deals
    that never close arriving in a batch, one month of exits at the first cut-off, and a
    curve by age fitted on the whole file (knowing the future) still +46 % at 2017-09-30.
    """
    from collections import Counter
    from datetime import date, timedelta

    from funnel.analytics.datasets import load_maven
    from funnel.forecasting import stage_survival
    from funnel.forecasting.backtest import _cutoff, log_histories
    from funnel.forecasting.pipeline import fit_start, open_deals_at

    rows = _read(shared_data / "maven_crm" / "sales_pipeline.csv")
    closed = [r for r in rows if r["close_date"]]

    def days(r: dict[str, str]) -> int:
        return (date.fromisoformat(r["close_date"]) - date.fromisoformat(r["engage_date"])).days

    # no close before 2017-03-01, none after 138 days in Engaging
    assert min(r["close_date"] for r in closed) == "2017-03-01"
    assert max(days(r) for r in closed) == 138
    # in the first month of a quarter only deals at most 13 days old close
    first = [r for r in closed if date.fromisoformat(r["close_date"]).month in (4, 7, 10)]
    assert (len(first), max(days(r) for r in first)) == (1779, 13)
    # quarter-end months close mostly won: March 531 of 647, April 285 of 586, May 438 of 805
    month = Counter((r["close_date"][:7], r["deal_stage"] == "Won") for r in closed)
    assert [
        (month[(m, True)], month[(m, True)] + month[(m, False)])
        for m in ("2017-03", "2017-04", "2017-05")
    ] == [
        (531, 647),
        (285, 586),
        (438, 805),
    ]
    # deals that never close: 1589 still Engaging, 1088 of them without an account (no
    # closed deal lacks one: the snapshot may fill it at closing, so it is not used)
    engaging = [r for r in rows if r["deal_stage"] == "Engaging"]
    assert (len(engaging), sum(not r["account"] for r in engaging)) == (1589, 1088)
    assert sum(not r["account"] for r in closed) == 0

    # they come in a batch: 438 of the 893 deals engaged 2017-07-17..08-06 never close,
    # 823 of the 5057 engaged in the rest of March-September
    def never(lo: str, hi: str, inside: bool) -> tuple[int, int]:
        sel = [
            r
            for r in rows
            if r["engage_date"]
            and "2017-03-01" <= r["engage_date"] <= "2017-09-30"
            and (lo <= r["engage_date"] <= hi) == inside
        ]
        return len(sel), sum(r["deal_stage"] == "Engaging" for r in sel)

    assert never("2017-07-17", "2017-08-06", True) == (893, 438)
    assert never("2017-07-17", "2017-08-06", False) == (5057, 823)
    # a curve by age fitted on the whole file, the future included
    histories, _ = log_histories(load_maven(shared_data))
    finals = {"won", "lost"}
    end = _cutoff("2017-12-31")
    hindsight = stage_survival(
        histories,
        cutoff=end,
        won_stages={"won"},
        lost_stages={"lost"},
        observed_from=fit_start(histories, end, None, "first-outcome", finals),
    )
    horizon = timedelta(days=90)
    forecast, never_closed = [], []
    for cut in CUTOFFS:
        deals = open_deals_at(histories, _cutoff(cut), finals=finals)
        forecast.append(
            round(sum(hindsight.win_probability(d.stage, d.age, horizon) for d in deals))
        )
        never_closed.append(
            sum(not any(s in finals for s, at in histories[d.id] if at) for d in deals)
        )
    assert forecast == [586, 631, 790]  # against 609, 597, 541: -4 %, +6 %, +46 %
    assert never_closed == [350, 716, 1474]
