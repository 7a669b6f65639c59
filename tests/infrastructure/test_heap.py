"""The worker's heap: start-up objects frozen, full collections timed and logged."""

from __future__ import annotations

import asyncio
import gc
import logging

import pytest

from parcours.infrastructure import heap
from parcours.infrastructure.heap import (
    LONG_PAUSE_S,
    YOUNG_GENERATION,
    CollectorWatch,
    Pauses,
    log_pauses,
    settle_startup_heap,
)

LOGGER = "parcours.test.heap"


def quiet(pauses: Pauses) -> bool:
    """No full collection in the period."""
    return (pauses.count, pauses.longest_s, pauses.total_s) == (0, 0.0, 0.0)


def test_settling_moves_what_exists_out_of_the_collectors_reach(
    collector_as_found: tuple[int, int, int],
) -> None:
    thresholds = collector_as_found
    kept = [object() for _ in range(100)]
    assert gc.get_freeze_count() == 0
    settle_startup_heap()
    frozen = gc.get_freeze_count()
    # Everything tracked at that moment (this test's list among it) is now permanent.
    assert frozen > len(kept)
    assert gc.get_count()[2] == 0
    # The young generation as configured (CPython's own by default); the older generations'
    # ratios stay.
    assert gc.get_threshold() == (YOUNG_GENERATION, *thresholds[1:])
    gc.unfreeze()
    assert gc.get_freeze_count() == 0


def test_an_operator_chooses_the_young_generation(
    collector_as_found: tuple[int, int, int],
) -> None:
    """PARCOURS_WORKER_GC_YOUNG: less memory for more frequent collections."""
    settle_startup_heap(5_000)
    assert gc.get_threshold() == (5_000, *collector_as_found[1:])


def test_the_watch_times_full_collections_only() -> None:
    watch = CollectorWatch()
    with watch.installed():
        gc.collect(0)
        gc.collect(1)
        assert quiet(watch.take())
        gc.collect()
        gc.collect()
        pauses = watch.take()
    assert pauses.count == 2
    assert 0 < pauses.longest_s <= pauses.total_s <= pauses.period_s
    # take() starts a new period, and an uninstalled watch hears nothing.
    gc.collect()
    assert quiet(watch.take())
    assert watch not in gc.callbacks


def test_a_full_collection_is_due_after_a_while_of_allocating(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [1000.0]
    monkeypatch.setattr(heap.time, "monotonic", lambda: now[0])
    watch = CollectorWatch()
    now[0] += 120
    # Idle since: no young collection, nothing to collect.
    assert not watch.full_collection_due(60)
    watch("stop", {"generation": 0})
    assert watch.full_collection_due(60) and not watch.full_collection_due(180)
    # A full collection (CPython's own or ours) starts the wait again.
    watch("start", {"generation": 2})
    watch("stop", {"generation": 2})
    assert watch.young_since_full == 0 and not watch.full_collection_due(60)
    now[0] += 60
    watch("stop", {"generation": 1})
    assert watch.full_collection_due(60)


async def test_collecting_runs_the_full_collection_that_is_due() -> None:
    watch = CollectorWatch()
    gc.disable()  # only explicit collections: the one seen is the watch's own
    try:
        async with watch.reporting(logging.getLogger(LOGGER)), watch.collecting(every_s=0.05):
            # Installed once though both contexts install it: each collection counted once.
            assert gc.callbacks.count(watch) == 1
            watch.take()
            gc.collect(0)  # the worker allocates
            assert watch.young_since_full == 1
            for _ in range(100):
                await asyncio.sleep(0.02)
                if watch.young_since_full == 0:
                    break
            collected = watch.young_since_full == 0
            pauses = watch.take()
    finally:
        gc.enable()
    assert collected and pauses.count == 1
    assert watch not in gc.callbacks


def test_the_net_runs_only_above_cpythons_young_generation() -> None:
    assert not heap.needs_collection_net(700)
    assert heap.needs_collection_net(701) and heap.needs_collection_net(50_000)


def test_a_period_runs_from_the_last_take(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter([100.0, 400.0, 410.0])
    monkeypatch.setattr(heap.time, "monotonic", lambda: next(clock))
    watch = CollectorWatch()
    assert watch.take().period_s == 300.0
    # The last period of a worker that stops is what ran since the last report.
    assert watch.take().period_s == 10.0


def test_a_collection_during_take_lands_whole_in_one_period(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """take() allocates, and an allocation can start a full collection in the very thread
    that takes: that collection is reported once, in this period or the next."""
    watch = CollectorWatch()
    real_period = heap._Period

    def collecting_period(started: float) -> heap._Period:
        watch("start", {"generation": 2})
        watch("stop", {"generation": 2})
        return real_period(started)

    monkeypatch.setattr(heap, "_Period", collecting_period)
    first = watch.take()
    monkeypatch.setattr(heap, "_Period", real_period)
    second = watch.take()
    assert first.count + second.count == 1


def test_a_collection_that_ends_without_a_start_is_not_counted() -> None:
    watch = CollectorWatch()
    watch("stop", {"generation": 2})
    assert quiet(watch.take())


def test_long_pauses_are_a_warning_short_ones_information(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logger = logging.getLogger(LOGGER)
    caplog.set_level(logging.INFO, logger=LOGGER)
    log_pauses(logger, Pauses(period_s=300))
    assert caplog.records == []
    log_pauses(logger, Pauses(3, 0.12, 0.3, 300))
    log_pauses(logger, Pauses(1, LONG_PAUSE_S, LONG_PAUSE_S, 300))
    first, second = caplog.records
    assert first.levelno == logging.INFO
    assert "3 full collections in the last 300 s" in first.getMessage()
    assert "longest held the worker 120 ms (300 ms in all)" in first.getMessage()
    assert second.levelno == logging.WARNING


def test_reporting_logs_each_period_and_the_last_on_the_way_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logger = logging.getLogger(LOGGER)
    caplog.set_level(logging.INFO, logger=LOGGER)

    async def run() -> None:
        async with CollectorWatch().reporting(logger, every_s=0.05) as watch:
            assert watch in gc.callbacks
            gc.collect()
            # A period passes: its collection is reported while the worker runs.
            for _ in range(100):
                await asyncio.sleep(0.01)
                if caplog.records:
                    break
            assert len(caplog.records) == 1
            gc.collect()
        assert watch not in gc.callbacks

    asyncio.run(run())
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2, messages
    assert all("1 full collections" in m for m in messages)
