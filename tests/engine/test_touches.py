"""add_touch: a touch is added now; a past touch is an import (found in review)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

import funnel
from funnel import DEFAULT_FUNNEL, Lead, Touch, add_touch
from funnel.engine.dedupe import latest_change, merge
from funnel.exceptions import ChronologyError
from funnel.io.serialize import from_dict, to_dict
from tests.helpers import T0, day, form, lead, met, outbound, ready_lead
from tests.strategies import records


def _inbound(tid: str, at: float) -> Touch:
    return attrs.evolve(form(tid, 0), at=day(at))


def test_a_touch_dated_before_the_latest_change_is_refused_without_imported() -> None:
    """add_touch accepted a touch dated long before the record's latest change."""
    moved = funnel.advance(lead(touches=[form("f1", 1)]), "nurture", at=day(5))
    old = _inbound("f0", -100)
    adders: list[Callable[[Lead, Touch], Lead]] = [
        add_touch,
        DEFAULT_FUNNEL.add_touch,
        funnel.plan_touch,
    ]
    for add in adders:
        with pytest.raises(ChronologyError) as refused:
            add(moved, old)
        error = refused.value
        assert error.record is moved
        assert (error.event, error.stage) == ("add_touch", "nurturing")
        assert str(error) == (
            f"Lead 'L1' cannot add touch 'f0': touch.at ({day(-100).isoformat()}) precedes "
            f"its latest change ({day(5).isoformat()}); record a past touch with imported=True"
            f"\n  - touch.at must not precede {day(5).isoformat()}"
        )
        assert error.reasons == (f"touch.at must not precede {day(5).isoformat()}",)
        assert error.to_dict()["status"] == 409
        assert "Ada" not in str(error)
        assert "acme.example" not in str(error)
    assert moved.touches == (form("f1", 1),)  # the input is never changed


def test_imported_records_a_past_touch_in_time_order() -> None:
    moved = funnel.advance(lead(touches=[form("f1", 1)]), "nurture", at=day(5))
    new = add_touch(moved, _inbound("f0", -100), imported=True)
    assert [t.id for t in new.touches] == ["f0", "f1"]
    assert DEFAULT_FUNNEL.add_touch(moved, _inbound("f0", -100), imported=True) == new


def test_a_touch_at_the_latest_change_or_later_is_added() -> None:
    moved = funnel.advance(lead(), "nurture", at=day(5))
    assert add_touch(moved, _inbound("f1", 5)).touches[-1].id == "f1"
    assert add_touch(moved, _inbound("f2", 6)).touches[-1].id == "f2"


@pytest.mark.parametrize(
    "record",
    [
        pytest.param(lead(touches=[form("f1", 3)]), id="a touch"),
        pytest.param(lead(evidence=met("fit", at=3)), id="a finding"),
        pytest.param(funnel.advance(lead(), "nurture", at=day(3)), id="a stage change"),
        pytest.param(funnel.convert(ready_lead(), at=day(3)), id="a conversion"),
        pytest.param(lead(created_at=day(3)), id="the creation"),
    ],
)
def test_every_change_of_the_record_counts(record: funnel.Lead | funnel.Prospect) -> None:
    assert latest_change(record) == day(3)
    with pytest.raises(ChronologyError):
        add_touch(record, _inbound("late", 2.5))
    assert add_touch(record, _inbound("late", 3)).touches[-1].id == "late"


def test_a_merge_counts_as_a_change() -> None:
    result = merge(lead("L1"), lead("L2"), at=day(4))
    with pytest.raises(ChronologyError):
        add_touch(result.survivor, _inbound("f9", 3))


def test_a_refusal_by_time_comes_before_the_communication_rules() -> None:
    """A past outbound touch is judged by the stage it was sent in: that is an import."""
    moved = funnel.advance(lead(), "nurture", at=day(5))
    with pytest.raises(ChronologyError):
        add_touch(moved, outbound("o1", 1))
    assert add_touch(moved, outbound("o1", 1), imported=True).touches[0].id == "o1"


def test_constructors_and_loaders_take_touches_of_any_time() -> None:
    """Building or loading a record is an import: its touches may be of any time."""
    moved = funnel.advance(lead(), "nurture", at=day(5))
    built = attrs.evolve(moved, touches=(form("f1", 1), _inbound("f0", -100)))
    assert [t.id for t in built.touches] == ["f0", "f1"]
    assert from_dict(to_dict(built)) == built
    assert (
        Lead(
            id="L2",
            contact=moved.contact,
            source="list",
            created_at=T0,
            touches=[_inbound("f0", -100)],
        )
        .touches[0]
        .at
        < T0
    )


@given(record=records(), hours=st.integers(min_value=-24 * 60, max_value=24 * 60))
def test_add_touch_refuses_exactly_the_touches_before_the_latest_change(
    record: funnel.Lead | funnel.Prospect, hours: int
) -> None:
    at = latest_change(record) + timedelta(hours=hours)
    touch = Touch(id="hypothesis-touch", at=at, direction="inbound", channel="form")
    if at < latest_change(record):
        with pytest.raises(ChronologyError):
            add_touch(record, touch)
    else:
        assert touch in add_touch(record, touch).touches
    assert touch in add_touch(record, touch, imported=True).touches


def test_a_refused_touch_masks_an_id_that_is_an_address_and_shows_no_contact_data() -> None:
    """The three time checks (add_touch, erase, merge) worded their refusals three ways."""
    record = funnel.advance(lead("ada@acme.example"), "nurture", at=day(5))
    touch = attrs.evolve(_inbound("f0", 1), id="+44 20 7946 0958")
    with pytest.raises(ChronologyError) as refused:
        add_touch(record, touch)
    error = refused.value
    assert str(error).startswith(
        "Lead 'a***@acme.example' cannot add touch (id not shown: not a name): touch.at ("
    )
    assert (error.record, error.event, error.stage) == (record, "add_touch", "nurturing")
    shown = str(error) + repr(error.to_dict())
    assert error.to_dict()["record"] == "a***@acme.example"
    for personal in ("ada@", "Ada", "7946"):
        assert personal not in shown
