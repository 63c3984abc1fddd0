"""Small builders shared by the core tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from funnel import Company, Contact, Evidence, Lead, Touch

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def day(n: float) -> datetime:
    """*n* days after T0."""
    return T0 + timedelta(days=n)


def company(**kw: object) -> Company:
    """A company that fits most profiles unless overridden."""
    base: dict[str, object] = {
        "name": "Acme",
        "industry": "software",
        "employees": 200,
        "region": "EU",
    }
    base.update(kw)
    return Company(**base)  # type: ignore[arg-type]


def lead(lead_id: str = "L1", **kw: object) -> Lead:
    """A fresh lead created at T0."""
    base: dict[str, object] = {
        "id": lead_id,
        "contact": Contact(name="Ada", email="ada@acme.example", company=company()),
        "source": "web_form",
        "created_at": T0,
    }
    base.update(kw)
    return Lead(**base)  # type: ignore[arg-type]


def outbound(tid: str, at: float, **kw: object) -> Touch:
    """A personal outbound email from a rep."""
    return Touch(id=tid, at=day(at), direction="outbound", channel="email", sender="rep", **kw)  # type: ignore[arg-type]


def reply(tid: str, at: float, to: str) -> Touch:
    """An inbound email answering *to*."""
    return Touch(id=tid, at=day(at), direction="inbound", channel="email", in_reply_to=to)


def form(tid: str, at: float) -> Touch:
    """An inbound form fill."""
    return Touch(id=tid, at=day(at), direction="inbound", channel="form", reach="mass")


def met(*criteria: str, at: float = 0) -> tuple[Evidence, ...]:
    """Evidence that each criterion is met."""
    return tuple(
        Evidence(criterion=c, verdict="met", source="rep:test", at=day(at)) for c in criteria
    )


ALL_MET = ("fit", "means", "authority", "intention")


def ready_lead(lead_id: str = "L1") -> Lead:
    """A lead in two-way communication with every default criterion met."""
    return lead(
        lead_id,
        touches=(outbound("o1", 1), reply("r1", 2, "o1")),
        evidence=met(*ALL_MET, at=2),
    )
