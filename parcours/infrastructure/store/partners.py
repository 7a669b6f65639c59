"""The referral directory (issue 16): partner organisations, their region, the services they
give and how newcomers reach them. Officers refer a plan item to one (`parcours item
--partner`); the newcomer's referral email carries its contact details."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from parcours.infrastructure.store.models import Partner
from parcours.kernel.domain import EMAIL_RE, PARTNER_ID_RE, REGIONS, PartnerRef
from parcours.kernel.errors import ParcoursError
from parcours.kernel.inputs import clean, shown
from parcours.kernel.messages import Message

logger = logging.getLogger(__name__)

# What a partner may offer: the stages after arrival, and anything else.
PARTNER_SERVICES: tuple[str, ...] = ("francization", "employment", "community", "other")
MAX_NAME = 200
MAX_CONTACT = 300


class PartnerError(ParcoursError, ValueError):
    """A partner that cannot be saved or found; `refusal` says why in people's words."""

    def __init__(self, field: str, message: str, refusal: Message) -> None:
        super().__init__(f"{field}: {message}", refusal=refusal)
        self.field = field


@dataclass
class NewPartner:
    id: str
    name: str
    region: str
    services: str  # comma-separated subset of PARTNER_SERVICES
    email: str = ""
    phone: str = ""
    url: str = ""
    active: bool = True


def parse_services(raw: str) -> list[str]:
    services = list(dict.fromkeys(s.strip().lower() for s in raw.split(",") if s.strip()))
    wrong = [s for s in services if s not in PARTNER_SERVICES]
    if not services or wrong:
        raise PartnerError(
            "services",
            f"services must be among {', '.join(PARTNER_SERVICES)}",
            Message.of(
                "partner_services",
                value=shown(",".join(wrong)),
                choices=", ".join(PARTNER_SERVICES),
            ),
        )
    return services


def _one_line(value: str) -> str:
    return " ".join(clean(value).split())


def validate_partner(new: NewPartner) -> NewPartner:
    """A normalized copy of `new`, or PartnerError naming the field."""
    partner_id = new.id.strip()
    if not PARTNER_ID_RE.match(partner_id):
        raise PartnerError(
            "id",
            f"{partner_id!r} is not a valid partner id",
            Message.of("partner_id_invalid", value=shown(partner_id)),
        )
    # One line each, as the console and the emails show them, and as the CLI prints them: no
    # terminal escapes or control characters (inputs.clean), line breaks made spaces.
    name = _one_line(new.name)
    if not name or len(name) > MAX_NAME:
        raise PartnerError("name", "a name is required", Message.of("partner_name_empty"))
    region = new.region.strip().lower()
    if region not in REGIONS:
        raise PartnerError(
            "region",
            f"{region!r} is not a region of Quebec",
            Message.of("officer_region", value=shown(region), choices=", ".join(REGIONS)),
        )
    services = ",".join(parse_services(new.services))
    email = new.email.strip()
    if email and not EMAIL_RE.match(email):
        raise PartnerError("email", "not a valid email address", Message.of("partner_email"))
    phone, url = _one_line(new.phone), new.url.strip()
    if len(phone) > 64 or len(url) > 500:
        raise PartnerError("contact", "contact too long", Message.of("partner_contact"))
    if url and (
        not url.startswith(("https://", "http://"))
        or any(c.isspace() or not c.isprintable() for c in url)
    ):
        raise PartnerError("url", "an address starts with https://", Message.of("partner_url"))
    if not (email or phone or url):
        raise PartnerError("contact", "a contact is required", Message.of("partner_contact"))
    return NewPartner(partner_id, name, region, services, email, phone, url, new.active)


async def add_partner(session: AsyncSession, new: NewPartner) -> Partner:
    """Validate and insert a partner (PartnerError on bad input or a taken id). The caller
    commits."""
    clean = validate_partner(new)
    if await session.get(Partner, clean.id) is not None:
        raise PartnerError("id", "partner exists", Message.of("partner_exists", partner=clean.id))
    partner = Partner(
        id=clean.id,
        name=clean.name,
        region=clean.region,
        services=clean.services,
        email=clean.email,
        phone=clean.phone,
        url=clean.url,
        active=clean.active,
    )
    session.add(partner)
    await session.flush()
    logger.info("partner %s added (%s)", clean.id, clean.region)
    return partner


async def get_partner(session: AsyncSession, partner_id: str) -> Partner:
    """The partner, or PartnerError (`partner_unknown`)."""
    partner = await session.get(Partner, partner_id)
    if partner is None:
        raise PartnerError(
            "id", "no such partner", Message.of("partner_unknown", partner=shown(partner_id))
        )
    return partner


async def update_partner(
    session: AsyncSession,
    partner_id: str,
    *,
    name: str | None = None,
    region: str | None = None,
    services: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    url: str | None = None,
    active: bool | None = None,
) -> Partner:
    """Change the fields given (the others stay). The caller commits."""
    partner = await get_partner(session, partner_id)
    current = NewPartner(
        partner.id,
        partner.name,
        partner.region,
        partner.services,
        partner.email,
        partner.phone,
        partner.url,
        partner.active,
    )
    texts = dict(name=name, region=region, services=services, email=email, phone=phone, url=url)
    changes: dict[str, object] = {k: v for k, v in texts.items() if v is not None}
    if active is not None:
        changes["active"] = active
    clean = validate_partner(replace(current, **changes))  # type: ignore[arg-type]
    for key in ("name", "region", "services", "email", "phone", "url", "active"):
        setattr(partner, key, getattr(clean, key))
    await session.flush()
    logger.info("partner %s updated (%s)", partner.id, ", ".join(sorted(changes)))
    return partner


async def list_partners(
    session: AsyncSession,
    *,
    region: str | None = None,
    service: str | None = None,
    active_only: bool = False,
) -> list[Partner]:
    stmt = select(Partner).order_by(Partner.region, Partner.name, Partner.id)
    if region is not None:
        stmt = stmt.where(Partner.region == region)
    if active_only:
        stmt = stmt.where(Partner.active.is_(True))
    partners = list((await session.scalars(stmt)).all())
    if service is not None:
        partners = [p for p in partners if service in p.service_list]
    return partners


async def referral_partner(session: AsyncSession, partner_id: str) -> PartnerRef:
    """The directory's entry as a referral gives it to the workflow (and the newcomer's email):
    an active partner, or PartnerError."""
    partner = await get_partner(session, partner_id)
    if not partner.active:
        raise PartnerError(
            "id", "partner inactive", Message.of("partner_inactive", partner=partner.id)
        )
    return PartnerRef(partner.id, partner.name, partner.email, partner.phone, partner.url)


# Demo directory (`parcours dev`): a few per region of the demo roster. Public bodies' names;
# the contact details are made up (example.org, 555 numbers).
_DEMO = (
    # id, name, region, services, email, phone, url
    ("fq-montreal", "Francisation Québec – point de service Montréal", "montreal",
     "francization", "francisation.montreal@example.org", "514 555-0101",
     "https://www.quebec.ca/education/apprendre-le-francais"),
    ("fq-capitale-nationale", "Francisation Québec – point de service Québec",
     "capitale-nationale", "francization", "francisation.quebec@example.org", "418 555-0101",
     "https://www.quebec.ca/education/apprendre-le-francais"),
    ("emploi-montreal", "Carrefour emploi Montréal (organisme régional d'employabilité)",
     "montreal", "employment", "emploi.montreal@example.org", "514 555-0202", ""),
    ("emploi-capitale-nationale", "Service d'aide à l'emploi de la Capitale-Nationale",
     "capitale-nationale", "employment", "emploi.quebec@example.org", "418 555-0202", ""),
    ("accueil-montreal", "Maison d'accueil des nouveaux arrivants de Montréal", "montreal",
     "community,other", "accueil.montreal@example.org", "514 555-0303", ""),
    ("accueil-capitale-nationale", "Centre communautaire des nouveaux arrivants de Québec",
     "capitale-nationale", "community,other", "accueil.quebec@example.org", "418 555-0303", ""),
)  # fmt: skip
DEMO_PARTNERS: tuple[NewPartner, ...] = tuple(NewPartner(*row) for row in _DEMO)


async def seed_demo_partners(session: AsyncSession) -> int:
    """Insert the demo directory when the table is empty; how many were added. The caller
    commits."""
    if await session.scalar(select(func.count()).select_from(Partner)):
        return 0
    for new in DEMO_PARTNERS:
        await add_partner(session, new)
    return len(DEMO_PARTNERS)
