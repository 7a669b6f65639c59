"""The mailer keeps a few SMTP connections open between bursts (one case's emails, the next
case's): opening one costs more round trips (and with STARTTLS a TLS handshake) than the two
emails of an opening. These tests hold what may and may not be reused, on a real SMTP server.
"""

from __future__ import annotations

import asyncio

import pytest

from parcours.infrastructure.mail import smtp
from parcours.infrastructure.mail.catcher import free_port
from parcours.infrastructure.mail.smtp import MailChannel, Mailer, MailTransientError
from tests.activities.conftest import SmtpServer


def message(mailer: Mailer, key: str) -> smtp.Outgoing:
    return mailer.compose(key=key, to=["amina@example.org"], subject="s", text="t", html="<p>h</p>")


def client_port(channel: MailChannel) -> int:
    assert channel.smtp is not None and channel.smtp.transport is not None
    return int(channel.smtp.transport.get_extra_info("sockname")[1])


async def burst(mailer: Mailer, key: str) -> tuple[int, int]:
    """Send one message on a new channel: (the connections it opened, its client port)."""
    async with mailer.channel() as ch:
        await ch.send(message(mailer, key), ["amina@example.org"])
        return ch.connections, client_port(ch)


async def test_consecutive_bursts_share_one_connection(smtp_server: SmtpServer) -> None:
    mailer = Mailer("127.0.0.1", smtp_server.port, timeout=5.0)
    try:
        first = await burst(mailer, "k-1")
        second = await burst(mailer, "k-2")
        third = await burst(mailer, "k-3")
    finally:
        await mailer.aclose()
    assert [first[0], second[0], third[0]] == [1, 0, 0]
    assert first[1] == second[1] == third[1]  # the same client socket throughout
    assert len(smtp_server.messages()) == 3


async def test_an_idle_connection_past_its_time_is_closed_not_reused(
    smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    mailer = Mailer("127.0.0.1", smtp_server.port, timeout=5.0)
    monkeypatch.setattr(smtp, "POOL_IDLE_S", 0.0)
    try:
        await burst(mailer, "k-1")
        (_, old), *_ = mailer._idle
        opened, _ = await burst(mailer, "k-2")
    finally:
        await mailer.aclose()
    assert opened == 1
    assert not old.is_connected  # quit, not left open
    assert len(smtp_server.messages()) == 2


async def test_a_connection_that_failed_or_was_cut_short_is_not_given_back(
    smtp_server: SmtpServer,
) -> None:
    mailer = Mailer("127.0.0.1", smtp_server.port, timeout=5.0)
    smtp_server.refusals["bad@example.org"] = "550 5.1.1 No such user here"
    try:
        async with mailer.channel() as ch:
            with pytest.raises(smtp.MailRejectedError):
                await ch.send(message(mailer, "k-1"), ["bad@example.org"])
        assert mailer._idle == []
        # A burst left by an exception (a cancelled activity) may be mid-command: dropped.
        with pytest.raises(RuntimeError):
            async with mailer.channel() as ch:
                await ch.send(message(mailer, "k-2"), ["amina@example.org"])
                held = ch.smtp
                raise RuntimeError("cancelled mid-burst")
        assert mailer._idle == [] and held is not None and not held.is_connected
    finally:
        await mailer.aclose()


async def test_a_connection_the_server_dropped_is_replaced(smtp_server: SmtpServer) -> None:
    mailer = Mailer("127.0.0.1", smtp_server.port, timeout=5.0)
    try:
        await burst(mailer, "k-1")
        # The relay restarts (or times the idle connection out): the pooled one is dead.
        smtp_server.catcher.stop()
        smtp_server.catcher.start()
        (_, dead), *_ = mailer._idle
        for _ in range(100):  # the close reaches the client's event loop on its next turn
            if not dead.is_connected:
                break
            await asyncio.sleep(0.01)
        opened, _ = await burst(mailer, "k-2")
    finally:
        await mailer.aclose()
    assert opened == 1
    assert len(smtp_server.messages()) == 2


async def test_the_pool_is_bounded_and_closed_on_shutdown(smtp_server: SmtpServer) -> None:
    mailer = Mailer("127.0.0.1", smtp_server.port, timeout=5.0)
    channels = [mailer.channel() for _ in range(smtp.POOL_SIZE + 3)]
    for i, ch in enumerate(channels):  # all open at once: one connection each
        await ch.send(message(mailer, f"k-{i}"), ["amina@example.org"])
    held = [ch.smtp for ch in channels]
    for ch in channels:
        await ch.close()
    assert len(mailer._idle) == smtp.POOL_SIZE
    assert sum(1 for s in held if s is not None and s.is_connected) == smtp.POOL_SIZE
    await mailer.aclose()
    assert mailer._idle == []
    assert not any(s is not None and s.is_connected for s in held)


async def test_no_server_is_a_transient_failure_and_leaves_nothing_pooled() -> None:
    mailer = Mailer("127.0.0.1", free_port(), timeout=2.0)
    with pytest.raises(MailTransientError):
        await burst(mailer, "k-1")
    assert mailer._idle == []
