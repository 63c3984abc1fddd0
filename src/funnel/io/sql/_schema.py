"""
The store's tables, on any :class:`~sqlalchemy.MetaData`, and their append-only triggers.

``records`` holds each record's current document; ``transitions`` its stage changes,
append-only; ``erasures`` the audit of erasures, the one path by which a transition row
may be rewritten (its reason, ``why``, only, while the erasure's row is in progress in
the same transaction).

The shipped Alembic revision (``funnel.io.sql:migrations``) creates exactly these tables;
a test compares the two.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from funnel.exceptions import ValidationError

__all__ = ("MAX_ID", "MAX_NAME", "MAX_VERSION", "FunnelTables", "UtcDateTime", "funnel_tables")

#: Column sizes, the same on every database (SQLite does not enforce them; PostgreSQL does).
MAX_ID = 255
MAX_NAME = 100
#: Versions are 32-bit integers: a record can be saved about two billion times.
MAX_VERSION = 2**31 - 1

#: Table prefixes: they name tables and triggers, so only plain identifiers.
_PREFIX = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,39}")

#: What ``Table.info["funnel"]`` holds on the store's tables (how a second call finds them).
_ROLE = "funnel"


class UtcDateTime(sa.TypeDecorator[datetime]):
    """
    A timezone-aware ``DateTime`` that stores the UTC instant on every database.

    PostgreSQL keeps a ``timestamp with time zone``; SQLite, which has no time type,
    keeps the UTC wall time as text (sortable). Values read back are aware, in UTC:
    every time column of the store's tables is one, those the database fills in
    (``CURRENT_TIMESTAMP``, the UTC wall time on SQLite) included.
    Naive datetimes are refused (the records never hold one).
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.utcoffset() is None:
            raise ValidationError("a stored time must be timezone-aware", field="at")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):  # pragma: no cover - every driver gives datetimes
            raise TypeError(f"expected a datetime from the database, got {type(value).__name__}")
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class FunnelTables(NamedTuple):
    """The store's tables."""

    records: sa.Table
    transitions: sa.Table
    erasures: sa.Table


def check_prefix(prefix: object) -> str:
    """*prefix* if it is a plain identifier of 1-40 characters; raise otherwise."""
    if not isinstance(prefix, str) or not _PREFIX.fullmatch(prefix):
        raise ValidationError(
            "prefix must be 1-40 letters, digits or underscores, starting with a letter "
            "or an underscore (it names SQL tables and triggers)",
            field="prefix",
        )
    return prefix


def funnel_tables(metadata: sa.MetaData, *, prefix: str = "funnel_") -> FunnelTables:
    """
    The store's tables on *metadata* (your application's, so that Alembic sees them).

    Defined once per prefix: a second call (or a :class:`~funnel.io.sql.SqlStore` given
    the same metadata) returns the same tables. The append-only triggers are attached
    to the erasures table (created after the others), so ``metadata.create_all()``
    creates them too.

    >>> import sqlalchemy as sa
    >>> app = sa.MetaData()
    >>> tables = funnel_tables(app, prefix="crm_")
    >>> sorted(app.tables)
    ['crm_erasures', 'crm_records', 'crm_transitions']
    >>> funnel_tables(app, prefix="crm_") == tables
    True

    Raises:
        ValidationError: *prefix* is not a plain identifier, or *metadata* already has
            a table of that name that is not the store's.
    """
    check_prefix(prefix)
    names = (f"{prefix}records", f"{prefix}transitions", f"{prefix}erasures")
    found = [metadata.tables.get(name) for name in names]
    if any(table is not None for table in found):
        roles = ("records", "transitions", "erasures")
        for name, table, role in zip(names, found, roles, strict=True):
            if table is None or table.info.get(_ROLE) != role:
                raise ValidationError(
                    f"metadata already has a table {name!r} that is not a funnel store "
                    f"table; choose another prefix than {prefix!r}",
                    field="prefix",
                )
        return FunnelTables(*found)  # type: ignore[arg-type]
    records = sa.Table(
        names[0],
        metadata,
        sa.Column("id", sa.String(MAX_ID), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("stage", sa.String(MAX_NAME), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column(
            "document", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column(
            "updated_at",
            UtcDateTime(),
            nullable=False,
            server_default=sa.func.current_timestamp(),
        ),
        # How many transitions the record has, and the SHA-256 of its history as stored:
        # a save checks that a history extends the stored one without reading it back.
        sa.Column("changes", sa.Integer, nullable=False),
        sa.Column("history_digest", sa.String(64), nullable=False),
        # The survivor's id once the record was merged into it (SqlStore.merge): the row
        # stays, archived, because its transitions do; reads and saves pass it by.
        sa.Column("merged_into", sa.String(MAX_ID), nullable=True),
        # Named here (not by a naming convention of the metadata) as in the shipped
        # Alembic revision, so that autogenerate finds nothing to change.
        sa.PrimaryKeyConstraint("id", name=f"pk_{prefix}records"),
        sa.Index(f"ix_{prefix}records_stage", "stage"),
        info={_ROLE: "records"},
    )
    transitions = sa.Table(
        names[1],
        metadata,
        sa.Column("record_id", sa.String(MAX_ID), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("from_stage", sa.String(MAX_NAME), nullable=False),
        sa.Column("to_stage", sa.String(MAX_NAME), nullable=False),
        sa.Column("event", sa.String(MAX_NAME), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        # The offset the time was given in, in seconds east of UTC: history reads back as given.
        sa.Column("at_offset", sa.Integer, nullable=False),
        sa.Column("why", sa.Text, nullable=True),
        sa.ForeignKeyConstraint(
            ["record_id"], [records.c.id], name=f"fk_{prefix}transitions_record_id"
        ),
        sa.PrimaryKeyConstraint("record_id", "seq", name=f"pk_{prefix}transitions"),
        info={_ROLE: "transitions"},
    )
    erasures = sa.Table(
        names[2],
        metadata,
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("record_id", sa.String(MAX_ID), nullable=False),
        sa.Column("erased_at", UtcDateTime(), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        # The record's version the erasure wrote.
        sa.Column("version", sa.Integer, nullable=False),
        # True only inside the erasing transaction: while it is, the transitions of
        # record_id may have their reasons rewritten (see trigger_ddl).
        sa.Column("in_progress", sa.Boolean, nullable=False),
        sa.Column(
            "recorded_at",
            UtcDateTime(),
            nullable=False,
            server_default=sa.func.current_timestamp(),
        ),
        sa.ForeignKeyConstraint(
            ["record_id"], [records.c.id], name=f"fk_{prefix}erasures_record_id"
        ),
        sa.PrimaryKeyConstraint("id", name=f"pk_{prefix}erasures"),
        info={_ROLE: "erasures"},
    )
    # Every table exists before any trigger is made: the triggers read the erasures.
    for dialect in ("sqlite", "postgresql"):
        for statements in trigger_ddl(prefix, dialect).values():
            for statement in statements:
                _on(erasures, "after_create", statement, dialect)
    for table in (transitions, erasures):  # its trigger went with it
        drop = f'DROP FUNCTION IF EXISTS "{table.name}_append_only"()'
        _on(table, "after_drop", drop, "postgresql")
    return FunnelTables(records, transitions, erasures)


def _on(table: sa.Table, event: str, statement: str, dialect: str) -> None:
    """Run *statement* on *dialect* when *table* is created or dropped by ``create_all``."""
    ddl = sa.DDL(statement)  # type: ignore[no-untyped-call]
    sa.event.listen(table, event, ddl.execute_if(dialect=dialect))


def trigger_ddl(prefix: str, dialect: str) -> dict[str, list[str]]:
    """
    The append-only triggers of the store with table *prefix*, by trigger name.

    A transition row is never deleted, and updated only through an erasure: its
    ``why`` alone may change, while an erasure row of the same record is in progress
    (the store inserts it, rewrites, and closes it in one transaction). An erasure row
    is never deleted, and only ever updated from in progress to done.
    """
    t, e = f"{prefix}transitions", f"{prefix}erasures"
    same_change = " AND ".join(
        f"NEW.{c} = OLD.{c}"
        for c in ("record_id", "seq", "from_stage", "to_stage", "event", "at", "at_offset")
    )
    erasing = f'EXISTS (SELECT 1 FROM "{e}" WHERE record_id = OLD.record_id AND in_progress)'
    closing = "OLD.in_progress AND NOT NEW.in_progress AND " + " AND ".join(
        f"NEW.{c} = OLD.{c}" for c in ("id", "record_id", "erased_at", "reason", "version")
    )
    if dialect == "sqlite":

        def refuse(table: str, op: str, unless: str | None = None) -> list[str]:
            when = f" WHEN NOT ({unless})" if unless else ""
            return [
                f'CREATE TRIGGER IF NOT EXISTS "{table}_no_{op.lower()}" BEFORE {op} '
                f"ON \"{table}\"{when} BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            ]

        return {
            f"{t}_no_update": refuse(t, "UPDATE", f"{same_change} AND {erasing}"),
            f"{t}_no_delete": refuse(t, "DELETE"),
            f"{e}_no_update": refuse(e, "UPDATE", closing),
            f"{e}_no_delete": refuse(e, "DELETE"),
        }
    if dialect == "postgresql":

        def guard(table: str, allowed: str) -> list[str]:
            return [
                f'CREATE OR REPLACE FUNCTION "{table}_append_only"() RETURNS trigger '
                f"LANGUAGE plpgsql AS $$ BEGIN IF TG_OP = 'UPDATE' AND {allowed} THEN "
                f"RETURN NEW; END IF; RAISE EXCEPTION '{table} is append-only'; END $$",
                f'CREATE TRIGGER "{table}_append_only" BEFORE UPDATE OR DELETE ON "{table}" '
                f'FOR EACH ROW EXECUTE FUNCTION "{table}_append_only"()',
            ]

        return {
            f"{t}_append_only": guard(t, f"{same_change} AND {erasing}"),
            f"{e}_append_only": guard(e, closing),
        }
    return {}


def present_triggers(conn: sa.Connection, tables: Sequence[str]) -> set[str]:
    """The names of the triggers on *tables*."""
    dialect = conn.dialect.name
    if dialect == "sqlite":
        query = sa.text("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = :t")
    elif dialect == "postgresql":
        query = sa.text(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = to_regclass(:t) AND NOT tgisinternal"
        )
    else:
        return set()
    found: set[str] = set()
    for table in tables:
        name = f'"{table}"' if dialect == "postgresql" else table
        found.update(conn.execute(query, {"t": name}).scalars())
    return found
