"""Explanation: each reason said once, in text and in a notebook."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import funnel
from funnel import Contact, Evidence
from tests.helpers import day, lead, met, outbound, ready_lead
from tests.model._html import parse_card


def _criterion_lines(lines: list[str]) -> Counter[str]:
    keys = ("fit:", "means:", "authority:", "intention:")
    return Counter(line.strip(" -") for line in lines if line.strip(" -").startswith(keys))


def test_an_unmet_criterion_is_listed_once_not_twice() -> None:
    """Each unmet criterion was listed under qualification and again as a blocker."""
    record = lead()
    explanation = funnel.explain(record, at=record.created_at)
    assert not explanation.ready
    for lines in (list(explanation.lines()), explanation._repr_markdown_().splitlines()):
        counts = _criterion_lines(lines)
        assert len(counts) == 4, lines
        assert set(counts.values()) == {1}, counts


def test_a_ready_lead_still_shows_what_was_met() -> None:
    record = ready_lead()
    explanation = funnel.explain(record, at=record.created_at + timedelta(days=3))
    assert explanation.ready
    assert len(_criterion_lines(list(explanation.lines()))) == 4


# --------------------------------------------------------------------------- the card


def test_the_card_shows_verdict_blockers_and_each_criterion_once() -> None:
    record = lead(touches=(outbound("o1", 1),), evidence=met("fit", at=1))
    explanation = funnel.explain(record, at=day(2))
    text = parse_card(explanation._repr_html_())
    assert "not a prospect yet" in text
    assert "acquired" in text
    assert "no two-way communication" in text  # a blocker that is no criterion
    assert "3 criteria not met yet (below)" in text
    assert text.count("✓ met") == 1
    assert text.count("? unknown") == 3
    # An unmet criterion is a row of the table, never also a bullet.
    assert "means: unknown" not in text
    for event in explanation.next_events:
        assert event in text


def test_a_ready_lead_and_a_closed_prospect() -> None:
    record = ready_lead()
    explanation = funnel.explain(record, at=day(3))
    text = parse_card(explanation._repr_html_())
    assert "ready to become a prospect" in text
    assert "blockers" not in text
    assert text.count("✓ met") == 4
    prospect = funnel.advance(funnel.convert(record, at=day(3)), "lose", at=day(4), why="budget")
    closed = parse_card(funnel.explain(prospect, at=day(5))._repr_html_())
    assert "closed" in closed
    assert "closed in stage 'lost': budget" in closed
    assert "next events" in closed
    assert "none" in closed


def test_the_card_masks_what_a_note_quotes_of_the_contact() -> None:
    contact = Contact(
        name="Ada Lovelace", email="ada.lovelace@acme.example", phone="020 7946 0958"
    )
    note = "Lovelace said: write to ada.lovelace@acme.example or call 020 7946 0958"
    record = lead(
        contact=contact,
        evidence=(
            Evidence(criterion="fit", verdict="not-met", source="rep:x", at=day(1), note=note),
        ),
    )
    card = funnel.explain(record, at=day(2))._repr_html_()
    for secret in ("Lovelace", "ada.lovelace", "7946 0958"):
        assert secret not in card
    assert "said: write to" not in parse_card(card)  # a note stays out of the card


def test_hostile_text_is_escaped() -> None:
    record = lead(
        lead_id='<script>alert("id")</script>',
        evidence=(
            Evidence(
                criterion="fit",
                verdict="not-met",
                source="rep:x",
                at=day(1),
                note="</td><img src=x onerror=alert(1)>\x1b[31m" + "z" * 10_000,
            ),
        ),
    )
    card = funnel.explain(record, at=day(2))._repr_html_()
    text = parse_card(card)
    assert '<script>alert("id")</script>' in text  # shown as text, not run
    assert "\x1b" not in card
    assert len(card) < 12_000


def test_the_repr_is_short() -> None:
    record = lead(evidence=met("fit", at=1))
    explanation = funnel.explain(record, at=day(2))
    shown = repr(explanation)
    assert shown == (
        "Explanation(record_id='L1', kind='lead', stage='acquired', "
        f"at={day(2).isoformat()!r}, engagement=<none>, "
        "qualification=<default: 1/4 met, not passed>, ready=False, "
        f"blockers=<{len(explanation.blockers)} blockers>, "
        f"next_events={explanation.next_events!r})"
    )
    assert "ada@" not in shown


def test_the_contacts_values_are_not_part_of_the_explanation_value() -> None:
    """Two explanations of the same standing are equal whoever the contact is."""
    a = funnel.explain(lead(), at=day(1))
    b = funnel.explain(lead(contact=Contact(name="Bo")), at=day(1))
    assert a == b


def test_the_values_it_masks_never_leave_the_explanation_as_text() -> None:
    """The card's redactor holds the contact's values: no repr, dict or pickle shows them."""
    import json
    import pickle

    import attrs

    contact = Contact(name="Ada Lovelace", email="ada.lovelace@acme.example", title="CTO")
    explanation = funnel.explain(lead(contact=contact), at=day(1))
    dumped = json.dumps(attrs.asdict(explanation), default=str)
    for secret in ("Lovelace", "ada.lovelace", "CTO"):
        assert secret not in dumped
        assert secret not in repr(explanation)
    again = pickle.loads(pickle.dumps(explanation))  # noqa: S301 - our own bytes
    assert again == explanation
    assert again._repr_html_() == explanation._repr_html_()
