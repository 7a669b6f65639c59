"""The officer roster: validation, listing, assignment, demo data."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from parcours.infrastructure.store.models import Case, Officer, split_languages
from parcours.kernel.domain import (
    EMAIL_RE,
    LANGUAGE_RE,
    OFFICER_ID_RE,
    OPEN_STATUSES,
    REGIONS,
    Actor,
    Role,
)
from parcours.kernel.errors import ParcoursError
from parcours.kernel.inputs import shown
from parcours.kernel.messages import Message

logger = logging.getLogger(__name__)


class OfficerError(ParcoursError, ValueError):
    """An officer that cannot be saved; the English line (for logs) starts with the offending
    field, and `refusal` says the same for people, in their language."""

    def __init__(self, field: str, message: str, refusal: Message) -> None:
        super().__init__(f"{field}: {message}", refusal=refusal)
        self.field = field


@dataclass
class NewOfficer:
    id: str
    name: str
    email: str
    region: str
    languages: str = "fr"
    role: str = Role.OFFICER.value
    active: bool = True


def parse_languages(raw: str | list[str]) -> list[str]:
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    langs = [x.strip().lower() for x in items if x.strip()]
    if not langs:
        raise OfficerError(
            "languages",
            "at least one language is required (e.g. fr,en)",
            Message.of("officer_languages_empty"),
        )
    for lang in langs:
        if not LANGUAGE_RE.match(lang):
            raise OfficerError(
                "languages",
                f"{lang!r} is not a two-letter ISO 639-1 code",
                Message.of("officer_language", value=shown(lang)),
            )
    # Order kept, duplicates dropped: "fr,en,fr" -> "fr,en".
    return list(dict.fromkeys(langs))


def validate_officer(new: NewOfficer) -> NewOfficer:
    """Return a normalized copy of `new`, or raise OfficerError naming the field."""
    officer_id = new.id.strip()
    if not OFFICER_ID_RE.match(officer_id):
        raise OfficerError(
            "id",
            f"{officer_id!r} is not a valid officer id (lowercase letters, digits, '.', '_', "
            "'-'; up to 64 characters)",
            Message.of("officer_id_invalid", value=shown(officer_id)),
        )
    name = new.name.strip()
    if not name:
        raise OfficerError("name", "a name is required", Message.of("officer_name_empty"))
    email = new.email.strip()
    if not EMAIL_RE.match(email):
        # The address itself is personal data: the error names the field only (logs read it).
        raise OfficerError(
            "email", "not a valid email address", Message.of("officer_email_invalid")
        )
    region = new.region.strip().lower()
    if region not in REGIONS:
        raise OfficerError(
            "region",
            f"{region!r} is not a region of Quebec (one of: {', '.join(REGIONS)})",
            Message.of("officer_region", value=shown(region), choices=", ".join(REGIONS)),
        )
    try:
        role = Role(new.role.strip().lower())
    except ValueError:
        raise OfficerError(
            "role",
            f"{new.role!r} is not a role (one of: {', '.join(r.value for r in Role)})",
            Message.of(
                "officer_role", value=shown(new.role), choices=", ".join(r.value for r in Role)
            ),
        ) from None
    languages = ",".join(parse_languages(new.languages))
    return NewOfficer(officer_id, name, email, region, languages, role.value, new.active)


async def add_officer(session: AsyncSession, new: NewOfficer) -> Officer:
    """Validate and insert an officer. Raises OfficerError (a ValueError) on bad input or a
    duplicate id. The caller commits."""
    clean = validate_officer(new)
    if await session.get(Officer, clean.id) is not None:
        raise OfficerError(
            "id",
            f"officer {clean.id!r} already exists",
            Message.of("officer_exists", officer=clean.id),
        )
    officer = Officer(
        id=clean.id,
        name=clean.name,
        email=clean.email,
        region=clean.region,
        languages=clean.languages,
        role=clean.role,
        active=clean.active,
    )
    session.add(officer)
    await session.flush()
    logger.info("officer %s added (%s, %s)", clean.id, clean.role, clean.region)
    return officer


async def get_officer(session: AsyncSession, officer_id: str) -> Officer | None:
    return await session.get(Officer, officer_id)


async def list_officers(
    session: AsyncSession,
    *,
    region: str | None = None,
    role: Role | str | None = None,
    active_only: bool = False,
) -> list[Officer]:
    stmt = select(Officer).order_by(Officer.region, Officer.role, Officer.id)
    if region is not None:
        stmt = stmt.where(Officer.region == region)
    if role is not None:
        stmt = stmt.where(Officer.role == str(role))
    if active_only:
        stmt = stmt.where(Officer.active.is_(True))
    return list((await session.scalars(stmt)).all())


async def staff_contacts(
    session: AsyncSession, *, region: str | None, role: Role | str
) -> list[tuple[str, str]]:
    """(email, name) of the active staff of `role` (in `region`, if given), in the order of
    list_officers: the addresses an email to supervisors or directors goes to. Columns, not
    Officer objects: an email needs nothing else."""
    stmt = (
        select(Officer.email, Officer.name)
        .where(Officer.role == str(role), Officer.active.is_(True))
        .order_by(Officer.region, Officer.role, Officer.id)
    )
    if region is not None:
        stmt = stmt.where(Officer.region == region)
    return [(email, name) for email, name in await session.execute(stmt)]


def actor_of(officer: Officer) -> Actor:
    """The Actor an interface hands to the workflow once it has resolved a person."""
    return Actor(
        officer_id=officer.id, role=Role(officer.role), region=officer.region, active=officer.active
    )


_OPEN_CASES = (
    select(func.count(Case.dossier))
    .where(Case.officer_id == Officer.id, Case.status.in_([s.value for s in OPEN_STATUSES]))
    .correlate(Officer)
    .scalar_subquery()
)
# The officers of a region by open caseload. Built once, with the region bound at execution,
# and columns rather than Officer objects: this runs for every new case.
_RANKED = (
    select(Officer.id, Officer.languages)
    .where(
        Officer.region == bindparam("region"),
        Officer.role == Role.OFFICER.value,
        Officer.active.is_(True),
    )
    .order_by(_OPEN_CASES, Officer.id)
)


async def pick_officer(session: AsyncSession, region: str, language: str) -> str | None:
    """The officer a new case of `region` goes to, or None if the region has nobody.

    An active officer of the region who speaks `language`, lowest open caseload first;
    else any active officer of the region, by the same order. Ties go to the smallest id,
    so the choice is deterministic.
    """
    ranked = (await session.execute(_RANKED, {"region": region})).all()
    if not ranked:
        return None
    # The language lists are tiny and comma-separated; an exact token match in Python
    # avoids LIKE pitfalls ("en" inside "ben").
    speakers = [o for o in ranked if language in split_languages(o.languages)]
    return str((speakers or ranked)[0].id)


DEMO_DOMAIN = "parcours.example"

_DEMO_ROSTER = (
    # id, name, region, languages, role
    ("atremblay", "Amélie Tremblay", "montreal", "fr,en", Role.OFFICER),
    ("crodriguez", "Carlos Rodríguez", "montreal", "fr,es,en", Role.OFFICER),
    ("yhaddad", "Yasmine Haddad", "montreal", "fr,ar,en", Role.OFFICER),
    ("jgagnon", "Julien Gagnon", "capitale-nationale", "fr,en", Role.OFFICER),
    ("smartinez", "Sofía Martínez", "capitale-nationale", "fr,es", Role.OFFICER),
    ("nbouchard", "Nathalie Bouchard", "montreal", "fr,en", Role.SUPERVISOR),
    ("mlevesque", "Marc Lévesque", "capitale-nationale", "fr,en", Role.SUPERVISOR),
    ("hcote", "Hélène Côté", "capitale-nationale", "fr,en", Role.DIRECTOR),
)
DEMO_OFFICERS: tuple[NewOfficer, ...] = tuple(
    NewOfficer(i, name, f"{i}@{DEMO_DOMAIN}", region, langs, role.value)
    for i, name, region, langs, role in _DEMO_ROSTER
)


async def seed_demo_officers(session: AsyncSession) -> int:
    """Insert the demo roster when the officer table is empty; returns how many were added.
    The caller commits."""
    if await session.scalar(select(func.count()).select_from(Officer)):
        return 0
    for new in DEMO_OFFICERS:
        await add_officer(session, new)
    return len(DEMO_OFFICERS)
