"""Every notebook in docs/notebooks runs without errors and draws figures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "docs" / "notebooks").glob("*.ipynb"))
FIGURES = {"application/vnd.plotly.v1+json", "image/png", "image/svg+xml"}
#: Source that draws: a notebook containing any of these must render a figure.
DRAWS = ("plotly", "funnel_chart", "time_to_convert_histogram", "matplotlib", ".plot(")


def _draws(nb: Any) -> bool:
    return any(
        cell.cell_type == "code" and any(word in cell.source for word in DRAWS)
        for cell in nb.cells
    )


def _mimetypes(nb: Any) -> set[str]:
    found: set[str] = set()
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            found.update(output.get("data", {}))
    return found


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_and_draws(path: Path) -> None:
    """
    Execute with nbclient (kernel python3 of this venv): no cell errors, figures rendered.

    Every notebook must run; one whose code draws (plotly, matplotlib, the
    funnel charts) must also produce at least one figure output.
    """
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]
    client = NotebookClient(
        nb,
        kernel_name="python3",
        timeout=120,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()  # raises CellExecutionError if a cell fails
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert errors == []
    if _draws(nb) or path.name == "funnel-analytics.ipynb":
        assert _mimetypes(nb) & FIGURES, f"{path.name} drew no figure"
