"""
What every CRM adapter shares: reading an export, finding its columns,
normalising its timestamps, mapping its stages and shaping the event log.

An adapter builds a polars frame of *stage entries* with the columns
``lead_id``, ``at`` (text), ``crm_stage`` (the CRM's own stage name), an
integer ``_order`` (ties at one time: lower first) and any of ``value``,
``owner``, ``source``, ``segment``; :func:`finish` maps the stages and
returns the canonical event log.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from funnel.engine.funnel import DEFAULT_FUNNEL, Funnel
from funnel.exceptions import LoadError, ValidationError
from funnel.model.eventlog import AT, LEAD_ID, OWNER, SEGMENT, SOURCE, STAGE, VALUE

if TYPE_CHECKING:
    import polars as pl

#: The column that keeps the CRM's own stage name next to the funnel's.
CRM_STAGE = "crm_stage"

#: Output columns, in order (those the adapter has).
OUTPUT = (LEAD_ID, AT, STAGE, CRM_STAGE, VALUE, OWNER, SOURCE, SEGMENT)

#: A naive ``YYYY-MM-DD HH:MM:SS[.ffffff]`` (Odoo, Pipedrive API) timestamp.
_NAIVE = r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$"
#: A timestamp that says its offset.
_OFFSET = r"(Z|[+-]\d{2}:?\d{2})$"
#: Epoch milliseconds (HubSpot).
_EPOCH_MS = r"^-?\d{9,}$"


def read(source: Any) -> pl.DataFrame:
    """*source* as a polars frame: a CSV path (every cell read as text) or any frame."""
    import narwhals as nw
    import polars as pl

    if isinstance(source, str | Path):
        try:
            return pl.read_csv(source, infer_schema=False)
        except (OSError, pl.exceptions.PolarsError) as exc:
            raise LoadError(f"cannot read CSV {str(source)!r}: {exc}") from exc
    if isinstance(source, pl.DataFrame):
        return source
    try:
        nwf = nw.from_native(source)
    except TypeError as exc:
        raise LoadError(f"not a CSV path or a dataframe: {type(source).__name__}") from exc
    if isinstance(nwf, nw.LazyFrame):
        nwf = nwf.collect(backend="polars")
    if nwf.implementation is nw.Implementation.POLARS:
        frame: pl.DataFrame = nwf.to_native()
        return frame
    result = pl.from_arrow(nwf.to_arrow())
    assert isinstance(result, pl.DataFrame)
    return result


def pick(frame: pl.DataFrame, names: Sequence[str], *, what: str, crm: str) -> str:
    """The first of *names* that is a column of *frame*, or a :class:`LoadError`."""
    found = find(frame, names)
    if found is None:
        raise LoadError(
            f"{crm} export lacks the {what} column (one of {', '.join(names)}); "
            f"has {frame.columns}; rename with columns={{...}}"
        )
    return found


def find(frame: pl.DataFrame, names: Iterable[str]) -> str | None:
    """The first of *names* that is a column of *frame* (exact, then case-insensitive)."""
    names = list(names)
    for name in names:
        if name in frame.columns:
            return name
    lower = {c.lower(): c for c in frame.columns}
    for name in names:
        if name.lower() in lower:
            return lower[name.lower()]
    return None


def text(frame: pl.DataFrame, name: str | None) -> pl.Expr:
    """Column *name* as stripped text, empty cells as null (a null literal if absent)."""
    import polars as pl

    if name is None:
        return pl.lit(None, dtype=pl.String)
    col = pl.col(name).cast(pl.String).str.strip_chars()
    return pl.when(col == "").then(None).otherwise(col)


def timestamp(expr: pl.Expr, *, naive_utc: bool) -> pl.Expr:
    """
    A timestamp cell as ISO-8601 text the loaders read.

    Epoch milliseconds become ``...Z`` text; with *naive_utc*, a naive
    ``YYYY-MM-DD HH:MM:SS`` is taken as UTC (``Z`` appended); anything else
    is kept as it is, so the loader rejects what it cannot read.
    """
    import polars as pl

    epoch = pl.from_epoch(expr.cast(pl.Int64, strict=False), time_unit="ms")
    epoch_text = epoch.dt.replace_time_zone("UTC").dt.to_string("%Y-%m-%dT%H:%M:%S%.3fZ")
    out: Any = pl.when(expr.str.contains(_EPOCH_MS)).then(epoch_text)
    if naive_utc:
        out = out.when(expr.str.contains(_NAIVE)).then(expr.str.replace(" ", "T") + pl.lit("Z"))
    result: pl.Expr = out.otherwise(expr)
    return result


def check_zone(timezone: str | None) -> str | None:
    """*timezone* if it is an IANA zone name (or ``None``), else a :class:`ValidationError`."""
    if timezone is None:
        return None
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise ValidationError(
            f"timezone must be an IANA zone name (e.g. 'Europe/Paris'), got {timezone!r}",
            field="timezone",
        ) from exc
    return timezone


def stage_mapping(
    defaults: Mapping[str, str | None],
    stages: Mapping[Any, str | None] | None,
    funnel: Funnel = DEFAULT_FUNNEL,
) -> dict[str, str | None]:
    """
    The defaults overridden by the user's *stages* (``None``: leave that stage out).

    Keys are compared as text (``{3: "won"}`` is ``{"3": "won"}``). A default
    whose target the funnel lacks is not used (a custom funnel without
    ``stakeholder``, say); a stage the user maps to a stage the funnel lacks
    is a :class:`ValidationError`.
    """
    if stages is not None and not isinstance(stages, Mapping):
        raise ValidationError(
            f"stages must be a mapping {{CRM stage: funnel stage}}, got {type(stages).__name__}",
            field="stages",
        )
    known = set(funnel.table.stages)
    mapping = {k: v for k, v in defaults.items() if v is None or v in known}
    given = {str(k): v for k, v in (stages or {}).items()}
    for key, value in given.items():
        if value is not None and not isinstance(value, str):
            raise ValidationError(
                f"stages[{key!r}] must be a funnel stage name or None, got {value!r}",
                field="stages",
            )
    bad = sorted({v for v in given.values() if v is not None and v not in known})
    if bad:
        raise ValidationError(
            f"stages maps to {', '.join(map(repr, bad))}, not stage(s) of funnel "
            f"{funnel.name!r}; its stages are {', '.join(funnel.table.stages)}",
            field="stages",
            allowed=tuple(funnel.table.stages),
        )
    mapping.update(given)
    return mapping


def first_stages(stage_rows: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """
    Per deal, the stage its first recorded change left, and that stage as an undated row.

    *stage_rows* are a flow's stage changes (``lead_id``, ``at`` as text, ``_old``,
    ``_in`` the input order); the first is the earliest, ties in input order.
    Returns ``first`` (``lead_id``, ``crm_stage``) and the entry rows without a
    time (``lead_id``, ``at`` null, ``crm_stage``, ``_order`` 0): the export names
    the stage a deal was created in but does not date it.
    """
    import polars as pl

    from funnel.analytics.eventlog import _parse_text_timestamps

    parsed, _ = _parse_text_timestamps(stage_rows.get_column(AT), None)
    first = (
        stage_rows.with_columns(parsed.alias("_t"))
        .sort([LEAD_ID, "_t", "_in"], nulls_last=True, maintain_order=True)
        .group_by(LEAD_ID, maintain_order=True)
        .agg(pl.col("_old").first().alias(CRM_STAGE))
    )
    undated = first.select(
        LEAD_ID, pl.lit(None, dtype=pl.String).alias(AT), CRM_STAGE, pl.lit(0).alias("_order")
    ).filter(pl.col(CRM_STAGE).is_not_null())
    return first, undated


def first_stage_rows(
    deals: pl.DataFrame, first: pl.DataFrame, *, created: str, updated: str
) -> pl.DataFrame:
    """
    The row of the stage each deal was created in, dated from the deals export.

    *first* holds, per deal, the stage its first recorded change left
    (``crm_stage``); a deal that never moved is in its current stage
    (``_current``) since its last stage update (*updated*, else *created*).
    """
    import polars as pl

    return (
        deals.join(first, on=LEAD_ID, how="left", maintain_order="left")
        .select(
            LEAD_ID,
            pl.when(pl.col(CRM_STAGE).is_not_null())
            .then(pl.col(created))
            .otherwise(pl.coalesce(updated, created))
            .alias(AT),
            pl.coalesce(CRM_STAGE, "_current").alias(CRM_STAGE),
            pl.lit(0).alias("_order"),
        )
        .filter(pl.col(CRM_STAGE).is_not_null())
    )


def finish(
    entries: pl.DataFrame,
    mapping: Mapping[str, str | None],
    *,
    funnel: Funnel = DEFAULT_FUNNEL,
    strict: bool = False,
    timezone: str | None = None,
    crm: str,
) -> pl.DataFrame:
    """
    Map the CRM stages and return the canonical event log.

    A CRM stage missing from *mapping* keeps its name (a funnel stage name
    passes; any other is rejected by the loader as ``unknown-stage``, or,
    with *strict*, raises here). A stage mapped to ``None`` is left out on
    purpose. Rows are sorted by lead and time (rows without a readable time
    last, in input order) and repeated entries of one stage collapse into
    the first. With *timezone*, a naive time (no offset) is taken in that
    zone and written as UTC.
    """
    import polars as pl

    from funnel.analytics.eventlog import _parse_text_timestamps

    known = set(funnel.table.stages)
    mapped = {k: v for k, v in mapping.items() if v is not None}
    skipped = [k for k, v in mapping.items() if v is None]
    crm_stage = pl.col(CRM_STAGE)
    entries = entries.filter(crm_stage.is_null() | ~crm_stage.is_in(skipped))
    if strict:
        seen = entries.get_column(CRM_STAGE).drop_nulls().unique().to_list()
        unknown = sorted(s for s in seen if s not in mapped and s not in known)
        if unknown:
            raise ValidationError(
                f"{crm} stage(s) {', '.join(map(repr, unknown))} are not in the stage mapping "
                f"({', '.join(f'{k!r}: {v!r}' for k, v in mapping.items())}) "
                f"nor stages of funnel {funnel.name!r}; pass stages={{...}} to map them",
                field="stages",
                allowed=tuple(mapping),
            )
    parsed, _ = _parse_text_timestamps(entries.get_column(AT), check_zone(timezone))
    if timezone is not None:
        naive = pl.col(AT).str.strip_chars().str.contains(_OFFSET).not_() & parsed.is_not_null()
        entries = entries.with_columns(
            pl.when(naive)
            .then(pl.lit(parsed).dt.to_string("%Y-%m-%dT%H:%M:%SZ"))
            .otherwise(pl.col(AT))
            .alias(AT)
        )
    entries = entries.with_columns(
        crm_stage.replace_strict(mapped, default=crm_stage, return_dtype=pl.String).alias(STAGE),
        parsed.alias("_t"),
        pl.int_range(pl.len()).alias("_in"),
    )
    entries = entries.sort([LEAD_ID, "_t", "_order", "_in"], nulls_last=True, maintain_order=True)
    previous = pl.col(STAGE).shift(1).over(LEAD_ID)
    repeat = previous.is_not_null() & (previous == pl.col(STAGE)) & pl.col("_t").is_not_null()
    entries = entries.filter(~repeat)
    return entries.select([c for c in OUTPUT if c in entries.columns])
