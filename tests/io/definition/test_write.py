"""Writing definitions (funnel.io.definition.write): round trips, tomlkit, comments."""

from __future__ import annotations

from pathlib import Path

import pytest

from funnel import (
    BANT,
    DEFAULT_FUNNEL,
    Funnel,
    PassRule,
)
from funnel.io.definition import (
    dump_funnel,
    load_funnel,
    loads_funnel,
    save_funnel,
)
from funnel.io.definition.locate import FORMATS
from funnel.spec.definition import Thresholds, machine_signature
from tests.helpers import ACME


@pytest.mark.parametrize("fmt", ["toml", "json"])
def test_round_trip_file_definition_file(fmt: str, tmp_path: Path) -> None:
    first = loads_funnel(ACME)
    path = tmp_path / f"acme.{fmt}"
    save_funnel(first, path)
    second = load_funnel(path)
    assert second == first
    assert machine_signature(second.machine) == machine_signature(first.machine)
    assert path.read_text() == dump_funnel(second, format=fmt)  # type: ignore[arg-type]


def test_round_trip_of_the_default_is_stable() -> None:
    text = dump_funnel(DEFAULT_FUNNEL)
    assert loads_funnel(text) == DEFAULT_FUNNEL
    assert dump_funnel(loads_funnel(text)) == text


def test_round_trip_custom_framework_unless_and_mixed_events() -> None:
    text = ACME.replace(
        'framework = "BANT"\nat_least = 3',
        'framework = "acme"\ncriteria = ["fit", "budget", "champion"]\nat_least = 2\n'
        'description = "fit, budget, champion"',
    ).replace(
        '[events.sign]\nfrom = "proposal"\nto = "customer"',
        "[events.sign]\ntransitions = [\n"
        '  { from = "proposal", to = "customer", unless = ["has_reason"] },\n'
        '  { from = "proposal", to = "lost" },\n]',
    )
    text += (
        '\n[criteria.champion]\nname = "Champion"\n'
        'question = "Who sells for us?"\naliases = ["sponsor"]\n'
    )
    first = loads_funnel(text)
    assert first.framework.keys == ("fit", "budget", "champion")
    assert first.framework.criterion("sponsor").key == "champion"
    assert [e.guards for e in first.table.options("proposal", "sign")] == [
        (("has_reason", False),),
        (),
    ]
    for fmt in FORMATS:
        again = loads_funnel(dump_funnel(first, format=fmt), format=fmt)
        assert again == first


def test_dump_is_valid_for_a_python_defined_funnel() -> None:
    custom = Funnel(
        machine=DEFAULT_FUNNEL.machine,
        name='with "quotes" and ünïcode',
        version="2026.1",
        framework=BANT.with_rule(PassRule.at_least(3)),
        thresholds=Thresholds(mql=12.5, sql=60),
    )
    assert loads_funnel(dump_funnel(custom)) == custom
