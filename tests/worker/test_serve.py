"""`serve()`, as `python worker.py` runs it: the heap settled before it takes work, the
collector's pauses watched while it runs and reported on the way out (parcours/infrastructure
/heap.py holds the pieces; this holds the wiring)."""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import logging
import re
import uuid
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from parcours.infrastructure.heap import YOUNG_GENERATION, CollectorWatch
from parcours.infrastructure.worker import serve
from tests.conftest import real_stack


def watching() -> bool:
    return any(isinstance(callback, CollectorWatch) for callback in gc.callbacks)


async def test_serve_settles_the_heap_and_reports_the_collector_on_the_way_out(
    dev_env: WorkflowEnvironment,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    collector_as_found: tuple[int, int, int],
) -> None:
    caplog.set_level(logging.INFO, logger="parcours.infrastructure.worker")
    async with real_stack(dev_env.client, tmp_path) as stack:
        # An operator's young generation (PARCOURS_WORKER_GC_YOUNG), not the default.
        young = YOUNG_GENERATION * 2 + 1
        settings = dataclasses.replace(
            stack.settings, task_queue=f"tq-{uuid.uuid4().hex}", worker_gc_young=young
        )
        stop = asyncio.Event()
        served = asyncio.create_task(serve(settings, stop, stack.client))
        try:
            for _ in range(400):
                if watching() or served.done():
                    break
                await asyncio.sleep(0.05)
            assert watching(), "serve() never installed the collector's watch"
            # Start-up's objects were frozen before the worker took any work, and the young
            # generation set as configured.
            assert gc.get_freeze_count() > 0
            assert gc.get_threshold()[0] == young
            # Above CPython's own young generation, the full-collection net runs.
            assert any(t.get_name() == "gc-full" for t in asyncio.all_tasks())
            gc.collect()  # a full collection while it serves: reported on the way out
        finally:
            stop.set()
            await asyncio.wait_for(served, 60)
    assert not watching()
    assert not any(t.get_name() == "gc-full" for t in asyncio.all_tasks())
    reports = [
        r.getMessage() for r in caplog.records if r.getMessage().startswith("garbage collector")
    ]
    assert reports, caplog.text
    assert re.match(r"garbage collector: [1-9]\d* full collections in the last \d+ s", reports[-1])
    assert "worker stopped" in caplog.text
