"""Lint, types and docs are part of the test suite: `uv run pytest` checks them all."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import attrs
import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)


def test_ruff_check():
    """ruff finds nothing."""
    result = run(
        sys.executable, "-m", "ruff", "check", "src", "tests", "benchmarks", "conftest.py"
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format():
    """The code is ruff-formatted."""
    result = run(
        sys.executable,
        "-m",
        "ruff",
        "format",
        "--check",
        "src",
        "tests",
        "benchmarks",
        "conftest.py",
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_mypy_strict():
    """mypy --strict passes on the package, the tests and the benchmarks."""
    result = run(sys.executable, "-m", "mypy")
    assert result.returncode == 0, result.stdout + result.stderr


@attrs.frozen
class DocsBuild:
    """One build of the documentation: where the HTML is, and what sphinx-build said."""

    html: Path
    returncode: int
    output: str


def build_docs(out: Path) -> DocsBuild:
    """sphinx-build -W --keep-going: the HTML site in *out*; notebooks executed on the way."""
    result = run(
        sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", "docs", str(out)
    )
    return DocsBuild(html=out, returncode=result.returncode, output=result.stdout + result.stderr)


@pytest.fixture(scope="session")
def docs_build(tmp_path_factory: pytest.TempPathFactory) -> DocsBuild:
    """
    The docs, built once per test run and shared by every test (and xdist worker) that reads them.

    The first to ask builds under the run's temporary folder, holding a lock; the others wait
    for it and read the same result.
    """
    if (
        shutil.which("sphinx-build") is None
        and not (Path(sys.executable).parent / "sphinx-build").exists()
    ):
        pytest.fail("sphinx-build is missing; it is part of the dev dependency group")
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # shared by the workers of this run
    done = root / "docs-build.json"
    with (root / "docs-build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            build = build_docs(root / "docs-html")
            done.write_text(json.dumps(attrs.asdict(build, value_serializer=_plain)))
        data = json.loads(done.read_text())
    return DocsBuild(html=Path(data["html"]), returncode=data["returncode"], output=data["output"])


def _plain(instance: object, field: object, value: object) -> object:
    return str(value) if isinstance(value, Path) else value


@pytest.mark.slow
def test_docs_build_without_warnings(docs_build: DocsBuild):
    """sphinx-build -W builds the documentation, notebooks executed, with no warning."""
    assert docs_build.returncode == 0, docs_build.output
    assert (docs_build.html / "gallery.html").is_file()
    notebook = (docs_build.html / "notebooks" / "funnel-analytics.html").read_text()
    assert notebook.count('class="plotly-graph-div"') >= 6  # executed: the charts are there
    assert "_static/plotly.min.js" in notebook
    assert (docs_build.html / "_static" / "plotly.min.js").stat().st_size > 1_000_000


@pytest.mark.slow
def test_reference_documents_every_layer_with_summary_tables(docs_build: DocsBuild):
    """Each module of the reference opens with a summary table; forecasting is indexed too."""
    api = (docs_build.html / "reference" / "api.html").read_text(encoding="utf-8")
    for module in ("scoring", "predictive", "forecast", "simulation"):
        start = api.index(f'id="module-funnel.forecasting.{module}"')
        section = api[start : api.find('id="module-', start + 1)]
        assert 'class="autosummary' in section, module
    assert 'id="funnel.forecasting.simulation.simulate"' in api  # indexed, linkable
    assert 'id="funnel.forecasting.forecast.Forecast"' in api
    genindex = (docs_build.html / "genindex.html").read_text(encoding="utf-8")
    assert "funnel.forecasting.scoring.score" in genindex
    analytics = (docs_build.html / "reference" / "analytics.html").read_text(encoding="utf-8")
    assert 'id="funnel.analytics.charts.cohort_heatmap"' in analytics
