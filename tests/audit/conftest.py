"""Audit-chain fixtures: a migrated database of its own per test (a SQLite file, or a fresh
PostgreSQL database), reachable by URL so that the real CLI can open it too."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from parcours.infrastructure.store import migrate
from parcours.infrastructure.store.db import create_engine, session_factory
from tests.store.conftest import AUDIT_KEYS, BACKENDS, PG_URL_ENV


@dataclass
class Db:
    url: str
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]

    @property
    def postgresql(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    async def tamper(self, *statements: str, **params: object) -> None:
        """Run `statements` as someone who got past the append-only triggers (the owner, a
        superuser, a restored dump): the triggers are off for the duration."""
        async with self.engine.begin() as conn:
            if self.postgresql:
                await conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
            else:
                await conn.execute(text("DROP TRIGGER audit_events_no_update"))
                await conn.execute(text("DROP TRIGGER audit_events_no_delete"))
            for statement in statements:
                await conn.execute(text(statement), params)
            if self.postgresql:
                await conn.execute(text("ALTER TABLE audit_events ENABLE TRIGGER USER"))


async def empty_database(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    """The URL of an empty database, dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}"
        return
    base = os.environ[PG_URL_ENV]
    name = f"audit_{uuid.uuid4().hex[:16]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


@pytest_asyncio.fixture(params=BACKENDS)
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Db]:
    async for url in empty_database(request.param, tmp_path):
        engine = create_engine(url)
        try:
            await migrate.upgrade(engine)
            yield Db(url, engine, session_factory(engine, AUDIT_KEYS))
        finally:
            await engine.dispose()
