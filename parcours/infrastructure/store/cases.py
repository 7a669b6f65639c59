"""Writes to the case projection and the audit trail.

Every write here may run twice (Temporal retries activities) or late (an older activity can
finish after a newer one), so each one is idempotent and order-tolerant.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import Executable, Row, Table, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from parcours.infrastructure.store import audit, report_facts
from parcours.infrastructure.store.models import AuditEvent, Case, OutboxMessage, OutboxStatus
from parcours.infrastructure.store.officers import officer_for, pick_officer
from parcours.kernel.domain import (
    REOPENABLE_STATUSES,
    CaseEvent,
    CaseSnapshot,
    NewcomerApproval,
    dossier_of,
)

logger = logging.getLogger(__name__)

# The business step in a key: "newcomer-D-1:000042:stage_started" or "newcomer-D-1:42".
# Dossiers cannot contain ':', so the first all-digit segment after one is the step.
_STEP = re.compile(r":(\d+)(?=:|$)")


def event_seq(key: str) -> int:
    """The business step of an event key, used to order events that carry the same
    timestamp; 0 when the key has none."""
    m = _STEP.search(key)
    return int(m.group(1)) if m else 0


def _projection(snap: CaseSnapshot) -> dict[str, Any]:
    """The columns of the case row that a snapshot sets."""
    return {
        "region": snap.region,
        "language": snap.language,
        "arrival_date": date.fromisoformat(snap.arrival_date),
        "status": snap.status.value,
        "stage": snap.stage.value if snap.stage else None,
        "officer_id": snap.officer_id,
        "escalation_level": snap.escalation_level,
        "stalled_since": snap.stalled_since,
        "overdue": snap.overdue,
        "stage_started_at": snap.stage_started_at,
        "last_activity_at": snap.last_activity_at,
        "started_at": snap.started_at,
        "closed_at": snap.closed_at,
    }


# Core statements, not ORM objects, built once with their values bound at execution: these
# writes run for every case and workflow task, and need a few columns. FOR UPDATE
# (PostgreSQL) serializes concurrent writers of one case, so the checks made on what the
# reads return cannot race; SQLite serializes writers anyway.
_CASES = cast(Table, Case.__table__)
_OPENING = (
    select(Case.started_at, Case.officer_id, Case.status, Case.purged_at)
    .where(Case.dossier == bindparam("case_dossier"))
    .with_for_update()
)
_NEWEST = (
    select(Case.last_event_at, Case.last_event_seq)
    .where(Case.dossier == bindparam("case_dossier"))
    .with_for_update()
)
_INSERT = insert(_CASES)
# The columns set are the keys of the parameters (other than case_dossier).
_UPDATE = update(_CASES).where(_CASES.c.dossier == bindparam("case_dossier"))


async def _locked_case(session: AsyncSession, read: Executable, dossier: str) -> Row[Any] | None:
    """The case row as `read` selects it, or None if there is none yet."""
    return (await session.execute(read, {"case_dossier": dossier})).first()


class CaseAlreadyOpened(ValueError):
    """register_case for a dossier whose case was opened by another run."""


class ReopeningRefused(ValueError):
    """register_case for a reopening the read model cannot take: no case row, a case that is
    not declined or withdrawn, or one whose personal data the retention sweep erased
    (`code`: "reopen_purged"; a new dossier is the way back)."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


# What a reopening may bring back (kernel/domain.py REOPENABLE_STATUSES).
_REOPENABLE = frozenset(s.value for s in REOPENABLE_STATUSES)


@dataclass
class Registration:
    officer_id: str | None
    newly_assigned: bool


async def register_case(
    session: AsyncSession,
    workflow_id: str,
    approval: NewcomerApproval,
    snap: CaseSnapshot,
    *,
    reopening: bool = False,
) -> Registration:
    """Open (or find) the case row, store the contact data, and pick an officer unless the
    case already has one (a retried call returns the first choice). The caller commits.

    A case is opened once: a retry carries the run's own `started_at`, while a second run of
    the same dossier (started over the first by a client that reached Temporal without our
    keys, with `TERMINATE_EXISTING`, or after the first closed) carries another. That run
    would have rewritten the newcomer's contact data and region, and emails with personal
    data would have gone to the address it named: it is refused (`CaseAlreadyOpened`)."""
    contact = {"full_name": approval.full_name, "email": approval.email, "phone": approval.phone}
    case = await _locked_case(session, _OPENING, snap.dossier)
    if reopening:
        _check_reopening(case, snap)
    elif case is None:
        officer_id = snap.officer_id
        if officer_id is None:
            officer_id = await pick_officer(session, snap.region, snap.language)
        await session.execute(
            _INSERT,
            {"dossier": snap.dossier, "workflow_id": workflow_id, "last_event_seq": 0}
            | _projection(snap)
            | contact
            | {"officer_id": officer_id},
        )
        return Registration(officer_id, newly_assigned=snap.officer_id is None and bool(officer_id))
    assert case is not None
    if (
        not reopening
        and case.started_at is not None
        and snap.started_at is not None
        and case.started_at != snap.started_at
    ):
        raise CaseAlreadyOpened(
            f"dossier {snap.dossier} was opened at {case.started_at.isoformat()}: a second "
            "opening is refused"
        )
    officer_id = case.officer_id or snap.officer_id
    newly_assigned = False
    if officer_id is None:
        officer_id = await pick_officer(session, snap.region, snap.language)
        newly_assigned = officer_id is not None
    await session.execute(
        _UPDATE, {"case_dossier": snap.dossier, "officer_id": officer_id} | contact
    )
    return Registration(officer_id, newly_assigned)


async def claim_officer(
    session: AsyncSession, workflow_id: str, region: str, language: str, day: date
) -> tuple[str | None, date | None]:
    """For an unassigned case (issue 17): the officer who takes it on `day` by the intake
    rule, written on the case row at once so that the next case woken by the same roster
    change sees this one in the officer's caseload (the case's own `case_assigned` event
    confirms it). A retry finds its first choice on the row. Else (None, the first day an
    absent officer of the region is back, if any). The caller commits."""
    row = (
        await session.execute(
            select(Case.officer_id).where(Case.workflow_id == workflow_id).with_for_update()
        )
    ).first()
    if row is not None and row.officer_id is not None:
        return row.officer_id, None
    chosen, back = await officer_for(session, region, language, day)
    if chosen is not None and row is not None:
        await session.execute(
            update(Case)
            .where(Case.workflow_id == workflow_id, Case.officer_id.is_(None))
            .values(officer_id=chosen)
            .execution_options(synchronize_session=False)
        )
    return chosen, back


def _check_reopening(case: Row[Any] | None, snap: CaseSnapshot) -> None:
    """A reopening's run (issue 16) opens a case row that exists and is closed as declined or
    withdrawn, with its personal data still there. A retry finds it as the first attempt
    left it (the reopening's own events come after this activity)."""
    if case is None:
        raise ReopeningRefused(f"dossier {snap.dossier}: no case to reopen", "no_case")
    if case.purged_at is not None:
        raise ReopeningRefused(
            f"dossier {snap.dossier}: its personal data was erased by retention; a new "
            "dossier is the way back",
            "reopen_purged",
        )
    if case.status not in _REOPENABLE:
        raise ReopeningRefused(
            f"dossier {snap.dossier} is {case.status}: only a declined or withdrawn case "
            "is reopened",
            "not_reopenable",
        )


async def record_event(session: AsyncSession, event: CaseEvent) -> bool:
    """Append the audit row and apply its snapshot; False (and nothing changed) if this key
    was recorded before. Run it inside one transaction: the caller commits."""
    return event.key not in await record_events(session, [event])


async def record_events(session: AsyncSession, events: Sequence[CaseEvent]) -> list[str]:
    """Append the audit rows of `events`, in order, and apply the newest snapshot of each
    case to its row; the keys recorded before (nothing changed for them). Run it inside one
    transaction: the caller commits.

    One read and one write of each case row for the whole batch, whatever its length: the
    snapshot kept is the one a write per event would have left last."""
    duplicates: list[str] = []
    newest: dict[str, tuple[tuple[datetime, int], CaseEvent]] = {}
    # The events newly recorded, per case: the reports' facts (store/report_facts.py).
    recorded: dict[str, list[CaseEvent]] = {}
    for event in events:
        snap = event.snapshot
        dossier = snap.dossier or dossier_of(event.workflow_id)
        inserted = await audit.append(
            session,
            key=event.key,
            dossier=dossier,
            kind=event.kind,
            at=event.at,
            actor=event.actor,
            stage=event.stage.value if event.stage else None,
            detail=event.detail,
            text=event.text,
        )
        if not inserted:
            duplicates.append(event.key)
            continue
        recorded.setdefault(dossier, []).append(event)
        order = (event.at, event_seq(event.key))
        best = newest.get(snap.dossier)
        if best is None or order > best[0]:
            newest[snap.dossier] = (order, event)
    for dossier, ((at, seq), event) in newest.items():
        await _project(session, dossier, event, at, seq)
    for dossier, facts in recorded.items():
        await report_facts.record_facts(session, dossier, facts)
    return duplicates


async def _project(
    session: AsyncSession, dossier: str, event: CaseEvent, at: datetime, seq: int
) -> None:
    """Apply `event`'s snapshot to the case row, unless the row already reflects a newer
    event (activities may be retried or land out of order)."""
    case = await _locked_case(session, _NEWEST, dossier)
    values = _projection(event.snapshot) | {"last_event_at": at, "last_event_seq": seq}
    if case is None:
        await session.execute(
            _INSERT, {"dossier": dossier, "workflow_id": event.workflow_id} | values
        )
    elif case.last_event_at is None or (at, seq) > (case.last_event_at, case.last_event_seq):
        await session.execute(_UPDATE, {"case_dossier": dossier} | values)
    else:
        logger.info("case %s: event %s older than the projection, audit only", dossier, event.key)


async def append_audit(
    session: AsyncSession,
    *,
    key: str,
    dossier: str,
    kind: str,
    at: datetime,
    actor: str | None = None,
    stage: str | None = None,
    detail: str | None = None,
) -> bool:
    """An audit row that changes no projection (emails): idempotent by key."""
    return await audit.append(
        session, key=key, dossier=dossier, kind=kind, at=at, actor=actor, stage=stage, detail=detail
    )


async def welcomed(session: AsyncSession, dossiers: Sequence[str]) -> set[str]:
    """Those of `dossiers` whose opening is done as far as the read model can tell: the
    `case_opened` event recorded and the welcome email written and no longer in the middle of
    its SMTP exchange (`sending`). What a paced import waits for (application/start_many.py).
    Whether the SMTP server took it does not matter: a `pending` welcome (an outage) counts,
    so that an outage never holds an import."""
    if not dossiers:
        return set()
    wanted = list(dossiers)
    opened = select(AuditEvent.dossier).where(
        AuditEvent.dossier.in_(wanted), AuditEvent.kind == "case_opened"
    )
    rows = await session.execute(
        select(OutboxMessage.dossier).where(
            OutboxMessage.dossier.in_(wanted),
            OutboxMessage.template == "welcome",
            OutboxMessage.status != OutboxStatus.SENDING,
            OutboxMessage.dossier.in_(opened),
        )
    )
    return {d for (d,) in rows}
