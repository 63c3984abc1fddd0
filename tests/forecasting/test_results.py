"""Result objects: short plain reprs, compact HTML tables, frames; missing extras named."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from funnel import Contact, Lead
from funnel.exceptions import MissingExtra
from funnel.forecasting import simulate_pipeline, stage_survival
from funnel.forecasting._frames import plotly, to_frame
from funnel.forecasting.development import stage_development
from funnel.forecasting.forecast import Deal, stage_probabilities, weighted_pipeline
from funnel.forecasting.predictive import TrainingRow, evaluate_scoring, train_pls
from funnel.forecasting.simulation import compare, estimate_chain, simulate

T0 = datetime(2026, 1, 1, tzinfo=UTC)
MONTH = timedelta(days=30)
KW: dict[str, Any] = {"won_stages": {"won"}, "lost_stages": {"lost"}}
NAME = "Zedediah Quux"


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


HIST = {f"W{i}": [("sql", day(i)), ("won", day(i + 10))] for i in range(40)}
HIST |= {f"L{i}": [("sql", day(i)), ("lost", day(i + 5))] for i in range(40)}
HIST |= {f"O{i}": [("sql", day(i))] for i in range(40)}


def results() -> dict[str, object]:
    chain = estimate_chain(list(HIST.values()), **KW)
    rows = [
        TrainingRow(values={"owner": NAME if i % 2 else "x"}, won=i % 3 == 0) for i in range(60)
    ]
    pls = train_pls(rows)
    return {
        "PipelineForecast": simulate_pipeline(
            HIST, cutoff=day(60), horizon=MONTH, runs=200, draws=20, **KW
        ),
        "StageSurvival": stage_survival(HIST, cutoff=day(60), **KW),
        "StageDevelopment": stage_development(HIST, cutoff=day(60), horizon=MONTH, **KW),
        "MarkovChain": chain,
        "SimulationResult": simulate(chain, starting={"sql": 30}, horizon=MONTH, runs=200),
        "Comparison": compare(
            chain,
            chain.with_conversion("sql", "won", 1.1),
            starting={"sql": 30},
            horizon=MONTH,
            runs=200,
        ),
        "Forecast": weighted_pipeline(
            [Deal(id=f"D{i}", value=100, stage="sql") for i in range(500)], {"sql": "0.5"}
        ),
        "StageProbabilities": stage_probabilities([["sql", "won"]] * 5, min_samples=1),
        "ScoringEvaluation": evaluate_scoring(pls, rows[:30], rows[30:]),
        "PLSModel": pls,
    }


RESULTS = results()


@pytest.mark.parametrize("name", sorted(RESULTS))
def test_a_result_has_a_short_plain_repr_without_personal_data(name: str) -> None:
    """The attrs reprs ran to hundreds of characters (every run, every deal line)."""
    text = repr(RESULTS[name])
    assert text.startswith(f"{name}(")
    assert "\n" not in text
    assert len(text) < 130, text
    assert NAME not in text


@pytest.mark.parametrize("name", sorted(n for n in RESULTS if n != "PLSModel"))
def test_a_result_shows_a_compact_table_in_a_notebook(name: str) -> None:
    html = RESULTS[name]._repr_html_()  # type: ignore[attr-defined]
    assert html.startswith("<table><caption>")
    assert html.count("<tr>") <= 12
    assert len(html) < 2500
    assert NAME not in html


@pytest.mark.parametrize("name", sorted(n for n in RESULTS if n != "PLSModel"))
def test_a_result_comes_back_as_a_frame(name: str) -> None:
    pl = pytest.importorskip("polars")
    frame = RESULTS[name].to_frame()  # type: ignore[attr-defined]
    assert isinstance(frame, pl.DataFrame)
    assert frame.height > 0


def test_the_pipeline_forecast_repr_gives_the_total_and_its_interval() -> None:
    text = repr(RESULTS["PipelineForecast"])
    mean, low, high = RESULTS["PipelineForecast"].interval("total")  # type: ignore[attr-defined]
    assert f"total wins {mean:.1f} (90 %: {low:.0f}-{high:.0f})" in text


def test_a_forecast_repr_counts_deals_rather_than_listing_them() -> None:
    assert (
        repr(RESULTS["Forecast"]) == "Forecast(500 deals: 500 open, 0 won, 0 lost; total 25000.00)"
    )


def test_the_survival_frame_lists_every_exit_age() -> None:
    pytest.importorskip("polars")
    frame = RESULTS["StageSurvival"].to_frame()  # type: ignore[attr-defined]
    assert frame["age_days"].to_list() == [5.0, 10.0]
    assert frame["exits_lost"].to_list() == [40.0, 0.0]
    assert frame["exits_won"].to_list() == [0.0, 40.0]


def test_a_prospect_name_never_reaches_a_forecast_repr() -> None:
    lead = Lead(id="L9", contact=Contact(name=NAME), source="web", created_at=T0)
    assert NAME not in repr(weighted_pipeline([], {"sql": "0.5"}))
    assert lead.id == "L9"


@pytest.mark.parametrize(("module", "extra"), [("polars", "analytics"), ("pandas", "pandas")])
def test_a_frame_without_its_library_names_the_extra(
    module: str, extra: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """_frames had its own FunnelError copies; now the one MissingExtra (an ImportError)."""
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(MissingExtra) as info:
        to_frame({"a": [1]}, module)
    assert info.value.extra == extra
    assert isinstance(info.value, ImportError)
    assert f'pip install "salesfunnel[{extra}]"' in str(info.value)


def test_a_chart_without_plotly_names_the_plot_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "plotly", None)
    monkeypatch.setitem(sys.modules, "plotly.graph_objects", None)
    with pytest.raises(MissingExtra) as info:
        plotly()
    assert info.value.extra == "plot"
