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


def bench_import(runs: int) -> dict[str, Any]:
    exe = sys.executable

    def one(code: str) -> float:
        t = time.perf_counter()
        subprocess.run([exe, "-c", code], check=True)
        return time.perf_counter() - t

    one("import funnel")  # warm the disk cache and .pyc files
    pass_t, funnel_t = [], []
    for _ in range(runs):
        pass_t.append(one("pass"))
        funnel_t.append(one("import funnel"))
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
    importtime = subprocess.run(
        [exe, "-X", "importtime", "-c", "import funnel"],
        check=True,
        capture_output=True,
        text=True,
    ).stderr
    cumulative = 0
    for line in importtime.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[2].strip() == "funnel":
            cumulative = int(parts[1])
    startup = statistics.median(pass_t)
    total = statistics.median(funnel_t)
    return {
        "python_startup_ms": 1e3 * startup,
        "python_import_funnel_ms": 1e3 * total,
        "import_ms": 1e3 * (total - startup),
        "importtime_cumulative_ms": cumulative / 1e3,
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
