"""Officer assignment: language first, then lowest open caseload, then id."""

from parcours.infrastructure.store import cases
from parcours.infrastructure.store.officers import NewOfficer, pick_officer
from parcours.kernel.domain import CaseStatus
from tests.store.builders import approval, snapshot
from tests.store.conftest import add


def off(id: str, langs: str = "fr", region: str = "montreal", **kw) -> NewOfficer:
    return NewOfficer(id, id.title(), f"{id}@parcours.example", region, langs, **kw)


async def give_cases(sessions, officer_id: str, n: int, status=CaseStatus.ACTIVE) -> None:
    async with sessions() as session, session.begin():
        for i in range(n):
            snap = snapshot(f"{officer_id}-{i}", officer_id=officer_id, status=status)
            await cases.register_case(
                session, f"newcomer-{snap.dossier}", approval(snap.dossier), snap
            )


async def pick(sessions, region: str = "montreal", language: str = "fr") -> str | None:
    async with sessions() as session:
        return await pick_officer(session, region, language)


async def test_an_officer_who_speaks_the_language_wins_over_a_lighter_caseload(sessions):
    await add(sessions, off("anglo", "fr,en"), off("hispano", "fr,es"))
    await give_cases(sessions, "hispano", 3)
    assert await pick(sessions, language="es") == "hispano"


async def test_lowest_open_caseload_among_speakers(sessions):
    await add(sessions, off("a", "fr,es"), off("b", "fr,es"), off("c", "fr"))
    await give_cases(sessions, "a", 2)
    await give_cases(sessions, "b", 1)
    assert await pick(sessions, language="es") == "b"


async def test_ties_go_to_the_smallest_id(sessions):
    await add(sessions, off("zoe"), off("adam"), off("marc"))
    assert await pick(sessions) == "adam"


async def test_closed_cases_do_not_count(sessions):
    await add(sessions, off("a"), off("b"))
    await give_cases(sessions, "a", 5, status=CaseStatus.COMPLETED)
    await give_cases(sessions, "a", 1, status=CaseStatus.WITHDRAWN)
    await give_cases(sessions, "b", 1, status=CaseStatus.PAUSED)
    assert await pick(sessions) == "a"


async def test_falls_back_to_any_officer_of_the_region(sessions):
    await add(sessions, off("b", "fr,en"), off("a", "fr"), off("arabic", "fr,ar", region="laval"))
    await give_cases(sessions, "a", 1)
    assert await pick(sessions, language="ar") == "b"


async def test_nobody_in_the_region_means_unassigned(sessions):
    await add(
        sessions,
        off("elsewhere", region="laval"),
        off("retired", active=False),
        off("boss", role="supervisor"),
        off("chief", role="director"),
    )
    assert await pick(sessions) is None
