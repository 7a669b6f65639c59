"""On the time-skipping server: a case turns overdue at the end of its local due day.

The plan is due on a day (`plan_due_on`); the case turns overdue at 00:00 of the next day in
the case's zone, not an hour or two later (the days before v5 started at 05:00 UTC, which is
01:00 on the Magdalen Islands in winter, and 02:00 there in summer).
"""

from __future__ import annotations

from datetime import date, timedelta

from parcours.kernel import search, timezones
from parcours.kernel.calendar import local_end
from parcours.kernel.domain import Transfer
from tests.temporal_servers import search_attributes
from tests.workflows.conftest import DIRECTOR, OFFICER, Pathway, days, settled
from workflows.pathway import NewcomerPathway


async def test_the_plan_falls_overdue_when_its_local_due_day_ends(pathway: Pathway) -> None:
    env = pathway.env
    now = await env.get_current_time()
    islands = timezones.zone(None, timezones.ATLANTIC)
    h = await pathway.start(
        arrival=(now + days(2)).astimezone(islands).date(),
        region="gaspesie-iles-de-la-madeleine",
        time_zone=timezones.ATLANTIC,
    )
    v = await settled(h)
    assert v.time_zone == timezones.ATLANTIC and v.plan_due_on is not None
    assert v.plan_due_at == local_end(date.fromisoformat(v.plan_due_on), islands)
    assert v.stages[0].due_on is not None
    assert v.stages[0].deadline_at == local_end(date.fromisoformat(v.stages[0].due_on), islands)

    # The last minute of the due day, on the Islands: on time.
    await env.sleep(v.plan_due_at - now - timedelta(minutes=1))
    v = await settled(h)
    assert not v.overdue
    # The first minute of the next day: overdue, in the case and in visibility.
    await env.sleep(timedelta(minutes=2))
    v = await settled(h)
    assert v.overdue and v.plan_due_at is not None
    assert (await search_attributes(h._client, h.id))[search.OVERDUE.name] is True
    overdue = [e for e in pathway.back_office.events if e.kind == "stage_overdue"]
    # Recorded when the timer fired: at the due day's end (the server rounds up a little).
    assert len(overdue) == 1 and v.plan_due_at <= overdue[0].at < v.plan_due_at + timedelta(
        minutes=1
    )


async def test_a_transfer_off_the_islands_moves_the_case_to_eastern_time(
    pathway: Pathway,
) -> None:
    now = await pathway.env.get_current_time()
    h = await pathway.start(
        arrival=(now + days(2)).date(),
        region="gaspesie-iles-de-la-madeleine",
        time_zone=timezones.ATLANTIC,
    )
    before = await settled(h)
    assert before.plan_due_on is not None
    v = await h.execute_update(
        NewcomerPathway.transfer,
        Transfer(actor=DIRECTOR, new_region="montreal", new_officer=OFFICER, note="Déménagement"),
    )
    assert v.time_zone == timezones.EASTERN and v.plan_due_on == before.plan_due_on
    eastern = timezones.zone(None)
    assert v.plan_due_at == local_end(date.fromisoformat(before.plan_due_on), eastern)
    # The alarm moved with it: on time until the due day ends in Montreal, overdue after.
    await pathway.env.sleep(v.plan_due_at - now - timedelta(minutes=1))
    assert not (await settled(h)).overdue
    await pathway.env.sleep(timedelta(minutes=2))
    assert (await settled(h)).overdue
