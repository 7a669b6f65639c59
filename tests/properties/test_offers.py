"""The forms a case page offers (parcours/kernel/offers.py), under random cases and people.

Properties: an offered action is one the authorization table allows this person and the
case's state permits (never more than the workflow); a paused case offers no greeting, plan,
approval, waiver or pause; the waiver list holds no stage already waived or behind the case;
and an action the table allows on an active case that the rules permit is offered (the page
hides nothing it should show).
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from parcours.kernel import authz
from parcours.kernel.authz import Action
from parcours.kernel.domain import (
    OPEN_STATUSES,
    REGIONS,
    STAGES,
    Actor,
    CaseState,
    CaseStatus,
    NewcomerApproval,
    PauseRequest,
    PlanItem,
    Role,
    Stage,
)
from parcours.kernel.offers import Offers, offers
from parcours.kernel.policy import load_policy
from parcours.kernel.rules import open_case, pause
from tests.properties.test_rules import FAST, OFFICERS, Case, cases


@st.composite
def people(draw: st.DrawFn, region: str) -> Actor:
    role = draw(st.sampled_from(list(Role)))
    officer_id = draw(st.sampled_from((*OFFICERS, "someone-else")))
    return Actor(
        officer_id=officer_id,
        role=role,
        region=draw(st.sampled_from((region, elsewhere(region)))),
        active=draw(st.booleans()) or draw(st.booleans()),
    )


def offered_actions(o: Offers) -> set[Action]:
    found = {
        Action.GREET: o.greet,
        Action.PLAN: o.plan,
        Action.PROGRESS: o.progress,
        Action.APPROVE: o.approve is not None,
        Action.WAIVE: bool(o.waive),
        Action.REASSIGN: bool(o.reassign_to),
        Action.TRANSFER: bool(o.transfer_to),
        Action.PAUSE: o.pause,
        Action.RESUME: o.resume,
        Action.WITHDRAW: o.withdraw,
        Action.ITEM: bool(o.items),
    }
    return {a for a, yes in found.items() if yes}


def elsewhere(region: str) -> str:
    return next(r for r in REGIONS if r != region)


def roster(region: str) -> list[Actor]:
    return [Actor(officer_id=o, role=Role.OFFICER, region=region) for o in OFFICERS] + [
        Actor(officer_id="far", role=Role.OFFICER, region=elsewhere(region)),
        Actor(officer_id="gone", role=Role.OFFICER, region=region, active=False),
    ]


@FAST
@given(st.data(), cases())
def test_an_offer_is_never_more_than_the_table_and_the_state_allow(
    data: st.DataObject, case: Case
) -> None:
    s = case.state
    region = s.approval.region
    actor = data.draw(people(region))
    o = offers(s, actor, roster(region))
    for action in offered_actions(o):
        assert authz.decide(action, actor, region, s.officer_id) is None, action
    if s.status not in OPEN_STATUSES:
        assert o == Offers()
        return
    if s.status == CaseStatus.PAUSED:
        assert not (o.greet or o.plan or o.approve or o.waive or o.pause)
    else:
        assert not o.resume
    assert o.approve in (None, s.stage)
    if s.stage == Stage.ARRIVAL and not s.plan:
        assert o.approve is None  # approving arrival needs a plan on file
    if o.greet:
        assert s.stage == Stage.ARRIVAL
    assert s.stage is not None
    for stage in o.waive:
        assert stage != Stage.ARRIVAL
        assert not s.record(stage).waived
        assert STAGES.index(stage) >= STAGES.index(s.stage)
    # Reassignment only to an active officer of the region who does not hold the case yet.
    assert set(o.reassign_to) <= set(OFFICERS) - {s.officer_id or ""}
    assert region not in o.transfer_to
    assert set(o.plan_stages) == (set(STAGES[STAGES.index(s.stage) :]) if o.plan else set())


@FAST
@given(st.data(), cases())
def test_what_the_table_allows_on_an_active_case_is_offered(
    data: st.DataObject, case: Case
) -> None:
    s = case.state
    if s.status != CaseStatus.ACTIVE or s.officer_id is None:
        return
    region = s.approval.region
    actor = data.draw(people(region))
    o = offers(s, actor, roster(region))
    allowed = {a for a in Action if authz.decide(a, actor, region, s.officer_id) is None}
    expected = allowed & {Action.PLAN, Action.PROGRESS, Action.PAUSE, Action.WITHDRAW}
    if s.stage == Stage.ARRIVAL:
        expected |= allowed & {Action.GREET}
    if s.stage != Stage.ARRIVAL or s.plan:
        expected |= allowed & {Action.APPROVE}
    if Action.REASSIGN in allowed and set(OFFICERS) - {s.officer_id}:
        expected.add(Action.REASSIGN)
    if Action.TRANSFER in allowed:
        expected.add(Action.TRANSFER)
    if any(not i.finished for i in s.plan):
        expected |= allowed & {Action.ITEM}
    assert expected <= offered_actions(o)


def _open_case() -> Case:
    """A case opened in Montréal on its arrival day, with the packaged policy."""
    approval = NewcomerApproval(
        dossier="D-1",
        full_name="Amina Diallo",
        email="amina@example.org",
        arrival_date="2027-01-11",
        region="montreal",
    )
    s = CaseState(approval=approval, policy=load_policy())
    now = datetime(2027, 1, 11, 15, tzinfo=UTC)
    open_case(s, now)
    return Case(s, now + timedelta(hours=1))


def test_a_paused_case_offers_its_officer_only_a_note_and_withdrawal() -> None:
    case = _open_case()
    s = copy.deepcopy(case.state)
    s.status, s.stage, s.officer_id = CaseStatus.ACTIVE, Stage.ARRIVAL, OFFICERS[0]
    s.plan = [PlanItem(stage=Stage.ARRIVAL, text="rencontre")]
    region = s.approval.region
    officer = Actor(officer_id=OFFICERS[0], role=Role.OFFICER, region=region)
    supervisor = Actor(officer_id="sup", role=Role.SUPERVISOR, region=region)

    before = offered_actions(offers(s, officer))
    assert {Action.GREET, Action.PLAN, Action.APPROVE, Action.PROGRESS} <= before
    pause(s, PauseRequest(actor=supervisor, reason="congé"), case.now)

    assert offered_actions(offers(s, officer)) == {Action.PROGRESS, Action.WITHDRAW}
    assert offered_actions(offers(s, supervisor, roster(region))) == {
        Action.PROGRESS,
        Action.WITHDRAW,
        Action.RESUME,
        Action.REASSIGN,
    }


def test_the_waiver_list_leaves_out_waived_stages_and_those_behind() -> None:
    case = _open_case()
    s = copy.deepcopy(case.state)
    s.status, s.stage, s.officer_id = CaseStatus.ACTIVE, Stage.FRANCIZATION, OFFICERS[0]
    s.record(Stage.EMPLOYMENT).waived = True
    director = Actor(officer_id="dir", role=Role.DIRECTOR, region=REGIONS[0])
    o = offers(s, director)
    assert o.waive == (Stage.FRANCIZATION, Stage.COMMUNITY)
    assert o.approve == Stage.FRANCIZATION
    assert not o.greet  # the greeting belongs to arrival
