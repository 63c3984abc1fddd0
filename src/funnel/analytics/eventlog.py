"""
The event-log schema and its loaders (CSV, Parquet, any dataframe).

An event log has one row per thing that happened to a lead; its columns
(``lead_id``, ``at``, ``stage`` or ``event``, and the optional ``source``,
``owner``, ``segment``, ``value``) are described in :mod:`funnel.model.eventlog`,
the one module that names them.

Any other column is kept as an extra attribute. Loaders validate every row
with vectorised expressions and return a :class:`LoadResult`: the accepted
rows and, separately, the rejected rows with their row number, the column
at fault and a reason. Nothing is dropped:
``rows_in == len(accepted) + len(rejected)``.

Row numbers (the ``row`` column of both frames) are **1-based data rows**:
row 1 is the first row after a CSV header (so CSV line ``row + 1``), or the
first row of a dataframe.

Naive timestamps (no UTC offset) are refused unless you say which time zone
they are in with ``timezone=``: a naive datetime *column* raises
:class:`~funnel.LoadError`; naive *strings* reject their rows
(``naive-timestamp``). Timestamps come out as ``Datetime("us", "UTC")``.

Rejection reasons, checked in this order (a row gets the first that applies):
``missing-id``, ``missing-timestamp``, ``bad-timestamp``, ``naive-timestamp``,
``no-stage-or-event``, ``unknown-stage``, ``unknown-event``, ``bad-value``,
``time-backwards`` (the row is earlier than an accepted earlier row of the
same lead: rows of one lead must be in time order).
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import narwhals as nw

from funnel.engine.funnel import DEFAULT_FUNNEL, Funnel
from funnel.exceptions import LoadError
from funnel.model.eventlog import (
    AT,
    ATTRIBUTES,
    COLUMN,
    EVENT,
    LEAD_ID,
    REASON,
    REJECTED_COLUMNS,
    ROW,
    STAGE,
    VALUE,
)

if TYPE_CHECKING:
    import polars as pl

__all__ = (
    "AT",
    "ATTRIBUTES",
    "EVENT",
    "LEAD_ID",
    "REJECTED_COLUMNS",
    "ROW",
    "STAGE",
    "LoadResult",
    "load_csv",
    "load_frame",
    "load_parquet",
    "load_path",
    "read_log",
)

_ISO_OFFSET = r"[+-]\d{2}:?\d{2}$"
_ISO_UTC = "%Y-%m-%dT%H:%M:%SZ"


@attrs.frozen(kw_only=True)
class LoadResult:
    """
    What a loader accepted and rejected.

    Attributes:
        accepted: The valid rows (native frame: pandas in, pandas out;
            polars for files and for lazy inputs), with a ``row`` column.
        rejected: One row per rejected input row: ``row``, ``lead_id``,
            ``column``, ``reason``, ``value`` (same frame type).
        rows_in: How many data rows were read.
        funnel: The funnel the stages and events were checked against.
    """

    accepted: Any
    rejected: Any
    rows_in: int
    funnel: Funnel = attrs.field(default=DEFAULT_FUNNEL, repr=False)

    def __attrs_post_init__(self) -> None:
        if self.n_accepted + self.n_rejected != self.rows_in:  # pragma: no cover - invariant
            raise AssertionError("rows_in != accepted + rejected")

    @property
    def n_accepted(self) -> int:
        """Number of accepted rows."""
        return int(nw.from_native(self.accepted, eager_only=True).shape[0])

    @property
    def n_rejected(self) -> int:
        """Number of rejected rows."""
        return int(nw.from_native(self.rejected, eager_only=True).shape[0])

    def rejections(self) -> list[dict[str, Any]]:
        """The rejected rows as a list of dicts of plain values (NaN becomes ``None``)."""
        rows = nw.from_native(self.rejected, eager_only=True).iter_rows(named=True)
        return [{k: None if v != v else v for k, v in row.items()} for row in rows]

    def __str__(self) -> str:
        return f"{self.rows_in} rows in: {self.n_accepted} accepted, {self.n_rejected} rejected"

    def _repr_html_(self) -> str:
        rows = "".join(
            "<tr>" + "".join(f"<td>{escape(str(r[c]))}</td>" for c in REJECTED_COLUMNS) + "</tr>"
            for r in self.rejections()[:20]
        )
        head = "".join(f"<th>{c}</th>" for c in REJECTED_COLUMNS)
        table = f"<table><tr>{head}</tr>{rows}</table>" if rows else ""
        return f"<p>{escape(str(self))}</p>{table}"


def read_log(log: Any, funnel: Funnel | None) -> tuple[Any, Funnel]:
    """
    A narwhals frame (eager or lazy) of *log* and the funnel to read it with.

    *log* is a :class:`LoadResult` (its accepted rows, and its funnel unless
    *funnel* is given) or any frame narwhals reads.

    Raises:
        LoadError: *log* is not a frame narwhals can read.
    """
    if isinstance(log, LoadResult):
        funnel = funnel or log.funnel
        log = log.accepted
    try:
        nwf = nw.from_native(log)
    except TypeError as exc:
        raise LoadError(f"not a dataframe narwhals can read: {type(log).__name__}") from exc
    return nwf, funnel or DEFAULT_FUNNEL


def load_csv(
    path: str | Path,
    *,
    funnel: Funnel = DEFAULT_FUNNEL,
    timezone: str | None = None,
    columns: Mapping[str, str] | None = None,
    separator: str = ",",
) -> LoadResult:
    """
    Load an event log from a CSV file (read with polars, every cell as text).

    Args:
        path: The file.
        funnel: Stages and events are checked against this funnel.
        timezone: IANA zone of timestamps written without an offset.
        columns: Renames ``{name in the file: schema name}``.
        separator: The field separator.

    Raises:
        LoadError: the file cannot be read or lacks a required column.
    """
    import polars as pl

    try:
        frame = pl.read_csv(path, infer_schema=False, separator=separator)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise LoadError(f"cannot read CSV {str(path)!r}: {exc}") from exc
    return load_frame(frame, funnel=funnel, timezone=timezone, columns=columns)


def load_parquet(
    path: str | Path,
    *,
    funnel: Funnel = DEFAULT_FUNNEL,
    timezone: str | None = None,
    columns: Mapping[str, str] | None = None,
) -> LoadResult:
    """
    Load an event log from a Parquet file (read with polars).

    Raises:
        LoadError: the file cannot be read or lacks a required column.
    """
    import polars as pl

    try:
        frame = pl.read_parquet(path)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise LoadError(f"cannot read Parquet {str(path)!r}: {exc}") from exc
    return load_frame(frame, funnel=funnel, timezone=timezone, columns=columns)


def load_path(path: str | Path, **kwargs: Any) -> LoadResult:
    """Load ``.csv`` or ``.parquet``/``.pq`` by extension (see :func:`load_csv`)."""
    suffix = Path(path).suffix.lower()
    if suffix in (".parquet", ".pq"):
        return load_parquet(path, **kwargs)
    return load_csv(path, **kwargs)


def _eager(frame: Any) -> nw.DataFrame[Any]:
    """An eager narwhals frame: polars and pandas stay, anything else becomes polars."""
    try:
        nwf = nw.from_native(frame)
    except TypeError as exc:
        raise LoadError(f"not a dataframe narwhals can read: {type(frame).__name__}") from exc
    if isinstance(nwf, nw.LazyFrame):
        return nwf.collect(backend="polars")
    if nwf.implementation in (nw.Implementation.POLARS, nw.Implementation.PANDAS):
        eager: nw.DataFrame[Any] = nwf
        return eager
    import polars as pl

    return nw.from_native(pl.DataFrame(pl.from_arrow(nwf.to_arrow())), eager_only=True)


def _to_polars(series: nw.Series[Any]) -> pl.Series:
    import polars as pl

    if series.implementation is nw.Implementation.POLARS:
        native: pl.Series = series.to_native()
        return native
    result = pl.from_arrow(series.to_arrow())
    assert isinstance(result, pl.Series)
    return result


def _from_polars(values: pl.Series, like: nw.DataFrame[Any]) -> nw.Series[Any]:
    if like.implementation is nw.Implementation.POLARS:
        return nw.from_native(values, series_only=True)
    native = values.to_pandas()
    native.index = like.to_native().index
    return nw.from_native(native, series_only=True)


def _parse_text_timestamps(raw: pl.Series, timezone: str | None) -> tuple[pl.Series, pl.Series]:
    """Parse ISO-8601 text; return (UTC timestamps, problem code or null) as polars series."""
    import polars as pl

    norm = (
        pl.col("s")
        .str.strip_chars()
        .str.replace(r"^(\d{4}-\d{2}-\d{2})$", "${1}T00:00:00")
        .str.replace(r"^(\d{4}-\d{2}-\d{2}) ", "${1}T")
        .str.replace(r"Z$", "+00:00")
        .str.replace(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2})([+-]|$)", "${1}:00${2}")
    )
    df = pl.DataFrame({"s": raw.cast(pl.String)}).with_columns(n=norm)
    aware = pl.col("n").str.to_datetime(
        "%Y-%m-%dT%H:%M:%S%.f%z", strict=False, time_zone="UTC", time_unit="us"
    )
    naive = pl.col("n").str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", strict=False, time_unit="us")
    has_offset = pl.col("n").str.contains(_ISO_OFFSET)
    if timezone is not None:
        local = naive.dt.replace_time_zone(timezone, ambiguous="earliest", non_existent="null")
        local = local.dt.convert_time_zone("UTC")
    else:
        local = pl.lit(None, dtype=pl.Datetime("us", "UTC"))
    df = df.with_columns(
        _at=pl.when(has_offset).then(aware).otherwise(local),
        problem=pl.when(pl.col("s").is_null() | (pl.col("n") == ""))
        .then(pl.lit("missing-timestamp"))
        .when(has_offset & aware.is_null())
        .then(pl.lit("bad-timestamp"))
        .when(~has_offset & naive.is_null())
        .then(pl.lit("bad-timestamp"))
        .when(~has_offset & pl.lit(timezone is None))
        .then(pl.lit("naive-timestamp"))
        .when(~has_offset & local.is_null())
        .then(pl.lit("bad-timestamp"))
        .otherwise(pl.lit(None, dtype=pl.String)),
    )
    return df["_at"], df["problem"]


def _timestamps(frame: nw.DataFrame[Any], timezone: str | None) -> nw.DataFrame[Any]:
    """Replace ``at`` by UTC timestamps and add ``_at_problem`` (code or null)."""
    dtype = frame.schema[AT]
    none = nw.lit(None, dtype=nw.String)
    if isinstance(dtype, nw.Datetime):
        col = nw.col(AT)
        if dtype.time_zone is None:
            if timezone is None:
                raise LoadError(
                    "column 'at' holds naive timestamps; pass timezone= "
                    "(e.g. timezone='UTC') to say which zone they are in"
                )
            col = col.dt.replace_time_zone(timezone)
        col = col.dt.convert_time_zone("UTC").cast(nw.Datetime("us", "UTC"))
        return frame.with_columns(col.alias(AT)).with_columns(
            nw.when(nw.col(AT).is_null())
            .then(nw.lit("missing-timestamp"))
            .otherwise(none)
            .alias("_at_problem"),
            nw.col(AT).dt.to_string(_ISO_UTC).alias("_at_text"),
        )
    if isinstance(dtype, nw.Date):
        if timezone is None:
            raise LoadError("column 'at' holds dates; pass timezone= to place them in time")
        return _timestamps(frame.with_columns(nw.col(AT).cast(nw.Datetime("us"))), timezone)
    if dtype in (nw.String,):
        raw = frame.get_column(AT)
        parsed, problem = _parse_text_timestamps(_to_polars(raw), timezone)
        return frame.with_columns(
            _from_polars(parsed.alias(AT), frame),
            _from_polars(problem.alias("_at_problem"), frame),
            raw.alias("_at_text"),
        )
    raise LoadError(f"column 'at' must hold timestamps or ISO-8601 text, got {dtype}")


def load_frame(
    frame: Any,
    *,
    funnel: Funnel = DEFAULT_FUNNEL,
    timezone: str | None = None,
    columns: Mapping[str, str] | None = None,
) -> LoadResult:
    """
    Validate an event log held in any dataframe narwhals can read.

    polars and pandas frames are validated in their own engine and come back
    as the same type; lazy frames (polars lazy, DuckDB, Dask) and pyarrow
    tables are collected into polars first.

    Args:
        frame: The native dataframe.
        funnel: Stages and events are checked against this funnel.
        timezone: IANA zone of naive timestamps (text or datetime).
        columns: Renames ``{name in the frame: schema name}``.

    Raises:
        LoadError: not a dataframe, a required column is missing, ``row``
            is already a column, or the ``at`` column has naive timestamps
            and no *timezone* was given.

    >>> import polars as pl
    >>> from funnel.analytics import load_frame
    >>> log = pl.DataFrame(dict(lead_id=["a", "a", None], stage=["acquired", "mql", "mql"],
    ...                         at=["2026-01-01T09:00Z", "2026-01-02T09:00Z", "2026-01-02"]))
    >>> result = load_frame(log)
    >>> print(result)
    3 rows in: 2 accepted, 1 rejected
    >>> result.rejections()[0]["reason"]
    'missing-id'
    """
    nwf = _eager(frame)
    if columns:
        nwf = nwf.rename(dict(columns))
    names = set(nwf.columns)
    missing = [c for c in (LEAD_ID, AT) if c not in names]
    if STAGE not in names and EVENT not in names:
        missing.append("stage or event")
    if missing:
        raise LoadError(f"event log lacks column(s): {', '.join(missing)}; has {nwf.columns}")
    if ROW in names:
        raise LoadError("the input already has a 'row' column; rename it (columns=...)")
    rows_in = int(nwf.shape[0])
    nwf = nwf.with_row_index(ROW).with_columns((nw.col(ROW) + 1).cast(nw.Int64))
    nwf = nwf.with_columns(nw.col(LEAD_ID).cast(nw.String))
    for name in (STAGE, EVENT):
        if name in names:
            nwf = nwf.with_columns(nw.col(name).cast(nw.String))
    nwf = _timestamps(nwf, timezone)

    text = nw.lit(None, dtype=nw.String)
    lead = nw.col(LEAD_ID)
    stage = nw.col(STAGE) if STAGE in names else text
    event = nw.col(EVENT) if EVENT in names else text
    checks: list[tuple[nw.Expr, str, str, nw.Expr]] = [
        (lead.is_null() | (lead.str.strip_chars() == ""), "missing-id", LEAD_ID, lead),
        (~nw.col("_at_problem").is_null(), "", AT, nw.col("_at_text")),
        (stage.is_null() & event.is_null(), "no-stage-or-event", STAGE, text),
        (
            ~stage.is_null() & ~stage.is_in(list(funnel.table.stages)),
            "unknown-stage",
            STAGE,
            stage,
        ),
        (
            ~event.is_null() & ~event.is_in(list(funnel.table.events)),
            "unknown-event",
            EVENT,
            event,
        ),
    ]
    if VALUE in names:
        as_text = nw.col(VALUE).cast(nw.String)
        number = _to_number(nwf)
        nwf = nwf.with_columns(number.alias("_value_num"))
        checks.append(
            (
                ~nw.col(VALUE).is_null() & nw.col("_value_num").is_null(),
                "bad-value",
                VALUE,
                as_text,
            )
        )
    reason: Any = text
    column: Any = text
    value: Any = text
    for cond, code, col, val in reversed(checks):
        code_expr = nw.col("_at_problem") if code == "" else nw.lit(code)
        reason = nw.when(cond).then(code_expr).otherwise(reason)
        column = nw.when(cond).then(nw.lit(col)).otherwise(column)
        value = nw.when(cond).then(val.cast(nw.String)).otherwise(value)
    nwf = nwf.with_columns(reason.alias("_reason"), column.alias("_column"), value.alias("_value"))
    if VALUE in names:
        nwf = nwf.with_columns(nw.col("_value_num").alias(VALUE)).drop("_value_num")

    # Time going backwards within a lead, among rows that passed the checks above.
    ok = nwf.filter(nw.col("_reason").is_null())
    later = ok.with_columns(_max=nw.col(AT).cum_max().over(LEAD_ID, order_by=ROW)).filter(
        nw.col(AT) < nw.col("_max")
    )
    backwards = later.select(
        nw.col(ROW),
        nw.col(LEAD_ID),
        nw.lit(AT).alias(COLUMN),
        nw.lit("time-backwards").alias(REASON),
        (nw.col("_at_text") + nw.lit(" < ") + nw.col("_max").dt.to_string(_ISO_UTC)).alias(VALUE),
    )
    bad = nwf.filter(~nw.col("_reason").is_null()).select(
        nw.col(ROW),
        nw.col(LEAD_ID),
        nw.col("_column").alias(COLUMN),
        nw.col("_reason").alias(REASON),
        nw.col("_value").alias(VALUE),
    )
    rejected = nw.concat([bad, backwards]).sort(ROW)
    backwards_rows = backwards.get_column(ROW).to_list()
    keep = [ROW, *(c for c in nwf.columns if c in names)]
    accepted = ok.filter(~nw.col(ROW).is_in(backwards_rows)).select(keep)
    return LoadResult(
        accepted=_native(accepted),
        rejected=_native(rejected),
        rows_in=rows_in,
        funnel=funnel,
    )


def _native(frame: nw.DataFrame[Any]) -> Any:
    """The native frame; pandas gets a fresh 0..n-1 index."""
    native = frame.to_native()
    if frame.implementation is nw.Implementation.PANDAS:
        return native.reset_index(drop=True)
    return native


def _to_number(frame: nw.DataFrame[Any]) -> nw.Expr | nw.Series[Any]:
    """The ``value`` column as Float64; text that is not a number becomes null."""
    if frame.schema[VALUE].is_numeric():
        return nw.col(VALUE).cast(nw.Float64)
    import polars as pl

    raw = _to_polars(frame.get_column(VALUE))
    parsed = raw.cast(pl.String).str.strip_chars().cast(pl.Float64, strict=False)
    return _from_polars(parsed.alias("_value_num"), frame)
