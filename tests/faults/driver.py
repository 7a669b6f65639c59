"""Drives cases through the pathway as officers would, through faults: every action is
retried until the case shows its effect (an update whose answer was lost may have applied)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, timedelta

from temporalio.client import Client

from parcours.infrastructure.config import Settings
from parcours.infrastructure.temporal import start_case, update_case, view_case
from parcours.kernel.domain import (
    Actor,
    CaseView,
    NewcomerApproval,
    PlanFiling,
    PlanItem,
    PolicySnapshot,
    Role,
    Stage,
    StageApproval,
    Withdrawal,
)
from parcours.kernel.errors import CaseAlreadyExists

CONCURRENCY = 40
# However the faults go, every case reaches the end of its route well within this (CI: a
# minute or two). Past it the test fails, naming the cases still on their way and what each
# last heard, rather than retrying for ever (a CI run once hung here until its 90 minutes).
DRIVE_WITHIN = 900.0
# Future arrival: the arrival stage's stall clock starts then, so escalations happen in
# francization only (seconds, in the fault policy). A year ahead: inside the arrival window
# (two years ahead) that register_case checks, whatever day the run is.
ARRIVAL = (date.today() + timedelta(days=365)).isoformat()


@dataclass
class Outcome:
    dossier: str
    route: str  # "employment" or "withdrawn"

    @property
    def expected(self) -> tuple[str, str | None]:
        return ("active", "employment") if self.route == "employment" else ("withdrawn", None)

    def expected_events(self) -> Counter[str]:
        c = Counter(case_opened=1, officer_assigned=1, plan_filed=1)
        if self.route == "employment":
            c.update(stage_approved=2, stage_started=2, escalated=3)
        else:
            c.update(case_withdrawn=1)
        return c

    def expected_emails(self) -> int:
        # welcome, officer_assigned, plan_filed, then 2 stage_started + 3 escalations, or the
        # withdrawal notice.
        return 8 if self.route == "employment" else 4


class CaseDriver:
    def __init__(
        self,
        client: Client,
        settings: Settings,
        policy: PolicySnapshot,
        alive: Callable[[], bool] | None = None,
    ) -> None:
        self.client = client
        self.settings = settings
        self.policy = policy
        # Whether a worker process still runs, in a test that never restarts them: without
        # one nothing can move, and the test fails at once rather than retry for 15 minutes.
        self.alive = alive
        self.gate = asyncio.Semaphore(CONCURRENCY)
        # What each case on its way last showed or answered: the failure's report.
        self.last: dict[str, str] = {}

    async def view(self, dossier: str) -> CaseView:
        return await view_case(self.client, self.settings, dossier)

    async def until(
        self, dossier: str, done: Callable[[CaseView], bool], act: Callable[[], Awaitable[object]]
    ) -> CaseView:
        """Act until the case shows `done`; errors (no worker, lost answer) mean try again."""
        while True:
            if self.alive is not None and not self.alive():
                raise AssertionError("every worker process exited: see worker.log below")
            try:
                view = await self.view(dossier)
                self.last[dossier] = (
                    f"{view.status.value}/{view.stage and view.stage.value} "
                    f"level {view.escalation_level}, {view.pending_effects} effects pending"
                )
                if done(view):
                    return view
                await act()
            except Exception as err:
                self.last[dossier] = f"{type(err).__name__}: {str(err).splitlines()[0:1]}"
                await asyncio.sleep(0.5)

    async def wait(self, dossier: str, done: Callable[[CaseView], bool]) -> CaseView:
        async def nothing() -> None:
            await asyncio.sleep(0.5)

        return await self.until(dossier, done, nothing)

    async def drive(self, dossier: str, route: str) -> Outcome:
        async with self.gate:
            approval = NewcomerApproval(
                dossier=dossier,
                full_name=f"Personne {dossier}",
                email=f"{dossier.lower()}@newcomer.example",
                arrival_date=ARRIVAL,
                region="montreal",
                language="en",
            )
            while True:
                try:
                    await start_case(self.client, self.settings, approval, self.policy)
                    break
                except CaseAlreadyExists:
                    break
                except Exception:
                    await asyncio.sleep(0.5)
            view = await self.wait(dossier, lambda v: v.officer is not None)
            assert view.officer is not None
            me = Actor(officer_id=view.officer, role=Role.OFFICER, region="montreal")
            upd = self._update(dossier)
            plan = PlanFiling(
                me, [PlanItem(Stage.FRANCIZATION, "400 h"), PlanItem(Stage.EMPLOYMENT, "CV")]
            )
            await self.until(dossier, lambda v: bool(v.plan), lambda: upd("file_plan", plan))
            if route == "withdrawn":
                await self.until(
                    dossier,
                    lambda v: v.status.value == "withdrawn",
                    lambda: upd("withdraw", Withdrawal(reason="declined services", actor=me)),
                )
                return Outcome(dossier, route)
            await self.until(
                dossier,
                lambda v: v.stage != Stage.ARRIVAL,
                lambda: upd("approve_stage", StageApproval(me, Stage.ARRIVAL)),
            )
        # Francization stalls on purpose: the ladder climbs to level 3 in seconds.
        await self.wait(dossier, lambda v: v.escalation_level == 3)
        async with self.gate:
            await self.until(
                dossier,
                lambda v: v.stage == Stage.EMPLOYMENT,
                # The francization item is still open: an approval then needs a note (issue 16).
                lambda: upd(
                    "approve_stage", StageApproval(me, Stage.FRANCIZATION, note="Cours terminés")
                ),
            )
        return Outcome(dossier, route)

    def _update(self, dossier: str) -> Callable[[str, object], Awaitable[object]]:
        async def call(name: str, arg: object) -> object:
            return await update_case(self.client, self.settings, dossier, name, arg)

        return call

    async def drive_many(self, dossiers: list[str]) -> list[Outcome]:
        routes = ["withdrawn" if i % 10 == 9 else "employment" for i in range(len(dossiers))]
        done: set[str] = set()

        async def driven(dossier: str, route: str) -> Outcome:
            outcome = await self.drive(dossier, route)
            done.add(dossier)
            return outcome

        try:
            async with asyncio.timeout(DRIVE_WITHIN):
                return list(
                    await asyncio.gather(
                        *(driven(d, r) for d, r in zip(dossiers, routes, strict=True))
                    )
                )
        except TimeoutError:
            stuck = [d for d in dossiers if d not in done]
            report = "; ".join(f"{d}: {self.last.get(d, 'not started')}" for d in stuck[:20])
            raise AssertionError(
                f"{len(stuck)} of {len(dossiers)} cases not at the end of their routes after "
                f"{DRIVE_WITHIN:.0f}s: {report}"
            ) from None

    async def all_settled(self, outcomes: list[Outcome]) -> bool:
        """Every case done deciding and carrying out: no effect pending anywhere."""
        for o in outcomes:
            try:
                view = await self.view(o.dossier)
            except Exception:
                return False
            if view.pending_effects or (view.status.value, view.stage and view.stage.value) != (
                o.expected[0],
                o.expected[1],
            ):
                return False
        return True
