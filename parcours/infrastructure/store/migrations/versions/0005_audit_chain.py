"""Audit chain: each audit row gets its place in its case (seq, unique per case), a keyed
digest of its text and an HMAC chained to the row before; rows written before are chained
here. The append-only triggers also freeze the new columns, and refuse TRUNCATE.

Revision ID: 0005
Revises: 0004

Chaining existing rows needs the audit key (PARCOURS_AUDIT_KEYS or PARCOURS_AUDIT_KEY_FILE,
or the keys `store.migrate.upgrade(..., audit_keys=...)` hands over): without one,
a database that has audit rows is not migrated, with one line saying why. An empty audit
trail needs no key. Run as the database owner (the app's role cannot alter tables).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from parcours.infrastructure.catalog import catalog
from parcours.infrastructure.codec import CodecKey
from parcours.infrastructure.config import Settings
from parcours.infrastructure.store.chain import (
    NO_KEY,
    AuditKeyMissing,
    Link,
    audit_keyring,
    seal,
    text_digest,
)

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = "audit trail is append-only"
UNIQUE_PLACE = "uq_audit_events_dossier_seq"
CHAIN_COLUMNS = ("seq", "text_digest", "chain_key", "chain_mac")
# As in 0002, plus the chain: an UPDATE may only set `text` to NULL (the retention purge).
FROZEN_0002 = ("id", "key", "dossier", "kind", "at", "actor", "stage", "detail", "recorded_at")
FROZEN = FROZEN_0002 + CHAIN_COLUMNS
BATCH = 1000


def _pg_function(frozen: Sequence[str]) -> str:
    # The body of 0002's function, with the frozen columns given.
    return f"""
CREATE OR REPLACE FUNCTION parcours_audit_append_only() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION '{APPEND_ONLY}';
  END IF;
  IF NEW.text IS NOT NULL AND NEW.text IS DISTINCT FROM OLD.text
     OR {" OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in frozen)} THEN
    RAISE EXCEPTION '{APPEND_ONLY}';
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql
"""


PG_NO_TRUNCATE = f"""
CREATE OR REPLACE FUNCTION parcours_audit_no_truncate() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION '{APPEND_ONLY}';
END $$ LANGUAGE plpgsql
"""


def _sqlite_update_trigger(frozen: Sequence[str]) -> str:
    changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in frozen)
    return (
        "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events "
        f"WHEN (NEW.text IS NOT NULL AND NEW.text IS NOT OLD.text) OR {changed} "
        f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
    )


# The migration's own view of the table (scripts do not import the models).
audit_events = sa.table(
    "audit_events",
    sa.column("id", sa.Integer()),
    sa.column("key", sa.String()),
    sa.column("dossier", sa.String()),
    sa.column("kind", sa.String()),
    sa.column("at", sa.DateTime(timezone=True)),
    sa.column("actor", sa.String()),
    sa.column("stage", sa.String()),
    sa.column("detail", sa.Text()),
    sa.column("text", sa.Text()),
    sa.column("recorded_at", sa.DateTime(timezone=True)),
    sa.column("seq", sa.Integer()),
    sa.column("text_digest", sa.String()),
    sa.column("chain_key", sa.String()),
    sa.column("chain_mac", sa.String()),
)


def _sealing_key() -> CodecKey | None:
    """The key that seals the rows already there; None when there are none. Asked before
    any change, so that a refusal leaves the database as it was (SQLite runs DDL outside
    the transaction)."""
    t = audit_events
    if op.get_bind().execute(sa.select(sa.func.count()).select_from(t)).scalar_one() == 0:
        return None
    cfg = op.get_context().config
    given = cfg.attributes.get("audit_keys") if cfg is not None else None
    keys = given or audit_keyring(Settings.from_env())
    if not keys:
        raise AuditKeyMissing(catalog()("audit.migration_needs_key", reason=NO_KEY))
    return keys[0]


def _chain_existing_rows(sealer: CodecKey) -> None:
    """Seal every row in insertion order (id) within its case. The 0002 triggers do not
    freeze the new columns yet, so these UPDATEs pass."""
    bind = op.get_bind()
    t = audit_events
    rows = bind.execute(
        sa.select(t.c.id, t.c.key, t.c.dossier, t.c.kind, t.c.at, t.c.actor)
        .add_columns(t.c.stage, t.c.detail, t.c.text, t.c.recorded_at)
        .order_by(t.c.dossier, t.c.id)
    )
    stmt = (
        sa.update(t)
        .where(t.c.id == sa.bindparam("row_id"))
        .values(
            seq=sa.bindparam("new_seq"),
            text_digest=sa.bindparam("new_digest"),
            chain_key=sa.bindparam("new_key"),
            chain_mac=sa.bindparam("new_mac"),
        )
    )
    dossier: str | None = None
    previous: str | None = None
    seq = 0
    pending: list[dict[str, object]] = []
    for row in rows.all():
        if row.dossier != dossier:
            dossier, previous, seq = row.dossier, None, 0
        seq += 1
        link = Link(
            dossier=row.dossier,
            seq=seq,
            key=row.key,
            kind=row.kind,
            at=row.at,
            actor=row.actor,
            stage=row.stage,
            detail=row.detail,
            text_digest=text_digest(sealer, row.text),
            recorded_at=row.recorded_at,
        )
        previous = seal(sealer, link, previous)
        pending.append(
            {
                "row_id": row.id,
                "new_seq": seq,
                "new_digest": link.text_digest,
                "new_key": sealer.key_id,
                "new_mac": previous,
            }
        )
        if len(pending) >= BATCH:
            bind.execute(stmt, pending)
            pending = []
    if pending:
        bind.execute(stmt, pending)


def upgrade() -> None:
    sealer = _sealing_key()
    op.add_column("audit_events", sa.Column("seq", sa.Integer(), nullable=True))
    op.add_column("audit_events", sa.Column("text_digest", sa.String(length=64), nullable=True))
    op.add_column("audit_events", sa.Column("chain_key", sa.String(length=64), nullable=True))
    op.add_column("audit_events", sa.Column("chain_mac", sa.String(length=64), nullable=True))
    if sealer is not None:
        _chain_existing_rows(sealer)
    # An index, not a table constraint: SQLite adds a constraint only by rebuilding the
    # table, which would drop the append-only triggers.
    op.create_index(UNIQUE_PLACE, "audit_events", ["dossier", "seq"], unique=True)

    if op.get_context().dialect.name == "postgresql":
        op.execute(_pg_function(FROZEN))
        op.execute(PG_NO_TRUNCATE)
        op.execute(
            "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events "
            "FOR EACH STATEMENT EXECUTE FUNCTION parcours_audit_no_truncate()"
        )
    else:  # SQLite has no TRUNCATE (DELETE without WHERE fires the delete trigger)
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_update")
        op.execute(_sqlite_update_trigger(FROZEN))


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_truncate ON audit_events")
        op.execute("DROP FUNCTION IF EXISTS parcours_audit_no_truncate()")
        op.execute(_pg_function(FROZEN_0002))
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_update")
        op.execute(_sqlite_update_trigger(FROZEN_0002))
    op.drop_index(UNIQUE_PLACE, table_name="audit_events")
    # Plain ALTER TABLE DROP COLUMN (SQLite 3.35+), not batch mode: rebuilding the table
    # would drop the append-only triggers restored above.
    for column in reversed(CHAIN_COLUMNS):
        op.drop_column("audit_events", column)
