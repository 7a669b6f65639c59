"""Quebec working days: the first meeting is due within N working days of arrival.

Pure functions (no clock, no I/O) so that workflow code can call them. Statutory holidays in
Quebec (Act respecting labour standards, s. 60, and the National Holiday Act): New Year's Day,
Good Friday, National Patriots' Day, the Fete nationale, Canada Day, Labour Day, Thanksgiving
and Christmas. Easter Monday is a public-service holiday, so it counts as well.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

# Quebec is UTC-5 in winter and UTC-4 in summer. A day is taken as starting at 05:00 UTC:
# stall clocks run in days and weeks, so the hour lost in summer does not matter, and the
# workflow needs no time-zone database.
QUEBEC_DAY_START_UTC = timedelta(hours=5)


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
    """The instant a Quebec calendar day starts, in UTC (see QUEBEC_DAY_START_UTC)."""
    return datetime(d.year, d.month, d.day, tzinfo=UTC) + QUEBEC_DAY_START_UTC


def end_of_day(d: date) -> datetime:
    return start_of_day(d) + timedelta(days=1)
