"""Declining and reopening (issue 16) as pure rules: who may, when, and where a reopened case
starts again. No server: the workflow calls these same functions."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parcours.kernel import authz, rules
from parcours.kernel.authz import Action
from parcours.kernel.calendar import add_working_days, start_of_day
from parcours.kernel.domain import (
    OPEN_STATUSES,
    Actor,
    CaseState,
    CaseStatus,
    Decline,
    GreetingOutcome,
    NewcomerApproval,
    PolicySnapshot,
    Reopening,
    Role,
    StagePolicy,
    WithdrawalReason,
)
from tests.properties.test_rules import DAY, FAST, Case, actors, cases

DIRECTOR = Actor("dir-1", Role.DIRECTOR)


@FAST
@given(cases(closing=False), st.booleans())
def test_a_decline_is_accepted_only_before_the_plan_is_filed(case: Case, filed: bool) -> None:
    s = case.state
    if filed:
        s.plan_filed_at = case.now
    inp = Decline(actor=DIRECTOR, reason_category=WithdrawalReason.DECLINED_SERVICES)
    try:
        rules.validate("decline", s, inp)
    except rules.Rejected as err:
        assert filed or s.status not in OPEN_STATUSES, err.message
        if s.status in OPEN_STATUSES:
            assert err.message.code == "decline_after_plan"
    else:
        assert not filed and s.status in OPEN_STATUSES


def test_the_newcomer_declines_without_an_actor_staff_never() -> None:
    stage = StagePolicy(9 * DAY, DAY, 2 * DAY, 3 * DAY)
    s = CaseState(
        approval=NewcomerApproval("D-1", "Amina Diallo", "a@example.org", "2030-01-15", "laval"),
        policy=PolicySnapshot(stage, stage, stage, stage),
    )
    rules.open_case(s, start_of_day(date(2030, 1, 15)))
    rules.validate("decline", s, Decline(by_newcomer=True, reason_category=WithdrawalReason.OTHER))
    for refused, code in (
        (Decline(), "decline_unnamed"),
        (Decline(actor=DIRECTOR, by_newcomer=True), "decline_by_newcomer_named"),
        (Decline(actor=DIRECTOR, reason_category=WithdrawalReason.OTHER), "reason_required"),
    ):
        with pytest.raises(rules.Rejected) as info:
            rules.validate("decline", s, refused)
        assert info.value.message.code == code


@FAST
@given(
    cases(closing=False),
    st.integers(0, 400 * DAY),
    st.sampled_from((None, *GreetingOutcome)),
    st.integers(0, 500),
)
def test_a_reopened_case_starts_again_at_arrival_due_five_working_days_on(
    case: Case, gap: int, greeting: GreetingOutcome | None, step: int
) -> None:
    s = case.state
    if s.status not in OPEN_STATUSES:
        return
    rules.close(s, CaseStatus.DECLINED, case.now, reason="")
    # The new run's state: the closed run's approval and policy, nothing else.
    new = type(s)(approval=s.approval, policy=s.policy, local_days=s.local_days)
    at = case.now + timedelta(seconds=gap)
    reopening = Reopening(
        actor=DIRECTOR, period=s.period + 1, step=s.step + step, officer_id=s.officer_id,
        greeting=greeting, previous_status="declined",
    )  # fmt: skip
    rules.check_reopening(new, reopening)
    rules.reopen_case(new, reopening, at)
    assert (new.status, new.stage, new.period) == (CaseStatus.ACTIVE, "arrival", s.period + 1)
    assert new.step == s.step + step and new.greeting == greeting
    assert new.approval.arrival_date == s.approval.arrival_date
    start = max(rules.local_today(new, at), date.fromisoformat(s.approval.arrival_date))
    due = add_working_days(start, s.policy.plan_due_working_days)
    assert new.plan_due_at == rules.day_ends(new, due)
    assert not new.overdue and new.escalation_level == 0
    nxt = rules.next_clock(new)
    assert nxt is not None and nxt > at


@FAST
@given(cases(), st.data(), st.sampled_from(("declined", "withdrawn", "completed", "active")))
def test_a_reopening_follows_the_table_and_only_for_a_declined_or_withdrawn_case(
    case: Case, data: st.DataObject, previous: str
) -> None:
    s = case.state
    actor = data.draw(actors(s))
    reopening = Reopening(actor=actor, officer_id=s.officer_id, previous_status=previous)
    table = authz.decide(Action.REOPEN, actor, s.approval.region, s.officer_id)
    try:
        rules.check_reopening(s, reopening)
    except rules.Rejected as err:
        assert table is not None or previous not in ("declined", "withdrawn")
        if table is not None:
            assert err.message == table
    else:
        assert table is None and previous in ("declined", "withdrawn")


@FAST
@given(st.integers(1, 400), st.integers(0, DAY - 1), st.booleans())
def test_a_late_enrolment_is_due_five_working_days_from_the_opening(
    late: int, second: int, local_days: bool
) -> None:
    """Enrolled `late` days after arriving: the plan is due on the 5th working day from the
    opening's local day, so the case is not overdue (nor its alarm in the past) at opening."""
    stage = StagePolicy(9 * DAY, DAY, 2 * DAY, 3 * DAY)
    arrival = date(2030, 1, 15)
    s = CaseState(
        approval=NewcomerApproval("D-1", "Amina Diallo", "a@example.org", "2030-01-15", "laval"),
        policy=PolicySnapshot(stage, stage, stage, stage),
        local_days=local_days,
    )
    now = start_of_day(arrival + timedelta(days=late)) + timedelta(seconds=second)
    rules.open_case(s, now)
    assert rules.arrived_before_opening(s, now)
    rules.plan_due_from_enrolment(s, now)
    due = add_working_days(rules.local_today(s, now), s.policy.plan_due_working_days)
    assert s.plan_due_at == rules.day_ends(s, due) and s.plan_due_at > now
    assert not s.overdue
    nxt = rules.next_clock(s)
    assert nxt is not None and nxt > now
