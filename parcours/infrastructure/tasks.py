"""Ending the asyncio tasks a process runs beside its main work (watchers, reporters, servers)."""

from __future__ import annotations

import asyncio
from typing import Any


async def stop_task(task: asyncio.Task[Any], *, cancel: bool = True) -> None:
    """Cancel `task` (unless it was told to end some other way: `cancel=False`) and wait until
    it has ended. Its own cancellation ends here; a cancellation asked of the task that waits
    (a process told to stop at that moment) goes on, where `contextlib.suppress` would have
    swallowed it. Any other error of `task` is raised."""
    if cancel:
        task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise
