"""Engine, schema and sessions of the read model.

SQLite (a file under the data dir) by default, PostgreSQL through PARCOURS_DATABASE_URL.

`open_read_model(settings)` is how the product opens it: one engine per process (per event
loop) and database, shared by everything the process runs (`parcours dev` runs the worker,
the web console and the demo seeding in one process), and the schema migrated once per
process start. tests/store/test_open_read_model.py checks both, and that no other module
creates an engine.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DataError, DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from parcours.infrastructure.codec import CodecKey, CodecKeyError
from parcours.infrastructure.store import audit
from parcours.infrastructure.store.chain import AuditKeys, audit_keyring
from parcours.infrastructure.store.models import Base
from parcours.kernel.errors import ParcoursError

if TYPE_CHECKING:
    from parcours.infrastructure.config import Settings

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


def safe_url(url: str) -> str:
    """A database URL without its password, for logs and errors."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(unparsable database URL)"


@dataclass
class _Shared:
    """The engine of one database in this process (and event loop), while anyone uses it."""

    engine: AsyncEngine
    users: int = 0
    migrated: bool = False
    # Concurrent openers at start (the worker's and the console's, in `parcours dev`) wait
    # here for the first one's migration instead of running their own.
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


# Keyed by the event loop too: an engine's connections belong to the loop that made them
# (tests and `asyncio.run` per CLI call run several loops in one process, one at a time).
_SHARED: dict[tuple[str, asyncio.AbstractEventLoop], _Shared] = {}
# Databases brought to head by this process: not again until the process restarts.
_MIGRATED: set[str] = set()


@contextlib.asynccontextmanager
async def open_read_model(
    settings: Settings, *, migrate: bool = True, one_sqlite_writer: bool = False
) -> AsyncIterator[AsyncEngine]:
    """The read model's engine for `settings.database_url`: the process's one, shared with
    every block open on it now, created if none is, and disposed when the last block exits.

    `migrate`: bring the schema to head first (idempotent), once per process and database;
    `parcours db current` and `db upgrade REV` pass False and act on the schema themselves.
    The audit keys, when the settings name some, seal audit rows a migration must (0005).

    `one_sqlite_writer`: the engine gets one SQLite connection (see `create_engine`), if this
    opener is the one that creates it: the worker asks, in a process of its own. `parcours
    dev` opens first, without it, for the whole stack: the console may hold a connection
    while a request is served, and one connection for both would make them wait on each
    other.
    """
    url = settings.database_url
    key = (url, asyncio.get_running_loop())
    shared = _SHARED.get(key)
    if shared is None:
        try:
            engine = create_engine(url, one_sqlite_writer=one_sqlite_writer)
        except (OSError, ValueError, ImportError) as err:  # SQLite folder, malformed URL, driver
            raise _cannot_open(url, err) from None
        shared = _SHARED[key] = _Shared(engine)
    shared.users += 1
    try:
        if migrate:
            async with shared.lock:
                if not shared.migrated and url not in _MIGRATED:
                    await _migrate(shared.engine, settings)
                shared.migrated = True
                if not _in_memory(url):
                    _MIGRATED.add(url)
        yield shared.engine
    finally:
        shared.users -= 1
        if shared.users == 0:
            del _SHARED[key]
            await shared.engine.dispose()


async def _migrate(engine: AsyncEngine, settings: Settings) -> None:
    # Imported here: Alembic is needed only the first time a process opens the read model.
    from parcours.infrastructure.store.migrate import upgrade

    try:
        audit_keys = audit_keyring(settings)
    except CodecKeyError as err:
        raise ParcoursError(str(err), refusal=err.refusal) from None
    try:
        # Migrations, not create_all: the schema of a long-lived database moves forward.
        await upgrade(engine, audit_keys=audit_keys)
    except Exception as err:
        raise _cannot_open(settings.database_url, err) from None


def _cannot_open(url: str, err: BaseException) -> ParcoursError:
    reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return ParcoursError(f"cannot open the read model at {safe_url(url)}: {reason}")


def _in_memory(url: str) -> bool:
    """An in-memory SQLite database is a new, empty one with every engine: never remembered."""
    parsed = make_url(url)
    database = parsed.database or ""
    return parsed.get_backend_name() == "sqlite" and (
        database in ("", ":memory:") or "mode=memory" in url
    )
