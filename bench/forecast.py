"""The capacity forecast's benchmark (issue 18): `python -m bench.forecast [--database-url URL]`.

Seeds a read model with a programme history that leaves about `--open-cases` cases open
(straight into the tables: bench/forecast_data.py), then times, in the same run:
- `parcours forecast`'s whole work (measure the read model, 200 runs x 24 months), best of 3;
- its two halves (the SQL measures; the NumPy simulation);
- a plain `SELECT count(*)` over the same two tables (cases, audit_events), best of 3;
and writes bench/results/forecast-<backend>-<time>.{json,md}. The budget is 10 s.

SQLite by default (a fresh file); PostgreSQL with `--database-url
postgresql+asyncpg://postgres@127.0.0.1/forecast_bench` on a database of its own, emptied
first (`--reset`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, select, text

from bench.forecast_data import History, seed_history
from bench.report import machine
from parcours.application.forecast import Request, build
from parcours.infrastructure.store.db import create_engine, safe_url, session_factory
from parcours.infrastructure.store.measures import measure
from parcours.infrastructure.store.migrate import upgrade
from parcours.infrastructure.store.models import AuditEvent, Case

BUDGET_S = 10.0
RESULTS = Path(__file__).with_name("results")
REGIONS = {"montreal": 0.62, "capitale-nationale": 0.12, "monteregie": 0.1, "laval": 0.06,
           "outaouais": 0.05, "estrie": 0.05}  # fmt: skip
OFFICERS = {"montreal": 45, "capitale-nationale": 10, "monteregie": 9, "laval": 5,
            "outaouais": 5, "estrie": 4}  # fmt: skip


def _history(open_cases: int, now: datetime) -> History:
    """Three years of history at the intake that leaves about `open_cases` open today:
    E[open] = intake x E[min(time open, 3 years)], the expectation taken by sampling."""
    h = History(now=now, intake_per_year=1, years=3, regions=REGIONS, officers=OFFICERS)
    rng = np.random.default_rng(0)
    n = 200_000
    open_for, going = np.zeros(n), np.ones(n, dtype=bool)
    for stage, mean in h.stage_months.items():
        leaves = going & (rng.random(n) < h.leave_share[stage])
        stay = np.where(leaves, rng.exponential(mean / 2, n), rng.exponential(mean, n))
        open_for += np.where(going, stay, 0.0)
        going &= ~leaves
    months = np.minimum(open_for, h.years * 12).mean()
    h.intake_per_year = open_cases * 12 / months
    return h


async def run(url: str, open_cases: int, runs: int, months: int, reset: bool) -> dict[str, Any]:
    engine = create_engine(url)
    now = datetime.now(UTC)
    try:
        if reset and engine.dialect.name == "postgresql":
            async with engine.begin() as conn:
                await conn.execute(text("DROP SCHEMA public CASCADE"))
                await conn.execute(text("CREATE SCHEMA public"))
        await upgrade(engine)
        started = time.perf_counter()
        seeded = await seed_history(engine, _history(open_cases, now))
        seed_s = time.perf_counter() - started
        if engine.dialect.name == "postgresql":
            async with engine.begin() as conn:
                await conn.execute(text("ANALYZE"))
        sessions = session_factory(engine, [])
        request = Request(months=months, runs=runs)
        forecast_s, measure_s, simulate_s, count_s, cpu_s = [], [], [], [], []
        result = None
        for _ in range(3):
            async with sessions() as session:
                t0, c0 = time.perf_counter(), time.process_time()
                m = await measure(session, now)
                t1 = time.perf_counter()
                result = await asyncio.to_thread(build, m, request, 60)
                t2, c2 = time.perf_counter(), time.process_time()
                await session.scalar(select(func.count()).select_from(Case))
                await session.scalar(select(func.count()).select_from(AuditEvent))
                t3 = time.perf_counter()
            measure_s.append(t1 - t0)
            simulate_s.append(t2 - t1)
            forecast_s.append(t2 - t0)
            cpu_s.append(c2 - c0)
            count_s.append(t3 - t2)
        assert result is not None
    finally:
        await engine.dispose()
    best = min(forecast_s)
    return {
        "scenario": "forecast",
        "at": now.isoformat(timespec="seconds"),
        "backend": engine.dialect.name,
        "database": safe_url(url),
        "machine": machine(),
        # Other work on the same cores changes the times: the load when the run ended.
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "cases": seeded.cases,
        "open_cases": seeded.open_cases,
        "audit_rows": seeded.audit_rows,
        "runs": runs,
        "months": months,
        "seed_s": round(seed_s, 1),
        "forecast_s": round(best, 3),
        # CPU seconds of this process (both cores' worth; PostgreSQL's own work is not in it):
        # what the forecast costs whatever else runs on the machine.
        "forecast_cpu_s": round(min(cpu_s), 3),
        "measure_s": round(min(measure_s), 3),
        "simulate_s": round(min(simulate_s), 3),
        "count_s": round(min(count_s), 4),
        "ratio_to_count": round(best / max(min(count_s), 1e-6), 1),
        "budget_s": BUDGET_S,
        "within_budget": best < BUDGET_S,
        "open_p50_month_24": round(result.months[-1].open_p50),
    }


def markdown(r: dict[str, Any]) -> str:
    return "\n".join(
        [
            f"# Forecast benchmark, {r['backend']}, {r['at']}",
            "",
            ", ".join(f"{k}: {v}" for k, v in r["machine"].items())
            + f"; load average (1, 5, 15 min) at the end: {r['load_average']}",
            "",
            f"Read model: {r['cases']:,} cases ({r['open_cases']:,} open), "
            f"{r['audit_rows']:,} audit rows, seeded in {r['seed_s']} s.",
            "",
            "| measure | seconds (best of 3) |",
            "|---|---|",
            f"| forecast, {r['runs']} runs x {r['months']} months (measure + simulate) "
            f"| {r['forecast_s']} |",
            f"| CPU time of this process for it | {r['forecast_cpu_s']} |",
            f"| of which SQL measures | {r['measure_s']} |",
            f"| of which simulation | {r['simulate_s']} |",
            f"| plain SELECT count(*) over cases and audit_events | {r['count_s']} |",
            f"| ratio forecast / count | {r['ratio_to_count']} |",
            "",
            f"Budget {r['budget_s']} s: {'met' if r['within_budget'] else 'MISSED'}.",
            "",
        ]
    )


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.forecast", description=__doc__)
    p.add_argument("--database-url", help="default: a fresh SQLite file")
    p.add_argument("--open-cases", type=int, default=100_000)
    p.add_argument("--runs", type=int, default=200)
    p.add_argument("--months", type=int, default=24)
    p.add_argument("--reset", action="store_true", help="PostgreSQL: empty the database first")
    p.add_argument("--no-save", action="store_true", help="print only")
    p.add_argument("--sqlite-file", help="SQLite: this file (kept) instead of a temporary one")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(args.sqlite_file) if args.sqlite_file else Path(tmp) / "bench.db"
        if args.sqlite_file:
            db.unlink(missing_ok=True)
        url = args.database_url or f"sqlite+aiosqlite:///{db}"
        result = asyncio.run(run(url, args.open_cases, args.runs, args.months, args.reset))
    text_out = markdown(result)
    print(text_out)
    if not args.no_save:
        RESULTS.mkdir(exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        base = RESULTS / f"forecast-{result['backend']}-{stamp}"
        base.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
        base.with_suffix(".md").write_text(text_out)
        print(f"written: {base}.json, .md", flush=True)
    sys.exit(0 if result["within_budget"] else 1)


if __name__ == "__main__":
    main()
