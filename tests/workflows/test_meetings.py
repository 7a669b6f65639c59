"""On the time-skipping server: the first meeting booked, moved and cancelled (issue 16).

One event for the case: the same UID in every email, SEQUENCE up at each change; the reminder
goes out at 09:00 local on the working day before the meeting; a meeting after the plan's due
day is flagged (on the case and in visibility, for the stuck list); booking is officer activity.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from parcours.kernel import search, timezones
from parcours.kernel.calendar import is_working_day
from parcours.kernel.domain import (
    CaseView,
    MeetingBooking,
    ProgressNote,
    Withdrawal,
    WithdrawalReason,
)
from tests.temporal_servers import search_attributes
from tests.workflows.conftest import ACROSS_CONTINUE_AS_NEW, OFFICER, Pathway, days, settled

EASTERN = timezones.zone(None, timezones.EASTERN)


def local(day_offset: int, hour: int, now: datetime) -> datetime:
    day = now.astimezone(EASTERN).date() + timedelta(days=day_offset)
    return datetime.combine(day, time(hour), tzinfo=EASTERN)


async def test_meeting_booked_moved_reminded_and_cancelled(pathway: Pathway) -> None:
    env, office = pathway.env, pathway.back_office
    now = await env.get_current_time()
    h = await pathway.start()  # arrives today: the plan is due 5 working days from now

    # Booked three days ahead (within the 5 working days): not late.
    first = local(3, 10, now)
    v = await h.execute_update(
        "book_meeting",
        MeetingBooking(OFFICER, at=first, place="Bureau régional, 3e étage"),
        result_type=CaseView,
    )
    assert v.meeting is not None and v.meeting.sequence == 0 and not v.meeting.late
    assert v.meeting.at == first and v.last_activity_at is not None  # officer activity
    uid = v.meeting.uid

    # Moved two weeks ahead, online: the same event, a higher sequence, and late.
    moved = local(14, 14, now)
    v = await h.execute_update(
        "book_meeting",
        MeetingBooking(OFFICER, at=moved, video_url="https://rencontre.exemple.qc.ca/abc"),
        result_type=CaseView,
    )
    assert v.meeting is not None and (v.meeting.uid, v.meeting.sequence) == (uid, 1)
    assert v.meeting.late and v.meeting.place == ""
    await settled(h)
    assert (await search_attributes(h._client, h.id))[search.MEETING_LATE.name] is True

    # The reminder: 09:00 local on the working day before the meeting's day, and only then.
    day = moved.date() - timedelta(days=1)
    while not is_working_day(day):
        day -= timedelta(days=1)
    reminder_at = datetime.combine(day, time(9), tzinfo=EASTERN)
    await env.sleep(reminder_at - now - timedelta(minutes=5))
    await settled(h)
    assert "meeting_reminder" not in office.templates()
    await env.sleep(timedelta(minutes=10))
    await settled(h)
    reminders = [m for m in office.mails if m.template == "meeting_reminder"]
    assert len(reminders) == 1 and reminders[0].decided_at is not None
    assert reminder_at <= reminders[0].decided_at < reminder_at + timedelta(minutes=1)

    # Cancelled: the same UID again, a higher sequence; no second reminder.
    v = await h.execute_update(
        "book_meeting", MeetingBooking(OFFICER, cancel=True), result_type=CaseView
    )
    assert v.meeting is not None and v.meeting.cancelled and v.meeting.sequence == 2
    await env.sleep(days(3))
    await settled(h)

    mails = [m for m in sorted(office.mails, key=lambda m: m.key) if "meeting" in m.template]
    assert [m.template for m in mails] == [
        "meeting_booked",
        "meeting_rescheduled",
        "meeting_reminder",
        "meeting_cancelled",
    ]
    assert {m.context["uid"] for m in mails} == {uid}
    assert [m.context["sequence"] for m in mails] == [0, 1, 1, 2]
    assert all(m.recipient_email == "amina@example.org" for m in mails)
    kinds = [k for k in office.kinds() if k.startswith("meeting_")]
    assert kinds == ["meeting_booked", "meeting_rescheduled", "meeting_cancelled"]
    assert (await search_attributes(h._client, h.id))[search.MEETING_LATE.name] is False


@ACROSS_CONTINUE_AS_NEW
async def test_the_meeting_and_its_reminder_survive_continue_as_new(pathway: Pathway) -> None:
    env, office = pathway.env, pathway.back_office
    now = await env.get_current_time()
    h = await pathway.start(continue_as_new_after_events=40)
    v = await h.execute_update(
        "book_meeting",
        MeetingBooking(OFFICER, at=local(10, 10, now), place="Bureau"),
        result_type=CaseView,
    )
    assert v.meeting is not None
    uid = v.meeting.uid
    # Enough check-ins to continue as new a few times before the reminder is due.
    for n in range(12):
        await h.execute_update(
            "add_progress", ProgressNote(OFFICER, f"Appel {n}"), result_type=CaseView
        )
    await env.sleep(days(10))
    v = await settled(h)
    assert v.runs > 1 and v.meeting is not None and v.meeting.uid == uid
    assert v.meeting.reminded
    reminders = [m for m in office.mails if m.template == "meeting_reminder"]
    assert len(reminders) == 1 and reminders[0].context["uid"] == uid


async def test_withdrawing_cancels_the_meeting_still_ahead(pathway: Pathway) -> None:
    now = await pathway.env.get_current_time()
    h = await pathway.start()
    await h.execute_update(
        "book_meeting",
        MeetingBooking(OFFICER, at=local(4, 10, now), place="Bureau"),
        result_type=CaseView,
    )
    v = await h.execute_update(
        "withdraw",
        Withdrawal("Parti", actor=OFFICER, reason_category=WithdrawalReason.LEFT_QUEBEC),
        result_type=CaseView,
    )
    assert v.meeting is not None and v.meeting.cancelled and v.meeting.sequence == 1
    await settled(h)
    templates = pathway.back_office.templates()
    assert templates[-2:] == ["case_withdrawn", "meeting_cancelled"]
