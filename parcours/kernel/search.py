"""Custom search attributes: what supervisors filter on in Temporal visibility.

They are not encrypted by any payload codec, so they hold no personal data: ids, stage,
region, clocks. The dev server and the test fixtures register exactly this list.
"""

from __future__ import annotations

from dataclasses import dataclass

from temporalio.common import SearchAttributeKey

STAGE = SearchAttributeKey.for_keyword("ParcoursStage")
STATUS = SearchAttributeKey.for_keyword("ParcoursStatus")
OFFICER = SearchAttributeKey.for_keyword("ParcoursOfficer")
REGION = SearchAttributeKey.for_keyword("ParcoursRegion")
ESCALATION_LEVEL = SearchAttributeKey.for_int("ParcoursEscalationLevel")
STALLED_SINCE = SearchAttributeKey.for_datetime("ParcoursStalledSince")
OVERDUE = SearchAttributeKey.for_bool("ParcoursOverdue")

ALL: tuple[SearchAttributeKey, ...] = (
    STAGE,
    STATUS,
    OFFICER,
    REGION,
    ESCALATION_LEVEL,
    STALLED_SINCE,
    OVERDUE,
)

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
