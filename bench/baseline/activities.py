"""No-op activities that only count, so the harness can tell when the baseline is done."""

from __future__ import annotations

from collections import Counter

from temporalio import activity

from bench.baseline.workflow import NOTIFY, RECORD, REGISTER


class Counting:
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    @activity.defn(name=REGISTER)
    async def register(self) -> None:
        self.counts[REGISTER] += 1

    @activity.defn(name=RECORD)
    async def record(self) -> None:
        self.counts[RECORD] += 1

    @activity.defn(name=NOTIFY)
    async def notify(self) -> None:
        self.counts[NOTIFY] += 1
