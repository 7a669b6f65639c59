"""Plan items that track referrals (issue 16), as pure rules: no server.

- an item moves only along planned -> referred -> in_progress -> done, or to abandoned from any
  step before done, and done and abandoned are final; every accepted move dates itself and is
  officer activity (the stall clock restarts);
- a refiled plan keeps the status of the items whose ids it keeps, and an id never names two
  items;
- approving a stage needs a note exactly when one of its items is still open.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parcours.kernel import rules
from parcours.kernel.domain import (
    Actor,
    CaseState,
    ItemStatus,
    ItemUpdate,
    NewcomerApproval,
    PlanItem,
    PolicySnapshot,
    Role,
    Stage,
    StageApproval,
    StagePolicy,
)

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DAY = 86400
DIRECTOR = Actor("dir-1", Role.DIRECTOR)
OPENED = datetime.fromisoformat("2030-01-20T15:00:00+00:00")
# Every move the rules allow, and nothing else.
CHAIN = {
    ItemStatus.PLANNED: {ItemStatus.REFERRED, ItemStatus.IN_PROGRESS, ItemStatus.ABANDONED},
    ItemStatus.REFERRED: {ItemStatus.IN_PROGRESS, ItemStatus.ABANDONED},
    ItemStatus.IN_PROGRESS: {ItemStatus.DONE, ItemStatus.ABANDONED},
    ItemStatus.DONE: set(),
    ItemStatus.ABANDONED: set(),
}


def new_case(stages: list[Stage]) -> CaseState:
    policy = StagePolicy(90 * DAY, 10 * DAY, 20 * DAY, 30 * DAY)
    s = CaseState(
        approval=NewcomerApproval("D-1", "Amina Diallo", "a@example.org", "2030-01-15", "laval"),
        policy=PolicySnapshot(policy, policy, policy, policy),
        local_days=True,
    )
    rules.open_case(s, OPENED)
    s.officer_id = "off-a"
    s.plan = rules.refile(s, [PlanItem(stage, f"action {n}") for n, stage in enumerate(stages)])
    return s


def update(item_id: str, status: ItemStatus) -> ItemUpdate:
    partner = "fq-laval" if status == ItemStatus.REFERRED else None
    return ItemUpdate(DIRECTOR, item_id, status, partner_id=partner, reason="déménagé")


@FAST
@given(st.lists(st.tuples(st.sampled_from(ItemStatus), st.integers(0, 40 * DAY)), max_size=8))
def test_an_item_moves_only_along_its_chain_and_each_move_is_dated_activity(
    moves: list[tuple[ItemStatus, int]],
) -> None:
    s = new_case([Stage.ARRIVAL])
    now = OPENED
    for status, gap in moves:
        now += timedelta(seconds=gap)
        before = s.plan[0].status
        list(rules.ring(s, now))  # time passes: the case may have escalated
        try:
            rules.validate("update_item", s, update("i1", status))
        except rules.Rejected as err:
            assert status not in CHAIN[before], err.message
            assert s.plan[0].status == before
            continue
        assert status in CHAIN[before]
        item = rules.move_item(s, update("i1", status), now)
        assert item.status == status
        day = rules.local_day(s, now)
        assert {
            ItemStatus.REFERRED: item.referred_on,
            ItemStatus.IN_PROGRESS: item.started_on,
            ItemStatus.DONE: item.done_on,
            ItemStatus.ABANDONED: item.abandoned_on,
        }[status] == day
        # Officer activity: back to level 0, the stall clock restarted.
        assert s.escalation_level == 0 and s.last_activity_at == now


@pytest.mark.parametrize(
    ("status", "partner", "reason", "code"),
    [
        (ItemStatus.REFERRED, None, "", "partner_required"),
        (ItemStatus.REFERRED, "Pas Un Id", "", "unknown_partner"),
        (ItemStatus.ABANDONED, None, " ", "reason_required"),
    ],
)
def test_a_referral_names_its_partner_and_an_abandon_its_reason(
    status: ItemStatus, partner: str | None, reason: str, code: str
) -> None:
    s = new_case([Stage.ARRIVAL])
    with pytest.raises(rules.Rejected) as info:
        rules.validate("update_item", s, ItemUpdate(DIRECTOR, "i1", status, partner, None, reason))
    assert info.value.message.code == code
    with pytest.raises(rules.Rejected) as info:
        rules.validate("update_item", s, ItemUpdate(DIRECTOR, "i9", ItemStatus.DONE))
    assert info.value.message.code == "unknown_item"


@FAST
@given(
    st.lists(st.sampled_from(list(Stage)[1:]), min_size=1, max_size=5),
    st.lists(st.tuples(st.booleans(), st.booleans()), max_size=6),
)
def test_a_refiled_plan_keeps_the_status_of_the_ids_it_keeps_and_never_reuses_an_id(
    stages: list[Stage], refilings: list[tuple[bool, bool]]
) -> None:
    s = new_case(stages)
    seen = {i.id for i in s.plan}
    for keep_first, add in refilings:
        if s.plan and s.plan[0].status == ItemStatus.PLANNED:
            rules.move_item(s, update(s.plan[0].id, ItemStatus.REFERRED), OPENED)
        statuses = {i.id: i.status for i in s.plan}
        kept = s.plan[:1] if keep_first else s.plan[1:]
        new = [PlanItem(Stage.COMMUNITY, "nouveau")] if add else []
        s.plan = rules.refile(s, [*kept, *new])
        assert all(i.status == statuses[i.id] for i in s.plan[: len(kept)])
        assert all(i.status == ItemStatus.PLANNED for i in s.plan[len(kept) :])
        fresh = {i.id for i in s.plan[len(kept) :]}
        assert not fresh & seen
        seen |= fresh
        assert len({i.id for i in s.plan}) == len(s.plan)


def test_items_filed_before_ids_get_them_by_position() -> None:
    s = new_case([])
    s.plan = [PlanItem(Stage.ARRIVAL, "a"), PlanItem(Stage.FRANCIZATION, "b")]
    rules.number_items(s)
    assert [i.id for i in s.plan] == ["i1", "i2"] and s.item_seq == 2
    assert rules.refile(s, [PlanItem(Stage.COMMUNITY, "c")])[0].id == "i3"


@FAST
@given(st.lists(st.sampled_from(ItemStatus), min_size=0, max_size=5), st.booleans())
def test_approving_a_stage_needs_a_note_exactly_when_an_item_is_open(
    statuses: list[ItemStatus], with_note: bool
) -> None:
    s = new_case([Stage.ARRIVAL] * len(statuses) + [Stage.EMPLOYMENT])
    for item, status in zip(s.plan, statuses, strict=False):
        item.status = status
    if not statuses:
        s.plan[0].stage = Stage.ARRIVAL  # a plan is on file
        s.plan[0].status = ItemStatus.DONE
    still_open = [st for st in statuses if st not in (ItemStatus.DONE, ItemStatus.ABANDONED)]
    note = "suivi par le CSS" if with_note else " "
    try:
        rules.validate("approve_stage", s, StageApproval(DIRECTOR, Stage.ARRIVAL, note=note))
    except rules.Rejected as err:
        assert still_open and not with_note
        assert err.message.code == "open_items_need_note"
        assert dict(err.message.params)["open"] == str(len(still_open))
    else:
        assert with_note or not still_open
