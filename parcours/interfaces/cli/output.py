"""Human and machine output: aligned tables, local dates, JSON on one stream.

Human output speaks the catalogue's language (yes/no, a stage's or a status's name) and reads
moments in local time (« 9 décembre 2026, 00 h 00 », in the case's zone when there is one, else
Quebec's); `--json` keeps the machine's English keys, raw values and ISO 8601 with its offset.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime, tzinfo
from enum import Enum
from typing import Any, TextIO

from parcours.infrastructure.catalog import Catalog, catalog
from parcours.kernel import timezones

# The catalogue's prefix for the values of each kernel enum ("stage.arrival", "status.paused").
_ENUM_KEYS = {
    "Stage": "stage",
    "CaseStatus": "status",
    "GreetingOutcome": "greeting",
    "Role": "role",
    "WithdrawalReason": "withdrawal",
    "ItemStatus": "item_status",
}


def zone(name: str | None = None) -> tzinfo:
    """A case's zone by its IANA name (`CaseView.time_zone`); None: Quebec's."""
    return timezones.zone(None, name)


def moment(value: datetime, tz: tzinfo | None = None, t: Catalog | None = None) -> str:
    """A moment as people read it: « 9 décembre 2026, 00 h 00 » in `tz` (Quebec's)."""
    if value.tzinfo is None:  # the read model's times are UTC
        value = value.replace(tzinfo=UTC)
    return (t or catalog()).date_time(value, tz or zone())


def day(value: date | str | None, t: Catalog | None = None) -> str:
    """A day as people read it: « 15 janvier 2027 »."""
    if value is None or value == "":
        return "-"
    d = date.fromisoformat(value) if isinstance(value, str) else value
    return (t or catalog()).long_date(d)


def cell(value: object, t: Catalog | None = None, tz: tzinfo | None = None) -> str:
    """A value as a person reads it; an enum whose value the catalogue names ("stage.arrival",
    "status.active") in the catalogue's words; a moment in `tz`."""
    t = t or catalog()
    if value is None:
        return "-"
    if isinstance(value, bool):
        return t("yes") if value else t("no")
    if isinstance(value, datetime):
        return moment(value, tz, t)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        key = f"{_ENUM_KEYS.get(type(value).__name__, '-')}.{value.value}"
        return t(key) if t.has(key) else str(value.value)
    if isinstance(value, list | tuple):
        return ",".join(cell(v, t, tz) for v in value) or "-"
    return str(value)


def table(
    headers: Sequence[str],
    rows: Sequence[Sequence[object]],
    out: TextIO | None = None,
    t: Catalog | None = None,
    tz: tzinfo | None = None,
) -> None:
    """Print rows as columns aligned on the widest cell (numbers stay left-aligned: ids).
    Moments are shown in `tz` (Quebec's)."""
    out = out or sys.stdout
    text_rows = [[cell(v, t, tz) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in text_rows:
        for i, value in enumerate(row):
            widths[i] = max(widths[i], len(value))
    for row in [list(headers), *text_rows]:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip(), file=out)


def fields(
    pairs: Sequence[tuple[str, object]],
    out: TextIO | None = None,
    t: Catalog | None = None,
    tz: tzinfo | None = None,
) -> None:
    """Print `label  value` lines aligned on the longest label; moments in `tz`."""
    out = out or sys.stdout
    width = max((len(k) for k, _ in pairs), default=0)
    for key, value in pairs:
        print(f"{key.ljust(width)}  {cell(value, t, tz)}", file=out)


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dump_json(value: object, out: TextIO | None = None, *, compact: bool = False) -> None:
    out = out or sys.stdout
    if compact:
        print(json.dumps(value, default=_default, ensure_ascii=False), file=out)
    else:
        print(json.dumps(value, default=_default, ensure_ascii=False, indent=2), file=out)
