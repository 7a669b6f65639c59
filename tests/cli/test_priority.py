"""People before bulk work (parcours/kernel/priorities.py), against a real dev server: an
import opens its cases at bulk priority, `parcours start` at people's, and an officer's action
raises a bulk-opened case to people's priority before it runs."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.worker import Replayer

from parcours.infrastructure.store.cases import welcomed
from parcours.infrastructure.temporal import raise_priority
from parcours.kernel import priorities
from parcours.kernel.domain import workflow_id_for
from tests.cli.conftest import Cli, add_roster, dossier, eventually
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


def _approvals(tmp_path: Path, n: int) -> tuple[Path, list[str]]:
    dossiers = [dossier() for _ in range(n)]
    csv_path = tmp_path / "many.csv"
    csv_path.write_text(
        "dossier,name,email,arrival,region\n"
        + "".join(f"{d},Amina Diallo,amina@example.org,2030-01-15,montreal\n" for d in dossiers)
    )
    return csv_path, dossiers


async def test_a_paced_import_returns_with_all_but_its_last_few_cases_opened(
    cli: Cli, stack: Stack, tmp_path: Path
) -> None:
    # The window starts at 4 and grows by about one per window's worth of openings, so after
    # 40 starts it is at most 9 or so: when the command returns, the cases started before
    # the last window have opened (unpaced, all 40 are started in a blink and few are).
    await add_roster(cli)
    csv_path, dossiers = _approvals(tmp_path, 40)
    await cli.ok("import", str(csv_path))
    async with stack.sessions() as session:
        opened = await welcomed(session, dossiers)
    assert len(opened) >= 40 - 10


async def test_an_import_that_cannot_see_openings_goes_on_unpaced_and_says_so(
    stack: Stack, tmp_path: Path
) -> None:
    cli = Cli(
        dataclasses.replace(stack.settings, database_url="sqlite+aiosqlite:////dev/null/x.db")
    )
    csv_path, dossiers = _approvals(tmp_path, 5)
    code, out, err = await cli("import", str(csv_path))
    assert code == 0, err
    assert "cannot see its cases open in the read model: it opens the rest without pacing" in err
    assert out.count("started") == 5
