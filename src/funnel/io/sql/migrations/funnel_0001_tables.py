"""
funnel store: records and the append-only transitions table.

Revision ID: funnel_0001
Revises: (none; the base of the ``funnel`` branch)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects import postgresql

from funnel.io.sql._schema import check_prefix, trigger_ddl

revision = "funnel_0001"
down_revision = None
branch_labels = ("funnel",)
depends_on = None


def _prefix() -> str:
    """The table prefix: ``funnel_prefix`` in the ``[alembic]`` section, else ``funnel_``."""
    config = context.config
    value = config.get_main_option("funnel_prefix") if config is not None else None
    return check_prefix(value or "funnel_")


def upgrade() -> None:
    p = _prefix()
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
    for statements in trigger_ddl(f"{p}transitions", op.get_bind().dialect.name).values():
        for statement in statements:
            op.execute(statement)


def downgrade() -> None:
    p = _prefix()
    op.drop_table(f"{p}transitions")  # its triggers go with it
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f'DROP FUNCTION IF EXISTS "{p}transitions_append_only"()')
    op.drop_index(f"ix_{p}records_stage", table_name=f"{p}records")
    op.drop_table(f"{p}records")
