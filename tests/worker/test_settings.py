"""Worker start-up settings: the workflow cache size, the sandbox's bytecode, metrics."""

from __future__ import annotations

import logging
import socket
import sys
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy.pool import QueuePool

from parcours.infrastructure.mail.catcher import free_port
from parcours.infrastructure.store.db import create_engine
from parcours.infrastructure.worker import (
    CACHE_ENV,
    DEFAULT_CACHE,
    METRICS_ENV,
    cache_size,
    ensure_workflow_bytecode,
    metrics_runtime,
)
from parcours.kernel.errors import ParcoursError


def test_cache_size_default_and_override() -> None:
    assert cache_size({}) == DEFAULT_CACHE
    assert cache_size({CACHE_ENV: "0"}) == 0
    assert cache_size({CACHE_ENV: "250"}) == 250


@pytest.mark.parametrize("raw", ["-1", "lots", "1.5", ""])
def test_cache_size_refuses_junk(raw: str) -> None:
    with pytest.raises(ParcoursError, match=CACHE_ENV):
        cache_size({CACHE_ENV: raw})


def _package(root: Path, name: str) -> Path:
    pkg = root / name
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "flow.py").write_text("STEPS = ('arrival', 'francization')\n")
    return pkg


def test_bytecode_is_written_even_when_python_would_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As under PYTHONDONTWRITEBYTECODE (the Dockerfile's setting).
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    monkeypatch.syspath_prepend(str(tmp_path))
    pkg = _package(tmp_path, "parcours_flows_ok")
    assert ensure_workflow_bytecode(("parcours_flows_ok",))
    compiled = {p.name.split(".")[0] for p in (pkg / "__pycache__").glob("*.pyc")}
    assert compiled == {"__init__", "flow"}


def test_unwritable_bytecode_is_a_warning_not_a_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    pkg = _package(tmp_path, "parcours_flows_ro")
    (pkg / "__pycache__").write_text("a file where the cache folder would go")
    with caplog.at_level(logging.WARNING, logger="parcours.infrastructure.worker"):
        assert not ensure_workflow_bytecode(("parcours_flows_ro",))
    assert "compileall" in caplog.text and str(pkg) in caplog.text


def test_the_worker_s_sqlite_engine_has_one_connection(tmp_path: Path) -> None:
    # Transactions queue for the pool in asyncio instead of in SQLite's busy handler.
    url = f"sqlite+aiosqlite:///{tmp_path / 'rm.db'}"
    worker_pool = create_engine(url, one_sqlite_writer=True).sync_engine.pool
    default_pool = create_engine(url).sync_engine.pool
    assert isinstance(worker_pool, QueuePool) and isinstance(default_pool, QueuePool)
    assert (worker_pool.size(), worker_pool._max_overflow) == (1, 0)
    assert default_pool.size() > 1


@pytest.mark.parametrize("raw", ["9464", "localhost:", ":9464", "host:http", "h:70000"])
def test_metrics_address_refuses_junk(raw: str) -> None:
    with pytest.raises(ParcoursError, match=METRICS_ENV):
        metrics_runtime({METRICS_ENV: raw})


def test_no_metrics_unless_asked() -> None:
    assert metrics_runtime({}) is None
    assert metrics_runtime({METRICS_ENV: "  "}) is None


def test_metrics_are_served_where_asked() -> None:
    port = free_port("127.0.0.1")
    runtime = metrics_runtime({METRICS_ENV: f"127.0.0.1:{port}"})
    assert runtime is not None
    # The endpoint lives as long as the runtime (the worker's client holds it).
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
        assert resp.status == 200
        assert "text/plain" in resp.headers["Content-Type"]
    del runtime


def test_a_taken_metrics_port_is_one_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ParcoursError, match="cannot serve metrics"):
            metrics_runtime({METRICS_ENV: f"127.0.0.1:{port}"})
