"""A workflow edit made without `workflow.patched`, for the replay test to catch.

Kept in its own module because the sandbox re-imports the module that defines a workflow.
"""

from __future__ import annotations

import asyncio

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from parcours.kernel.domain import CaseInput, CaseView
    from workflows.pathway import NewcomerPathway


@workflow.defn(name="NewcomerPathway")
class PathwayWithAnUnguardedChange(NewcomerPathway):
    """A new timer before anything else: the commands of old histories no longer match."""

    @workflow.run
    async def run(self, inp: CaseInput) -> CaseView:
        await asyncio.sleep(1)
        return await super().run(inp)
