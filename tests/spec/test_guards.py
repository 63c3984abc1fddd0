"""The guard registry: names are protected, re-running a registration is harmless."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from funnel import ValidationError, register_guard
from funnel.spec.guards import GUARDS, GuardContext
from funnel.spec.machine import FunnelStateMachine


@pytest.fixture
def cleanup() -> Iterator[list[str]]:
    names: list[str] = []
    yield names
    for name in names:
        if name in GUARDS:
            GUARDS.unregister(name)


def _never(record: object, ctx: GuardContext) -> tuple[str, ...]:
    return ("never",)


def _always(record: object, ctx: GuardContext) -> tuple[str, ...]:
    return ()


def test_a_built_in_guard_cannot_be_replaced_by_accident(cleanup: list[str]) -> None:
    before = GUARDS["is_two_way"]
    with pytest.raises(ValidationError, match="'is_two_way' defines when a lead may become"):
        register_guard("is_two_way", "anything goes")(_always)
    assert GUARDS["is_two_way"] is before


def test_replace_true_replaces(cleanup: list[str]) -> None:
    cleanup.append("test_only_guard")
    register_guard("test_only_guard", "first")(_never)
    with pytest.raises(ValidationError, match="replace=True"):
        register_guard("test_only_guard", "second")(_always)
    assert GUARDS["test_only_guard"].check is _never
    register_guard("test_only_guard", "second", replace=True)(_always)
    assert GUARDS["test_only_guard"].check is _always
    assert GUARDS["test_only_guard"].description == "second"


def test_registering_the_same_function_again_is_allowed(cleanup: list[str]) -> None:
    """A notebook cell run twice registers the same function twice."""
    cleanup.append("test_rerun_guard")
    register_guard("test_rerun_guard", "v1")(_never)
    register_guard("test_rerun_guard", "v1, run again")(_never)
    assert GUARDS["test_rerun_guard"].description == "v1, run again"


@pytest.mark.parametrize("name", ["on_enter", "not an identifier", "before_x"])
def test_bad_names(name: str) -> None:
    with pytest.raises(ValidationError, match="must be an identifier"):
        register_guard(name, "x")


def test_built_in_guards_cannot_be_removed() -> None:
    with pytest.raises(ValidationError, match="built in"):
        GUARDS.unregister("is_two_way")


def test_a_funnel_registry_does_not_leak_into_the_default() -> None:
    """Two funnels in one process can have different guards: the machine class holds none."""
    own = GUARDS.extend("acme")
    own.register("only_acme", "acme's own")(_always)
    assert "only_acme" in own
    assert "only_acme" not in GUARDS
    assert not hasattr(FunnelStateMachine, "only_acme")
