"""An officer's action in the moment between a case's start and its officer's assignment."""

from __future__ import annotations

import asyncio
from datetime import UTC, timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError

from parcours.infrastructure import temporal
from parcours.infrastructure.config import Settings
from parcours.kernel import activity_contract as contract
from parcours.kernel.domain import STILL_OPENING, ProgressNote
from parcours.kernel.errors import UpdateRejected
from tests.temporal_servers import local_activities
from tests.workflows.conftest import OFFICER, Pathway, settled
from workflows.pathway import NewcomerPathway

NOTE = ProgressNote(actor=OFFICER, note="Premier appel")


async def test_an_action_right_after_the_start_waits_for_the_officer(pathway: Pathway) -> None:
    gate = pathway.back_office.assignment_gate = asyncio.Event()
    h = await pathway.start(opened=False)
    with pytest.raises(WorkflowUpdateFailedError) as raw:
        await h.execute_update(NewcomerPathway.add_progress, NOTE)
    assert STILL_OPENING in str(raw.value.cause)  # what the workflow says, unretried

    dossier = h.id.removeprefix("newcomer-")
    action = asyncio.create_task(
        temporal.update_case(pathway.client, Settings(), dossier, "add_progress", NOTE)
    )
    await asyncio.sleep(0.5)
    assert not action.done()  # still asking, not failed
    gate.set()
    view = await action
    assert view.officer == OFFICER.officer_id
    assert (await settled(h)).last_activity_at is not None
    assert pathway.back_office.kinds().count("progress_note") == 1


async def test_the_wait_for_an_officer_is_bounded(
    pathway: Pathway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(temporal, "OPENING_GRACE", timedelta(seconds=0.4))
    gate = pathway.back_office.assignment_gate = asyncio.Event()
    h = await pathway.start(opened=False)
    dossier = h.id.removeprefix("newcomer-")
    with pytest.raises(UpdateRejected, match="still_opening"):
        await temporal.update_case(pathway.client, Settings(), dossier, "add_progress", NOTE)
    gate.set()
    await settled(h)
    assert "progress_note" not in pathway.back_office.kinds()


async def test_the_opening_retries_while_the_read_model_is_down(pathway: Pathway) -> None:
    """v8: the opening's register_case and events run as local activities. A read model that
    fails is retried by the worker, with the activity's policy, and the case opens once."""
    pathway.back_office.register_failures = 2
    h = await pathway.start()
    view = await settled(h)
    assert view.officer == OFFICER.officer_id
    assert pathway.back_office.register_calls == 3
    assert pathway.back_office.kinds().count("case_opened") == 1
    assert [m.template for m in pathway.back_office.mails].count("welcome") == 1


async def test_register_case_is_given_the_time_the_server_accepted_the_start(
    pathway: Pathway,
) -> None:
    """The start's freshness is judged against the started event's time, not when a worker
    got to it (tests/security/test_forged_starts.py starts a case while no worker runs); the
    case opens at that time too."""
    h = await pathway.start()
    [req] = pathway.back_office.registered
    started = (await h.fetch_history()).events[0].event_time.ToDatetime(tzinfo=UTC)
    assert req.start_accepted_at == started
    assert req.signature is not None
    # v8: the opening's moment too, the same in every attempt of the first workflow task (a
    # worker killed there redoes register_case, which must see the same started_at).
    assert req.snapshot.started_at == started


async def test_opening_events_refused_for_good_do_not_fail_the_case(pathway: Pathway) -> None:
    """v8 records the opening's events in a local activity, whose permanent failure reaches
    the workflow as the ApplicationError itself (not an ActivityError): it is logged as any
    refused event is, and the case goes on, welcome email included."""
    pathway.back_office.refuse_event_kinds = {"case_opened", "officer_assigned"}
    h = await pathway.start()
    view = await settled(h)
    assert view.officer == OFFICER.officer_id and view.status == "active"
    assert "case_opened" not in pathway.back_office.kinds()
    assert [m.template for m in pathway.back_office.mails].count("welcome") == 1
    await h.execute_update(NewcomerPathway.add_progress, NOTE)
    await settled(h)
    assert "progress_note" in pathway.back_office.kinds()


async def test_the_opening_sends_its_emails_in_its_first_task(pathway: Pathway) -> None:
    """v10: the welcome and the officer's notice go out from the worker within the opening's
    workflow task (one local activity): no activity task is scheduled for them."""
    h = await pathway.start()
    await settled(h)
    assert pathway.back_office.mail_attempts == [True]
    assert sorted(pathway.back_office.templates()) == ["officer_assigned", "welcome"]
    history = await h.fetch_history()
    assert not any(e.HasField("activity_task_scheduled_event_attributes") for e in history.events)
    assert local_activities(list(history.events)) == [
        contract.REGISTER_CASE,
        contract.RECORD_EVENTS,
        contract.SEND_NOTIFICATIONS,
    ]


async def test_an_email_the_worker_could_not_send_goes_on_as_an_activity_task(
    pathway: Pathway,
) -> None:
    """v10: the mail server is down at the opening. The welcome's two local attempts fail
    (the case's task does not wait out the outage), then the activity task's retries send it
    once the server is back; the officer's actions meanwhile go through as usual."""
    pathway.back_office.mail_failures = 3
    h = await pathway.start()
    view = await settled(h)
    assert view.officer == OFFICER.officer_id and view.status == "active"
    assert pathway.back_office.mail_attempts == [True, True, False, False]
    assert sorted(pathway.back_office.templates()) == ["officer_assigned", "welcome"]
    await h.execute_update(NewcomerPathway.add_progress, NOTE)
    await settled(h)
    assert "email_failed" not in pathway.back_office.kinds()
    scheduled = [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in (await h.fetch_history()).events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]
    assert scheduled[0] == contract.SEND_NOTIFICATIONS


async def test_an_email_refused_for_good_in_the_worker_is_not_sent_again(
    pathway: Pathway,
) -> None:
    """v10: a permanent refusal in the local attempt is final, as in an activity task: the
    audit trail says so and no task retries it."""
    pathway.back_office.fail_mail_templates = {"welcome"}
    h = await pathway.start()
    await settled(h)
    assert pathway.back_office.mail_attempts == [True]
    assert pathway.back_office.templates() == ["officer_assigned"]
    assert pathway.back_office.kinds().count("email_failed") == 1
