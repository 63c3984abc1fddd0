"""The replay's default step table takes ``unless`` edges as the machine does."""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from statemachine import State
from statemachine.exceptions import TransitionNotAllowed

from funnel import Funnel
from funnel.engine.replay import bulk_replay, step_table
from funnel.spec.guards import GUARDS, Guard, GuardContext, GuardRegistry
from funnel.spec.machine import Cursor, FunnelStateMachine, GuardListener
from tests.helpers import T0

_CLASSES = itertools.count()


def forced(name: str, value: bool) -> Guard:
    """A guard that always holds (value=True) or never does."""
    return Guard(name, "forced", lambda record, ctx: () if value else ("forced off",))


#: One random edge: (source index, event index, target index, guard kinds).
EDGE = st.tuples(
    st.integers(0, 3),
    st.integers(0, 2),
    st.integers(0, 4),
    st.lists(st.sampled_from(["cond", "unless"]), max_size=2),
)


def build(n_stages: int, edges: list[tuple[int, int, int, list[str]]]) -> tuple[Funnel, type]:
    """
    A machine of *n_stages* lead stages (the last final) with a guard-free ``step``
    chain through them and the random *edges*; every guard name is used once, and
    its forced outcome *agrees* (a ``cond`` guard holds, an ``unless`` guard does not).
    """
    uid = next(_CLASSES)
    names = [f"rg{uid}_s{i}" for i in range(n_stages)]
    states = {
        n: State(n.upper(), initial=i == 0, final=i == n_stages - 1) for i, n in enumerate(names)
    }
    by_event: dict[str, Any] = {}
    guards: list[Guard] = []
    for i in range(n_stages - 1):  # the chain: nothing is a trap, everything reachable
        t = states[names[i]].to(states[names[i + 1]])
        by_event["step"] = t if "step" not in by_event else by_event["step"] | t
    for source, event, target, kinds in edges:
        if source >= n_stages - 1:
            continue
        cond: list[str] = []
        unless: list[str] = []
        for kind in kinds:
            name = f"rg{uid}_g{len(guards)}"
            (cond if kind == "cond" else unless).append(name)
            guards.append(forced(name, kind == "cond"))
        t = states[names[source]].to(
            states[names[min(target, n_stages - 1)]], cond=cond or None, unless=unless or None
        )
        key = f"e{event}"
        by_event[key] = t if key not in by_event else by_event[key] | t
    namespace: dict[str, Any] = {**states, **by_event, "levels": dict.fromkeys(names, "lead")}
    machine = type(f"Random{uid}", (FunnelStateMachine,), namespace)
    registry = GuardRegistry([*(GUARDS[g] for g in GUARDS), *guards], name=f"random{uid}")
    return Funnel(machine=machine, name=f"random{uid}", guards=registry), machine


def machine_replay(
    funnel: Funnel, machine: type, leads: list[str], events: list[str]
) -> tuple[dict[str, str], list[int]]:
    """One python-statemachine instance per lead; refused rows collected."""
    ctx = GuardContext(funnel=funnel, at=T0)
    machines: dict[str, tuple[Cursor, Any]] = {}
    rejects: list[int] = []
    for row, (lead, event) in enumerate(zip(leads, events, strict=True), start=1):
        if lead not in machines:
            cursor = Cursor(record=None, stage=funnel.table.initial, ctx=ctx)
            sm = machine(model=cursor, state_field="stage", listeners=[GuardListener(cursor)])
            machines[lead] = (cursor, sm)
        try:
            machines[lead][1].send(event)
        except TransitionNotAllowed:
            rejects.append(row)
    return {lead: cursor.stage for lead, (cursor, _) in machines.items()}, rejects


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n_stages=st.integers(2, 5),
    edges=st.lists(EDGE, max_size=10),
    rows=st.lists(
        st.tuples(st.sampled_from("abc"), st.sampled_from(["step", "e0", "e1", "e2"])),
        max_size=25,
    ),
)
def test_bulk_replay_equals_the_machine_with_every_guard_agreeing(
    n_stages: int, edges: list[tuple[int, int, int, list[str]]], rows: list[tuple[str, str]]
) -> None:
    """Final stages and refused rows equal python-statemachine's (cond and unless edges)."""
    funnel, machine = build(n_stages, edges)
    rows = sorted(rows, key=lambda r: r[0])  # each lead's rows in a run, order kept
    leads = [lead for lead, _ in rows]
    events = [event for _, event in rows]
    result = bulk_replay(leads, events, funnel=funnel)
    final, rejects = machine_replay(funnel, machine, leads, events)
    assert result.final == final
    assert [r.row for r in result.rejects] == rejects


def test_an_unless_edge_first_is_taken() -> None:
    """The reviewer's case: ``sign = disc.to(won, unless=...) | disc.to(lost)`` signs as won."""
    funnel, _ = build(3, [(0, 0, 1, ["unless"]), (0, 0, 2, [])])
    stages = funnel.table.stages
    assert step_table(funnel)[(stages[0], "e0")] == stages[1]
    assert bulk_replay(["a"], ["e0"], funnel=funnel).final == {"a": stages[1]}
    # an explicit outcome still decides: the unless guard holding refuses that edge
    held = step_table(funnel, passes=lambda name: True)
    assert held[(stages[0], "e0")] == stages[2]
