"""The asyncio store: :class:`AsyncSqlStore` on a SQLAlchemy ``AsyncEngine``."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from funnel.engine.dedupe import MergeResult
from funnel.engine.erase import DEFAULT_REASON
from funnel.engine.funnel import Funnel
from funnel.exceptions import FunnelError
from funnel.io.sql._core import Explain, Record, StoreCore, Versioned, memory_sqlite, open_engine
from funnel.model.history import StageChange

T = TypeVar("T")


class AsyncSqlStore(StoreCore):
    """
    :class:`~funnel.io.sql.SqlStore` for asyncio applications, on an ``AsyncEngine``.

    The same tables, rules and guarantees: every operation runs the synchronous store's
    own code on the async connection (``AsyncConnection.run_sync``), so the two stores
    check records, versions and histories alike and send the same statements.

    Args:
        engine: An :class:`~sqlalchemy.ext.asyncio.AsyncEngine` or an async URL
            (``"sqlite+aiosqlite:///funnel.db"``, ``"postgresql+psycopg://..."``).
        prefix, funnel, metadata: as for :class:`~funnel.io.sql.SqlStore`.

    Concurrent tasks each use their own connection; on an in-memory SQLite database
    (one connection) the store's calls take turns.

    >>> import asyncio
    >>> from datetime import datetime, timezone
    >>> from funnel import Contact, Lead
    >>> async def main():
    ...     store = AsyncSqlStore("sqlite+aiosqlite://")
    ...     await store.create_schema()
    ...     at = datetime(2026, 3, 1, tzinfo=timezone.utc)
    ...     lead = Lead(id="L1", contact=Contact(name="Ada"), source="web", created_at=at)
    ...     await store.add(lead)
    ...     stored = await store.get("L1")
    ...     await store.engine.dispose()
    ...     return stored.version
    >>> asyncio.run(main())
    1
    """

    def __init__(
        self,
        engine: AsyncEngine | str,
        *,
        prefix: str = "funnel_",
        funnel: Funnel | None = None,
        metadata: sa.MetaData | None = None,
    ) -> None:
        super().__init__(prefix=prefix, funnel=funnel, metadata=metadata)
        self.engine: AsyncEngine = open_engine(engine, AsyncEngine, create_async_engine)
        shared = memory_sqlite(self.engine.url) and isinstance(
            self.engine.pool, sa.pool.StaticPool
        )
        self._lock = asyncio.Lock() if shared else None

    @contextlib.asynccontextmanager
    async def _turn(self) -> AsyncIterator[None]:
        if self._lock is None:
            yield
            return
        async with self._lock:
            yield

    async def _read(self, op: Callable[..., T], *args: Any) -> T:
        async with self._turn(), self.engine.connect() as conn:
            return await conn.run_sync(op, *args)

    async def _write(self, op: Callable[..., T], *args: Any) -> T:
        async with self._turn():
            try:
                async with self.engine.begin() as conn:
                    return await conn.run_sync(op, *args)
            except Explain as refused:
                explain: Callable[[Connection], FunnelError] = refused.explain
            async with self.engine.connect() as conn:
                error = await conn.run_sync(explain)
        raise error

    async def create_schema(self) -> None:
        """See :meth:`SqlStore.create_schema <funnel.io.sql.SqlStore.create_schema>`."""
        await self._write(self._create_schema)

    async def upgrade_schema(self) -> int:
        """See :meth:`SqlStore.upgrade_schema <funnel.io.sql.SqlStore.upgrade_schema>`."""
        return await self._write(self._upgrade_schema)

    async def get(self, record_id: str) -> Versioned:
        """See :meth:`SqlStore.get <funnel.io.sql.SqlStore.get>`."""
        return await self._read(self._get, record_id)

    async def history(self, record_id: str) -> tuple[StageChange, ...]:
        """See :meth:`SqlStore.history <funnel.io.sql.SqlStore.history>`."""
        return await self._read(self._history, record_id)

    async def ids(self, *, kind: str | None = None, stage: str | None = None) -> list[str]:
        """See :meth:`SqlStore.ids <funnel.io.sql.SqlStore.ids>`."""
        return await self._read(self._ids, kind, stage)

    async def contains(self, record_id: object) -> bool:
        """Whether a record has this id (``record_id in store`` of the synchronous store)."""
        return await self._read(self._contains, record_id)

    async def merged_into(self, record_id: str) -> str | None:
        """See :meth:`SqlStore.merged_into <funnel.io.sql.SqlStore.merged_into>`."""
        return await self._read(self._merged_into, record_id)

    async def merge(
        self, result: MergeResult, *, survivor_version: int, absorbed_version: int
    ) -> Versioned:
        """See :meth:`SqlStore.merge <funnel.io.sql.SqlStore.merge>`."""
        return await self._write(self._merge, result, survivor_version, absorbed_version)

    async def erase(
        self, record_id: str, *, at: datetime, reason: str = DEFAULT_REASON
    ) -> Versioned:
        """See :meth:`SqlStore.erase <funnel.io.sql.SqlStore.erase>`."""
        return await self._write(self._erase, record_id, at, reason)

    async def add(self, record: Record) -> Versioned:
        """See :meth:`SqlStore.add <funnel.io.sql.SqlStore.add>`."""
        return await self._write(self._add, record)

    async def add_many(self, records: Iterable[Record]) -> list[Versioned]:
        """See :meth:`SqlStore.add_many <funnel.io.sql.SqlStore.add_many>`."""
        return await self._write(self._add_many, records)

    async def save(self, record: Record, expected_version: int) -> Versioned:
        """See :meth:`SqlStore.save <funnel.io.sql.SqlStore.save>`."""
        return await self._write(self._save, record, expected_version)

    async def save_many(self, items: Iterable[tuple[Record, int]]) -> list[Versioned]:
        """See :meth:`SqlStore.save_many <funnel.io.sql.SqlStore.save_many>`."""
        return await self._write(self._save_many, items)

    async def transact(
        self,
        record_id: str,
        change: Callable[[Record], Record],
        *,
        retries: int = 100,
        after: Callable[[Record, Record], object] | None = None,
    ) -> Versioned:
        """
        See :meth:`SqlStore.transact <funnel.io.sql.SqlStore.transact>`.

        *change* and *after* are plain (synchronous) functions; while *change* runs,
        the event loop waits (keep it quick: it only computes the new record).
        """
        return await self._read(self._transact, record_id, change, retries, after)
