"""A client that does not hold our secrets cannot open a case (issue 12: signed starts).

Against a real Temporal dev server and a real worker (SQLite read model, SMTP catcher): an
attacker who reaches the frontend starts the pathway for new dossiers with data of their own
(an address to receive the welcome email). Unsigned, signed under a key of their own, with a
stale signature, or with a genuine signature over other data: each run fails at
register_case, before any effect (no case row, no audit row, no email). A start through
`start_case` right after opens its case as usual.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from parcours.infrastructure.codec import new_key
from parcours.infrastructure.config import Settings
from parcours.infrastructure.payload_codec import data_converter
from parcours.infrastructure.signing import Signer
from parcours.infrastructure.store.models import AuditEvent, Case
from parcours.infrastructure.store.officers import NewOfficer, add_officer
from parcours.infrastructure.temporal import (
    WORKFLOW_TYPE,
    SigningKeysMissing,
    start_case,
    view_case,
)
from parcours.kernel.domain import CaseInput, NewcomerApproval, workflow_id_for
from parcours.kernel.errors import CaseNotFound
from parcours.kernel.policy import load_policy
from tests.conftest import Stack, address_of, real_stack
from tests.security.test_forged_updates import settled_view
from tests.temporal_servers import (
    TEST_PAYLOAD_KEY,
    TEST_SIGNER,
    TEST_SIGNING_KEY,
    local_activities,
)

ATTACKER = "attacker@evil.example"


def new_case(email: str = ATTACKER) -> CaseInput:
    dossier = f"FS-{uuid.uuid4().hex[:8].upper()}"
    approval = NewcomerApproval(dossier, "Nom Inventé", email, "2030-01-15", "montreal")
    return CaseInput(approval=approval, policy=load_policy(None))


async def opened_nothing(stack: Stack, dossier: str) -> None:
    """The run failed at register_case, its only activity, and left no trace anywhere."""
    handle = stack.client.get_workflow_handle(workflow_id_for(dossier))
    with pytest.raises(WorkflowFailureError) as info:
        await asyncio.wait_for(handle.result(), 60)
    # v8: register_case runs as a local activity, whose refusal is the run's failure itself.
    cause = info.value.cause
    assert isinstance(cause, ApplicationError) and cause.non_retryable
    assert "start refused" in cause.message, cause.message
    history = await handle.fetch_history()
    scheduled = [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]
    assert scheduled == []  # no record_events, no send_notifications
    assert local_activities(list(history.events)) == ["register_case"]
    async with stack.sessions() as session:
        assert await session.get(Case, dossier) is None
        audit = select(func.count()).select_from(AuditEvent).where(AuditEvent.dossier == dossier)
        assert await session.scalar(audit) == 0
    # And nobody reading the dossier takes it for an open case.
    with pytest.raises(CaseNotFound, match="its opening was refused"):
        await view_case(stack.client, stack.settings, dossier)


async def test_forged_starts_open_nothing_and_a_signed_start_opens_its_case(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    async with real_stack(dev_env.client, tmp_path) as stack:
        async with stack.sessions() as session, session.begin():
            await add_officer(
                session,
                NewOfficer("off-mtl-1", "Agente", "off@parcours.example", "montreal", "fr,en"),
            )
        address, namespace = address_of(dev_env.client), dev_env.client.namespace

        async def forged_start(client: Client, inp: CaseInput) -> str:
            await client.start_workflow(
                WORKFLOW_TYPE,
                inp,
                id=workflow_id_for(inp.approval.dossier),
                task_queue=stack.settings.task_queue,
            )
            return inp.approval.dossier

        forged: list[str] = []
        # The reviewer's attacker: the frontend's address and nothing else (plaintext, which
        # the codec still reads for histories written before keys).
        keyless = await Client.connect(address, namespace=namespace)
        forged.append(await forged_start(keyless, new_case()))
        # Holding a leaked payload key, still without the signing key.
        attacker = await Client.connect(
            address, namespace=namespace, data_converter=stack.client.data_converter
        )
        now = datetime.now(UTC)
        own_key = Signer((dataclasses.replace(new_key("x"), key_id=TEST_SIGNING_KEY.key_id),))
        inp = new_case()
        wf = workflow_id_for(inp.approval.dossier)
        forged.append(await forged_start(attacker, own_key.sign_start(wf, inp, now)))
        # A genuine signature, but too old (captured, say, from an earlier start's history).
        inp = new_case()
        wf = workflow_id_for(inp.approval.dossier)
        old = TEST_SIGNER.sign_start(wf, inp, now - timedelta(minutes=10))
        forged.append(await forged_start(attacker, old))
        # A genuine, fresh signature over the newcomer's own address, sent with the attacker's.
        inp = new_case("newcomer@example.org")
        wf = workflow_id_for(inp.approval.dossier)
        signed = TEST_SIGNER.sign_start(wf, inp, now)
        swapped = dataclasses.replace(
            signed, approval=dataclasses.replace(signed.approval, email=ATTACKER)
        )
        forged.append(await forged_start(attacker, swapped))
        for dossier in forged:
            await opened_nothing(stack, dossier)

        # A legitimate start right after, through the one path the interfaces use.
        good = new_case("amina@example.org")
        await start_case(stack.client, stack.settings, good.approval, good.policy)
        view = await settled_view(stack, good.approval.dossier)
        assert view.officer == "off-mtl-1"
        async with stack.sessions() as session:
            case = await session.get(Case, good.approval.dossier)
            assert case is not None and case.officer_id == "off-mtl-1"

        def welcomed() -> list[str]:
            return [m.get("X-RcptTo", "") for m in stack.catcher.messages()]

        for _ in range(200):
            if any("amina@example.org" in to for to in welcomed()):
                break
            await asyncio.sleep(0.05)
        recipients = welcomed()
        assert any("amina@example.org" in to for to in recipients), recipients
        # None of the forged runs sent anything: no welcome to the attacker's address.
        assert not any(ATTACKER in to for to in recipients), recipients


async def test_register_case_is_given_the_time_the_server_accepted_the_start(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    """Freshness is judged against when the server accepted the start, not when a worker got
    to it: a case started while no worker ran (a backlog, an outage) must still open when one
    comes back, so the workflow hands register_case the started event's time."""
    task_queue = f"tq-{uuid.uuid4().hex}"
    # The interfaces' client: the env's (signing), encrypted.
    config = dev_env.client.config()
    config["data_converter"] = data_converter([TEST_PAYLOAD_KEY])
    interface = Client(**config)
    good = new_case("amina@example.org")
    settings = Settings(task_queue=task_queue)
    # A client that encrypts but cannot sign: refused before anything is sent.
    bare = dev_env.client.config()
    bare["data_converter"] = config["data_converter"]
    bare["interceptors"] = []
    unsigning = Client(**bare)
    with pytest.raises(SigningKeysMissing, match="no signing keys"):
        await start_case(unsigning, settings, good.approval, good.policy)
    with pytest.raises(RPCError) as missing:
        await interface.get_workflow_handle(workflow_id_for(good.approval.dossier)).describe()
    assert missing.value.status == RPCStatusCode.NOT_FOUND
    await start_case(interface, settings, good.approval, good.policy)
    await asyncio.sleep(2)  # no worker on this queue yet
    async with real_stack(dev_env.client, tmp_path, task_queue=task_queue) as stack:
        async with stack.sessions() as session, session.begin():
            await add_officer(
                session,
                NewOfficer("off-mtl-1", "Agente", "off@parcours.example", "montreal", "fr,en"),
            )
        view = await settled_view(stack, good.approval.dossier)
        assert view.officer == "off-mtl-1"
        history = await stack.client.get_workflow_handle(
            workflow_id_for(good.approval.dossier)
        ).fetch_history()
    started = history.events[0].event_time.ToDatetime(tzinfo=UTC)
    first_task = next(
        e.event_time.ToDatetime(tzinfo=UTC)
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED
    )
    assert first_task - started >= timedelta(seconds=2)
    # register_case is a local activity (v8), whose input history does not keep:
    # tests/workflows/test_opening.py checks that it is handed the started event's time.
    assert local_activities(list(history.events))[0] == "register_case"
