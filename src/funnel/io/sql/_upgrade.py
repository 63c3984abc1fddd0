"""
Upgrade tables made by funnel 0.1's ``SqlStore.create_schema()`` to the current layout.

funnel 0.1 kept ``transitions.at`` as ISO 8601 text (``VARCHAR(40)``) with no offset
column, and its records rows had no ``changes``, ``history_digest`` or ``merged_into``;
there was no erasures table, and the constraints had the database's default names. The
upgrade moves the old tables aside, creates the current ones (with their triggers), copies
every record and transition (the text times parsed, their offsets kept; the count and
history digest computed from the stored transitions) and drops the old tables.

Both the shipped Alembic revision ``funnel_0001`` (when it finds 0.1 tables) and
:meth:`funnel.io.sql.SqlStore.upgrade_schema` run it. On PostgreSQL it is one
transaction. SQLite's driver commits schema changes as it goes: an interrupted upgrade
leaves the old tables renamed ``<prefix>records_v01`` and ``<prefix>transitions_v01``,
and running the upgrade again resumes from them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from funnel.exceptions import PersistenceError
from funnel.model.history import StageChange

__all__ = ("OLD", "is_0_1", "upgrade_0_1")

#: The suffix the 0.1 tables are renamed with while they are copied.
OLD = "_v01"
#: Records copied per batch.
BATCH = 500


def _tables(conn: Connection) -> set[str]:
    return set(sa.inspect(conn).get_table_names())


def is_0_1(conn: Connection, prefix: str) -> bool:
    """
    Whether *prefix*'s records table is funnel 0.1's (no ``changes`` column), or an
    interrupted upgrade left the 0.1 tables aside.
    """
    names = _tables(conn)
    if f"{prefix}records{OLD}" in names:
        return True
    if f"{prefix}records" not in names:
        return False
    columns = {c["name"] for c in sa.inspect(conn).get_columns(f"{prefix}records")}
    return "changes" not in columns


def upgrade_0_1(conn: Connection, prefix: str, create: Callable[[], None]) -> int:
    """
    Upgrade *prefix*'s 0.1 tables on *conn*; ``create()`` makes the current tables.

    Returns:
        How many records were copied.

    Raises:
        PersistenceError: a stored transition time is not ISO 8601 with an offset
            (naming the record and the transition's position).
    """
    records, transitions = f"{prefix}records", f"{prefix}transitions"
    old_records, old_transitions = records + OLD, transitions + OLD
    dialect = conn.dialect.name
    names = _tables(conn)
    if old_records in names:  # resuming: what the last run created is only a copy
        for table in (f"{prefix}erasures", transitions, records):
            if table in names:
                _drop_triggers(conn, table, dialect)
                conn.execute(sa.text(f'DROP TABLE "{table}"'))
    else:
        _drop_triggers(conn, transitions, dialect)
        conn.execute(sa.text(f'DROP INDEX IF EXISTS "ix_{records}_stage"'))
        conn.execute(sa.text(f'ALTER TABLE "{records}" RENAME TO "{old_records}"'))
        conn.execute(sa.text(f'ALTER TABLE "{transitions}" RENAME TO "{old_transitions}"'))
    create()
    copied = 0
    for ids in _batches(conn, old_records):
        copied += _copy(conn, ids, old_records, old_transitions, records, transitions)
    conn.execute(sa.text(f'DROP TABLE "{old_transitions}"'))
    conn.execute(sa.text(f'DROP TABLE "{old_records}"'))
    return copied


def _drop_triggers(conn: Connection, table: str, dialect: str) -> None:
    """The append-only triggers of 0.1 (and of the current layout) on *table*."""
    if dialect == "sqlite":
        for op in ("update", "delete"):
            conn.execute(sa.text(f'DROP TRIGGER IF EXISTS "{table}_no_{op}"'))
    elif dialect == "postgresql":
        conn.execute(sa.text(f'DROP TRIGGER IF EXISTS "{table}_append_only" ON "{table}"'))
        conn.execute(sa.text(f'DROP FUNCTION IF EXISTS "{table}_append_only"()'))


def _batches(conn: Connection, table: str) -> Iterator[list[str]]:
    ids = list(conn.execute(sa.text(f'SELECT id FROM "{table}" ORDER BY id')).scalars())
    for start in range(0, len(ids), BATCH):
        yield ids[start : start + BATCH]


def _copy(
    conn: Connection,
    ids: Sequence[str],
    old_records: str,
    old_transitions: str,
    records: str,
    transitions: str,
) -> int:
    from funnel.io.sql._core import history_digests
    from funnel.io.sql._schema import funnel_tables

    meta = sa.MetaData()
    # The current tables as the store declares them (times stored as UTC instants).
    new_r, new_t, _ = funnel_tables(meta, prefix=records.removesuffix("records"))
    old_r = sa.Table(old_records, meta, autoload_with=conn)
    old_t = sa.Table(old_transitions, meta, autoload_with=conn)
    # Documents read as JSON whatever type the old column reflects as.
    document = new_r.c.document.type
    rows = conn.execute(
        sa.select(
            old_r.c.id,
            old_r.c.kind,
            old_r.c.stage,
            old_r.c.version,
            sa.type_coerce(old_r.c.document, document).label("document"),
            old_r.c.updated_at,
        ).where(old_r.c.id.in_(ids))
    ).all()
    changes: dict[str, list[Any]] = {record_id: [] for record_id in ids}
    query = (
        sa.select(old_t).where(old_t.c.record_id.in_(ids)).order_by(old_t.c.record_id, old_t.c.seq)
    )
    for row in conn.execute(query):
        changes[row.record_id].append(row)
    new_changes: list[dict[str, Any]] = []
    new_records: list[dict[str, Any]] = []
    for row in rows:
        history = [_change(row.id, seq, old) for seq, old in enumerate(changes[row.id])]
        new_records.append(
            {
                "id": row.id,
                "kind": row.kind,
                "stage": row.stage,
                "version": row.version,
                "document": row.document,
                "updated_at": _utc(row.updated_at),
                "changes": len(history),
                "history_digest": history_digests(history)[-1],
                "merged_into": None,
            }
        )
        for seq, (old, change) in enumerate(zip(changes[row.id], history, strict=True)):
            offset = change.at.utcoffset()
            assert offset is not None  # _change refuses naive times
            new_changes.append(
                {
                    "record_id": row.id,
                    "seq": seq,
                    "from_stage": old.from_stage,
                    "to_stage": old.to_stage,
                    "event": old.event,
                    "at": change.at,
                    "at_offset": offset.days * 86400 + offset.seconds,
                    "why": old.why,
                }
            )
    conn.execute(sa.insert(new_r), new_records)
    if new_changes:
        conn.execute(sa.insert(new_t), new_changes)
    return len(new_records)


def _utc(value: Any) -> Any:
    """
    An old row's ``updated_at`` as an aware time: SQLite reflects it as a naive
    ``DATETIME``, the UTC wall time ``CURRENT_TIMESTAMP`` wrote.
    """
    if isinstance(value, datetime) and value.utcoffset() is None:
        return value.replace(tzinfo=UTC)
    return value


def _change(record_id: str, seq: int, row: Any) -> StageChange:
    try:
        at = datetime.fromisoformat(row.at) if isinstance(row.at, str) else None
    except ValueError:
        at = None
    if at is None or at.utcoffset() is None:
        raise PersistenceError(
            f"cannot upgrade record {record_id!r}: transition {seq} has no ISO 8601 time "
            "with an offset (value not shown)"
        )
    return StageChange(
        from_stage=row.from_stage, to_stage=row.to_stage, event=row.event, at=at, why=row.why
    )
