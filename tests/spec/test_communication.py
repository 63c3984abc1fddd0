"""Communication rules: planned touches checked against the funnel's rules and consent."""

from __future__ import annotations

import attrs
import pytest

from funnel import (
    DEFAULT_FUNNEL,
    CommunicationRefused,
    Consent,
    Funnel,
    Touch,
    advance,
    convert,
)
from funnel.engine.funnel import check_touch, plan_touch
from funnel.model.records import Lead, Prospect
from funnel.model.touch import ChannelName, DirectionName, ReachName
from funnel.spec.communication import (
    DEFAULT_COMMUNICATION,
    CommunicationPolicy,
    CommunicationRule,
    sender_kind,
)
from tests.helpers import ALL_MET, day, lead, met, outbound, reply


def touch(
    tid: str = "p1",
    *,
    reach: ReachName = "personal",
    sender: str | None = "rep:alice",
    direction: DirectionName = "outbound",
    channel: ChannelName = "email",
) -> Touch:
    return Touch(
        id=tid, at=day(5), direction=direction, channel=channel, reach=reach, sender=sender
    )


def prospect() -> Prospect:
    ready = lead(touches=(outbound("o1", 1), reply("r1", 2, "o1")), evidence=met(*ALL_MET, at=2))
    return convert(ready, at=day(3))


def with_consent(record: Lead, **kw: bool) -> Lead:
    return attrs.evolve(record, contact=attrs.evolve(record.contact, consent=Consent(**kw)))


def test_sender_kind() -> None:
    assert sender_kind("rep:alice") == "rep"
    assert sender_kind("marketing:spring") == "marketing"
    assert sender_kind("alice") is None
    assert sender_kind(None) is None
    assert sender_kind(":x") is None


def test_mass_nurturing_to_a_lead_is_allowed() -> None:
    mail = touch(reach="mass", sender="marketing:newsletter")
    assert check_touch(lead(), mail, funnel=DEFAULT_FUNNEL) == ()
    planned = plan_touch(lead(), mail, funnel=DEFAULT_FUNNEL)
    assert planned.touches == (mail,)
    assert lead().touches == ()


def test_mass_campaign_aimed_at_a_prospect_is_refused() -> None:
    p = prospect()
    campaign = touch(reach="mass", sender="marketing:q3-promo")
    [reason] = check_touch(p, campaign, funnel=DEFAULT_FUNNEL)
    assert "prospect stage 'organisation'" in reason
    assert "personal from rep" in reason
    assert "mass from marketing ('marketing:q3-promo')" in reason
    with pytest.raises(CommunicationRefused) as info:
        plan_touch(p, campaign, funnel=DEFAULT_FUNNEL)
    assert info.value.record is p
    assert info.value.touch is campaign
    assert info.value.reasons == (reason,)


def test_personal_touch_from_a_rep_to_a_prospect_is_allowed() -> None:
    p = prospect()
    call = touch(channel="call")
    assert plan_touch(p, call, funnel=DEFAULT_FUNNEL).touches[-1] == call


def test_rep_may_reach_a_lead_only_once_sales_ready() -> None:
    call = touch(channel="call")
    raw = lead()
    [reason] = check_touch(raw, call, funnel=DEFAULT_FUNNEL)
    assert "(level raw)" in reason
    sql = attrs.evolve(lead(), stage="sql", level="sql")
    assert check_touch(sql, call, funnel=DEFAULT_FUNNEL) == ()


def test_sender_without_a_kind_is_refused_with_the_reason() -> None:
    p = prospect()
    [reason] = check_touch(p, touch(sender="alice"), funnel=DEFAULT_FUNNEL)
    assert "a sender of unknown kind ('alice')" in reason


def test_opted_out_contact_gets_no_mass_touch_but_may_hear_from_a_rep() -> None:
    record = with_consent(attrs.evolve(lead(), stage="sql", level="sql"), opted_out=True)
    mass = touch(reach="mass", sender="automation:drip")
    assert check_touch(record, mass, funnel=DEFAULT_FUNNEL) == (
        "lead 'L1' opted out of mass communication (opted_out)",
    )
    assert check_touch(record, touch(), funnel=DEFAULT_FUNNEL) == ()


def test_do_not_contact_refuses_every_outbound_touch() -> None:
    record = with_consent(attrs.evolve(lead(), stage="sql", level="sql"), do_not_contact=True)
    for t in (touch(), touch(reach="mass", sender="marketing:x")):
        reasons = check_touch(record, t, funnel=DEFAULT_FUNNEL)
        assert reasons[0] == "lead 'L1' asked not to be contacted (do_not_contact)"
        with pytest.raises(CommunicationRefused):
            plan_touch(record, t, funnel=DEFAULT_FUNNEL)


def test_inbound_touches_are_never_refused() -> None:
    record = with_consent(prospect(), do_not_contact=True)  # type: ignore[arg-type]
    inbound = touch(direction="inbound", reach="mass", sender=None)
    assert check_touch(record, inbound, funnel=DEFAULT_FUNNEL) == ()
    assert plan_touch(record, inbound, funnel=DEFAULT_FUNNEL).touches[-1] == inbound


def test_reasons_accumulate() -> None:
    record = with_consent(prospect(), opted_out=True)  # type: ignore[arg-type]
    reasons = check_touch(record, touch(reach="mass", sender="marketing:x"), funnel=DEFAULT_FUNNEL)
    assert len(reasons) == 2


def test_company_rules_and_stage_overrides() -> None:
    policy = CommunicationPolicy(
        lead=(CommunicationRule(reach="mass"),),
        prospect=(CommunicationRule(reach="personal", senders={"rep", "csm"}),),
        stages={"won": ()},
    )
    company = Funnel(machine=DEFAULT_FUNNEL.machine, communication=policy)
    p = prospect()
    assert check_touch(p, touch(sender="csm:bo"), funnel=company) == ()
    won = p
    for event in ("open_opportunity", "engage_stakeholder", "win"):
        won = advance(won, event, at=day(4), funnel=company)
    assert won.stage == "won"
    [reason] = check_touch(won, touch(), funnel=company)
    assert "allows only: no outbound touch" in reason
    # mass from anyone is fine for leads under this policy; not under the default
    assert check_touch(lead(), touch(reach="mass", sender=None), funnel=company) == ()
    assert check_touch(lead(), touch(reach="mass", sender=None), funnel=DEFAULT_FUNNEL) != ()


def test_policy_validation_and_equality() -> None:
    with pytest.raises(ValueError, match="unknown lead level 'hot'"):
        CommunicationPolicy(lead=(), prospect=(), lead_levels={"hot": ()})
    with pytest.raises(TypeError, match="not the string"):
        CommunicationRule(reach="mass", senders="rep")
    copy = CommunicationPolicy(
        lead=DEFAULT_COMMUNICATION.lead,
        prospect=DEFAULT_COMMUNICATION.prospect,
        lead_levels=dict(DEFAULT_COMMUNICATION.lead_levels),
    )
    assert copy == DEFAULT_COMMUNICATION
    assert hash(copy) == hash(DEFAULT_COMMUNICATION)
    assert copy != attrs.evolve(copy, lead_levels={})


def test_unknown_stage_is_a_reason_not_a_crash() -> None:
    odd = attrs.evolve(lead(), stage="limbo")
    [reason] = check_touch(odd, touch(reach="mass", sender="marketing:x"), funnel=DEFAULT_FUNNEL)
    assert "'limbo'" in reason


def test_the_funnel_defaults_to_the_default_funnel() -> None:
    from datetime import UTC, datetime

    from funnel import DEFAULT_FUNNEL, Contact, Lead, Touch, check_touch

    at = datetime(2026, 3, 1, tzinfo=UTC)
    lead = Lead(id="L1", contact=Contact(name="Ada"), source="list", created_at=at)
    call = Touch(id="c1", at=at, direction="outbound", channel="call", sender="rep:alice")
    assert check_touch(lead, call) == check_touch(lead, call, funnel=DEFAULT_FUNNEL)
    assert check_touch(lead, call)  # a personal call to a raw lead is refused
