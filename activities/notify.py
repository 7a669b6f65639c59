"""The email activity: resolve recipients, render, record in the outbox, send once.

Exactly-once, as far as SMTP allows. The outbox row, unique by the notification key, moves
pending -> sending -> sent (or rejected). An attempt claims the row ("sending", committed)
before it talks to the server, and records "sent" in the same transaction as the audit row
right after the server accepts. If a later attempt finds the row still "sending", the earlier
attempt died between the claim and the record: the server may or may not have the message.
We choose NOT to send again (the product promises never the same email twice): the row
becomes "unconfirmed", the audit trail says so, and an operator can check the mail logs for
its stable Message-ID. Failures that prove the server did not take the message (refused
connection, 4xx) put the row back to "pending" first, so those retries do send.

Once the server has accepted, our record of it is all that is missing, so a database error
there is retried in place for a while (`record_patience_s`) instead of failing the attempt:
a short database outage then leaves the email "sent", not "unconfirmed" for an operator to
check by hand.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from parcours.domain import (
    Audience,
    Notification,
    NotificationBatch,
    NotificationBatchOutcome,
    NotificationOutcome,
    Role,
    dossier_of,
)
from parcours.mail.render import RenderedMessage, Renderer, TemplateMissing
from parcours.mail.smtp import (
    Delivery,
    MailChannel,
    Mailer,
    MailRejectedError,
    MailTransientError,
)
from parcours.store.cases import append_audit
from parcours.store.models import Case, Officer, OutboxMessage, OutboxStatus
from parcours.store.officers import list_officers
from parcours.store.writes import insert_ignore

logger = logging.getLogger(__name__)

SENT = "sent"
ALREADY_SENT = "already_sent"
NO_RECIPIENT = "no_recipient"
REJECTED = "rejected"

# How long to keep retrying the "sent" record after the server accepted. Well inside the
# activity's 60 s per email, so the attempt still ends on its own terms.
RECORD_PATIENCE_S = 30.0
RECORD_RETRY_FIRST_S = 0.25
RECORD_RETRY_MAX_S = 4.0


@dataclass
class Recipients:
    addresses: list[str]
    # Whom to greet by name: only when the message has a single person as recipient.
    name: str | None = None


def _rejected(n: Notification, code: int | None) -> ApplicationError:
    return ApplicationError(
        f"SMTP server permanently refused notification {n.key} (code {code})",
        type="SmtpRejected",
        non_retryable=True,
    )


class Notifier:
    """Sends notifications; the worker builds one with its sessions, mailer and renderer."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        mailer: Mailer,
        renderer: Renderer,
        record_patience_s: float = RECORD_PATIENCE_S,
    ) -> None:
        self.sessions = sessions
        self.mailer = mailer
        self.renderer = renderer
        self.record_patience_s = record_patience_s

    @activity.defn
    async def send_notification(self, n: Notification) -> NotificationOutcome:
        """One email (v1 workflows; v2 batches them)."""
        async with self.mailer.channel() as channel:
            return await self._send(n, channel)

    @activity.defn
    async def send_notifications(self, batch: NotificationBatch) -> NotificationBatchOutcome:
        """The emails of one workflow task, in order, over one SMTP connection.

        Each email keeps its own outbox row and exactly-once rules, so a retried batch skips
        what an earlier attempt sent. An email that fails for good (refused, no template) is
        answered in its outcome and the others still go; a transient failure fails the batch,
        and the retry carries on from there.
        """
        outcomes: list[NotificationOutcome] = []
        async with self.mailer.channel() as channel:
            for n in batch.notifications:
                try:
                    outcomes.append(await self._send(n, channel))
                except ApplicationError as err:
                    if not err.non_retryable:
                        raise
                    outcomes.append(
                        NotificationOutcome(
                            key=n.key, status=REJECTED, failure=err.type or "ApplicationError"
                        )
                    )
        return NotificationBatchOutcome(outcomes=outcomes)

    async def _send(self, n: Notification, channel: MailChannel) -> NotificationOutcome:
        try:
            self.renderer.languages_for(n)
        except TemplateMissing as err:
            raise ApplicationError(str(err), type="TemplateMissing", non_retryable=True) from None

        previous = await self._status(n.key)
        if previous is not None:
            outcome = await self._settled(n, previous)
            if outcome is not None:
                return outcome

        recipients = await self._recipients(n)
        # Rendering errors other than a missing template (a template bug) propagate and are
        # retried: a corrected template deployed to the workers then completes the send.
        rendered = self.renderer.render(n, recipients.name)
        if not recipients.addresses:
            return await self._no_recipient(n, rendered)

        message = self.mailer.compose(
            key=n.key,
            to=recipients.addresses,
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            languages=rendered.languages,
        )
        async with self.sessions() as session, session.begin():
            await insert_ignore(
                session,
                OutboxMessage,
                self._row(n, rendered, recipients.addresses, OutboxStatus.PENDING)
                | {"message_id": message["Message-ID"]},
            )
            claimed = await self._move(session, n.key, OutboxStatus.PENDING, OutboxStatus.SENDING)
            current = None if claimed else await self._status_in(session, n.key)
        if not claimed:
            assert current is not None
            outcome = await self._settled(n, current)
            assert outcome is not None, f"unexpected outbox status {current!r}"
            return outcome

        try:
            delivery = await channel.send(message, recipients.addresses)
        except MailTransientError as err:
            # Proven not accepted: release the claim so the retry sends.
            await self._release(n.key, err.detail or str(err))
            logger.warning("notification %s deferred: %s", n.key, err)
            raise
        except MailRejectedError as err:
            await self._reject(n, err.detail or str(err), len(recipients.addresses))
            logger.warning("notification %s rejected by the SMTP server (%s)", n.key, err.code)
            raise _rejected(n, err.code) from None

        await self._record_sent(n, rendered, delivery)
        logger.info(
            "notification %s (%s) sent to %d recipient(s)", n.key, n.template, delivery.accepted
        )
        return NotificationOutcome(key=n.key, status=SENT, recipients=delivery.accepted)

    async def _record_sent(
        self, n: Notification, rendered: RenderedMessage, delivery: Delivery
    ) -> None:
        """Mark the row sent and audit it, retrying a database error in place. Both writes
        are idempotent (a status set, an audit row by key), so a commit whose answer was
        lost is safe to repeat."""
        deadline = time.monotonic() + self.record_patience_s
        delay = RECORD_RETRY_FIRST_S
        while True:
            try:
                async with self.sessions() as session, session.begin():
                    await session.execute(
                        update(OutboxMessage)
                        .where(OutboxMessage.key == n.key)
                        .values(
                            status=OutboxStatus.SENT,
                            sent_at=datetime.now(UTC),
                            last_error="; ".join(f"{a}: {r}" for a, r in delivery.refused.items())
                            or None,
                        )
                        .execution_options(synchronize_session=False)
                    )
                    await self._audit(session, n, "email_sent", rendered, delivery.accepted)
                return
            except (DBAPIError, OSError) as err:
                if time.monotonic() + delay > deadline:
                    logger.error(
                        "notification %s was accepted by the SMTP server but could not be "
                        "recorded (%s); the retry will mark it unconfirmed",
                        n.key,
                        type(err).__name__,
                    )
                    raise
                # The exception's text is left out: a driver's message can quote a row.
                logger.warning(
                    "notification %s accepted by the SMTP server; recording it failed (%s), "
                    "retrying in %.2f s",
                    n.key,
                    type(err).__name__,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, RECORD_RETRY_MAX_S)

    # ------------------------------------------------------------------------------------
    # Outbox states
    # ------------------------------------------------------------------------------------

    async def _status(self, key: str) -> str | None:
        async with self.sessions() as session:
            return await self._status_in(session, key)

    async def _status_in(self, session: AsyncSession, key: str) -> str | None:
        status: str | None = await session.scalar(
            select(OutboxMessage.status).where(OutboxMessage.key == key)
        )
        return status

    async def _move(self, session: AsyncSession, key: str, old: str, new: str) -> bool:
        """Compare-and-set on the status; True if this call made the change."""
        values: dict[str, Any] = {"status": new}
        if new == OutboxStatus.SENDING:
            values["attempts"] = OutboxMessage.attempts + 1
        result = await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.key == key, OutboxMessage.status == old)
            .values(**values)
            .returning(OutboxMessage.key)
            .execution_options(synchronize_session=False)
        )
        return result.first() is not None

    async def _settled(self, n: Notification, status: str) -> NotificationOutcome | None:
        """The outcome of a notification an earlier attempt already took care of, or None if
        it is still to be sent."""
        if status == OutboxStatus.PENDING:
            return None
        if status in (OutboxStatus.SENT, OutboxStatus.UNCONFIRMED):
            logger.info("notification %s already sent", n.key)
            return NotificationOutcome(key=n.key, status=ALREADY_SENT)
        if status == OutboxStatus.NO_RECIPIENT:
            return NotificationOutcome(key=n.key, status=NO_RECIPIENT)
        if status == OutboxStatus.REJECTED:
            raise _rejected(n, None)
        if status == OutboxStatus.SENDING:
            return await self._unconfirmed(n)
        raise AssertionError(f"unknown outbox status {status!r}")

    async def _unconfirmed(self, n: Notification) -> NotificationOutcome:
        async with self.sessions() as session, session.begin():
            await self._move(session, n.key, OutboxStatus.SENDING, OutboxStatus.UNCONFIRMED)
            await append_audit(
                session,
                key=f"{n.key}:audit",
                dossier=dossier_of(n.workflow_id),
                kind="email_unconfirmed",
                at=datetime.now(UTC),
                detail=f"template={n.template} audience={n.audience.value}: an earlier attempt "
                "stopped during the SMTP exchange; not sent again",
            )
        logger.warning("notification %s: earlier attempt interrupted, not resending", n.key)
        return NotificationOutcome(key=n.key, status=ALREADY_SENT)

    async def _release(self, key: str, error: str) -> None:
        async with self.sessions() as session, session.begin():
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.key == key, OutboxMessage.status == OutboxStatus.SENDING)
                .values(status=OutboxStatus.PENDING, last_error=error)
                .execution_options(synchronize_session=False)
            )

    async def _reject(self, n: Notification, error: str, count: int) -> None:
        async with self.sessions() as session, session.begin():
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.key == n.key)
                .values(status=OutboxStatus.REJECTED, last_error=error)
                .execution_options(synchronize_session=False)
            )
            await self._audit(session, n, "email_rejected", None, count)

    async def _no_recipient(
        self, n: Notification, rendered: RenderedMessage
    ) -> NotificationOutcome:
        async with self.sessions() as session, session.begin():
            # Kept with its body, so whoever fixes the roster sees what was not sent.
            await insert_ignore(
                session, OutboxMessage, self._row(n, rendered, [], OutboxStatus.NO_RECIPIENT)
            )
            await self._audit(session, n, "email_no_recipient", rendered, 0)
        logger.warning(
            "notification %s (%s): no recipient for %s", n.key, n.template, n.audience.value
        )
        return NotificationOutcome(key=n.key, status=NO_RECIPIENT)

    # ------------------------------------------------------------------------------------
    # Helpers
    # ------------------------------------------------------------------------------------

    def _row(
        self, n: Notification, r: RenderedMessage, addresses: list[str], status: str
    ) -> dict[str, Any]:
        return {
            "key": n.key,
            "dossier": dossier_of(n.workflow_id),
            "template": n.template,
            "audience": n.audience.value,
            "recipients": ",".join(addresses),
            "languages": ",".join(r.languages),
            "subject": r.subject,
            "body_text": r.text,
            "body_html": r.html,
            "status": status,
            "attempts": 0,
        }

    async def _audit(
        self,
        session: AsyncSession,
        n: Notification,
        kind: str,
        rendered: RenderedMessage | None,
        count: int,
    ) -> None:
        # Never an address or a name here: the audit trail is read widely.
        languages = ",".join(rendered.languages) if rendered else "-"
        stage = n.context.get("stage")
        await append_audit(
            session,
            key=f"{n.key}:audit",
            dossier=dossier_of(n.workflow_id),
            kind=kind,
            at=datetime.now(UTC),
            stage=stage if isinstance(stage, str) and stage else None,
            detail=f"template={n.template} audience={n.audience.value} "
            f"languages={languages} recipients={count}",
        )

    async def _recipients(self, n: Notification) -> Recipients:
        async with self.sessions() as session:
            if n.audience == Audience.NEWCOMER:
                email, name = n.recipient_email, n.recipient_name
                if not email:
                    # The read model is the system of record for contact data.
                    case = await session.scalar(
                        select(Case).where(Case.workflow_id == n.workflow_id)
                    )
                    if case is not None:
                        email, name = case.email, name or case.full_name
                return Recipients([email] if email else [], name)
            if n.audience == Audience.OFFICER:
                officer = await session.get(Officer, n.officer_id) if n.officer_id else None
                if officer is None or not officer.active:
                    return Recipients([])
                return Recipients([officer.email], officer.name)
            role = Role.SUPERVISOR if n.audience == Audience.SUPERVISORS else Role.DIRECTOR
            region = n.region if n.audience == Audience.SUPERVISORS else None
            staff = await list_officers(session, region=region, role=role, active_only=True)
            return Recipients([o.email for o in staff], staff[0].name if len(staff) == 1 else None)
