"""Send rendered messages over SMTP (aiosmtplib) and sort failures into transient and
permanent, the distinction Temporal's retry policy needs.

Error messages raised from here never contain an address or a server reply text (which often
echoes the address): they end up in Temporal's history, which is not the place for personal
data. Codes only; the outbox row keeps the details.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

import aiosmtplib

from parcours.infrastructure.config import Settings

logger = logging.getLogger(__name__)


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
    ) -> EmailMessage:
        """`message_id`: the one the outbox recorded, for a resend (else derived from `key`)."""
        msg = EmailMessage()
        msg["From"] = self.mail_from
        msg["To"] = ", ".join(to)
        msg["Subject"] = subject
        msg["Message-ID"] = message_id or message_id_for(key, self.domain)
        msg["Date"] = format_datetime(datetime.now(UTC))
        # Tells autoresponders not to answer (RFC 3834).
        msg["Auto-Submitted"] = "auto-generated"
        msg.set_content(text)
        msg.add_alternative(html, subtype="html")
        # After the bodies: set_content/add_alternative move every Content-* header into the
        # parts.
        msg["Content-Language"] = ", ".join(languages)
        return msg

    def channel(self) -> MailChannel:
        """One SMTP connection for a burst of messages (`async with mailer.channel() as ch`)."""
        return MailChannel(self)


class MailChannel:
    """An SMTP connection opened at the first message and reused by the next ones.

    A burst (the emails of one workflow task, an escalation storm) then costs one TCP and
    SMTP handshake instead of one per email. After any error the connection is dropped and
    the next message opens a new one: a refused message may leave the session mid-command.
    """

    def __init__(self, mailer: Mailer) -> None:
        self.mailer = mailer
        self.smtp: aiosmtplib.SMTP | None = None
        self.connections = 0

    async def __aenter__(self) -> MailChannel:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        smtp, self.smtp = self.smtp, None
        if smtp is None or not smtp.is_connected:
            return
        try:
            await smtp.quit()
        except (aiosmtplib.SMTPException, OSError):
            smtp.close()

    async def _connected(self) -> aiosmtplib.SMTP:
        if self.smtp is None or not self.smtp.is_connected:
            m = self.mailer
            smtp = aiosmtplib.SMTP(
                hostname=m.host,
                port=m.port,
                username=m.username,
                password=m.password,
                start_tls=m.starttls,
                timeout=m.timeout,
            )
            await smtp.connect()
            self.smtp = smtp
            self.connections += 1
        return self.smtp

    async def send(self, message: EmailMessage, recipients: Sequence[str]) -> Delivery:
        """Hand `message` to the server for `recipients`; raises MailTransientError or
        MailRejectedError."""
        recipients = list(recipients)
        try:
            smtp = await self._connected()
            refused, _ = await smtp.send_message(
                message, sender=self.mailer.sender, recipients=recipients
            )
        except (aiosmtplib.SMTPException, OSError) as err:
            await self.close()
            raise _mail_error(err, self.mailer) from None
        return Delivery(
            accepted=len(recipients) - len(refused),
            refused={addr: f"{r.code} {r.message}" for addr, r in refused.items()},
        )


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
