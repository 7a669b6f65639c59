"""Who is away today (issue 17), on SQLite and PostgreSQL: the console's absent mark. A
leave marks its officer on its days only, both ends included; the backup shown is the one who
really gets the reminders that day (active, of the region, not away), else none."""

from __future__ import annotations

from datetime import date

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parcours.infrastructure.store.absences import Absence, absences_today
from parcours.infrastructure.store.models import Officer
from parcours.infrastructure.store.officers import set_leave
from tests.store.conftest import add
from tests.store.test_assignment import off

MARCH_1, MARCH_5, MARCH_10, MARCH_11 = (date(2027, 3, d) for d in (1, 5, 10, 11))


async def test_the_mark_follows_the_days_and_the_backup_who_really_stands_in(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await add(sessions, off("ana"), off("ben"), off("cy"))
    async with sessions() as session, session.begin():
        await set_leave(session, "ana", MARCH_1, MARCH_10, "ben")
        await set_leave(session, "cy", MARCH_5, MARCH_5)

    async def on(day: date) -> dict[str, Absence]:
        async with sessions() as session:
            return await absences_today(session, day)

    assert await on(date(2027, 2, 28)) == {}
    assert await on(MARCH_1) == {"ana": Absence("ana", MARCH_1, MARCH_10, "ben")}
    assert set(await on(MARCH_5)) == {"ana", "cy"}
    assert (await on(MARCH_5))["cy"].backup is None
    assert await on(MARCH_11) == {}  # the day after the last: over by itself

    # The backup away too, that day: the supervisors stand in (no backup shown).
    async with sessions() as session, session.begin():
        await set_leave(session, "ben", MARCH_10, MARCH_11)
    assert (await on(MARCH_5))["ana"].backup == "ben"
    assert (await on(MARCH_10))["ana"].backup is None
    # The backup deactivated since: none either.
    async with sessions() as session, session.begin():
        await session.execute(update(Officer).where(Officer.id == "ben").values(active=False))
    assert (await on(MARCH_5))["ana"].backup is None
