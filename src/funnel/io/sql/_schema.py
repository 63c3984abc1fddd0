"""
The store's two tables, on any :class:`~sqlalchemy.MetaData`, and their append-only triggers.

The shipped Alembic revision (``funnel.io.sql:migrations``) creates exactly these tables;
a test compares the two.
"""

from __future__ import annotations

import re
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
    keeps the UTC wall time as text (sortable). Values read back are aware, in UTC.
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
    """The store's two tables."""

    records: sa.Table
    transitions: sa.Table


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
    to the transitions table, so ``metadata.create_all()`` creates them too.

    >>> import sqlalchemy as sa
    >>> app = sa.MetaData()
    >>> tables = funnel_tables(app, prefix="crm_")
    >>> sorted(app.tables)
    ['crm_records', 'crm_transitions']
    >>> funnel_tables(app, prefix="crm_") == tables
    True

    Raises:
        ValidationError: *prefix* is not a plain identifier, or *metadata* already has
            a table of that name that is not the store's.
    """
    check_prefix(prefix)
    names = (f"{prefix}records", f"{prefix}transitions")
    found = [metadata.tables.get(name) for name in names]
    if any(table is not None for table in found):
        for name, table, role in zip(names, found, ("records", "transitions"), strict=True):
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
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.current_timestamp(),
        ),
        # How many transitions the record has, and the SHA-256 of its history as stored:
        # a save checks that a history extends the stored one without reading it back.
        sa.Column("changes", sa.Integer, nullable=False),
        sa.Column("history_digest", sa.String(64), nullable=False),
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
    for dialect in ("sqlite", "postgresql"):
        for statements in trigger_ddl(transitions.name, dialect).values():
            for statement in statements:
                _on(transitions, "after_create", statement, dialect)
    _on(
        transitions,
        "after_drop",
        f'DROP FUNCTION IF EXISTS "{transitions.name}_append_only"()',
        "postgresql",
    )
    return FunnelTables(records, transitions)


def _on(table: sa.Table, event: str, statement: str, dialect: str) -> None:
    """Run *statement* on *dialect* when *table* is created or dropped by ``create_all``."""
    ddl = sa.DDL(statement)  # type: ignore[no-untyped-call]
    sa.event.listen(table, event, ddl.execute_if(dialect=dialect))


def trigger_ddl(table: str, dialect: str) -> dict[str, list[str]]:
    """The append-only triggers of the transitions table *table*, by trigger name."""
    message = f"{table} is append-only"
    if dialect == "sqlite":
        return {
            f"{table}_no_{op.lower()}": [
                f'CREATE TRIGGER IF NOT EXISTS "{table}_no_{op.lower()}" BEFORE {op} '
                f"ON \"{table}\" BEGIN SELECT RAISE(ABORT, '{message}'); END"
            ]
            for op in ("UPDATE", "DELETE")
        }
    if dialect == "postgresql":
        return {
            f"{table}_append_only": [
                f'CREATE OR REPLACE FUNCTION "{table}_append_only"() RETURNS trigger '
                f"LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '{message}'; END $$",
                f'CREATE TRIGGER "{table}_append_only" BEFORE UPDATE OR DELETE ON "{table}" '
                f'FOR EACH ROW EXECUTE FUNCTION "{table}_append_only"()',
            ]
        }
    return {}


def present_triggers(conn: sa.Connection, table: str) -> set[str]:
    """The names of the triggers on *table*."""
    dialect = conn.dialect.name
    if dialect == "sqlite":
        query = sa.text("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = :t")
    elif dialect == "postgresql":
        query = sa.text(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = to_regclass(:t) AND NOT tgisinternal"
        )
        table = f'"{table}"'
    else:
        return set()
    return set(conn.execute(query, {"t": table}).scalars())
