"""
Every notebook in docs/notebooks is part of the site, runs without errors and draws figures.

The notebooks are executed once, by the docs build (myst-nb, which fails the build on a cell
error); these tests read that build (the shared ``docs_build`` fixture of tests/test_quality.py)
instead of running every notebook a second time.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import pytest

from tests.test_quality import DocsBuild, docs_build  # noqa: F401  (the shared build)

DOCS = Path(__file__).resolve().parents[1] / "docs"
NOTEBOOKS = sorted((DOCS / "notebooks").glob("*.ipynb"))
#: Source that draws: a notebook containing any of these must show a figure.
DRAWS = (
    "plotly",
    "funnel_chart",
    "cohort_heatmap",
    "conversion_trend_chart",
    "time_to_convert_histogram",
    "matplotlib",
    ".plot(",
)
#: How a drawn figure appears in the page: a plotly chart, an SVG or an image.
FIGURE = re.compile(r'class="plotly-graph-div"|<svg[\s>]|<img[^>]+src="[^"]+\.(png|svg)"')


def _read(path: Path) -> Any:
    import nbformat

    return nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]


def _draws(nb: Any) -> bool:
    return any(
        cell.cell_type == "code" and any(word in cell.source for word in DRAWS)
        for cell in nb.cells
    )


def _page(build: DocsBuild, path: Path) -> str:
    page = build.html / "notebooks" / f"{path.stem}.html"
    if not page.is_file():
        pytest.fail(f"{path.name} is not in the site (no {page.name}):\n{build.output[-2000:]}")
    return page.read_text(encoding="utf-8")


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_and_draws(docs_build: DocsBuild, path: Path) -> None:  # noqa: F811
    """Executed at the docs build: no error output, and a figure wherever the code draws."""
    page = _page(docs_build, path)
    assert 'class="output traceback' not in page, f"{path.name} shows a traceback"
    assert "Traceback (most recent call last)" not in html.unescape(page)
    if _draws(_read(path)) or path.name == "funnel-analytics.ipynb":
        assert FIGURE.search(page), f"{path.name} drew no figure"


@pytest.mark.slow
def test_notebooks_are_in_the_toctree() -> None:
    index = (DOCS / "index.md").read_text(encoding="utf-8")
    for path in NOTEBOOKS:
        assert f"notebooks/{path.stem}\n" in index, f"{path.name} is not in docs/index.md"


def test_notebooks_ship_without_outputs() -> None:
    """Outputs come from the build, never from the repository (where they would go stale)."""
    for path in NOTEBOOKS:
        nb = _read(path)
        stale = [i for i, c in enumerate(nb.cells) if c.get("outputs")]
        assert stale == [], f"{path.name}: cells {stale} carry outputs"
