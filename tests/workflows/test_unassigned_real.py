"""Issue 17 with the real activities (SQLite read model, real SMTP catcher): a Laval case that
nobody can take alerts the directors at once (Laval has no supervisor), is picked up when an
officer joins (the roster's signal, parcours/application/roster.py), and a reassignment tells
both officers and introduces the new one to the newcomer, in French with their language
beside it."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from parcours.application.roster import wake_unassigned
from parcours.infrastructure.store.models import AuditEvent, Case, OutboxMessage
from parcours.infrastructure.store.officers import NewOfficer, actor_of, add_officer
from parcours.kernel import timezones
from parcours.kernel.domain import (
    CaseInput,
    NewcomerApproval,
    Reassignment,
    workflow_id_for,
)
from tests.conftest import real_stack
from tests.workflows.conftest import TEST_POLICY, days
from tests.workflows.test_real_stack import mailbox, text_of
from workflows.pathway import NewcomerPathway

DIRECTOR = NewOfficer(
    "dir-1", "Hélène Côté", "dir@parcours.example", "capitale-nationale", "fr", "director"
)
MTL_SUPERVISOR = NewOfficer(
    "sup-mtl", "Superviseure", "sup@parcours.example", "montreal", "fr", "supervisor"
)
LAVAL_1 = NewOfficer("off-laval", "Line Lavoie", "line@parcours.example", "laval", "fr")
LAVAL_2 = NewOfficer("off-laval-2", "Marc Roy", "marc@parcours.example", "laval", "fr,en")


async def outbox_rows(stack, dossier: str, template: str, n: int = 1) -> list[OutboxMessage]:
    """The case's `template` emails once `n` of them are sent."""
    for _ in range(500):
        async with stack.sessions() as session:
            rows = (
                await session.scalars(
                    select(OutboxMessage)
                    .where(OutboxMessage.dossier == dossier, OutboxMessage.template == template)
                    .order_by(OutboxMessage.id)
                )
            ).all()
        if len([r for r in rows if r.status == "sent"]) >= n:
            return list(rows)
        await asyncio.sleep(0.05)
    raise AssertionError(f"no {template} sent for {dossier}")


async def start(ts_env, stack, region: str, language: str, email: str):
    """A case that arrived yesterday, started as the interfaces do (signed)."""
    now = await ts_env.get_current_time()
    dossier = f"U-{uuid.uuid4().hex[:8].upper()}"
    approval = NewcomerApproval(
        dossier=dossier,
        full_name="Grace O'Neil",
        email=email,
        arrival_date=(now.astimezone(timezones.zone(region)).date() - days(1)).isoformat(),
        region=region,
        language=language,
    )
    handle = await stack.client.start_workflow(
        NewcomerPathway.run,
        CaseInput(approval=approval, policy=TEST_POLICY),
        id=workflow_id_for(dossier),
        task_queue=stack.settings.task_queue,
    )
    return dossier, handle


async def test_laval_case_alerts_the_directors_then_is_picked_up_and_moved_with_notices(
    ts_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    async with real_stack(ts_env.client, tmp_path) as stack:
        async with stack.sessions() as session:
            director = actor_of(await add_officer(session, DIRECTOR))
            await add_officer(session, MTL_SUPERVISOR)
            await session.commit()

        dossier, h = await start(ts_env, stack, "laval", "en", "grace@example.org")

        # At once, to the directors: Laval has no supervisor (the Montreal one is not told).
        [alert] = await outbox_rows(stack, dossier, "case_unassigned")
        assert alert.recipients == "dir@parcours.example"
        assert "la direction est avisée à sa place" in (alert.body_text or "")
        async with stack.sessions() as session:
            trail = (
                await session.scalars(
                    select(AuditEvent.detail).where(
                        AuditEvent.dossier == dossier, AuditEvent.kind == "email_sent"
                    )
                )
            ).all()
        assert any(
            "template=case_unassigned" in (d or "") and "told=directors" in (d or "") for d in trail
        )

        # An officer joins Laval: the roster's nudge gives them the case.
        async with stack.sessions() as session:
            await add_officer(session, LAVAL_1)
            await session.commit()
        assert await wake_unassigned(stack.client, stack.sessions, "laval") == 1
        [intro] = await outbox_rows(stack, dossier, "officer_introduced")
        [assigned] = await outbox_rows(stack, dossier, "officer_assigned")
        assert assigned.recipients == "line@parcours.example"
        async with stack.sessions() as session:
            case = await session.get(Case, dossier)
            assert case is not None and case.officer_id == "off-laval"
            actors = dict(
                (
                    await session.execute(
                        select(AuditEvent.kind, AuditEvent.actor).where(
                            AuditEvent.dossier == dossier
                        )
                    )
                ).all()
            )
        assert "case_assigned" in actors and actors["case_assigned"] is None
        # Nobody left to wake: the case has its officer.
        assert await wake_unassigned(stack.client, stack.sessions, "laval") == 0

        # The newcomer meets their officer: French first, English beside it (six months).
        assert intro.recipients == "grace@example.org"
        assert intro.languages == "fr,en"
        fr = intro.body_text.index("Votre accompagnement est maintenant assuré par Line Lavoie")
        en = intro.body_text.index("Your support is now provided by Line Lavoie")
        assert fr < en
        assert "line@parcours.example" in intro.body_text

        # A director hands the case to another Laval officer: both officers and the newcomer.
        async with stack.sessions() as session:
            newcomer_officer = actor_of(await add_officer(session, LAVAL_2))
            await session.commit()
        await h.execute_update(
            NewcomerPathway.reassign, Reassignment(actor=director, new_officer=newcomer_officer)
        )
        [away] = await outbox_rows(stack, dossier, "case_reassigned_away")
        assert away.recipients == "line@parcours.example"
        assert "off-laval-2" in away.body_text
        assigned_rows = await outbox_rows(stack, dossier, "officer_assigned", 2)
        assert assigned_rows[-1].recipients == "marc@parcours.example"
        intros = await outbox_rows(stack, dossier, "officer_introduced", 2)
        second = intros[-1]
        assert "Marc Roy" in second.body_text and "marc@parcours.example" in second.body_text
        assert "réaffect" not in second.body_text.lower()  # never the reason

        mails = mailbox(stack.mail_dir)
        to_newcomer = [m for m in mails if m["To"] == "grace@example.org"]
        introductions = [m for m in to_newcomer if "Marc Roy" in text_of(m)]
        assert len(introductions) == 1  # each email once
        body = text_of(introductions[0])
        assert body.index("Votre accompagnement") < body.index("Your support")


async def test_a_case_waits_for_the_only_officer_back_from_leave(
    ts_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    from datetime import timedelta

    from parcours.infrastructure.store.officers import set_leave
    from parcours.kernel import timezones

    estrie = NewOfficer("off-estrie", "Eve Tardif", "eve@parcours.example", "estrie", "fr")
    async with real_stack(ts_env.client, tmp_path) as stack:
        now = await ts_env.get_current_time()
        today = now.astimezone(timezones.zone("estrie")).date()
        async with stack.sessions() as session:
            await add_officer(session, DIRECTOR)
            await add_officer(session, estrie)
            await set_leave(session, "off-estrie", today, today + timedelta(days=3))
            await session.commit()
        dossier, _ = await start(ts_env, stack, "estrie", "pt", "ana@example.org")
        [alert] = await outbox_rows(stack, dossier, "case_unassigned")
        assert alert.recipients == "dir@parcours.example"
        # Three days on the officer is still away: the case still waits.
        await ts_env.sleep(days(3))
        async with stack.sessions() as session:
            case = await session.get(Case, dossier)
            assert case is not None and case.officer_id is None
        # The day after the leave's last: the case's own timer asks, and the officer has it.
        await ts_env.sleep(days(1.5))
        [assigned] = await outbox_rows(stack, dossier, "officer_assigned")
        assert assigned.recipients == "eve@parcours.example"
        async with stack.sessions() as session:
            case = await session.get(Case, dossier)
            assert case is not None and case.officer_id == "off-estrie"
