"""
The performance benchmarks (issues 7 and 14); writes ``benchmarks/results.json``.

    uv run python benchmarks/run.py                      # 1M and 10M events (the real run)
    uv run python benchmarks/run.py --sizes 100000 --out /tmp/results.json   # a quick check

Goals (each a ratio or value measured in this one run):

* bulk replay within 2x of a hand-written dict transition table, and at
  least 100x faster per event than one python-statemachine instance per lead;
* the funnel report on the largest log within 1.5x of a hand-written polars query;
* ``import funnel`` under 150 ms, with no heavy optional dependency imported;
* under 300 bytes per lead record with no touches;
* per-event cost growing linearly (ratio of per-event costs, largest / smallest
  log, at most 1.3) for the replay of a frame (``bulk_replay_columns``, the path
  for big logs) and the report; the growth of ``bulk_replay`` over lists and of
  the dict baseline is recorded beside it.

Timings are medians of ``--repeat`` runs, candidates alternating, with
``gc.collect()`` before each run. Each workload lives in its own module
(``bench_replay``, ``bench_report``, ``bench_startup``, ...); ``benchmarks/common.py``
holds the race, the spread and the result entries.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import generate
from benchmarks.bench_load import bench_cli, bench_load
from benchmarks.bench_replay import bench_replay
from benchmarks.bench_report import bench_report, bench_ttc_growth, report_entries
from benchmarks.bench_startup import bench_import, bench_memory
from benchmarks.bench_store import bench_store
from benchmarks.common import entry, log, race, timed

HERE = Path(__file__).resolve().parent
#: Names of the report area's entries (``--only report`` replaces them, old and new).
REPORT_ENTRIES = (
    "funnel report (",
    "linear growth of the funnel report",
    "funnel_report",
    "breakdown (first touch)",
    "cohorts (1mo)",
    "time_to_convert",
    "growth of time_to_convert",
    "report + time to convert",
)

#: Entries that other scripts write into the same file (a whole run keeps them).
OTHER_SCRIPTS = ("beyond memory", "Dask overhead", "Spark overhead")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1] if __doc__ else None)
    parser.add_argument("--sizes", default="1000000,10000000", help="log sizes, smallest first")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--small-repeat",
        type=int,
        default=25,
        help="rounds of the report races on logs of at most 2M rows (cheap, and noisier)",
    )
    parser.add_argument("--psm-leads", type=int, default=2000)
    parser.add_argument("--import-runs", type=int, default=15)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=HERE / "results.json")
    parser.add_argument(
        "--only",
        choices=("all", "report", "replay-growth", "cli"),
        default="all",
        help="run one area (report: issue 14; replay-growth: bulk_replay_columns' growth; "
        "cli: the funnel report command)",
    )
    parser.add_argument(
        "--ttc-growth-size",
        type=int,
        default=30_000_000,
        help="also time time_to_convert at this size, for its growth (0: skip)",
    )
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    started = time.perf_counter()

    if args.only == "report":
        report_only: dict[int, dict[str, Any]] = {}
        for size in sizes:
            log(f"{size:,} events: generate/load ...")
            frame = generate.load(size, args.seed)
            rounds = _report_rounds(args, size)
            report_only[size] = bench_report(frame, rounds, generate.path(size, args.seed))
            del frame
            gc.collect()
        if args.ttc_growth_size and args.ttc_growth_size not in report_only:
            report_only[args.ttc_growth_size] = _ttc_growth(args, sizes[0])
        return _write(args, argv, started, report_entries(report_only), {"report": report_only})
    if args.only == "cli":
        cli_only = {size: bench_cli(size, args.repeat) for size in sizes}
        entries = [_cli_entry(size, c) for size, c in cli_only.items()]
        return _write(args, argv, started, entries, {"cli": cli_only})
    if args.only == "replay-growth":
        small, big = sizes[0], sizes[-1]
        raced = _replay_growth(args, small, big)
        return _write(args, argv, started, [_replay_growth_entry(small, big, raced)], {})
    log("import time ...")
    imp = bench_import(args.import_runs)
    log(f"  {imp}")
    log("memory per lead ...")
    mem = bench_memory()
    log(f"  {mem}")

    replay: dict[int, dict[str, Any]] = {}
    report: dict[int, dict[str, Any]] = {}
    load: dict[int, dict[str, Any]] = {}
    cli: dict[int, dict[str, Any]] = {}
    psm: dict[str, Any] | None = None
    for size in sizes:
        log(f"{size:,} events: generate/load ...")
        seconds, frame = timed(lambda size=size: generate.load(size, args.seed))  # type: ignore[misc]
        log(f"  loaded in {seconds:.1f} s")
        log("  replay ...")
        replay[size], p = bench_replay(frame, args.repeat, args.psm_leads if psm is None else 0)
        psm = psm or p
        log(f"  {replay[size]}")
        log("  report ...")
        report[size] = bench_report(
            frame, _report_rounds(args, size), generate.path(size, args.seed)
        )
        log(f"  {report[size]}")
        del frame
        gc.collect()
        log("  load_csv and the funnel report CLI ...")
        load[size] = bench_load(size, args.repeat)
        log(f"  {load[size]}")
        cli[size] = bench_cli(size, args.repeat)
        log(f"  {cli[size]}")
        gc.collect()

    small, big = sizes[0], sizes[-1]
    results: list[dict[str, Any]] = []
    r = replay[big]
    ratio = r["bulk_s"] / r["dict_s"]
    results.append(
        entry(
            "bulk replay vs hand-written dict transition table",
            "<= 2 (bulk time / dict time)",
            ratio <= 2,
            ratio=ratio,
            events=r["events"],
            bulk_us_per_event=round(r["bulk_us_per_event"], 4),
            dict_us_per_event=round(r["dict_us_per_event"], 4),
            by_size={str(s): round(replay[s]["bulk_s"] / replay[s]["dict_s"], 3) for s in sizes},
            columns_vs_dict_from_frame={
                str(s): round(replay[s]["columns_s"] / replay[s]["dict_from_frame_s"], 3)
                for s in sizes
            },
        )
    )
    if psm is not None:
        speedup = psm["psm_us_per_event"] / psm["bulk_us_per_event_full_log"]
        results.append(
            entry(
                "bulk replay vs one python-statemachine instance per lead",
                ">= 100 (psm µs per event / bulk µs per event)",
                speedup >= 100,
                ratio=speedup,
                note=(
                    f"per event: psm measured on the first {psm['sample_leads']} leads "
                    f"({psm['sample_events']} events) of the {small:,}-event log, a new "
                    "SalesFunnel(model=Cursor, state_field='stage') per lead, guards forced "
                    f"to pass; bulk per event on the whole {small:,}-event log (the same log)"
                ),
                extra={k: round(v, 3) if isinstance(v, float) else v for k, v in psm.items()},
            )
        )
    if args.ttc_growth_size and args.ttc_growth_size not in report:
        report[args.ttc_growth_size] = _ttc_growth(args, small)
    results += report_entries(report)
    results.append(
        entry(
            "import funnel",
            "< 150 ms, no heavy optional dependency imported",
            imp["import_ms"] < 150 and not imp["heavy_modules_imported"],
            value=imp["import_ms"],
            unit="ms",
            ratio=imp["import_ms"] / 150,
            extra={k: round(v, 1) if isinstance(v, float) else v for k, v in imp.items()},
        )
    )
    results.append(
        entry(
            "memory per lead record (no touches)",
            "< 300 bytes",
            mem["lead_bytes"] < 300,
            value=mem["lead_bytes"],
            unit="bytes",
            ratio=mem["lead_bytes"] / 300,
            definition=(
                "tracemalloc over 100k Leads: the Lead object and its own id string; "
                "contact, created_at, source and empty tuples shared"
            ),
            lead_with_own_contact_bytes=round(mem["lead_with_own_contact_bytes"], 1),
        )
    )
    results.append(
        entry(
            "import funnel vs import statemachine (issue 14)",
            "< 150 ms and <= 1.5 (net import times, per round)",
            imp["import_ms"] < 150 and imp["vs_statemachine"] <= 1.5,
            ratio=imp["vs_statemachine"],
            value=imp["import_ms"],
            unit="ms",
            ratio_min=round(imp["vs_statemachine_min"], 3),
            ratio_max=round(imp["vs_statemachine_max"], 3),
            import_ms_min=round(imp["import_ms_min"], 1),
            import_ms_max=round(imp["import_ms_max"], 1),
            statemachine_ms=round(imp["statemachine_ms"], 1),
            importtime_ms=imp["importtime_top_level_ms"],
        )
    )
    for size in sizes:
        r = replay[size]
        results.append(
            entry(
                f"bulk replay vs the run-aware dict loop on {r['events']:,} events",
                "<= 1.2 (bulk time / run loop time, per round)",
                r["vs_run_loop"]["ratio"] <= 1.2,
                ratio=r["vs_run_loop"]["ratio"],
                ratio_min=r["vs_run_loop"]["ratio_min"],
                ratio_max=r["vs_run_loop"]["ratio_max"],
                bulk_s=round(r["bulk_s"], 3),
                run_loop_s=round(r["run_loop_s"], 3),
            )
        )
        ld = load[size]
        results.append(
            entry(
                f"load_csv vs polars.read_csv(try_parse_dates=True) on {size:,} rows",
                "<= 1.5 (per round); the same rows accepted",
                ld["vs_polars_typed"]["ratio"] <= 1.5,
                ratio=ld["vs_polars_typed"]["ratio"],
                ratio_min=ld["vs_polars_typed"]["ratio_min"],
                ratio_max=ld["vs_polars_typed"]["ratio_max"],
                load_csv_s=ld["load_csv_s"],
                vs_polars_expert=ld["vs_polars_expert"],
                vs_polars_text=ld["vs_polars_text"],
            )
        )
        results.append(_cli_entry(size, cli[size]))
    if big != small:

        def growth(runs: dict[int, dict[str, Any]], key: str, count: str) -> float:
            """Per-item cost at the largest size over that at the smallest."""
            a, b = runs[small], runs[big]
            return float((b[key] / b[count]) / (a[key] / a[count]))

        raced = _replay_growth(args, small, big)
        results.append(
            _replay_growth_entry(
                small,
                big,
                raced,
                of_medians=round(growth(replay, "columns_s", "events"), 3),
                bulk_replay_lists_growth=round(growth(replay, "bulk_s", "events"), 3),
                dict_baseline_growth=round(growth(replay, "dict_s", "events"), 3),
                dict_from_frame_growth=round(growth(replay, "dict_from_frame_s", "events"), 3),
                note=(
                    "bulk_replay over Python lists builds a dict with one key per lead "
                    f"({replay[big]['leads']:,} at the largest size); the cost per key of such "
                    "a dict grows once it outgrows the CPU caches, as the baselines show"
                ),
            )
        )
    log("store writes ...")
    results.extend(bench_store(max(args.repeat, 7)))
    return _write(
        args,
        argv,
        started,
        results,
        {
            "replay": replay,
            "report": report,
            "load": load,
            "cli": cli,
            "import": imp,
            "memory": mem,
            "psm": psm,
        },
    )


def _replay_growth_entry(
    small: int, big: int, raced: dict[str, float], **extra: Any
) -> dict[str, Any]:
    """The results entry of :func:`_replay_growth` (goal: at most 1.3)."""
    return entry(
        f"linear growth of bulk replay (bulk_replay_columns), {small:,} -> {big:,} events",
        "<= 1.3 (per-event cost ratio, per round: both sizes in one race)",
        raced["ratio"] <= 1.3,
        ratio=raced["ratio"],
        ratio_min=raced["ratio_min"],
        ratio_max=raced["ratio_max"],
        **extra,
    )


def _replay_growth(args: argparse.Namespace, small: int, big: int) -> dict[str, float]:
    """
    The per-event growth of ``bulk_replay_columns`` from *small* to *big* events, the two
    logs raced in one race (each round's ratio compares runs that saw the same load).
    """
    import statistics

    from funnel.engine.replay import bulk_replay_columns

    log(f"replay growth: {small:,} and {big:,} events in one race ...")
    logs = {"small": generate.load(small, args.seed), "big": generate.load(big, args.seed)}

    def replay(frame: Any) -> Callable[[], Any]:
        return lambda: bulk_replay_columns(frame)

    times = race({k: replay(f) for k, f in logs.items()}, max(args.repeat, 5))
    n_small, n_big = logs["small"].height, logs["big"].height
    per_round = [
        (tb / n_big) / (ta / n_small) for ta, tb in zip(times["small"], times["big"], strict=True)
    ]
    out = {
        "ratio": round(statistics.median(per_round), 3),
        "ratio_min": round(min(per_round), 3),
        "ratio_max": round(max(per_round), 3),
    }
    log(f"  {out}")
    logs.clear()
    gc.collect()
    return out


def _ttc_growth(args: argparse.Namespace, small: int) -> dict[str, Any]:
    """time_to_convert at ``--ttc-growth-size``, raced with the same on the *small* log."""
    log(f"{args.ttc_growth_size:,} events: time to convert (and {small:,} in the same race) ...")
    frame = generate.load(args.ttc_growth_size, args.seed)
    out = bench_ttc_growth(frame, args.repeat, generate.load(small, args.seed))
    log(f"  {out}")
    del frame
    gc.collect()
    return out


def _cli_entry(size: int, c: dict[str, Any]) -> dict[str, Any]:
    return entry(
        f"funnel report CLI vs plain polars read + the same query on {size:,} rows",
        "<= 1.5 (per round, fresh processes); the same counts",
        c["ratio"]["ratio"] <= 1.5,
        ratio=c["ratio"]["ratio"],
        ratio_min=c["ratio"]["ratio_min"],
        ratio_max=c["ratio"]["ratio_max"],
        cli_s=c["funnel_report_cli_s"],
        peer_s=c["polars_script_s"],
        cli_imports_s=c["cli_imports_s"],
        peer_imports_s=c["peer_imports_s"],
    )


def _report_rounds(args: argparse.Namespace, size: int) -> int:
    """Rounds of the report races: more on small logs, where one round is short and noisy."""
    rounds: int = max(args.repeat, args.small_repeat) if size <= 2_000_000 else args.repeat
    return rounds


def _write(
    args: argparse.Namespace,
    argv: Sequence[str] | None,
    started: float,
    results: list[dict[str, Any]],
    raw: dict[str, Any],
) -> int:
    if args.out.exists():
        # one area: its entries replace the same area's in the file, the others stay; a
        # whole run replaces all of its own and keeps those of bench_parquet.py (its own
        # command, 100M events: too long to rerun with the rest)
        old = json.loads(args.out.read_text())
        names = {r["name"] for r in results}
        if args.only != "all":
            area = REPORT_ENTRIES if args.only == "report" else ()
            kept = [
                r
                for r in old.get("results", [])
                if r["name"] not in names and not (area and r["name"].startswith(area))
            ]
            raw = {**old.get("raw", {}), **raw}
        else:
            kept = [r for r in old.get("results", []) if r["name"].startswith(OTHER_SCRIPTS)]
        results = kept + results
    command = "uv run python benchmarks/run.py " + " ".join(argv or sys.argv[1:])
    when = datetime.now(UTC).isoformat(timespec="seconds")
    seconds = round(time.perf_counter() - started, 1)
    doc = {
        "command": command,
        "when": when,
        "python": platform.python_version(),
        "machine": f"{platform.machine()} {platform.system()}",
        "seconds": seconds,
        "results": results,
        "raw": raw,
    }
    if args.only in ("replay-growth", "cli") and args.out.exists():
        # entries rerun: the file stays the whole run's; each entry says how it was taken
        old_doc = json.loads(args.out.read_text())
        doc.update({k: old_doc[k] for k in ("command", "when", "seconds") if k in old_doc})
        before = {r["name"]: r for r in old_doc.get("results", [])}
        for res in results:
            if res["name"].startswith(("linear growth of bulk replay", "funnel report CLI")):
                res.update(command=command, when=when)
                prior = before.get(res["name"], {})
                whole = prior.get("whole_run") or {
                    k: v for k, v in prior.items() if k not in ("name", "goal", "met")
                }
                if whole:  # what the whole run measured (a ratio of medians, before)
                    res["whole_run"] = whole
    args.out.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    for res in results:
        shown = res.get("ratio", res.get("value"))
        verdict = "MET " if res["met"] else "MISS" if res["met"] is False else "INFO"
        log(f"{verdict} {res['name']}: {shown} (goal {res['goal']})")
    log(f"wrote {args.out} in {seconds} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
