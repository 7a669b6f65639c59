"""What the capacity forecast measures in the read model (issue 18), as SQL aggregates.

Every query groups in the database and returns a few thousand rows at most (per region,
stage and whole day), whatever the number of cases: durations are counted per rounded day,
not read case by case. Day arithmetic differs by backend (SQLite's `julianday`, PostgreSQL's
epoch), hence the one compiled function `day_number`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Float, case, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from parcours.infrastructure.store.models import AuditEvent, Case, Officer, UtcDateTime
from parcours.kernel.domain import OPEN_STATUSES, Role

STARTS = ("case_opened", "stage_started")
ENDS = ("stage_approved", "stage_waived")
EXITS = ("case_declined", "case_withdrawn")


class day_number(FunctionElement[float]):  # noqa: N801 (a SQL function, named as one)
    """A timestamp as a number of days (fractional) since some fixed origin."""

    type = Float()
    inherit_cache = True


@compiles(day_number, "sqlite")
def _day_number_sqlite(element: day_number, compiler: Any, **kw: Any) -> str:
    return f"julianday({compiler.process(element.clauses, **kw)})"


@compiles(day_number, "postgresql")
def _day_number_postgresql(element: day_number, compiler: Any, **kw: Any) -> str:
    return f"(extract(epoch from {compiler.process(element.clauses, **kw)}) / 86400.0)"


# (region, stage) -> {whole days: number of cases}
DayCounts = dict[tuple[str, str], dict[int, int]]


@dataclass
class Measures:
    """The read model's answers, per region (a region absent has none of that thing)."""

    now: datetime
    # Cases opened in the last 365 days, and the days of history they cover (<= 365).
    opened: dict[str, int] = field(default_factory=dict)
    history_days: float = 0.0
    # Completed stages (approved or waived), in days from start to end.
    done: DayCounts = field(default_factory=dict)
    # Declined or withdrawn: the stage they left in, days in that stage.
    left: DayCounts = field(default_factory=dict)
    # Open cases today: their stage and days in it.
    open: DayCounts = field(default_factory=dict)
    officers: dict[str, int] = field(default_factory=dict)


def _nest(rows: Any) -> DayCounts:
    out: DayCounts = defaultdict(dict)
    for region, stage, days, n in rows:
        if stage is None or days is None:
            continue
        cell = out[(str(region), str(stage))]
        d = max(0, int(round(float(days))))
        cell[d] = cell.get(d, 0) + int(n)
    return dict(out)


async def measure(session: AsyncSession, now: datetime, region: str | None = None) -> Measures:
    """Everything the forecast measures, over `region` (None: every region)."""
    m = Measures(now=now)
    today = day_number(literal(now, UtcDateTime()))

    def scoped(stmt: Any) -> Any:
        return stmt if region is None else stmt.where(Case.region == region)

    since = now - timedelta(days=365)
    opened = scoped(
        select(Case.region, func.count())
        .where(Case.started_at.is_not(None), Case.started_at >= since, Case.started_at <= now)
        .group_by(Case.region)
    )
    m.opened = {str(r): int(n) for r, n in (await session.execute(opened)).all()}
    first = await session.scalar(scoped(select(func.min(Case.started_at))))
    if first is not None:
        m.history_days = min(365.0, max(1.0, (now - first).total_seconds() / 86400))

    # Per case and stage: its start (the case's opening for arrival), its end (approval or
    # waiver) and the case's exit in it (declined or withdrawn: a closed case's row no longer
    # names its stage, the audit row does). Then, per region and stage, how many ended either
    # way after how many (rounded) days; a stage both left and later ended (a reopened case)
    # counts as ended.
    per_stage = (
        select(
            AuditEvent.dossier.label("dossier"),
            AuditEvent.stage.label("stage"),
            # Days are computed on the grouped rows only (timestamps order as they compare).
            func.min(case((AuditEvent.kind.in_(STARTS), AuditEvent.at))).label("s"),
            func.max(case((AuditEvent.kind.in_(ENDS), AuditEvent.at))).label("e"),
            func.max(case((AuditEvent.kind.in_(EXITS), AuditEvent.at))).label("x"),
        )
        .where(AuditEvent.kind.in_(STARTS + ENDS + EXITS), AuditEvent.stage.is_not(None))
        .group_by(AuditEvent.dossier, AuditEvent.stage)
        .subquery()
    )
    p = per_stage.c
    ended = p.e.is_not(None)
    days = func.round(day_number(func.coalesce(p.e, p.x)) - day_number(p.s))
    outcomes = scoped(
        select(Case.region, p.stage, ended, days, func.count())
        .join(Case, Case.dossier == p.dossier)
        .where(p.s.is_not(None), or_(p.e.is_not(None), p.x.is_not(None)))
        .group_by(Case.region, p.stage, ended, days)
    )
    rows = (await session.execute(outcomes)).all()
    m.done = _nest((r, st, d, n) for r, st, done, d, n in rows if done)
    m.left = _nest((r, st, d, n) for r, st, done, d, n in rows if not done)

    began = func.coalesce(Case.stage_started_at, Case.started_at)
    age = func.round(today - day_number(func.coalesce(began, literal(now, UtcDateTime()))))
    open_now = scoped(
        select(Case.region, Case.stage, age, func.count())
        .where(Case.status.in_([s.value for s in OPEN_STATUSES]))
        .group_by(Case.region, Case.stage, age)
    )
    m.open = _nest((await session.execute(open_now)).all())

    # Active officers, those on leave included: a leave lasts weeks, the forecast years.
    officers = select(Officer.region, func.count()).where(
        Officer.active.is_(True), Officer.role == Role.OFFICER.value
    )
    if region is not None:
        officers = officers.where(Officer.region == region)
    m.officers = {
        str(r): int(n) for r, n in (await session.execute(officers.group_by(Officer.region))).all()
    }
    return m
