"""
The funnel's state machine, declared once with python-statemachine.

:class:`SalesFunnel` is the default funnel of the sources. It is the single
declared source of truth for stages, events and guards: the fast
:class:`~funnel.spec.table.TransitionTable` is derived from it the first time
a funnel needs it, and diagrams are drawn from it. Company funnels subclass
:class:`FunnelStateMachine` the same way, or are built from a definition
file (:mod:`funnel.spec.definition`).

The machine is strict (``StateMachine``, not ``StateChart``): an event with
no transition raises instead of being ignored.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar, Literal

import attrs
from statemachine import State, StateMachine

from funnel.exceptions import DefinitionError, DefinitionProblem
from funnel.model.records import declare_stage_levels
from funnel.spec.guards import GuardContext
from funnel.spec.levels import SALES_LEVELS


class FunnelStateMachine(StateMachine):
    """
    Base class of funnel machines.

    Guard names used in ``cond=`` are resolved, for each machine instance,
    against the funnel's :class:`~funnel.spec.guards.GuardRegistry` (see
    :class:`GuardListener`); the class itself holds no guard code.
    Subclasses declare, besides states and events:

    * ``levels`` – each stage's level, ``"lead"`` or ``"prospect"``;
    * ``outcomes`` – for final stages, ``"won"`` or ``"lost"``;
    * ``qualification_levels`` – stages that set a lead's level
      (``{"mql": "mql", "sql": "sql"}``).

    Declaring a subclass makes its stage levels known to the model
    (:func:`funnel.model.records.declare_stage_levels`), so a record built
    with a stage of the other level is refused at construction.

    The machine is bound to a :class:`Cursor`, never to a frozen record.
    """

    levels: ClassVar[dict[str, str]] = {}
    outcomes: ClassVar[dict[str, str]] = {}
    qualification_levels: ClassVar[dict[str, str]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.levels:
            declare_stage_levels(cls.levels)

    def __init__(
        self,
        model: Any = None,
        state_field: str = "state",
        start_value: Any = None,
        listeners: Sequence[object] | None = None,
        **kwargs: Any,
    ) -> None:
        given = list(listeners or ())
        if not any(isinstance(x, GuardListener) for x in given):
            # A bare instance (a diagram, allowed_events): guard names resolve, but
            # evaluating one needs a record, which only Funnel.machine_for() gives.
            given.append(_Unbound(guard_names(type(self))))
        super().__init__(
            model, state_field=state_field, start_value=start_value, listeners=given, **kwargs
        )


def guard_names(machine: type[StateMachine]) -> frozenset[str]:
    """Every guard name a machine class uses in ``cond=`` / ``unless=``."""
    return frozenset(
        spec.func
        for state in machine.states_map.values()
        for t in state.transitions
        for spec in t.cond
        if isinstance(spec.func, str)
    )


@attrs.define
class Cursor:
    """
    The mutable model a machine instance writes its stage to.

    Attributes:
        record: The (frozen) record being moved.
        stage: The stage; the machine reads and writes it.
        ctx: What guards may read.
    """

    record: Any
    stage: str
    ctx: GuardContext


class GuardListener:
    """
    Gives a machine instance one method per guard of the funnel's registry.

    python-statemachine resolves ``cond="is_two_way"`` against the machine,
    its model and its listeners when the instance is made; this listener
    answers each name from ``cursor.ctx.funnel.guards`` through the context,
    so the machine and the table evaluate the very same guard, once per
    decision.
    """

    def __init__(self, cursor: Cursor) -> None:
        self._cursor = cursor
        for name in cursor.ctx.funnel.guards:
            setattr(self, name, functools.partial(self._passes, name))

    def _passes(self, name: str) -> bool:
        return self._cursor.ctx.passes(name, self._cursor.record)


class _Unbound:
    """Guards of a machine instance made without a record: they cannot be evaluated."""

    def __init__(self, names: Iterable[str]) -> None:
        for name in names:
            setattr(self, name, functools.partial(self._refuse, name))

    @staticmethod
    def _refuse(name: str) -> bool:
        raise DefinitionError(
            [
                DefinitionProblem(
                    "unbound-guard",
                    f"guard {name!r} needs a record: make the machine with "
                    "Funnel.machine_for(record, at=...)",
                )
            ]
        )


#: The events of :class:`SalesFunnel`, for type checkers (a test checks this list
#: against the class).
SalesEvent = Literal[
    "mark_mql",
    "mark_sql",
    "nurture",
    "disqualify",
    "convert",
    "open_opportunity",
    "engage_stakeholder",
    "stakeholder_declined",
    "win",
    "lose",
]

#: The events :func:`funnel.advance` can take on the default funnel: every event but
#: the conversion, which only :func:`funnel.convert` (or ``fire``) makes. Without
#: ``funnel=``, ``advance(lead, "mark_sq1")`` or ``advance(lead, "convert")`` is a type error.
SalesStep = Literal[
    "mark_mql",
    "mark_sql",
    "nurture",
    "disqualify",
    "open_opportunity",
    "engage_stakeholder",
    "stakeholder_declined",
    "win",
    "lose",
]

_CONVERT = ["is_two_way", "is_qualified"]


class SalesFunnel(FunnelStateMachine):
    """
    The sources' funnel: lead stages, then the prospect's road.

    Lead level: ``acquired`` -> ``mql`` -> ``sql``, with ``nurturing`` and
    ``disqualified``. A lead becomes a prospect (``convert``) only when
    two-way communication exists **and** the qualification framework passes.
    Prospect level: ``organisation`` -> ``opportunity`` -> ``stakeholder``
    -> ``won`` or ``lost`` (a reason is required). When a stakeholder does not
    buy, ``stakeholder_declined`` reopens the road at ``opportunity`` to find
    another. No event leads from a prospect stage back to a lead stage.
    """

    # Lead level (top of funnel).
    acquired = State("Acquired", initial=True)
    mql = State("MQL")
    sql = State("SQL")
    nurturing = State("Nurturing")
    disqualified = State("Disqualified", final=True)
    # Prospect level.
    organisation = State("Organisation")
    opportunity = State("Opportunity")
    stakeholder = State("Stakeholder")
    won = State("Won", final=True)
    lost = State("Lost", final=True)

    mark_mql = acquired.to(mql, cond="has_inbound_action") | nurturing.to(
        mql, cond="has_inbound_action"
    )
    mark_sql = (
        acquired.to(sql, cond="fits_profile")
        | mql.to(sql, cond="fits_profile")
        | nurturing.to(sql, cond="fits_profile")
    )
    nurture = acquired.to(nurturing) | mql.to(nurturing) | sql.to(nurturing)
    disqualify = (
        acquired.to(disqualified, cond="has_reason")
        | mql.to(disqualified, cond="has_reason")
        | sql.to(disqualified, cond="has_reason")
        | nurturing.to(disqualified, cond="has_reason")
    )
    convert = (
        acquired.to(organisation, cond=_CONVERT)
        | mql.to(organisation, cond=_CONVERT)
        | sql.to(organisation, cond=_CONVERT)
        | nurturing.to(organisation, cond=_CONVERT)
    )
    open_opportunity = organisation.to(opportunity)
    engage_stakeholder = opportunity.to(stakeholder)
    stakeholder_declined = stakeholder.to(opportunity, cond="has_reason")
    win = stakeholder.to(won)
    lose = (
        organisation.to(lost, cond="has_reason")
        | opportunity.to(lost, cond="has_reason")
        | stakeholder.to(lost, cond="has_reason")
    )

    levels: ClassVar[dict[str, str]] = dict(SALES_LEVELS)  # declared to the model at import
    outcomes: ClassVar[dict[str, str]] = {"won": "won", "lost": "lost", "disqualified": "lost"}
    qualification_levels: ClassVar[dict[str, str]] = {"mql": "mql", "sql": "sql"}
