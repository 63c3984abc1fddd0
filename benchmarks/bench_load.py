"""
Loading a CSV event log, and the ``funnel report`` command, against plain polars.

* ``load_csv`` (read, validate every row, parse the times, check time conflicts)
  against polars reading the same file: ``pl.read_csv(path, try_parse_dates=True)``
  (polars' own typed read, the peer of the goal), and the fastest polars a user
  who knows the file could write (every cell as text, then ``str.to_datetime``
  with the file's one format); the untyped ``pl.read_csv(path)`` is recorded
  beside them. Checked: the peers' frames equal funnel's accepted rows.
* ``funnel report FILE.csv`` against a script doing a plain polars read
  (``pl.read_csv(path)``, no validation, times left as text) and the same report
  query (stage flags as columns first, then one group-by; it imports polars only),
  both run as fresh processes; checked: the same step counts, won and lost.

The CSV files are written from :mod:`benchmarks.generate`'s seeded logs (``at``
as ``2026-01-01T09:00:00Z`` text) and cached in ``benchmarks/data/``.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks import generate
from benchmarks.common import race
from funnel.model.eventlog import AT, EVENT, LEAD_ID, STAGE

ISO_Z = "%Y-%m-%dT%H:%M:%SZ"

#: The peer of ``funnel report``: a plain polars read and the report query.
PEER_SCRIPT = r"""
import sys
import polars as pl

path, steps = sys.argv[1], sys.argv[2].split(",")
frame = pl.read_csv(path)
per = (
    frame.lazy()
    .with_columns(
        # a step's rank is its code in an Enum of the steps (any other stage: null)
        pl.col("stage").cast(pl.Enum(steps), strict=False).to_physical().alias("k"),
        (pl.col("stage") == "won").alias("w"),
        pl.col("stage").is_in(["lost", "disqualified"]).alias("l"),
    )
    .group_by("lead_id")
    .agg(pl.col("k").max(), pl.col("w").any(), pl.col("l").any())
    .filter(pl.col("k").is_not_null())
    .collect()
)
k = per["k"]
counts = [int((k >= i).sum()) for i in range(len(steps))]
won = int(per["w"].sum())
lost = int((per["l"] & ~per["w"]).sum())
print(*counts, won, lost)
"""


def csv_log(n_events: int, seed: int = 7) -> Path:
    """The seeded log of *n_events* rows as a CSV file (written on first use)."""
    import polars as pl

    path = generate.DATA / f"events_{n_events}_{seed}.csv"
    if not path.exists():
        frame = generate.load(n_events, seed)
        frame.with_columns(pl.col(AT).dt.to_string(ISO_Z)).write_csv(path)
    return path


def polars_typed(path: Path) -> Any:
    """polars' own typed read: ``read_csv(try_parse_dates=True)``."""
    import polars as pl

    return pl.read_csv(path, try_parse_dates=True)


def polars_expert(path: Path) -> Any:
    """Text read, then the one known format parsed, and unknown stages/events dropped."""
    import polars as pl

    from funnel import DEFAULT_FUNNEL

    frame = pl.read_csv(path, infer_schema=False)
    return frame.with_columns(
        pl.col(AT).str.to_datetime(ISO_Z, time_unit="us").dt.replace_time_zone("UTC")
    ).filter(
        pl.col(LEAD_ID).is_not_null(),
        pl.col(AT).is_not_null(),
        pl.col(STAGE).is_null() | pl.col(STAGE).is_in(list(DEFAULT_FUNNEL.table.stages)),
        pl.col(EVENT).is_null() | pl.col(EVENT).is_in(list(DEFAULT_FUNNEL.table.events)),
    )


def polars_text(path: Path) -> Any:
    """The untyped read (``at`` stays text): no validation at all."""
    import polars as pl

    return pl.read_csv(path)


def bench_load(n_events: int, repeat: int) -> dict[str, Any]:
    """``load_csv`` against the polars reads of the same file (see the module docs)."""
    from funnel.analytics import load_csv

    path = csv_log(n_events)
    loaded = load_csv(path)
    accepted = loaded.accepted.drop("row")
    for read in (polars_typed, polars_expert):
        theirs = read(path).select(accepted.columns)
        assert theirs.equals(accepted), f"{read.__name__} and load_csv accept other rows"
    assert loaded.n_rejected == 0
    assert loaded.n_warnings == 0
    times = race(
        {
            "load_csv": lambda: load_csv(path),
            "polars_typed": lambda: polars_typed(path),
            "polars_expert": lambda: polars_expert(path),
            "polars_text": lambda: polars_text(path),
        },
        repeat,
    )
    out: dict[str, Any] = {"rows": loaded.rows_in, "bytes": path.stat().st_size}
    out.update({f"{k}_s": round(v, 4) for k, v in times.medians().items()})
    out.update({f"{k}_spread": round(times.spread(k), 3) for k in times})
    for peer in ("polars_typed", "polars_expert", "polars_text"):
        out[f"vs_{peer}"] = {k: round(v, 3) for k, v in times.ratio("load_csv", peer).items()}
    return out


def _cli_numbers(text: str) -> list[int]:
    """Step counts, won, lost from ``funnel report``'s output."""
    rows = re.findall(r"│ [^│]+│\s+(\d+) │\s+[\d.]+% │", text)
    counts = [int(r) for r in rows]
    tail = re.search(r"won (\d+), lost (\d+), open", text)
    assert tail is not None, text[-500:]
    return [*counts, int(tail.group(1)), int(tail.group(2))]


#: What ``funnel report`` imports before it reads the file (and the default funnel's
#: machine it checks stages and events with); the peer's counterpart is ``import polars``.
CLI_IMPORTS = (
    "import funnel.cli, funnel.cli.report, funnel.analytics.eventlog, funnel.analytics.report, "
    "rich.console, rich.table, polars; funnel.engine.funnel.DEFAULT_FUNNEL"
)


def bench_cli(n_events: int, repeat: int) -> dict[str, Any]:
    """
    ``funnel report FILE.csv`` against a plain polars read and the same query, as processes.

    Children run without ``PYTHONDONTWRITEBYTECODE``, so the first (checked, untimed) run
    writes the bytecode every timed run then reads, as an installed package does. Also
    raced: the imports alone of each side (``cli_imports``: what ``funnel report`` loads
    before reading the file; ``peer_imports``: ``import polars``), to split the gap into
    start-up and work. The command reads the file in a thread while it imports, so its
    ``work`` (total minus ``cli_imports``) is what is left after the imports, read overlapped.
    """
    path = csv_log(n_events)
    exe = sys.executable
    cli = [exe, "-m", "funnel", "report", str(path)]
    from funnel.engine.replay import report_steps

    peer = [exe, "-c", PEER_SCRIPT, str(path), ",".join(report_steps())]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(COLUMNS="200", TERM="dumb")

    def run(cmd: list[str]) -> str:
        return subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout

    mine = _cli_numbers(run(cli))
    theirs = [int(v) for v in run(peer).split()]
    assert mine == theirs, f"funnel report {mine} != polars peer {theirs}"
    cli_imports = [exe, "-c", CLI_IMPORTS]
    peer_imports = [exe, "-c", "import polars"]
    run(cli_imports)
    times = race(
        {
            "funnel_report_cli": lambda: run(cli),
            "polars_script": lambda: run(peer),
            "cli_imports": lambda: run(cli_imports),
            "peer_imports": lambda: run(peer_imports),
        },
        repeat,
    )
    out: dict[str, Any] = {"rows": n_events, "counts": mine}
    out.update({f"{k}_s": round(v, 4) for k, v in times.medians().items()})
    out.update({f"{k}_spread": round(times.spread(k), 3) for k in times})
    out["ratio"] = {
        k: round(v, 3) for k, v in times.ratio("funnel_report_cli", "polars_script").items()
    }
    work = [
        (c - ci) / (p - pi)
        for c, ci, p, pi in zip(
            times["funnel_report_cli"],
            times["cli_imports"],
            times["polars_script"],
            times["peer_imports"],
            strict=True,
        )
    ]
    out["work_ratio"] = round(statistics.median(work), 3)  # after the imports, per round
    return out


if __name__ == "__main__":
    # python benchmarks/bench_load.py [SIZE ...] [--cli-only]
    sizes = [a for a in sys.argv[1:] if not a.startswith("--")] or ["1000000"]
    for arg in sizes:
        if "--cli-only" not in sys.argv:
            print(bench_load(int(arg), 3))
        print(bench_cli(int(arg), 3))
