"""The programme reports' facts (issue 18), recorded from the audit events the workflow
already emits, as the projection applies them: the airport greeting's outcome, the first
meeting's day and lateness, the plan's timeliness, and each stage's span.

Every write is idempotent and order-tolerant like the rest of the projection (an event may be
recorded twice, or after a newer one): the newest greeting and meeting event win by their
time, the first plan and the first overdue by theirs, a span keeps its first start and end.
Migration 0010 fills the same columns for the cases recorded before it."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, date

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from parcours.infrastructure.store.models import Case, StageSpan
from parcours.kernel.domain import CaseEvent, Stage
from parcours.kernel.rules import MEETING_BOOKED, MEETING_CANCELLED, MEETING_RESCHEDULED

GREETING = "airport_greeting"
PLAN_FILED = "plan_filed"
STAGE_OVERDUE = "stage_overdue"
STAGE_STARTS = ("case_opened", "stage_started")
STAGE_ENDS = ("stage_approved", "stage_waived")
MEETING_EVENTS = (MEETING_BOOKED, MEETING_RESCHEDULED, MEETING_CANCELLED)
# A meeting event's detail: "<local ISO moment> seq=N", then " late" past the plan's due day.
_MEETING_DETAIL = re.compile(r"^(\d{4}-\d{2}-\d{2})T\S* seq=\d+( late)?$")


def meeting_fact(kind: str, detail: str | None) -> tuple[date | None, bool | None] | None:
    """The first meeting's (local day, late) after an event of `kind`; (None, None) once
    cancelled; None when the detail is not a meeting's (nothing to record)."""
    if kind == MEETING_CANCELLED:
        return None, None
    m = _MEETING_DETAIL.match(detail or "")
    if m is None:
        return None
    return date.fromisoformat(m.group(1)), m.group(2) is not None


async def record_facts(session: AsyncSession, dossier: str, events: Sequence[CaseEvent]) -> None:
    """Apply the report facts of `events` (newly recorded, the case row already written)."""
    for event in events:
        await _record(session, dossier, event)


async def _record(session: AsyncSession, dossier: str, event: CaseEvent) -> None:
    kind, at = event.kind, event.at
    mine = Case.dossier == dossier
    if kind == GREETING and event.detail:
        newer = or_(Case.greeting_at.is_(None), Case.greeting_at <= at)
        await session.execute(
            update(Case).where(mine, newer).values(greeting=event.detail[:16], greeting_at=at)
        )
    elif kind in MEETING_EVENTS:
        fact = meeting_fact(kind, event.detail)
        if fact is None:
            return
        newer = or_(Case.meeting_event_at.is_(None), Case.meeting_event_at <= at)
        await session.execute(
            update(Case)
            .where(mine, newer)
            .values(meeting_on=fact[0], meeting_late=fact[1], meeting_event_at=at)
        )
    elif kind == PLAN_FILED:
        earlier = or_(Case.plan_filed_at.is_(None), Case.plan_filed_at > at)
        await session.execute(update(Case).where(mine, earlier).values(plan_filed_at=at))
        # An overdue recorded after this (earlier) filing was not the plan's.
        await session.execute(
            update(Case).where(mine, Case.plan_overdue_at >= at).values(plan_overdue_at=None)
        )
    elif kind == STAGE_OVERDUE and event.stage == Stage.ARRIVAL:
        before_plan = or_(Case.plan_filed_at.is_(None), Case.plan_filed_at > at)
        first = or_(Case.plan_overdue_at.is_(None), Case.plan_overdue_at > at)
        await session.execute(
            update(Case).where(mine, before_plan, first).values(plan_overdue_at=at)
        )
    elif event.stage is not None and kind in STAGE_STARTS + STAGE_ENDS:
        await _span(session, dossier, event, started=kind in STAGE_STARTS)


async def _span(session: AsyncSession, dossier: str, event: CaseEvent, *, started: bool) -> None:
    """A stage's first start or first end; its region and days (once both are known)."""
    assert event.stage is not None
    stage, at = event.stage.value, event.at
    key = and_(StageSpan.dossier == dossier, StageSpan.stage == stage)
    found = (
        await session.execute(select(StageSpan.started_at, StageSpan.ended_at).where(key))
    ).first()
    start, end = (found[0], found[1]) if found is not None else (None, None)
    if started:
        start = at if start is None or at < start else start
    else:
        end = at if end is None or at < end else end
    days = (end - start).total_seconds() / 86400 if start and end else None
    values = {
        "started_at": start,
        "ended_at": end,
        "region": event.snapshot.region,
        "days": days,
        "ended_month": end.astimezone(UTC).strftime("%Y-%m") if end else None,
    }
    if found is None:
        await session.execute(insert(StageSpan).values(dossier=dossier, stage=stage, **values))
    else:
        await session.execute(update(StageSpan).where(key).values(**values))
