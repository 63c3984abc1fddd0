"""Charts: plotly figures, HTML export, and a clear error for PNG without kaleido."""

from __future__ import annotations

import importlib.util

import pytest

from funnel import FunnelError
from funnel.analytics import (
    breakdown,
    funnel_chart,
    funnel_report,
    time_to_convert,
    time_to_convert_histogram,
    write_chart,
)


def test_funnel_chart_and_html(log_polars, tmp_path):
    fig = funnel_chart(funnel_report(log_polars))
    assert list(fig.data[0].x) == [5, 4, 3, 3, 2, 2, 2]
    assert fig.data[0].y[0] == "acquired"
    out = write_chart(fig, tmp_path / "f.html")
    assert "plotly" in out.read_text()[:20000].lower()
    split = funnel_chart(breakdown(log_polars, "source"))
    assert [t.name for t in split.data] == ["ads", "web"]


def test_histogram(log_polars):
    fig = time_to_convert_histogram(time_to_convert(log_polars, "mql", "won"))
    assert sorted(fig.data[0].x) == [19.0, 60.0]


@pytest.mark.skipif(importlib.util.find_spec("kaleido") is not None, reason="kaleido present")
def test_png_without_kaleido_says_what_to_install(log_polars, tmp_path):
    with pytest.raises(FunnelError, match="kaleido"):
        write_chart(funnel_chart(funnel_report(log_polars)), tmp_path / "f.png")


def test_unknown_extension(log_polars, tmp_path):
    with pytest.raises(FunnelError, match=r"\.html or \.png"):
        write_chart(funnel_chart(funnel_report(log_polars)), tmp_path / "f.svg")
