"""Retention: erase a closed case's personal data from the read model, keep the statistics.

Quebec's privacy rules ask that personal information be destroyed once the purpose it was
collected for is fulfilled. A case closed for `retention_days` loses the newcomer's name, email
and phone, the free text of its audit rows (notes, reasons) and its emails' recipients and
bodies. What stays is anonymous: stage dates, statuses, counts, who (which officer) did what
and when. This is the only code that changes audit rows, and only their `text` (the database
refuses anything else, migration 0002).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from parcours.infrastructure.store.models import AuditEvent, Case, OutboxMessage
from parcours.kernel.domain import CLOSED_STATUSES as CLOSED

# Completed, withdrawn or declined (a declined case may be reopened until it is purged).
CLOSED_STATUSES = tuple(s.value for s in CLOSED)
PURGED = ""  # what an erased outbox text column holds (the columns are NOT NULL)


@dataclass
class PurgeCount:
    cases: int = 0
    audit_texts: int = 0
    emails: int = 0


async def due_for_purge(session: AsyncSession, closed_before: datetime, limit: int) -> list[str]:
    """Dossiers closed before `closed_before` whose personal data is still there."""
    stmt = (
        select(Case.dossier)
        .where(
            Case.status.in_(CLOSED_STATUSES),
            Case.closed_at.is_not(None),
            Case.closed_at < closed_before,
            Case.purged_at.is_(None),
        )
        .order_by(Case.closed_at, Case.dossier)
        .limit(limit)
    )
    return list((await session.scalars(stmt)).all())


async def purge_cases(session: AsyncSession, dossiers: list[str], at: datetime) -> PurgeCount:
    """Erase the personal data of `dossiers` (idempotent). The caller commits."""
    if not dossiers:
        return PurgeCount()
    done = PurgeCount()
    result = await session.execute(
        update(Case)
        .where(Case.dossier.in_(dossiers), Case.purged_at.is_(None))
        .values(full_name=None, email=None, phone=None, purged_at=at)
        .execution_options(synchronize_session=False)
    )
    done.cases = result.rowcount or 0  # type: ignore[attr-defined]
    result = await session.execute(
        update(AuditEvent)
        .where(AuditEvent.dossier.in_(dossiers), AuditEvent.text.is_not(None))
        .values(text=None)
        .execution_options(synchronize_session=False)
    )
    done.audit_texts = result.rowcount or 0  # type: ignore[attr-defined]
    result = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.dossier.in_(dossiers), OutboxMessage.body_text != PURGED)
        .values(
            recipients=PURGED, subject=PURGED, body_text=PURGED, body_html=PURGED, last_error=None
        )
        .execution_options(synchronize_session=False)
    )
    done.emails = result.rowcount or 0  # type: ignore[attr-defined]
    return done


async def purged(session: AsyncSession, dossier: str) -> bool | None:
    """Whether the retention sweep erased `dossier`'s personal data; None: no such case row."""
    found = await session.execute(select(Case.purged_at).where(Case.dossier == dossier))
    row = found.first()
    return None if row is None else row.purged_at is not None
