"""
A SQLAlchemy 2 store for leads and prospects, with optimistic concurrency.

Two tables (names prefixed, ``funnel_`` by default):

``funnel_records``
    ``id`` (primary key), ``kind`` (``"lead"`` / ``"prospect"``), ``stage``,
    ``version`` (an integer, 1 on insert, +1 on every write), ``document``
    (the JSON of :func:`funnel.io.serialize.to_dict`; JSONB on PostgreSQL) and
    ``updated_at`` (the database's clock).
``funnel_transitions``
    ``record_id``, ``seq`` (0, 1, 2, ...), ``from_stage``, ``to_stage``,
    ``event``, ``at`` (ISO 8601 with offset) and ``why``: one row per stage
    change, **append-only**. The store never updates or deletes a row, and on
    SQLite and PostgreSQL a trigger refuses anyone else's attempt.

Writes are optimistic: :meth:`SqlStore.save` takes the version the writer
read and runs ``UPDATE ... WHERE id = :id AND version = :expected``. When no
row matches, nothing is written and :class:`~funnel.exceptions.StaleWriteError` says
which version is stored now. The new transitions are inserted in the same
database transaction, after checking that the record's history extends the
stored one (history is never rewritten). :meth:`SqlStore.transact` reads,
applies a function and saves, retrying on a stale write, so that concurrent
writers on one record lose no update.

>>> import sqlalchemy as sa
>>> from funnel import Contact, Lead
>>> store = SqlStore(sa.create_engine("sqlite://"))
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

import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection, Engine

from funnel._fields import text_problem
from funnel.engine.funnel import Funnel, resolve_funnel
from funnel.exceptions import (
    PersistenceError,
    RecordNotFound,
    SerializationError,
    StaleWriteError,
    ValidationError,
)
from funnel.io.serialize import from_dict, to_dict
from funnel.model.history import StageChange
from funnel.model.records import Lead, Prospect

__all__ = ("SqlStore", "Versioned")

Record = Lead | Prospect


class Versioned(NamedTuple):
    """A record as stored, with the version to pass to the next :meth:`SqlStore.save`."""

    record: Lead | Prospect
    version: int


def _kind(record: Record) -> str:
    if isinstance(record, Lead):
        return "lead"
    if isinstance(record, Prospect):
        return "prospect"
    raise ValidationError(f"expected a Lead or a Prospect, got {type(record).__name__}")


class SqlStore:
    """
    Leads and prospects in a SQL database, with an append-only transition log.

    Args:
        engine: A SQLAlchemy :class:`~sqlalchemy.engine.Engine`, or a URL
            (``"sqlite:///funnel.db"``, ``"postgresql+psycopg://..."``).
        prefix: Prefix of the two table names, so that the tables can live
            beside an application's own.
        funnel: The funnel the stored records belong to (default:
            :data:`funnel.DEFAULT_FUNNEL`); :meth:`add` and :meth:`save` refuse a
            record it could not have made (a lead in a prospect stage, a history
            step that is not one of its edges), and reads are checked against it.

    Thread-safe: each call uses its own connection from the engine's pool.
    """

    def __init__(
        self, engine: Engine | str, *, prefix: str = "funnel_", funnel: Funnel | None = None
    ) -> None:
        if not isinstance(prefix, str) or not _PREFIX.fullmatch(prefix):
            raise ValidationError(
                "prefix must be 1-40 letters, digits or underscores, starting with a letter "
                "or an underscore (it names SQL tables and triggers)",
                field="prefix",
            )
        self.funnel: Funnel = resolve_funnel(funnel)
        _check_names_fit(self.funnel)
        self.engine: Engine = sa.create_engine(engine) if isinstance(engine, str) else engine
        self.metadata = sa.MetaData()
        document_type = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
        self.records = sa.Table(
            f"{prefix}records",
            self.metadata,
            sa.Column("id", sa.String(MAX_ID), primary_key=True),
            sa.Column("kind", sa.String(16), nullable=False),
            sa.Column("stage", sa.String(100), nullable=False, index=True),
            sa.Column("version", sa.Integer, nullable=False),
            sa.Column("document", document_type, nullable=False),
            sa.Column(
                "updated_at",
                sa.DateTime(timezone=True),
                nullable=False,
                server_default=sa.func.current_timestamp(),
            ),
        )
        self.transitions = sa.Table(
            f"{prefix}transitions",
            self.metadata,
            sa.Column(
                "record_id",
                sa.String(255),
                sa.ForeignKey(self.records.c.id),
                primary_key=True,
            ),
            sa.Column("seq", sa.Integer, primary_key=True),
            sa.Column("from_stage", sa.String(100), nullable=False),
            sa.Column("to_stage", sa.String(100), nullable=False),
            sa.Column("event", sa.String(100), nullable=False),
            sa.Column("at", sa.String(40), nullable=False),
            sa.Column("why", sa.Text, nullable=True),
        )

    def _trigger_ddl(self, dialect: str) -> dict[str, list[str]]:
        """The append-only triggers of the transitions table, by trigger name, for *dialect*."""
        name = self.transitions.name
        message = f"{name} is append-only"
        if dialect == "sqlite":
            return {
                f"{name}_no_{op.lower()}": [
                    f'CREATE TRIGGER IF NOT EXISTS "{name}_no_{op.lower()}" BEFORE {op} '
                    f"ON \"{name}\" BEGIN SELECT RAISE(ABORT, '{message}'); END"
                ]
                for op in ("UPDATE", "DELETE")
            }
        if dialect == "postgresql":
            return {
                f"{name}_append_only": [
                    f'CREATE OR REPLACE FUNCTION "{name}_append_only"() RETURNS trigger '
                    f"LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '{message}'; END $$",
                    f'CREATE TRIGGER "{name}_append_only" BEFORE UPDATE OR DELETE ON "{name}" '
                    f'FOR EACH ROW EXECUTE FUNCTION "{name}_append_only"()',
                ]
            }
        return {}

    def _triggers(self, conn: Connection) -> set[str]:
        """The names of the triggers on the transitions table."""
        dialect = conn.dialect.name
        table = self.transitions.name
        if dialect == "sqlite":
            query = sa.text(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = :t"
            )
        elif dialect == "postgresql":
            query = sa.text(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = to_regclass(:t) "
                "AND NOT tgisinternal"
            )
            table = f'"{table}"'
        else:
            return set()
        return set(conn.execute(query, {"t": table}).scalars())

    def create_schema(self) -> None:
        """
        Create the two tables and their append-only triggers where they do not exist yet.

        Tables and triggers are created in one transaction, and the triggers are
        checked afterwards: a schema left half made (tables without triggers)
        is completed, never left with a writable history.

        Raises:
            PersistenceError: the triggers could not be verified.
        """
        with self.engine.begin() as conn:
            self.metadata.create_all(conn)
            wanted = self._trigger_ddl(conn.dialect.name)
            present = self._triggers(conn)
            for trigger, statements in wanted.items():
                if trigger not in present:
                    for statement in statements:
                        conn.execute(sa.text(statement))
            missing = set(wanted) - self._triggers(conn)
            if missing:
                raise PersistenceError(
                    f"the append-only triggers {sorted(missing)} could not be created"
                )

    # -- reading ---------------------------------------------------------------------

    def get(self, record_id: str) -> Versioned:
        """
        The stored record and its version.

        Raises:
            RecordNotFound: no record has this id.
            SerializationError: the stored document cannot be read (its path
                and the record id are in the message).
        """
        if not _could_be_stored(record_id, MAX_ID):
            raise RecordNotFound(record_id)
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(self.records.c.document, self.records.c.version).where(
                    self.records.c.id == record_id
                )
            ).first()
        if row is None:
            raise RecordNotFound(record_id)
        try:
            record = from_dict(row.document, funnel=self.funnel)
        except SerializationError as exc:
            raise SerializationError(
                f"stored record {record_id!r} cannot be read: {exc}", path=exc.path
            ) from exc
        return Versioned(record, row.version)

    def history(self, record_id: str) -> tuple[StageChange, ...]:
        """
        The record's stage changes, read from the append-only transitions table.

        Raises:
            RecordNotFound: no record has this id.
        """
        if not _could_be_stored(record_id, MAX_ID):
            raise RecordNotFound(record_id)
        with self.engine.connect() as conn:
            exists = conn.execute(
                sa.select(self.records.c.id).where(self.records.c.id == record_id)
            ).first()
            if exists is None:
                raise RecordNotFound(record_id)
            rows = conn.execute(self._history_query(record_id)).all()
        return tuple(_change(row) for row in rows)

    def ids(self, *, kind: str | None = None, stage: str | None = None) -> list[str]:
        """
        Stored record ids, sorted; optionally only one kind or one stage.

        Raises:
            ValidationError: *kind* is not ``"lead"`` or ``"prospect"``, or
                *stage* is not a stage of the store's funnel.
        """
        if kind is not None and kind not in ("lead", "prospect"):
            raise ValidationError(
                f"kind must be 'lead' or 'prospect', got {_shown(kind)}", field="kind"
            )
        if stage is not None and (not isinstance(stage, str) or stage not in self.funnel.stages):
            raise ValidationError(
                f"stage {_shown(stage)} is not a stage of funnel {self.funnel.name!r}",
                field="stage",
            )
        query = sa.select(self.records.c.id).order_by(self.records.c.id)
        if kind is not None:
            query = query.where(self.records.c.kind == kind)
        if stage is not None:
            query = query.where(self.records.c.stage == stage)
        with self.engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def __contains__(self, record_id: object) -> bool:
        if not _could_be_stored(record_id, MAX_ID):
            return False
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(self.records.c.id).where(self.records.c.id == record_id)
            ).first()
        return row is not None

    # -- writing ---------------------------------------------------------------------

    def add(self, record: Record) -> Versioned:
        """
        Store a new record at version 1, with its history so far.

        Raises:
            PersistenceError: a record with this id is already stored.
            ValidationError: the record does not fit the store's funnel.
        """
        kind = _kind(record)
        self.funnel.check(record)
        _check_fits(record)
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    sa.insert(self.records).values(
                        id=record.id,
                        kind=kind,
                        stage=record.stage,
                        version=1,
                        document=to_dict(record),
                    )
                )
                self._append(conn, record, record.history, start=0)
        except sa.exc.IntegrityError:
            # Not chained: the driver's message holds the whole document (personal data).
            raise PersistenceError(
                f"cannot add {kind} {record.id!r}: a record with this id is already stored"
            ) from None
        return Versioned(record, 1)

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
        kind = _kind(record)
        self.funnel.check(record)
        _check_fits(record)
        if isinstance(expected_version, bool) or not isinstance(expected_version, int):
            raise ValidationError(
                f"expected_version must be an int, got {type(expected_version).__name__}",
                field="expected_version",
            )
        if not 1 <= expected_version < MAX_VERSION:
            why = (
                f"{kind} {record.id!r}: expected_version {MAX_VERSION} is the last version "
                "a store keeps; the record cannot be saved again"
                if expected_version == MAX_VERSION
                else f"expected_version must be from 1 to {MAX_VERSION - 1}, "
                f"got {expected_version}"
            )
            raise ValidationError(why, record=f"{kind} {record.id!r}", field="expected_version")
        c = self.records.c
        conditions = [c.id == record.id, c.version == expected_version]
        if kind == "lead":
            conditions.append(c.kind == "lead")
        with self.engine.begin() as conn:
            before = conn.execute(
                sa.select(c.stage, c.kind).where(c.id == record.id, c.version == expected_version)
            ).first()
            result = conn.execute(
                sa.update(self.records)
                .where(*conditions)
                .values(
                    kind=kind,
                    stage=record.stage,
                    version=expected_version + 1,
                    document=to_dict(record),
                    updated_at=sa.func.current_timestamp(),
                )
            )
            if result.rowcount != 1:
                self._refusal(conn, record, expected_version)
            # The row is now locked by this transaction: the stored history cannot move.
            stored = tuple(_change(row) for row in conn.execute(self._history_query(record.id)))
            _check_extends(record, stored)
            if before is not None:
                self._check_moves(record, stored, before.stage, before.kind)
            self._append(conn, record, record.history[len(stored) :], start=len(stored))
        return Versioned(record, expected_version + 1)

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
        attempt = 0
        while True:
            old, version = self.get(record_id)
            new = change(old)
            if new.id != record_id:
                raise PersistenceError(
                    f"transact({record_id!r}): the change returned record {new.id!r}"
                )
            try:
                saved = self.save(new, version)
            except StaleWriteError:
                attempt += 1
                if attempt > retries:
                    raise
                continue
            if after is not None:
                after(old, new)
            return saved

    # -- helpers ---------------------------------------------------------------------

    def _history_query(self, record_id: str) -> sa.Select[Any]:
        t = self.transitions.c
        return (
            sa.select(t.from_stage, t.to_stage, t.event, t.at, t.why)
            .where(t.record_id == record_id)
            .order_by(t.seq)
        )

    def _append(
        self, conn: Connection, record: Record, changes: Sequence[StageChange], *, start: int
    ) -> None:
        if not changes:
            return
        conn.execute(
            sa.insert(self.transitions),
            [
                {
                    "record_id": record.id,
                    "seq": start + i,
                    "from_stage": ch.from_stage,
                    "to_stage": ch.to_stage,
                    "event": ch.event,
                    "at": ch.at.isoformat(),
                    "why": ch.why,
                }
                for i, ch in enumerate(changes)
            ],
        )

    def _check_moves(
        self, record: Record, stored: tuple[StageChange, ...], stage: str, kind: str
    ) -> None:
        """
        The store saves only what the machine did: a stage or kind changes with a
        transition, and the first new transition starts at the stored stage.
        """
        owner = f"{_kind(record)} {record.id!r}"
        new = record.history[len(stored) :]
        if not new:
            if record.stage != stage or _kind(record) != kind:
                raise PersistenceError(
                    f"cannot save {owner}: it moved from {kind} stage {stage!r} to "
                    f"{_kind(record)} stage {record.stage!r} without a transition; move "
                    "records with Funnel.advance()/convert()"
                )
            return
        if new[0].from_stage != stage:
            raise PersistenceError(
                f"cannot save {owner}: its first new transition starts at "
                f"{new[0].from_stage!r}, but the stored stage is {stage!r}"
            )
        levels = self.funnel.machine.levels
        crossed = any(
            levels.get(ch.from_stage) == "lead" and levels.get(ch.to_stage) == "prospect"
            for ch in new
        )
        if kind == "lead" and _kind(record) == "prospect" and not crossed:
            raise PersistenceError(
                f"cannot save {owner}: a stored lead becomes a prospect only through a "
                "conversion among its new transitions"
            )

    def _refusal(self, conn: Connection, record: Record, expected: int) -> None:
        row = conn.execute(
            sa.select(self.records.c.version, self.records.c.kind).where(
                self.records.c.id == record.id
            )
        ).first()
        if row is None:
            raise RecordNotFound(record.id)
        if row.version != expected:
            raise StaleWriteError(record.id, expected, row.version)
        raise PersistenceError(
            f"cannot save lead {record.id!r}: it is stored as a {row.kind}, "
            "and a prospect can never become a lead again"
        )


#: Column sizes, the same on every database (SQLite does not enforce them; PostgreSQL does).
MAX_ID = 255
MAX_NAME = 100
#: Versions are 32-bit integers: a record can be saved about two billion times.
MAX_VERSION = 2**31 - 1


def _check_fits(record: Record) -> None:
    """Refuse, before the database does, what its columns cannot hold."""
    owner = f"{type(record).__name__}"
    if len(record.id) > MAX_ID:
        raise ValidationError(
            f"{owner}: id has {len(record.id)} characters; the store keeps at most {MAX_ID}",
            record=owner,
            field="id",
        )
    names = [("stage", record.stage)]
    for i, change in enumerate(record.history):
        names += [
            (f"history[{i}].from_stage", change.from_stage),
            (f"history[{i}].to_stage", change.to_stage),
            (f"history[{i}].event", change.event),
        ]
    for field, value in names:
        if len(value) > MAX_NAME:
            raise ValidationError(
                f"{owner} {record.id!r}: {field} has {len(value)} characters; the store keeps "
                f"at most {MAX_NAME}",
                record=f"{owner} {record.id!r}",
                field=field,
            )


def _could_be_stored(value: object, longest: int) -> bool:
    """Whether *value* could be in a text column of *longest* characters (no NUL, no surrogate)."""
    return isinstance(value, str) and len(value) <= longest and text_problem(value) is None


def _shown(value: object) -> str:
    """A short, safe rendering of a looked-up name for an error message."""
    if isinstance(value, str) and _could_be_stored(value, MAX_NAME):
        return repr(value)
    return f"of type {type(value).__name__}" if not isinstance(value, str) else "(unstorable text)"


def _check_names_fit(funnel: Funnel) -> None:
    """Refuse a funnel whose stage or event names do not fit the store's columns."""
    for field, names in (("funnel.stages", funnel.stages), ("funnel.events", funnel.table.events)):
        for name in names:
            if len(name) > MAX_NAME:
                raise ValidationError(
                    f"funnel {funnel.name!r} cannot be stored: a name in {field[7:]} has "
                    f"{len(name)} characters; the store keeps at most {MAX_NAME}",
                    field=field,
                )


#: Table prefixes: they name tables and triggers, so only plain identifiers.
_PREFIX = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,39}")


def _change(row: Any) -> StageChange:
    return StageChange(
        from_stage=row.from_stage,
        to_stage=row.to_stage,
        event=row.event,
        at=datetime.fromisoformat(row.at),
        why=row.why,
    )


def _check_extends(record: Record, stored: tuple[StageChange, ...]) -> None:
    owner = f"{_kind(record)} {record.id!r}"
    if len(record.history) < len(stored):
        raise PersistenceError(
            f"cannot save {owner}: it has {len(record.history)} stage change(s) but "
            f"{len(stored)} are stored; history is append-only"
        )
    for seq, (mine, theirs) in enumerate(zip(record.history, stored, strict=False)):
        if mine != theirs:
            raise PersistenceError(
                f"cannot save {owner}: history[{seq}] differs from the stored transition "
                f"({mine.from_stage} -> {mine.to_stage} at {mine.at.isoformat()} vs "
                f"{theirs.from_stage} -> {theirs.to_stage} at {theirs.at.isoformat()}); "
                "history is append-only"
            )
