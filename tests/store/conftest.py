"""Read-model fixtures: a fresh database per test, on SQLite and (when
PARCOURS_TEST_DATABASE_URL is set) on PostgreSQL, each PostgreSQL test in its own schema."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from parcours.infrastructure.codec import new_key
from parcours.infrastructure.store.db import create_engine, create_schema, session_factory
from parcours.infrastructure.store.officers import NewOfficer, add_officer

PG_URL_ENV = "PARCOURS_TEST_DATABASE_URL"
# The audit-chain key of every test that records audit rows (the worker refuses to start
# without one); a fresh one per test run, as production keys are never in the code.
AUDIT_KEYS = [new_key("test-audit-1")]
BACKENDS = ["sqlite", *(["postgresql"] if os.environ.get(PG_URL_ENV) else [])]


@pytest_asyncio.fixture(params=BACKENDS)
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    # One engine per test, created and disposed on the test's loop: engines are never shared
    # across event loops.
    if request.param == "sqlite":
        eng = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'data' / 'parcours.db'}")
        try:
            await create_schema(eng)
            yield eng
        finally:
            await eng.dispose()
        return
    base = create_engine(os.environ[PG_URL_ENV])
    schema = f"test_{uuid.uuid4().hex[:16]}"
    async with base.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        eng = base.execution_options(schema_translate_map={None: schema})
        await create_schema(eng)
        yield eng
    finally:
        async with base.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await base.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(engine, AUDIT_KEYS)


async def add(sessions: async_sessionmaker[AsyncSession], *officers: NewOfficer) -> None:
    """Insert officers in one transaction (a helper, not a fixture)."""
    async with sessions() as session, session.begin():
        for officer in officers:
            await add_officer(session, officer)
