"""
Charts with plotly (the ``salesfunnel[plot]`` extra): a funnel chart, a time-to-convert
histogram and a conversion trend. Steps are labelled with the stages' display names.

Both return a ``plotly.graph_objects.Figure``; notebooks render it inline.
:func:`write_chart` saves HTML (always works) or PNG (extra ``salesfunnel[png]``: kaleido and a
Chrome or Chromium browser).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from funnel.analytics.report import Breakdown, Durations, FunnelReport, group_label
from funnel.exceptions import FunnelError, ValidationError


def _plotly() -> Any:
    try:
        import plotly.graph_objects as go
    except ModuleNotFoundError as exc:  # pragma: no cover - plotly is installed in CI
        raise FunnelError("charts need plotly: pip install 'salesfunnel[plot]'") from exc
    return go


def funnel_chart(report: FunnelReport | Breakdown, *, title: str | None = None) -> Any:
    """
    A plotly funnel chart: leads per step, with percent of first and of previous.

    A :class:`~funnel.analytics.Breakdown` gives one trace per group.
    """
    go = _plotly()
    fig = go.Figure()
    reports = (
        [(group_label(k), r) for k, r in report.reports.items()]
        if isinstance(report, Breakdown)
        else [(str(report.label) if report.label is not None else "leads", report)]
    )
    for name, rep in reports:
        fig.add_trace(
            go.Funnel(
                name=name,
                y=list(rep.display_names),
                x=list(rep.counts),
                textinfo="value+percent initial+percent previous",
            )
        )
    fig.update_layout(title=title or "Funnel", showlegend=isinstance(report, Breakdown))
    return fig


def time_to_convert_histogram(
    durations: Durations, *, bins: int = 30, unit: str = "days", title: str | None = None
) -> Any:
    """A plotly histogram of a :func:`~funnel.analytics.time_to_convert` result."""
    import narwhals as nw

    go = _plotly()
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


def conversion_trend_chart(trend: Any, *, title: str | None = None) -> Any:
    """
    A plotly line chart of a :func:`~funnel.analytics.conversion_trend` frame.

    The conversion rate per entry period (percent), the number of leads that
    entered in each period on hover.
    """
    import narwhals as nw

    go = _plotly()
    frame = nw.from_native(trend, eager_only=True)
    periods = frame.get_column("period").to_list()
    rates = [None if r is None else 100 * r for r in frame.get_column("conversion").to_list()]
    leads = frame.get_column("leads").to_list()
    fig = go.Figure(
        go.Scatter(
            x=periods,
            y=rates,
            mode="lines+markers",
            name="conversion",
            customdata=leads,
            hovertemplate="%{x}: %{y:.1f}% of %{customdata} leads<extra></extra>",
        )
    )
    fig.update_layout(
        title=title or "Conversion by entry period", xaxis_title="entered", yaxis_title="%"
    )
    return fig
