"""An SMTP catcher that counts instead of writing files: tens of thousands of .eml files
would measure the disk, not the product. It keeps each Message-ID (a hash of the
notification key, no personal data) to count duplicates.

It runs in a process of its own (`python -m bench.catcher PORT STATS`), as a relay runs on
a machine of its own: in the harness's process its SMTP exchanges (about ten commands per
email, 36 emails a second during an import) took the interpreter lock from the officers'
requests that the harness times, and added to their latency a cost that the bare baseline,
which sends no email, never paid. The process writes its counts to the STATS file (JSON,
replaced whole) whenever they change, at most every POLL_S; the harness reads that file."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

from parcours.infrastructure.mail.catcher import free_port

# How often the catcher's process writes its counts when they changed, and how long the
# harness waits for it to listen.
POLL_S = 0.05
READY_S = 30.0


class _CountingHandler:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ids: Counter[str] = Counter()
        self.total = 0
        self.last_at = 0.0
        self._parser = BytesHeaderParser()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content: bytes = envelope.original_content or envelope.content
        headers = self._parser.parsebytes(content)
        message_id = str(headers.get("Message-ID", ""))
        with self.lock:
            self.total += 1
            self.ids[message_id] += 1
            self.last_at = time.monotonic()  # CLOCK_MONOTONIC: the same in every process
        return "250 Message accepted for delivery"

    def counts(self) -> dict[str, float]:
        with self.lock:
            duplicates = sum(n - 1 for n in self.ids.values() if n > 1)
            return {"total": self.total, "last_at": self.last_at, "duplicates": duplicates}


def _write(stats: Path, counts: dict[str, float]) -> None:
    tmp = stats.with_suffix(".tmp")
    tmp.write_text(json.dumps(counts))
    os.replace(tmp, stats)  # a reader never sees half a file


def serve(host: str, port: int, stats: Path) -> None:
    """Catch on host:port until SIGTERM, keeping `stats` current."""
    from aiosmtpd.controller import Controller

    handler = _CountingHandler()
    controller = Controller(handler, hostname=host, port=port)
    controller.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    written: dict[str, float] | None = None
    try:
        while True:
            counts = handler.counts()
            if counts != written:
                _write(stats, counts)
                written = counts
            if stop.wait(POLL_S):
                break
    finally:
        controller.stop()
        _write(stats, handler.counts())


class CountingCatcher:
    """The catcher's process, seen from the harness: `start()`, `.total`, `.last_at`,
    `.duplicates()`, `stop()`."""

    def __init__(self, host: str = "127.0.0.1", *, stats: Path) -> None:
        self.host = host
        self.port = free_port(host)
        self.stats = stats
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.stats.unlink()
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "bench.catcher", self.host, str(self.port), str(self.stats)]
        )
        deadline = time.monotonic() + READY_S
        while not self.stats.exists():  # written once the server listens
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the SMTP catcher did not start on {self.host}:{self.port}")
            time.sleep(POLL_S)

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def _counts(self) -> dict[str, float]:
        try:
            return dict(json.loads(self.stats.read_text()))
        except (OSError, ValueError):
            return {"total": 0, "last_at": 0.0, "duplicates": 0}

    @property
    def total(self) -> int:
        return int(self._counts()["total"])

    @property
    def last_at(self) -> float:
        return float(self._counts()["last_at"])

    def duplicates(self) -> int:
        """Messages received more than once (same Message-ID), counted beyond the first."""
        return int(self._counts()["duplicates"])


def main(argv: list[str]) -> None:
    host, port, stats = argv
    serve(host, int(port), Path(stats))


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main(sys.argv[1:])
