"""The pathway's rules as functions of a case's state, its policy and a time.

The workflow (workflows/pathway.py) calls them; so do the property tests
(tests/properties/test_rules.py), which need no Temporal server. Nothing here reads a clock,
does I/O or issues a Temporal command: a time is always passed in (the workflow passes
`workflow.now()`, or the moment its alarm was set for).

- The clocks: the stall clock's escalation ladder, the stage deadline and the plan's due
  date (`open_case`, `enter_stage`, `touch`, `ring`, `next_clock`, `pause`, `resume`).
  Transitions change the `CaseState` they are given (the workflow carries one, whole,
  through continue-as-new) and say what happened; the workflow records it as audit events
  and emails.
- Who may act (`check_actor`, the table of kernel/authz.py) and every update's validator:
  each raises `Rejected` with a `Message` (a code and parameters, parcours/kernel/messages.py)
  that each interface renders in its reader's language, or returns.

Passed through the workflow sandbox and shared by all cases: immutable module state only.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from types import MappingProxyType
from typing import Any, Protocol

from parcours.kernel import authz, domain, timezones
from parcours.kernel.authz import Action
from parcours.kernel.calendar import (
    add_working_days,
    due_day,
    end_of_day,
    end_of_local_day_after,
    is_local_midnight,
    is_working_day,
    local_end,
    local_start,
    start_of_day,
)
from parcours.kernel.domain import (
    CLOSED_STATUSES,
    REOPENABLE_STATUSES,
    STAGES,
    STILL_OPENING,
    Actor,
    CaseState,
    CaseStatus,
    Decline,
    GreetingOutcome,
    GreetingReport,
    ItemStatus,
    ItemUpdate,
    Meeting,
    MeetingBooking,
    NewcomerReply,
    PauseRequest,
    PlanFiling,
    PlanItem,
    ProgressNote,
    Reassignment,
    Reopening,
    ReplyChoice,
    ResumeRequest,
    Role,
    Stage,
    StageApproval,
    StageRecord,
    StageWaiver,
    Transfer,
    Withdrawal,
    WithdrawalReason,
)
from parcours.kernel.messages import Message
from parcours.kernel.timezones import zone as _zone

# The longest free text a running case accepts (notes, reasons, plan items). One value for
# every interface: a shorter limit in an interface refuses text the workflow would take.
MAX_TEXT = 4000
MAX_PLAN_ITEMS = 50
# The top of the escalation ladder (1 reminder, 2 supervisors, 3 directors).
TOP_LEVEL = 3
CLOSED = frozenset(CLOSED_STATUSES)
# How far ahead a newcomer may ask to be contacted again ("contact me later").
MAX_WAIT_DAYS = 366


class Rejected(Exception):
    """An action the rules refuse, as a code and parameters (never finished text: each
    interface words it in its reader's language)."""

    def __init__(self, message: Message) -> None:
        super().__init__(str(message))
        self.message = message

    @classmethod
    def of(cls, code: str, **params: object) -> Rejected:
        return cls(Message.of(code, **params))


# --------------------------------------------------------------------------------------------
# Clocks: the escalation ladder and the deadlines
# --------------------------------------------------------------------------------------------

OVERDUE = "overdue"
ESCALATED = "escalated"
DAY = timedelta(days=1)


@dataclass(frozen=True)
class ClockStep:
    """One thing the clocks did: the stage fell overdue, or the case reached `level`."""

    kind: str  # OVERDUE or ESCALATED
    level: int = 0


def case_zone(s: CaseState) -> tzinfo:
    """The case's time zone: its approval's override, else its region's."""
    return timezones.zone(s.approval.region, s.approval.time_zone)


def day_starts(s: CaseState, d: date) -> datetime:
    """When day `d` starts for this case: 00:00 in its zone (before local days, 05:00 UTC)."""
    return local_start(d, case_zone(s)) if s.local_days else start_of_day(d)


def day_ends(s: CaseState, d: date) -> datetime:
    """When day `d` ends for this case: 00:00 local of the next day, when a deadline due on
    `d` has passed."""
    return local_end(d, case_zone(s)) if s.local_days else end_of_day(d)


def anchor(s: CaseState, now: datetime) -> datetime:
    """Where the stall clock restarts at `now`. Before arrival the newcomer is not here yet:
    the arrival stage's clock starts on the day of arrival, whatever happens before it."""
    if s.stage == Stage.ARRIVAL:
        return max(now, day_starts(s, date.fromisoformat(s.approval.arrival_date)))
    return now


def touch(s: CaseState, now: datetime) -> None:
    """A check-in (officer activity): the stall clock restarts and the case drops back to
    level 0."""
    s.last_activity_at = now
    s.escalation_level = 0
    s.clock_anchor = anchor(s, now)


def open_case(s: CaseState, now: datetime) -> None:
    """A new case: every stage on record, the plan's due date, and the arrival stage begun."""
    arrival = date.fromisoformat(s.approval.arrival_date)
    s.started_at = now
    s.stages = [StageRecord(stage=stage) for stage in STAGES]
    # Due on the Nth working day after arrival: overdue once that whole day has passed.
    s.plan_due_at = day_ends(s, add_working_days(arrival, s.policy.plan_due_working_days))
    enter_stage(s, Stage.ARRIVAL, now)


def local_today(s: CaseState, now: datetime) -> date:
    """The case's local day at `now`."""
    return now.astimezone(case_zone(s)).date()


def arrived_before_opening(s: CaseState, now: datetime) -> bool:
    """Late enrolment: the newcomer's arrival day had passed when the case opened (on the
    arrival day itself the airport greeting may still happen)."""
    return date.fromisoformat(s.approval.arrival_date) < local_today(s, now)


def plan_due_from_enrolment(s: CaseState, now: datetime) -> None:
    """Late enrolment: the newcomer was already here when the case opened, so the plan's
    5-working-day clock runs from the opening's local day (as a reopening's does), not from
    an arrival long past; the case is not overdue the moment it opens."""
    start = max(local_today(s, now), date.fromisoformat(s.approval.arrival_date))
    s.plan_due_at = day_ends(s, add_working_days(start, s.policy.plan_due_working_days))


def reopen_case(s: CaseState, r: Reopening, now: datetime) -> None:
    """A reopened case (a new run of the same dossier): back at arrival's first meeting, due
    on the 5th working day from the reopening's local day (from arrival, if that is later);
    the arrival date and the airport greeting stay as they were, and the business step goes
    on from the closed run's so that no effect key repeats."""
    s.period = r.period
    s.step = max(s.step, r.step)
    # The officer comes from the read model once the reopening is registered (the case row
    # keeps the closed run's): until then the run reads as opening, and one that fails to
    # register is told apart from the case (infrastructure/temporal.py).
    s.greeting = r.greeting
    s.started_at = now
    s.stages = [StageRecord(stage=stage) for stage in STAGES]
    start = max(local_today(s, now), date.fromisoformat(s.approval.arrival_date))
    s.plan_due_at = day_ends(s, add_working_days(start, s.policy.plan_due_working_days))
    enter_stage(s, Stage.ARRIVAL, now)
    s.last_activity_at = now


def enter_stage(s: CaseState, stage: Stage, now: datetime) -> None:
    s.stage = stage
    record = s.record(stage)
    record.started_at = now
    s.escalation_level = 0
    s.clock_anchor = anchor(s, now)
    record.deadline_at = stage_deadline(s, s.clock_anchor, s.policy.for_stage(stage).deadline)
    # A new stage starts on time; only the alarm flags it overdue (see `ring`).
    s.deadline_passed = False
    s.overdue = False


def stage_deadline(s: CaseState, start: datetime, seconds: int) -> datetime:
    """A stage's deadline, `seconds` after `start`. With local days, a deadline in whole days
    ("30d") is due on a day and falls at that day's end (00:00 local of the next); one in
    hours, minutes or seconds (a short policy, to watch the clocks in a demo) is a moment."""
    span = timedelta(seconds=seconds)
    if s.local_days and seconds % DAY.total_seconds() == 0:
        return end_of_local_day_after(start, span, case_zone(s))
    return start + span


def shift_deadline(s: CaseState, due_at: datetime, by: timedelta) -> datetime:
    """A deadline moved by a pause of `by`. With local days, one that falls at the end of a
    day moves to the end of a day: by `by` counted on the wall clock, rounded up to whole
    days (a pause of an afternoon gives the day back)."""
    tz = case_zone(s)
    if s.local_days and is_local_midnight(due_at, tz):
        return end_of_local_day_after(due_at, by, tz)
    return due_at + by


def move_zone(s: CaseState, override: str | None) -> None:
    """The case takes its new zone (a transfer: the new region's, or `override`). A deadline
    due on a day stays due on that day, and falls at its end in the new zone."""
    before = case_zone(s)
    s.approval.time_zone = override
    after = case_zone(s)
    if not s.local_days or after == before:
        return

    def moved(due_at: datetime | None) -> datetime | None:
        if due_at is None or not is_local_midnight(due_at, before):
            return due_at
        return local_end(due_day(due_at, before), after)

    for record in s.stages:
        record.deadline_at = moved(record.deadline_at)
    s.plan_due_at = moved(s.plan_due_at)


def following_stage(s: CaseState) -> Stage | None:
    """The stage after the current one (already done), skipping waived ones; None: the end."""
    assert s.stage is not None
    i = STAGES.index(s.stage) + 1
    while i < len(STAGES) and s.record(STAGES[i]).waived:
        i += 1
    return STAGES[i] if i < len(STAGES) else None


def close(s: CaseState, status: CaseStatus, now: datetime, reason: str) -> None:
    s.status = status
    s.stage = None
    s.closed_at = now
    s.close_reason = reason
    s.escalation_level = 0
    s.overdue = False
    s.paused_at = None
    s.waiting_until = None
    s.waiting_on = None


def plan_awaited(s: CaseState) -> bool:
    return s.stage == Stage.ARRIVAL and not s.plan


def clocks_running(s: CaseState) -> bool:
    """The clocks run for an active case in a stage; a pause or the end stops them."""
    return s.status == CaseStatus.ACTIVE and s.stage is not None and s.clock_anchor is not None


def deadlines(s: CaseState) -> dict[str, datetime]:
    """The deadlines of the current stage: its own, and the plan's while in arrival."""
    found: dict[str, datetime] = {}
    if s.stage is None or not s.stages:
        return found
    deadline = s.record(s.stage).deadline_at
    if deadline is not None:
        found["stage"] = deadline
    if s.stage == Stage.ARRIVAL and s.plan_due_at is not None:
        found["plan"] = s.plan_due_at
    return found


def next_clock(s: CaseState) -> datetime | None:
    """When something is next due: an escalation level, a deadline, the first meeting's
    reminder, or, while waiting, the day the newcomer gave. The clocks stop in a pause and
    while waiting; the reminder does not (it is the newcomer's)."""
    due: list[datetime] = []
    reminder = reminder_due_at(s)
    if reminder is not None:
        due.append(reminder)
    if s.status == CaseStatus.WAITING and s.waiting_until is not None:
        due.append(s.waiting_until)
    if not clocks_running(s):
        return min(due) if due else None
    assert s.stage is not None and s.clock_anchor is not None
    if s.escalation_level < TOP_LEVEL:
        threshold = s.policy.for_stage(s.stage).threshold(s.escalation_level + 1)
        due.append(s.clock_anchor + timedelta(seconds=threshold))
    deadline = s.record(s.stage).deadline_at
    if not s.deadline_passed and deadline is not None:
        due.append(deadline)
    if plan_awaited(s) and not s.overdue and s.plan_due_at is not None:
        due.append(s.plan_due_at)
    return min(due) if due else None


def ring(s: CaseState, at: datetime) -> Iterator[ClockStep]:
    """Move the clocks to `at`: flag a passed deadline, climb the escalation ladder.

    A generator: each step is applied to `s` just before it is yielded, so the caller records
    it with the state as it stands after that step (the audit row's snapshot), and the next
    step is taken only when the caller asks for it. Consume it whole.

    The workflow passes the moment its alarm was set for, never the clock reading of the
    workflow task: that reading may fall either side of a threshold (timer rounding), and a
    task retried after a worker crash reads later than the first attempt did.
    """
    if not clocks_running(s):
        return
    assert s.stage is not None and s.clock_anchor is not None
    deadline = s.record(s.stage).deadline_at
    if deadline is not None and at >= deadline:
        s.deadline_passed = True
    plan_late = plan_awaited(s) and s.plan_due_at is not None and at >= s.plan_due_at
    if not s.overdue and (s.deadline_passed or plan_late):
        s.overdue = True
        yield ClockStep(OVERDUE)
    stage_policy = s.policy.for_stage(s.stage)
    while s.escalation_level < TOP_LEVEL:
        level = s.escalation_level + 1
        if at < s.clock_anchor + timedelta(seconds=stage_policy.threshold(level)):
            break
        s.escalation_level = level
        yield ClockStep(ESCALATED, level)


def pause(s: CaseState, inp: PauseRequest, now: datetime) -> None:
    s.status = CaseStatus.PAUSED
    s.paused_at = now
    s.paused_by = inp.actor.officer_id
    s.pause_reason = inp.reason.strip()
    s.last_activity_at = now


def resume(s: CaseState, now: datetime) -> timedelta:
    """End a pause; the time spent paused. Clocks stop during a pause: the deadlines move by
    that time (with local days, a deadline due on a day by whole days, rounded up: see
    `shift_deadline`), and the stall clock restarts now (a resumption is a check-in). Overdue
    stays as it was when paused."""
    assert s.paused_at is not None and s.stage is not None
    paused_for = now - s.paused_at
    record = s.record(s.stage)
    if record.deadline_at is not None:
        record.deadline_at = shift_deadline(s, record.deadline_at, paused_for)
    if s.stage == Stage.ARRIVAL and s.plan_due_at is not None:
        s.plan_due_at = shift_deadline(s, s.plan_due_at, paused_for)
    s.status = CaseStatus.ACTIVE
    s.paused_at = None
    s.paused_by = None
    s.pause_reason = None
    s.waiting_until = None
    s.waiting_on = None
    touch(s, now)
    return paused_for


def wait(s: CaseState, until: date, now: datetime) -> None:
    """The newcomer asked to be contacted again on `until` (their own act, not a staff pause):
    the case waits until that day starts (local), clocks stopped as in a pause. Asked again
    while waiting, only the day changes: the clocks stay stopped from the first time."""
    if s.status != CaseStatus.WAITING:
        s.paused_at = now
    s.status = CaseStatus.WAITING
    s.waiting_until = day_starts(s, until)
    s.waiting_on = until.isoformat()


def wake(s: CaseState, at: datetime) -> timedelta | None:
    """At `at` (the alarm's moment): a waiting case whose day has come resumes by itself, as
    from a pause (deadlines moved by the time waited, the stall clock restarted). The time
    waited, or None if nothing was due."""
    if s.status != CaseStatus.WAITING or s.waiting_until is None or at < s.waiting_until:
        return None
    return resume(s, at)


# --------------------------------------------------------------------------------------------
# The first meeting (issue 16): booked, moved or cancelled; reminded a working day before
# --------------------------------------------------------------------------------------------

MEETING_BOOKED = "meeting_booked"
MEETING_RESCHEDULED = "meeting_rescheduled"
MEETING_CANCELLED = "meeting_cancelled"
# The reminder goes out at this local hour on the working day before the meeting's day.
REMINDER_HOUR = 9
MAX_URL = 2000
# How far past the plan's due day a first meeting may be booked (years of 366 days): far
# enough for a case long overdue, near enough to catch a mistyped year.
MAX_MEETING_YEARS = 10
MAX_MEETING_DAYS = 366 * MAX_MEETING_YEARS


def video_url_ok(url: str) -> bool:
    """A video meeting's link as the invitation can carry it: http(s), not too long, and no
    space, line break or other control character (a line break would make the .ics
    unbuildable, and the newcomer's emails would never go)."""
    return (
        0 < len(url) <= MAX_URL
        and url.startswith(("https://", "http://"))
        and not any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in url)
    )


def previous_working_day(d: date) -> date:
    d -= DAY
    while not is_working_day(d):
        d -= DAY
    return d


def meeting_day(s: CaseState, at: datetime) -> date:
    """The local day (the case's zone) of a meeting at `at`."""
    return at.astimezone(case_zone(s)).date()


def reminder_moment(s: CaseState, at: datetime) -> datetime:
    """When the reminder of a meeting at `at` goes out: 09:00 local on the working day before
    the meeting's day (a Monday meeting is reminded on the Friday)."""
    day = previous_working_day(meeting_day(s, at))
    return datetime.combine(day, time(REMINDER_HOUR), tzinfo=case_zone(s)).astimezone(UTC)


def meeting_late(s: CaseState, at: datetime) -> bool:
    """A meeting on a day after the plan's due day (the Nth working day) is late: allowed,
    but flagged on the case and in the stuck list."""
    due_on = s.due_on(s.plan_due_at)
    return due_on is not None and meeting_day(s, at) > date.fromisoformat(due_on)


def meeting_flagged(s: CaseState) -> bool:
    """The case shows in the stuck list for its first meeting: booked late and still ahead of
    the plan."""
    m = s.meeting
    return m is not None and m.late and not m.cancelled and plan_awaited(s)


def reminder_due_at(s: CaseState) -> datetime | None:
    """When the booked meeting's reminder is due; None if there is none to send."""
    m = s.meeting
    if m is None or m.cancelled or m.reminded or s.status in CLOSED:
        return None
    return reminder_moment(s, m.at)


def remind(s: CaseState, at: datetime) -> bool:
    """The alarm rang for `at`: True (and the reminder marked sent) if it is the reminder's
    moment."""
    due = reminder_due_at(s)
    if due is None or at < due:
        return False
    assert s.meeting is not None
    s.meeting.reminded = True
    return True


def book_meeting(s: CaseState, inp: MeetingBooking, now: datetime, uid: str) -> str:
    """Book, move or cancel the first meeting: what happened (MEETING_BOOKED, _RESCHEDULED or
    _CANCELLED). One UID for the case's period; each change after the first raises the
    SEQUENCE, so a calendar replaces its event. Officer activity: the stall clock restarts."""
    m = s.meeting
    touch(s, now)
    if inp.cancel:
        assert m is not None and not m.cancelled
        m.cancelled = True
        m.sequence += 1
        m.booked_by = inp.actor.officer_id
        m.booked_at = now
        return MEETING_CANCELLED
    assert inp.at is not None
    at = inp.at.astimezone(UTC)
    if m is None:
        m = s.meeting = Meeting(uid=uid, at=at)
        kind = MEETING_BOOKED
    else:
        # Booked again after a cancellation: the same event, brought back.
        kind = MEETING_BOOKED if m.cancelled else MEETING_RESCHEDULED
        m.sequence += 1
        m.cancelled = False
        m.at = at
    m.place = inp.place.strip()
    m.video_url = inp.video_url.strip()
    m.booked_by = inp.actor.officer_id
    m.booked_at = now
    m.late = meeting_late(s, at)
    # Booked within a working day of it: the invitation is the reminder.
    m.reminded = now >= reminder_moment(s, at)
    return kind


# --------------------------------------------------------------------------------------------
# Plan items (v6): each tracks a referral, planned -> referred -> in_progress -> done, or
# abandoned (with a reason) from any step before done.
# --------------------------------------------------------------------------------------------

# Where each status may go next. A finished item (done, abandoned) goes nowhere: a new need is
# a new item in a refiled plan.
ITEM_NEXT: Mapping[ItemStatus, frozenset[ItemStatus]] = MappingProxyType(
    {
        ItemStatus.PLANNED: frozenset(
            {ItemStatus.REFERRED, ItemStatus.IN_PROGRESS, ItemStatus.ABANDONED}
        ),
        ItemStatus.REFERRED: frozenset({ItemStatus.IN_PROGRESS, ItemStatus.ABANDONED}),
        ItemStatus.IN_PROGRESS: frozenset({ItemStatus.DONE, ItemStatus.ABANDONED}),
        ItemStatus.DONE: frozenset(),
        ItemStatus.ABANDONED: frozenset(),
    }
)


def item_id(n: int) -> str:
    return f"i{n}"


def _item_number(item_id: str) -> int:
    digits = item_id[1:]
    return int(digits) if item_id.startswith("i") and digits.isdigit() else 0


def number_items(s: CaseState) -> None:
    """Give an id to every item without one (a plan filed before v6: by position), and keep
    `item_seq` at the highest number given. State only: no command."""
    s.item_seq = max([s.item_seq, *(_item_number(i.id) for i in s.plan)])
    for item in s.plan:
        if not item.id:
            s.item_seq += 1
            item.id = item_id(s.item_seq)


def refile(s: CaseState, items: list[PlanItem]) -> list[PlanItem]:
    """The plan `items` describe, as filed now: an item naming an id of the plan on file keeps
    that item's status, partner and dates (its stage and text are the new ones); any other
    gets a new id. Advances `item_seq`."""
    number_items(s)
    on_file = {i.id: i for i in s.plan}
    filed: list[PlanItem] = []
    for i in items:
        kept = on_file.pop(i.id, None) if i.id else None
        if kept is not None:
            filed.append(
                PlanItem(
                    stage=i.stage,
                    text=i.text.strip(),
                    id=kept.id,
                    status=kept.status,
                    partner_id=kept.partner_id,
                    referred_on=kept.referred_on,
                    started_on=kept.started_on,
                    done_on=kept.done_on,
                    abandoned_on=kept.abandoned_on,
                    abandoned_reason=kept.abandoned_reason,
                )
            )
            continue
        s.item_seq += 1
        filed.append(PlanItem(stage=i.stage, text=i.text.strip(), id=item_id(s.item_seq)))
    return filed


def find_item(s: CaseState, wanted: str) -> PlanItem | None:
    return next((i for i in s.plan if i.id == wanted), None)


def local_day(s: CaseState, now: datetime) -> str:
    """The case's local day (ISO date) at `now`."""
    return now.astimezone(_zone(s.approval.region, s.approval.time_zone)).date().isoformat()


def move_item(s: CaseState, inp: ItemUpdate, now: datetime) -> PlanItem:
    """Apply an accepted item update: the status, its day, the partner or the reason. A
    change of status is officer activity (the stall clock restarts)."""
    item = find_item(s, inp.item_id)
    assert item is not None
    day = local_day(s, now)
    item.status = inp.status
    if inp.status == ItemStatus.REFERRED:
        item.referred_on = day
        item.partner_id = inp.partner_id
    elif inp.status == ItemStatus.IN_PROGRESS:
        item.started_on = day
        if inp.partner_id:
            item.partner_id = inp.partner_id
    elif inp.status == ItemStatus.DONE:
        item.done_on = day
    elif inp.status == ItemStatus.ABANDONED:
        item.abandoned_on = day
        item.abandoned_reason = inp.reason.strip()
    touch(s, now)
    return item


def open_items(s: CaseState, stage: Stage) -> list[PlanItem]:
    """The items of `stage` neither done nor abandoned."""
    return [i for i in s.plan if i.stage == stage and not i.finished]


# --------------------------------------------------------------------------------------------
# Who may act
# --------------------------------------------------------------------------------------------


def refuse(refused: authz.Refusal, *, opened: bool) -> Rejected:
    """The table's refusal. `opened`: False while the case's officer is still being
    assigned, when "no officer yet" only means "try again in a moment"."""
    if refused.code == "no_officer" and not opened:
        return Rejected.of(STILL_OPENING)
    return Rejected(refused)


def _status(status: CaseStatus) -> str:
    return f"status.{status.value}"


def _stage(stage: Stage | None) -> str:
    return f"stage.{stage.value}" if stage is not None else "stage.none"


def check_open(s: CaseState, *, allow_paused: bool = False) -> None:
    if s.status in CLOSED_STATUSES:
        raise Rejected.of("case_closed", status=_status(s.status))
    if s.status == CaseStatus.PAUSED and not allow_paused:
        raise Rejected.of("case_paused")
    # Waiting for the day the newcomer gave: what a pause refuses (no history before issue 16
    # holds this status, so no replay sees the difference).
    if s.status == CaseStatus.WAITING and not allow_paused:
        raise Rejected.of("case_waiting", day=s.waiting_on or "")


def check_not_reused(s: CaseState, inp: object) -> None:
    """A signed action copied and sent again while still fresh counts once."""
    sig = getattr(inp, "signature", None)
    if sig is not None and any(seen.mac == sig.mac for seen in s.signatures_seen):
        raise refuse(authz.refusal("signature_reused"), opened=True)


def check_actor(s: CaseState, actor: Actor, action: Action, *, strict: bool, opened: bool) -> None:
    """`strict`: the authorization table (kernel/authz.py). Otherwise the rules before it,
    for the runs recorded before it only (workflows/pathway.py AUTHZ_TABLE)."""
    if strict:
        refused = authz.decide(action, actor, s.approval.region, s.officer_id)
        if refused is not None:
            raise refuse(refused, opened=opened)
        return
    _check_actor_v2(
        s, actor, supervisors_only=action in (Action.WAIVE, Action.REASSIGN), opened=opened
    )


def _check_actor_v2(s: CaseState, actor: Actor, *, supervisors_only: bool, opened: bool) -> None:
    if not actor.active:
        raise Rejected.of("inactive", actor=actor.officer_id)
    if actor.role == Role.DIRECTOR:
        return
    if actor.role == Role.SUPERVISOR and actor.region == s.approval.region:
        return
    if supervisors_only:
        raise Rejected.of("supervisors_only", actor=actor.officer_id, region=s.approval.region)
    if s.officer_id is None:
        raise Rejected.of(STILL_OPENING if not opened else "no_officer")
    if actor.officer_id != s.officer_id:
        raise Rejected.of("not_assigned", actor=actor.officer_id, region=s.approval.region)


# --------------------------------------------------------------------------------------------
# Validators, one per update. Validators run with `strict` (the table); a handler re-runs its
# validator with the rules of the code that wrote the history (a v2 run replays with the v2
# rules), since the state may have changed between the update's arrival and its handling.
# --------------------------------------------------------------------------------------------


def _text(value: str, field: str) -> None:
    """`field`: the catalogue key naming the field ("input.note")."""
    if len(value) > MAX_TEXT:
        raise Rejected.of("text_too_long", field=field, max=MAX_TEXT)


def check_greeting(s: CaseState, inp: GreetingReport, *, strict: bool, opened: bool) -> None:
    if strict:
        check_not_reused(s, inp)
    check_open(s)
    check_actor(s, inp.actor, Action.GREET, strict=strict, opened=opened)
    if s.stage != Stage.ARRIVAL:
        raise Rejected.of("greeting_arrival_only", current=_stage(s.stage))
    if not isinstance(inp.outcome, GreetingOutcome):
        raise Rejected.of("unknown_greeting_outcome")


def check_plan(s: CaseState, inp: PlanFiling, *, strict: bool, opened: bool) -> None:
    if strict:
        check_not_reused(s, inp)
    check_open(s)
    check_actor(s, inp.actor, Action.PLAN, strict=strict, opened=opened)
    assert s.stage is not None
    if not inp.items:
        raise Rejected.of("plan_empty")
    if len(inp.items) > MAX_PLAN_ITEMS:
        raise Rejected.of("plan_too_long", max=MAX_PLAN_ITEMS)
    remaining = STAGES[STAGES.index(s.stage) :]
    # v6: an item of a stage behind may stay when it is kept as it was filed (same id and
    # stage): a refiled plan carries its finished items. (A relaxed rule: safe for replay.)
    kept = {(i.id, i.stage) for i in s.plan if i.id}
    for n, item in enumerate(inp.items, 1):
        if item.stage not in remaining and (item.id, item.stage) not in kept:
            raise Rejected.of(
                "plan_item_behind", n=n, stage=_stage(item.stage), current=_stage(s.stage)
            )
        if not item.text.strip():
            raise Rejected.of("plan_item_empty", n=n)
        if len(item.text) > MAX_TEXT:
            raise Rejected.of("plan_item_too_long", n=n, max=MAX_TEXT)


def check_progress(s: CaseState, inp: ProgressNote, *, strict: bool, opened: bool) -> None:
    if strict:
        check_not_reused(s, inp)
    check_open(s, allow_paused=True)
    check_actor(s, inp.actor, Action.PROGRESS, strict=strict, opened=opened)
    if not inp.note.strip():
        raise Rejected.of("note_empty")
    _text(inp.note, "input.note")


def check_approval(s: CaseState, inp: StageApproval, *, strict: bool, opened: bool) -> None:
    if strict:
        check_not_reused(s, inp)
    check_open(s)
    if inp.stage != s.stage:
        raise Rejected.of("wrong_stage", current=_stage(s.stage), asked=_stage(inp.stage))
    check_actor(s, inp.actor, Action.APPROVE, strict=strict, opened=opened)
    if inp.stage == Stage.ARRIVAL and not s.plan:
        raise Rejected.of("plan_required")
    _text(inp.note, "input.note")


def check_open_items(s: CaseState, inp: StageApproval) -> None:
    """v6: approving a stage whose items are not all done or abandoned needs a note (the audit
    trail keeps it). A handler asks this only in a run that took patch "plan-item-status":
    older runs approved without notes."""
    still_open = open_items(s, inp.stage)
    if still_open and not inp.note.strip():
        raise Rejected.of("open_items_need_note", open=len(still_open))


def check_stage_approval(s: CaseState, inp: StageApproval, *, strict: bool, opened: bool) -> None:
    """The `approve_stage` validator: the approval's rules, and the open items' note."""
    check_approval(s, inp, strict=strict, opened=opened)
    check_open_items(s, inp)


def check_item(s: CaseState, inp: ItemUpdate, *, strict: bool = True, opened: bool) -> None:
    """Always the table's rules (`strict` is ignored): item updates came with v6."""
    check_not_reused(s, inp)
    check_open(s)
    check_actor(s, inp.actor, Action.ITEM, strict=True, opened=opened)
    item = find_item(s, inp.item_id)
    if item is None:
        raise Rejected.of("unknown_item", item=inp.item_id)
    if not isinstance(inp.status, ItemStatus):
        raise Rejected.of("unknown_item_status")
    if inp.status not in ITEM_NEXT[item.status]:
        raise Rejected.of(
            "item_transition",
            item=item.id,
            current=f"item_status.{item.status.value}",
            asked=f"item_status.{inp.status.value}",
        )
    if inp.status == ItemStatus.REFERRED and not inp.partner_id:
        raise Rejected.of("partner_required")
    if inp.partner_id is not None and not domain.PARTNER_ID_RE.match(inp.partner_id):
        raise Rejected.of("unknown_partner", partner=inp.partner_id[:64])
    if inp.partner is not None and inp.partner.partner_id != inp.partner_id:
        raise Rejected.of("unknown_partner", partner=inp.partner.partner_id[:64])
    if inp.status == ItemStatus.ABANDONED and not inp.reason.strip():
        raise Rejected.of("reason_required")
    _text(inp.reason, "input.reason")
    if inp.partner is not None:
        for value in (inp.partner.name, inp.partner.email, inp.partner.phone, inp.partner.url):
            _text(value, "input.partner")


def check_waiver(s: CaseState, inp: StageWaiver, *, strict: bool, opened: bool) -> None:
    if strict:
        check_not_reused(s, inp)
    check_open(s)
    check_actor(s, inp.actor, Action.WAIVE, strict=strict, opened=opened)
    assert s.stage is not None
    if inp.stage == Stage.ARRIVAL:
        raise Rejected.of("arrival_not_waivable")
    if s.record(inp.stage).waived:
        raise Rejected.of("already_waived", stage=_stage(inp.stage))
    if STAGES.index(inp.stage) < STAGES.index(s.stage):
        raise Rejected.of("stage_behind", stage=_stage(inp.stage), current=_stage(s.stage))
    if not inp.reason.strip():
        raise Rejected.of("reason_required")
    _text(inp.reason, "input.reason")


def check_reassignment(s: CaseState, inp: Reassignment, *, strict: bool, opened: bool) -> None:
    if strict:
        check_not_reused(s, inp)
    check_open(s, allow_paused=True)
    check_actor(s, inp.actor, Action.REASSIGN, strict=strict, opened=opened)
    if strict:
        refused = authz.check_new_officer(inp.new_officer, s.approval.region, s.officer_id)
        if refused is not None:
            raise refuse(refused, opened=opened)
        return
    if not inp.new_officer.active:
        raise Rejected.of("target_inactive", officer=inp.new_officer.officer_id)
    if inp.new_officer.officer_id == s.officer_id:
        raise Rejected.of("already_assigned", officer=inp.new_officer.officer_id)


def check_transfer(s: CaseState, inp: Transfer, *, strict: bool = True, opened: bool) -> None:
    """Always the table's rules (`strict` is ignored): transfers came with it, so no history
    holds one checked by older rules."""
    check_not_reused(s, inp)
    check_open(s, allow_paused=True)
    check_actor(s, inp.actor, Action.TRANSFER, strict=True, opened=opened)
    refused = authz.check_transfer(inp.new_region, inp.new_officer, s.approval.region)
    if refused is not None:
        raise refuse(refused, opened=opened)
    if inp.time_zone is not None and inp.time_zone not in timezones.ZONES:
        raise Rejected.of(
            "unknown_time_zone", zone=inp.time_zone, expected=", ".join(timezones.ZONES)
        )
    _text(inp.note, "input.note")


def check_pause(s: CaseState, inp: PauseRequest, *, strict: bool, opened: bool) -> None:
    if strict:
        check_not_reused(s, inp)
    check_open(s)
    check_actor(s, inp.actor, Action.PAUSE, strict=strict, opened=opened)
    if not inp.reason.strip():
        raise Rejected.of("reason_required")
    _text(inp.reason, "input.reason")


def check_resume(s: CaseState, inp: ResumeRequest, *, strict: bool, opened: bool) -> None:
    if strict:
        check_not_reused(s, inp)
    # A supervisor may also end a newcomer's wait early (issue 16: WAITING is new, so no
    # history holds a resume this lets through).
    if s.status not in (CaseStatus.PAUSED, CaseStatus.WAITING):
        raise Rejected.of("not_paused", status=_status(s.status))
    check_actor(s, inp.actor, Action.RESUME, strict=strict, opened=opened)


def check_withdrawal(s: CaseState, inp: Withdrawal, *, strict: bool, opened: bool) -> None:
    if strict:
        check_not_reused(s, inp)
    check_open(s, allow_paused=True)
    if strict:
        # v2 withdrawals named no one (`recorded_by` defaulted to "operator").
        if inp.actor is None:
            raise Rejected.of("withdrawal_unnamed")
        check_actor(s, inp.actor, Action.WITHDRAW, strict=True, opened=opened)
        if not isinstance(inp.reason_category, WithdrawalReason):
            raise Rejected.of("unknown_reason_category")
    # From v3 the category says why; the note only has to explain "other". (Relaxing a
    # validator is safe for replay: a refused update never entered a history.)
    if not inp.reason.strip() and (not strict or inp.reason_category == WithdrawalReason.OTHER):
        raise Rejected.of("reason_required")
    _text(inp.reason, "input.reason")


def check_meeting(s: CaseState, inp: MeetingBooking, *, strict: bool, opened: bool) -> None:
    """New in issue 16 (no history holds one): always the table's rules."""
    check_not_reused(s, inp)
    check_open(s)
    check_actor(s, inp.actor, Action.MEETING, strict=True, opened=opened)
    if s.stage != Stage.ARRIVAL:
        raise Rejected.of("meeting_arrival_only", current=_stage(s.stage))
    if inp.cancel:
        if s.meeting is None or s.meeting.cancelled:
            raise Rejected.of("meeting_none")
        return
    if inp.at is None or inp.at.tzinfo is None or inp.at.utcoffset() is None:
        raise Rejected.of("meeting_time_required")
    # Compared as aware moments (no conversion that could overflow): a first meeting ten
    # years past the plan's due day, or before the case opened, is a typing error, and one
    # at either end of the calendar (9999-12-31 23:30 local is past year 9999 in UTC) would
    # fail the handler, and with it the workflow task.
    if s.plan_due_at is not None and inp.at > s.plan_due_at + timedelta(days=MAX_MEETING_DAYS):
        raise Rejected.of("meeting_too_far", years=MAX_MEETING_YEARS)
    if s.started_at is not None and inp.at < s.started_at:
        raise Rejected.of("meeting_in_past", value=inp.at.isoformat())
    if not inp.place.strip() and not inp.video_url.strip():
        raise Rejected.of("meeting_where_required")
    _text(inp.place, "input.place")
    url = inp.video_url.strip()
    if url and not video_url_ok(url):
        raise Rejected.of("meeting_video_url")


def check_newcomer_reply(
    s: CaseState,
    inp: NewcomerReply,
    *,
    strict: bool = True,
    opened: bool,
    now: datetime | None = None,
) -> None:
    """The newcomer's own answer through their link. No actor and no table row: the newcomer
    is no staff member, and staff cannot answer for them (the web sends this only after
    checking the link; the signature says it came through the web). `now`: the workflow's
    time, which a day to wait until must be after (the workflow passes it; without it, the
    day's form alone is checked). New with issue 16: always the current rules."""
    check_not_reused(s, inp)
    if not opened:
        # Its link goes out with the welcome, once the case is open; an interface retries.
        raise Rejected.of(STILL_OPENING)
    if not isinstance(inp.choice, ReplyChoice):
        raise Rejected.of("unknown_reply_choice")
    check_open(s, allow_paused=True)
    _text(inp.note, "input.note")
    if inp.choice == ReplyChoice.DECLINE and s.plan_filed_at is not None:
        raise Rejected.of("reply_plan_filed")
    if inp.choice != ReplyChoice.LATER:
        return
    if s.status == CaseStatus.PAUSED:
        raise Rejected.of("case_paused")
    try:
        until = date.fromisoformat(inp.until or "")
    except ValueError:
        raise Rejected.of("reply_day_invalid") from None
    if now is None:
        return
    if day_starts(s, until) <= now:
        raise Rejected.of("reply_day_past")
    if until > now.astimezone(case_zone(s)).date() + timedelta(days=MAX_WAIT_DAYS):
        raise Rejected.of("reply_day_too_far", days=MAX_WAIT_DAYS)


def check_decline(s: CaseState, inp: Decline, *, strict: bool = True, opened: bool) -> None:
    """Always the table's rules (`strict` is ignored): declines are new in issue 16. Only
    before the plan is filed; by a named actor of the table, or the newcomer's own act."""
    check_not_reused(s, inp)
    check_open(s, allow_paused=True)
    if inp.actor is None:
        if not inp.by_newcomer:
            raise Rejected.of("decline_unnamed")
    else:
        if inp.by_newcomer:
            raise Rejected.of("decline_by_newcomer_named")
        check_actor(s, inp.actor, Action.DECLINE, strict=True, opened=opened)
    if s.plan_filed_at is not None:
        raise Rejected.of("decline_after_plan")
    if not isinstance(inp.reason_category, WithdrawalReason):
        raise Rejected.of("unknown_reason_category")
    # Staff explain "other"; the newcomer's reason is optional.
    if inp.reason_category == WithdrawalReason.OTHER and not (inp.by_newcomer or inp.note.strip()):
        raise Rejected.of("reason_required")
    _text(inp.note, "input.note")


def check_reopening(s: CaseState, r: Reopening) -> None:
    """A reopening run's own check of the table, against the closed run's region and officer
    (`s`: the new run's state, its approval the closed run's)."""
    refused = authz.decide(Action.REOPEN, r.actor, s.approval.region, r.officer_id)
    if refused is not None:
        raise Rejected(refused)
    if r.previous_status not in {c.value for c in REOPENABLE_STATUSES}:
        raise Rejected.of("not_reopenable", status=f"status.{r.previous_status or 'active'}")
    _text(r.note, "input.note")


class Validator(Protocol):
    def __call__(self, s: CaseState, inp: Any, *, strict: bool, opened: bool) -> None: ...


# Each update's validator, by update name (authz.UPDATE_OF names the update of each action).
VALIDATORS: Mapping[str, Validator] = MappingProxyType(
    {
        "record_greeting": check_greeting,
        "file_plan": check_plan,
        "add_progress": check_progress,
        "approve_stage": check_stage_approval,
        "waive_stage": check_waiver,
        "reassign": check_reassignment,
        "transfer": check_transfer,
        "pause": check_pause,
        "resume": check_resume,
        "withdraw": check_withdrawal,
        "book_meeting": check_meeting,
        "update_item": check_item,
        # The newcomer's own update: no row of the staff table (authz.NEWCOMER_UPDATES).
        "newcomer_reply": check_newcomer_reply,
        "decline": check_decline,
    }
)


def validate(
    update: str, s: CaseState, inp: Any, *, strict: bool = True, opened: bool = True
) -> None:
    """Run `update`'s validator: raises `Rejected`, or returns when the action is accepted."""
    VALIDATORS[update](s, inp, strict=strict, opened=opened)
