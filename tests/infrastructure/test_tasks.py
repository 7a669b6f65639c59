"""Ending a background task: its cancellation ends there, the waiter's own does not."""

from __future__ import annotations

import asyncio

import pytest

from parcours.infrastructure.tasks import in_background, stop_task


async def test_stopping_cancels_the_task_and_waits_for_its_end() -> None:
    cleaned = asyncio.Event()

    async def watcher() -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            cleaned.set()

    task = asyncio.create_task(watcher())
    await asyncio.sleep(0)
    await stop_task(task)
    assert task.cancelled() and cleaned.is_set()


async def test_a_cancel_that_arrives_while_the_task_winds_down_is_not_swallowed() -> None:
    """The waiting task cancelled while the background task ends (a process told to stop at
    that moment) stays cancelled."""
    winding_down = asyncio.Event()
    started: list[asyncio.Task[None]] = []

    async def slow_to_stop() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            winding_down.set()
            await asyncio.sleep(1)
            raise

    async def waiter() -> None:
        task = asyncio.create_task(slow_to_stop())
        started.append(task)
        await asyncio.sleep(0)  # let it start, so that the cancel below meets its handler
        await stop_task(task)
        await asyncio.sleep(3600)  # reached only if the cancel below were swallowed

    outer = asyncio.create_task(waiter())
    await asyncio.wait_for(winding_down.wait(), 5)
    outer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(outer, 5)
    assert outer.cancelled()
    # The background task was asked to stop and ends on its own.
    await asyncio.wait(started, timeout=5)
    assert started[0].cancelled()


async def test_a_stale_cancel_count_does_not_turn_a_quiet_stop_into_a_cancel() -> None:
    """On Python 3.11 a TaskGroup whose child fails while the group is exiting leaves its
    parent's `cancelling()` count raised after the error is handled (the import's starters do
    this); stopping a watcher afterwards must not raise CancelledError."""

    async def failing() -> None:
        await asyncio.sleep(0.01)
        raise RuntimeError("a bug")

    async def watcher() -> None:
        await asyncio.sleep(3600)

    async def importer() -> str:
        task = asyncio.create_task(watcher())
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(failing())
        except BaseExceptionGroup:
            pass
        await stop_task(task)
        return "stopped"

    assert await asyncio.wait_for(importer(), 5) == "stopped"


async def test_a_task_told_to_end_otherwise_is_awaited_and_its_error_raised() -> None:
    stop = asyncio.Event()

    async def server() -> None:
        await stop.wait()
        raise OSError("port in use")

    task = asyncio.create_task(server())
    stop.set()
    with pytest.raises(OSError, match="port in use"):
        await stop_task(task, cancel=False)
    assert not task.cancelled()


async def test_work_in_the_background_runs_for_the_block_only() -> None:
    ticks: list[int] = []

    async def ticking() -> None:
        while True:
            ticks.append(1)
            await asyncio.sleep(0.001)

    async with in_background(ticking(), "ticking"):
        await asyncio.sleep(0.05)
        assert any(t.get_name() == "ticking" for t in asyncio.all_tasks())
    seen = len(ticks)
    await asyncio.sleep(0.02)
    assert seen > 0 and len(ticks) == seen
    assert not any(t.get_name() == "ticking" for t in asyncio.all_tasks())
