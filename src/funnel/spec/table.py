"""
The transition table derived from a machine class.

python-statemachine costs about 140 µs per event and 150-300 µs per machine
instance; a dict lookup costs well under a microsecond. So the table is
derived once per machine class and every bulk path uses it. The derivation
refuses anything it cannot reproduce exactly (compound states, eventless
transitions, unnamed guards, transition and state actions, methods named by
python-statemachine's conventions such as ``on_enter_<stage>`` or
``before_<event>``, class-level listeners, and anything on the class named like
a guard), and the test-suite checks, for every stage, event and guard outcome,
that table and machine agree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import attrs

from funnel.exceptions import DefinitionError, DefinitionProblem
from funnel.spec.guards import GUARDS, GuardRegistry

if TYPE_CHECKING:  # python-statemachine loads with the first machine class, not at import
    from statemachine import StateMachine


@attrs.frozen
class Edge:
    """
    One transition: from *source* on *event* to *target*, if the guards pass.

    Attributes:
        source: The stage it leaves.
        event: The event name.
        target: The stage it enters.
        guards: ``(guard name, expected value)`` pairs; ``cond`` guards expect
            ``True``, ``unless`` guards ``False``.
    """

    source: str
    event: str
    target: str
    guards: tuple[tuple[str, bool], ...] = ()


@attrs.frozen
class TransitionTable:
    """
    Stages, events and edges of a machine class, ready for fast lookups.

    Attributes:
        stages: Stage ids in declaration order.
        names: Display name of each stage.
        initial: The initial stage.
        finals: Final (terminal) stages.
        events: Event ids in declaration order.
        edges: Every edge, in declaration order.
    """

    stages: tuple[str, ...]
    names: Mapping[str, str]
    initial: str
    finals: frozenset[str]
    events: tuple[str, ...]
    edges: tuple[Edge, ...]
    _by_key: Mapping[tuple[str, str], tuple[Edge, ...]] = attrs.field(init=False, repr=False)
    _allowed: Mapping[str, frozenset[str]] = attrs.field(init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        by_key: dict[tuple[str, str], list[Edge]] = {}
        for edge in self.edges:
            by_key.setdefault((edge.source, edge.event), []).append(edge)
        object.__setattr__(
            self, "_by_key", MappingProxyType({k: tuple(v) for k, v in by_key.items()})
        )
        allowed = {s: frozenset(e for (src, e) in by_key if src == s) for s in self.stages}
        object.__setattr__(self, "_allowed", MappingProxyType(allowed))

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # The lookups are read-only views (mappingproxy), which do not pickle: rebuild them.
        return (
            _rebuild_table,
            (self.stages, dict(self.names), self.initial, self.finals, self.events, self.edges),
        )

    def options(self, stage: str, event: str) -> tuple[Edge, ...]:
        """The edges for *event* from *stage*, in the order the machine tries them."""
        return self._by_key.get((stage, event), ())

    def resolve(self, stage: str, event: str, passes: Callable[[str], bool]) -> Edge | None:
        """
        The edge *event* takes from *stage*, given which guards pass; ``None`` if refused.

        *passes* answers, for a guard name, whether that guard holds. The
        first edge in declaration order whose guards all agree wins, as in
        python-statemachine.
        """
        for edge in self.options(stage, event):
            if all(passes(name) is expected for name, expected in edge.guards):
                return edge
        return None

    def allowed(self, stage: str) -> frozenset[str]:
        """Events that have a transition from *stage* (guards not evaluated)."""
        return self._allowed.get(stage, frozenset())

    def successors(self, stage: str) -> frozenset[str]:
        """Stages one edge away from *stage*."""
        return frozenset(e.target for e in self.edges if e.source == stage)

    def reachable(self, start: str | None = None) -> frozenset[str]:
        """Stages reachable from *start* (default: the initial stage), itself included."""
        seen = {start or self.initial}
        todo = list(seen)
        while todo:
            for nxt in self.successors(todo.pop()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return frozenset(seen)

    def as_dict(self) -> dict[tuple[str, str], str]:
        """An unguarded view ``{(stage, event): first target}``, for quick inspection."""
        return {k: v[0].target for k, v in self._by_key.items()}


def _rebuild_table(
    stages: tuple[str, ...],
    names: dict[str, str],
    initial: str,
    finals: frozenset[str],
    events: tuple[str, ...],
    edges: tuple[Edge, ...],
) -> TransitionTable:
    """A pickled :class:`TransitionTable` back (see ``TransitionTable.__reduce__``)."""
    return TransitionTable(
        stages=stages,
        names=MappingProxyType(names),
        initial=initial,
        finals=finals,
        events=events,
        edges=edges,
    )


#: Callbacks python-statemachine calls by name on the machine class whatever the stage
#: or event (its naming conventions, 3.x): a method of that name would run only when
#: a machine instance runs, never on the fast path.
_GENERIC_CONVENTIONS = (
    "prepare_event",
    "before_transition",
    "on_transition",
    "after_transition",
    "on_enter_state",
    "on_exit_state",
    "on_invoke_state",
)


def _convention_names(machine: type[StateMachine], events: Sequence[str]) -> frozenset[str]:
    """Every callback name python-statemachine looks up by convention on *machine*."""
    names = set(_GENERIC_CONVENTIONS)
    for state in machine.states_map.values():
        names.update(f"on_{kind}_{state.id}" for kind in ("enter", "exit", "invoke"))
    for event in events:
        names.update(f"{when}_{event}" for when in ("before", "on", "after"))
    return frozenset(names)


def _declared_names(machine: type[StateMachine]) -> dict[str, object]:
    """What the machine's own classes declare (not funnel's or python-statemachine's bases)."""
    from funnel.spec.machine import FunnelStateMachine  # the machine module imports this one

    base = set(FunnelStateMachine.__mro__)
    declared: dict[str, object] = {}
    for cls in reversed(machine.__mro__):
        if cls not in base:
            declared.update(vars(cls))
    return declared


def _class_problems(
    machine: type[StateMachine], events: Sequence[str], guard_names: Iterable[str]
) -> list[DefinitionProblem]:
    """
    Callbacks on the class that python-statemachine would call and the table would not.

    A method named like a guard is AND-ed into the guard on the machine path only;
    a convention method (``on_enter_<stage>``, ``on_<event>``, ``before_transition``,
    ...) runs only when a machine instance runs; so does a class-level ``listeners``.
    """
    from statemachine import State
    from statemachine.event import Event

    problems: list[DefinitionProblem] = []
    declared = _declared_names(machine)
    guards = frozenset(guard_names)
    for name in sorted(declared.keys() & guards):
        value = declared[name]
        what = (
            "stage"
            if isinstance(value, State)
            else "event"
            if isinstance(value, Event)
            else "attribute"
        )
        problems.append(
            DefinitionProblem(
                "guard-shadowed",
                f"{what} {name!r} is named like a guard: python-statemachine would call it "
                "as well as the registered guard, and the table would not; rename it",
                key=name,
            )
        )
    for name in sorted(declared.keys() & _convention_names(machine, events)):
        problems.append(
            DefinitionProblem(
                "action",
                f"method {name!r} would run only when a machine instance runs, not on the "
                "fast path; use listeners (funnel.engine.hooks) instead",
                key=name,
            )
        )
    if getattr(machine, "_class_listeners", None):
        problems.append(
            DefinitionProblem(
                "action",
                "class-level listeners would run only when a machine instance runs, not on "
                "the fast path; pass listeners to advance() (funnel.engine.hooks) instead",
                key="listeners",
            )
        )
    return problems


def _callback_name(func: object) -> str:
    """A callback as a message names it: its name in quotes, or its Python name."""
    if isinstance(func, str):
        return repr(func)
    return repr(getattr(func, "__name__", type(func).__name__))


def derive_table(machine: type[StateMachine], registry: GuardRegistry = GUARDS) -> TransitionTable:
    """
    Derive the :class:`TransitionTable` of a flat machine class.

    Every guard the machine names must be in *registry* (the default registry
    unless the funnel has its own).

    Raises:
        DefinitionError: the machine uses something the table cannot
            reproduce; every problem is listed.
    """
    problems: list[DefinitionProblem] = []
    stages: list[str] = []
    names: dict[str, str] = {}
    edges: list[Edge] = []
    for state in machine.states_map.values():
        value = state.value
        if not isinstance(value, str):
            problems.append(
                DefinitionProblem(
                    "stage-value", f"stage values must be strings, got {value!r}", key=state.id
                )
            )
            continue
        if state.states:
            problems.append(
                DefinitionProblem(
                    "compound-stage", "compound or parallel stages are not supported", key=value
                )
            )
        stages.append(value)
        names[value] = state.name
        actions = (("enter", state.enter), ("exit", state.exit), ("invoke", state.invoke))
        for kind, group in actions:
            for spec in group:
                if not spec.is_convention:
                    problems.append(
                        DefinitionProblem(
                            "action",
                            f"state action {kind}={_callback_name(spec.func)} would not run on "
                            "the fast path; use listeners (funnel.engine.hooks) instead",
                            key=value,
                        )
                    )
        for t in state.transitions:
            if t.initial:
                continue
            where = f"{value} -> {t.target.value}"
            if t.is_eventless:
                problems.append(
                    DefinitionProblem("eventless", "every transition needs an event", key=where)
                )
                continue
            if t.internal:
                problems.append(
                    DefinitionProblem(
                        "internal", "internal transitions are not supported", key=where
                    )
                )
            if list(t.validators):
                problems.append(
                    DefinitionProblem("validators", "use named guards, not validators", key=where)
                )
            for group in (t.before, t.on, t.after):
                for spec in group:
                    if not spec.is_convention:
                        problems.append(
                            DefinitionProblem(
                                "action",
                                f"declared action {_callback_name(spec.func)} would not run on "
                                "the fast path; "
                                "use listeners (funnel.engine.hooks) instead",
                                key=where,
                            )
                        )
            guards: list[tuple[str, bool]] = []
            for spec in t.cond:
                name = spec.func
                if not isinstance(name, str) or not name.isidentifier():
                    problems.append(
                        DefinitionProblem(
                            "guard-not-named",
                            f"guard {name!r} must be a registered name",
                            key=where,
                        )
                    )
                    continue
                if name not in registry:
                    problems.append(
                        DefinitionProblem(
                            "unknown-guard",
                            f"guard {name!r} is not registered; known: {sorted(registry)}",
                            key=where,
                        )
                    )
                if any(name == g for g, _ in guards):
                    problems.append(
                        DefinitionProblem(
                            "duplicate-guard", f"guard {name!r} used twice", key=where
                        )
                    )
                guards.append((name, bool(spec.expected_value)))
            for ev in t.events:
                edges.append(Edge(value, str(ev), t.target.value, tuple(guards)))
    events = tuple(e.id for e in getattr(machine, "events"))  # noqa: B009 - a metaclass property
    used = {name for edge in edges for name, _ in edge.guards}
    problems.extend(_class_problems(machine, events, used | set(registry)))
    if problems:
        raise DefinitionError(problems, source=f"machine {machine.__name__}")
    return TransitionTable(
        stages=tuple(stages),
        names=MappingProxyType(names),
        initial=str(machine.initial_state.value),
        finals=frozenset(str(s.value) for s in machine.final_states),
        events=events,
        edges=tuple(edges),
    )
