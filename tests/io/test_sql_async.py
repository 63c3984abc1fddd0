"""AsyncSqlStore: the same rules and guarantees as SqlStore, on SQLAlchemy's asyncio engine."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest
import sqlalchemy as sa

import funnel
from funnel import PersistenceError, ValidationError
from funnel.exceptions import RecordNotFound, StaleWriteError
from funnel.io.sql import AsyncSqlStore, SqlStore, Versioned
from tests.io.test_sql import T0, WRITERS, _lead, _qualified, _touch, postgres_url

__all__ = ("postgres_url",)  # the fixture, imported for pytest

pytest.importorskip("aiosqlite")
pytest.importorskip("greenlet")


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=[pytest.mark.slow, pytest.mark.postgres]),
    ]
)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An async URL: aiosqlite on a file, or psycopg's async mode on the test server."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'funnel.db'}"
    return str(request.getfixturevalue("postgres_url"))


def run(url: str, body: Callable[[AsyncSqlStore], Awaitable[Any]], **options: Any) -> Any:
    """Run *body* on a fresh store (its own tables) in one event loop."""

    async def main() -> Any:
        store = AsyncSqlStore(url, prefix=f"as{uuid.uuid4().hex[:8]}_", **options)
        await store.create_schema()
        try:
            return await body(store)
        finally:
            await store.engine.dispose()

    return asyncio.run(main())


def test_add_get_history_and_listing(url: str) -> None:
    async def body(store: AsyncSqlStore) -> None:
        lead = funnel.advance(_lead(), "mark_mql", at=T0 + timedelta(hours=1))
        assert await store.add(lead) == Versioned(lead, 1)
        assert await store.get("L1") == (lead, 1)
        assert await store.history("L1") == lead.history
        assert await store.ids() == ["L1"]
        assert await store.ids(stage="mql") == ["L1"]
        assert await store.contains("L1")
        assert not await store.contains("a\x00b")
        with pytest.raises(RecordNotFound):
            await store.get("L9")
        with pytest.raises(PersistenceError, match="already stored") as err:
            await store.add(lead)
        assert err.value.__cause__ is None
        with pytest.raises(ValidationError) as bad:
            await store.ids(kind="leads")
        assert bad.value.field == "kind"

    run(url, body)


def test_a_stale_write_and_a_rewritten_history_are_refused(url: str) -> None:
    async def body(store: AsyncSqlStore) -> None:
        await store.add(_lead())
        first, version = await store.get("L1")
        assert isinstance(first, funnel.Lead)
        nurtured = funnel.advance(first, "nurture", at=T0 + timedelta(hours=1))
        assert (await store.save(nurtured, version)).version == 2
        with pytest.raises(StaleWriteError) as err:
            await store.save(first, version)
        assert (err.value.expected, err.value.actual) == (1, 2)
        with pytest.raises(PersistenceError, match="append-only"):
            await store.save(attrs.evolve(nurtured, history=()), 2)
        prospect = funnel.convert(
            _qualified(nurtured, T0 + timedelta(days=1)), at=T0 + timedelta(days=1)
        )
        await store.add(_lead("L2"))
        with pytest.raises(PersistenceError, match="without a transition"):
            await store.save(attrs.evolve(_lead("L2"), stage="mql", level="mql"), 1)
        assert (await store.save(prospect, 2)).version == 3
        with pytest.raises(PersistenceError, match="never become a lead"):
            await store.save(nurtured, 3)
        assert await store.get("L1") == (prospect, 3)

    run(url, body)


def test_batches_are_all_or_nothing(url: str) -> None:
    async def body(store: AsyncSqlStore) -> None:
        batch = [_lead(f"L{i}") for i in range(5)]
        assert await store.add_many(batch) == [Versioned(r, 1) for r in batch]
        with pytest.raises(PersistenceError, match=r"records\[1\] \('L3'\) is already stored"):
            await store.add_many([_lead("N1"), _lead("L3")])
        assert not await store.contains("N1")
        moved = [funnel.advance(r, "nurture", at=T0 + timedelta(hours=1)) for r in batch]
        await store.save(moved[3], 1)
        with pytest.raises(StaleWriteError, match="position 3"):
            await store.save_many([(r, 1) for r in moved])
        assert [(await store.get(r.id)).version for r in batch] == [1, 1, 1, 2, 1]
        items = [(r, 1) for r in moved[:3]]
        assert await store.save_many(items) == [Versioned(r, 2) for r in moved[:3]]

    run(url, body)


def _adds_touch(
    n: int,
) -> Callable[[funnel.Lead | funnel.Prospect], funnel.Lead | funnel.Prospect]:
    # All at one minute: add_touch refuses a touch before the record's latest change.
    return lambda record: funnel.add_touch(record, _touch(f"w{n}", 60))


def test_concurrent_writers_lose_no_update(url: str) -> None:
    """WRITERS tasks each add a touch through transact(): every touch is kept."""

    async def body(store: AsyncSqlStore) -> tuple[Any, int]:
        await store.add(_lead())
        await asyncio.gather(*(store.transact("L1", _adds_touch(n)) for n in range(WRITERS)))
        return await store.get("L1")

    record, version = run(url, body)
    assert {t.id for t in record.touches} == {"f1"} | {f"w{n}" for n in range(WRITERS)}
    assert version == 1 + WRITERS


def test_an_in_memory_database_is_shared_by_concurrent_tasks() -> None:
    async def body(store: AsyncSqlStore) -> tuple[Any, int]:
        await store.add(_lead())
        await asyncio.gather(*(store.transact("L1", _adds_touch(n)) for n in range(WRITERS)))
        return await store.get("L1")

    record, version = run("sqlite+aiosqlite://", body)
    assert version == 1 + WRITERS
    assert len(record.touches) == 1 + WRITERS


def test_the_async_and_sync_stores_share_tables_and_rules(tmp_path: Path) -> None:
    """What one store writes the other reads; one set of checks refuses the same records."""
    path = tmp_path / "both.db"
    sync = SqlStore(f"sqlite:///{path}")
    sync.create_schema()
    sync.add(_lead())

    async def body() -> None:
        store = AsyncSqlStore(f"sqlite+aiosqlite:///{path}")
        try:
            lead, version = await store.get("L1")
            await store.save(funnel.advance(lead, "nurture", at=T0 + timedelta(hours=1)), version)
            with pytest.raises(ValidationError, match="id has 256") as err:
                await store.add(_lead("x" * 256))
            assert err.value.field == "id"
        finally:
            await store.engine.dispose()

    asyncio.run(body())
    assert sync.get("L1").version == 2
    assert [c.event for c in sync.history("L1")] == ["nurture"]
    sync.engine.dispose()


@pytest.mark.parametrize("engine", [sa.create_engine("sqlite://"), 42])
def test_a_synchronous_engine_is_refused(engine: object) -> None:
    with pytest.raises(ValidationError, match="AsyncEngine") as err:
        AsyncSqlStore(engine)  # type: ignore[arg-type]
    assert err.value.field == "engine"
