"""The derived transition table agrees with python-statemachine, exhaustively."""

from __future__ import annotations

import itertools
from typing import Any, ClassVar

import pytest
from statemachine import State
from statemachine.exceptions import TransitionNotAllowed

from funnel import DEFAULT_FUNNEL, DefinitionError, Funnel
from funnel.spec.guards import Guard, GuardContext, GuardRegistry
from funnel.spec.machine import Cursor, FunnelStateMachine, GuardListener, SalesFunnel
from funnel.spec.table import derive_table
from tests.helpers import T0

TABLE = DEFAULT_FUNNEL.table
GUARD_NAMES = sorted({name for edge in TABLE.edges for name, _ in edge.guards})
ASSIGNMENTS = [
    dict(zip(GUARD_NAMES, values, strict=True))
    for values in itertools.product([False, True], repeat=len(GUARD_NAMES))
]


def forced(name: str, value: bool) -> Guard:
    """A guard that always passes (value=True) or always refuses."""

    def check(record: object, ctx: GuardContext) -> tuple[str, ...]:
        return () if value else ("forced off",)

    return Guard(name, "forced", check)


def forced_funnel(assignment: dict[str, bool]) -> Funnel:
    """The default machine with every guard forced to the given outcome."""
    registry = GuardRegistry(forced(name, value) for name, value in assignment.items())
    return Funnel(machine=SalesFunnel, guards=registry)


def machine_target(stage: str, event: str, funnel: Funnel = DEFAULT_FUNNEL) -> str | None:
    """Where a real machine resumed at *stage* goes on *event*, or None if refused."""
    cursor = Cursor(record=None, stage=stage, ctx=GuardContext(funnel=funnel, at=T0))
    sm = SalesFunnel(model=cursor, state_field="stage", listeners=[GuardListener(cursor)])
    try:
        sm.send(event)
    except TransitionNotAllowed:
        return None
    assert isinstance(cursor.stage, str)
    return cursor.stage


class TestAgreement:
    def test_every_stage_event_and_guard_outcome(self):
        """For all stages x events x guard outcomes, table and machine pick the same target."""
        checked = 0
        for assignment in ASSIGNMENTS:
            funnel = forced_funnel(assignment)
            for stage in TABLE.stages:
                for event in TABLE.events:
                    edge = TABLE.resolve(stage, event, assignment.__getitem__)
                    expected = edge.target if edge is not None else None
                    got = machine_target(stage, event, funnel)
                    assert expected == got, (stage, event, assignment)
                    checked += 1
        assert len(TABLE.stages) * len(TABLE.events) * len(ASSIGNMENTS) == checked

    def test_structure_matches_class(self):
        """Stages, initial, finals and events come from the class."""
        assert tuple(s.value for s in SalesFunnel.states_map.values()) == TABLE.stages
        assert SalesFunnel.initial_state.value == TABLE.initial
        assert {s.value for s in SalesFunnel.final_states} == TABLE.finals
        assert {e.id for e in getattr(SalesFunnel, "events")} == set(TABLE.events)  # noqa: B009

    def test_allowed_matches_machine(self):
        """allowed(stage) equals the machine's allowed_events for every stage."""
        for stage in TABLE.stages:
            cursor = Cursor(
                record=None, stage=stage, ctx=GuardContext(funnel=DEFAULT_FUNNEL, at=T0)
            )
            sm = SalesFunnel(model=cursor, state_field="stage", listeners=[GuardListener(cursor)])
            assert {e.id for e in sm.allowed_events} == TABLE.allowed(stage), stage

    def test_finals_accept_nothing(self):
        """Terminal stages have no outgoing edge."""
        for stage in TABLE.finals:
            assert frozenset() == TABLE.allowed(stage)

    def test_reachable(self):
        """Every stage is reachable from the initial stage."""
        assert set(TABLE.stages) == TABLE.reachable()


class TestDerivationRefuses:
    def test_unknown_guard(self):
        """A guard name not in the registry is a definition error."""

        class Bad(FunnelStateMachine):
            a = State("A", initial=True)
            b = State("B", final=True)
            go = a.to(b, cond="no_such_guard")

        with pytest.raises(DefinitionError, match="unknown-guard"):
            derive_table(Bad)

    def test_callable_guard(self):
        """A lambda guard cannot be reproduced by name and is refused."""

        class Bad(FunnelStateMachine):
            a = State("A", initial=True)
            b = State("B", final=True)
            go = a.to(b, cond=lambda: True)

        with pytest.raises(DefinitionError, match="guard-not-named"):
            derive_table(Bad)

    def test_declared_action(self):
        """An inline action would be skipped on the fast path, so it is refused."""

        class Bad(FunnelStateMachine):
            a = State("A", initial=True)
            b = State("B", final=True)
            go = a.to(b, on="send_email")

            def send_email(self) -> None:
                raise AssertionError

        with pytest.raises(DefinitionError, match="action"):
            derive_table(Bad)

    def test_unless_guard_expects_false(self):
        """unless= guards are derived with expected value False."""

        class Ok(FunnelStateMachine):
            a = State("A", initial=True)
            b = State("B", final=True)
            go = a.to(b, unless="has_reason")
            levels: ClassVar[dict[str, str]] = {"a": "lead", "b": "lead"}

        table = derive_table(Ok)
        assert table.edges[0].guards == (("has_reason", False),)

    def test_many_problems_listed(self):
        """Every problem is reported, not just the first."""

        class Bad(FunnelStateMachine):
            a = State("A", initial=True)
            b = State("B", final=True)
            go = a.to(b, cond=["nope1", "nope2"])

        with pytest.raises(DefinitionError) as info:
            derive_table(Bad)
        assert len(info.value.problems) == 2


class TestWhatOnlyTheMachineWouldRun:
    """derive_table refuses every callback the fast path would skip, naming it (review 4)."""

    def test_a_method_named_like_a_guard(self):
        """It would be AND-ed into the guard on the machine path only."""

        class Shadow(FunnelStateMachine):
            new = State("New", initial=True)
            done = State("Done", final=True)
            other = State("Other", final=True)
            finish = new.to(done, cond="has_reason") | new.to(other)

            def has_reason(self) -> bool:
                return False

        with pytest.raises(DefinitionError) as info:
            derive_table(Shadow)
        [problem] = info.value.problems
        assert (problem.kind, problem.key) == ("guard-shadowed", "has_reason")
        assert "attribute 'has_reason'" in problem.message

    def test_a_registered_guard_the_machine_does_not_use(self):
        """A listener of the funnel's registry answers that name too: the method clashes."""

        class Shadow(FunnelStateMachine):
            new = State("New", initial=True)
            done = State("Done", final=True)
            finish = new.to(done)

            def fits_profile(self) -> bool:
                return True

        with pytest.raises(DefinitionError, match="guard-shadowed"):
            derive_table(Shadow)

    def test_a_stage_or_event_named_like_a_guard(self):
        class Stage(FunnelStateMachine):
            new = State("New", initial=True)
            has_reason = State("Has reason", final=True)
            finish = new.to(has_reason)

        class Event(FunnelStateMachine):
            new = State("New", initial=True)
            done = State("Done", final=True)
            is_two_way = new.to(done)

        for machine, what in ((Stage, "stage 'has_reason'"), (Event, "event 'is_two_way'")):
            with pytest.raises(DefinitionError, match=what):
                derive_table(machine)

    @pytest.mark.parametrize(
        "method",
        [
            "on_enter_done",
            "on_exit_new",
            "on_invoke_done",
            "on_finish",
            "before_finish",
            "after_finish",
            "before_transition",
            "on_transition",
            "after_transition",
            "on_enter_state",
            "on_exit_state",
            "on_invoke_state",
            "prepare_event",
        ],
    )
    def test_convention_callbacks(self, method: str):
        """python-statemachine 3's naming conventions: each would run on the machine path only."""

        def callback(self: object) -> None:
            raise AssertionError

        namespace: dict[str, Any] = {
            "new": State("New", initial=True),
            "done": State("Done", final=True),
            method: callback,
        }
        namespace["finish"] = namespace["new"].to(namespace["done"])
        machine = type("Convention", (FunnelStateMachine,), namespace)
        with pytest.raises(DefinitionError) as info:
            derive_table(machine)
        [problem] = info.value.problems
        assert (problem.kind, problem.key) == ("action", method)

    def test_inherited_callbacks_count_too(self):
        class Mixin:
            def on_enter_done(self) -> None:
                raise AssertionError

        class Child(Mixin, FunnelStateMachine):
            new = State("New", initial=True)
            done = State("Done", final=True)
            finish = new.to(done)

        with pytest.raises(DefinitionError, match="on_enter_done"):
            derive_table(Child)

    def test_state_actions(self):
        """State(enter=/exit=) and a decorated state callback are refused, naming the stage."""

        class Actions(FunnelStateMachine):
            new = State("New", initial=True, exit="bye")
            done = State("Done", final=True, enter="notify")
            finish = new.to(done)

            @done.enter  # type: ignore[untyped-decorator]
            def decorated(self) -> None:
                raise AssertionError

        with pytest.raises(DefinitionError) as info:
            derive_table(Actions)
        found = {(p.kind, p.key, p.message.split(" would")[0]) for p in info.value.problems}
        assert found == {
            ("action", "new", "state action exit='bye'"),
            ("action", "done", "state action enter='notify'"),
            ("action", "done", "state action enter='decorated'"),
        }

    def test_class_listeners(self):
        class Listener:
            def on_enter_done(self) -> None:
                raise AssertionError

        class Listened(FunnelStateMachine):
            listeners: ClassVar[list[type]] = [Listener]
            new = State("New", initial=True)
            done = State("Done", final=True)
            finish = new.to(done)

        with pytest.raises(DefinitionError) as info:
            derive_table(Listened)
        assert [(p.kind, p.key) for p in info.value.problems] == [("action", "listeners")]

    def test_a_funnel_refuses_such_a_machine(self):
        class Shadow(FunnelStateMachine):
            new = State("New", initial=True)
            done = State("Done", final=True)
            finish = new.to(done)
            levels: ClassVar[dict[str, str]] = {"new": "lead", "done": "lead"}

            def on_finish(self) -> None:
                raise AssertionError

        with pytest.raises(DefinitionError, match="on_finish"):
            Funnel(machine=Shadow, name="shadow")

    def test_helpers_and_the_default_machine_are_fine(self):
        """Plain helper methods and the sources' machine derive."""

        class Helped(FunnelStateMachine):
            new = State("New", initial=True)
            done = State("Done", final=True)
            finish = new.to(done)

            def describe(self) -> str:
                return "not a callback"

        assert derive_table(Helped).stages == ("new", "done")
        assert derive_table(SalesFunnel) == TABLE


def _as_dict(table: Any) -> dict[tuple[str, str], str]:
    return dict(table.as_dict())


def test_as_dict_is_unguarded_first_target():
    """as_dict() maps (stage, event) to the first declared target."""
    assert _as_dict(TABLE)[("sql", "convert")] == "organisation"
    assert ("won", "win") not in _as_dict(TABLE)


def test_a_table_pickles_and_deep_copies():
    """Its lookups are mappingproxy views, which do not pickle by themselves."""
    import copy
    import pickle

    again = pickle.loads(pickle.dumps(TABLE))  # noqa: S301 - our own bytes
    assert again == TABLE
    assert again.options("acquired", "convert") == TABLE.options("acquired", "convert")
    assert copy.deepcopy(TABLE).allowed("acquired") == TABLE.allowed("acquired")
