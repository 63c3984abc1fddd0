"""Building machines and funnels from definitions (funnel.io.definition.build)."""

from __future__ import annotations

from typing import Any

import pytest

from funnel import DEFAULT_FUNNEL, Evidence, PassRule, convert
from funnel.exceptions import DefinitionError
from funnel.io.definition import (
    default_definition_path,
    load_funnel,
    loads_funnel,
)
from funnel.io.definition.build import build_machine, funnel_from_data
from funnel.io.definition.read import TransitionSpec
from funnel.model.qualification import BANT
from funnel.spec.communication import DEFAULT_COMMUNICATION
from funnel.spec.definition import Thresholds
from funnel.spec.table import derive_table
from tests.helpers import ACME, day, lead, outbound, reply


def test_company_file_loads() -> None:
    acme = loads_funnel(ACME)
    assert acme.name == "acme"
    assert acme.version == "2"
    assert acme.lead_stages == ("new", "engaged", "ready", "dropped")
    assert acme.prospect_stages == ("discovery", "proposal", "customer", "lost")
    assert acme.framework == BANT.with_rule(PassRule.at_least(3))
    assert acme.icp is not None
    assert acme.icp.industries == {"software", "logistics"}
    assert acme.thresholds == Thresholds(mql=40, sql=70)
    assert acme.communication == DEFAULT_COMMUNICATION
    assert acme.conversion_events == ("convert",)
    assert acme.won_stages == {"customer"}
    assert acme.table.names["ready"] == "Sales ready"
    assert acme.machine.__name__ == "AcmeFunnel"


def test_shipped_default_reproduces_default_funnel_exactly() -> None:
    loaded = load_funnel(default_definition_path())
    assert loaded == DEFAULT_FUNNEL
    assert loaded.machine is not DEFAULT_FUNNEL.machine
    table, expected = loaded.table, DEFAULT_FUNNEL.table
    assert table.stages == expected.stages
    assert dict(table.names) == dict(expected.names)
    assert (table.initial, table.finals) == (expected.initial, expected.finals)
    assert table.events == expected.events
    assert table.edges == expected.edges  # guards included, in the machine's order
    assert dict(loaded.levels) == dict(DEFAULT_FUNNEL.levels)
    assert loaded.machine.outcomes == DEFAULT_FUNNEL.machine.outcomes
    assert loaded.machine.qualification_levels == DEFAULT_FUNNEL.machine.qualification_levels
    assert loaded.framework == DEFAULT_FUNNEL.framework
    assert loaded.framework.rule == PassRule.all()
    assert (loaded.name, loaded.version, loaded.description) == (
        DEFAULT_FUNNEL.name,
        DEFAULT_FUNNEL.version,
        DEFAULT_FUNNEL.description,
    )


def test_loaded_machine_runs_like_the_table() -> None:
    acme = loads_funnel(ACME)
    assert derive_table(acme.machine) == acme.table
    sm = acme.machine()
    assert sm.current_state_value == "new"
    assert {e.id for e in sm.allowed_events} == {"engage", "qualify", "drop"}


def test_funnels_differ_when_definitions_differ() -> None:
    acme = loads_funnel(ACME)
    assert loads_funnel(ACME.replace('version = "2"', 'version = "3"')) != acme
    other = loads_funnel(ACME.replace('from = ["discovery", "proposal"]', 'from = "proposal"'))
    assert other != acme


def test_prospect_remembers_the_version_that_qualified_it() -> None:
    v2 = loads_funnel(ACME)
    record = lead(
        stage="engaged",
        level="mql",
        touches=(outbound("o1", 1), reply("r1", 2, "o1")),
        evidence=tuple(
            Evidence(criterion=c, verdict="met", source="rep:al", at=day(2))
            for c in ("budget", "authority", "need")
        ),
    )
    prospect = convert(record, at=day(3), funnel=v2)
    assert prospect.qualification.funnel_version == "2"
    assert prospect.qualification.framework == "BANT"
    assert prospect.stage == "discovery"


def test_build_machine_names_the_class_after_the_funnel() -> None:
    stages: dict[str, dict[str, Any]] = {
        "new": {
            "name": None,
            "level": "lead",
            "initial": True,
            "final": False,
            "outcome": None,
            "qualification_level": None,
        },
        "won": {
            "name": "Won!",
            "level": "prospect",
            "initial": False,
            "final": True,
            "outcome": "won",
            "qualification_level": None,
        },
    }
    edge = TransitionSpec("new", "won", ["is_two_way", "is_qualified"], [], ("events", "sign"))
    machine = build_machine("2026 acme-sales", stages, ["sign"], [edge])
    assert machine.__name__ == "F2026AcmeSalesFunnel"
    assert machine.__module__ == "funnel.io.definition.build"
    table = derive_table(machine)
    assert table.names == {"new": "New", "won": "Won!"}
    assert [(e.source, e.event, e.target) for e in table.edges] == [("new", "sign", "won")]
    assert machine.outcomes == {"won": "won"}


def test_funnel_from_data_carries_the_source() -> None:
    with pytest.raises(DefinitionError) as info:
        funnel_from_data({"funnel": {}}, source="acme.toml")
    assert info.value.source == "acme.toml"
