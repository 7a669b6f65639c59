"""Scenario 4: an officer's action as the CLI makes it (query, then an approval by update),
timed in-process so that the interpreter's start-up is not counted."""

from __future__ import annotations

import asyncio
import time
from datetime import date

from bench.baseline.workflow import BaselineAction, BaselinePathway
from bench.data import write_approvals
from bench.scenarios.common import Run, percentile
from parcours.infrastructure.temporal import start_case, update_case, view_case
from parcours.interfaces.cli.intake import check_rows
from parcours.kernel.domain import (
    Actor,
    NewcomerApproval,
    PlanFiling,
    PlanItem,
    Role,
    Stage,
    StageApproval,
)
from parcours.kernel.inputs import ArrivalWindow
from parcours.kernel.policy import load_policy

# Where a latency case came from: `parcours import` (at bulk priority) or one start by a
# person (at people's priority); see parcours/kernel/priorities.py.
BULK = "bulk"
PERSON = "person"
PEOPLE_PREFIX = "P"
PERSON_OPENED = "case opened by a person"
# Ratio of p99 during intake to p99 idle, the target (issue 14, "Officers first").
DURING_OVER_IDLE = 3.0
# The two lists of a sample, (queries, approvals), as the samplers return them.
QUERIES, APPROVALS = 0, 1


def origin(dossier: str) -> str:
    return PERSON if dossier.startswith(PEOPLE_PREFIX) else BULK


def interleave(a: list[str], b: list[str]) -> list[str]:
    out: list[str] = []
    for i in range(max(len(a), len(b))):
        out += a[i : i + 1] + b[i : i + 1]
    return out


async def open_one_by_one(run: Run, prefix: str, count: int) -> list[str]:
    """Open `count` cases as `parcours start` does, one start each at people's priority (in
    this process: the CLI's start-up is not what is measured). Returns their dossiers."""
    path = write_approvals(run.tmp / f"{prefix.lower()}-people.csv", prefix, count)
    approvals = [
        r.approval for r in check_rows(path, ArrivalWindow(date.today())) if r.approval is not None
    ]
    policy = load_policy(None)
    limit = asyncio.Semaphore(8)

    async def one(approval: NewcomerApproval) -> None:
        async with limit:
            await start_case(run.stack.client, run.stack.settings, approval, policy)

    await asyncio.gather(*(one(a) for a in approvals))
    return [a.dossier for a in approvals]


async def sample_by_origin(
    run: Run, dossiers: list[str], spacing: float = 0.0
) -> dict[str, tuple[list[float], list[float]]]:
    """`sample_parcours`, its samples split by where each case came from; one officer's
    action every `spacing` seconds at most (0: one after the other)."""
    out: dict[str, tuple[list[float], list[float]]] = {BULK: ([], []), PERSON: ([], [])}
    loop = asyncio.get_running_loop()
    start = loop.time()
    for n, dossier in enumerate(dossiers):
        await asyncio.sleep(max(0.0, start + n * spacing - loop.time()))
        queries, updates = await sample_parcours(run, [dossier], pause=run.officer_pause)
        out[origin(dossier)][QUERIES].extend(queries)
        out[origin(dossier)][APPROVALS].extend(updates)
    return out


async def sample_parcours(
    run: Run, dossiers: list[str], pause: float = 0.0
) -> tuple[list[float], list[float]]:
    """For each case: query it, file a plan (untimed: approval needs one), wait `pause`
    seconds, approve arrival."""
    client, settings = run.stack.client, run.stack.settings
    queries: list[float] = []
    updates: list[float] = []
    for dossier in dossiers:
        t0 = time.perf_counter()
        view = await view_case(client, settings, dossier)
        queries.append(time.perf_counter() - t0)
        if view.officer is None:
            continue
        actor = Actor(officer_id=view.officer, role=Role.OFFICER, region=view.region)
        plan = PlanFiling(actor, [PlanItem(Stage.FRANCIZATION, "Cours de francisation")])
        await update_case(client, settings, dossier, "file_plan", plan)
        await asyncio.sleep(pause)
        t0 = time.perf_counter()
        await update_case(
            client, settings, dossier, "approve_stage", StageApproval(actor, Stage.ARRIVAL)
        )
        updates.append(time.perf_counter() - t0)
    return queries, updates


async def sample_baseline(
    run: Run, cases: list[str], pause: float = 0.0
) -> tuple[list[float], list[float]]:
    """`sample_parcours` on the bare baseline: query, a first update, wait `pause` seconds,
    the timed update."""
    client = run.stack.client
    queries: list[float] = []
    updates: list[float] = []
    for case in cases:
        handle = client.get_workflow_handle_for(BaselinePathway.run, f"baseline-{case}")
        t0 = time.perf_counter()
        await handle.query(BaselinePathway.view)
        queries.append(time.perf_counter() - t0)
        await handle.execute_update(BaselinePathway.progress, BaselineAction())
        await asyncio.sleep(pause)
        t0 = time.perf_counter()
        await handle.execute_update(BaselinePathway.approve, BaselineAction())
        updates.append(time.perf_counter() - t0)
    return queries, updates


def report_latency(
    run: Run,
    when: str,
    ours: tuple[list[float], list[float]],
    base: tuple[list[float], list[float]],
) -> None:
    idle = when == "idle"
    for kind, i in (("approve (update)", APPROVALS), ("query", QUERIES)):
        for p in (50, 99):
            value = percentile(ours[i], p)
            target = ""
            met = None
            if idle and p == 99 and i == APPROVALS:
                target = "< 300 ms"
                met = value is not None and value * 1000 < 300
            run.metric(
                "4 officer latency",
                f"{kind} p{p}, {when}",
                None if value is None else value * 1000,
                "ms",
                baseline=_ms(percentile(base[i], p)),
                target=target,
                met=met,
                note=f"n={len(ours[i])}{_paused(run, i)}",
            )


def _paused(run: Run, i: int) -> str:
    """The approval's note when it came after a pause (`--officer-pause`)."""
    if i != APPROVALS or not run.officer_pause:
        return ""
    return f", {run.officer_pause:g} s after the plan"


def _ms(v: float | None) -> float | None:
    return None if v is None else v * 1000


async def run_idle(run: Run) -> None:
    half = len(run.latency_dossiers) // 2
    run.say(f"latency, idle: {len(run.latency_dossiers) - half} officer actions")
    base = await sample_baseline(run, run.latency_baseline[half:], pause=run.officer_pause)
    by_origin = await sample_by_origin(
        run, interleave(run.latency_dossiers[half:], run.latency_people[half:])
    )
    report_latency(run, "idle", by_origin[BULK], base)
    if by_origin[PERSON][APPROVALS]:
        report_latency(run, f"idle, {PERSON_OPENED}", by_origin[PERSON], base)
    for key, label in ((BULK, "bulk-opened case"), (PERSON, PERSON_OPENED)):
        if key in run.during_intake:
            report_during_over_idle(run, label, run.during_intake[key], by_origin[key])


def report_during_over_idle(
    run: Run,
    label: str,
    during: tuple[list[float], list[float]],
    idle: tuple[list[float], list[float]],
) -> None:
    """The issue's target: p99 during intake at most 3x p99 idle (and ideally < 300 ms)."""
    judge = not run.sizes.scaled_down
    for kind, i in (("approve (update)", APPROVALS), ("query", QUERIES)):
        busy, calm = percentile(during[i], 99), percentile(idle[i], 99)
        if busy is None or calm is None or calm <= 0:
            continue
        ratio = busy / calm
        run.metric(
            "4 officer latency",
            f"{kind} p99 during intake / idle, {label}",
            ratio,
            "x",
            target=f"<= {DURING_OVER_IDLE:g} x (ideally < 300 ms)",
            met=(ratio <= DURING_OVER_IDLE) if judge else None,
            note=f"{busy * 1000:.0f} ms / {calm * 1000:.0f} ms, n={len(during[i])}/{len(idle[i])}"
            f"{_paused(run, i)}",
        )
