"""Plan items through every status, on the time-skipping server (issue 16): the recorded v6
scenario (tests/workflows/record_histories.py `plan_items`), checked for what it leaves in the
audit trail and the outbox, across continue-as-new."""

from __future__ import annotations

from parcours.kernel.domain import CaseStatus, ItemStatus
from tests.workflows.conftest import ACROSS_CONTINUE_AS_NEW, Pathway
from tests.workflows.record_histories import FQ, plan_items


@ACROSS_CONTINUE_AS_NEW
async def test_plan_items_through_every_status_and_approval_with_open_items(
    pathway: Pathway,
) -> None:
    h = await plan_items(pathway)
    result = await h.result()
    assert result.status == CaseStatus.WITHDRAWN
    assert result.runs > 1, "the scenario should cross a continue-as-new"
    by_id = {i.id: i for i in result.plan}
    assert sorted(by_id) == ["i1", "i2", "i3"]
    # The refiled plan kept i1 and i2 as they were; the new item got a new id.
    assert by_id["i1"].status == ItemStatus.DONE and by_id["i1"].partner_id == FQ.partner_id
    assert by_id["i1"].referred_on and by_id["i1"].started_on and by_id["i1"].done_on
    assert by_id["i2"].status == ItemStatus.ABANDONED
    assert by_id["i2"].abandoned_reason == "Horaire incompatible"
    assert by_id["i3"].status == ItemStatus.DONE and by_id["i3"].text == "Cours du soir"

    events = sorted(pathway.back_office.events, key=lambda e: e.key)
    moves = [e.detail for e in events if e.kind == "plan_item_updated"]
    assert moves == [
        "i1 planned -> referred partner fq-montreal",
        "i1 referred -> in_progress partner fq-montreal",
        "i1 in_progress -> done partner fq-montreal",
        "i2 planned -> in_progress",
        "i2 in_progress -> abandoned",
        "i3 planned -> referred partner fq-montreal",
        "i3 referred -> in_progress partner fq-montreal",
        "i3 in_progress -> done partner fq-montreal",
    ]
    approvals = [(e.detail, e.text) for e in events if e.kind == "stage_approved"]
    # The refused approval left nothing; the one with a note keeps it and the open count.
    assert approvals == [("1 open items", "Inscription en cours"), (None, None)]
    # An item update is officer activity: the reminder of the arrival stall was followed by
    # a check-in (the escalation came before the update, and nothing escalated after it).
    kinds = [e.kind for e in events]
    first_escalation = kinds.index("escalated")
    assert kinds[first_escalation + 1] == "plan_item_updated"
    # The newcomer was told of each referral, with the partner's contact details.
    referrals = [m for m in pathway.back_office.mails if m.template == "referral"]
    assert len(referrals) == 2
    assert referrals[0].context["partner_name"] == FQ.name
    assert referrals[0].context["partner_email"] == FQ.email
    assert referrals[0].recipient_email == "amina@example.org"
    keys = [e.key for e in events] + [m.key for m in pathway.back_office.mails]
    assert len(keys) == len(set(keys))
