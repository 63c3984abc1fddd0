"""
Upgrading tables funnel 0.1 made (issue 17, item 1): with Alembic and with upgrade_schema().

``data/v01_documents.json`` holds documents written by funnel 0.1.0's own ``to_dict``
(commit ec63848, a prospect with every field, a disqualified lead with a reason, a bare
lead). The tables are created with 0.1's DDL, copied from ``src/funnel/persistence/sql.py``
of that commit, and filled as its ``SqlStore.add`` did (transition times as ISO text).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

import funnel
from funnel import PersistenceError
from funnel.engine.erase import ERASED
from funnel.io.serialize import from_dict
from funnel.io.sql import SqlStore
from tests.io.test_sql_schema import _alembic, store_triggers
from tests.postgres import postgres_url

__all__ = ("postgres_url",)  # the fixture, imported for pytest

DOCUMENTS: dict[str, Any] = json.loads(
    (Path(__file__).parent / "data" / "v01_documents.json").read_text(encoding="utf-8")
)


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=[pytest.mark.slow, pytest.mark.postgres]),
    ]
)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    if request.param == "sqlite":
        result = sa.create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    else:
        result = sa.create_engine(request.getfixturevalue("postgres_url"))
    yield result
    result.dispose()


def old_schema(engine: sa.Engine, prefix: str) -> None:
    """funnel 0.1's tables and triggers, with its rows, exactly as its SqlStore made them."""
    metadata = sa.MetaData()
    document = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
    records = sa.Table(
        f"{prefix}records",
        metadata,
        sa.Column("id", sa.String(255), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("stage", sa.String(100), nullable=False, index=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("document", document, nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.current_timestamp(),
        ),
    )
    transitions = sa.Table(
        f"{prefix}transitions",
        metadata,
        sa.Column("record_id", sa.String(255), sa.ForeignKey(records.c.id), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("from_stage", sa.String(100), nullable=False),
        sa.Column("to_stage", sa.String(100), nullable=False),
        sa.Column("event", sa.String(100), nullable=False),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("why", sa.Text, nullable=True),
    )
    name, message = transitions.name, f"{transitions.name} is append-only"
    with engine.begin() as conn:
        metadata.create_all(conn)
        if conn.dialect.name == "sqlite":
            for op in ("UPDATE", "DELETE"):
                conn.execute(
                    sa.text(
                        f"CREATE TRIGGER {name}_no_{op.lower()} BEFORE {op} ON {name} "
                        f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
                    )
                )
        else:
            conn.execute(
                sa.text(
                    f"CREATE OR REPLACE FUNCTION {name}_append_only() RETURNS trigger "
                    f"LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '{message}'; END $$"
                )
            )
            conn.execute(
                sa.text(
                    f"CREATE TRIGGER {name}_append_only BEFORE UPDATE OR DELETE ON {name} "
                    f"FOR EACH ROW EXECUTE FUNCTION {name}_append_only()"
                )
            )
        for record_id, doc in DOCUMENTS.items():
            kind = doc["schema"].removeprefix("funnel/")
            conn.execute(
                sa.insert(records).values(
                    id=record_id, kind=kind, stage=doc["data"]["stage"], version=1, document=doc
                )
            )
            for seq, change in enumerate(doc["data"]["history"]):
                conn.execute(
                    sa.insert(transitions).values(
                        record_id=record_id,
                        seq=seq,
                        from_stage=change["from_stage"],
                        to_stage=change["to_stage"],
                        event=change["event"],
                        at=change["at"],
                        why=change["why"],
                    )
                )
        # 0.1's append-only protection holds before the upgrade.
        assert conn.execute(sa.select(sa.func.count()).select_from(transitions)).scalar() == 5


def _prefix() -> str:
    return f"u{uuid.uuid4().hex[:10]}_"


def check_upgraded(store: SqlStore) -> None:
    """Every 0.1 record reads back as 0.1 wrote it, and the store works on it."""
    assert store.ids() == sorted(DOCUMENTS)
    for record_id, doc in DOCUMENTS.items():
        expected = from_dict(doc)
        assert store.get(record_id) == (expected, 1)
        history = store.history(record_id)
        assert history == expected.history
        # Each time reads back as the instant 0.1 wrote, in UTC (as records store times).
        written = [datetime.fromisoformat(c["at"]) for c in doc["data"]["history"]]
        assert [c.at for c in history] == written
        assert all(c.at.utcoffset() == timedelta(0) for c in history)
    prospect, version = store.get("L1")
    won = funnel.advance(prospect, "engage_stakeholder", at=prospect.history[-1].at)
    assert store.save(won, version).version == 2
    assert store.erase("L2", at=prospect.history[-1].at + timedelta(days=1)).version == 2
    assert store.history("L2")[-1].why == ERASED
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), store.engine.begin() as c:
        c.execute(sa.delete(store.transitions))


def test_upgrade_schema_copies_a_0_1_store_into_the_current_tables(engine: sa.Engine) -> None:
    prefix = _prefix()
    old_schema(engine, prefix)
    store = SqlStore(engine, prefix=prefix)
    with pytest.raises(PersistenceError, match="upgrade"):
        store.create_schema()  # names the way out
    assert store.upgrade_schema() == 3
    names = set(sa.inspect(engine).get_table_names())
    assert {f"{prefix}records_v01", f"{prefix}transitions_v01"}.isdisjoint(names)
    with engine.connect() as conn:
        assert store._triggers(conn) == set(store_triggers(store, conn))
    check_upgraded(store)
    assert store.upgrade_schema() == 0  # nothing left to upgrade


def test_the_alembic_revision_upgrades_a_0_1_store(engine: sa.Engine, tmp_path: Path) -> None:
    """Autogenerate finds nothing to change afterwards: the tables are the current ones."""
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    prefix = _prefix()
    old_schema(engine, prefix)
    config = _alembic(tmp_path, engine.url.render_as_string(hide_password=False), prefix)
    command.upgrade(config, "funnel@head")  # type: ignore[arg-type]
    store = SqlStore(engine, prefix=prefix)
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
        assert compare_metadata(context, store.metadata) == []
        assert store._triggers(conn) == set(store_triggers(store, conn))
    check_upgraded(store)


def test_an_interrupted_upgrade_resumes(engine: sa.Engine) -> None:
    """SQLite commits schema changes as it goes: a second run starts from the moved tables."""
    prefix = _prefix()
    old_schema(engine, prefix)
    store = SqlStore(engine, prefix=prefix)
    from funnel.io.sql import _upgrade

    def fail() -> None:
        raise RuntimeError("interrupted")

    with engine.connect() as conn:  # the old tables moved aside, then a failure
        with pytest.raises(RuntimeError):
            _upgrade.upgrade_0_1(conn, prefix, fail)
        conn.commit()
    assert store.upgrade_schema() == 3
    check_upgraded(store)


def test_an_unreadable_0_1_time_is_named(engine: sa.Engine) -> None:
    prefix = _prefix()
    old_schema(engine, prefix)
    with engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.execute(sa.text(f'DROP TRIGGER "{prefix}transitions_no_update"'))
        else:
            conn.execute(
                sa.text(f'DROP TRIGGER "{prefix}transitions_append_only" ON "{prefix}transitions"')
            )
        conn.execute(
            sa.text(f"UPDATE \"{prefix}transitions\" SET at = 'yesterday' WHERE record_id = 'L2'")
        )
    store = SqlStore(engine, prefix=prefix)
    with pytest.raises(PersistenceError, match=r"record 'L2': transition 0") as err:
        store.upgrade_schema()
    assert "yesterday" not in str(err.value)
