"""Line numbers of keys (funnel.io.definition.locate)."""

from __future__ import annotations

import json

from funnel.io.definition import (
    loads_funnel,
)
from funnel.io.definition.write import funnel_to_data
from tests.helpers import ACME, line_of, problems_of


def test_json_problems_have_lines() -> None:
    data = funnel_to_data(loads_funnel(ACME))
    data["thresholds"]["sql"] = 170
    text = json.dumps(data, indent=2)
    [(kind, key, line)] = problems_of(text, format="json")
    assert (kind, key) == ("threshold-out-of-range", "thresholds.sql")
    assert line == line_of(text, '"sql": 170')
