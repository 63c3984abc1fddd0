"""
The funnel's state machine, declared once with python-statemachine.

:class:`SalesFunnel` is the default funnel of the sources. It is the single
declared source of truth for stages, events and guards: the fast
:class:`~funnel.spec.table.TransitionTable` is derived from it at import, and
diagrams are drawn from it. Company funnels subclass
:class:`FunnelStateMachine` the same way, or are built from a definition
file (:mod:`funnel.spec.definition`).

The machine is strict (``StateMachine``, not ``StateChart``): an event with
no transition raises instead of being ignored.
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs
from statemachine import State, StateMachine

from funnel.spec.guards import GUARDS, GuardContext


class FunnelStateMachine(StateMachine):
    """
    Base class of funnel machines.

    Guard names used in ``cond=`` resolve to :data:`funnel.spec.guards.GUARDS`.
    Subclasses declare, besides states and events:

    * ``levels`` – each stage's level, ``"lead"`` or ``"prospect"``;
    * ``outcomes`` – for final stages, ``"won"`` or ``"lost"``;
    * ``qualification_levels`` – stages that set a lead's level
      (``{"mql": "mql", "sql": "sql"}``).

    The machine is bound to a :class:`Cursor`, never to a frozen record.
    """

    levels: ClassVar[dict[str, str]] = {}
    outcomes: ClassVar[dict[str, str]] = {}
    qualification_levels: ClassVar[dict[str, str]] = {}


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


def install_guard(name: str) -> None:
    """Give :class:`FunnelStateMachine` a method that evaluates guard *name*."""

    def guard_method(self: FunnelStateMachine) -> bool:
        cursor: Cursor = self.model
        return GUARDS[name].passes(cursor.record, cursor.ctx)

    guard_method.__name__ = name
    guard_method.__doc__ = GUARDS[name].description
    setattr(FunnelStateMachine, name, guard_method)


for _name in GUARDS:
    install_guard(_name)


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

    levels: ClassVar[dict[str, str]] = {
        "acquired": "lead",
        "mql": "lead",
        "sql": "lead",
        "nurturing": "lead",
        "disqualified": "lead",
        "organisation": "prospect",
        "opportunity": "prospect",
        "stakeholder": "prospect",
        "won": "prospect",
        "lost": "prospect",
    }
    outcomes: ClassVar[dict[str, str]] = {"won": "won", "lost": "lost", "disqualified": "lost"}
    qualification_levels: ClassVar[dict[str, str]] = {"mql": "mql", "sql": "sql"}
