"""The roster changes (issue 17): officers' leave and its backup, and the roster's own audit.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("officers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("leave_from", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("leave_to", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("backup_id", sa.String(length=64), nullable=True))
    op.create_table(
        "roster_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=True),
        sa.Column("officer_id", sa.String(length=64), nullable=False),
        sa.Column("change", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_roster_changes_officer_id", "roster_changes", ["officer_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_roster_changes_officer_id", table_name="roster_changes")
    op.drop_table("roster_changes")
    with op.batch_alter_table("officers", schema=None) as batch_op:
        batch_op.drop_column("backup_id")
        batch_op.drop_column("leave_to")
        batch_op.drop_column("leave_from")
