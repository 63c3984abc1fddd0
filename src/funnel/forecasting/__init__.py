"""
Forecasting: scoring, predictive scoring, weighted pipeline, survival, development, simulation.

Imports from the engine, specification and model layers below it; never from I/O,
analytics or the command line. The back-test, the time-aware probabilities and
the pipeline simulation are loaded on first use (:func:`backtest` and the frames
need the ``salesfunnel[analytics]`` extra; the charts ``salesfunnel[plot]``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from funnel.forecasting.backtest import MODELS, backtest, backtest_chart
    from funnel.forecasting.development import StageDevelopment, stage_development
    from funnel.forecasting.pipeline import OpenDeal, PipelineForecast, simulate_pipeline
    from funnel.forecasting.predictive import (
        FieldWinRate,
        ReliabilityBin,
        ScoringEvaluation,
        evaluate_scoring,
        field_win_rate,
        log_loss,
        reliability,
        time_split,
    )
    from funnel.forecasting.survival import (
        OutcomeHistory,
        StageCurve,
        StageSurvival,
        WinEstimate,
        outcome_history,
        stage_survival,
    )

_WHERE = {
    "MODELS": "backtest",
    "FieldWinRate": "predictive",
    "OpenDeal": "pipeline",
    "OutcomeHistory": "survival",
    "PipelineForecast": "pipeline",
    "ReliabilityBin": "predictive",
    "ScoringEvaluation": "predictive",
    "StageCurve": "survival",
    "StageDevelopment": "development",
    "StageSurvival": "survival",
    "WinEstimate": "survival",
    "backtest": "backtest",
    "backtest_chart": "backtest",
    "evaluate_scoring": "predictive",
    "field_win_rate": "predictive",
    "log_loss": "predictive",
    "outcome_history": "survival",
    "reliability": "predictive",
    "simulate_pipeline": "pipeline",
    "stage_development": "development",
    "stage_survival": "survival",
    "time_split": "predictive",
}

__all__ = (
    "MODELS",
    "FieldWinRate",
    "OpenDeal",
    "OutcomeHistory",
    "PipelineForecast",
    "ReliabilityBin",
    "ScoringEvaluation",
    "StageCurve",
    "StageDevelopment",
    "StageSurvival",
    "WinEstimate",
    "backtest",
    "backtest_chart",
    "evaluate_scoring",
    "field_win_rate",
    "log_loss",
    "outcome_history",
    "reliability",
    "simulate_pipeline",
    "stage_development",
    "stage_survival",
    "time_split",
)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'funnel.forecasting' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"funnel.forecasting.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
