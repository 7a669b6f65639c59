"""Alembic migrations: they run on SQLite and PostgreSQL, and the models match the migrated
schema (every table of Base.metadata, whichever module declares it)."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from parcours.infrastructure.store import audit, migrate
from parcours.infrastructure.store.chain import AuditKeyMissing, AuditKeys
from parcours.infrastructure.store.db import create_engine, session_factory
from tests.store.conftest import AUDIT_KEYS, BACKENDS, PG_URL_ENV


@pytest_asyncio.fixture(params=BACKENDS)
async def empty_db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """An empty database: a fresh SQLite file, or a fresh PostgreSQL schema made the only one
    on the search path (so migrations and reflection see nothing else)."""
    if request.param == "sqlite":
        eng = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'migrated.db'}")
        try:
            yield eng
        finally:
            await eng.dispose()
        return
    url = os.environ[PG_URL_ENV]
    schema = f"mig_{uuid.uuid4().hex[:16]}"
    admin = create_engine(url)
    async with admin.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    eng = create_engine(url, connect_args={"server_settings": {"search_path": schema}})
    try:
        yield eng
    finally:
        await eng.dispose()
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


async def test_upgrade_from_empty_matches_the_models(empty_db: AsyncEngine) -> None:
    assert await migrate.current(empty_db) is None
    assert await migrate.upgrade(empty_db) == migrate.head()
    assert await migrate.differences(empty_db) == []
    # Idempotent: workers run it at every start.
    assert await migrate.upgrade(empty_db) == migrate.head()


def test_the_newest_script_is_alembics_head() -> None:
    """`upgrade` finds a database current by the scripts' names, without Alembic: the names
    must follow the revision ids."""
    assert migrate.newest_script() == migrate.head()
    for path in (migrate.MIGRATIONS / "versions").glob("0*.py"):
        match = migrate.SCRIPT_NAME.match(path.name)
        assert match is not None, path.name
        assert f'revision: str = "{match.group(1)}"' in path.read_text(), path.name


async def test_a_database_at_head_is_not_migrated_again(empty_db: AsyncEngine) -> None:
    await migrate.upgrade(empty_db)
    async with empty_db.begin() as conn:  # a marker Alembic would not leave in place
        await conn.execute(text("CREATE TABLE untouched (x INTEGER)"))
    assert await migrate.upgrade(empty_db) == migrate.head()
    assert await migrate.differences(empty_db) != []  # the marker is still there


async def test_a_database_made_before_migrations_is_adopted(empty_db: AsyncEngine) -> None:
    # The schema `create_all` made before Alembic (= revision 0001), without a version row.
    await migrate.upgrade(empty_db, migrate.BASELINE)
    async with empty_db.begin() as conn:
        await conn.execute(text("DROP TABLE alembic_version"))
        await conn.execute(
            text(
                "INSERT INTO cases (dossier, workflow_id, region, language, arrival_date, "
                "status, escalation_level, overdue, last_event_seq, updated_at) VALUES "
                "('D-1', 'newcomer-D-1', 'laval', 'fr', '2030-01-01', 'active', 0, false, 0, "
                ":now)"
            ),
            {"now": datetime.now(UTC)},
        )
    assert await migrate.upgrade(empty_db) == migrate.head()
    async with empty_db.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM cases"))).scalar() == 1
    assert await migrate.differences(empty_db) == []


async def test_audit_trail_refuses_changes_but_the_purge(empty_db: AsyncEngine) -> None:
    await migrate.upgrade(empty_db)
    async with empty_db.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO audit_events (key, dossier, kind, at, actor, text, recorded_at) "
                "VALUES ('k1', 'D-1', 'progress_noted', :now, 'atremblay', 'a note', :now)"
            ),
            {"now": datetime.now(UTC)},
        )
    refused = [
        "UPDATE audit_events SET kind = 'stage_approved'",
        "UPDATE audit_events SET actor = 'someone-else'",
        "UPDATE audit_events SET text = 'rewritten'",
        "DELETE FROM audit_events",
    ]
    for statement in refused:
        with pytest.raises((IntegrityError, DBAPIError), match="append-only"):
            async with empty_db.begin() as conn:
                await conn.execute(text(statement))
    async with empty_db.begin() as conn:
        await conn.execute(text("UPDATE audit_events SET text = NULL"))
        row = (await conn.execute(text("SELECT kind, actor, text FROM audit_events"))).one()
    assert tuple(row) == ("progress_noted", "atremblay", None)


async def test_downgrade_to_nothing_and_back(tmp_path: Path) -> None:
    from alembic import command

    eng = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'down.db'}")
    try:
        await migrate.upgrade(eng)
        async with eng.begin() as conn:
            await conn.run_sync(lambda c: command.downgrade(migrate.config(c), "base"))
            names = await conn.run_sync(lambda c: inspect(c).get_table_names())
        assert names == ["alembic_version"]
        assert await migrate.upgrade(eng) == migrate.head()
    finally:
        await eng.dispose()


def test_every_store_write_to_the_audit_trail_is_an_insert() -> None:
    """The code offers no path that updates or deletes audit rows, except the retention
    purge of their text (which the database also enforces, above)."""
    root = Path(migrate.__file__).resolve().parents[2]
    offenders = []
    for path in [
        *root.joinpath("parcours").rglob("*.py"),
        *root.joinpath("activities").rglob("*.py"),
    ]:
        if "migrations" in path.parts:
            continue
        source = path.read_text()
        for m in re.finditer(r"(update|delete)\(\s*AuditEvent\b", source):
            offenders.append(f"{path.relative_to(root)}: {m.group(0)}")
    allowed = {"parcours/infrastructure/store/retention.py: update(AuditEvent"}
    assert set(offenders) <= allowed, offenders


async def test_upgrades_at_once_in_one_process(tmp_path: Path) -> None:
    # `parcours dev` migrates from the worker and from the web console at the same start;
    # Alembic keeps its command context in module globals, so unserialized upgrades in one
    # process failed with "KeyError: 'script'".
    import asyncio

    engines = [create_engine(f"sqlite+aiosqlite:///{tmp_path / f'db{i}.sqlite'}") for i in range(6)]
    try:
        # Unserialized, they also hung: bound the wait so a regression fails, not stalls CI.
        revisions = await asyncio.wait_for(
            asyncio.gather(*(migrate.upgrade(e) for e in engines)), timeout=120
        )
        assert set(revisions) == {migrate.head()}
    finally:
        for e in engines:
            await e.dispose()


# The revision 0005 (the audit chain) follows.
BEFORE_THE_CHAIN = "0004"


async def _rows_before_the_chain(engine: AsyncEngine) -> None:
    """Audit rows as the revision before the chain stored them: no place, no seal."""
    await migrate.upgrade(engine, BEFORE_THE_CHAIN)
    async with engine.begin() as conn:
        for i, (dossier, text_) in enumerate(
            [("D-1", None), ("D-2", "Amina a trouvé un emploi"), ("D-1", "une note"), ("D-1", None)]
        ):
            await conn.execute(
                text(
                    "INSERT INTO audit_events (key, dossier, kind, at, text, recorded_at) "
                    "VALUES (:key, :dossier, 'progress_noted', :at, :text, :at)"
                ),
                {"key": f"k{i}", "dossier": dossier, "text": text_, "at": datetime.now(UTC)},
            )


async def test_migration_0005_chains_the_rows_already_there(empty_db: AsyncEngine) -> None:
    await _rows_before_the_chain(empty_db)
    assert await migrate.upgrade(empty_db, audit_keys=AUDIT_KEYS) == migrate.head()
    async with empty_db.connect() as conn:
        places = (
            await conn.execute(text("SELECT key, dossier, seq FROM audit_events ORDER BY id"))
        ).all()
    # Insertion order within each case.
    assert [tuple(p) for p in places] == [
        ("k0", "D-1", 1),
        ("k1", "D-2", 1),
        ("k2", "D-1", 2),
        ("k3", "D-1", 3),
    ]
    result = await audit.verify(session_factory(empty_db), AuditKeys.of(AUDIT_KEYS))
    assert (result.holds, result.cases, result.rows) == (True, 2, 4)
    assert await migrate.differences(empty_db) == []


async def test_migration_0005_without_a_key_refuses_and_changes_nothing(
    empty_db: AsyncEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _rows_before_the_chain(empty_db)
    for name in ("PARCOURS_AUDIT_KEYS", "PARCOURS_AUDIT_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PARCOURS_DATA_DIR", str(tmp_path / "no-keys-here"))
    with pytest.raises(AuditKeyMissing, match="^la migration 0005 doit sceller .* aucune clé"):
        await migrate.upgrade(empty_db)
    assert await migrate.current(empty_db) == BEFORE_THE_CHAIN
    async with empty_db.connect() as conn:
        columns = await conn.run_sync(
            lambda c: {col["name"] for col in inspect(c).get_columns("audit_events")}
        )
    assert "seq" not in columns
    # The key from the environment, as `parcours db upgrade` on a staff host finds it.
    monkeypatch.setenv("PARCOURS_AUDIT_KEYS", AUDIT_KEYS[0].spec())
    assert await migrate.upgrade(empty_db) == migrate.head()
    result = await audit.verify(session_factory(empty_db), AuditKeys.of(AUDIT_KEYS))
    assert (result.holds, result.rows) == (True, 4)
