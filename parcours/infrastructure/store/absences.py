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
    The backup shown is the one who really gets the reminders today (as `stand_in` decides:
    active, of the region, not away themselves), else none: the region's supervisors.

    Few officers have a leave recorded at any time: the query reads only those rows."""
    rows = (
        await session.execute(
            select(
                Officer.id,
                Officer.region,
                Officer.leave_from,
                Officer.leave_to,
                Officer.backup_id,
            ).where(Officer.leave_from.is_not(None), Officer.leave_to.is_not(None))
        )
    ).all()
    days: dict[str, date] = {}

    def away(region: str, leave_from: date | None, leave_to: date | None) -> bool:
        day = today or days.setdefault(region, local_today(region))
        return assignment.on_leave(leave_from, leave_to, day)

    absent = [r for r in rows if away(r.region, r.leave_from, r.leave_to)]
    wanted = {r.backup_id for r in absent if r.backup_id}
    backups = (
        {
            b.id: b
            for b in (
                await session.execute(
                    select(
                        Officer.id,
                        Officer.region,
                        Officer.active,
                        Officer.leave_from,
                        Officer.leave_to,
                    ).where(Officer.id.in_(wanted))
                )
            ).all()
        }
        if wanted
        else {}
    )
    found: dict[str, Absence] = {}
    for r in absent:
        b = backups.get(r.backup_id or "")
        standing = (
            b is not None
            and b.active
            and b.region == r.region
            and not away(b.region, b.leave_from, b.leave_to)
        )
        found[r.id] = Absence(r.id, r.leave_from, r.leave_to, b.id if standing and b else None)
    return found
