"""Replay the batch workflow's committed histories (tests/histories/batch/, recorded by
tests/workflows/record_batch_histories.py) against the current code: a batch running during
a deployment must resume on the new worker as it would have on the old one."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from tests.workflows.record_batch_histories import BATCH_HISTORIES
from tests.workflows.unguarded_batch_change import BatchWithAnUnguardedChange
from workflows.batch import CaseBatch

HISTORY_FILES = sorted(BATCH_HISTORIES.glob("*.json"))


def load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(path.stem, path.read_text())


def test_batch_histories_are_committed() -> None:
    names = {p.stem for p in HISTORY_FILES}
    assert any(n.endswith("run1") for n in names) and any(n.endswith("run2") for n in names)


@pytest.mark.parametrize("path", HISTORY_FILES, ids=lambda p: p.stem)
async def test_committed_batch_history_replays(path: Path) -> None:
    result = await Replayer(workflows=[CaseBatch]).replay_workflow(
        load(path), raise_on_replay_failure=True
    )
    assert result.replay_failure is None


async def test_an_unguarded_change_to_the_batch_is_caught() -> None:
    with pytest.raises(NondeterminismError):
        await Replayer(workflows=[BatchWithAnUnguardedChange]).replay_workflow(
            load(HISTORY_FILES[0])
        )


def test_every_committed_history_is_replayed_by_one_of_the_replay_tests() -> None:
    """The pathway's replay test reads tests/histories/ and this one its batch/ folder: a
    history recorded anywhere else (a new subfolder) would be committed and never replayed."""
    from tests.workflows import test_replay

    replayed = set(test_replay.HISTORY_FILES) | set(HISTORY_FILES)
    committed = set(test_replay.HISTORIES.rglob("*.json"))
    assert committed == replayed, sorted(str(p) for p in committed ^ replayed)
