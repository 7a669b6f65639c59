"""The first meeting's rules (kernel/rules.py), as properties: the reminder's moment, the
alarm that sends it, and one calendar event through every change (issue 16)."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from parcours.kernel import inputs, rules
from parcours.kernel.calendar import is_working_day
from parcours.kernel.domain import (
    OPEN_STATUSES,
    Actor,
    CaseStatus,
    MeetingBooking,
    Role,
    Stage,
)
from parcours.kernel.inputs import InvalidInput
from tests.properties.test_rules import FAST, Case, cases

UID = "newcomer-X.1.first-meeting@parcours"
OFFICER = Actor("off-1")


@FAST
@given(cases(), st.dates(date(2026, 1, 1), date(2031, 12, 31)), st.integers(7, 19))
def test_the_reminder_is_at_nine_on_the_working_day_before(
    case: Case, day: date, hour: int
) -> None:
    s = case.state
    tz = rules.case_zone(s)
    at = datetime.combine(day, time(hour), tzinfo=tz)
    remind = rules.reminder_moment(s, at).astimezone(tz)
    assert remind.time() == time(rules.REMINDER_HOUR) and is_working_day(remind.date())
    assert remind.date() < day
    # No working day in between: the one just before.
    between = remind.date() + timedelta(days=1)
    while between < day:
        assert not is_working_day(between)
        between += timedelta(days=1)


@FAST
@given(cases(closing=False), st.lists(st.integers(1, 40 * 24), min_size=1, max_size=5))
def test_one_event_through_every_change_and_its_reminder_rings_once(
    case: Case, hours_ahead: list[int]
) -> None:
    s = copy.deepcopy(case.state)
    assume(s.status == CaseStatus.ACTIVE and s.stage == Stage.ARRIVAL)
    now = case.now
    kinds = []
    for n, hours in enumerate(hours_ahead):
        at = now + timedelta(hours=hours)
        kinds.append(rules.book_meeting(s, MeetingBooking(OFFICER, at=at, place="x"), now, UID))
        m = s.meeting
        assert m is not None and (m.uid, m.sequence, m.at) == (UID, n, at.astimezone(UTC))
        assert s.last_activity_at == now and s.escalation_level == 0  # officer activity
        assert m.late == (rules.meeting_day(s, at).isoformat() > (s.due_on(s.plan_due_at) or ""))
        now += timedelta(minutes=1)
    assert kinds == [rules.MEETING_BOOKED] + [rules.MEETING_RESCHEDULED] * (len(kinds) - 1)

    # The alarm comes at the reminder (or earlier, for the clocks); it rings the reminder once.
    m = s.meeting
    assert m is not None
    reminder = rules.reminder_moment(s, m.at)
    alarm = rules.next_clock(s)
    if m.reminded:  # booked within a working day of it: the invitation was the reminder
        assert reminder <= now
        return
    assert alarm is not None and alarm <= reminder
    assert not rules.remind(s, reminder - timedelta(seconds=1))
    assert rules.remind(s, reminder) and m.reminded
    assert not rules.remind(s, reminder + timedelta(days=1))
    assert rules.next_clock(s) != reminder or not rules.clocks_running(s)

    # Cancelled: the same event, one more sequence; nothing left to remind.
    sequence = m.sequence
    assert rules.book_meeting(s, MeetingBooking(OFFICER, cancel=True), now, UID) == (
        rules.MEETING_CANCELLED
    )
    assert (m.uid, m.sequence, m.cancelled) == (UID, sequence + 1, True)
    assert rules.reminder_due_at(s) is None
    assert s.status in OPEN_STATUSES


DIRECTOR = Actor("dir-1", Role.DIRECTOR)
# What a typed or pasted link may hide: line breaks (an .ics line of their own: the invitation
# could not be built and the email would be retried forever), tabs, other controls, spaces.
HIDDEN = st.sampled_from(["\n", "\r", "\r\n", "\t", "\x0b", "\x00", "\x1b", "\x7f", "\u2028", " "])


@FAST
@given(cases(closing=False), st.text("abc/?=.-", min_size=1, max_size=20), HIDDEN)
def test_a_video_link_with_a_line_break_or_control_is_refused_everywhere(
    case: Case, path: str, hidden: str
) -> None:
    s = case.state
    assume(s.status == CaseStatus.ACTIVE and s.stage == Stage.ARRIVAL)
    at = s.started_at or case.now
    good = f"https://meet.example/{path}"
    rules.validate("book_meeting", s, MeetingBooking(DIRECTOR, at=at, video_url=good))
    assert inputs.video_url(good) == good
    bad = f"https://meet.example/{path[:1]}{hidden}ATTENDEE:mailto:x@example.org{path[1:]}"
    with pytest.raises(rules.Rejected) as refused:
        rules.validate("book_meeting", s, MeetingBooking(DIRECTOR, at=at, video_url=bad))
    assert refused.value.message.code == "meeting_video_url"
    with pytest.raises(InvalidInput):
        inputs.video_url(bad)


@FAST
@given(cases(closing=False), st.integers(1, 2_000_000))
def test_a_meeting_out_of_the_case_s_years_is_refused_not_a_failed_task(
    case: Case, days_after: int
) -> None:
    """The validator refuses a first meeting more than MAX_MEETING_DAYS past the plan's due
    day, or before the case opened, so the handler never meets a moment it cannot convert
    (9999-12-31 23:30 local is past year 9999 in UTC: the handler's OverflowError failed the
    workflow task; so did year 1, a working day before it)."""
    s = copy.deepcopy(case.state)
    assume(s.status == CaseStatus.ACTIVE and s.stage == Stage.ARRIVAL and s.plan_due_at)
    assert s.plan_due_at is not None
    end = datetime(9999, 12, 31, 23, 30, tzinfo=rules.case_zone(s))
    start = datetime(1, 1, 1, 0, 30, tzinfo=UTC)
    for at in (s.plan_due_at + timedelta(days=days_after), end, start):
        booking = MeetingBooking(DIRECTOR, at=at, place="Bureau 301")
        try:
            rules.validate("book_meeting", s, booking)
        except rules.Rejected as err:
            if at == start:
                assert err.message.code == "meeting_in_past"
                continue
            assert err.message.code == "meeting_too_far"
            assert at > s.plan_due_at + timedelta(days=rules.MAX_MEETING_DAYS)
        else:
            rules.book_meeting(s, booking, case.now, UID)  # the handler takes what it accepts
