"""
What logging and tracing cost a transition: ``fire`` now against ``fire`` without them.

The peer is the path as it was before transitions were logged and traced: the same
``decide_and_apply`` without :func:`funnel.engine.transitions.observed` around it.
Candidates alternate in each round (``common.race``); the ratio is the median of the
per-round ratios, with its min and max.

    uv run python benchmarks/bench_observability.py --repeat 21 --calls 20000
"""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import funnel
from benchmarks.common import log, race
from funnel.engine import transitions as tr

AT = datetime(2026, 3, 1, tzinfo=UTC)


def _unobserved_fire(record: Any, event: str, *, at: datetime) -> Any:
    """Funnel.fire as it was: context, check_options, decide_and_apply (no hooks)."""
    ctx = tr.context(funnel.DEFAULT_FUNNEL, at)
    tr.check_options(ctx.funnel, None, ())
    return tr.decide_and_apply(record, event, ctx, "any", (), None)


def records(n: int) -> list[funnel.Lead]:
    form = funnel.Touch(id="f", at=AT, direction="inbound", channel="form", reach="mass")
    return [
        funnel.Lead(
            id=f"L{i}",
            contact=funnel.Contact(name="X"),
            source="web",
            created_at=AT,
            touches=[form],
        )
        for i in range(n)
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--calls", type=int, default=20_000)
    args = parser.parse_args()
    leads = records(args.calls)
    at = AT + timedelta(hours=1)

    def now() -> list[Any]:
        return [funnel.fire(r, "mark_mql", at=at) for r in leads]

    def before() -> list[Any]:
        return [_unobserved_fire(r, "mark_mql", at=at) for r in leads]

    assert now() == before()  # the same records either way
    logging.getLogger("funnel").setLevel(logging.WARNING)  # an application's usual level
    result = race({"fire": now, "fire_before": before}, args.repeat)
    r = result.ratio("fire", "fire_before")
    per_call = result.median("fire") / args.calls * 1e6
    fastest = min(result["fire"]) / min(result["fire_before"])
    log(
        f"logging off, no tracer provider: fire / fire before = {r['ratio']:.3f} "
        f"(min {r['ratio_min']:.3f}, max {r['ratio_max']:.3f}); fastest rounds "
        f"{fastest:.3f}; {per_call:.1f} us per fire"
    )
    try:
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
    except ImportError:
        return
    trace.set_tracer_provider(TracerProvider())  # spans made, none exported
    result = race({"fire": now, "fire_before": before}, args.repeat)
    r = result.ratio("fire", "fire_before")
    log(
        f"with an SDK tracer provider (spans made): fire / fire before = {r['ratio']:.3f} "
        f"(min {r['ratio_min']:.3f}, max {r['ratio_max']:.3f})"
    )


if __name__ == "__main__":
    main()
