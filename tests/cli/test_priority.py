"""People before bulk work (parcours/kernel/priorities.py), against a real dev server: an
import opens its cases at bulk priority, `parcours start` at people's, and an officer's action
raises a bulk-opened case to people's priority before it runs."""

from __future__ import annotations

from pathlib import Path

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.worker import Replayer

from parcours.infrastructure.temporal import raise_priority
from parcours.kernel import priorities
from parcours.kernel.domain import workflow_id_for
from tests.cli.test_end_to_end import Cli, add_roster, dossier, eventually
from tests.conftest import Stack
from workflows.pathway import NewcomerPathway


async def priority_of(client: Client, d: str) -> int:
    info = (await client.get_workflow_handle(workflow_id_for(d)).describe()).raw_description
    return info.workflow_execution_info.priority.priority_key


def test_bulk_opens_behind_people() -> None:
    assert priorities.for_start(bulk=True).priority_key == priorities.BULK_KEY
    assert priorities.for_start(bulk=False).priority_key == priorities.PEOPLE_KEY
    assert priorities.PEOPLE_KEY < priorities.BULK_KEY < priorities.BACKGROUND_KEY


async def test_an_officer_raises_an_imported_case(cli: Cli, stack: Stack, tmp_path: Path) -> None:
    await add_roster(cli)
    imported, started = dossier(), dossier()
    csv_path = tmp_path / "approvals.csv"
    csv_path.write_text(
        "dossier,name,email,arrival,region\n"
        f"{imported},Amina Diallo,amina@example.org,2030-01-15,montreal\n"
    )
    await cli.ok("import", str(csv_path))
    await cli.ok(
        "start", "--dossier", started, "--name", "Carlos Ruiz", "--email", "carlos@example.org",
        "--arrival", "2030-01-20", "--region", "montreal",
    )  # fmt: skip
    assert await priority_of(stack.client, imported) == priorities.BULK_KEY
    assert await priority_of(stack.client, started) == priorities.PEOPLE_KEY

    async def assigned() -> bool:
        return bool((await cli.json("status", imported))["officer"])

    await eventually(assigned)
    officer = (await cli.json("status", imported))["officer"]
    await cli.ok("greet", imported, "--by", officer)
    assert await priority_of(stack.client, imported) == priorities.PEOPLE_KEY
    # The case goes on past the options event in its history (no command: replay unchanged).
    await cli.ok("progress", imported, "--by", officer, "--note", "Inscrite au CSS.")
    history = await stack.client.get_workflow_handle(workflow_id_for(imported)).fetch_history()
    kinds = [e.event_type for e in history.events]
    assert kinds.count(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_OPTIONS_UPDATED) == 1
    result = await Replayer(
        workflows=[NewcomerPathway], data_converter=stack.client.data_converter
    ).replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None


async def test_raising_a_missing_case_is_no_error(stack: Stack) -> None:
    await raise_priority(stack.client, dossier())
