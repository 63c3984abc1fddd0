"""The synchronous store: :class:`SqlStore` on a SQLAlchemy ``Engine``."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from funnel.engine.dedupe import MergeResult
from funnel.engine.erase import DEFAULT_REASON
from funnel.engine.funnel import Funnel
from funnel.exceptions import FunnelError, PersistenceError
from funnel.io.sql._core import Explain, Record, StoreCore, Versioned, memory_sqlite, open_engine
from funnel.model.history import StageChange

T = TypeVar("T")


class SqlStore(StoreCore):
    """
    Leads and prospects in a SQL database, with an append-only transition log.

    Args:
        engine: A SQLAlchemy :class:`~sqlalchemy.engine.Engine`, or a URL
            (``"sqlite:///funnel.db"``, ``"postgresql+psycopg://..."``). From the URL of
            an in-memory SQLite database (``"sqlite://"``) the store makes one database
            shared by every thread.
        prefix: Prefix of the table names, so that the tables can live
            beside an application's own.
        funnel: The funnel the stored records belong to (default:
            :data:`funnel.DEFAULT_FUNNEL`); :meth:`add` and :meth:`save` refuse a
            record it could not have made (a lead in a prospect stage, a history
            step that is not one of its edges), and reads are checked against it.
        metadata: Your application's :class:`~sqlalchemy.MetaData`: the tables are
            defined on it (see :func:`~funnel.io.sql.funnel_tables`), so that Alembic's
            autogenerate sees them. By default the store has a ``MetaData`` of its own.

    Thread-safe: each call uses its own connection from the engine's pool. An
    in-memory SQLite database has only one connection: the store's calls take turns on
    it. An engine you made with ``create_engine("sqlite://")`` gives each thread its own
    empty database; the store works from the thread that made it and refuses (a
    :class:`~funnel.exceptions.PersistenceError` saying so) to be used from another.
    """

    def __init__(
        self,
        engine: Engine | str,
        *,
        prefix: str = "funnel_",
        funnel: Funnel | None = None,
        metadata: sa.MetaData | None = None,
    ) -> None:
        super().__init__(prefix=prefix, funnel=funnel, metadata=metadata)
        self.engine: Engine = open_engine(engine, Engine, sa.create_engine)
        memory = memory_sqlite(self.engine.url)
        pool = self.engine.pool
        self._lock = threading.RLock() if memory and isinstance(pool, sa.pool.StaticPool) else None
        self._owner = (
            threading.get_ident()
            if memory and isinstance(pool, sa.pool.SingletonThreadPool)
            else None
        )

    @contextlib.contextmanager
    def _turn(self) -> Iterator[None]:
        if self._owner is not None and threading.get_ident() != self._owner:
            raise PersistenceError(
                "this store's engine is an in-memory SQLite database with one database per "
                "thread (SingletonThreadPool): another thread would see an empty database. "
                "Pass the URL (SqlStore('sqlite://')) or create the engine with "
                "poolclass=StaticPool and connect_args={'check_same_thread': False}"
            )
        if self._lock is None:
            yield
            return
        with self._lock:
            yield

    def _read(self, op: Callable[..., T], *args: Any) -> T:
        with self._turn(), self.engine.connect() as conn:
            return op(conn, *args)

    def _write(self, op: Callable[..., T], *args: Any) -> T:
        with self._turn():
            try:
                with self.engine.begin() as conn:
                    return op(conn, *args)
            except Explain as refused:
                explain: Callable[[Connection], FunnelError] = refused.explain
            with self.engine.connect() as conn:
                error = explain(conn)
        raise error

    def create_schema(self) -> None:
        """
        Create the store's tables and their append-only triggers where they do not exist yet.

        Only the store's tables, even on your application's ``MetaData``. Tables and
        triggers are created in one transaction, and the triggers are checked
        afterwards: a schema left half made (tables without triggers) is completed,
        never left with a writable history. With Alembic, run the shipped revision
        instead (see the how-to).

        Raises:
            PersistenceError: the triggers could not be verified.
        """
        self._write(self._create_schema)

    def upgrade_schema(self) -> int:
        """
        Upgrade the tables funnel 0.1 made under this prefix, then :meth:`create_schema`.

        funnel 0.1 kept transition times as text and lacked the columns and the erasures
        table of this version; its records and transitions are copied into the current
        tables (times parsed with their offsets). On PostgreSQL this is one transaction;
        on SQLite an interrupted upgrade resumes when run again. With Alembic, the
        shipped revision does the same (``alembic upgrade funnel@head``).

        Returns:
            How many records were copied (0: there were no 0.1 tables).

        Raises:
            PersistenceError: a stored transition time cannot be read (nothing is
                copied on PostgreSQL; run it again on SQLite once fixed).
        """
        return self._write(self._upgrade_schema)

    # -- reading ---------------------------------------------------------------------

    def get(self, record_id: str) -> Versioned:
        """
        The stored record and its version.

        Raises:
            RecordNotFound: no record has this id.
            PersistenceError: the record was merged into another (named) and archived.
            SerializationError: the stored document cannot be read (its path
                and the record id are in the message).
        """
        return self._read(self._get, record_id)

    def history(self, record_id: str) -> tuple[StageChange, ...]:
        """
        The record's stage changes, read from the append-only transitions table.

        Each time reads back as it was given, offset included.

        Raises:
            RecordNotFound: no record has this id.
        """
        return self._read(self._history, record_id)

    def ids(self, *, kind: str | None = None, stage: str | None = None) -> list[str]:
        """
        Stored record ids, sorted; optionally only one kind or one stage.

        Records merged into another (:meth:`merge`) are archived and left out.

        Raises:
            ValidationError: *kind* is not ``"lead"`` or ``"prospect"``, or
                *stage* is not a stage of the store's funnel.
        """
        return self._read(self._ids, kind, stage)

    def __contains__(self, record_id: object) -> bool:
        return self._read(self._contains, record_id)

    def merged_into(self, record_id: str) -> str | None:
        """
        The id of the record *record_id* was merged into (see :meth:`merge`), or ``None``.

        Raises:
            RecordNotFound: no record, stored or archived, has this id.
        """
        return self._read(self._merged_into, record_id)

    # -- writing ---------------------------------------------------------------------

    def add(self, record: Record) -> Versioned:
        """
        Store a new record at version 1, with its history so far.

        Raises:
            PersistenceError: a record with this id is already stored.
            ValidationError: the record does not fit the store's funnel.
        """
        return self._write(self._add, record)

    def add_many(self, records: Iterable[Record]) -> list[Versioned]:
        """
        Store new records at version 1, in one transaction: all of them or none.

        The records and their histories are written with one ``executemany`` each.

        Raises:
            ValidationError: a record does not fit the store's funnel or columns.
            PersistenceError: two records of the batch have one id, or a record with
                the id is already stored.

            Each error names the record and its position in the batch (in the message,
            and in a note); nothing of the batch is written.
        """
        return self._write(self._add_many, records)

    def save(self, record: Record, expected_version: int) -> Versioned:
        """
        Write *record* over the stored one if that is still at *expected_version*.

        The record's history must extend the stored history; its new changes
        are appended to the transitions table in the same transaction.

        Returns:
            The record with its new version (``expected_version + 1``).

        Raises:
            StaleWriteError: another writer saved first; nothing was written.
                Read again and redo the change (or use :meth:`transact`).
            RecordNotFound: no record has this id.
            PersistenceError: the write would turn a stored prospect back
                into a lead, or rewrite stored history.
            ValidationError: the record does not fit the store's funnel.
        """
        return self._write(self._save, record, expected_version)

    def save_many(self, items: Iterable[tuple[Record, int]]) -> list[Versioned]:
        """
        :meth:`save` for a batch of ``(record, expected_version)`` pairs, all or nothing.

        One transaction, one ``executemany`` for the records and one for the new
        transitions; every rule of :meth:`save` holds for each record.

        Raises:
            StaleWriteError, RecordNotFound, PersistenceError, ValidationError: as
                :meth:`save` does, for the first record of the batch that is refused,
                naming it and its position (in the message, or for ``RecordNotFound``
                in a note); nothing of the batch is written. Saving one record twice
                in a batch is a ``PersistenceError``.
        """
        return self._write(self._save_many, items)

    def merge(
        self, result: MergeResult, *, survivor_version: int, absorbed_version: int
    ) -> Versioned:
        """
        Store a merge: save the survivor and archive the absorbed record, in one transaction.

        *result* is what :func:`funnel.engine.dedupe.merge` returned for two stored
        records read at *survivor_version* and *absorbed_version*. The survivor is saved
        as :meth:`save` does (its ``merged_from`` names the absorbed record); the absorbed
        record's row is kept with its document and transitions, marked merged into the
        survivor (:meth:`merged_into`), and its version bumped. From then on :meth:`get`,
        :meth:`save` and :meth:`ids` pass it by (``get`` and ``save`` say where it went);
        :meth:`history` still reads its transitions; :meth:`erase` of either erases both.

        Returns:
            The survivor with its new version.

        Raises:
            StaleWriteError: either record was saved by someone else meanwhile; nothing
                was written.
            RecordNotFound, PersistenceError, ValidationError: as :meth:`save`, for
                either record (an archived record cannot be merged again); nothing was
                written.
        """
        return self._write(self._merge, result, survivor_version, absorbed_version)

    def erase(self, record_id: str, *, at: datetime, reason: str = DEFAULT_REASON) -> Versioned:
        """
        Erase a person: anonymise the stored record and every record merged with it.

        In one transaction, for the record and every record merged into it or that it
        was merged into (one person): the document is replaced by
        :func:`funnel.engine.erase.erase` of it, the reasons (``why``) of its stored
        transitions become ``"[erased]"``, and a row of the erasures table records the
        record id, *at*, *reason* and the version written. That row is the audit of the
        one rewrite the append-only triggers allow: a transition's ``why`` may change
        only while an erasure of its record is in progress in the same transaction, and
        nothing else of a transition ever changes. Stages, events, times, counts and
        versions stay, so reports over the store count erased people as before.

        The database may keep old row versions on disk until it reclaims them: run
        ``VACUUM`` on PostgreSQL (and on SQLite, or set ``PRAGMA secure_delete``) when
        erased data must leave the disk too.

        Idempotent: a record already erased (one :func:`~funnel.engine.erase.erase`
        leaves as it is) is not written again, gets no new version and no audit row;
        erasing a person twice writes nothing the second time and returns the stored
        record as :meth:`get` would. A record merged into an erased one since is erased
        (and audited) on its own.

        Returns:
            The erased record with its version: a new one if this call erased it, the
            stored one if it was erased already.

        Raises:
            RecordNotFound: no record, stored or archived, has this id.
            ValidationError: *at* is not aware, or *reason* is blank or not text.
        """
        return self._write(self._erase, record_id, at, reason)

    def transact(
        self,
        record_id: str,
        change: Callable[[Record], Record],
        *,
        retries: int = 100,
        after: Callable[[Record, Record], object] | None = None,
    ) -> Versioned:
        """
        Read the record, apply *change*, save; on a stale write, start again.

        *change* receives the freshly read record and returns the new one (it
        may be called several times, so it must not have side effects). After
        the write is committed, ``after(old, new)`` is called once, e.g.
        :meth:`funnel.engine.hooks.Hooks.dispatch`.

        Raises:
            StaleWriteError: still stale after *retries* new attempts.
            PersistenceError: *change* returned a record with another id.
            Whatever *change* raises (nothing is written then).
        """
        return self._read(self._transact, record_id, change, retries, after)
