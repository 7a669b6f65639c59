"""A synthetic programme history, written straight into the read model (issue 18): cases
opened at a steady rate over the past years, each taken through the stages with known mean
durations and leave shares, as the projection would have recorded them (the case row, and
`case_opened` / `stage_started` / `stage_approved` audit rows). Temporal would take hours to
fill it at ~9 cases/s; the forecast only reads these tables.

Audit rows inserted here are not sealed into the chain (`seq` and its MAC are NULL): this is
a data set for the forecast, the report and the benchmark, never a production trail.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from parcours.infrastructure.store.models import AuditEvent, Case, Officer
from parcours.kernel.domain import STAGES, CaseStatus, Role
from parcours.kernel.forecast import DAYS_PER_MONTH

STAGE_NAMES = tuple(s.value for s in STAGES)


@dataclass
class History:
    now: datetime
    intake_per_year: float
    years: float
    # Mean months per stage of those who finish it (exponential), and the share of those
    # entering a stage who leave during it (after half the stage's mean, exponential).
    stage_months: dict[str, float] = field(
        default_factory=lambda: {
            "arrival": 1.0,
            "francization": 9.0,
            "employment": 12.0,
            "community": 4.0,
        }  # fmt: skip
    )
    leave_share: dict[str, float] = field(
        default_factory=lambda: {
            "arrival": 0.1,
            "francization": 0.05,
            "employment": 0.05,
            "community": 0.0,
        }  # fmt: skip
    )
    regions: dict[str, float] = field(default_factory=lambda: {"montreal": 1.0})
    officers: dict[str, int] = field(default_factory=lambda: {"montreal": 10})
    seed: int = 1


@dataclass
class Seeded:
    cases: int = 0
    open_cases: int = 0
    audit_rows: int = 0
    done_stages: dict[str, list[float]] = field(default_factory=dict)  # days, per stage


def _rows(h: History) -> tuple[list[dict[str, Any]], list[dict[str, Any]], Seeded]:
    rng = np.random.default_rng(h.seed)
    n = int(rng.poisson(h.intake_per_year * h.years))
    opened = np.sort(rng.uniform(-h.years * 365.25, 0, n))  # days from now
    names = list(h.regions)
    weights = np.asarray([h.regions[r] for r in names], dtype=float)
    region = rng.choice(len(names), n, p=weights / weights.sum())
    seeded = Seeded(cases=n, done_stages={s: [] for s in STAGE_NAMES})
    cases: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []

    def at(days: float) -> datetime:
        return h.now + timedelta(days=float(days))

    # Per stage, for every case at once: duration, whether it leaves.
    durations = {s: rng.exponential(h.stage_months[s] * DAYS_PER_MONTH, n) for s in STAGE_NAMES}
    leaves = {s: rng.random(n) < h.leave_share[s] for s in STAGE_NAMES}
    partial = {s: rng.exponential(h.stage_months[s] * DAYS_PER_MONTH / 2, n) for s in STAGE_NAMES}
    for i in range(n):
        dossier = f"F{i:07d}"
        t = float(opened[i])
        ev = [("case_opened", "arrival", t)]
        status, stage, stage_start, closed = CaseStatus.COMPLETED.value, None, t, None
        for k, s in enumerate(STAGE_NAMES):
            stage, stage_start = s, t
            if k:
                ev.append(("stage_started", s, t))
            if leaves[s][i]:
                end = t + partial[s][i]
                if end > 0:
                    status = CaseStatus.ACTIVE.value
                    break
                status = (CaseStatus.DECLINED if k == 0 else CaseStatus.WITHDRAWN).value
                # As the workflow records it: the audit row names the stage, the closed
                # case's row no longer does.
                ev.append((f"case_{status}", s, end))
                stage, closed = None, end
                break
            end = t + durations[s][i]
            if end > 0:
                status = CaseStatus.ACTIVE.value
                break
            ev.append(("stage_approved", s, end))
            seeded.done_stages[s].append(end - t)
            t = end
        else:
            stage, closed = None, t
        if status == CaseStatus.ACTIVE.value:
            seeded.open_cases += 1
        cases.append(
            {
                "dossier": dossier,
                "workflow_id": f"newcomer-{dossier}",
                "region": names[int(region[i])],
                "language": "fr",
                "arrival_date": at(opened[i]).date(),
                "status": status,
                "stage": stage,
                "officer_id": None,
                "escalation_level": 0,
                "overdue": False,
                "stage_started_at": at(stage_start) if stage is not None else None,
                "last_activity_at": at(stage_start),
                "started_at": at(opened[i]),
                "closed_at": at(closed) if closed is not None else None,
                "last_event_seq": len(ev),
                "updated_at": h.now,
            }
        )
        for j, (kind, s, when) in enumerate(ev):
            events.append(
                {
                    "key": f"newcomer-{dossier}:{j:06d}:{kind}",
                    "dossier": dossier,
                    "kind": kind,
                    "at": at(when),
                    "actor": None,
                    "stage": s,
                    "recorded_at": at(when),
                }
            )
    seeded.audit_rows = len(events)
    return cases, events, seeded


async def seed_history(engine: AsyncEngine, h: History, batch: int = 20_000) -> Seeded:
    """Write the history `h` (and its officers) into the read model behind `engine`."""
    cases, events, seeded = _rows(h)
    officers = [
        {
            "id": f"{region}-{i:03d}",
            "name": f"Agent {region} {i}",
            "email": f"{region}-{i:03d}@parcours.example",
            "region": region,
            "languages": "fr",
            "role": Role.OFFICER.value,
            "active": True,
            "created_at": h.now,
        }
        for region, count in h.officers.items()
        for i in range(count)
    ]
    async with engine.begin() as conn:
        if officers:
            await conn.execute(insert(Officer), officers)
        for start in range(0, len(cases), batch):
            await conn.execute(insert(Case), cases[start : start + batch])
        for start in range(0, len(events), batch):
            await conn.execute(insert(AuditEvent), events[start : start + batch])
    return seeded


def default_now() -> datetime:
    return datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def main(argv: list[str] | None = None) -> None:
    """`python -m bench.forecast_data FILE.db [--intake-per-year N] [--years Y]`: a fresh
    SQLite read model holding such a history (README's worked example)."""
    import argparse
    import asyncio
    from pathlib import Path

    from parcours.infrastructure.store.db import create_engine
    from parcours.infrastructure.store.migrate import upgrade

    p = argparse.ArgumentParser(prog="python -m bench.forecast_data", description=main.__doc__)
    p.add_argument("file")
    p.add_argument("--intake-per-year", type=float, default=50_000)
    p.add_argument("--years", type=float, default=3)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)

    path = Path(args.file).resolve()
    path.unlink(missing_ok=True)
    history = History(now=datetime.now(UTC), intake_per_year=args.intake_per_year,
                      years=args.years, seed=args.seed, officers={"montreal": 78})  # fmt: skip

    async def run() -> Seeded:
        engine = create_engine(f"sqlite+aiosqlite:///{path}")
        try:
            await upgrade(engine)
            return await seed_history(engine, history)
        finally:
            await engine.dispose()

    seeded = asyncio.run(run())
    print(f"{seeded.cases} cases ({seeded.open_cases} open), {seeded.audit_rows} audit rows")


if __name__ == "__main__":
    main()
