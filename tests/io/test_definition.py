"""Definition files: loading, every invalid-definition kind, round trips, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from funnel import DEFAULT_FUNNEL, DefinitionError, Evidence, Funnel, PassRule, convert
from funnel.cli import main
from funnel.exceptions import LoadError
from funnel.io.definition import (
    FORMATS,
    default_definition_path,
    dump_funnel,
    funnel_to_data,
    load_funnel,
    loads_funnel,
    save_funnel,
)
from funnel.model.qualification import BANT
from funnel.spec.communication import DEFAULT_COMMUNICATION
from funnel.spec.definition import Thresholds, machine_signature
from funnel.spec.table import derive_table
from tests.helpers import day, lead, outbound, reply

ACME = """\
[funnel]
name = "acme"
version = "2"
description = "Acme's own funnel"

[stages.new]
name = "New"
level = "lead"
initial = true

[stages.engaged]
name = "Engaged"
level = "lead"
qualification_level = "mql"

[stages.ready]
name = "Sales ready"
level = "lead"
qualification_level = "sql"

[stages.dropped]
level = "lead"
final = true
outcome = "lost"

[stages.discovery]
level = "prospect"

[stages.proposal]
level = "prospect"

[stages.customer]
level = "prospect"
final = true
outcome = "won"

[stages.lost]
level = "prospect"
final = true
outcome = "lost"

[events.engage]
from = "new"
to = "engaged"
guards = ["has_inbound_action"]

[events.qualify]
from = ["new", "engaged"]
to = "ready"
guards = ["fits_profile"]

[events.drop]
from = ["new", "engaged", "ready"]
to = "dropped"
guards = ["has_reason"]

[events.convert]
from = ["engaged", "ready"]
to = "discovery"
guards = ["is_two_way", "is_qualified"]

[events.propose]
from = "discovery"
to = "proposal"

[events.sign]
from = "proposal"
to = "customer"

[events.lose]
from = ["discovery", "proposal"]
to = "lost"
guards = ["has_reason"]

[qualification]
framework = "BANT"
at_least = 3

[icp]
industries = ["software", "logistics"]
min_employees = 50
criterion = "fit"

[thresholds]
mql = 40
sql = 70
"""


def line_of(text: str, needle: str, after: str | None = None) -> int:
    """The 1-based line of the first line containing *needle* (after the line holding *after*)."""
    lines = text.splitlines()
    start = 0
    if after is not None:
        start = next(i for i, line in enumerate(lines) if after in line)
    return next(i for i in range(start, len(lines)) if needle in lines[i]) + 1


def problems_of(text: str, **kw: object) -> list[tuple[str, str, int | None]]:
    with pytest.raises(DefinitionError) as info:
        loads_funnel(text, source="acme.toml", **kw)  # type: ignore[arg-type]
    assert info.value.source == "acme.toml"
    return [(p.kind, p.key, p.line) for p in info.value.problems]


# ----------------------------------------------------------------------------- loading


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


def test_loading_executes_no_code(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    evil = ACME.replace('name = "acme"', f"name = \"__import__('os').mkdir('{marker}')\"")
    loads_funnel(evil)
    assert not marker.exists()


# ----------------------------------------------------------------------------- invalid kinds


def test_syntax_error_has_line() -> None:
    broken = ACME.replace(
        'level = "prospect"\n\n[stages.proposal]', "level = \n\n[stages.proposal]"
    )
    [(kind, _, line)] = problems_of(broken)
    assert kind == "syntax"
    assert line == line_of(broken, "level = ", after="[stages.discovery]")


def test_json_syntax_error_has_line() -> None:
    text = '{\n  "funnel": {"name": "x",}\n}'
    [(kind, _, line)] = problems_of(text, format="json")
    assert (kind, line) == ("syntax", 2)


def test_unknown_stage_in_event() -> None:
    text = ACME.replace(
        'from = "discovery"\nto = "proposal"', 'from = "discovery"\nto = "propsal"'
    )
    problems = problems_of(text)
    assert ("unknown-stage", "events.propose.to", line_of(text, 'to = "propsal"')) in problems


def test_unknown_stage_in_from_list() -> None:
    text = ACME.replace('from = ["new", "engaged"]', 'from = ["new", "engagd"]')
    problems = problems_of(text)
    expected = line_of(text, '"engagd"')
    assert ("unknown-stage", "events.qualify.from[1]", expected) in problems


def test_unreachable_stage() -> None:
    text = (
        ACME
        + '\n[stages.limbo]\nlevel = "lead"\n\n'
        + '[events.leave]\nfrom = "limbo"\nto = "dropped"\nguards = ["has_reason"]\n'
    )
    problems = problems_of(text)
    assert problems == [("unreachable-stage", "stages.limbo", line_of(text, "[stages.limbo]"))]


def test_prospect_back_to_lead() -> None:
    text = ACME + '\n[events.demote]\nfrom = "proposal"\nto = "engaged"\n'
    problems = problems_of(text)
    assert problems == [("prospect-to-lead", "events.demote", line_of(text, "[events.demote]"))]


def test_framework_naming_unknown_criteria() -> None:
    text = ACME.replace(
        'framework = "BANT"\nat_least = 3',
        'framework = "acme"\ncriteria = ["budget", "authority", "budgett"]\nat_least = 2',
    )
    problems = problems_of(text)
    assert problems == [
        ("unknown-criterion", "qualification.criteria[2]", line_of(text, "criteria = ["))
    ]


def test_icp_naming_unknown_criterion() -> None:
    text = ACME.replace('criterion = "fit"', 'criterion = "fitt"')
    assert problems_of(text) == [
        ("unknown-criterion", "icp.criterion", line_of(text, 'criterion = "fitt"'))
    ]


@pytest.mark.parametrize(
    ("mql", "sql", "key"),
    [(-1, 70, "thresholds.mql"), (40, 101, "thresholds.sql"), (80, 70, "thresholds.mql")],
)
def test_threshold_out_of_range(mql: int, sql: int, key: str) -> None:
    text = ACME.replace("mql = 40\nsql = 70", f"mql = {mql}\nsql = {sql}")
    [(kind, got_key, line)] = problems_of(text)
    assert (kind, got_key) == ("threshold-out-of-range", key)
    assert line == line_of(text, f"{key.split('.')[1]} = ", after="[thresholds]")


def test_pass_rule_needing_more_criteria_than_exist() -> None:
    text = ACME.replace("at_least = 3", "at_least = 5")
    assert problems_of(text) == [
        ("threshold-out-of-range", "qualification.at_least", line_of(text, "at_least = 5"))
    ]


def test_unknown_guard() -> None:
    text = ACME.replace('guards = ["has_inbound_action"]', 'guards = ["has_inbound_actoin"]')
    assert problems_of(text) == [
        ("unknown-guard", "events.engage.guards[0]", line_of(text, "has_inbound_actoin"))
    ]


def test_missing_key_and_wrong_type() -> None:
    text = ACME.replace('[stages.proposal]\nlevel = "prospect"', "[stages.proposal]\nfinal = 1")
    problems = problems_of(text)
    line = line_of(text, "[stages.proposal]")
    assert ("missing-key", "stages.proposal", line) in problems
    assert ("wrong-type", "stages.proposal.final", line + 1) in problems


def test_unguarded_conversion_and_final_with_exit() -> None:
    text = ACME.replace('guards = ["is_two_way", "is_qualified"]', 'guards = ["is_two_way"]')
    text += '\n[events.reopen]\nfrom = "lost"\nto = "discovery"\n'
    kinds = {kind for kind, _, _ in problems_of(text)}
    assert kinds == {"unguarded-conversion", "final-has-transitions"}


def test_trap_stage_and_initial_rules() -> None:
    text = ACME.replace('[stages.engaged]\nname = "Engaged"', "[stages.engaged]\ninitial = true")
    assert ("multiple-initial", "stages.engaged.initial") in {
        (k, key) for k, key, _ in problems_of(text)
    }
    text = (
        ACME
        + '\n[stages.stuck]\nlevel = "prospect"\n\n'
        + '[events.park]\nfrom = "proposal"\nto = "stuck"\n'
    )
    assert problems_of(text) == [("trap-stage", "stages.stuck", line_of(text, "[stages.stuck]"))]


def test_every_problem_is_reported_at_once() -> None:
    text = (
        ACME.replace('to = "proposal"', 'to = "nowhere"')
        .replace("mql = 40", "mql = 140")
        .replace('criterion = "fit"', 'criterion = "nope"')
        .replace('["has_reason"]', '["no_such_guard"]', 1)
    )
    kinds = sorted(kind for kind, _, _ in problems_of(text))
    assert kinds == [
        "threshold-out-of-range",
        "unknown-criterion",
        "unknown-guard",
        "unknown-stage",
    ]


def test_unknown_keys_and_names() -> None:
    text = ACME.replace("[thresholds]", "[thresholds]\nlql = 3").replace(
        "[stages.lost]", "[stages.send]"
    )
    text = text.replace('"lost"\nguards', '"send"\nguards')
    problems = {(k, key) for k, key, _ in problems_of(text)}
    assert ("unknown-key", "thresholds.lql") in problems
    assert ("bad-name", "stages.send") in problems


def test_communication_rules_validated() -> None:
    text = ACME + (
        '\n[communication]\nlead = [{ reach = "bulk" }]\nprospect = []\n\n'
        '[communication.stages]\nlimbo = [{ reach = "personal", senders = ["rep"] }]\n'
    )
    problems = {(k, key) for k, key, _ in problems_of(text)}
    assert problems == {
        ("invalid-value", "communication.lead[0].reach"),
        ("unknown-stage", "communication.stages.limbo"),
    }


def test_json_problems_have_lines() -> None:
    data = funnel_to_data(loads_funnel(ACME))
    data["thresholds"]["sql"] = 170
    text = json.dumps(data, indent=2)
    [(kind, key, line)] = problems_of(text, format="json")
    assert (kind, key) == ("threshold-out-of-range", "thresholds.sql")
    assert line == line_of(text, '"sql": 170')


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match=r"missing\.toml"):
        load_funnel(tmp_path / "missing.toml")


# ----------------------------------------------------------------------------- round trips


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


def test_funnels_differ_when_definitions_differ() -> None:
    acme = loads_funnel(ACME)
    assert loads_funnel(ACME.replace('version = "2"', 'version = "3"')) != acme
    other = loads_funnel(ACME.replace('from = ["discovery", "proposal"]', 'from = "proposal"'))
    assert other != acme


# ----------------------------------------------------------------------------- versions


def test_prospect_remembers_the_version_that_qualified_it() -> None:
    v2 = loads_funnel(ACME)
    record = lead(
        stage="engaged",
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


# ----------------------------------------------------------------------------- CLI


def test_cli_check_valid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "acme.toml"
    path.write_text(ACME)
    assert main(["check", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert "ok" in out
    assert "'acme' v2" in out
    assert "BANT (at least 3 of 4)" in out


def test_cli_check_invalid_lists_every_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "acme.toml"
    text = ACME.replace('to = "proposal"', 'to = "nowhere"').replace("sql = 70", "sql = 700")
    path.write_text(text)
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err.splitlines()
    nowhere = line_of(text, "nowhere")
    assert any(line.startswith(f"{path}:{nowhere}: [unknown-stage]") for line in err)
    assert any(
        line.startswith(f"{path}:{line_of(text, 'sql = 700')}: [threshold-out-of-range]")
        for line in err
    )
    assert err[-1] == f"{path}: 2 problem(s)"


def test_cli_check_default_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(default_definition_path())]) == 0
    assert "'sources' v1" in capsys.readouterr().out


def test_cli_diagram_mermaid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "acme.json"
    path.write_text(dump_funnel(loads_funnel(ACME), format="json"))
    assert main(["diagram", str(path), "--format", "mermaid"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("stateDiagram-v2")
    assert "ready --> discovery : convert [is_two_way, is_qualified]" in out
    out_file = tmp_path / "acme.mmd"
    assert main(["diagram", str(path), "-o", str(out_file)]) == 0
    assert out_file.read_text() == out


def test_cli_diagram_invalid_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[funnel\n")
    assert main(["diagram", str(path)]) == 1
    assert f"{path}:1: [syntax]" in capsys.readouterr().err


def test_edge_rules_checked_even_when_other_edges_are_broken() -> None:
    text = ACME.replace('to = "proposal"', 'to = "nowhere"')
    text += '\n[events.demote]\nfrom = "proposal"\nto = "engaged"\n'
    kinds = [kind for kind, _, _ in problems_of(text)]
    assert kinds == ["unknown-stage", "prospect-to-lead"]


def test_framework_checked_alongside_other_problems() -> None:
    text = ACME.replace('to = "proposal"', 'to = "propsal"')
    text = text.replace("at_least = 3", "at_least = 5")
    kinds = [kind for kind, _, _ in problems_of(text)]
    assert kinds == ["unknown-stage", "threshold-out-of-range"]
