"""v10 sends the emails of an opening and of an alarm from the worker, inside the workflow task
that decided them (a local activity). A slow mail server makes that task outlast its timeout:
the worker then completes it to heartbeat, and an officer's update can be taken in the next
task while the attempt goes on, or in the very task whose completion also records the email's
outcome and its fallback. Every history written so must replay: the fixture replays each case
it ran, as a worker that picks the case up after a crash would."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta

from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import WorkflowHandle

from parcours.infrastructure import temporal
from parcours.infrastructure.config import Settings
from parcours.kernel import activity_contract as contract
from parcours.kernel.domain import CaseView, ProgressNote, workflow_id_for
from tests.workflows.conftest import OFFICER, Pathway, days, settled
from workflows.pathway import NewcomerPathway

Case = WorkflowHandle[NewcomerPathway, CaseView]
NOTE = ProgressNote(actor=OFFICER, note="Appel fait")
# The worker heartbeats a workflow task at 80 % of its timeout: every 1.6 s here.
TASK_TIMEOUT = timedelta(seconds=2)
# (seconds per local attempt, seconds from the first attempt's start to the officer's update):
# both attempts fail, a second apart, so the email's outcome comes 1 + 2 x seconds after the
# first began. An update sent before the first heartbeat is taken in the task after it, from
# 1.6 s, and an outcome before the next heartbeat (3.2 s) lands in that same task; the others
# land in neighbouring tasks. Measured on an idle machine: the update and the outcome in one
# task in 11 of 13 such pairs.
TIMINGS = [(0.45, 0.3), (0.6, 0.3), (0.9, 0.3), (0.45, 1.0), (0.6, 1.0), (0.9, 1.0)]
# Longer than any of it takes, even on a loaded machine: a case that never gets there fails
# the test instead of hanging the suite.
PATIENCE_S = 60


def _tasks(events: list[HistoryEvent]) -> list[list[str]]:
    """What each workflow task's completion wrote: update acceptances and local activities
    (by activity type), in order."""
    tasks: list[list[str]] = []
    for e in events:
        if e.HasField("workflow_task_completed_event_attributes"):
            tasks.append([])
        elif e.HasField("workflow_execution_update_accepted_event_attributes"):
            tasks[-1].append("update")
        elif e.marker_recorded_event_attributes.marker_name == "core_local_activity":
            data = json.loads(e.marker_recorded_event_attributes.details["data"].payloads[0].data)
            tasks[-1].append(data["activity_type"])
    return tasks


async def _both_in_one_task(h: Case) -> bool:
    events = list((await h.fetch_history()).events)
    return any("update" in t and contract.SEND_NOTIFICATIONS in t for t in _tasks(events))


async def _note_after(pathway: Pathway, h: Case, seconds: float) -> None:
    """The officer's note, `seconds` after the case's first slow email attempt began."""
    async with asyncio.timeout(PATIENCE_S):
        await pathway.back_office.slow_mail_started[h.id].wait()
    await asyncio.sleep(seconds)
    view = await temporal.update_case(
        pathway.client, Settings(), h.id.removeprefix("newcomer-"), "add_progress", NOTE
    )
    assert view.officer == OFFICER.officer_id


def _slow(pathway: Pathway, seconds: float) -> str:
    """A dossier whose local email attempts take `seconds` each and both fail."""
    dossier = f"T-{uuid.uuid4().hex[:10].upper()}"
    pathway.back_office.slow_mail[workflow_id_for(dossier)] = (seconds, 2)
    return dossier


async def test_an_officer_acts_while_the_opening_waits_on_a_slow_mail_server(
    pathway: Pathway,
) -> None:
    cases = []
    for seconds, update_at in TIMINGS:
        h = await pathway.start(_slow(pathway, seconds), opened=False, task_timeout=TASK_TIMEOUT)
        cases.append((h, update_at))
    await asyncio.gather(*(_note_after(pathway, h, at) for h, at in cases))
    for h, _ in cases:
        await settled(h)
    mails = pathway.back_office.templates()
    assert mails.count("welcome") == mails.count("officer_assigned") == len(TIMINGS)
    assert pathway.back_office.kinds().count("progress_note") == len(TIMINGS)
    assert "email_failed" not in pathway.back_office.kinds()
    assert [await _both_in_one_task(h) for h, _ in cases].count(True) >= 1


async def test_an_officer_acts_while_an_alarm_waits_on_a_slow_mail_server(
    pathway: Pathway,
) -> None:
    cases = []
    arrival = await pathway.today() - days(1)
    for _ in TIMINGS:
        cases.append(await pathway.start(arrival=arrival, task_timeout=TASK_TIMEOUT))
    for h, (seconds, _) in zip(cases, TIMINGS, strict=True):
        pathway.back_office.slow_mail[h.id] = (seconds, 2)
    # Five days of silence after the arrival: each case reminds its officer, during the skip.
    skip = asyncio.create_task(pathway.env.sleep(days(5.2)))
    notes = [_note_after(pathway, h, at) for h, (_, at) in zip(cases, TIMINGS, strict=True)]
    await asyncio.gather(*notes)
    await skip
    for h in cases:
        await settled(h)
    # Every case reminded its officer (the note waited for that alarm's email), by the fallback.
    reminders = [m for m in pathway.back_office.mails if m.template == "stall_reminder"]
    assert len({m.key for m in reminders}) == len(TIMINGS)
    assert [await _both_in_one_task(h) for h in cases].count(True) >= 1
