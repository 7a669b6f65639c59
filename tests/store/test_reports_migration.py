"""Migration 0010 fills the reports' facts of the cases recorded before it from their audit
rows, as the projection would have (store/report_facts.py), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import bindparam, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from parcours.infrastructure.store import migrate
from parcours.infrastructure.store.db import session_factory
from parcours.infrastructure.store.models import Case, StageSpan, UtcDateTime
from tests.store.builders import T0
from tests.store.test_migrations import empty_db  # noqa: F401  (the fixture)

BEFORE_REPORTS = "0009"
# (dossier, kind, days after T0, stage, detail), in the order they were recorded.
TRAIL = [
    ("D-1", "case_opened", 0, "arrival", "default"),
    ("D-1", "airport_greeting", 1, "arrival", "no_show"),
    ("D-1", "airport_greeting", 2, "arrival", "greeted"),
    ("D-1", "meeting_booked", 1, "arrival", "2026-03-05T10:00:00-05:00 seq=0"),
    ("D-1", "meeting_rescheduled", 3, "arrival", "2026-03-20T10:00:00-04:00 seq=1 late"),
    ("D-1", "stage_overdue", 8, "arrival", None),
    ("D-1", "plan_filed", 9, "arrival", "revision 1, 2 items"),
    ("D-1", "plan_filed", 20, "arrival", "revision 2, 2 items"),
    ("D-1", "stage_approved", 10, "arrival", None),
    ("D-1", "stage_started", 10, "francization", None),
    ("D-2", "case_opened", 0, "arrival", "default"),
    ("D-2", "meeting_booked", 1, "arrival", "2026-03-05T10:00:00-05:00 seq=0"),
    ("D-2", "meeting_cancelled", 2, None, "2026-03-05T10:00:00-05:00 seq=1"),
    ("D-2", "plan_filed", 4, "arrival", "revision 1, 1 items"),
]


async def _before(engine: AsyncEngine) -> None:
    await migrate.upgrade(engine, BEFORE_REPORTS)
    moment = UtcDateTime()
    case_row = text(
        "INSERT INTO cases (dossier, workflow_id, region, language, arrival_date, status,"
        " escalation_level, overdue, last_event_seq, started_at, updated_at) VALUES"
        " (:dossier, :wf, 'montreal', 'fr', :arrival, 'active', 0, false, 0, :at, :at)"
    ).bindparams(bindparam("at", type_=moment))
    audit_row = text(
        "INSERT INTO audit_events (key, dossier, kind, at, stage, detail, recorded_at, seq)"
        " VALUES (:key, :dossier, :kind, :at, :stage, :detail, :at, :seq)"
    ).bindparams(bindparam("at", type_=moment))
    async with engine.begin() as conn:
        for dossier in ("D-1", "D-2"):
            await conn.execute(
                case_row,
                {"dossier": dossier, "wf": f"newcomer-{dossier}", "arrival": T0.date(), "at": T0},
            )
        for n, (dossier, kind, days, stage, detail) in enumerate(TRAIL):
            at: datetime = T0 + timedelta(days=days)
            await conn.execute(
                audit_row,
                {
                    "key": f"k{n}",
                    "dossier": dossier,
                    "kind": kind,
                    "at": at,
                    "stage": stage,
                    "detail": detail,
                    "seq": n,
                },
            )


async def test_0010_fills_the_facts_from_the_trail(empty_db: AsyncEngine) -> None:  # noqa: F811
    await _before(empty_db)
    assert await migrate.upgrade(empty_db) == migrate.head()
    async with session_factory(empty_db)() as session:
        one = await session.get(Case, "D-1")
        two = await session.get(Case, "D-2")
        spans = {(s.dossier, s.stage): s for s in (await session.scalars(select(StageSpan))).all()}
    assert one is not None and two is not None
    assert (one.greeting, one.greeting_at) == ("greeted", T0 + timedelta(days=2))
    assert (one.meeting_on, one.meeting_late) == (date(2026, 3, 20), True)
    assert one.plan_filed_at == T0 + timedelta(days=9)
    assert one.plan_overdue_at == T0 + timedelta(days=8)
    assert (two.meeting_on, two.meeting_late) == (None, None)  # cancelled
    assert (two.plan_filed_at, two.plan_overdue_at) == (T0 + timedelta(days=4), None)
    arrival = spans[("D-1", "arrival")]
    assert (arrival.started_at, arrival.ended_at) == (T0, T0 + timedelta(days=10))
    assert arrival.days == pytest.approx(10.0)
    assert (arrival.region, arrival.ended_month) == ("montreal", "2026-03")
    francization = spans[("D-1", "francization")]
    assert (francization.ended_at, francization.days, francization.ended_month) == (
        None,
        None,
        None,
    )
    assert spans[("D-2", "arrival")].ended_at is None
    assert await migrate.differences(empty_db) == []
