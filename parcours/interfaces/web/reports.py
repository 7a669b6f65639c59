"""Read-model questions of the console: whose cases, in which order, and how long stages take."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from parcours.infrastructure.store.accounts import Account
from parcours.infrastructure.store.models import AuditEvent, Case, Officer
from parcours.kernel.domain import OPEN_STATUSES, STAGES, Role

MAX_ROWS = 500


@dataclass
class CaseFilters:
    stage: str | None = None
    min_level: int = 0
    overdue_only: bool = False
    officer: str | None = None


@dataclass
class CaseRow:
    dossier: str
    full_name: str | None
    stage: str | None
    status: str
    officer_id: str | None
    region: str
    escalation_level: int
    overdue: bool
    arrival_date: str
    last_activity_at: datetime | None
    days_idle: int | None


def scoped(stmt: Select[Any], account: Account) -> Select[Any]:
    """Only the cases this person answers for (the rule of `auth.may_see_case`)."""
    if account.role == Role.DIRECTOR.value:
        return stmt
    if account.role == Role.SUPERVISOR.value:
        return stmt.where(Case.region == account.region)
    return stmt.where(Case.officer_id == account.login)


async def caseload_rows(
    session: AsyncSession, account: Account, filters: CaseFilters, now: datetime | None = None
) -> list[CaseRow]:
    """Open cases, most urgent first: escalation level, then overdue, then the longest
    silence (the last officer activity, else the stage's start)."""
    now = now or datetime.now(UTC)
    quiet_since = func.coalesce(Case.last_activity_at, Case.stage_started_at, Case.started_at)
    stmt = scoped(select(Case), account).where(Case.status.in_([s.value for s in OPEN_STATUSES]))
    if filters.stage:
        stmt = stmt.where(Case.stage == filters.stage)
    if filters.min_level:
        stmt = stmt.where(Case.escalation_level >= filters.min_level)
    if filters.overdue_only:
        stmt = stmt.where(Case.overdue.is_(True))
    if filters.officer:
        stmt = stmt.where(Case.officer_id == filters.officer)
    stmt = stmt.order_by(
        Case.escalation_level.desc(), Case.overdue.desc(), quiet_since.asc(), Case.dossier
    ).limit(MAX_ROWS)
    rows: list[CaseRow] = []
    cases: list[Case] = list((await session.scalars(stmt)).all())
    for c in cases:
        quiet = c.last_activity_at or c.stage_started_at or c.started_at
        rows.append(
            CaseRow(
                dossier=c.dossier,
                full_name=c.full_name,
                stage=c.stage,
                status=c.status,
                officer_id=c.officer_id,
                region=c.region,
                escalation_level=c.escalation_level,
                overdue=c.overdue,
                arrival_date=c.arrival_date.isoformat(),
                last_activity_at=c.last_activity_at,
                days_idle=max(0, (now - quiet).days) if quiet else None,
            )
        )
    return rows


async def case_row(session: AsyncSession, dossier: str) -> Case | None:
    return await session.get(Case, dossier)


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
