"""Reading definitions (funnel.io.definition.read): parsing and every invalid-definition kind."""

from __future__ import annotations

from pathlib import Path

import pytest

from funnel.exceptions import DefinitionError, LoadError, ValidationError
from funnel.io.definition import (
    load_funnel,
    loads_funnel,
)
from funnel.io.definition.read import Definition, parse, read_data
from tests.helpers import ACME, line_of, problems_of


def test_loading_executes_no_code(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    evil = ACME.replace('name = "acme"', f"name = \"__import__('os').mkdir('{marker}')\"")
    loads_funnel(evil)
    assert not marker.exists()


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


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match=r"missing\.toml"):
        load_funnel(tmp_path / "missing.toml")


def test_read_data_gives_plain_values_and_builds_nothing() -> None:
    text = ACME
    definition = read_data(
        parse(text),
        text=text,
        default_thresholds={"mql": 1, "sql": 2},
        conversion_guards=frozenset({("is_two_way", True), ("is_qualified", True)}),
    )
    assert isinstance(definition, Definition)
    assert definition.thresholds == {"mql": 40, "sql": 70}
    assert definition.version == "2"
    assert list(definition.stages)[:2] == ["new", "engaged"]
    assert definition.stages["ready"]["qualification_level"] == "sql"
    assert [(t.source, t.target) for t in definition.transitions[:2]] == [
        ("new", "engaged"),
        ("new", "ready"),
    ]


def test_read_data_fills_missing_thresholds_with_the_defaults_given() -> None:
    text = ACME.replace("[thresholds]\nmql = 40\nsql = 70\n", "")
    definition = read_data(
        parse(text),
        default_thresholds={"mql": 10, "sql": 20},
        conversion_guards=frozenset(),
    )
    assert definition.thresholds == {"mql": 10, "sql": 20}


def test_read_data_uses_the_conversion_guards_given() -> None:
    text = ACME.replace('guards = ["is_two_way", "is_qualified"]', 'guards = ["is_two_way"]')
    read_data(parse(text), default_thresholds={"mql": 1, "sql": 2}, conversion_guards=frozenset())
    with pytest.raises(DefinitionError) as info:
        read_data(
            parse(text),
            default_thresholds={"mql": 1, "sql": 2},
            conversion_guards=frozenset({("is_two_way", True), ("is_qualified", True)}),
        )
    assert {p.kind for p in info.value.problems} == {"unguarded-conversion"}


@pytest.mark.parametrize("data", [[], "text", 3])
def test_data_that_is_not_a_table(data: object) -> None:
    with pytest.raises(DefinitionError) as info:
        read_data(data, source="x.json", default_thresholds={}, conversion_guards=frozenset())
    assert [p.kind for p in info.value.problems] == ["wrong-type"]
    assert info.value.source == "x.json"


def test_parse_refuses_an_unknown_format() -> None:
    with pytest.raises(ValidationError, match="unknown format 'yaml'"):
        parse("a = 1", "yaml")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "content", "error", "match"),
    [
        ("folder.toml", None, LoadError, "cannot read funnel definition"),
        ("missing.toml", "", LoadError, "No such file"),
        ("binary.toml", b"\xff\xfe\x00\x01", LoadError, "not UTF-8 text"),
        ("nul.toml", "a = 1\x00", DefinitionError, "invalid TOML"),
        ("json-named.toml", '{"funnel": {}}', DefinitionError, "invalid TOML"),
        ("toml-named.json", "[funnel]", DefinitionError, "invalid JSON"),
        ("a\x00b.toml", "", ValidationError, "path must not contain NUL"),
        ("\ud800.toml", "", ValidationError, "path must not contain lone surrogates"),
    ],
    ids=[
        "directory",
        "missing",
        "binary",
        "nul-inside",
        "json-as-toml",
        "toml-as-json",
        "nul",
        "surrogate",
    ],
)
def test_odd_files_are_typed_errors(
    tmp_path: Path, name: str, content: str | bytes | None, error: type, match: str
) -> None:
    """A NUL or a lone surrogate in the path escaped as ValueError or UnicodeEncodeError."""
    path = tmp_path / name
    if content is None:
        path.mkdir()
    elif name != "missing.toml" and "\x00" not in name and "\ud800" not in name:
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    with pytest.raises(error, match=match):
        load_funnel(path)


@pytest.mark.parametrize(
    ("replace", "key"),
    [
        ('name = "acme"', "funnel.name"),
        ('senders = ["rep"]', "communication.prospect[0].senders"),
    ],
)
def test_a_nul_in_a_definition_is_a_definition_problem(replace: str, key: str) -> None:
    """A NUL in the funnel's name or a sender kind escaped as a bare ValidationError."""
    text = (
        ACME
        + '\n[communication]\nlead = []\nprospect = [{reach = "personal", senders = ["rep"]}]\n'
    )
    bad = text.replace(replace, replace.replace('"', '"\\u0000', 1), 1)  # a TOML escape
    assert bad != text
    with pytest.raises(DefinitionError) as info:
        loads_funnel(bad)
    assert [p.key for p in info.value.problems] == [key]
    assert "NUL" in str(info.value)
