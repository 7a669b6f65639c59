"""Retention: personal data of long-closed cases is erased; anonymous statistics stay.

The purge on SQLite and PostgreSQL; the sweep workflow over simulated years on the
time-skipping server; the Schedule on a real dev server with the real worker.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.retention import Retention
from parcours.application.retention import SCHEDULE_ID, install_schedule
from parcours.infrastructure.store import cases
from parcours.infrastructure.store.models import AuditEvent, Case, OutboxMessage
from parcours.kernel.domain import CaseEvent, CaseStatus, Stage
from parcours.kernel.retention import PurgeReport, SweepInput
from tests.cli.conftest import Cli, add_roster, eventually
from tests.conftest import real_stack
from tests.store.builders import approval, snapshot
from tests.store.conftest import engine, sessions  # noqa: F401 - fixtures reused here
from tests.temporal_servers import start_time_skipping
from workflows.retention import RetentionSweep

NAME = "Amina Diallo"


async def closed_case(
    sessions: async_sessionmaker[AsyncSession],  # noqa: F811
    dossier: str,
    closed_at: datetime,
    status: CaseStatus = CaseStatus.COMPLETED,
) -> None:
    """A case with contact data, a note, an email, closed at `closed_at` (or open)."""
    wid = f"newcomer-{dossier}"
    async with sessions() as s, s.begin():
        await cases.register_case(s, wid, approval(dossier), snapshot(dossier))
        await cases.record_event(
            s,
            CaseEvent(
                key=f"{wid}:000001:progress_noted",
                workflow_id=wid,
                kind="progress_noted",
                at=closed_at - timedelta(days=30),
                snapshot=snapshot(dossier, officer_id="atremblay", at=closed_at - timedelta(30)),
                actor="atremblay",
                stage=Stage.COMMUNITY,
                text=f"{NAME} found a job",
            ),
        )
        await cases.record_event(
            s,
            CaseEvent(
                key=f"{wid}:000002:case_closed",
                workflow_id=wid,
                kind="case_completed",
                at=closed_at,
                snapshot=snapshot(dossier, status=status, stage=None, at=closed_at),
            ),
        )
        s.add(
            OutboxMessage(
                key=f"{wid}:000003:mail-case_completed",
                dossier=dossier,
                template="case_completed",
                audience="newcomer",
                recipients="amina@example.org",
                subject=f"Bonjour {NAME}",
                body_text=f"Bonjour {NAME}",
                body_html=f"<p>Bonjour {NAME}</p>",
                status="sent",
            )
        )


async def personal_data(sessions: async_sessionmaker[AsyncSession], dossier: str):  # noqa: F811
    async with sessions() as s:
        case = await s.get(Case, dossier)
        assert case is not None
        texts = (
            await s.scalars(select(AuditEvent.text).where(AuditEvent.dossier == dossier))
        ).all()
        mails = (
            await s.scalars(select(OutboxMessage).where(OutboxMessage.dossier == dossier))
        ).all()
        found = [case.full_name, case.email, case.phone, *texts]
        found += [x for m in mails for x in (m.recipients, m.subject, m.body_text, m.body_html)]
        return [x for x in found if x], case


async def test_purge_erases_personal_data_and_keeps_statistics(
    sessions: async_sessionmaker[AsyncSession],  # noqa: F811
) -> None:
    now = datetime.now(UTC)
    await closed_case(sessions, "OLD-1", now - timedelta(days=800))
    await closed_case(sessions, "OLD-2", now - timedelta(days=731), CaseStatus.WITHDRAWN)
    await closed_case(sessions, "RECENT-1", now - timedelta(days=10))
    activity = Retention(sessions)
    from parcours.kernel.retention import PurgeRequest

    req = PurgeRequest(closed_before=now - timedelta(days=730), at=now, batch_size=1)
    first = await activity.purge_personal_data(req)
    assert (first.cases, first.audit_texts, first.emails, first.more) == (1, 1, 1, True)
    second = await activity.purge_personal_data(req)
    assert (second.cases, second.more) == (1, True)
    assert (await activity.purge_personal_data(req)) == PurgeReport()

    for dossier in ("OLD-1", "OLD-2"):
        left, case = await personal_data(sessions, dossier)
        assert left == [], left
        assert case.purged_at is not None
        # The statistics stay: status, dates, officer, the audit rows and who did what.
        assert case.closed_at is not None and case.started_at is not None
        async with sessions() as s:
            rows = (
                await s.execute(
                    select(AuditEvent.kind, AuditEvent.actor).where(AuditEvent.dossier == dossier)
                )
            ).all()
        assert [tuple(r) for r in rows] == [
            ("progress_noted", "atremblay"),
            ("case_completed", None),
        ]
    left, case = await personal_data(sessions, "RECENT-1")
    assert f"Bonjour {NAME}" in left and case.purged_at is None


async def test_sweep_over_simulated_years(
    sessions: async_sessionmaker[AsyncSession],  # noqa: F811
) -> None:
    env = await start_time_skipping()
    try:
        now = await env.get_current_time()
        await closed_case(sessions, "A", now - timedelta(days=1000))
        await closed_case(sessions, "B", now - timedelta(days=100))
        tq = f"tq-{uuid.uuid4().hex}"
        async with Worker(
            env.client,
            task_queue=tq,
            workflows=[RetentionSweep],
            activities=[Retention(sessions).purge_personal_data],
        ):

            async def sweep() -> PurgeReport:
                return await env.client.execute_workflow(
                    RetentionSweep.run,
                    SweepInput(retention_days=730, batch_size=1),
                    id=f"sweep-{uuid.uuid4().hex}",
                    task_queue=tq,
                )

            assert (await sweep()).cases == 1
            assert (await personal_data(sessions, "B"))[0] != []
            # Years pass in seconds: B, closed 100 days before the first sweep, is purged by
            # the first sweep more than 630 days later (the 730-day boundary itself is
            # checked on the purge above).
            await env.sleep(timedelta(days=640))
            assert (await sweep()).cases == 1
            assert (await personal_data(sessions, "B"))[0] == []
    finally:
        await env.shutdown()


async def test_schedule_sweeps_with_the_real_worker(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    """Install the schedule, trigger it: a withdrawn case loses its personal data, keeps its
    statistics; officers' actions stay attributed in the audit trail."""
    async with real_stack(dev_env.client, tmp_path) as stack:
        client: Client = stack.client
        settings = stack.settings
        cli = Cli(settings)
        await add_roster(cli)
        d = f"RET-{uuid.uuid4().hex[:8].upper()}"
        await cli.ok(
            "start", "--dossier", d, "--name", NAME, "--email", "amina@example.org",
            "--arrival", "2030-01-15", "--region", "montreal",
        )  # fmt: skip

        async def assigned() -> bool:
            return (await cli.json("status", d))["officer"] is not None

        await eventually(assigned)
        await cli.ok("progress", d, "--by", "atremblay", "--note", f"{NAME} enrolled")
        await cli.ok(
            "withdraw", d, "--by", "atremblay", "--reason-category", "left_quebec",
            "--note", "Moved to Ontario",
        )  # fmt: skip
        await client.get_workflow_handle(f"newcomer-{d}").result()

        import dataclasses

        assert await install_schedule(client, dataclasses.replace(settings, retention_days=0))
        assert await install_schedule(client, dataclasses.replace(settings, retention_days=0)) == (
            "updated"
        )
        handle = client.get_schedule_handle(SCHEDULE_ID)
        try:
            desc = await handle.describe()
            assert desc.schedule.spec.intervals[0].every == timedelta(days=1)
            await handle.trigger()

            async def purged() -> bool:
                return (await personal_data(stack.sessions, d))[1].purged_at is not None

            await eventually(purged, within=30)
        finally:
            await handle.delete()
        left, case = await personal_data(stack.sessions, d)
        assert left == []
        assert (case.status, case.closed_at is not None) == ("withdrawn", True)
        async with stack.sessions() as s:
            acts = (
                await s.execute(
                    select(AuditEvent.kind, AuditEvent.actor).where(
                        AuditEvent.dossier == d, AuditEvent.actor.is_not(None)
                    )
                )
            ).all()
            emails = await s.scalar(
                select(func.count()).select_from(OutboxMessage).where(OutboxMessage.dossier == d)
            )
        assert ("progress_note", "atremblay") in [tuple(a) for a in acts]
        assert emails and emails >= 2  # the counts stay, the bodies are gone
    await asyncio.sleep(0)
