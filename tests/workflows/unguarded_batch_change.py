"""The batch workflow with a change no `workflow.patched` guards (tests/workflows/
test_replay_batch.py): in a module of its own, which the sandbox can import cleanly."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from parcours.kernel.batches import BatchProgress, BatchRequest

from workflows.batch import CaseBatch


@workflow.defn(name="CaseBatch")
class BatchWithAnUnguardedChange(CaseBatch):
    """A new command before the first one."""

    @workflow.run
    async def run(self, req: BatchRequest) -> BatchProgress:
        await workflow.sleep(timedelta(seconds=1))
        return await super().run(req)
