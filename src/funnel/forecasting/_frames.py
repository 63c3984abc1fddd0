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

from funnel._base.frames import Backend, to_frame
from funnel.exceptions import MissingExtra

# to_frame (and Backend) moved down to the base module funnel._base.frames, so that the
# analytics layer builds its frames with the same helper; imported here for the
# forecasting modules.
__all__ = ("Backend", "html_table", "plotly", "rows_to_columns", "to_frame")


def rows_to_columns(
    rows: Sequence[Mapping[str, object]], names: Sequence[str]
) -> dict[str, list[object]]:
    """Rows (dicts) as columns, in the order of *names*."""
    return {name: [row.get(name) for row in rows] for name in names}


def _missing(exc: ModuleNotFoundError, needed_by: str) -> Exception:
    """The :class:`MissingExtra` naming the extra for *exc*, else *exc* itself."""
    return MissingExtra.of(exc, needed_by) or exc


def plotly() -> Any:
    """``plotly.graph_objects``, or a :class:`~funnel.exceptions.MissingExtra` naming the extra."""
    try:
        import plotly.graph_objects as go
    except ModuleNotFoundError as exc:
        raise _missing(exc, "a forecasting chart") from None
    return go


def html_table(title: str, rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    """
    A small HTML table (for ``_repr_html_``): a caption, a header and rows, all escaped.

    >>> html_table("Fit", [("open", "3")], ("quantity", "value"))[:25]
    '<table><caption>Fit</capt'
    """
    from html import escape

    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return (
        f"<table><caption>{escape(title)}</caption><thead><tr>{head}</tr></thead>"
        f"<tbody>{body}</tbody></table>"
    )
