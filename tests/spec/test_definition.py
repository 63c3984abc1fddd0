"""The Funnel definition: validation, thresholds, communication, equality, reprs."""

from __future__ import annotations

from typing import ClassVar

import pytest
from statemachine import State

from funnel import DEFAULT_FUNNEL, DefinitionError, Funnel, FunnelStateMachine
from funnel.model.qualification import BANT
from funnel.spec.communication import (
    DEFAULT_COMMUNICATION,
    CommunicationPolicy,
    CommunicationRule,
)
from funnel.spec.definition import Thresholds, machine_signature
from funnel.spec.machine import SalesFunnel


class Tiny(FunnelStateMachine):
    new = State("New", initial=True)
    gone = State("Gone", final=True)
    talking = State("Talking")
    done = State("Done", final=True)

    drop = new.to(gone, cond="has_reason")
    convert = new.to(talking, cond=["is_two_way", "is_qualified"])
    close = talking.to(done)

    levels: ClassVar[dict[str, str]] = {
        "new": "lead",
        "gone": "lead",
        "talking": "prospect",
        "done": "prospect",
    }
    outcomes: ClassVar[dict[str, str]] = {"gone": "lost", "done": "won"}


class TinyAgain(FunnelStateMachine):
    new = State("New", initial=True)
    gone = State("Gone", final=True)
    talking = State("Talking")
    done = State("Done", final=True)

    drop = new.to(gone, cond="has_reason")
    convert = new.to(talking, cond=["is_two_way", "is_qualified"])
    close = talking.to(done)

    levels = Tiny.levels
    outcomes = Tiny.outcomes


def test_default_funnel_has_default_thresholds_and_rules() -> None:
    assert DEFAULT_FUNNEL.thresholds == Thresholds(mql=50, sql=75)
    assert DEFAULT_FUNNEL.communication is DEFAULT_COMMUNICATION


@pytest.mark.parametrize(("mql", "sql"), [(-1, 50), (50, 101), (80, 70), (0.5, 100.5)])
def test_thresholds_out_of_range(mql: float, sql: float) -> None:
    with pytest.raises(ValueError, match="0 <= mql <= sql <= 100"):
        Thresholds(mql=mql, sql=sql)


def test_thresholds_must_be_numbers() -> None:
    with pytest.raises(TypeError, match="mql must be a number"):
        Thresholds(mql=True, sql=80)
    assert Thresholds(mql=0, sql=0) == Thresholds(mql=0.0, sql=0.0)


def test_equal_definitions_with_distinct_classes_are_equal() -> None:
    a = Funnel(machine=Tiny, name="tiny")
    b = Funnel(machine=TinyAgain, name="tiny")
    assert machine_signature(Tiny) == machine_signature(TinyAgain)
    assert a == b
    assert hash(a) == hash(b)
    assert a != Funnel(machine=Tiny, name="tiny", version="2")
    assert a != Funnel(machine=Tiny, name="tiny", framework=BANT)
    assert a != Funnel(machine=SalesFunnel, name="tiny")


def test_communication_naming_unknown_stage_is_a_definition_error() -> None:
    policy = CommunicationPolicy(
        lead=(CommunicationRule(reach="mass"),),
        prospect=(),
        stages={"limbo": ()},
    )
    with pytest.raises(DefinitionError) as info:
        Funnel(machine=Tiny, communication=policy)
    [problem] = info.value.problems
    assert (problem.kind, problem.key) == ("unknown-stage", "communication.stages.limbo")


def test_funnel_without_sql_stage_keeps_default_rules() -> None:
    # The default rules key rep contact on the lead level "sql", not on a stage name.
    tiny = Funnel(machine=Tiny)
    assert tiny.communication == DEFAULT_COMMUNICATION


def test_reprs_never_raise(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    tiny = Funnel(machine=Tiny, name="tiny", version="3")
    assert tiny._repr_svg_() is None
    assert tiny._repr_markdown_().startswith("**tiny** v3\n\n```mermaid\n")
    assert "new --&gt; talking : convert [is_two_way, is_qualified]" in tiny._repr_html_()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", 5),
        ("version", 2),
        ("description", None),
        ("framework", "BANT"),
        ("icp", {"industries": ["software"]}),
        ("thresholds", (40, 70)),
        ("communication", {}),
    ],
)
def test_every_funnel_field_is_checked_at_construction(field: str, value: object) -> None:
    """Funnel(framework="BANT") was accepted and failed at the first advance(); version=2
    made prospects whose qualification could not be read back."""
    from funnel import ValidationError

    with pytest.raises(ValidationError) as info:
        Funnel(machine=SalesFunnel, **{field: value})  # type: ignore[arg-type]
    assert info.value.field == field


@pytest.mark.parametrize(
    ("mql", "sql", "field"),
    [
        (float("nan"), 75, "mql"),
        (50, float("inf"), "sql"),
        (10**5000, 75, "mql"),
        ("x", 75, "mql"),
    ],
    ids=["nan", "inf", "huge", "str"],
)
def test_thresholds_name_the_field(mql: object, sql: object, field: str) -> None:
    from funnel import ValidationError

    with pytest.raises(ValidationError) as info:
        Thresholds(mql=mql, sql=sql)  # type: ignore[arg-type]
    assert info.value.field == field
    assert info.value.record == "Thresholds"
