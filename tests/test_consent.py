"""Consent (opted out, do not contact) survives conversion, storage, serialization and merge."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from hypothesis import given

import funnel
from funnel import CommunicationRefused, Consent, Contact, Evidence, Lead, Prospect, Touch
from funnel.engine.dedupe import merge
from funnel.engine.funnel import check_touch, plan_touch
from funnel.io.serialize import dumps, loads
from funnel.io.sql import SqlStore
from tests.strategies import records

T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)
F = funnel.DEFAULT_FUNNEL


def _mass(at: datetime = T0 + timedelta(days=2)) -> Touch:
    return Touch(
        id="nl",
        at=at,
        direction="outbound",
        channel="email",
        reach="mass",
        sender="marketing:newsletter",
    )


def _personal(at: datetime = T0 + timedelta(days=2)) -> Touch:
    return Touch(
        id="call",
        at=at,
        direction="outbound",
        channel="call",
        reach="personal",
        sender="rep:alice",
    )


def _lead(consent: Consent) -> Lead:
    out = Touch(id="o1", at=T0, direction="outbound", channel="email", sender="rep:alice")
    reply = Touch(id="r1", at=T0, direction="inbound", channel="email", in_reply_to="o1")
    return Lead(
        id="L1",
        contact=Contact(name="Ada", email="ada@acme.example", consent=consent),
        source="web_form",
        created_at=T0,
        touches=[out, reply],
        evidence=[
            Evidence(criterion=k, verdict="met", source="rep:alice", at=T0)
            for k in F.framework.keys
        ],
    )


def _convert(lead: Lead) -> Prospect:
    return funnel.convert(lead, at=T0 + timedelta(days=1))


def _serialize(lead: Lead) -> Lead | Prospect:
    return loads(dumps(lead))


def _store(lead: Lead) -> Lead | Prospect:
    store = SqlStore(sa.create_engine("sqlite://"))
    store.create_schema()
    store.add(lead)
    store.transact(lead.id, lambda r: funnel.fire(r, "convert", at=T0 + timedelta(days=1)))
    return store.get(lead.id).record


def _merge(lead: Lead) -> Lead | Prospect:
    twin = Lead(
        id="L2",
        contact=Contact(name="Ada L.", email="ada@acme.example"),
        source="list",
        created_at=T0 + timedelta(hours=1),
    )
    return merge(twin, lead, at=T0 + timedelta(hours=2)).survivor


ROUTES: dict[str, Callable[[Lead], Lead | Prospect]] = {
    "convert": _convert,
    "serialize": _serialize,
    "store+convert": _store,
    "merge": _merge,
}


@pytest.mark.parametrize("route", ROUTES)
def test_opted_out_is_kept_and_still_blocks_mass_touches(route: str) -> None:
    record = ROUTES[route](_lead(Consent(opted_out=True)))
    assert record.contact.consent == Consent(opted_out=True)
    if isinstance(record, Lead):
        reasons = check_touch(record, _mass(), funnel=F)
        assert any("opted out" in r for r in reasons)
        with pytest.raises(CommunicationRefused):
            plan_touch(record, _mass(), funnel=F)
    else:
        # A prospect is reached personally; opting out of mass mail does not stop the rep.
        assert check_touch(record, _personal(), funnel=F) == ()
        assert any("opted out" in r for r in check_touch(record, _mass(), funnel=F))


@pytest.mark.parametrize("route", ROUTES)
def test_do_not_contact_is_kept_and_blocks_everything_outbound(route: str) -> None:
    record = ROUTES[route](_lead(Consent(do_not_contact=True)))
    assert record.contact.consent.do_not_contact
    for touch in (_mass(), _personal()):
        assert any("do_not_contact" in r for r in check_touch(record, touch, funnel=F))
    if isinstance(record, Prospect):
        with pytest.raises(CommunicationRefused, match="do_not_contact"):
            plan_touch(record, _personal(), funnel=F)


@given(records())
def test_consent_survives_a_round_trip_of_any_record(record: Lead | Prospect) -> None:
    assert loads(dumps(record)).contact.consent == record.contact.consent


# -- one way to add a touch: the rules by default (issue 17, item 3) ------------------------


@pytest.mark.parametrize("route", ROUTES)
def test_add_touch_applies_consent_and_rules_by_default(route: str) -> None:
    """add_touch skipped what plan_touch enforced: an opted-out contact could be mailed."""
    record = ROUTES[route](_lead(Consent(opted_out=True)))
    with pytest.raises(CommunicationRefused, match="opted out") as err:
        funnel.add_touch(record, _mass())
    assert err.value.record is record
    blocked = ROUTES[route](_lead(Consent(do_not_contact=True)))
    for touch in (_mass(), _personal()):
        with pytest.raises(CommunicationRefused, match="do_not_contact"):
            funnel.add_touch(blocked, touch)
    inbound = Touch(id="in", at=T0 + timedelta(days=2), direction="inbound", channel="email")
    assert funnel.add_touch(blocked, inbound).touches[-1] == inbound  # always allowed


def test_add_touch_follows_the_funnel_it_is_given() -> None:
    lead = _lead(Consent())
    with pytest.raises(CommunicationRefused, match="allows only"):
        funnel.add_touch(lead, _personal())  # a rep's call to a raw lead
    from funnel.spec.communication import CommunicationPolicy, CommunicationRule

    anyone = (CommunicationRule(reach="personal"), CommunicationRule(reach="mass"))
    acme = funnel.Funnel(
        machine=F.machine, communication=CommunicationPolicy(lead=anyone, prospect=anyone)
    )
    assert funnel.add_touch(lead, _personal(), funnel=acme).touches[-1] == _personal()
    assert funnel.plan_touch(lead, _personal(), funnel=acme) == funnel.add_touch(
        lead, _personal(), funnel=acme
    )


def test_imported_touches_are_recorded_as_given() -> None:
    """The named override for past touches: imports keep what happened."""
    lead = _lead(Consent(opted_out=True, do_not_contact=True))
    past = funnel.add_touch(lead, _mass(), imported=True)
    assert past.touches[-1] == _mass()
    with pytest.raises(funnel.ValidationError) as err:
        funnel.add_touch(lead, _mass(), imported="yes")  # type: ignore[arg-type]
    assert err.value.field == "imported"
    with pytest.raises(funnel.ValidationError, match="duplicate touch id"):
        funnel.add_touch(past, _mass(), imported=True)  # the record's own rules still hold


@pytest.mark.parametrize("sender", ["automation:nurture", "marketing:spring", "campaign:q3"])
def test_an_automated_send_must_state_its_reach(sender: str) -> None:
    """Touch.reach defaulted to personal, so an automated call could pass for a dialogue."""
    with pytest.raises(funnel.ValidationError, match="must state its reach") as err:
        Touch(id="a1", at=T0, direction="outbound", channel="call", connected=True, sender=sender)
    assert err.value.field == "reach"
    assert err.value.allowed == ("mass", "personal")
    stated = Touch(id="a1", at=T0, direction="outbound", channel="email", sender=sender,
                   reach="mass")  # fmt: skip
    assert stated.reach == "mass"
    # A person's touches and a rep's keep the personal default.
    assert Touch(id="r", at=T0, direction="inbound", channel="email", sender=sender).reach == (
        "personal"
    )
    assert Touch(id="p", at=T0, direction="outbound", channel="call", sender="rep:a").reach == (
        "personal"
    )
    assert (
        stated in loads(dumps(funnel.add_touch(_lead(Consent()), stated, imported=True))).touches
    )


def test_a_funnel_adds_touches_under_its_own_rules() -> None:
    """``Funnel.add_touch`` is ``funnel.add_touch(..., funnel=self)``, override included."""
    from funnel.spec.communication import CommunicationPolicy, CommunicationRule

    lead = _lead(Consent())
    with pytest.raises(CommunicationRefused, match="allows only"):
        funnel.DEFAULT_FUNNEL.add_touch(lead, _personal())
    anyone = (CommunicationRule(reach="personal"), CommunicationRule(reach="mass"))
    acme = funnel.Funnel(
        machine=F.machine, communication=CommunicationPolicy(lead=anyone, prospect=anyone)
    )
    assert acme.add_touch(lead, _personal()).touches[-1] == _personal()
    blocked = _lead(Consent(do_not_contact=True))
    with pytest.raises(CommunicationRefused):
        acme.add_touch(blocked, _personal())
    assert acme.add_touch(blocked, _personal(), imported=True).touches[-1] == _personal()
