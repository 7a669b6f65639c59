from parcours.infrastructure.store import cases
from parcours.infrastructure.store.caseload import caseload
from parcours.infrastructure.store.officers import NewOfficer
from parcours.kernel.domain import CaseStatus, Stage
from tests.store.builders import approval, event, snapshot
from tests.store.conftest import add


def off(id: str, region: str = "montreal", **kw) -> NewOfficer:
    return NewOfficer(id, id.title(), f"{id}@parcours.example", region, "fr", **kw)


async def put(sessions, dossier: str, **kw) -> None:
    snap = snapshot(dossier, **kw)
    async with sessions() as session, session.begin():
        await cases.register_case(session, f"newcomer-{dossier}", approval(dossier), snap)


async def test_caseload_by_officer_stage_and_level(sessions):
    await add(
        sessions, off("a"), off("b"), off("idle", region="laval"), off("boss", role="supervisor")
    )
    await put(sessions, "1", officer_id="a", stage=Stage.ARRIVAL)
    await put(sessions, "2", officer_id="a", stage=Stage.EMPLOYMENT, escalation_level=2)
    await put(sessions, "3", officer_id="a", status=CaseStatus.PAUSED, stage=Stage.EMPLOYMENT)
    await put(sessions, "4", officer_id="a", status=CaseStatus.COMPLETED, stage=None)
    await put(sessions, "5", officer_id="b", stage=Stage.COMMUNITY, escalation_level=3)
    # No officer in the region: the case waits unassigned.
    await put(sessions, "6", region="outaouais")

    async with sessions() as session:
        rows = {e.officer_id: e for e in await caseload(session)}

    assert set(rows) == {"a", "b", "idle", None}  # supervisors carry no caseload
    a = rows["a"]
    assert a.open_cases == 3
    assert a.by_stage == {"arrival": 1, "francization": 0, "employment": 2, "community": 0}
    assert a.by_level == {0: 2, 1: 0, 2: 1, 3: 0}
    assert rows["b"].by_level[3] == 1
    assert rows["idle"].open_cases == 0 and rows["idle"].region == "laval"
    assert rows[None].open_cases == 1
    assert rows[None].to_json()["officer"] is None
    assert a.to_json()["by_escalation_level"] == {"0": 2, "1": 0, "2": 1, "3": 0}


async def test_caseload_follows_a_reassignment(sessions):
    await add(sessions, off("a"), off("b"))
    await put(sessions, "1", officer_id="a")
    async with sessions() as session, session.begin():
        await cases.record_event(
            session, event(7, snapshot("1", officer_id="b"), kind="reassigned")
        )
    async with sessions() as session:
        rows = {e.officer_id: e.open_cases for e in await caseload(session)}
    assert rows == {"a": 0, "b": 1, None: 0}


async def test_caseload_of_one_region(sessions):
    await add(sessions, off("a"), off("l", region="laval"))
    await put(sessions, "1", officer_id="l", region="laval")
    await put(sessions, "2", officer_id="a")
    async with sessions() as session:
        rows = await caseload(session, region="laval")
    assert [(e.officer_id, e.open_cases) for e in rows] == [("l", 1), (None, 0)]


async def test_a_holder_missing_from_the_roster_still_shows(sessions):
    await put(sessions, "1", officer_id="ghost")
    async with sessions() as session:
        rows = {e.officer_id: e for e in await caseload(session)}
    assert rows["ghost"].open_cases == 1 and rows["ghost"].name is None


async def test_unassigned_open_cases_by_region_and_first_in_the_ranking(sessions):
    """Issue 17: the open cases without an officer (the roster's signal goes to them, the
    console counts them) head the read model's stuck ranking whatever their level."""
    from parcours.infrastructure.store.caseload import (
        count_unassigned,
        most_urgent,
        unassigned_open,
    )
    from parcours.kernel.search import StuckFilter

    await add(sessions, off("a"))
    await put(sessions, "1", officer_id="a", escalation_level=3)
    await put(sessions, "2", region="laval")  # nobody in Laval: unassigned, level 0
    await put(sessions, "3", region="outaouais", escalation_level=1)
    await put(sessions, "4", region="laval", status=CaseStatus.WITHDRAWN, stage=None)
    async with sessions() as session:
        assert await unassigned_open(session, "laval") == ["newcomer-2"]
        assert await unassigned_open(session, None) == ["newcomer-2", "newcomer-3"]
        assert await count_unassigned(session, "laval") == 1
        assert await count_unassigned(session, None) == 2
        assert await count_unassigned(session, "montreal") == 0
        ranked = await most_urgent(session, 10, StuckFilter(min_level=1))
    # Unassigned first (the level-1 one before the level-0 one), then the rest by level.
    assert ranked == ["newcomer-3", "newcomer-2", "newcomer-1"]


async def test_officer_for_names_whoever_is_back_first(sessions):
    from datetime import date

    from parcours.infrastructure.store.officers import officer_for, set_leave

    day = date(2027, 3, 15)
    await add(sessions, off("x", region="estrie"), off("y", region="estrie"))
    async with sessions() as session, session.begin():
        await set_leave(session, "x", date(2027, 3, 10), date(2027, 3, 20))
        await set_leave(session, "y", date(2027, 3, 14), date(2027, 3, 16))
    async with sessions() as session:
        assert await officer_for(session, "estrie", "fr", day) == (None, date(2027, 3, 17))
        assert await officer_for(session, "estrie", "fr", date(2027, 3, 17)) == ("y", None)
        assert await officer_for(session, "laval", "fr", day) == (None, None)


async def test_claims_spread_woken_cases_and_a_retry_keeps_its_choice(sessions):
    """Issue 17: cases woken by the same roster change each see the others' claims in the
    caseload (lowest first), and a retried claim answers its first choice."""
    from datetime import date

    day = date(2027, 3, 15)
    await put(sessions, "1", region="laval")
    await put(sessions, "2", region="laval")
    await add(sessions, off("la", region="laval"), off("lb", region="laval"))
    async with sessions() as session, session.begin():
        first = await cases.claim_officer(session, "newcomer-1", "laval", "fr", day)
    async with sessions() as session, session.begin():
        second = await cases.claim_officer(session, "newcomer-2", "laval", "fr", day)
    async with sessions() as session, session.begin():
        again = await cases.claim_officer(session, "newcomer-1", "laval", "fr", day)
    assert (first, second, again) == (("la", None), ("lb", None), ("la", None))
    async with sessions() as session:
        rows = {e.officer_id: e.open_cases for e in await caseload(session, region="laval")}
    assert rows == {"la": 1, "lb": 1, None: 0}
