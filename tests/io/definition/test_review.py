"""Definition files: repeated JSON keys, own guard registries, aliases, lists, unloadable dumps."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest
from statemachine import State

from funnel import DEFAULT_FUNNEL, Funnel
from funnel.exceptions import DefinitionError
from funnel.io.definition import (
    default_definition_path,
    dump_funnel,
    load_funnel,
    loads_funnel,
    save_funnel,
)
from funnel.spec.guards import GUARDS
from funnel.spec.machine import FunnelStateMachine
from tests.helpers import problems_of

DEFAULT_TEXT = default_definition_path().read_text(encoding="utf-8")


class TestRepeatedJsonKeys:
    def test_a_repeated_key_is_a_problem_naming_key_and_line(self) -> None:
        text = dump_funnel(DEFAULT_FUNNEL, format="json").replace(
            '"version": "1"', '"version": "1",\n    "version": "9"', 1
        )
        [(kind, key, line)] = problems_of(text, format="json")
        assert (kind, key) == ("duplicate-key", "funnel.version")
        assert line is not None
        assert '"version"' in text.splitlines()[line - 1]

    def test_a_repeated_nested_key(self) -> None:
        text = dump_funnel(DEFAULT_FUNNEL, format="json").replace(
            '"level": "lead"', '"level": "lead", "level": "prospect"', 1
        )
        [(kind, key, _)] = problems_of(text, format="json")
        assert (kind, key) == ("duplicate-key", "stages.acquired.level")

    def test_toml_already_refuses_one(self) -> None:
        text = DEFAULT_TEXT.replace('version = "1"', 'version = "1"\nversion = "2"', 1)
        assert [k for k, _, _ in problems_of(text)] == ["syntax"]


def _owned() -> Funnel:
    registry = GUARDS.extend(name="acme")

    @registry.register("has_owner", "a rep owns it")
    def _has_owner(record: object, ctx: object) -> tuple[str, ...]:
        return ()

    class Owned(FunnelStateMachine):
        new = State("New", initial=True)
        assigned = State("Assigned")
        dropped = State("Dropped", final=True)
        assign = new.to(assigned, cond="has_owner")
        drop = new.to(dropped) | assigned.to(dropped)
        levels: ClassVar[dict[str, str]] = {"new": "lead", "assigned": "lead", "dropped": "lead"}

    return Funnel(machine=Owned, name="owned", guards=registry)


class TestOwnRegistry:
    def test_loads_back_with_its_registry(self, tmp_path: Path) -> None:
        owned = _owned()
        text = dump_funnel(owned)
        with pytest.raises(DefinitionError, match="has_owner"):
            loads_funnel(text)  # the default registry does not know the guard
        again = loads_funnel(text, guards=owned.guards)
        # Funnel == compared machine signatures derived with the default registry,
        # which does not know has_owner, and raised DefinitionError.
        assert again == owned
        assert again.table == owned.table
        assert dump_funnel(again) == text
        assert again.guards is owned.guards
        path = tmp_path / "owned.json"
        save_funnel(owned, path)
        assert load_funnel(path, guards=owned.guards) == owned

    def test_guards_must_be_a_registry(self) -> None:
        with pytest.raises(ValueError, match="GuardRegistry"):
            loads_funnel(DEFAULT_TEXT, guards={"x": 1})  # type: ignore[arg-type]


class TestReaderRefuses:
    def test_an_alias_that_is_another_criterion(self) -> None:
        """The reviewer's case: intention aliases need, so one need finding passes two."""
        text = DEFAULT_TEXT.replace(
            'framework = "default"',
            'framework = "mine"\ncriteria = ["fit", "intention", "need"]\nat_least = 2',
            1,
        ).replace('rule = "all"\n', "", 1)
        assert 'criteria = ["fit", "intention", "need"]' in text
        problems = problems_of(text)
        # intention's alias need is a criterion; need's aliases are intention's too
        assert {(k, key) for k, key, _ in problems} == {
            ("duplicate-criterion", "qualification.criteria[1]"),
            ("duplicate-criterion", "qualification.criteria[2]"),
        }

    def test_two_criteria_sharing_an_alias(self) -> None:
        text = DEFAULT_TEXT.replace(
            'framework = "default"',
            'framework = "mine"\ncriteria = ["alpha", "beta"]',
            1,
        ) + ('\n[criteria.alpha]\naliases = ["shared"]\n\n[criteria.beta]\naliases = ["shared"]\n')
        kinds = [(k, key) for k, key, _ in problems_of(text)]
        assert ("duplicate-criterion", "qualification.criteria[1]") in kinds

    @pytest.mark.parametrize(
        ("before", "after", "key"),
        [
            (
                'guards = ["has_inbound_action"]',
                'guards = "has_inbound_action"',
                "events.mark_mql.guards",
            ),
            ('senders = ["rep"]', 'senders = "rep"', "communication"),
        ],
    )
    def test_a_string_where_a_list_goes(self, before: str, after: str, key: str) -> None:
        assert before in DEFAULT_TEXT
        problems = problems_of(DEFAULT_TEXT.replace(before, after, 1))
        assert [k for k, _, _ in problems] == ["wrong-type"]
        assert problems[0][1].startswith(key)

    def test_from_may_still_be_one_string(self) -> None:
        assert 'from = "organisation"' in DEFAULT_TEXT
        assert loads_funnel(DEFAULT_TEXT) == DEFAULT_FUNNEL

    @pytest.mark.parametrize("name", ["has_reason", "is_two_way"])
    def test_a_stage_or_event_named_like_a_guard(self, name: str) -> None:
        """The reference says stage and event ids must not clash with a guard name."""
        text = DEFAULT_TEXT.replace("[stages.nurturing]", f"[stages.{name}]").replace(
            '"nurturing"', f'"{name}"'
        )
        assert ("bad-name", f"stages.{name}") in [(k, key) for k, key, _ in problems_of(text)]


class TestDumpRefusesWhatCannotLoad:
    @staticmethod
    def _machine(stage_value: str, event: str) -> Funnel:
        new = State("New", initial=True)
        done = State("Done", final=True, value=stage_value)
        namespace = {
            "new": new,
            "done": done,
            event: new.to(done),
            "levels": {"new": "lead", stage_value: "lead"},
        }
        machine = type("Odd", (FunnelStateMachine,), namespace)
        return Funnel(machine=machine, name="odd")

    def test_a_stage_value_that_is_not_a_name(self, tmp_path: Path) -> None:
        odd = self._machine("closed lost", "finish")
        with pytest.raises(DefinitionError) as info:
            dump_funnel(odd, format="json")
        assert ("bad-name", "stages.closed lost") in [(p.kind, p.key) for p in info.value.problems]
        assert "cannot be written" in str(info.value)
        with pytest.raises(DefinitionError):
            save_funnel(odd, tmp_path / "odd.json")
        assert not (tmp_path / "odd.json").exists()

    def test_a_loadable_funnel_still_dumps(self) -> None:
        assert loads_funnel(dump_funnel(DEFAULT_FUNNEL, format="json"), format="json") == (
            DEFAULT_FUNNEL
        )
