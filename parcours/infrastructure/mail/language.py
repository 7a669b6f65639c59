"""Which languages a notice may carry, and the proper names emails print as they are.

Charter of the French language, s. 22.3: the Administration writes in French; during the
first six months after a newcomer's arrival it may add the newcomer's language beside the
French, never instead of it. After six months, French only.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from parcours.kernel import airports, domain

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


# Official names: the same in every language of a message.


def region_name(slug: str | None) -> str:
    return domain.region_name(slug)


def airport_name(code: str | None) -> str:
    """What follows « l'aéroport » in the welcome: « Montréal–Trudeau (YUL) »; a code no
    longer on the list (kernel/airports.py) prints as it is."""
    if not code:
        return ""
    name = airports.french_name(code)
    return code if name == code else f"{name} ({code})"
