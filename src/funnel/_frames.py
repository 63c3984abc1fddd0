"""
Result tables as dataframes, with their libraries imported lazily.

Every result that is a table offers ``to_frame(backend="polars")``: a polars frame by
default (the ``salesfunnel[analytics]`` extra), a pandas frame with
``backend="pandas"`` (``salesfunnel[pandas]``). Nothing here is imported by
``import funnel``; the analytics and forecasting layers both build their frames here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from funnel.exceptions import MissingExtra, ValidationError

#: The libraries a result frame can be made in.
Backend = Literal["polars", "pandas"]
BACKENDS: tuple[Backend, ...] = ("polars", "pandas")
#: The type of a column, where it cannot be inferred from its values (an empty column).
Kind = Literal["int", "float", "str", "bool", "datetime", "duration"]


def is_polars_frame(frame: object) -> bool:
    """Whether *frame* is a polars DataFrame or LazyFrame (polars imported only if so)."""
    if type(frame).__module__.partition(".")[0] != "polars":
        return False
    import polars as pl

    return isinstance(frame, pl.DataFrame | pl.LazyFrame)


def check_backend(backend: object) -> Backend:
    """
    *backend* if it names a frame library, else a :class:`ValidationError`.

    >>> check_backend("pandas")
    'pandas'
    """
    if backend == "polars":
        return "polars"
    if backend == "pandas":
        return "pandas"
    raise ValidationError(
        f"backend must be 'polars' or 'pandas', got {backend!r}",
        field="backend",
        allowed=BACKENDS,
    )


def to_frame(
    columns: Mapping[str, Sequence[object]],
    backend: str = "polars",
    *,
    kinds: Mapping[str, Kind] | None = None,
) -> Any:
    """
    A dataframe of *columns* (name -> values, all the same length).

    *kinds* gives the type of the columns it names (``"datetime"`` is UTC), so an
    empty result has the same schema as a full one; other columns are inferred.

    Raises:
        ValidationError: an unknown backend.
        MissingExtra: the backend's library is not installed (naming the extra).
    """
    chosen = check_backend(backend)
    kinds = kinds or {}
    if chosen == "polars":
        try:
            import polars as pl
        except ModuleNotFoundError:  # pragma: no cover - installed in CI
            raise MissingExtra("analytics", "frames need polars") from None
        dtypes: dict[str, Any] = {
            "int": pl.Int64(),
            "float": pl.Float64(),
            "str": pl.String(),
            "bool": pl.Boolean(),
            "datetime": pl.Datetime("us", "UTC"),
            "duration": pl.Duration("us"),
        }
        schema = {name: dtypes[kinds[name]] for name in columns if name in kinds}
        return pl.DataFrame(
            {k: list(v) for k, v in columns.items()}, schema_overrides=schema, strict=False
        )
    try:
        import pandas as pd
    except ModuleNotFoundError:  # pragma: no cover - installed in CI
        raise MissingExtra("pandas", "frames need pandas") from None
    frame: Any = pd.DataFrame({k: list(v) for k, v in columns.items()})
    for name, kind in kinds.items():
        if name not in frame.columns:
            continue
        if kind == "datetime":
            frame[name] = pd.to_datetime(frame[name], utc=True)
        elif kind == "duration":
            frame[name] = pd.to_timedelta(frame[name])
        else:
            pandas_type = {"int": "Int64", "float": "float64", "str": "object", "bool": "boolean"}
            column: Any = frame[name]
            frame[name] = column.astype(pandas_type[kind])
    return frame
