"""A no-op case of the same shape as NewcomerPathway.

Opening: one activity (register), then four concurrently (two events, two emails), as the
pathway does. A stall timer fires one escalation (two activities). An approval queues three
effects (two events, one email), a check-in one event; both answer at once, as the pathway's
handlers do. Continue-as-new when the server suggests it.
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
    pending: list[str] = field(default_factory=list)


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

    @workflow.run
    async def run(self, inp: BaselineInput) -> None:
        s = self.s
        if not s.opened:
            await self._activity(REGISTER)
            await asyncio.gather(*(self._activity(k) for k in (RECORD, NOTIFY, RECORD, NOTIFY)))
            s.opened = True
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
        while self.s.pending:
            self.in_flight += 1
            asyncio.create_task(self._carry_out(self.s.pending.pop(0)))

    async def _carry_out(self, kind: str) -> None:
        await self._activity(kind)
        self.in_flight -= 1
        self.version += 1

    async def _activity(self, name: str) -> None:
        await workflow.execute_activity(name, start_to_close_timeout=timedelta(seconds=30))

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
