"""Erasure: personal data out, the funnel kept countable (issue 17, item 2)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import attrs
import pytest
from hypothesis import given

import funnel
from funnel import (
    Company,
    Consent,
    Contact,
    Evidence,
    Lead,
    Prospect,
    Touch,
    ValidationError,
)
from funnel.engine.dedupe import latest_change, merge
from funnel.engine.erase import ERASED, erase, is_erased
from funnel.exceptions import ChronologyError
from funnel.io.serialize import dumps, loads, to_dict
from tests.strategies import leads

T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)

NAME, EMAIL, PHONE, TITLE = "Ada Lovelace", "ada.lovelace@acme.example", "+44 20 7946 0958", "CTO"
BOSS, BOSS_EMAIL = "Grace Hopper", "grace@acme.example"
#: Every personal string the records below hold, in one place or another.
PERSONAL = (NAME, "Lovelace", EMAIL, PHONE, "7946", TITLE, BOSS, "Hopper", BOSS_EMAIL)


def person(name: str = NAME, email: str = EMAIL) -> Contact:
    return Contact(
        name=name,
        email=email,
        phone=PHONE,
        title=TITLE,
        company=Company(name="Acme Ltd", industry="software", employees=120, region="EU"),
        consent=Consent(opted_out=True),
    )


def full_lead(record_id: str = "L1") -> Lead:
    """A lead with personal data in every free field: notes, senders, evidence, reasons."""
    out = Touch(
        id="o1",
        at=T0,
        direction="outbound",
        channel="email",
        sender="rep:alice",
        note=f"wrote to {NAME} at {EMAIL}",
    )
    reply = Touch(
        id="r1",
        at=T0 + timedelta(hours=1),
        direction="inbound",
        channel="email",
        in_reply_to="o1",
        sender=EMAIL,
        note=f"{NAME}: call me on {PHONE}",
    )
    lead = Lead(
        id=record_id,
        contact=person(),
        source="web_form",
        created_at=T0,
        touches=[out, reply],
        evidence=[
            Evidence(
                criterion=key,
                verdict="met",
                source="rep:alice",
                at=T0 + timedelta(hours=2),
                note=f"{NAME} ({TITLE}) confirmed {key}",
            )
            for key in funnel.DEFAULT_FUNNEL.framework.keys
        ],
        owner="alice",
        segment="mid-market",
    )
    return funnel.advance(lead, "nurture", at=T0 + timedelta(hours=3), why=f"{NAME} asked")


def full_prospect(record_id: str = "L1") -> Prospect:
    prospect = funnel.convert(full_lead(record_id), at=T0 + timedelta(days=1))
    prospect = funnel.advance(prospect, "open_opportunity", at=T0 + timedelta(days=2))
    prospect = funnel.advance(prospect, "engage_stakeholder", at=T0 + timedelta(days=3))
    prospect = attrs.evolve(prospect, stakeholder=person(BOSS, BOSS_EMAIL), value="12000")
    return funnel.advance(
        prospect, "lose", at=T0 + timedelta(days=4), why=f"{BOSS} ({BOSS_EMAIL}) said no"
    )


def leaks(text: str) -> list[str]:
    return [p for p in PERSONAL if p.lower() in text.lower()]


@pytest.mark.parametrize("make", [full_lead, full_prospect], ids=["lead", "prospect"])
def test_no_personal_field_survives_in_the_record_its_document_or_repr(make: object) -> None:
    record = make()  # type: ignore[operator]
    assert leaks(dumps(record))  # the test data does hold personal data
    gone = erase(record, at=T0 + timedelta(days=9), reason="GDPR art. 17, ticket 42")
    assert leaks(dumps(gone)) == []
    assert leaks(json.dumps(to_dict(gone))) == []
    assert leaks(repr(gone)) == []
    assert leaks(repr(gone.contact)) == []
    assert is_erased(gone)
    assert not is_erased(record)
    assert gone.contact.consent == Consent(opted_out=True, do_not_contact=True)


@pytest.mark.parametrize("make", [full_lead, full_prospect], ids=["lead", "prospect"])
def test_the_funnel_stays_countable(make: object) -> None:
    record = make()  # type: ignore[operator]
    gone = erase(record, at=T0 + timedelta(days=9))
    assert type(gone) is type(record)
    assert (gone.id, gone.stage, gone.created_at, gone.source) == (
        record.id,
        record.stage,
        record.created_at,
        record.source,
    )
    assert [(c.from_stage, c.to_stage, c.event, c.at) for c in gone.history] == [
        (c.from_stage, c.to_stage, c.event, c.at) for c in record.history
    ]
    assert [c.why for c in gone.history] == [
        None if c.why is None else ERASED for c in record.history
    ]
    assert [(t.id, t.at, t.direction, t.channel, t.reach) for t in gone.touches] == [
        (t.id, t.at, t.direction, t.channel, t.reach) for t in record.touches
    ]
    assert [t.sender for t in gone.touches] == ["rep:alice", None]  # the rep stays
    assert [(e.criterion, e.verdict, e.source, e.at) for e in gone.evidence] == [
        (e.criterion, e.verdict, e.source, e.at) for e in record.evidence
    ]
    assert gone.contact.company == record.contact.company  # the organisation's data
    assert (gone.owner, gone.segment) == (record.owner, record.segment)
    if isinstance(record, Prospect):
        assert isinstance(gone, Prospect)
        assert gone.qualification.passed
        assert gone.engagement.level == record.engagement.level
        assert (gone.value, gone.closed_at, gone.converted_at) == (
            record.value,
            record.closed_at,
            record.converted_at,
        )
        assert gone.stakeholder is not None
        assert gone.stakeholder.name == ERASED
    # Every door accepts the erased record: the funnel, and a round trip.
    assert funnel.DEFAULT_FUNNEL.record_problems(gone) == ()
    assert loads(dumps(gone)) == gone
    assert erase(gone, at=T0 + timedelta(days=10)) == gone  # erasing twice changes nothing


def test_an_erased_person_cannot_be_contacted_again() -> None:
    gone = erase(full_prospect(), at=T0 + timedelta(days=9))
    call = Touch(
        id="c9",
        at=T0 + timedelta(days=10),
        direction="outbound",
        channel="call",
        reach="personal",
        sender="rep:alice",
    )
    with pytest.raises(funnel.CommunicationRefused, match="do_not_contact"):
        funnel.add_touch(gone, call)


def test_a_merged_record_erases_what_it_absorbed() -> None:
    twin = Lead(
        id="L2",
        contact=Contact(name="A. Lovelace", email=EMAIL),
        source="list",
        created_at=T0,
        touches=[
            Touch(id="f1", at=T0, direction="inbound", channel="form", note=f"{NAME} {PHONE}")
        ],
    )
    survivor = merge(full_lead(), twin, at=T0 + timedelta(days=1)).survivor
    assert leaks(dumps(survivor))
    gone = erase(survivor, at=T0 + timedelta(days=2))
    assert leaks(dumps(gone)) == []
    assert [m.id for m in gone.merged_from] == ["L2"]


@given(leads())
def test_any_lead_erases_to_a_valid_anonymous_record(lead: Lead) -> None:
    gone = erase(lead, at=latest_change(lead))
    assert gone.contact.name == ERASED
    assert (gone.contact.email, gone.contact.phone, gone.contact.title) == (None, None, None)
    assert all(t.note is None for t in gone.touches)
    assert all(e.note is None for e in gone.evidence)
    assert all(c.why in (None, ERASED) for c in gone.history)
    assert [(c.from_stage, c.to_stage, c.event, c.at) for c in gone.history] == [
        (c.from_stage, c.to_stage, c.event, c.at) for c in lead.history
    ]
    assert loads(dumps(gone)) == gone


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: erase("L1", at=T0), "record"),  # type: ignore[type-var]
        (lambda: erase(full_lead(), at=datetime(2026, 1, 1)), "at"),  # noqa: DTZ001
        (lambda: erase(full_lead(), at=T0, reason="  "), "reason"),
        (lambda: erase(full_lead(), at=T0, reason=42), "reason"),  # type: ignore[arg-type]
    ],
)
def test_bad_arguments_are_typed_errors(call: object, field: str) -> None:
    with pytest.raises(ValidationError) as err:
        call()  # type: ignore[operator]
    assert err.value.field == field


def test_history_without_reasons_gets_none_invented() -> None:
    lead = Lead(id="L1", contact=Contact(name="Ada"), source="x", created_at=T0)
    lead = funnel.advance(lead, "nurture", at=T0)
    assert erase(lead, at=T0).history == lead.history
    assert lead.history[0].why is None


def test_an_erasure_dated_before_the_record_changed_is_refused() -> None:
    """Found in review: erase() accepted a time before the record existed (merge refuses it)."""
    from datetime import UTC, datetime, timedelta

    import funnel
    from funnel import Contact, Lead
    from funnel.engine.erase import erase

    t0 = datetime(2026, 4, 1, 9, tzinfo=UTC)
    lead = Lead(id="L1", contact=Contact(name="Ada Lovelace"), source="web", created_at=t0)
    lead = funnel.advance(lead, "nurture", at=t0 + timedelta(days=5))
    with pytest.raises(ChronologyError) as err:
        erase(lead, at=t0 - timedelta(days=10))
    assert err.value.event == "erase"
    assert (err.value.record, err.value.stage) == (lead, "nurturing")
    assert str(err.value) == (
        "Lead 'L1' cannot be erased: at (2026-03-22T09:00:00+00:00) precedes its latest "
        "change (2026-04-06T09:00:00+00:00)\n  - at must not precede 2026-04-06T09:00:00+00:00"
    )
    assert err.value.reasons == ("at must not precede 2026-04-06T09:00:00+00:00",)
    assert "Lovelace" not in str(err.value)
    assert erase(lead, at=t0 + timedelta(days=5)).contact.name == "[erased]"


def test_a_refused_erasure_masks_an_id_that_is_an_address_and_shows_no_contact_data() -> None:
    """The three time checks (add_touch, erase, merge) worded their refusals three ways."""
    record = full_lead("ada.lovelace@acme.example")
    with pytest.raises(ChronologyError) as err:
        erase(record, at=latest_change(record) - timedelta(seconds=1))
    error = err.value
    assert str(error).startswith("Lead 'a***@acme.example' cannot be erased: at (")
    assert (error.record, error.event) == (record, "erase")
    assert error.to_dict()["record"] == "a***@acme.example"
    shown = str(error) + repr(error.to_dict())
    for personal in PERSONAL:
        assert personal not in shown
