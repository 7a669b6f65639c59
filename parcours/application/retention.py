"""Retention of personal data: the messages of the sweep, and its Temporal Schedule.

A Schedule (`parcours retention install`; `parcours dev` installs it too) starts the small
`RetentionSweep` workflow once a day; the workflow calls the `purge_personal_data` activity,
which erases the personal data of cases closed more than PARCOURS_RETENTION_DAYS days ago
(infrastructure/store/retention.py). The cut-off is computed from workflow time, so the sweep is
deterministic and testable with the time-skipping server.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from parcours.infrastructure.config import Settings
from parcours.kernel import priorities
from parcours.kernel.retention import WORKFLOW_TYPE, SweepInput

SCHEDULE_ID = "parcours-retention"
EVERY = timedelta(days=1)


def schedule(settings: Settings, every: timedelta = EVERY) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            WORKFLOW_TYPE,
            SweepInput(retention_days=settings.retention_days),
            # The schedule appends the start time: one id per sweep, no personal data.
            id=SCHEDULE_ID,
            task_queue=settings.task_queue,
            # A sweep waits behind every case (parcours/kernel/priorities.py).
            priority=priorities.BACKGROUND,
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        # A sweep still running (a huge backlog) is not joined by a second one.
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


async def install_schedule(client: Client, settings: Settings, every: timedelta = EVERY) -> str:
    """Create the schedule, or bring an existing one in line with the settings (retention
    days, task queue); returns "created" or "updated"."""
    wanted = schedule(settings, every)
    try:
        await client.create_schedule(SCHEDULE_ID, wanted)
        return "created"
    except ScheduleAlreadyRunningError:

        async def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=wanted)

        await client.get_schedule_handle(SCHEDULE_ID).update(replace)
        return "updated"
