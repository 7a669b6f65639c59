"""Send rendered messages over SMTP (aiosmtplib) and sort failures into transient and
permanent, the distinction Temporal's retry policy needs.

Error messages raised from here never contain an address or a server reply text (which often
echoes the address): they end up in Temporal's history, which is not the place for personal
data. Codes only; the outbox row keeps the details.
"""

from __future__ import annotations

import asyncio
import binascii
import hashlib
import logging
import random
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr

import aiosmtplib

from parcours.infrastructure.config import Settings
from parcours.infrastructure.mail.ical import Attachment

logger = logging.getLogger(__name__)

# Connections a worker keeps open between bursts, and for how long one may sit idle before it
# is closed instead of reused. Opening one costs a TCP handshake, the server's greeting, EHLO
# (and with STARTTLS a TLS handshake) and QUIT: more round trips than the two emails of an
# opening. RFC 5321 (4.5.3.2.7) asks servers to wait 5 minutes for a client's next command;
# some relays wait less, hence 10 s: under load a connection is reused within milliseconds.
POOL_SIZE = 8
POOL_IDLE_S = 10.0
# A pooled connection idle longer than this is asked NOOP before it is used: a relay that
# closed it (a restart, an idle timeout shorter than ours) is found before an email is at
# stake, not by a failed batch. Under load connections are reused within milliseconds and
# never asked.
CHECK_AFTER_S = 1.0
# How long QUIT may take on a connection being let go (an expired one, or at shutdown): a
# relay gone silent must not hold anybody for the whole SMTP timeout.
QUIT_TIMEOUT_S = 2.0


class MailError(Exception):
    def __init__(self, message: str, code: int | None = None, detail: str = "") -> None:
        super().__init__(message)
        self.code = code
        # Server replies, kept for the outbox row only (may contain addresses).
        self.detail = detail


class MailTransientError(MailError):
    """The server did not take the message, but may later: retry."""


class MailRejectedError(MailError):
    """The server refused this message for good (5xx): retrying would not help."""


@dataclass(frozen=True)
class Delivery:
    accepted: int
    # Recipients the server refused while accepting others: address -> "code reply".
    refused: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Outgoing:
    """A composed email: its Message-ID and its bytes as they go on the wire (`data`), or,
    for the rare message whose addresses need SMTPUTF8, the `email` package's message."""

    message_id: str
    data: bytes = b""
    message: EmailMessage | None = None


def message_id_for(key: str, domain: str) -> str:
    """A Message-ID that is the same on every attempt for one notification, so receiving
    systems can recognise a copy, and free of personal data (a hash of the key)."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"<{digest}@{domain}>"


class Mailer:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 1025,
        *,
        mail_from: str = Settings.mail_from,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout: float = 30.0,
    ) -> None:
        self.host = host
        self.port = port
        self.mail_from = mail_from
        self.username = username
        self.password = password
        self.starttls = starttls
        self.timeout = timeout
        self.sender = parseaddr(mail_from)[1]
        self.domain = self.sender.rpartition("@")[2] or "parcours.localhost"
        # Connections a channel gave back, between commands, with when: newest last.
        self._idle: list[tuple[float, aiosmtplib.SMTP]] = []
        self._closed = False
        # The EHLO name, looked up once: aiosmtplib otherwise resolves it in a thread (a DNS
        # query) for every connection.
        self._local_hostname: str | None = None
        # The From header as written on every message (a display name outside ASCII encoded).
        name, address = parseaddr(mail_from)
        self._from_header = (
            _fold("From: " + mail_from)[len("From: ") :]
            if mail_from.isascii()
            else formataddr((name, address), charset="utf-8")
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> Mailer:
        return cls(
            settings.smtp_host,
            settings.smtp_port,
            mail_from=settings.mail_from,
            username=settings.smtp_username,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
        )

    def compose(
        self,
        *,
        key: str,
        to: Sequence[str],
        subject: str,
        text: str,
        html: str,
        languages: Sequence[str] = ("fr",),
        message_id: str | None = None,
        attachment: Attachment | None = None,
    ) -> Outgoing:
        """`message_id`: the one the outbox recorded, for a resend (else derived from `key`).
        `attachment`: one file (a meeting's invitation), after the two bodies.

        Written out directly (multipart/alternative, plain text then HTML, UTF-8,
        7-bit clean; inside multipart/mixed with the file when there is one): the `email`
        package's header objects and generator cost about 2 ms of CPU per email, more than
        the rest of the email's work in the worker together."""
        message_id = message_id or message_id_for(key, self.domain)
        if not all(address.isascii() for address in to):
            return Outgoing(
                message_id,
                message=self._compose_with_email_package(
                    to, subject, text, html, languages, message_id, attachment
                ),
            )
        boundary = f"==============={random.randrange(10**19):019d}=="
        alternative = [
            *_text_part(boundary, "plain", text),
            *_text_part(boundary, "html", html),
            f"--{boundary}--\r\n".encode("ascii"),
        ]
        content_type = f'Content-Type: multipart/alternative;\r\n boundary="{boundary}"'
        if attachment is not None:
            outer = f"==============={random.randrange(10**19):019d}=="
            alternative = [
                f"--{outer}\r\n{content_type}\r\n\r\n".encode("ascii"),
                *alternative,
                *_file_part(outer, attachment),
                f"--{outer}--\r\n".encode("ascii"),
            ]
            content_type = f'Content-Type: multipart/mixed;\r\n boundary="{outer}"'
        head = [
            f"From: {self._from_header}",
            _fold("To: " + ", ".join(to)),
            _subject_header(subject),
            f"Message-ID: {message_id}",
            f"Date: {format_datetime(datetime.now(UTC))}",
            # Tells autoresponders not to answer (RFC 3834).
            "Auto-Submitted: auto-generated",
            "MIME-Version: 1.0",
            content_type,
            "Content-Language: " + ", ".join(languages),
        ]
        data = b"".join(["\r\n".join(head).encode("ascii"), b"\r\n\r\n", *alternative])
        return Outgoing(message_id, data)

    def _compose_with_email_package(
        self,
        to: Sequence[str],
        subject: str,
        text: str,
        html: str,
        languages: Sequence[str],
        message_id: str,
        attachment: Attachment | None = None,
    ) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = self.mail_from
        msg["To"] = ", ".join(to)
        msg["Subject"] = subject
        msg["Message-ID"] = message_id
        msg["Date"] = format_datetime(datetime.now(UTC))
        msg["Auto-Submitted"] = "auto-generated"
        msg.set_content(text)
        msg.add_alternative(html, subtype="html")
        if attachment is not None:
            maintype, _, rest = attachment.content_type.partition("/")
            subtype, *params = [p.strip() for p in rest.split(";")]
            msg.add_attachment(
                attachment.data,
                maintype=maintype,
                subtype=subtype,
                filename=attachment.filename,
                params=dict(p.split("=", 1) for p in params),
            )
        # After the bodies: set_content/add_alternative move every Content-* header into the
        # parts.
        msg["Content-Language"] = ", ".join(languages)
        return msg

    def channel(self, connect_within: float | None = None) -> MailChannel:
        """One SMTP connection for a burst of messages (`async with mailer.channel() as ch`).

        `connect_within`: the seconds getting a connection may take (a new one's handshake, a
        pooled one's check) before the message fails as transient; nothing of it was sent
        then. Without it, the mailer's `timeout` bounds each step instead."""
        return MailChannel(self, connect_within)

    async def _checkout(self, fresh: bool = False) -> tuple[aiosmtplib.SMTP, bool]:
        """A connection for a channel: an idle one still open, or a new one (always, if
        `fresh`). True if new."""
        while self._idle and not fresh:
            since, smtp = self._idle.pop()
            idle = time.monotonic() - since
            if idle >= POOL_IDLE_S or not smtp.is_connected:
                smtp.close()  # no QUIT: nobody waits on a connection let go
                continue
            if idle >= CHECK_AFTER_S:
                try:
                    await smtp.noop()
                except (aiosmtplib.SMTPException, OSError):
                    smtp.close()
                    continue
                except BaseException:  # cancelled (a deadline) while asking: not left open
                    smtp.close()
                    raise
            return smtp, False
        if self._local_hostname is None:
            # A reverse DNS lookup: in a thread, as aiosmtplib would, but once per mailer.
            self._local_hostname = await asyncio.to_thread(socket.getfqdn)
        smtp = aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            username=self.username,
            password=self.password,
            start_tls=self.starttls,
            timeout=self.timeout,
            local_hostname=self._local_hostname,
        )
        await smtp.connect()  # closes its socket when cut short (a channel's connect deadline)
        return smtp, True

    async def _give_back(self, smtp: aiosmtplib.SMTP) -> None:
        """A channel is done with a connection between commands: keep it for the next one,
        or let it go when the pool is full or closed."""
        if smtp.is_connected and not self._closed and len(self._idle) < POOL_SIZE:
            self._idle.append((time.monotonic(), smtp))
        else:
            await _quit(smtp)

    async def aclose(self) -> None:
        """Close the idle connections (a worker's shutdown); later give-backs are closed."""
        self._closed = True
        idle, self._idle = self._idle, []
        await asyncio.gather(*(_quit(smtp) for _, smtp in idle))


async def _quit(smtp: aiosmtplib.SMTP) -> None:
    """QUIT, briefly; the connection is closed whatever happens (cancellation included)."""
    try:
        if smtp.is_connected:
            async with asyncio.timeout(QUIT_TIMEOUT_S):
                await smtp.quit()
    except (aiosmtplib.SMTPException, OSError, TimeoutError):
        pass
    finally:
        smtp.close()


def _codes(err: Exception) -> str:
    """The reply codes of a refusal, for a log line: never its text, which for a refused
    recipient holds the address."""
    if isinstance(err, aiosmtplib.SMTPRecipientsRefused):
        return "RCPT " + ",".join(str(c) for c in sorted({r.code for r in err.recipients}))
    if isinstance(err, aiosmtplib.SMTPSenderRefused):
        return f"MAIL {err.code}"
    return type(err).__name__


def _done_with_connection(err: Exception) -> bool:
    """The relay is done with this connection, before anything of the message was sent: the
    connection, not the message, is the problem (MailChannel.send).

    - MAIL FROM refused for now (4xx: a limit of messages per connection, a 421 at its idle
      timeout). A 5xx (our sender refused, a message too big for its announced SIZE) is an
      answer about the message or the account, and stands.
    - The recipient refused with 421 (the relay closing the session, which some relays say
      at RCPT rather than at MAIL FROM). Only a message to one recipient gets here: with
      several, aiosmtplib closes the connection at the first 421 and the next RCPT fails as
      SMTPServerDisconnected, which could as well come after the final dot elsewhere, so it
      is left to the activity's retry. Other 4xx at RCPT (450 mailbox busy, 452 too many
      recipients) are about the recipient, and a new connection would hear them again."""
    if isinstance(err, aiosmtplib.SMTPSenderRefused):
        return 400 <= err.code < 500
    if isinstance(err, aiosmtplib.SMTPRecipientsRefused):
        return bool(err.recipients) and all(r.code == 421 for r in err.recipients)
    return False


class MailChannel:
    """An SMTP connection taken at the first message and reused by the next ones.

    A burst (the emails of one workflow task, an escalation storm) then costs one TCP and
    SMTP handshake instead of one per email, and the connection goes back to the mailer's
    pool for the next burst (the next case's opening) unless it failed. After any error the
    connection is dropped and the next message opens a new one: a refused message may leave
    the session mid-command.
    """

    def __init__(self, mailer: Mailer, connect_within: float | None = None) -> None:
        self.mailer = mailer
        self.connect_within = connect_within
        self.smtp: aiosmtplib.SMTP | None = None
        self.connections = 0
        # True from a command sent until its exchange completed: a connection left then (a
        # deadline, a cancellation) may be mid-command and is never given back.
        self._busy = False
        # Whether the connection held has carried an exchange before (taken from the pool,
        # or used by an earlier message of this burst).
        self._reused = False

    async def __aenter__(self) -> MailChannel:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        if exc_type is None:
            await self.close()
        else:  # cancelled or failed mid-burst: the session may be mid-command
            self._drop()

    async def close(self) -> None:
        """The burst is over: the connection goes back to the pool, unless an exchange was
        cut short on it (then it is closed)."""
        if self._busy:
            self._drop()
            return
        smtp, self.smtp = self.smtp, None
        if smtp is not None:
            await self.mailer._give_back(smtp)

    def _drop(self) -> None:
        """Close without QUIT: after a failure the session may be mid-command."""
        smtp, self.smtp, self._busy = self.smtp, None, False
        if smtp is not None:
            smtp.close()

    async def _connected(self, fresh: bool = False) -> aiosmtplib.SMTP:
        """The connection held, or one from the mailer (a new one if `fresh`)."""
        if fresh or self.smtp is None or not self.smtp.is_connected:
            deadline = asyncio.timeout(self.connect_within)
            try:
                async with deadline:
                    self.smtp, new = await self.mailer._checkout(fresh)
            except TimeoutError:
                if not deadline.expired():  # aiosmtplib's own timeout, or the socket's
                    raise
                raise aiosmtplib.SMTPConnectTimeoutError(
                    f"no connection within {self.connect_within:g} s"
                ) from None
            self.connections += new
            self._reused = not new
        return self.smtp

    async def send(self, message: Outgoing, recipients: Sequence[str]) -> Delivery:
        """Hand `message` to the server for `recipients`; raises MailTransientError or
        MailRejectedError.

        A connection that has carried messages before and that the relay is done with
        (MAIL FROM refused for now: its limit of messages per connection, a 421 at its idle
        timeout; or, for a message to one recipient, a 421 closing the session at RCPT) is
        dropped, and the message goes once
        more on a new connection (not another pooled one, which the same limit may hold), so
        that the rest of the burst does not fail with it. MAIL FROM and RCPT come before
        anything of the message: nothing can have been accepted. A
        connection that drops under the message is not retried here: it may drop after the
        final dot, when the relay may have the message, and that is the activity's retry to
        judge. What the new connection answers stands."""
        recipients = list(recipients)
        for fresh in (False, True):
            reused = False
            try:
                smtp = await self._connected(fresh)
                reused = self._reused
                self._busy = True
                if message.message is not None:
                    refused, _ = await smtp.send_message(
                        message.message, sender=self.mailer.sender, recipients=recipients
                    )
                else:
                    refused, _ = await smtp.sendmail(self.mailer.sender, recipients, message.data)
            except (aiosmtplib.SMTPException, OSError) as err:
                self._drop()
                if not fresh and reused and _done_with_connection(err):
                    logger.info(
                        "SMTP: the relay is done with a reused connection (%s): "
                        "sending the message again on a new one",
                        _codes(err),
                    )
                    continue
                raise _mail_error(err, self.mailer) from None
            break
        self._busy = False
        self._reused = True
        return Delivery(
            accepted=len(recipients) - len(refused),
            refused={addr: f"{r.code} {r.message}" for addr, r in refused.items()},
        )


# Folding (RFC 5322): lines of at most 78 characters where a header allows it.
MAX_LINE = 78
# An RFC 2047 encoded word is at most 75 characters: "=?utf-8?b?" + base64 + "?=" leaves 63
# base64 characters, that is 45 bytes of UTF-8 (never a character cut in two).
_WORD_BYTES = 45


def _fold(header: str) -> str:
    """Fold an ASCII header at its spaces so that lines stay within MAX_LINE where possible
    (a longer word stays whole: the limit that matters, 998, is far)."""
    if len(header) <= MAX_LINE:
        return header
    lines: list[str] = []
    line = ""
    for word in header.split(" "):
        if line and len(line) + 1 + len(word) > MAX_LINE:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    lines.append(line)
    return "\r\n ".join(lines)


def _subject_header(subject: str) -> str:
    """The Subject line: as is if ASCII, else RFC 2047 encoded words (base64, UTF-8), one
    per folded line. A reader decodes them back to exactly `subject`."""
    if subject.isascii():
        return _fold("Subject: " + subject)
    words: list[str] = []
    chunk: list[bytes] = []
    size = 0
    for char in subject:
        raw = char.encode()
        if size + len(raw) > _WORD_BYTES:
            words.append(_encoded_word(b"".join(chunk)))
            chunk, size = [], 0
        chunk.append(raw)
        size += len(raw)
    words.append(_encoded_word(b"".join(chunk)))
    return "Subject: " + "\r\n ".join(words)


def _encoded_word(raw: bytes) -> str:
    return f"=?utf-8?b?{binascii.b2a_base64(raw, newline=False).decode('ascii')}?="


def _text_part(boundary: str, subtype: str, body: str) -> list[bytes]:
    """One text part: quoted-printable, or base64 when that is shorter (text mostly outside
    Latin script), as the `email` package chooses; CRLF line ends."""
    # Ended by a line break, as the `email` package ends a body it is given.
    raw = body.encode() if body.endswith("\n") else (body + "\n").encode()
    if raw.isascii() and max(map(len, raw.split(b"\n"))) <= MAX_LINE and b"\r" not in raw:
        cte, encoded = "7bit", raw.replace(b"\n", b"\r\n")
    else:
        qp = binascii.b2a_qp(raw, istext=True).replace(b"\n", b"\r\n")
        b64 = binascii.b2a_base64(raw, newline=False)
        if len(b64) < len(qp):
            cte = "base64"
            encoded = b"\r\n".join(b64[i : i + 76] for i in range(0, len(b64), 76))
        else:
            cte, encoded = "quoted-printable", qp
    head = (
        f"--{boundary}\r\n"
        f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
        f"Content-Transfer-Encoding: {cte}\r\n\r\n"
    )
    # The line break before the next boundary belongs to the boundary (RFC 2046).
    return [head.encode("ascii"), encoded, b"\r\n"]


def _file_part(boundary: str, attachment: Attachment) -> list[bytes]:
    """The attached file, base64 in lines of 76."""
    b64 = binascii.b2a_base64(attachment.data, newline=False)
    encoded = b"\r\n".join(b64[i : i + 76] for i in range(0, len(b64), 76))
    head = (
        f"--{boundary}\r\n"
        f'Content-Type: {attachment.content_type}; charset="utf-8";\r\n'
        f' name="{attachment.filename}"\r\n'
        f'Content-Disposition: attachment; filename="{attachment.filename}"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n"
    )
    return [head.encode("ascii"), encoded, b"\r\n"]


def _mail_error(err: Exception, mailer: Mailer) -> MailError:
    """Sort an aiosmtplib failure into transient or permanent (codes only in the message)."""
    if isinstance(err, aiosmtplib.SMTPRecipientsRefused):
        codes = sorted({r.code for r in err.recipients})
        detail = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in err.recipients)
        if all(code >= 500 for code in codes):
            return MailRejectedError(
                f"SMTP server refused every recipient (codes {codes})", codes[0], detail
            )
        return MailTransientError(
            f"SMTP server deferred recipients (codes {codes})", codes[0], detail
        )
    if isinstance(err, aiosmtplib.SMTPDataError):
        # The content itself was refused after the recipients were accepted.
        cls = MailRejectedError if err.code >= 500 else MailTransientError
        return cls(
            f"SMTP server refused the message (code {err.code})",
            err.code,
            f"{err.code} {err.message}",
        )
    if isinstance(err, aiosmtplib.SMTPResponseException):
        # Greeting, HELO, AUTH, MAIL FROM: a problem with our server or our account, not with
        # this message. Retry (an operator fixes the configuration) rather than marking every
        # email of the outage as rejected.
        return MailTransientError(
            f"SMTP server error {err.code} ({type(err).__name__})",
            err.code,
            f"{err.code} {err.message}",
        )
    # Refused connection, timeout, dropped connection: nothing was accepted.
    return MailTransientError(
        f"SMTP server {mailer.host}:{mailer.port} unreachable ({type(err).__name__})",
        None,
        str(err),
    )
