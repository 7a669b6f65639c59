"""What the scenarios share: the run context, bounded waits, percentiles, starters."""

from __future__ import annotations

import asyncio
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.report import Metric, Report
from bench.sizes import Sizes
from bench.stack import BASELINE_QUEUE, Stack

WORKFLOW_PREFIX = "newcomer-"


@dataclass
class Run:
    stack: Stack
    sizes: Sizes
    report: Report
    # Latency cases opened by the warm-up: half for "during intake", half for "idle".
    latency_dossiers: list[str]
    latency_baseline: list[str]
    # Latency cases opened one by one, as a person does (`parcours start`), at people's
    # priority; the import's are opened in bulk (parcours/kernel/priorities.py).
    latency_people: list[str] = field(default_factory=list)
    # Officer latency samples during intake, (queries, updates) by origin of the case: the
    # idle scenario judges them against its own.
    during_intake: dict[str, tuple[list[float], list[float]]] = field(default_factory=dict)
    # Cases opened end to end per second, ours and the baseline's, once intake has measured
    # them: the storm sizes its lead time from them.
    open_rate: float | None = None
    baseline_open_rate: float | None = None
    # Seconds between an officer's plan and the approval that scenario 4 times (`--officer-
    # pause`). At 0 the approval reaches the case while the plan's events and email are still
    # in flight, and waits for the workflow task that settles them.
    officer_pause: float = 0.0

    @property
    def tmp(self) -> Path:
        return self.stack.dir

    def metric(self, *args: object, **kwargs: object) -> Metric:
        return self.report.add(Metric(*args, **kwargs))  # type: ignore[arg-type]

    def say(self, message: str) -> None:
        print(f"bench: {message}", file=sys.stderr, flush=True)


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0-100)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


async def wait_until(check: Callable[[], bool], within: float, every: float = 0.25) -> float | None:
    """Seconds until `check()` held, or None if it did not `within` seconds (bounded)."""
    started = time.perf_counter()
    while True:
        if check():
            return time.perf_counter() - started
        if time.perf_counter() - started > within:
            return None
        await asyncio.sleep(every)


async def start_baseline(
    run: Run, prefix: str, count: int, remind_after_s: float = 0
) -> tuple[float, int]:
    """Start `count` baseline cases from a process of their own; (seconds, exit code)."""
    started = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.baseline.start",
        run.stack.settings.temporal_address or "",
        BASELINE_QUEUE,
        prefix,
        str(count),
        str(remind_after_s),
        env=run.stack.env,
    )
    code = await proc.wait()
    return time.perf_counter() - started, code


async def import_cases(
    run: Run, csv_path: Path, *extra: str, env: dict[str, str] | None = None
) -> tuple[float, int, str]:
    """`parcours import FILE` as an operator runs it (`env` over the run's CLI environment);
    (seconds, exit code, last stderr line)."""
    code, _out, err, seconds = await run.stack.cli("import", str(csv_path), *extra, env=env)
    last = err.strip().splitlines()[-1] if err.strip() else ""
    return seconds, code, last


def prefix_like(prefix: str) -> str:
    return f"{prefix}%"
