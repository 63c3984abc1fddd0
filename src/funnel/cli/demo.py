"""
``funnel demo``: a short story of four leads on built-in data.

Each lead takes a different road through the default funnel; the demo prints
where each one stands and why, exactly as :func:`funnel.explain` reports it.
The data is made up and ships with the library; nothing is read from disk.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TextIO

import attrs

from funnel.engine.funnel import Funnel, advance, convert, explain
from funnel.engine.touches import add_evidence, add_touch
from funnel.exceptions import TransitionError
from funnel.model.contact import Company, Consent, Contact
from funnel.model.evidence import Evidence, VerdictName
from funnel.model.qualification import IdealCustomerProfile
from funnel.model.records import Lead, Prospect
from funnel.model.touch import Touch

#: The demo's clock starts here; every step is an offset in days.
START = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)

#: The profile the demo company sells to.
DEMO_ICP = IdealCustomerProfile(
    industries={"software", "logistics", "manufacturing"}, min_employees=50, regions={"EU", "US"}
)


def demo_funnel() -> Funnel:
    """The default funnel with the demo's ideal customer profile."""
    # Here, not at the top: every command line imports this module to register `demo`,
    # and the default funnel loads python-statemachine.
    from funnel.engine.funnel import DEFAULT_FUNNEL

    return Funnel(
        machine=DEFAULT_FUNNEL.machine,
        name="demo",
        version="2026.09",
        framework=DEFAULT_FUNNEL.framework,
        icp=DEMO_ICP,
        description="The sources' funnel, selling to EU/US software, logistics and manufacturing.",
    )


def day(n: float) -> datetime:
    """The demo clock, *n* days after :data:`START`."""
    return START + timedelta(days=n)


def _lead(key: str, person: str, email: str, company: Company, source: str) -> Lead:
    return Lead(
        id=key,
        contact=Contact(name=person, email=email, company=company),
        source=source,
        created_at=day(0),
        owner="marketing",
    )


def _ev(
    criterion: str, verdict: VerdictName, note: str, at: float, source: str = "rep:maria"
) -> Evidence:
    return Evidence(criterion=criterion, verdict=verdict, source=source, at=day(at), note=note)


def stories() -> Iterator[tuple[str, Lead | Prospect, list[str]]]:
    """Yield (title, final record, what happened) for each demo lead."""
    funnel = demo_funnel()

    # 1. Acme: a form fill, a reply to the rep, criteria met -> prospect -> won.
    log: list[str] = []
    acme = _lead(
        "acme",
        "Ada Park",
        "ada.park@acme.example",
        Company(name="Acme Logistics", industry="logistics", employees=420, region="EU"),
        "web_form",
    )
    acme = add_touch(
        acme,
        Touch(
            id="f1",
            at=day(1),
            direction="inbound",
            channel="form",
            reach="mass",
            sender="ada",
            note="pricing page form",
        ),
    )
    acme = advance(acme, "mark_mql", at=day(1), funnel=funnel)
    log.append("day 1: filled in the pricing form -> MQL")
    acme = advance(acme, "mark_sql", at=day(2), funnel=funnel)
    log.append("day 2: fits the ideal customer profile -> SQL")
    acme = add_touch(
        acme, Touch(id="e1", at=day(3), direction="outbound", channel="email", sender="rep:maria")
    )
    acme = add_touch(
        acme,
        Touch(
            id="e2",
            at=day(4),
            direction="inbound",
            channel="email",
            in_reply_to="e1",
            sender="ada",
        ),
    )
    log.append("day 3-4: Maria wrote, Ada answered -> two-way")
    acme = add_evidence(
        acme,
        _ev("means", "met", "budget approved for Q4", 5),
        _ev("authority", "met", "Ada signs off purchases", 5),
        _ev("intention", "met", "wants to replace spreadsheets by January", 5),
    )
    prospect = convert(acme, at=day(5), why="discovery call went well", funnel=funnel)
    log.append("day 5: all four criteria met -> prospect (organisation)")
    prospect = advance(prospect, "open_opportunity", at=day(9), funnel=funnel)
    prospect = advance(prospect, "engage_stakeholder", at=day(15), funnel=funnel)
    prospect = advance(prospect, "win", at=day(30), funnel=funnel)
    log.append("day 9-30: opportunity -> stakeholder -> won")
    yield "Acme Logistics: the whole road", prospect, log

    # 2. Globex: answered, but the budget is not there -> stays a lead.
    log = []
    globex = _lead(
        "globex",
        "Gus Grant",
        "gus@globex.example",
        Company(name="Globex", industry="software", employees=80, region="US"),
        "referral",
    )
    globex = advance(globex, "mark_sql", at=day(2), funnel=funnel)  # a referral that fits
    globex = add_touch(
        globex,
        Touch(
            id="c1",
            at=day(2),
            direction="outbound",
            channel="call",
            sender="rep:maria",
            connected=True,
            note="intro call",
        ),
    )
    globex = add_evidence(
        globex,
        _ev("means", "not-met", "no budget until next fiscal year", 2),
        _ev("authority", "met", "CTO", 2),
    )
    log.append("day 2: intro call took place -> two-way")
    try:
        convert(globex, at=day(3), funnel=funnel)
    except TransitionError as exc:
        log.append(f"day 3: conversion refused ({len(exc.reasons)} reasons)")
    globex = advance(globex, "nurture", at=day(3), funnel=funnel)
    log.append("day 3: back to nurturing until the budget exists")
    yield "Globex: two-way, but no budget", globex, log

    # 3. Initech: mass mail only -> one-way; too small for the profile.
    log = []
    initech = _lead(
        "initech",
        "Ivy Chen",
        "ivy@initech.example",
        Company(name="Initech", industry="software", employees=12, region="EU"),
        "list",
    )
    for i in range(3):
        initech = add_touch(
            initech,
            Touch(
                id=f"n{i}",
                at=day(1 + 7 * i),
                direction="outbound",
                channel="email",
                reach="mass",
                sender="marketing:newsletter",
            ),
        )
    log.append("day 1-15: three newsletters, no answer -> one-way")
    try:
        advance(initech, "mark_sql", at=day(16), funnel=funnel)
    except TransitionError:
        log.append("day 16: SQL refused: 12 employees, the profile needs 50")
    yield "Initech: one-way and too small", initech, log

    # 4. Umbrella: opted out and lost on the prospect road.
    log = []
    umbrella = _lead(
        "umbrella",
        "Uma Stone",
        "uma@umbrella.example",
        Company(name="Umbrella", industry="manufacturing", employees=2300, region="EU"),
        "event",
    )
    # Consent is part of the contact, and it stays with the prospect.
    umbrella = attrs.evolve(
        umbrella, contact=attrs.evolve(umbrella.contact, consent=Consent(opted_out=True))
    )
    umbrella = add_touch(
        umbrella,
        Touch(
            id="m1",
            at=day(1),
            direction="inbound",
            channel="meeting",
            connected=True,
            sender="uma",
            note="met at the trade fair",
        ),
    )
    umbrella = add_evidence(
        umbrella,
        _ev("means", "met", "large operations budget", 1),
        _ev("authority", "met", "head of procurement", 1),
        _ev("intention", "met", "tender in Q1", 1),
    )
    u = convert(umbrella, at=day(2), funnel=funnel)
    log.append("day 1-2: met at a fair, qualified -> prospect (opted out of newsletters)")
    u = advance(u, "open_opportunity", at=day(10), funnel=funnel)
    u = advance(u, "engage_stakeholder", at=day(20), funnel=funnel)
    u = advance(u, "stakeholder_declined", at=day(25), why="CFO froze the project", funnel=funnel)
    log.append("day 25: the stakeholder declined -> back to opportunity, find another")
    u = advance(u, "lose", at=day(40), why="chose a competitor", funnel=funnel)
    log.append("day 40: lost (chose a competitor)")
    yield "Umbrella: lost after a stakeholder declined", u, log


def run(out: TextIO, *, width: int = 78) -> int:
    """Print the demo to *out*; returns 0."""
    funnel = demo_funnel()
    out.write(f"funnel demo: {funnel.name} v{funnel.version}, {len(funnel.stages)} stages\n")
    out.write("=" * width + "\n")
    for title, record, log in stories():
        out.write(f"\n{title}\n" + "-" * len(title) + "\n")
        for line in log:
            out.write(f"  {line}\n")
        out.write("\n")
        for line in explain(record, at=day(45), funnel=funnel).lines():
            out.write(f"  {line}\n")
    out.write("\n" + "=" * width + "\n")
    out.write(
        "A prospect never goes back to lead: try `funnel.advance(prospect, 'nurture', ...)`.\n"
    )
    return 0


def _handle(args: argparse.Namespace) -> int:
    import sys

    return run(sys.stdout)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``demo`` sub-command."""
    parser = subparsers.add_parser("demo", help="run a short story of four leads on built-in data")
    parser.set_defaults(handler=_handle)
