"""An SMTP catcher that counts instead of writing files: tens of thousands of .eml files
would measure the disk, not the product. It keeps each Message-ID (a hash of the
notification key, no personal data) to count duplicates.

It runs in a process of its own (`python -m bench.catcher HOST PORT STATS`), as a relay runs on
a machine of its own: in the harness's process its SMTP exchanges (about ten commands per
email, 36 emails a second during an import) took the interpreter lock from the officers'
requests that the harness times, and added to their latency a cost that the bare baseline,
which sends no email, never paid. The process writes its counts to the STATS file (JSON,
replaced whole) every POLL_S, with the time it wrote them; the harness reads that file, and
waits for a write made after it asked, so that no count is older than the question."""

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

# How often the catcher's process writes its counts, and how long the harness waits for it
# to listen, for a fresh write, and for it to stop.
POLL_S = 0.05
READY_S = 30.0
FRESH_S = 5.0
STOP_S = 10.0
# The repository's root: `python -m bench.catcher` runs from there whatever the cwd.
ROOT = Path(__file__).resolve().parents[1]


class _CountingHandler:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ids: Counter[str] = Counter()
        self.total = 0
        self.duplicates = 0
        self._parser = BytesHeaderParser()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content: bytes = envelope.original_content or envelope.content
        headers = self._parser.parsebytes(content)
        message_id = str(headers.get("Message-ID", ""))
        with self.lock:
            self.total += 1
            self.ids[message_id] += 1
            self.duplicates += self.ids[message_id] > 1
        return "250 Message accepted for delivery"

    def counts(self) -> dict[str, float]:
        with self.lock:
            return {"total": self.total, "duplicates": self.duplicates}


def _write(stats: Path, counts: dict[str, float]) -> None:
    tmp = stats.with_suffix(".tmp")
    tmp.write_text(json.dumps(counts))
    os.replace(tmp, stats)  # a reader never sees half a file


def serve(host: str, port: int, stats: Path) -> None:
    """Catch on host:port until SIGTERM (or until the harness that started it is gone),
    keeping `stats` current."""
    from aiosmtpd.controller import Controller

    parent = os.getppid()
    handler = _CountingHandler()
    controller = Controller(handler, hostname=host, port=port)
    controller.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.is_set() and os.getppid() == parent:
            _write(stats, handler.counts() | {"at": time.monotonic()})
            stop.wait(POLL_S)
    finally:
        controller.stop()
        _write(stats, handler.counts() | {"at": time.monotonic(), "stopped": 1})


class CountingCatcher:
    """The catcher's process, seen from the harness: `start()`, `.total`,
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
            [sys.executable, "-m", "bench.catcher", self.host, str(self.port), str(self.stats)],
            cwd=ROOT,
        )
        deadline = time.monotonic() + READY_S
        while not self.stats.exists():  # written once the server listens
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the SMTP catcher did not start on {self.host}:{self.port}")
            time.sleep(POLL_S)

    def stop(self) -> int | None:
        """Stop the process; its exit code (0 when it stopped as asked), None if none ran."""
        proc, self._proc = self._proc, None
        if proc is None:
            return None
        proc.terminate()
        try:
            return proc.wait(timeout=STOP_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait()

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def _counts(self) -> dict[str, float]:
        """Counts written after this call began (the process writes every POLL_S); after it
        stopped, its last counts. Raises if the process stopped writing: a count the harness
        cannot trust is no count."""
        asked = time.monotonic()
        while True:
            counts: dict[str, float] = json.loads(self.stats.read_text())  # replaced whole
            if counts["at"] >= asked or counts.get("stopped") or self._proc is None:
                return counts
            if time.monotonic() - asked > FRESH_S:
                raise RuntimeError(f"the SMTP catcher stopped writing {self.stats}")
            time.sleep(POLL_S / 5)

    @property
    def total(self) -> int:
        return int(self._counts()["total"])

    def duplicates(self) -> int:
        """Messages received more than once (same Message-ID), counted beyond the first."""
        return int(self._counts()["duplicates"])


def main(argv: list[str]) -> None:
    host, port, stats = argv
    serve(host, int(port), Path(stats))


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main(sys.argv[1:])
