"""One engine per process: `open_read_model` is the only way the product opens the read
model; everything open at once shares one engine, and the schema is migrated once per
process and database."""

from __future__ import annotations

import ast
import asyncio
from pathlib import Path
from typing import Any

import pytest

from parcours.infrastructure.config import Settings
from parcours.infrastructure.store import db, migrate
from parcours.infrastructure.store.db import open_read_model
from parcours.kernel.errors import ParcoursError

ROOT = Path(__file__).resolve().parents[2]
DB = ROOT / "parcours" / "infrastructure" / "store" / "db.py"
# migrate.py's `revision` tool makes a scratch SQLite database of its own (not the read model).
SCRATCH = ROOT / "parcours" / "infrastructure" / "store" / "migrate.py"


@pytest.fixture
def upgrades(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The migrations run, by database URL."""
    runs: list[str] = []
    real = migrate.upgrade

    async def counting(engine: Any, *args: Any, **kwargs: Any) -> str | None:
        runs.append(str(engine.url))
        return await real(engine, *args, **kwargs)

    monkeypatch.setattr(migrate, "upgrade", counting)
    return runs


def settings_at(tmp_path: Path, name: str = "rm.db") -> Settings:
    return Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / name}", data_dir=str(tmp_path))


async def test_open_twice_is_one_engine_migrated_once(tmp_path: Path, upgrades: list[str]) -> None:
    settings = settings_at(tmp_path)
    async with open_read_model(settings) as first, open_read_model(settings) as second:
        assert first is second
        # A worker's opener asks for one SQLite connection; the engine open already serves it.
        async with open_read_model(settings, one_sqlite_writer=True) as third:
            assert third is first
    assert len(upgrades) == 1
    # Closed by the last one out; opened again later in the process: not migrated again.
    async with open_read_model(settings) as again:
        assert migrate.head() == await migrate.current(again)
    assert len(upgrades) == 1


async def test_openers_at_start_wait_for_one_migration(tmp_path: Path, upgrades: list[str]) -> None:
    # `parcours dev`: the worker and the console open the read model at the same moment.
    settings = settings_at(tmp_path)
    opened = asyncio.Event()
    engines: list[object] = []

    async def opener() -> None:
        async with open_read_model(settings) as engine:
            engines.append(engine)
            if len(engines) == 3:
                opened.set()
            await opened.wait()

    await asyncio.wait_for(asyncio.gather(opener(), opener(), opener()), 60)
    assert len(upgrades) == 1 and len({id(e) for e in engines}) == 1


async def test_each_database_has_its_engine(tmp_path: Path, upgrades: list[str]) -> None:
    a, b = settings_at(tmp_path, "a.db"), settings_at(tmp_path, "b.db")
    async with open_read_model(a) as ea, open_read_model(b) as eb:
        assert ea is not eb
    assert len(upgrades) == 2


async def test_without_migrating(tmp_path: Path, upgrades: list[str]) -> None:
    async with open_read_model(settings_at(tmp_path), migrate=False) as engine:
        assert await migrate.current(engine) is None  # `parcours db current` on a new database
    assert upgrades == []


async def test_a_database_that_cannot_be_opened_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    settings = Settings(database_url=f"sqlite+aiosqlite:///{blocker / 'rm.db'}")
    with pytest.raises(ParcoursError, match="^cannot open the read model at sqlite") as caught:
        async with open_read_model(settings):
            pass
    assert "\n" not in str(caught.value)
    assert not db._SHARED  # nothing left open


async def test_a_migration_failure_names_the_database_without_its_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_: Any, **__: Any) -> None:
        raise RuntimeError("relation cases: permission denied\nDETAIL: ...")

    monkeypatch.setattr(migrate, "upgrade", broken)
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'broken.db'}")
    with pytest.raises(ParcoursError) as caught:
        async with open_read_model(settings):
            pass
    assert str(caught.value) == (
        f"cannot open the read model at {settings.database_url}: relation cases: permission denied"
    )
    assert not db._SHARED
    assert db.safe_url("postgresql+asyncpg://app:secret@db/parcours") == (
        "postgresql+asyncpg://app:***@db/parcours"
    )


def test_in_memory_databases_are_never_remembered() -> None:
    assert db._in_memory("sqlite+aiosqlite://")
    assert db._in_memory("sqlite+aiosqlite:///:memory:")
    assert not db._in_memory("sqlite+aiosqlite:////srv/parcours.db")
    assert not db._in_memory("postgresql+asyncpg://app@db/parcours")


def _product_sources() -> list[Path]:
    files = [ROOT / "worker.py"]
    for package in ("parcours", "workflows", "activities"):
        files += sorted((ROOT / package).rglob("*.py"))
    return files


def _names_used(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    names |= {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    names |= {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
    return names


def test_only_db_py_creates_an_engine() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in _product_sources()
        if path not in (DB, SCRATCH)
        and {"create_async_engine", "create_engine"} & _names_used(path)
    ]
    assert offenders == [], "open the read model with store.db.open_read_model()"
    assert "create_async_engine" not in _names_used(SCRATCH)
