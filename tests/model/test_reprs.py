"""Every record part has a bounded repr that shows no e-mail address or phone number."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from funnel import Company, Contact, Evidence, Lead, Prospect, StageChange, Touch
from funnel.model.records import MergedRecord

T0 = datetime(2026, 1, 5, tzinfo=UTC)
EMAIL = "ada.lovelace@acme.example"
PHONE = "+44 20 7946 0958"
SECRETS = ("lovelace", "7946", "0958")


def _parts(label: str) -> list[object]:
    contact = Contact(name="Ada Lovelace", email=EMAIL, phone=PHONE)
    return [
        Touch(id=label, at=T0, direction="inbound", channel="email", sender=label),
        Touch(id="t2", at=T0, direction="outbound", channel="email", in_reply_to=label),
        Evidence(criterion="fit", verdict="met", source=label, at=T0),
        Company(name=label),
        Contact(name="Ada", company=Company(name=label)),
        MergedRecord(id=label, at=T0, stage="acquired"),
        StageChange(from_stage="acquired", to_stage="nurturing", event="nurture", at=T0),
        Lead(id=label, contact=contact, source=label, created_at=T0, owner=label, segment=label),
    ]


@pytest.mark.parametrize("label", [EMAIL, PHONE, f"rep {EMAIL}", f"owner {PHONE} x"])
def test_labels_holding_an_address_or_a_phone_are_masked(label: str) -> None:
    for part in _parts(label):
        shown = repr(part)
        assert not any(secret in shown for secret in SECRETS), shown


def test_plain_labels_are_shown() -> None:
    touch, _, evidence, company, *_ = _parts("rep:alice")
    assert "sender='rep:alice'" in repr(touch)
    assert "source='rep:alice'" in repr(evidence)
    assert repr(company).startswith("Company(name='rep:alice'")


@given(st.text(min_size=2000, max_size=3000))
def test_reprs_are_bounded(label: str) -> None:
    try:
        parts = _parts(label)
    except Exception:  # text the fields refuse (NUL, lone surrogates, blank)
        return
    for part in parts:
        assert len(repr(part)) < 4000, type(part).__name__


def test_prospect_labels_use_the_masked_repr() -> None:
    import attrs

    from funnel._base.markup import label_repr

    fields = attrs.fields_dict(Prospect)
    for name in ("id", "source", "owner", "segment"):
        assert fields[name].repr is label_repr, name
    assert Prospect.__repr__ is Lead.__repr__
