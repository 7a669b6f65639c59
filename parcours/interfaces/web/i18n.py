"""The console's language: French first, English on request (the words are in the catalogue).

The language comes from `?lang=` (remembered in a cookie) or the cookie, else French: the
Charter of the French language makes French the normal language of the administration.
Numeric dates are ISO 8601 (2026-11-24), the official Quebec numeric format; long dates are
"24 novembre 2026" in French. Times are shown in Quebec's time zone.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from parcours.application.journal import AuditRow, JournalEntry, journal
from parcours.infrastructure.catalog import DEFAULT_LANGUAGE, LANGUAGES, Catalog, catalog

__all__ = ["DEFAULT_LANGUAGE", "LANGUAGES", "LANG_COOKIE", "Translator", "pick_language"]

LANG_COOKIE = "lang"
QUEBEC_TZ = ZoneInfo("America/Montreal")


def pick_language(query_value: str | None, cookie_value: str | None) -> str:
    for value in (query_value, cookie_value):
        if value in LANGUAGES:
            return value
    return DEFAULT_LANGUAGE


class Translator:
    """What templates call as `t("nav.caseload")`, plus the date formats of one language."""

    def __init__(self, lang: str, *, strict: bool = False) -> None:
        self.lang = lang if lang in LANGUAGES else DEFAULT_LANGUAGE
        # strict (the words tests): a key missing from the catalogue raises instead of showing.
        self.catalog: Catalog = Catalog(self.lang, strict=True) if strict else catalog(self.lang)

    def __call__(self, key: str, **params: Any) -> str:
        return self.catalog(key, **params)

    def has(self, key: object) -> bool:
        return isinstance(key, str) and self.catalog.has(key)

    def plural(self, key: str, count: int, **params: Any) -> str:
        return self.catalog.plural(key, count, **params)

    def number(self, value: float, digits: int | None = None) -> str:
        return self.catalog.number(value, digits=digits)

    def event(self, kind: str) -> str:
        key = f"event.{kind}"
        return self.catalog(key) if self.catalog.has(key) else kind

    def journal(self, rows: Iterable[AuditRow]) -> list[JournalEntry]:
        """A case's audit rows as sentences in this language, newest first."""
        return journal(rows, self.catalog)

    def long_date(self, value: date | datetime | str | None) -> str:
        """24 novembre 2026 / November 24, 2026."""
        return self.catalog.long_date(_as_date(value))

    def iso_date(self, value: date | datetime | str | None) -> str:
        d = _as_date(value)
        return d.isoformat() if d else "—"

    def date_time(self, value: datetime | None) -> str:
        """2026-11-24 14:05 (Quebec time): ISO date, 24-hour clock."""
        if value is None:
            return "—"
        local = value.astimezone(QUEBEC_TZ) if value.tzinfo else value
        return local.strftime("%Y-%m-%d %H:%M")


def _as_date(value: date | datetime | str | None) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return (value.astimezone(QUEBEC_TZ) if value.tzinfo else value).date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None
