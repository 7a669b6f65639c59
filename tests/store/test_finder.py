"""Finding cases (infrastructure/store/finder.py) on SQLite and PostgreSQL: by dossier number
or name, only among the cases the person may read, with the status filters and pages."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parcours.infrastructure.store.finder import CaseSearch, StatusFilter, find_cases
from parcours.infrastructure.store.models import Case
from parcours.kernel.domain import Actor, Role
from tests.store.builders import T0

OFFICER = Actor("atremblay", Role.OFFICER, "montreal")
SUPERVISOR = Actor("nbouchard", Role.SUPERVISOR, "montreal")
OTHER_SUPERVISOR = Actor("mlevesque", Role.SUPERVISOR, "capitale-nationale")
DIRECTOR = Actor("hcote", Role.DIRECTOR, "montreal")


def case(
    dossier: str,
    name: str,
    *,
    region: str = "montreal",
    officer: str | None = "atremblay",
    status: str = "active",
    level: int = 0,
    minutes_idle: int = 0,
) -> Case:
    quiet = T0 - timedelta(minutes=minutes_idle)
    return Case(
        dossier=dossier,
        workflow_id=f"newcomer-{dossier}",
        region=region,
        language="fr",
        arrival_date=date(2026, 3, 1),
        status=status,
        stage=None if status in ("completed", "withdrawn") else "arrival",
        officer_id=officer,
        escalation_level=level,
        overdue=False,
        stage_started_at=quiet,
        last_activity_at=quiet,
        started_at=T0 - timedelta(days=30),
        closed_at=T0 if status in ("completed", "withdrawn") else None,
        full_name=name,
        email=f"{dossier.lower()}@example.org",
    )


async def seed(sessions: async_sessionmaker[AsyncSession], *cases: Case) -> None:
    async with sessions() as session, session.begin():
        session.add_all(cases)


async def dossiers(
    sessions: async_sessionmaker[AsyncSession], viewer: Actor | None, **search: object
) -> list[str]:
    async with sessions() as session:
        found = await find_cases(session, viewer, CaseSearch(**search), T0)  # type: ignore[arg-type]
    return [r.dossier for r in found.rows]


async def test_a_name_or_a_dossier_is_found_only_among_the_cases_one_may_read(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await seed(
        sessions,
        case("D-2026-0001", "Amina Diallo"),
        case("D-2026-0002", "Amina Diallo", officer="crodriguez"),
        case("Q-2026-0003", "Amina Diallo", region="capitale-nationale", officer="jgagnon"),
        case("D-2026-0004", "Luis Pérez", officer=None),
    )
    everyone = ["D-2026-0001", "D-2026-0002", "D-2026-0004", "Q-2026-0003"]
    assert sorted(await dossiers(sessions, DIRECTOR, text="")) == everyone
    assert sorted(await dossiers(sessions, None, text="")) == everyone  # the trusted CLI
    assert await dossiers(sessions, OFFICER, text="diallo") == ["D-2026-0001"]
    assert sorted(await dossiers(sessions, SUPERVISOR, text="AMINA")) == [
        "D-2026-0001",
        "D-2026-0002",
    ]
    assert await dossiers(sessions, OTHER_SUPERVISOR, text="amina") == ["Q-2026-0003"]
    # Every word must match, in the name or the dossier number, in any order.
    assert await dossiers(sessions, DIRECTOR, text="diallo q-2026") == ["Q-2026-0003"]
    assert await dossiers(sessions, DIRECTOR, text="d-2026-0004") == ["D-2026-0004"]
    # LIKE's wildcards are searched for as themselves.
    assert await dossiers(sessions, DIRECTOR, text="%") == []
    assert await dossiers(sessions, DIRECTOR, text="D_2026") == []
    inactive = Actor("hcote", Role.DIRECTOR, "montreal", active=False)
    assert await dossiers(sessions, inactive, text="") == []


async def test_status_filters_and_pages_that_neither_overlap_nor_skip(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await seed(
        sessions,
        *[case(f"D-{n:02d}", f"Personne {n}", minutes_idle=n) for n in range(7)],
        case("D-P", "En pause", status="paused"),
        case("D-W", "Partie", status="withdrawn"),
        case("D-C", "Terminée", status="completed"),
        case("D-L3", "Escaladée", level=3),
    )
    assert sorted(await dossiers(sessions, OFFICER, status=StatusFilter.CLOSED)) == ["D-C", "D-W"]
    assert await dossiers(sessions, OFFICER, status=StatusFilter.PAUSED) == ["D-P"]
    open_cases = await dossiers(sessions, OFFICER)
    assert "D-W" not in open_cases and "D-P" in open_cases
    # Most urgent first: the escalated case, then the longest silence.
    assert open_cases[:3] == ["D-L3", "D-06", "D-05"]
    every = await dossiers(sessions, OFFICER, status=StatusFilter.ALL)
    assert every[-2:] in (["D-C", "D-W"], ["D-W", "D-C"])  # closed ones last

    pages: list[str] = []
    async with sessions() as session:
        for page in (1, 2, 3, 4):
            found = await find_cases(
                session, OFFICER, CaseSearch(status=StatusFilter.ALL, page=page, per_page=3), T0
            )
            assert (found.total, found.pages) == (11, 4)
            pages += [r.dossier for r in found.rows]
        past_the_end = await find_cases(session, OFFICER, CaseSearch(page=99, per_page=3), T0)
    assert pages == every
    assert past_the_end.page == past_the_end.pages == 3  # the last page, not an empty one
