"""The reports' facts recorded by the projection from the audit events the workflow already
emits (store/report_facts.py): greeting, first meeting, plan timeliness and stage spans,
idempotent and order-tolerant like the rest of the projection."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parcours.infrastructure.store import cases
from parcours.infrastructure.store.models import Case, StageSpan
from parcours.infrastructure.store.report_facts import meeting_fact
from parcours.kernel.domain import CaseEvent, Stage
from tests.store.builders import T0, event, snapshot


def ev(
    step: int, kind: str, *, days: float = 0, stage: Stage | None = None, detail: str | None = None
) -> CaseEvent:
    e = event(step, snapshot("D-1"), kind=kind, at=T0 + timedelta(days=days))
    e.stage = stage
    e.detail = detail
    return e


async def record(sessions: async_sessionmaker[AsyncSession], *events: CaseEvent) -> None:
    async with sessions() as session, session.begin():
        await cases.record_events(session, list(events))


async def row(sessions: async_sessionmaker[AsyncSession]) -> Case:
    async with sessions() as session:
        found = await session.get(Case, "D-1")
    assert found is not None
    return found


async def test_greeting_meeting_and_plan_are_recorded_on_the_case_row(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await record(
        sessions,
        ev(1, "case_opened", stage=Stage.ARRIVAL),
        ev(2, "airport_greeting", days=1, stage=Stage.ARRIVAL, detail="greeted"),
        ev(3, "meeting_booked", days=1, detail="2026-03-05T10:00:00-05:00 seq=0"),
        ev(4, "meeting_rescheduled", days=2, detail="2026-03-20T10:00:00-04:00 seq=1 late"),
        ev(5, "stage_overdue", days=8, stage=Stage.ARRIVAL),
        ev(6, "plan_filed", days=9, stage=Stage.ARRIVAL, detail="revision 1, 2 items"),
        # A later overdue (the stage's own deadline) is not the plan's.
        ev(7, "stage_overdue", days=50, stage=Stage.ARRIVAL),
        ev(8, "plan_filed", days=60, stage=Stage.ARRIVAL, detail="revision 2, 3 items"),
    )
    c = await row(sessions)
    assert c.greeting == "greeted"
    assert (c.meeting_on, c.meeting_late) == (date(2026, 3, 20), True)
    assert c.plan_filed_at == T0 + timedelta(days=9)
    assert c.plan_overdue_at == T0 + timedelta(days=8)


async def test_a_retried_or_late_event_changes_nothing_newer(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    booked = ev(3, "meeting_booked", days=1, detail="2026-03-05T10:00:00-05:00 seq=0")
    cancelled = ev(4, "meeting_cancelled", days=2, detail="2026-03-05T10:00:00-05:00 seq=1")
    await record(sessions, ev(1, "case_opened", stage=Stage.ARRIVAL), cancelled)
    await record(sessions, booked)  # lands after the cancellation: older, ignored
    await record(sessions, booked)  # a retry: a duplicate, ignored
    c = await row(sessions)
    assert (c.meeting_on, c.meeting_late) == (None, None)
    assert c.meeting_event_at == cancelled.at


async def test_stage_spans_keep_their_first_start_and_end(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await record(
        sessions,
        ev(1, "case_opened", stage=Stage.ARRIVAL),
        ev(2, "stage_approved", days=10, stage=Stage.ARRIVAL),
        ev(3, "stage_started", days=10, stage=Stage.FRANCIZATION),
        ev(4, "stage_waived", days=40, stage=Stage.FRANCIZATION),
    )
    async with sessions() as session:
        spans = {
            s.stage: (s.started_at, s.ended_at)
            for s in (await session.scalars(select(StageSpan))).all()
        }
    assert spans == {
        "arrival": (T0, T0 + timedelta(days=10)),
        "francization": (T0 + timedelta(days=10), T0 + timedelta(days=40)),
    }


def test_a_meeting_detail_that_is_not_one_records_nothing() -> None:
    assert meeting_fact("meeting_booked", "garbled") is None
    assert meeting_fact("meeting_booked", "2026-03-05T10:00:00-05:00 seq=2") == (
        date(2026, 3, 5),
        False,
    )
    assert meeting_fact("meeting_cancelled", None) == (None, None)
