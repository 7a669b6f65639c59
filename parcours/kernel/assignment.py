"""Who takes a new case, and who stands in for an absent officer: pure rules (issue 17).

The rule of intake: among the region's officers, never an inactive one nor one on leave on
the day; an officer who speaks the newcomer's language first (a preference: without one, any
officer of the region), then the lowest open caseload, ties to the smallest id so the choice
is deterministic. A leave is a span of local days, both ends included; it ends by itself,
since every decision is taken for a given day.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(frozen=True)
class Candidate:
    """An officer of the region as the rule sees them: ids, languages and counts only."""

    id: str
    languages: tuple[str, ...] = ("fr",)
    open_cases: int = 0
    active: bool = True
    leave_from: date | None = None
    leave_to: date | None = None


def on_leave(leave_from: date | None, leave_to: date | None, day: date) -> bool:
    """True when `day` falls within the leave (both ends included)."""
    return leave_from is not None and leave_to is not None and leave_from <= day <= leave_to


def available(c: Candidate, day: date) -> bool:
    return c.active and not on_leave(c.leave_from, c.leave_to, day)


def pick(candidates: Iterable[Candidate], language: str, day: date) -> str | None:
    """The officer a new case goes to on `day`, or None when nobody of the region can take it."""
    present = [c for c in candidates if available(c, day)]
    speakers = [c for c in present if language in c.languages]
    pool: Sequence[Candidate] = speakers or present
    if not pool:
        return None
    return min(pool, key=lambda c: (c.open_cases, c.id)).id


def back_on(candidates: Iterable[Candidate], day: date) -> date | None:
    """The first day after `day` when an active officer of the region now on leave is back
    (the day after their leave's last), or None when nobody is away: when a case that nobody
    can take on `day` should ask again."""
    backs = [
        c.leave_to + timedelta(days=1)
        for c in candidates
        if c.active and c.leave_to is not None and on_leave(c.leave_from, c.leave_to, day)
    ]
    return min(backs) if backs else None


def leave_problem(
    leave_from: date, leave_to: date, officer_id: str, backup: Candidate | None
) -> str | None:
    """Why a leave cannot be recorded (a refusal code), or None. `backup` is the named
    backup as the roster has it (None: no backup named); its region was checked by the caller
    (it needs the roster)."""
    if leave_to < leave_from:
        return "leave_dates"
    if backup is None:
        return None
    if backup.id == officer_id:
        return "leave_backup_self"
    if not backup.active:
        return "leave_backup_inactive"
    # The backup must be there for the whole leave: their own leave may not overlap it.
    if (
        backup.leave_from is not None
        and backup.leave_to is not None
        and backup.leave_from <= leave_to
        and leave_from <= backup.leave_to
    ):
        return "leave_backup_absent"
    return None
