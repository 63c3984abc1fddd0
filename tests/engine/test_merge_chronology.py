"""merge, erase and add_touch refuse a time before the record's latest change in one wording."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

import funnel
from funnel import Lead, Prospect, add_touch
from funnel.engine.dedupe import latest_change, merge, refuse_before_latest_change
from funnel.engine.erase import erase
from funnel.exceptions import ChronologyError
from tests.helpers import day, form, lead, ready_lead

Record = Lead | Prospect


def test_a_merge_before_a_records_latest_change_names_that_record_and_the_field() -> None:
    """merge() said "cannot merge 'A' and 'B' at ...: lead 'B' last changed at ..."."""
    a = lead("A")
    b = funnel.advance(lead("B"), "nurture", at=day(3))
    for first, second in ((a, b), (b, a)):
        with pytest.raises(ChronologyError) as refused:
            merge(first, second, at=day(2))
        error = refused.value
        assert (error.record, error.event, error.stage) == (b, "merge", "nurturing")
        assert str(error) == (
            f"Lead 'B' cannot be merged with Lead 'A': at ({day(2).isoformat()}) precedes its "
            f"latest change ({day(3).isoformat()})\n  - at must not precede {day(3).isoformat()}"
        )
        assert error.reasons == (f"at must not precede {day(3).isoformat()}",)
        assert error.to_dict()["record"] == "B"


def test_a_refused_merge_masks_ids_that_are_addresses_and_shows_no_contact_data() -> None:
    a = lead("ada@acme.example")
    b = funnel.advance(lead("+44 20 7946 0958"), "nurture", at=day(3))
    with pytest.raises(ChronologyError) as refused:
        merge(a, b, at=day(2))
    error = refused.value
    assert error.record is b
    shown = str(error) + repr(error.to_dict())
    assert "cannot be merged with Lead 'a***@acme.example'" in str(error)
    for personal in ("ada@", "Ada", "7946"):
        assert personal not in shown


def _touch_door(record: Record, at: datetime) -> object:
    return add_touch(record, attrs.evolve(form("t9", 0), at=at))


def _erase_door(record: Record, at: datetime) -> object:
    return erase(record, at=at)


def _merge_door(record: Record, at: datetime) -> object:
    return merge(record, lead("Z9", created_at=day(-50)), at=at)


#: Each door: how to call it, what it says it was refused, its event and its field.
DOORS: list[tuple[Callable[[Record, datetime], object], str, str, str]] = [
    (_touch_door, "add touch 't9'", "add_touch", "touch.at"),
    (_erase_door, "be erased", "erase", "at"),
    (_merge_door, "be merged with Lead 'Z9'", "merge", "at"),
]


@pytest.mark.parametrize(
    ("door", "doing", "event", "field"), DOORS, ids=["touch", "erase", "merge"]
)
@given(
    kind=st.sampled_from(["lead", "moved", "prospect"]),
    before=st.integers(min_value=1, max_value=10**6),
)
def test_every_door_refuses_a_time_before_the_latest_change_in_one_wording(
    door: Callable[[Record, datetime], object],
    doing: str,
    event: str,
    field: str,
    kind: str,
    before: int,
) -> None:
    records: dict[str, Record] = {
        "lead": lead("L1", created_at=day(3)),
        "moved": funnel.advance(lead("L1"), "nurture", at=day(3)),
        "prospect": funnel.convert(ready_lead("L1"), at=day(3)),
    }
    record = records[kind]
    last = latest_change(record)
    at = last - timedelta(seconds=before)
    with pytest.raises(ChronologyError) as refused:
        door(record, at)
    error = refused.value
    owner = f"{type(record).__name__} 'L1'"
    summary = (
        f"{owner} cannot {doing}: {field} ({at.isoformat()}) precedes its latest change "
        f"({last.isoformat()})"
    )
    assert error.summary.startswith(summary)
    assert re.fullmatch(
        r"(; record a past touch with imported=True)?", error.summary[len(summary) :]
    )
    assert (error.record, error.event, error.stage) == (record, event, record.stage)
    assert error.reasons == (f"{field} must not precede {last.isoformat()}",)
    assert error.to_dict()["status"] == 409
    assert "Ada" not in str(error)
    assert "acme.example" not in str(error)
    door(record, last)  # at the latest change: accepted


def test_the_helper_accepts_the_latest_change_itself() -> None:
    record = funnel.advance(lead("L1"), "nurture", at=day(3))
    refuse_before_latest_change(record, day(3), event="erase", doing="be erased")
    with pytest.raises(ChronologyError):
        refuse_before_latest_change(
            record, day(3) - timedelta(microseconds=1), event="erase", doing="be erased"
        )
