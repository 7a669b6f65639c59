"""Generated visa approvals: fake names and addresses, written to the run's temp dir only."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path

from parcours.kernel.calendar import start_of_day
from parcours.kernel.domain import REGIONS

# Roughly how newcomers spread: most go to Montreal.
_REGION_CYCLE = (
    ["montreal"] * 6
    + ["capitale-nationale", "monteregie", "laval"]
    + [r for r in REGIONS if r not in ("montreal", "capitale-nationale", "monteregie", "laval")]
)
_LANGUAGES = ["fr", "en", "es", "ar", "fr", "en"]
HEADER = ["dossier", "name", "email", "arrival", "region", "language", "household"]


def quebec_today() -> date:
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    today = now.date()
    # Before the Quebec day has started (UTC evening), it is still yesterday in Quebec.
    return today if now >= start_of_day(today) else today - timedelta(days=1)


def write_approvals(path: Path, prefix: str, count: int, *, arrival: date | None = None) -> Path:
    """`count` approvals with dossiers PREFIX000000...; arrivals spread over the next months
    unless `arrival` is given (the storm pins it so every stall clock starts at once)."""
    base = quebec_today()
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        for i in range(count):
            when = arrival or base + timedelta(days=30 + i % 180)
            w.writerow(
                [
                    f"{prefix}{i:06d}",
                    f"Personne Fictive {i}",
                    f"n{i}.{prefix.lower()}@bench.example.org",
                    when.isoformat(),
                    _REGION_CYCLE[i % len(_REGION_CYCLE)],
                    _LANGUAGES[i % len(_LANGUAGES)],
                    str(1 + i % 4),
                ]
            )
    return path
