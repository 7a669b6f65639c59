"""Caseload report: open cases per officer, by stage and by escalation level."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from parcours.infrastructure.store.models import Case, Officer
from parcours.kernel.domain import OPEN_STATUSES, STAGES, CaseStatus, Role
from parcours.kernel.filters import UNASSIGNED, StuckFilter

LEVELS = (0, 1, 2, 3)


def _zero_stages() -> dict[str, int]:
    return {s.value: 0 for s in STAGES}


def _zero_levels() -> dict[int, int]:
    return dict.fromkeys(LEVELS, 0)


@dataclass
class CaseloadEntry:
    """One officer's open cases; `officer_id` None is the row of unassigned cases."""

    officer_id: str | None
    name: str | None = None
    region: str | None = None
    role: str | None = None
    active: bool = True
    open_cases: int = 0
    by_stage: dict[str, int] = field(default_factory=_zero_stages)
    by_level: dict[int, int] = field(default_factory=_zero_levels)

    def to_json(self) -> dict[str, object]:
        return {
            "officer": self.officer_id,
            "name": self.name,
            "region": self.region,
            "role": self.role,
            "active": self.active,
            "open_cases": self.open_cases,
            "by_stage": dict(self.by_stage),
            "by_escalation_level": {str(k): v for k, v in self.by_level.items()},
        }


async def caseload(session: AsyncSession, region: str | None = None) -> list[CaseloadEntry]:
    """Every active officer (role officer) with their open cases, zero included; anyone else
    who still holds open cases (a supervisor, a deactivated officer); then one row for the
    unassigned cases. Ordered by region, then officer id."""
    open_statuses = [s.value for s in OPEN_STATUSES]
    counts = (
        select(Case.officer_id, Case.stage, Case.escalation_level, func.count())
        .where(Case.status.in_(open_statuses))
        .group_by(Case.officer_id, Case.stage, Case.escalation_level)
    )
    if region is not None:
        counts = counts.where(Case.region == region)
    rows = (await session.execute(counts)).all()
    holders = {officer_id for officer_id, _, _, _ in rows if officer_id is not None}

    roster = select(Officer).where(
        or_(
            (Officer.role == Role.OFFICER.value) & Officer.active.is_(True),
            Officer.id.in_(holders),
        )
    )
    if region is not None:
        roster = roster.where(or_(Officer.region == region, Officer.id.in_(holders)))
    entries: dict[str | None, CaseloadEntry] = {
        o.id: CaseloadEntry(o.id, o.name, o.region, o.role, o.active)
        for o in (await session.scalars(roster)).all()
    }
    unassigned = CaseloadEntry(None, name=None, region=region)
    for officer_id, stage, level, count in rows:
        if officer_id is None:
            entry = unassigned
        else:
            # An id with no roster row (never registered) still shows its cases.
            entry = entries.setdefault(officer_id, CaseloadEntry(officer_id, active=False))
        entry.open_cases += count
        if stage in entry.by_stage:
            entry.by_stage[stage] += count
        entry.by_level[level] = entry.by_level.get(level, 0) + count
    ordered = sorted(entries.values(), key=lambda e: (e.region or "", e.officer_id or ""))
    return [*ordered, unassigned]


async def most_urgent(session: AsyncSession, limit: int, f: StuckFilter) -> list[str]:
    """Workflow ids of the `limit` most urgent stuck cases by the read model's projection, in
    the order of `parcours stuck`: no officer, highest level, overdue, longest silence."""
    q = select(Case.workflow_id).where(
        Case.status == CaseStatus.ACTIVE.value,
        or_(
            Case.escalation_level >= f.min_level,
            Case.overdue.is_(True),
            Case.officer_id.is_(None),  # no officer: stuck whatever its clocks (issue 17)
        ),
    )
    if f.stage:
        q = q.where(Case.stage == f.stage)
    if f.region:
        q = q.where(Case.region == f.region)
    if f.officer == UNASSIGNED:
        q = q.where(Case.officer_id.is_(None))
    elif f.officer:
        q = q.where(Case.officer_id == f.officer)
    if f.overdue_only:
        q = q.where(Case.overdue.is_(True))
    q = q.order_by(
        case((Case.officer_id.is_(None), 0), else_=1),
        Case.escalation_level.desc(),
        Case.overdue.desc(),
        Case.stalled_since.asc().nulls_last(),
        Case.dossier,  # ties as `StuckCase.urgency` breaks them: the same page every time
    ).limit(limit)
    return list((await session.scalars(q)).all())


def _unassigned_open(region: str | None) -> Any:
    q = select(Case.workflow_id).where(
        Case.officer_id.is_(None), Case.status.in_([s.value for s in OPEN_STATUSES])
    )
    return q if region is None else q.where(Case.region == region)


async def unassigned_open(session: AsyncSession, region: str | None) -> list[str]:
    """Workflow ids of the open cases without an officer (of `region`; all when None): the
    cases a roster change may give an officer (issue 17)."""
    stmt = _unassigned_open(region).order_by(Case.workflow_id)
    return list((await session.scalars(stmt)).all())


async def count_unassigned(session: AsyncSession, region: str | None) -> int:
    """How many open cases wait for an officer (in `region`; all when None): the console's
    header count."""
    sub = _unassigned_open(region).subquery()
    return int(await session.scalar(select(func.count()).select_from(sub)) or 0)
