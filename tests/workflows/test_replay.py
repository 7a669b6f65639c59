"""Replay every committed history against the current workflow code.

A history recorded from a released version must replay without a nondeterminism error:
that is what keeps months-long cases alive across deployments. To change the workflow's
command sequence, guard the change with `workflow.patched(...)` (README, "Changing the
workflow safely") and record new histories with `python -m tests.workflows.record_histories`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from tests.workflows.conftest import HISTORIES
from tests.workflows.unguarded_change import PathwayWithAnUnguardedChange
from workflows.pathway import CARRY_QUEUED_EFFECTS, PATCHES, NewcomerPathway

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
