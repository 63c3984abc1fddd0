"""The store's schema in an application: its MetaData, Alembic, timestamps, in-memory SQLite."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

import funnel
from funnel import PersistenceError, StageChange, ValidationError
from funnel.io.sql import SqlStore, funnel_tables
from tests.io.test_sql import T0, _lead, postgres_url, run_writers, store

__all__ = ("postgres_url", "store")  # fixtures, imported for pytest


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=[pytest.mark.slow, pytest.mark.postgres]),
    ]
)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    if request.param == "sqlite":
        result = sa.create_engine(f"sqlite:///{tmp_path / 'app.db'}")
    else:
        result = sa.create_engine(request.getfixturevalue("postgres_url"))
    yield result
    result.dispose()


def _prefix() -> str:
    return f"a{uuid.uuid4().hex[:10]}_"


# -- the application's MetaData ------------------------------------------------------------


def test_the_tables_live_on_the_applications_metadata(engine: sa.Engine) -> None:
    """SqlStore owned its MetaData: the application's Alembic could not see its tables."""
    prefix = _prefix()
    app = sa.MetaData()
    people = sa.Table(f"{prefix}people", app, sa.Column("id", sa.Integer, primary_key=True))
    store = SqlStore(engine, metadata=app, prefix=prefix)
    assert store.metadata is app
    assert {store.records.name, store.transitions.name} <= set(app.tables)
    # The application's own create_all makes the store's tables with their triggers.
    app.create_all(engine)
    store.add(funnel.advance(_lead(), "mark_mql", at=T0 + timedelta(hours=1)))
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), engine.begin() as conn:
        conn.execute(sa.delete(store.transitions))
    assert store.history("L1")[0].event == "mark_mql"
    assert people.name in sa.inspect(engine).get_table_names()


def test_create_schema_makes_only_the_stores_tables(engine: sa.Engine) -> None:
    prefix = _prefix()
    app = sa.MetaData()
    sa.Table(f"{prefix}people", app, sa.Column("id", sa.Integer, primary_key=True))
    store = SqlStore(engine, metadata=app, prefix=prefix)
    store.create_schema()
    names = set(sa.inspect(engine).get_table_names())
    assert {store.records.name, store.transitions.name} <= names
    assert f"{prefix}people" not in names


def test_funnel_tables_are_defined_once_per_prefix() -> None:
    app = sa.MetaData()
    tables = funnel_tables(app)
    assert funnel_tables(app) == tables
    assert SqlStore("sqlite://", metadata=app).records is tables.records
    assert funnel_tables(app, prefix="other_") != tables
    sa.Table("crm_records", app, sa.Column("id", sa.Integer, primary_key=True))
    with pytest.raises(ValidationError, match="'crm_records' that is not a funnel store") as err:
        funnel_tables(app, prefix="crm_")
    assert err.value.field == "prefix"
    with pytest.raises(ValidationError):
        funnel_tables(app, prefix="x; --")


# -- timestamps -------------------------------------------------------------------------------


def test_transition_times_are_timestamps_that_read_back_as_given(store: SqlStore) -> None:
    """transitions.at was a VARCHAR(40); now an aware timestamp, offset and microseconds kept."""
    kolkata = timezone(timedelta(hours=5, minutes=30))
    pacific = timezone(timedelta(hours=-8))
    lead = funnel.advance(_lead(), "nurture", at=datetime(2026, 3, 1, 15, 1, 2, 3456, kolkata))
    lead = funnel.advance(lead, "mark_mql", at=datetime(2026, 3, 1, 2, 0, 0, 999999, pacific))
    store.add(lead)
    history = store.history("L1")
    assert [c.at.isoformat() for c in history] == [c.at.isoformat() for c in lead.history]
    assert store.get("L1").record == lead
    column = sa.inspect(store.engine).get_columns(store.transitions.name)
    types = {c["name"]: c["type"] for c in column}
    assert isinstance(types["at"], sa.DateTime)
    # SQL sees instants: ordering and comparing with a UTC bound works on the column.
    t = store.transitions.c
    bound = datetime(2026, 3, 1, 9, 45, tzinfo=UTC)
    with store.engine.connect() as conn:
        later = conn.execute(sa.select(t.event).where(t.at > bound).order_by(t.at)).scalars()
        assert list(later) == ["mark_mql"]
        if conn.dialect.name == "postgresql":
            kind = conn.execute(
                sa.text(f'SELECT pg_typeof(at)::text FROM "{store.transitions.name}" LIMIT 1')
            ).scalar()
            assert kind == "timestamp with time zone"


def test_every_time_the_store_reads_back_is_aware_in_utc(store: SqlStore) -> None:
    """updated_at and the erasures' recorded_at read back naive on SQLite (review)."""
    store.add(funnel.advance(_lead(), "nurture", at=T0 + timedelta(hours=1)))
    store.erase("L1", at=T0 + timedelta(days=1), reason="ticket 7")
    tables = (store.records, store.transitions, store.erasures)
    columns = [
        (t, c)
        for t in tables
        for c in t.columns
        if isinstance(getattr(c.type, "impl", c.type), sa.DateTime)
    ]
    assert sorted(f"{t.name.removeprefix(store.prefix)}.{c.name}" for t, c in columns) == [
        "erasures.erased_at",
        "erasures.recorded_at",
        "records.updated_at",
        "transitions.at",
    ]
    written = {"updated_at", "recorded_at"}  # by the database's clock, in UTC
    seen = 0
    with store.engine.connect() as conn:
        for table, column in columns:
            for value in conn.execute(sa.select(column)).scalars():
                seen += 1
                assert value.tzinfo is not None, f"{table.name}.{column.name} is naive"
                assert value.utcoffset() == timedelta(0)
                if column.name in written:
                    assert abs(value - datetime.now(UTC)) < timedelta(minutes=10)
    assert seen >= 4


def test_history_is_compared_by_instant_and_read_back_in_utc(store: SqlStore) -> None:
    tokyo = timezone(timedelta(hours=9))
    lead = funnel.advance(_lead(), "nurture", at=datetime(2026, 3, 2, 9, tzinfo=tokyo))
    store.add(lead)
    lead = funnel.advance(lead, "mark_mql", at=datetime(2026, 3, 2, 1, tzinfo=UTC))
    store.save(lead, 1)
    # Records store every time in UTC (funnel._base.time.to_utc): so does the store.
    assert [c.at for c in store.history("L1")] == [
        datetime(2026, 3, 2, 0, tzinfo=UTC),
        datetime(2026, 3, 2, 1, tzinfo=UTC),
    ]
    assert [c.at.utcoffset() for c in store.history("L1")] == [timedelta(0), timedelta(0)]
    assert isinstance(store.history("L1")[0], StageChange)


# -- Alembic ----------------------------------------------------------------------------------


def _alembic(tmp_path: Path, url: str, prefix: str) -> object:
    from alembic.config import Config

    (tmp_path / "versions").mkdir(exist_ok=True)
    (tmp_path / "env.py").write_text(
        "import sqlalchemy as sa\n"
        "from alembic import context\n"
        "engine = sa.create_engine(context.config.get_main_option('sqlalchemy.url'))\n"
        "with engine.connect() as conn:\n"
        "    context.configure(connection=conn, target_metadata=None)\n"
        "    with context.begin_transaction():\n"
        "        context.run_migrations()\n"
        "engine.dispose()\n"
    )
    config = Config()
    config.set_main_option("script_location", str(tmp_path))
    config.set_main_option(
        "version_locations", f"{tmp_path / 'versions'} funnel.io.sql:migrations"
    )
    config.set_main_option("path_separator", "space")
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.set_main_option("funnel_prefix", prefix)
    return config


def test_the_shipped_migration_makes_the_tables_the_store_declares(
    engine: sa.Engine, tmp_path: Path
) -> None:
    """Autogenerate against the migrated database finds nothing to change."""
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    prefix = _prefix()
    url = engine.url.render_as_string(hide_password=False)
    config = _alembic(tmp_path, url, prefix)
    command.upgrade(config, "funnel@head")  # type: ignore[arg-type]
    # The application's MetaData has a naming convention: the store's names still match.
    app = sa.MetaData(naming_convention={"ix": "ix_%(column_0_label)s", "pk": "pk_%(table_name)s"})
    store = SqlStore(engine, metadata=app, prefix=prefix)
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "include_name": lambda name, kind, parent: (
                    kind != "table" or name.startswith(prefix)
                ),
            },
        )
        assert compare_metadata(context, app) == []
        assert store._triggers(conn) == set(store_triggers(store, conn))
    store.add(funnel.advance(_lead(), "mark_mql", at=T0 + timedelta(hours=1)))
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), engine.begin() as conn:
        conn.execute(sa.update(store.transitions).values(event="forged"))
    assert store.get("L1").record.stage == "mql"
    store.create_schema()  # on a migrated database: nothing to do, nothing broken
    command.downgrade(config, "funnel@base")  # type: ignore[arg-type]
    assert not {n for n in sa.inspect(engine).get_table_names() if n.startswith(prefix)}


def store_triggers(store: SqlStore, conn: sa.Connection) -> list[str]:
    from funnel.io.sql._schema import trigger_ddl

    return list(trigger_ddl(store.prefix, conn.dialect.name))


# -- in-memory SQLite from several threads ----------------------------------------------------


def test_an_in_memory_store_from_a_url_is_one_database_for_every_thread() -> None:
    """SqlStore(create_engine('sqlite://')) gave each thread its own empty database."""
    store = SqlStore("sqlite://")
    store.create_schema()
    store.add(_lead())
    run_writers(store)
    store.engine.dispose()


def test_a_per_thread_in_memory_engine_is_refused_from_another_thread() -> None:
    store = SqlStore(sa.create_engine("sqlite://"))
    store.create_schema()
    store.add(_lead())  # the thread that made it keeps working
    caught: list[BaseException] = []

    def elsewhere() -> None:
        try:
            store.get("L1")
        except BaseException as exc:
            caught.append(exc)

    thread = threading.Thread(target=elsewhere)
    thread.start()
    thread.join()
    assert len(caught) == 1
    assert isinstance(caught[0], PersistenceError)
    assert "StaticPool" in str(caught[0])
    assert store.get("L1").version == 1


@pytest.mark.parametrize("engine", [42, "not a url", None])
def test_an_engine_that_is_no_engine_is_a_typed_error(engine: object) -> None:
    with pytest.raises(ValidationError) as err:
        SqlStore(engine)  # type: ignore[arg-type]
    assert err.value.field == "engine"


def test_tables_of_the_old_schema_are_named_not_used(engine: sa.Engine) -> None:
    """funnel 0.1's create_schema made transitions.at a VARCHAR(40) with no offset column."""
    prefix = _prefix()
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                f'CREATE TABLE "{prefix}records" (id VARCHAR(255) PRIMARY KEY, kind VARCHAR(16) '
                "NOT NULL, stage VARCHAR(100) NOT NULL, version INTEGER NOT NULL, document "
                "TEXT NOT NULL, updated_at TIMESTAMP NOT NULL)"
            )
        )
    store = SqlStore(engine, prefix=prefix)
    with pytest.raises(
        PersistenceError,
        match=r"\['changes', 'history_digest', 'merged_into'\].*funnel 0\.1.*upgrade_schema",
    ):
        store.create_schema()
    assert f"{prefix}transitions" not in sa.inspect(engine).get_table_names()
