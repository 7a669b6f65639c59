"""`python -m bench.baseline.start ADDRESS QUEUE PREFIX COUNT [REMIND_AFTER_S]`: start COUNT
baseline cases with the concurrency `parcours import` uses, in a process of its own as
`parcours import` is, so that both start rates include the same kind of overhead."""

from __future__ import annotations

import asyncio
import os
import sys

from temporalio.client import Client

from bench.baseline.workflow import BaselineInput, BaselinePathway
from parcours.infrastructure.codec import keyring
from parcours.infrastructure.config import Settings
from parcours.infrastructure.payload_codec import data_converter
from parcours.interfaces.cli.intake import IMPORT_CONCURRENCY


async def start_all(client: Client, queue: str, prefix: str, count: int, remind: float) -> None:
    ids = iter(range(count))

    async def starter() -> None:
        for i in ids:
            case = f"{prefix}{i:06d}"
            await client.start_workflow(
                BaselinePathway.run,
                BaselineInput(case=case, remind_after_s=remind),
                id=f"baseline-{case}",
                task_queue=queue,
            )

    await asyncio.gather(*(starter() for _ in range(min(IMPORT_CONCURRENCY, count))))


async def amain(address: str, queue: str, prefix: str, count: str, remind: str = "0") -> None:
    client = await Client.connect(
        address, data_converter=data_converter(keyring(Settings.from_env()))
    )
    await start_all(client, queue, prefix, int(count), float(remind))


if __name__ == "__main__":
    asyncio.run(amain(*sys.argv[1:6]))
    sys.stdout.flush()
    # As `parcours` does: skip interpreter finalization, which can abort while the SDK's
    # runtime threads are still winding down.
    os._exit(0)
