"""A case over simulated months with the real activities: SQLite read model, real SMTP.

The time-skipping server jumps the weeks; the worker writes the real audit trail and sends
real emails to an aiosmtpd catcher. This is the whole engine, minus only the wall clock.
"""

from __future__ import annotations

import email
import email.policy
import uuid
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import func, select
from temporalio.testing import WorkflowEnvironment

from parcours.infrastructure.store.models import AuditEvent, Case, OutboxMessage
from parcours.infrastructure.store.officers import NewOfficer, actor_of, add_officer
from parcours.kernel import timezones
from parcours.kernel.domain import (
    CaseInput,
    CaseQuery,
    CaseStatus,
    NewcomerApproval,
    PlanFiling,
    PlanItem,
    ProgressNote,
    Stage,
    StageApproval,
    StageWaiver,
    workflow_id_for,
)
from tests.conftest import real_stack
from tests.workflows.conftest import TEST_POLICY, days
from workflows.pathway import NewcomerPathway

ROSTER = [
    NewOfficer("off-en", "Agent Anglophone", "off-en@parcours.example", "montreal", "fr,en"),
    NewOfficer("off-fr", "Agent Francophone", "off-fr@parcours.example", "montreal", "fr"),
    NewOfficer("sup-mtl", "Superviseure", "sup@parcours.example", "montreal", "fr", "supervisor"),
    NewOfficer(
        "dir-1", "Directrice", "dir@parcours.example", "capitale-nationale", "fr", "director"
    ),
]


def mailbox(directory: Path) -> list[EmailMessage]:
    messages = []
    for path in sorted(directory.glob("*.eml")):
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        messages.append(msg)
    return messages


def text_of(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


async def test_months_of_a_case_with_the_real_activities(
    ts_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    async with real_stack(ts_env.client, tmp_path) as stack:
        async with stack.sessions() as session:
            officers = {o.id: await add_officer(session, o) for o in ROSTER}
            await session.commit()
        officer = actor_of(officers["off-en"])
        supervisor = actor_of(officers["sup-mtl"])

        now = await ts_env.get_current_time()
        dossier = f"R-{uuid.uuid4().hex[:8].upper()}"
        approval = NewcomerApproval(
            dossier=dossier,
            full_name="Grace O'Neil",
            email="grace@example.org",
            arrival_date=(now.astimezone(timezones.zone("montreal")).date() - days(1)).isoformat(),
            region="montreal",
            language="en",
        )
        h = await stack.client.start_workflow(
            NewcomerPathway.run,
            CaseInput(approval=approval, policy=TEST_POLICY),
            id=workflow_id_for(dossier),
            task_queue=stack.settings.task_queue,
        )
        await ts_env.sleep(days(20.5))  # silence: reminder, supervisors, then directors
        v = await h.query(NewcomerPathway.view, CaseQuery())
        assert v.escalation_level == 3 and v.officer == "off-en"  # speaks the language
        await h.execute_update(
            NewcomerPathway.add_progress, ProgressNote(actor=officer, note="Premier contact")
        )
        await h.execute_update(
            NewcomerPathway.file_plan,
            PlanFiling(actor=officer, items=[PlanItem(Stage.FRANCIZATION, "Cours <temps plein>")]),
        )
        await h.execute_update(
            NewcomerPathway.approve_stage, StageApproval(actor=officer, stage=Stage.ARRIVAL)
        )
        await ts_env.sleep(days(200))
        await h.execute_update(
            NewcomerPathway.approve_stage,
            StageApproval(actor=officer, stage=Stage.FRANCIZATION, note="Cours en cours"),
        )
        await h.execute_update(
            NewcomerPathway.waive_stage,
            StageWaiver(actor=supervisor, stage=Stage.EMPLOYMENT, reason="Emploi obtenu"),
        )
        await h.execute_update(
            NewcomerPathway.approve_stage, StageApproval(actor=officer, stage=Stage.COMMUNITY)
        )
        result = await h.result()
        assert result.status == CaseStatus.COMPLETED

        async with stack.sessions() as session:
            case = await session.get(Case, dossier)
            assert case is not None
            assert (case.status, case.stage, case.officer_id) == ("completed", None, "off-en")
            kinds = (
                await session.scalars(select(AuditEvent.kind).where(AuditEvent.dossier == dossier))
            ).all()
            outbox = (
                await session.scalars(select(OutboxMessage).where(OutboxMessage.dossier == dossier))
            ).all()
            audit_rows = await session.scalar(
                select(func.count()).select_from(AuditEvent).where(AuditEvent.dossier == dossier)
            )
        for kind in (
            "case_opened",
            "officer_assigned",
            "escalated",
            "progress_note",
            "plan_filed",
            "stage_approved",
            "stage_waived",
            "case_completed",
        ):
            assert kind in kinds, kind
        assert kinds.count("escalated") == 6  # three in arrival, three in 200 silent days
        assert audit_rows == len(kinds)
        assert {m.status for m in outbox} == {"sent"}

        mails = mailbox(stack.mail_dir)
        # Exactly one message per outbox row: nothing lost, nothing sent twice.
        assert len(mails) == len(outbox)
        assert len({m["Message-ID"] for m in mails}) == len(mails)
        welcome = next(m for m in mails if m["To"] == "grace@example.org")
        body = text_of(welcome)
        assert "Bonjour" in body or "Bienvenue" in body
        assert "Welcome" in body or "Hello" in body
        assert body.index("Bienvenue" if "Bienvenue" in body else "Bonjour") < body.index(
            "Welcome" if "Welcome" in body else "Hello"
        ), "French comes first"
        to_officer = [m for m in mails if m["To"] == "off-en@parcours.example"]
        assert len(to_officer) >= 2  # assigned, then the level-1 reminder
        assert all(approval.full_name not in text_of(m) for m in to_officer)
        assert any(m["To"] == "sup@parcours.example" for m in mails)
        assert any(m["To"] == "dir@parcours.example" for m in mails)


async def test_the_activity_slots_bound_local_activities_too(
    ts_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    """A first opening writes the read model in local activities (v8):
    PARCOURS_WORKER_ACTIVITIES bounds them as it bounds activity tasks."""
    from dataclasses import replace

    from parcours.infrastructure.worker import Concurrency, build_worker, resources

    async with real_stack(ts_env.client, tmp_path) as stack:
        # Its own queue: one worker per queue and client.
        settings = replace(stack.settings, task_queue=f"tq-{uuid.uuid4().hex}")
        async with resources(settings) as res:
            config = build_worker(stack.client, settings, res, slots=Concurrency(4, 7)).config()
    assert config.get("max_concurrent_activities") == 7
    assert config.get("max_concurrent_local_activities") == 7
    assert config.get("max_concurrent_workflow_tasks") == 4
