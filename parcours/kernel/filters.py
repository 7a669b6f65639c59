"""What supervisors filter cases on, in plain values: no Temporal type in sight.

`search.py` builds the typed search attribute keys, which needs the Temporal SDK (a large
import). The values below are also needed where Temporal is never contacted (the read
model's caseload and ranking, the CLI's input checks), and importing them from here keeps
those paths from paying for the SDK.
"""

from __future__ import annotations

from dataclasses import dataclass

# The value kept in ParcoursOfficer / ParcoursStage when there is none: visibility queries
# cannot match a missing keyword with '=', and "unassigned" is a filter supervisors need.
UNASSIGNED = "unassigned"
CLOSED = "closed"


@dataclass(frozen=True)
class StuckFilter:
    """What `parcours stuck` and the console's stuck page ask for. One value drives both the
    visibility query (`stuck_query`) and the read model's ranking (`most_urgent`), so the two
    cannot disagree on a filter. Values are validated by the caller."""

    min_level: int = 1
    stage: str | None = None
    region: str | None = None
    officer: str | None = None  # an officer id, or UNASSIGNED
    overdue_only: bool = False
