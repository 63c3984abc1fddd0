"""Small builders shared by the core tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from funnel import Company, Contact, DefinitionError, Evidence, Lead, Touch
from funnel.io.definition import loads_funnel

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


#: A company's own funnel as a definition file (TOML), shared by the definition tests.
ACME = """\
[funnel]
name = "acme"
version = "2"
description = "Acme's own funnel"

[stages.new]
name = "New"
level = "lead"
initial = true

[stages.engaged]
name = "Engaged"
level = "lead"
qualification_level = "mql"

[stages.ready]
name = "Sales ready"
level = "lead"
qualification_level = "sql"

[stages.dropped]
level = "lead"
final = true
outcome = "lost"

[stages.discovery]
level = "prospect"

[stages.proposal]
level = "prospect"

[stages.customer]
level = "prospect"
final = true
outcome = "won"

[stages.lost]
level = "prospect"
final = true
outcome = "lost"

[events.engage]
from = "new"
to = "engaged"
guards = ["has_inbound_action"]

[events.qualify]
from = ["new", "engaged"]
to = "ready"
guards = ["fits_profile"]

[events.drop]
from = ["new", "engaged", "ready"]
to = "dropped"
guards = ["has_reason"]

[events.convert]
from = ["engaged", "ready"]
to = "discovery"
guards = ["is_two_way", "is_qualified"]

[events.propose]
from = "discovery"
to = "proposal"

[events.sign]
from = "proposal"
to = "customer"

[events.lose]
from = ["discovery", "proposal"]
to = "lost"
guards = ["has_reason"]

[qualification]
framework = "BANT"
at_least = 3

[icp]
industries = ["software", "logistics"]
min_employees = 50
criterion = "fit"

[thresholds]
mql = 40
sql = 70
"""


def line_of(text: str, needle: str, after: str | None = None) -> int:
    """The 1-based line of the first line containing *needle* (after the line holding *after*)."""
    lines = text.splitlines()
    start = 0
    if after is not None:
        start = next(i for i, line in enumerate(lines) if after in line)
    return next(i for i in range(start, len(lines)) if needle in lines[i]) + 1


def problems_of(text: str, **kw: object) -> list[tuple[str, str, int | None]]:
    """(kind, key, line) of every problem loading *text* (as ``acme.toml``) raises."""
    with pytest.raises(DefinitionError) as info:
        loads_funnel(text, source="acme.toml", **kw)  # type: ignore[arg-type]
    assert info.value.source == "acme.toml"
    return [(p.kind, p.key, p.line) for p in info.value.problems]
