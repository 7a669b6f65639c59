"""An SMTP catcher that counts instead of writing files: tens of thousands of .eml files
would measure the disk, not the product. It keeps each Message-ID (a hash of the
notification key, no personal data) to count duplicates."""

from __future__ import annotations

import threading
import time
from collections import Counter
from email.parser import BytesHeaderParser
from typing import Any

from aiosmtpd.controller import Controller

from parcours.infrastructure.mail.catcher import free_port


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
            self.last_at = time.monotonic()
        return "250 Message accepted for delivery"


class CountingCatcher:
    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = free_port(host)
        self._handler = _CountingHandler()
        self._controller = Controller(self._handler, hostname=host, port=self.port)

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    @property
    def total(self) -> int:
        return self._handler.total

    @property
    def last_at(self) -> float:
        return self._handler.last_at

    def duplicates(self) -> int:
        """Messages received more than once (same Message-ID), counted beyond the first."""
        with self._handler.lock:
            return sum(n - 1 for n in self._handler.ids.values() if n > 1)
