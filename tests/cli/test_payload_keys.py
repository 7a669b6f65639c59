"""Without payload keys the CLI sends no personal data to Temporal: `start` and `import` refuse
before starting anything (the codec reads plaintext for old histories, so a case started in
clear would run without anyone noticing), and reading an encrypted case says what is missing.
"""

from __future__ import annotations

import dataclasses
import uuid
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.converter import DataConverter
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from parcours.infrastructure.codec import new_key
from parcours.infrastructure.temporal import PayloadKeysMissing, update_case
from parcours.kernel.domain import Actor, ProgressNote, Role, workflow_id_for
from tests.cli.conftest import Cli, add_roster, eventually
from tests.conftest import Stack, real_stack
from tests.temporal_servers import TEST_PAYLOAD_KEY

REFUSED = (
    "no payload keys: names and emails would reach Temporal in clear; make one with "
    "`parcours keys new KID` and set PARCOURS_CODEC_KEYS (or PARCOURS_CODEC_KEY_FILE); "
    "`parcours dev` makes its own"
)


def keyless(stack: Stack) -> Cli:
    """The stack's CLI with its signing keys but no payload keys."""
    return Cli(dataclasses.replace(stack.settings, codec_keys=None, codec_key_file=None))


async def never_started(stack: Stack, dossier: str) -> bool:
    try:
        await stack.client.get_workflow_handle(workflow_id_for(dossier)).describe()
    except RPCError as err:
        return err.status == RPCStatusCode.NOT_FOUND
    return False


def start_args(dossier: str) -> list[str]:
    return [
        "start", "--dossier", dossier, "--name", "Xavier Yelle", "--email", "x@example.org",
        "--arrival", "2030-01-15", "--region", "montreal",
    ]  # fmt: skip


async def test_start_without_payload_keys_refuses_and_starts_nothing(stack: Stack) -> None:
    d = f"NOKEY-{uuid.uuid4().hex[:8].upper()}"
    assert await keyless(stack).fails(*start_args(d)) == REFUSED
    assert await never_started(stack, d)
    # The same command with the keys starts the case: the refusal is about the keys only.
    await Cli(stack.settings).ok(*start_args(d))
    assert not await never_started(stack, d)


async def test_import_without_payload_keys_refuses_the_whole_file(
    stack: Stack, tmp_path: Path
) -> None:
    dossiers = [f"NOKEY-{uuid.uuid4().hex[:8].upper()}" for _ in range(3)]
    csv_path = tmp_path / "rows.csv"
    csv_path.write_text(
        "dossier,name,email,arrival,region\n"
        + "".join(f"{d},Xavier Yelle,x{n}@example.org,2030-01-15,montreal\n" for n, d in
                  enumerate(dossiers))
    )  # fmt: skip
    assert await keyless(stack).fails("import", str(csv_path)) == REFUSED
    for d in dossiers:
        assert await never_started(stack, d)


async def test_status_of_an_encrypted_case_without_the_keys_says_so(stack: Stack) -> None:
    cli = Cli(stack.settings)
    await add_roster(cli)
    d = f"ENC-{uuid.uuid4().hex[:8].upper()}"
    await cli.ok(*start_args(d))

    await eventually(lambda: _assigned(cli, d))
    assert await keyless(stack).fails("status", d) == (
        f"dossier {d}: the case is encrypted and this process has no payload keys: "
        "set PARCOURS_CODEC_KEYS (or PARCOURS_CODEC_KEY_FILE) to the keys the worker uses"
    )
    # Keys that are not the worker's: the worker cannot read the query, and says so encrypted.
    wrong = Cli(dataclasses.replace(stack.settings, codec_keys=new_key("other-1").spec()))
    assert await wrong.fails("status", d) == (
        f"dossier {d}: the worker could not read the query (its reason is encrypted): "
        "is this process's current payload key in the worker's keyring?"
    )
    # An action without keys stops at reading the case; `update_case` itself refuses a
    # client without the codec before sending the note.
    refused = await keyless(stack).fails("progress", d, "--by", "atremblay", "--note", "x")
    assert refused.startswith(f"dossier {d}: the case is encrypted")
    config = stack.client.config()
    config["data_converter"] = DataConverter.default
    plain = Client(**config)
    note = ProgressNote(Actor("atremblay", Role.OFFICER, "montreal"), "Confidentiel")
    with pytest.raises(PayloadKeysMissing, match="^no payload keys"):
        await update_case(plain, stack.settings, d, "add_progress", note)
    assert (await cli.json("status", d))["notes_count"] == 0


async def test_status_after_the_worker_rotated_names_the_missing_key(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    """The workers moved to a new current key; a CLI host still on the old ring reads (and
    writes) with the old key, which the workers keep, but cannot read what they now write."""
    new = new_key("rotated-2")
    async with real_stack(dev_env.client, tmp_path, payload_keys=(new, TEST_PAYLOAD_KEY)) as s:
        cli = Cli(s.settings)
        await add_roster(cli)
        d = f"ROT-{uuid.uuid4().hex[:8].upper()}"
        await cli.ok(*start_args(d))
        await eventually(lambda: _assigned(cli, d))
        old_host = Cli(dataclasses.replace(s.settings, codec_keys=TEST_PAYLOAD_KEY.spec()))
        assert await old_host.fails("status", d) == (
            f"dossier {d}: cannot decrypt the case: payload encrypted with key rotated-2, "
            "which is not in the keyring (test-payload-1)"
        )


async def _assigned(cli: Cli, dossier: str) -> bool:
    return (await cli.json("status", dossier))["officer"] is not None
