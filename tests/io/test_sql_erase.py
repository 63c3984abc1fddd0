"""The store's erasure and merge: one audited rewrite, archived absorbed records (issue 17)."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import funnel
from funnel import Lead, PersistenceError, ValidationError
from funnel.engine.dedupe import merge
from funnel.engine.erase import ERASED
from funnel.exceptions import RecordArchived, RecordNotFound, StaleWriteError
from funnel.io.sql import SqlStore, Versioned
from tests.engine.test_erase import EMAIL, NAME, PERSONAL, PHONE, T0, full_lead, full_prospect
from tests.io.test_sql import WRITERS, postgres_url, store

__all__ = ("postgres_url", "store")  # fixtures, imported for pytest

LATER = T0 + timedelta(days=20)


def _twin() -> Lead:
    """The same person, imported twice, with personal data of their own."""
    return Lead(
        id="L2",
        contact=funnel.Contact(name="A. Lovelace", email=EMAIL.upper(), phone=PHONE),
        source="list",
        created_at=T0,
        touches=[
            funnel.Touch(
                id="f1", at=T0, direction="inbound", channel="form", note=f"{NAME}, {PHONE}"
            )
        ],
    )


def _dump_tables(store: SqlStore) -> str:
    """Every column of every row of every table of the store, as text."""
    parts: list[str] = []
    with store.engine.connect() as conn:
        for table in (store.records, store.transitions, store.erasures):
            for row in conn.execute(sa.select(table)):
                parts.extend(
                    json.dumps(v, default=str) if isinstance(v, dict | list) else str(v)
                    for v in row
                )
    return "\n".join(parts)


def _leaks(text: str) -> list[str]:
    return [p for p in PERSONAL if p.lower() in text.lower()] + [
        p for p in ("A. Lovelace",) if p.lower() in text.lower()
    ]


def test_erasure_leaves_no_personal_field_in_any_table_log_or_repr(
    store: SqlStore, caplog: pytest.LogCaptureFixture
) -> None:
    """There was no way to erase a person: the append-only triggers blocked it."""
    store.add(full_prospect("L1"))
    store.add(_twin())
    survivor, v1 = store.get("L1")
    result = merge(survivor, store.get("L2").record, at=T0 + timedelta(days=5))
    store.merge(result, survivor_version=v1, absorbed_version=1)
    assert _leaks(_dump_tables(store))  # the test data did reach the tables
    with caplog.at_level(logging.DEBUG, logger="funnel"):
        erased = store.erase("L2", at=LATER, reason="ticket 42")  # the absorbed id
        after = store.get("L1")
        history = store.history("L1")
        archived_history = store.history("L2")
    assert _leaks(_dump_tables(store)) == []
    assert _leaks(caplog.text) == []
    assert _leaks(" ".join(str(r.args) for r in caplog.records)) == []
    assert _leaks(repr(erased)) == []
    assert _leaks(repr(after)) == []
    assert _leaks(repr(history) + repr(archived_history)) == []
    # Erasing either id erased the person: the absorbed record asked for, and its survivor.
    assert erased.record.id == "L2"
    assert erased.record.contact.name == after.record.contact.name == ERASED
    # The funnel stays countable: stages, events and times of every transition kept.
    original = full_prospect("L1").history
    assert [(c.event, c.at) for c in history] == [(c.event, c.at) for c in original]
    assert [c.why for c in history] == [None if c.why is None else ERASED for c in original]
    assert after.version == v1 + 2  # the merge, then the erasure
    with store.engine.connect() as conn:
        audit = conn.execute(sa.select(store.erasures).order_by(store.erasures.c.record_id)).all()
    assert [(a.record_id, a.reason, a.in_progress, a.erased_at) for a in audit] == [
        ("L1", "ticket 42", False, LATER),
        ("L2", "ticket 42", False, LATER),
    ]
    # The store keeps working on the erased record: a save extends the erased history.
    moved = funnel.add_touch(
        after.record,
        funnel.Touch(id="in9", at=LATER, direction="inbound", channel="email"),
    )
    assert store.save(moved, after.version).version == after.version + 1


def test_an_erased_lead_keeps_moving_and_a_stale_writer_is_refused(store: SqlStore) -> None:
    store.add(full_lead("L1"))
    lead, version = store.get("L1")
    erased = store.erase("L1", at=LATER)
    assert erased.version == version + 1
    with pytest.raises(StaleWriteError):
        store.save(funnel.advance(lead, "mark_mql", at=LATER), version)  # read before
    again = store.erase("L1", at=LATER, reason="second request")
    assert again == erased  # erasing twice changes nothing, not even the version
    assert store.save(funnel.advance(again.record, "mark_mql", at=LATER), again.version)


def _audit(store: SqlStore) -> list[tuple[str, str, int]]:
    e = store.erasures.c
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(e.record_id, e.reason, e.version).order_by(e.id)).all()
    return [tuple(r) for r in rows]


def test_a_second_erasure_writes_nothing_and_returns_the_stored_record(store: SqlStore) -> None:
    """A second erase() wrote another version and another audit row (review)."""
    store.add(full_prospect("L1"))
    store.add(_twin())
    survivor, v1 = store.get("L1")
    result = merge(survivor, store.get("L2").record, at=T0 + timedelta(days=5))
    store.merge(result, survivor_version=v1, absorbed_version=1)
    first = store.erase("L1", at=LATER, reason="ticket 42")
    tables = _dump_tables(store)
    audit = _audit(store)
    assert audit == [("L1", "ticket 42", first.version), ("L2", "ticket 42", 3)]
    for rid in ("L1", "L2"):  # either id of the person, again and again
        again = store.erase(rid, at=LATER + timedelta(days=1), reason="ticket 43")
        assert again.record.id == rid
        if rid == "L1":
            assert again == first == store.get("L1")
    assert _audit(store) == audit
    assert _dump_tables(store) == tables  # not a row, not a version, not a time changed


def test_an_erasure_after_a_merge_erases_only_the_newcomer(store: SqlStore) -> None:
    """An erased person merged with a new record: the erasure audits the new record only."""
    store.add(full_lead("L1"))
    erased = store.erase("L1", at=LATER)
    store.add(_twin())
    result = merge(erased.record, store.get("L2").record, at=LATER + timedelta(days=1))
    merged = store.merge(result, survivor_version=erased.version, absorbed_version=1)
    assert merged.record.contact.email is not None  # the twin brought an address back
    again = store.erase("L1", at=LATER + timedelta(days=2), reason="second request")
    assert again.version == merged.version + 1
    assert again.record.contact.email is None
    assert [(rid, reason) for rid, reason, _ in _audit(store)] == [
        ("L1", "erasure request"),
        ("L1", "second request"),
        ("L2", "second request"),
    ]
    assert store.erase("L2", at=LATER + timedelta(days=3)).version == 3  # nothing more
    assert len(_audit(store)) == 3


def test_the_triggers_allow_a_rewrite_only_through_an_erasure(store: SqlStore) -> None:
    """Only `why`, only of the record being erased, only while its erasure is in progress."""
    store.add(full_lead("L1"))
    store.add(full_lead("L3"))
    t, e = store.transitions, store.erasures
    refused = (sa.exc.DatabaseError, sa.exc.InternalError)

    def attempt(*statements: Any) -> None:
        with store.engine.begin() as conn:
            for statement in statements:
                conn.execute(statement)

    open_l3 = sa.insert(e).values(
        record_id="L3", erased_at=LATER, reason="x", version=1, in_progress=True
    )
    open_l1 = sa.insert(e).values(
        record_id="L1", erased_at=LATER, reason="x", version=1, in_progress=True
    )
    rewrite_l1 = sa.update(t).where(t.c.record_id == "L1").values(why="forged")
    with pytest.raises(refused, match="append-only"):
        attempt(rewrite_l1)  # no erasure at all
    with pytest.raises(refused, match="append-only"):
        attempt(open_l3, rewrite_l1)  # an erasure of another record
    with pytest.raises(refused, match="append-only"):
        attempt(open_l1, sa.update(t).where(t.c.record_id == "L1").values(event="forged"))
    with pytest.raises(refused, match="append-only"):
        attempt(open_l1, sa.delete(t).where(t.c.record_id == "L1"))
    assert store.history("L1") == full_lead("L1").history  # nothing of that was written
    store.erase("L1", at=LATER)
    with pytest.raises(refused, match="append-only"):
        attempt(sa.delete(e))
    with pytest.raises(refused, match="append-only"):
        attempt(sa.update(e).values(reason="rewritten"))
    with pytest.raises(refused, match="append-only"):
        attempt(sa.update(e).values(in_progress=True))  # reopening an erasure
    with pytest.raises(refused, match="append-only"):
        attempt(sa.update(t).where(t.c.record_id == "L1").values(why="forged"))  # closed


def test_erase_refuses_bad_arguments_and_unknown_ids(store: SqlStore) -> None:
    store.add(full_lead("L1"))
    with pytest.raises(RecordNotFound):
        store.erase("nobody", at=LATER)
    with pytest.raises(ValidationError) as err:
        store.erase("L1", at=LATER.replace(tzinfo=None))
    assert err.value.field == "at"
    with pytest.raises(ValidationError) as err:
        store.erase("L1", at=LATER, reason="")
    assert err.value.field == "reason"
    assert store.get("L1").version == 1  # nothing written


# -- merge (issue 17, item 4) -------------------------------------------------------------


def test_merge_saves_the_survivor_and_archives_the_absorbed_record(store: SqlStore) -> None:
    """The store could not archive the absorbed record."""
    store.add(full_lead("L1"))
    store.add(_twin())
    (a, va), (b, vb) = store.get("L1"), store.get("L2")
    result = merge(a, b, at=T0 + timedelta(days=1))
    saved = store.merge(result, survivor_version=va, absorbed_version=vb)
    assert saved == Versioned(result.survivor, va + 1)
    assert store.get("L1") == saved
    assert [m.id for m in store.get("L1").record.merged_from] == ["L2"]
    assert store.ids() == ["L1"]
    assert "L2" not in store
    assert store.merged_into("L2") == "L1"
    assert store.merged_into("L1") is None
    with pytest.raises(RecordArchived, match="merged into 'L1'") as gone:
        store.get("L2")
    assert gone.value.to_dict()["status"] == 410  # gone, not a server error (review)
    assert gone.value.survivor == "L1"
    with pytest.raises(PersistenceError, match="merged into 'L1'"):
        store.save(funnel.advance(b, "nurture", at=T0 + timedelta(days=2)), vb + 1)
    with pytest.raises(PersistenceError, match="merged into 'L1'"):
        store.save_many([(funnel.advance(b, "nurture", at=T0 + timedelta(days=2)), vb + 1)])
    assert store.history("L2") == b.history  # the archive keeps its transitions
    with pytest.raises(RecordNotFound):
        store.merged_into("L9")


def test_a_stale_merge_writes_nothing(store: SqlStore) -> None:
    store.add(full_lead("L1"))
    store.add(_twin())
    (a, va), (b, vb) = store.get("L1"), store.get("L2")
    result = merge(a, b, at=T0 + timedelta(days=1))
    store.save(funnel.advance(b, "nurture", at=T0 + timedelta(days=1)), vb)  # b moved on
    with pytest.raises(StaleWriteError) as err:
        store.merge(result, survivor_version=va, absorbed_version=vb)
    assert err.value.record_id == "L2"
    assert store.get("L1") == (a, va)  # the survivor's save was undone with it
    assert store.merged_into("L2") is None
    with pytest.raises(StaleWriteError):
        store.merge(result, survivor_version=va + 5, absorbed_version=vb + 1)
    with pytest.raises(ValidationError, match="MergeResult"):
        store.merge(a, survivor_version=va, absorbed_version=vb)  # type: ignore[arg-type]


# -- asyncio --------------------------------------------------------------------------------


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=[pytest.mark.slow, pytest.mark.postgres]),
    ]
)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    pytest.importorskip("aiosqlite")
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'funnel.db'}"
    return str(request.getfixturevalue("postgres_url"))


def test_the_async_store_merges_and_erases_alike(url: str) -> None:
    from funnel.io.sql import AsyncSqlStore

    async def main() -> tuple[Versioned, str | None, Versioned, str]:
        store = AsyncSqlStore(url, prefix=f"er{uuid.uuid4().hex[:8]}_")
        try:
            await store.create_schema()
            await store.add(full_lead("L1"))
            await store.add(_twin())
            a, b = await store.get("L1"), await store.get("L2")
            result = merge(a.record, b.record, at=T0 + timedelta(days=1))
            await store.merge(result, survivor_version=a.version, absorbed_version=b.version)
            into = await store.merged_into("L2")
            erased = await store.erase("L1", at=LATER)
            again = await store.erase("L2", at=LATER, reason="second request")
            assert again.record.id == "L2"
            async with store.engine.connect() as conn:
                audited = (await conn.execute(sa.select(store.erasures.c.record_id))).all()
            assert sorted(r.record_id for r in audited) == ["L1", "L2"]  # once each
            assert await store.erase("L1", at=LATER, reason="third") == erased
            async with store.engine.connect() as conn:
                rows = await conn.execute(sa.select(store.records.c.document))
                documents = json.dumps([r.document for r in rows])
            return await store.get("L1"), into, erased, documents
        finally:
            await store.engine.dispose()

    got, into, erased, documents = asyncio.run(main())
    assert into == "L1"
    assert got == erased
    assert got.record.contact.name == ERASED
    assert _leaks(documents) == []


def test_concurrent_erasures_of_one_person_write_one_audit_row(store: SqlStore) -> None:
    """The rows are locked before they are read: only the first erasure writes."""
    store.add(full_lead("L1"))
    barrier = threading.Barrier(WRITERS)
    results: list[Versioned] = []
    errors: list[BaseException] = []

    def eraser(n: int) -> None:
        try:
            barrier.wait()
            results.append(store.erase("L1", at=LATER, reason=f"ticket {n}"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=eraser, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(_audit(store)) == 1
    assert {r.version for r in results} == {2}
    assert all(r == store.get("L1") for r in results)
