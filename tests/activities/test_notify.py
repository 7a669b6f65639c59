"""send_notification against a real SMTP server (aiosmtpd, our catcher)."""

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import DBAPIError, OperationalError
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.notify import Notifier
from parcours.infrastructure.mail.catcher import MailCatcher, free_port
from parcours.infrastructure.mail.smtp import (
    MailChannel,
    Mailer,
    MailTransientError,
    message_id_for,
)
from parcours.infrastructure.store.models import AuditEvent, OutboxMessage
from parcours.infrastructure.store.officers import NewOfficer
from parcours.kernel.domain import Audience, Notification, NotificationBatch
from tests.activities.conftest import silent_relay
from tests.store.conftest import add

ARRIVAL = "2026-03-10"
BEFORE_ARRIVAL = datetime(2026, 2, 20, 15, 0, tzinfo=UTC)
KEY = "newcomer-D-1:000003:mail-welcome"

FRENCH_WELCOME = "Bienvenue au Québec\u00a0!"
ENGLISH_WELCOME = "Welcome to Québec!"
SPANISH_WELCOME = "¡Bienvenido a Quebec!"


def notice(template: str = "welcome", **overrides) -> Notification:
    fields: dict = {
        "key": KEY,
        "workflow_id": "newcomer-D-1",
        "template": template,
        "audience": Audience.NEWCOMER,
        "region": "montreal",
        "language": "fr",
        "arrival_date": ARRIVAL,
        "recipient_email": "ana@newcomer.example",
        "recipient_name": "Ana Pérez",
        "context": {
            "dossier": "D-1",
            "arrival_date": ARRIVAL,
            "airport": "YUL",
            "region": "montreal",
        },
        "decided_at": BEFORE_ARRIVAL,
    }
    return Notification(**{**fields, **overrides})


def staff_notice(template: str, audience: Audience, **overrides) -> Notification:
    context = {
        "dossier": "D-1",
        "stage": "francization",
        "region": "montreal",
        "language": "en",
        "officer_id": "atremblay",
        "level": 2,
        "stalled_since": "2026-05-01T13:00:00+00:00",
        "days_silent": 21,
        "reason": "new_case",
    }
    return notice(
        template,
        key=f"newcomer-D-1:000009:mail-{template}",
        audience=audience,
        language="en",
        officer_id="atremblay",
        recipient_email=None,
        recipient_name=None,
        context=context,
        **overrides,
    )


def bodies(message) -> tuple[str, str]:
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    return text, html


async def outbox(sessions, key: str = KEY) -> OutboxMessage:
    async with sessions() as session:
        row = await session.scalar(select(OutboxMessage).where(OutboxMessage.key == key))
    assert row is not None
    return row


async def age_claim(sessions, notifier: Notifier, key: str = KEY, by=None) -> None:
    """Time passes: the row's claim (and so its lease) is `by` older (default: the lease)."""
    by = by or notifier.lease + timedelta(seconds=1)
    async with sessions() as session, session.begin():
        row = await session.scalar(select(OutboxMessage).where(OutboxMessage.key == key))
        assert row is not None and row.claimed_at is not None
        row.claimed_at -= by
        row.created_at -= by


async def audit(sessions) -> list[AuditEvent]:
    async with sessions() as session:
        return list((await session.scalars(select(AuditEvent).order_by(AuditEvent.id))).all())


STAFF = (
    NewOfficer("atremblay", "Amélie Tremblay", "amelie@parcours.example", "montreal", "fr,en"),
    NewOfficer("nbouchard", "Nathalie Bouchard", "nb@parcours.example", "montreal", "fr",
               "supervisor"),
    NewOfficer("pcaron", "Paul Caron", "pc@parcours.example", "montreal", "fr", "supervisor"),
    NewOfficer("qsup", "Québec Sup", "q@parcours.example", "capitale-nationale", "fr",
               "supervisor"),
    NewOfficer("hcote", "Hélène Côté", "hc@parcours.example", "capitale-nationale", "fr",
               "director"),
)  # fmt: skip


# ------------------------------------------------------------------------------------------
# Languages (Charter of the French language, s. 22.3)
# ------------------------------------------------------------------------------------------


async def test_french_newcomer_gets_a_french_message(sessions, notifier, activity_env, smtp_server):
    outcome = await activity_env.run(notifier.send_notification, notice())
    assert (outcome.status, outcome.recipients) == ("sent", 1)
    [msg] = smtp_server.messages()
    assert msg["To"] == "ana@newcomer.example"
    assert msg["Subject"].startswith("Bienvenue au Québec")
    assert msg["Content-Language"] == "fr"
    assert msg["Message-ID"] == message_id_for(KEY, "immigration.quebec.example")
    text, html = bodies(msg)
    assert "Bonjour Ana Pérez," in text and FRENCH_WELCOME in text
    assert "10 mars 2026" in text and "Montréal–Trudeau (YUL)" in text and "D-1" in text
    assert ENGLISH_WELCOME not in text
    assert '<div lang="fr">' in html and 'lang="en"' not in html
    row = await outbox(sessions)
    assert row.status == "sent" and row.attempts == 1 and row.languages == "fr"
    assert row.message_id == msg["Message-ID"]
    [entry] = await audit(sessions)
    assert entry.kind == "email_sent" and entry.key == f"{KEY}:audit"
    assert "@" not in (entry.detail or "") and "Ana" not in (entry.detail or "")


async def test_english_newcomer_within_six_months_gets_french_then_english(
    notifier, activity_env, smtp_server
):
    three_months_in = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)
    await activity_env.run(
        notifier.send_notification, notice(language="en", decided_at=three_months_in)
    )
    [msg] = smtp_server.messages()
    text, html = bodies(msg)
    assert FRENCH_WELCOME in text and ENGLISH_WELCOME in text
    assert text.index(FRENCH_WELCOME) < text.index(ENGLISH_WELCOME)
    assert "March 10, 2026" in text
    assert html.index('<div lang="fr">') < html.index('<div lang="en">')
    assert msg["Subject"].index("Bienvenue") < msg["Subject"].index("Welcome")
    assert msg["Content-Language"] == "fr, en"


async def test_the_welcome_before_departure_may_be_bilingual(notifier, activity_env, smtp_server):
    await activity_env.run(notifier.send_notification, notice(language="es"))
    text, _ = bodies(smtp_server.messages()[0])
    assert text.index(FRENCH_WELCOME) < text.index(SPANISH_WELCOME)
    assert "10 de marzo de 2026" in text


async def test_after_six_months_french_only(notifier, activity_env, smtp_server):
    six_months_later = datetime(2026, 9, 10, 16, 0, tzinfo=UTC)
    await activity_env.run(
        notifier.send_notification,
        notice(
            "case_completed", language="en", decided_at=six_months_later, context={"dossier": "D-1"}
        ),
    )
    [msg] = smtp_server.messages()
    text, html = bodies(msg)
    assert "Félicitations\u00a0!" in text and "Congratulations" not in text
    assert 'lang="en"' not in html and msg["Content-Language"] == "fr"


async def test_a_language_without_templates_gets_french_only(notifier, activity_env, smtp_server):
    await activity_env.run(notifier.send_notification, notice(language="ar"))
    text, _ = bodies(smtp_server.messages()[0])
    assert FRENCH_WELCOME in text and ENGLISH_WELCOME not in text


# ------------------------------------------------------------------------------------------
# Staff
# ------------------------------------------------------------------------------------------


async def test_officer_email_is_french_only_and_carries_no_newcomer_name(
    sessions, notifier, activity_env, smtp_server
):
    await add(sessions, *STAFF)
    outcome = await activity_env.run(
        notifier.send_notification, staff_notice("officer_assigned", Audience.OFFICER)
    )
    assert outcome.status == "sent"
    [msg] = smtp_server.messages()
    assert msg["To"] == "amelie@parcours.example"
    assert msg["Content-Language"] == "fr"
    text, html = bodies(msg)
    assert "Bonjour Amélie Tremblay," in text
    assert "Le dossier D-1 vous est maintenant confié." in text
    assert "nouveau dossier" in text and "la francisation" in text
    assert "Ana" not in text and "Ana" not in html and "Hello" not in text


async def test_escalation_goes_to_every_supervisor_of_the_region(
    sessions, notifier, activity_env, smtp_server
):
    await add(sessions, *STAFF)
    outcome = await activity_env.run(
        notifier.send_notification, staff_notice("stall_escalation", Audience.SUPERVISORS)
    )
    assert outcome.recipients == 2
    [msg] = smtp_server.messages()
    assert sorted(a.strip() for a in msg["X-RcptTo"].split(",")) == [
        "nb@parcours.example",
        "pc@parcours.example",
    ]
    text, _ = bodies(msg)
    assert "Bonjour," in text and "1er mai 2026" in text and "21 jours" in text
    assert "atremblay" in text


async def test_director_escalation(sessions, notifier, activity_env, smtp_server):
    await add(sessions, *STAFF)
    await activity_env.run(
        notifier.send_notification, staff_notice("stall_director", Audience.DIRECTORS)
    )
    [msg] = smtp_server.messages()
    assert msg["To"] == "hc@parcours.example"
    assert "Bonjour Hélène Côté," in bodies(msg)[0]


async def test_no_recipient_is_recorded_not_raised(sessions, notifier, activity_env, smtp_server):
    n = staff_notice("case_unassigned", Audience.SUPERVISORS, region="cote-nord")
    outcome = await activity_env.run(notifier.send_notification, n)
    assert outcome.status == "no_recipient"
    again = await activity_env.run(notifier.send_notification, n)
    assert again.status == "no_recipient"
    assert smtp_server.messages() == []
    assert (await outbox(sessions, n.key)).status == "no_recipient"
    assert [e.kind for e in await audit(sessions)] == ["email_no_recipient"]


# ------------------------------------------------------------------------------------------
# Exactly once
# ------------------------------------------------------------------------------------------


async def test_a_retried_activity_sends_once(sessions, notifier, activity_env, smtp_server):
    first = await activity_env.run(notifier.send_notification, notice())
    second = await activity_env.run(notifier.send_notification, notice())
    assert (first.status, second.status) == ("sent", "already_sent")
    assert len(smtp_server.messages()) == 1
    assert len(await audit(sessions)) == 1


class CrashAfterSend(Mailer):
    """The worker dies after the server accepted the message, before anything is recorded."""

    crashed = False

    def channel(self, connect_within: float | None = None) -> MailChannel:
        mailer = self

        class Crashing(MailChannel):
            async def send(self, message, recipients):
                delivery = await super().send(message, recipients)
                if not mailer.crashed:
                    mailer.crashed = True
                    raise RuntimeError("worker lost right after the SMTP exchange")
                return delivery

        return Crashing(self, connect_within)


async def test_a_crash_after_the_smtp_send_is_not_sent_again_within_its_lease(
    sessions, renderer, activity_env, smtp_server
):
    notifier = Notifier(sessions, CrashAfterSend("127.0.0.1", smtp_server.port), renderer)
    with pytest.raises(RuntimeError):
        await activity_env.run(notifier.send_notification, notice())
    with pytest.raises(ApplicationError) as err:
        await activity_env.run(notifier.send_notification, notice())
    # Retryable, and not before the lease (600 s by default) is over.
    assert err.value.type == "EmailInFlight" and not err.value.non_retryable
    assert err.value.next_retry_delay is not None
    assert timedelta(seconds=590) < err.value.next_retry_delay <= timedelta(seconds=602)
    assert len(smtp_server.messages()) == 1
    row = await outbox(sessions)
    assert row.status == "unconfirmed" and row.attempts == 1 and row.resends == 0
    assert [e.kind for e in await audit(sessions)] == ["email_unconfirmed"]


class DatabaseCut:
    """Fails the engine's next `remaining` statements as a dropped connection would."""

    def __init__(self, engine) -> None:
        self.remaining = 0
        event.listen(engine.sync_engine, "before_cursor_execute", self._check)

    def _check(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if self.remaining > 0:
            self.remaining -= 1
            raise OperationalError(statement, None, ConnectionResetError("connection lost"))


class CutAfterSend(Mailer):
    """The database goes away right after the SMTP server accepted the message."""

    def __init__(self, host: str, port: int, cut: DatabaseCut, statements: int) -> None:
        super().__init__(host, port)
        self.cut, self.statements = cut, statements

    def channel(self, connect_within: float | None = None) -> MailChannel:
        mailer = self

        class Cutting(MailChannel):
            async def send(self, message, recipients):
                delivery = await super().send(message, recipients)
                mailer.cut.remaining, mailer.statements = mailer.statements, 0
                return delivery

        return Cutting(self, connect_within)


async def test_a_short_database_outage_after_the_smtp_send_still_records_it_sent(
    engine, sessions, renderer, activity_env, smtp_server
):
    cut = DatabaseCut(engine)
    mailer = CutAfterSend("127.0.0.1", smtp_server.port, cut, statements=2)
    notifier = Notifier(sessions, mailer, renderer, record_patience_s=10)
    outcome = await activity_env.run(notifier.send_notification, notice())
    assert cut.remaining == 0  # both failures were met, and retried past
    assert outcome.status == "sent"
    row = await outbox(sessions)
    assert row.status == "sent" and row.attempts == 1 and row.sent_at is not None
    assert [e.kind for e in await audit(sessions)] == ["email_sent"]
    assert len(smtp_server.messages()) == 1


async def test_a_longer_outage_after_the_smtp_send_leaves_it_in_doubt_then_sent_again(
    engine, sessions, renderer, activity_env, smtp_server
):
    cut = DatabaseCut(engine)
    mailer = CutAfterSend("127.0.0.1", smtp_server.port, cut, statements=1_000)
    notifier = Notifier(sessions, mailer, renderer, record_patience_s=0.6)
    with pytest.raises(DBAPIError):
        await activity_env.run(notifier.send_notification, notice())
    cut.remaining = 0  # the database is back for the retry
    with pytest.raises(ApplicationError, match="EmailInFlight"):
        await activity_env.run(notifier.send_notification, notice())
    assert (await outbox(sessions)).status == "unconfirmed"
    await age_claim(sessions, notifier)
    outcome = await activity_env.run(notifier.send_notification, notice())
    assert outcome.status == "sent"
    # The server had it: the resend is a copy with the same Message-ID.
    ids = [m["Message-ID"] for m in smtp_server.messages()]
    assert ids == [message_id_for(KEY, mailer.domain)] * 2
    assert [e.kind for e in await audit(sessions)] == ["email_unconfirmed", "email_resent"]


async def test_smtp_down_is_transient_and_the_retry_sends(
    sessions, renderer, activity_env, tmp_path
):
    port = free_port()
    notifier = Notifier(sessions, Mailer("127.0.0.1", port, timeout=5.0), renderer)
    with pytest.raises(MailTransientError) as err:
        await activity_env.run(notifier.send_notification, notice())
    assert not isinstance(err.value, ApplicationError)  # Temporal retries it
    assert "@" not in str(err.value)
    row = await outbox(sessions)
    assert row.status == "pending" and row.attempts == 1 and row.last_error

    with MailCatcher(tmp_path / "later", port=port) as catcher:
        outcome = await activity_env.run(notifier.send_notification, notice())
        assert outcome.status == "sent"
        assert len(catcher.messages()) == 1
    assert (await outbox(sessions)).attempts == 2


async def test_an_attempt_from_the_workflow_task_does_not_wait_out_a_silent_relay(
    sessions, renderer
):
    """v10 sends an opening's and an alarm's emails as a local activity, inside the case's
    workflow task: a relay that never greets fails such an attempt after LOCAL_CONNECT_S, not
    the mailer's SMTP timeout, and the claim is released (nothing was sent), so the activity
    task it goes on as sends it without waiting out a lease."""
    local = ActivityEnvironment()
    local.info = replace(local.info, is_local=True)
    async with silent_relay() as (port, _):
        notifier = Notifier(sessions, Mailer("127.0.0.1", port, timeout=60.0), renderer)
        async with asyncio.timeout(30):  # the mailer's own timeout would take 60 s
            with pytest.raises(MailTransientError, match="unreachable"):
                await local.run(notifier.send_notifications, NotificationBatch([notice()]))
    row = await outbox(sessions)
    assert row.status == "pending" and row.attempts == 1


async def test_a_temporary_refusal_is_transient(sessions, notifier, activity_env, smtp_server):
    smtp_server.refusals["ana@newcomer.example"] = "450 4.2.1 Mailbox busy, try later"
    with pytest.raises(MailTransientError):
        await activity_env.run(notifier.send_notification, notice())
    assert (await outbox(sessions)).status == "pending"
    del smtp_server.refusals["ana@newcomer.example"]
    assert (await activity_env.run(notifier.send_notification, notice())).status == "sent"


async def test_a_permanent_refusal_is_recorded_and_not_retried(
    sessions, notifier, activity_env, smtp_server
):
    smtp_server.refusals["ana@newcomer.example"] = "550 5.1.1 No such user here"
    with pytest.raises(ApplicationError) as err:
        await activity_env.run(notifier.send_notification, notice())
    assert err.value.non_retryable and err.value.type == "SmtpRejected"
    assert "ana@" not in str(err.value)
    row = await outbox(sessions)
    assert row.status == "rejected" and "550" in (row.last_error or "")
    assert [e.kind for e in await audit(sessions)] == ["email_rejected"]
    assert smtp_server.messages() == []
    # Asked again with the same key (a reset workflow), it is still refused, still not sent.
    with pytest.raises(ApplicationError):
        await activity_env.run(notifier.send_notification, notice())


# ------------------------------------------------------------------------------------------
# Content safety
# ------------------------------------------------------------------------------------------


async def test_html_escapes_names_and_notes(notifier, activity_env, smtp_server):
    script = "<script>alert('x')</script>"
    await activity_env.run(
        notifier.send_notification,
        notice(
            "case_withdrawn",
            recipient_name=f"Ana {script}",
            context={"dossier": "D-1", "reason": f"Left Quebec {script}"},
        ),
    )
    text, html = bodies(smtp_server.messages()[0])
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert f"Motif indiqué\u00a0: Left Quebec {script}" in text  # plain text is not HTML


async def test_missing_template_is_not_retried(notifier, activity_env, smtp_server):
    with pytest.raises(ApplicationError) as err:
        await activity_env.run(notifier.send_notification, notice("no_such_template"))
    assert err.value.non_retryable and err.value.type == "TemplateMissing"
    assert smtp_server.messages() == []


async def test_newcomer_address_falls_back_to_the_read_model(
    sessions, casework, notifier, activity_env, smtp_server
):
    from tests.store.builders import register

    await activity_env.run(casework.register_case, register())
    n = notice(
        recipient_email=None, recipient_name=None, decided_at=BEFORE_ARRIVAL + timedelta(days=1)
    )
    assert (await activity_env.run(notifier.send_notification, n)).status == "sent"
    [msg] = smtp_server.messages()
    assert msg["To"] == "d-1@newcomer.example"
    assert "Bonjour Ana Pérez," in bodies(msg)[0]


# ------------------------------------------------------------------------------------------
# Batches: the emails of one workflow task over one connection
# ------------------------------------------------------------------------------------------


class CountingMailer(Mailer):
    """Keeps the channels it opened, to count their connections."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.channels: list[MailChannel] = []

    def channel(self, connect_within: float | None = None) -> MailChannel:
        self.channels.append(super().channel(connect_within))
        return self.channels[-1]


async def test_a_batch_goes_over_one_connection_and_a_refusal_stops_only_its_email(
    sessions, renderer, activity_env, smtp_server
):
    await add(sessions, *STAFF)
    mailer = CountingMailer("127.0.0.1", smtp_server.port, timeout=5.0)
    notifier = Notifier(sessions, mailer, renderer)
    smtp_server.refusals["bad@newcomer.example"] = "550 5.1.1 No such user here"
    batch = NotificationBatch(
        notifications=[
            notice(),
            notice(key="newcomer-D-2:000003:mail-welcome", recipient_email="bad@newcomer.example"),
            staff_notice("officer_assigned", Audience.OFFICER),
            staff_notice("stall_escalation", Audience.SUPERVISORS),
        ]
    )
    result = await activity_env.run(notifier.send_notifications, batch)
    assert [(o.status, o.failure) for o in result.outcomes] == [
        ("sent", ""),
        ("rejected", "SmtpRejected"),
        ("sent", ""),
        ("sent", ""),
    ]
    # Three messages (the escalation to both supervisors in one), and a new connection only
    # after the refusal.
    assert len(smtp_server.messages()) == 3
    assert sum(ch.connections for ch in mailer.channels) == 2
    # A retried batch sends nothing again and answers the refusal the same way.
    again = await activity_env.run(notifier.send_notifications, batch)
    assert [o.status for o in again.outcomes] == [
        "already_sent",
        "rejected",
        "already_sent",
        "already_sent",
    ]
    assert len(smtp_server.messages()) == 3


async def test_a_batch_with_the_server_down_fails_whole_and_its_retry_sends_each_once(
    sessions, renderer, activity_env, tmp_path
):
    port = free_port()
    notifier = Notifier(sessions, Mailer("127.0.0.1", port, timeout=5.0), renderer)
    batch = NotificationBatch(
        notifications=[notice(), notice(key="newcomer-D-1:000004:mail-plan_filed")]
    )
    with pytest.raises(MailTransientError):
        await activity_env.run(notifier.send_notifications, batch)
    with MailCatcher(tmp_path / "later", port=port) as catcher:
        result = await activity_env.run(notifier.send_notifications, batch)
        assert [o.status for o in result.outcomes] == ["sent", "sent"]
        assert len(catcher.messages()) == 2


async def test_a_stall_reminder_during_a_leave_goes_to_the_backup_and_says_so(
    sessions, notifier, activity_env, smtp_server, mailer
):
    from dataclasses import replace
    from datetime import date

    from parcours.infrastructure.mail.render import Renderer
    from parcours.infrastructure.store.officers import set_leave

    backup = NewOfficer("bkim", "Bo Kim", "bo@parcours.example", "montreal", "fr")
    await add(sessions, *STAFF, backup)
    # The leave ends on the day the fixture's renderer composes emails (2026-01-15).
    async with sessions() as session, session.begin():
        await set_leave(session, "atremblay", date(2026, 1, 10), date(2026, 1, 15), "bkim")
    reminder = staff_notice("stall_reminder", Audience.OFFICER)
    outcome = await activity_env.run(notifier.send_notification, reminder)
    assert (outcome.status, outcome.recipients) == ("sent", 1)
    [msg] = smtp_server.messages()
    assert msg["To"] == "bo@parcours.example"
    text, html = bodies(msg)
    assert "Bonjour Bo Kim," in text
    # Truthful: the officer was not told, and the case stays theirs.
    assert "à la place de Amélie Tremblay" in text and "n'a pas reçu ce rappel" in text
    assert "15 janvier 2026" in text and "à la place de Amélie Tremblay" in html
    async with sessions() as session:
        details = (
            await session.scalars(select(AuditEvent.detail).where(AuditEvent.kind == "email_sent"))
        ).all()
    assert details == [
        "template=stall_reminder audience=officer stand_in=backup languages=fr recipients=1"
    ]
    # The escalation that follows does not say the officer was reminded.
    await activity_env.run(
        notifier.send_notification, staff_notice("stall_escalation", Audience.SUPERVISORS)
    )
    escalation = bodies(smtp_server.messages()[-1])[0]
    assert "rappel à la personne qui remplace l'agent·e responsable, en congé" in escalation
    assert "rappel à l'agent·e responsable" not in escalation
    # The next day the leave is over by itself: the next reminder is the officer's again.
    next_day = Renderer(
        notifier.renderer.templates_dir,
        strict=True,
        clock=lambda: datetime(2026, 1, 16, 12, tzinfo=UTC),
    )
    later = Notifier(sessions, mailer, next_day)
    await activity_env.run(later.send_notification, replace(reminder, key=reminder.key + "-2"))
    assert smtp_server.messages()[-1]["To"] == "amelie@parcours.example"
    assert "à la place" not in bodies(smtp_server.messages()[-1])[0]


async def test_region_leads_fall_back_to_directors_and_escalations_say_whom_they_reached(
    sessions, notifier, activity_env, smtp_server
):
    """Issue 17, an unassigned case in a region without supervisors: its alert and reminders
    go to the directors (the trail says so), and the director's level-3 email says whom the
    earlier levels truly reached, never "already told"."""
    director = NewOfficer("hcote", "Hélène Côté", "dir@parcours.example", "montreal", "fr")
    director.role = "director"
    await add(sessions, director)

    def laval(template: str, audience: Audience, step: int, level: int) -> Notification:
        n = staff_notice(template, audience, region="laval")
        n.officer_id = None
        n.key = f"newcomer-D-1:{step:06d}:mail-{template}"
        n.context = {**n.context, "officer_id": "", "region": "laval", "level": level}
        return n

    alert = await activity_env.run(
        notifier.send_notification, laval("case_unassigned", Audience.REGION_LEADS, 1, 0)
    )
    assert (alert.status, alert.recipients) == ("sent", 1)
    assert smtp_server.messages()[-1]["To"] == "dir@parcours.example"
    assert "la direction est avisée à sa place" in bodies(smtp_server.messages()[-1])[0]
    # Level 1 to the leads (the directors stand in), level 2 to the plain supervisors as a run
    # before v7 would (nobody in Laval), then level 3.
    await activity_env.run(
        notifier.send_notification, laval("stall_reminder", Audience.REGION_LEADS, 2, 1)
    )
    missed = await activity_env.run(
        notifier.send_notification, laval("stall_escalation", Audience.SUPERVISORS, 3, 2)
    )
    assert missed.status == "no_recipient"
    await activity_env.run(
        notifier.send_notification, laval("stall_director", Audience.DIRECTORS, 4, 3)
    )
    text = bodies(smtp_server.messages()[-1])[0]
    assert "le rappel a été envoyé à la direction" in text
    assert "L'escalade n'a pu être envoyée à personne" in text
    assert "déjà été avisés" not in text
    async with sessions() as session:
        details = (
            await session.scalars(
                select(AuditEvent.detail)
                .where(AuditEvent.kind.in_(("email_sent", "email_no_recipient")))
                .order_by(AuditEvent.id)
            )
        ).all()
    assert details[0].startswith("template=case_unassigned audience=region_leads told=directors")
    assert "told=directors" in details[1]
    assert details[2].startswith("template=stall_escalation audience=supervisors")


async def test_the_newcomer_meets_their_new_officer_by_name_and_address(
    sessions, notifier, activity_env, smtp_server
):
    await add(sessions, *STAFF)
    intro = notice(
        "officer_introduced",
        key="newcomer-D-1:000012:mail-officer_introduced",
        language="es",
        officer_id="atremblay",
        context={"dossier": "D-1"},
    )
    outcome = await activity_env.run(notifier.send_notification, intro)
    assert outcome.status == "sent"
    [msg] = smtp_server.messages()
    assert msg["To"] == "ana@newcomer.example"
    text, _ = bodies(msg)
    fr = text.index("Votre accompagnement est maintenant assuré par Amélie Tremblay")
    es = text.index("Su acompañamiento está ahora a cargo de Amélie Tremblay")
    assert fr < es and "amelie@parcours.example" in text
    # An officer no longer on the roster is introduced to nobody.
    gone = notice(
        "officer_introduced",
        key="newcomer-D-1:000013:mail-officer_introduced",
        officer_id="ghost",
        context={"dossier": "D-1"},
    )
    assert (await activity_env.run(notifier.send_notification, gone)).status == "no_recipient"
