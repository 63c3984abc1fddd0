"""
Replay and report on logs larger than one machine: Dask, and PySpark in local or cluster mode.

Both engines run the same two steps as :mod:`funnel.engine.replay`:

* **replay** – rows are shuffled so that every row of a lead lands in one
  partition (Dask: ``shuffle(on=LEAD_ID)``; Spark: ``groupBy(LEAD_ID)``),
  each partition is sorted by ``(lead_id, at[, row])`` and replayed with
  :func:`funnel.engine.replay.replay_rows`, the one replay loop (guards count as
  passed: the log records accepted events). The result has one row per lead:
  ``lead_id``, ``stage`` (final), ``transitions`` (accepted events) and
  ``rejected`` (refused events).
* **report** – the reached-stage report (:class:`funnel.engine.replay.ReachedCounts`,
  the figures of ``funnel.analytics.funnel_report`` with ``order="reached"``
  and no window) from ``lead_id``, ``at`` and ``stage``: the computation of every
  report (:func:`funnel.engine.replay.reached_per_lead`, then
  :func:`~funnel.engine.replay.tally_reached`) on narwhals' Dask or PySpark
  backend, one group-by per lead and a tally of a few numbers. A log with
  events only is replayed first.

Rows of one lead with the same ``at`` have no defined order after a
shuffle: give the log a ``row`` column (as ``funnel.analytics`` loaders do)
to break ties.

Dask is tested in CI and gives the polars results exactly. The Spark
functions need ``pyspark`` (the extra ``salesfunnel[spark]``, not part of
``salesfunnel[all]``) and Java 17+; without pyspark they raise
:class:`~funnel.exceptions.MissingExtra` (an :class:`ImportError`) saying so.
The Spark test runs with ``uv run --extra spark pytest
tests/analytics/test_distributed.py`` (the replay passed with pyspark 4.3.0 and
OpenJDK 17; the report's narwhals path has not yet run on Spark).
Neither engine is imported until a function is called.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from funnel.analytics.eventlog import check_log_columns
from funnel.engine.funnel import DEFAULT_FUNNEL, Funnel
from funnel.engine.replay import (
    ReachedCounts,
    reached_per_lead,
    replay_rows,
    report_steps,
    step_table,
    tally_reached,
)
from funnel.exceptions import LoadError, MissingExtra, ValidationError
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
    """Replay one pandas partition (all rows of each of its leads) with the engine's loop."""
    import pandas as pd

    pdf = pdf[pdf[EVENT].notna()].sort_values(_order(list(pdf.columns)), kind="stable")
    leads = pdf[LEAD_ID].tolist()
    events = pdf[EVENT].tolist()
    walk = replay_rows(leads, events, table=step, initial=initial, history=what == "stages")
    if what == "rejects":
        rows = pdf[ROW].tolist()
        return pd.DataFrame(
            {
                ROW: pd.Series([rows[p] for p, _ in walk.rejects], dtype="int64"),
                LEAD_ID: pd.Series([leads[p] for p, _ in walk.rejects], dtype=object),
                STAGE: pd.Series([s for _, s in walk.rejects], dtype=object),
                EVENT: pd.Series([events[p] for p, _ in walk.rejects], dtype=object),
            }
        )
    if what == "stages":
        # each lead's initial stage (at its first row), then every stage it entered
        entered = sorted(
            [(p, 0, s) for p, s in zip(walk.first, walk.begin, strict=True)]
            + [(p, 1, b) for p, _, b in walk.steps or ()]
        )
        at = pdf[AT].iloc[[p for p, _, _ in entered]].reset_index(drop=True)
        return pd.DataFrame(
            {
                LEAD_ID: pd.Series([leads[p] for p, _, _ in entered], dtype=object),
                AT: at,
                STAGE: pd.Series([s for _, _, s in entered], dtype=object),
            }
        )
    rejected: dict[Any, int] = {}
    for p, _ in walk.rejects:
        rejected[leads[p]] = rejected.get(leads[p], 0) + 1
    return pd.DataFrame(
        {
            LEAD_ID: pd.Series(walk.leads, dtype=object),
            STAGE: pd.Series(walk.final, dtype=object),
            TRANSITIONS: pd.Series(walk.transitions, dtype="int64"),
            REJECTED: pd.Series([rejected.get(k, 0) for k in walk.leads], dtype="int64"),
        }
    )


def _meta(what: str, at: Any = None) -> Any:
    """The empty frame of what :func:`_replay_pandas` returns (*at*: the ``at`` dtype)."""
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
        return pd.DataFrame(
            {
                LEAD_ID: pd.Series(dtype=object),
                AT: pd.Series(dtype=at),
                STAGE: pd.Series(dtype=object),
            }
        )
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
    meta = _meta(what, ddf[AT].dtype if AT in ddf.columns else None)
    return shuffled.map_partitions(_replay_pandas, step, funnel.table.initial, what, meta=meta)


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

    The same computation as every report (:func:`funnel.engine.replay.reached_per_lead`
    then :func:`~funnel.engine.replay.tally_reached`), on narwhals' Dask backend:
    one ``compute`` of a few numbers. Equal to :func:`funnel.engine.replay.reached_polars`
    on the same rows.

    Raises:
        LoadError: the log has both columns and some row has an event but no stage
            (the in-memory reports replay such rows; here give every row a stage, or
            drop the ``stage`` column to have the events replayed), rather than leaving
            those rows out.
    """
    import narwhals as nw

    steps_t = report_steps(funnel, steps)
    _check_staged(
        "report_dask",
        ddf.columns,
        lambda: int((ddf[STAGE].isna() & ~ddf[EVENT].isna()).sum().compute()),
        replays=True,
    )
    frame = (
        ddf[[LEAD_ID, AT, STAGE]] if STAGE in ddf.columns else stage_log_dask(ddf, funnel=funnel)
    )
    with warnings.catch_warnings():
        # narwhals 2.x: "Dask support is moving out of Narwhals" (into narwhals-dask)
        warnings.filterwarnings("ignore", "Dask support is moving", FutureWarning)
        return _reached(nw.from_native(frame), funnel, steps_t)


def _check_staged(
    who: str, columns: Sequence[str], unstaged: Callable[[], int], *, replays: bool
) -> None:
    """
    Refuse a log with rows that have an event and no stage, rather than leave them out.

    The check of :func:`report_dask` and :func:`report_spark`, apart from the engine:
    only a log with both a ``stage`` and an ``event`` column is checked, and only then
    is *unstaged* (the engine's count of such rows, one query) called. *replays*:
    whether *who* replays a log without a ``stage`` column (Dask does, Spark does not).

    >>> _check_staged("report_spark", ["lead_id", "at", "stage"], lambda: 1 // 0, replays=False)
    >>> _check_staged("report_spark", ["lead_id", "at", "stage", "event"], lambda: 2,
    ...              replays=False)
    Traceback (most recent call last):
    ...
    funnel.exceptions.LoadError: report_spark: 2 row(s) have an event and no stage; give
    every row a stage (report_spark does not replay events)

    Raises:
        LoadError: naming *who* and the number of such rows.
    """
    if STAGE not in columns or EVENT not in columns:
        return
    count = unstaged()
    if count:
        fix = (
            "give every row a stage, or drop the stage column to have the events replayed"
            if replays
            else f"give every row a stage ({who} does not replay events)"
        )
        raise LoadError(f"{who}: {count} row(s) have an event and no stage; {fix}")


def _reached(frame: Any, funnel: Funnel, steps: tuple[str, ...]) -> ReachedCounts:
    per = reached_per_lead(frame, funnel=funnel, steps=steps)
    return tally_reached(per, steps).get(None) or ReachedCounts.from_tally(steps, {}, 0, 0)


# --------------------------------------------------------------------------- Spark


def _spark_functions() -> Any:
    """``pyspark.sql.functions``, or a MissingExtra (an ImportError) that says what to install."""
    try:
        return importlib.import_module("pyspark.sql.functions")
    except ImportError:
        raise MissingExtra(
            "spark", "the Spark functions need pyspark (and Java 17+), which is not installed"
        ) from None


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

    The same computation, on narwhals' PySpark backend. Unlike :func:`report_dask`
    it does not replay events: every row needs a stage.

    Raises:
        ImportError: pyspark is not installed.
        LoadError: the log lacks ``lead_id``, ``at`` or ``stage``, or some row has an
            event but no stage (counted in one Spark query), rather than leaving those
            rows out.
    """
    F = _spark_functions()  # noqa: N806
    import narwhals as nw

    steps_t = report_steps(funnel, steps)
    columns = list(sdf.columns)
    check_log_columns(columns)
    if STAGE not in columns:
        raise LoadError(
            f"event log has no {STAGE!r} column; has {columns} "
            "(report_spark does not replay events)"
        )
    _check_staged(
        "report_spark",
        columns,
        lambda: int(sdf.where(F.col(STAGE).isNull() & F.col(EVENT).isNotNull()).count()),
        replays=False,
    )
    return _reached(nw.from_native(sdf).select(LEAD_ID, AT, STAGE), funnel, steps_t)
