"""
import funnel and the memory of a record.

``python benchmarks/bench_startup.py [--runs N] [--repeat K]`` prints the import figures
(K repeats of N alternating rounds each, then the median and spread of the repeats' medians).

Every child interpreter runs without ``PYTHONDONTWRITEBYTECODE`` so the warm-up round
writes bytecode and the timed rounds read it, as an installed package does: with the
variable set, every import compiles its module from source again (about twice the time).
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import resource
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


#: What a child interpreter sees: this process's environment, bytecode caching on.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}

#: Timed in every round, in this order; net times subtract ``pass`` of the same round.
CODES = {
    "pass": ["-c", "pass"],
    "funnel": ["-c", "import funnel"],
    "statemachine": ["-c", "import statemachine"],
    # import funnel, then the default funnel's first use (python-statemachine loads then)
    "first_use": ["-c", "import funnel; funnel.DEFAULT_FUNNEL"],
    "cli_help": ["-m", "funnel", "--help"],
    "cli_demo": ["-m", "funnel", "demo"],
}


def _importtime(exe: str, code: str) -> dict[str, float]:
    """Cumulative ms of the big imports behind *code* (``python -X importtime``)."""
    err = subprocess.run(
        [exe, "-X", "importtime", "-c", code], check=True, capture_output=True, text=True, env=ENV
    ).stderr
    out: dict[str, float] = {}
    for line in err.splitlines():
        parts = line.split("|")
        name = parts[-1].strip()
        if len(parts) == 3 and name in ("funnel", "statemachine", "attrs", "typing", "asyncio"):
            out.setdefault(name, int(parts[1]) / 1e3)
    return out


def _bytecode_cached() -> bool:
    """Whether ``funnel``'s own modules have their bytecode cached (after the warm-up)."""
    spec = importlib.util.find_spec("funnel")
    origin = spec.origin if spec is not None else None
    return origin is not None and os.path.exists(importlib.util.cache_from_source(origin))


def bench_import(runs: int) -> dict[str, Any]:
    """
    ``import funnel`` and ``import statemachine``, fresh processes, alternating with ``pass``.

    Net times subtract the interpreter's start-up (``python -c pass``) of the same round;
    the ratio is the median per-round ratio of the net times (min and max beside it).
    Also timed, not goals: the default funnel's first use after ``import funnel``,
    ``funnel --help`` and ``funnel demo``.
    """
    exe = sys.executable

    cpu: dict[str, list[float]] = {k: [] for k in CODES}

    def one(args: list[str], name: str | None = None) -> float:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        subprocess.run([exe, *args], check=True, env=ENV, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - t
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if name is not None:
            used = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
            cpu[name].append(used)
        return wall

    for args in CODES.values():
        one(args)  # warm the disk cache and write the .pyc files
    t: dict[str, list[float]] = {k: [] for k in CODES}
    for _ in range(runs):
        for name, args in CODES.items():
            t[name].append(one(args, name))
    cpu_f = [f - p for f, p in zip(cpu["funnel"], cpu["pass"], strict=True)]
    cpu_s = [s - p for s, p in zip(cpu["statemachine"], cpu["pass"], strict=True)]
    net = {
        name: [x - p for x, p in zip(t[name], t["pass"], strict=True)]
        for name in CODES
        if name != "pass"
    }
    net_f, net_s = net["funnel"], net["statemachine"]
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
        env=ENV,
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
        # CPU time (user + sys) of the child, net of `pass`: what the wall time is on an
        # idle machine, and much less disturbed by other processes on a busy one
        "import_cpu_ms": 1e3 * statistics.median(cpu_f),
        "statemachine_cpu_ms": 1e3 * statistics.median(cpu_s),
        "first_use_ms": 1e3 * statistics.median(net["first_use"]),
        "cli_help_ms": 1e3 * statistics.median(net["cli_help"]),
        "cli_demo_ms": 1e3 * statistics.median(net["cli_demo"]),
        "importtime_cumulative_ms": breakdown.get("funnel", 0.0),
        "importtime_top_level_ms": breakdown,
        "heavy_modules_imported": [m for m in probe.split(",") if m],
        "bytecode_cached": _bytecode_cached(),
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="import funnel against import statemachine")
    parser.add_argument("--runs", type=int, default=15, help="alternating rounds per repeat")
    parser.add_argument("--repeat", type=int, default=3, help="independent repeats")
    args = parser.parse_args(argv)
    keys = (
        "import_ms",
        "statemachine_ms",
        "vs_statemachine",
        "import_cpu_ms",
        "statemachine_cpu_ms",
        "first_use_ms",
        "cli_help_ms",
        "cli_demo_ms",
    )
    repeats = []
    for i in range(args.repeat):
        result = bench_import(args.runs)
        repeats.append(result)
        print(f"repeat {i + 1}: " + json.dumps({k: round(result[k], 3) for k in keys}), flush=True)
    summary = {
        k: {
            "median": round(statistics.median(r[k] for r in repeats), 3),
            "min": round(min(r[k] for r in repeats), 3),
            "max": round(max(r[k] for r in repeats), 3),
        }
        for k in keys
    }
    last = repeats[-1]
    summary["python_startup_ms"] = round(last["python_startup_ms"], 1)
    summary["heavy_modules_imported"] = last["heavy_modules_imported"]
    summary["bytecode_cached"] = last["bytecode_cached"]
    summary["importtime_top_level_ms"] = last["importtime_top_level_ms"]
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
