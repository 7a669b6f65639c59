"""Record the histories the replay test replays: `python -m tests.workflows.record_histories`.

Run it when a released version of the workflow is about to change, *before* changing it, so
the new code is proven against what the old code wrote. Files are named after the version
(`PATHWAY_VERSION`) and the scenario, and are never edited afterwards.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from datetime import timedelta
from pathlib import Path

from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDReusePolicy
from temporalio.worker import Worker

from parcours.infrastructure.signing import install_verifier
from parcours.kernel import timezones
from parcours.kernel.assignment import Candidate
from parcours.kernel.domain import (
    CaseInput,
    CaseQuery,
    CaseView,
    Decline,
    GreetingReport,
    ItemStatus,
    ItemUpdate,
    NewcomerReply,
    PartnerRef,
    PauseRequest,
    PlanFiling,
    PlanItem,
    ProgressNote,
    Reassignment,
    Reopening,
    ReplyChoice,
    ResumeRequest,
    RosterChanged,
    Stage,
    StageApproval,
    StageWaiver,
    Transfer,
    Withdrawal,
    WithdrawalReason,
)
from tests.temporal_servers import TEST_SIGNING_KEY, run_histories, start_time_skipping
from tests.workflows.conftest import (
    DIRECTOR,
    HISTORIES,
    OFFICER,
    OTHER_OFFICER,
    QC_OFFICER,
    SUPERVISOR,
    FakeBackOffice,
    Pathway,
    days,
    settled,
)
from workflows.pathway import NewcomerPathway

# v1: first release. v2: continue-as-new carries queued effects (patch
# "carry-queued-effects-across-continue-as-new"). v3: the authorization table in handlers
# (patch "authorization-table-in-handlers"), signed updates, withdrawal by a named actor with
# a reason category, and the `transfer` update. v4: cancellation requests are ignored (patch
# "ignore-cancellation-requests"); only `cancellation_ignored` was recorded at v4. v5: local-day
# deadlines in the case's zone (patch "local-day-deadlines"); `lifecycle` and
# `local_day_deadlines` were recorded at v5. v6 (issue 16): plan items with a status (patch
# "plan-item-status"), the newcomer's own answers (`newcomer_replied`: no patch, a new update
# and a new status); record only the new scenarios. Also v6: late enrolment (patch
# "late-enrolment"), declines, and reopening as a new run of the same workflow id; a late
# enrolment's plan due from the opening (patch "late-enrolment-plan-due"). v7 (issue 17): an
# unassigned case alerts the region's leads (patch "unassigned-alert"), finds its officer on a
# roster signal or on the day an absent officer is back (patch "roster-assign"), and a
# reassignment or transfer tells the previous officer and the newcomer (patch
# "reassignment-notices"); record only the new scenarios (`--only`). v8 (issue 14): the
# opening registers the case and records its events as local activities, and a case opened so
# takes every earlier patch as given (patch "opening-in-one-task"); recorded with `--only
# plan_items,actions_across_continue_as_new,reopened,unassigned_picked_up,late_enrolment_plan_due`
# (the new opening on each of its paths, and a continued run that asks no patch).
# v9 (issue 14, the storm): the events a case's clocks decide are recorded by a local activity
# in the alarm's workflow task (patch "alarm-events-local"); recorded with `--only
# escalated_across_continue_as_new,late_enrolment_plan_due,newcomer_replied` (escalations and an
# overdue stage across continue-as-new, the late plan's reminder, the end of a wait).
# v10 (issue 14, the storm with a small cache): the emails of a first opening and of an alarm
# are sent from the worker in the workflow task that decided them, and go on as an activity
# task when their two local attempts fail (patch "mail-in-deciding-task"); recorded with
# `--only escalated_across_continue_as_new,late_enrolment_plan_due,newcomer_replied,mail_by_task`.
PATHWAY_VERSION = "v10"

PLAN = PlanFiling(
    actor=OFFICER,
    items=[
        PlanItem(stage=Stage.FRANCIZATION, text="Francisation a temps plein"),
        PlanItem(stage=Stage.EMPLOYMENT, text="Reconnaissance des acquis"),
    ],
)


async def lifecycle(p: Pathway) -> WorkflowHandle[NewcomerPathway, CaseView]:
    """Arrival to closure with escalations, a pause, a reassignment and a waiver."""
    now = await p.env.get_current_time()
    h = await p.start(f"HIST-{uuid.uuid4().hex[:6].upper()}", arrival=(now + days(3)).date())
    await p.env.sleep(days(12))  # arrival stall: reminder and supervisors
    await h.execute_update(NewcomerPathway.record_greeting, GreetingReport(actor=OFFICER))
    await h.execute_update(NewcomerPathway.file_plan, PLAN)
    await h.execute_update(
        NewcomerPathway.approve_stage, StageApproval(actor=OFFICER, stage=Stage.ARRIVAL)
    )
    await h.execute_update(NewcomerPathway.pause, PauseRequest(actor=SUPERVISOR, reason="voyage"))
    await p.env.sleep(days(30))
    await h.execute_update(NewcomerPathway.resume, ResumeRequest(actor=SUPERVISOR))
    await h.execute_update(
        NewcomerPathway.add_progress, ProgressNote(actor=OFFICER, note="Cours commences")
    )
    await h.execute_update(
        NewcomerPathway.reassign, Reassignment(actor=SUPERVISOR, new_officer=OTHER_OFFICER)
    )
    await p.env.sleep(days(80))  # francization: all three levels
    # Since v6 a stage whose plan items are still open is approved with a note that says why.
    await h.execute_update(
        NewcomerPathway.approve_stage,
        StageApproval(
            actor=OTHER_OFFICER, stage=Stage.FRANCIZATION, note="Cours termines, niveau atteint"
        ),
    )
    await h.execute_update(
        NewcomerPathway.waive_stage,
        StageWaiver(actor=SUPERVISOR, stage=Stage.EMPLOYMENT, reason="Emploi obtenu"),
    )
    await p.env.sleep(days(10))
    await h.execute_update(
        NewcomerPathway.approve_stage, StageApproval(actor=OTHER_OFFICER, stage=Stage.COMMUNITY)
    )
    await h.result()
    return h


async def withdrawn_after_continue_as_new(
    p: Pathway,
) -> WorkflowHandle[NewcomerPathway, CaseView]:
    h = await p.start(f"HIST-{uuid.uuid4().hex[:6].upper()}", continue_as_new_after_events=40)
    await h.execute_update(NewcomerPathway.file_plan, PLAN)
    for i in range(10):
        await h.execute_update(
            NewcomerPathway.add_progress, ProgressNote(actor=OFFICER, note=f"suivi {i}")
        )
        await p.env.sleep(timedelta(days=2))
    await h.execute_update(
        NewcomerPathway.withdraw,
        Withdrawal(
            reason="A quitte le Quebec",
            actor=OFFICER,
            reason_category=WithdrawalReason.LEFT_QUEBEC,
        ),
    )
    await h.result()
    return h


async def actions_across_continue_as_new(
    p: Pathway,
) -> WorkflowHandle[NewcomerPathway, CaseView]:
    """Back-to-back notes while effects are in flight: runs roll over with effects queued."""
    p.back_office.effect_delay = 0.05
    h = await p.start(f"HIST-{uuid.uuid4().hex[:6].upper()}", continue_as_new_after_events=60)
    await h.execute_update(NewcomerPathway.file_plan, PLAN)

    async def notes(sender: int) -> None:
        for i in range(8):
            await h.execute_update(
                NewcomerPathway.add_progress, ProgressNote(actor=OFFICER, note=f"{sender}-{i}")
            )

    await asyncio.gather(notes(1), notes(2))
    await h.execute_update(
        NewcomerPathway.withdraw, Withdrawal(reason="Demenagement", actor=SUPERVISOR)
    )
    await h.result()
    return h


async def transferred(p: Pathway) -> WorkflowHandle[NewcomerPathway, CaseView]:
    """A director moves the case to another region; its new officer carries on."""
    h = await p.start(f"HIST-{uuid.uuid4().hex[:6].upper()}")
    await h.execute_update(
        NewcomerPathway.transfer,
        Transfer(
            actor=DIRECTOR,
            new_region=QC_OFFICER.region or "",
            new_officer=QC_OFFICER,
            note="Demenagement a Quebec",
        ),
    )
    await h.execute_update(
        NewcomerPathway.add_progress, ProgressNote(actor=QC_OFFICER, note="Premier appel")
    )
    await p.env.sleep(days(12))
    await h.execute_update(
        NewcomerPathway.withdraw,
        Withdrawal(
            reason="Injoignable",
            actor=QC_OFFICER,
            reason_category=WithdrawalReason.UNREACHABLE,
        ),
    )
    await h.result()
    return h


async def cancellation_ignored(p: Pathway) -> WorkflowHandle[NewcomerPathway, CaseView]:
    """Someone asks Temporal to cancel the case; it carries on and closes by withdrawal."""
    h = await p.start(f"HIST-{uuid.uuid4().hex[:6].upper()}")
    await h.cancel()
    await p.env.sleep(days(1))
    await h.execute_update(
        NewcomerPathway.add_progress, ProgressNote(actor=OFFICER, note="Toujours la")
    )
    await h.execute_update(
        NewcomerPathway.withdraw,
        Withdrawal(reason="Parti", actor=OFFICER, reason_category=WithdrawalReason.LEFT_QUEBEC),
    )
    await h.result()
    return h


async def local_day_deadlines(p: Pathway) -> WorkflowHandle[NewcomerPathway, CaseView]:
    """A Magdalen Islands case (Atlantic time) falls overdue at the end of its plan's local
    due day, is paused over a few days (its deadlines move by whole days), and closes."""
    now = await p.env.get_current_time()
    h = await p.start(
        f"HIST-{uuid.uuid4().hex[:6]}",
        arrival=(now + days(2)).date(),
        region="gaspesie-iles-de-la-madeleine",
        time_zone=timezones.ATLANTIC,
    )
    await p.env.sleep(days(10))  # past the plan's due day: overdue, and a reminder
    # A director: the Montreal supervisor has no say in Gaspésie–Îles-de-la-Madeleine.
    await h.execute_update(NewcomerPathway.pause, PauseRequest(actor=DIRECTOR, reason="voyage"))
    await p.env.sleep(days(3) + timedelta(hours=5))
    await h.execute_update(NewcomerPathway.resume, ResumeRequest(actor=DIRECTOR))
    await h.execute_update(NewcomerPathway.file_plan, PLAN)
    await p.env.sleep(days(40))  # past the arrival stage's own due day
    await h.execute_update(
        NewcomerPathway.withdraw,
        Withdrawal(reason="Parti", actor=OFFICER, reason_category=WithdrawalReason.LEFT_QUEBEC),
    )
    await h.result()
    return h


FQ = PartnerRef("fq-montreal", "Francisation Québec – Montréal", "fq@example.org", "514 555-0100")


async def plan_items(p: Pathway) -> WorkflowHandle[NewcomerPathway, CaseView]:
    """v6: plan items through every status (referred to a partner, in progress, done,
    abandoned), an approval with an open item refused without a note and taken with one, a
    refiled plan keeping its items' statuses, across continue-as-new."""
    now = await p.env.get_current_time()
    h = await p.start(
        f"HIST-{uuid.uuid4().hex[:6].upper()}",
        arrival=(now - days(1)).date(),
        continue_as_new_after_events=40,
    )

    async def item(i: str, status: ItemStatus, **kw: object) -> CaseView:
        return await h.execute_update(
            NewcomerPathway.update_item,
            ItemUpdate(OFFICER, i, status, **kw),  # type: ignore[arg-type]
        )

    plan = PlanFiling(
        actor=OFFICER,
        items=[
            PlanItem(stage=Stage.ARRIVAL, text="Inscription a la francisation"),
            PlanItem(stage=Stage.FRANCIZATION, text="Cours a temps plein"),
        ],
    )
    await h.execute_update(NewcomerPathway.file_plan, plan)
    await item("i1", ItemStatus.REFERRED, partner_id=FQ.partner_id, partner=FQ)
    await p.env.sleep(days(6))  # the stall reminder; the next item update is activity
    await item("i1", ItemStatus.IN_PROGRESS)
    try:
        await h.execute_update(
            NewcomerPathway.approve_stage, StageApproval(actor=OFFICER, stage=Stage.ARRIVAL)
        )
        raise AssertionError("an approval with an open item needs a note")
    except WorkflowUpdateFailedError:
        pass
    await h.execute_update(
        NewcomerPathway.approve_stage,
        StageApproval(actor=OFFICER, stage=Stage.ARRIVAL, note="Inscription en cours"),
    )
    await item("i1", ItemStatus.DONE)
    await item("i2", ItemStatus.IN_PROGRESS)
    for n in range(6):
        await h.execute_update(
            NewcomerPathway.add_progress, ProgressNote(actor=OFFICER, note=f"suivi {n}")
        )
    await item("i2", ItemStatus.ABANDONED, reason="Horaire incompatible")
    kept = (await h.query(NewcomerPathway.view, CaseQuery())).plan
    await h.execute_update(
        NewcomerPathway.file_plan,
        PlanFiling(
            actor=OFFICER,
            items=[*kept, PlanItem(stage=Stage.FRANCIZATION, text="Cours du soir")],
        ),
    )
    await item("i3", ItemStatus.REFERRED, partner_id=FQ.partner_id, partner=FQ)
    await item("i3", ItemStatus.IN_PROGRESS)
    await item("i3", ItemStatus.DONE)
    await h.execute_update(
        NewcomerPathway.approve_stage, StageApproval(actor=OFFICER, stage=Stage.FRANCIZATION)
    )
    await h.execute_update(
        NewcomerPathway.withdraw,
        Withdrawal(reason="Parti", actor=OFFICER, reason_category=WithdrawalReason.LEFT_QUEBEC),
    )
    await h.result()
    return h


async def newcomer_replied(p: Pathway) -> WorkflowHandle[NewcomerPathway, CaseView]:
    """The newcomer's own answers through their link: "contact me later" (the case waits,
    then resumes by itself on the day), "I will use the service", then later again, and
    "I do not want the service" (declined, before any plan)."""
    now = await p.env.get_current_time()
    today = now.astimezone(timezones.zone(None)).date()
    h = await p.start(f"HIST-{uuid.uuid4().hex[:6].upper()}", arrival=today)
    later = NewcomerReply(choice=ReplyChoice.LATER, until=(today + days(30)).isoformat())
    await h.execute_update(NewcomerPathway.newcomer_reply, later)
    await p.env.sleep(days(31))  # the day has come: resumed by itself
    await h.execute_update(NewcomerPathway.newcomer_reply, NewcomerReply(choice=ReplyChoice.USE))
    until = (today + days(60)).isoformat()
    await h.execute_update(
        NewcomerPathway.newcomer_reply, NewcomerReply(choice=ReplyChoice.LATER, until=until)
    )
    await h.execute_update(
        NewcomerPathway.newcomer_reply,
        NewcomerReply(choice=ReplyChoice.DECLINE, note="Ma famille m'accompagne"),
    )
    await h.result()
    return h


async def late_enrolment_declined(p: Pathway) -> WorkflowHandle[NewcomerPathway, CaseView]:
    """Enrolled 40 days after arriving (no airport greeting to record); declines."""
    now = await p.env.get_current_time()
    h = await p.start(f"HIST-{uuid.uuid4().hex[:6].upper()}", arrival=(now - days(40)).date())
    await h.execute_update(
        NewcomerPathway.add_progress, ProgressNote(actor=OFFICER, note="Premier appel")
    )
    await h.execute_update(
        NewcomerPathway.decline,
        Decline(actor=OFFICER, reason_category=WithdrawalReason.DECLINED_SERVICES, note="Non"),
    )
    await h.result()
    return h


async def late_enrolment_plan_due(p: Pathway) -> WorkflowHandle[NewcomerPathway, CaseView]:
    """Enrolled 40 days after arriving: the plan is due 5 working days from the opening
    (patch "late-enrolment-plan-due"); the plan is filed a week later, then withdrawn."""
    now = await p.env.get_current_time()
    h = await p.start(f"HIST-{uuid.uuid4().hex[:6].upper()}", arrival=(now - days(40)).date())
    await p.env.sleep(days(9))  # past the due day from the opening: overdue, a reminder
    await h.execute_update(NewcomerPathway.file_plan, PLAN)
    await h.execute_update(
        NewcomerPathway.withdraw,
        Withdrawal(reason="Parti", actor=OFFICER, reason_category=WithdrawalReason.LEFT_QUEBEC),
    )
    await h.result()
    return h


async def reopened(p: Pathway) -> WorkflowHandle[NewcomerPathway, CaseView]:
    """A declined case reopened four months later (the new run of the same id), its plan
    filed, then withdrawn."""
    h = await p.start(f"HIST-{uuid.uuid4().hex[:6].upper()}")
    await h.execute_update(
        NewcomerPathway.decline,
        Decline(actor=OFFICER, reason_category=WithdrawalReason.DECLINED_SERVICES),
    )
    await h.result()
    state = (await h.query(NewcomerPathway.case_file, CaseQuery())).state
    await p.env.sleep(days(120))
    reopening = Reopening(
        actor=SUPERVISOR,
        note="Elle rappelle",
        previous_run_id=h.result_run_id or "",
        period=state.period + 1,
        step=state.step,
        officer_id=state.officer_id,
        greeting=state.greeting,
        previous_status=state.status.value,
    )
    h2 = await p.client.start_workflow(
        NewcomerPathway.run,
        CaseInput(approval=state.approval, policy=state.policy, reopening=reopening),
        id=h.id,
        task_queue=p.task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
    )
    await p.env.sleep(days(8))  # past the plan's new due day: overdue, a reminder
    await h2.execute_update(NewcomerPathway.file_plan, PLAN)
    await h2.execute_update(
        NewcomerPathway.withdraw,
        Withdrawal(reason="Parti", actor=OFFICER, reason_category=WithdrawalReason.LEFT_QUEBEC),
    )
    await h2.result()
    return h2


async def unassigned_picked_up(p: Pathway) -> WorkflowHandle[NewcomerPathway, CaseView]:
    """v7: nobody in Laval at the opening (the leads are told), escalations to the leads,
    then an officer joins and the roster's signal gives them the case."""
    p.back_office.officer = None
    h = await p.start(region="laval", language="en")
    await p.env.sleep(days(6))  # level 1, to the leads
    p.back_office.roster.append(Candidate("off-laval"))
    await h.signal(NewcomerPathway.roster_changed, RosterChanged(region="laval"))
    await settled_with(h, "off-laval")
    await h.execute_update(
        NewcomerPathway.withdraw,
        Withdrawal(reason="Parti", actor=DIRECTOR, reason_category=WithdrawalReason.LEFT_QUEBEC),
    )
    await h.result()
    return h


async def unassigned_until_leave_ends(
    p: Pathway,
) -> WorkflowHandle[NewcomerPathway, CaseView]:
    """v7: the region's only officer is on leave; the case asks again by itself on the day
    they are back, and is theirs."""
    p.back_office.officer = None
    now = await p.env.get_current_time()
    today = now.astimezone(timezones.zone("estrie")).date()
    p.back_office.roster.append(
        Candidate("off-estrie", leave_from=today, leave_to=today + timedelta(days=3))
    )
    h = await p.start(region="estrie")
    await p.env.sleep(days(5))
    await settled_with(h, "off-estrie")
    await h.execute_update(
        NewcomerPathway.withdraw,
        Withdrawal(reason="Parti", actor=DIRECTOR, reason_category=WithdrawalReason.LEFT_QUEBEC),
    )
    await h.result()
    return h


async def reassignment_notices(p: Pathway) -> WorkflowHandle[NewcomerPathway, CaseView]:
    """v7: a reassignment and a transfer, each telling the previous officer and introducing
    the new one to the newcomer."""
    h = await p.start(language="es")
    await h.execute_update(
        NewcomerPathway.reassign, Reassignment(actor=SUPERVISOR, new_officer=OTHER_OFFICER)
    )
    await h.execute_update(
        NewcomerPathway.transfer,
        Transfer(actor=DIRECTOR, new_region="capitale-nationale", new_officer=QC_OFFICER),
    )
    await h.execute_update(
        NewcomerPathway.withdraw,
        Withdrawal(reason="Parti", actor=QC_OFFICER, reason_category=WithdrawalReason.LEFT_QUEBEC),
    )
    await h.result()
    return h


async def escalated_across_continue_as_new(
    p: Pathway,
) -> WorkflowHandle[NewcomerPathway, CaseView]:
    """v9: nobody acts on the case: its arrival stage goes overdue and climbs every level,
    across continue-as-new (a small event budget), then a supervisor withdraws it."""
    now = await p.env.get_current_time()
    h = await p.start(
        f"HIST-{uuid.uuid4().hex[:6].upper()}",
        arrival=(now + days(3)).date(),
        continue_as_new_after_events=40,
    )
    await p.env.sleep(days(45))
    await h.execute_update(
        NewcomerPathway.withdraw,
        Withdrawal(reason="Injoignable", actor=SUPERVISOR),
    )
    await h.result()
    return h


async def mail_by_task(p: Pathway) -> WorkflowHandle[NewcomerPathway, CaseView]:
    """v10: the mail server is down at the opening: the welcome's two local attempts fail and
    it goes on as an activity task, which sends it; then the officer files the plan."""
    p.back_office.mail_failures = 3
    h = await p.start(f"HIST-{uuid.uuid4().hex[:6].upper()}")
    await h.execute_update(NewcomerPathway.file_plan, PLAN)
    await settled(h)
    await h.execute_update(
        NewcomerPathway.withdraw,
        Withdrawal(reason="Demenage hors Quebec", actor=SUPERVISOR),
    )
    await h.result()
    return h


async def settled_with(h: WorkflowHandle[NewcomerPathway, CaseView], officer: str) -> None:
    for _ in range(500):
        v = await h.query(NewcomerPathway.view, CaseQuery())
        if v.officer == officer and v.pending_effects == 0:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"the case never went to {officer}")


SCENARIOS = (
    lifecycle,
    withdrawn_after_continue_as_new,
    actions_across_continue_as_new,
    transferred,
    cancellation_ignored,
    local_day_deadlines,
    plan_items,
    newcomer_replied,
    late_enrolment_declined,
    reopened,
    late_enrolment_plan_due,
    unassigned_picked_up,
    unassigned_until_leave_ends,
    reassignment_notices,
    escalated_across_continue_as_new,
    mail_by_task,
)


async def record(out: Path = HISTORIES, only: set[str] | None = None) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    install_verifier([TEST_SIGNING_KEY])
    written: list[Path] = []
    for scenario in SCENARIOS:
        if only and scenario.__name__ not in only:
            continue
        env = await start_time_skipping()
        back_office = FakeBackOffice()
        try:
            async with Worker(
                env.client,
                task_queue="histories",
                workflows=[NewcomerPathway],
                activities=back_office.activities(),
            ):
                h = await scenario(Pathway(env.client, env, "histories", back_office))
                for n, history in enumerate(await run_histories(env.client, h), 1):
                    path = out / f"{PATHWAY_VERSION}-{scenario.__name__}-run{n}.json"
                    path.write_text(history.to_json())
                    written.append(path)
        finally:
            await env.shutdown()
    return written


if __name__ == "__main__":
    # [OUT_DIR] [--only name,name]: the scenarios of the new version only, as the header says.
    args = sys.argv[1:]
    names: set[str] | None = None
    if "--only" in args:
        at = args.index("--only")
        names = set(args[at + 1].split(","))
        del args[at : at + 2]
    for path in asyncio.run(record(Path(args[0]) if args else HISTORIES, names)):
        print(path)
