"""Duplicate detection and merge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs
import pytest
from hypothesis import assume, given

import funnel
from funnel import Company, Consent, Contact, Evidence, Lead, Prospect, Touch
from funnel.engine.dedupe import (
    PUBLIC_EMAIL_DOMAINS,
    DuplicateMatch,
    email_domain,
    find_duplicates,
    latest_change,
    merge,
    normalize_company,
    normalize_email,
)
from funnel.exceptions import ChronologyError, SerializationError, ValidationError
from funnel.io.serialize import dumps, loads, to_dict
from funnel.model.records import MergedRecord
from tests.strategies import records

T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)
#: After every change of the records these tests merge.
LATER = T0 + timedelta(days=30)


def _lead(
    record_id: str,
    email: str | None = None,
    company: str | None = None,
    *,
    created: datetime = T0,
    consent: Consent | None = None,
    touches: tuple[Touch, ...] = (),
    domain: str | None = None,
) -> Lead:
    return Lead(
        id=record_id,
        contact=Contact(
            name="Person",
            email=email,
            company=Company(name=company, domain=domain) if company else None,
            consent=consent or Consent(),
        ),
        source="list",
        created_at=created,
        touches=touches,
    )


def _touch(touch_id: str, minutes: int, reply_to: str | None = None, note: str = "") -> Touch:
    return Touch(
        id=touch_id,
        at=T0 + timedelta(minutes=minutes),
        direction="inbound" if reply_to else "outbound",
        channel="email",
        in_reply_to=reply_to,
        note=note or None,
    )


def _prospect(record_id: str, *, created: datetime = T0) -> Prospect:
    lead = _lead(
        record_id,
        "x@initech.example",
        created=created,
        touches=(_touch("o1", 0), _touch("r1", 5, "o1")),
    )
    lead = funnel.add_evidence(
        lead,
        *(
            Evidence(criterion=k, verdict="met", source="rep", at=created)
            for k in funnel.model.qualification.DEFAULT.keys
        ),
    )
    return funnel.convert(lead, at=max(created, T0) + timedelta(hours=1))


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("Ada@Acme.Example", "ada@acme.example"),
        ("  ada+newsletter@acme.example  ", "ada@acme.example"),
        ("a.d.a@gmail.com", "ada@gmail.com"),
        ("A.Da+x@googlemail.com", "ada@gmail.com"),
        ("a.da@acme.example", "a.da@acme.example"),  # dots matter outside Gmail
        ("+only@acme.example", None),
        ("no-at-sign", None),
        ("ada@localhost", None),
        (None, None),
    ],
)
def test_normalize_email(raw: str | None, normal: str | None) -> None:
    assert normalize_email(raw) == normal


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Acme Inc.", "ACME"),
        ("Acme, Inc", "acme incorporated"),
        ("Globex GmbH", "Globex"),
        ("Société Générale SA", "Societe Generale"),
        ("Initech LLC", "initech, l.l.c"),  # punctuation inside suffixes
        ("Hooli Ltd", "Hooli Limited"),
        ("Umbrella Corp.", "Umbrella Corporation"),
    ],
)
def test_company_names_normalise_to_the_same_key(a: str, b: str) -> None:
    assert normalize_company(a) == normalize_company(b.replace("l.l.c", "llc"))


def test_company_names_that_differ_stay_different() -> None:
    assert normalize_company("Acme Robotics") != normalize_company("Acme")
    assert normalize_company("Inc") is None
    assert normalize_company("SA Mining") == "sa mining"  # only trailing suffixes go


def test_public_providers_include_the_usual_suspects() -> None:
    assert {"gmail.com", "outlook.com", "hotmail.com", "yahoo.com", "icloud.com"} <= (
        PUBLIC_EMAIL_DOMAINS
    )
    assert {"proton.me", "gmx.de"} <= PUBLIC_EMAIL_DOMAINS
    assert email_domain("Bo@Initech.Example") == "initech.example"


def test_find_duplicates_reports_each_reason() -> None:
    items = [
        _lead("L1", "ada+crm@acme.example"),
        _lead("L2", "ADA@acme.example"),  # same person: email (and domain)
        _lead("L3", "bo@acme.example"),  # same company domain
        _lead("L4", "carl@gmail.com", "Globex GmbH"),
        _lead("L5", "dana@gmail.com", "GLOBEX"),  # same company name, public domain ignored
        _lead("L6", "eve@gmail.com"),  # gmail alone links nobody
        _lead("L7", None),
    ]
    groups = find_duplicates(items)
    assert [g.ids for g in groups] == [("L1", "L2", "L3"), ("L4", "L5")]
    first, second = groups
    assert first.reasons == ("email", "domain")
    assert DuplicateMatch("email", "ada@acme.example", ("L1", "L2")) in first.matches
    assert DuplicateMatch("domain", "acme.example", ("L1", "L2", "L3")) in first.matches
    assert second.reasons == ("company",)
    assert second.matches == (DuplicateMatch("company", "globex", ("L4", "L5")),)


def test_find_duplicates_by_subset_and_company_domain() -> None:
    items = [
        _lead("L1", "ada@acme.example"),
        _lead("L2", "bo@gmail.com", "Acme", domain="ACME.example"),
    ]
    assert [g.ids for g in find_duplicates(items)] == [("L1", "L2")]
    assert find_duplicates(items, by=["email"]) == []
    with pytest.raises(ValueError, match="unknown duplicate keys"):
        find_duplicates(items, by=["phone"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="duplicate record id 'L1'"):
        find_duplicates([items[0], items[0]])


def test_groups_are_transitive() -> None:
    items = [
        _lead("A", "x@one.example", "Alpha"),
        _lead("B", "y@two.example", "Alpha Ltd"),  # company links A-B
        _lead("C", "z@two.example"),  # domain links B-C
    ]
    (group,) = find_duplicates(items)
    assert group.ids == ("A", "B", "C")
    assert group.reasons == ("domain", "company")


def test_prospect_beats_lead_and_both_histories_are_kept() -> None:
    lead = funnel.advance(_lead("L1", created=T0 - timedelta(days=9)), "nurture", at=T0)
    prospect = _prospect("P1")
    result = merge(lead, prospect, at=T0 + timedelta(days=1))
    assert result.survivor.id == "P1"
    assert isinstance(result.survivor, Prospect)
    assert result.survivor.history == prospect.history  # its stage chain
    assert result.absorbed_id == "L1"
    assert result.absorbed_stage == "nurturing"
    assert result.absorbed_history == lead.history
    # Inputs unchanged.
    assert lead.stage == "nurturing"
    assert merge(prospect, lead, at=LATER).survivor.id == "P1"  # order does not matter


def test_further_stage_wins_then_open_over_lost_then_older() -> None:
    early = _lead("L1", created=T0 - timedelta(days=5))
    later = funnel.advance(_lead("L2"), "nurture", at=T0)
    assert merge(early, later, at=LATER).survivor.id == "L2"
    lost = funnel.advance(
        _lead("L3", created=T0 - timedelta(days=9)), "disqualify", at=T0, why="x"
    )
    assert merge(lost, early, at=LATER).survivor.id == "L1"  # open beats disqualified
    twin_old = _lead("L9", created=T0 - timedelta(days=1))
    twin_new = _lead("L0", created=T0)
    assert merge(twin_new, twin_old, at=LATER).survivor.id == "L9"  # tie: older created_at
    assert merge(_lead("L5"), _lead("L4"), at=LATER).survivor.id == "L4"  # full tie: smaller id


def test_qualification_level_beats_a_recycled_raw_lead() -> None:
    """An SQL lead survives a raw lead in nurturing, whatever the stages' declared order."""
    sql = attrs.evolve(_lead("A"), stage="sql", level="sql")  # e.g. imported from a CRM
    assert (sql.stage, sql.level.value) == ("sql", "sql")
    recycled = funnel.advance(_lead("B", created=T0 - timedelta(days=30)), "nurture", at=T0)
    for a, b in ((sql, recycled), (recycled, sql)):
        result = merge(a, b, at=T0 + timedelta(hours=1))
        assert (result.survivor.id, result.survivor.stage) == ("A", "sql")
        assert result.absorbed_stage == "nurturing"


def test_one_key_may_be_given_as_a_string() -> None:
    items = [_lead("L1", "ada@acme.example"), _lead("L2", "Ada@ACME.example ")]
    assert find_duplicates(items, by="email") == find_duplicates(items, by=["email"])
    assert [g.ids for g in find_duplicates(items, by="email")] == [("L1", "L2")]


def test_touches_union_with_deterministic_renames_and_replies() -> None:
    shared = _touch("t1", 0)
    a = _lead("A", touches=(shared, _touch("t2", 10, note="mine")))
    b = _lead(
        "B",
        created=T0 + timedelta(seconds=1),
        touches=(shared, _touch("t2", 20, note="theirs"), _touch("t3", 30, reply_to="t2")),
    )
    result = merge(a, b, at=LATER)
    assert result.survivor.id == "A"
    by_id = {t.id: t for t in result.survivor.touches}
    assert set(by_id) == {"t1", "t2", "B:t2", "t3"}  # the shared touch is kept once
    assert by_id["t2"].note == "mine"
    assert by_id["B:t2"].note == "theirs"
    assert by_id["t3"].in_reply_to == "B:t2"  # the reply follows its renamed touch
    assert result.renamed_touches == {"t2": "B:t2"}
    assert merge(a, b, at=LATER) == result  # deterministic


def test_evidence_is_unioned_once() -> None:
    ev = Evidence(criterion="budget", verdict="met", source="rep", at=T0)
    other = Evidence(criterion="need", verdict="not-met", source="rep", at=T0)
    a = funnel.add_evidence(_lead("A"), ev)
    b = funnel.add_evidence(_lead("B"), ev, other)
    assert merge(a, b, at=LATER).survivor.evidence == (ev, other)


@pytest.mark.parametrize(
    ("left", "right", "expected"),
    [
        (Consent(), Consent(opted_out=True), Consent(opted_out=True)),
        (Consent(do_not_contact=True), Consent(), Consent(do_not_contact=True)),
        (
            Consent(opted_out=True),
            Consent(do_not_contact=True),
            Consent(opted_out=True, do_not_contact=True),
        ),
        (Consent(), Consent(), Consent()),
    ],
)
def test_merge_keeps_the_stricter_consent(
    left: Consent, right: Consent, expected: Consent
) -> None:
    a = _lead("A", "ada@acme.example", consent=left)
    b = _lead("B", "ada@acme.example", consent=right, created=T0 + timedelta(days=1))
    merged = merge(a, b, at=LATER).survivor
    assert merged.contact.consent == expected
    assert loads(dumps(merged)).contact.consent == expected


def test_merge_fills_missing_contact_details_and_refuses_self_merge() -> None:
    a = _lead("A")
    b = attrs.evolve(
        _lead("B", "bo@initech.example", "Initech", created=T0 + timedelta(days=1)),
        owner="bob",
    )
    survivor = merge(a, b, at=LATER).survivor
    assert survivor.id == "A"
    assert survivor.contact.email == "bo@initech.example"
    assert survivor.contact.company == Company(name="Initech")
    assert survivor.owner == "bob"
    with pytest.raises(ValueError, match="itself"):
        merge(a, a, at=LATER)
    with pytest.raises(ValueError, match="naive"):
        merge(a, b, at=datetime(2026, 1, 1))  # noqa: DTZ001


@given(records(), records())
def test_merge_properties(a: Lead | Prospect, b: Lead | Prospect) -> None:
    assume(a.id != b.id)
    at = max(latest_change(a), latest_change(b))
    result = merge(a, b, at=at)
    survivor = result.survivor
    kept, other = (a, b) if survivor.id == a.id else (b, a)
    assert result.absorbed_id == other.id
    assert survivor.stage == kept.stage
    assert survivor.history == kept.history
    assert result.absorbed_history == other.history
    assert isinstance(survivor, Prospect) or not (
        isinstance(a, Prospect) or isinstance(b, Prospect)
    )
    # Every touch of both is there, under its own or its new id, nothing else.
    renamed = result.renamed_touches
    expected = {t.id for t in kept.touches} | {renamed.get(t.id, t.id) for t in other.touches}
    assert {t.id for t in survivor.touches} == expected
    assert set(kept.evidence) | set(other.evidence) == set(survivor.evidence)
    consent = survivor.contact.consent
    assert consent.opted_out == (a.contact.consent.opted_out or b.contact.consent.opted_out)
    assert consent.do_not_contact == (
        a.contact.consent.do_not_contact or b.contact.consent.do_not_contact
    )
    assert loads(dumps(survivor)) == survivor  # the merged record is valid
    # The survivor names the absorbed record, and every record merged into either.
    assert survivor.merged_from[-1] == MergedRecord(id=other.id, at=at, stage=other.stage)
    assert {m.id for m in survivor.merged_from} == {
        other.id,
        *(m.id for m in a.merged_from),
        *(m.id for m in b.merged_from),
    }
    with pytest.raises(ChronologyError):
        merge(a, b, at=at - timedelta(microseconds=1))


# -- merged_from and the time of a merge (issue 17, item 4) ---------------------------------


def test_the_survivor_records_merged_from_with_a_dated_entry() -> None:
    """merge() left no trace on the surviving record."""
    a = _lead("A", "ada@acme.example")
    b = _lead("B", "ada@acme.example", created=T0 + timedelta(hours=1))
    result = merge(a, b, at=T0 + timedelta(days=1))
    assert result.survivor.merged_from == (
        MergedRecord(id="B", at=T0 + timedelta(days=1), stage="acquired"),
    )
    assert result.survivor.history == a.history  # the stage chain is untouched
    assert "merged" in repr(result.survivor)
    assert "ada" not in repr(result.survivor)
    document = to_dict(result.survivor)
    assert document["data"]["merged_from"] == [
        {"id": "B", "at": "2026-03-02T09:00:00+00:00", "stage": "acquired"}
    ]
    assert loads(dumps(result.survivor)) == result.survivor
    # A chain of merges: the survivor names everything merged into the absorbed one.
    c = _lead("C", "ada@acme.example", created=T0 + timedelta(hours=2))
    again = merge(c, result.survivor, at=T0 + timedelta(days=2)).survivor
    assert [m.id for m in again.merged_from] == ["B", "C"]


def test_a_merge_before_either_records_latest_change_is_refused() -> None:
    """merge() accepted a merged_at earlier than both records."""
    a = _lead("A", created=T0)
    b = funnel.advance(_lead("B", created=T0), "nurture", at=T0 + timedelta(days=3))
    with pytest.raises(ChronologyError) as err:
        merge(a, b, at=T0 + timedelta(days=2))
    assert err.value.record is b
    assert err.value.event == "merge"
    assert "2026-03-04T09:00:00+00:00" in str(err.value)
    with pytest.raises(ChronologyError):
        merge(b, a, at=T0 - timedelta(days=1))  # before both
    touched = _lead("C", touches=(_touch("t9", 60 * 24 * 5),))
    with pytest.raises(ChronologyError):
        merge(a, touched, at=T0 + timedelta(days=4))  # a later touch counts too
    assert merge(a, b, at=T0 + timedelta(days=3)).survivor.id == "B"  # at the latest: fine


@pytest.mark.parametrize(
    ("entries", "problem"),
    [
        ([MergedRecord(id="L1", at=T0, stage="acquired")], "names the record itself"),
        (
            [
                MergedRecord(id="X", at=T0, stage="acquired"),
                MergedRecord(id="X", at=T0 + timedelta(hours=1), stage="mql"),
            ],
            "names 'X' a second time",
        ),
        ([MergedRecord(id="X", at=T0 - timedelta(days=1), stage="acquired")], "precedes"),
    ],
)
def test_merged_from_is_checked_at_every_door(entries: list[MergedRecord], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem) as err:
        attrs.evolve(_lead("L1"), merged_from=entries)
    assert err.value.field == "merged_from"
    document = to_dict(_lead("L1"))
    document["data"]["merged_from"] = [
        {"id": m.id, "at": m.at.isoformat(), "stage": m.stage} for m in entries
    ]
    with pytest.raises(SerializationError, match=problem):
        funnel.io.serialize.from_dict(document)
    with pytest.raises(ValidationError, match="merged_from"):
        attrs.evolve(_lead("L1"), merged_from=["X"])  # type: ignore[list-item]


def test_documents_without_merged_from_still_read() -> None:
    """Documents written before the field existed (funnel 0.1) read with no merges."""
    document = to_dict(_lead("L1"))
    del document["data"]["merged_from"]
    assert funnel.io.serialize.from_dict(document).merged_from == ()


def test_conversion_keeps_merged_from() -> None:
    out = Touch(id="o", at=T0, direction="outbound", channel="email", sender="rep:alice")
    reply = Touch(id="r", at=T0, direction="inbound", channel="email", in_reply_to="o")
    lead = _lead("A", touches=(out, reply))
    lead = funnel.add_evidence(
        lead,
        *(
            Evidence(criterion=k, verdict="met", source="rep:alice", at=T0)
            for k in funnel.DEFAULT_FUNNEL.framework.keys
        ),
    )
    merged = merge(lead, _lead("B"), at=T0 + timedelta(hours=1)).survivor
    assert isinstance(merged, Lead)
    prospect = funnel.convert(merged, at=T0 + timedelta(hours=2))
    assert prospect.merged_from == merged.merged_from
