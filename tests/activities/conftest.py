"""Activity fixtures: the read model (from tests/store), a real SMTP server (our catcher),
and the activity classes wired as the worker wires them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import ActivityEnvironment

from activities.casework import Casework
from activities.notify import Notifier
from parcours.infrastructure.config import Settings
from parcours.infrastructure.mail.catcher import MailCatcher
from parcours.infrastructure.mail.render import Renderer
from parcours.infrastructure.mail.smtp import Mailer
from tests.store.conftest import engine, sessions  # noqa: F401 - fixtures reused here


@dataclass
class SmtpServer:
    """The catcher plus the refusals it answers: address -> SMTP reply ("550 ...")."""

    catcher: MailCatcher
    refusals: dict[str, str] = field(default_factory=dict)

    @property
    def port(self) -> int:
        return self.catcher.port

    def messages(self):  # -> list[EmailMessage]
        return self.catcher.messages()


@pytest.fixture
def smtp_server(tmp_path: Path) -> Iterator[SmtpServer]:
    refusals: dict[str, str] = {}
    catcher = MailCatcher(tmp_path / "mail", port=0, recipient_policy=refusals.get)
    catcher.start()
    try:
        yield SmtpServer(catcher, refusals)
    finally:
        catcher.stop()


@contextlib.asynccontextmanager
async def silent_relay() -> AsyncIterator[tuple[int, list[bool]]]:
    """A server that takes connections and never greets (a relay hung, or a firewall that
    lets the handshake through): yields its port and the connections it saw close."""
    closed: list[bool] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the client closes
        closed.append(True)
        writer.close()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1], closed
    finally:
        server.close()


# When the tests' emails are composed: before the arrival dates they use (March 2026), so a
# welcome promises the airport greeting (tests/activities/test_emails.py covers the other).
COMPOSED_AT = datetime(2026, 1, 15, 12, tzinfo=UTC)


@pytest.fixture
def renderer() -> Renderer:
    # Strict: a key missing from the catalogue fails the test instead of showing the key.
    return Renderer(Settings().templates_dir, strict=True, clock=lambda: COMPOSED_AT)


@pytest_asyncio.fixture
async def mailer(smtp_server: SmtpServer) -> AsyncIterator[Mailer]:
    mailer = Mailer("127.0.0.1", smtp_server.port, timeout=5.0)
    yield mailer
    await mailer.aclose()  # its pooled connections


@pytest.fixture
def notifier(
    sessions: async_sessionmaker[AsyncSession],  # noqa: F811
    mailer: Mailer,
    renderer: Renderer,
) -> Notifier:
    return Notifier(sessions, mailer, renderer)


@pytest.fixture
def casework(sessions: async_sessionmaker[AsyncSession]) -> Casework:  # noqa: F811
    return Casework(sessions)


@pytest.fixture
def activity_env() -> ActivityEnvironment:
    return ActivityEnvironment()
