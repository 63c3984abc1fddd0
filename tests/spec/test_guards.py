"""The guard registry: names are protected, re-running a registration is harmless."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from funnel import ValidationError, register_guard
from funnel.spec.guards import GUARDS, GuardContext, GuardRegistry
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


# -- a guard that misbehaves -----------------------------------------------------------


def _funnel_guarded_by(check: object) -> object:
    """A two-stage funnel whose only event is guarded by *check*."""
    from statemachine import State

    from funnel import Funnel

    registry = GUARDS.extend("misbehaving")
    registry.register("odd_guard", "a guard under test")(check)  # type: ignore[arg-type]

    class Odd(FunnelStateMachine):
        start = State(initial=True)
        end = State(final=True)
        go = start.to(end, cond="odd_guard")
        levels = {"start": "lead", "end": "lead"}  # noqa: RUF012
        outcomes = {"end": "lost"}  # noqa: RUF012

    return Funnel(machine=Odd, name="odd", guards=registry)


def _raises(record: object, ctx: object) -> tuple[str, ...]:
    raise RuntimeError("cannot reach zed.quux@corp.example on +44 20 7946 0958")


def _raises_key(record: object, ctx: object) -> tuple[str, ...]:
    known: dict[str, tuple[str, ...]] = {}
    return known["zed.quux@corp.example"]


async def _async(record: object, ctx: object) -> tuple[str, ...]:
    return ()


MISBEHAVING = {
    "raises": (_raises, "RuntimeError"),
    "raises-key-error": (_raises_key, "KeyError"),
    "returns-none": (lambda record, ctx: None, "returned NoneType"),
    "returns-false": (lambda record, ctx: False, "returned bool"),
    "returns-true": (lambda record, ctx: True, "returned bool"),
    "returns-a-string": (lambda record, ctx: "no", "returned str"),
    "returns-ints": (lambda record, ctx: (1, 2), "returned tuple"),
    "takes-no-arguments": (lambda: (), "TypeError"),
    "async": (_async, "returned coroutine"),
}


@pytest.mark.parametrize("how", list(MISBEHAVING))
@pytest.mark.parametrize("call", ["advance", "can", "enabled_events", "explain", "listeners"])
def test_a_guard_that_fails_is_a_guard_error_naming_it(how: str, call: str) -> None:
    """A guard that raised escaped raw (its text with it); None or False passed silently."""
    from datetime import UTC, datetime

    from funnel import Contact, Lead
    from funnel.exceptions import GuardError

    check, said = MISBEHAVING[how]
    odd = _funnel_guarded_by(check)
    at = datetime(2026, 3, 1, tzinfo=UTC)
    lead = Lead(id="G1", contact=Contact(name="Ada"), source="web", created_at=at, stage="start")
    calls = {
        "advance": lambda: odd.advance(lead, "go", at=at),  # type: ignore[attr-defined]
        "can": lambda: odd.can(lead, "go", at=at),  # type: ignore[attr-defined]
        "enabled_events": lambda: odd.enabled_events(lead, at=at),  # type: ignore[attr-defined]
        "explain": lambda: odd.explain(lead, at=at),  # type: ignore[attr-defined]
        "listeners": lambda: odd.advance(lead, "go", at=at, listeners=[object()]),  # type: ignore[attr-defined]
    }
    with pytest.raises(GuardError, match="guard 'odd_guard'") as info:
        calls[call]()
    assert said in str(info.value)
    assert info.value.guard == "odd_guard"
    assert info.value.to_dict()["record"] == "G1"
    shown = str(info.value) + repr(info.value.to_dict())
    assert "zed.quux" not in shown
    assert "7946" not in shown


def test_a_guard_may_return_a_list_of_reasons() -> None:
    from datetime import UTC, datetime

    from funnel import Contact, Lead
    from funnel.exceptions import GuardFailed

    odd = _funnel_guarded_by(lambda record, ctx: ["not today"])
    at = datetime(2026, 3, 1, tzinfo=UTC)
    lead = Lead(id="G1", contact=Contact(name="Ada"), source="web", created_at=at, stage="start")
    with pytest.raises(GuardFailed, match="odd_guard: not today"):
        odd.advance(lead, "go", at=at)  # type: ignore[attr-defined]
    assert odd.can(lead, "go", at=at) is False  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: GUARDS.extend().register("g_x", 5), "description"),  # type: ignore[arg-type]
        (lambda: GUARDS.extend().register("g_x", "d", replace="yes"), "replace"),  # type: ignore[arg-type]
        (lambda: GUARDS.extend().register(["g"], "d"), "name"),  # type: ignore[arg-type]
        (lambda: GUARDS.extend(name=5), "name"),  # type: ignore[arg-type]
        (lambda: GuardRegistry(5), "guards"),  # type: ignore[arg-type]
        (lambda: GuardRegistry(["is_two_way"]), "guards"),  # type: ignore[list-item]
        (lambda: GUARDS.extend().unregister(["g"]), "name"),  # type: ignore[arg-type]
        (lambda: GUARDS["no_such_guard"], "name"),
        (lambda: GUARDS[["unhashable"]], "name"),  # type: ignore[index]
    ],
    ids=[
        "description",
        "replace",
        "name-list",
        "extend-name",
        "not-a-collection",
        "not-a-guard",
        "unregister-list",
        "unknown",
        "unhashable",
    ],
)
def test_registry_arguments_are_checked(make: object, field: str) -> None:
    """These raised AttributeError, TypeError or a bare KeyError."""
    with pytest.raises(ValidationError) as info:
        make()  # type: ignore[operator]
    assert info.value.field == field


def test_an_unknown_guard_is_still_a_key_error() -> None:
    with pytest.raises(KeyError):
        GUARDS["no_such_guard"]
    assert GUARDS.get("no_such_guard") is None
    assert ["unhashable"] not in GUARDS  # type: ignore[comparison-overlap]


def test_an_invisible_reason_is_no_reason() -> None:
    """why="\u200b" passed has_reason, and Lead(id="\u200b") was accepted (review)."""
    from datetime import UTC, datetime

    import pytest

    from funnel import DEFAULT_FUNNEL, Contact, Lead, ValidationError
    from funnel.exceptions import GuardFailed

    t0 = datetime(2026, 1, 5, tzinfo=UTC)
    for blank_id in ("\u200b", "\u00ad"):  # a soft hyphen alone shows nothing either
        with pytest.raises(ValidationError, match="must not be empty"):
            Lead(id=blank_id, contact=Contact(name="Ada"), source="web", created_at=t0)
    lead = Lead(id="L1", contact=Contact(name="Ada"), source="web", created_at=t0)
    for why in ("\u200b", " \u200b\u2060 ", "\ufeff"):
        with pytest.raises(GuardFailed, match="reason is required"):
            DEFAULT_FUNNEL.advance(lead, "disqualify", at=t0, why=why)
    assert DEFAULT_FUNNEL.advance(lead, "disqualify", at=t0, why="spam").stage == "disqualified"
