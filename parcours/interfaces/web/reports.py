"""Read-model questions of the console: a case's trail, the roster. (The programme reports
are parcours/application/reports.py, shared with the CLI.)

Finding cases (the caseload and the search) is `infrastructure/store/finder.py`, shared with
the CLI."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from parcours.infrastructure.store.models import AuditEvent, Officer
from parcours.kernel.domain import Role


async def audit_trail(session: AsyncSession, dossier: str) -> list[AuditEvent]:
    stmt = select(AuditEvent).where(AuditEvent.dossier == dossier)
    return list((await session.scalars(stmt.order_by(AuditEvent.at, AuditEvent.id))).all())


async def officers_of(session: AsyncSession, region: str | None) -> list[Officer]:
    """Active officers a case of `region` may be given to (all regions for None)."""
    stmt = select(Officer).where(Officer.active.is_(True), Officer.role == Role.OFFICER.value)
    if region is not None:
        stmt = stmt.where(Officer.region == region)
    return list((await session.scalars(stmt.order_by(Officer.id))).all())
