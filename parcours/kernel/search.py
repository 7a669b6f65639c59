"""Custom search attributes: what supervisors filter on in Temporal visibility.

They are not encrypted by any payload codec, so they hold no personal data: ids, stage,
region, clocks. The dev server and the test fixtures register exactly this list.
"""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

# The plain values live in filters.py (importable without the SDK); named here too, as
# `search.UNASSIGNED` and `search.CLOSED` read naturally next to the keys.
from parcours.kernel.filters import CLOSED as CLOSED
from parcours.kernel.filters import UNASSIGNED as UNASSIGNED
from parcours.kernel.filters import StuckFilter as StuckFilter

STAGE = SearchAttributeKey.for_keyword("ParcoursStage")
STATUS = SearchAttributeKey.for_keyword("ParcoursStatus")
OFFICER = SearchAttributeKey.for_keyword("ParcoursOfficer")
REGION = SearchAttributeKey.for_keyword("ParcoursRegion")
ESCALATION_LEVEL = SearchAttributeKey.for_int("ParcoursEscalationLevel")
STALLED_SINCE = SearchAttributeKey.for_datetime("ParcoursStalledSince")
OVERDUE = SearchAttributeKey.for_bool("ParcoursOverdue")
# Issue 16: the first meeting is booked on a day after the plan's due day (set only once a
# meeting is booked: cases without one never carry it).
MEETING_LATE = SearchAttributeKey.for_bool("ParcoursMeetingLate")

ALL: tuple[SearchAttributeKey, ...] = (
    STAGE,
    STATUS,
    OFFICER,
    REGION,
    ESCALATION_LEVEL,
    STALLED_SINCE,
    OVERDUE,
    MEETING_LATE,
)
