"""
Building from a checked definition: the machine class and the :class:`Funnel`.

:func:`build_machine` declares a
:class:`~funnel.spec.machine.FunnelStateMachine` subclass on the fly from the
stages and events a definition names, so the python-statemachine class stays
the single source of truth; :func:`funnel_from_data` checks parsed data
(:mod:`funnel.io.definition.read`) and builds the :class:`Funnel`.

This is the one module of :mod:`funnel.io.definition` that imports
:class:`Funnel`, :class:`Thresholds` and :data:`DEFAULT_FUNNEL`; the others
take them from here.

>>> from funnel.io.definition.read import parse
>>> from funnel.io.definition import default_definition_path
>>> text = default_definition_path().read_text(encoding="utf-8")
>>> funnel_from_data(parse(text), text=text) == DEFAULT_FUNNEL
True
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Mapping, Sequence
from typing import Any

from statemachine import State
from statemachine.exceptions import InvalidDefinition

from funnel.engine.funnel import DEFAULT_FUNNEL, Funnel
from funnel.exceptions import DefinitionError, DefinitionProblem, ValidationError
from funnel.io.definition.locate import Format
from funnel.io.definition.read import TransitionSpec, read_data
from funnel.spec.definition import CONVERSION_GUARDS, Thresholds
from funnel.spec.guards import GUARDS, GuardRegistry
from funnel.spec.machine import FunnelStateMachine

__all__ = [
    "DEFAULT_FUNNEL",
    "Funnel",
    "Thresholds",
    "build_machine",
    "funnel_from_data",
]


def _class_name(name: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", name)
    base = "".join(w[:1].upper() + w[1:] for w in words) or "Company"
    if base[0].isdigit():
        base = "F" + base
    return base if base.endswith("Funnel") else base + "Funnel"


def build_machine(
    name: str,
    stages: Mapping[str, Mapping[str, Any]],
    events: Sequence[str],
    transitions: Sequence[TransitionSpec],
) -> type[FunnelStateMachine]:
    """
    Build the :class:`~funnel.spec.machine.FunnelStateMachine` subclass a definition declares.

    *stages* maps each stage id to its ``name``, ``level``, ``initial``,
    ``final``, ``outcome`` and ``qualification_level``; *transitions* have
    ``source``, ``target``, ``cond``, ``unless`` and the ``path`` of their
    event (``("events", id, ...)``), in file order.
    """
    # The reader has checked that every stage can reach a final stage, in linear time
    # and with keys and lines; python-statemachine's own check searches once per stage.
    namespace: dict[str, Any] = {"__module__": __name__, "validate_final_reachability": False}
    for sid, spec in stages.items():
        kwargs: dict[str, Any] = {"initial": spec["initial"], "final": spec["final"]}
        if spec["name"] is not None:
            kwargs["name"] = spec["name"]
        namespace[sid] = State(**kwargs)
    by_event: dict[str, list[TransitionSpec]] = {}
    for t in transitions:
        by_event.setdefault(str(t.path[1]), []).append(t)
    for eid in events:
        parts = [
            namespace[t.source].to(namespace[t.target], cond=list(t.cond), unless=list(t.unless))
            for t in by_event.get(eid, ())
        ]
        namespace[eid] = functools.reduce(operator.or_, parts)
    namespace["levels"] = {sid: spec["level"] for sid, spec in stages.items()}
    namespace["outcomes"] = {
        sid: spec["outcome"] for sid, spec in stages.items() if spec["outcome"]
    }
    namespace["qualification_levels"] = {
        sid: spec["qualification_level"]
        for sid, spec in stages.items()
        if spec["qualification_level"]
    }
    machine: type[FunnelStateMachine] = type(_class_name(name), (FunnelStateMachine,), namespace)
    return machine


def funnel_from_data(
    data: Any,
    *,
    source: str | None = None,
    text: str | None = None,
    format: Format = "toml",
    guards: GuardRegistry = GUARDS,
) -> Funnel:
    """
    Build a :class:`~funnel.Funnel` from parsed definition data (TOML or JSON shape).

    *text* (the file's text) lets problems carry line numbers; guard names are
    looked up in *guards*, which the funnel then uses.

    Raises:
        DefinitionError: every problem found, each with its key and, where
            known, its line.
    """
    default = Thresholds()
    spec = read_data(
        data,
        text=text,
        format=format,
        source=source,
        default_thresholds={"mql": default.mql, "sql": default.sql},
        conversion_guards=CONVERSION_GUARDS,
        guards=guards,
    )
    try:
        machine = build_machine(spec.name, spec.stages, spec.events, spec.transitions)
    except InvalidDefinition as exc:  # pragma: no cover - the reader finds these first
        raise DefinitionError(
            [DefinitionProblem("machine", str(exc), key="stages")], source=source
        ) from exc
    try:
        return Funnel(
            machine=machine,
            name=spec.name,
            version=spec.version,
            description=spec.description,
            framework=spec.framework,
            icp=spec.icp,
            thresholds=Thresholds(**spec.thresholds),
            communication=spec.communication,
            guards=guards,
        )
    except DefinitionError as exc:  # pragma: no cover - the reader finds these first
        raise DefinitionError(exc.problems, source=source) from exc
    except ValidationError as exc:  # a value the funnel refuses (e.g. a NUL in its name)
        problem = DefinitionProblem("invalid-value", exc.summary, key=f"funnel.{exc.field}")
        raise DefinitionError([problem], source=source) from None
