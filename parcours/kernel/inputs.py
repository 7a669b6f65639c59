"""Checks on what people type or import, before anything is written anywhere.

Each check raises `InvalidInput` with one sentence naming the field and the expected form.
The CLI, the console and the API use the same checks (kernel: pure, no I/O); the visa
approval's fields are put together in `parcours.kernel.approval`.
"""

from __future__ import annotations

import re
from datetime import date

from parcours.kernel.domain import (
    DOSSIER_RE,
    EMAIL_RE,
    IATA_RE,
    LANGUAGE_RE,
    OFFICER_ID_RE,
    REGIONS,
    STAGES,
    PlanItem,
    Stage,
)
from parcours.kernel.errors import ParcoursError
from parcours.kernel.filters import UNASSIGNED

# One limit for free text: the workflow's validators enforce the same constant.
from parcours.kernel.rules import MAX_TEXT
from parcours.kernel.timezones import ZONES

_ISO_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_PHONE_RE = re.compile(r"^\+?[0-9 ().-]{7,20}$")
_TRUE = {"1", "true", "yes", "y", "oui", "o", "x"}
_FALSE = {"", "0", "false", "no", "n", "non"}


# Control characters (C0 but tab and line breaks, DEL, C1) and lone surrogates (which JSON can
# carry but UTF-8 cannot): refused in every text field. PostgreSQL refuses NUL in text, SMTP
# headers and the codec's UTF-8 would choke on the others, long after the row was accepted.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# How much of a refused value an error message repeats.
SHOWN = 60


class InvalidInput(ParcoursError):
    pass


def shown(value: object) -> str:
    """A refused value as the error message repeats it: quoted, and cut if long (a 1 MB field
    must not become a 1 MB error line)."""
    text = repr(value)
    return (
        text
        if len(text) <= SHOWN
        else f"{text[: SHOWN - 4]}...{text[-1]} ({len(str(value))} characters)"
    )


def printable(value: str, field: str) -> str:
    bad = _UNPRINTABLE.search(value)
    if bad:
        raise InvalidInput(f"{field} contains a control character (U+{ord(bad.group()):04X})")
    return value


def dossier(value: str) -> str:
    value = value.strip()
    if not DOSSIER_RE.match(value):
        raise InvalidInput(
            f"invalid dossier {shown(value)}: letters, digits, '-' and '_' only "
            "(up to 64, starting with a letter or digit)"
        )
    return value


def iso_date(value: str, field: str = "arrival") -> str:
    value = value.strip()
    try:
        if not _ISO_DATE_RE.match(value):
            raise ValueError
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise InvalidInput(f"invalid {field} date {shown(value)}: expected YYYY-MM-DD") from None


def region(value: str) -> str:
    value = value.strip().lower()
    if value not in REGIONS:
        raise InvalidInput(f"unknown region {shown(value)} (expected one of: {', '.join(REGIONS)})")
    return value


def stage(value: str) -> Stage:
    value = value.strip().lower()
    try:
        return Stage(value)
    except ValueError:
        names = ", ".join(s.value for s in STAGES)
        raise InvalidInput(f"unknown stage {shown(value)} (expected one of: {names})") from None


def email(value: str) -> str:
    value = value.strip()
    if not EMAIL_RE.match(value):
        raise InvalidInput(f"malformed email {shown(value)}: expected name@domain.tld")
    return value


def language(value: str) -> str:
    value = value.strip().lower()
    if not LANGUAGE_RE.match(value):
        raise InvalidInput(
            f"invalid language {shown(value)}: expected an ISO 639-1 code like fr, en, es"
        )
    return value


def languages(value: str) -> list[str]:
    codes = [language(v) for v in value.split(",") if v.strip()]
    if not codes:
        raise InvalidInput("--languages needs at least one ISO 639-1 code, e.g. fr,en")
    return list(dict.fromkeys(codes))


def airport(value: str) -> str:
    value = value.strip().upper()
    if not IATA_RE.match(value):
        raise InvalidInput(
            f"invalid airport {shown(value)}: expected a 3-letter IATA code like YUL"
        )
    return value


def time_zone(value: str) -> str:
    """One of Quebec's zones (kernel/timezones.ZONES), by its IANA name in any case."""
    for name in ZONES:
        if value.strip().lower() == name.lower():
            return name
    raise InvalidInput(f"unknown time zone {shown(value)} (expected one of: {', '.join(ZONES)})")


def french_level(value: str | int) -> int:
    try:
        level = int(str(value).strip())
    except ValueError:
        level = 0
    if not 1 <= level <= 12:
        raise InvalidInput(f"invalid French level {shown(value)}: expected 1 to 12 (Quebec scale)")
    return level


def household(value: str | int) -> int:
    try:
        size = int(str(value).strip())
    except ValueError:
        size = 0
    if not 1 <= size <= 99:
        raise InvalidInput(f"invalid household size {shown(value)}: expected a whole number from 1")
    return size


def officer_id(value: str, flag: str = "--officer") -> str:
    value = value.strip()
    if not OFFICER_ID_RE.match(value):
        raise InvalidInput(
            f"invalid officer id {shown(value)} for {flag}: "
            "lowercase letters, digits, '.', '_', '-'"
        )
    return value


def officer_filter(value: str) -> str:
    """An officer id, or `unassigned` for cases waiting for one."""
    return UNASSIGNED if value.strip() == UNASSIGNED else officer_id(value)


def text(value: str, field: str) -> str:
    value = value.strip()
    if not value:
        raise InvalidInput(f"{field} must not be empty")
    if len(value) > MAX_TEXT:
        raise InvalidInput(f"{field} is too long ({len(value)} characters; at most {MAX_TEXT})")
    return value


def name(value: str) -> str:
    value = " ".join(value.split())
    if not value:
        raise InvalidInput("name must not be empty")
    if len(value) > 200:
        raise InvalidInput("name is too long (at most 200 characters)")
    return value


def phone(value: str) -> str:
    value = value.strip()
    if not _PHONE_RE.match(value):
        raise InvalidInput(f"invalid phone {shown(value)}: digits, spaces, '+', '-', '(', ')' only")
    return value


def flag(value: object, field: str) -> bool:
    if isinstance(value, bool):
        return value
    text_value = str(value).strip().lower()
    if text_value in _TRUE:
        return True
    if text_value in _FALSE:
        return False
    raise InvalidInput(f"invalid {field} {shown(value)}: expected true or false")


def min_level(value: str | int) -> int:
    try:
        level = int(str(value).strip())
    except ValueError:
        level = -1
    if not 0 <= level <= 3:
        raise InvalidInput(f"invalid --min-level {shown(value)}: expected 0 to 3")
    return level


def plan_item(value: str) -> PlanItem:
    """'francization: 400 hours at the CSS' -> PlanItem(Stage.FRANCIZATION, '400 hours...')."""
    head, sep, body = value.partition(":")
    if not sep:
        raise InvalidInput(f'invalid --item {shown(value)}: expected "STAGE: text"')
    item_text = body.strip()
    if not item_text:
        raise InvalidInput(f"invalid --item {shown(value)}: the text after the stage is empty")
    return PlanItem(stage=stage(head), text=text(item_text, "--item"))
