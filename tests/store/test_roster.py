"""Changing the roster (issue 17), on SQLite and PostgreSQL: updates and leaves audited in
`roster_changes` (ids and codes, no name or address), a new region refused while the officer
holds open cases, intake skipping an officer on leave only on its days, and who stands in for
an absent officer's reminders."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parcours.infrastructure.store.officers import (
    OfficerError,
    cancel_leave,
    pick_officer,
    roster_changes,
    set_leave,
    stand_in,
    update_officer,
)
from tests.store.conftest import add
from tests.store.test_assignment import give_cases, off

MARCH_1, MARCH_10, MARCH_11 = date(2027, 3, 1), date(2027, 3, 10), date(2027, 3, 11)


async def refusal(sessions: async_sessionmaker[AsyncSession], change) -> str:  # noqa: ANN001
    with pytest.raises(OfficerError) as info:
        async with sessions() as session, session.begin():
            await change(session)
    assert info.value.refusal is not None
    return info.value.refusal.code


async def test_updates_and_leaves_are_audited_and_checked(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await add(
        sessions,
        off("amy", "fr,en"),
        off("ben", "fr,en"),
        off("cat", "fr", region="laval"),
        off("sup", role="supervisor"),
    )
    await give_cases(sessions, "amy", 1)
    # Amy holds an open case: no new region nor role until it is handed over.
    moved = lambda s: update_officer(s, "amy", region="laval")  # noqa: E731
    assert await refusal(sessions, moved) == "officer_has_open_cases"
    promoted = lambda s: update_officer(s, "amy", role="supervisor")  # noqa: E731
    assert await refusal(sessions, promoted) == "officer_has_open_cases"
    async with sessions() as session, session.begin():
        await update_officer(session, "amy", email="amy2@parcours.example", languages="fr,en,es")
        await update_officer(session, "ben", region="laval", actor="sup")  # no open case
        await update_officer(session, "ben", region="montreal", actor="sup")

    for backup, code in [("amy", "leave_backup_self"), ("cat", "leave_backup_region")]:
        leave = lambda s, b=backup: set_leave(s, "amy", MARCH_1, MARCH_10, b)  # noqa: E731
        assert await refusal(sessions, leave) == code
    backwards = lambda s: set_leave(s, "amy", MARCH_10, MARCH_1)  # noqa: E731
    assert await refusal(sessions, backwards) == "leave_dates"
    async with sessions() as session, session.begin():
        await set_leave(session, "amy", MARCH_1, MARCH_10, "ben", actor="sup")
    # Ben, Amy's backup, may not take his own leave over hers with her as his backup.
    overlap = lambda s: set_leave(s, "ben", MARCH_10, MARCH_11, "amy")  # noqa: E731
    assert await refusal(sessions, overlap) == "leave_backup_absent"

    async with sessions() as session:
        amy = [(c.actor, c.change, c.detail) for c in await roster_changes(session, "amy")]
        ben = [c.detail for c in await roster_changes(session, "ben")]
    assert amy == [
        (None, "added", "region=montreal role=officer languages=fr,en"),
        (None, "updated", "email languages=fr,en,es"),
        ("sup", "leave", "from=2027-03-01 to=2027-03-10 backup=ben"),
    ]
    assert ben[-2:] == ["region=laval", "region=montreal"]
    assert not any("@" in str(row) for row in amy)


async def test_intake_and_reminders_follow_the_leave_by_its_days(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await add(sessions, off("amy", "fr,en"), off("ben", "fr"), off("sup", role="supervisor"))
    await give_cases(sessions, "ben", 2)
    async with sessions() as session, session.begin():
        await set_leave(session, "amy", MARCH_1, MARCH_10, "ben")
    async with sessions() as session:
        # During the leave new cases skip Amy (English speaker, lighter caseload)...
        assert await pick_officer(session, "montreal", "en", MARCH_10) == "ben"
        # ...and come back to her the day after, by themselves.
        assert await pick_officer(session, "montreal", "en", MARCH_11) == "amy"
        covered = await stand_in(session, "amy", MARCH_1)
        assert covered is not None and covered.backup is not None
        assert covered.backup[0] == "ben" and covered.leave_to == MARCH_10
        assert await stand_in(session, "amy", MARCH_11) is None
    # A backup who is away as well hands the reminders to the region's supervisors.
    async with sessions() as session, session.begin():
        await set_leave(session, "ben", MARCH_10, MARCH_11)
    async with sessions() as session:
        covered = await stand_in(session, "amy", MARCH_10)
        assert covered is not None and covered.backup is None
        assert await pick_officer(session, "montreal", "en", MARCH_10) is None
    async with sessions() as session, session.begin():
        await cancel_leave(session, "amy")
    async with sessions() as session:
        assert await stand_in(session, "amy", MARCH_1) is None
    assert await refusal(sessions, lambda s: cancel_leave(s, "amy")) == "leave_none"
