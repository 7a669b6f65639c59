"""The mailer keeps a few SMTP connections open between bursts (one case's emails, the next
case's): opening one costs more round trips (and with STARTTLS a TLS handshake) than the two
emails of an opening. These tests hold what may and may not be reused, on a real SMTP server.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest
from aiosmtpd.controller import Controller

from parcours.infrastructure.mail import smtp
from parcours.infrastructure.mail.catcher import MailCatcher, free_port
from parcours.infrastructure.mail.smtp import MailChannel, Mailer, MailTransientError
from tests.activities.conftest import SmtpServer, silent_relay

LIMIT_421 = "421 4.7.0 Too many messages on this connection, closing"


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


async def test_a_relay_that_does_not_answer_in_time_is_a_transient_failure() -> None:
    """A local email attempt (activities/notify.LOCAL_CONNECT_S) gives the connection a short
    deadline, not the mailer's SMTP timeout: a relay that does not greet fails the send as
    transient (nothing was sent), and the half-open connection is closed, not pooled."""
    async with silent_relay() as (port, closed):
        mailer = Mailer("127.0.0.1", port, timeout=60.0)
        async with asyncio.timeout(20):  # the mailer's own timeout would take 60 s
            async with mailer.channel(connect_within=0.3) as ch:
                with pytest.raises(MailTransientError, match="unreachable"):
                    await ch.send(message(mailer, "k-1"), ["amina@example.org"])
            for _ in range(100):
                if closed:
                    break
                await asyncio.sleep(0.02)
        assert closed == [True] and mailer._idle == [] and ch.smtp is None


async def test_an_exchange_cut_short_by_its_deadline_is_never_reused(tmp_path: Path) -> None:
    """The activity's send deadline (activities/notify.py) cancels an exchange mid-command:
    that connection may be desynchronised (a late reply read as the next email's) and is
    closed, not pooled; the next burst gets a fresh one and its email goes where it should."""

    def slow(address: str) -> str | None:
        if address.startswith("slow@"):
            time.sleep(1.0)  # the catcher's own thread: only its reply is late
        return None

    catcher = MailCatcher(tmp_path / "mail", port=0, recipient_policy=slow)
    catcher.start()
    mailer = Mailer("127.0.0.1", catcher.port, timeout=5.0)
    try:
        async with mailer.channel() as ch:
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.2):
                    await ch.send(message(mailer, "k-1"), ["slow@example.org"])
            held = ch.smtp
            await ch.close()  # what notify's deadline branch does
        assert mailer._idle == [] and held is not None and not held.is_connected
        opened, _ = await burst(mailer, "k-2")
        assert opened == 1
        await asyncio.sleep(1.2)  # the slow reply has come and gone
        assert [m["X-RcptTo"] for m in catcher.messages()] == ["amina@example.org"]
    finally:
        await mailer.aclose()
        catcher.stop()


async def test_a_connection_idle_past_the_check_is_asked_noop_first(
    smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    mailer = Mailer("127.0.0.1", smtp_server.port, timeout=5.0)
    monkeypatch.setattr(smtp, "CHECK_AFTER_S", 0.0)
    asked: list[str] = []
    try:
        await burst(mailer, "k-1")
        (_, pooled), *_ = mailer._idle

        async def noop_ok(*_a: object, **_k: object) -> None:
            asked.append("ok")

        monkeypatch.setattr(pooled, "noop", noop_ok)
        assert (await burst(mailer, "k-2"))[0] == 0  # asked, answered, reused
        (_, pooled), *_ = mailer._idle

        async def noop_dead(*_a: object, **_k: object) -> None:
            asked.append("dead")
            raise aiosmtplib.SMTPServerDisconnected("gone")

        monkeypatch.setattr(pooled, "noop", noop_dead)
        assert (await burst(mailer, "k-3"))[0] == 1  # the dead one closed, a new one opened
        assert not pooled.is_connected
    finally:
        await mailer.aclose()
    assert asked == ["ok", "dead"]
    assert len(smtp_server.messages()) == 3


async def gone_quiet(mailer: Mailer, monkeypatch: pytest.MonkeyPatch) -> aiosmtplib.SMTP:
    """A connection pooled by a first burst, whose relay then goes quiet: its NOOP check
    (asked at once, CHECK_AFTER_S patched to 0) never answers."""
    monkeypatch.setattr(smtp, "CHECK_AFTER_S", 0.0)
    await burst(mailer, "k-1")
    (_, pooled), *_ = mailer._idle

    async def noop_silent(*_a: object, **_k: object) -> None:
        await asyncio.sleep(60)

    monkeypatch.setattr(pooled, "noop", noop_silent)
    return pooled


async def test_a_connection_whose_noop_check_is_cut_short_is_closed(
    smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The send deadline (activities/notify.py) may fall while a pooled connection is asked
    NOOP: that connection, out of the pool and mid-command, is closed, not left open."""
    mailer = Mailer("127.0.0.1", smtp_server.port, timeout=5.0)
    try:
        pooled = await gone_quiet(mailer, monkeypatch)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.1):
                await burst(mailer, "k-2")
        assert mailer._idle == [] and not pooled.is_connected
    finally:
        await mailer.aclose()


async def test_a_pooled_connection_that_does_not_answer_its_check_counts_in_the_deadline(
    smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A channel's `connect_within` (a local email attempt's) bounds a pooled connection's
    NOOP check too: a relay gone quiet fails the send as transient within it, and that
    connection is closed, not left in the pool."""
    mailer = Mailer("127.0.0.1", smtp_server.port, timeout=60.0)
    try:
        pooled = await gone_quiet(mailer, monkeypatch)
        async with asyncio.timeout(20):  # the mailer's own timeout would take 60 s
            async with mailer.channel(connect_within=0.2) as ch:
                with pytest.raises(MailTransientError, match="unreachable"):
                    await ch.send(message(mailer, "k-2"), ["amina@example.org"])
        assert mailer._idle == [] and not pooled.is_connected
        assert len(smtp_server.messages()) == 1  # only the first burst's
    finally:
        await mailer.aclose()


async def test_a_connection_given_back_after_shutdown_is_closed(smtp_server: SmtpServer) -> None:
    """An activity still running when the worker closes the pool (past its graceful
    shutdown) does not leave a connection open behind it."""
    mailer = Mailer("127.0.0.1", smtp_server.port, timeout=5.0)
    ch = mailer.channel()
    await ch.send(message(mailer, "k-1"), ["amina@example.org"])
    held = ch.smtp
    await mailer.aclose()
    await ch.close()
    assert mailer._idle == [] and held is not None and not held.is_connected


class LimitingRelay:
    """An aiosmtpd handler that takes `limit` messages per connection and then answers MAIL
    FROM with `reply` (a 421, closing, as relays with a per-connection message limit do), or
    with `drop` closes without a reply; `limit` 0 refuses every MAIL FROM. With `at="RCPT"` it
    takes MAIL FROM and answers RCPT instead (some relays close the session there). Records
    each MAIL FROM it was asked and each message it took, by connection (numbered as they
    came)."""

    def __init__(
        self, limit: int, *, reply: str = LIMIT_421, drop: bool = False, at: str = "MAIL"
    ) -> None:
        self.limit = limit
        self.reply = reply
        self.drop = drop
        self.at = at
        self.asked: list[int] = []  # the connection of each MAIL FROM
        self.taken: list[int] = []  # the connection of each message taken
        self._connections = itertools.count(1)
        self.port = free_port()

    async def handle_MAIL(  # aiosmtpd's hook names
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if not hasattr(session, "number"):
            session.number = next(self._connections)
        self.asked.append(session.number)
        if self.at == "MAIL" and self._over(session):
            return self._refuse(server)
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if self.at == "RCPT" and self._over(session):
            return self._refuse(server)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    def _over(self, session: Any) -> bool:
        return self.taken.count(session.number) >= self.limit

    def _refuse(self, server: Any) -> str:
        if self.drop:
            server.transport.close()  # before aiosmtpd can write the reply
            return "421 never seen"
        if self.reply.startswith("421"):
            # Closed once the reply is written (aiosmtpd writes it when the hook returns).
            asyncio.get_running_loop().call_soon(server.transport.close)
        return self.reply

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.taken.append(session.number)
        return "250 Message accepted for delivery"


@contextlib.contextmanager
def relay(limit: int, **how: Any) -> Iterator[LimitingRelay]:
    handler = LimitingRelay(limit, **how)
    controller = Controller(handler, hostname="127.0.0.1", port=handler.port)
    controller.start()
    try:
        yield handler
    finally:
        controller.stop()


def mailer_for(server: LimitingRelay) -> Mailer:
    return Mailer("127.0.0.1", server.port, timeout=5.0)


async def test_a_reused_connection_refused_at_mail_from_sends_again_on_a_new_one() -> None:
    """A relay that takes 2 messages per connection: the third, on the pooled connection, is
    refused at MAIL FROM (421: nothing of it sent) and goes on a new connection, once; the
    burst and the next bursts carry on. Before, the refusal failed the whole batch activity
    (its emails retried seconds later)."""
    with relay(limit=2) as server:
        mailer = mailer_for(server)
        try:
            opened = [(await burst(mailer, f"k-{i}"))[0] for i in range(3)]
            async with mailer.channel() as ch:  # a burst of 3 on the pooled connection
                for i in range(3, 6):
                    await ch.send(message(mailer, f"k-{i}"), ["amina@example.org"])
                opened.append(ch.connections)
        finally:
            await mailer.aclose()
    assert opened == [1, 0, 1, 1]  # the 3rd and the 5th went on new connections
    assert server.taken == [1, 1, 2, 2, 3, 3]  # every message once, 2 per connection
    assert server.asked == [1, 1, 1, 2, 2, 2, 3, 3]  # + the two refused MAIL FROM


async def test_a_reused_connection_closed_at_rcpt_sends_again_on_a_new_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Some relays say their per-connection limit at RCPT (421, closing): nothing of the
    message was sent, so it goes on a new connection, as after a refusal at MAIL FROM; before,
    the burst failed and waited for the activity's retry."""
    caplog.set_level(logging.INFO, logger=smtp.__name__)
    with relay(limit=2, at="RCPT") as server:
        mailer = mailer_for(server)
        try:
            async with mailer.channel() as ch:
                for i in range(5):
                    await ch.send(message(mailer, f"k-{i}"), ["amina@example.org"])
                opened = ch.connections
        finally:
            await mailer.aclose()
    assert opened == 3
    assert server.taken == [1, 1, 2, 2, 3]
    assert server.asked == [1, 1, 1, 2, 2, 2, 3]  # the 3rd and the 5th: MAIL FROM twice
    resent = [r.getMessage() for r in caplog.records if "again on a new one" in r.getMessage()]
    assert (
        resent
        == [
            "SMTP: the relay is done with a reused connection (RCPT 421): "
            "sending the message again on a new one"
        ]
        * 2
    )
    assert "amina" not in caplog.text  # the codes, never the refused address


async def test_a_421_at_rcpt_for_several_recipients_is_left_to_the_activitys_retry() -> None:
    """With two recipients, aiosmtplib meets the closed connection at the second RCPT, as a
    dropped connection (which elsewhere could come after the final dot): not resent at once,
    a transient failure; nothing was taken."""
    with relay(limit=1, at="RCPT") as server:
        mailer = mailer_for(server)
        try:
            await burst(mailer, "k-1")
            async with mailer.channel() as ch:
                with pytest.raises(MailTransientError):
                    await ch.send(message(mailer, "k-2"), ["amina@example.org", "lead@example.org"])
        finally:
            await mailer.aclose()
    assert server.asked == [1, 1] and server.taken == [1]


@pytest.mark.parametrize(
    "reply", ["450 4.2.1 Mailbox busy", "550 5.1.1 No such user"], ids=["450", "550"]
)
async def test_a_recipient_refused_at_rcpt_is_not_resent_on_a_new_connection(reply: str) -> None:
    """At RCPT, anything but a 421 is about the recipient: a new connection would hear it
    again. It is raised (transient or rejected, as before) without another try."""
    with relay(limit=1, at="RCPT", reply=reply) as server:
        mailer = mailer_for(server)
        try:
            await burst(mailer, "k-1")
            with pytest.raises(smtp.MailError) as refused:
                await burst(mailer, "k-2")
        finally:
            await mailer.aclose()
    assert refused.value.code == int(reply[:3])
    assert server.asked == [1, 1] and server.taken == [1]


async def test_a_refusal_for_now_is_retried_once_on_a_new_connection_not_the_pool() -> None:
    """The relay changes its mind about our sender (a 421 on every MAIL FROM) while the pool
    is full of used connections: the message is tried on one of them, then on one new
    connection, whose refusal is the answer; the other pooled connections are left alone."""
    with relay(limit=1) as server:
        mailer = mailer_for(server)
        channels = [mailer.channel() for _ in range(smtp.POOL_SIZE)]
        try:
            for i, ch in enumerate(channels):  # one message each: a full pool of used ones
                await ch.send(message(mailer, f"k-{i}"), ["amina@example.org"])
            for ch in channels:
                await ch.close()
            assert len(mailer._idle) == smtp.POOL_SIZE
            server.limit = 0
            with pytest.raises(MailTransientError) as refused:
                await burst(mailer, "k-last")
            assert len(mailer._idle) == smtp.POOL_SIZE - 1
        finally:
            await mailer.aclose()
    assert refused.value.code == 421
    # 8 messages, then for the last one: a pooled connection, then a new one (the 9th).
    assert server.asked[smtp.POOL_SIZE :] == [smtp.POOL_SIZE, smtp.POOL_SIZE + 1]
    assert len(server.taken) == smtp.POOL_SIZE


@pytest.mark.parametrize(
    "how",
    [{"reply": "550 5.7.1 Sender not allowed"}, {"drop": True}],
    ids=["5xx", "closed"],
)
async def test_a_refusal_that_stands_or_a_dropped_connection_is_not_resent_at_once(
    how: dict[str, Any],
) -> None:
    """On a reused connection, a 5xx at MAIL FROM is an answer about our sender, and a
    connection that drops may drop after the final dot (the relay may have the message): both
    are raised as before, for the outbox's rules and the activity's retry to handle."""
    with relay(limit=1, **how) as server:
        mailer = mailer_for(server)
        try:
            await burst(mailer, "k-1")
            with pytest.raises(smtp.MailError):
                await burst(mailer, "k-2")
        finally:
            await mailer.aclose()
    assert server.asked == [1, 1] and server.taken == [1]


@pytest.mark.parametrize("at", ["MAIL", "RCPT"])
async def test_a_new_connection_refused_is_the_servers_answer(at: str) -> None:
    """Refused (at MAIL FROM, or closed at RCPT) on a connection that carried nothing before:
    a transient failure, raised at once, without another try."""
    with relay(limit=0, at=at) as server:
        mailer = mailer_for(server)
        try:
            with pytest.raises(MailTransientError) as refused:
                await burst(mailer, "k-1")
        finally:
            await mailer.aclose()
    assert refused.value.code == 421
    assert server.asked == [1] and server.taken == []
    assert mailer._idle == []
