"""
Result tables as dataframes, with their libraries imported lazily.

Every result that is a table offers ``to_frame(backend="polars")``: a polars frame by
default (the ``salesfunnel[analytics]`` extra), a pandas frame with
``backend="pandas"`` (``salesfunnel[pandas]``). Nothing here is imported by
``import funnel``; the analytics and forecasting layers both build their frames here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from funnel.exceptions import LoadError, MissingExtra, ValidationError

if TYPE_CHECKING:
    import polars as pl

#: The libraries a result frame can be made in.
Backend = Literal["polars", "pandas"]
BACKENDS: tuple[Backend, ...] = ("polars", "pandas")
#: The type of a column, where it cannot be inferred from its values (an empty column).
Kind = Literal["int", "float", "str", "bool", "datetime", "duration"]


def read_csv_text(path: str | Path, separator: str = ",") -> pl.DataFrame:
    """
    A CSV file as a polars frame of text columns (the loaders parse and check each).

    Raises:
        ValidationError: *separator* is not one character.
        LoadError: the file cannot be read; when polars cannot parse it, the message
            names the first line that is not UTF-8 or has another number of fields.
    """
    import polars as pl

    if not isinstance(separator, str) or len(separator) != 1:
        raise ValidationError(
            f"separator must be one character, got {separator!r}", field="separator"
        )
    try:
        return pl.read_csv(path, infer_schema=False, separator=separator)
    except (OSError, pl.exceptions.PolarsError) as exc:
        where = _csv_problem(path, separator) if not isinstance(exc, OSError) else None
        detail = where or str(exc).splitlines()[0]
        raise LoadError(f"cannot read CSV {str(path)!r}: {detail}") from None


def read_parquet_file(path: str | Path) -> pl.DataFrame:
    """
    A Parquet file as a polars frame.

    Raises:
        LoadError: the file cannot be read.
    """
    import polars as pl

    try:
        return pl.read_parquet(path)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise LoadError(f"cannot read Parquet {str(path)!r}: {exc}") from exc


def _csv_problem(path: str | Path, separator: str) -> str | None:
    """The first line of *path* that is not UTF-8 or has another number of fields."""
    import csv
    import io

    try:
        raw = Path(path).read_bytes()
    except OSError as exc:  # e.g. a directory: polars' own message then says what it is
        return None if exc.strerror is None else f"{exc.strerror.lower()}"
    for number, line in enumerate(raw.splitlines(), start=1):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as exc:
            return (
                f"line {number} is not UTF-8 (byte 0x{line[exc.start]:02x} at column "
                f"{exc.start + 1}); save the file as UTF-8"
            )
    rows = csv.reader(io.StringIO(raw.decode("utf-8"), newline=""), delimiter=separator)
    width = None
    for row in rows:
        if width is None:
            width = len(row)
        elif row and len(row) != width:
            return f"line {rows.line_num} has {len(row)} field(s), the header has {width}"
    return None


def is_polars_frame(frame: object) -> bool:
    """Whether *frame* is a polars DataFrame or LazyFrame (polars imported only if so)."""
    if type(frame).__module__.partition(".")[0] != "polars":
        return False
    import polars as pl

    return isinstance(frame, pl.DataFrame | pl.LazyFrame)


def pandas_times_in_utc(frame: Any, column: str = "at") -> Any:
    """
    *frame* with a pandas *column* of times in a zone other than UTC converted to UTC; any
    other frame as it is (pandas is not imported for it).

    narwhals reads a pandas zone whose name holds ``_``, ``+`` or ``-``
    (``America/New_York``, ``Etc/GMT+8``) as a type it does not know; the reports cut UTC
    periods and the loaders answer UTC times, so converting first changes no figure.
    """
    if type(frame).__module__.partition(".")[0] != "pandas":
        return frame
    import pandas as pd

    if not isinstance(frame, pd.DataFrame) or column not in frame.columns:
        return frame
    times: Any = frame[column]  # (a frame, for duplicate column names: left to the checks)
    dtype = getattr(times, "dtype", None)
    if isinstance(dtype, pd.DatetimeTZDtype) and str(dtype.tz) != "UTC":
        return frame.assign(**{column: times.dt.tz_convert("UTC")})
    return frame


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
