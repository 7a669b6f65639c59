"""Human and machine output: aligned tables, ISO dates, JSON on one stream."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import date, datetime
from enum import Enum
from typing import Any, TextIO


def cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, list | tuple):
        return ",".join(cell(v) for v in value) or "-"
    return str(value)


def table(
    headers: Sequence[str], rows: Sequence[Sequence[object]], out: TextIO | None = None
) -> None:
    """Print rows as columns aligned on the widest cell (numbers stay left-aligned: ids)."""
    out = out or sys.stdout
    text_rows = [[cell(v) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in text_rows:
        for i, value in enumerate(row):
            widths[i] = max(widths[i], len(value))
    for row in [list(headers), *text_rows]:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip(), file=out)


def fields(pairs: Sequence[tuple[str, object]], out: TextIO | None = None) -> None:
    """Print `label  value` lines aligned on the longest label."""
    out = out or sys.stdout
    width = max((len(k) for k, _ in pairs), default=0)
    for key, value in pairs:
        print(f"{key.ljust(width)}  {cell(value)}", file=out)


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
