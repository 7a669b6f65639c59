"""Scenario 4: an officer's action as the CLI makes it (query, then an approval by update),
timed in-process so that the interpreter's start-up is not counted."""

from __future__ import annotations

import time

from bench.baseline.workflow import BaselineAction, BaselinePathway
from bench.scenarios.common import Run, percentile
from parcours.infrastructure.temporal import update_case, view_case
from parcours.kernel.domain import Actor, PlanFiling, PlanItem, Role, Stage, StageApproval


async def sample_parcours(run: Run, dossiers: list[str]) -> tuple[list[float], list[float]]:
    """For each case: query it, file a plan (untimed: approval needs one), approve arrival."""
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
        t0 = time.perf_counter()
        await update_case(
            client, settings, dossier, "approve_stage", StageApproval(actor, Stage.ARRIVAL)
        )
        updates.append(time.perf_counter() - t0)
    return queries, updates


async def sample_baseline(run: Run, cases: list[str]) -> tuple[list[float], list[float]]:
    client = run.stack.client
    queries: list[float] = []
    updates: list[float] = []
    for case in cases:
        handle = client.get_workflow_handle_for(BaselinePathway.run, f"baseline-{case}")
        t0 = time.perf_counter()
        await handle.query(BaselinePathway.view)
        queries.append(time.perf_counter() - t0)
        await handle.execute_update(BaselinePathway.progress, BaselineAction())
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
    for kind, i in (("approve (update)", 1), ("query", 0)):
        for p in (50, 99):
            value = percentile(ours[i], p)
            target = ""
            met = None
            if idle and p == 99 and i == 1:
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
                note=f"n={len(ours[i])}",
            )


def _ms(v: float | None) -> float | None:
    return None if v is None else v * 1000


async def run_idle(run: Run) -> None:
    half = len(run.latency_dossiers) // 2
    run.say(f"latency, idle: {len(run.latency_dossiers) - half} officer actions")
    base = await sample_baseline(run, run.latency_baseline[half:])
    ours = await sample_parcours(run, run.latency_dossiers[half:])
    report_latency(run, "idle", ours, base)
