"""
Seeded synthetic event logs for the benchmarks.

Each lead gets a ``created`` row (stage ``acquired``, no event), then walks
the default funnel: at each stage it takes one of the events the stage
allows (weighted towards the main path) or stops. About 0.5 % of rows are
illegal events (no edge from the lead's stage): the row keeps the lead's
stage, and a replay must reject it. Rows come grouped by lead, in time order.

Columns: ``lead_id`` (``"L00000001"``), ``at`` (``Datetime("us", "UTC")``),
``event`` (null on ``created`` rows) and ``stage`` (the stage the lead is in
after the row). Logs are cached as Parquet under ``benchmarks/data/``
(git-ignored).

    uv run python benchmarks/generate.py 1000000
"""

from __future__ import annotations

import random
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from funnel import DEFAULT_FUNNEL
from funnel.model.eventlog import AT, EVENT, LEAD_ID, STAGE

if TYPE_CHECKING:
    import polars as pl

DATA = Path(__file__).resolve().parent / "data"

#: Relative weights of each event where it is allowed; the rest of the mass stops the lead.
_WEIGHTS = {
    "mark_mql": 5.0,
    "mark_sql": 3.0,
    "nurture": 1.5,
    "disqualify": 1.0,
    "convert": 4.0,
    "open_opportunity": 6.0,
    "engage_stakeholder": 5.0,
    "stakeholder_declined": 1.5,
    "win": 3.0,
    "lose": 2.0,
}
_STOP = 2.5
_ILLEGAL = 0.005
_T0_US = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z in microseconds


def _choices() -> dict[str, tuple[list[str], list[str], list[float]]]:
    """Per stage: events, their targets, cumulative weights (stop = no event)."""
    table = DEFAULT_FUNNEL.table
    out: dict[str, tuple[list[str], list[str], list[float]]] = {}
    for stage in table.stages:
        events = sorted(table.allowed(stage))
        targets = [table.options(stage, e)[0].target for e in events]
        cum: list[float] = []
        total = 0.0
        for e in events:
            total += _WEIGHTS[e]
            cum.append(total)
        total += _STOP
        out[stage] = (events, targets, [c / total for c in cum])
    return out


def generate(n_events: int, seed: int = 7, first_lead: int = 1) -> pl.DataFrame:
    """A log of exactly *n_events* rows (lead creation rows included), leads from *first_lead*."""
    import polars as pl

    rng = random.Random(seed)
    rand = rng.random
    choices = _choices()
    all_events = list(DEFAULT_FUNNEL.table.events)
    finals = DEFAULT_FUNNEL.table.finals
    initial = DEFAULT_FUNNEL.table.initial
    lead_col: list[str] = []
    at_col: list[int] = []
    event_col: list[str | None] = []
    stage_col: list[str] = []
    n = 0
    lead_no = first_lead - 1
    while n < n_events:
        lead_no += 1
        lead = f"L{lead_no:08d}"
        t = _T0_US + int(rand() * 365 * 86_400) * 1_000_000
        stage = initial
        lead_col.append(lead)
        at_col.append(t)
        event_col.append(None)
        stage_col.append(stage)
        n += 1
        while n < n_events and stage not in finals:
            t += int(1 + rand() * 20 * 86_400) * 1_000_000
            if rand() < _ILLEGAL:
                allowed = DEFAULT_FUNNEL.table.allowed(stage)
                event = rng.choice([e for e in all_events if e not in allowed])
            else:
                events, targets, cum = choices[stage]
                r = rand()
                i = 0
                while i < len(cum) and r >= cum[i]:
                    i += 1
                if i == len(cum):
                    break
                event = events[i]
                stage = targets[i]
            lead_col.append(lead)
            at_col.append(t)
            event_col.append(event)
            stage_col.append(stage)
            n += 1
    return pl.DataFrame(
        {
            LEAD_ID: lead_col,
            AT: pl.Series(at_col, dtype=pl.Int64).cast(pl.Datetime("us", "UTC")),
            EVENT: event_col,
            STAGE: stage_col,
        }
    )


def path(n_events: int, seed: int = 7) -> Path:
    """Where the log of *n_events* rows is cached (:func:`load` writes it)."""
    return DATA / f"events_{n_events}_{seed}.parquet"


def load(n_events: int, seed: int = 7) -> pl.DataFrame:
    """The cached log of *n_events* rows, generated (and cached) on first use."""
    import polars as pl

    path = globals()["path"](n_events, seed)
    if path.exists():
        return pl.read_parquet(path)
    df = generate(n_events, seed)
    DATA.mkdir(parents=True, exist_ok=True)
    df.write_parquet(path)
    return df


#: Lead numbers reserved per part of :func:`parts` (a part of ~1M events has ~300k leads).
PART_LEADS = 1_000_000


#: Distinct generated logs behind :func:`parts` (the other parts relabel them).
BASES = 10


def parts(n_events: int, n_parts: int = 101, seed: int = 7) -> Path:
    """
    A folder of *n_parts* Parquet files holding *n_events* rows in all (cached).

    Part *i* is ``generate(size, seed + i % BASES)`` with its lead numbers moved up
    by ``i * PART_LEADS``, so no lead spans two files and every lead id is
    distinct; only :data:`BASES` logs are generated (the Python generator makes
    ~0.5M rows a second), the rest relabelled by polars. One part in memory at a time.
    ``uv run python benchmarks/generate.py --parts 100000000``.
    """
    import polars as pl

    folder = DATA / f"parts_{n_events}_{n_parts}_{seed}"
    done = folder / "_done"
    if done.exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    base, extra = divmod(n_events, n_parts)
    bases: dict[tuple[int, int], pl.DataFrame] = {}
    for i in range(n_parts):
        target = folder / f"part_{i:04d}.parquet"
        if target.exists():
            continue
        size = base + (i < extra)
        key = (size, i % BASES)
        if key not in bases:
            bases[key] = generate(size, seed + i % BASES)
        number = pl.col(LEAD_ID).str.slice(1).cast(pl.Int64) + i * PART_LEADS
        frame = bases[key].with_columns(
            (pl.lit("L") + number.cast(pl.String).str.zfill(9)).alias(LEAD_ID)
        )
        frame.write_parquet(target.with_suffix(".tmp"))
        target.with_suffix(".tmp").rename(target)
    done.write_text("")
    return folder


if __name__ == "__main__":
    if sys.argv[1:2] == ["--parts"]:
        for arg in sys.argv[2:]:
            print(parts(int(arg)))
        raise SystemExit(0)
    for arg in sys.argv[1:] or ["1000000"]:
        frame = load(int(arg))
        print(f"{arg} rows, {frame['lead_id'].n_unique()} leads -> {DATA}")
