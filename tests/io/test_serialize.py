"""JSON round trip of every record, and strict, located errors on bad input."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

import funnel
from funnel import Company, Contact, Evidence, Lead, Prospect, SerializationError, Touch
from funnel.io.serialize import (
    SCHEMA_VERSION,
    dumps,
    from_dict,
    loads,
    structure,
    to_dict,
    unstructure,
)
from funnel.model.engagement import Engagement
from funnel.model.evidence import Verdict
from funnel.model.records import MergedRecord
from tests.strategies import leads, prospects, records, touches

T0 = datetime(2026, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=2)))


def _prospect() -> Prospect:
    out = Touch(id="t1", at=T0, direction="outbound", channel="email", sender="rep:alice")
    reply = Touch(
        id="t2", at=T0 + timedelta(hours=1), direction="inbound", channel="email", in_reply_to="t1"
    )
    lead = Lead(
        id="L1",
        contact=Contact(
            name="Ada",
            email="ada@acme.example",
            phone="+44 20 7946 0958",
            company=Company(name="Acme", employees=120, annual_revenue=Decimal("1200000.50")),
        ),
        source="web_form",
        created_at=T0,
        touches=[out, reply],
        evidence=[
            Evidence(criterion=k, verdict="met", source="rep:alice", at=T0)
            for k in funnel.model.qualification.DEFAULT.keys
        ],
    )
    prospect = funnel.convert(lead, at=T0 + timedelta(hours=2))
    return funnel.advance(prospect, "open_opportunity", at=T0 + timedelta(days=1))


@given(records())
def test_round_trip_of_generated_records(record: Lead | Prospect) -> None:
    text = dumps(record)
    back = loads(text)
    assert back == record
    assert type(back) is type(record)
    # Offsets survive, not only the instant.
    assert back.created_at.utcoffset() == record.created_at.utcoffset()
    assert [t.at.utcoffset() for t in back.touches] == [t.at.utcoffset() for t in record.touches]
    # Writing again gives the same text: the document is canonical.
    assert dumps(back) == text


@given(prospects())
def test_prospect_round_trip_keeps_enum_and_decimal_types(prospect: Prospect) -> None:
    back = loads(dumps(prospect))
    assert isinstance(back, Prospect)
    assert back.engagement.level is Engagement.TWO_WAY
    assert back.qualification.passed
    assert all(type(r.verdict) is Verdict for r in back.qualification.results)
    assert back.value is None or type(back.value) is Decimal
    assert back.qualification.explain() == prospect.qualification.explain()


@given(leads())
def test_document_holds_only_json_types_and_no_floats(lead: Lead) -> None:
    def walk(value: object) -> None:
        assert not isinstance(value, float)
        if isinstance(value, dict):
            assert all(isinstance(k, str) for k in value)
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)
        else:
            assert value is None or isinstance(value, str | int | bool)

    document = to_dict(lead)
    walk(document)
    assert document["schema"] == "funnel/lead"
    assert document["version"] == SCHEMA_VERSION


def test_envelope_and_field_formats() -> None:
    prospect = _prospect()
    document = to_dict(prospect)
    assert document["schema"] == "funnel/prospect"
    data = document["data"]
    # Given at 09:30+02:00; stored and written in UTC (funnel._base.time.to_utc).
    assert data["created_at"] == "2026-03-01T07:30:00+00:00"
    assert data["contact"]["company"]["annual_revenue"] == "1200000.5"  # canonical
    assert data["touches"][0]["direction"] == "outbound"
    assert data["engagement"]["level"] == "two-way"
    criterion = data["qualification"]["results"][1]["criterion"]
    assert criterion["aliases"] == sorted(criterion["aliases"])
    assert "money" in criterion["aliases"]
    assert json.loads(dumps(prospect)) == document


@given(touches(max_size=4))
def test_parts_round_trip_through_structure(items: tuple[Touch, ...]) -> None:
    for touch in items:
        assert structure(unstructure(touch), Touch) == touch


def _mutated(mutate: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(dumps(_prospect()))
    mutate(document)
    return document


BAD_DOCUMENTS: list[tuple[str, Callable[[dict[str, Any]], object], str, str]] = [
    (
        "naive datetime",
        lambda d: d["data"]["touches"][1].__setitem__("at", "2026-03-01T10:30:00"),
        "data.touches[1].at",
        "naive",
    ),
    (
        "not a datetime",
        lambda d: d["data"].__setitem__("created_at", "yesterday"),
        "data.created_at",
        "ISO 8601",
    ),
    (
        "unknown key",
        lambda d: d["data"]["touches"][0].__setitem__("colour", "red"),
        "data.touches[0].colour",
        "unknown key",
    ),
    (
        "missing key",
        lambda d: d["data"]["touches"][1].pop("channel"),
        "data.touches[1].channel",
        "missing",
    ),
    (
        "string for bool",
        lambda d: d["data"]["contact"]["consent"].__setitem__("opted_out", "false"),
        "data.contact.consent.opted_out",
        "true or false",
    ),
    (
        "int for bool",
        lambda d: d["data"]["touches"][0].__setitem__("connected", 0),
        "data.touches[0].connected",
        "true or false",
    ),
    (
        "string for int",
        lambda d: d["data"]["contact"]["company"].__setitem__("employees", "120"),
        "data.contact.company.employees",
        "integer",
    ),
    (
        "int for string",
        lambda d: d["data"].__setitem__("stage", 3),
        "data.stage",
        "string",
    ),
    (
        "float for decimal",
        lambda d: d["data"]["contact"]["company"].__setitem__("annual_revenue", 1.5),
        "data.contact.company.annual_revenue",
        "decimal string",
    ),
    (
        "garbage decimal",
        lambda d: d["data"]["contact"]["company"].__setitem__("annual_revenue", "lots"),
        "data.contact.company.annual_revenue",
        "not a decimal",
    ),
    (
        "unknown enum value",
        lambda d: d["data"]["touches"][0].__setitem__("direction", "sideways"),
        "data.touches[0].direction",
        "expected one of 'inbound', 'outbound'",
    ),
    (
        "unknown verdict deep inside",
        lambda d: d["data"]["qualification"]["results"][2].__setitem__("verdict", "maybe"),
        "data.qualification.results[2].verdict",
        "Verdict",
    ),
    (
        "object for list",
        lambda d: d["data"].__setitem__("touches", {}),
        "data.touches",
        "expected a list",
    ),
    (
        "touch breaks its own rule",
        lambda d: d["data"]["touches"][0].__setitem__("connected", True),
        "data.touches[0].connected",
        "connected=True only applies to calls and meetings",
    ),
    (
        "record breaks its own rule",
        lambda d: d["data"]["touches"][1].__setitem__("in_reply_to", "nope"),
        "data.touches",
        "replies to unknown touch 'nope'",
    ),
    (
        "history does not end at the stage",
        lambda d: d["data"].__setitem__("stage", "stakeholder"),
        "data.stage",
        "history ends at 'opportunity'",
    ),
    (
        "unknown schema",
        lambda d: d.__setitem__("schema", "funnel/deal"),
        "schema",
        "unknown schema",
    ),
    (
        "future version",
        lambda d: d.__setitem__("version", SCHEMA_VERSION + 1),
        "version",
        "unsupported version",
    ),
    (
        "bool version",
        lambda d: d.__setitem__("version", True),
        "version",
        "unsupported version",
    ),
    (
        "extra envelope key",
        lambda d: d.__setitem__("meta", {}),
        "meta",
        "unknown key",
    ),
    ("no data", lambda d: d.pop("data"), "data", "missing"),
]


@pytest.mark.parametrize(
    ("mutate", "path", "message"),
    [pytest.param(m, p, msg, id=name) for name, m, p, msg in BAD_DOCUMENTS],
)
def test_bad_documents_raise_with_a_path(
    mutate: Callable[[dict[str, Any]], object], path: str, message: str
) -> None:
    document = _mutated(mutate)
    with pytest.raises(SerializationError) as info:
        from_dict(document)
    assert info.value.path == path
    assert message in str(info.value)
    assert str(info.value).startswith(f"{path}: ")
    # The same through the text API.
    with pytest.raises(SerializationError) as again:
        loads(json.dumps(document))
    assert again.value.path == path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"schema": "funnel/lead", "version": 1, "data": NaN}', "NaN is not allowed"),
        ("null", "got null"),
    ],
)
def test_bad_text_raises_serialization_error(text: str, message: str) -> None:
    with pytest.raises(SerializationError, match=message):
        loads(text)


def test_serialization_error_is_a_funnel_error_and_value_error() -> None:
    with pytest.raises(funnel.FunnelError):
        loads("{}")
    with pytest.raises(ValueError, match="schema"):
        loads("{}")


def test_structure_refuses_non_record_types_and_to_dict_non_records() -> None:
    with pytest.raises(SerializationError, match="not a funnel record type"):
        structure({}, dict)
    with pytest.raises(TypeError, match="Lead or a Prospect"):
        to_dict(Contact(name="Ada"))  # type: ignore[arg-type]


def test_loads_accepts_bytes_and_other_offsets() -> None:
    lead = Lead(
        id="L2",
        contact=Contact(name="Bo"),
        source="list",
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    text = dumps(lead).replace("+00:00", "-05:00")
    back = loads(text.encode())
    assert back.created_at == datetime(2026, 1, 1, 5, tzinfo=UTC)
    # Read in any offset, stored in UTC: the same instant is the same record and text.
    assert back.created_at.utcoffset() == timedelta(0)
    assert loads(dumps(back)) == back
    assert "-05:00" not in dumps(back)


@pytest.mark.parametrize(
    "indent", [-1, 10**5000, 2.5, "  ", True], ids=["negative", "huge", "float", "str", "bool"]
)
def test_dumps_refuses_an_odd_indent(indent: object) -> None:
    """json.dumps raised OverflowError or TypeError for these."""
    from funnel import ValidationError

    record = Lead(id="L1", contact=Contact(name="Ada"), source="web", created_at=T0)
    with pytest.raises(ValidationError, match="indent"):
        dumps(record, indent=indent)  # type: ignore[arg-type]
    assert dumps(record, indent=2).startswith("{\n  ")


@st.composite
def merged_leads(draw: st.DrawFn) -> Lead:
    """Leads with records merged into them (issue 17, item 4)."""
    lead = draw(leads())
    ids = draw(st.lists(st.text("abcXYZ09-", min_size=1, max_size=6), unique=True, max_size=4))
    entries = [
        MergedRecord(
            id=f"m-{i}",
            at=lead.created_at + timedelta(minutes=draw(st.integers(0, 10_000))),
            stage=draw(st.sampled_from(["acquired", "nurturing", "mql"])),
        )
        for i in ids
    ]
    return attrs.evolve(lead, merged_from=entries)


@given(merged_leads())
def test_merged_from_round_trips_through_documents_and_the_store(lead: Lead) -> None:
    from funnel.io.sql import SqlStore

    assert [(m.at, m.id) for m in lead.merged_from] == sorted(
        (m.at, m.id) for m in lead.merged_from
    )
    assert loads(dumps(lead)) == lead
    store = SqlStore("sqlite://")
    store.create_schema()
    store.add(lead)
    assert store.get(lead.id).record.merged_from == lead.merged_from
    store.engine.dispose()
