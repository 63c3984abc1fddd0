"""Charts: plotly figures, HTML and PNG export, and clear errors when PNG cannot be written."""

from __future__ import annotations

import importlib.util
import shutil
import struct

import pytest

from funnel import FunnelError
from funnel.analytics import (
    breakdown,
    charts,
    funnel_chart,
    funnel_report,
    time_to_convert,
    time_to_convert_histogram,
    write_chart,
)


def test_funnel_chart_and_html(log_polars, tmp_path):
    fig = funnel_chart(funnel_report(log_polars))
    assert list(fig.data[0].x) == [5, 4, 3, 3, 2, 2, 2]
    assert fig.data[0].y[0] == "Acquired"  # display names
    out = write_chart(fig, tmp_path / "f.html")
    assert "plotly" in out.read_text()[:20000].lower()
    split = funnel_chart(breakdown(log_polars, "source"))
    assert [t.name for t in split.data] == ["ads", "web"]


def test_histogram(log_polars):
    fig = time_to_convert_histogram(time_to_convert(log_polars, "mql", "won"))
    assert sorted(fig.data[0].x) == [19.0, 60.0]
    assert fig.layout.title.text == "Time to convert: MQL → Won"  # display names


def test_histogram_unit_is_checked(log_polars):
    from funnel import ValidationError

    with pytest.raises(ValidationError) as e:
        time_to_convert_histogram(time_to_convert(log_polars, "mql", "won"), unit="weeks")
    assert e.value.field == "unit"


def test_breakdown_by_several_columns_names_its_traces(log_polars):
    fig = funnel_chart(breakdown(log_polars, ["source", "owner"]))
    assert [t.name for t in fig.data] == ["ads / ann", "ads / bob", "web / ann", "web / bob"]


BROWSER = shutil.which("chromium") or shutil.which("google-chrome") or shutil.which("chrome")
CAN_PNG = importlib.util.find_spec("kaleido") is not None and BROWSER is not None


@pytest.mark.skipif(not CAN_PNG, reason="PNG export needs kaleido and Chrome or Chromium")
def test_png_is_a_real_image(log_polars, tmp_path):
    out = write_chart(funnel_chart(funnel_report(log_polars)), tmp_path / "f.png")
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (700, 500)  # plotly's default size


def test_png_without_kaleido_says_what_to_install(log_polars, tmp_path, monkeypatch):
    monkeypatch.setattr(charts, "_has_kaleido", lambda: False)
    with pytest.raises(FunnelError, match=r"salesfunnel\[png\]"):
        write_chart(funnel_chart(funnel_report(log_polars)), tmp_path / "f.png")
    assert not (tmp_path / "f.png").exists()


def test_png_without_a_browser_says_so(tmp_path, monkeypatch):
    """kaleido's own error (here: no Chrome) is kept, on one line, with what to install."""

    class NoBrowser:
        def write_image(self, path: object) -> None:
            raise RuntimeError("\n\nKaleido requires Google Chrome to be installed.\n\n")

    monkeypatch.setattr(charts, "_has_kaleido", lambda: True)
    with pytest.raises(FunnelError) as info:
        write_chart(NoBrowser(), tmp_path / "f.png")
    message = str(info.value)
    assert "RuntimeError: Kaleido requires Google Chrome to be installed.)" in message
    assert "apt install chromium" in message
    assert "\n" not in message


def test_unknown_extension(log_polars, tmp_path):
    with pytest.raises(FunnelError, match=r"\.html or \.png"):
        write_chart(funnel_chart(funnel_report(log_polars)), tmp_path / "f.svg")


def test_missing_directory_is_a_funnel_error(log_polars, tmp_path):
    with pytest.raises(FunnelError, match="no directory"):
        write_chart(funnel_chart(funnel_report(log_polars)), tmp_path / "absent" / "f.html")
