"""
Hypothesis strategies for funnel records, shared by the test modules.

The records are valid by construction: touches have unique ids and replies
point to earlier touches; stage histories are built by really moving leads
through :func:`funnel.advance` and :func:`funnel.convert`, so every history
is one the state machine allows.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import TypeVar

import attrs
from hypothesis import strategies as st

import funnel
from funnel import Company, Consent, Contact, Evidence, Lead, Prospect, Touch
from funnel.model.evidence import Verdict
from funnel.model.touch import LIVE_CHANNELS, Channel, Direction, Reach

__all__ = (
    "aware_datetimes",
    "companies",
    "consents",
    "contacts",
    "evidence",
    "leads",
    "prospects",
    "records",
    "touches",
)

START = datetime(2024, 1, 1, tzinfo=UTC)
#: Offsets records are written in: serialization must keep each one.
OFFSETS = (
    UTC,
    timezone(timedelta(hours=2)),
    timezone(timedelta(hours=-5, minutes=-30)),
)
_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=12
).filter(lambda s: s.strip() != "")
_NAMES = st.sampled_from(["Ada", "Bo", "Chen", "Dana", "Émile", "Farah", "Gus", "Hana"])
_LOCALS = st.sampled_from(["ada", "bo.li", "chen+news", "dana_k", "e"])
_DOMAINS = st.sampled_from(["acme.example", "gmail.com", "initech.example", "globex.example"])
R = TypeVar("R", Lead, Prospect)
_STEP = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=30))


def aware_datetimes(
    min_value: datetime = START, max_value: datetime = datetime(2030, 1, 1, tzinfo=UTC)
) -> st.SearchStrategy[datetime]:
    """Timezone-aware datetimes (microseconds included) in a few fixed offsets."""
    return st.builds(
        lambda dt, tz: dt.replace(tzinfo=UTC).astimezone(tz),
        st.datetimes(
            min_value=min_value.replace(tzinfo=None), max_value=max_value.replace(tzinfo=None)
        ),
        st.sampled_from(OFFSETS),
    )


def consents() -> st.SearchStrategy[Consent]:
    """Any of the four consent combinations."""
    return st.builds(Consent, opted_out=st.booleans(), do_not_contact=st.booleans())


def companies() -> st.SearchStrategy[Company]:
    """Companies with some or all firmographics."""
    return st.builds(
        Company,
        name=st.sampled_from(["Acme Inc.", "Initech", "Globex GmbH", "Umbrella Ltd", "Hooli"]),
        industry=st.none() | st.sampled_from(["software", "retail", "Manufacturing"]),
        employees=st.none() | st.integers(min_value=0, max_value=100_000),
        annual_revenue=st.none()
        | st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False),
        region=st.none() | st.sampled_from(["EU", "US", "APAC"]),
        domain=st.none() | _DOMAINS,
    )


def contacts() -> st.SearchStrategy[Contact]:
    """Contacts, with email, phone, company and consent sometimes set."""
    return st.builds(
        Contact,
        name=_NAMES,
        email=st.none() | st.builds(lambda a, b: f"{a}@{b}", _LOCALS, _DOMAINS),
        phone=st.none() | st.from_regex(r"\+\d{2} \d{3} \d{4} \d{3}", fullmatch=True),
        title=st.none() | _TEXT,
        company=st.none() | companies(),
        consent=consents(),
    )


@st.composite
def touches(
    draw: st.DrawFn, *, start: datetime = START, max_size: int = 6, prefix: str = "t"
) -> tuple[Touch, ...]:
    """
    A valid sequence of touches: unique ids, non-decreasing times, and replies
    (``in_reply_to``) that point to an earlier touch.
    """
    n = draw(st.integers(min_value=0, max_value=max_size))
    at = start
    made: list[Touch] = []
    for i in range(n):
        at = at + draw(_STEP)
        channel = draw(st.sampled_from(list(Channel)))
        reply_to = draw(st.none() | st.sampled_from([t.id for t in made])) if made else None
        made.append(
            Touch(
                id=f"{prefix}{i}",
                at=at.astimezone(draw(st.sampled_from(OFFSETS))),
                direction=draw(st.sampled_from(list(Direction))),
                channel=channel,
                reach=draw(st.sampled_from(list(Reach))),
                sender=draw(st.none() | st.sampled_from(["rep:alice", "campaign:q3", "person"])),
                in_reply_to=reply_to,
                connected=channel in LIVE_CHANNELS and draw(st.booleans()),
                note=draw(st.none() | _TEXT),
            )
        )
    return tuple(made)


@st.composite
def evidence(
    draw: st.DrawFn, *, start: datetime = START, max_size: int = 5
) -> tuple[Evidence, ...]:
    """Findings on the default and BANT criteria, in time order."""
    n = draw(st.integers(min_value=0, max_value=max_size))
    at = start
    found: list[Evidence] = []
    for _ in range(n):
        at = at + draw(_STEP)
        found.append(
            Evidence(
                criterion=draw(
                    st.sampled_from(["fit", "means", "authority", "intention", "budget", "need"])
                ),
                verdict=draw(st.sampled_from(list(Verdict))),
                source=draw(st.sampled_from(["rep:alice", "rule:icp", "call:t1", "form:pricing"])),
                at=at,
                note=draw(st.none() | _TEXT),
            )
        )
    return tuple(found)


def _why(event: str) -> str | None:
    return (
        "no budget this year" if event in {"disqualify", "lose", "stakeholder_declined"} else None
    )


def _walk(draw: st.DrawFn, record: R, at: datetime, steps: int) -> R:
    """Take up to *steps* random events the record accepts (never converting)."""
    for _ in range(steps):
        at = at + draw(_STEP)
        options = sorted(
            e
            for e in funnel.DEFAULT_FUNNEL.allowed_events(record)
            if e not in funnel.DEFAULT_FUNNEL.conversion_events
            and funnel.can(record, e, at=at, why=_why(e))
        )
        if not options:
            break
        event = draw(st.sampled_from(options))
        record = funnel.fire(record, event, at=at, why=_why(event))  # type: ignore[assignment]
    return record


@st.composite
def leads(draw: st.DrawFn, *, max_steps: int = 3) -> Lead:
    """Leads at any lead stage, with touches, evidence and a real history."""
    created = draw(aware_datetimes(max_value=datetime(2028, 1, 1, tzinfo=UTC)))
    lead = Lead(
        id=draw(st.from_regex(r"L[0-9]{1,6}", fullmatch=True)),
        contact=draw(contacts()),
        source=draw(st.sampled_from(["web_form", "list", "referral", "crm_import"])),
        created_at=created,
        touches=draw(touches(start=created)),
        evidence=draw(evidence(start=created)),
        owner=draw(st.none() | st.sampled_from(["alice", "bob"])),
        segment=draw(st.none() | st.sampled_from(["smb", "mid-market"])),
    )
    last = max([created, *(t.at for t in lead.touches), *(e.at for e in lead.evidence)])
    return _walk(draw, lead, last, draw(st.integers(min_value=0, max_value=max_steps)))


@st.composite
def prospects(draw: st.DrawFn, *, max_steps: int = 3) -> Prospect:
    """Prospects made by converting a qualified, engaged lead, then moved on."""
    lead = draw(leads(max_steps=1).filter(lambda r: r.stage != "disqualified"))
    at = max(
        [
            lead.created_at,
            *(t.at for t in lead.touches),
            *(e.at for e in lead.evidence),
            *(c.at for c in lead.history),
        ]
    )
    at = at + timedelta(hours=1)
    dialogue = (
        Touch(id="out", at=at, direction="outbound", channel="email", sender="rep:alice"),
        Touch(
            id="reply",
            at=at + timedelta(minutes=5),
            direction="inbound",
            channel="email",
            in_reply_to="out",
        ),
    )
    at = at + timedelta(minutes=10)
    findings = tuple(
        Evidence(criterion=key, verdict=Verdict.MET, source="rep:alice", at=at)
        for key in funnel.model.qualification.DEFAULT.keys
    )
    ready = funnel.add_evidence(
        funnel.add_touch(funnel.add_touch(lead, dialogue[0], imported=True), dialogue[1]),
        *findings,
    )
    prospect = funnel.convert(ready, at=at + timedelta(minutes=1))
    if draw(st.booleans()):
        value = draw(st.decimals(min_value=0, max_value=10**7, places=2, allow_nan=False))
        prospect = attrs.evolve(prospect, value=value)
    return _walk(draw, prospect, at + timedelta(minutes=1), draw(st.integers(0, max_steps)))


def records() -> st.SearchStrategy[Lead | Prospect]:
    """Leads or prospects."""
    return st.one_of(leads(), prospects())
