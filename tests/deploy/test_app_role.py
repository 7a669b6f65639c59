"""deploy/postgresql/app-role.sql run on PostgreSQL, as compose's `db-roles` runs it: the app's
role writes audit rows and starts (migrations at head are a no-op), and cannot change the
schema, disable or drop the audit trail's triggers, or TRUNCATE it.

PostgreSQL only (PARCOURS_TEST_DATABASE_URL): roles and grants have no SQLite counterpart.
"""

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
from sqlalchemy.exc import DBAPIError

from parcours.infrastructure.store import audit, migrate
from parcours.infrastructure.store.db import create_engine, session_factory
from tests.store.builders import T0
from tests.store.conftest import AUDIT_KEYS, PG_URL_ENV

ROOT = Path(__file__).resolve().parents[2]
SQL = ROOT / "deploy/postgresql/app-role.sql"
PG = ["postgresql"] if os.environ.get(PG_URL_ENV) else []


@dataclass
class AppDb:
    owner_url: str
    app_url: str


@pytest_asyncio.fixture(params=PG)
async def app_db(request: pytest.FixtureRequest) -> AsyncIterator[AppDb]:
    """A fresh database migrated by the owner, then the role script run by the owner, with a
    role name of its own (roles are cluster-wide; tests must not share one)."""
    base = make_url(os.environ[PG_URL_ENV])
    suffix = uuid.uuid4().hex[:12]
    name, role = f"approle_{suffix}", f"parcours_app_{suffix}"
    admin = create_engine(base.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
    owner_url = base.set(database=name).render_as_string(hide_password=False)
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    owner = create_engine(
        owner_url, connect_args={"server_settings": {"parcours.app_password": "app-secret"}}
    )
    try:
        await migrate.upgrade(owner)
        script = SQL.read_text().replace("parcours_app", role)
        async with owner.begin() as conn:
            raw = await conn.get_raw_connection()
            await raw.driver_connection.execute(script)  # type: ignore[union-attr]
        yield AppDb(
            owner_url,
            base.set(database=name, username=role, password="app-secret").render_as_string(
                hide_password=False
            ),
        )
    finally:
        await owner.dispose()
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            await conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        await admin.dispose()


async def test_the_app_role_writes_data_and_nothing_else(app_db: AppDb) -> None:
    app = create_engine(app_db.app_url)
    try:
        async with app.connect() as conn:
            assert (await conn.execute(text("SELECT current_user"))).scalar() != "postgres"
        # The worker's start: migrations already at head need no DDL.
        assert await migrate.upgrade(app) == migrate.head()
        sessions = session_factory(app, AUDIT_KEYS)
        async with sessions() as s, s.begin():
            assert await audit.append(s, key="k1", dossier="D-1", kind="case_opened", at=T0)
        refused = [
            "DROP TRIGGER audit_events_append_only ON audit_events",
            "ALTER TABLE audit_events DISABLE TRIGGER USER",
            "TRUNCATE audit_events",
            "ALTER TABLE audit_events DROP COLUMN chain_mac",
            "DROP TABLE audit_events",
            "CREATE TABLE scratch (i int)",
            "CREATE OR REPLACE FUNCTION parcours_audit_append_only() RETURNS trigger AS "
            "$$ BEGIN RETURN NEW; END $$ LANGUAGE plpgsql",
        ]
        for statement in refused:
            with pytest.raises(DBAPIError, match="must be owner|permission denied"):
                async with app.begin() as conn:
                    await conn.execute(text(statement))
        async with app.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM audit_events"))).scalar() == 1
    finally:
        await app.dispose()
