"""At least once, same Message-ID: an email whose attempt died mid-exchange, against a real
SMTP server (our catcher) and the real read model (SQLite, and PostgreSQL when configured)."""

from datetime import timedelta

import pytest
from sqlalchemy import select, update
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from activities.notify import STALE_AFTER, Notifier
from parcours.infrastructure.config import Settings
from parcours.infrastructure.mail.smtp import MailChannel, Mailer, message_id_for
from parcours.infrastructure.store.models import OutboxMessage
from parcours.kernel.domain import NotificationBatch
from parcours.kernel.errors import ParcoursError
from tests.activities.test_notify import (
    KEY,
    STAFF,
    CrashAfterSend,
    age_claim,
    audit,
    bodies,
    notice,
    outbox,
)
from tests.store.conftest import add
from workflows.pathway import MAIL_GIVE_UP_AFTER

NEWCOMER = "ana@newcomer.example"


class CrashAfterEverySend(Mailer):
    """Every attempt at the newcomer's email dies right after the server accepted it; other
    emails (the supervisors' notice) go normally."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__(host, port)
        self.crashes = 0

    def channel(self, connect_within: float | None = None) -> MailChannel:
        mailer = self

        class Crashing(MailChannel):
            async def send(self, message, recipients):
                delivery = await super().send(message, recipients)
                if NEWCOMER in recipients:
                    mailer.crashes += 1
                    raise RuntimeError("worker lost right after the SMTP exchange")
                return delivery

        return Crashing(self, connect_within)


def forget_mail(smtp_server) -> None:
    for path in smtp_server.catcher.files():
        path.unlink()


async def in_flight(activity_env, notifier: Notifier, *args) -> ApplicationError:
    with pytest.raises(ApplicationError) as err:
        await activity_env.run(*args)
    assert err.value.type == "EmailInFlight" and not err.value.non_retryable
    assert err.value.category == ApplicationErrorCategory.BENIGN  # no traceback in the logs
    return err.value


async def test_staleness_is_the_workflows_rule():
    assert STALE_AFTER == MAIL_GIVE_UP_AFTER


async def test_a_lease_shorter_than_an_attempt_is_refused(sessions, renderer, mailer):
    with pytest.raises(ParcoursError, match="PARCOURS_MAIL_RESEND_LEASE_S=60"):
        Notifier(sessions, mailer, renderer, resend_lease_s=60)
    with pytest.raises(ParcoursError, match="PARCOURS_MAIL_MAX_RESENDS=-1"):
        Notifier(sessions, mailer, renderer, max_resends=-1)


async def test_after_its_lease_an_unconfirmed_email_is_sent_again_once_same_message_id(
    sessions, renderer, activity_env, smtp_server
):
    mailer = CrashAfterSend("127.0.0.1", smtp_server.port)
    notifier = Notifier(sessions, mailer, renderer)
    with pytest.raises(RuntimeError):
        await activity_env.run(notifier.send_notification, notice())
    await in_flight(activity_env, notifier, notifier.send_notification, notice())
    # Just inside the lease: still not sent again.
    await age_claim(sessions, notifier, by=notifier.lease - timedelta(seconds=5))
    err = await in_flight(activity_env, notifier, notifier.send_notification, notice())
    assert err.next_retry_delay is not None and err.next_retry_delay <= timedelta(seconds=6)
    assert len(smtp_server.messages()) == 1

    await age_claim(sessions, notifier, by=timedelta(seconds=6))
    # A different name now would change a fresh rendering; the resend is the stored message.
    outcome = await activity_env.run(
        notifier.send_notification, notice(recipient_name="Quelqu'un d'autre")
    )
    assert outcome.status == "sent" and outcome.recipients == 1
    first, again = smtp_server.messages()
    assert first["Message-ID"] == again["Message-ID"] == message_id_for(KEY, mailer.domain)
    assert (first["Subject"], first["To"]) == (again["Subject"], again["To"])
    assert bodies(first) == bodies(again) and "Ana Pérez" in bodies(again)[0]
    row = await outbox(sessions)
    assert (row.status, row.resends, row.attempts) == ("sent", 1, 2)
    trail = await audit(sessions)
    assert [e.kind for e in trail] == ["email_unconfirmed", "email_resent"]
    assert "resend=1" in (trail[1].detail or "") and "@" not in (trail[1].detail or "")

    # Once recorded, a later retry sends nothing.
    outcome = await activity_env.run(notifier.send_notification, notice())
    assert outcome.status == "already_sent"
    assert len(smtp_server.messages()) == 2


async def test_a_claim_that_never_reached_the_server_is_delivered_by_the_resend(
    sessions, notifier, activity_env, smtp_server
):
    """The worker died after claiming, before any SMTP: the resend is the only copy."""
    outcome = await activity_env.run(notifier.send_notification, notice())
    assert outcome.status == "sent"
    forget_mail(smtp_server)
    async with sessions() as session, session.begin():
        await session.execute(update(OutboxMessage).values(status="sending", sent_at=None))
    await in_flight(activity_env, notifier, notifier.send_notification, notice())
    await age_claim(sessions, notifier)
    outcome = await activity_env.run(notifier.send_notification, notice())
    assert outcome.status == "sent"
    assert len(smtp_server.messages()) == 1


async def test_after_the_last_resend_it_fails_audited_and_the_supervisors_are_told(
    sessions, renderer, activity_env, smtp_server
):
    await add(sessions, *STAFF)
    mailer = CrashAfterEverySend("127.0.0.1", smtp_server.port)
    notifier = Notifier(sessions, mailer, renderer, max_resends=2)
    with pytest.raises(RuntimeError):
        await activity_env.run(notifier.send_notification, notice())
    for _ in range(2):
        await in_flight(activity_env, notifier, notifier.send_notification, notice())
        await age_claim(sessions, notifier)
        with pytest.raises(RuntimeError):  # the resend dies too
            await activity_env.run(notifier.send_notification, notice())
    await in_flight(activity_env, notifier, notifier.send_notification, notice())
    await age_claim(sessions, notifier)
    outcome = await activity_env.run(notifier.send_notification, notice())

    assert outcome.status == "failed" and mailer.crashes == 3
    row = await outbox(sessions)
    assert (row.status, row.resends) == ("failed", 2)
    kinds = [e.kind for e in await audit(sessions)]
    assert kinds == ["email_unconfirmed"] * 3 + ["email_failed", "email_sent"]
    # Three copies (first + 2 resends) to the newcomer, then one notice to the region's two
    # supervisors, in French, naming the email and its Message-ID but not the newcomer.
    *copies, told = smtp_server.messages()
    assert len(copies) == 3 and len({m["Message-ID"] for m in copies}) == 1
    assert set(told["To"].addresses[i].addr_spec for i in range(2)) == {
        "nb@parcours.example",
        "pc@parcours.example",
    }
    assert told["Subject"] == "Courriel non confirmé\u00a0: dossier D-1 (bienvenue)"
    text = bodies(told)[0]
    assert copies[0]["Message-ID"] in text and "2 fois" in text
    assert "http://127.0.0.1:8000/cases/D-1" in text  # to the case in the console
    assert NEWCOMER not in text and "Ana" not in text
    assert (await outbox(sessions, f"{KEY}:undelivered")).status == "sent"

    # A retry after that sends nothing more.
    outcome = await activity_env.run(notifier.send_notification, notice())
    assert outcome.status == "failed"
    assert len(smtp_server.messages()) == 4


async def test_an_email_in_doubt_older_than_three_days_is_dropped_not_sent_late(
    sessions, renderer, activity_env, smtp_server
):
    notifier = Notifier(sessions, CrashAfterSend("127.0.0.1", smtp_server.port), renderer)
    with pytest.raises(RuntimeError):
        await activity_env.run(notifier.send_notification, notice())
    await age_claim(sessions, notifier, by=STALE_AFTER)
    outcome = await activity_env.run(notifier.send_notification, notice())
    assert outcome.status == "stale"
    assert (await outbox(sessions)).status == "stale"
    assert [e.kind for e in await audit(sessions)] == ["email_stale"]
    assert len(smtp_server.messages()) == 1
    # And it stays dropped.
    assert (await activity_env.run(notifier.send_notification, notice())).status == "stale"
    assert len(smtp_server.messages()) == 1


async def test_an_email_in_its_lease_does_not_hold_back_the_rest_of_its_batch(
    sessions, renderer, activity_env, smtp_server
):
    notifier = Notifier(sessions, CrashAfterSend("127.0.0.1", smtp_server.port), renderer)
    with pytest.raises(RuntimeError):
        await activity_env.run(notifier.send_notification, notice())
    later = notice("case_completed", key="newcomer-D-1:000009:mail-case_completed")
    batch = NotificationBatch(notifications=[notice(), later])
    await in_flight(activity_env, notifier, notifier.send_notifications, batch)
    assert (await outbox(sessions, later.key)).status == "sent"
    await age_claim(sessions, notifier)
    result = await activity_env.run(notifier.send_notifications, batch)
    assert [o.status for o in result.outcomes] == ["sent", "already_sent"]
    ids = [m["Message-ID"] for m in smtp_server.messages()]
    assert len(ids) == 3 and ids[0] == ids[2] != ids[1]


async def test_the_sweep_resends_what_no_retry_will_come_back_for(
    sessions, renderer, activity_env, smtp_server
):
    """The workflow was terminated while the email was in doubt (or an at-most-once worker
    left it `unconfirmed`): `parcours reconcile` sweeps it."""
    mailer = CrashAfterSend("127.0.0.1", smtp_server.port)
    notifier = Notifier(sessions, mailer, renderer)
    with pytest.raises(RuntimeError):
        await activity_env.run(notifier.send_notification, notice())
    report = await notifier.sweep()
    assert (report.checked, report.in_flight, report.resent) == (0, 1, 0)
    await age_claim(sessions, notifier)
    report = await notifier.sweep()
    assert (report.checked, report.resent, report.errors) == (1, 1, [])
    ids = [m["Message-ID"] for m in smtp_server.messages()]
    assert ids == [message_id_for(KEY, mailer.domain)] * 2
    assert [e.kind for e in await audit(sessions)] == ["email_unconfirmed", "email_resent"]
    async with sessions() as session:
        left = await session.scalar(select(OutboxMessage.status))
    assert left == "sent"
    assert (await notifier.sweep()).checked == 0


async def test_the_sweep_takes_a_legacy_unconfirmed_row_without_a_claim_time(
    sessions, notifier, activity_env, smtp_server
):
    await activity_env.run(notifier.send_notification, notice())
    forget_mail(smtp_server)
    async with sessions() as session, session.begin():
        await session.execute(update(OutboxMessage).values(status="unconfirmed", claimed_at=None))
    report = await notifier.sweep()
    assert (report.resent, report.in_flight) == (1, 0)
    assert len(smtp_server.messages()) == 1
    assert (await outbox(sessions)).resends == 1


def test_the_lease_and_the_resends_come_from_the_environment():
    s = Settings.from_env({"PARCOURS_MAIL_RESEND_LEASE_S": "120", "PARCOURS_MAIL_MAX_RESENDS": "5"})
    assert (s.mail_resend_lease_s, s.mail_max_resends) == (120.0, 5)
    assert (Settings().mail_resend_lease_s, Settings().mail_max_resends) == (600.0, 3)
