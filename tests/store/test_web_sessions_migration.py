"""Migration 0004: tokens made before scopes existed become `intake`; the new tables come
and go with upgrade and downgrade. On SQLite and PostgreSQL (the `empty_db` fixture)."""

from __future__ import annotations

from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from parcours.infrastructure.store import migrate
from tests.store.test_migrations import empty_db  # noqa: F401  (the fixture)


async def test_existing_tokens_become_intake(empty_db: AsyncEngine) -> None:  # noqa: F811
    await migrate.upgrade(empty_db, "0003")
    async with empty_db.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO api_tokens (name, token_sha256, active, created_at) "
                "VALUES ('visa-system', :sha, true, CURRENT_TIMESTAMP)"
            ),
            {"sha": "a" * 64},
        )
    await migrate.upgrade(empty_db)
    async with empty_db.connect() as conn:
        scopes = (await conn.execute(text("SELECT name, scope FROM api_tokens"))).all()
        tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    assert [tuple(r) for r in scopes] == [("visa-system", "intake")]
    assert {"web_sessions", "security_events"} <= tables
