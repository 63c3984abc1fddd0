"""The sources' stage levels, declared at import, are exactly the machine's."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from funnel.spec.levels import SALES_LEVELS
from funnel.spec.machine import SalesFunnel


def test_levels_name_every_stage_of_the_machine_in_order():
    """The literal covers the machine's stages, no more, in declaration order."""
    stages = [s.value for s in SalesFunnel.states_map.values()]
    assert list(SALES_LEVELS) == stages
    assert SalesFunnel.levels == dict(SALES_LEVELS)
    assert set(SALES_LEVELS.values()) == {"lead", "prospect"}


def test_levels_are_read_only():
    with pytest.raises(TypeError):
        SALES_LEVELS["won"] = "lead"  # type: ignore[index]


def test_declared_at_import_as_the_machine_declares_them():
    """What the records know after ``import funnel`` is what SalesFunnel declares later."""
    code = """
import json, sys
import funnel
from funnel.model import records
before = {k: sorted(v) for k, v in records._DECLARED_LEVELS.items()}
loaded = "statemachine" in sys.modules
from funnel.spec.machine import SalesFunnel
after = {k: sorted(v) for k, v in records._DECLARED_LEVELS.items()}
print(json.dumps([loaded, before, after]))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded, before, after = json.loads(out.stdout)
    assert loaded is False
    assert before == after == {k: [v] for k, v in SALES_LEVELS.items()}
