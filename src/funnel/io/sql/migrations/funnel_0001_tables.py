"""
funnel store: records, the append-only transitions and the erasures that audit them.

Creates the tables, or upgrades in place the tables funnel 0.1's ``SqlStore.create_schema()``
made (transition times as text, no offsets, counts, digests, merges or erasures): their
records and transitions are copied into the current tables (see
``funnel.io.sql._upgrade``).

Revision ID: funnel_0001
Revises: (none; the base of the ``funnel`` branch)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects import postgresql

from funnel.io.sql._schema import check_prefix, trigger_ddl
from funnel.io.sql._upgrade import is_0_1, upgrade_0_1

revision = "funnel_0001"
down_revision = None
branch_labels = ("funnel",)
depends_on = None


def _prefix() -> str:
    """The table prefix: ``funnel_prefix`` in the ``[alembic]`` section, else ``funnel_``."""
    config = context.config
    value = config.get_main_option("funnel_prefix") if config is not None else None
    return check_prefix(value or "funnel_")


def _create(p: str) -> None:
    op.create_table(
        f"{p}records",
        sa.Column("id", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("stage", sa.String(100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "document", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.current_timestamp(),
        ),
        sa.Column("changes", sa.Integer(), nullable=False),
        sa.Column("history_digest", sa.String(64), nullable=False),
        sa.Column("merged_into", sa.String(255), nullable=True),
        sa.PrimaryKeyConstraint("id", name=f"pk_{p}records"),
    )
    op.create_index(f"ix_{p}records_stage", f"{p}records", ["stage"])
    op.create_table(
        f"{p}transitions",
        sa.Column("record_id", sa.String(255), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("from_stage", sa.String(100), nullable=False),
        sa.Column("to_stage", sa.String(100), nullable=False),
        sa.Column("event", sa.String(100), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("at_offset", sa.Integer(), nullable=False),
        sa.Column("why", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["record_id"], [f"{p}records.id"], name=f"fk_{p}transitions_record_id"
        ),
        sa.PrimaryKeyConstraint("record_id", "seq", name=f"pk_{p}transitions"),
    )
    op.create_table(
        f"{p}erasures",
        sa.Column("id", sa.Integer(), nullable=False, autoincrement=True),
        sa.Column("record_id", sa.String(255), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("in_progress", sa.Boolean(), nullable=False),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.current_timestamp(),
        ),
        sa.ForeignKeyConstraint(
            ["record_id"], [f"{p}records.id"], name=f"fk_{p}erasures_record_id"
        ),
        sa.PrimaryKeyConstraint("id", name=f"pk_{p}erasures"),
    )
    for statements in trigger_ddl(p, op.get_bind().dialect.name).values():
        for statement in statements:
            op.execute(statement)


def upgrade() -> None:
    p = _prefix()
    bind = op.get_bind()
    if is_0_1(bind, p):
        upgrade_0_1(bind, p, lambda: _create(p))
    else:
        _create(p)


def downgrade() -> None:
    p = _prefix()
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in (f"{p}erasures", f"{p}transitions"):
        op.drop_table(table)  # its triggers go with it
        if postgres:
            op.execute(f'DROP FUNCTION IF EXISTS "{table}_append_only"()')
    op.drop_index(f"ix_{p}records_stage", table_name=f"{p}records")
    op.drop_table(f"{p}records")
