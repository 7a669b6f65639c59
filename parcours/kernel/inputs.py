"""Checks on what people type or import, before anything is written anywhere.

Each check raises `InvalidInput` with a `Message` (a code and parameters: each interface
renders it in its reader's language) and the field it is about. The CLI, the console, the API
and the `register_case` activity use the same checks (kernel: pure, no I/O); the visa
approval's fields are put together in `parcours.kernel.approval`.

Parameters of these messages never carry a name, an email or a phone number (they reach logs
and the activity's failure): a refused email is named by its field only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from parcours.kernel.airports import AIRPORTS
from parcours.kernel.domain import (
    DOSSIER_RE,
    IATA_RE,
    LANGUAGE_RE,
    OFFICER_ID_RE,
    REGIONS,
    PlanItem,
    Stage,
)
from parcours.kernel.errors import ParcoursError
from parcours.kernel.filters import UNASSIGNED
from parcours.kernel.messages import Message

# One limit for free text: the workflow's validators enforce the same constant.
from parcours.kernel.rules import MAX_TEXT, video_url_ok
from parcours.kernel.timezones import ZONES

_ISO_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_PHONE_RE = re.compile(r"^\+?[0-9 ().-]{7,20}$")
_TRUE = {"1", "true", "yes", "y", "oui", "o", "x"}
_FALSE = {"", "0", "false", "no", "n", "non"}


# Control characters (C0 but tab and line breaks, DEL, C1) and lone surrogates (which JSON can
# carry but UTF-8 cannot): refused in every coded field, stripped from free text (`clean`).
# PostgreSQL refuses NUL in text, SMTP headers and the codec's UTF-8 would choke on the others,
# and an ANSI escape in a note would recolour the terminal of whoever runs `parcours status`.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# Terminal escape sequences, whole: CSI (ESC [ ... final byte), OSC (ESC ] ... BEL or ST), and
# the two-byte ones (ESC and one byte); the 8-bit CSI (U+009B) too. Stripping only the ESC byte
# would leave "[31m" in the text.
_ANSI = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"  # CSI: ESC [ params intermediates final
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC: ESC ] text, ended by BEL or ST
    r"|\x1b[@-_]"  # the other two-byte escapes
)
# How much of a refused value an error message repeats.
SHOWN = 60
# Arrival dates accepted by default: a year back (a case opened late) to two years ahead (a
# visa approved long before travel). config.py's knobs override both.
DAYS_BACK = 365
DAYS_AHEAD = 730
# RFC 5321: an address is at most 254 characters in practice, its local part at most 64.
EMAIL_MAX = 254


class InvalidInput(ParcoursError):
    """Input refused, as a `Message` and the field it is about (None: the whole item)."""

    def __init__(self, message: Message | str, field: str | None = None) -> None:
        if isinstance(message, Message):
            super().__init__(refusal=message)
        else:
            super().__init__(message)
        self.field = field


def invalid(code: str, field: str | None = None, /, **params: object) -> InvalidInput:
    return InvalidInput(Message.of(code, **params), field)


def field_key(field: str) -> str:
    """The catalogue key naming a field ("input.arrival"); a flag ("--item") stays as it is."""
    return field if field.startswith("-") else f"input.{field}"


def shown(value: object) -> str:
    """A refused value as a message repeats it: quoted, and cut if long (a 1 MB field must
    not become a 1 MB error line)."""
    text = repr(value)
    return (
        text
        if len(text) <= SHOWN
        else f"{text[: SHOWN - 4]}...{text[-1]} ({len(str(value))} characters)"
    )


def printable(value: str, field: str) -> str:
    """`value` if it holds no control character; for coded fields (a dossier, a date)."""
    bad = _UNPRINTABLE.search(value)
    if bad:
        raise invalid(
            "control_character", field, field=field_key(field), char=f"U+{ord(bad.group()):04X}"
        )
    return value


def clean(value: str) -> str:
    """Free text as it is stored: terminal escapes and control characters removed, line
    breaks (as \n) and tabs kept."""
    value = _ANSI.sub("", value.replace("\r\n", "\n").replace("\r", "\n"))
    return _UNPRINTABLE.sub("", value)


def dossier(value: str) -> str:
    """A dossier number as it is stored: trimmed and upper-case (`d-2026-0002` is
    `D-2026-0002`, one case, whoever typed it)."""
    value = value.strip().upper()
    if not DOSSIER_RE.match(value):
        raise invalid("invalid_dossier", "dossier", value=shown(value))
    return value


def iso_date(value: str, field: str = "arrival") -> str:
    value = value.strip()
    try:
        if not _ISO_DATE_RE.match(value):
            raise ValueError
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise invalid("invalid_date", field, field=field_key(field), value=shown(value)) from None


@dataclass(frozen=True)
class ArrivalWindow:
    """The arrival dates a new case may have, around `today` (injected: the caller's
    calendar day, a test's fixed one)."""

    today: date
    days_back: int = DAYS_BACK
    days_ahead: int = DAYS_AHEAD

    @property
    def earliest(self) -> date:
        return self.today - timedelta(days=self.days_back)

    @property
    def latest(self) -> date:
        return self.today + timedelta(days=self.days_ahead)


def arrival(value: str, window: ArrivalWindow) -> str:
    """An arrival date, ISO, within `window`: 1999 and 2099 are typing mistakes."""
    iso = iso_date(value, "arrival")
    day = date.fromisoformat(iso)
    if day < window.earliest:
        raise invalid("arrival_too_early", "arrival", earliest=window.earliest.isoformat())
    if day > window.latest:
        raise invalid("arrival_too_late", "arrival", latest=window.latest.isoformat())
    return iso


def region(value: str) -> str:
    value = value.strip().lower()
    if not value or value not in REGIONS:
        raise invalid("unknown_region", "region", region=shown(value))
    return value


def stage(value: str) -> Stage:
    value = value.strip().lower()
    try:
        return Stage(value)
    except ValueError:
        raise invalid("unknown_stage", "stage", value=shown(value)) from None


def email(value: str) -> str:
    """An email address by the RFCs (email-validator, no DNS: these machines are offline),
    lengths included; the domain comes back lower-case. Never repeated in the message."""
    # Imported here: it compiles its grammar at import (a tenth of a second), which neither
    # the CLI's start nor the workflow sandbox (which never checks an address) should pay.
    from email_validator import EmailNotValidError, validate_email

    value = value.strip()
    if len(value) > EMAIL_MAX:
        raise invalid("email_too_long", "email", max=EMAIL_MAX)
    try:
        # strict: the RFC 5321 limit of 64 characters before the @ too.
        checked = validate_email(value, check_deliverability=False, strict=True)
    except EmailNotValidError:
        raise invalid("invalid_email", "email") from None
    return str(checked.normalized)


def language(value: str) -> str:
    value = value.strip().lower()
    if not LANGUAGE_RE.match(value):
        raise invalid("invalid_language", "language", value=shown(value))
    return value


def languages(value: str) -> list[str]:
    codes = [language(v) for v in value.split(",") if v.strip()]
    if not codes:
        raise invalid("languages_required", "languages")
    return list(dict.fromkeys(codes))


def airport(value: str) -> str:
    """An arrival airport from the known list (kernel/airports.py), by its IATA code."""
    value = value.strip().upper()
    if not IATA_RE.match(value) or value not in AIRPORTS:
        raise invalid("unknown_airport", "airport", value=shown(value))
    return value


def time_zone(value: str) -> str:
    """One of Quebec's zones (kernel/timezones.ZONES), by its IANA name in any case."""
    for name in ZONES:
        if value.strip().lower() == name.lower():
            return name
    raise invalid("unknown_time_zone", "time_zone", zone=shown(value), expected=", ".join(ZONES))


def french_level(value: str | int) -> int:
    try:
        level = int(str(value).strip())
    except ValueError:
        level = 0
    if not 1 <= level <= 12:
        raise invalid("invalid_french_level", "french_level", value=shown(value))
    return level


def household(value: str | int) -> int:
    try:
        size = int(str(value).strip())
    except ValueError:
        size = 0
    if not 1 <= size <= 99:
        raise invalid("invalid_household", "household", value=shown(value))
    return size


def officer_id(value: str, flag: str = "--officer") -> str:
    """An officer id as stored: ids are lower-case, so `ATREMBLAY` finds atremblay."""
    value = value.strip().lower()
    if not OFFICER_ID_RE.match(value):
        raise invalid("invalid_officer_id", flag, value=shown(value), flag=flag)
    return value


def officer_filter(value: str) -> str:
    """An officer id, or `unassigned` for cases waiting for one."""
    return UNASSIGNED if value.strip().lower() == UNASSIGNED else officer_id(value)


def text(value: str, field: str) -> str:
    """Free text (a note, a reason): cleaned (`clean`), not empty, not too long. `field`: the
    field's name ("note") or the flag it came by ("--item")."""
    value = clean(value).strip()
    if not value:
        raise invalid("field_empty", field, field=field_key(field))
    if len(value) > MAX_TEXT:
        raise invalid("text_too_long", field, field=field_key(field), max=MAX_TEXT)
    return value


def name(value: str) -> str:
    value = " ".join(clean(value).split())
    if not value:
        raise invalid("field_empty", "name", field=field_key("name"))
    if len(value) > 200:
        raise invalid("text_too_long", "name", field=field_key("name"), max=200)
    return value


def phone(value: str) -> str:
    value = value.strip()
    if not _PHONE_RE.match(value):
        raise invalid("invalid_phone", "phone")
    return value


def flag(value: object, field: str) -> bool:
    if isinstance(value, bool):
        return value
    text_value = str(value).strip().lower()
    if text_value in _TRUE:
        return True
    if text_value in _FALSE:
        return False
    raise invalid("invalid_flag", field, field=field_key(field), value=shown(value))


def min_level(value: str | int) -> int:
    try:
        level = int(str(value).strip())
    except ValueError:
        level = -1
    if not 0 <= level <= 3:
        raise invalid("invalid_min_level", "--min-level", value=shown(value))
    return level


def plan_item(value: str) -> PlanItem:
    """'francization: 400 hours at the CSS' -> PlanItem(Stage.FRANCIZATION, '400 hours...')."""
    head, sep, body = value.partition(":")
    if not sep:
        raise invalid("invalid_plan_item", "--item", value=shown(value))
    item_text = body.strip()
    if not item_text:
        raise invalid("plan_item_no_text", "--item", value=shown(value))
    return PlanItem(stage=stage(head), text=text(item_text, "--item"))


# Issue 16: the first meeting's moment and link, as officers type them.
_LOCAL_MOMENT_RE = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}$")


def meeting_time(value: str, tz: tzinfo, now: datetime) -> datetime:
    """« 2026-12-10T10:00 » (or with a space), a local time in the case's zone `tz`, as an
    aware datetime; refused if it cannot be read or is already past at `now`."""
    value = value.strip()
    try:
        if not _LOCAL_MOMENT_RE.match(value):
            raise ValueError
        moment = datetime.fromisoformat(value.replace(" ", "T")).replace(tzinfo=tz)
    except ValueError:
        raise invalid("invalid_meeting_time", "meeting_at", value=shown(value)) from None
    if moment <= now:
        raise invalid("meeting_in_past", "meeting_at", value=value)
    return moment


def video_url(value: str) -> str:
    """A video meeting's link: https:// (or http://), no spaces nor control characters."""
    value = value.strip()
    if not video_url_ok(value):
        raise invalid("meeting_video_url", "video_url")
    return value
