"""A no-op case of the same shape as NewcomerPathway (v2, batched effects).

Opening: one activity (register), then two concurrently: one batch of two audit events and
one batch of two emails, as the pathway does since `batch-effects-per-workflow-task`. A stall
timer fires one escalation (an event batch and an email batch). An approval queues two events
and one email, a check-in one event; both answer at once, as the pathway's handlers do, and
the loop sends what a task queued as at most one batch of each kind. Continue-as-new when the
server suggests it.

The activities count items (events, emails), not calls, so the harness compares like with
like: N cases mean 2N emails for both.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta

from temporalio import workflow

REGISTER = "baseline_register"
RECORD = "baseline_record"
NOTIFY = "baseline_notify"
# The default policy's arrival stage: five days of silence before the first reminder.
DEFAULT_REMIND_AFTER = timedelta(days=5)


@dataclass
class BaselineInput:
    case: str
    remind_after_s: float = 0.0
    opened: bool = False
    level: int = 0
    stage: int = 0
    # Kinds (RECORD, NOTIFY) queued and not yet sent, one entry per item.
    pending: list[str] = field(default_factory=list)


@dataclass
class BaselineBatch:
    items: int = 1


@dataclass
class BaselineAction:
    note: str = ""


@dataclass
class BaselineView:
    case: str
    stage: int
    level: int
    pending: int


@workflow.defn(name="BaselinePathway")
class BaselinePathway:
    @workflow.init
    def __init__(self, inp: BaselineInput) -> None:
        self.s = inp
        self.version = 0
        self.in_flight = 0
        # Held so that a running batch is never garbage-collected mid-flight.
        self.batches: set[asyncio.Task[None]] = set()

    @workflow.run
    async def run(self, inp: BaselineInput) -> None:
        s = self.s
        if not s.opened:
            await self._activity(REGISTER, 1)
            s.opened = True
            s.pending += [RECORD, RECORD, NOTIFY, NOTIFY]
        remind_after = (
            timedelta(seconds=s.remind_after_s) if s.remind_after_s else DEFAULT_REMIND_AFTER
        )
        while True:
            self._dispatch()
            if workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(
                    lambda: (
                        not s.pending and not self.in_flight and workflow.all_handlers_finished()
                    )
                )
                workflow.continue_as_new(s)
            mark = self.version
            timeout = remind_after if s.level == 0 else None
            try:
                await workflow.wait_condition(
                    lambda mark=mark: self.version != mark,  # type: ignore[misc]
                    timeout=timeout,
                )
            except TimeoutError:
                s.level = 1
                s.pending += [RECORD, NOTIFY]
                self.version += 1

    def _dispatch(self) -> None:
        """What the task queued, as at most one batch of events and one of emails."""
        for kind in (RECORD, NOTIFY):
            items = self.s.pending.count(kind)
            if items:
                self.s.pending = [k for k in self.s.pending if k != kind]
                self.in_flight += 1
                task = asyncio.create_task(self._carry_out(kind, items))
                self.batches.add(task)
                task.add_done_callback(self.batches.discard)

    async def _carry_out(self, kind: str, items: int) -> None:
        await self._activity(kind, items)
        self.in_flight -= 1
        self.version += 1

    async def _activity(self, name: str, items: int) -> None:
        await workflow.execute_activity(
            name, BaselineBatch(items), start_to_close_timeout=timedelta(seconds=30)
        )

    @workflow.update
    async def approve(self, inp: BaselineAction) -> BaselineView:
        await workflow.wait_condition(lambda: self.s.opened)
        self.s.stage += 1
        self.s.level = 0
        self.s.pending += [RECORD, RECORD, NOTIFY]
        self.version += 1
        return self.view()

    @workflow.update
    async def progress(self, inp: BaselineAction) -> BaselineView:
        await workflow.wait_condition(lambda: self.s.opened)
        self.s.level = 0
        self.s.pending.append(RECORD)
        self.version += 1
        return self.view()

    @workflow.query
    def view(self) -> BaselineView:
        return BaselineView(self.s.case, self.s.stage, self.s.level, len(self.s.pending))
