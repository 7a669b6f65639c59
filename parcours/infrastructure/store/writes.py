"""Idempotent inserts shared by the activities: INSERT ... ON CONFLICT DO NOTHING."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from parcours.infrastructure.store.models import Base


async def insert_ignore(
    session: AsyncSession, model: type[Base], values: dict[str, Any], unique: str = "key"
) -> bool:
    """Insert one row unless a row with the same `unique` column exists.

    Returns True when this call inserted it. One statement, so two retries racing each other
    still produce one row (no read-then-write window).
    """
    dialect = session.get_bind().dialect.name
    insert: Any
    if dialect == "postgresql":
        insert = postgresql.insert
    elif dialect == "sqlite":
        insert = sqlite.insert
    else:  # pragma: no cover - only the two backends above are supported
        raise NotImplementedError(f"unsupported database dialect {dialect!r}")
    column = model.__table__.c[unique]
    stmt = (
        insert(model.__table__)
        .values(**values)
        .on_conflict_do_nothing(index_elements=[column])
        .returning(column)
    )
    result = await session.execute(stmt)
    return result.first() is not None
