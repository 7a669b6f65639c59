"""Which languages a notice may carry, and the words templates need in each.

Charter of the French language, s. 22.3: the Administration writes in French; during the
first six months after a newcomer's arrival it may add the newcomer's language beside the
French, never instead of it. After six months, French only.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

FRENCH = "fr"
GRACE_MONTHS = 6

try:
    QUEBEC_TZ: ZoneInfo | None = ZoneInfo("America/Toronto")
except ZoneInfoNotFoundError:  # pragma: no cover - a system without tz data: fall back to UTC
    QUEBEC_TZ = None


def add_months(d: date, months: int) -> date:
    """Same day `months` later, clamped to the month's end (Aug 31 + 6 -> Feb 28/29)."""
    index = d.month - 1 + months
    year, month = d.year + index // 12, index % 12 + 1
    for day in (d.day, 30, 29, 28):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    raise AssertionError("unreachable")  # pragma: no cover


def within_grace_period(arrival_date: str | None, decided_at: datetime | None) -> bool:
    """True when a notice decided at `decided_at` falls before the end of the six months
    that follow arrival. A notice decided before arrival (the welcome sent before departure)
    is inside the period. Unknown dates answer False: French only is always lawful."""
    if not arrival_date or decided_at is None:
        return False
    try:
        arrival = date.fromisoformat(arrival_date)
    except ValueError:
        return False
    local = decided_at.astimezone(QUEBEC_TZ) if decided_at.tzinfo and QUEBEC_TZ else decided_at
    return local.date() < add_months(arrival, GRACE_MONTHS)


_MONTHS = {
    "fr": [
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ],
    "en": [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ],
    "es": [
        "enero",
        "febrero",
        "marzo",
        "abril",
        "mayo",
        "junio",
        "julio",
        "agosto",
        "septiembre",
        "octubre",
        "noviembre",
        "diciembre",
    ],
}


def long_date(value: str | date | datetime | None, lang: str = FRENCH) -> str:
    """'2025-03-01' -> '1er mars 2025' / 'March 1, 2025' / '1 de marzo de 2025'."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    if isinstance(value, datetime):
        value = value.astimezone(QUEBEC_TZ).date() if value.tzinfo and QUEBEC_TZ else value.date()
    months = _MONTHS.get(lang, _MONTHS[FRENCH])
    month = months[value.month - 1]
    if lang == "en":
        return f"{month} {value.day}, {value.year}"
    if lang == "es":
        return f"{value.day} de {month} de {value.year}"
    day = "1er" if value.day == 1 else str(value.day)
    return f"{day} {month} {value.year}"


# Official names: the same in every language of a message.
REGION_NAMES = {
    "bas-saint-laurent": "Bas-Saint-Laurent",
    "saguenay-lac-saint-jean": "Saguenay–Lac-Saint-Jean",
    "capitale-nationale": "Capitale-Nationale",
    "mauricie": "Mauricie",
    "estrie": "Estrie",
    "montreal": "Montréal",
    "outaouais": "Outaouais",
    "abitibi-temiscamingue": "Abitibi-Témiscamingue",
    "cote-nord": "Côte-Nord",
    "nord-du-quebec": "Nord-du-Québec",
    "gaspesie-iles-de-la-madeleine": "Gaspésie–Îles-de-la-Madeleine",
    "chaudiere-appalaches": "Chaudière-Appalaches",
    "laval": "Laval",
    "lanaudiere": "Lanaudière",
    "laurentides": "Laurentides",
    "monteregie": "Montérégie",
    "centre-du-quebec": "Centre-du-Québec",
}

AIRPORT_NAMES = {
    "YUL": "Montréal-Trudeau (YUL)",
    "YQB": "Québec Jean-Lesage (YQB)",
}

STAGE_NAMES = {
    "fr": {
        "arrival": "l'accueil",
        "francization": "la francisation",
        "employment": "l'intégration en emploi",
        "community": "l'intégration dans la communauté",
    },
    "en": {
        "arrival": "arrival and welcome",
        "francization": "French language learning (francization)",
        "employment": "employment",
        "community": "community integration",
    },
    "es": {
        "arrival": "la acogida",
        "francization": "el aprendizaje del francés (francisation)",
        "employment": "la integración laboral",
        "community": "la integración en la comunidad",
    },
}


def region_name(slug: str | None) -> str:
    return REGION_NAMES.get(slug or "", slug or "")


def airport_name(code: str | None) -> str:
    return AIRPORT_NAMES.get(code or "", code or "")


def stage_name(stage: str | None, lang: str = FRENCH) -> str:
    names = STAGE_NAMES.get(lang, STAGE_NAMES[FRENCH])
    return names.get(stage or "", stage or "")


# Names of common languages of newcomers, in French (staff emails are in French).
LANGUAGE_NAMES_FR = {
    "fr": "français",
    "en": "anglais",
    "es": "espagnol",
    "ar": "arabe",
    "pt": "portugais",
    "zh": "chinois",
    "fa": "persan",
    "uk": "ukrainien",
    "ru": "russe",
    "vi": "vietnamien",
    "ht": "créole haïtien",
    "tr": "turc",
    "hi": "hindi",
    "pa": "pendjabi",
    "ta": "tamoul",
    "sw": "swahili",
}


def language_name(code: str | None) -> str:
    return LANGUAGE_NAMES_FR.get((code or "").lower(), code or "")
