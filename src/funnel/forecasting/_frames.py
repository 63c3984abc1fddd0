"""
Result frames and charts for the forecasting layer, with their libraries imported lazily.

Every result that is a table offers ``to_frame(backend="polars")``: a polars frame
by default (the ``salesfunnel[analytics]`` extra), a pandas frame with
``backend="pandas"`` (``salesfunnel[pandas]``). Charts are plotly figures
(``salesfunnel[plot]``). Nothing here is imported by ``import funnel``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from funnel._frames import Backend, to_frame
from funnel.exceptions import FunnelError

# to_frame (and Backend) moved down to the base module funnel._frames, so that the
# analytics layer builds its frames with the same helper; imported here for the
# forecasting modules.
__all__ = ("Backend", "plotly", "rows_to_columns", "to_frame")


def rows_to_columns(
    rows: Sequence[Mapping[str, object]], names: Sequence[str]
) -> dict[str, list[object]]:
    """Rows (dicts) as columns, in the order of *names*."""
    return {name: [row.get(name) for row in rows] for name in names}


def plotly() -> Any:
    """``plotly.graph_objects``, or a :class:`FunnelError` naming the extra."""
    try:
        import plotly.graph_objects as go
    except ModuleNotFoundError as exc:  # pragma: no cover - plotly is installed in CI
        raise FunnelError("charts need plotly: pip install 'salesfunnel[plot]'") from exc
    return go
