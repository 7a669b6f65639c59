"""The officer roster: validation, listing, assignment, demo data."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import date, datetime

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from parcours.infrastructure.store.models import (
    Case,
    Officer,
    RosterChange,
    split_languages,
    utcnow,
)
from parcours.kernel import assignment
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
from parcours.kernel.timezones import zone

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


async def add_officer(
    session: AsyncSession, new: NewOfficer, *, actor: str | None = None
) -> Officer:
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
    await record_change(
        session,
        clean.id,
        "added",
        f"region={clean.region} role={clean.role} languages={clean.languages}",
        actor,
    )
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
# The officers of a region with their open caseload. Built once, with the region bound at
# execution, and columns rather than Officer objects: this runs for every new case. The rule
# itself (who is there on the day, language, caseload) is the kernel's.
_RANKED = select(
    Officer.id,
    Officer.languages,
    _OPEN_CASES.label("open_cases"),
    Officer.leave_from,
    Officer.leave_to,
).where(
    Officer.region == bindparam("region"),
    Officer.role == Role.OFFICER.value,
    Officer.active.is_(True),
)


def local_today(region: str | None = None) -> date:
    """Today in the region's zone: the day a leave is judged by."""
    return datetime.now(zone(region)).date()


async def pick_officer(
    session: AsyncSession, region: str, language: str, day: date | None = None
) -> str | None:
    """The officer a new case of `region` goes to on `day` (default: today there), or None if
    the region has nobody who can take it: `parcours.kernel.assignment.pick` (never an
    inactive officer nor one on leave; language first, then lowest open caseload, then id)."""
    rows = (await session.execute(_RANKED, {"region": region})).all()
    return assignment.pick(
        (
            assignment.Candidate(
                id=r.id,
                languages=tuple(split_languages(r.languages)),
                open_cases=int(r.open_cases or 0),
                leave_from=r.leave_from,
                leave_to=r.leave_to,
            )
            for r in rows
        ),
        language,
        day or local_today(region),
    )


# ----------------------------------------------------------------------------------------
# Changing the roster (issue 17): every change leaves a row in `roster_changes`.
# ----------------------------------------------------------------------------------------


async def record_change(
    session: AsyncSession, officer_id: str, change: str, detail: str, actor: str | None
) -> None:
    """Audit one roster change: ids, field names, codes and dates only (no name, no email)."""
    session.add(
        RosterChange(at=utcnow(), actor=actor, officer_id=officer_id, change=change, detail=detail)
    )
    await session.flush()


async def roster_changes(session: AsyncSession, officer_id: str) -> list[RosterChange]:
    stmt = (
        select(RosterChange).where(RosterChange.officer_id == officer_id).order_by(RosterChange.id)
    )
    return list((await session.scalars(stmt)).all())


async def known_officer(session: AsyncSession, officer_id: str) -> Officer:
    wanted = officer_id.strip().lower()
    officer = await session.get(Officer, wanted)
    if officer is None:
        raise OfficerError(
            "id",
            f"officer {officer_id!r} does not exist",
            Message.of(
                "officer_unknown", officer=wanted if OFFICER_ID_RE.match(wanted) else shown(wanted)
            ),
        )
    return officer


async def open_cases_of(session: AsyncSession, officer_id: str) -> int:
    return int(
        await session.scalar(
            select(func.count(Case.dossier)).where(
                Case.officer_id == officer_id,
                Case.status.in_([s.value for s in OPEN_STATUSES]),
            )
        )
        or 0
    )


async def update_officer(
    session: AsyncSession,
    officer_id: str,
    *,
    name: str | None = None,
    email: str | None = None,
    languages: str | None = None,
    region: str | None = None,
    role: str | None = None,
    actor: str | None = None,
) -> Officer:
    """Change the fields given (the others stay), audited. A new region or role is refused
    while the officer holds open cases: they must first be handed over (no case is ever left
    with an officer outside its region). The caller commits."""
    officer = await known_officer(session, officer_id)
    current = NewOfficer(
        officer.id,
        officer.name,
        officer.email,
        officer.region,
        officer.languages,
        officer.role,
        officer.active,
    )
    given = dict(name=name, email=email, languages=languages, region=region, role=role)
    asked = {k: v for k, v in given.items() if v is not None}
    clean = validate_officer(replace(current, **asked))  # type: ignore[arg-type]
    changed = [k for k in given if getattr(clean, k) != getattr(current, k)]
    moves = [k for k in ("region", "role") if k in changed]
    if moves:
        held = await open_cases_of(session, officer.id)
        if held:
            raise OfficerError(
                moves[0],
                f"officer {officer.id} holds {held} open case(s): hand them over first",
                Message.of("officer_has_open_cases", officer=officer.id, count=held),
            )
    if not changed:
        return officer
    for key in changed:
        setattr(officer, key, getattr(clean, key))
    # Names and addresses are personal data: the trail names the fields, and the values
    # only of the region, role and languages.
    detail = " ".join(
        f"{k}={getattr(clean, k)}" if k in ("region", "role", "languages") else k for k in changed
    )
    await record_change(session, officer.id, "updated", detail, actor)
    logger.info("officer %s updated (%s)", officer.id, ", ".join(changed))
    return officer


async def deactivate_officer(
    session: AsyncSession,
    officer_id: str,
    *,
    actor: str | None = None,
    detail: str = "",
    checked: bool = False,
) -> Officer:
    """Mark the officer inactive, audited; refused while the read model shows them open
    cases (a departure first redistributes them: application/batches.py), unless `checked`:
    the caller asked the cases' workflows themselves, which the read model may lag behind.
    Idempotent: an inactive officer stays so and no second row is written. The caller
    commits."""
    officer = await known_officer(session, officer_id)
    if not officer.active:
        return officer
    held = 0 if checked else await open_cases_of(session, officer.id)
    if held:
        raise OfficerError(
            "active",
            f"officer {officer.id} holds {held} open case(s): redistribute them first",
            Message.of("officer_has_open_cases_deactivate", officer=officer.id, count=held),
        )
    officer.active = False
    await record_change(session, officer.id, "deactivated", detail, actor)
    logger.info("officer %s deactivated", officer.id)
    return officer


def _candidate(o: Officer) -> assignment.Candidate:
    return assignment.Candidate(
        id=o.id,
        languages=tuple(o.language_list),
        active=o.active,
        leave_from=o.leave_from,
        leave_to=o.leave_to,
    )


async def set_leave(
    session: AsyncSession,
    officer_id: str,
    leave_from: date,
    leave_to: date,
    backup_id: str | None = None,
    *,
    actor: str | None = None,
) -> Officer:
    """Record a leave (replacing any earlier one), audited. The backup, if named: active, of
    the same region, not the officer, not on leave during it. The caller commits."""
    officer = await known_officer(session, officer_id)
    backup = await known_officer(session, backup_id) if backup_id else None
    problem = assignment.leave_problem(
        leave_from, leave_to, officer.id, _candidate(backup) if backup else None
    )
    if problem is None and backup is not None and backup.region != officer.region:
        problem = "leave_backup_region"
    if problem is not None:
        raise OfficerError(
            "leave",
            f"leave of {officer.id} refused: {problem}",
            Message.of(
                problem,
                officer=officer.id,
                backup=backup.id if backup else "",
                region=officer.region,
            ),
        )
    officer.leave_from, officer.leave_to = leave_from, leave_to
    officer.backup_id = backup.id if backup else None
    detail = f"from={leave_from.isoformat()} to={leave_to.isoformat()}"
    await record_change(
        session, officer.id, "leave", f"{detail} backup={officer.backup_id or '-'}", actor
    )
    logger.info("officer %s on leave %s", officer.id, detail)
    return officer


async def cancel_leave(
    session: AsyncSession, officer_id: str, *, actor: str | None = None
) -> Officer:
    """End (or call off) the officer's leave, audited. The caller commits."""
    officer = await known_officer(session, officer_id)
    if officer.leave_from is None:
        raise OfficerError(
            "leave",
            f"officer {officer.id} has no leave",
            Message.of("leave_none", officer=officer.id),
        )
    officer.leave_from = officer.leave_to = officer.backup_id = None
    await record_change(session, officer.id, "leave_cancelled", "", actor)
    logger.info("officer %s leave cancelled", officer.id)
    return officer


@dataclass(frozen=True)
class StandIn:
    """Who receives an absent officer's reminders: `backup` (id, email, name) or the region's
    supervisors (`backup` None)."""

    officer_id: str
    officer_name: str
    leave_to: date
    backup: tuple[str, str, str] | None


_ABSENCE = select(
    Officer.id,
    Officer.name,
    Officer.region,
    Officer.leave_from,
    Officer.leave_to,
    Officer.backup_id,
).where(Officer.id == bindparam("id"))
_BACKUP = select(
    Officer.id,
    Officer.email,
    Officer.name,
    Officer.region,
    Officer.active,
    Officer.leave_from,
    Officer.leave_to,
).where(Officer.id == bindparam("id"))


async def stand_in(session: AsyncSession, officer_id: str, day: date) -> StandIn | None:
    """None when the officer is not on leave on `day`; else who stands in for their
    reminders: their backup if still active, of the region and present that day, else the
    region's supervisors. Decided by the day, so a leave ends by itself."""
    row = (await session.execute(_ABSENCE, {"id": officer_id})).first()
    if row is None or not assignment.on_leave(row.leave_from, row.leave_to, day):
        return None
    backup = None
    if row.backup_id:
        b = (await session.execute(_BACKUP, {"id": row.backup_id})).first()
        if (
            b is not None
            and b.active
            and b.region == row.region
            and not assignment.on_leave(b.leave_from, b.leave_to, day)
        ):
            backup = (b.id, b.email, b.name)
    return StandIn(officer_id, row.name, row.leave_to, backup)


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
