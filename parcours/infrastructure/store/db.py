"""Engine, schema and sessions of the read model.

SQLite (a file under the data dir) by default, PostgreSQL through PARCOURS_DATABASE_URL.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DataError, DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from parcours.infrastructure.codec import CodecKey
from parcours.infrastructure.store import audit
from parcours.infrastructure.store.chain import AuditKeys
from parcours.infrastructure.store.models import Base

SQLITE_BUSY_TIMEOUT_MS = 5000


def refuses_value(err: DBAPIError) -> bool:
    """True when the database refused a value for good (SQLSTATE class 22: too long, out of
    range, bad format), as opposed to an outage worth retrying. asyncpg's data errors reach
    SQLAlchemy as a plain DBAPIError, not a DataError, so the SQLSTATE is read as well."""
    if isinstance(err, DataError):
        return True
    state = getattr(err.orig, "sqlstate", None)
    return isinstance(state, str) and state.startswith("22")


def create_engine(url: str, *, one_sqlite_writer: bool = False, **kwargs: Any) -> AsyncEngine:
    """An async engine for `url`; for SQLite, the file's directory is created and the
    connection tuned for a worker and a CLI writing at the same time.

    `one_sqlite_writer` (the worker's engine): one SQLite connection for the whole process,
    so its transactions queue in asyncio for the pool rather than in SQLite's busy handler.
    SQLite takes one writer at a time anyway; with several connections, the losers of each
    race sleep in the busy handler (1, 2, 5 ... 100 ms steps) or fail with "database is
    locked" when a read transaction tries to become a write, and the activity waits for its
    retry (1 s and more).
    """
    parsed = make_url(url)
    # A failed statement's exception (logged by the worker with the activity's traceback)
    # would otherwise carry its bound parameters: names, emails, notes.
    kwargs.setdefault("hide_parameters", True)
    if parsed.get_backend_name() != "sqlite":
        kwargs.setdefault("pool_pre_ping", True)
        return create_async_engine(url, **kwargs)

    database = parsed.database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
    if one_sqlite_writer:
        kwargs.setdefault("pool_size", 1)
        kwargs.setdefault("max_overflow", 0)
    engine = create_async_engine(url, **kwargs)

    @event.listens_for(engine.sync_engine, "connect")
    def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
        # WAL lets readers (CLI) run while the worker writes; busy_timeout waits for a lock
        # instead of failing at once (a lock still held after that is raised, and Temporal
        # retries the activity).
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # In WAL mode NORMAL syncs at checkpoints, not at every commit: a crash of the process
        # loses nothing; a power cut may lose the last commits, which the activities' retries
        # and `parcours reconcile` rebuild from the workflows (the source of truth).
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    return engine


async def create_schema(engine: AsyncEngine) -> None:
    """Create missing tables (idempotent). Alembic migrations will replace this."""
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)


def session_factory(
    engine: AsyncEngine, audit_keys: Sequence[CodecKey] = ()
) -> async_sessionmaker[AsyncSession]:
    """Sessions of the read model; with `audit_keys`, they can append to the audit trail
    (parcours/infrastructure/store/audit.py seals each row with the first key)."""
    info = {audit.INFO_KEY: AuditKeys.of(audit_keys)} if audit_keys else {}
    return async_sessionmaker(engine, expire_on_commit=False, info=info)
