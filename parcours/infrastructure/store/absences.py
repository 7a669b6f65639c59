"""Who is away today: the console's mark on an absent officer's cases (issue 17).

A leave is a span of the region's local days, both ends included (kernel/assignment.py
`on_leave`), so the mark is decided for today in each officer's region and goes away by
itself the day after the leave ends. Ids and dates only: the mark never names anyone but by
their id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from parcours.infrastructure.store.models import Officer
from parcours.infrastructure.store.officers import local_today
from parcours.kernel import assignment


@dataclass(frozen=True)
class Absence:
    """An officer away today: until which day (included), and who stands in for their
    reminders (`backup` None: the region's supervisors)."""

    officer_id: str
    leave_from: date
    leave_to: date
    backup: str | None


async def absences_today(session: AsyncSession, today: date | None = None) -> dict[str, Absence]:
    """Every officer on leave today (`today`: one day for all regions, for tests), by id.

    Few officers have a leave recorded at any time: the query reads only those rows."""
    rows = (
        await session.execute(
            select(
                Officer.id, Officer.region, Officer.leave_from, Officer.leave_to, Officer.backup_id
            ).where(Officer.leave_from.is_not(None), Officer.leave_to.is_not(None))
        )
    ).all()
    found: dict[str, Absence] = {}
    days: dict[str, date] = {}
    for r in rows:
        day = today or days.setdefault(r.region, local_today(r.region))
        if assignment.on_leave(r.leave_from, r.leave_to, day):
            found[r.id] = Absence(r.id, r.leave_from, r.leave_to, r.backup_id)
    return found
