"""Scenario 5: a case with a weekly check-in over three years, driven back to back (a
synthetic driver: time does not change the history, since each check-in restarts the
four-week stall clock before it fires). Events per run, continue-as-new, replay time."""

from __future__ import annotations

import time
from typing import Any

from temporalio.client import Client, WorkflowHistory
from temporalio.converter import DataConverter
from temporalio.worker import Replayer

from bench.baseline.workflow import BaselineAction, BaselineInput, BaselinePathway
from bench.data import quebec_today
from bench.scenarios.common import Run
from bench.stack import BASELINE_QUEUE
from parcours.infrastructure.temporal import start_case, update_case, view_case
from parcours.infrastructure.worker import sandbox_mode, workflow_runner
from parcours.kernel.domain import Actor, NewcomerApproval, ProgressNote, Role
from parcours.kernel.policy import load_policy
from workflows.pathway import NewcomerPathway

DOSSIER = "H000001"
REPLAYS = 3


async def histories(client: Client, workflow_id: str) -> list[WorkflowHistory]:
    """Every run of a workflow id, oldest first."""
    runs = [wf async for wf in client.list_workflows(f"WorkflowId = '{workflow_id}'")]
    runs.sort(key=lambda wf: wf.start_time)
    return [
        await client.get_workflow_handle(workflow_id, run_id=wf.run_id).fetch_history()
        for wf in runs
    ]


async def replay_seconds(
    workflows: list[type[Any]],
    history: WorkflowHistory,
    mode: str,
    packages: tuple[str, ...],
    converter: DataConverter,
) -> list[float]:
    """Replays as the worker does them (its sandbox mode, `packages` as its workflow modules,
    its payload codec)."""
    replayer = Replayer(
        workflows=workflows,
        workflow_runner=workflow_runner(mode, packages),
        data_converter=converter,
    )
    out = []
    for _ in range(REPLAYS):
        t0 = time.perf_counter()
        await replayer.replay_workflow(history)
        out.append(time.perf_counter() - t0)
    return out


async def run_history(run: Run) -> None:
    st = run.stack
    client, settings = st.client, st.settings
    checkins, most = run.sizes.checkins, run.sizes.checkins_max
    run.say(f"history: {checkins} weekly check-ins (up to {most} to see continue-as-new)")
    approval = NewcomerApproval(
        dossier=DOSSIER,
        full_name="Personne Fictive H",
        email="h@bench.example.org",
        arrival_date=quebec_today().isoformat(),
        region="montreal",
    )
    await start_case(client, settings, approval, load_policy(None))
    view = await view_case(client, settings, DOSSIER)
    while view.officer is None:
        view = await view_case(client, settings, DOSSIER)
    actor = Actor(officer_id=view.officer, role=Role.OFFICER, region=view.region)
    done = 0
    while done < most:
        view = await update_case(
            client, settings, DOSSIER, "add_progress", ProgressNote(actor, f"semaine {done + 1}")
        )
        done += 1
        if done >= checkins and view.runs > 1:
            break
    ours = await histories(client, "newcomer-" + DOSSIER)

    handle = await client.start_workflow(
        BaselinePathway.run,
        BaselineInput(case="BH000001"),
        id="baseline-BH000001",
        task_queue=BASELINE_QUEUE,
    )
    for _ in range(done):
        await handle.execute_update(BaselinePathway.progress, BaselineAction())
    base = await histories(client, handle.id)

    longest = max(ours, key=lambda h: len(h.events))
    b_longest = max(base, key=lambda h: len(h.events))
    mode = sandbox_mode(run.stack.env | run.stack.worker_env)
    converter = client.data_converter
    replay = await replay_seconds([NewcomerPathway], longest, mode, ("workflows",), converter)
    b_replay = await replay_seconds(
        [BaselinePathway], b_longest, mode, ("bench.baseline",), converter
    )
    years = done / 52
    run.metric(
        "5 history growth",
        f"events in the longest run ({done} check-ins = {years:.1f} y)",
        len(longest.events),
        "events",
        baseline=len(b_longest.events),
        target="bounded by continue-as-new",
        met=True if len(ours) > 1 else None,
        note=f"{len(ours)} run(s): {', '.join(str(len(h.events)) for h in ours)} events"
        + ("" if len(ours) > 1 else "; no continue-as-new suggested yet at this length"),
    )
    run.metric(
        "5 history growth",
        "replay of the longest run (warm)",
        min(replay) * 1000,
        "ms",
        baseline=min(b_replay) * 1000,
        target="< 1000 ms",
        met=max(replay) < 1.0,
        note=f"first replay {replay[0] * 1000:.0f} ms",
    )
