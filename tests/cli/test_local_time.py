"""The CLI's human output reads dates in the case's zone; `--json` stays ISO 8601.

No server: a case opened by the rules (kernel/rules.py) as the workflow opens it, shown by
`parcours status`'s own printer.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

from parcours.infrastructure.catalog import catalog
from parcours.infrastructure.config import Settings
from parcours.interfaces.cli import output
from parcours.interfaces.cli.casework import show
from parcours.interfaces.cli.common import Context
from parcours.kernel import rules, timezones
from parcours.kernel.domain import CaseState, NewcomerApproval, view_of
from parcours.kernel.policy import load_policy


def printed(time_zone: str | None, *, as_json: bool) -> str:
    s = CaseState(
        approval=NewcomerApproval(
            "D-2027-0001",
            "Amina Diallo",
            "a@example.org",
            "2027-01-10",
            "gaspesie-iles-de-la-madeleine",
            time_zone=time_zone,
        ),
        policy=load_policy(None),
        local_days=True,
    )
    rules.open_case(s, datetime(2026, 12, 9, 5, tzinfo=UTC))
    out = io.StringIO()
    show(Context(settings=Settings(), out=out), view_of(s), as_json)
    return out.getvalue()


def line(text: str, key: str) -> str:
    """The value printed beside the French label of `key` (cli.case.<key>)."""
    label = catalog("fr")(f"cli.case.{key}")
    return next(x for x in text.splitlines() if x.startswith(label)).removeprefix(label).strip()


def test_status_shows_the_due_day_and_local_moments() -> None:
    text = printed(None, as_json=False)
    assert line(text, "plan_due") == "15 janvier 2027"
    assert line(text, "arrival") == "10 janvier 2027"
    assert line(text, "time_zone") == "America/Toronto"
    # Arrival stage: started when the case opened (00:00 in Montreal), due on 8 February.
    stage = [x for x in text.splitlines() if x.startswith("Accueil ")][-1]  # the stage table
    assert "9 décembre 2026, 00\u00a0h\u00a000" in stage and stage.endswith("8 février 2027")
    assert "+00:00" not in text and "T05:00" not in text


def test_status_on_the_magdalen_islands_reads_atlantic_time() -> None:
    text = printed(timezones.ATLANTIC, as_json=False)
    assert line(text, "time_zone") == "America/Halifax"
    assert line(text, "plan_due") == "15 janvier 2027"
    assert "9 décembre 2026, 01\u00a0h\u00a000" in text  # 05:00 UTC is 01:00 on the Islands


def test_status_json_stays_iso_8601_with_an_offset() -> None:
    view = json.loads(printed(timezones.ATLANTIC, as_json=True))
    assert view["plan_due_at"] == "2027-01-16T04:00:00+00:00"
    assert view["plan_due_on"] == "2027-01-15"
    assert view["time_zone"] == "America/Halifax"
    assert datetime.fromisoformat(view["started_at"]).utcoffset() is not None


def test_english_reads_english_dates() -> None:
    en = catalog("en")
    # Babel's English clock: a narrow no-break space before "a.m.".
    moment = output.moment(datetime(2026, 12, 9, 5, tzinfo=UTC), t=en)
    assert moment == "December 9, 2026, 12:00\u202fa.m."
    assert output.day("2027-01-15", en) == "January 15, 2027"
