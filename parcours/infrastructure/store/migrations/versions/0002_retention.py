"""Retention: cases remember when their personal data was purged; the audit trail refuses
every change but the purge of its free text.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = "audit trail is append-only"
# Columns an UPDATE may not touch: everything but `text` (which may only become NULL).
FROZEN = ("id", "key", "dossier", "kind", "at", "actor", "stage", "detail", "recorded_at")

PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION parcours_audit_append_only() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION '{APPEND_ONLY}';
  END IF;
  IF NEW.text IS NOT NULL AND NEW.text IS DISTINCT FROM OLD.text
     OR {" OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in FROZEN)} THEN
    RAISE EXCEPTION '{APPEND_ONLY}';
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True))

    if op.get_context().dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        op.execute(
            "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events "
            "FOR EACH ROW EXECUTE FUNCTION parcours_audit_append_only()"
        )
    else:
        changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in FROZEN)
        op.execute(
            "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events "
            f"WHEN (NEW.text IS NOT NULL AND NEW.text IS NOT OLD.text) OR {changed} "
            f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
        )
        op.execute(
            "CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events "
            f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
        )


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events")
        op.execute("DROP FUNCTION IF EXISTS parcours_audit_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_delete")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("purged_at")
