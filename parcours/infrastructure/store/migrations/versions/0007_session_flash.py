"""A web session's flash holds a refused form: its message and what was typed.

After a refusal the console redirects (Post/Redirect/Get) and shows the message and the typed
text once, from the session row: never from a cookie or the address, since notes are personal
data. The column was 32 characters (an action name); it becomes text, JSON.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.alter_column(
            "flash", existing_type=sa.String(length=32), type_=sa.Text(), existing_nullable=True
        )


def downgrade() -> None:
    # A flash is shown once and lives seconds: dropping the ones in flight loses nothing.
    op.execute("UPDATE web_sessions SET flash = NULL")
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.alter_column(
            "flash", existing_type=sa.Text(), type_=sa.String(length=32), existing_nullable=True
        )
