"""
Charts with plotly (the ``salesfunnel[plot]`` extra); steps carry the stages' display names.

* :func:`funnel_chart` – one funnel; a :class:`~funnel.analytics.Breakdown` as grouped bars
  (percent of each group's first step, side by side) or small multiples, one funnel per group;
* :func:`cohort_heatmap` – entry period × step, the percent of each cohort reaching the step;
* :func:`conversion_trend_chart` – a :func:`~funnel.analytics.conversion_trend` as a line;
* :func:`time_to_convert_histogram` – a :func:`~funnel.analytics.time_to_convert` distribution.

Each returns a ``plotly.graph_objects.Figure``; notebooks render it inline. Periods are
labelled ``2016-10`` (months), ``2016-Q4`` (quarters), ``2016-W40`` (ISO weeks),
``2016-10-03`` (days) or ``2016`` (years): see :func:`period_label`.
:func:`write_chart` saves HTML (always works) or PNG (extra ``salesfunnel[png]``: kaleido and a
Chrome or Chromium browser).

Without plotly every chart function raises one :class:`~funnel.exceptions.FunnelError` saying
what to install (``pip install "salesfunnel[plot]"``).
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path
from typing import Any, Literal

from funnel.analytics.report import (
    NONE_LABEL,
    Breakdown,
    Durations,
    FunnelReport,
    period_label,
    period_labels,
)
from funnel.exceptions import FunnelError, ValidationError

__all__ = (
    "MAX_GROUPED",
    "NONE_LABEL",
    "PLOT_HINT",
    "cohort_heatmap",
    "conversion_trend_chart",
    "funnel_chart",
    "missing_extra",
    "period_label",
    "period_labels",
    "time_to_convert_histogram",
    "write_chart",
)

#: What to run when plotly is missing.
PLOT_HINT = 'pip install "salesfunnel[plot]"'

#: At most this many groups side by side in one grouped bar chart; more become small multiples.
MAX_GROUPED = 6


def missing_extra(message: str) -> FunnelError:
    """
    The error for an optional dependency that is not installed: *message* says what to install.

    Raised ``from None`` (no chained ``ImportError``), and shown by IPython and Jupyter as one
    line, ``FunnelError: <message>``, instead of a traceback.
    """
    error = FunnelError(message)
    error._render_traceback_ = lambda: [f"FunnelError: {message}"]  # type: ignore[attr-defined]
    return error


def _plotly() -> Any:
    try:
        import plotly.graph_objects as go
    except ImportError:
        raise missing_extra(f"charts need plotly, which is not installed: {PLOT_HINT}") from None
    return go


def _subplots() -> Any:
    _plotly()
    from plotly.subplots import make_subplots

    return make_subplots


def _narwhals() -> Any:
    try:
        import narwhals as nw
    except ImportError:
        raise missing_extra(
            'charts of frames need narwhals: pip install "salesfunnel[analytics]"'
        ) from None
    return nw


# -- charts ----------------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.0f}%"


def _percent(value: float | None) -> float | None:
    return None if value is None else 100 * value


def _named(split: Breakdown, every: str | None) -> list[tuple[str, FunnelReport]]:
    """The groups by label: cohorts at *every* (default: the one they were cut by)."""
    keys = list(split.reports)
    labels = period_labels(keys, every if every is not None else split.every)
    return list(zip(labels, split.reports.values(), strict=True))


def funnel_chart(
    report: FunnelReport | Breakdown,
    *,
    title: str | None = None,
    layout: Literal["auto", "grouped", "facets"] = "auto",
    measure: Literal["percent", "leads"] = "percent",
    every: str | None = None,
) -> Any:
    """
    A plotly funnel: leads per step, with percent of first and of previous.

    A :class:`~funnel.analytics.Breakdown` is drawn so its groups compare:
    ``layout="grouped"`` puts them side by side, one bar per group on each step
    (*measure* ``"percent"``: of the group's first step, so groups of different
    sizes compare; ``"leads"``: counts); ``"facets"`` draws small multiples, one
    funnel per group. ``"auto"`` groups up to :data:`MAX_GROUPED` groups and
    draws more as small multiples. Cohort periods are labelled as
    :func:`period_labels` says (*every*: the period the cohorts were cut by).

    Raises:
        FunnelError: plotly is not installed (``pip install "salesfunnel[plot]"``).
        ValidationError: an unknown *layout* or *measure*.
    """
    go = _plotly()
    if layout not in ("auto", "grouped", "facets"):
        raise ValidationError(
            f"layout must be 'auto', 'grouped' or 'facets', got {layout!r}",
            field="layout",
            allowed=("auto", "grouped", "facets"),
        )
    if measure not in ("percent", "leads"):
        raise ValidationError(
            f"measure must be 'percent' or 'leads', got {measure!r}",
            field="measure",
            allowed=("percent", "leads"),
        )
    if isinstance(report, Breakdown):
        groups = _named(report, every)
        facets = layout == "facets" or (layout == "auto" and len(groups) > MAX_GROUPED)
        if facets:
            return _facets(report, groups, title=title)
        return _grouped_bars(go, report, groups, title=title, measure=measure)
    name = str(report.label) if report.label is not None else "leads"
    fig = go.Figure(
        go.Funnel(
            name=name,
            y=list(report.display_names),
            x=list(report.counts),
            textinfo="value+percent initial+percent previous",
        )
    )
    fig.update_layout(title=title or "Funnel", showlegend=False)
    return fig


def _grouped_bars(
    go: Any,
    split: Breakdown,
    groups: list[tuple[str, FunnelReport]],
    *,
    title: str | None,
    measure: str,
) -> Any:
    steps = list(split.total.display_names)
    fig = go.Figure()
    for name, rep in groups:
        shares = [_percent(v) for v in rep.conversion_from_first]
        fig.add_trace(
            go.Bar(
                name=name,
                y=steps,
                x=shares if measure == "percent" else list(rep.counts),
                orientation="h",
                text=[_pct(v) for v in rep.conversion_from_first]
                if measure == "percent"
                else [str(c) for c in rep.counts],
                textposition="outside",
                textfont={"size": 12},
                customdata=list(
                    zip(rep.counts, [_pct(v) for v in rep.conversion_from_first], strict=True)
                ),
                hovertemplate=(
                    f"{_escape(name)} · %{{y}}: %{{customdata[0]}} leads "
                    "(%{customdata[1]} of the group)<extra></extra>"
                ),
            )
        )
    per_step = 22 * len(groups) + 34
    fig.update_layout(
        title=title or f"Funnel by {split.by}",
        barmode="group",
        height=max(360, 130 + per_step * len(steps)),
        legend={"title": {"text": split.by}, "traceorder": "normal"},
        xaxis={
            "title": "% of the group's first step" if measure == "percent" else "leads",
            "range": [0, 112] if measure == "percent" else None,
        },
        yaxis={"autorange": "reversed", "title": None},
        bargap=0.25,
        bargroupgap=0.05,
    )
    for trace, (name, _) in zip(fig.data, groups, strict=True):
        trace.legendgroup = name
    return fig


def _escape(text: str) -> str:
    """*text* safe in a plotly hover template (which reads %{...} and HTML)."""
    return text.replace("%", "%%").replace("<", "&lt;").replace(">", "&gt;")


def _facets(split: Breakdown, groups: list[tuple[str, FunnelReport]], *, title: str | None) -> Any:
    go = _plotly()
    make_subplots = _subplots()
    columns = min(3, len(groups)) or 1
    rows = max(1, math.ceil(len(groups) / columns))
    fig = make_subplots(
        rows=rows,
        cols=columns,
        shared_yaxes=True,
        subplot_titles=[f"{name} ({rep.leads})" for name, rep in groups],
        horizontal_spacing=0.03,
        vertical_spacing=min(0.12, 0.5 / rows),
    )
    steps = list(split.total.display_names)
    for i, (name, rep) in enumerate(groups):
        fig.add_trace(
            go.Funnel(
                name=name,
                y=steps,
                x=list(rep.counts),
                textinfo="value+percent initial",
                showlegend=False,
            ),
            row=i // columns + 1,
            col=i % columns + 1,
        )
    fig.update_annotations(font_size=12)  # the panels' titles
    fig.update_layout(
        title=title or f"Funnel by {split.by} (leads)",
        height=max(360, 80 + rows * (90 + 46 * len(steps))),
    )
    return fig


def cohort_heatmap(
    split: Breakdown,
    *,
    every: str | None = None,
    title: str | None = None,
) -> Any:
    """
    A heatmap of a :func:`~funnel.analytics.cohorts` result: entry period × step.

    Each cell is the percent of the period's leads that reached the step (of the
    cohort's first step), written in the cell; hovering shows the lead count. Rows
    are the periods, oldest on top, labelled by :func:`period_labels` (*every*:
    the period the cohorts were cut by, e.g. ``"3mo"``, when the labels should not
    be inferred). Any other breakdown draws the same way, one row per group.

    Raises:
        FunnelError: plotly is not installed (``pip install "salesfunnel[plot]"``).
    """
    go = _plotly()
    groups = _named(split, every)
    steps = list(split.total.display_names)
    z = [[_percent(v) for v in rep.conversion_from_first] for _, rep in groups]
    text = [[_pct(v) for v in rep.conversion_from_first] for _, rep in groups]
    counts = [list(rep.counts) for _, rep in groups]
    rows = [f"{name} ({rep.leads})" for name, rep in groups]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=steps,
            y=rows,
            text=text,
            texttemplate="%{text}",
            customdata=counts,
            hovertemplate="%{y} · %{x}: %{customdata} leads (%{text})<extra></extra>",
            colorscale="Blues",
            zmin=0,
            zmax=100,
            colorbar={"title": {"text": "%"}, "ticksuffix": "%"},
            xgap=1,
            ygap=1,
        )
    )
    label = "entry period" if split.by == "cohort" else split.by
    fig.update_layout(
        title=title or ("Cohorts: % reaching each step" if split.by == "cohort" else None),
        height=max(320, 140 + 30 * len(rows)),
        xaxis={"side": "top", "title": None},
        yaxis={"autorange": "reversed", "title": f"{label} (leads)", "type": "category"},
    )
    return fig


def time_to_convert_histogram(
    durations: Durations, *, bins: int = 30, unit: str = "days", title: str | None = None
) -> Any:
    """
    A plotly histogram of a :func:`~funnel.analytics.time_to_convert` result.

    Raises:
        FunnelError: plotly is not installed (``pip install "salesfunnel[plot]"``).
        ValidationError: *unit* is not ``"days"``, ``"hours"`` or ``"minutes"``.
    """
    go = _plotly()
    nw = _narwhals()
    scales = {"days": 86400.0, "hours": 3600.0, "minutes": 60.0}
    if unit not in scales:
        raise ValidationError(
            f"unit must be 'days', 'hours' or 'minutes', got {unit!r}",
            field="unit",
            allowed=tuple(scales),
        )
    scale = scales[unit]
    seconds = nw.from_native(durations.seconds, eager_only=True).get_column("seconds").to_list()
    values = [s / scale for s in seconds if s is not None]
    fig = go.Figure(go.Histogram(x=values, nbinsx=bins, name="leads"))
    start, end = durations.names or (" | ".join(durations.start), " | ".join(durations.end))
    if durations.median is not None:
        fig.add_vline(
            x=durations.median.total_seconds() / scale,
            line_dash="dash",
            annotation_text="median",
        )
    fig.update_layout(
        title=title or f"Time to convert: {start} → {end}",
        xaxis_title=unit,
        yaxis_title="leads",
    )
    return fig


def conversion_trend_chart(
    trend: Any, *, every: str | None = None, title: str | None = None
) -> Any:
    """
    A plotly line chart of a :func:`~funnel.analytics.conversion_trend` frame.

    The conversion rate per entry period (percent) as a line over bars of the
    leads that entered in each period (right axis). Periods are labelled by
    :func:`period_labels` (*every*: the period the trend was cut by).

    Raises:
        FunnelError: plotly is not installed (``pip install "salesfunnel[plot]"``).
    """
    go = _plotly()
    nw = _narwhals()
    frame = nw.from_native(trend, eager_only=True)
    keys = frame.get_column("period").to_list()
    periods = period_labels(keys, every)
    rates = [_percent(r) for r in frame.get_column("conversion").to_list()]
    leads = frame.get_column("leads").to_list()
    dated = [k is not None for k in keys]
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=[p for p, d in zip(periods, dated, strict=True) if d],
            y=[r for r, d in zip(rates, dated, strict=True) if d],
            mode="lines+markers",
            name="conversion",
            yaxis="y2",  # the overlaying axis: the line is drawn over the bars
            customdata=[n for n, d in zip(leads, dated, strict=True) if d],
            hovertemplate="%{x}: %{y:.1f}% of %{customdata} leads<extra></extra>",
            line={"width": 3},
        )
    )
    if not all(dated):  # leads without an entry time: a point of their own, off the line
        fig.add_trace(
            go.Scatter(
                x=[p for p, d in zip(periods, dated, strict=True) if not d],
                y=[r for r, d in zip(rates, dated, strict=True) if not d],
                mode="markers",
                name=f"{NONE_LABEL}: no entry time",
                yaxis="y2",
                customdata=[n for n, d in zip(leads, dated, strict=True) if not d],
                hovertemplate="%{x}: %{y:.1f}% of %{customdata} leads<extra></extra>",
                marker={"symbol": "x", "size": 10},
            )
        )
    fig.add_trace(
        go.Bar(
            x=periods,
            y=leads,
            name="leads entered",
            marker={"color": "rgba(120, 144, 156, 0.3)"},
            hovertemplate="%{x}: %{y} leads entered<extra></extra>",
        )
    )
    fig.update_layout(
        title=title or "Conversion by entry period",
        xaxis={"title": "entered", "type": "category"},
        yaxis={"title": "leads entered", "side": "right", "showgrid": False},
        yaxis2={
            "title": "% converted",
            "overlaying": "y",
            "side": "left",
            "range": [0, 105],
            "dtick": 20,
            "ticksuffix": "%",
        },
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


def _has_kaleido() -> bool:
    return importlib.util.find_spec("kaleido") is not None


def write_chart(figure: Any, path: str | Path) -> Path:
    """
    Write *figure* to ``.html`` (self-contained) or ``.png``.

    PNG export needs the extra ``salesfunnel[png]`` (kaleido) and a Chrome or
    Chromium browser for kaleido to drive (Debian: ``apt install chromium``).

    Raises:
        FunnelError: PNG export failed (kaleido or a browser is missing, or
            kaleido failed), or the extension is neither ``.html`` nor ``.png``.
    """
    out = Path(path)
    suffix = out.suffix.lower()
    if not out.parent.is_dir():
        raise FunnelError(f"cannot write chart {str(out)!r}: no directory {str(out.parent)!r}")
    if suffix in (".html", ".htm"):
        figure.write_html(out, include_plotlyjs=True, full_html=True)
        return out
    if suffix == ".png":
        if not _has_kaleido():
            raise FunnelError(
                f"cannot write PNG {str(out)!r}: PNG export needs kaleido and Chrome or "
                "Chromium: pip install 'salesfunnel[png]' (or write .html)"
            )
        try:
            figure.write_image(out)
        except Exception as exc:  # plotly/kaleido raise ValueError, RuntimeError, ...
            said = " ".join(str(exc).split())
            raise FunnelError(
                f"cannot write PNG {str(out)!r}: kaleido failed ({type(exc).__name__}: "
                f"{said[:300]}); kaleido needs Chrome or Chromium (Debian: apt install "
                "chromium; or run plotly_get_chrome), or write .html"
            ) from exc
        return out
    raise FunnelError(f"chart files must end in .html or .png, got {str(out)!r}")
