"""The stuck list's order (issue 17): a case nobody is working on comes first, whatever its
level; then the highest level, overdue, a late meeting, the longest silence."""

from __future__ import annotations

from datetime import UTC, datetime

from parcours.application.stuck import StuckCase, stuck_query
from parcours.kernel.search import StuckFilter

T = datetime(2027, 1, 5, tzinfo=UTC)


def case(dossier: str, officer: str | None, level: int, overdue: bool = False) -> StuckCase:
    return StuckCase(dossier, "arrival", officer, "laval", level, T if level else None, overdue)


def test_unassigned_cases_head_the_list() -> None:
    cases = [
        case("A", "atremblay", 3),
        case("B", None, 0),
        case("C", "atremblay", 2, overdue=True),
        case("D", None, 2),
    ]
    cases.sort(key=StuckCase.urgency)
    assert [c.dossier for c in cases] == ["D", "B", "A", "C"]


def test_an_unassigned_case_is_stuck_whatever_its_clocks() -> None:
    query = stuck_query(StuckFilter(min_level=2))
    assert "ParcoursOfficer = 'unassigned'" in query
    assert query.index("ParcoursEscalationLevel >= 2") < query.index("ParcoursOfficer")
