"""Ending the asyncio tasks a process runs beside its main work (watchers, reporters, servers)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from typing import Any


async def stop_task(task: asyncio.Task[Any], *, cancel: bool = True) -> None:
    """Cancel `task` (unless it was told to end some other way: `cancel=False`) and wait until
    it has ended. Its own cancellation ends here, and any other error of it is raised. A
    cancellation asked of the task that waits (a process told to stop at that moment) goes on
    at once, without waiting further, where `contextlib.suppress(CancelledError)` around
    `await task` would have swallowed it.

    `asyncio.wait` tells the two apart: it raises only the waiter's own cancellation. (Asking
    `Task.cancelling()` cannot: on Python 3.11 a TaskGroup whose child failed during its exit
    leaves the count raised for good.)"""
    if cancel:
        task.cancel()
    await asyncio.wait({task})
    if not task.cancelled() and (error := task.exception()) is not None:
        raise error


@contextlib.asynccontextmanager
async def in_background(work: Coroutine[Any, Any, None], name: str) -> AsyncIterator[None]:
    """`work` as a task for the duration of the block, stopped (`stop_task`) on the way out."""
    task = asyncio.create_task(work, name=name)
    try:
        yield
    finally:
        await stop_task(task)
