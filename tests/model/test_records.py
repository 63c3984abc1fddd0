"""Lead and Prospect are distinct, frozen, self-validating records."""

from __future__ import annotations

from decimal import Decimal

import attrs
import pytest

from funnel import (
    Company,
    Contact,
    Lead,
    Prospect,
    QualificationLevel,
    StageChange,
    ValidationError,
    convert,
)
from tests.helpers import T0, day, lead, outbound, ready_lead, reply


class TestLead:
    def test_defaults(self):
        """A new lead is acquired and raw."""
        new = lead()
        assert (new.stage, new.level) == ("acquired", QualificationLevel.RAW)

    def test_frozen(self):
        """Fields cannot be assigned; changes go through attrs.evolve."""
        new = lead()
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            new.stage = "mql"  # type: ignore[misc]

    def test_touches_sorted_by_time(self):
        """Touches are kept in time order whatever the input order."""
        new = lead(touches=[reply("r", 2, "o"), outbound("o", 1)])
        assert [t.id for t in new.touches] == ["o", "r"]

    def test_history_must_end_in_stage(self):
        """A history that ends elsewhere than the stage is refused."""
        change = StageChange(from_stage="acquired", to_stage="mql", event="mark_mql", at=day(1))
        with pytest.raises(ValueError, match="stage is 'acquired' but history ends at 'mql'"):
            lead(history=[change])

    def test_history_must_chain(self):
        """Each change starts where the previous ended."""
        a = StageChange(from_stage="acquired", to_stage="mql", event="mark_mql", at=day(1))
        b = StageChange(from_stage="sql", to_stage="nurturing", event="nurture", at=day(2))
        with pytest.raises(ValueError, match=r"history\[1\] starts at 'sql'"):
            lead(history=[a, b], stage="nurturing")

    def test_history_cannot_precede_creation(self):
        """The first change cannot be earlier than created_at."""
        a = StageChange(from_stage="acquired", to_stage="mql", event="mark_mql", at=day(-1))
        with pytest.raises(ValueError, match="precedes created_at"):
            lead(history=[a], stage="mql")

    def test_history_time_order(self):
        """Changes are in time order."""
        a = StageChange(from_stage="acquired", to_stage="mql", event="mark_mql", at=day(3))
        b = StageChange(from_stage="mql", to_stage="sql", event="mark_sql", at=day(2))
        with pytest.raises(ValueError, match="earlier than"):
            lead(history=[a, b], stage="sql")

    def test_empty_id_refused(self):
        """An id is required."""
        with pytest.raises(ValueError, match="Lead: id must not be empty"):
            lead("")

    def test_wrong_item_type_refused(self):
        """touches must hold Touch records."""
        with pytest.raises(TypeError, match="expected Touch"):
            lead(touches=["not a touch"])

    def test_repr_masks_personal_data(self):
        """The record's repr does not show the email address."""
        new = lead(contact=Contact(name="Ada", email="ada.lovelace@acme.example"))
        assert "lovelace" not in repr(new)

    @pytest.mark.parametrize("field", ["source", "owner", "segment"])
    @pytest.mark.parametrize("value", [5, b"web"])
    def test_text_fields_are_checked(self, field: str, value: object):
        """A value the serializer could not read back is refused when the record is made."""
        with pytest.raises(ValidationError, match=rf"Lead 'L1': {field} must be a string"):
            lead("L1", **{field: value})

    def test_source_is_required_text(self):
        with pytest.raises(ValidationError, match="Lead 'L1': source must be a string"):
            lead(source=None)


class TestMoney:
    def test_floats_keep_their_decimal_value(self):
        p = convert(ready_lead(), at=day(5))
        assert attrs.evolve(p, value=0.1).value == Decimal("0.1")
        assert attrs.evolve(p, value="1200.50").value == Decimal("1200.50")
        assert Company(name="A", annual_revenue=2.5e6).annual_revenue == Decimal("2500000.0")

    @pytest.mark.parametrize("bad", ["abc", float("nan"), float("inf"), "Infinity", True])
    def test_bad_money_names_the_record_and_field(self, bad: object):
        p = convert(ready_lead(), at=day(5))
        with pytest.raises(ValidationError, match=rf"Prospect {p.id!r}: value must be a"):
            attrs.evolve(p, value=bad)
        with pytest.raises(ValidationError, match="Company 'A': annual_revenue must be a"):
            Company(name="A", annual_revenue=bad)


class TestProspect:
    def test_distinct_type(self):
        """A prospect is not a lead, and a lead is not a prospect."""
        p = convert(ready_lead(), at=day(3))
        assert isinstance(p, Prospect)
        assert not isinstance(p, Lead)
        assert not issubclass(Prospect, Lead)
        assert not issubclass(Lead, Prospect)

    def test_carries_lead_history(self):
        """A prospect keeps the lead's contact, touches, evidence and history."""
        source = ready_lead()
        p = convert(source, at=day(3))
        assert source.contact == p.contact
        assert source.touches == p.touches
        assert source.evidence == p.evidence
        assert source.created_at == T0 == p.created_at
        assert p.history[-1].event == "convert"

    def test_negative_value_refused(self):
        """A deal value cannot be negative."""
        p = convert(ready_lead(), at=day(3))
        with pytest.raises(ValueError, match="value"):
            attrs.evolve(p, value=-1)
