"""The funnel report against the best peers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from benchmarks.common import race
from funnel.engine.replay import reached_polars, report_steps
from funnel.model.eventlog import LEAD_ID, STAGE


def hand_polars(frame: Any) -> tuple[list[int], int, int]:
    """A hand-written polars query: distinct leads reaching each step, won, lost-not-won."""
    import polars as pl

    steps = report_steps()
    per = (
        frame.lazy()
        .group_by(LEAD_ID)
        .agg(
            pl.col(STAGE)
            .replace_strict(
                {s: i for i, s in enumerate(steps)}, default=None, return_dtype=pl.Int8
            )
            .max()
            .alias("k"),
            (pl.col(STAGE) == "won").any().alias("w"),
            pl.col(STAGE).is_in(["lost", "disqualified"]).any().alias("l"),
        )
        .filter(pl.col("k").is_not_null())
        .collect()
    )
    k = per["k"]
    counts = [int((k >= i).sum()) for i in range(len(steps))]
    won = int(per["w"].sum())
    lost = int((per["l"] & ~per["w"]).sum())
    return counts, won, lost


def bench_report(frame: Any, repeat: int) -> dict[str, Any]:
    from funnel.analytics import funnel_report

    hand = hand_polars(frame)
    candidates: dict[str, Callable[[], Any]] = {
        "hand_polars": lambda: hand_polars(frame),
        "funnel.engine.replay.reached_polars": lambda: reached_polars(frame),
    }
    out: dict[str, Any] = {
        "rows": frame.height,
        "counts": hand[0],
        "won": hand[1],
        "lost": hand[2],
    }
    mine = reached_polars(frame)
    assert (list(mine.counts), mine.won, mine.lost) == hand, (mine, hand)
    try:
        rep = funnel_report(frame)
        agree = (list(rep.counts), rep.won, rep.lost) == hand
        out["analytics_agrees"] = agree
        if agree:
            candidates["funnel.analytics.funnel_report"] = lambda: funnel_report(frame)
    except Exception as exc:  # analytics is developed in parallel; record, don't crash
        out["analytics_error"] = f"{type(exc).__name__}: {exc}"
    times = race(candidates, repeat).medians()
    out.update({f"{k}_s": v for k, v in times.items()})
    return out
