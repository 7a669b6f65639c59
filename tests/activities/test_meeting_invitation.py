"""The first meeting's emails carry an iCalendar invitation (issue 16): sent through the real
activity and SMTP server, then parsed back with the `icalendar` library."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

from icalendar import Calendar

from parcours.infrastructure.mail.ical import invitation
from parcours.kernel.domain import Audience, Notification

UID = "newcomer-D-1.1.first-meeting@parcours"
AT = "2026-03-16T14:00:00+00:00"  # 10:00 in Montreal (daylight time from 8 March)
DECIDED = datetime(2026, 3, 2, 15, 30, tzinfo=UTC)


def meeting(template: str, sequence: int, **context: object) -> Notification:
    return Notification(
        key=f"newcomer-D-1:{sequence + 10:06d}:mail-{template}",
        workflow_id="newcomer-D-1",
        template=template,
        audience=Audience.NEWCOMER,
        region="montreal",
        language="es",
        arrival_date="2026-03-10",
        recipient_email="ana@newcomer.example",
        recipient_name="Ana Pérez",
        context={
            "dossier": "D-1",
            "uid": UID,
            "at": AT,
            "place": "Bureau régional, 3e étage",
            "video_url": "",
            "sequence": sequence,
            "cancelled": template == "meeting_cancelled",
            **context,
        },
        decided_at=DECIDED,
    )


def calendar_of(msg: EmailMessage) -> tuple[Calendar, str]:
    [part] = [p for p in msg.walk() if p.get_content_type() == "text/calendar"]
    assert part.get_filename() == "invitation.ics"
    assert part.get_content_disposition() == "attachment"
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return Calendar.from_ical(payload), str(part.get_param("method"))


async def test_invitation_update_and_cancel_are_one_event(notifier, activity_env, smtp_server):
    for template, sequence in [
        ("meeting_booked", 0),
        ("meeting_rescheduled", 1),
        ("meeting_cancelled", 2),
    ]:
        outcome = await activity_env.run(notifier.send_notification, meeting(template, sequence))
        assert outcome.status == "sent"
    booked, moved, cancelled = smtp_server.messages()
    # French first, the newcomer's language beside it; the text and HTML bodies still there.
    assert booked["Content-Language"] == "fr, es"
    assert booked.get_content_type() == "multipart/mixed"
    assert {p.get_content_type() for p in booked.walk()} >= {"text/plain", "text/html"}

    for msg, method, sequence, status in [
        (booked, "REQUEST", 0, "CONFIRMED"),
        (moved, "REQUEST", 1, "CONFIRMED"),
        (cancelled, "CANCEL", 2, "CANCELLED"),
    ]:
        cal, part_method = calendar_of(msg)
        assert part_method == method and cal["METHOD"] == method
        events: list[Any] = cal.walk("VEVENT")
        [event] = events
        assert str(event["UID"]) == UID
        assert int(event["SEQUENCE"]) == sequence
        assert str(event["STATUS"]) == status
        start = event["DTSTART"]
        assert start.params["TZID"] == "America/Toronto"
        assert start.dt.isoformat() == "2026-03-16T10:00:00-04:00"
        assert str(event["LOCATION"]) == "Bureau régional, 3e étage"
        assert str(event["ATTENDEE"]) == "mailto:ana@newcomer.example"
        assert event["DTSTAMP"].dt == DECIDED
        zones: list[Any] = cal.walk("VTIMEZONE")
        [tz] = zones
        assert str(tz["TZID"]) == "America/Toronto"


def test_the_invitation_is_the_same_on_every_send_and_only_for_meetings() -> None:
    n = meeting("meeting_booked", 0, place="", video_url="https://rencontre.exemple.qc.ca/x")
    a = invitation(n, organizer="parcours@quebec.example", attendee="ana@newcomer.example")
    b = invitation(n, organizer="parcours@quebec.example", attendee="ana@newcomer.example")
    assert a is not None and a == b  # a resend carries the same bytes
    found: list[Any] = Calendar.from_ical(a.data).walk("VEVENT")
    [event] = found
    assert str(event["URL"]) == "https://rencontre.exemple.qc.ca/x"
    assert (
        invitation(meeting("meeting_reminder", 1), organizer="p@q.example", attendee=None) is None
    )
    # A notification rebuilt from an outbox row (the sweep) has no context: no invitation.
    bare = Notification(
        key="k", workflow_id="newcomer-D-1", template="meeting_booked",
        audience=Audience.NEWCOMER, region="montreal",
    )  # fmt: skip
    assert invitation(bare, organizer="p@q.example", attendee=None) is None
