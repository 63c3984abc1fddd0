"""advance(), convert(), fire(), can(), explain() and the rich machine path."""

from __future__ import annotations

from datetime import datetime

import attrs
import pytest

from funnel import (
    DEFAULT_FUNNEL,
    Evidence,
    Funnel,
    Lead,
    PassRule,
    Prospect,
    QualificationLevel,
    TransitionError,
    add_evidence,
    add_touch,
    advance,
    can,
    convert,
    enabled_events,
    explain,
    fire,
)
from funnel.engine.funnel import allowed_events
from funnel.exceptions import (
    ChronologyError,
    GuardFailed,
    IllegalEvent,
    NotQualified,
    WrongLevel,
)
from funnel.model.qualification import BANT
from funnel.spec.machine import SalesFunnel, SalesStep
from tests.helpers import ALL_MET, day, form, lead, met, outbound, ready_lead, reply


def prospect_at(stage: str) -> Prospect:
    """A prospect moved along the default road up to *stage*."""
    p = convert(ready_lead(), at=day(3))
    road: dict[str, list[SalesStep]] = {
        "opportunity": ["open_opportunity"],
        "stakeholder": ["open_opportunity", "engage_stakeholder"],
    }
    for i, event in enumerate(road.get(stage, [])):
        p = advance(p, event, at=day(4 + i))
    assert stage == p.stage
    return p


class TestAdvance:
    def test_records_history(self):
        """A change appends (from, to, event, at, why) to the history."""
        new = advance(lead(touches=[form("f", 1)]), "mark_mql", at=day(1), why="pricing form")
        (change,) = new.history
        assert ("acquired", "mql", "mark_mql", day(1), "pricing form") == (
            change.from_stage,
            change.to_stage,
            change.event,
            change.at,
            change.why,
        )

    def test_sets_qualification_level(self):
        """Entering mql and sql sets the lead's level."""
        new = advance(lead(touches=[form("f", 1)]), "mark_mql", at=day(1))
        assert new.level == QualificationLevel.MQL
        new = advance(add_evidence(new, *met("fit", at=1)), "mark_sql", at=day(2))
        assert new.level == QualificationLevel.SQL

    def test_input_unchanged_on_success(self):
        """advance() returns a new record and leaves the input as it was."""
        old = lead(touches=[form("f", 1)])
        snapshot = attrs.asdict(old)
        advance(old, "mark_mql", at=day(1))
        assert snapshot == attrs.asdict(old)

    def test_illegal_event_carries_record_event_reasons(self):
        """An event with no transition raises IllegalEvent with the record, event and reasons."""
        old = lead()
        with pytest.raises(IllegalEvent) as info:
            advance(old, "win", at=day(1))
        err = info.value
        assert (old, "win", "acquired") == (err.record, err.event, err.stage)
        assert "events allowed from 'acquired'" in err.reasons[0]
        assert isinstance(err, TransitionError)

    def test_unknown_event(self):
        """An event the funnel does not have says so."""
        with pytest.raises(IllegalEvent, match="no event 'teleport'"):
            advance(lead(), "teleport", at=day(1), funnel=DEFAULT_FUNNEL)

    def test_guard_refusal_has_reasons(self):
        """mark_mql without an inbound action is refused with the reason."""
        with pytest.raises(GuardFailed) as info:
            advance(lead(), "mark_mql", at=day(1))
        assert any("no inbound action" in r for r in info.value.reasons)

    def test_lose_requires_reason(self):
        """Losing a prospect needs why=...; with one it is recorded."""
        p = prospect_at("opportunity")
        with pytest.raises(GuardFailed, match="reason is required"):
            advance(p, "lose", at=day(9))
        lost = advance(p, "lose", at=day(9), why="chose a competitor")
        assert ("lost", "chose a competitor", day(9)) == (
            lost.stage,
            lost.history[-1].why,
            lost.closed_at,
        )

    def test_terminal_accepts_nothing(self):
        """From won, every event is illegal."""
        won = advance(prospect_at("stakeholder"), "win", at=day(10))
        for event in DEFAULT_FUNNEL.table.events:
            with pytest.raises(IllegalEvent, match="terminal"):
                fire(won, event, at=day(11), why="x")

    def test_time_only_moves_forward(self):
        """A change earlier than the last one raises ChronologyError."""
        new = advance(lead(touches=[form("f", 1)]), "mark_mql", at=day(5))
        with pytest.raises(ChronologyError, match="last change was at"):
            advance(new, "nurture", at=day(4))

    def test_naive_at_refused(self):
        """at must be timezone-aware."""
        with pytest.raises(ValueError, match="timezone-aware"):
            advance(lead(), "nurture", at=datetime(2026, 3, 5))  # noqa: DTZ001

    def test_lead_cannot_use_advance_to_convert(self):
        """Crossing to prospect through advance() raises WrongLevel pointing to convert()."""
        with pytest.raises(WrongLevel, match=r"use convert\(\)"):
            advance(ready_lead(), "convert", at=day(3), funnel=DEFAULT_FUNNEL)

    def test_prospect_never_becomes_lead(self):
        """No lead event is accepted by a prospect."""
        p = prospect_at("opportunity")
        for event in ("nurture", "mark_mql", "mark_sql", "disqualify", "convert"):
            with pytest.raises(IllegalEvent):
                fire(p, event, at=day(9), why="x")

    def test_stage_from_another_funnel(self):
        """A record in a stage the funnel lacks is refused clearly."""
        odd = lead(stage="limbo")
        with pytest.raises(IllegalEvent, match="is not a stage of funnel"):
            advance(odd, "nurture", at=day(1))

    def test_stakeholder_declined_reopens(self):
        """Another stakeholder can be sought after one declines."""
        p = advance(prospect_at("stakeholder"), "stakeholder_declined", at=day(9), why="no")
        p = advance(p, "engage_stakeholder", at=day(10))
        assert "win" in allowed_events(p)


class TestConvert:
    def test_converts_with_two_way_and_criteria(self):
        """A qualified lead in dialogue becomes a prospect in organisation."""
        p = convert(ready_lead(), at=day(3), owner="maria")
        assert (p.stage, p.owner) == ("organisation", "maria")
        assert p.qualification.passed
        assert p.engagement.level.value == "two-way"
        assert DEFAULT_FUNNEL.version == p.qualification.funnel_version

    def test_one_way_is_refused(self):
        """Criteria met but no dialogue: NotQualified names the missing engagement."""
        one_way = lead(touches=[outbound("o", 1)], evidence=met(*ALL_MET, at=1))
        with pytest.raises(NotQualified) as info:
            convert(one_way, at=day(2))
        assert any(r.startswith("is_two_way") for r in info.value.reasons)
        assert info.value.qualification is not None
        assert info.value.qualification.passed

    def test_criteria_missing_is_refused(self):
        """Dialogue but criteria unknown: every missing criterion is named."""
        talk = lead(touches=[outbound("o", 1), reply("r", 2, "o")], evidence=met("fit", at=1))
        with pytest.raises(NotQualified) as info:
            convert(talk, at=day(3))
        text = "\n".join(info.value.reasons)
        for key in ("means", "authority", "intention"):
            assert f"{key}: unknown" in text
        assert "is_two_way" not in text

    def test_input_unchanged_on_failure(self):
        """A refused conversion leaves the lead as it was."""
        talk = lead(touches=[outbound("o", 1), reply("r", 2, "o")])
        snapshot = attrs.asdict(talk)
        with pytest.raises(NotQualified):
            convert(talk, at=day(3))
        assert snapshot == attrs.asdict(talk)

    def test_evidence_after_at_does_not_count(self):
        """Conversion judges the lead as of at."""
        later = lead(touches=[outbound("o", 1), reply("r", 2, "o")], evidence=met(*ALL_MET, at=10))
        with pytest.raises(NotQualified):
            convert(later, at=day(3))

    def test_disqualified_cannot_convert(self):
        """A disqualified lead is terminal."""
        dq = advance(ready_lead(), "disqualify", at=day(3), why="student")
        with pytest.raises(IllegalEvent, match="terminal"):
            convert(dq, at=day(4))

    def test_framework_of_the_funnel(self):
        """A funnel with BANT 3-of-4 converts on three met criteria."""
        bant = Funnel(
            machine=SalesFunnel, framework=BANT.with_rule(PassRule.at_least(3)), version="7"
        )
        talk = lead(
            touches=[outbound("o", 1), reply("r", 2, "o")],
            evidence=met("budget", "authority", "need", at=2),
        )
        p = convert(talk, at=day(3), funnel=bant)
        assert (p.qualification.framework, p.qualification.funnel_version) == ("BANT", "7")

    def test_convert_takes_leads_only(self):
        """Converting a prospect is a type error."""
        with pytest.raises(TypeError):
            convert(prospect_at("organisation"), at=day(5))  # type: ignore[arg-type]


class TestQueries:
    def test_can_and_enabled(self):
        """can() evaluates guards; enabled_events() lists what passes."""
        new = lead(touches=[form("f", 1)])
        assert can(new, "mark_mql", at=day(1))
        assert not can(new, "mark_sql", at=day(1))
        assert not can(new, "win", at=day(1))
        assert enabled_events(new, at=day(1)) == ("mark_mql", "nurture")
        assert "disqualify" in enabled_events(new, at=day(1), why="spam")

    def test_fire_dispatches(self):
        """fire() converts on the conversion event and advances otherwise."""
        p = fire(ready_lead(), "convert", at=day(3))
        assert isinstance(p, Prospect)
        p = fire(p, "open_opportunity", at=day(4))
        assert p.stage == "opportunity"

    def test_add_touch_and_evidence(self):
        """Helpers return new records with the item added in time order."""
        new = add_touch(lead(touches=[outbound("o", 5)]), form("f", 1), imported=True)
        assert [t.id for t in new.touches] == ["f", "o"]  # a past touch, imported
        assert len(add_evidence(new, *met("fit", "means")).evidence) == 2


class TestExplain:
    def test_lead_blockers(self):
        """explain() lists missing dialogue and each unmet criterion."""
        e = explain(lead(touches=[outbound("o", 1)], evidence=met("fit")), at=day(2))
        assert not e.ready
        assert e.blockers[0].startswith("no two-way communication")
        assert [b.split(":")[0] for b in e.blockers[1:]] == ["means", "authority", "intention"]
        assert "not a prospect yet because:" in str(e)

    def test_ready_lead(self):
        """A ready lead has no blockers and can convert."""
        e = explain(ready_lead(), at=day(3))
        assert e.ready
        assert e.blockers == ()
        assert "convert" in e.next_events

    def test_closed_prospect_gives_reason(self):
        """A lost prospect's explanation gives why it was lost."""
        lost = advance(prospect_at("organisation"), "lose", at=day(5), why="no budget after all")
        assert "closed in stage 'lost': no budget after all" in str(explain(lost, at=day(6)))

    def test_markdown_repr(self):
        """Explanations render in notebooks as markdown."""
        assert explain(lead(), at=day(1))._repr_markdown_().startswith("**lead 'L1'")

    def test_markdown_repr_renders_notes_and_ids_as_text(self):
        """A note or a reason was markdown: a link, or an image fetched from a remote host."""
        tracker = "![seen](https://tracker.example/p.png) [win](https://evil.example) `x`"
        lost = advance(prospect_at("organisation"), "lose", at=day(5), why=tracker)
        shown = explain(lost, at=day(6))._repr_markdown_()
        assert "![seen](" not in shown
        assert "[win](" not in shown
        assert "`x`" not in shown
        assert "\\!\\[seen\\]" in shown  # still there, as literal text
        odd = lead("<img src=x onerror=alert(1)>")
        assert "<img" not in explain(odd, at=day(1))._repr_markdown_()

    def test_text_lines_escape_terminal_control_sequences(self):
        """Evidence notes and reasons reached the terminal raw (ESC sequences, bidi overrides)."""
        note = "\x1b[2J\x1b]8;;https://evil.example\x07click\u202e"
        # The source is shown in reasons (a note no longer is): the hostile text goes there.
        noted = Evidence(criterion="fit", verdict="not-met", source=f"rep:{note}", at=day(0))
        record = lead(evidence=(noted,))
        explanation = explain(record, at=day(1))
        for text in (str(explanation), *explanation.lines(), str(explanation.qualification)):
            assert "\x1b" not in text
            assert "\u202e" not in text
        assert "\\x1b[2J" in str(explanation)  # shown, escaped


class TestMachinePath:
    @pytest.mark.parametrize(
        ("stage", "event", "why"),
        [
            ("organisation", "open_opportunity", None),
            ("stakeholder", "win", None),
            ("opportunity", "lose", "budget cut"),
        ],
    )
    def test_same_result_as_table(self, stage, event, why):
        """advance(listeners=...) through a real machine returns exactly what the table gives."""
        p = prospect_at(stage)

        class Quiet:
            def after_transition(self) -> None:
                pass

        assert fire(p, event, at=day(20), why=why) == fire(
            p, event, at=day(20), why=why, listeners=[Quiet()]
        )

    def test_listeners_are_called(self):
        """python-statemachine listeners see the transition."""
        seen: list[tuple[str, str, str]] = []

        class Audit:
            def after_transition(self, event: str, source: object, target: object) -> None:
                seen.append((event, source.id, target.id))  # type: ignore[attr-defined]

        fire(prospect_at("stakeholder"), "win", at=day(20), listeners=[Audit()])
        assert seen == [("win", "stakeholder", "won")]

    def test_refusal_before_listeners(self):
        """A refused event raises the same typed error and calls no listener."""
        called: list[str] = []

        class Spy:
            def after_transition(self, event: str) -> None:
                called.append(event)

        with pytest.raises(GuardFailed):
            fire(prospect_at("stakeholder"), "lose", at=day(20), listeners=[Spy()])
        assert called == []


def test_lead_type_is_kept():
    """advance() on a lead returns a Lead."""
    assert isinstance(advance(lead(), "nurture", at=day(1)), Lead)
