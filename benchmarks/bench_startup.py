"""import funnel and the memory of a record."""

from __future__ import annotations

import gc
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from funnel import Contact, Lead

HEAVY = (
    "polars",
    "narwhals",
    "pandas",
    "pyarrow",
    "duckdb",
    "plotly",
    "sqlalchemy",
    "pydot",
    "dask",
)


def _importtime(exe: str, code: str) -> dict[str, float]:
    """Cumulative ms of the big imports behind *code* (``python -X importtime``)."""
    err = subprocess.run(
        [exe, "-X", "importtime", "-c", code], check=True, capture_output=True, text=True
    ).stderr
    out: dict[str, float] = {}
    for line in err.splitlines():
        parts = line.split("|")
        name = parts[-1].strip()
        if len(parts) == 3 and name in ("funnel", "statemachine", "attrs", "typing", "asyncio"):
            out.setdefault(name, int(parts[1]) / 1e3)
    return out


def bench_import(runs: int) -> dict[str, Any]:
    """
    ``import funnel`` and ``import statemachine``, fresh processes, alternating with ``pass``.

    Net times subtract the interpreter's start-up (``python -c pass``) of the same round;
    the ratio is the median per-round ratio of the net times (min and max beside it).
    """
    exe = sys.executable

    def one(code: str) -> float:
        t = time.perf_counter()
        subprocess.run([exe, "-c", code], check=True)
        return time.perf_counter() - t

    codes = {"pass": "pass", "funnel": "import funnel", "statemachine": "import statemachine"}
    for code in codes.values():
        one(code)  # warm the disk cache and .pyc files
    t: dict[str, list[float]] = {k: [] for k in codes}
    for _ in range(runs):
        for name, code in codes.items():
            t[name].append(one(code))
    net_f = [f - p for f, p in zip(t["funnel"], t["pass"], strict=True)]
    net_s = [s - p for s, p in zip(t["statemachine"], t["pass"], strict=True)]
    ratios = [f / s for f, s in zip(net_f, net_s, strict=True)]
    whole = [f / s for f, s in zip(t["funnel"], t["statemachine"], strict=True)]
    probe = subprocess.run(
        [
            exe,
            "-c",
            f"import sys, funnel; print(','.join(m for m in {HEAVY!r} if m in sys.modules))",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    breakdown = _importtime(exe, "import funnel")
    return {
        "python_startup_ms": 1e3 * statistics.median(t["pass"]),
        "python_import_funnel_ms": 1e3 * statistics.median(t["funnel"]),
        "import_ms": 1e3 * statistics.median(net_f),
        "import_ms_min": 1e3 * min(net_f),
        "import_ms_max": 1e3 * max(net_f),
        "statemachine_ms": 1e3 * statistics.median(net_s),
        "vs_statemachine": statistics.median(ratios),
        "vs_statemachine_min": min(ratios),
        "vs_statemachine_max": max(ratios),
        "vs_statemachine_whole_process": statistics.median(whole),
        "importtime_cumulative_ms": breakdown.get("funnel", 0.0),
        "importtime_top_level_ms": breakdown,
        "heavy_modules_imported": [m for m in probe.split(",") if m],
        "runs": runs,
    }


def bench_memory(n: int = 100_000) -> dict[str, Any]:
    """tracemalloc bytes per Lead: the record plus its own id; shared contact and time."""
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    shared = Contact(name="Ada")
    out: dict[str, Any] = {"leads": n}

    def measure(make: Callable[[int], Any]) -> float:
        keep: list[Any] = [None] * n
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        for i in range(n):
            keep[i] = make(i)
        after = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        del keep
        gc.collect()
        return (after - before) / n

    out["lead_bytes"] = measure(
        lambda i: Lead(id=f"L{i:08d}", contact=shared, source="list", created_at=t0)
    )
    out["lead_with_own_contact_bytes"] = measure(
        lambda i: Lead(
            id=f"L{i:08d}",
            contact=Contact(name=f"Person {i:08d}"),
            source="list",
            created_at=t0 + timedelta(seconds=i),
        )
    )
    return out
