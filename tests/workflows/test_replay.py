"""Replay every committed history against the current workflow code.

A history recorded from a released version must replay without a nondeterminism error:
that is what keeps months-long cases alive across deployments. To change the workflow's
command sequence, guard the change with `workflow.patched(...)` (README, "Changing the
workflow safely") and record new histories with `python -m tests.workflows.record_histories`.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

import workflows.effects as effects_module
import workflows.pathway as pathway_module
from parcours.kernel import activity_contract as contract
from tests.temporal_servers import local_activities
from tests.workflows.conftest import HISTORIES
from tests.workflows.unguarded_change import PathwayWithAnUnguardedChange
from workflows.pathway import (
    ALARM_EVENTS_LOCAL,
    CARRY_QUEUED_EFFECTS,
    MAIL_IN_TASK,
    OPENING_IN_ONE_TASK,
    PATCHES,
    NewcomerPathway,
)

HISTORY_FILES = sorted(HISTORIES.glob("*.json"))


def load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(path.stem, path.read_text())


def test_histories_are_committed() -> None:
    assert len(HISTORY_FILES) >= 2
    # At least one run that ended in continue-as-new, and one that closed the case.
    names = {p.stem for p in HISTORY_FILES}
    assert any(n.endswith("run2") for n in names)


def test_every_patch_has_a_committed_history() -> None:
    """The new branch of each `workflow.patched` is replayed too, not only the old one."""
    patches: set[str] = set()
    for path in HISTORY_FILES:
        for event in load(path).events:
            if event.HasField("marker_recorded_event_attributes"):
                for payloads in event.marker_recorded_event_attributes.details.values():
                    patches.update(p.data.decode() for p in payloads.payloads)
    for patch in PATCHES:
        assert any(patch in p for p in patches), (patch, patches)
    assert CARRY_QUEUED_EFFECTS in PATCHES


def scheduled(events: list[HistoryEvent]) -> list[str]:
    """The activity types a history schedules as activity tasks, in order."""
    return [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]


def patches_in(path: Path) -> list[str]:
    return [
        " ".join(
            p.data.decode()
            for payloads in e.marker_recorded_event_attributes.details.values()
            for p in payloads.payloads
        )
        for e in load(path).events
        if e.HasField("marker_recorded_event_attributes")
        and e.marker_recorded_event_attributes.marker_name == "core_patch"
    ]


def test_a_case_opened_by_v8_asks_no_earlier_patch() -> None:
    """A case opened by v8 code asks OPENING_IN_ONE_TASK once, first, and no other patch in
    any of its runs (effects.holds): no patch is asked after a local activity. Before v8 a
    first run asked several."""
    v8 = sorted(HISTORIES.glob("v8-*.json"))
    assert any(p.stem.endswith("run2") for p in v8)
    for path in v8:
        marks = patches_in(path)
        if path.stem.endswith("run1"):
            assert len(marks) == 1 and OPENING_IN_ONE_TASK in marks[0], (path.stem, marks)
        else:
            assert marks == [], (path.stem, marks)
    assert len(patches_in(HISTORIES / "v7-reassignment_notices-run1.json")) > 1


def test_v8_opens_in_its_first_task_but_reopens_with_activity_tasks() -> None:
    """The v8 histories keep the promises of `_opens_in_one_task`: a first opening's
    register_case and events are local activities of its first workflow task, an unassigned
    case's included (before its find_officer returns); a reopening's are activity tasks."""
    for name in ("v8-plan_items-run1", "v8-unassigned_picked_up-run1"):
        events = list(load(HISTORIES / f"{name}.json").events)
        first_task_end = next(
            i
            for i, e in enumerate(events)
            if e.HasField("workflow_task_started_event_attributes") and i > 2
        )
        assert local_activities(events[:first_task_end]) == [
            contract.REGISTER_CASE,
            contract.RECORD_EVENTS,
        ], name
    reopened = list(load(HISTORIES / "v8-reopened-run1.json").events)
    assert local_activities(reopened) == []
    assert scheduled(reopened)[0] == contract.REGISTER_CASE


def alarm_tasks(path: Path) -> list[list[HistoryEvent]]:
    """The events each workflow task woken by a fired timer wrote (its commands, up to the
    next task scheduled)."""
    events = list(load(path).events)
    tasks: list[list[HistoryEvent]] = []
    for i, e in enumerate(events):
        if not e.HasField("timer_fired_event_attributes"):
            continue
        done = next(
            j
            for j in range(i, len(events))
            if events[j].HasField("workflow_task_completed_event_attributes")
        )
        end = next(
            (
                j
                for j in range(done, len(events))
                if events[j].HasField("workflow_task_scheduled_event_attributes")
            ),
            len(events),
        )
        tasks.append(events[done:end])
    return tasks


def test_v9_records_the_alarms_events_in_the_alarms_task() -> None:
    """A case opened by v9 asks OPENING_IN_ONE_TASK then ALARM_EVENTS_LOCAL in its first task
    (before any local activity) and nothing in the runs it continues as; the events its alarm
    decides are a local activity of the alarm's own task, never an activity task (its emails
    still are). v8 wrote the same scenario with activity tasks."""
    v9 = sorted(HISTORIES.glob("v9-*.json"))
    assert any(p.stem.endswith("run3") for p in v9)
    for path in v9:
        marks = patches_in(path)
        if path.stem.endswith("run1"):
            assert len(marks) == 2, (path.stem, marks)
            assert OPENING_IN_ONE_TASK in marks[0] and ALARM_EVENTS_LOCAL in marks[1]
            kinds = [
                e.marker_recorded_event_attributes.marker_name
                for e in load(path).events
                if e.HasField("marker_recorded_event_attributes")
            ]
            # Both patches before the first local activity (effects.holds says why).
            assert kinds[:2] == ["core_patch", "core_patch"], (path.stem, kinds)
        else:
            assert marks == [], (path.stem, marks)
    rang = [t for p in v9 for t in alarm_tasks(p)]
    escalations = [t for t in rang if contract.SEND_NOTIFICATIONS in scheduled(t)]
    assert len(escalations) >= 4
    for task in rang:
        assert contract.RECORD_EVENTS not in scheduled(task)
    for task in escalations:
        assert local_activities(task) == [contract.RECORD_EVENTS]
    v8 = alarm_tasks(HISTORIES / "v8-late_enrolment_plan_due-run1.json")
    assert v8 and all(contract.RECORD_EVENTS in scheduled(t) for t in v8)
    assert all(local_activities(t) == [] for t in v8)


def test_v10_sends_the_openings_and_alarms_emails_in_their_task() -> None:
    """A case opened by v10 asks OPENING_IN_ONE_TASK, ALARM_EVENTS_LOCAL and MAIL_IN_TASK in
    its first task, before any local activity, and nothing in its continued runs. The emails
    of its opening and of its alarms are local activities of those tasks: an escalation writes
    no activity task. An email whose local attempts failed goes on as an activity task (the
    mail server was down at the opening of `mail_by_task`); emails decided by updates are
    activity tasks, as before."""
    v10 = sorted(HISTORIES.glob("v10-*.json"))
    assert any(p.stem.endswith("run2") for p in v10)
    for path in v10:
        marks = patches_in(path)
        if not path.stem.endswith("run1"):
            assert marks == [], (path.stem, marks)
            continue
        in_order = (OPENING_IN_ONE_TASK, ALARM_EVENTS_LOCAL, MAIL_IN_TASK)
        assert len(marks) == len(in_order), (path.stem, marks)
        for mark, patch in zip(marks, in_order, strict=True):
            assert patch in mark, (path.stem, marks)
        kinds = [
            e.marker_recorded_event_attributes.marker_name
            for e in load(path).events
            if e.HasField("marker_recorded_event_attributes")
        ]
        assert kinds[:3] == ["core_patch"] * 3, (path.stem, kinds)
        assert local_activities(list(load(path).events))[:3] == [
            contract.REGISTER_CASE,
            contract.RECORD_EVENTS,
            contract.SEND_NOTIFICATIONS,
        ], path.stem
    rang = [t for p in v10 for t in alarm_tasks(p)]
    escalations = [t for t in rang if contract.SEND_NOTIFICATIONS in local_activities(t)]
    assert len(escalations) >= 4
    for task in rang:
        assert scheduled(task) == [], scheduled(task)
    for task in escalations:
        assert local_activities(task) == [contract.RECORD_EVENTS, contract.SEND_NOTIFICATIONS]
    by_task = list(load(HISTORIES / "v10-mail_by_task-run1.json").events)
    assert scheduled(by_task)[0] == contract.SEND_NOTIFICATIONS
    assert local_activities(by_task) == [
        contract.REGISTER_CASE,
        contract.RECORD_EVENTS,
        contract.SEND_NOTIFICATIONS,
    ]


def test_holds_is_asked_only_of_the_patches_before_v8() -> None:
    """`effects.holds` answers yes without a marker for any patch in a v8 case: a patch added
    after v8 asked through it would replay v8 histories down its new branch."""
    before_v8 = set(PATCHES[: PATCHES.index(OPENING_IN_ONE_TASK)])
    asked: list[str] = []
    for module in (pathway_module, effects_module):
        for node in ast.walk(ast.parse(inspect.getsource(module))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "holds":
                asked.append(getattr(module, ast.unparse(node.args[1])))
    assert asked and set(asked) <= before_v8, set(asked) - before_v8


@pytest.mark.parametrize("path", HISTORY_FILES, ids=lambda p: p.stem)
async def test_committed_history_replays(path: Path) -> None:
    result = await Replayer(workflows=[NewcomerPathway]).replay_workflow(
        load(path), raise_on_replay_failure=True
    )
    assert result.replay_failure is None


async def test_an_unguarded_change_is_caught() -> None:
    with pytest.raises(NondeterminismError):
        await Replayer(workflows=[PathwayWithAnUnguardedChange]).replay_workflow(
            load(HISTORY_FILES[0])
        )
