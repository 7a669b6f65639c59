"""Scenario 2: many open cases. Worker memory with a bounded cache, `parcours stuck` (from
Temporal visibility) and `parcours caseload` (from the read model) as they grow."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bench.data import write_approvals
from bench.scenarios.common import Run, import_cases, percentile, wait_until
from parcours.application.stuck import find_stuck, read_model_ranking, stuck_query
from parcours.infrastructure.store.caseload import caseload
from parcours.infrastructure.store.db import create_engine, session_factory
from parcours.infrastructure.worker import DEFAULT_CACHE
from parcours.interfaces.cli.supervision import DEFAULT_LIMIT
from parcours.kernel.search import StuckFilter

# Cases per import while filling. The fill is set-up, not the measured intake: it imports at
# most half the worker's cache at a time, so that the cases it opens are not pushed out of the
# cache while still opening (scenario 1 measures that, on purpose, with its 10,000 at once).
CHUNK = 10_000
OPEN = "('active', 'paused')"


async def timed(fn: Callable[[], Awaitable[object]], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        await fn()
        out.append(time.perf_counter() - t0)
    return out


async def measure_queries(run: Run, samples: int) -> dict[str, list[float]]:
    client = run.stack.client
    query = stuck_query(StuckFilter(min_level=1))
    baseline_query = "WorkflowType = 'BaselinePathway' AND ExecutionStatus = 'Running'"

    engine = create_engine(run.stack.settings.database_url)
    sessions = session_factory(engine)
    ranking = read_model_ranking(sessions, StuckFilter(min_level=1))

    async def stuck_cli_path() -> None:
        await find_stuck(client, query, DEFAULT_LIMIT, ranking)

    async def rank_only() -> None:
        await ranking(DEFAULT_LIMIT)

    async def count_and_page(q: str) -> None:
        await client.count_workflows(q)
        async for _ in client.list_workflows(q, page_size=DEFAULT_LIMIT, limit=DEFAULT_LIMIT):
            pass

    async def stuck_page() -> None:
        await count_and_page(query)

    async def baseline_page() -> None:
        await count_and_page(baseline_query)

    async def read_caseload() -> None:
        async with sessions() as session:
            await caseload(session)

    try:
        return {
            "stuck": await timed(stuck_cli_path, samples),
            "stuck_rank": await timed(rank_only, samples),
            "stuck_page": await timed(stuck_page, samples),
            "baseline_page": await timed(baseline_page, samples),
            "caseload": await timed(read_caseload, samples),
        }
    finally:
        await engine.dispose()


def open_cases(run: Run) -> int:
    return run.stack.count(f"SELECT count(*) FROM cases WHERE status IN {OPEN}")


@dataclass
class Fill:
    added: int = 0
    seconds: float = 0.0
    chunks: int = 0

    @property
    def rate(self) -> float | None:
        return self.added / self.seconds if self.added and self.seconds else None


async def fill_to(run: Run, target: int, fill: Fill, deadline: float) -> bool:
    """Import chunks of cases until `target` are open; False when the deadline came first."""
    st = run.stack
    timeout = run.sizes.drain_timeout_s
    cache = int(st.worker_env.get("PARCOURS_WORKER_CACHE", DEFAULT_CACHE))
    while open_cases(run) < target:
        if time.perf_counter() > deadline:
            return False
        n = min(CHUNK, max(cache // 2, 100), target - open_cases(run))
        prefix = f"C{fill.chunks}-"
        fill.chunks += 1
        run.say(f"scale: importing {n} more cases ({open_cases(run)} open, target {target})")
        csv = write_approvals(run.tmp / f"{prefix}.csv", prefix, n)
        t0 = time.perf_counter()
        _, code, last = await import_cases(run, csv)
        if code != 0:
            run.say(f"scale: import exit {code}: {last}")
        like = f"{prefix}%"
        await wait_until(
            lambda like=like, n=n: (
                st.count(  # type: ignore[misc]
                    "SELECT count(*) FROM outbox WHERE dossier LIKE ? AND template='welcome' "
                    "AND status='sent'",
                    (like,),
                )
                >= n
            ),
            timeout,
            every=1.0,
        )
        fill.added += n
        fill.seconds += time.perf_counter() - t0
    return True


async def run_scale(run: Run) -> None:
    """Fill up to each checkpoint of open cases in turn and measure there (the full run:
    50,000 then 100,000); one budget for all the filling."""
    st = run.stack
    st.workers.reset_window()
    deadline = time.perf_counter() + run.sizes.scale_budget_s
    fill = Fill()
    for target in run.sizes.open_cases:
        reached = await fill_to(run, target, fill, deadline)
        await measure_at(run, target, reached, fill)
        if not reached:
            break


async def measure_at(run: Run, target: int, reached: bool, fill: Fill) -> None:
    st = run.stack
    now_open = open_cases(run)
    running = (
        await st.client.count_workflows(
            "WorkflowType = 'NewcomerPathway' AND ExecutionStatus = 'Running'"
        )
    ).count
    stuck_count = (await st.client.count_workflows(stuck_query(StuckFilter(min_level=1)))).count
    run.say(f"scale: {now_open} open cases; measuring queries")
    times = await measure_queries(run, run.sizes.query_samples)
    _, _, _, stuck_cli_s = await st.cli("stuck", "--json")
    _, _, _, caseload_cli_s = await st.cli("caseload", "--json")

    at = f" at {now_open:,} open"
    scaled = " scaled down" if run.sizes.scaled_down or not reached else ""
    judge = not run.sizes.scaled_down
    cache = int(st.worker_env.get("PARCOURS_WORKER_CACHE", DEFAULT_CACHE))
    rate = fill.rate
    run.metric(
        "2 open cases",
        f"open cases reached{scaled}",
        now_open,
        "cases",
        target=f">= {target}",
        met=now_open >= target if judge else None,
        note=f"{running} running workflows, {stuck_count} stuck; filled {fill.added} in "
        f"{fill.seconds:.0f}s"
        + (f" at {rate:.1f}/s" if rate else "")
        + (
            f"; budget {run.sizes.scale_budget_s:g}s spent: {target:,} would take "
            f"~{(target - now_open) / rate / 60:.0f} more min (extrapolated)"
            if not reached and rate
            else ""
        ),
    )
    rss_mib = st.workers.peak / 2**20
    run.metric(
        "2 open cases",
        f"worker peak RSS (cache {cache}){at}",
        rss_mib,
        "MiB",
        baseline=st.baseline_workers.peak / 2**20,
        target="< 1024 MiB",
        met=rss_mib < 1024 if judge else None,
        note=f"now {st.workers.last / 2**20:.0f} MiB",
    )
    p95 = percentile(times["stuck"], 95)
    run.metric(
        "2 open cases",
        f"stuck, CLI code path, p95{at} (n={len(times['stuck'])})",
        None if p95 is None else p95 * 1000,
        "ms",
        baseline=_ms(percentile(times["baseline_page"], 95)),
        target="< 250 ms",
        met=(p95 is not None and p95 < 0.25) if judge else None,
        note=(
            f"{stuck_count} stuck: a page of {DEFAULT_LIMIT} ranked by the read model "
            f"(p95 {_ms(percentile(times['stuck_rank'], 95)) or 0:.0f} ms), confirmed in visibility"
            if stuck_count > DEFAULT_LIMIT
            else f"{stuck_count} stuck: one page, all listed from visibility"
        ),
    )
    p95 = percentile(times["stuck_page"], 95)
    run.metric(
        "2 open cases",
        f"stuck, count + first page, p95{at}",
        None if p95 is None else p95 * 1000,
        "ms",
        baseline=_ms(percentile(times["baseline_page"], 95)),
        target="< 250 ms",
        met=(p95 is not None and p95 < 0.25) if judge else None,
    )
    p95 = percentile(times["caseload"], 95)
    run.metric(
        "2 open cases",
        f"caseload (read model) p95{at}",
        None if p95 is None else p95 * 1000,
        "ms",
        target="< 250 ms",
        met=(p95 is not None and p95 < 0.25) if judge else None,
    )
    run.metric(
        "2 open cases",
        f"CLI wall time: stuck / caseload{at}",
        stuck_cli_s * 1000,
        "ms",
        note=f"caseload {caseload_cli_s * 1000:.0f} ms; includes interpreter start-up",
    )


def _ms(v: float | None) -> float | None:
    return None if v is None else v * 1000
