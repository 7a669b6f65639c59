"""Schema of the read model, managed by Alembic migrations (infrastructure/store/migrations/).

`parcours db upgrade` (and every worker, `parcours dev` and the CLI at start) brings the
database to the newest revision; `parcours db current` says where it is. Configured in code:
the URL is PARCOURS_DATABASE_URL and the scripts ship inside the package.

Adding a table or a column: change the model, then
    .venv/bin/python -m parcours.infrastructure.store.migrate revision "what changed"
which autogenerates a script under infrastructure/store/migrations/versions/ from the difference
between the models and a database at head; read it, then `make test`
(tests/store/test_migrations.py fails while models and migrations disagree).
"""

from __future__ import annotations

import asyncio
import importlib
import pkgutil
import re
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import MetaData, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from parcours.infrastructure.codec import CodecKey

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic is imported by the functions that run it: a database already at the newest revision
# (every start but the first after an upgrade) is checked without it, which spares each CLI
# command its import and its walk over the scripts (`upgrade` below).

MIGRATIONS = Path(__file__).parent / "migrations"
# Scripts are named after their revision id, `0006_what.py` for revision "0006" (`_revision`
# below numbers them so; tests/store/test_migrations.py checks that the newest file is
# Alembic's head).
SCRIPT_NAME = re.compile(r"^(\d{4})_\w+\.py$")
# The revision equal to what `create_all` made before migrations existed: a database that
# has the tables but no version is stamped at it rather than created again.
BASELINE = "0001"
# Any number: workers started together (`--scale worker=N`) take turns migrating.
ADVISORY_LOCK = 0x70617263  # "parc"


def target_metadata() -> MetaData:
    """Base.metadata with every table of the read model: each module of the store package is
    imported, so a table added in a new module is seen by migrations and their checks."""
    import parcours.infrastructure.store as store
    from parcours.infrastructure.store.models import Base

    for mod in pkgutil.iter_modules(store.__path__):
        if mod.name != "migrations":
            importlib.import_module(f"parcours.infrastructure.store.{mod.name}")
    return Base.metadata


def config(connection: Connection | None = None, audit_keys: Sequence[CodecKey] = ()) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    # Migration 0005 seals the audit rows written before the chain existed; without keys
    # here it reads them from the environment (PARCOURS_AUDIT_KEYS / _KEY_FILE).
    cfg.attributes["audit_keys"] = list(audit_keys)
    return cfg


_ALEMBIC = threading.Lock()


def head() -> str:
    from alembic.script import ScriptDirectory

    revision = ScriptDirectory.from_config(config()).get_current_head()
    assert revision is not None
    return revision


def newest_script() -> str | None:
    """The revision of the newest script, read from the file names (no Alembic)."""
    found = [
        m.group(1) for p in (MIGRATIONS / "versions").iterdir() if (m := SCRIPT_NAME.match(p.name))
    ]
    return max(found, default=None)


def _current(connection: Connection) -> str | None:
    from alembic.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def _upgrade(connection: Connection, revision: str, audit_keys: Sequence[CodecKey]) -> None:
    from alembic import command

    cfg = config(connection, audit_keys)
    if _current(connection) is None and inspect(connection).has_table("cases"):
        command.stamp(cfg, BASELINE)
    command.upgrade(cfg, revision)


async def upgrade(
    engine: AsyncEngine, revision: str = "head", audit_keys: Sequence[CodecKey] = ()
) -> str | None:
    """Migrate to `revision` (idempotent); returns the revision the database is at.
    `audit_keys`: the keys that seal existing audit rows, if a migration must (0005)."""
    if revision == "head":
        at = await _recorded_revision(engine)
        if at is not None and at == newest_script():
            return at
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Held to the end of the transaction: concurrent starters wait, then find the
            # schema already at head.
            await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": ADVISORY_LOCK})
        # Alembic's command API keeps its context in module globals (alembic.context, .op):
        # two upgrades at once in one process, such as the worker's and the web console's at
        # `parcours dev` start, trample each other ("KeyError: 'script'"). One at a time.
        await asyncio.to_thread(_ALEMBIC.acquire)
        try:
            await conn.run_sync(_upgrade, revision, audit_keys)
        finally:
            _ALEMBIC.release()
        return await conn.run_sync(_current)


async def _recorded_revision(engine: AsyncEngine) -> str | None:
    """The revision the database records, by plain SQL; None when it records none (a new
    database, or one from before migrations), which `upgrade` leaves to Alembic."""
    try:
        async with engine.connect() as conn:
            return (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
    except DBAPIError:
        return None


async def current(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(_current)


async def differences(engine: AsyncEngine) -> list[object]:
    """What the models have that the database lacks, or the reverse (empty when in step)."""

    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    def compare(connection: Connection) -> list[object]:
        ctx = MigrationContext.configure(connection, opts={"compare_type": True})
        diffs: list[object] = compare_metadata(ctx, target_metadata())
        return diffs

    async with engine.connect() as conn:
        return await conn.run_sync(compare)


def _revision(message: str) -> None:
    """Autogenerate a migration against a scratch SQLite database at head."""
    from alembic import command
    from alembic.script import ScriptDirectory
    from sqlalchemy import create_engine

    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite:///{tmp}/scratch.db")
        with engine.begin() as conn:
            cfg = config(conn)
            command.upgrade(cfg, "head")
            number = len(list(ScriptDirectory.from_config(cfg).walk_revisions())) + 1
            command.revision(cfg, message, autogenerate=True, rev_id=f"{number:04d}")
        engine.dispose()


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "revision":
        sys.exit('usage: python -m parcours.infrastructure.store.migrate revision "message"')
    _revision(sys.argv[2])
