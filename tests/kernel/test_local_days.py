"""Deadlines as whole local days (kernel/calendar.py, kernel/rules.py), without a server.

"Due on day D" means the whole of day D in the case's zone: the case turns overdue at 00:00
local on D + 1, and the day people read is D. Around the clock changes of 2027 (14 March,
7 November), over the holidays between Christmas and New Year, and on the Magdalen Islands
(Atlantic time by the case's override).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from parcours.infrastructure.catalog import Catalog
from parcours.kernel import approval as approval_model
from parcours.kernel import rules, timezones
from parcours.kernel.calendar import (
    add_working_days,
    due_day,
    end_of_local_day_after,
    is_local_midnight,
    local_end,
    local_start,
)
from parcours.kernel.domain import (
    Actor,
    CaseState,
    NewcomerApproval,
    PauseRequest,
    PolicySnapshot,
    StagePolicy,
    view_of,
)
from parcours.kernel.inputs import ArrivalWindow, InvalidInput

DAY = 86400
EASTERN = timezones.zone(None)
ATLANTIC = timezones.zone("gaspesie-iles-de-la-madeleine", timezones.ATLANTIC)
# The arrival stage of the default policy: 30 days, 5 working days for the plan.
ARRIVAL = StagePolicy(30 * DAY, 5 * DAY, 10 * DAY, 20 * DAY)
POLICY = PolicySnapshot(ARRIVAL, ARRIVAL, ARRIVAL, ARRIVAL, plan_due_working_days=5)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def case(
    arrival: str,
    *,
    region: str = "montreal",
    time_zone: str | None = None,
    local_days: bool = True,
    opened_at: datetime | None = None,
) -> CaseState:
    s = CaseState(
        approval=NewcomerApproval(
            "D-2027-0001", "Amina Diallo", "a@example.org", arrival, region, time_zone=time_zone
        ),
        policy=POLICY,
        local_days=local_days,
    )
    rules.open_case(s, opened_at or utc(2026, 12, 1, 15))
    return s


def overdue_at(s: CaseState, at: datetime) -> bool:
    list(rules.ring(s, at))
    return s.overdue


# --------------------------------------------------------------------------------------------
# The example: arrival on Sunday 10 January 2027
# --------------------------------------------------------------------------------------------


def test_arrival_on_sunday_10_january_2027_is_due_friday_15_and_overdue_after_it() -> None:
    s = case("2027-01-10")
    v = view_of(s)
    # Five working days after Sunday: Monday 11 to Friday 15.
    assert v.plan_due_on == "2027-01-15" and date(2027, 1, 15).weekday() == 4
    assert Catalog("fr").long_date(date.fromisoformat(v.plan_due_on)) == "15 janvier 2027"
    # Overdue at the end of Friday the 15th, Montreal time (00:00 EST = 05:00 UTC).
    assert s.plan_due_at == utc(2027, 1, 16, 5) == local_end(date(2027, 1, 15), EASTERN)
    assert not overdue_at(s, utc(2027, 1, 16, 4, 59, 59))  # Friday 23:59:59 in Montreal
    assert overdue_at(s, utc(2027, 1, 16, 5))
    assert v.time_zone == timezones.EASTERN


def test_a_case_from_before_local_days_reads_the_same_due_day() -> None:
    """Its deadline keeps its moment (its history replays); the day shown is the one it
    means, not the next (the page used to say « 16 janvier », a Saturday)."""
    s = case("2027-01-10", local_days=False)
    assert s.plan_due_at == utc(2027, 1, 16, 5)
    assert view_of(s).plan_due_on == "2027-01-15"


# --------------------------------------------------------------------------------------------
# Clock changes: 14 March 2027 (spring forward) and 7 November 2027 (fall back)
# --------------------------------------------------------------------------------------------


def test_due_the_day_after_spring_forward_ends_at_local_midnight_in_daylight_time() -> None:
    # Arrival Monday 8 March: 9, 10, 11, 12 and Monday 15 March (after the change).
    s = case("2027-03-08")
    assert view_of(s).plan_due_on == "2027-03-15"
    assert s.plan_due_at == utc(2027, 3, 16, 4)  # 00:00 EDT, not 01:00 as before local days
    assert not overdue_at(s, utc(2027, 3, 16, 3, 59))
    assert overdue_at(s, utc(2027, 3, 16, 4))
    assert case("2027-03-08", local_days=False).plan_due_at == utc(2027, 3, 16, 5)


def test_the_arrival_stage_clock_starts_at_local_midnight_after_spring_forward() -> None:
    s = case("2027-03-20", opened_at=utc(2027, 3, 1))
    assert s.clock_anchor == utc(2027, 3, 20, 4) == local_start(date(2027, 3, 20), EASTERN)


def test_a_deadline_in_days_across_spring_forward_counts_wall_clock_days() -> None:
    # Entered on 1 March at 14:30 EST; 30 days later is 31 March, 14:30 EDT: due that day.
    start = utc(2027, 3, 1, 19, 30)
    due = end_of_local_day_after(start, timedelta(days=30), EASTERN)
    assert due == utc(2027, 4, 1, 4) and due_day(due, EASTERN) == date(2027, 3, 31)
    # A span that ends on a local midnight ends there, across the change too.
    midnight = local_start(date(2027, 3, 10), EASTERN)
    assert end_of_local_day_after(midnight, timedelta(days=10), EASTERN) == local_start(
        date(2027, 3, 20), EASTERN
    )


def test_due_across_fall_back() -> None:
    # Arrival Friday 29 October: 1 to 5 November, all on daylight time: 00:00 EDT.
    s = case("2027-10-29")
    assert view_of(s).plan_due_on == "2027-11-05"
    assert s.plan_due_at == utc(2027, 11, 6, 4)
    # Arrival Tuesday 2 November: 3, 4, 5, 8 and 9 November, after the change: 00:00 EST.
    s = case("2027-11-02")
    assert view_of(s).plan_due_on == "2027-11-09"
    assert s.plan_due_at == utc(2027, 11, 10, 5)
    assert not overdue_at(s, utc(2027, 11, 10, 4, 59))
    assert overdue_at(s, utc(2027, 11, 10, 5))


def test_the_day_of_the_change_is_23_or_25_hours_long() -> None:
    assert local_end(date(2027, 3, 14), EASTERN) - local_start(date(2027, 3, 14), EASTERN) == (
        timedelta(hours=23)
    )
    assert local_end(date(2027, 11, 7), EASTERN) - local_start(date(2027, 11, 7), EASTERN) == (
        timedelta(hours=25)
    )
    # Its whole length is the due day: overdue only after its last hour.
    assert due_day(local_end(date(2027, 11, 7), EASTERN), EASTERN) == date(2027, 11, 7)


def test_a_pause_across_the_clock_change_moves_the_due_day_by_whole_days() -> None:
    s = case("2027-03-08")
    paused_at = utc(2027, 3, 10, 15)
    rules.pause(s, PauseRequest(actor=Actor("sup"), reason="hospitalisation"), paused_at)
    # Three days and two hours paused: the plan is due three days and a bit later, at the end
    # of Friday 19 March (a pause of part of a day gives the whole day back).
    rules.resume(s, paused_at + timedelta(days=3, hours=2))
    assert view_of(s).plan_due_on == "2027-03-19"
    assert s.plan_due_at is not None and is_local_midnight(s.plan_due_at, EASTERN)
    assert s.plan_due_at == local_end(date(2027, 3, 19), EASTERN)


# --------------------------------------------------------------------------------------------
# Year ends: Christmas and New Year are holidays (observed on the Monday when on a weekend)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arrival", "due"),
    [
        # 2026: Christmas Friday 25, New Year Friday 1 January.
        ("2026-12-23", "2026-12-31"),  # 24, 28, 29, 30, 31
        ("2026-12-28", "2027-01-05"),  # 29, 30, 31, (1), 4, 5
        # 2027: Christmas Saturday (observed Monday 27), New Year Saturday (Monday 3).
        ("2027-12-22", "2027-12-30"),  # 23, 24, (27), 28, 29, 30
        ("2027-12-28", "2028-01-05"),  # 29, 30, 31, (3), 4, 5
    ],
)
def test_holidays_between_christmas_and_new_year_are_not_working_days(
    arrival: str, due: str
) -> None:
    assert add_working_days(date.fromisoformat(arrival), 5).isoformat() == due
    s = case(arrival)
    assert view_of(s).plan_due_on == due
    # Overdue when the due day ends in Montreal (winter: 00:00 EST, 05:00 UTC).
    assert s.plan_due_at == datetime.fromisoformat(due).replace(tzinfo=UTC) + timedelta(
        days=1, hours=5
    )


def test_a_year_crossing_deadline_in_days_is_due_on_new_years_eve() -> None:
    start = local_start(date(2027, 12, 1), EASTERN) + timedelta(hours=10)
    due = end_of_local_day_after(start, timedelta(days=30), EASTERN)
    assert due_day(due, EASTERN) == date(2027, 12, 31)
    assert due == utc(2028, 1, 1, 5)


# --------------------------------------------------------------------------------------------
# The Magdalen Islands: Atlantic time, by the case's override
# --------------------------------------------------------------------------------------------


def test_a_magdalen_islands_case_is_due_at_midnight_atlantic_time() -> None:
    islands = case(
        "2027-01-10", region="gaspesie-iles-de-la-madeleine", time_zone=timezones.ATLANTIC
    )
    mainland = case("2027-01-10", region="gaspesie-iles-de-la-madeleine")
    assert view_of(islands).time_zone == timezones.ATLANTIC
    assert view_of(mainland).time_zone == timezones.EASTERN
    # The same due day, ending an hour earlier on the Islands (00:00 AST = 04:00 UTC).
    assert view_of(islands).plan_due_on == view_of(mainland).plan_due_on == "2027-01-15"
    assert islands.plan_due_at == utc(2027, 1, 16, 4)
    assert mainland.plan_due_at == utc(2027, 1, 16, 5)
    assert islands.clock_anchor == utc(2027, 1, 10, 4)
    assert overdue_at(islands, utc(2027, 1, 16, 4))
    assert not overdue_at(mainland, utc(2027, 1, 16, 4))
    # In summer, 00:00 ADT (03:00 UTC).
    summer = case("2027-07-05", time_zone=timezones.ATLANTIC)
    assert view_of(summer).plan_due_on == "2027-07-12"
    assert summer.plan_due_at == utc(2027, 7, 13, 3)
    stage = view_of(summer).stages[0]
    assert stage.due_on == "2027-08-03"  # 30 days from 00:00 on 5 July end on 4 August
    assert stage.deadline_at == utc(2027, 8, 4, 3)


# The day these checks take as today (arrival dates are checked around it).
WINDOW = ArrivalWindow(date(2026, 12, 1))


def test_a_case_time_zone_is_one_of_quebecs() -> None:
    fields = {
        "dossier": "D-2027-0001",
        "name": "Amina Diallo",
        "email": "a@example.org",
        "arrival": "2027-01-10",
        "region": "gaspesie-iles-de-la-madeleine",
    }
    assert approval_model.approval(fields, WINDOW).time_zone is None
    islands = approval_model.approval({**fields, "time_zone": "america/halifax"}, WINDOW)
    assert islands.time_zone == timezones.ATLANTIC
    with pytest.raises(InvalidInput, match="unknown_time_zone"):
        approval_model.approval({**fields, "time_zone": "Europe/Paris"}, WINDOW)
    assert approval_model.json_schema()["properties"]["time_zone"]["enum"] == [  # type: ignore[index]
        timezones.EASTERN,
        timezones.ATLANTIC,
    ]
    assert approval_model.problems(islands, WINDOW) == {}


def test_a_transfer_takes_the_new_zone_and_keeps_the_due_days() -> None:
    """The zone follows the region: a newcomer who leaves the Islands for Montreal is on
    Eastern time, and their plan is still due on Friday 15 January, to its end in Montreal."""
    s = case("2027-01-10", region="gaspesie-iles-de-la-madeleine", time_zone=timezones.ATLANTIC)
    assert s.plan_due_at == utc(2027, 1, 16, 4)
    stage_due = view_of(s).stages[0].due_on
    s.approval.region = "montreal"
    rules.move_zone(s, None)
    v = view_of(s)
    assert v.time_zone == timezones.EASTERN and v.plan_due_on == "2027-01-15"
    assert s.plan_due_at == utc(2027, 1, 16, 5)
    assert v.stages[0].due_on == stage_due
    # And back to the Islands, by the transfer's own zone.
    s.approval.region = "gaspesie-iles-de-la-madeleine"
    rules.move_zone(s, timezones.ATLANTIC)
    assert view_of(s).plan_due_on == "2027-01-15" and s.plan_due_at == utc(2027, 1, 16, 4)


def test_a_transfer_names_one_of_quebecs_zones() -> None:
    from parcours.kernel.domain import Role, Transfer

    s = case("2027-01-10")
    director = Actor("dir-1", Role.DIRECTOR)
    officer = Actor("off-qc", Role.OFFICER, "gaspesie-iles-de-la-madeleine")
    move = Transfer(director, "gaspesie-iles-de-la-madeleine", officer, time_zone="Europe/Paris")
    with pytest.raises(rules.Rejected, match="unknown_time_zone"):
        rules.check_transfer(s, move, opened=True)
    rules.check_transfer(
        s, Transfer(director, move.new_region, officer, time_zone=None), opened=True
    )
