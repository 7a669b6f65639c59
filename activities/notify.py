"""The email activity: resolve recipients, render, record in the outbox, send at least once.

At least once, with one Message-ID. The outbox row, unique by the notification key, moves
pending -> sending -> sent (or rejected). An attempt claims the row ("sending", with
`claimed_at`, committed) before it talks to the server, and records "sent" in the same
transaction as the audit row right after the server accepts. If a later attempt finds the row
still "sending", the earlier attempt died between the claim and the record: the server may or
may not have the message. The row becomes "unconfirmed" (audited) and, once the resend lease
has run out since the claim (`resend_lease_s`, longer than an attempt can last: the SMTP
exchange is cut at `send_deadline_s` and the record gives up after `record_patience_s`), it is
sent again from the row: same Message-ID, same subject, bodies and recipients, whatever the
templates or the roster say now. Each accepted resend is audited ("email_resent"); an
interrupted one leaves the row in doubt again. After `max_resends` resends it is "failed",
audited, and the region's supervisors get an "email_undelivered" notice. A duplicate with the
same Message-ID is the lesser harm (mail systems recognise it); a lost welcome or escalation
is not. Failures that prove the server did not take the message (refused connection, 4xx) put
the row back ("pending", or "unconfirmed" for a resend) without counting a resend.

Who resends: the activity's own retry. While the lease runs, the attempt answers with a
retryable "EmailInFlight" whose retry delay is the rest of the lease, so the activity does not
complete (and the workflow does not move on) while an email's fate is unknown. Only the
activity's three-day schedule-to-close (the workflow's MAIL_GIVE_UP_AFTER) or an operator
terminating the workflow can leave a row in doubt with no retry coming; `sweep()` (run by
`parcours reconcile`) takes those, and rows an older at-most-once worker left "unconfirmed".

Staleness: an email in doubt that was decided more than three days ago is dropped ("stale",
audited), not sent late; the workflow's schedule-to-close applies the same rule to the rest.

Once the server has accepted, our record of it is all that is missing, so a database error
there is retried in place for a while (`record_patience_s`) instead of failing the attempt:
a short database outage then leaves the email "sent", not in doubt and sent again.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from parcours.infrastructure.mail.ical import Attachment, invitation
from parcours.infrastructure.mail.render import RenderedMessage, Renderer, TemplateMissing
from parcours.infrastructure.mail.smtp import (
    Delivery,
    MailChannel,
    Mailer,
    MailRejectedError,
    MailTransientError,
    Outgoing,
)
from parcours.infrastructure.newcomer_links import TEMPLATE as LINK_TEMPLATE
from parcours.infrastructure.newcomer_links import NewcomerLinks
from parcours.infrastructure.store.cases import append_audit
from parcours.infrastructure.store.models import (
    AuditEvent,
    Case,
    Officer,
    OutboxMessage,
    OutboxStatus,
)
from parcours.infrastructure.store.officers import staff_contacts, stand_in
from parcours.infrastructure.store.writes import insert_ignore
from parcours.kernel import activity_contract as contract
from parcours.kernel.domain import (
    Audience,
    Notification,
    NotificationBatch,
    NotificationBatchOutcome,
    NotificationOutcome,
    Role,
    dossier_of,
)
from parcours.kernel.errors import ParcoursError
from parcours.kernel.timezones import zone

logger = logging.getLogger(__name__)

SENT = "sent"
ALREADY_SENT = "already_sent"
NO_RECIPIENT = "no_recipient"
REJECTED = "rejected"
# Given up after the allowed resends (supervisors told), or dropped as stale.
FAILED = "failed"
STALE = "stale"

# How long to keep retrying the "sent" record after the server accepted; and the whole SMTP
# exchange of one email is cut after SEND_DEADLINE_S. Together they bound how long after its
# claim an attempt can still be talking to the server (the lease must be longer), and the
# workflow's limit on an attempt in its task covers them (contract.EMAIL_ATTEMPT_S).
RECORD_PATIENCE_S = contract.RECORD_PATIENCE_S
RECORD_RETRY_FIRST_S = 0.25
RECORD_RETRY_MAX_S = contract.RECORD_RETRY_MAX_S
SEND_DEADLINE_S = contract.SEND_DEADLINE_S
# v10 sends the emails of an opening or an alarm from the worker, inside the case's workflow
# task (workflows/effects.LOCAL_MAIL_RETRY, two attempts a second apart). A relay that does not
# answer must not hold that task, and its slot, for the SMTP timeout twice: such an attempt
# gives the connection this long (a healthy relay answers in milliseconds, TLS included).
# Failing to connect proves nothing was sent: the claim is released, and the email goes on as
# an activity task with the usual timeout. Under the worker's task heartbeat (80 % of 10 s),
# so that two attempts and the pause between them fit in one workflow task.
LOCAL_CONNECT_S = 3.0
# Settings.mail_resend_lease_s / mail_max_resends are the worker's; these are their defaults.
RESEND_LEASE_S = 600.0
MAX_RESENDS = 3
# Same rule as workflows/effects.py MAIL_GIVE_UP_AFTER (a test holds them equal): an email
# that could not go out within three days is dropped, not sent late.
STALE_AFTER = timedelta(days=3)
# The supervisors' notice about an email given up on; never a notice about a notice.
UNDELIVERED_TEMPLATE = "email_undelivered"
UNDELIVERED_SUFFIX = ":undelivered"
# An officer's emails that someone else receives while the officer is on leave: the stall
# reminders (issue 17). The case stays theirs; the email says who it stands in for.
STAND_IN_TEMPLATES = frozenset({"stall_reminder"})
# The escalations that follow a reminder, and say who it went to.
ESCALATION_TEMPLATES = frozenset({"stall_escalation", "stall_director"})
_STAND_IN = re.compile(r"\bstand_in=(backup|supervisors)\b")
# Who an email to the region's leads reached (issue 17): the audit trail says it.
_TOLD = re.compile(r"\btold=(supervisors|directors)\b")
_AUDIENCE = re.compile(r"\baudience=(officer|supervisors|directors)\b")
# The newcomer's email that introduces their new officer: it names them and how to reach them.
INTRODUCTION_TEMPLATE = "officer_introduced"
IN_FLIGHT = contract.EMAIL_IN_FLIGHT


@dataclass
class Recipients:
    addresses: list[str]
    # Whom to greet by name: only when the message has a single person as recipient.
    name: str | None = None
    # What the email must say of a leave (issue 17), added to its context: `stand_in` when
    # others receive an absent officer's reminder ({"kind": "backup"|"supervisors", "officer":
    # name, "until": ISO day}); `reminded_stand_in` ("backup"|"supervisors") on an escalation
    # whose reminder went to others, so it does not say the officer was reminded.
    context: dict[str, Any] = field(default_factory=dict)


# Statements of every email, built once with their values bound at execution (building one
# costs about as much CPU as running it). Core on the tables: these need a few columns.
_OUTBOX = cast(Table, OutboxMessage.__table__)
_STATUSES = select(OutboxMessage.key, OutboxMessage.status).where(
    OutboxMessage.key.in_(bindparam("keys", expanding=True))
)
_LAST_STAFF_EMAIL = (
    select(AuditEvent.kind, AuditEvent.detail)
    .where(
        AuditEvent.dossier == bindparam("dossier"),
        AuditEvent.kind.in_(("email_sent", "email_no_recipient")),
        AuditEvent.detail.like(bindparam("template")),
    )
    .order_by(AuditEvent.id.desc())
    .limit(1)
)
_OFFICER = select(Officer.email, Officer.name, Officer.active).where(Officer.id == bindparam("id"))
# The columns set are the keys of the parameters (other than outbox_key).
_MARK = update(_OUTBOX).where(_OUTBOX.c.key == bindparam("outbox_key"))


@dataclass(frozen=True)
class Known:
    """What the outbox said of one email when its attempt began."""

    # Its row's status (None: no row yet).
    status: str | None
    # Whom to send it to, when it is still to send (no row, or "pending"); else None.
    recipients: Recipients | None


class InFlight(Exception):
    """An earlier attempt claimed the email less than a lease ago: it may still be talking to
    the server, so nobody sends it now."""

    def __init__(self, key: str, remaining: timedelta) -> None:
        super().__init__(f"notification {key}: an earlier attempt may still be sending it")
        self.remaining = remaining


def _connect_within() -> float | None:
    """LOCAL_CONNECT_S for an attempt run inside a workflow task (a local activity)."""
    return LOCAL_CONNECT_S if activity.info().is_local else None


def _in_flight(err: InFlight) -> ApplicationError:
    # Retryable, at the end of the lease: the retry then resends (or finds it recorded).
    # Benign: waiting out a lease is the plan, not an error for the SDK to log with a
    # traceback (our own warning said the attempt was interrupted).
    return ApplicationError(
        str(err),
        type=IN_FLIGHT,
        next_retry_delay=err.remaining + timedelta(seconds=1),
        category=ApplicationErrorCategory.BENIGN,
    )


def _rejected(n: Notification, code: int | None) -> ApplicationError:
    return ApplicationError(
        f"SMTP server permanently refused notification {n.key} (code {code})",
        type=contract.SMTP_REJECTED,
        non_retryable=True,
    )


@dataclass
class SweepReport:
    """What `Notifier.sweep` did with the emails left in doubt."""

    checked: int = 0
    resent: int = 0
    failed: int = 0
    stale: int = 0
    in_flight: int = 0
    errors: list[str] = field(default_factory=list)


class Notifier:
    """Sends notifications; the worker builds one with its sessions, mailer and renderer."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        mailer: Mailer,
        renderer: Renderer,
        record_patience_s: float = RECORD_PATIENCE_S,
        *,
        resend_lease_s: float = RESEND_LEASE_S,
        max_resends: int = MAX_RESENDS,
        send_deadline_s: float = SEND_DEADLINE_S,
        links: NewcomerLinks | None = None,
    ) -> None:
        # A lease shorter than an attempt could resend while the first is still sending.
        if resend_lease_s < send_deadline_s + record_patience_s + RECORD_RETRY_MAX_S:
            raise ParcoursError(
                f"PARCOURS_MAIL_RESEND_LEASE_S={resend_lease_s:g}: shorter than an attempt can "
                f"last ({send_deadline_s:g} s SMTP + {record_patience_s:g} s recording)"
            )
        if max_resends < 0:
            raise ParcoursError(f"PARCOURS_MAIL_MAX_RESENDS={max_resends}: expected 0 or more")
        self.sessions = sessions
        self.mailer = mailer
        self.renderer = renderer
        self.record_patience_s = record_patience_s
        self.lease = timedelta(seconds=resend_lease_s)
        self.max_resends = max_resends
        self.send_deadline_s = send_deadline_s
        # Mints the newcomer's personal link into the welcome email (None: no link).
        self.links = links

    @activity.defn(name=contract.SEND_NOTIFICATION)
    async def send_notification(self, n: Notification) -> NotificationOutcome:
        """One email (v1 workflows; v2 batches them)."""
        async with self.mailer.channel(_connect_within()) as channel:
            try:
                return await self._send(n, channel)
            except InFlight as err:
                raise _in_flight(err) from None

    @activity.defn(name=contract.SEND_NOTIFICATIONS)
    async def send_notifications(self, batch: NotificationBatch) -> NotificationBatchOutcome:
        """The emails of one workflow task, in order, over one SMTP connection.

        Each email keeps its own outbox row and rules, so a retried batch skips what an
        earlier attempt sent. An email that fails for good (refused, no template) is answered
        in its outcome and the others still go; a transient failure fails the batch, and the
        retry carries on from there. An email still in its lease does not hold the others up:
        they go, and the batch then fails retryably until the lease is over.
        """
        outcomes: list[NotificationOutcome] = []
        waiting: list[InFlight] = []
        # The outbox rows and recipients of the whole batch in one read, not two per email.
        known = await self._look_up(batch.notifications)
        async with self.mailer.channel(_connect_within()) as channel:
            for n in batch.notifications:
                try:
                    outcomes.append(await self._send(n, channel, known[n.key]))
                except InFlight as err:
                    waiting.append(err)
                except ApplicationError as err:
                    if not err.non_retryable:
                        raise
                    outcomes.append(
                        NotificationOutcome(
                            key=n.key, status=REJECTED, failure=err.type or "ApplicationError"
                        )
                    )
        if waiting:
            raise _in_flight(min(waiting, key=lambda w: w.remaining))
        return NotificationBatchOutcome(outcomes=outcomes)

    async def _send(
        self, n: Notification, channel: MailChannel, known: Known | None = None
    ) -> NotificationOutcome:
        try:
            self.renderer.languages_for(n)
        except TemplateMissing as err:
            raise ApplicationError(
                str(err), type=contract.TEMPLATE_MISSING, non_retryable=True
            ) from None

        if known is None:
            known = (await self._look_up([n]))[n.key]
        if known.recipients is None:
            previous = await self._row_of(n.key)
            assert previous is not None and previous.status != OutboxStatus.PENDING
            return await self._settled(n, previous, channel)

        recipients = known.recipients
        n = self._with_link(n)
        if recipients.context:
            n = replace(n, context={**n.context, **recipients.context})
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
            attachment=self._attachment(n, recipients.addresses),
        )
        async with self.sessions() as session, session.begin():
            # The row goes in already claimed: the same as inserting it "pending" and claiming
            # it in this transaction, in one statement. A row that exists (left "pending" by an
            # attempt the server proved it refused, or taken meanwhile) is claimed as before.
            claimed = await insert_ignore(
                session,
                OutboxMessage,
                self._row(n, rendered, recipients.addresses, OutboxStatus.SENDING)
                | {
                    "message_id": message.message_id,
                    "claimed_at": datetime.now(UTC),
                    "attempts": 1,
                },
            )
            if not claimed:
                claimed = await self._claim(session, n.key, OutboxStatus.PENDING, resends=0)
        if not claimed:
            current = await self._row_of(n.key)
            assert current is not None and current.status != OutboxStatus.PENDING
            return await self._settled(n, current, channel)
        return await self._deliver(
            n, message, recipients.addresses, ",".join(rendered.languages), channel, resend=0
        )

    def _with_link(self, n: Notification) -> Notification:
        """The welcome with the newcomer's personal link in its context, minted now from the
        moment the workflow decided the email: every attempt and resend carries the same."""
        if self.links is None or n.template != LINK_TEMPLATE or n.audience != Audience.NEWCOMER:
            return n
        url = self.links.for_notification(n, self.renderer.public_url)
        return replace(n, context={**n.context, "reply_url": url})

    async def _deliver(
        self,
        n: Notification,
        message: Outgoing,
        addresses: list[str],
        languages: str,
        channel: MailChannel,
        *,
        resend: int,
    ) -> NotificationOutcome:
        """Talk to the server about a claimed row and record what it answered. `resend` is 0
        for the first attempt, k for the k-th resend."""
        try:
            async with asyncio.timeout(self.send_deadline_s):
                delivery = await channel.send(message, addresses)
        except TimeoutError:
            # The server may have it: the row stays "sending", and the retry treats it as in
            # doubt (lease, then resend).
            await channel.close()
            logger.warning("notification %s: SMTP exchange over its deadline", n.key)
            raise MailTransientError("SMTP exchange over its deadline") from None
        except MailTransientError as err:
            # Proven not accepted by this attempt: release the claim so the retry sends.
            await self._release(n.key, err.detail or str(err), resend)
            logger.warning("notification %s deferred: %s", n.key, err)
            raise
        except MailRejectedError as err:
            await self._reject(n, err.detail or str(err), len(addresses))
            logger.warning("notification %s rejected by the SMTP server (%s)", n.key, err.code)
            raise _rejected(n, err.code) from None

        if resend:
            kind, key, extra = "email_resent", f"{n.key}:resent:{resend}", f" resend={resend}"
        else:
            kind, key, extra = "email_sent", f"{n.key}:audit", ""
        await self._record_sent(n, kind, key, f"languages={languages}{extra}", delivery)
        logger.info(
            "notification %s (%s) %s to %d recipient(s)",
            n.key,
            n.template,
            "sent again" if resend else "sent",
            delivery.accepted,
        )
        return NotificationOutcome(key=n.key, status=SENT, recipients=delivery.accepted)

    async def _record_sent(
        self, n: Notification, kind: str, key: str, detail: str, delivery: Delivery
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
                        _MARK,
                        {
                            "outbox_key": n.key,
                            "status": OutboxStatus.SENT,
                            "sent_at": datetime.now(UTC),
                            "last_error": "; ".join(
                                f"{a}: {r}" for a, r in delivery.refused.items()
                            )
                            or None,
                        },
                    )
                    await self._audit(
                        session, n, kind, key, f"{detail} recipients={delivery.accepted}"
                    )
                return
            except (DBAPIError, OSError) as err:
                if time.monotonic() + delay > deadline:
                    logger.error(
                        "notification %s was accepted by the SMTP server but could not be "
                        "recorded (%s); the retry will find it in doubt and send it again",
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

    async def _row_of(self, key: str) -> OutboxMessage | None:
        async with self.sessions() as session:
            row: OutboxMessage | None = await session.scalar(
                select(OutboxMessage).where(OutboxMessage.key == key)
            )
            return row

    async def _claim(self, session: AsyncSession, key: str, old: str, *, resends: int) -> bool:
        """Compare-and-set: the row, still `old` with `resends` resends, becomes "sending"
        claimed now (the lease starts); a resend counts itself. True if this call won."""
        result = await session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.key == key,
                OutboxMessage.status == old,
                OutboxMessage.resends == resends,
            )
            .values(
                status=OutboxStatus.SENDING,
                claimed_at=datetime.now(UTC),
                attempts=OutboxMessage.attempts + 1,
                resends=OutboxMessage.resends + (0 if old == OutboxStatus.PENDING else 1),
            )
            .returning(OutboxMessage.key)
            .execution_options(synchronize_session=False)
        )
        return result.first() is not None

    async def _move(
        self, session: AsyncSession, row: OutboxMessage, new: str, **values: Any
    ) -> bool:
        """Compare-and-set from the row as read (status and resends); True if this call won."""
        result = await session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.key == row.key,
                OutboxMessage.status == row.status,
                OutboxMessage.resends == row.resends,
            )
            .values(status=new, **values)
            .returning(OutboxMessage.key)
            .execution_options(synchronize_session=False)
        )
        return result.first() is not None

    async def _settled(
        self, n: Notification, row: OutboxMessage, channel: MailChannel
    ) -> NotificationOutcome:
        """The outcome of a notification an earlier attempt already took up: recorded, or in
        doubt (then resent once the lease is over, or given up)."""
        status = row.status
        if status == OutboxStatus.SENT:
            logger.info("notification %s already sent", n.key)
            return NotificationOutcome(key=n.key, status=ALREADY_SENT)
        if status == OutboxStatus.NO_RECIPIENT:
            return NotificationOutcome(key=n.key, status=NO_RECIPIENT)
        if status == OutboxStatus.REJECTED:
            raise _rejected(n, None)
        if status == OutboxStatus.STALE:
            return NotificationOutcome(key=n.key, status=STALE)
        if status == OutboxStatus.FAILED:
            # Again here so a retry completes a notice an earlier attempt could not send.
            await self._tell_supervisors(n, row, channel)
            return NotificationOutcome(key=n.key, status=FAILED)
        if status in OutboxStatus.IN_DOUBT:
            return await self._in_doubt(n, row, channel)
        raise AssertionError(f"unknown outbox status {status!r}")

    async def _in_doubt(
        self, n: Notification, row: OutboxMessage, channel: MailChannel
    ) -> NotificationOutcome:
        now = datetime.now(UTC)
        if now - row.created_at >= STALE_AFTER:
            return await self._drop_stale(n, row)
        if row.status == OutboxStatus.SENDING:
            if await self._move_audited(
                n,
                row,
                OutboxStatus.UNCONFIRMED,
                "email_unconfirmed",
                f"{n.key}:unconfirmed:{row.resends}",
                "an attempt stopped during the SMTP exchange; sent again once its lease is over",
            ):
                logger.warning("notification %s: earlier attempt interrupted", n.key)
            row.status = OutboxStatus.UNCONFIRMED
        # A row from before claims were timed (or released by a failed resend) is due now.
        lease_end = row.claimed_at + self.lease if row.claimed_at else now
        if now < lease_end:
            raise InFlight(n.key, lease_end - now)
        if row.resends >= self.max_resends:
            return await self._give_up(n, row, channel)

        async with self.sessions() as session, session.begin():
            claimed = await self._claim(session, n.key, row.status, resends=row.resends)
        if not claimed:
            # Another attempt (a timed-out one still alive, or the sweep) moved it first.
            current = await self._row_of(n.key)
            assert current is not None
            return await self._settled(n, current, channel)
        addresses = [a for a in row.recipients.split(",") if a]
        message = self.mailer.compose(
            key=n.key,
            to=addresses,
            subject=row.subject,
            text=row.body_text,
            html=row.body_html,
            languages=[lang for lang in row.languages.split(",") if lang],
            message_id=row.message_id,
            # Made again from the notification: the same bytes (none from the sweep, which
            # has only the row).
            attachment=self._attachment(n, addresses),
        )
        logger.warning("notification %s: sending again (resend %d)", n.key, row.resends + 1)
        return await self._deliver(
            n, message, addresses, row.languages, channel, resend=row.resends + 1
        )

    async def _drop_stale(self, n: Notification, row: OutboxMessage) -> NotificationOutcome:
        await self._move_audited(
            n,
            row,
            OutboxStatus.STALE,
            "email_stale",
            f"{n.key}:stale",
            f"in doubt and decided more than {STALE_AFTER.days} days ago; not sent late",
        )
        logger.warning("notification %s: in doubt and stale, dropped", n.key)
        return NotificationOutcome(key=n.key, status=STALE)

    async def _give_up(
        self, n: Notification, row: OutboxMessage, channel: MailChannel
    ) -> NotificationOutcome:
        await self._move_audited(
            n,
            row,
            OutboxStatus.FAILED,
            "email_failed",
            f"{n.key}:failed",
            "still unconfirmed after every resend; not sent again, supervisors told",
        )
        logger.error("notification %s: unconfirmed after %d resends", n.key, row.resends)
        row.status = OutboxStatus.FAILED
        await self._tell_supervisors(n, row, channel)
        return NotificationOutcome(key=n.key, status=FAILED)

    async def _tell_supervisors(
        self, n: Notification, row: OutboxMessage, channel: MailChannel
    ) -> None:
        """An "email_undelivered" notice to the region's supervisors, through the outbox like
        any email (so it too is sent at least once). None about a notice of this kind."""
        if n.key.endswith(UNDELIVERED_SUFFIX):
            return
        notice = Notification(
            key=f"{n.key}{UNDELIVERED_SUFFIX}",
            workflow_id=n.workflow_id,
            template=UNDELIVERED_TEMPLATE,
            audience=Audience.SUPERVISORS,
            region=n.region,
            context={
                "template": row.template,
                "audience": row.audience,
                "resends": row.resends,
                "created_at": row.created_at.isoformat(),
                "message_id": row.message_id or "",
            },
        )
        try:
            await self._send(notice, channel)
        except ApplicationError as err:
            if not err.non_retryable:
                raise
            # Refused, or no template: the trail already says the email failed.
            logger.error("notification %s: supervisors' notice failed (%s)", n.key, err.type)

    async def _release(self, key: str, error: str, resend: int) -> None:
        """Give back a claim the server proved it did not take. A first attempt goes back to
        "pending"; a resend back to "unconfirmed" (the first attempt may still have gone
        through), not counted, and due again at once."""
        if resend:
            values: dict[str, Any] = {
                "status": OutboxStatus.UNCONFIRMED,
                "resends": OutboxMessage.resends - 1,
                "claimed_at": None,
            }
        else:
            values = {"status": OutboxStatus.PENDING, "claimed_at": None}
        async with self.sessions() as session, session.begin():
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.key == key, OutboxMessage.status == OutboxStatus.SENDING)
                .values(last_error=error, **values)
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
            await self._audit(
                session, n, "email_rejected", f"{n.key}:audit", f"languages=- recipients={count}"
            )

    async def _no_recipient(
        self, n: Notification, rendered: RenderedMessage
    ) -> NotificationOutcome:
        async with self.sessions() as session, session.begin():
            # Kept with its body, so whoever fixes the roster sees what was not sent.
            await insert_ignore(
                session, OutboxMessage, self._row(n, rendered, [], OutboxStatus.NO_RECIPIENT)
            )
            await self._audit(
                session,
                n,
                "email_no_recipient",
                f"{n.key}:audit",
                f"languages={','.join(rendered.languages)} recipients=0",
            )
        logger.warning(
            "notification %s (%s): no recipient for %s", n.key, n.template, n.audience.value
        )
        return NotificationOutcome(key=n.key, status=NO_RECIPIENT)

    # ------------------------------------------------------------------------------------
    # The sweep: emails in doubt that no retry will come back for
    # ------------------------------------------------------------------------------------

    async def sweep(self) -> SweepReport:
        """Resend, give up on or drop every email in doubt whose lease is over.

        The activity's retries take care of an email while its workflow waits for it. This
        is for the rest: a workflow terminated, or reset, while an email was in doubt; rows an
        at-most-once worker (before migration 0006) left "unconfirmed". The same
        compare-and-set claims as the activity's, so a sweep beside live workers is safe.
        """
        report = SweepReport()
        now = datetime.now(UTC)
        async with self.sessions() as session:
            rows = (
                await session.execute(
                    select(OutboxMessage, Case.region, Case.workflow_id)
                    .outerjoin(Case, Case.dossier == OutboxMessage.dossier)
                    .where(OutboxMessage.status.in_(OutboxStatus.IN_DOUBT))
                    .order_by(OutboxMessage.id)
                )
            ).all()
        async with self.mailer.channel() as channel:
            for row, region, workflow_id in rows:
                leased = row.claimed_at is not None and now < row.claimed_at + self.lease
                if leased and now - row.created_at < STALE_AFTER:
                    report.in_flight += 1
                    continue
                report.checked += 1
                n = Notification(
                    key=row.key,
                    workflow_id=workflow_id or f"newcomer-{row.dossier}",
                    template=row.template,
                    audience=Audience(row.audience),
                    region=region or "",
                )
                try:
                    outcome = await self._settled(n, row, channel)
                except InFlight:
                    report.in_flight += 1
                    continue
                except (MailTransientError, ApplicationError) as err:
                    report.errors.append(f"{row.key}: {type(err).__name__}")
                    continue
                if outcome.status == SENT:
                    report.resent += 1
                elif outcome.status == FAILED:
                    report.failed += 1
                elif outcome.status == STALE:
                    report.stale += 1
        return report

    # ------------------------------------------------------------------------------------
    # Helpers
    # ------------------------------------------------------------------------------------

    def _attachment(self, n: Notification, addresses: list[str]) -> Attachment | None:
        """A meeting's invitation (.ics) for the newcomer's emails about it; else None."""
        attendee = addresses[0] if n.audience == Audience.NEWCOMER and addresses else None
        return invitation(n, organizer=self.mailer.sender, attendee=attendee)

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
            "resends": 0,
        }

    async def _move_audited(
        self, n: Notification, row: OutboxMessage, new: str, kind: str, key: str, why: str
    ) -> bool:
        """Move a row in doubt to `new` and say so in the trail, in one transaction; False
        (and nothing audited) if another attempt moved it first."""
        async with self.sessions() as session, session.begin():
            moved = await self._move(session, row, new)
            if moved:
                await self._audit(session, n, kind, key, f"resends={row.resends}: {why}")
        return moved

    async def _audit(
        self, session: AsyncSession, n: Notification, kind: str, key: str, detail: str
    ) -> None:
        # Never an address or a name here: the audit trail is read widely.
        stage = n.context.get("stage")
        covered = n.context.get("stand_in")
        if isinstance(covered, dict):
            # Sent in place of an officer on leave: the trail says so (a code, no name).
            detail = f"stand_in={covered.get('kind')} {detail}"
        told = n.context.get("told")
        if n.audience == Audience.REGION_LEADS and told in ("supervisors", "directors"):
            # Whom an email to the region's leads reached: its supervisors, or the directors.
            detail = f"told={told} {detail}"
        await append_audit(
            session,
            key=key,
            dossier=dossier_of(n.workflow_id),
            kind=kind,
            at=datetime.now(UTC),
            stage=stage if isinstance(stage, str) and stage else None,
            detail=f"template={n.template} audience={n.audience.value} {detail}",
        )

    async def _look_up(self, notifications: Sequence[Notification]) -> dict[str, Known]:
        """What the outbox holds of each email and, for those still to send, their
        recipients: one read transaction for a whole batch. A row that changes after this
        read is caught by the claim (a compare-and-set), as it always was."""
        async with self.sessions() as session:
            rows = await session.execute(_STATUSES, {"keys": [n.key for n in notifications]})
            statuses: dict[str, str] = {key: status for key, status in rows}
            known: dict[str, Known] = {}
            for n in notifications:
                status = statuses.get(n.key)
                if status is None or status == OutboxStatus.PENDING:
                    known[n.key] = Known(status, await self._recipients(session, n))
                else:
                    known[n.key] = Known(status, None)
            return known

    async def _stand_in(self, session: AsyncSession, n: Notification) -> Recipients | None:
        """Whom an officer's reminder goes to while they are on leave on the day it is sent
        (the case's local day, by the renderer's clock: the moment the email is composed):
        their backup, else the region's supervisors; None when the officer is there. Decided
        when sending, so a leave ends by itself."""
        assert n.officer_id is not None
        day = self.renderer.clock().astimezone(zone(n.region, n.time_zone)).date()
        absence = await stand_in(session, n.officer_id, day)
        if absence is None:
            return None
        said = {"officer": absence.officer_name, "until": absence.leave_to.isoformat()}
        if absence.backup is not None:
            _, email, name = absence.backup
            return Recipients([email], name, {"stand_in": {"kind": "backup"} | said})
        staff = await staff_contacts(session, region=n.region, role=Role.SUPERVISOR)
        return Recipients(
            [email for email, _ in staff],
            staff[0][1] if len(staff) == 1 else None,
            {"stand_in": {"kind": "supervisors"} | said},
        )

    async def _told(
        self, session: AsyncSession, n: Notification, template: str
    ) -> tuple[str | None, str]:
        """Whom the case's last `template` email reached, by the audit trail: "officer",
        "supervisors", "directors" or "nobody" (None: no such email recorded yet); and its
        audit detail."""
        row = (
            await session.execute(
                _LAST_STAFF_EMAIL,
                {"dossier": dossier_of(n.workflow_id), "template": f"template={template} %"},
            )
        ).first()
        if row is None:
            return None, ""
        detail = row.detail or ""
        if row.kind == "email_no_recipient":
            return "nobody", detail
        told = _TOLD.search(detail) or _AUDIENCE.search(detail)
        return (told.group(1) if told else None), detail

    async def _reminded(self, session: AsyncSession, n: Notification) -> dict[str, Any]:
        """For an escalation, the facts its words rest on (issue 17: no "already told" when
        nobody was), from the audit trail: whom the last stall reminder reached (`reminded`),
        whether it went to others in place of an officer on leave (`reminded_stand_in`),
        and for the directors whom the level-2 escalation reached (`escalated`)."""
        facts: dict[str, Any] = {}
        reminded, detail = await self._told(session, n, "stall_reminder")
        found = _STAND_IN.search(detail)
        if found:
            facts["reminded_stand_in"] = found.group(1)
        if reminded is not None:
            facts["reminded"] = reminded
        if n.template == "stall_director":
            escalated, _ = await self._told(session, n, "stall_escalation")
            if escalated is not None:
                facts["escalated"] = escalated
        return facts

    async def _introduced(self, session: AsyncSession, n: Notification) -> dict[str, Any] | None:
        """The new officer as the newcomer's email introduces them (name and address), or
        None when the roster no longer has them active (nobody to introduce)."""
        if not n.officer_id:
            return None
        officer = (await session.execute(_OFFICER, {"id": n.officer_id})).first()
        if officer is None or not officer.active:
            return None
        return {"officer_name": officer.name, "officer_email": officer.email}

    async def _recipients(self, session: AsyncSession, n: Notification) -> Recipients:
        if n.audience == Audience.NEWCOMER:
            email, name = n.recipient_email, n.recipient_name
            if not email:
                # The read model is the system of record for contact data.
                case = (
                    await session.execute(
                        select(Case.email, Case.full_name).where(Case.workflow_id == n.workflow_id)
                    )
                ).first()
                if case is not None:
                    email, name = case.email, name or case.full_name
            if n.template == INTRODUCTION_TEMPLATE:
                introduced = await self._introduced(session, n)
                if introduced is None:
                    # Nobody to introduce: kept unsent (no_recipient), as the outbox keeps any.
                    return Recipients([], name, {"officer_name": "", "officer_email": ""})
                return Recipients([email] if email else [], name, introduced)
            return Recipients([email] if email else [], name)
        if n.audience == Audience.OFFICER:
            officer = None
            if n.officer_id:
                officer = (await session.execute(_OFFICER, {"id": n.officer_id})).first()
            if officer is None or not officer.active:
                return Recipients([])
            if n.template in STAND_IN_TEMPLATES:
                covered = await self._stand_in(session, n)
                if covered is not None:
                    return covered
            return Recipients([officer.email], officer.name)
        extra = await self._reminded(session, n) if n.template in ESCALATION_TEMPLATES else {}
        if n.audience == Audience.REGION_LEADS:
            # The region's supervisors, else the directors; the email and the trail say whom.
            staff = await staff_contacts(session, region=n.region, role=Role.SUPERVISOR)
            extra["told"] = "supervisors"
            if not staff:
                staff = await staff_contacts(session, region=None, role=Role.DIRECTOR)
                extra["told"] = "directors"
        else:
            role = Role.SUPERVISOR if n.audience == Audience.SUPERVISORS else Role.DIRECTOR
            region = n.region if n.audience == Audience.SUPERVISORS else None
            staff = await staff_contacts(session, region=region, role=role)
        return Recipients(
            [email for email, _ in staff], staff[0][1] if len(staff) == 1 else None, extra
        )
