"""The referral directory in the read model (issue 16), on SQLite and PostgreSQL: validation,
listing by region and service, an update that keeps what it does not name, deactivation, the
entry a referral hands to the workflow, and the demo seeding of `parcours dev`."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parcours.infrastructure.store.partners import (
    DEMO_PARTNERS,
    NewPartner,
    PartnerError,
    add_partner,
    list_partners,
    referral_partner,
    seed_demo_partners,
    update_partner,
    validate_partner,
)
from parcours.kernel.domain import PartnerRef


async def test_partners_are_validated_listed_updated_and_deactivated(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        saved = await add_partner(
            session,
            NewPartner(" fq-laval ", " Francisation Québec ", "Laval", "francization, other",
                       phone="450 555-0100"),
        )  # fmt: skip
        assert (saved.id, saved.name, saved.region) == ("fq-laval", "Francisation Québec", "laval")
        assert saved.service_list == ["francization", "other"]
        await add_partner(
            session, NewPartner("emploi-laval", "Emploi Laval", "laval", "employment", "e@x.org")
        )
    for wrong, code in [
        (NewPartner("Bad Id", "X", "laval", "other", "e@x.org"), "partner_id_invalid"),
        (NewPartner("x", "X", "mars", "other", "e@x.org"), "officer_region"),
        (NewPartner("x", "X", "laval", "cooking", "e@x.org"), "partner_services"),
        (NewPartner("x", "X", "laval", "other"), "partner_contact"),
        (NewPartner("x", "X", "laval", "other", url="ftp://x"), "partner_url"),
        (NewPartner("fq-laval", "X", "laval", "other", "e@x.org"), "partner_exists"),
    ]:
        with pytest.raises(PartnerError) as info:
            async with sessions() as session, session.begin():
                await add_partner(session, wrong)
        assert info.value.refusal is not None and info.value.refusal.code == code, wrong

    async with sessions() as session, session.begin():
        changed = await update_partner(session, "fq-laval", email="fq@example.org")
        assert (changed.email, changed.phone) == ("fq@example.org", "450 555-0100")
        await update_partner(session, "emploi-laval", active=False)
    async with sessions() as session:
        assert [p.id for p in await list_partners(session, active_only=True)] == ["fq-laval"]
        assert [p.id for p in await list_partners(session, service="employment")] == [
            "emploi-laval"
        ]
        assert await referral_partner(session, "fq-laval") == PartnerRef(
            "fq-laval", "Francisation Québec", "fq@example.org", "450 555-0100", ""
        )
        for missing, code in (("emploi-laval", "partner_inactive"), ("nope", "partner_unknown")):
            with pytest.raises(PartnerError) as info:
                await referral_partner(session, missing)
            assert info.value.refusal is not None and info.value.refusal.code == code


async def test_dev_seeds_the_demo_directory_once(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        assert await seed_demo_partners(session) == len(DEMO_PARTNERS)
    async with sessions() as session, session.begin():
        assert await seed_demo_partners(session) == 0
    async with sessions() as session:
        regions = {p.region for p in await list_partners(session, service="francization")}
    assert regions == {"montreal", "capitale-nationale"}


def test_a_partner_is_stored_on_one_line_without_control_characters() -> None:
    """What a director types in the console reaches the CLI's terminal and the newcomer's
    referral email: no terminal escapes, no line breaks in a name or a phone, no space or
    control character in a link."""
    clean = validate_partner(
        NewPartner("p1", "Evil\x1b[31mRED\x1b[0m\r\nLine", "laval", "other",
                   phone="514\r\nBcc: x@evil.example")
    )  # fmt: skip
    assert (clean.name, clean.phone) == ("EvilRED Line", "514 Bcc: x@evil.example")
    for url in ("https://ok.example/\nx", "https://ok.example/\x1b[2J", "https://ok.example/ x"):
        with pytest.raises(PartnerError) as info:
            validate_partner(NewPartner("p1", "X", "laval", "other", url=url))
        assert info.value.refusal is not None and info.value.refusal.code == "partner_url"
