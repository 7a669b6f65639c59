"""The one message catalogue: every word a person reads, in French first.

Messages are gettext entries of the domain `parcours` under `parcours/locale/<lang>/LC_MESSAGES/`,
keyed by a stable code ("nav.caseload", "refusal.plan_required", "journal.plan_filed") rather
than by English text: French is the source language of the administration, and a code lets the
workflow send a refusal as `code` + parameters that each interface renders in its reader's
language. Parameters are `str.format` fields ("{dossier}").

The `.po` files are the source; the `.mo` files beside them are compiled from them and committed
(as Django does), so that a CLI start reads them with the standard library's `gettext` in about a
millisecond. `make catalogue` compiles them; `tests/i18n/test_catalog.py` fails when a `.mo`
is older than its `.po` or when a key lacks its French or English text.

Numbers, dates and plurals follow Babel's fr_CA / en_CA / es rules (Babel is imported only when
a number or a date is formatted).
"""

from __future__ import annotations

import gettext
import logging
from collections.abc import Mapping
from datetime import date, datetime, tzinfo
from functools import cache
from pathlib import Path
from typing import Any

from parcours.kernel.messages import Message

log = logging.getLogger(__name__)

DOMAIN = "parcours"
LOCALE_DIR = Path(__file__).resolve().parents[1] / "locale"
# The console and the CLI speak French and English; emails to newcomers also Spanish.
LANGUAGES = ("fr", "en")
EMAIL_LANGUAGES = ("fr", "en", "es")
DEFAULT_LANGUAGE = "fr"
# Babel's locale for each language: Quebec's French, Canada's English.
BABEL_LOCALES: Mapping[str, str] = {"fr": "fr_CA", "en": "en_CA", "es": "es"}
# A plural entry's msgid_plural is the key with this suffix (the lookup uses the msgid alone).
PLURAL_SUFFIX = "#plural"


# Parameters of a Message that are quantities, formatted by the language's rules.
_NUMERIC_PARAMS = frozenset({"max", "count", "limit", "total", "minutes", "days"})


class MissingMessage(KeyError):
    """A key that has no text in the catalogue of the language asked for."""


def language(value: str | None, *, allowed: tuple[str, ...] = LANGUAGES) -> str:
    """`value` if the catalogue speaks it ("fr", "en-CA", "fr_CA.UTF-8"), else French."""
    if value:
        short = value.replace("_", "-").split("-", 1)[0].split(".", 1)[0].lower()
        if short in allowed:
            return short
    return DEFAULT_LANGUAGE


@cache
def _translations(lang: str) -> gettext.GNUTranslations:
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[lang])


class Catalog:
    """The messages, numbers and dates of one language. `t("key", name=value)`."""

    def __init__(self, lang: str = DEFAULT_LANGUAGE, *, strict: bool = False) -> None:
        self.lang = lang if lang in EMAIL_LANGUAGES else DEFAULT_LANGUAGE
        self.locale = BABEL_LOCALES[self.lang]
        # strict: a missing key raises (tests); otherwise the key itself shows, and is logged.
        self.strict = strict
        self._t = _translations(self.lang)

    def __call__(self, key: str, /, **params: Any) -> str:
        text = self._t.gettext(key)
        if text == key and not self.has(key):
            text = self._missing(key)
        return text.format(**params) if params else text

    def plural(self, key: str, count: int, /, **params: Any) -> str:
        """The form of `key` for `count` ({n} is `count`, formatted): "1 dossier", "2 dossiers"
        in French, where 0 and 1 are singular; "0 cases" in English."""
        text = self._t.ngettext(key, key + PLURAL_SUFFIX, count)
        if not self.has(key):
            text = self._missing(key)
        return text.format(n=self.number(count), **params)

    def message(self, message: Message) -> str:
        """A kernel `Message` (a refusal, a field error) in this language: its key is
        `refusal.<code>`, and a parameter that is itself a key ("stage.arrival") is rendered."""
        params = {k: self._param(k, v) for k, v in message.params}
        return self(message.key, **params)

    def _param(self, name: str, value: str) -> str:
        if self.has(value):
            return self(value)
        # Counts and limits read as numbers of the language (« 4 000 », "4,000"); ids, dates
        # and dossier numbers stay as they are.
        if name in _NUMERIC_PARAMS and value.isdigit():
            return self.number(int(value))
        return value

    def has(self, key: str) -> bool:
        # By the catalogue's own keys, not by comparing the text with the key: the English of
        # "no" is "no". A plural entry is stored under (key, form).
        known: dict[object, str] = self._t._catalog  # type: ignore[attr-defined]
        return key in known or (key, 0) in known

    def _missing(self, key: str) -> str:
        if self.strict:
            raise MissingMessage(f"{self.lang}: {key}")
        log.warning("catalogue: no %s text for %s", self.lang, key)
        return key

    # ---- numbers and dates, by Babel's rules for the language ----

    def number(self, value: float, *, digits: int | None = None) -> str:
        """1 234,5 in French, 1,234.5 in English; `digits` fixes the decimals."""
        from babel.numbers import format_decimal

        if digits is None:
            return format_decimal(value, locale=self.locale)
        pattern = "#,##0" + ("." + "0" * digits if digits else "")
        return format_decimal(value, format=pattern, locale=self.locale)

    def percent(self, value: float, *, digits: int = 0) -> str:
        from babel.numbers import format_percent

        pattern = "#,##0" + ("." + "0" * digits if digits else "") + "%"
        return format_percent(value, format=pattern, locale=self.locale)

    def long_date(self, value: date | datetime | None, tz: tzinfo | None = None) -> str:
        """« 1er février 2027 » / "February 1, 2027"; a datetime is first put in `tz`."""
        from babel.dates import format_date

        d = _as_date(value, tz)
        if d is None:
            return "—"
        text = format_date(d, format="long", locale=self.locale)
        # Quebec writes the first of the month as an ordinal: « 1er février ».
        if self.lang == "fr" and d.day == 1 and text.startswith("1 "):
            text = "1er " + text[2:]
        return text

    def short_date(self, value: date | datetime | None, tz: tzinfo | None = None) -> str:
        """2027-02-01: ISO 8601, the official numeric date in Quebec and in Canada."""
        d = _as_date(value, tz)
        return d.isoformat() if d else "—"

    def date_time(self, value: datetime | None, tz: tzinfo) -> str:
        """« 1er février 2027, 14 h 05 » / "February 1, 2027, 2:05 p.m." in `tz`."""
        from babel.dates import format_time

        if value is None:
            return "—"
        local = value.astimezone(tz)
        # « 23 h 19 » never breaks across lines: Babel's spaces become non-breaking ones.
        clock = format_time(local, format="short", locale=self.locale).replace(" ", "\u00a0")
        return f"{self.long_date(local.date())}, {clock}"


def _as_date(value: date | datetime | None, tz: tzinfo | None) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return (value.astimezone(tz) if tz is not None and value.tzinfo else value).date()
    return value


@cache
def catalog(lang: str = DEFAULT_LANGUAGE) -> Catalog:
    """The shared catalogue of `lang` (French for anything it does not speak)."""
    return Catalog(lang)
