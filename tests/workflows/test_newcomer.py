"""The newcomer's own answers (`newcomer_reply`) on the time-skipping server: "contact me later"
waits with the clocks stopped and resumes by itself on its day (across continue-as-new), "I
will use the service" and "I do not want the service", each recorded as the newcomer's act."""

from __future__ import annotations

from datetime import date, timedelta

from parcours.kernel import search, timezones
from parcours.kernel.domain import (
    NEWCOMER_ACTOR,
    Audience,
    CaseStatus,
    NewcomerReply,
    PauseRequest,
    ReplyChoice,
)
from tests.temporal_servers import search_attributes
from tests.workflows.conftest import SUPERVISOR, Pathway, days, settled
from tests.workflows.test_pathway import PLAN, rejection
from workflows.pathway import NewcomerPathway

EASTERN = timezones.zone(None)


async def test_contact_me_later_waits_and_resumes_by_itself_on_its_day(pathway: Pathway) -> None:
    env, office = pathway.env, pathway.back_office
    now = await env.get_current_time()
    today = now.astimezone(EASTERN).date()
    # No forced continue-as-new here: where an event budget falls depends on how effects
    # batch under load, and an update accepted in the very task that continues as new fails
    # replay on the time-skipping server ("Continue as new workflow machine does not handle
    # this event: WorkflowExecutionUpdateAccepted"; README leftovers). The wait is state, and
    # continue-as-new carries the state whole (test_pathway's continue-as-new tests).
    h = await pathway.start(arrival=today)
    before = await settled(h)
    day = today + timedelta(days=40)

    assert "choose a date after today" in await rejection(
        h.execute_update(
            NewcomerPathway.newcomer_reply,
            NewcomerReply(choice=ReplyChoice.LATER, until=today.isoformat()),
        )
    )
    assert "the date is not valid" in await rejection(
        h.execute_update(
            NewcomerPathway.newcomer_reply, NewcomerReply(choice=ReplyChoice.LATER, until="bientôt")
        )
    )
    v = await h.execute_update(
        NewcomerPathway.newcomer_reply,
        NewcomerReply(choice=ReplyChoice.LATER, until=day.isoformat(), link_id="000002"),
    )
    assert v.status == CaseStatus.WAITING and v.waiting_on == day.isoformat()
    v = await settled(h)
    assert (await search_attributes(h._client, h.id))[search.STATUS.name] == "waiting"
    # Not the staff pause: work that needs the newcomer waits too, and says why.
    assert f"the case is waiting until {day.isoformat()}" in await rejection(
        h.execute_update(NewcomerPathway.file_plan, PLAN)
    )
    assert "waiting until" in await rejection(
        h.execute_update(NewcomerPathway.pause, PauseRequest(actor=SUPERVISOR, reason="x"))
    )

    # Clocks stopped: 39 days of silence and no reminder, no overdue plan.
    await env.sleep(days(39))
    v = await settled(h)
    assert v.status == CaseStatus.WAITING and v.escalation_level == 0 and not v.overdue
    assert v.waiting_on == day.isoformat()

    # The day comes: the case resumes by itself, its deadlines moved by the days waited.
    await env.sleep(days(2))
    v = await settled(h)
    assert v.status == CaseStatus.ACTIVE and v.waiting_on is None
    assert v.plan_due_on and before.plan_due_on
    moved = date.fromisoformat(v.plan_due_on) - date.fromisoformat(before.plan_due_on)
    assert moved in (days(40), days(41))
    assert v.last_activity_at is not None
    assert v.last_activity_at.astimezone(EASTERN).date() == day  # at the day's start, local

    kinds = office.kinds()
    assert kinds.index("newcomer_replied") < kinds.index("waiting_ended")
    replied = next(e for e in office.events if e.kind == "newcomer_replied")
    assert (replied.actor, replied.detail) == (NEWCOMER_ACTOR, f"later {day.isoformat()}")
    told = [m for m in office.mails if m.template == "newcomer_replied"]
    assert [(m.audience, m.context["ended"], m.context["until"]) for m in told] == [
        (Audience.OFFICER, False, day.isoformat()),
        (Audience.OFFICER, True, day.isoformat()),
    ]
    # The stall clock restarted on the day: five days later, the reminder.
    await env.sleep(days(5.1))
    assert (await settled(h)).escalation_level == 1
    keys = [e.key for e in office.events] + [m.key for m in office.mails]
    assert len(keys) == len(set(keys))


async def test_use_and_decline_are_the_newcomers_own_acts(pathway: Pathway) -> None:
    office = pathway.back_office
    h = await pathway.start()
    v = await h.execute_update(
        NewcomerPathway.newcomer_reply, NewcomerReply(choice=ReplyChoice.USE, link_id="000002")
    )
    assert v.status == CaseStatus.ACTIVE
    v = await h.execute_update(
        NewcomerPathway.newcomer_reply,
        NewcomerReply(choice=ReplyChoice.DECLINE, note="Je suis déjà accompagnée par ma famille"),
    )
    assert v.status == CaseStatus.DECLINED and v.stage is None
    assert v.close_reason == "Je suis déjà accompagnée par ma famille"
    assert (await h.result()).status == CaseStatus.DECLINED
    mine = [(e.kind, e.actor, e.detail) for e in office.events if e.actor == NEWCOMER_ACTOR]
    assert mine == [
        ("newcomer_replied", NEWCOMER_ACTOR, "use"),
        ("case_declined", NEWCOMER_ACTOR, "declined_services"),
    ]
    declined = next(e for e in office.events if e.kind == "case_declined")
    assert declined.text == "Je suis déjà accompagnée par ma famille"
    assert [m.context["choice"] for m in office.mails if m.template == "newcomer_replied"] == [
        "use",
        "decline",
    ]

    # Once the plan is filed, declining goes through the officer.
    h = await pathway.start()
    await h.execute_update(NewcomerPathway.file_plan, PLAN)
    assert "the action plan is already filed" in await rejection(
        h.execute_update(NewcomerPathway.newcomer_reply, NewcomerReply(choice=ReplyChoice.DECLINE))
    )
    assert (await settled(h)).status == CaseStatus.ACTIVE
