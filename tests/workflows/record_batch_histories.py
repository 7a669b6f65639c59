"""Record the batch workflow's histories the replay test replays:
`python -m tests.workflows.record_batch_histories`.

As tests/workflows/record_histories.py does for the pathway: run it before changing a
released version of workflows/batch.py, so the new code is proven against what the old one
wrote. Files go to tests/histories/batch/ (the pathway's replay test reads the folder above
only), named after BATCH_VERSION and the scenario, and are never edited afterwards. Recorded
unencrypted (the test server's client), as the pathway's are.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from pathlib import Path

from temporalio.client import Client
from temporalio.worker import Worker

from activities.batches import BatchWork
from parcours.application.batches import workflow_id_of
from parcours.infrastructure.signing import Verifier, install_verifier
from parcours.kernel.batches import BatchKind, BatchProgress, BatchRequest
from parcours.kernel.domain import (
    CaseInput,
    NewcomerApproval,
    Withdrawal,
    WithdrawalReason,
    workflow_id_for,
)
from tests.temporal_servers import TEST_SIGNING_KEY, run_histories, start_time_skipping
from tests.workflows.conftest import DIRECTOR, HISTORIES, TEST_POLICY, FakeBackOffice, settled
from tests.workflows.test_batch import LEAVING, FakeRoster
from workflows.batch import CaseBatch
from workflows.pathway import NewcomerPathway

# v1: first release (issue 17).
BATCH_VERSION = "v1"
BATCH_HISTORIES = HISTORIES / "batch"


async def departure_across_continue_as_new(client: Client, out: Path) -> list[Path]:
    """A departure over eight cases (one closed meanwhile, one missing) with a small event
    budget: windows of three, a continue-as-new, the officer left active (a case refused)."""
    cases_queue, batch_queue = f"tq-{uuid.uuid4()}", f"tq-batch-{uuid.uuid4()}"
    back_office = FakeBackOffice()
    roster = FakeRoster()
    work = BatchWork(None, Verifier((TEST_SIGNING_KEY,)), client)
    async with (
        Worker(
            client,
            task_queue=cases_queue,
            workflows=[NewcomerPathway],
            activities=back_office.activities(),
        ),
        Worker(
            client,
            task_queue=batch_queue,
            workflows=[CaseBatch],
            activities=roster.activities(work),
        ),
    ):
        dossiers = [f"H-{i}" for i in range(7)]
        for d in dossiers:
            handle = await client.start_workflow(
                NewcomerPathway.run,
                CaseInput(
                    approval=NewcomerApproval(
                        dossier=d,
                        full_name="Amina Diallo",
                        email="amina@example.org",
                        arrival_date="2030-01-15",
                        region="montreal",
                        language="es" if d == "H-3" else "fr",
                    ),
                    policy=TEST_POLICY,
                ),
                id=workflow_id_for(d),
                task_queue=cases_queue,
            )
            await settled(handle)
        await client.get_workflow_handle(workflow_id_for("H-0")).execute_update(
            NewcomerPathway.withdraw,
            Withdrawal(reason="parti", actor=DIRECTOR, reason_category=WithdrawalReason.OTHER),
        )
        roster.dossiers = dossiers
        request = BatchRequest(
            kind=BatchKind.SPREAD,
            dossiers=[*dossiers, "H-MISSING"],
            actor=DIRECTOR,
            deactivate=LEAVING,
            window=3,
            continue_as_new_after_events=40,
            batch_id="history-departure",
        )
        # Signed by the client's interceptor, as start_batch's is (which also wants the
        # payload codec: these histories are recorded in clear, as the pathway's are).
        await client.start_workflow(
            CaseBatch.run, request, id=workflow_id_of(request.batch_id), task_queue=batch_queue
        )
        batch = client.get_workflow_handle(
            workflow_id_of("history-departure"), result_type=BatchProgress
        )
        first_run = (await batch.describe()).run_id
        result: BatchProgress = await batch.result()
        assert result.finished and result.failed == 1 and result.refused == 1, result
        first = client.get_workflow_handle(batch.id, run_id=first_run)
        histories = await run_histories(client, first)
    assert len(histories) > 1, "no continue-as-new"
    paths = []
    for i, history in enumerate(histories, start=1):
        path = out / f"{BATCH_VERSION}-departure_across_continue_as_new-run{i}.json"
        path.write_text(history.to_json())
        paths.append(path)
    return paths


async def main() -> None:
    install_verifier([TEST_SIGNING_KEY])
    BATCH_HISTORIES.mkdir(parents=True, exist_ok=True)
    env = await start_time_skipping()
    try:
        written = await departure_across_continue_as_new(env.client, BATCH_HISTORIES)
    finally:
        await env.shutdown()
    for path in written:
        print(path, file=sys.stderr)


if __name__ == "__main__":
    asyncio.run(main())
