"""The pathway's rules (parcours/kernel/rules.py) under random cases, without a Temporal server.

Cases are built the way the workflow builds them: opened, then a random walk of check-ins,
rings of the alarm, plans, stage changes, pauses and resumptions, at increasing times. The
properties:
- the clocks are monotone in time, and ringing them in steps lands where one ring does;
- the alarm (`next_clock`) is always ahead, and nothing falls due before it;
- a check-in always drops the case to level 0, for a full stall period;
- a pause shifts every deadline by the time paused (with local days, a deadline at the end of
  a day to the end of a day, by the pause rounded up to whole days), and no clock moves
  meanwhile;
- with local days, a deadline in whole days falls at a local midnight of the case's zone;
- validators never accept an action the authorization table (kernel/authz.py) forbids, and,
  the action otherwise valid, accept what it allows.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from parcours.kernel import authz, rules, timezones
from parcours.kernel.authz import Action
from parcours.kernel.calendar import is_local_midnight, start_of_day
from parcours.kernel.domain import (
    OPEN_STATUSES,
    REGIONS,
    STAGES,
    Actor,
    CaseState,
    CaseStatus,
    Decline,
    GreetingReport,
    ItemStatus,
    ItemUpdate,
    MeetingBooking,
    NewcomerApproval,
    NewcomerReply,
    PauseRequest,
    PlanFiling,
    PlanItem,
    PolicySnapshot,
    ProgressNote,
    Reassignment,
    ReplyChoice,
    ResumeRequest,
    Role,
    SeenSignature,
    Signature,
    Stage,
    StageApproval,
    StagePolicy,
    StageWaiver,
    Transfer,
    Withdrawal,
    WithdrawalReason,
)
from tests.properties.strategies import good_approvals

DAY = 86400
FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --------------------------------------------------------------------------------------------
# Strategies
# --------------------------------------------------------------------------------------------


@st.composite
def stage_policies(draw: st.DrawFn) -> StagePolicy:
    remind = draw(st.integers(1, 60)) * DAY
    escalate = remind + draw(st.integers(1, 60)) * DAY
    again = escalate + draw(st.integers(1, 90)) * DAY
    # Whole days mostly; sometimes seconds, so thresholds fall at any time of day.
    jitter = draw(st.sampled_from([0, 0, 1, 3599]))
    return StagePolicy(
        deadline=draw(st.integers(1, 500)) * DAY + jitter,
        remind_after=remind + jitter,
        escalate_after=escalate,
        escalate_again_after=again,
    )


@st.composite
def policies(draw: st.DrawFn) -> PolicySnapshot:
    return PolicySnapshot(
        arrival=draw(stage_policies()),
        francization=draw(stage_policies()),
        employment=draw(stage_policies()),
        community=draw(stage_policies()),
        name="random",
        plan_due_working_days=draw(st.integers(1, 20)),
    )


OFFICERS = ("off-a", "off-b")
ops = st.sampled_from(["ring", "ring", "touch", "plan", "advance", "pause", "resume", "close"])
# Seconds between two steps of a walk: often within a day, sometimes months.
gaps = st.one_of(st.integers(0, DAY), st.integers(0, 200 * DAY))


@dataclass
class Case:
    state: CaseState
    now: datetime  # the time of the walk's last step; later steps come after it


def _walk(s: CaseState, now: datetime, op: str, closing: bool) -> None:
    """One step of a case's life, through the rules, as the workflow would take it."""
    if s.status not in OPEN_STATUSES:
        return
    active = s.status == CaseStatus.ACTIVE
    if op == "ring":
        list(rules.ring(s, now))
    elif op == "touch" and active:
        rules.touch(s, now)
    elif op == "plan" and active and s.stage is not None:
        s.plan = [PlanItem(stage=s.stage, text="rencontre")]
        rules.touch(s, now)
        s.overdue = s.deadline_passed
    elif op == "advance" and active and s.stage is not None and s.plan:
        s.record(s.stage).completed_at = now
        rules.touch(s, now)
        following = rules.following_stage(s)
        if following is None:
            if closing:
                rules.close(s, CaseStatus.COMPLETED, now, reason="completed")
        else:
            rules.enter_stage(s, following, now)
    elif op == "pause" and active:
        rules.pause(s, PauseRequest(actor=Actor("sup"), reason="congé"), now)
    elif op == "resume" and not active:
        rules.resume(s, now)
    elif op == "close" and closing:
        rules.close(s, CaseStatus.WITHDRAWN, now, reason="parti")


@st.composite
def cases(draw: st.DrawFn, closing: bool = True) -> Case:
    """A case opened up to 60 days before its newcomer's arrival or 30 after, and walked."""
    a = draw(good_approvals())
    approval = NewcomerApproval(
        dossier=a.dossier,
        full_name=str(a.fields["name"]),
        email=str(a.fields["email"]),
        arrival_date=str(a.fields["arrival"]),
        region=str(a.fields["region"]),
        time_zone=draw(st.sampled_from((None, *timezones.ZONES))),
    )
    # Cases of either calendar: before local days (histories before v5) and after.
    s = CaseState(approval=approval, policy=draw(policies()), local_days=draw(st.booleans()))
    arrival = rules.day_starts(s, date.fromisoformat(approval.arrival_date))
    now = arrival + timedelta(seconds=draw(st.integers(-60 * DAY, 30 * DAY)))
    rules.open_case(s, now)
    s.officer_id = draw(st.sampled_from((None, *OFFICERS)))
    s.officer_region = approval.region if s.officer_id else None
    for op, gap in draw(st.lists(st.tuples(ops, gaps), max_size=12)):
        now += timedelta(seconds=gap)
        _walk(s, now, op, closing)
    return Case(s, now)


def clock_fields(s: CaseState) -> tuple[object, ...]:
    return (s.escalation_level, s.overdue, s.deadline_passed, s.clock_anchor, rules.deadlines(s))


def later(case: Case, seconds: int) -> datetime:
    return case.now + timedelta(seconds=seconds)


# --------------------------------------------------------------------------------------------
# Clocks
# --------------------------------------------------------------------------------------------


@FAST
@given(cases(), gaps, gaps)
def test_clocks_are_monotone_and_ringing_in_steps_lands_where_one_ring_does(
    case: Case, first: int, second: int
) -> None:
    t1, t2 = later(case, first), later(case, first + second)
    stepped, direct = copy.deepcopy(case.state), copy.deepcopy(case.state)

    steps = list(rules.ring(stepped, t1))
    level_at_t1, overdue_at_t1 = stepped.escalation_level, stepped.overdue
    steps += list(rules.ring(stepped, t2))
    # Monotone: nothing the clocks reached by t1 is undone by t2.
    assert stepped.escalation_level >= level_at_t1
    assert stepped.overdue or not overdue_at_t1
    # Path-independent: the alarm may ring at any moment in between.
    direct_steps = list(rules.ring(direct, t2))
    assert clock_fields(stepped) == clock_fields(direct)
    assert sorted(steps, key=str) == sorted(direct_steps, key=str)
    # Each level is reached once, in order, and the stage falls overdue at most once.
    levels = [st.level for st in steps if st.kind == rules.ESCALATED]
    assert levels == list(range(case.state.escalation_level + 1, stepped.escalation_level + 1))
    assert sum(st.kind == rules.OVERDUE for st in steps) <= 1


@FAST
@given(cases(), gaps)
def test_ringing_at_the_alarm_always_sets_a_later_one(case: Case, gap: int) -> None:
    """As the workflow runs: it sleeps until the alarm, rings the clocks at that very moment,
    and sets the next alarm. Each alarm must lie ahead, or the loop would spin in place."""
    s = case.state
    list(rules.ring(s, later(case, gap)))
    at = rules.next_clock(s)
    for _ in range(8):
        if at is None:
            break
        list(rules.ring(s, at))
        following = rules.next_clock(s)
        assert following is None or following > at, (at, following)
        at = following


@FAST
@given(cases(), gaps, st.floats(0, 1))
def test_the_alarm_is_always_ahead_and_nothing_falls_due_before_it(
    case: Case, gap: int, fraction: float
) -> None:
    s = case.state
    at = later(case, gap)
    list(rules.ring(s, at))
    alarm = rules.next_clock(s)
    if alarm is None:
        # Only a stopped clock (paused, closed) or one with nothing left to do has no alarm.
        assert not rules.clocks_running(s) or (
            s.escalation_level == rules.TOP_LEVEL and s.deadline_passed and s.overdue
        )
        return
    assert alarm > at
    # Ringing anywhere before the alarm changes nothing: the workflow may sleep until it.
    before = at + (alarm - at) * fraction
    if before >= alarm:
        return
    fields = clock_fields(s)
    assert list(rules.ring(s, before)) == []
    assert clock_fields(s) == fields


@FAST
@given(cases(), gaps, st.floats(0, 1))
def test_a_check_in_always_drops_the_case_to_level_0_for_a_full_stall_period(
    case: Case, gap: int, fraction: float
) -> None:
    s = case.state
    assume(s.status in OPEN_STATUSES)
    assert s.stage is not None
    now = later(case, gap)
    list(rules.ring(s, now))  # escalated as far as it would be by now
    rules.touch(s, now)
    assert s.escalation_level == 0 and s.stalled_since is None
    assert s.clock_anchor is not None and s.clock_anchor >= now
    assert s.last_activity_at == now
    if s.stage == Stage.ARRIVAL:
        # The newcomer is not here yet: the arrival stage's clock starts on arrival day.
        assert s.clock_anchor >= rules.day_starts(s, date.fromisoformat(s.approval.arrival_date))
    # No reminder before a whole `remind_after` of silence from the check-in (or from the
    # arrival day, for a check-in made before the newcomer lands).
    remind_at = s.clock_anchor + timedelta(seconds=s.policy.for_stage(s.stage).remind_after)
    quiet = now + (remind_at - now) * fraction
    if s.status == CaseStatus.ACTIVE:
        next_clock = rules.next_clock(s)
        assert next_clock is not None and next_clock <= remind_at
    if quiet < remind_at:
        assert all(st.kind != rules.ESCALATED for st in rules.ring(s, quiet))
        assert s.escalation_level == 0


@FAST
@given(cases(), gaps, gaps, gaps)
def test_a_pause_shifts_every_deadline_by_the_time_paused(
    case: Case, until_pause: int, paused: int, probe: int
) -> None:
    s = case.state
    assume(s.status == CaseStatus.ACTIVE and s.stage is not None)
    paused_at = later(case, until_pause)
    list(rules.ring(s, paused_at))
    due = rules.deadlines(s)
    assert "stage" in due
    overdue, level = s.overdue, s.escalation_level

    rules.pause(s, PauseRequest(actor=Actor("sup"), reason="congé"), paused_at)
    # While paused, no clock moves and no alarm is set.
    assert rules.next_clock(s) is None
    assert list(rules.ring(s, paused_at + timedelta(seconds=probe))) == []
    assert (s.overdue, s.escalation_level) == (overdue, level)

    resumed_at = paused_at + timedelta(seconds=paused)
    assert rules.resume(s, resumed_at) == resumed_at - paused_at
    moved = rules.deadlines(s)
    tz = rules.case_zone(s)
    for k, v in due.items():
        if s.local_days and is_local_midnight(v, tz):
            # Due on a day: still at the end of a day, at least the pause later, and less
            # than a day (and an hour of clock change) more.
            assert is_local_midnight(moved[k], tz)
            assert v + (resumed_at - paused_at) <= moved[k] + timedelta(hours=1)
            assert moved[k] - v < (resumed_at - paused_at) + timedelta(days=1, hours=1)
        else:
            assert moved[k] == v + (resumed_at - paused_at)
    assert s.overdue == overdue  # the deadlines moved: overdue stays as it was
    assert s.status == CaseStatus.ACTIVE and s.escalation_level == 0  # resuming is a check-in


@FAST
@given(cases(), gaps, st.integers(-3, rules.MAX_WAIT_DAYS + 3), gaps)
def test_contact_me_later_waits_with_the_clocks_stopped_and_wakes_on_its_day(
    case: Case, until_reply: int, ahead: int, probe: int
) -> None:
    """The newcomer's "contact me later" (issue 16): accepted only for a day after today and
    within MAX_WAIT_DAYS; the case then waits, no clock moves, and the only alarm is the start
    of that day, when it resumes as from a pause (a check-in, deadlines moved)."""
    s = case.state
    assume(s.status == CaseStatus.ACTIVE and s.stage is not None)
    now = later(case, until_reply)
    list(rules.ring(s, now))
    today = now.astimezone(rules.case_zone(s)).date()
    day = today + timedelta(days=ahead)
    reply = NewcomerReply(choice=ReplyChoice.LATER, until=day.isoformat())
    try:
        rules.check_newcomer_reply(s, reply, opened=True, now=now)
    except rules.Rejected as err:
        assert ahead <= 0 or ahead > rules.MAX_WAIT_DAYS or rules.day_starts(s, day) <= now
        assert err.message.code in ("reply_day_past", "reply_day_too_far")
        return
    # Accepted: a day that starts after now (the case's days: local, or before v5 from 05:00
    # UTC, so "today" by the wall clock may still be ahead), within the limit.
    assert rules.day_starts(s, day) > now and ahead <= rules.MAX_WAIT_DAYS
    due, overdue, level = rules.deadlines(s), s.overdue, s.escalation_level

    rules.wait(s, day, now)
    wakes_at = rules.day_starts(s, day)
    assert s.status == CaseStatus.WAITING and rules.next_clock(s) == wakes_at > now
    # Staff work that needs the newcomer waits too; a note or a withdrawal does not.
    with pytest.raises(rules.Rejected):
        rules.check_open(s)
    rules.check_open(s, allow_paused=True)
    early = min(now + timedelta(seconds=probe), wakes_at - timedelta(seconds=1))
    assert list(rules.ring(s, early)) == [] and rules.wake(s, early) is None
    assert (s.overdue, s.escalation_level, rules.deadlines(s)) == (overdue, level, due)

    assert rules.wake(s, wakes_at) == wakes_at - now
    assert s.status == CaseStatus.ACTIVE and s.waiting_on is None and s.escalation_level == 0
    assert s.clock_anchor is not None and s.clock_anchor >= wakes_at
    for k, v in rules.deadlines(s).items():
        assert v >= due[k] + (wakes_at - now) - timedelta(hours=1)


# Only active cases on local days count: with pauses, waits and closings among the walks, most
# drawn cases are filtered out, which is expected here.
@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(cases(closing=False))
def test_with_local_days_a_deadline_in_days_falls_at_a_local_midnight(case: Case) -> None:
    s = case.state
    assume(s.local_days and s.stage is not None and s.status == CaseStatus.ACTIVE)
    tz = rules.case_zone(s)
    due = rules.deadlines(s)
    if "plan" in due:
        assert is_local_midnight(due["plan"], tz)
    assert s.stage is not None
    if s.policy.for_stage(s.stage).deadline % DAY == 0:
        assert is_local_midnight(due["stage"], tz)
    # What people read as the due day ends exactly when the case turns overdue.
    for at in due.values():
        day = date.fromisoformat(s.due_on(at) or "")
        assert rules.day_ends(s, day) == at or not is_local_midnight(at, tz)


# --------------------------------------------------------------------------------------------
# Who may act
# --------------------------------------------------------------------------------------------

ACTIONS = tuple(authz.UPDATE_OF)  # every action behind an update (not READ)


@st.composite
def actors(draw: st.DrawFn, s: CaseState) -> Actor:
    """Someone of any relation to the case: its officer, another, a supervisor or director of
    its region or another, active or not."""
    other_region = next(r for r in REGIONS if r != s.approval.region)
    return Actor(
        officer_id=draw(st.sampled_from((*OFFICERS, "sup-1", "dir-1"))),
        role=draw(st.sampled_from(Role)),
        region=draw(st.sampled_from((s.approval.region, other_region, None))),
        active=draw(st.booleans() | st.just(True)),
    )


def otherwise_valid(s: CaseState, action: Action, actor: Actor, now: datetime) -> object | None:
    """An input for `action` by `actor` that only the table could refuse: the state is moved
    (through the rules) to one where the action makes sense. None: no such input."""
    if s.status not in OPEN_STATUSES or s.stage is None:
        return None
    if action == Action.RESUME:
        if s.status == CaseStatus.ACTIVE:
            rules.pause(s, PauseRequest(actor=Actor("sup"), reason="congé"), now)
        return ResumeRequest(actor=actor)
    if s.status == CaseStatus.PAUSED and action in (
        Action.GREET,
        Action.PLAN,
        Action.APPROVE,
        Action.WAIVE,
        Action.PAUSE,
        Action.MEETING,
    ):
        rules.resume(s, now)
    other_region = next(r for r in REGIONS if r != s.approval.region)
    if action == Action.GREET:
        return GreetingReport(actor=actor) if s.stage == Stage.ARRIVAL else None
    if action == Action.PLAN:
        return PlanFiling(actor=actor, items=[PlanItem(stage=s.stage, text="cours")])
    if action == Action.PROGRESS:
        return ProgressNote(actor=actor, note="appel")
    if action == Action.APPROVE:
        s.plan = s.plan or [PlanItem(stage=s.stage, text="cours")]
        # An open item needs a note (v6).
        return StageApproval(actor=actor, stage=s.stage, note="cours en cours")
    if action == Action.ITEM:
        if s.status == CaseStatus.PAUSED:
            rules.resume(s, now)
        s.plan = rules.refile(s, [*s.plan, PlanItem(stage=s.stage, text="cours")])
        return ItemUpdate(actor=actor, item_id=s.plan[-1].id, status=ItemStatus.IN_PROGRESS)
    if action == Action.WAIVE:
        ahead = [st for st in STAGES[STAGES.index(s.stage) :] if st != Stage.ARRIVAL]
        ahead = [st for st in ahead if not s.record(st).waived]
        return StageWaiver(actor=actor, stage=ahead[0], reason="déjà fait") if ahead else None
    if action == Action.REASSIGN:
        return Reassignment(actor=actor, new_officer=Actor("off-new", region=s.approval.region))
    if action == Action.TRANSFER:
        return Transfer(
            actor=actor, new_region=other_region, new_officer=Actor("off-new", region=other_region)
        )
    if action == Action.PAUSE:
        return PauseRequest(actor=actor, reason="congé")
    if action == Action.MEETING:
        if s.stage != Stage.ARRIVAL:
            return None
        return MeetingBooking(actor=actor, at=now + timedelta(days=2), place="bureau")
    if action == Action.DECLINE:
        if s.plan_filed_at is not None:
            return None
        return Decline(actor=actor, reason_category=WithdrawalReason.DECLINED_SERVICES)
    assert action == Action.WITHDRAW
    return Withdrawal(reason="parti", actor=actor, reason_category=WithdrawalReason.LEFT_QUEBEC)


def accepts(update: str, s: CaseState, inp: object) -> bool:
    try:
        rules.validate(update, s, inp)
    except rules.Rejected:
        return False
    return True


@dataclass
class Attempt:
    """An action on an open case, valid but for who acts."""

    state: CaseState
    action: Action
    actor: Actor
    inp: Any
    now: datetime


@st.composite
def attempts(draw: st.DrawFn) -> Attempt:
    case = draw(cases(closing=False))
    action = draw(st.sampled_from(ACTIONS))
    actor = draw(actors(case.state))
    inp = otherwise_valid(case.state, action, actor, case.now)
    assume(inp is not None)
    return Attempt(case.state, action, actor, inp, case.now)


@FAST
@given(attempts())
def test_validators_accept_exactly_what_the_table_allows_when_all_else_is_valid(
    attempt: Attempt,
) -> None:
    s, action, actor, inp = attempt.state, attempt.action, attempt.actor, attempt.inp
    refused = authz.decide(action, actor, s.approval.region, s.officer_id)
    update = authz.UPDATE_OF[action]
    try:
        rules.validate(update, s, inp)
    except rules.Rejected as err:
        # Refused by the table, in its own sentence.
        assert refused is not None, (action, err.message)
        assert err.message == refused
    else:
        assert refused is None, (action, refused)


@FAST
@given(st.data(), cases(), st.sampled_from(ACTIONS), st.booleans())
def test_validators_never_accept_what_the_table_forbids(
    data: st.DataObject, case: Case, action: Action, opened: bool
) -> None:
    """Whatever the case's state and the input (valid or not), and even while the case is
    still being opened."""
    s = case.state
    actor = data.draw(actors(s))
    inp = otherwise_valid(copy.deepcopy(s), action, actor, case.now) or _any_input(action, actor)
    if isinstance(inp, Reassignment | Transfer):
        # Anyone as the new officer: active or not, of any region, the current one or not.
        inp.new_officer = data.draw(actors(s))
    if isinstance(inp, Transfer):
        inp.new_region = data.draw(st.sampled_from((s.approval.region, *REGIONS[:3], "mars")))
    if forbidden(s, action, inp) is None:
        return
    with pytest.raises(rules.Rejected):
        rules.validate(authz.UPDATE_OF[action], s, inp, opened=opened)


def forbidden(s: CaseState, action: Action, inp: Any) -> authz.Refusal | None:
    """What the table refuses: the actor, and for a reassignment or a transfer, where the
    case would go (kernel/authz.py check_new_officer, check_transfer)."""
    refused = authz.decide(action, inp.actor, s.approval.region, s.officer_id)
    if refused is None and isinstance(inp, Reassignment):
        refused = authz.check_new_officer(inp.new_officer, s.approval.region, s.officer_id)
    if refused is None and isinstance(inp, Transfer):
        refused = authz.check_transfer(inp.new_region, inp.new_officer, s.approval.region)
    return refused


def _any_input(action: Action, actor: Actor) -> object:
    return {
        Action.GREET: GreetingReport(actor=actor),
        Action.PLAN: PlanFiling(actor=actor, items=[PlanItem(Stage.COMMUNITY, "x")]),
        Action.PROGRESS: ProgressNote(actor=actor, note="x"),
        Action.ITEM: ItemUpdate(actor=actor, item_id="i1", status=ItemStatus.DONE),
        Action.APPROVE: StageApproval(actor=actor, stage=Stage.COMMUNITY),
        Action.WAIVE: StageWaiver(actor=actor, stage=Stage.COMMUNITY, reason="x"),
        Action.REASSIGN: Reassignment(actor=actor, new_officer=Actor("off-new")),
        Action.TRANSFER: Transfer(actor=actor, new_region="laval", new_officer=Actor("o")),
        Action.PAUSE: PauseRequest(actor=actor, reason="x"),
        Action.RESUME: ResumeRequest(actor=actor),
        Action.WITHDRAW: Withdrawal(reason="x", actor=actor),
        Action.MEETING: MeetingBooking(actor=actor, at=datetime(2030, 1, 7, 15, tzinfo=UTC)),
        Action.DECLINE: Decline(actor=actor, note="x"),
    }[action]


@FAST
@given(attempts())
def test_a_signed_action_already_taken_is_refused(attempt: Attempt) -> None:
    s, inp = attempt.state, attempt.inp
    sig = Signature(key_id="k", issued_at=attempt.now, mac="ab" * 16)
    inp.signature = sig
    s.signatures_seen.append(SeenSignature(mac=sig.mac, issued_at=sig.issued_at))
    with pytest.raises(rules.Rejected):
        rules.validate(authz.UPDATE_OF[attempt.action], s, inp)


def test_every_update_has_a_validator() -> None:
    # The staff's updates (one per row of the table), and the newcomer's own.
    assert set(rules.VALIDATORS) == set(authz.UPDATE_OF.values()) | authz.NEWCOMER_UPDATES


@pytest.mark.parametrize("update", sorted(authz.UPDATE_OF.values()))
def test_text_longer_than_max_text_is_refused_and_max_text_is_accepted(update: str) -> None:
    """One limit for every free text a running case takes (rules.MAX_TEXT)."""
    stage = StagePolicy(9 * DAY, DAY, 2 * DAY, 3 * DAY)
    s = CaseState(
        approval=NewcomerApproval("D-1", "Amina Diallo", "a@example.org", "2030-01-15", "laval"),
        policy=PolicySnapshot(stage, stage, stage, stage),
    )
    opened_at = start_of_day(date(2030, 1, 15))
    rules.open_case(s, opened_at)
    s.officer_id = "off-a"
    director = Actor("dir-1", Role.DIRECTOR)
    action = authz.ACTION_OF_UPDATE[update]
    if action == Action.RESUME:
        return  # takes no text
    for size, ok in ((rules.MAX_TEXT, True), (rules.MAX_TEXT + 1, False)):
        state = copy.deepcopy(s)
        inp = otherwise_valid(state, action, director, opened_at)
        assert inp is not None
        for name in ("note", "reason", "place"):
            if hasattr(inp, name):
                setattr(inp, name, "é" * size)
        if isinstance(inp, PlanFiling):
            inp.items[0].text = "é" * size
        if isinstance(inp, GreetingReport | Reassignment):
            continue  # no free text
        assert accepts(update, state, inp) == ok, (update, size)
