"""Dates as people read them: local, in the case's zone, the due day the day it is due.

The console's words (`Translator`) without a server, then a case from the issue (arrival on
Sunday 10 January 2027, on the Magdalen Islands) through the API and its page on a real
`parcours dev`.
"""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from parcours.interfaces.web.i18n import Translator
from parcours.kernel import timezones
from tests.web.conftest import WebStack, approval, reader, sign_in, start_cases, wait_for


def test_the_console_shows_moments_in_the_page_zone() -> None:
    midnight_in_montreal = datetime(2026, 12, 9, 5, tzinfo=UTC)
    assert Translator("fr").date_time(midnight_in_montreal) == "9 décembre 2026, 00\u00a0h\u00a000"
    assert Translator("en").date_time(midnight_in_montreal) == "December 9, 2026, 12:00\u202fa.m."
    islands = Translator("fr", timezones.ATLANTIC)
    assert islands.date_time(midnight_in_montreal) == "9 décembre 2026, 01\u00a0h\u00a000"
    # A moment's day is its local day: 04:30 UTC is still the 8th in Montreal, the 9th on the
    # Islands.
    late = datetime(2026, 12, 9, 4, 30, tzinfo=UTC)
    assert Translator("fr").long_date(late) == "8 décembre 2026"
    assert islands.long_date(late) == "9 décembre 2026"
    # A day (an ISO date) is that day, whatever the zone.
    assert islands.long_date("2027-01-15") == "15 janvier 2027"
    # The read model's naive times are UTC.
    assert (
        Translator("fr").date_time(datetime(2026, 12, 9, 5)) == "9 décembre 2026, 00\u00a0h\u00a000"
    )


def test_a_magdalen_islands_case_is_due_on_friday_15_january(web_stack: WebStack) -> None:
    arrival = {"arrival": "2027-01-10", "time_zone": "America/Halifax"}
    start_cases(web_stack, approval("LT-1", region="gaspesie-iles-de-la-madeleine", **arrival))

    def found() -> bool:
        r = httpx.get(f"{web_stack.url}/api/v1/cases/LT-1", headers=reader(web_stack))
        return r.status_code == 200

    wait_for(found)
    view = httpx.get(f"{web_stack.url}/api/v1/cases/LT-1", headers=reader(web_stack)).json()
    assert view["time_zone"] == "America/Halifax"
    assert view["plan_due_on"] == "2027-01-15"
    # ISO 8601 with its offset, for programs: the end of the 15th on the Islands.
    assert view["plan_due_at"] == "2027-01-16T04:00:00+00:00"
    # (The stack's policy is short: the arrival stage is due within minutes of its start.)
    assert view["stages"][0]["due_on"] == "2027-01-10"
    with httpx.Client(base_url=web_stack.url, timeout=30) as c:
        assert sign_in(c, "hcote").status_code == 303
        page = c.get("/cases/LT-1")
    assert page.status_code == 200, page.text
    assert "15 janvier 2027" in page.text and "16 janvier 2027" not in page.text
