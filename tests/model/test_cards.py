"""Notebook cards and short reprs of leads, prospects and qualifications (funnel.model._cards)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import funnel
from funnel import Company, Contact, Evidence, Lead, Prospect, Touch
from funnel._base.fields import is_blank
from funnel.model import _cards
from funnel.model.history import StageChange
from funnel.model.qualification import MEDDIC, qualify
from tests.model._html import parse_card
from tests.strategies import records

T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)
NAME, EMAIL, PHONE, TITLE = (
    "Ada Lovelace",
    "ada.lovelace@acme.example",
    "+44 20 7946 0958",
    ("Head of Operations"),
)
#: What must never show in a card or a repr of a record of this contact.
SECRETS = (NAME, "Lovelace", EMAIL, "ada.lovelace", PHONE, "7946 0958", "79460958", TITLE)
#: A card is a summary: whatever the record holds, it stays below this many characters.
CARD_BOUND = 12_000
REPR_BOUND = 4_000
HOSTILE = (
    '<script>alert("x")</script>',
    "\" onmouseover='alert(1)' x=\"",
    "</td></tr></table><img src=x onerror=alert(1)>",
    "red \x1b[31m alert \u202e reversed \u2028 line",
    "&lt;already escaped&gt; & ampersand",
    "x" * 20_000,
)


def _contact() -> Contact:
    return Contact(
        name=NAME,
        email=EMAIL,
        phone=PHONE,
        title=TITLE,
        company=Company(name="Acme", industry="software", employees=120),
    )


def _lead(contact: Contact | None = None, note: str | None = None) -> Lead:
    out = Touch(id="o1", at=T0, direction="outbound", channel="email", sender="rep:alice")
    reply = Touch(id="r1", at=T0, direction="inbound", channel="email", in_reply_to="o1")
    lead = Lead(
        id="L1",
        contact=contact or _contact(),
        source="web_form",
        created_at=T0,
        touches=[out, reply],
        evidence=[
            Evidence(criterion="fit", verdict="met", source="rep:alice", at=T0, note=note),
            Evidence(criterion="budget", verdict="not-met", source="rep:alice", at=T0),
        ],
    )
    return funnel.advance(lead, "mark_mql", at=T0 + timedelta(hours=1))


def _prospect(loops: int = 0) -> Prospect:
    lead = funnel.add_evidence(
        _lead(),
        *(
            Evidence(criterion=c, verdict="met", source="rep:alice", at=T0 + timedelta(hours=2))
            for c in ("fit", "means", "authority", "intention")
        ),
    )
    at = T0 + timedelta(hours=3)
    prospect = funnel.advance(funnel.convert(lead, at=at), "open_opportunity", at=at)
    for i in range(loops):
        at += timedelta(days=1)
        prospect = funnel.advance(prospect, "engage_stakeholder", at=at)
        prospect = funnel.advance(
            prospect, "stakeholder_declined", at=at, why=f"declined {i}, ask {NAME} again"
        )
    return attrs.evolve(prospect, value=1200, stakeholder=_contact())


def _assert_private(text: str) -> None:
    for secret in SECRETS:
        assert secret.lower() not in text.lower(), f"{secret!r} shows in: {text[:300]}"


class TestLeadCard:
    def test_shows_stage_level_engagement_criteria_and_next_events(self) -> None:
        card = _lead()._repr_html_()
        text = parse_card(card)
        assert "Lead L1" in text
        assert "mql" in text  # stage and level
        assert "two-way" in text
        assert "✓ met" in text
        assert "✗ not met" in text
        assert "? unknown" in text
        # The default funnel's enabled events from mql, guards evaluated.
        assert "mark_sql" in text
        assert "nurture" in text
        assert "disqualify" not in text  # its guard wants a reason
        assert "acquired → mql" in text
        assert "mark_mql" in text

    def test_next_events_are_the_default_funnels_enabled_events(self) -> None:
        lead = _lead()
        at = _cards.latest_moment(lead)
        events = funnel.enabled_events(lead, at=at)
        text = parse_card(lead._repr_html_())
        row = text[text.index("next events") : text.index("judged by")]
        assert row == "next events" + " ".join(events)

    def test_the_criteria_are_those_the_funnel_would_judge(self) -> None:
        lead = _lead()
        expected = funnel.explain(lead, at=_cards.latest_moment(lead)).qualification
        text = parse_card(lead._repr_html_())
        for result in expected.results:
            assert result.criterion.name in text
        assert f"{len(expected.met)} met, {len(expected.not_met)} not met" in text

    def test_a_stage_no_loaded_funnel_knows_still_shows_a_card(self) -> None:
        lead = Lead(id="L9", contact=_contact(), source="x", created_at=T0, stage="limbo")
        text = parse_card(lead._repr_html_())
        assert "limbo" in text
        assert "unknown: no loaded funnel knows this stage" in text
        assert "? unknown" in text  # the default framework, nothing established

    def test_without_an_outlook_source_the_default_framework_judges(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(_cards, "_SOURCES", [])
        text = parse_card(_lead()._repr_html_())
        assert "✓ met" in text
        assert "✗ not met" in text
        assert "unknown: no loaded funnel knows this stage" in text

    def test_a_failing_outlook_source_does_not_break_the_card(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def broken(record: object) -> None:
            raise RuntimeError("boom")

        monkeypatch.setattr(_cards, "_SOURCES", [broken])
        assert "Lead L1" in parse_card(_lead()._repr_html_())


class TestProspectCard:
    def test_shows_prospect_level_admitting_criteria_value_and_history(self) -> None:
        prospect = _prospect()
        text = parse_card(prospect._repr_html_())
        assert "Prospect L1" in text
        assert "opportunity" in text
        assert "prospect" in text
        assert "(a mql lead when it converted)" in text
        assert text.count("✓ met") == 4
        assert "the verdict that admitted it" in text
        assert "1200" in text
        assert "engage_stakeholder" in text  # the one event enabled from opportunity
        assert "mql → organisation" in text
        assert "organisation → opportunity" in text

    def test_a_long_history_shows_the_last_changes_and_how_many_more(self) -> None:
        prospect = _prospect(loops=40)
        assert len(prospect.history) == 83
        text = parse_card(prospect._repr_html_())
        assert f"{83 - _cards.HISTORY_ROWS} earlier changes not shown" in text
        assert "declined 39" in text
        assert "declined 38" in text
        assert "declined 30" not in text
        assert len(prospect._repr_html_()) < CARD_BOUND

    def test_the_reason_of_a_change_never_shows_the_contacts_name(self) -> None:
        prospect = _prospect(loops=2)
        card = prospect._repr_html_()
        _assert_private(card)
        assert "ask A*** again" in parse_card(card)


class TestPrivacy:
    def test_notes_quoting_the_contact_are_masked(self) -> None:
        note = f"{NAME} ({TITLE}) wrote from {EMAIL}, call {PHONE}; Lovelace agrees"
        lead = _lead(note=note)
        for shown in (lead._repr_html_(), repr(lead), str(lead)):
            _assert_private(shown)
        text = parse_card(lead._repr_html_())
        assert "agrees" not in text  # a note is free text: the card leaves it out

    def test_a_note_naming_someone_else_stays_out_of_the_card(self) -> None:
        """Found in review: 'spoke to Bob Smith (CFO)' reached cards, logs and to_dict()."""
        lead = _lead(note="spoke to Bob Smith (CFO), cc bo.li@globex.example, +1 (555) 123-4567")
        for shown in (parse_card(lead._repr_html_()), repr(lead), str(lead)):
            assert "Bob" not in shown
            assert "bo.li" not in shown
            assert "123-4567" not in shown

    def test_the_stakeholders_data_is_masked_too(self) -> None:
        other = Contact(name="Grace Hopper", email="grace@navy.example", title="Rear Admiral")
        prospect = attrs.evolve(_prospect(), stakeholder=other)
        card = prospect._repr_html_()
        for secret in ("Grace", "Hopper", "grace@navy", "Rear Admiral"):
            assert secret not in card
        assert "Grace" not in repr(prospect)
        assert "grace@" not in repr(prospect)

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(records())
    def test_generated_records_card_is_valid_and_private(self, record: Lead | Prospect) -> None:
        card = record._repr_html_()
        text = parse_card(card)
        assert record.stage in text
        assert len(card) < CARD_BOUND
        contact = record.contact
        for secret in (contact.email, contact.phone):
            if secret is not None:
                assert secret not in card
                assert secret not in repr(record)
        # Names are short in the strategy ("Bo"): the whole name is masked in the title
        # and the contact never shows; a two-letter name may still occur inside a word.
        if len(contact.name) >= 3:
            assert f">{contact.name}<" not in card
        assert len(repr(record)) < REPR_BOUND


class TestHostileValues:
    @pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
    def test_every_value_is_escaped_and_bounded(self, value: str) -> None:
        lead = Lead(
            id=value,
            contact=_contact(),
            source=value,
            created_at=T0,
            owner=value,
            segment=value,
            evidence=[Evidence(criterion="fit", verdict="met", source=value, at=T0, note=value)],
            history=[
                StageChange(
                    from_stage="acquired", to_stage="mql", event="mark_mql", at=T0, why=value
                )
            ],
            stage="mql",
        )
        card = lead._repr_html_()
        text = parse_card(card)
        assert "Lead" in text
        assert "\x1b" not in card
        assert "\u202e" not in card
        assert "\u2028" not in card
        assert len(card) < CARD_BOUND
        assert len(repr(lead)) < REPR_BOUND

    @settings(max_examples=60, deadline=None)
    @given(
        value=st.text(
            alphabet=st.characters(exclude_characters="\x00", exclude_categories=["Cs"]),
            min_size=1,
            max_size=300,
        ).filter(lambda s: not is_blank(s))  # an id that shows nothing is refused
    )
    def test_arbitrary_text_never_escapes_the_card(self, value: str) -> None:
        lead = Lead(
            id=value,
            contact=_contact(),
            source=value,
            created_at=T0,
            evidence=[Evidence(criterion="fit", verdict="met", source="rep:x", at=T0, note=value)],
        )
        card = lead._repr_html_()
        parse_card(card)
        assert len(card) < CARD_BOUND

    def test_many_touches_and_changes_keep_card_and_repr_small(self) -> None:
        touches = [
            Touch(id=f"t{i}", at=T0 + timedelta(minutes=i), direction="outbound", channel="email")
            for i in range(5_000)
        ]
        history = []
        stage = "acquired"
        for i in range(2_000):
            nxt = "nurturing" if stage != "nurturing" else "mql"
            event = "nurture" if nxt == "nurturing" else "mark_mql"
            history.append(
                StageChange(
                    from_stage=stage, to_stage=nxt, event=event, at=T0 + timedelta(hours=i)
                )
            )
            stage = nxt
        lead = Lead(
            id="big",
            contact=_contact(),
            source="list",
            created_at=T0,
            touches=touches,
            history=history,
            stage=stage,
        )
        assert len(lead._repr_html_()) < CARD_BOUND
        assert len(repr(lead)) < REPR_BOUND
        assert "<5000 touches>" in repr(lead)
        assert "<2000 changes>" in repr(lead)
        assert "1,995 earlier changes not shown" in parse_card(lead._repr_html_())


class TestQualification:
    def test_card_shows_verdict_rule_and_each_status(self) -> None:
        q = qualify(_lead().evidence, at=T0)
        text = parse_card(q._repr_html_())
        assert "not qualified" in text
        assert "all of 4 (needs 4 met)" in text
        assert "1 met, 1 not met, 2 unknown" in text
        assert "✓ met" in text
        assert "✗ not met" in text
        assert "? unknown" in text

    def test_repr_is_short_and_says_the_verdict_by_key(self) -> None:
        q = qualify(_lead().evidence, at=T0)
        shown = repr(q)
        assert shown == (
            "Qualification(framework='default', rule='all', met=('fit',), not_met=('means',), "
            "unknown=('authority', 'intention'), passed=False, at='2026-03-01T09:00:00+00:00', "
            "funnel_version=None)"
        )

    def test_a_long_note_does_not_lengthen_the_repr(self) -> None:
        long_note = "n" * 50_000
        ev = [
            Evidence(criterion=c.key, verdict="met", source="rep:x", at=T0, note=long_note)
            for c in MEDDIC.criteria
        ]
        q = qualify(ev, framework=MEDDIC, at=T0)
        assert len(repr(q)) < 500
        card = q._repr_html_()
        assert len(card) < CARD_BOUND
        assert parse_card(card).count("✓ met") == len(MEDDIC.criteria)


def test_plain_reprs_mask_and_count() -> None:
    prospect = _prospect()
    shown = repr(prospect)
    _assert_private(shown)
    assert "qualification=<default: 4/4 met, passed>" in shown
    assert "touches=<2 touches>" in shown
    assert shown.startswith("Prospect(id='L1', contact=Contact(name='A***'")


def test_a_long_field_is_clipped_in_the_repr() -> None:
    lead = Lead(id="i" * 10_000, contact=_contact(), source="s" * 10_000, created_at=T0)
    shown = repr(lead)
    assert len(shown) < 2_000
    assert "iii…" in shown
    assert "sss…" in shown
