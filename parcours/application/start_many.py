"""Start many checked approvals, a few at a time: `parcours import` and the API's batches.

If Temporal cannot be reached, the items not yet started are refused with that reason and the
caller hears it once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from parcours.application.intake import IntakeItem
from parcours.infrastructure.config import Settings
from parcours.infrastructure.temporal import require_payload_codec, require_signing, start_case
from parcours.kernel.domain import PolicySnapshot
from parcours.kernel.errors import CaseAlreadyExists, ParcoursError, TemporalUnavailable


async def start_many(
    client: Any,
    settings: Settings,
    policy: PolicySnapshot,
    items: Sequence[IntakeItem],
    *,
    concurrency: int,
    settled: Callable[[IntakeItem], None] | None = None,
) -> TemporalUnavailable | None:
    """Start every pending item, `concurrency` at a time; `settled` hears of each as soon as
    its start is answered. Returns the error if Temporal could not be reached (the items not
    yet started are then refused with it), else None.

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

    async def starter() -> None:
        while True:
            try:
                item = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            assert item.approval is not None
            if unreachable:
                item.fail(unreachable[0])
            else:
                try:
                    item.workflow_id = await start_case(
                        client, settings, item.approval, policy, bulk=True
                    )
                    item.result = "started"
                except CaseAlreadyExists:
                    item.result = "exists"
                except TemporalUnavailable as err:
                    unreachable.append(err)
                    item.fail(err)
                except ParcoursError as err:
                    item.fail(err)
            if settled is not None:
                settled(item)

    await asyncio.gather(*(starter() for _ in range(min(concurrency, len(todo)))))
    return unreachable[0] if unreachable else None
