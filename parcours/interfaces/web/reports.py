"""Read-model questions of the console: a case's trail, the roster, how long stages take.

Finding cases (the caseload and the search) is `infrastructure/store/finder.py`, shared with
the CLI."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from parcours.infrastructure.store.models import AuditEvent, Case, Officer
from parcours.kernel.domain import STAGES, Role


async def audit_trail(session: AsyncSession, dossier: str) -> list[AuditEvent]:
    stmt = select(AuditEvent).where(AuditEvent.dossier == dossier)
    return list((await session.scalars(stmt.order_by(AuditEvent.at, AuditEvent.id))).all())


async def officers_of(session: AsyncSession, region: str | None) -> list[Officer]:
    """Active officers a case of `region` may be given to (all regions for None)."""
    stmt = select(Officer).where(Officer.active.is_(True), Officer.role == Role.OFFICER.value)
    if region is not None:
        stmt = stmt.where(Officer.region == region)
    return list((await session.scalars(stmt.order_by(Officer.id))).all())


@dataclass
class StageDuration:
    stage: str
    count: int
    median_days: float | None
    p90_days: float | None


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile: an actual observed duration, as a report reader expects."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[rank - 1]


async def stage_durations(session: AsyncSession, region: str | None) -> list[StageDuration]:
    """Median and 90th percentile of days per stage, over the stages that ended (approved or
    waived), from the audit trail: from the stage's start to its approval or waiver."""
    stmt = select(AuditEvent.dossier, AuditEvent.kind, AuditEvent.stage, AuditEvent.at).where(
        # Arrival starts with the case itself (`case_opened`); later stages with
        # `stage_started`.
        AuditEvent.kind.in_(("case_opened", "stage_started", "stage_approved", "stage_waived")),
        AuditEvent.stage.is_not(None),
    )
    if region is not None:
        stmt = stmt.join(Case, Case.dossier == AuditEvent.dossier).where(Case.region == region)
    started: dict[tuple[str, str], datetime] = {}
    ended: dict[tuple[str, str], datetime] = {}
    for dossier, kind, stage, at in (await session.execute(stmt)).all():
        key = (str(dossier), str(stage))
        if kind in ("case_opened", "stage_started"):
            started[key] = min(at, started.get(key, at))
        else:
            ended[key] = max(at, ended.get(key, at))
    by_stage: dict[str, list[float]] = {s.value: [] for s in STAGES}
    for key, end in ended.items():
        begin = started.get(key)
        if begin is not None and key[1] in by_stage:
            by_stage[key[1]].append(max(0.0, (end - begin).total_seconds() / 86400))
    out: list[StageDuration] = []
    for stage, values in by_stage.items():
        if values:
            out.append(
                StageDuration(
                    stage, len(values), statistics.median(values), percentile(values, 0.9)
                )
            )
        else:
            out.append(StageDuration(stage, 0, None, None))
    return out
