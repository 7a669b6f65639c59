"""Finding cases in the read model: by dossier number or name, within what a person may see.

The newcomer's name is readable here and nowhere else that can be searched: Temporal holds it
only in encrypted payloads, and never in a search attribute. So search runs on the read model,
with the text as a bound parameter (never in a log line), and the visibility rule of the
authorization table's "read" row (kernel/authz.py): an officer the cases assigned to them, a
supervisor their region's (and any assigned to them), a director all, an inactive account
none. The console's caseload, its search and `parcours find` are this one query.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Select, case, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from parcours.infrastructure.store.models import Case
from parcours.infrastructure.store.reports import cut_condition
from parcours.kernel.domain import CLOSED_STATUSES, OPEN_STATUSES, Actor, CaseStatus, Role
from parcours.kernel.filters import UNASSIGNED, ReportCut

PER_PAGE = 50
MAX_PER_PAGE = 200
# Longer than any dossier or name: the rest of a pasted paragraph is not searched for.
MAX_QUERY = 200


class StatusFilter(StrEnum):
    OPEN = "open"  # active or paused: the caseload
    ACTIVE = "active"
    PAUSED = "paused"
    CLOSED = "closed"  # completed, withdrawn or declined
    ALL = "all"


_STATUSES: dict[StatusFilter, tuple[str, ...] | None] = {
    StatusFilter.OPEN: tuple(s.value for s in OPEN_STATUSES),
    StatusFilter.ACTIVE: (CaseStatus.ACTIVE.value,),
    StatusFilter.PAUSED: (CaseStatus.PAUSED.value,),
    StatusFilter.CLOSED: tuple(s.value for s in CLOSED_STATUSES),
    StatusFilter.ALL: None,
}


@dataclass
class CaseSearch:
    """What to find. `text`: words that must each appear in the dossier number or the name."""

    text: str = ""
    status: StatusFilter = StatusFilter.OPEN
    stage: str | None = None
    min_level: int = 0
    overdue_only: bool = False
    officer: str | None = None  # an officer id, or UNASSIGNED
    # A region (a bulk action's filter names one; the reports' figures too).
    region: str | None = None
    # The cases behind a figure of the programme reports (issue 18).
    cut: ReportCut | None = None
    page: int = 1
    per_page: int = PER_PAGE

    @property
    def words(self) -> list[str]:
        return self.text[:MAX_QUERY].split()


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
    closed_at: datetime | None
    days_idle: int | None

    def to_json(self) -> dict[str, object]:
        return {
            "dossier": self.dossier,
            "name": self.full_name,
            "status": self.status,
            "stage": self.stage,
            "officer": self.officer_id,
            "region": self.region,
            "escalation_level": self.escalation_level,
            "overdue": self.overdue,
            "arrival_date": self.arrival_date,
            "closed_at": self.closed_at.isoformat() if self.closed_at else None,
        }


@dataclass
class CasePage:
    rows: list[CaseRow]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))


def visible_to(stmt: Select[Any], viewer: Actor | None) -> Select[Any]:
    """Only the cases `viewer` may read (None: everyone's, for the trusted CLI)."""
    if viewer is None:
        return stmt
    if not viewer.active:
        return stmt.where(false())
    if viewer.role == Role.DIRECTOR:
        return stmt
    mine = Case.officer_id == viewer.officer_id
    if viewer.role == Role.SUPERVISOR:
        return stmt.where(or_(Case.region == viewer.region, mine))
    return stmt.where(mine)


def _like(word: str) -> str:
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _filtered(stmt: Select[Any], search: CaseSearch) -> Select[Any]:
    statuses = _STATUSES[search.status]
    if statuses is not None:
        stmt = stmt.where(Case.status.in_(statuses))
    for word in search.words:
        pattern = _like(word)
        stmt = stmt.where(
            or_(
                Case.dossier.ilike(pattern, escape="\\"),
                Case.full_name.ilike(pattern, escape="\\"),
            )
        )
    if search.stage:
        stmt = stmt.where(Case.stage == search.stage)
    if search.min_level:
        stmt = stmt.where(Case.escalation_level >= search.min_level)
    if search.overdue_only:
        stmt = stmt.where(Case.overdue.is_(True))
    if search.region:
        stmt = stmt.where(Case.region == search.region)
    if search.officer == UNASSIGNED:
        stmt = stmt.where(Case.officer_id.is_(None))
    elif search.officer:
        stmt = stmt.where(Case.officer_id == search.officer)
    if search.cut is not None:
        stmt = stmt.where(cut_condition(search.cut))
    return stmt


async def find_cases(
    session: AsyncSession, viewer: Actor | None, search: CaseSearch, now: datetime | None = None
) -> CasePage:
    """One page of the cases `viewer` may see that match `search`: open ones first, most
    urgent first (escalation level, overdue, the longest silence), then closed ones, most
    recently closed first."""
    now = now or datetime.now(UTC)
    where = _filtered(visible_to(select(Case), viewer), search)
    total = int((await session.scalar(select(func.count()).select_from(where.subquery()))) or 0)
    per_page = max(1, min(MAX_PER_PAGE, search.per_page))
    pages = max(1, math.ceil(total / per_page))
    page = max(1, min(search.page, pages))
    quiet_since = func.coalesce(Case.last_activity_at, Case.stage_started_at, Case.started_at)
    closed = case((Case.status.in_([s.value for s in OPEN_STATUSES]), 0), else_=1)
    stmt = (
        where.order_by(
            closed,
            Case.escalation_level.desc(),
            Case.overdue.desc(),
            quiet_since.asc(),
            Case.closed_at.desc(),
            Case.dossier,  # ties broken the same way every time: pages do not overlap
        )
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    rows: list[CaseRow] = []
    for c in (await session.scalars(stmt)).all():
        quiet = c.last_activity_at or c.stage_started_at or c.started_at
        is_open = c.status in {s.value for s in OPEN_STATUSES}
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
                closed_at=c.closed_at,
                days_idle=max(0, (now - quiet).days) if quiet and is_open else None,
            )
        )
    return CasePage(rows=rows, total=total, page=page, per_page=per_page)


async def matching_dossiers(
    session: AsyncSession, viewer: Actor | None, search: CaseSearch, limit: int | None = None
) -> list[str]:
    """Every dossier `viewer` may see that matches `search` (no paging), in dossier order: a
    bulk action's filter resolved to its explicit list when the batch starts."""
    stmt = _filtered(visible_to(select(Case.dossier), viewer), search).order_by(Case.dossier)
    if limit is not None:
        stmt = stmt.limit(limit)
    return list((await session.scalars(stmt)).all())
