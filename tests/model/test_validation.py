"""
Issue 11: every invalid value a model record is given raises ValidationError.

The error's message and attributes name the record (class, and id where it
has one), the field, and for closed sets the allowed values. Personal values
(name, email, phone, notes) are never echoed: only their type is.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo
from functools import partial
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import funnel
from funnel import (
    Company,
    Consent,
    Contact,
    Evidence,
    PassRule,
    StageChange,
    Touch,
    ValidationError,
)
from funnel.model.qualification import Criterion, Framework, IdealCustomerProfile
from tests.helpers import day

SECRET = "ada.lovelace@acme.example"


def touch(**kw: Any) -> Touch:
    base: dict[str, Any] = {"id": "t1", "at": day(0), "direction": "inbound", "channel": "email"}
    base.update(kw)
    return Touch(**base)


def evidence(**kw: Any) -> Evidence:
    base: dict[str, Any] = {
        "criterion": "budget",
        "verdict": "met",
        "source": "rep:a",
        "at": day(0),
    }
    base.update(kw)
    return Evidence(**base)


def contact(**kw: Any) -> Contact:
    base: dict[str, Any] = {"name": "Ada"}
    base.update(kw)
    return Contact(**base)


def company(**kw: Any) -> Company:
    base: dict[str, Any] = {"name": "Acme"}
    base.update(kw)
    return Company(**base)


def later(build: Callable[..., object], **kw: Any) -> Callable[[], object]:
    """A call to make later, untyped on purpose: the values are deliberately wrong."""
    return lambda: build(**kw)


def refused(make: Callable[[], object]) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        make()
    return info.value


class TestClosedSets:
    @pytest.mark.parametrize(
        ("field", "value", "allowed"),
        [
            ("direction", "sideways", ("inbound", "outbound")),
            (
                "channel",
                "fax",
                ("email", "call", "meeting", "form", "chat", "social", "event", "ad", "mail"),
            ),
            ("reach", "x", ("mass", "personal")),
            ("direction", 1, ("inbound", "outbound")),
            ("reach", None, ("mass", "personal")),
        ],
    )
    def test_touch_enums(self, field: str, value: object, allowed: tuple[str, ...]):
        """A value outside the set names the touch, the field and the allowed values."""
        err = refused(lambda: touch(**{field: value}))
        assert (err.record, err.field, err.allowed) == ("Touch 't1'", field, allowed)
        assert str(err).startswith(
            f"Touch 't1': {field} must be one of 'inbound'"[: 19 + len(field)]
        )
        for value_name in allowed:
            assert repr(value_name) in str(err)
        assert err.to_dict()["allowed"] == list(allowed)

    def test_verdict(self):
        err = refused(lambda: evidence(verdict="maybe"))
        assert (err.record, err.field, err.allowed) == (
            "Evidence 'budget'",
            "verdict",
            ("met", "not-met", "unknown"),
        )
        assert "'maybe'" in str(err)

    @pytest.mark.parametrize("kind", ["some", "", 3])
    def test_pass_rule_kind(self, kind: Any):
        err = refused(lambda: PassRule(kind))
        assert (err.record, err.field, err.allowed) == ("PassRule", "kind", ("all", "at-least"))


class TestNumbers:
    @pytest.mark.parametrize("k", ["3", 2.5, True, False, None])
    def test_pass_rule_k_must_be_an_int(self, k: Any):
        """at_least("3"), at_least(2.5) and at_least(True) are refused (True was accepted)."""
        err = refused(lambda: PassRule.at_least(k))
        assert (err.record, err.field) == ("PassRule", "k")

    @pytest.mark.parametrize("employees", [-5, "12", 3.0, True, float("nan")])
    def test_company_employees(self, employees: object):
        err = refused(lambda: company(employees=employees))
        assert (err.record, err.field) == ("Company 'Acme'", "employees")

    @pytest.mark.parametrize("revenue", [-1, "-0.5", float("nan"), "NaN"])
    def test_company_revenue(self, revenue: object):
        err = refused(lambda: company(annual_revenue=revenue))
        assert (err.record, err.field) == ("Company 'Acme'", "annual_revenue")

    @pytest.mark.parametrize(
        "kw", [{"min_employees": -1}, {"max_employees": "9"}, {"min_employees": True}]
    )
    def test_icp_counts(self, kw: dict[str, object]):
        err = refused(lambda: IdealCustomerProfile(**kw))  # type: ignore[arg-type]
        assert err.field in kw

    @pytest.mark.parametrize("revenue", ["abc", float("nan"), -5])
    def test_icp_revenue(self, revenue: object):
        err = refused(lambda: IdealCustomerProfile(min_revenue=revenue))
        assert (err.record, err.field) == ("IdealCustomerProfile", "min_revenue")

    def test_valid_numbers_still_work(self):
        assert PassRule.at_least(3).k == 3
        assert company(employees=0, annual_revenue=0).employees == 0


#: (builder, field, record label, optional?, holds personal data?)
TEXT_FIELDS: list[tuple[Callable[..., object], str, str, bool]] = [
    (touch, "id", "Touch", False),
    (touch, "sender", "Touch 't1'", True),
    (touch, "note", "Touch 't1'", True),
    (touch, "in_reply_to", "Touch 't1'", True),
    (evidence, "criterion", "Evidence", False),
    (evidence, "source", "Evidence 'budget'", False),
    (evidence, "note", "Evidence 'budget'", True),
    (contact, "name", "Contact", False),
    (contact, "email", "Contact", True),
    (contact, "phone", "Contact", True),
    (contact, "title", "Contact", True),
    (company, "name", "Company", False),
    (company, "industry", "Company 'Acme'", True),
    (company, "region", "Company 'Acme'", True),
    (company, "domain", "Company 'Acme'", True),
]
_IDS = [f"{b.__name__}.{f}" for b, f, _, _ in TEXT_FIELDS]


class TestText:
    @pytest.mark.parametrize(("build", "field", "label", "optional"), TEXT_FIELDS, ids=_IDS)
    @pytest.mark.parametrize("value", [123, b"bytes", ["a"]])
    def test_wrong_type(self, build, field: str, label: str, optional: bool, value: object):
        """A non-string names record, field and type; never the value."""
        err = refused(lambda: build(**{field: value}))
        assert (err.record, err.field) == (label, field)
        assert str(err) == (
            f"{label}: {field} must be {'a string or None' if optional else 'a string'}, "
            f"got {type(value).__name__}"
        )

    @pytest.mark.parametrize(("build", "field", "label", "optional"), TEXT_FIELDS, ids=_IDS)
    @pytest.mark.parametrize(
        ("bad", "why"),
        [
            ("\x00", "must not contain NUL characters"),
            ("\ud83d", "must not contain lone surrogates"),
        ],
    )
    def test_unstorable_characters(
        self, build, field: str, label: str, optional: bool, bad: str, why: str
    ):
        """NUL characters and lone surrogates are refused, without echoing the value."""
        value = f"{SECRET}{bad}"
        err = refused(lambda: build(**{field: value}))
        assert (err.record, err.field) == (label, field)
        assert str(err) == f"{label}: {field} {why}"

    @pytest.mark.parametrize(
        ("build", "field", "label"),
        [
            (touch, "id", "Touch"),
            (touch, "in_reply_to", "Touch 't1'"),
            (evidence, "criterion", "Evidence"),
            (evidence, "source", "Evidence 'budget'"),
            (contact, "name", "Contact"),
            (company, "name", "Company"),
        ],
    )
    @pytest.mark.parametrize("value", ["", "   "])
    def test_required_text_not_empty(self, build, field: str, label: str, value: str):
        err = refused(lambda: build(**{field: value}))
        assert str(err) == f"{label}: {field} must not be empty"

    @pytest.mark.parametrize("field", ["name", "email", "phone", "title"])
    def test_personal_values_never_echoed(self, field: str):
        """Whatever is wrong with a contact's data, the error shows no part of it."""
        for value in (f"{SECRET}\x00", f"{SECRET}\ud800"):
            err = refused(partial(contact, **{field: value}))
            assert "lovelace" not in str(err)
            assert "lovelace" not in repr(err.to_dict())

    def test_contact_is_not_named_by_its_name(self):
        """A contact's name is personal data: errors name the class only."""
        err = refused(lambda: contact(name="Ada Lovelace", email=5))
        assert "Lovelace" not in str(err)
        assert err.record == "Contact"

    @pytest.mark.parametrize(
        "make",
        [
            later(StageChange, from_stage=5, to_stage="mql", event="e", at=day(0)),
            later(StageChange, from_stage="a", to_stage="", event="e", at=day(0)),
            later(StageChange, from_stage="a", to_stage="b", event="e\x00", at=day(0)),
            later(StageChange, from_stage="a", to_stage="b", event="e", at=day(0), why=5),
            later(Criterion, key=5, name="Budget"),
            later(Criterion, key="budget", name=None),
            later(Criterion, key="budget", name="Budget", question=5),
            later(Criterion, key="budget", name="Budget", aliases=[5]),
            later(Framework, name=5, criteria=[Criterion(key="a", name="A")]),
            later(Framework, name="x", criteria=[Criterion(key="a", name="A")], rule="all"),
            later(IdealCustomerProfile, industries=[5]),
            later(IdealCustomerProfile, regions=["EU\x00"]),
            later(IdealCustomerProfile, criterion=5),
        ],
    )
    def test_other_model_text(self, make: Callable[[], object]):
        """History and qualification records check their text the same way."""
        err = refused(make)
        assert err.field is not None
        assert err.record is not None


class TestOtherFields:
    @pytest.mark.parametrize("value", ["no", 0, None])
    def test_consent_flags_are_bools(self, value: object):
        err = refused(lambda: Consent(opted_out=value))  # type: ignore[arg-type]
        assert (err.record, err.field) == ("Consent", "opted_out")

    def test_contact_company_and_consent_types(self):
        assert refused(lambda: contact(company="Acme")).field == "company"
        assert refused(lambda: contact(consent=None)).field == "consent"

    def test_connected_error_names_field(self):
        err = refused(lambda: touch(connected=True))
        assert (err.record, err.field) == ("Touch 't1'", "connected")

    def test_naive_at_names_record_and_field(self):
        from datetime import datetime

        err = refused(lambda: touch(at=datetime(2026, 1, 1)))  # noqa: DTZ001
        assert (err.record, err.field) == ("Touch 't1'", "at")
        assert refused(lambda: touch(at=SECRET)).summary == "Touch.at must be a datetime, got str"


class TestStructureErrors:
    """Errors about a record as a whole carry record and field too."""

    def test_pass_rule_k_below_one(self):
        err = refused(lambda: PassRule.at_least(-1))
        assert (str(err), err.field) == ("PassRule 'at-least' needs k >= 1, got -1", "k")

    def test_pass_rule_k_none_reads_none(self):
        assert str(refused(lambda: PassRule.at_least(None))).endswith("got None")  # type: ignore[arg-type]

    def test_criterion_is_not_labelled_by_the_refused_key(self):
        err = refused(lambda: Criterion(key="Budget!", name="Budget"))
        assert (err.record, err.field) == ("Criterion", "key")
        assert str(err).startswith("Criterion: key must be a lower-case identifier")

    def test_framework_errors(self):
        c = Criterion(key="fit", name="Fit")
        err = refused(lambda: Framework(name="x", criteria=(c, c)))
        assert (err.record, err.field) == ("Framework 'x'", "criteria")
        err = refused(lambda: Framework(name="x", criteria=(c,), rule=PassRule.at_least(2)))
        assert (err.record, err.field) == ("Framework 'x'", "rule")

    def test_history_errors(self):
        from funnel.model.history import check_history, replay_history

        a = StageChange(from_stage="acquired", to_stage="mql", event="e", at=day(1))
        b = StageChange(from_stage="sql", to_stage="won", event="e", at=day(2))
        err = refused(lambda: check_history((a, b), "won", "Lead 'L1'"))
        assert (err.record, err.field) == ("Lead 'L1'", "history")
        err = refused(lambda: check_history((a,), "sql", "Lead 'L1'"))
        assert (err.record, err.field) == ("Lead 'L1'", "stage")
        assert refused(lambda: replay_history([b], "acquired")).field == "history"


_ANY_TEXT = st.text(alphabet=st.characters(exclude_categories=()), max_size=6)


@settings(max_examples=300, deadline=None)
@given(
    value=st.one_of(st.none(), st.integers(), st.binary(max_size=3), _ANY_TEXT),
    optional=st.booleans(),
    blank=st.booleans(),
)
def test_text_validator_agrees_with_check_text(value: object, optional: bool, blank: bool):
    """The validators' fast path accepts exactly what check_text accepts."""
    from funnel._base.fields import check_text, text

    @attrs.frozen
    class Probe:
        value: object = attrs.field(validator=text(optional=optional, blank=blank))

    expected: str | None = None
    try:
        check_text(value, record="Probe", field="value", optional=optional, blank=blank)
    except ValidationError as err:
        expected = str(err)
    if expected is None:
        assert Probe(value).value == value
    else:
        with pytest.raises(ValidationError) as info:
            Probe(value)
        assert str(info.value) == expected


@pytest.mark.parametrize(
    "make",
    [
        lambda n: Company(name="Acme", employees=n),
        lambda n: funnel.IdealCustomerProfile(min_employees=n),
        lambda n: funnel.IdealCustomerProfile(max_employees=n),
        lambda n: funnel.PassRule.at_least(n),
    ],
    ids=["employees", "min_employees", "max_employees", "at_least"],
)
@pytest.mark.parametrize(
    "n", [2**63, 10**5000, -(10**5000)], ids=["2**63", "10**5000", "-10**5000"]
)
def test_a_count_too_large_to_store_is_refused_without_printing_it(make: object, n: int) -> None:
    """10**5000 employees was accepted (then dumps() raised ValueError), and a message
    printing -10**5000 raised ValueError itself (Python refuses to print 4,300+ digits)."""
    with pytest.raises(funnel.ValidationError) as info:
        make(n)  # type: ignore[operator]
    assert len(str(info.value)) < 300
    assert info.value.field is not None


def test_the_largest_count_is_kept() -> None:
    assert Company(name="Acme", employees=2**63 - 1).employees == 2**63 - 1


class _OutOfRange(tzinfo):
    def tzname(self, dt: datetime | None) -> str:
        return "odd"

    def dst(self, dt: datetime | None) -> None:
        return None

    def utcoffset(self, dt: datetime | None) -> timedelta:
        return timedelta(hours=30)


class _NotATimedelta(tzinfo):
    def tzname(self, dt: datetime | None) -> str:
        return "odd"

    def dst(self, dt: datetime | None) -> None:
        return None

    def utcoffset(self, dt: datetime | None) -> timedelta:
        return 5  # type: ignore[return-value]


class _Raising(tzinfo):
    def tzname(self, dt: datetime | None) -> str:
        return "odd"

    def dst(self, dt: datetime | None) -> None:
        return None

    def utcoffset(self, dt: datetime | None) -> timedelta:
        raise RuntimeError("no offset here")


@pytest.mark.parametrize("tz", [_OutOfRange(), _NotATimedelta(), _Raising()], ids=type)
def test_a_tzinfo_whose_utcoffset_fails_is_a_validation_error(tz: tzinfo) -> None:
    """Its own ValueError, TypeError or RuntimeError escaped from every record and at=."""
    at = datetime(2026, 3, 1, tzinfo=tz)
    with pytest.raises(funnel.ValidationError, match="utcoffset\\(\\) fails") as info:
        Touch(id="t1", at=at, direction="inbound", channel="email")
    assert info.value.field == "at"
    lead = funnel.Lead(
        id="L1",
        contact=funnel.Contact(name="Ada"),
        source="web",
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    with pytest.raises(funnel.ValidationError, match="utcoffset"):
        funnel.advance(lead, "nurture", at=at)
