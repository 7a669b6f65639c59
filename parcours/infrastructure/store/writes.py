"""Idempotent inserts shared by the activities: INSERT ... ON CONFLICT DO NOTHING."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Insert

from parcours.infrastructure.store.models import Base


async def insert_ignore(
    session: AsyncSession, model: type[Base], values: dict[str, Any], unique: str = "key"
) -> bool:
    """Insert one row unless a row with the same `unique` column exists.

    Returns True when this call inserted it. One statement, so two retries racing each other
    still produce one row (no read-then-write window).
    """
    table = model.__table__
    assert isinstance(table, Table)
    stmt = _insert_ignore(session.get_bind().dialect.name, table, unique)
    result = await session.execute(stmt, values)
    return result.first() is not None


@cache
def _insert_ignore(dialect: str, table: Table, unique: str) -> Insert:
    """The statement, built once per table: its values are bound at execution. Building it
    with `.values(...)` for every row cost about as much CPU as executing it."""
    insert: Any
    if dialect == "postgresql":
        insert = postgresql.insert
    elif dialect == "sqlite":
        insert = sqlite.insert
    else:  # pragma: no cover - only the two backends above are supported
        raise NotImplementedError(f"unsupported database dialect {dialect!r}")
    column = table.c[unique]
    stmt: Insert = insert(table).on_conflict_do_nothing(index_elements=[column]).returning(column)
    return stmt
