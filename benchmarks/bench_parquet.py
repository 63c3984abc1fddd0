"""
The funnel report beyond memory: a 100M-event log in 101 Parquet files (issue 14, goal 5).

Each candidate runs in a fresh subprocess (so its peak RSS is its own:
``resource.getrusage(RUSAGE_SELF).ru_maxrss``), rounds alternating; outputs are
checked equal. Candidates:

* ``duckdb_sql``: DuckDB SQL over ``read_parquet('<folder>/*.parquet')`` (the peer):
  one ``bit_or`` bitmask per lead, a count per mask.
* ``funnel_duckdb``: ``funnel_report(duckdb.read_parquet(...))`` (funnel's DuckDB path,
  the same single aggregation).
* ``funnel_polars``: ``funnel_report(pl.scan_parquet(...))`` (polars lazy).
* ``dask``: ``funnel.analytics.report_dask(dd.read_parquet(...))`` and ``dask_peer``
  (DuckDB on the same files): on the first ``--dask-files`` files only, to measure
  Dask's overhead on one machine without a multi-minute run.
* ``spark``: ``funnel.analytics.distributed.report_spark(spark.read.parquet(...))`` in a
  local ``local[2]`` session, on the first ``--spark-files`` files, against DuckDB on the
  same files: the query is timed, and the session start (JVM and Spark context) apart.
  pyspark is the optional ``spark`` extra (not in ``all``: ~450 MB, Java 17+); without it
  or without ``java`` the entry records why it was not measured.

    uv run python benchmarks/bench_parquet.py                  # 100M events, 101 files
    uv run python benchmarks/bench_parquet.py --events 10000000 --parts 10 --rounds 1
    uv run --extra spark python benchmarks/bench_parquet.py --rounds 0 --dask-files 0 \
        --spark-files 3                                        # Spark's overhead only
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import generate
from benchmarks.bench_report import _case, decode
from benchmarks.common import entry, log

HERE = Path(__file__).resolve().parent


def _outcome(rep: Any) -> list[Any]:
    return [list(rep.counts), rep.won, rep.lost]


def candidate(name: str, files: list[str]) -> dict[str, Any]:
    """Run one candidate in this process: seconds, peak RSS, outcome."""
    # imports are not timed (goal 6 measures them); the query, from the files, is
    import duckdb
    import polars as pl

    from funnel.analytics import funnel_report

    if name == "dask":
        import dask.dataframe as dd

        from funnel.analytics.distributed import report_dask
    started = time.perf_counter()
    if name in ("duckdb_sql", "dask_peer"):
        listed = ", ".join(f"'{f}'" for f in files)
        sql = (
            f"SELECT m, count(*) FROM (SELECT bit_or({_case()}) AS m FROM "
            f"read_parquet([{listed}]) GROUP BY lead_id) GROUP BY m"
        )
        rel = duckdb.sql(sql)
        assert rel is not None
        out = decode((None, m, n) for m, n in rel.fetchall())[None]
        outcome = [list(out[0]), out[1], out[2]]
    elif name == "funnel_duckdb":
        outcome = _outcome(funnel_report(duckdb.read_parquet(files)))
    elif name == "funnel_polars":
        outcome = _outcome(funnel_report(pl.scan_parquet(files)))
    elif name == "dask":
        rep = report_dask(dd.read_parquet(files, columns=["lead_id", "at", "stage"]))
        outcome = _outcome(rep)
    elif name == "spark":
        return _spark(files, started)
    else:
        raise SystemExit(f"unknown candidate {name!r}")
    seconds = time.perf_counter() - started
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB -> MiB
    return {"seconds": seconds, "rss_mb": rss, "outcome": outcome}


def _spark(files: list[str], started: float) -> dict[str, Any]:
    """report_spark in a local[2] session: the session start and the query timed apart."""
    from pyspark.sql import SparkSession

    from funnel.analytics.distributed import report_spark

    spark = (
        SparkSession.builder.master("local[2]")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.memory", "3g")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    spark.range(1).count()  # the first job: the JVM and the executors are up
    session_s = time.perf_counter() - started
    t = time.perf_counter()
    rep = report_spark(spark.read.parquet(*files).select("lead_id", "at", "stage"))
    seconds = time.perf_counter() - t
    spark.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # the Python side only
    return {"seconds": seconds, "session_s": session_s, "rss_mb": rss, "outcome": _outcome(rep)}


def spark_missing() -> str | None:
    """Why Spark cannot run here (``None``: it can)."""
    import importlib.util
    import shutil

    if importlib.util.find_spec("pyspark") is None:
        return (
            "pyspark is not installed (the optional 'spark' extra, not in 'all'); run "
            "uv run --extra spark python benchmarks/bench_parquet.py --spark-files 3"
        )
    if shutil.which("java") is None:
        return "pyspark is installed but there is no java (Spark needs Java 17+)"
    return None


def run_child(name: str, files: list[str]) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--candidate", name, "--files", json.dumps(files)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"{name} failed: {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def bench(folder: Path, rounds: int, dask_files: int, spark_files: int = 0) -> dict[str, Any]:
    files = sorted(str(p) for p in folder.glob("part_*.parquet"))
    out: dict[str, Any] = {"files": len(files)}
    if rounds:
        out.update(_race(files, rounds))
    if dask_files:
        few = files[:dask_files]
        log(f"  dask on {len(few)} files ...")
        d, p = run_child("dask", few), run_child("dask_peer", few)
        if d["outcome"] != p["outcome"]:
            raise AssertionError(f"dask disagrees: {d['outcome']} != {p['outcome']}")
        out["dask"] = {
            "files": len(few),
            "dask_s": round(d["seconds"], 2),
            "dask_rss_mb": round(d["rss_mb"]),
            "duckdb_s": round(p["seconds"], 2),
            "duckdb_rss_mb": round(p["rss_mb"]),
            "overhead": round(d["seconds"] / p["seconds"], 2),
        }
    if spark_files:
        out["spark"] = bench_spark(files[:spark_files])
    return out


def _race(files: list[str], rounds: int) -> dict[str, Any]:
    """DuckDB SQL against funnel on DuckDB (and once on polars) over every file."""
    races: dict[str, list[dict[str, Any]]] = {"duckdb_sql": [], "funnel_duckdb": []}
    races["funnel_polars"] = []
    for r in range(rounds):
        for name in races:
            if name == "funnel_polars" and r:  # one round: it is not the goal's path
                continue
            log(f"  round {r + 1}: {name} ...")
            races[name].append(run_child(name, files))
            log(f"    {races[name][-1]['seconds']:.1f} s, {races[name][-1]['rss_mb']:.0f} MiB")
    ref = races["duckdb_sql"][0]["outcome"]
    for name, runs in races.items():
        for run in runs:
            if run["outcome"] != ref:
                raise AssertionError(f"{name} disagrees: {run['outcome']} != {ref}")
    per_round = [
        a["seconds"] / b["seconds"]
        for a, b in zip(races["funnel_duckdb"], races["duckdb_sql"], strict=True)
    ]
    out: dict[str, Any] = {
        "outcome": ref,
        "ratio": statistics.median(per_round),
        "ratio_min": min(per_round),
        "ratio_max": max(per_round),
    }
    for name, runs in races.items():
        out[f"{name}_s"] = round(statistics.median(r["seconds"] for r in runs), 2)
        out[f"{name}_rss_mb"] = round(max(r["rss_mb"] for r in runs))
    return out


def bench_spark(files: list[str], rounds: int = 2) -> dict[str, Any]:
    """Spark's overhead on one machine: report_spark vs DuckDB on the same *files*."""
    why = spark_missing()
    if why is not None:
        log(f"  spark: not measured: {why}")
        return {"files": len(files), "measured": False, "why": why}
    runs, peers = [], []
    for r in range(rounds):
        log(f"  spark on {len(files)} files, round {r + 1} ...")
        runs.append(run_child("spark", files))
        peers.append(run_child("dask_peer", files))
        if runs[-1]["outcome"] != peers[-1]["outcome"]:
            raise AssertionError(
                f"spark disagrees: {runs[-1]['outcome']} != {peers[-1]['outcome']}"
            )
        log(
            f"    spark {runs[-1]['seconds']:.1f} s (+{runs[-1]['session_s']:.1f} s session), "
            f"duckdb {peers[-1]['seconds']:.1f} s"
        )
    per_round = [a["seconds"] / b["seconds"] for a, b in zip(runs, peers, strict=True)]
    return {
        "files": len(files),
        "measured": True,
        "spark_s": round(statistics.median(r["seconds"] for r in runs), 2),
        "session_s": round(statistics.median(r["session_s"] for r in runs), 2),
        "duckdb_s": round(statistics.median(p["seconds"] for p in peers), 2),
        "overhead": round(statistics.median(per_round), 2),
        "overhead_min": round(min(per_round), 2),
        "overhead_max": round(max(per_round), 2),
        "python_rss_mb": round(max(r["rss_mb"] for r in runs)),
    }


def entries(res: dict[str, Any], events: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if "ratio" in res:
        rss = res["funnel_duckdb_rss_mb"]
        out.append(
            entry(
                f"beyond memory: funnel_report on {events:,} events in {res['files']} parquet "
                "files (DuckDB path) vs DuckDB SQL",
                "<= 1.3 (funnel time / DuckDB time) and <= 4096 MiB peak RSS",
                res["ratio"] <= 1.3 and rss <= 4096,
                ratio=res["ratio"],
                extra={k: v for k, v in res.items() if k not in ("ratio", "spark")},
            )
        )
    if "spark" in res:
        sp = res["spark"]
        out.append(
            entry(
                f"Spark overhead on one machine ({sp['files']} files)",
                "measured (report_spark time / DuckDB time, local[2]; session start apart)",
                None,
                ratio=sp.get("overhead"),
                extra=sp,
            )
        )
    if "dask" in res:
        out.append(
            entry(
                f"Dask overhead on one machine ({res['dask']['files']} files)",
                "measured (report_dask time / DuckDB time)",
                None,
                ratio=res["dask"]["overhead"],
                extra=res["dask"],
            )
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="funnel report on a parquet dataset")
    parser.add_argument("--events", type=int, default=100_000_000)
    parser.add_argument("--parts", type=int, default=101)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dask-files", type=int, default=5)
    parser.add_argument(
        "--spark-files", type=int, default=3, help="files for Spark's overhead (0: skip)"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=None, help="merge the entries into this JSON")
    parser.add_argument("--candidate", help=argparse.SUPPRESS)
    parser.add_argument("--files", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.candidate:
        print(json.dumps(candidate(args.candidate, json.loads(args.files))))
        return 0
    log(f"parquet parts: {args.events:,} events in {args.parts} files ...")
    folder = generate.parts(args.events, args.parts, args.seed)
    res = bench(folder, args.rounds, args.dask_files, args.spark_files)
    found = entries(res, args.events)
    for e in found:
        log(
            f"{'MET ' if e['met'] else 'MISS' if e['met'] is False else '    '} {e['name']}: "
            f"{e.get('ratio')} ({e['goal']})"
        )
    log(json.dumps(res, indent=2, default=str))
    if args.out is not None:
        doc = json.loads(args.out.read_text()) if args.out.exists() else {"results": []}
        names = {e["name"] for e in found}
        doc["results"] = [e for e in doc["results"] if e["name"] not in names] + found
        # the 100M race's raw figures stay apart from a run of the overheads alone
        doc.setdefault("raw", {})["parquet" if "ratio" in res else "parquet_overheads"] = res
        args.out.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
