"""Shared helpers of the benchmarks: timing races, spread and result entries."""

from __future__ import annotations

import gc
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


def race(candidates: dict[str, Callable[[], Any]], repeat: int) -> Race:
    """
    Seconds per candidate, alternating candidates each round, gc before each run.

    Each round starts with the next candidate (round *r* runs them from the *r*-th on,
    wrapping around), so that no candidate always runs first, right after the last one
    of the round before (whose freed memory and cold caches it would pay for).
    """
    times = Race({k: [] for k in candidates})
    names = list(candidates)
    for r in range(repeat):
        k = r % len(names)
        for name in names[k:] + names[:k]:
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
