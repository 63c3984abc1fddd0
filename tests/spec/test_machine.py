"""The declared machine keeps the funnel's rules."""

from __future__ import annotations

from typing import ClassVar

import pytest
from statemachine import State, StateMachine

from funnel import DEFAULT_FUNNEL, DefinitionError, Funnel, Level
from funnel.spec.machine import FunnelStateMachine, SalesFunnel


class TestSalesFunnel:
    def test_is_strict(self):
        """The machine is a StateMachine (illegal events raise), not a lenient StateChart."""
        assert issubclass(SalesFunnel, StateMachine)
        assert SalesFunnel.allow_event_without_transition is False

    def test_levels(self):
        """The five lead stages and five prospect stages of the sources."""
        assert DEFAULT_FUNNEL.lead_stages == (
            "acquired",
            "mql",
            "sql",
            "nurturing",
            "disqualified",
        )
        assert DEFAULT_FUNNEL.prospect_stages == (
            "organisation",
            "opportunity",
            "stakeholder",
            "won",
            "lost",
        )

    def test_no_prospect_to_lead_edge(self):
        """No edge leaves a prospect stage for a lead stage."""
        for edge in DEFAULT_FUNNEL.table.edges:
            if DEFAULT_FUNNEL.level_of(edge.source) is Level.PROSPECT:
                assert Level.PROSPECT is DEFAULT_FUNNEL.level_of(edge.target), edge

    def test_conversion_needs_two_way_and_qualified(self):
        """Every lead -> prospect edge carries both guards."""
        edges = DEFAULT_FUNNEL.conversion_edges
        assert edges
        for edge in edges:
            assert {("is_two_way", True), ("is_qualified", True)} <= set(edge.guards)

    def test_lost_needs_reason(self):
        """Every edge into lost requires a reason."""
        into_lost = [e for e in DEFAULT_FUNNEL.table.edges if e.target == "lost"]
        assert len(into_lost) == 3
        assert all(("has_reason", True) in e.guards for e in into_lost)

    def test_stakeholder_can_reopen(self):
        """A declining stakeholder sends the prospect back to opportunity."""
        (edge,) = DEFAULT_FUNNEL.table.options("stakeholder", "stakeholder_declined")
        assert edge.target == "opportunity"

    def test_outcomes(self):
        """won is won; lost and disqualified are lost."""
        assert frozenset({"won"}) == DEFAULT_FUNNEL.won_stages
        assert frozenset({"lost", "disqualified"}) == DEFAULT_FUNNEL.lost_stages


class TestFunnelValidation:
    def test_prospect_to_lead_is_refused(self):
        """A machine with a path from prospect back to lead is not a valid funnel."""

        class Back(FunnelStateMachine):
            a = State("A", initial=True)
            p = State("P")
            w = State("W", final=True)
            go = a.to(p, cond=["is_two_way", "is_qualified"])
            back = p.to(a)
            win = p.to(w)
            levels: ClassVar[dict[str, str]] = {"a": "lead", "p": "prospect", "w": "prospect"}

        with pytest.raises(DefinitionError, match="prospect-to-lead"):
            Funnel(machine=Back)

    def test_unguarded_conversion_is_refused(self):
        """Becoming a prospect without both guards is refused."""

        class Loose(FunnelStateMachine):
            a = State("A", initial=True)
            p = State("P", final=True)
            go = a.to(p, cond="is_two_way")
            levels: ClassVar[dict[str, str]] = {"a": "lead", "p": "prospect"}

        with pytest.raises(DefinitionError, match="unguarded-conversion"):
            Funnel(machine=Loose)

    def test_missing_level(self):
        """Every stage needs a level."""

        class NoLevel(FunnelStateMachine):
            a = State("A", initial=True)
            b = State("B", final=True)
            go = a.to(b)
            levels: ClassVar[dict[str, str]] = {"a": "lead"}

        with pytest.raises(DefinitionError, match=r"missing-level\] levels\.b"):
            Funnel(machine=NoLevel)


def test_the_event_literals_match_the_class():
    """SalesEvent lists SalesFunnel's events; SalesStep all but the conversion."""
    import typing

    from funnel import DEFAULT_FUNNEL
    from funnel.spec.machine import SalesEvent, SalesStep

    assert set(typing.get_args(SalesEvent)) == set(DEFAULT_FUNNEL.table.events)
    assert set(typing.get_args(SalesStep)) == set(DEFAULT_FUNNEL.table.events) - set(
        DEFAULT_FUNNEL.conversion_events
    )
