"""Scenario 6: the CLI's start-up as a person feels it. Each command is a fresh process, timed
from spawn to exit, against two baselines: an empty interpreter (`python -c pass`) and the
import of the Temporal client, the floor of any command that talks to Temporal.

Commands run one at a time against the run's own stack (its read model and server), after a
warm-up run each (the page cache holds the code, as on a machine in use). Each is reported
as its median with the p90 and the CPU time (user + system) in the note: on a shared machine
the CPU time moves less than the wall time.
"""

from __future__ import annotations

import asyncio
import os
import resource
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.scenarios.common import Run, percentile

SCENARIO = "6 cli start-up"
# Runs per command (issue 14: median over 10 runs on an idle machine).
RUNS = {"full": 10, "quick": 3, "smoke": 3}
# Targets, ms: absolute for commands that need no Temporal client, and for `status`, above
# the floor (the import of temporalio.client).
HELP_TARGET_MS = 300.0
READ_MODEL_TARGET_MS = 500.0
STATUS_OVER_FLOOR_MS = 250.0


@dataclass(frozen=True)
class Timing:
    wall_ms: list[float]
    cpu_ms: list[float]
    failures: int

    @property
    def median(self) -> float | None:
        return statistics.median(self.wall_ms) if self.wall_ms else None

    @property
    def p90(self) -> float | None:
        return percentile(self.wall_ms, 90)

    @property
    def cpu_median(self) -> float | None:
        return statistics.median(self.cpu_ms) if self.cpu_ms else None


def parcours_command() -> list[str]:
    """`parcours` as installed next to this interpreter (the console script people run)."""
    script = Path(sys.executable).with_name("parcours")
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "parcours.interfaces.cli.main"]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def _once(argv: Sequence[str], env: dict[str, str]) -> tuple[float, float, int]:
    cpu0 = _children_cpu()
    t0 = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        *argv,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    code = await proc.wait()
    return (time.perf_counter() - t0) * 1000, (_children_cpu() - cpu0) * 1000, code


async def time_command(argv: Sequence[str], env: dict[str, str], runs: int) -> Timing:
    await _once(argv, env)  # warm-up, not counted
    wall: list[float] = []
    cpu: list[float] = []
    failures = 0
    for _ in range(runs):
        ms, cpu_ms, code = await _once(argv, env)
        if code != 0:
            failures += 1
            continue
        wall.append(ms)
        cpu.append(cpu_ms)
    return Timing(wall, cpu, failures)


def _note(t: Timing) -> str:
    parts = [f"n={len(t.wall_ms)}"]
    if t.p90 is not None:
        parts.append(f"p90 {t.p90:.0f} ms")
    if t.cpu_median is not None:
        parts.append(f"cpu {t.cpu_median:.0f} ms")
    if t.failures:
        parts.append(f"{t.failures} runs FAILED")
    return ", ".join(parts)


async def run_cli(run: Run) -> None:
    runs = RUNS.get(run.sizes.name, RUNS["full"])
    judged = not run.sizes.scaled_down
    env = run.stack.env
    py = [sys.executable]
    cli = parcours_command()
    dossier = (run.latency_dossiers or ["D-0"])[0]
    run.say(f"cli start-up: {runs} runs per command")

    empty = await time_command([*py, "-c", "pass"], env, runs)
    floor = await time_command([*py, "-c", "import temporalio.client"], env, runs)
    run.metric(SCENARIO, "python -c pass, median", empty.median, "ms", note=_note(empty))
    run.metric(
        SCENARIO,
        "import temporalio.client, median",
        floor.median,
        "ms",
        baseline=empty.median,
        note=_note(floor),
    )

    commands: list[tuple[str, list[str], float | None]] = [
        ("parcours --help", ["--help"], HELP_TARGET_MS),
        ("parcours officers list --json", ["officers", "list", "--json"], READ_MODEL_TARGET_MS),
        ("parcours caseload --json", ["caseload", "--json"], READ_MODEL_TARGET_MS),
        ("parcours status D --json", ["status", dossier, "--json"], None),
    ]
    for label, args, target_ms in commands:
        timing = await time_command([*cli, *args], env, runs)
        value = timing.median
        if target_ms is None:  # status: against its floor
            limit = None if floor.median is None else floor.median + STATUS_OVER_FLOOR_MS
            target = f"< floor + {STATUS_OVER_FLOOR_MS:.0f} ms"
            baseline = floor.median
        else:
            limit = target_ms
            target = f"< {target_ms:.0f} ms"
            baseline = empty.median
        met = None
        if judged and value is not None and limit is not None and not timing.failures:
            met = value < limit
        run.metric(
            SCENARIO,
            f"{label}, median",
            value,
            "ms",
            baseline=baseline,
            target=target,
            met=met,
            note=_note(timing),
        )
