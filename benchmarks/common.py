"""Shared helpers of the benchmarks: timing races, spread and result entries."""

from __future__ import annotations

import gc
import random
import statistics
import time
from collections.abc import Callable
from typing import Any


def log(msg: str) -> None:
    print(msg, flush=True)


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    gc.collect()
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


class Race(dict[str, list[float]]):
    """Seconds per candidate and round; ``race[name]`` is the list, ``median(name)`` the median."""

    def median(self, name: str) -> float:
        return statistics.median(self[name])

    def spread(self, name: str) -> float:
        """(max - min) / median of a candidate's rounds: how noisy its timing was."""
        runs = self[name]
        return (max(runs) - min(runs)) / statistics.median(runs)

    def medians(self) -> dict[str, float]:
        return {k: self.median(k) for k in self}

    def ratio(self, mine: str, peer: str) -> dict[str, float]:
        """Median of the per-round ratios (rounds alternate, so each pair saw the same load)."""
        per_round = [a / b for a, b in zip(self[mine], self[peer], strict=True)]
        return {
            "ratio": statistics.median(per_round),
            "ratio_min": min(per_round),
            "ratio_max": max(per_round),
        }


def race(candidates: dict[str, Callable[[], Any]], repeat: int, seed: int = 0) -> Race:
    """
    Seconds per candidate, each round running every candidate once, gc before each run.

    Each round runs the candidates in a new order, drawn from a random generator seeded
    with *seed* (so a rerun races in the same orders). A fixed cyclic order, even one
    rotated each round, makes a candidate always run right after the same other one and
    pay for its freed memory and cold caches: at 1M events ``funnel_report`` measured
    76 ms after the polars query and 89 ms right after pandas' factorize, which came
    before it in every round of the rotated race.
    """
    times = Race({k: [] for k in candidates})
    names = list(candidates)
    rng = random.Random(seed)
    for _ in range(repeat):
        order = names[:]
        rng.shuffle(order)
        for name in order:
            seconds, _ = timed(candidates[name])
            times[name].append(seconds)
    return times


def entry(
    name: str,
    goal: str,
    met: bool | None,
    *,
    ratio: float | None = None,
    value: float | None = None,
    unit: str | None = None,
    extra: dict[str, Any] | None = None,
    **detail: Any,
) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name}
    if ratio is not None:
        out["ratio"] = round(ratio, 3)
    if value is not None:
        out["value"] = round(value, 3)
    if unit:
        out["unit"] = unit
    out["goal"] = goal
    out["met"] = met
    out.update(detail)
    out.update(extra or {})
    return out
