"""Documents: repeated keys, canonical text, field paths, versions, and no personal data."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from funnel import Company, Contact, Lead, SerializationError, Touch, ValidationError
from funnel._base.fields import ident_shown, record_label
from funnel.io.serialize import dumps, loads

T0 = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def _lead(lead_id: str = "L1", revenue: Decimal | None = None) -> Lead:
    company = None if revenue is None else Company(name="Acme", annual_revenue=revenue)
    return Lead(
        id=lead_id,
        contact=Contact(name="Ada", email="ada@acme.example", company=company),
        source="web_form",
        created_at=T0,
    )


class TestRepeatedKeys:
    def test_a_repeated_id_is_refused_with_its_path(self) -> None:
        text = dumps(_lead()).replace('"id": "L1"', '"id": "L1", "id": "L2"')
        with pytest.raises(SerializationError) as info:
            loads(text)
        assert info.value.path == "data.id"
        assert "key 'id' appears twice" in str(info.value)

    def test_a_repeated_nested_key(self) -> None:
        twice = '"opted_out": true, "opted_out": false'
        text = dumps(_lead()).replace('"opted_out": false', twice)
        with pytest.raises(SerializationError) as info:
            loads(text)
        assert info.value.path == "data.contact.consent.opted_out"

    def test_a_repeated_key_that_is_not_a_name_is_not_shown(self) -> None:
        twice = '"data": {"Ada Lovelace": 1, "Ada Lovelace": 2, '
        text = dumps(_lead()).replace('"data": {', twice)
        with pytest.raises(SerializationError) as info:
            loads(text)
        assert "Ada" not in str(info.value)
        assert info.value.path == "data.<key not shown>"

    def test_a_document_without_repeats_still_loads(self) -> None:
        lead = _lead()
        assert loads(dumps(lead)) == lead


class TestCanonicalText:
    @given(
        st.decimals(allow_nan=False, allow_infinity=False, min_value=0, places=4),
        st.integers(0, 4),
    )
    def test_equal_decimals_give_equal_text(self, value: Decimal, zeros: int) -> None:
        padded = Decimal(f"{value:f}" + ("0" * zeros if "." in f"{value:f}" else ""))
        assert padded == value
        a, b = _lead(revenue=value), _lead(revenue=padded)
        assert a == b
        assert dumps(a) == dumps(b)
        assert loads(dumps(a)) == a

    def test_the_reviewer_case_and_large_exponents(self) -> None:
        assert dumps(_lead(revenue=Decimal("1.0"))) == dumps(_lead(revenue=Decimal("1.00")))
        huge = _lead(revenue=Decimal("1E+999999"))
        text = dumps(huge)
        assert len(text) < 1000  # not a million zeros
        assert loads(text) == huge
        assert '"annual_revenue": "1200.5"' in dumps(_lead(revenue=Decimal("1200.50")))


class TestPathsAndVersion:
    def test_a_record_validator_error_names_the_field(self) -> None:
        text = dumps(_lead()).replace("+00:00", "+00:00:30")
        with pytest.raises(SerializationError) as info:
            loads(text)
        assert info.value.path == "data.created_at"

    def test_a_nested_record_validator_error_names_the_field(self) -> None:
        text = dumps(_lead()).replace('"name": "Ada"', '"name": "A\\u0000"')
        with pytest.raises(SerializationError) as info:
            loads(text)
        assert info.value.path == "data.contact.name"

    @pytest.mark.parametrize("version", ["1.0", "true", '"1"'])
    def test_the_version_is_the_integer_1(self, version: str) -> None:
        document = json.loads(dumps(_lead()))
        text = json.dumps(document).replace('"version": 1', f'"version": {version}')
        with pytest.raises(SerializationError) as info:
            loads(text)
        assert info.value.path == "version"


# --------------------------------------------------------------------------- personal data

PHONES = st.builds(
    lambda cc, a, b, c, style: [
        f"+{cc} {a} {b} {c}",
        f"+{cc}{a}{b}{c}",
        f"({a}) {b}-{c}",
        f"{a}-{b}-{c}",
    ][style],
    st.integers(1, 99),
    st.integers(100, 999),
    st.integers(100, 999),
    st.integers(1000, 9999),
    st.integers(0, 3),
)
EMAILS = st.builds(
    lambda local, domain: f"{local}@{domain}.example",
    st.from_regex(r"[a-z]{3,10}\.[a-z]{3,10}", fullmatch=True),
    st.from_regex(r"[a-z]{3,8}", fullmatch=True),
)
PII = st.one_of(PHONES, EMAILS, st.builds(lambda p, e: f"Ada Lovelace {p} {e}", PHONES, EMAILS))


def _leaks(pii: str, message: str) -> bool:
    """Whether *message* shows the phone's digits or the address's local part."""
    if "@" in pii:
        local = pii.split("@")[0].split()[-1]
        return local in message
    digits = "".join(c for c in pii if c.isdigit())
    return digits[-6:] in "".join(c for c in message if c.isdigit())


@given(PII)
def test_no_phone_or_address_in_an_id_reaches_a_message(pii: str) -> None:
    """record_label, the field validators and loads never show them (review 16)."""
    messages: list[str] = [record_label(Touch.__new__(Touch))]
    with pytest.raises(ValidationError) as info:
        Touch(id=pii, at=T0, direction="sideways", channel="email")  # type: ignore[arg-type]
    messages += [str(info.value), str(info.value.record), repr(info.value)]
    with pytest.raises(ValidationError) as info:
        Lead(id=pii, contact=Contact(name="Jo"), source=5, created_at=T0)  # type: ignore[arg-type]
    messages += [str(info.value), str(info.value.record)]
    with pytest.raises(ValidationError) as info:
        Company(name=pii, employees=-1)
    messages += [str(info.value), str(info.value.record)]
    document = dumps(_lead()).replace('"source": "web_form"', f'"source": "web_form", "{pii}": 1')
    with pytest.raises(SerializationError) as ser:
        loads(document)
    messages += [str(ser.value), str(ser.value.path)]
    document = dumps(_lead()).replace('"id": "L1"', f'"id": "{pii}", "id": "{pii}"')
    with pytest.raises(SerializationError) as ser:
        loads(document)
    messages += [str(ser.value), str(ser.value.path)]
    for message in messages:
        assert not _leaks(pii, message), message


@pytest.mark.parametrize(
    ("ident", "shown"),
    [
        ("L-001", "'L-001'"),
        ("0012345", "'0012345'"),
        ("3f2a9c1e-0b1d-4c8e-9f00-1a2b3c4d5e6f", "'3f2a9c1e-0b1d-4c8e-9f00-1a2b3c4d5e6f'"),
        ("rep:alice", "'rep:alice'"),
        ("ada@acme.example", "'a***@acme.example'"),
        ("Ada Lovelace", None),
        ("+44 20 7946 0958", None),
        ("+442079460958", None),
    ],
)
def test_which_ids_a_message_shows(ident: str, shown: str | None) -> None:
    assert ident_shown(ident) == shown
