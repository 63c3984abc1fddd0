"""
Replay and report on logs larger than one machine: Dask, and PySpark in local or cluster mode.

Both engines run the same two steps as :mod:`funnel.engine.replay`:

* **replay** – rows are shuffled so that every row of a lead lands in one
  partition (Dask: ``shuffle(on=LEAD_ID)``; Spark: ``groupBy(LEAD_ID)``),
  each partition is sorted by ``(lead_id, at[, row])`` and replayed with
  :func:`funnel.engine.replay.bulk_replay` (guards count as passed: the log records
  accepted events). The result has one row per lead: ``lead_id``, ``stage``
  (final), ``transitions`` (accepted events) and ``rejected`` (refused events).
* **report** – the reached-stage report (:class:`funnel.engine.replay.ReachedCounts`,
  the figures of ``funnel.analytics.funnel_report`` with ``order="reached"``
  and no window) from a ``stage`` column: one group-by per lead, then a
  tally of a few numbers. A log with events only is replayed first.

Rows of one lead with the same ``at`` have no defined order after a
shuffle: give the log a ``row`` column (as ``funnel.analytics`` loaders do)
to break ties.

Dask is tested in CI and gives the polars results exactly. The Spark
functions need ``pyspark`` (the extra ``funnel[spark]``, not part of
``funnel[all]``) and Java 17+; without pyspark they raise :class:`ImportError`
saying so. The Spark test runs with ``uv run --extra spark pytest
tests/analytics/test_distributed.py`` (passed with pyspark 4.3.0 and OpenJDK 17).
Neither engine is imported until a function is called.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from typing import Any

from funnel.engine.replay import (
    ReachedCounts,
    bulk_replay,
    stage_flags,
    step_table,
)
from funnel.exceptions import ValidationError
from funnel.model.eventlog import (
    AT,
    EVENT,
    LEAD_ID,
    REJECT_COLUMNS,
    REJECTED,
    REPLAY_COLUMNS,
    ROW,
    STAGE,
    TRANSITIONS,
)
from funnel.spec.definition import DEFAULT_FUNNEL, Funnel

__all__ = (
    "REJECT_COLUMNS",
    "REPLAY_COLUMNS",
    "rejects_dask",
    "replay_dask",
    "replay_spark",
    "report_dask",
    "report_spark",
    "stage_log_dask",
)


def _order(columns: Sequence[str]) -> list[str]:
    return [LEAD_ID, AT, ROW] if ROW in columns else [LEAD_ID, AT]


def _replay_pandas(
    pdf: Any, step: Mapping[tuple[str, str], str], initial: str, what: str = "leads"
) -> Any:
    """Replay one pandas partition (all rows of each of its leads)."""
    import pandas as pd

    pdf = pdf[pdf[EVENT].notna()].sort_values(_order(list(pdf.columns)), kind="stable")
    leads = pdf[LEAD_ID].tolist()
    rows = pdf[ROW].tolist() if ROW in pdf.columns else None
    result = bulk_replay(
        leads,
        pdf[EVENT].tolist(),
        table=step,
        initial=initial,
        rows=rows,
        history=what == "stages",
    )
    if what == "rejects":
        return pd.DataFrame(
            {
                ROW: pd.Series([r.row for r in result.rejects], dtype="int64"),
                LEAD_ID: pd.Series([r.lead_id for r in result.rejects], dtype=object),
                STAGE: pd.Series([r.stage for r in result.rejects], dtype=object),
                EVENT: pd.Series([r.event for r in result.rejects], dtype=object),
            }
        )
    if what == "stages":
        out_leads: list[Any] = []
        out_stages: list[str] = []
        history = result.history or {}
        for lead in result.final:
            out_leads.append(lead)
            out_stages.append(initial)
            for _, _, target, _ in history.get(lead, ()):
                out_leads.append(lead)
                out_stages.append(target)
        return pd.DataFrame(
            {
                LEAD_ID: pd.Series(out_leads, dtype=object),
                STAGE: pd.Series(out_stages, dtype=object),
            }
        )
    rejected: dict[Any, int] = {}
    for r in result.rejects:
        rejected[r.lead_id] = rejected.get(r.lead_id, 0) + 1
    return pd.DataFrame(
        {
            LEAD_ID: pd.Series(list(result.final), dtype=object),
            STAGE: pd.Series(list(result.final.values()), dtype=object),
            TRANSITIONS: pd.Series(list(result.transitions.values()), dtype="int64"),
            REJECTED: pd.Series([rejected.get(k, 0) for k in result.final], dtype="int64"),
        }
    )


def _meta(what: str) -> Any:
    import pandas as pd

    if what == "rejects":
        return pd.DataFrame(
            {
                ROW: pd.Series(dtype="int64"),
                LEAD_ID: pd.Series(dtype=object),
                STAGE: pd.Series(dtype=object),
                EVENT: pd.Series(dtype=object),
            }
        )
    if what == "stages":
        return pd.DataFrame({LEAD_ID: pd.Series(dtype=object), STAGE: pd.Series(dtype=object)})
    return pd.DataFrame(
        {
            LEAD_ID: pd.Series(dtype=object),
            STAGE: pd.Series(dtype=object),
            TRANSITIONS: pd.Series(dtype="int64"),
            REJECTED: pd.Series(dtype="int64"),
        }
    )


# --------------------------------------------------------------------------- Dask


def _by_lead(ddf: Any, *, npartitions: int | None) -> Any:
    cols = [c for c in (LEAD_ID, AT, ROW, EVENT) if c in ddf.columns]
    if EVENT not in cols:
        raise ValidationError(
            f"the log needs an {EVENT!r} column to replay; has {list(ddf.columns)}"
        )
    frame = ddf[cols]
    return frame.shuffle(on=LEAD_ID, npartitions=npartitions)


def _replay_partitions(
    ddf: Any,
    what: str,
    funnel: Funnel,
    table: Mapping[tuple[str, str], str] | None,
    npartitions: int | None,
) -> Any:
    """Shuffle *ddf* by lead and replay each partition, returning *what* (see ``_meta``)."""
    step = dict(step_table(funnel) if table is None else table)
    shuffled = _by_lead(ddf, npartitions=npartitions)
    return shuffled.map_partitions(
        _replay_pandas, step, funnel.table.initial, what, meta=_meta(what)
    )


def replay_dask(
    ddf: Any,
    *,
    funnel: Funnel = DEFAULT_FUNNEL,
    table: Mapping[tuple[str, str], str] | None = None,
    npartitions: int | None = None,
) -> Any:
    """
    Per-lead replay of a Dask dataframe log (``lead_id``, ``at``, ``event`` [, ``row``]).

    Returns a lazy Dask dataframe with ``lead_id``, ``stage``, ``transitions``
    and ``rejected``: the final stages and counts of
    :func:`funnel.engine.replay.bulk_replay` (every guard passing unless *table* says
    otherwise; see :func:`funnel.engine.replay.step_table`).
    """
    return _replay_partitions(ddf, "leads", funnel, table, npartitions)


def rejects_dask(
    ddf: Any,
    *,
    funnel: Funnel = DEFAULT_FUNNEL,
    table: Mapping[tuple[str, str], str] | None = None,
    npartitions: int | None = None,
) -> Any:
    """
    The refused events of a Dask log: ``row``, ``lead_id``, ``stage``, ``event``.

    The log needs a ``row`` column (Dask has no cheap global row number).
    """
    if ROW not in ddf.columns:
        raise ValidationError(f"rejects_dask needs a {ROW!r} column to name the rows")
    return _replay_partitions(ddf, "rejects", funnel, table, npartitions)


def stage_log_dask(
    ddf: Any,
    *,
    funnel: Funnel = DEFAULT_FUNNEL,
    table: Mapping[tuple[str, str], str] | None = None,
    npartitions: int | None = None,
) -> Any:
    """
    The stages an event-only Dask log enters: ``lead_id``, ``stage`` (initial stage included).
    """
    return _replay_partitions(ddf, "stages", funnel, table, npartitions)


def report_dask(
    ddf: Any,
    *,
    funnel: Funnel = DEFAULT_FUNNEL,
    steps: Sequence[str] | None = None,
) -> ReachedCounts:
    """
    The reached-stage report of a Dask log with a ``stage`` column (else its events are replayed).

    Computes (one ``dask.compute``) the highest step per lead and whether it
    was won or lost, then tallies. Equal to
    :func:`funnel.engine.replay.reached_polars` on the same rows.
    """
    from dask.base import compute

    steps_t, index, won, lost = stage_flags(funnel, steps)
    has_stage = STAGE in ddf.columns
    frame = ddf[[LEAD_ID, STAGE]] if has_stage else stage_log_dask(ddf, funnel=funnel)
    stage = frame[STAGE]
    flags = frame[[LEAD_ID]].assign(
        _step=stage.map(index, meta=(STAGE, "float64")),
        _w=stage.isin(won).astype("int64"),
        _l=stage.isin(lost).astype("int64"),
    )
    per = flags.groupby(LEAD_ID).agg({"_step": "max", "_w": "max", "_l": "max"})
    per = per[per["_step"].notnull()]
    lost_only = ((per["_l"] == 1) & (per["_w"] == 0)).astype("int64")
    figures = (per["_step"].value_counts(), per["_w"].sum(), lost_only.sum())
    reached, n_won, n_lost = compute(*figures)  # type: ignore[no-untyped-call]
    tally = {int(k): int(v) for k, v in reached.items()}
    return ReachedCounts.from_tally(steps_t, tally, int(n_won), int(n_lost))


# --------------------------------------------------------------------------- Spark


def _spark_functions() -> Any:
    """``pyspark.sql.functions``, or an ImportError that says what to install."""
    try:
        return importlib.import_module("pyspark.sql.functions")
    except ImportError as exc:
        raise ImportError(
            "the Spark functions need pyspark and Java 17+: pip install 'funnel[spark]'"
        ) from exc


def replay_spark(
    sdf: Any,
    *,
    funnel: Funnel = DEFAULT_FUNNEL,
    table: Mapping[tuple[str, str], str] | None = None,
) -> Any:
    """
    Per-lead replay of a Spark dataframe log, like :func:`replay_dask`.

    Groups by ``lead_id`` and replays each group with ``applyInPandas``.

    Raises:
        ImportError: pyspark is not installed.
    """
    F = _spark_functions()  # noqa: N806

    step = dict(step_table(funnel) if table is None else table)
    initial = funnel.table.initial
    cols = [c for c in (LEAD_ID, AT, ROW, EVENT) if c in sdf.columns]

    def run(pdf: Any) -> Any:
        return _replay_pandas(pdf, step, initial, "leads")

    schema = f"{LEAD_ID} string, {STAGE} string, {TRANSITIONS} long, {REJECTED} long"
    return (
        sdf.select(*cols)
        .where(F.col(EVENT).isNotNull())
        .groupBy(LEAD_ID)
        .applyInPandas(run, schema=schema)
    )


def report_spark(
    sdf: Any,
    *,
    funnel: Funnel = DEFAULT_FUNNEL,
    steps: Sequence[str] | None = None,
) -> ReachedCounts:
    """
    The reached-stage report of a Spark log with a ``stage`` column, like :func:`report_dask`.

    Raises:
        ImportError: pyspark is not installed.
    """
    F = _spark_functions()  # noqa: N806

    steps_t, index, won, lost = stage_flags(funnel, steps)
    mapping = F.create_map(*[F.lit(x) for kv in index.items() for x in kv])
    stage = F.col(STAGE)
    per = (
        sdf.groupBy(LEAD_ID)
        .agg(
            F.max(mapping[stage]).alias("_reached"),
            F.max(stage.isin(won).cast("int")).alias("_won"),
            F.max(stage.isin(lost).cast("int")).alias("_lost"),
        )
        .where(F.col("_reached").isNotNull())
    )
    lost_only = ((F.col("_lost") == 1) & (F.col("_won") == 0)).cast("int")
    rows = (
        per.groupBy("_reached")
        .agg(F.count(F.lit(1)).alias("n"), F.sum("_won").alias("w"), F.sum(lost_only).alias("l"))
        .collect()
    )
    tally = {int(r["_reached"]): int(r["n"]) for r in rows}
    return ReachedCounts.from_tally(
        steps_t, tally, sum(int(r["w"] or 0) for r in rows), sum(int(r["l"] or 0) for r in rows)
    )
