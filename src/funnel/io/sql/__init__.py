"""
SQLAlchemy 2 stores for leads and prospects, with optimistic concurrency.

:class:`SqlStore` (a synchronous ``Engine``) and :class:`AsyncSqlStore` (an asyncio
``AsyncEngine``; the ``sql-async`` extra) keep three tables, defined by
:func:`funnel_tables` on your application's ``MetaData`` if you pass it (names prefixed,
``funnel_`` by default):

``funnel_records``
    ``id`` (primary key), ``kind`` (``"lead"`` / ``"prospect"``), ``stage``,
    ``version`` (an integer, 1 on insert, +1 on every write), ``document``
    (the JSON of :func:`funnel.io.serialize.to_dict`; JSONB on PostgreSQL),
    ``updated_at`` (the database's clock), ``changes`` and ``history_digest`` (how many
    transitions, and their digest) and ``merged_into`` (set when the record was merged
    into another and archived, see :meth:`SqlStore.merge`).
``funnel_transitions``
    ``record_id``, ``seq`` (0, 1, 2, ...), ``from_stage``, ``to_stage``,
    ``event``, ``at`` (a timezone-aware timestamp, the UTC instant), ``at_offset``
    (the offset the time was given in, seconds east of UTC) and ``why``: one row per
    stage change, **append-only**. The store never deletes a row, and on SQLite and
    PostgreSQL a trigger refuses anyone's update or delete, but one: while an erasure of
    the record is in progress (:meth:`SqlStore.erase`), its rows' ``why`` may be rewritten.
``funnel_erasures``
    The audit of erasures: ``record_id``, ``erased_at``, ``reason``, ``version`` (the
    record's version the erasure wrote), ``in_progress`` (true only inside the erasing
    transaction) and ``recorded_at``; never deleted, only ever closed.

Writes are optimistic: :meth:`SqlStore.save` takes the version the writer
read and runs ``UPDATE ... WHERE id = :id AND version = :expected``. When no
row matches, nothing is written and :class:`~funnel.exceptions.StaleWriteError` says
which version is stored now. The new transitions are inserted in the same
database transaction, after checking that the record's history extends the
stored one (history is never rewritten). :meth:`SqlStore.transact` reads,
applies a function and saves, retrying on a stale write, so that concurrent
writers on one record lose no update. :meth:`SqlStore.add_many` and
:meth:`SqlStore.save_many` write a batch in one transaction (``executemany``), all or
nothing.

The shipped Alembic revision (branch label ``funnel``, in ``funnel.io.sql:migrations``)
creates the same tables and triggers; see the how-to "Embed funnel in an existing
application".

>>> from datetime import datetime, timezone
>>> import funnel
>>> from funnel import Contact, Lead
>>> store = SqlStore("sqlite://")   # one in-memory database, shared by every thread
>>> store.create_schema()
>>> at = datetime(2026, 3, 1, tzinfo=timezone.utc)
>>> store.add(Lead(id="L1", contact=Contact(name="Ada"), source="web", created_at=at)).version
1
>>> lead, version = store.get("L1")
>>> store.save(funnel.advance(lead, "nurture", at=at), version).version
2
>>> try:
...     store.save(lead, version)  # based on version 1, which is outdated
... except funnel.exceptions.StaleWriteError as exc:
...     print(exc.expected, exc.actual)
1 2
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from funnel.io.sql._core import Versioned
from funnel.io.sql._schema import MAX_ID, MAX_NAME, MAX_VERSION, FunnelTables, funnel_tables
from funnel.io.sql._sync import SqlStore

if TYPE_CHECKING:
    from funnel.io.sql._async import AsyncSqlStore

__all__ = (
    "MAX_ID",
    "MAX_NAME",
    "MAX_VERSION",
    "AsyncSqlStore",
    "FunnelTables",
    "SqlStore",
    "Versioned",
    "funnel_tables",
)


def __getattr__(name: str) -> Any:
    # The asyncio store needs SQLAlchemy's asyncio extension (greenlet): loaded when asked.
    if name == "AsyncSqlStore":
        from funnel.io.sql._async import AsyncSqlStore

        return AsyncSqlStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
