"""What supervisors filter cases on, in plain values: no Temporal type in sight.

`search.py` builds the typed search attribute keys, which needs the Temporal SDK (a large
import). The values below are also needed where Temporal is never contacted (the read
model's caseload and ranking, the CLI's input checks), and importing them from here keeps
those paths from paying for the SDK.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

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


class Figure(StrEnum):
    """A figure of the programme reports (issue 18) whose cases a list can show: the case
    list's `figure` filter, with the period, the region and `value` (a reason, a level, a
    stage). The report and the list count with the same conditions
    (infrastructure/store/reports.py)."""

    OPENED = "opened"
    # Greeted at the airport, out of the cases whose greeting outcome was recorded (a late
    # enrolment's "not applicable" is not one).
    GREETED = "greeted"
    GREETING_RECORDED = "greeting_recorded"
    # First meeting on or before the plan's due day, out of the cases with a meeting booked
    # or whose plan went overdue.
    MEETING_ON_TIME = "meeting_on_time"
    MEETING_DUE = "meeting_due"
    # Plan filed before the arrival stage went overdue, out of those filed or overdue.
    PLAN_ON_TIME = "plan_on_time"
    PLAN_DUE = "plan_due"
    # Closed in the period, by reason category (`value`; NOT_RECORDED when none was).
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"
    # Reached escalation level `value` in the period.
    ESCALATED = "escalated"
    # Ended stage `value` (approved or waived) in the period.
    STAGE_ENDED = "stage_ended"


# A reason the product did not record (withdrawals before v3 named no category).
NOT_RECORDED = "not_recorded"


@dataclass(frozen=True)
class ReportCut:
    """The cases behind one report figure: `figure` over [start, end) (UTC days, whole
    months), with its `value` where it has one."""

    figure: Figure
    start: date
    end: date
    value: str | None = None

    @property
    def last_month(self) -> str:
        """The period's last month, 'YYYY-MM'."""
        return (self.end - timedelta(days=1)).strftime("%Y-%m")
