"""Writes to the case projection and the audit trail.

Every write here may run twice (Temporal retries activities) or late (an older activity can
finish after a newer one), so each one is idempotent and order-tolerant.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from parcours.infrastructure.store import audit
from parcours.infrastructure.store.models import Case
from parcours.infrastructure.store.officers import pick_officer
from parcours.kernel.domain import CaseEvent, CaseSnapshot, NewcomerApproval, dossier_of

logger = logging.getLogger(__name__)

# The business step in a key: "newcomer-D-1:000042:stage_started" or "newcomer-D-1:42".
# Dossiers cannot contain ':', so the first all-digit segment after one is the step.
_STEP = re.compile(r":(\d+)(?=:|$)")


def event_seq(key: str) -> int:
    """The business step of an event key, used to order events that carry the same
    timestamp; 0 when the key has none."""
    m = _STEP.search(key)
    return int(m.group(1)) if m else 0


def _project(case: Case, snap: CaseSnapshot) -> None:
    case.region = snap.region
    case.language = snap.language
    case.arrival_date = date.fromisoformat(snap.arrival_date)
    case.status = snap.status.value
    case.stage = snap.stage.value if snap.stage else None
    case.officer_id = snap.officer_id
    case.escalation_level = snap.escalation_level
    case.stalled_since = snap.stalled_since
    case.overdue = snap.overdue
    case.stage_started_at = snap.stage_started_at
    case.last_activity_at = snap.last_activity_at
    case.started_at = snap.started_at
    case.closed_at = snap.closed_at


async def _load_or_create(session: AsyncSession, workflow_id: str, snap: CaseSnapshot) -> Case:
    # FOR UPDATE (PostgreSQL) serializes concurrent writers of one case, so the "is this
    # event newer" check below cannot race; SQLite serializes writers anyway.
    case = await session.get(Case, snap.dossier, with_for_update=True)
    if case is None:
        case = Case(dossier=snap.dossier, workflow_id=workflow_id, last_event_seq=0)
        _project(case, snap)
        session.add(case)
    return case


class CaseAlreadyOpened(ValueError):
    """register_case for a dossier whose case was opened by another run."""


@dataclass
class Registration:
    officer_id: str | None
    newly_assigned: bool


async def register_case(
    session: AsyncSession, workflow_id: str, approval: NewcomerApproval, snap: CaseSnapshot
) -> Registration:
    """Open (or find) the case row, store the contact data, and pick an officer unless the
    case already has one (a retried call returns the first choice). The caller commits.

    A case is opened once: a retry carries the run's own `started_at`, while a second run of
    the same dossier (started over the first by a client that reached Temporal without our
    keys, with `TERMINATE_EXISTING`, or after the first closed) carries another. That run
    would have rewritten the newcomer's contact data and region, and emails with personal
    data would have gone to the address it named: it is refused (`CaseAlreadyOpened`)."""
    case = await _load_or_create(session, workflow_id, snap)
    if (
        case.started_at is not None
        and snap.started_at is not None
        and case.started_at != snap.started_at
    ):
        raise CaseAlreadyOpened(
            f"dossier {snap.dossier} was opened at {case.started_at.isoformat()}: a second "
            "opening is refused"
        )
    case.full_name = approval.full_name
    case.email = approval.email
    case.phone = approval.phone
    if case.officer_id is None and snap.officer_id is not None:
        case.officer_id = snap.officer_id
    if case.officer_id is not None:
        return Registration(case.officer_id, newly_assigned=False)
    officer_id = await pick_officer(session, snap.region, snap.language)
    case.officer_id = officer_id
    await session.flush()
    return Registration(officer_id, newly_assigned=officer_id is not None)


async def record_event(session: AsyncSession, event: CaseEvent) -> bool:
    """Append the audit row and apply its snapshot; False (and nothing changed) if this key
    was recorded before. Run it inside one transaction: the caller commits."""
    snap = event.snapshot
    inserted = await audit.append(
        session,
        key=event.key,
        dossier=snap.dossier or dossier_of(event.workflow_id),
        kind=event.kind,
        at=event.at,
        actor=event.actor,
        stage=event.stage.value if event.stage else None,
        detail=event.detail,
        text=event.text,
    )
    if not inserted:
        return False
    case = await _load_or_create(session, event.workflow_id, snap)
    seq = event_seq(event.key)
    if case.last_event_at is None or (event.at, seq) > (case.last_event_at, case.last_event_seq):
        _project(case, snap)
        case.last_event_at = event.at
        case.last_event_seq = seq
    else:
        logger.info(
            "case %s: event %s older than the projection, audit only", snap.dossier, event.key
        )
    await session.flush()
    return True


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
