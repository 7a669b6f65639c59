"""The console's language: French first, English on request (the words are in the catalogue).

The language comes from `?lang=` (remembered in a cookie) or the cookie, else French: the
Charter of the French language makes French the normal language of the administration.
Numeric dates are ISO 8601 (2026-11-24), the official Quebec numeric format; long dates are
"24 novembre 2026" in French, times « 24 novembre 2026, 14 h 05 ». Dates and times are shown
in a time zone: the case's own on a case page (`tz=case.time_zone`: Atlantic for the Magdalen
Islands), else Quebec's (Eastern).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, tzinfo
from typing import Any

from parcours.application.journal import AuditRow, JournalEntry, journal
from parcours.infrastructure.catalog import DEFAULT_LANGUAGE, LANGUAGES, Catalog, catalog
from parcours.kernel import timezones
from parcours.kernel.domain import region_name

__all__ = ["DEFAULT_LANGUAGE", "LANGUAGES", "LANG_COOKIE", "Translator", "pick_language"]

LANG_COOKIE = "lang"
QUEBEC_TZ = timezones.zone(None)
# A zone as templates name it: an IANA name (a case's `time_zone`), a tzinfo, or None (Quebec's).
Zone = str | tzinfo | None


def _zone(tz: Zone) -> tzinfo:
    if tz is None:
        return QUEBEC_TZ
    if isinstance(tz, str):
        return timezones.zone(None, tz)
    return tz


def pick_language(query_value: str | None, cookie_value: str | None) -> str:
    for value in (query_value, cookie_value):
        if value in LANGUAGES:
            return value
    return DEFAULT_LANGUAGE


class Translator:
    """What templates call as `t("nav.caseload")`, plus the date formats of one language."""

    def __init__(self, lang: str, tz: Zone = None, *, strict: bool = False) -> None:
        self.lang = lang if lang in LANGUAGES else DEFAULT_LANGUAGE
        # strict (the words tests): a key missing from the catalogue raises instead of showing.
        self.catalog: Catalog = Catalog(self.lang, strict=True) if strict else catalog(self.lang)
        # The page's zone: dates and times without one of their own are shown in it.
        self.zone = _zone(tz)

    def __call__(self, key: str, **params: Any) -> str:
        return self.catalog(key, **params)

    def has(self, key: object) -> bool:
        return isinstance(key, str) and self.catalog.has(key)

    def plural(self, key: str, count: int, **params: Any) -> str:
        return self.catalog.plural(key, count, **params)

    def number(self, value: float, digits: int | None = None) -> str:
        return self.catalog.number(value, digits=digits)

    def percent(self, value: float, digits: int = 0) -> str:
        return self.catalog.percent(value, digits=digits)

    def region(self, slug: str | None) -> str:
        """A region by its official name (« Montréal »), the same in both languages."""
        return region_name(slug)

    def journal(self, rows: Iterable[AuditRow]) -> list[JournalEntry]:
        """A case's audit rows as sentences in this language, newest first."""
        return journal(rows, self.catalog)

    def long_date(self, value: date | datetime | str | None, tz: Zone = None) -> str:
        """24 novembre 2026 / November 24, 2026 (a moment: its day in `tz`)."""
        return self.catalog.long_date(_as_date(value, tz or self.zone))

    def iso_date(self, value: date | datetime | str | None, tz: Zone = None) -> str:
        d = _as_date(value, tz or self.zone)
        return d.isoformat() if d else "—"

    def date_time(self, value: datetime | None, tz: Zone = None) -> str:
        """« 24 novembre 2026, 14 h 05 » / "November 24, 2026, 2:05 p.m." in `tz`."""
        if value is None:
            return "—"
        if value.tzinfo is None:  # the read model's times are UTC
            value = value.replace(tzinfo=UTC)
        return self.catalog.date_time(value, _zone(tz or self.zone))


def _as_date(value: date | datetime | str | None, tz: Zone = None) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return (value.astimezone(_zone(tz)) if value.tzinfo else value).date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None
