"""Each case's time zone: where "due on 15 January" means the whole of that local day.

Quebec keeps Eastern time (America/Toronto, which Montreal's zone links to), except the
Magdalen Islands, on Atlantic time (America/Halifax). The Islands belong to the region
Gaspésie–Îles-de-la-Madeleine, whose mainland is on Eastern time, so the region alone cannot
tell them apart: a case may name its own zone (`override`), and that wins.

Pure (zoneinfo reads the system's tz database, which the workflow sandbox allows): used by the
workflow's clocks, the console, the CLI and the emails alike.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

EASTERN = "America/Toronto"
ATLANTIC = "America/Halifax"
# Zones a case may be given: Quebec's two.
ZONES: tuple[str, ...] = (EASTERN, ATLANTIC)
# Every region of Quebec is on Eastern time; the Islands need the per-case override.
REGION_ZONES: dict[str, str] = {}


def zone_name(region: str | None, override: str | None = None) -> str:
    """The IANA name of a case's zone: `override` if it is one of Quebec's, else the region's."""
    if override is not None and override in ZONES:
        return override
    return REGION_ZONES.get(region or "", EASTERN)


def zone(region: str | None, override: str | None = None) -> ZoneInfo:
    try:
        return ZoneInfo(zone_name(region, override))
    except ZoneInfoNotFoundError:  # pragma: no cover - the system's tz database is incomplete
        return ZoneInfo("America/Montreal")
