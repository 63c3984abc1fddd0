"""Line numbers of keys (funnel.io.definition.locate)."""

from __future__ import annotations

import json
from pathlib import Path

from funnel.io.definition import (
    loads_funnel,
)
from funnel.io.definition.locate import FORMATS, Locator, dotted, format_of
from funnel.io.definition.write import funnel_to_data
from tests.helpers import ACME, line_of, problems_of


def test_json_problems_have_lines() -> None:
    data = funnel_to_data(loads_funnel(ACME))
    data["thresholds"]["sql"] = 170
    text = json.dumps(data, indent=2)
    [(kind, key, line)] = problems_of(text, format="json")
    assert (kind, key) == ("threshold-out-of-range", "thresholds.sql")
    assert line == line_of(text, '"sql": 170')


def test_toml_lines_of_headers_keys_and_nested_paths() -> None:
    loc = Locator(ACME, "toml")
    assert loc.line(("funnel",)) == line_of(ACME, "[funnel]")
    assert loc.line(("stages", "ready", "qualification_level")) == line_of(
        ACME, 'qualification_level = "sql"'
    )
    assert loc.line(("events", "qualify", "from", 1)) == line_of(ACME, 'from = ["new", "engaged"]')
    # A key that is not written points at its table; a table that is not written has no line.
    assert loc.line(("stages", "new", "final")) == line_of(ACME, "[stages.new]")
    assert loc.line(("communication", "lead")) is None


def test_toml_arrays_of_tables_and_quoted_keys() -> None:
    text = (
        'top = 1\n[stages."odd.name"]\nlevel = "lead"\n'
        '[[rules]]\nreach = "mass"\n[[rules]]\n"reach" = "personal"\n'
    )
    loc = Locator(text, "toml")
    assert loc.line(("top",)) == 1
    assert loc.line(("stages", "odd.name", "level")) == 3
    assert loc.line(("rules", 0, "reach")) == 5
    assert loc.line(("rules", 1, "reach")) == 7


def test_json_lines_follow_the_key_path() -> None:
    text = '{\n  "a": {\n    "x": 1\n  },\n  "b": {\n    "x": 2\n  }\n}'
    loc = Locator(text, "json")
    assert loc.line(("b", "x")) == 6
    assert loc.line(("a", "x")) == 3
    assert loc.line(("c",)) is None


def test_no_text_has_no_lines() -> None:
    assert Locator(None, "toml").line(("funnel",)) is None
    assert Locator("", "json").line(("funnel",)) is None


def test_dotted_keys_and_formats_of_file_names() -> None:
    assert dotted(()) == ""
    assert dotted(("communication", "lead", 0, "reach")) == "communication.lead[0].reach"
    assert format_of("acme.JSON") == "json"
    assert format_of(Path("dir.json") / "acme.toml") == "toml"
    assert FORMATS == ("toml", "json")
