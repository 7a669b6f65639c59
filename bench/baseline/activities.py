"""No-op activities that only count, so the harness can tell when the baseline is done.

Counts are of items (a batch of two emails counts two), as the product's outbox counts rows.
"""

from __future__ import annotations

from collections import Counter

from temporalio import activity

from bench.baseline.workflow import NOTIFY, RECORD, REGISTER, BaselineBatch


class Counting:
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    @activity.defn(name=REGISTER)
    async def register(self, batch: BaselineBatch) -> None:
        self.counts[REGISTER] += batch.items

    @activity.defn(name=RECORD)
    async def record(self, batch: BaselineBatch) -> None:
        self.counts[RECORD] += batch.items

    @activity.defn(name=NOTIFY)
    async def notify(self, batch: BaselineBatch) -> None:
        self.counts[NOTIFY] += batch.items
