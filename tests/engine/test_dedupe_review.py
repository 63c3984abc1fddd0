"""
merge() never returns a record another door refuses (review items 2 and 5).

A prospect is judged by the qualification it stores: evidence recorded later, even
dated before the conversion (a rep's late note, a merged twin's findings), stays in
its evidence and no longer leaves it unable to move, load or be saved. A survivor
keeps every ``merged_from`` entry, also those older than itself.
"""

from __future__ import annotations

from datetime import timedelta

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import funnel
from funnel import DEFAULT_FUNNEL, Contact, Evidence, Lead, ValidationError
from funnel.engine.dedupe import latest_change, merge
from funnel.io.serialize import dumps, loads
from funnel.model.records import MergedRecord
from tests.helpers import T0, day, lead, ready_lead
from tests.strategies import records


def prospect(lead_id: str = "L1") -> funnel.Prospect:
    return funnel.convert(ready_lead(lead_id), at=day(3))


def late_no(at: float = 2.5) -> Evidence:
    """A finding recorded after the conversion, dated before it."""
    return Evidence(criterion="means", verdict="not-met", source="rep:z", at=day(at))


def usable(record: funnel.Lead | funnel.Prospect) -> None:
    """Every door takes *record*: the funnel's check, the JSON round trip."""
    assert DEFAULT_FUNNEL.check(record) is record
    assert loads(dumps(record)) == record


class TestBackdatedEvidence:
    def test_a_late_finding_dated_before_the_conversion_leaves_the_prospect_usable(self):
        noted = funnel.add_evidence(prospect(), late_no())
        assert late_no() in noted.evidence
        usable(noted)
        moved = funnel.advance(noted, "open_opportunity", at=day(5))
        assert moved.stage == "opportunity"
        assert moved.qualification.passed

    def test_merging_a_twin_with_such_a_finding_gives_a_usable_survivor(self):
        twin = Lead(
            id="L9",
            contact=Contact(name="Ada", email="ada@acme.example"),
            source="list",
            created_at=T0,
            evidence=[late_no()],
        )
        survivor = merge(twin, prospect(), at=day(10)).survivor
        assert survivor.id == "L1"
        assert late_no() in survivor.evidence
        usable(survivor)
        assert funnel.advance(survivor, "open_opportunity", at=day(11)).stage == "opportunity"

    def test_the_store_takes_the_survivor(self):
        pytest.importorskip("sqlalchemy")
        from funnel.io.sql import SqlStore

        store = SqlStore("sqlite://")
        store.create_schema()
        twin = Lead(
            id="L9",
            contact=Contact(name="Ada"),
            source="list",
            created_at=T0,
            evidence=[late_no()],
        )
        store.add(prospect())
        store.add(twin)
        result = merge(store.get("L9").record, store.get("L1").record, at=day(10))
        store.merge(result, survivor_version=1, absorbed_version=1)
        assert store.get("L1").record == result.survivor

    def test_a_qualification_citing_evidence_the_record_lacks_is_refused(self):
        real = prospect()
        # The record's own findings are gone: the stored verdict cites nothing it holds.
        unmet = attrs.evolve(real, evidence=(late_no(),))
        with pytest.raises(ValidationError, match="does not pass framework"):
            DEFAULT_FUNNEL.check(unmet)
        with pytest.raises(funnel.SerializationError):
            loads(dumps(unmet))


class TestMergedFrom:
    def test_a_survivor_created_later_keeps_older_merged_from_entries(self):
        """A absorbed Z on day 1; B, made on day 1.5, absorbs A: Z's entry predates B."""
        a = merge(
            lead("A", created_at=T0), lead("Z", created_at=T0, source="list"), at=day(1)
        ).survivor
        b = attrs.evolve(prospect("B"), created_at=day(1.5))
        survivor = merge(a, b, at=day(20)).survivor
        assert survivor.id == "B"
        assert [(m.id, m.at) for m in survivor.merged_from] == [("Z", day(1)), ("A", day(20))]
        assert survivor.merged_from[0].at < survivor.created_at
        usable(survivor)

    def test_the_latest_merge_cannot_precede_the_record(self):
        with pytest.raises(ValidationError, match="latest merge is into this record") as err:
            lead(
                created_at=day(2),
                merged_from=(MergedRecord(id="Z", at=day(1), stage="acquired"),),
            )
        assert err.value.field == "merged_from"


def _distinct_pair(pair: tuple[funnel.Lead | funnel.Prospect, ...]) -> bool:
    return pair[0].id != pair[1].id


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pair=st.tuples(records(), records()).filter(_distinct_pair),
    extra=st.lists(st.sampled_from(["met", "not-met", "unknown"]), max_size=3),
    lag=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3)),
)
def test_merge_never_returns_a_record_another_door_refuses(pair, extra, lag):
    a, b = pair
    # Findings dated at the other's conversion and before: the backdated case.
    for i, verdict in enumerate(extra):
        when = getattr(b, "converted_at", b.created_at) - timedelta(hours=i)
        if when >= a.created_at:
            a = funnel.add_evidence(
                a,
                Evidence(criterion="means", verdict=verdict, source=f"rep:{i}", at=when),
            )
    at = max(latest_change(a), latest_change(b)) + lag
    for first, second in ((a, b), (b, a)):
        result = merge(first, second, at=at)
        survivor = result.survivor
        usable(survivor)
        assert {m.id for m in survivor.merged_from} >= {
            second.id if survivor.id == first.id else first.id
        }
        for m in (*a.merged_from, *b.merged_from):
            assert m in survivor.merged_from
