"""A local SMTP server that keeps every message as an `.eml` file: the dev stack's mailbox
and the tests' real SMTP server.

Files are named `<UTC timestamp>-<counter>.eml`, so `ls` lists them in arrival order.
"""

from __future__ import annotations

import email
import email.policy
import itertools
import logging
import os
import socket
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import Any, cast

from aiosmtpd.controller import Controller

logger = logging.getLogger(__name__)

# Given a recipient address, return an SMTP reply to refuse it ("550 5.1.1 No such user"),
# or None to accept it. Tests use it to simulate permanent and temporary refusals.
RecipientPolicy = Callable[[str], str | None]


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


class _MaildirHandler:
    def __init__(self, directory: Path, policy: RecipientPolicy | None) -> None:
        self.directory = directory
        self.policy = policy
        self._counter = itertools.count(1)

    async def handle_RCPT(  # aiosmtpd's hook names
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if self.policy is not None:
            refusal = self.policy(address)
            if refusal:
                return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content: bytes = envelope.original_content or envelope.content
        header = f"X-RcptTo: {', '.join(envelope.rcpt_tos)}\r\n".encode()
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        path = self.directory / f"{stamp}-{next(self._counter):06d}.eml"
        tmp = path.with_suffix(".tmp")
        # Write then rename: a reader listing *.eml never sees half a message.
        tmp.write_bytes(header + content)
        os.replace(tmp, path)
        logger.info("caught message %s", path.name)
        return "250 Message accepted for delivery"


class MailCatcher:
    """`MailCatcher(dir).start()` ... `.stop()`, or use it as a context manager."""

    def __init__(
        self,
        directory: str | os.PathLike[str],
        host: str = "127.0.0.1",
        port: int = 1025,
        *,
        recipient_policy: RecipientPolicy | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.host = host
        self.port = port
        self.recipient_policy = recipient_policy
        self._controller: Controller | None = None

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        if self.port == 0:
            # aiosmtpd checks readiness by connecting to the configured port, so it needs a
            # real one.
            self.port = free_port(self.host)
        handler = _MaildirHandler(self.directory, self.recipient_policy)
        self._controller = Controller(handler, hostname=self.host, port=self.port)
        self._controller.start()
        logger.info("SMTP catcher listening on %s:%s", self.host, self.port)

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> MailCatcher:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def files(self) -> list[Path]:
        return sorted(self.directory.glob("*.eml"))

    def messages(self) -> list[EmailMessage]:
        return [
            cast(
                EmailMessage, email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
            )
            for p in self.files()
        ]
