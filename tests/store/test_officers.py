import pytest

from parcours.infrastructure.store.officers import (
    DEMO_OFFICERS,
    NewOfficer,
    OfficerError,
    add_officer,
    get_officer,
    list_officers,
    seed_demo_officers,
)
from tests.store.conftest import add


def officer(**overrides) -> NewOfficer:
    fields = {
        "id": "mgagne",
        "name": "Marie Gagné",
        "email": "marie.gagne@parcours.example",
        "region": "montreal",
        "languages": "fr,en",
    }
    return NewOfficer(**{**fields, **overrides})


async def test_add_officer_normalizes_and_reads_back(sessions):
    async with sessions() as session, session.begin():
        await add_officer(session, officer(languages=" FR, en ,fr", region="Montreal"))
    async with sessions() as session:
        saved = await get_officer(session, "mgagne")
    assert saved is not None
    assert saved.language_list == ["fr", "en"]
    assert saved.region == "montreal"
    assert saved.role == "officer" and saved.active
    assert saved.to_json()["languages"] == ["fr", "en"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"region": "toronto"}, "region"),
        ({"email": "marie.gagne"}, "email"),
        ({"email": "a b@x.example"}, "email"),
        ({"id": "Marie Gagné"}, "id"),
        ({"id": ""}, "id"),
        ({"name": "  "}, "name"),
        ({"role": "boss"}, "role"),
        ({"languages": "french"}, "languages"),
        ({"languages": ""}, "languages"),
    ],
)
async def test_invalid_officer_is_refused_naming_the_field(sessions, overrides, field):
    async with sessions() as session, session.begin():
        with pytest.raises(OfficerError) as err:
            await add_officer(session, officer(**overrides))
    assert err.value.field == field
    assert str(err.value).startswith(f"{field}: ")
    assert isinstance(err.value, ValueError)


async def test_duplicate_officer_id_is_refused(sessions):
    await add(sessions, officer())
    async with sessions() as session, session.begin():
        with pytest.raises(OfficerError, match="^id: officer 'mgagne' already exists"):
            await add_officer(session, officer(email="other@parcours.example"))


async def test_demo_officers_are_seeded_only_into_an_empty_roster(sessions):
    async with sessions() as session, session.begin():
        assert await seed_demo_officers(session) == len(DEMO_OFFICERS)
    async with sessions() as session, session.begin():
        assert await seed_demo_officers(session) == 0
    async with sessions() as session:
        roster = await list_officers(session)
        supervisors = await list_officers(session, role="supervisor")
        directors = await list_officers(session, role="director")
    assert len(roster) == len(DEMO_OFFICERS)
    assert all(o.email.endswith("@parcours.example") for o in roster)
    assert {o.region for o in supervisors} == {"montreal", "capitale-nationale"}
    assert len(directors) == 1
    speakers = {lang for o in roster for lang in o.language_list}
    assert {"fr", "en", "es", "ar"} <= speakers


async def test_a_non_empty_roster_gets_no_demo_officers(sessions):
    await add(sessions, officer())
    async with sessions() as session, session.begin():
        assert await seed_demo_officers(session) == 0


async def test_list_officers_filters(sessions):
    await add(
        sessions,
        officer(),
        officer(id="jroy", email="j@parcours.example", region="laval"),
        officer(id="old", email="o@parcours.example", active=False),
    )
    async with sessions() as session:
        assert [o.id for o in await list_officers(session, region="laval")] == ["jroy"]
        active = await list_officers(session, region="montreal", active_only=True)
    assert [o.id for o in active] == ["mgagne"]
