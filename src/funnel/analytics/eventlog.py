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
``no-stage-or-event``, ``unknown-stage``, ``unknown-event``, ``bad-value``.

The order of the rows does not matter: loading any permutation of a log
accepts the same rows, rejects the same rows and flags the same warnings.
Each lead's history is its rows sorted by time (ties in file order).

**Time conflicts are warnings, not rejections.** A stage row whose stage
cannot follow a stage the lead entered strictly *earlier* (an ``mql`` row
two days after the lead was ``won``, say) is accepted, so it counts for the
stages reached, and listed in :attr:`LoadResult.warnings` (``time-conflict``)
with its row and time and the other row and its time. Its ``at`` is set to
null in :attr:`LoadResult.accepted` (the recorded time is in the warning), so
that durations and cohorts leave it out. Rows at the same time never conflict.

**Missing times.** With ``allow_missing_time=True`` (the dataset adapters
use it for snapshot data that has no date for a stage) a *stage* row with no
time is accepted with a null ``at``: it counts for the stages reached and is
left out of durations and cohorts (a lead with no dated row falls in the
``None`` cohort). Event rows still need a time.

Stage names can be mapped on the way in (``stages={"Won": "won"}``); a stage
that is still unknown after mapping rejects its row (``unknown-stage``, the
value as written in the file). ``date_format`` parses text times with a
strptime format (polars' parser): a format without ``%z`` gives local times,
which need ``timezone=``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from funnel._base.frames import (
    is_polars_frame,
    pandas_times_in_utc,
    read_csv_text,
    read_parquet_file,
)
from funnel.engine.funnel import DEFAULT_FUNNEL, Funnel
from funnel.engine.replay import WHITE_SPACE, blank_suspects, plain_value
from funnel.exceptions import FunnelError, LoadError, ValidationError
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
    require_columns,
)

if TYPE_CHECKING:
    import narwhals as nw
    import polars as pl

__all__ = (
    "AT",
    "ATTRIBUTES",
    "EVENT",
    "LEAD_ID",
    "REJECTED_COLUMNS",
    "ROW",
    "STAGE",
    "WARNING_COLUMNS",
    "LoadResult",
    "load_csv",
    "load_frame",
    "load_parquet",
    "load_path",
    "present_steps",
    "read_log",
)

_ISO_OFFSET = r"[+-]\d{2}:?\d{2}$"
_ISO_UTC = "%Y-%m-%dT%H:%M:%SZ"

#: Columns of :attr:`LoadResult.warnings`: the row, its lead, its stage and time
#: (ISO text, UTC), the earlier-stage row it conflicts with, that row's stage and time.
OTHER_ROW = "other_row"
OTHER_STAGE = "other_stage"
OTHER_AT = "other_at"
WARNING_COLUMNS = (ROW, LEAD_ID, STAGE, AT, OTHER_ROW, OTHER_STAGE, OTHER_AT, REASON)
TIME_CONFLICT = "time-conflict"


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
        warnings: Accepted rows flagged ``time-conflict``, one row each with
            :data:`WARNING_COLUMNS` (same frame type); ``None`` when the
            loader did not check (counts as none).
    """

    accepted: Any
    rejected: Any
    rows_in: int
    funnel: Funnel = attrs.field(default=DEFAULT_FUNNEL, repr=False)
    warnings: Any = attrs.field(default=None, repr=False)

    def __attrs_post_init__(self) -> None:
        if self.n_accepted + self.n_rejected != self.rows_in:  # pragma: no cover - invariant
            raise AssertionError("rows_in != accepted + rejected")

    @property
    def n_accepted(self) -> int:
        """Number of accepted rows."""
        return int(self.accepted.shape[0])

    @property
    def n_rejected(self) -> int:
        """Number of rejected rows."""
        return int(self.rejected.shape[0])

    @property
    def n_warnings(self) -> int:
        """Number of accepted rows flagged with a warning."""
        if self.warnings is None:
            return 0
        return int(self.warnings.shape[0])

    def warning_rows(self) -> list[dict[str, Any]]:
        """The warnings as a list of dicts of plain values (NaN becomes ``None``)."""
        if self.warnings is None:
            return []
        return _plain_rows(self.warnings)

    def rejections(self) -> list[dict[str, Any]]:
        """The rejected rows as a list of dicts of plain values (NaN becomes ``None``)."""
        return _plain_rows(self.rejected)

    def __str__(self) -> str:
        text = f"{self.rows_in} rows in: {self.n_accepted} accepted, {self.n_rejected} rejected"
        if self.n_warnings:
            text += f"; {self.n_warnings} accepted with a warning (time-conflict)"
        return text

    def __repr__(self) -> str:
        return f"LoadResult(<{self}>)"

    def _repr_html_(self) -> str:
        from html import escape

        return (
            f"<p>{escape(str(self))}</p>"
            + _html_table(self.rejections()[:20], REJECTED_COLUMNS)
            + _html_table(self.warning_rows()[:20], WARNING_COLUMNS)
        )


def _plain_rows(frame: Any) -> list[dict[str, Any]]:
    """The rows of a native frame as dicts (polars read directly, others through narwhals)."""
    if is_polars_frame(frame):
        rows: Any = frame.iter_rows(named=True)
    else:
        import narwhals as nw

        rows = nw.from_native(frame, eager_only=True).iter_rows(named=True)
    # a missing cell as None: NaN, NaT and pd.NA (whose != has no truth value)
    return [{k: plain_value(v) for k, v in row.items()} for row in rows]


def _html_table(rows: list[dict[str, Any]], names: tuple[str, ...]) -> str:
    """The rows as an HTML table, e-mail addresses and phone numbers masked (lead ids, values)."""
    from funnel._base.markup import esc

    if not rows:
        return ""
    body = "".join(
        "<tr>" + "".join(f"<td>{esc(r[c])}</td>" for c in names) + "</tr>" for r in rows
    )
    head = "".join(f"<th>{c}</th>" for c in names)
    return f"<table><tr>{head}</tr>{body}</table>"


def present_steps(log: Any, funnel: Funnel | None = None) -> tuple[str, ...]:
    """
    The report steps a log has data for: the funnel's main path, kept where present.

    The steps are the stages of :attr:`~funnel.Funnel.main_path` that some row
    of *log* (a :class:`LoadResult` or a frame with a ``stage`` column) names,
    in funnel order; each is reachable from the one before, so they are valid
    ``steps=`` for the reports. A log with no stage column, or none of the
    main path's stages, gets the whole main path.

    >>> import polars as pl
    >>> present_steps(pl.DataFrame({"stage": ["won", "mql", "lost", None]}))
    ('mql', 'won')
    """
    import narwhals as nw

    nwf, funnel = read_log(log, funnel)
    if STAGE not in nwf.columns:
        return funnel.main_path
    found = nwf.select(nw.col(STAGE).cast(nw.String)).unique()
    if isinstance(found, nw.LazyFrame):
        found = found.collect(backend="polars")
    present = {v for v in found.get_column(STAGE).to_list() if isinstance(v, str)}
    steps = tuple(s for s in funnel.main_path if s in present)
    return steps or funnel.main_path


def read_log(log: Any, funnel: Funnel | None) -> tuple[Any, Funnel]:
    """
    A narwhals frame (eager or lazy) of *log* and the funnel to read it with.

    *log* is a :class:`LoadResult` (its accepted rows, and its funnel unless
    *funnel* is given) or any frame narwhals reads.

    Raises:
        LoadError: *log* is not a frame narwhals can read.
    """
    import narwhals as nw

    if isinstance(log, LoadResult):
        funnel = funnel or log.funnel
        log = log.accepted
    try:
        nwf = nw.from_native(pandas_times_in_utc(log))
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
    stages: Mapping[str, str] | None = None,
    date_format: str | None = None,
    allow_missing_time: bool = False,
) -> LoadResult:
    """
    Load an event log from a CSV file (read with polars, every cell as text).

    Args:
        path: The file.
        funnel: Stages and events are checked against this funnel.
        timezone: IANA zone of timestamps written without an offset.
        columns: Renames ``{name in the file: schema name}``.
        separator: The field separator (one character).
        stages: Stage names ``{name in the file: funnel stage}`` (others kept).
        date_format: A strptime format for the ``at`` text (default: ISO 8601).
        allow_missing_time: Accept stage rows with no time (null ``at``).

    Raises:
        LoadError: the file cannot be read or lacks a required column.
        ValidationError: *separator* is not one character, *stages* not a
            mapping of names.
    """
    frame = read_csv_text(path, separator)
    return load_frame(
        frame,
        funnel=funnel,
        timezone=timezone,
        columns=columns,
        stages=stages,
        date_format=date_format,
        allow_missing_time=allow_missing_time,
    )


def load_parquet(
    path: str | Path,
    *,
    funnel: Funnel = DEFAULT_FUNNEL,
    timezone: str | None = None,
    columns: Mapping[str, str] | None = None,
    stages: Mapping[str, str] | None = None,
    date_format: str | None = None,
    allow_missing_time: bool = False,
) -> LoadResult:
    """
    Load an event log from a Parquet file (read with polars); arguments as :func:`load_csv`.

    Raises:
        LoadError: the file cannot be read or lacks a required column.
    """
    frame = read_parquet_file(path)
    return load_frame(
        frame,
        funnel=funnel,
        timezone=timezone,
        columns=columns,
        stages=stages,
        date_format=date_format,
        allow_missing_time=allow_missing_time,
    )


def load_path(path: str | Path, **kwargs: Any) -> LoadResult:
    """
    Load ``.csv`` or ``.parquet``/``.pq`` by extension (see :func:`load_csv`).

    Keyword arguments go to the loader (``separator`` only to CSV).
    """
    suffix = Path(path).suffix.lower()
    if suffix in (".parquet", ".pq"):
        if kwargs.pop("separator", ",") != ",":
            raise ValidationError("separator applies to CSV files only", field="separator")
        return load_parquet(path, **kwargs)
    return load_csv(path, **kwargs)


def _check_stages(stages: Any, funnel: Funnel) -> dict[str, str]:
    """
    *stages* as a dict of names, or a :class:`ValidationError` naming the argument.

    Each target must be a stage of *funnel*: a mapping onto a typo would reject every
    row it maps as an unknown stage. The message names the target (a stage name the
    caller wrote), never the names in the data.
    """
    if stages is None:
        return {}
    if not isinstance(stages, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in stages.items()
    ):
        raise ValidationError(
            "stages must map names in the data to stage names (str to str), "
            f"got {type(stages).__name__}",
            field="stages",
        )
    known = set(funnel.stages)
    bad = sorted({v for v in stages.values() if v not in known})
    if bad:
        raise ValidationError(
            f"stages maps onto {bad[0]!r}, which is not a stage of the funnel; "
            f"its stages: {list(funnel.stages)}",
            field="stages",
            allowed=tuple(funnel.stages),
        )
    return dict(stages)


def _eager(frame: Any) -> nw.DataFrame[Any]:
    """An eager narwhals frame: polars and pandas stay, anything else becomes polars."""
    import narwhals as nw

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
    import narwhals as nw
    import polars as pl

    if series.implementation is nw.Implementation.POLARS:
        native: pl.Series = series.to_native()
        return native
    result = pl.from_arrow(series.to_arrow())
    assert isinstance(result, pl.Series)
    return result


def _from_polars(values: pl.Series, like: nw.DataFrame[Any]) -> nw.Series[Any]:
    import narwhals as nw

    if like.implementation is nw.Implementation.POLARS:
        return nw.from_native(values, series_only=True)
    native = values.to_pandas()
    native.index = like.to_native().index
    return nw.from_native(native, series_only=True)


def _parse_text_timestamps(
    raw: pl.Series, timezone: str | None, date_format: str | None = None
) -> tuple[pl.Series, pl.Series]:
    """Parse ISO-8601 text (or *date_format*); return (UTC timestamps, problem code or null)."""
    import polars as pl

    if date_format is not None:
        return _parse_formatted(raw, timezone, date_format)
    text = raw.cast(pl.String)
    # Fast path: the shape most logs write (``2026-01-01T09:00:00Z``, 20 bytes), parsed
    # with one fixed format; every other row (other shapes, nulls, and texts of that
    # length the format does not parse) goes through the general parser.
    shaped = ((text.str.len_bytes() == 20) & text.str.ends_with("Z")).fill_null(False)
    if not shaped.any():
        return _parse_iso(text, timezone)
    if shaped.all():
        fast = text.str.to_datetime(_ISO_UTC, strict=False, time_unit="us", cache=False)
    else:
        where = shaped.arg_true()
        fast = pl.Series(AT, [None], dtype=pl.Datetime("us")).extend_constant(None, len(text) - 1)
        fast = fast.scatter(
            where,
            text.gather(where).str.to_datetime(
                _ISO_UTC, strict=False, time_unit="us", cache=False
            ),
        )
    fast = fast.dt.replace_time_zone("UTC").alias("_at")
    problem = pl.Series("problem", [None], dtype=pl.String).extend_constant(None, len(text) - 1)
    rest = fast.is_null()
    if not rest.any():
        return fast, problem
    at = rest.arg_true()
    parsed, why = _parse_iso(text.gather(at), timezone)
    return fast.scatter(at, parsed), problem.scatter(at, why)


def _parse_iso(text: pl.Series, timezone: str | None) -> tuple[pl.Series, pl.Series]:
    """The general ISO-8601 parser: spaces, dates alone, offsets, minutes, fractions."""
    import polars as pl

    norm = (
        pl.col("s")
        .str.strip_chars()
        .str.replace(r"^(\d{4}-\d{2}-\d{2})$", "${1}T00:00:00")
        .str.replace(r"^(\d{4}-\d{2}-\d{2}) ", "${1}T")
        .str.replace(r"Z$", "+00:00")
        .str.replace(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2})([+-]|$)", "${1}:00${2}")
    )
    df = pl.DataFrame({"s": text}).with_columns(n=norm)
    aware = pl.col("n").str.to_datetime(
        "%Y-%m-%dT%H:%M:%S%.f%z", strict=False, time_zone="UTC", time_unit="us"
    )
    naive = pl.col("n").str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", strict=False, time_unit="us")
    has_offset = pl.col("n").str.contains(_ISO_OFFSET)
    return _verdicts(df, aware, naive, has_offset, timezone)


def _verdicts(
    df: pl.DataFrame, aware: pl.Expr, naive: pl.Expr, has_offset: pl.Expr, timezone: str | None
) -> tuple[pl.Series, pl.Series]:
    """Timestamps and problem codes of text ``s`` (normalised ``n``) parsed two ways."""
    import polars as pl

    at, problem = _verdict_exprs(pl.col("s"), pl.col("n"), aware, naive, has_offset, timezone)
    df = df.with_columns(at.alias("_at"), problem.alias("problem"))
    return df["_at"], df["problem"]


def _verdict_exprs(
    s: pl.Expr,
    n: pl.Expr,
    aware: pl.Expr,
    naive: pl.Expr,
    has_offset: pl.Expr,
    timezone: str | None,
) -> tuple[pl.Expr, pl.Expr]:
    """The time and the problem code (or null) of text *s* (normalised *n*) parsed two ways."""
    import polars as pl

    if timezone is not None:
        local = naive.dt.replace_time_zone(timezone, ambiguous="earliest", non_existent="null")
        local = local.dt.convert_time_zone("UTC")
    else:
        local = pl.lit(None, dtype=pl.Datetime("us", "UTC"))
    at = pl.when(has_offset).then(aware).otherwise(local)
    problem = (
        pl.when(s.is_null() | (n == ""))
        .then(pl.lit("missing-timestamp"))
        .when(has_offset & aware.is_null())
        .then(pl.lit("bad-timestamp"))
        .when(~has_offset & naive.is_null())
        .then(pl.lit("bad-timestamp"))
        .when(~has_offset & pl.lit(timezone is None))
        .then(pl.lit("naive-timestamp"))
        .when(~has_offset & local.is_null())
        .then(pl.lit("bad-timestamp"))
        .otherwise(pl.lit(None, dtype=pl.String))
    )
    return at, problem


def _formatted_exprs(text: pl.Expr, date_format: object) -> tuple[pl.Expr, pl.Expr, bool]:
    """
    *text* (stripped) parsed with a strptime *date_format*: the aware parse, the naive
    parse, and whether the format carries an offset (``%z``: aware, else local).
    """
    import polars as pl

    if not isinstance(date_format, str) or "%" not in date_format:
        raise ValidationError(
            f"date_format must be a strptime format such as '%d/%m/%Y', got {date_format!r}",
            field="date_format",
        )
    offset = "%z" in date_format or "%:z" in date_format or "%#z" in date_format
    if offset:
        aware = text.str.to_datetime(date_format, strict=False, time_zone="UTC", time_unit="us")
        return aware, pl.lit(None, dtype=pl.Datetime("us")), True
    naive = text.str.to_datetime(date_format, strict=False, time_unit="us")
    return pl.lit(None, dtype=pl.Datetime("us", "UTC")), naive, False


def _parse_formatted(
    raw: pl.Series, timezone: str | None, date_format: str
) -> tuple[pl.Series, pl.Series]:
    """Text parsed with a strptime *date_format* by polars (``%z``: aware, else local)."""
    import polars as pl

    aware, naive, offset = _formatted_exprs(pl.col("n"), date_format)
    df = pl.DataFrame({"s": raw.cast(pl.String)}).with_columns(n=pl.col("s").str.strip_chars())
    try:
        return _verdicts(df, aware, naive, pl.lit(offset), timezone)
    except pl.exceptions.PolarsError as exc:
        raise ValidationError(
            f"date_format {date_format!r} is not a format polars can parse with: {exc}",
            field="date_format",
        ) from exc


def _datetime_exprs(ns: Any, *, date: bool, naive: bool, tz: str | None) -> tuple[Any, list[Any]]:
    """
    A datetime (or *date*) ``at`` column as UTC times, then ``_at_problem`` and
    ``_at_text`` computed from them, in the expression namespace *ns* (``polars`` or
    ``narwhals``, whose expressions agree here). A *naive* column is placed in *tz*.
    """
    col = ns.col(AT)
    if date:
        if tz is None:
            raise LoadError(
                "column 'at' holds dates; pass timezone= (funnel report: --timezone) to "
                "place them in time"
            )
        col = col.cast(ns.Datetime("us"))
    if naive:
        if tz is None:
            raise LoadError(
                "column 'at' holds naive timestamps; pass timezone= (e.g. timezone='UTC'; "
                "funnel report: --timezone UTC) to say which zone they are in"
            )
        col = col.dt.replace_time_zone(tz)
    at = col.dt.convert_time_zone("UTC").cast(ns.Datetime("us", "UTC")).alias(AT)
    then = [
        ns.when(ns.col(AT).is_null())
        .then(ns.lit("missing-timestamp"))
        .otherwise(ns.lit(None, dtype=ns.String))
        .alias("_at_problem"),
        ns.col(AT).dt.to_string(_ISO_UTC).alias("_at_text"),
    ]
    return at, then


def _timestamps(
    frame: nw.DataFrame[Any], timezone: str | None, date_format: str | None = None
) -> nw.DataFrame[Any]:
    """Replace ``at`` by UTC timestamps and add ``_at_problem`` (code or null)."""
    import narwhals as nw

    dtype = frame.schema[AT]
    if isinstance(dtype, nw.Datetime | nw.Date):
        date = isinstance(dtype, nw.Date)
        at, then = _datetime_exprs(
            nw, date=date, naive=getattr(dtype, "time_zone", None) is None, tz=timezone
        )
        return frame.with_columns(at).with_columns(*then)
    if dtype in (nw.String,):
        raw = frame.get_column(AT)
        parsed, problem = _parse_text_timestamps(_to_polars(raw), timezone, date_format)
        return frame.with_columns(
            _from_polars(parsed.alias(AT), frame),
            _from_polars(problem.alias("_at_problem"), frame),
            raw.alias("_at_text"),
        )
    if frame.select(nw.col(AT).is_null().all()).item():
        # an all-null column of another dtype (pandas object, polars Null): no times at all
        return _timestamps(frame.with_columns(nw.col(AT).cast(nw.String)), timezone, date_format)
    raise LoadError(f"column 'at' must hold timestamps or ISO-8601 text, got {dtype}")


#: Packages whose exceptions the loader turns into a LoadError.
_ENGINES = frozenset({"polars", "pandas", "pyarrow", "duckdb", "narwhals", "dask"})


def _check_zone(timezone: str | None) -> None:
    """Refuse a time zone that is not an IANA name (``""`` was silently UTC)."""
    if timezone is None:
        return
    import zoneinfo

    if not isinstance(timezone, str) or not timezone.strip():
        raise ValidationError(
            "timezone must be an IANA zone name such as 'Europe/Paris' or 'UTC'",
            field="timezone",
        )
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(
            f"unknown time zone {timezone!r}; use an IANA name such as 'Europe/Paris'",
            field="timezone",
        ) from None


def _check_columns(columns: Mapping[str, str], present: Sequence[str]) -> dict[str, str]:
    """The renames of ``columns=``, refused when they name a missing or a taken column."""
    if not isinstance(columns, Mapping):
        raise ValidationError(
            "columns must map names in the frame to schema names", field="columns"
        )
    targets: dict[str, str] = {}
    for source, target in columns.items():
        if source not in present:
            raise ValidationError(
                f"columns= renames {source!r}, which the frame lacks; it has {list(present)}",
                field="columns",
            )
        if target in present and target != source and target not in columns:
            raise ValidationError(
                f"columns= renames {source!r} to {target!r}, which the frame already has",
                field="columns",
            )
        if target in targets:
            raise ValidationError(
                f"columns= renames both {targets[target]!r} and {source!r} to {target!r}",
                field="columns",
            )
        targets[target] = source
    return dict(columns)


def _id_text(nwf: Any) -> Any:
    """Lead ids as text: whole-number floats (pandas ids with a gap) without ``.0``."""
    import narwhals as nw

    dtype = nwf.schema[LEAD_ID]
    if dtype in (nw.List, nw.Struct, nw.Array, nw.Binary, nw.Boolean) or isinstance(
        dtype, nw.List | nw.Struct | nw.Array
    ):
        raise ValidationError(
            f"lead ids must be text or whole numbers, got {dtype}", field=LEAD_ID
        )
    col = nw.col(LEAD_ID)
    if dtype.is_float():
        whole = col.is_null() | (col == col.round(0))
        if bool(nwf.select(whole.all()).item()):
            return col.cast(nw.String).str.replace(r"\.0$", "")
    return col.cast(nw.String)


def load_frame(
    frame: Any,
    *,
    funnel: Funnel = DEFAULT_FUNNEL,
    timezone: str | None = None,
    columns: Mapping[str, str] | None = None,
    stages: Mapping[str, str] | None = None,
    date_format: str | None = None,
    allow_missing_time: bool = False,
) -> LoadResult:
    """
    Validate an event log held in any dataframe narwhals can read.

    polars and pandas frames are validated in their own engine and come back
    as the same type; lazy frames (polars lazy, DuckDB, Dask) and pyarrow
    tables are collected into polars first. The result does not depend on
    the order of the rows (see the module docs).

    Args:
        frame: The native dataframe.
        funnel: Stages and events are checked against this funnel.
        timezone: IANA zone of naive timestamps (text or datetime).
        columns: Renames ``{name in the frame: schema name}``.
        stages: Stage names ``{name in the data: funnel stage}``; names not
            in it are kept as they are.
        date_format: A strptime format for text in ``at`` (polars' parser).
        allow_missing_time: Accept *stage* rows with no time (null ``at``):
            they count for the stages reached, not for durations or cohorts.

    Raises:
        LoadError: not a dataframe, a required column is missing, ``row``
            is already a column, or the ``at`` column has naive timestamps
            and no *timezone* was given.
        ValidationError: *stages* is not a mapping of names or maps onto a name
            that is not a stage of *funnel*, *date_format* not a format.

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
    mapping = _check_stages(stages, funnel)
    _check_zone(timezone)
    options = _Options(funnel, timezone, date_format, allow_missing_time, mapping)
    if is_polars_frame(frame):
        return _load_polars(frame, columns, options)
    import narwhals as nw

    at_source = next((k for k, v in (columns or {}).items() if v == AT), AT)
    nwf = _eager(pandas_times_in_utc(frame, at_source))
    if nwf.implementation is nw.Implementation.POLARS:  # lazy frames, pyarrow, DuckDB...
        return _load_polars(nwf.to_native(), columns, options)
    if columns:
        nwf = nwf.rename(_check_columns(columns, nwf.columns))
    names = _check_names(nwf.columns)
    rows_in = int(nwf.shape[0])
    nwf = nwf.with_row_index(ROW).with_columns((nw.col(ROW) + 1).cast(nw.Int64))
    nwf = nwf.with_columns(_id_text(nwf))
    for name in (STAGE, EVENT):
        if name in names:
            nwf = nwf.with_columns(nw.col(name).cast(nw.String))
    if STAGE in names:
        nwf = nwf.with_columns(nw.col(STAGE).alias("_stage_text"))
        if mapping:
            nwf = nwf.with_columns(_mapped(nw.col(STAGE), mapping).alias(STAGE))
    try:
        nwf = _timestamps(nwf, timezone, date_format)
    except Exception as exc:
        raise _timestamp_error(exc) from None
    if VALUE in names:
        nwf = nwf.with_columns(_to_number(nwf).alias("_value_num"))
    checks = _checks(nw, names, options)
    nwf = nwf.with_columns(_first_failed(nw, checks).alias("_check"))
    passed = len(checks)
    check = nw.col("_check")
    bad = nwf.filter(check != passed)
    rejected = bad.select(*_rejection(nw, checks))  # in row order, as every filter
    ok = nwf.filter(check == passed)
    if VALUE in names:
        ok = ok.with_columns(nw.col("_value_num").alias(VALUE))
    keep = [ROW, *(c for c in nwf.columns if c in names)]
    if STAGE in names:
        ok, warnings = _time_conflicts(ok, funnel)
    else:
        warnings = _no_warnings(ok)
    accepted = ok.select(keep)  # in row order: filters and the conflict check keep it
    return LoadResult(
        accepted=_native(accepted),
        rejected=_native(rejected),
        rows_in=rows_in,
        funnel=funnel,
        warnings=_native(warnings),
    )


@attrs.frozen
class _Options:
    """What :func:`load_frame` checks the rows against (one bundle for both engines)."""

    funnel: Funnel
    timezone: str | None
    date_format: str | None
    allow_missing_time: bool
    mapping: dict[str, str]


def check_log_columns(columns: Sequence[str]) -> None:
    """
    A :class:`LoadError` naming what is missing unless *columns* has ``lead_id``, ``at``
    and ``stage`` or ``event`` (the columns of every event log).

    >>> check_log_columns(["lead_id", "at", "event"])
    >>> check_log_columns(["lead_id", "stage"])
    Traceback (most recent call last):
    ...
    funnel.exceptions.LoadError: event log has no 'at' column; has ['lead_id', 'stage']
    >>> try:
    ...     check_log_columns(["id", "at"])
    ... except LoadError as e:
    ...     print(e)
    event log has no 'lead_id' column and no 'stage' or 'event' column; has ['id', 'at']
    """
    require_columns(columns, (LEAD_ID, AT, (STAGE, EVENT)))


def _check_names(columns: Sequence[str]) -> set[str]:
    """The column names, refused when reserved, lacking a required column, or with ``row``."""
    reserved = sorted(c for c in columns if str(c).startswith("_"))
    if reserved:
        raise LoadError(
            f"column(s) {reserved} start with '_', which the loader keeps for its own "
            "columns; rename them (columns=...)"
        )
    names = set(columns)
    check_log_columns(columns)
    if ROW in names:
        raise LoadError("the input already has a 'row' column; rename it (columns=...)")
    return names


def _timestamp_error(exc: Exception) -> Exception:
    """What to raise for *exc*, raised reading the times: engine errors become a LoadError."""
    if isinstance(exc, FunnelError):
        return exc
    if isinstance(exc, ValueError | TypeError | ArithmeticError) or (
        type(exc).__module__.split(".")[0] in _ENGINES
    ):
        return LoadError(
            f"cannot read the timestamps ({type(exc).__name__}: {str(exc).splitlines()[0][:160]})"
        )
    return exc


def _checks(ns: Any, names: set[str], options: _Options) -> list[tuple[Any, Any, str, Any]]:
    """
    The row checks, in the order of the module docs: (row fails, reason, column, value shown).

    *ns* is the expression namespace (``narwhals`` or ``polars``: the same expressions
    for both engines). The frame has ``_at``-parsed ``at``, ``_at_problem``, ``_at_text``,
    ``_stage_text`` (with a stage column) and ``_value_num`` (with a value column).
    """
    funnel = options.funnel
    # Times that cannot be expressed in UTC are bad timestamps, not later crashes.
    at = ns.col(AT)
    if ns.__name__ == "polars":  # the same bounds, without computing a year per row
        low, high = datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 1, 1, tzinfo=UTC)
        out_of_range = ~at.is_null() & ((at < low) | (at >= high))
    else:
        out_of_range = ~at.is_null() & ((at.dt.year() < 1) | (at.dt.year() > 9998))
    at_code = ns.when(out_of_range).then(ns.lit("bad-timestamp")).otherwise(ns.col("_at_problem"))
    text = ns.lit(None, dtype=ns.String)
    lead = ns.col(LEAD_ID)
    stage = ns.col(STAGE) if STAGE in names else text
    event = ns.col(EVENT) if EVENT in names else text
    at_problem = ~at_code.is_null()
    if options.allow_missing_time:
        # a stage row with no time is kept (null at); an event row needs one
        # (fill_null: a row with no problem is not undated; a null here let a time out
        # of range through on polars)
        undated = (ns.col("_at_problem") == "missing-timestamp").fill_null(
            False
        ) & ~stage.is_null()
        if EVENT in names:
            undated = undated & event.is_null()
        at_problem = at_problem & ~undated
    if ns.__name__ == "polars":
        # an empty id only: one that is blank but not empty starts with white space, which
        # _blank_suspects marks and _blank_ids refines after the collect (stripping every
        # id costs a third of the checks)
        blank = lead.is_null() | (lead.str.len_bytes() == 0)
        # the code _refused_step reads too (one cast, shared by polars' CSE)
        unknown = _stage_code(funnel.table.stages).is_null() if STAGE in names else ns.lit(False)
    else:
        blank = lead.is_null() | (lead.str.strip_chars(WHITE_SPACE) == "")
        unknown = ~stage.is_in(list(funnel.table.stages))
    checks: list[tuple[Any, Any, str, Any]] = [
        (blank, ns.lit("missing-id"), LEAD_ID, lead),
        (at_problem, at_code, AT, ns.col("_at_text")),
        (stage.is_null() & event.is_null(), ns.lit("no-stage-or-event"), STAGE, text),
        (
            ~stage.is_null() & unknown,
            ns.lit("unknown-stage"),
            STAGE,
            ns.col("_stage_text") if STAGE in names else text,
        ),
        (
            ~event.is_null() & ~event.is_in(list(funnel.table.events)),
            ns.lit("unknown-event"),
            EVENT,
            event,
        ),
    ]
    if VALUE in names:
        checks.append(
            (
                ~ns.col(VALUE).is_null() & ns.col("_value_num").is_null(),
                ns.lit("bad-value"),
                VALUE,
                ns.col(VALUE).cast(ns.String),
            )
        )
    return checks


def _first_failed(ns: Any, checks: list[tuple[Any, Any, str, Any]]) -> Any:
    """The index of the first failing check of each row; ``len(checks)`` when all pass."""
    failed: Any = ns.lit(len(checks))
    for i in reversed(range(len(checks))):
        failed = ns.when(checks[i][0]).then(ns.lit(i)).otherwise(failed)
    return failed


def _rejection(ns: Any, checks: list[tuple[Any, Any, str, Any]]) -> list[Any]:
    """The columns of the rejected frame, worked out from ``_check`` on the rejected rows."""
    check = ns.col("_check")
    text = ns.lit(None, dtype=ns.String)
    reason: Any = text
    column: Any = text
    value: Any = text
    for i, (_, code, col, val) in reversed(list(enumerate(checks))):
        reason = ns.when(check == i).then(code).otherwise(reason)
        column = ns.when(check == i).then(ns.lit(col)).otherwise(column)
        value = ns.when(check == i).then(val.cast(ns.String)).otherwise(value)
    return [
        ns.col(ROW),
        ns.col(LEAD_ID),
        column.alias(COLUMN),
        reason.alias(REASON),
        value.alias(VALUE),
    ]


def _load_polars(
    frame: pl.DataFrame | pl.LazyFrame, columns: Mapping[str, str] | None, options: _Options
) -> LoadResult:
    """
    :func:`load_frame` for polars input: one lazy plan, collected once.

    The times in the shape most logs write are parsed in the plan; only when some are
    not (other ISO shapes, junk) are those rows parsed again by the general parser and
    the checks run a second time. The time-conflict group-by runs only when the
    accepted rows are not plainly in order (narwhals is imported only then).
    """
    import polars as pl

    lf = frame.lazy()
    present = lf.collect_schema().names()
    if columns:
        lf = lf.rename(_check_columns(columns, present))
        present = lf.collect_schema().names()
    names = _check_names(present)
    schema = lf.collect_schema()
    lf = lf.with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64))
    lf = lf.with_columns(_id_text_polars(schema[LEAD_ID]))
    for name in (STAGE, EVENT):
        if name in names:
            lf = lf.with_columns(pl.col(name).cast(pl.String))
    if STAGE in names:
        lf = lf.with_columns(pl.col(STAGE).alias("_stage_text"))
        if options.mapping:
            lf = lf.with_columns(pl.col(STAGE).replace(options.mapping))
    if VALUE in names:
        value = pl.col(VALUE)
        if not schema[VALUE].is_numeric():
            value = value.cast(pl.String).str.strip_chars()
        lf = lf.with_columns(value.cast(pl.Float64, strict=False).alias("_value_num"))
    lf, slow = _timestamps_polars(lf, schema[AT], options)
    checks = _checks(pl, names, options)
    never = _unreachable(options.funnel) if STAGE in names else {}
    stages = options.funnel.table.stages
    # the checks, and (over every row: used when no row is rejected) the order conditions
    finish = [
        _first_failed(pl, checks).alias("_check"),
        _blank_suspects().alias("_blank"),
        *_order_conditions(stages, never),
        # (sortedness in the plan, beside the comparison with the row before that the order
        # conditions make: Series.is_sorted of the ids measured 65 ms at 10M rows)
        *(
            [(pl.col(LEAD_ID) < pl.col(LEAD_ID).shift(1)).any().alias("_unsorted")]
            if never
            else []
        ),
    ]
    try:
        done = lf.with_columns(*finish).collect()
        if slow and done["_slow"].any():
            # times in other shapes: the general parser on those rows, then the checks again
            where = done["_slow"].arg_true()
            parsed, why = _parse_iso(done["_at_text"].gather(where), options.timezone)
            done = (
                done.with_columns(
                    done[AT].scatter(where, parsed), done["_at_problem"].scatter(where, why)
                )
                .lazy()
                .with_columns(*finish)
                .collect()
            )
    except pl.exceptions.PolarsError as exc:
        if options.date_format is not None and schema[AT] == pl.String:
            raise ValidationError(
                f"date_format {options.date_format!r} is not a format polars can parse with: "
                f"{str(exc).splitlines()[0][:160]}",
                field="date_format",
            ) from None
        raise _timestamp_error(exc) from None
    done = _blank_ids(done)
    passed = len(checks)
    check = pl.col("_check")
    kept = [ROW, *(c for c in done.columns if c in names)]
    source = {c: "_value_num" if c == VALUE else c for c in kept}  # value: parsed
    rejected = done.lazy().filter(check != passed).select(*_rejection(pl, checks)).collect()
    if rejected.height:
        keep = [pl.col(source[c]).alias(c) for c in kept]
        ok = done.lazy().filter(check == passed).select(keep).collect()
    else:  # the columns as they are (a select aligns their chunks: a copy of every column)
        ok = pl.DataFrame([done.get_column(source[c]).alias(c) for c in kept])
    warnings = _no_warnings_polars()
    if never and ok.height:
        if rejected.height:
            in_order = _in_order_polars(ok, stages, never)
        else:
            first = done.row(0, named=True)
            in_order = not any(first[c] for c in _ORDER) and (
                not first["_unsorted"] or _contiguous(ok)  # sorted ids are contiguous
            )
        if not in_order:
            import narwhals as nw

            flagged, found = _time_conflicts(
                nw.from_native(ok, eager_only=True), options.funnel, checked=True
            )
            ok, warnings = flagged.to_native(), found.to_native()
    return LoadResult(
        accepted=ok,  # in row order: filters and the conflict check keep it
        rejected=rejected,
        rows_in=done.height,
        funnel=options.funnel,
        warnings=warnings,
    )


def _id_text_polars(dtype: Any) -> pl.Expr:
    """Lead ids as text: whole-number floats without ``.0`` (as :func:`_id_text`)."""
    import polars as pl

    if isinstance(dtype, pl.List | pl.Struct | pl.Array) or dtype in (pl.Binary, pl.Boolean):
        raise ValidationError(
            f"lead ids must be text or whole numbers, got {dtype}", field=LEAD_ID
        )
    col = pl.col(LEAD_ID)
    if dtype.is_float():
        col = col.fill_nan(None)  # NaN is no id (pandas reads it as missing too)
        whole = (col.is_null() | (col == col.round(0))).all()
        text = col.cast(pl.String)
        return pl.when(whole).then(text.str.replace(r"\.0$", "")).otherwise(text)
    return col.cast(pl.String)


def _timestamps_polars(
    lf: pl.LazyFrame, dtype: Any, options: _Options
) -> tuple[pl.LazyFrame, bool]:
    """
    *lf* with ``at`` as UTC times, ``_at_problem`` (code or null) and ``_at_text``.

    Returns whether ISO text was parsed by the fixed-shape fast path only: then the
    column ``_slow`` marks the rows the general parser must still read.
    """
    import polars as pl

    timezone = options.timezone
    none = pl.lit(None, dtype=pl.String)
    if isinstance(dtype, pl.Datetime | pl.Date):
        date = isinstance(dtype, pl.Date)
        at, then = _datetime_exprs(
            pl, date=date, naive=getattr(dtype, "time_zone", None) is None, tz=timezone
        )
        return lf.with_columns(at).with_columns(*then), False
    if dtype != pl.String:
        if dtype != pl.Null and not lf.select(pl.col(AT).is_null().all()).collect().item():
            raise LoadError(f"column 'at' must hold timestamps or ISO-8601 text, got {dtype}")
        lf = lf.with_columns(pl.col(AT).cast(pl.String))
    text = pl.col("_at_text")
    lf = lf.with_columns(pl.col(AT).alias("_at_text"))
    if options.date_format is not None:
        stripped = text.str.strip_chars()
        aware, naive, offset = _formatted_exprs(stripped, options.date_format)
        at, problem = _verdict_exprs(text, stripped, aware, naive, pl.lit(offset), timezone)
        return lf.with_columns(at.alias(AT), problem.alias("_at_problem")), False
    # The shape most logs write (``2026-01-01T09:00:00Z``, 20 bytes) with one fixed
    # format (its literal ``Z`` is the rest of the shape); every other text (other
    # shapes, and 20 bytes the format does not parse) is ``_slow``: the general parser
    # reads those rows after the collect.
    fast = pl.when(text.str.len_bytes() == 20).then(
        text.str.to_datetime(_ISO_UTC, strict=False, time_unit="us", cache=False)
    )
    return lf.with_columns(
        fast.dt.replace_time_zone("UTC").alias(AT),
        pl.when(text.is_null())
        .then(pl.lit("missing-timestamp"))
        .otherwise(none)
        .alias("_at_problem"),
    ).with_columns((pl.col(AT).is_null() & text.is_not_null()).alias("_slow")), True


def _no_warnings_polars() -> pl.DataFrame:
    """An empty polars warnings frame."""
    import polars as pl

    schema: dict[str, Any] = dict.fromkeys(WARNING_COLUMNS, pl.String)
    schema[ROW] = pl.Int64
    schema[OTHER_ROW] = pl.Int64
    return pl.DataFrame(schema=schema)


#: Per-frame conditions, any of which rules out the quick no-conflict answer.
_ORDER = ("_gaps", "_earlier", "_back")


def _order_conditions(stages: Sequence[str], never: Mapping[str, list[str]]) -> list[pl.Expr]:
    """
    The conditions of :func:`_in_order` other than contiguity, each as a column (one value).

    Any row without a stage or a time; a lead's row earlier than the row before it; a
    lead's row in a stage that cannot follow the stage of the row before it.
    """
    import polars as pl

    if not never:
        return []
    stage, at, lead = pl.col(STAGE), pl.col(AT), pl.col(LEAD_ID)
    same = lead == lead.shift(1)
    return [
        (stage.is_null() | at.is_null()).any().alias("_gaps"),
        (same & (at < at.shift(1))).fill_null(False).any().alias("_earlier"),
        (same & _refused_step(stages, never)).fill_null(False).any().alias("_back"),
    ]


def _contiguous(ok: pl.DataFrame) -> bool:
    """Whether each lead's rows are contiguous (sorted ids are, without a hash)."""
    import polars as pl

    ids = ok.get_column(LEAD_ID)
    if ids.is_sorted():
        return True
    lead = pl.col(LEAD_ID)
    runs = ok.select((lead != lead.shift(1)).fill_null(True).sum()).item()
    return int(runs) == ids.n_unique()


def _in_order_polars(
    ok: pl.DataFrame, stages: Sequence[str], never: Mapping[str, list[str]]
) -> bool:
    """:func:`_in_order` for a polars frame: contiguity, then one ``select`` of the rest."""
    if not _contiguous(ok):
        return False
    return not any(ok.select(_order_conditions(stages, never)).row(0))


def _refused_step(stages: Sequence[str], never: Mapping[str, list[str]]) -> pl.Expr:
    """Whether a row's stage cannot follow the stage of the row before (stage-pair codes)."""

    k = len(stages)
    index = {s: i for i, s in enumerate(stages)}
    refused = [index[s] * k + index[x] for s, later in never.items() for x in later]
    code = _stage_code(stages)
    return (code.shift(1) * k + code).is_in(refused)


def _stage_code(stages: Sequence[str]) -> pl.Expr:
    """Each row's stage as its index in *stages*; an unknown (or null) stage a null code."""
    import polars as pl

    return pl.col(STAGE).cast(pl.Enum(list(stages)), strict=False).to_physical().cast(pl.Int32)


def _blank_suspects() -> pl.Expr:
    """Whether a row's lead id may be blank (:func:`~funnel.engine.replay.blank_suspects`)."""
    import polars as pl

    suspect: pl.Expr = blank_suspects(pl.col(LEAD_ID)).fill_null(False)
    return suspect


def _blank_ids(done: pl.DataFrame) -> pl.DataFrame:
    """*done* with its blank lead ids (white space only) failing the first check."""

    suspects = done.get_column("_blank").arg_true()
    if not len(suspects):
        return done
    ids = done.get_column(LEAD_ID).gather(suspects)
    blank = suspects.filter((ids.str.strip_chars(WHITE_SPACE) == "").fill_null(False))
    if not len(blank):
        return done
    check = done.get_column("_check")
    return done.with_columns(check.scatter(blank, 0))


def _mapped(col: nw.Expr, mapping: Mapping[str, str]) -> nw.Expr:
    """*col* with each key of *mapping* replaced by its value (other values kept)."""
    import narwhals as nw

    out: Any = col
    for old, new in reversed(list(mapping.items())):
        out = nw.when(col == old).then(nw.lit(new)).otherwise(out)
    result: nw.Expr = out
    return result


def _unreachable(funnel: Funnel) -> dict[str, list[str]]:
    """``{stage: stages that cannot come after it}`` for stages that rule some out."""
    table = funnel.table
    stages = list(table.stages)
    out: dict[str, list[str]] = {}
    for s in stages:
        reach = table.reachable(s)
        never = [t for t in stages if t not in reach]
        if never:
            out[s] = never
    return out


def _no_warnings(frame: nw.DataFrame[Any]) -> nw.DataFrame[Any]:
    """An empty warnings frame of *frame*'s engine."""
    import narwhals as nw

    schema: dict[str, Any] = {c: nw.String() for c in WARNING_COLUMNS}
    schema[ROW] = nw.Int64()
    schema[OTHER_ROW] = nw.Int64()
    return nw.from_dict(
        {c: [] for c in WARNING_COLUMNS}, schema=schema, backend=frame.implementation
    )


def _time_conflicts(
    ok: nw.DataFrame[Any], funnel: Funnel, *, checked: bool = False
) -> tuple[nw.DataFrame[Any], nw.DataFrame[Any]]:
    """
    Flag stage rows that cannot follow a stage their lead entered strictly earlier.

    For each stage *s*, the lead's first time in *s* is computed over all its
    rows (a group-by, so the file order plays no part); a row whose stage
    cannot be reached from *s* and whose time is later is a conflict with the
    first row in the earliest such *s* (ties: the first such *s* in funnel
    order). Returns the rows (conflicts with a null ``at``) and the warnings frame.
    """
    import narwhals as nw

    never = _unreachable(funnel)
    if not never or ok.shape[0] == 0:
        return ok, _no_warnings(ok)
    if not checked and _in_order(ok, funnel.table.stages, never):
        return ok, _no_warnings(ok)
    stage, at, key = nw.col(STAGE), nw.col(AT), nw.col("_key")
    names = list(never)
    # for each stage x, the stages s (by index in names) after which x cannot come
    blockers = {x: [i for i, s in enumerate(names) if x in never[s]] for x in funnel.table.stages}
    keyed = ok.select(nw.col(ROW), nw.col(LEAD_ID), stage, at, nw.col(LEAD_ID).alias("_key"))
    # per lead: the first time in each stage that rules some out, the last time in
    # each stage that some rule out; a lead can only conflict if some pair overlaps
    later = [x for x, idx in blockers.items() if idx]
    per = (
        keyed.with_columns(
            *(nw.when(stage == s).then(at).alias(f"_t{i}") for i, s in enumerate(names)),
            *(nw.when(stage == x).then(at).alias(f"_m{j}") for j, x in enumerate(later)),
        )
        .group_by("_key")
        .agg(
            *(nw.col(f"_t{i}").min() for i in range(len(names))),
            *(nw.col(f"_m{j}").max() for j in range(len(later))),
        )
    )
    overlap = nw.any_horizontal(
        *(
            (nw.col(f"_t{i}") < nw.col(f"_m{j}")).fill_null(False)
            for j, x in enumerate(later)
            for i in blockers[x]
        ),
        ignore_nulls=True,
    )
    suspects = per.filter(overlap)
    if suspects.shape[0] == 0:
        return ok, _no_warnings(ok)
    suspects = suspects.select("_key", *(f"_t{i}" for i in range(len(names))))
    keyed = keyed.join(suspects.select("_key"), on="_key", how="semi")
    joined = keyed.join(suspects, on="_key", how="inner")
    # the earliest first entry of a stage this row's stage cannot follow, and that stage
    oat: Any = nw.lit(None, dtype=nw.Datetime("us", "UTC"))
    for x in later:
        first = nw.min_horizontal(*(nw.col(f"_t{i}") for i in blockers[x]))
        oat = nw.when(stage == x).then(first).otherwise(oat)
    joined = joined.with_columns(oat.alias("_oat"))
    hit = ~nw.col("_oat").is_null() & ~at.is_null() & (nw.col("_oat") < at)
    flagged = joined.filter(hit.fill_null(False))
    if flagged.shape[0] == 0:  # pragma: no cover - a suspect lead has a conflicting row
        return ok, _no_warnings(ok)
    ostage: Any = nw.lit(None, dtype=nw.String)
    for x, idx in blockers.items():
        pick: Any = nw.lit(None, dtype=nw.String)
        for i in reversed(idx):
            pick = (
                nw.when(nw.col(f"_t{i}") == nw.col("_oat")).then(nw.lit(names[i])).otherwise(pick)
            )
        ostage = nw.when(stage == x).then(pick).otherwise(ostage)
    flagged = flagged.with_columns(ostage.alias("_ostage"))
    # the other row: the lead's first row in that stage at that time (lowest row number)
    candidates = (
        keyed.select(key, stage.alias("_ostage"), at.alias("_oat"), nw.col(ROW).alias(OTHER_ROW))
        .group_by("_key", "_ostage", "_oat")
        .agg(nw.col(OTHER_ROW).min())
    )
    flagged = flagged.join(candidates, on=["_key", "_ostage", "_oat"], how="left")
    warnings = flagged.select(
        nw.col(ROW),
        nw.col(LEAD_ID),
        stage,
        at.dt.to_string(_ISO_UTC).alias(AT),
        nw.col(OTHER_ROW).cast(nw.Int64),
        nw.col("_ostage").alias(OTHER_STAGE),
        nw.col("_oat").dt.to_string(_ISO_UTC).alias(OTHER_AT),
        nw.lit(TIME_CONFLICT).alias(REASON),
    ).sort(ROW)
    rows = warnings.get_column(ROW).to_list()
    untimed = nw.when(~nw.col(ROW).is_in(rows)).then(at)
    return ok.with_columns(untimed.alias(AT)), warnings


def _in_order(
    ok: nw.DataFrame[Any], stages: Sequence[str], never: Mapping[str, list[str]]
) -> bool:
    """
    Whether *ok* plainly has no time conflict, without a group-by: each lead's rows
    are contiguous, each row dated and staged, no earlier than the row before it and
    in a stage reachable from that row's. (Reachability is transitive, so every
    later row of the lead is then reachable from every earlier one.)
    """
    import narwhals as nw

    if ok.implementation is nw.Implementation.POLARS:
        return _in_order_polars(ok.to_native(), stages, never)
    stage, at, lead = nw.col(STAGE), nw.col(AT), nw.col(LEAD_ID)
    if ok.select((stage.is_null() | at.is_null()).any()).item():
        return False
    ids = ok.get_column(LEAD_ID)
    if not ids.is_sorted():
        runs = ok.select((lead != lead.shift(1)).fill_null(True).sum()).item()
        if int(runs) != ids.n_unique():
            return False
    same_lead = lead == lead.shift(1)
    if ok.select((same_lead & (at < at.shift(1))).fill_null(False).any()).item():
        return False  # a lead's row earlier than the row before it
    before = stage.shift(1)
    back = nw.any_horizontal(
        *((before == s) & stage.is_in(later) for s, later in never.items()), ignore_nulls=True
    )
    step_back = same_lead & back
    return not bool(ok.select(step_back.fill_null(False).any()).item())


def _native(frame: nw.DataFrame[Any]) -> Any:
    """The native frame; pandas gets a fresh 0..n-1 index."""
    import narwhals as nw

    native = frame.to_native()
    if frame.implementation is nw.Implementation.PANDAS:
        return native.reset_index(drop=True)
    return native


def _to_number(frame: nw.DataFrame[Any]) -> nw.Expr | nw.Series[Any]:
    """The ``value`` column as Float64; text that is not a number becomes null."""
    import narwhals as nw

    if frame.schema[VALUE].is_numeric():
        return nw.col(VALUE).cast(nw.Float64)
    import polars as pl

    raw = _to_polars(frame.get_column(VALUE))
    parsed = raw.cast(pl.String).str.strip_chars().cast(pl.Float64, strict=False)
    return _from_polars(parsed.alias("_value_num"), frame)
