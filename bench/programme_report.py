"""The programme report over a big read model (issue 18): 100,000 cases and two years of
audit rows, seeded straight into the read model (bulk inserts: at ~9 cases/s, Temporal would
take hours), then `build_report` timed against a plain SQL COUNT over the same tables in the
same run.

    python -m bench.programme_report [--cases N] [--database-url URL] [--samples N] [--no-write]

Without --database-url: a fresh SQLite file in a temp dir. With a PostgreSQL URL, the tables
are created in a fresh schema of that database and dropped at the end (never point it at a
database others use)."""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.report import Metric, Report, machine, text_table, write
from parcours.application.reports import Period, build_report
from parcours.infrastructure.store import migrate
from parcours.infrastructure.store.db import create_engine, session_factory
from parcours.infrastructure.store.models import AuditEvent, Case, Officer, StageSpan

NOW = datetime(2026, 12, 1, tzinfo=UTC)
YEARS = 2
TARGET_S = 1.0
REGIONS = {  # share of the cases, roughly the province's intake
    "montreal": 0.55,
    "capitale-nationale": 0.12,
    "monteregie": 0.1,
    "laval": 0.08,
    "estrie": 0.05,
    "outaouais": 0.05,
    "mauricie": 0.05,
}
OFFICERS_PER_REGION = {"montreal": 40, "capitale-nationale": 10, "laval": 0}
STAGES = ("arrival", "francization", "employment", "community")
STAGE_DAYS = {"arrival": (3, 40), "francization": (60, 300), "employment": (30, 200)}
CHUNK = 20_000


def _officers() -> list[dict[str, Any]]:
    out = []
    for region in REGIONS:
        for i in range(OFFICERS_PER_REGION.get(region, 6)):
            out.append(
                {
                    "id": f"{region}-{i:03d}",
                    "name": f"Officer {i}",
                    "email": f"o{i}@{region}.example",
                    "region": region,
                    "languages": "fr",
                    "role": "officer",
                    "active": True,
                    "created_at": NOW,
                }
            )
    return out


def seed_rows(
    n: int, rng: random.Random
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Cases, their stage spans and their audit rows (about 15 a case), consistent with
    each other as the projection would have recorded them."""
    officers: dict[str, list[str]] = {}
    for o in _officers():
        officers.setdefault(o["region"], []).append(o["id"])
    regions, weights = list(REGIONS), list(REGIONS.values())
    span_days = YEARS * 365
    cases: list[dict[str, Any]] = []
    spans: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for i in range(n):
        dossier = f"B-{i:07d}"
        region = rng.choices(regions, weights)[0]
        opened = NOW - timedelta(days=rng.random() * span_days)
        pool = officers.get(region, [])
        officer = rng.choice(pool) if pool and rng.random() > 0.03 else None
        seq = 0

        def ev(
            kind: str,
            at: datetime,
            stage: str | None = None,
            detail: str | None = None,
            dossier: str = dossier,
            officer: str | None = officer,
        ) -> None:
            nonlocal seq
            seq += 1
            events.append(
                {
                    "key": f"newcomer-{dossier}:{seq:06d}:{kind}",
                    "dossier": dossier,
                    "kind": kind,
                    "at": at,
                    "actor": officer,
                    "stage": stage,
                    "detail": detail,
                    "text": None,
                    "recorded_at": at,
                    "seq": seq,
                }
            )

        ev("case_opened", opened, "arrival", "default")
        ev("officer_assigned" if officer else "case_unassigned", opened, None, officer)
        greeting = rng.choices(
            ["greeted", "no_show", "declined", "not_applicable", None], [80, 5, 5, 5, 5]
        )[0]
        if greeting:
            ev("airport_greeting", opened + timedelta(days=1), "arrival", greeting)
        meeting_on, late = None, None
        if rng.random() < 0.9:
            late = rng.random() < 0.2
            meeting_on = (opened + timedelta(days=9 if late else 3)).date()
            ev(
                "meeting_booked",
                opened + timedelta(days=1),
                "arrival",
                f"{meeting_on.isoformat()}T10:00:00-05:00 seq=0" + (" late" if late else ""),
            )
        plan_filed = plan_overdue = None
        if rng.random() < 0.85:
            if rng.random() < 0.15:
                plan_overdue = opened + timedelta(days=8)
                ev("stage_overdue", plan_overdue, "arrival")
            plan_filed = opened + timedelta(days=rng.uniform(2, 12))
            if plan_overdue and plan_filed <= plan_overdue:
                plan_filed = plan_overdue + timedelta(days=1)
            ev("plan_filed", plan_filed, "arrival", "revision 1, 3 items")
        # Stages: each ends after its drawn time if that is before now.
        at, stage_now, status, closed = opened, "arrival", "active", None
        for k, stage in enumerate(STAGES):
            if stage == "community":
                stage_now = stage
                break
            low, high = STAGE_DAYS[stage]
            end = at + timedelta(days=rng.uniform(low, high))
            if end >= NOW:
                stage_now = stage
                spans.append(
                    {
                        "dossier": dossier,
                        "stage": stage,
                        "started_at": at,
                        "ended_at": None,
                        "region": region,
                        "days": None,
                        "ended_month": None,
                    }
                )
                break
            spans.append(
                {
                    "dossier": dossier,
                    "stage": stage,
                    "started_at": at,
                    "ended_at": end,
                    "region": region,
                    "days": (end - at).total_seconds() / 86400,
                    "ended_month": end.strftime("%Y-%m"),
                }
            )
            ev("stage_approved", end, stage)
            at = end
            ev("stage_started", at, STAGES[k + 1])
        for week in range(rng.randint(3, 8)):  # notes and emails: the bulk of a trail
            when = opened + timedelta(days=7 * (week + 1))
            if when < NOW:
                ev("progress_note", when, stage_now)
                ev("email_sent", when, None, "languages=fr")
        for level in (1, 2, 3):
            if rng.random() < (0.12, 0.04, 0.01)[level - 1]:
                ev("escalated", opened + timedelta(days=20 + level * 5), stage_now, str(level))
        fate = rng.random()
        if fate < 0.04:
            status, closed = "declined", opened + timedelta(days=rng.uniform(1, 20))
            ev("case_declined", closed, "arrival", rng.choice(["declined_services", "left_quebec"]))
        elif fate < 0.09:
            status, closed = "withdrawn", opened + timedelta(days=rng.uniform(10, 200))
            reason = rng.choice(["left_canada", "unreachable", "other", None])
            ev("case_withdrawn", closed, stage_now, reason)
        if closed is not None and closed > NOW:
            status, closed = "active", None
        cases.append(
            {
                "dossier": dossier,
                "workflow_id": f"newcomer-{dossier}",
                "region": region,
                "language": "fr",
                "arrival_date": opened.date(),
                "status": status,
                "stage": None if closed else stage_now,
                "officer_id": officer,
                "escalation_level": 0,
                "overdue": False,
                "started_at": opened,
                "closed_at": closed,
                "last_event_seq": seq,
                "updated_at": NOW,
                "greeting": greeting,
                "greeting_at": opened + timedelta(days=1) if greeting else None,
                "meeting_on": meeting_on,
                "meeting_late": late,
                "meeting_event_at": opened + timedelta(days=1) if meeting_on else None,
                "plan_filed_at": plan_filed,
                "plan_overdue_at": plan_overdue,
            }
        )
    return cases, spans, events


async def seed(engine: AsyncEngine, n: int, seed_value: int) -> dict[str, int]:
    cases, spans, events = seed_rows(n, random.Random(seed_value))
    async with engine.begin() as conn:
        await conn.execute(insert(Officer), _officers())
        for table, rows in ((Case, cases), (StageSpan, spans), (AuditEvent, events)):
            for i in range(0, len(rows), CHUNK):
                await conn.execute(insert(table), rows[i : i + CHUNK])
    return {"cases": len(cases), "stage_spans": len(spans), "audit_events": len(events)}


async def measure(engine: AsyncEngine, samples: int) -> dict[str, list[float]]:
    sessions = session_factory(engine)
    period = Period.of("2025-01", "2026-12", NOW.date())
    last_year = Period.of("2026-01", "2026-12", NOW.date())

    async def timed(fn: Any) -> list[float]:
        out = []
        for _ in range(samples):
            t0 = time.perf_counter()
            await fn()
            out.append(time.perf_counter() - t0)
        return out

    async def report_all() -> None:
        async with sessions() as session:
            await build_report(session, period, None)

    async def report_year_all() -> None:  # the page's default: twelve months, all regions
        async with sessions() as session:
            await build_report(session, last_year, None)

    async def report_year_montreal() -> None:
        async with sessions() as session:
            await build_report(session, last_year, "montreal")

    async def counts() -> None:
        async with sessions() as session:
            for table in (Case, AuditEvent, StageSpan):
                await session.scalar(select(func.count()).select_from(table))

    await report_all()  # warm the caches once, as a page read twice would be
    return {
        "report_all_regions_24_months": await timed(report_all),
        "report_all_regions_12_months": await timed(report_year_all),
        "report_montreal_12_months": await timed(report_year_montreal),
        "count_cases_audit_spans": await timed(counts),
    }


async def amain(args: argparse.Namespace) -> Report:
    tmp = tempfile.TemporaryDirectory(prefix="bench-report-")
    schema = None
    if args.database_url:
        base = create_engine(args.database_url)
        schema = f"bench_report_{uuid.uuid4().hex[:12]}"
        async with base.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        engine = base.execution_options(schema_translate_map={None: schema})
        backend = "postgresql"
    else:
        base = engine = create_engine(f"sqlite+aiosqlite:///{Path(tmp.name) / 'parcours.db'}")
        backend = "sqlite"
    report = Report(
        size=f"report-{backend}",
        scaled_down=args.cases < 100_000,
        machine=machine(),
        settings={"cases": args.cases, "samples": args.samples, "backend": backend},
    )
    try:
        if schema:
            async with engine.begin() as conn:
                from parcours.infrastructure.store.models import Base

                await conn.run_sync(Base.metadata.create_all)
        else:
            await migrate.upgrade(engine)
        t0 = time.perf_counter()
        sizes = await seed(engine, args.cases, args.seed)
        seeded_s = time.perf_counter() - t0
        print(f"bench: seeded {sizes} in {seeded_s:.0f} s", file=sys.stderr)
        if backend == "sqlite":
            async with engine.begin() as conn:
                await conn.execute(text("ANALYZE"))
        else:
            # What autovacuum would have done to tables this old: statistics, and the
            # visibility map that lets the report read its covering indexes alone.
            async with engine.connect() as conn:
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                for table in ("cases", "audit_events", "stage_spans", "officers"):
                    await conn.execute(text(f'VACUUM ANALYZE "{schema}".{table}'))
        times = await measure(engine, args.samples)
        baseline = statistics.median(times["count_cases_audit_spans"])
        report.add(
            Metric(
                "report",
                "seed",
                seeded_s,
                "s",
                note=", ".join(f"{k} {v}" for k, v in sizes.items()),
            )
        )
        report.add(Metric("report", "count_cases_audit_spans p50", baseline, "s"))
        for name in (
            "report_all_regions_24_months",
            "report_all_regions_12_months",
            "report_montreal_12_months",
        ):
            p50 = statistics.median(times[name])
            report.add(
                Metric(
                    "report",
                    f"{name} p50",
                    p50,
                    "s",
                    baseline=baseline,
                    target=f"< {TARGET_S:g} s",
                    met=(p50 < TARGET_S) if not report.scaled_down else None,
                    note=f"max {max(times[name]):.3f} s over {len(times[name])}; ratio vs COUNT",
                )
            )
    finally:
        if schema:
            async with base.begin() as conn:
                await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await base.dispose()
        tmp.cleanup()
    return report


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.programme_report", description=__doc__)
    p.add_argument("--cases", type=int, default=100_000)
    p.add_argument("--samples", type=int, default=5)
    p.add_argument("--seed", type=int, default=18)
    p.add_argument("--database-url", help="a PostgreSQL database of your own (default: SQLite)")
    p.add_argument("--no-write", action="store_true", help="do not write bench/results/")
    args = p.parse_args(argv)
    report = asyncio.run(amain(args))
    print(text_table(report))
    if not args.no_write:
        json_path, md_path = write(report)
        print(f"bench: wrote {json_path} and {md_path}", file=sys.stderr)


if __name__ == "__main__":
    main()
