"""Signatures as the workflow checks them, on the time-skipping server, whose clock runs ahead
of the wall clock once a test sleeps: an interface must sign with the time the workflow will
see (tests sign with the server's clock; production's interfaces and server share real time)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.client import Client, WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from parcours.application.refusals import message_of
from parcours.kernel import authz
from parcours.kernel.domain import (
    CaseInput,
    CaseState,
    CaseStatus,
    CaseView,
    NewcomerApproval,
    ProgressNote,
    Withdrawal,
    WithdrawalReason,
    workflow_id_for,
)
from tests.temporal_servers import TEST_SIGNER
from tests.workflows.conftest import OFFICER, TEST_POLICY, Pathway, days

NOTE = ProgressNote(OFFICER, "Appel de suivi")


async def rejected(client: Client, workflow_id: str, arg: object) -> str:
    handle = client.get_workflow_handle(workflow_id)
    with pytest.raises(WorkflowUpdateFailedError) as info:
        await handle.execute_update("add_progress", arg, result_type=CaseView)
    assert isinstance(info.value.cause, ApplicationError)
    assert info.value.cause.type == "Rejected"
    # The code and parameters the workflow refused with, as interfaces read them.
    return str(message_of(info.value))


async def test_signatures_are_checked_against_the_workflow_clock(pathway: Pathway) -> None:
    h = await pathway.start()
    await pathway.env.sleep(days(3))
    server_now = await pathway.env.get_current_time()
    assert server_now - datetime.now(UTC) > timedelta(days=2)  # the clocks have parted
    # A client with no signing key (the env's client signs; this one is bare but for the
    # payload codec, so that it can read why it is refused).
    bare = Client(
        pathway.client.service_client,
        namespace=pathway.client.namespace,
        data_converter=pathway.client.data_converter,
    )
    assert await rejected(bare, h.id, NOTE) == str(authz.refusal("signature_missing"))
    # Signed with the wall clock: days behind the workflow's, so stale.
    wall = TEST_SIGNER.sign(h.id, "add_progress", NOTE, datetime.now(UTC))
    assert "signature_stale" in await rejected(bare, h.id, wall)
    # Signed a little ahead of the workflow's clock is fine; far ahead is not.
    ahead = TEST_SIGNER.sign(h.id, "add_progress", NOTE, server_now + timedelta(seconds=30))
    view = await bare.get_workflow_handle(h.id).execute_update(
        "add_progress", ahead, result_type=CaseView
    )
    assert view.notes_count == 1
    later = TEST_SIGNER.sign(h.id, "add_progress", NOTE, server_now + timedelta(hours=1))
    assert "signature_stale" in await rejected(bare, h.id, later)
    # The env's client signs with the server's clock: accepted.
    view = await h.execute_update("add_progress", NOTE, result_type=CaseView)
    assert view.notes_count == 2


async def test_a_cancellation_request_from_a_bare_client_leaves_the_case_open(
    pathway: Pathway,
) -> None:
    """Cancelling needs no key: before IGNORE_CANCELLATION it ended the run ("canceled") while
    the case still said active, and no action could reach it again."""
    h = await pathway.start()
    bare = Client(pathway.client.service_client, namespace=pathway.client.namespace)
    await bare.get_workflow_handle(h.id).cancel()
    await pathway.env.sleep(days(1))
    # The case keeps working (an update to a closed run fails): a signed action goes through,
    # and the case still closes by withdrawal, its run completed rather than canceled.
    view = await h.execute_update("add_progress", NOTE, result_type=CaseView)
    assert view.notes_count == 1
    await bare.get_workflow_handle(h.id).cancel()  # a second request is ignored as well
    await h.execute_update(
        "withdraw",
        Withdrawal(reason="Parti", actor=OFFICER, reason_category=WithdrawalReason.LEFT_QUEBEC),
        result_type=CaseView,
    )
    assert (await h.result()).status == CaseStatus.WITHDRAWN  # a canceled run would raise


async def test_a_run_started_with_a_state_by_a_client_fails_before_any_effect(
    pathway: Pathway,
) -> None:
    """The state is the continue-as-new carry-over: a client that starts a case with one (say,
    an officer of its choice and the stages done) gets a failed run, nothing recorded or sent."""
    now = await pathway.env.get_current_time()
    approval = NewcomerApproval(
        dossier="T-forged-state",
        full_name="Forged",
        email="forged@example.org",
        arrival_date=now.date().isoformat(),
        region="montreal",
    )
    state = CaseState(
        approval=approval, policy=TEST_POLICY, officer_id="accomplice", started_at=now
    )
    bare = Client(pathway.client.service_client, namespace=pathway.client.namespace)
    handle = await bare.start_workflow(
        "NewcomerPathway",
        CaseInput(approval=approval, policy=TEST_POLICY, state=state),
        id=workflow_id_for(approval.dossier),
        task_queue=pathway.task_queue,
    )
    with pytest.raises(WorkflowFailureError) as info:
        await asyncio.wait_for(handle.result(), 30)  # before the fix the run went on
    assert isinstance(info.value.cause, ApplicationError)
    assert info.value.cause.type == "InvalidInput"
    assert pathway.back_office.events == [] and pathway.back_office.mails == []
