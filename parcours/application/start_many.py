"""Start many checked approvals, a few at a time: `parcours import` and the API's batches.

If Temporal cannot be reached, the items not yet started are refused with that reason and the
caller hears it once.

Officers first (issue 14): given a pacer that sees which cases have finished opening, the
starts are paced so that only `OpeningWindow.size` cases are opening at once, the window
sized by how long openings take (`parcours.kernel.pacing`). Without it, starts go as fast as
`concurrency` allows and the openings queue on the server and in the worker, in front of
every officer's action.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from parcours.application.intake import IntakeItem
from parcours.infrastructure.config import Settings
from parcours.infrastructure.tasks import stop_task
from parcours.infrastructure.temporal import require_payload_codec, require_signing, start_case
from parcours.kernel.domain import PolicySnapshot
from parcours.kernel.errors import CaseAlreadyExists, ParcoursError, TemporalUnavailable
from parcours.kernel.pacing import OpeningWindow

log = logging.getLogger(__name__)

# Which of these dossiers have finished opening (`store.cases.welcomed` through a session).
Opened = Callable[[Sequence[str]], Awaitable[set[str]]]

# How often a paced import looks for finished openings (one small indexed read), and how long
# one look may take before it counts as failed.
POLL_S = 0.05
POLL_TIMEOUT_S = 5.0
# Looks that fail in a row before the import stops pacing (a blip is retried, an outage is
# not waited out: pacing protects officers, it must never hold an import).
BLIND_AFTER_ERRORS = 3
# A case not seen opened after this long leaves the window anyway, and halves it: a stuck
# opening (its activity retrying through a read-model outage) must not hold the import for
# ever.
GIVE_UP_S = 30.0
# Cases given up in a row, none seen opened meanwhile, before the import stops pacing: the
# read model it reads is not the one the worker writes (a CLI with another
# PARCOURS_DATABASE_URL), or nothing opens at all; either way waiting teaches nothing.
BLIND_AFTER_GIVE_UPS = 8


def pacer_for(
    settings: Settings,
    sessions: Callable[[], Any],
    largest: int,
    unpaced: Callable[[], None] | None = None,
) -> Pacer | None:
    """The pacer of a bulk import reading the read model that `sessions` opens (an
    async_sessionmaker): at most `largest` cases opening, `settings.intake_queue` waiting.
    None when `settings` turn pacing off."""
    if not settings.intake_pacing:
        return None
    queue = float(settings.intake_queue)
    window = OpeningWindow(largest=max(largest, 2), low=queue / 2, high=queue)
    return Pacer(opened_in(sessions), window, unpaced=unpaced)


def opened_in(sessions: Callable[[], Any]) -> Opened:
    """`Opened` read from the read model that `sessions` opens (an async_sessionmaker)."""
    from parcours.infrastructure.store.cases import welcomed

    async def opened(dossiers: Sequence[str]) -> set[str]:
        async with sessions() as session:
            return await welcomed(session, dossiers)

    return opened


class Pacer:
    """The cases of one import that are opening now, against the window's size."""

    def __init__(
        self,
        opened: Opened,
        window: OpeningWindow,
        clock: Callable[[], float] = time.monotonic,
        unpaced: Callable[[], None] | None = None,
    ) -> None:
        self.opened = opened
        self.window = window
        self.clock = clock
        self.unpaced = unpaced  # told once if the import stops pacing
        self.busy = 0  # admitted: starting, or started and not yet seen opened
        self.opening: dict[str, float] = {}  # dossier -> when its start was sent
        self.blind = False
        self._errors = 0
        self._give_ups = 0
        self._changed = asyncio.Event()
        self._users = 0
        self._watcher: asyncio.Task[None] | None = None

    @contextlib.asynccontextmanager
    async def in_use(self) -> AsyncIterator[Pacer]:
        """While one import or more uses this pacer, one watcher looks for their openings. A
        pacer shared by a process's imports (the web's API batches) bounds them together, and
        keeps its window from one batch to the next; it starts afresh (paced, no errors
        counted) once nobody uses it."""
        self._users += 1
        if self._watcher is None:
            self._watcher = asyncio.create_task(self.watch())
        try:
            yield self
        finally:
            self._users -= 1
            if self._users == 0:
                watcher, self._watcher = self._watcher, None
                await stop_task(watcher)
                self.blind, self._errors, self._give_ups = False, 0, 0

    async def admit(self) -> float:
        """Wait for room in the window; returns when the start may be sent."""
        while not self.blind and self.busy >= self.window.size:
            self._changed.clear()
            await self._changed.wait()
        self.busy += 1
        return self.clock()

    def started(self, dossier: str, sent_at: float) -> None:
        self.opening[dossier] = sent_at

    def not_started(self) -> None:
        self._release(1)

    async def watch(self) -> None:
        """Until cancelled or blind: release the slots of the cases seen opened, and tell the
        window how long each took."""
        while not self.blind:
            await asyncio.sleep(POLL_S)
            if self.opening:
                await self._look()

    async def _look(self) -> None:
        try:
            done = await asyncio.wait_for(self.opened(list(self.opening)), POLL_TIMEOUT_S)
        except Exception as err:  # noqa: BLE001 - pacing is best effort, never the import's end
            self._errors += 1
            if self._errors >= BLIND_AFTER_ERRORS:
                self._go_blind(f"cannot see openings ({type(err).__name__})")
            return
        self._errors = 0
        now = self.clock()
        freed = 0
        for dossier, sent_at in list(self.opening.items()):
            if dossier in done:
                # Seen at a look, on average half a poll after it happened.
                self.window.opened(max(now - sent_at - POLL_S / 2, 1e-3))
                self._give_ups = 0
            elif now - sent_at >= GIVE_UP_S:
                self.window.gave_up()
                self._give_ups += 1
            else:
                continue
            del self.opening[dossier]
            freed += 1
        self._release(freed)
        if self._give_ups >= BLIND_AFTER_GIVE_UPS:
            self._go_blind(f"{self._give_ups} cases in a row not seen opened")

    def _go_blind(self, why: str) -> None:
        log.warning("paced import: %s; starting the rest without pacing", why)
        self.blind = True
        self._changed.set()
        if self.unpaced is not None:
            self.unpaced()

    def _release(self, n: int) -> None:
        if n:
            self.busy -= n
            self._changed.set()


async def start_many(
    client: Any,
    settings: Settings,
    policy: PolicySnapshot,
    items: Sequence[IntakeItem],
    *,
    concurrency: int,
    settled: Callable[[IntakeItem], None] | None = None,
    pacer: Pacer | None = None,
) -> TemporalUnavailable | None:
    """Start every pending item, `concurrency` at a time; `settled` hears of each as soon as
    its start is answered. With `pacer` (`pacer_for`), paced: at most its window of cases
    opening at once, shared with whoever else uses that pacer (see the module). Returns the
    error if Temporal could not be reached (the items not yet started are then refused with
    it), else None.

    Refuses the whole batch before starting any item when this client cannot encrypt or sign
    (no case starts in clear)."""
    todo = [i for i in items if i.result == "pending" and i.approval is not None]
    if not todo:
        return None
    require_payload_codec(client)
    require_signing(client)
    queue: asyncio.Queue[IntakeItem] = asyncio.Queue()
    for item in todo:
        queue.put_nowait(item)
    unreachable: list[TemporalUnavailable] = []

    async def start(item: IntakeItem) -> None:
        assert item.approval is not None
        sent_at = await pacer.admit() if pacer is not None else 0.0
        started = False
        try:
            if unreachable:  # heard while this start waited for room
                item.fail(unreachable[0])
                return
            try:
                item.workflow_id = await start_case(
                    client, settings, item.approval, policy, bulk=True
                )
                item.result = "started"
                started = True
            except CaseAlreadyExists:
                item.result = "exists"
            except TemporalUnavailable as err:
                unreachable.append(err)
                item.fail(err)
            except ParcoursError as err:
                item.fail(err)
        finally:
            if pacer is not None:
                if started:
                    pacer.started(item.approval.dossier, sent_at)
                else:
                    pacer.not_started()

    async def starter() -> None:
        while True:
            try:
                item = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            if unreachable:
                item.fail(unreachable[0])
            else:
                await start(item)
            if settled is not None:
                settled(item)

    async with pacer.in_use() if pacer is not None else contextlib.nullcontext():
        try:
            # A starter that fails unexpectedly stops the others (no start left waiting for
            # room that will never come) and is raised as itself, as a single start's would be.
            async with asyncio.TaskGroup() as starters:
                for _ in range(min(concurrency, len(todo))):
                    starters.create_task(starter())
        except BaseExceptionGroup as failed:
            raise failed.exceptions[0] from None
    if pacer is not None:
        log.info(
            "paced import: window %d at the end, shortest recent opening %.2f s, recent %.2f s",
            pacer.window.size,
            pacer.window.base or 0.0,
            pacer.window.recent or 0.0,
        )
    return unreachable[0] if unreachable else None
