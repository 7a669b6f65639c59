"""Unassigned cases are an emergency (issue 17): the region's leads are told at once, the case
assigns itself when the roster can give it an officer (a `roster_changed` signal, or its own
timer on the day an absent officer is back), and a reassignment tells the previous officer and
introduces the new one to the newcomer. Time-skipping server, activities faked (the roster is
judged by the real rule, kernel/assignment.py)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from parcours.kernel import search, timezones
from parcours.kernel.assignment import Candidate
from parcours.kernel.domain import (
    Audience,
    CaseView,
    Reassignment,
    RosterChanged,
    Transfer,
)
from tests.temporal_servers import search_attributes
from tests.workflows.conftest import (
    DIRECTOR,
    OFFICER,
    OTHER_OFFICER,
    QC_OFFICER,
    SUPERVISOR,
    Pathway,
    days,
    settled,
)
from workflows.pathway import NewcomerPathway


async def officer_of(handle, officer: str | None) -> CaseView:
    """The case once its officer is `officer` and its effects are carried out."""
    for _ in range(300):
        v = await settled(handle)
        if v.officer == officer:
            return v
        await asyncio.sleep(0.02)
    raise AssertionError(f"officer is {v.officer}, not {officer}")


async def test_unassigned_case_alerts_the_leads_at_once_and_is_picked_up_when_an_officer_is_added(
    pathway: Pathway,
) -> None:
    bo = pathway.back_office
    bo.officer = None  # Laval has nobody at the opening
    h = await pathway.start(region="laval", language="en")
    v = await settled(h)
    assert v.officer is None
    alert = next(m for m in bo.mails if m.template == "case_unassigned")
    # At once, to the region's leads (its supervisors, else the directors: the activity
    # resolves them, tests/activities/test_unassigned_notify.py).
    assert alert.audience == Audience.REGION_LEADS and alert.region == "laval"
    assert bo.kinds()[:2] == ["case_opened", "case_unassigned"]
    # The case asked the roster once at its opening, and nobody could take it.
    assert [a.region for a in bo.asked] == ["laval"]

    # An officer joins Laval: the roster change nudges the case, which asks and assigns.
    bo.roster.append(Candidate("off-laval", languages=("fr",)))
    await h.signal(NewcomerPathway.roster_changed, RosterChanged(region="laval"))
    v = await officer_of(h, "off-laval")
    assigned = next(e for e in bo.events if e.kind == "case_assigned")
    assert assigned.actor is None and assigned.detail == "off-laval"
    assert assigned.snapshot.officer_id == "off-laval"  # the read model's caseload moves
    mails = {m.template: m for m in bo.mails}
    assert mails["officer_assigned"].audience == Audience.OFFICER
    assert mails["officer_assigned"].officer_id == "off-laval"
    assert mails["officer_assigned"].context["reason"] == "unassigned"
    assert mails["officer_introduced"].audience == Audience.NEWCOMER
    assert mails["officer_introduced"].officer_id == "off-laval"
    assert (await search_attributes(h._client, h.id))[search.OFFICER.name] == "off-laval"

    # A later nudge to a case that has its officer asks nothing.
    asked = len(bo.asked)
    await h.signal(NewcomerPathway.roster_changed, RosterChanged(region="laval"))
    await settled(h)
    assert len(bo.asked) == asked


async def test_a_signal_to_a_case_with_an_officer_changes_nothing(pathway: Pathway) -> None:
    h = await pathway.start()
    await h.signal(NewcomerPathway.roster_changed, RosterChanged(region="montreal"))
    v = await settled(h)
    assert v.officer == OFFICER.officer_id
    assert pathway.back_office.asked == []
    assert "case_assigned" not in pathway.back_office.kinds()


async def test_a_case_whose_only_officer_is_on_leave_is_picked_up_when_the_leave_ends(
    pathway: Pathway,
) -> None:
    bo = pathway.back_office
    bo.officer = None
    now = await pathway.env.get_current_time()
    today = now.astimezone(timezones.zone("estrie")).date()
    back = today + timedelta(days=11)
    bo.roster.append(
        Candidate(
            "off-estrie", leave_from=today - timedelta(days=2), leave_to=back - timedelta(days=1)
        )
    )
    # Arriving on the local day: the arrival clock starts at its local midnight, and a UTC date
    # (a day ahead in the evening, Quebec time) would start it hours later than "ten days on".
    h = await pathway.start(region="estrie", arrival=today)
    assert (await settled(h)).officer is None
    assert [a.day for a in bo.asked] == [today.isoformat()]

    # Ten days on: still away, still unassigned, and its escalations go to the leads.
    await pathway.env.sleep(days(10))
    v = await settled(h)
    assert v.officer is None and len(bo.asked) == 1
    reminder = next(m for m in bo.mails if m.template == "stall_reminder")
    assert reminder.audience == Audience.REGION_LEADS  # never an email to nobody
    escalation = next(m for m in bo.mails if m.template == "stall_escalation")
    assert escalation.audience == Audience.REGION_LEADS

    # The leave's end: at the local midnight the officer is back, the case asks and assigns,
    # with no roster signal at all.
    await pathway.env.sleep(days(1.5))
    v = await officer_of(h, "off-estrie")
    assert bo.asked[-1].day == back.isoformat()
    assert v.escalation_level == 0  # the officer gets a full stall period
    assert "case_assigned" in bo.kinds()


async def test_a_case_with_nobody_to_wait_for_sets_no_timer(pathway: Pathway) -> None:
    # Nobody on leave either: only a roster change can help; the case does not poll.
    bo = pathway.back_office
    bo.officer = None
    h = await pathway.start(region="laval")
    await settled(h)
    await pathway.env.sleep(days(3))
    await settled(h)
    assert len(bo.asked) == 1


async def test_a_supervisor_assigning_first_wins_over_the_roster(pathway: Pathway) -> None:
    bo = pathway.back_office
    bo.officer = None
    h = await pathway.start()
    await settled(h)
    await h.execute_update(
        NewcomerPathway.reassign, Reassignment(actor=SUPERVISOR, new_officer=OFFICER)
    )
    bo.roster.append(Candidate("off-mtl-9"))
    await h.signal(NewcomerPathway.roster_changed, RosterChanged(region="montreal"))
    v = await settled(h)
    assert v.officer == OFFICER.officer_id
    assert "case_assigned" not in bo.kinds()
    # Assigned by hand from unassigned: nobody to tell it moved away from, the newcomer meets
    # their officer.
    assert "case_reassigned_away" not in bo.templates()
    assert bo.templates().count("officer_introduced") == 1


async def test_reassignment_and_transfer_tell_both_officers_and_the_newcomer(
    pathway: Pathway,
) -> None:
    bo = pathway.back_office
    h = await pathway.start(language="es")
    await h.execute_update(
        NewcomerPathway.reassign, Reassignment(actor=SUPERVISOR, new_officer=OTHER_OFFICER)
    )
    await settled(h)
    away = [m for m in bo.mails if m.template == "case_reassigned_away"]
    assert len(away) == 1
    assert away[0].audience == Audience.OFFICER
    assert away[0].officer_id == OFFICER.officer_id  # the previous officer
    assert away[0].context["new_officer_id"] == OTHER_OFFICER.officer_id
    assert away[0].context["reason"] == "reassigned"
    assigned = [m for m in bo.mails if m.template == "officer_assigned"]
    assert assigned[-1].officer_id == OTHER_OFFICER.officer_id
    intro = [m for m in bo.mails if m.template == "officer_introduced"]
    assert len(intro) == 1 and intro[0].officer_id == OTHER_OFFICER.officer_id
    # Never the reason, nor anything of the move: the newcomer hears who, not why.
    assert set(intro[0].context) == {"dossier"}

    await h.execute_update(
        NewcomerPathway.transfer,
        Transfer(
            actor=DIRECTOR,
            new_region="capitale-nationale",
            new_officer=QC_OFFICER,
            note="Déménagement",
        ),
    )
    await settled(h)
    away = [m for m in bo.mails if m.template == "case_reassigned_away"]
    assert [m.officer_id for m in away] == [OFFICER.officer_id, OTHER_OFFICER.officer_id]
    assert away[-1].context["reason"] == "transferred"
    intro = [m for m in bo.mails if m.template == "officer_introduced"]
    assert [m.officer_id for m in intro] == [OTHER_OFFICER.officer_id, QC_OFFICER.officer_id]
    # Each email once, keyed by its business step.
    assert len({m.key for m in bo.mails}) == len(bo.mails)
