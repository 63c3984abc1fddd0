"""
``import funnel`` loads no python-statemachine: the default funnel is built on first use.

Each test runs a fresh interpreter and asserts which modules it imported (times are
measured in ``benchmarks/bench_startup.py``, never here).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

import pytest

#: Loaded with the first funnel, not by ``import funnel``: python-statemachine and what
#: it pulls in (asyncio alone is most of its import time).
DEFERRED = ("statemachine", "asyncio", "concurrent.futures", "ssl", "socket", "subprocess")


def run(code: str) -> Any:
    """Run *code* in a fresh interpreter; it prints one JSON value, returned here."""
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_funnel_defers_statemachine():
    loaded = run(
        f"""
        import json, sys
        import funnel
        print(json.dumps([m for m in {list(DEFERRED)!r} if m in sys.modules]))
        """
    )
    assert loaded == []


def test_records_and_names_work_without_statemachine():
    """Records, touches, evidence, dir() and the level check need no machine."""
    out = run(
        """
        import json, sys
        from datetime import datetime, timezone
        import funnel
        at = datetime(2026, 1, 1, tzinfo=timezone.utc)
        lead = funnel.Lead(id="L1", contact=funnel.Contact(name="Ada"), source="web",
                           created_at=at)
        lead = funnel.add_touch(lead, funnel.Touch(id="t1", at=at, direction="outbound",
                                                   channel="email", sender="rep:maria"),
                                imported=True)  # a past touch: no rules, no machine
        try:
            funnel.Lead(id="L2", contact=funnel.Contact(name="Ada"), source="web",
                        created_at=at, stage="organisation")
        except funnel.ValidationError as exc:
            refused = exc.field
        else:
            refused = None
        names = dir(funnel)
        print(json.dumps({
            "touches": len(lead.touches),
            "refused": refused,
            "listed": all(n in names for n in funnel.__all__),
            "statemachine": "statemachine" in sys.modules,
        }))
        """
    )
    assert out == {"touches": 1, "refused": "stage", "listed": True, "statemachine": False}


@pytest.mark.parametrize(
    "first_use",
    [
        "funnel.DEFAULT_FUNNEL.initial",
        "__import__('funnel.engine.funnel').engine.funnel.DEFAULT_FUNNEL.initial",
        "funnel.advance(lead, 'nurture', at=at).stage",
        "funnel.explain(lead, at=at).ready",
        "funnel.can(lead, 'mark_mql', at=at)",
        "funnel.FunnelStateMachine.__name__",
    ],
)
def test_first_use_builds_the_default_funnel(first_use: str):
    """Whichever door is used first, the machine loads then and the funnel is one object."""
    out = run(
        f"""
        import json, sys
        from datetime import datetime, timezone
        import funnel
        import funnel.engine.funnel as engine
        at = datetime(2026, 1, 1, tzinfo=timezone.utc)
        lead = funnel.Lead(id="L1", contact=funnel.Contact(name="Ada"), source="web",
                           created_at=at)
        before = "statemachine" in sys.modules
        value = {first_use}
        from funnel import DEFAULT_FUNNEL, FunnelStateMachine
        from funnel.spec.machine import SalesFunnel
        print(json.dumps({{
            "before": before,
            "value": value,
            "after": "statemachine" in sys.modules,
            "same": DEFAULT_FUNNEL is funnel.DEFAULT_FUNNEL is engine.DEFAULT_FUNNEL
                    is engine.resolve_funnel(None),
            "machine": DEFAULT_FUNNEL.machine is SalesFunnel
                       and issubclass(SalesFunnel, FunnelStateMachine),
            "moved": funnel.advance(lead, "nurture", at=at).stage,
        }}))
        """
    )
    assert out["before"] is False
    assert out["value"] not in (None, "")
    assert out["after"] is True
    assert out["same"] is True
    assert out["machine"] is True
    assert out["moved"] == "nurturing"


def test_concurrent_first_use_builds_one_funnel():
    """Threads asking for the default funnel at once all get the same object."""
    out = run(
        """
        import json, threading
        import funnel.engine.funnel as engine
        seen = []
        start = threading.Barrier(8)
        def ask():
            start.wait()
            seen.append(engine.resolve_funnel(None))
        threads = [threading.Thread(target=ask) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        print(json.dumps(len({id(f) for f in seen})))
        """
    )
    assert out == 1


def test_unknown_attribute_still_raises():
    import funnel.engine.funnel as engine

    with pytest.raises(AttributeError, match="DEFAULT_FUNNELS"):
        engine.DEFAULT_FUNNELS  # noqa: B018


def test_command_line_help_loads_no_machine_and_no_extra():
    """Every command line registers `demo`, whose module built the default funnel at import."""
    loaded = run(
        """
        import contextlib, io, json, sys
        from funnel.cli import main
        with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
            main(["--help"])
        heavy = ("statemachine", "asyncio", "rich", "narwhals", "polars", "funnel.analytics")
        print(json.dumps([m for m in heavy if m in sys.modules]))
        """
    )
    assert loaded == []
