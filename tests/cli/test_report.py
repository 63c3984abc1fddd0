"""``funnel report FILE``."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys

import pytest

from funnel.cli import main

CSV = """lead_id,at,stage,source
a,2026-01-01T00:00Z,acquired,web
a,2026-01-02T00:00Z,mql,web
a,2026-01-09T00:00Z,won,web
b,2026-01-01T00:00Z,acquired,ads
b,2026-01-03T00:00Z,lost,ads
,2026-01-03T00:00Z,lost,ads
"""


@pytest.fixture
def log_file(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text(CSV)
    return path


def test_report_prints_table_breakdown_and_rejections(log_file, tmp_path, capsys):
    html = tmp_path / "chart.html"
    code = main(["report", str(log_file), "--by", "source", "--html", str(html)])
    out = capsys.readouterr().out
    assert code == 0
    assert "6 rows in: 5 accepted, 1 rejected" in out
    assert "win rate on closed 50.00%" in out
    assert "missing-id" in out
    assert "ads" in out
    assert html.stat().st_size > 1000


def test_steps_option(log_file, capsys):
    assert main(["report", str(log_file), "--steps", "acquired,won"]) == 0
    out = capsys.readouterr().out
    assert "50.00%" in out


def test_missing_file_is_an_error(tmp_path, capsys):
    assert main(["report", str(tmp_path / "absent.csv")]) == 1
    assert "cannot read" in capsys.readouterr().err


def test_png_without_kaleido(log_file, tmp_path, capsys, monkeypatch):
    from funnel.analytics import charts

    monkeypatch.setattr(charts, "_has_kaleido", lambda: False)
    assert main(["report", str(log_file), "--png", str(tmp_path / "c.png")]) == 1
    assert "kaleido" in capsys.readouterr().err


@pytest.mark.skipif(
    importlib.util.find_spec("kaleido") is None or shutil.which("chromium") is None,
    reason="PNG export needs kaleido and Chromium",
)
def test_png_and_html(log_file, tmp_path):
    png, html = tmp_path / "c.png", tmp_path / "c.html"
    assert main(["report", str(log_file), "--png", str(png), "--html", str(html)]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert "plotly" in html.read_text()[:20000].lower()


def test_import_funnel_and_cli_stay_light():
    code = (
        "import sys, funnel, funnel.analytics, funnel.cli; funnel.cli.build_parser(); "
        "heavy = {'narwhals', 'polars', 'pandas', 'duckdb', 'plotly', 'pyarrow', 'rich'}; "
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_values_with_markup_and_escapes_print_as_typed(tmp_path, capsys):
    """`[/]` in a value crashed with rich's MarkupError; `[bold]` was interpreted; ESC passed."""
    path = tmp_path / "log.csv"
    path.write_text(
        "lead_id,at,stage,source\n"
        "a,2026-01-01T00:00:00Z,acquired,[/]\n"
        "b,2026-01-01T00:00:00Z,acquired,[bold]x\x1b[31m\n"
        "b,2026-01-02T00:00:00Z,mql,[bold]x\x1b[31m\n"
    )
    assert main(["report", str(path), "--by", "source"]) == 0
    out = capsys.readouterr().out
    assert "[/]" in out
    assert "[bold]x" in out
    assert "\x1b" not in out


def test_default_steps_come_from_the_report_pass(log_file, capsys, monkeypatch):
    """Without --steps the present steps came from a separate pass over every row first."""
    from funnel.analytics import eventlog

    def no_extra_pass(*args: object, **kwargs: object) -> tuple[str, ...]:
        raise AssertionError("funnel report made a separate present_steps pass")

    monkeypatch.setattr(eventlog, "present_steps", no_extra_pass)
    assert main(["report", str(log_file), "--by", "source"]) == 0
    out = capsys.readouterr().out
    steps = [s for s in ("Acquired", "MQL", "SQL", "Organisation", "Won") if f"│ {s} " in out]
    assert steps == ["Acquired", "MQL", "Won"]  # the main path's stages the log names
    by_header = next(line for line in out.splitlines() if "source" in line and "win rate" in line)
    assert [s for s in ("Acquired", "MQL", "SQL", "Won") if s in by_header] == steps
