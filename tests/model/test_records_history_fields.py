"""
Fields that restate the history agree with it, at every door (review item 11).

What the record alone can tell is checked when it is made: a prospect's history holds
its conversion, ``converted_at`` is that change's time, ``closed_at`` the last change's.
What needs the funnel (which stages confer a lead level, which are closed) is checked
by :meth:`funnel.Funnel.check`, which loads, payloads and the store run.
"""

from __future__ import annotations

from typing import Any

import attrs
import pytest

import funnel
from funnel import DEFAULT_FUNNEL, SerializationError, StageChange, ValidationError
from funnel.exceptions import TransitionError
from funnel.io.serialize import from_dict, to_dict
from tests.helpers import day, lead, ready_lead


def prospect() -> funnel.Prospect:
    return funnel.convert(ready_lead(), at=day(3))


def won() -> funnel.Prospect:
    p = funnel.advance(prospect(), "open_opportunity", at=day(4))
    p = funnel.advance(p, "engage_stakeholder", at=day(5))
    return funnel.advance(p, "win", at=day(6))


def forced(record: Any, **fields: object) -> Any:
    """*record* with *fields* set past its constructor (as a bypassing door would)."""
    copy = attrs.evolve(record)
    for name, value in fields.items():
        object.__setattr__(copy, name, value)
    return copy


def refused_on_load(record: Any, **fields: object) -> SerializationError:
    document = to_dict(record)
    for name, value in fields.items():
        document["data"][name] = value
    with pytest.raises(SerializationError) as err:
        from_dict(document)
    return err.value


def refused_by_check(record: Any, field: str) -> None:
    with pytest.raises(ValidationError) as err:
        DEFAULT_FUNNEL.check(record)
    assert err.value.field == field


SQL = StageChange(from_stage="acquired", to_stage="sql", event="mark_sql", at=day(1))


class TestLevel:
    def test_a_lead_in_sql_whose_level_is_raw_is_refused_by_the_funnel(self):
        bad = lead(stage="sql", level="raw", history=(SQL,))
        refused_by_check(bad, "level")
        refused_on_load(bad)
        with pytest.raises(TransitionError, match="does not fit funnel"):
            funnel.advance(bad, "nurture", at=day(2))
        refused_by_check(lead(stage="sql", level="raw"), "level")

    def test_the_level_a_stage_confers_is_kept_on_stages_that_confer_none(self):
        sql = lead(stage="sql", level="sql", history=(SQL,))
        nurtured = funnel.advance(sql, "nurture", at=day(2))
        assert nurtured.level == "sql"
        assert DEFAULT_FUNNEL.check(nurtured) is nurtured
        refused_by_check(attrs.evolve(nurtured, level="mql"), "level")
        # A lead imported in a stage that confers nothing keeps its own level.
        imported = lead(stage="nurturing", level="mql")
        assert DEFAULT_FUNNEL.check(imported) is imported

    def test_lead_level_is_the_level_the_lead_had_when_it_converted(self):
        p = prospect()
        assert p.lead_level == "raw"
        refused_by_check(attrs.evolve(p, lead_level="sql"), "lead_level")
        refused_on_load(p, lead_level="sql")
        from_sql = funnel.convert(
            attrs.evolve(ready_lead(), stage="sql", level="sql", history=(SQL,)), at=day(3)
        )
        assert from_sql.lead_level == "sql"
        assert DEFAULT_FUNNEL.check(from_sql) is from_sql
        refused_by_check(attrs.evolve(from_sql, lead_level="mql"), "lead_level")


class TestConvertedAt:
    def test_converted_at_is_the_time_of_the_conversion(self):
        p = prospect()
        assert p.converted_at == p.history[0].at
        with pytest.raises(ValidationError, match="not the time of the conversion") as err:
            attrs.evolve(p, converted_at=day(50))
        assert err.value.field == "converted_at"
        refused_on_load(p, converted_at=day(50).isoformat())
        refused_by_check(forced(p, converted_at=day(50)), "converted_at")


class TestClosedAt:
    def test_closed_at_is_set_exactly_when_the_stage_is_closed(self):
        open_ = prospect()
        refused_by_check(attrs.evolve(open_, closed_at=open_.history[-1].at), "closed_at")
        refused_on_load(open_, closed_at=open_.history[-1].at.isoformat())
        closed = won()
        assert closed.closed_at == closed.history[-1].at
        refused_by_check(attrs.evolve(closed, closed_at=None), "closed_at")
        refused_on_load(closed, closed_at=None)

    def test_closed_at_is_the_time_of_the_closing_change(self):
        closed = won()
        with pytest.raises(ValidationError, match="the one that closed it") as err:
            attrs.evolve(closed, closed_at=day(100))
        assert err.value.field == "closed_at"
        refused_on_load(closed, closed_at=day(100).isoformat())
        refused_by_check(forced(closed, closed_at=day(5)), "closed_at")


class TestHistory:
    def test_a_prospect_without_history_is_refused_when_made(self):
        p = prospect()
        with pytest.raises(ValidationError, match="must contain its conversion") as err:
            attrs.evolve(p, history=())
        assert err.value.field == "history"
        refused_on_load(p, history=[])
        refused_by_check(forced(p, history=()), "history")
