"""The worker's heap and CPython's garbage collector.

A full collection walks every tracked object and holds the interpreter while it does: an
officer's update or query that reaches the worker then waits for it. Most of what it walks
is the workflow cache (about 150-180 objects per cached case), so the pause grows with
`PARCOURS_WORKER_CACHE`: on the benchmark's 2 cores, during an import, 140-250 ms at 1,000
cached cases (the default) and up to about 500-700 ms at 4,000 (README, "Performance"). This
module freezes what start-up built (so that no full collection walks it again), runs a full
collection at least every minute while the worker works (a safety net for a larger young
generation, under which the garbage of evicted cases is not otherwise counted), and reports
the pauses, so that an operator sees them in the worker's log. `parcours dev` runs the worker
in its own process, so its console and mail catcher share these settings.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

from parcours.infrastructure.config import Settings
from parcours.infrastructure.tasks import in_background

# Allocations between two young collections: PARCOURS_WORKER_GC_YOUNG, by default CPython's
# own 700 (the three generations and their thresholds are 3.11-3.13's). A full collection is
# weighed every YOUNG x 10 x 10 allocations and runs once the objects promoted to the old
# generation since the last reach a quarter of it: at 700 the worker ran one about every 10 s
# during an import, each up to ~500-700 ms with 4,000 cases cached, 140-250 ms with 1,000.
# Tried and not kept as the default, 50,000 (2026-12-04/05, README "Performance"): during a
# 10,000-case import full collections came every ~70 s and the officers' p99 fell, but few
# objects are promoted then, while cases evicted from the workflow cache die in the old
# generation uncounted. Filling 50,000 open cases, the worker ran one every ~15 min, 5.7-7.5 s
# each (the SDK's deadlock detector interrupted the workflow tasks in flight), peak RSS 1.5 GB.
# Bounded by FULL_COLLECTION_EVERY_S: 712 MiB at 50,000 open, but ~1 s collections once a
# minute, which the officers' p99 ran into during the import (three of four at 3.6-7.9 x idle).
YOUNG_GENERATION = Settings.worker_gc_young

# The longest the worker goes without a full collection while it allocates: a safety net for
# a large PARCOURS_WORKER_GC_YOUNG (above), under which the garbage of evicted cases would
# otherwise wait for minutes and make the collection that frees it seconds long. Only above
# CPython's own young generation (the worker does not run it at the default): there CPython's
# full collections come often enough, and a forced one would only add a pause to a quiet worker.
FULL_COLLECTION_EVERY_S = 60.0
CPYTHON_YOUNG = 700


def needs_collection_net(young: int) -> bool:
    """Whether a worker with this young generation runs `CollectorWatch.collecting()`."""
    return young > CPYTHON_YOUNG


# How often the worker logs the full collections of the period (when there were any).
REPORT_EVERY_S = 300.0
# A full collection this long is worth a warning: officers felt it.
LONG_PAUSE_S = 0.5


def settle_startup_heap(young: int = YOUNG_GENERATION) -> None:
    """Move what start-up built (modules, the sandbox's pass-through copies, the SDK's
    tables: about 100,000 objects that live as long as the process) out of the collector's
    reach: no full collection walks them again. Then set the young generation to `young`
    allocations (PARCOURS_WORKER_GC_YOUNG); the older generations' ratios are kept."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(young, middle, old)


@dataclass(frozen=True)
class Pauses:
    """The full collections of a period."""

    count: int = 0
    longest_s: float = 0.0
    total_s: float = 0.0
    # How long the period lasted.
    period_s: float = 0.0


@dataclass(slots=True)
class _Period:
    """The full collections counted since `started` (time.monotonic())."""

    started: float
    count: int = 0
    longest: float = 0.0
    total: float = 0.0

    def add(self, took: float) -> None:
        self.count += 1
        self.total += took
        self.longest = max(self.longest, took)


class CollectorWatch:
    """Times CPython's full (generation 2) collections, from the collector's own callbacks.

    The callback runs in whichever thread triggered the collection, holding the interpreter;
    it only does arithmetic on this object (no logging, no locks)."""

    def __init__(self) -> None:
        self._started: float | None = None
        now = time.monotonic()
        self._period = _Period(now)
        # When the last full collection ended, and the young collections since: whether the
        # worker allocated since (an idle worker needs no full collection).
        self.last_full_at = now
        self.young_since_full = 0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if info.get("generation") != 2:
            if phase == "stop":
                self.young_since_full += 1
            return
        if phase == "start":
            self._started = time.perf_counter()
        elif self._started is not None:
            took = time.perf_counter() - self._started
            self._started = None
            self.last_full_at = time.monotonic()
            self.young_since_full = 0
            self._period.add(took)

    def take(self) -> Pauses:
        """The pauses since the last take (or since the watch was made), and start a new
        period."""
        # One swap, then reads of the period swapped out: a collection that runs in between
        # (triggered by these very allocations) lands whole in one period or the next, never
        # between a read and a reset.
        ended, self._period = self._period, _Period(time.monotonic())
        return Pauses(ended.count, ended.longest, ended.total, self._period.started - ended.started)

    @contextlib.contextmanager
    def installed(self) -> Iterator[CollectorWatch]:
        """The watch among the collector's callbacks, once however deeply nested (reporting
        and collecting both install it)."""
        first = self not in gc.callbacks
        if first:
            gc.callbacks.append(self)
        try:
            yield self
        finally:
            if first:
                with contextlib.suppress(ValueError):
                    gc.callbacks.remove(self)

    def full_collection_due(self, every_s: float = FULL_COLLECTION_EVERY_S) -> bool:
        """No full collection for `every_s` while the worker allocated (young collections
        ran)."""
        return self.young_since_full > 0 and time.monotonic() - self.last_full_at >= every_s

    @contextlib.asynccontextmanager
    async def collecting(
        self, every_s: float = FULL_COLLECTION_EVERY_S
    ) -> AsyncIterator[CollectorWatch]:
        """Installed, with a task that runs a full collection when one is due
        (FULL_COLLECTION_EVERY_S). Its pause still counts against the workflow activations in
        flight (the SDK's 2 s deadlock limit); only keeping collections short avoids that."""

        async def collect() -> None:
            while True:
                await asyncio.sleep(min(every_s, max(1.0, every_s / 10)))
                if self.full_collection_due(every_s):
                    gc.collect()

        with self.installed():
            async with in_background(collect(), "gc-full"):
                yield self

    @contextlib.asynccontextmanager
    async def reporting(
        self, logger: logging.Logger, every_s: float = REPORT_EVERY_S
    ) -> AsyncIterator[CollectorWatch]:
        """Installed, with a task that logs each period's pauses (and the last period's on
        the way out)."""

        async def report() -> None:
            while True:
                await asyncio.sleep(every_s)
                log_pauses(logger, self.take())

        with self.installed():
            self.take()
            try:
                async with in_background(report(), "gc-pauses"):
                    yield self
            finally:
                log_pauses(logger, self.take())


def log_pauses(logger: logging.Logger, pauses: Pauses) -> None:
    if pauses.count == 0:
        return
    level = logging.WARNING if pauses.longest_s >= LONG_PAUSE_S else logging.INFO
    logger.log(
        level,
        "garbage collector: %d full collections in the last %.0f s, the longest held the "
        "worker %.0f ms (%.0f ms in all); it grows with the workflow cache "
        "(PARCOURS_WORKER_CACHE), and full collections come sooner with a smaller young "
        "generation (PARCOURS_WORKER_GC_YOUNG)",
        pauses.count,
        pauses.period_s,
        pauses.longest_s * 1000,
        pauses.total_s * 1000,
    )
