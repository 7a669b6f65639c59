"""Scenario 7 (issue 17): an officer leaves holding N open cases among M open.

`parcours officers deactivate ID --redistribute` runs as an operator runs it; measured: the
time until every one of the N cases is reassigned (its audit row) and its new officer emailed
(the reassignment's `officer_assigned` notice), against the bare baseline doing N updates in
the same run, the same number at a time as the batch sends (workflows/batch.py WINDOW). And
officers' own actions meanwhile: the approval's p99 during the departure against idle.

Set up (untimed): the open cases topped up to M by `parcours import`, then the leaving officer
given exactly N of them by `parcours bulk reassign` (the product's own batch).
"""

from __future__ import annotations

import asyncio
import json
import time

from bench.baseline.workflow import BaselineAction, BaselinePathway
from bench.data import write_approvals
from bench.scenarios.common import Run, import_cases, percentile, start_baseline, wait_until
from bench.scenarios.latency import open_one_by_one, sample_parcours
from parcours.kernel.errors import ParcoursError

SCENARIO = "7 departure"
REGION = "montreal"
LEAVING = "o-montreal-0"
DIRECTOR = "d-0"
WINDOW = 16
OPEN = "status IN ('active', 'paused', 'waiting')"


def _open_count(run: Run) -> int:
    return run.stack.count(f"SELECT COUNT(*) FROM cases WHERE {OPEN}")


def _held(run: Run) -> list[str]:
    rows = run.stack.sql(
        f"SELECT dossier FROM cases WHERE officer_id = ? AND {OPEN} ORDER BY dossier", (LEAVING,)
    )
    return [str(r[0]) for r in rows]


def _moved_and_told(run: Run, dossiers: list[str], since: str) -> tuple[int, int]:
    """(reassigned audit rows, officer_assigned emails sent) for `dossiers` since `since`."""
    marks = ",".join("?" * len(dossiers))
    moved = run.stack.count(
        f"SELECT COUNT(*) FROM audit_events WHERE kind = 'reassigned' AND actor = ? "
        f"AND at >= ? AND dossier IN ({marks})",
        (DIRECTOR, since, *dossiers),
    )
    told = run.stack.count(
        f"SELECT COUNT(*) FROM outbox WHERE template = 'officer_assigned' AND status = 'sent' "
        f"AND created_at >= ? AND dossier IN ({marks})",
        (since, *dossiers),
    )
    return moved, told


async def _top_up(run: Run, want: int) -> None:
    missing = want - _open_count(run)
    if missing <= 0:
        return
    run.say(f"departure: opening {missing} cases to reach {want} open")
    path = write_approvals(run.tmp / "departure.csv", "DEP", missing)
    _seconds, code, last = await import_cases(run, path)
    if code != 0:
        raise RuntimeError(f"departure: the import failed: {last}")
    await wait_until(lambda: _open_count(run) >= want, run.sizes.drain_timeout_s)


async def _quiet(run: Run, for_s: float = 3.0) -> None:
    """Until the audit trail stops growing for `for_s` seconds (the import's openings and
    welcomes done): idle means idle. Bounded by the size's drain timeout."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + run.sizes.drain_timeout_s
    last, still_since = -1, loop.time()
    while loop.time() < deadline:
        now = run.stack.count("SELECT COUNT(*) FROM audit_events")
        if now != last:
            last, still_since = now, loop.time()
        elif loop.time() - still_since >= for_s:
            return
        await asyncio.sleep(0.5)


async def _give_leaving(run: Run, n: int) -> list[str]:
    """Hand the leaving officer exactly `n` open cases of the region (if they hold fewer)."""
    held = _held(run)
    if len(held) < n:
        rows = run.stack.sql(
            f"SELECT dossier FROM cases WHERE region = ? AND {OPEN} AND officer_id != ? "
            "ORDER BY dossier LIMIT ?",
            (REGION, LEAVING, n - len(held)),
        )
        cases = ",".join(str(r[0]) for r in rows)
        code, _out, err, _s = await run.stack.cli(
            "bulk", "reassign", "--cases", cases, "--to", LEAVING, "--by", DIRECTOR, "--json"
        )
        if code != 0:
            raise RuntimeError(f"departure: setting up the caseload failed: {err[-500:]}")
        await wait_until(lambda: len(_held(run)) >= n, run.sizes.drain_timeout_s)
    return _held(run)


async def _baseline_updates(run: Run, n: int) -> float:
    """N updates on baseline cases, WINDOW at a time: the bare cost of N actions."""
    _s, code = await start_baseline(run, "DPB", n)
    if code != 0:
        raise RuntimeError("departure: the baseline cases did not start")
    client = run.stack.client
    gate = asyncio.Semaphore(WINDOW)

    async def one(i: int) -> None:
        handle = client.get_workflow_handle_for(BaselinePathway.run, f"baseline-DPB{i:06d}")
        async with gate:
            await handle.execute_update(BaselinePathway.progress, BaselineAction())

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    return time.perf_counter() - started


async def _approvals(run: Run, dossiers: list[str]) -> list[float]:
    """Officers' approvals, one case after the other; a case the departure moved between
    its query and its approval is skipped (its officer changed), not a failure."""
    samples: list[float] = []
    for d in dossiers:
        try:
            _q, updates = await sample_parcours(run, [d])
        except ParcoursError:
            continue
        samples.extend(updates)
    return samples


async def run_departure(run: Run) -> None:
    m, n = run.sizes.departure_open, run.sizes.departure_held
    await _top_up(run, m)
    held = await _give_leaving(run, n)
    open_now = _open_count(run)
    run.say(f"departure: {LEAVING} holds {len(held)} of {open_now} open cases")
    k = max(2, run.sizes.latency_samples // 2)
    latency = await open_one_by_one(run, "DPL", 2 * k)
    await _quiet(run)
    idle = await _approvals(run, latency[:k])
    base_s = await _baseline_updates(run, len(held))

    since = run.stack.sql("SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')")[0][0]
    started = time.perf_counter()
    departing = asyncio.create_task(
        run.stack.cli(
            "officers", "deactivate", LEAVING, "--redistribute", "--by", DIRECTOR, "--json"
        )
    )
    during = await _approvals(run, latency[k:])
    code, out, err, batch_s = await departing
    if code != 0:
        raise RuntimeError(f"departure: deactivate failed: {err[-500:]}")
    result = json.loads(out)

    def all_done() -> bool:
        moved, told = _moved_and_told(run, held, str(since))
        return moved >= len(held) and told >= len(held)

    waited = await wait_until(all_done, run.sizes.drain_timeout_s)
    total_s = None if waited is None else time.perf_counter() - started
    moved, told = _moved_and_told(run, held, str(since))
    note = f"N={len(held)} of M={open_now} open; {moved} moved, {told} emailed"
    if run.sizes.scaled_down:
        note += f" (scaled down; the issue's size is {1000} of {20000})"
    run.metric(
        SCENARIO,
        "all reassigned and emailed",
        total_s,
        "s",
        baseline=base_s,
        note=note + f"; batch {result.get('batch')} done {result.get('done')}, "
        f"deactivated {result.get('deactivated')}; baseline: N updates, {WINDOW} at a time",
    )
    run.metric(SCENARIO, "the batch itself (CLI until finished)", batch_s, "s", baseline=base_s)
    for label, samples in (("idle", idle), ("during the departure", during)):
        p99 = percentile(samples, 99)
        run.metric(
            SCENARIO,
            f"officer approval p99, {label}",
            None if p99 is None else p99 * 1000,
            "ms",
            note=f"n={len(samples)}",
        )
    busy, calm = percentile(during, 99), percentile(idle, 99)
    if busy is not None and calm:
        run.metric(
            SCENARIO,
            "officer approval p99 during / idle",
            busy / calm,
            "x",
            note=f"{busy * 1000:.0f} ms / {calm * 1000:.0f} ms",
        )
