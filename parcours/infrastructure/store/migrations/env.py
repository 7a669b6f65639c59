"""Alembic environment: run by infrastructure/store/migrate.py, which hands over a connection.

Configured in code, not by alembic.ini: the URL comes from PARCOURS_DATABASE_URL like every
other setting, and the migrations ship inside the package.
"""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy.engine import Connection

from parcours.infrastructure.store.migrate import target_metadata


def render_item(kind: str, obj: Any, autogen: AutogenContext) -> str | Literal[False]:
    # Scripts must not import the models (they change; a migration must not): our UTC
    # decorator is a plain timezone-aware DateTime in the database.
    from parcours.infrastructure.store.models import UtcDateTime

    if kind == "type" and isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


connection: Connection | None = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - always called through migrate.py
    raise RuntimeError("run migrations with `parcours db upgrade`, not the alembic command")

context.configure(
    connection=connection,
    target_metadata=target_metadata(),
    # SQLite cannot ALTER most things: batch mode copies the table instead.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    render_item=render_item,
    version_table_schema=context.config.attributes.get("version_table_schema"),
)
with context.begin_transaction():
    context.run_migrations()
