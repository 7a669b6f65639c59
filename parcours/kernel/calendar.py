"""Quebec working days and local days: the first meeting is due within N working days of
arrival, and "due on day D" means the whole of day D in the case's time zone.

Pure functions (no clock, no I/O) so that workflow code can call them. Statutory holidays in
Quebec (Act respecting labour standards, s. 60, and the National Holiday Act): New Year's Day,
Good Friday, National Patriots' Day, the Fete nationale, Canada Day, Labour Day, Thanksgiving
and Christmas. Easter Monday is a public-service holiday, so it counts as well.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo

# Before local days (cases whose history has no "local-day-deadlines" marker, see
# workflows/pathway.py) a Quebec day was taken as starting at 05:00 UTC: midnight in winter,
# 01:00 in summer. Those cases keep it, so that their histories replay.
QUEBEC_DAY_START_UTC = timedelta(hours=5)
# The smallest step of a datetime: the last instant before a deadline is `due_at - INSTANT`.
INSTANT = timedelta(microseconds=1)


def _easter(year: int) -> date:
    # Anonymous Gregorian algorithm (Meeus/Jones/Butcher).
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    ell = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * ell) // 451
    month, day = divmod(h + ell - 7 * m + 114, 31)
    return date(year, month, day + 1)


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    first = date(year, month, 1)
    offset = (weekday - first.weekday()) % 7
    return first + timedelta(days=offset + 7 * (n - 1))


def _observed(d: date) -> date:
    # A holiday on a Sunday is observed the Monday after (Saturday: the Friday before for
    # Christmas and New Year in the public service; Monday otherwise). Keep it simple and
    # conservative: move weekend holidays to the next Monday.
    if d.weekday() == 5:
        return d + timedelta(days=2)
    if d.weekday() == 6:
        return d + timedelta(days=1)
    return d


def quebec_holidays(year: int) -> frozenset[date]:
    easter = _easter(year)
    may_24 = date(year, 5, 24)
    patriots = may_24 - timedelta(days=may_24.weekday())  # the Monday before May 25
    days = {
        _observed(date(year, 1, 1)),
        easter - timedelta(days=2),
        easter + timedelta(days=1),
        patriots,
        _observed(date(year, 6, 24)),
        _observed(date(year, 7, 1)),
        _nth_weekday(year, 9, 0, 1),  # Labour Day: first Monday of September
        _nth_weekday(year, 10, 0, 2),  # Thanksgiving: second Monday of October
        _observed(date(year, 12, 25)),
    }
    return frozenset(days)


def is_working_day(d: date) -> bool:
    return d.weekday() < 5 and d not in quebec_holidays(d.year)


def add_working_days(start: date, n: int) -> date:
    """The date `n` working days after `start` (the day of arrival itself is day 0)."""
    d = start
    remaining = n
    while remaining > 0:
        d += timedelta(days=1)
        if is_working_day(d):
            remaining -= 1
    return d


def start_of_day(d: date) -> datetime:
    """Before local days: the instant a Quebec day starts, in UTC (QUEBEC_DAY_START_UTC)."""
    return datetime(d.year, d.month, d.day, tzinfo=UTC) + QUEBEC_DAY_START_UTC


def end_of_day(d: date) -> datetime:
    """Before local days: the instant a Quebec day ends, in UTC."""
    return start_of_day(d) + timedelta(days=1)


# ---- local days: the case's time zone decides where a day starts and ends ----


def local_start(d: date, tz: tzinfo) -> datetime:
    """The instant local day `d` starts in `tz` (00:00 local), in UTC. Quebec changes its
    clocks at 02:00, so local midnight always exists, exactly once."""
    return datetime.combine(d, time(), tzinfo=tz).astimezone(UTC)


def local_end(d: date, tz: tzinfo) -> datetime:
    """The instant local day `d` ends in `tz`: 00:00 local of the next day, in UTC. A day is
    23 or 25 hours long when the clocks change."""
    return local_start(d + timedelta(days=1), tz)


def is_local_midnight(at: datetime, tz: tzinfo) -> bool:
    return at.astimezone(tz).time() == time()


def end_of_local_day_after(start: datetime, span: timedelta, tz: tzinfo) -> datetime:
    """The end of the local day in which `span` after `start` falls, counted on the wall
    clock (30 days after 14:30 is 14:30 thirty days later, whatever the clocks did); a span
    that lands on a local midnight ends there.

    "Due 30 days after 20 January, 14:30" is due on 19 February and overdue once that whole
    local day has passed (00:00 on 20 February), as the page that says "19 February" means.
    """
    local = start.astimezone(tz)
    wall = local.replace(tzinfo=None) + span
    day = wall.date() if wall.time() == time() else wall.date() + timedelta(days=1)
    return local_start(day, tz)


def due_day(due_at: datetime, tz: tzinfo) -> date:
    """The local day a deadline closes: the day of its last instant. A deadline at 00:00 on
    16 January is due on 15 January; one at 14:30 on 19 February, on 19 February."""
    return (due_at - INSTANT).astimezone(tz).date()


def legacy_due_day(due_at: datetime) -> date:
    """The day a deadline set before local days closes, as that calendar counted days."""
    return (due_at - QUEBEC_DAY_START_UTC - INSTANT).astimezone(UTC).date()
