"""
Funnel analytics for notebooks: event logs in; reports, cohorts and charts out.

Import it explicitly (``from funnel import analytics``); it needs the
``salesfunnel[analytics]`` extra (narwhals and polars), ``salesfunnel[plot]`` for charts
and ``salesfunnel[cli]`` for the ``funnel report`` command. Submodules are loaded
on first use, so importing this package is cheap.

* :mod:`~funnel.analytics.eventlog` – the event-log schema and loaders;
* :mod:`~funnel.analytics.replay` – each lead's current stage and history;
* :mod:`~funnel.analytics.report` – funnel reports, breakdowns, cohorts, durations;
* :mod:`~funnel.analytics.charts` – plotly funnel chart and time-to-convert histogram;
* :mod:`~funnel.analytics.datasets` – adapters for the Maven CRM and Olist datasets;
* :mod:`~funnel.analytics.adapters` – Salesforce, HubSpot, Odoo and Pipedrive exports.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

from funnel.exceptions import MissingExtra

if TYPE_CHECKING:
    from funnel.analytics.adapters import load_export, read_export
    from funnel.analytics.charts import (
        cohort_heatmap,
        conversion_trend_chart,
        funnel_chart,
        period_label,
        period_labels,
        time_to_convert_histogram,
        write_chart,
    )
    from funnel.analytics.datasets import load_maven, load_olist
    from funnel.analytics.eventlog import (
        LoadResult,
        load_csv,
        load_frame,
        load_parquet,
        load_path,
        present_steps,
    )
    from funnel.analytics.replay import Replay, ReplayProblem, replay_log
    from funnel.analytics.report import (
        Breakdown,
        Durations,
        FunnelReport,
        breakdown,
        cohorts,
        conversion_trend,
        default_steps,
        dropped_off,
        format_duration,
        funnel_report,
        step_durations,
        time_in_stage,
        time_to_convert,
    )

_WHERE = {
    "Breakdown": "report",
    "Durations": "report",
    "FunnelReport": "report",
    "LoadResult": "eventlog",
    "Replay": "replay",
    "ReplayProblem": "replay",
    "breakdown": "report",
    "cohort_heatmap": "charts",
    "cohorts": "report",
    "conversion_trend": "report",
    "conversion_trend_chart": "charts",
    "default_steps": "report",
    "dropped_off": "report",
    "format_duration": "report",
    "funnel_chart": "charts",
    "funnel_report": "report",
    "load_csv": "eventlog",
    "load_export": "adapters",
    "load_frame": "eventlog",
    "load_maven": "datasets",
    "load_olist": "datasets",
    "load_parquet": "eventlog",
    "load_path": "eventlog",
    "period_label": "charts",
    "period_labels": "charts",
    "present_steps": "eventlog",
    "read_export": "adapters",
    "replay_log": "replay",
    "step_durations": "report",
    "time_in_stage": "report",
    "time_to_convert": "report",
    "time_to_convert_histogram": "charts",
    "write_chart": "charts",
}

__all__ = (
    "Breakdown",
    "Durations",
    "FunnelReport",
    "LoadResult",
    "Replay",
    "ReplayProblem",
    "breakdown",
    "cohort_heatmap",
    "cohorts",
    "conversion_trend",
    "conversion_trend_chart",
    "default_steps",
    "dropped_off",
    "format_duration",
    "funnel_chart",
    "funnel_report",
    "load_csv",
    "load_export",
    "load_frame",
    "load_maven",
    "load_olist",
    "load_parquet",
    "load_path",
    "period_label",
    "period_labels",
    "present_steps",
    "read_export",
    "replay_log",
    "step_durations",
    "time_in_stage",
    "time_to_convert",
    "time_to_convert_histogram",
    "write_chart",
)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'funnel.analytics' has no attribute {name!r}")
    try:
        # the extra's dataframe layer, checked up front: the modules import it only
        # where used (the polars report path never does), but the extra needs it
        if importlib.util.find_spec("narwhals") is None:
            raise ModuleNotFoundError("No module named 'narwhals'", name="narwhals")
        loaded = importlib.import_module(f"funnel.analytics.{module}")
    except ModuleNotFoundError as exc:
        error = MissingExtra.of(exc, f"funnel.analytics.{name}")
        if error is None:
            raise
        raise error from None
    value = getattr(loaded, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
