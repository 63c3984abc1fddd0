"""
Result frames and charts for the forecasting layer, with their libraries imported lazily.

Every result that is a table offers ``to_frame(backend="polars")``: a polars frame
by default (the ``salesfunnel[analytics]`` extra), a pandas frame with
``backend="pandas"`` (``salesfunnel[pandas]``). Charts are plotly figures
(``salesfunnel[plot]``). Nothing here is imported by ``import funnel``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from funnel.exceptions import FunnelError, ValidationError

Backend = Literal["polars", "pandas"]


def to_frame(columns: Mapping[str, Sequence[object]], backend: str = "polars") -> Any:
    """
    A dataframe of *columns* (name -> values, all the same length).

    Raises:
        ValidationError: an unknown backend.
        FunnelError: the backend's library is not installed (naming the extra).
    """
    if backend == "polars":
        try:
            import polars as pl
        except ModuleNotFoundError as exc:  # pragma: no cover - installed in CI
            raise FunnelError("frames need polars: pip install 'salesfunnel[analytics]'") from exc
        return pl.DataFrame({k: list(v) for k, v in columns.items()}, strict=False)
    if backend == "pandas":
        try:
            import pandas as pd
        except ModuleNotFoundError as exc:  # pragma: no cover - installed in CI
            raise FunnelError("frames need pandas: pip install 'salesfunnel[pandas]'") from exc
        return pd.DataFrame({k: list(v) for k, v in columns.items()})
    raise ValidationError(
        f"backend must be 'polars' or 'pandas', got {backend!r}",
        field="backend",
        allowed=("polars", "pandas"),
    )


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
