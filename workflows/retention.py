"""The retention sweep: erase personal data of long-closed cases, batch after batch.

Started once a day by the `parcours-retention` Schedule (application/retention.py). Short-lived,
so its history stays small whatever the backlog (a batch per activity call).
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from parcours.kernel import activity_contract as contract
    from parcours.kernel.retention import PurgeReport, PurgeRequest, SweepInput

# Enough batches for a large backlog in one sweep; the next day's sweep takes the rest.
MAX_BATCHES = 200


@workflow.defn
class RetentionSweep:
    @workflow.run
    async def run(self, inp: SweepInput) -> PurgeReport:
        now = workflow.now()
        closed_before = now - timedelta(days=inp.retention_days)
        total = PurgeReport()
        for _ in range(MAX_BATCHES):
            batch: PurgeReport = await workflow.execute_activity(
                contract.PURGE_PERSONAL_DATA,
                PurgeRequest(closed_before=closed_before, at=now, batch_size=inp.batch_size),
                result_type=PurgeReport,
                start_to_close_timeout=timedelta(minutes=5),
                retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=5)),
            )
            total.cases += batch.cases
            total.audit_texts += batch.audit_texts
            total.emails += batch.emails
            if not batch.more:
                break
        else:
            total.more = True
        workflow.logger.info("retention: %d case(s) purged", total.cases)
        return total
