"""SqlStore.add_many and save_many: one transaction, all or nothing, every rule of add/save."""

from __future__ import annotations

from datetime import timedelta

import attrs
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import funnel
from funnel import PersistenceError, StageChange, ValidationError
from funnel.exceptions import RecordNotFound, StaleWriteError
from funnel.io.sql import SqlStore, Versioned
from tests.io.test_sql import T0, _lead, _qualified, postgres_url, store
from tests.strategies import records

__all__ = ("postgres_url", "store")  # fixtures, imported for pytest


def _leads(n: int) -> list[funnel.Lead]:
    return [
        funnel.advance(_lead(f"L{i}"), "mark_mql", at=T0 + timedelta(hours=1, minutes=i))
        for i in range(n)
    ]


def _nothing_more_than(store: SqlStore, stored: dict[str, Versioned]) -> None:
    """The store holds exactly *stored* (records, versions and histories)."""
    assert store.ids() == sorted(stored)
    for record_id, versioned in stored.items():
        assert store.get(record_id) == versioned
        assert store.history(record_id) == versioned.record.history


def test_add_many_stores_every_record_and_its_history(store: SqlStore) -> None:
    batch = _leads(30)
    assert store.add_many(batch) == [Versioned(r, 1) for r in batch]
    _nothing_more_than(store, {r.id: Versioned(r, 1) for r in batch})
    assert store.add_many([]) == []
    assert store.add_many(iter([_lead("G1")])) == [Versioned(_lead("G1"), 1)]


def test_a_duplicate_id_in_the_batch_refuses_it_whole(store: SqlStore) -> None:
    batch = [*_leads(3), _lead("L1")]
    with pytest.raises(PersistenceError, match=r"records\[3\].*'L1'.*records\[1\]"):
        store.add_many(batch)
    assert store.ids() == []


def test_an_id_already_stored_refuses_the_batch_and_names_its_position(store: SqlStore) -> None:
    first = store.add(_lead("L2"))
    with pytest.raises(PersistenceError, match=r"records\[2\] \('L2'\) is already stored") as err:
        store.add_many(_leads(4))
    # The driver's error holds the documents (emails): it is neither chained nor the context.
    assert err.value.__cause__ is None
    assert err.value.__context__ is None
    assert "acme" not in str(err.value)
    _nothing_more_than(store, {"L2": first})


def test_a_record_the_funnel_refuses_refuses_the_batch(store: SqlStore) -> None:
    wrong = attrs.evolve(
        _lead("L1"),
        stage="mql",
        history=(
            StageChange(from_stage="disqualified", to_stage="mql", event="resurrect", at=T0),
        ),
    )
    batch = _leads(3)
    batch[1] = wrong
    with pytest.raises(ValidationError, match=r"(?s)position 1.*not a transition") as err:
        store.add_many(batch)
    assert err.value.field is not None
    assert err.value.field.startswith("history")
    with pytest.raises(
        ValidationError, match=r"position 2 \(nothing was written\): Lead: id has 256"
    ):
        store.add_many([*_leads(2), _lead("x" * 256)])
    with pytest.raises(ValidationError, match=r"position 0.*: expected a Lead or a Prospect"):
        store.add_many(["L1"])  # type: ignore[list-item]
    with pytest.raises(ValidationError, match="iterable of records"):
        store.add_many(_lead("L1"))  # type: ignore[arg-type]
    assert store.ids() == []


def _stored(store: SqlStore, n: int) -> list[funnel.Lead]:
    batch = _leads(n)
    store.add_many(batch)
    return batch


def _nurtured(lead: funnel.Lead, minutes: int = 0) -> funnel.Lead:
    return funnel.advance(lead, "nurture", at=T0 + timedelta(days=1, minutes=minutes))


def test_save_many_writes_every_record_and_appends_the_new_changes(store: SqlStore) -> None:
    batch = _stored(store, 20)
    moved = [_nurtured(r, i) for i, r in enumerate(batch)]
    assert store.save_many([(r, 1) for r in moved]) == [Versioned(r, 2) for r in moved]
    _nothing_more_than(store, {r.id: Versioned(r, 2) for r in moved})
    again = [funnel.add_touch(r, _touch("t2", 3)) for r in moved]  # no new change
    store.save_many([(r, 2) for r in again])
    assert [len(store.history(r.id)) for r in again] == [2] * 20
    # Through conversion, prospects are saved in a batch like leads.
    prospect = funnel.convert(
        _qualified(again[0], T0 + timedelta(days=3)), at=T0 + timedelta(days=3)
    )
    assert store.save_many([(prospect, 3)]) == [Versioned(prospect, 4)]
    assert store.ids(kind="prospect") == [prospect.id]
    assert store.save_many([]) == []


def _touch(touch_id: str, days: int) -> funnel.Touch:
    return funnel.Touch(
        id=touch_id, at=T0 + timedelta(days=days), direction="inbound", channel="email"
    )


def test_a_stale_version_refuses_the_whole_batch(store: SqlStore) -> None:
    batch = _stored(store, 4)
    store.save(_nurtured(batch[2]), 1)  # another writer saves L2 first
    before = {r.id: store.get(r.id) for r in batch}
    attempt = [(funnel.add_touch(r, _touch("t9", 2)), 1) for r in batch]
    with pytest.raises(StaleWriteError, match="position 2") as err:
        store.save_many(attempt)
    assert (err.value.record_id, err.value.expected, err.value.actual) == ("L2", 1, 2)
    assert any("position 2" in note for note in err.value.__notes__)
    _nothing_more_than(store, before)


def test_an_unknown_record_refuses_the_batch(store: SqlStore) -> None:
    batch = _stored(store, 2)
    with pytest.raises(RecordNotFound) as err:
        store.save_many([(batch[0], 1), (_lead("L9"), 1)])
    assert err.value.record_id == "L9"
    assert err.value.__notes__ == [
        "save_many refused the batch at position 1; nothing in the batch was written"
    ]
    _nothing_more_than(store, {r.id: Versioned(r, 1) for r in batch})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda r: attrs.evolve(r, history=()),
            r"position 1 \(nothing was written\): cannot save lead 'L1'.*append-only",
        ),
        (
            lambda r: funnel.advance(
                attrs.evolve(
                    r,
                    stage="nurturing",
                    level="raw",
                    history=(attrs.evolve(r.history[0], to_stage="nurturing", event="nurture"),),
                ),
                "mark_mql",
                at=T0 + timedelta(days=2),
            ),
            r"position 1.*: cannot save lead 'L1': history\[0\] differs",
        ),
    ],
    ids=["drops-history", "rewrites-history"],
)
def test_a_record_that_breaks_the_history_refuses_the_batch(
    store: SqlStore, change: object, message: str
) -> None:
    batch = _stored(store, 3)
    items = [(_nurtured(r), 1) for r in batch]
    items[1] = (change(batch[1]), 1)  # type: ignore[operator]
    with pytest.raises(PersistenceError, match=message):
        store.save_many(items)
    _nothing_more_than(store, {r.id: Versioned(r, 1) for r in batch})


def test_a_prospect_cannot_be_saved_back_as_a_lead_in_a_batch(store: SqlStore) -> None:
    lead = _stored(store, 1)[0]
    prospect = funnel.convert(_qualified(lead, T0 + timedelta(days=1)), at=T0 + timedelta(days=1))
    store.save(prospect, 1)
    with pytest.raises(PersistenceError, match=r"position 0.*can never become a lead"):
        store.save_many([(lead, 2)])
    assert store.get("L0") == (prospect, 2)


def test_the_batch_must_be_pairs_of_distinct_records_and_valid_versions(store: SqlStore) -> None:
    batch = _stored(store, 2)
    with pytest.raises(PersistenceError, match=r"items\[1\].*'L0'.*items\[0\]"):
        store.save_many([(_nurtured(batch[0]), 1), (_nurtured(batch[0]), 1)])
    with pytest.raises(
        ValidationError, match=r"items\[1\] must be a \(record, expected_version\)"
    ):
        store.save_many([(batch[0], 1), batch[1]])  # type: ignore[list-item]
    for version in (0, 2**31 - 1, True, "1"):
        with pytest.raises(ValidationError, match=r"position 1.*expected_version") as err:
            store.save_many([(batch[0], 1), (batch[1], version)])  # type: ignore[list-item]
        assert err.value.field == "expected_version"
    _nothing_more_than(store, {r.id: Versioned(r, 1) for r in batch})


def test_a_writer_between_the_batch_read_and_write_refuses_the_batch(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another writer saves L1 after save_many read the versions and before it writes."""
    batch = _stored(store, 3)
    real = store._rows
    rival = _nurtured(batch[1])

    def read_then_rival(conn: sa.Connection, ids: list[str]) -> object:
        read = list(real(conn, ids))
        monkeypatch.setattr(store, "_rows", real)
        store.save(rival, 1)  # on its own connection, committed
        return read

    monkeypatch.setattr(store, "_rows", read_then_rival)
    with pytest.raises(StaleWriteError, match="position 1") as err:
        store.save_many([(funnel.add_touch(r, _touch("t9", 2)), 1) for r in batch])
    assert (err.value.record_id, err.value.actual) == ("L1", 2)
    assert err.value.__context__ is None
    _nothing_more_than(
        store,
        {"L0": Versioned(batch[0], 1), "L1": Versioned(rival, 2), "L2": Versioned(batch[2], 1)},
    )


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(records(), min_size=1, max_size=6, unique_by=lambda r: r.id))
def test_add_many_of_any_records_equals_adding_each(batch: list[funnel.Lead]) -> None:
    many, one = SqlStore("sqlite://"), SqlStore("sqlite://")
    for s in (many, one):
        s.create_schema()
    many.add_many(batch)
    for record in batch:
        one.add(record)
    for record in batch:
        assert many.get(record.id) == one.get(record.id) == (record, 1)
        assert many.history(record.id) == one.history(record.id) == record.history


def test_the_transition_rows_decide_when_the_digest_disagrees(store: SqlStore) -> None:
    """The digest is a shortcut: a wrong one never refuses a true extension of the log."""
    batch = _stored(store, 2)
    with store.engine.begin() as conn:
        conn.execute(sa.update(store.records).values(history_digest="0" * 64))
    store.save(_nurtured(batch[0]), 1)
    store.save_many([(_nurtured(batch[1]), 1)])
    assert [len(store.history(r.id)) for r in batch] == [2, 2]
    forged = attrs.evolve(_nurtured(batch[1]), history=())
    with pytest.raises(PersistenceError, match="append-only"):
        store.save(forged, 2)
