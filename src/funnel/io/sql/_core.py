"""
The store's rules and statements, once, over a synchronous SQLAlchemy ``Connection``.

:class:`~funnel.io.sql.SqlStore` runs these operations on its engine's connections;
:class:`~funnel.io.sql.AsyncSqlStore` runs the very same functions through
``AsyncConnection.run_sync``, so both stores check records, versions and histories with
one code path and send the same statements.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, NamedTuple, TypeVar, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from funnel._base.fields import check_text, text_problem
from funnel._base.time import require_aware
from funnel.engine.dedupe import MergeResult
from funnel.engine.erase import ERASED, erase
from funnel.engine.funnel import Funnel, resolve_funnel
from funnel.exceptions import (
    FunnelError,
    PersistenceError,
    RecordArchived,
    RecordNotFound,
    SerializationError,
    StaleWriteError,
    ValidationError,
)
from funnel.io.serialize import from_dict, to_dict
from funnel.io.sql._schema import (
    MAX_ID,
    MAX_NAME,
    MAX_VERSION,
    funnel_tables,
    present_triggers,
    trigger_ddl,
)
from funnel.io.sql._upgrade import is_0_1, upgrade_0_1
from funnel.model.history import StageChange
from funnel.model.records import Lead, Prospect

Record = Lead | Prospect
E = TypeVar("E", bound=FunnelError)
EngineT = TypeVar("EngineT")

#: The columns a save writes (besides ``updated_at``).
_WRITTEN = ("kind", "stage", "version", "document", "changes", "history_digest")

#: Ids per ``IN (...)`` list: well under SQLite's and PostgreSQL's limits on parameters.
CHUNK = 500


class Versioned(NamedTuple):
    """A record as stored, with the version to pass to the next ``save``."""

    record: Lead | Prospect
    version: int


class Explain(Exception):  # internal control flow: never reaches a caller
    """
    Raised inside a write when the typed answer needs a fresh look after the rollback.

    ``explain(conn)`` returns the error to raise (it never writes). The store rolls the
    transaction back, calls it on a new connection and raises what it returns, so that
    no driver error (whose text holds documents, thus personal data) is chained.
    """

    def __init__(self, explain: Callable[[Connection], FunnelError]) -> None:
        super().__init__("explain after rollback")
        self.explain = explain


def kind_of(record: object) -> str:
    if isinstance(record, Lead):
        return "lead"
    if isinstance(record, Prospect):
        return "prospect"
    raise ValidationError(f"expected a Lead or a Prospect, got {type(record).__name__}")


def memory_sqlite(url: sa.URL) -> bool:
    """Whether *url* names an in-memory SQLite database (one per connection)."""
    return url.get_backend_name() == "sqlite" and (
        url.database in (None, "", ":memory:") or url.query.get("mode") == "memory"
    )


def engine_options(url: sa.URL) -> dict[str, Any]:
    """
    What ``create_engine`` needs for *url*: an in-memory SQLite database is one
    connection shared by every thread (``StaticPool``), not one empty database per thread.
    """
    if memory_sqlite(url):
        return {"poolclass": sa.pool.StaticPool, "connect_args": {"check_same_thread": False}}
    return {}


def open_engine(engine: object, kind: type[EngineT], create: Callable[..., EngineT]) -> EngineT:
    """*engine* itself, or the engine ``create(url, ...)`` makes from a URL; refuse others."""
    url = _engine_url(engine, kind)
    if url is None:
        return engine  # type: ignore[return-value]
    return create(url, **engine_options(url))


def _engine_url(engine: object, kind: type) -> sa.URL | None:
    """The URL to create an engine from, ``None`` for an engine; refuse anything else."""
    if isinstance(engine, str | sa.URL):
        try:
            return sa.make_url(engine)
        except sa.exc.ArgumentError:
            raise ValidationError(
                "engine is not a database URL (e.g. 'sqlite:///funnel.db')", field="engine"
            ) from None
    if not isinstance(engine, kind):
        raise ValidationError(
            f"engine must be a SQLAlchemy {kind.__name__} or a URL, got {type(engine).__name__}",
            field="engine",
        )
    return None


class StoreCore:
    """What both stores share: the funnel, the tables and every operation on a connection."""

    def __init__(
        self, *, prefix: str, funnel: Funnel | None, metadata: sa.MetaData | None
    ) -> None:
        self.funnel: Funnel = resolve_funnel(funnel)
        _check_names_fit(self.funnel)
        self.metadata: sa.MetaData = sa.MetaData() if metadata is None else metadata
        self.prefix = prefix
        self.records, self.transitions, self.erasures = funnel_tables(self.metadata, prefix=prefix)

    # -- schema ------------------------------------------------------------------------

    def _triggers(self, conn: Connection) -> set[str]:
        """The names of the triggers on the transitions and erasures tables."""
        return present_triggers(conn, (self.transitions.name, self.erasures.name))

    @property
    def _tables(self) -> list[sa.Table]:
        return [self.records, self.transitions, self.erasures]

    def _create_schema(self, conn: Connection) -> None:
        inspector = sa.inspect(conn)
        existing = set(inspector.get_table_names())
        for table in self._tables:
            if table.name not in existing:
                continue
            present_columns = {c["name"] for c in inspector.get_columns(table.name)}
            lacking = [c.name for c in table.columns if c.name not in present_columns]
            if lacking:
                raise PersistenceError(
                    f"table {table.name!r} exists without the column(s) {lacking}: it was "
                    "made by funnel 0.1 (whose transitions.at was text, with no offset, count "
                    "or digest columns) or by someone else; upgrade a 0.1 schema with "
                    "SqlStore.upgrade_schema() or the shipped Alembic revision "
                    "(alembic upgrade heads)"
                )
        self.metadata.create_all(conn, tables=self._tables)
        wanted = trigger_ddl(self.prefix, conn.dialect.name)
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

    def _upgrade_schema(self, conn: Connection) -> int:
        copied = 0
        if is_0_1(conn, self.prefix):
            tables = self._tables
            copied = upgrade_0_1(
                conn, self.prefix, lambda: self.metadata.create_all(conn, tables=tables)
            )
        self._create_schema(conn)
        return copied

    # -- reading -----------------------------------------------------------------------

    def _get(self, conn: Connection, record_id: str) -> Versioned:
        if not _could_be_stored(record_id, MAX_ID):
            raise RecordNotFound(record_id)
        c = self.records.c
        row = conn.execute(
            sa.select(c.document, c.version, c.merged_into).where(c.id == record_id)
        ).first()
        if row is None:
            raise RecordNotFound(record_id)
        if row.merged_into is not None:
            raise _merged_away(record_id, row.merged_into)
        try:
            record = from_dict(row.document, funnel=self.funnel)
        except SerializationError as exc:
            raise SerializationError(
                f"stored record {record_id!r} cannot be read: {exc}", path=exc.path
            ) from exc
        return Versioned(record, row.version)

    def _history(self, conn: Connection, record_id: str) -> tuple[StageChange, ...]:
        self._merged_into(conn, record_id)  # RecordNotFound when no row has this id
        return tuple(_change(row) for row in conn.execute(self._history_query([record_id])))

    def _ids(self, conn: Connection, kind: str | None, stage: str | None) -> list[str]:
        if kind is not None and kind not in ("lead", "prospect"):
            raise ValidationError(
                f"kind must be 'lead' or 'prospect', got {_shown(kind)}", field="kind"
            )
        if stage is not None and (not isinstance(stage, str) or stage not in self.funnel.stages):
            raise ValidationError(
                f"stage {_shown(stage)} is not a stage of funnel {self.funnel.name!r}",
                field="stage",
            )
        c = self.records.c
        query = sa.select(c.id).where(c.merged_into.is_(None)).order_by(c.id)
        if kind is not None:
            query = query.where(c.kind == kind)
        if stage is not None:
            query = query.where(c.stage == stage)
        return list(conn.execute(query).scalars())

    def _contains(self, conn: Connection, record_id: object) -> bool:
        if not _could_be_stored(record_id, MAX_ID):
            return False
        c = self.records.c
        query = sa.select(c.id).where(c.id == record_id, c.merged_into.is_(None))
        return conn.execute(query).first() is not None

    def _merged_into(self, conn: Connection, record_id: object) -> str | None:
        """The survivor *record_id* was merged into, ``None`` for a record not merged away."""
        if not _could_be_stored(record_id, MAX_ID):
            raise RecordNotFound(str(record_id))
        c = self.records.c
        row = conn.execute(sa.select(c.merged_into).where(c.id == record_id)).first()
        if row is None:
            raise RecordNotFound(str(record_id))
        return None if row.merged_into is None else str(row.merged_into)

    # -- writing -----------------------------------------------------------------------

    def _checked(self, record: Record) -> str:
        """The record's kind, once it is known to fit the funnel and the columns."""
        kind = kind_of(record)
        self.funnel.check(record)
        _check_fits(record)
        return kind

    def _add(self, conn: Connection, record: Record) -> Versioned:
        kind = self._checked(record)
        try:
            conn.execute(sa.insert(self.records), _record_row(record, kind, 1))
            self._append(conn, record.id, record.history, start=0)
        except sa.exc.IntegrityError:
            # Not chained: the driver's message holds the whole document (personal data).
            raise PersistenceError(
                f"cannot add {kind} {record.id!r}: a record with this id is already stored"
            ) from None
        return Versioned(record, 1)

    def _add_many(self, conn: Connection, records: Iterable[Record]) -> list[Versioned]:
        batch = _listed(records, "add_many", "records")
        rows: list[dict[str, Any]] = []
        changes: list[dict[str, Any]] = []
        seen: dict[str, int] = {}
        for i, record in enumerate(batch):
            kind = _in_batch("add_many", i, self._checked, record)
            if record.id in seen:
                raise PersistenceError(
                    f"add_many refused the batch: records[{i}] ({kind} {record.id!r}) has the "
                    f"id of records[{seen[record.id]}]; nothing was written"
                )
            seen[record.id] = i
            rows.append(_record_row(record, kind, 1))
            changes.extend(_change_rows(record.id, record.history, 0))
        if not rows:
            return []
        try:
            conn.execute(sa.insert(self.records), rows)
        except sa.exc.IntegrityError:
            ids = [r.id for r in batch]
            raise Explain(lambda c: self._stored_already(c, ids)) from None
        if changes:
            conn.execute(sa.insert(self.transitions), changes)
        return [Versioned(record, 1) for record in batch]

    def _stored_already(self, conn: Connection, ids: list[str]) -> FunnelError:
        stored = {row.id for row in self._rows(conn, ids)}
        for i, record_id in enumerate(ids):
            if record_id in stored:
                return PersistenceError(
                    f"add_many refused the batch: records[{i}] ({record_id!r}) is already "
                    "stored; nothing was written"
                )
        return PersistenceError(  # pragma: no cover - another writer added and nobody deleted
            "add_many refused the batch: an id was stored by another writer meanwhile; "
            "nothing was written"
        )

    def _save(self, conn: Connection, record: Record, expected_version: int) -> Versioned:
        kind = self._checked(record)
        _check_version(record, kind, expected_version)
        c = self.records.c
        conditions = [c.id == record.id, c.version == expected_version, c.merged_into.is_(None)]
        if kind == "lead":
            conditions.append(c.kind == "lead")
        before = conn.execute(
            sa.select(c.stage, c.kind, c.changes, c.history_digest).where(
                c.id == record.id, c.version == expected_version
            )
        ).first()
        digests = history_digests(record.history)
        row = _record_row(record, kind, expected_version + 1, digests)
        del row["id"]
        result = conn.execute(
            sa.update(self.records)
            .where(*conditions)
            .values(**row, updated_at=sa.func.current_timestamp())
        )
        if result.rowcount != 1:
            self._refusal(conn, record, expected_version)
        # The row is now locked by this transaction: the stored history cannot move, and
        # ``before`` was read at the very version the UPDATE matched.
        count = self._check_extends(conn, record, before, digests)
        if before is not None:
            self._check_moves(record, count, before.stage, before.kind)
        self._append(conn, record.id, record.history[count:], start=count)
        return Versioned(record, expected_version + 1)

    def _save_many(self, conn: Connection, items: Iterable[tuple[Record, int]]) -> list[Versioned]:
        batch = _listed(items, "save_many", "(record, expected_version) pairs")
        kinds: list[str] = []
        seen: dict[str, int] = {}
        for i, item in enumerate(batch):
            if not isinstance(item, tuple) or len(item) != 2:
                raise ValidationError(
                    f"save_many: items[{i}] must be a (record, expected_version) pair, got "
                    f"{type(item).__name__}",
                    field=f"items[{i}]",
                )
            record, expected = item
            kind = _in_batch("save_many", i, self._checked, record)
            _in_batch("save_many", i, _check_version, record, kind, expected)
            if record.id in seen:
                raise PersistenceError(
                    f"save_many refused the batch: items[{i}] ({kind} {record.id!r}) saves the "
                    f"record of items[{seen[record.id]}] again; nothing was written"
                )
            seen[record.id] = i
            kinds.append(kind)
        if not batch:
            return []
        # The stored rows, read before the UPDATE: every transition is appended with a
        # version bump, so what is read here (stage, kind, history digest) is the state of
        # the version the UPDATE requires; a writer in between makes the UPDATE miss.
        stored = {row.id: row for row in self._rows(conn, [record.id for record, _ in batch])}
        new: list[dict[str, Any]] = []
        params: list[dict[str, Any]] = []
        for i, ((record, expected), kind) in enumerate(zip(batch, kinds, strict=True)):
            row = stored.get(record.id)
            if row is None:
                raise _at(RecordNotFound(record.id), "save_many", i)
            if row.merged_into is not None:
                raise _at(_merged_away(record.id, row.merged_into), "save_many", i)
            if row.version != expected:
                raise _at(StaleWriteError(record.id, expected, row.version), "save_many", i)
            if kind == "lead" and row.kind != "lead":
                raise _at(_never_back(record.id, row.kind), "save_many", i)
            digests = history_digests(record.history)
            count = _in_batch("save_many", i, self._check_extends, conn, record, row, digests)
            _in_batch("save_many", i, self._check_moves, record, count, row.stage, row.kind)
            new.extend(_change_rows(record.id, record.history[count:], count))
            values = _record_row(record, kind, expected + 1, digests)
            params.append({f"b_{k}": v for k, v in values.items()} | {"b_expected": expected})
        c = self.records.c
        update = (
            sa.update(self.records)
            .where(
                c.id == sa.bindparam("b_id"),
                c.version == sa.bindparam("b_expected"),
                c.merged_into.is_(None),
            )
            .values(
                {k: sa.bindparam(f"b_{k}") for k in _WRITTEN}
                | {"updated_at": sa.func.current_timestamp()}
            )
        )
        result = conn.execute(update, params)
        if result.rowcount != len(batch):  # another writer came between our read and write
            pairs = [(record.id, expected) for record, expected in batch]
            raise Explain(lambda c: self._raced(c, pairs))
        if new:
            conn.execute(sa.insert(self.transitions), new)
        return [Versioned(record, expected + 1) for record, expected in batch]

    def _raced(self, conn: Connection, pairs: list[tuple[str, int]]) -> FunnelError:
        stored = {row.id: row.version for row in self._rows(conn, [p[0] for p in pairs])}
        for i, (record_id, expected) in enumerate(pairs):
            if stored.get(record_id) != expected:
                return _at(
                    StaleWriteError(record_id, expected, stored.get(record_id)), "save_many", i
                )
        record_id, expected = pairs[0]  # pragma: no cover - a rival wrote and was undone
        return _at(StaleWriteError(record_id, expected, None), "save_many", 0)  # pragma: no cover

    def _transact(
        self,
        conn: Connection,
        record_id: str,
        change: Callable[[Record], Record],
        retries: int,
        after: Callable[[Record, Record], object] | None,
    ) -> Versioned:
        attempt = 0
        while True:
            with conn.begin():
                old, version = self._get(conn, record_id)
            new = change(old)
            if new.id != record_id:
                raise PersistenceError(
                    f"transact({record_id!r}): the change returned record {new.id!r}"
                )
            try:
                with conn.begin():
                    saved = self._save(conn, new, version)
            except StaleWriteError:
                attempt += 1
                if attempt > retries:
                    raise
                continue
            if after is not None:
                after(old, new)
            return saved

    # -- merging and erasing -----------------------------------------------------------

    def _merge(
        self, conn: Connection, result: object, survivor_version: int, absorbed_version: int
    ) -> Versioned:
        if not isinstance(result, MergeResult):
            raise ValidationError(
                f"merge() takes the MergeResult of funnel.engine.dedupe.merge(), got "
                f"{type(result).__name__}",
                field="result",
            )
        survivor, absorbed = result.survivor, result.absorbed_id
        if not any(m.id == absorbed for m in survivor.merged_from):
            raise ValidationError(
                f"merge(): survivor {survivor.id!r} does not name {absorbed!r} in merged_from",
                field="result",
            )
        kind = kind_of(survivor)
        _check_version(survivor, kind, absorbed_version)
        saved = self._save(conn, survivor, survivor_version)
        c = self.records.c
        archived = conn.execute(
            sa.update(self.records)
            .where(c.id == absorbed, c.version == absorbed_version, c.merged_into.is_(None))
            .values(
                merged_into=survivor.id,
                version=absorbed_version + 1,
                updated_at=sa.func.current_timestamp(),
            )
        )
        if archived.rowcount != 1:
            # Raised inside the transaction: the survivor's save is undone with it.
            row = conn.execute(sa.select(c.version, c.merged_into).where(c.id == absorbed)).first()
            if row is None:
                raise RecordNotFound(absorbed)
            if row.merged_into is not None:
                raise _merged_away(absorbed, row.merged_into)
            raise StaleWriteError(absorbed, absorbed_version, row.version)
        return saved

    def _erase(self, conn: Connection, record_id: object, at: object, reason: object) -> Versioned:
        when = require_aware(at, "at", field="at")
        check_text(reason, record=None, field="reason", blank=False)
        reason = cast(str, reason)
        family = self._family(conn, record_id)
        c = self.records.c
        # Lock the rows before reading them, so that what is read is what is rewritten:
        # SELECT ... FOR UPDATE on PostgreSQL; on SQLite (which has no FOR UPDATE) an
        # UPDATE that changes nothing takes the database's write lock.
        if conn.dialect.name == "sqlite":
            conn.execute(sa.update(self.records).where(c.id.in_(family)).values(version=c.version))
        rows = conn.execute(
            sa.select(c.id, c.document, c.version)
            .where(c.id.in_(family))
            .order_by(c.id)
            .with_for_update()
        ).all()
        stored: dict[str, Versioned] = {}
        erased: dict[str, Versioned] = {}
        for row in rows:
            try:
                record = from_dict(row.document, funnel=self.funnel)
            except SerializationError as exc:
                raise SerializationError(
                    f"stored record {row.id!r} cannot be read to erase it: {exc}", path=exc.path
                ) from None
            stored[row.id] = Versioned(record, row.version)
            gone = erase(record, at=when, reason=reason)
            if gone != record:  # an erased record is left as it is: no version, no audit
                erased[row.id] = Versioned(gone, min(row.version + 1, MAX_VERSION))
        if not erased:
            return stored[str(record_id)]
        ids = list(erased)
        e = self.erasures.c
        conn.execute(
            sa.insert(self.erasures),
            [
                {
                    "record_id": rid,
                    "erased_at": when,
                    "reason": reason,
                    "version": v.version,
                    "in_progress": True,
                }
                for rid, v in erased.items()
            ],
        )
        t = self.transitions.c
        conn.execute(
            sa.update(self.transitions)
            .where(t.record_id.in_(ids), t.why.is_not(None), t.why != ERASED)
            .values(why=ERASED)
        )
        conn.execute(
            sa.update(self.records)
            .where(c.id == sa.bindparam("b_id"))
            .values(
                version=sa.bindparam("b_version"),
                document=sa.bindparam("b_document", type_=self.records.c.document.type),
                history_digest=sa.bindparam("b_digest"),
                updated_at=sa.func.current_timestamp(),
            ),
            [
                {
                    "b_id": rid,
                    "b_version": v.version,
                    "b_document": to_dict(v.record),
                    "b_digest": history_digests(v.record.history)[-1],
                }
                for rid, v in erased.items()
            ],
        )
        conn.execute(
            sa.update(self.erasures)
            .where(e.record_id.in_(ids), e.in_progress.is_(True))
            .values(in_progress=False)
        )
        return erased.get(str(record_id), stored[str(record_id)])

    def _family(self, conn: Connection, record_id: object) -> list[str]:
        """
        *record_id* and every record merged with it: up to the survivor it went into,
        then down to every record merged into that (one person, several rows).
        """
        root = str(record_id)
        seen_up = {root}
        while (up := self._merged_into(conn, root)) is not None:
            if up in seen_up:  # pragma: no cover - merge() never makes a cycle
                break
            seen_up.add(up)
            root = up
        c = self.records.c
        family, frontier = [root], [root]
        while frontier:
            below = list(
                conn.execute(sa.select(c.id).where(c.merged_into.in_(frontier))).scalars()
            )
            below = [b for b in below if b not in family]
            family.extend(below)
            frontier = below
        return family

    # -- helpers -----------------------------------------------------------------------

    def _rows(self, conn: Connection, ids: Sequence[str]) -> Iterator[Any]:
        """id, version, kind, stage, changes, history_digest and merged_into of *ids*' rows."""
        c = self.records.c
        query = sa.select(
            c.id, c.version, c.kind, c.stage, c.changes, c.history_digest, c.merged_into
        )
        if conn.dialect.name == "postgresql":  # one round trip: the ids as one array
            ids_param = sa.bindparam("ids", list(ids), type_=postgresql.ARRAY(sa.String))
            yield from conn.execute(query.where(c.id == sa.any_(ids_param)))
            return
        for chunk in _chunks(ids):
            yield from conn.execute(query.where(c.id.in_(chunk)))

    def _history_query(self, record_ids: Sequence[str]) -> sa.Select[Any]:
        t = self.transitions.c
        query = sa.select(t.record_id, t.from_stage, t.to_stage, t.event, t.at, t.at_offset, t.why)
        if len(record_ids) == 1:
            query = query.where(t.record_id == record_ids[0])
        else:
            query = query.where(t.record_id.in_(record_ids))
        return query.order_by(t.record_id, t.seq)

    def _append(
        self, conn: Connection, record_id: str, changes: Sequence[StageChange], *, start: int
    ) -> None:
        if changes:
            conn.execute(sa.insert(self.transitions), _change_rows(record_id, changes, start))

    def _check_moves(self, record: Record, count: int, stage: str, kind: str) -> None:
        """
        The store saves only what the machine did: a stage or kind changes with a
        transition, and the first new transition starts at the stored stage.
        """
        owner = f"{kind_of(record)} {record.id!r}"
        new = record.history[count:]
        if not new:
            if record.stage != stage or kind_of(record) != kind:
                raise PersistenceError(
                    f"cannot save {owner}: it moved from {kind} stage {stage!r} to "
                    f"{kind_of(record)} stage {record.stage!r} without a transition; move "
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
        if kind == "lead" and kind_of(record) == "prospect" and not crossed:
            raise PersistenceError(
                f"cannot save {owner}: a stored lead becomes a prospect only through a "
                "conversion among its new transitions"
            )

    def _check_extends(
        self, conn: Connection, record: Record, row: Any, digests: list[str]
    ) -> int:
        """
        How many of the record's changes are stored; refuse it if its history does not
        start with them.

        *row* is the stored record's row (``changes``, ``history_digest``) read at the
        version being replaced. When the digest of the record's first ``changes`` changes
        is the stored one, the history extends the stored one; otherwise the transition
        rows themselves decide (and the refusal says which change differs).
        """
        if (
            row is not None
            and len(record.history) >= row.changes
            and digests[row.changes] == row.history_digest
        ):
            return int(row.changes)
        stored = conn.execute(self._history_query([record.id])).all()
        _check_rows(record, stored)
        return len(stored)

    def _refusal(self, conn: Connection, record: Record, expected: int) -> None:
        c = self.records.c
        row = conn.execute(
            sa.select(c.version, c.kind, c.merged_into).where(c.id == record.id)
        ).first()
        if row is None:
            raise RecordNotFound(record.id)
        if row.merged_into is not None:
            raise _merged_away(record.id, row.merged_into)
        if row.version != expected:
            raise StaleWriteError(record.id, expected, row.version)
        raise _never_back(record.id, row.kind)


def _merged_away(record_id: str, survivor: str) -> PersistenceError:
    return RecordArchived(record_id, survivor)


def _never_back(record_id: str, kind: str) -> PersistenceError:
    return PersistenceError(
        f"cannot save lead {record_id!r}: it is stored as a {kind}, "
        "and a prospect can never become a lead again"
    )


def _record_row(
    record: Record, kind: str, version: int, digests: list[str] | None = None
) -> dict[str, Any]:
    return {
        "id": record.id,
        "kind": kind,
        "stage": record.stage,
        "version": version,
        "document": to_dict(record),
        "changes": len(record.history),
        "history_digest": (digests or history_digests(record.history))[-1],
    }


def history_digests(history: Sequence[StageChange]) -> list[str]:
    """
    The digest of each prefix of *history*: ``digests[k]`` stands for its first *k* changes.

    A chain of SHA-256 over the changes as the store compares them (stages, event, the
    instant in UTC, reason). The last one is kept on the record's row beside ``changes``
    (how many transitions it has), so that a save checks that a history extends the stored
    one without reading the stored one back.
    """
    digests = [""]
    for ch in history:
        link = (ch.from_stage, ch.to_stage, ch.event, ch.at.astimezone(UTC).isoformat(), ch.why)
        digests.append(hashlib.sha256(f"{digests[-1]}\n{link!r}".encode()).hexdigest())
    return digests


def _change_rows(
    record_id: str, changes: Sequence[StageChange], start: int
) -> list[dict[str, Any]]:
    return [
        {
            "record_id": record_id,
            "seq": start + i,
            "from_stage": ch.from_stage,
            "to_stage": ch.to_stage,
            "event": ch.event,
            "at": ch.at,
            "at_offset": _offset_seconds(ch.at),
            "why": ch.why,
        }
        for i, ch in enumerate(changes)
    ]


def _offset_seconds(at: datetime) -> int:
    offset = at.utcoffset()
    assert offset is not None  # StageChange.at is aware (checked at construction)
    return offset.days * 86400 + offset.seconds


def _change(row: Any) -> StageChange:
    return StageChange(
        from_stage=row.from_stage,
        to_stage=row.to_stage,
        event=row.event,
        at=row.at.astimezone(timezone(timedelta(seconds=row.at_offset))),
        why=row.why,
    )


def _chunks(ids: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def _listed(items: Iterable[Any], call: str, what: str) -> list[Any]:
    if isinstance(items, str | bytes) or not isinstance(items, Iterable):
        raise ValidationError(
            f"{call} takes an iterable of {what}, got {type(items).__name__}", field="records"
        )
    return list(items)


T = TypeVar("T")


def _in_batch(call: str, position: int, check: Callable[..., T], *args: Any) -> T:
    """``check(*args)``; a funnel error it raises names the batch position."""
    try:
        return check(*args)
    except FunnelError as exc:
        raise _at(exc, call, position) from exc


def _at(error: E, call: str, position: int) -> E:
    """*error* (a fresh one of the same type) saying which position refused the batch."""
    where = f"{call} refused the batch at position {position}"
    if isinstance(error, ValidationError):
        moved: FunnelError = ValidationError(
            f"{where} (nothing was written): {error.args[0]}",
            record=error.record,
            field=error.field,
            allowed=error.allowed,
        )
    elif isinstance(error, StaleWriteError | RecordNotFound):
        moved = error
    elif type(error) is PersistenceError:
        moved = PersistenceError(f"{where} (nothing was written): {error.args[0]}")
    else:  # pragma: no cover - every error of the checks is one of the above
        moved = error
    if isinstance(moved, StaleWriteError):
        moved.args = (f"{where} (nothing was written): {moved.args[0]}",)
    moved.add_note(f"{where}; nothing in the batch was written")
    return moved  # type: ignore[return-value]


def _check_version(record: Record, kind: str, expected_version: object) -> None:
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
            else f"expected_version must be from 1 to {MAX_VERSION - 1}, got {expected_version}"
        )
        raise ValidationError(why, record=f"{kind} {record.id!r}", field="expected_version")


def _check_fits(record: Record) -> None:
    """
    Refuse, before the database does, what its columns cannot hold.

    Only the id can be too long: the record's stage and every history step are names of
    the store's funnel (``Funnel.check`` runs first), and those fit (checked once, when the
    store is made).
    """
    if len(record.id) > MAX_ID:
        owner = type(record).__name__
        raise ValidationError(
            f"{owner}: id has {len(record.id)} characters; the store keeps at most {MAX_ID}",
            record=owner,
            field="id",
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


def _check_rows(record: Record, stored: Sequence[Any]) -> None:
    """
    Refuse a record whose history does not start with the *stored* transition rows.

    Rows are compared field by field as :class:`StageChange` compares (times as instants),
    without building a ``StageChange`` per stored row.
    """
    owner = f"{kind_of(record)} {record.id!r}"
    if len(record.history) < len(stored):
        raise PersistenceError(
            f"cannot save {owner}: it has {len(record.history)} stage change(s) but "
            f"{len(stored)} are stored; history is append-only"
        )
    for seq, (mine, theirs) in enumerate(zip(record.history, stored, strict=False)):
        if (mine.from_stage, mine.to_stage, mine.event, mine.at, mine.why) != (
            theirs.from_stage,
            theirs.to_stage,
            theirs.event,
            theirs.at,
            theirs.why,
        ):
            raise PersistenceError(
                f"cannot save {owner}: history[{seq}] differs from the stored transition "
                f"({mine.from_stage} -> {mine.to_stage} at {mine.at.isoformat()} vs "
                f"{theirs.from_stage} -> {theirs.to_stage} at {theirs.at.isoformat()}); "
                "history is append-only"
            )
