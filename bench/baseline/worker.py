"""`python -m bench.baseline.worker ADDRESS TASK_QUEUE COUNTS_FILE`: the baseline worker.

Same sandbox mode (its own workflow module shared or isolated as the product's are) and cache
size as the product's worker; its activity counts go to a JSON file
four times a second for the harness to read.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from pathlib import Path

from temporalio.client import Client
from temporalio.worker import Worker

from bench.baseline.activities import Counting
from bench.baseline.workflow import BaselinePathway
from parcours.infrastructure.codec import keyring
from parcours.infrastructure.config import Settings
from parcours.infrastructure.payload_codec import data_converter
from parcours.infrastructure.worker import cache_size, metrics_runtime, workflow_runner


async def _write_counts(counting: Counting, path: Path, stop: asyncio.Event) -> None:
    while not stop.is_set():
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(dict(counting.counts)))
        os.replace(tmp, path)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.25)


async def amain(address: str, task_queue: str, counts_file: str) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    # The product's payload keys (the stack's env): both sides pay for the same encryption.
    converter = data_converter(keyring(Settings.from_env()))
    client = await Client.connect(address, runtime=metrics_runtime(), data_converter=converter)
    counting = Counting()
    worker = Worker(
        client,
        task_queue=task_queue,
        workflows=[BaselinePathway],
        activities=[counting.register, counting.record, counting.notify],
        workflow_runner=workflow_runner(workflow_packages=("bench.baseline",)),
        max_cached_workflows=cache_size(),
    )
    writer = asyncio.create_task(_write_counts(counting, Path(counts_file), stop))
    async with worker:
        await stop.wait()
    await writer


if __name__ == "__main__":
    asyncio.run(amain(*sys.argv[1:4]))
