"""Declining, reopening months later, and late enrolment (issue 16), on the time-skipping
server with the fake back office. Every case run here is replayed on exit (conftest)."""

from __future__ import annotations

from datetime import date

import pytest
from temporalio.client import WorkflowFailureError, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDReusePolicy

from parcours.kernel import rules
from parcours.kernel.calendar import add_working_days
from parcours.kernel.domain import (
    Actor,
    CaseInput,
    CaseQuery,
    CaseStatus,
    CaseView,
    Decline,
    GreetingOutcome,
    PlanFiling,
    PlanItem,
    ProgressNote,
    Reopening,
    Stage,
    WithdrawalReason,
)
from tests.workflows.conftest import (
    ACROSS_CONTINUE_AS_NEW,
    OFFICER,
    OTHER_OFFICER,
    SUPERVISOR,
    TEST_POLICY,
    Pathway,
    days,
    settled,
)
from workflows.pathway import NewcomerPathway


@ACROSS_CONTINUE_AS_NEW
async def test_decline_then_reopen_months_later(pathway: Pathway) -> None:
    office = pathway.back_office
    h = await pathway.start()
    # No one named: refused; the newcomer's own act names no staff.
    with pytest.raises(WorkflowUpdateFailedError):
        await h.execute_update(NewcomerPathway.decline, Decline())
    await h.execute_update(
        NewcomerPathway.decline,
        Decline(OFFICER, WithdrawalReason.DECLINED_SERVICES, "Pas besoin pour l'instant"),
    )
    closed = await h.result()
    assert closed.status == CaseStatus.DECLINED and closed.stage is None
    state = (await h.query(NewcomerPathway.case_file, CaseQuery())).state
    assert state.close_category == "declined_services"
    declined = next(e for e in office.events if e.kind == "case_declined")
    assert (declined.actor, declined.detail) == (OFFICER.officer_id, "declined_services")
    assert office.templates()[-1] == "case_declined"

    await pathway.env.sleep(days(120))

    def reopening(actor: Actor) -> CaseInput:
        return CaseInput(
            approval=state.approval,
            policy=state.policy,
            continue_as_new_after_events=60,
            reopening=Reopening(
                actor=actor,
                note="Elle nous rappelle",
                previous_run_id=h.result_run_id or "",
                period=state.period + 1,
                step=state.step,
                officer_id=state.officer_id,
                greeting=state.greeting,
                previous_status=state.status.value,
            ),
        )

    async def reopen(actor: Actor) -> WorkflowHandle[NewcomerPathway, CaseView]:
        handle = await pathway.client.start_workflow(
            NewcomerPathway.run,
            reopening(actor),
            id=h.id,
            task_queue=pathway.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        )
        pathway.started.append(handle)
        return handle

    # Someone the table does not allow: the run fails before any effect.
    before = len(office.events), len(office.mails)
    refused = await reopen(OTHER_OFFICER)
    with pytest.raises(WorkflowFailureError) as info:
        await refused.result()
    assert "reopening refused: not_assigned" in str(info.value.cause)
    assert (len(office.events), len(office.mails)) == before

    h2 = await reopen(SUPERVISOR)
    v = await settled(h2)
    now = await pathway.env.get_current_time()
    assert (v.status, v.stage, v.officer) == (CaseStatus.ACTIVE, Stage.ARRIVAL, OFFICER.officer_id)
    assert v.arrival_date == state.approval.arrival_date and v.greeting == state.greeting
    s2 = (await h2.query(NewcomerPathway.case_file, CaseQuery())).state
    assert s2.period == 2 and s2.step > state.step
    due = add_working_days(rules.local_today(s2, now), TEST_POLICY.plan_due_working_days)
    assert v.plan_due_on == due.isoformat()
    reopened = next(e for e in office.events if e.kind == "case_reopened")
    assert (reopened.actor, reopened.detail) == (SUPERVISOR.officer_id, "period 2")
    # Both periods in one trail; no key used twice, in the audit rows or the outbox.
    kinds = office.kinds()
    assert kinds.index("case_declined") < kinds.index("case_reopened")
    assert kinds[0] == "case_opened"
    keys = [e.key for e in office.events] + [m.key for m in office.mails]
    assert len(keys) == len(set(keys))
    # The reopened case goes on as any other: the plan, and a decline is no longer possible.
    await h2.execute_update(
        NewcomerPathway.file_plan, PlanFiling(OFFICER, [PlanItem(Stage.FRANCIZATION, "Cours")])
    )
    with pytest.raises(WorkflowUpdateFailedError):
        await h2.execute_update(NewcomerPathway.decline, Decline(OFFICER))
    # Continue-as-new carries the period and the step on.
    for i in range(12):
        await h2.execute_update(NewcomerPathway.add_progress, ProgressNote(OFFICER, f"n{i}"))
    await settled(h2)
    s3 = (await h2.query(NewcomerPathway.case_file, CaseQuery())).state
    assert s3.runs > 1 and s3.period == 2
    keys = [e.key for e in office.events] + [m.key for m in office.mails]
    assert len(keys) == len(set(keys))


async def test_late_enrolment_records_the_greeting_as_not_applicable(pathway: Pathway) -> None:
    now = await pathway.env.get_current_time()
    h = await pathway.start(arrival=now.date() - days(40))
    v = await settled(h)
    assert v.greeting == GreetingOutcome.NOT_APPLICABLE
    greeting = next(e for e in pathway.back_office.events if e.kind == "airport_greeting")
    assert (greeting.actor, greeting.detail) == (None, "not_applicable")
    # The plan's clock runs from the enrolment, not from an arrival 40 days past: the case is
    # not overdue the moment it opens.
    assert not v.overdue and v.plan_due_on is not None
    assert date.fromisoformat(v.plan_due_on) > now.date()
    # On time (arrival today or later): nothing recorded for the greeting.
    h = await pathway.start(arrival=date.fromisoformat(v.arrival_date) + days(60))
    assert (await settled(h)).greeting is None
