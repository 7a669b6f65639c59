"""The retention activity: one batch of purges in one transaction (idempotent)."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from parcours.infrastructure.store import retention
from parcours.kernel import activity_contract as contract
from parcours.kernel.retention import PurgeReport, PurgeRequest

logger = logging.getLogger(__name__)


class Retention:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    @activity.defn(name=contract.PURGE_PERSONAL_DATA)
    async def purge_personal_data(self, req: PurgeRequest) -> PurgeReport:
        async with self.sessions() as session, session.begin():
            dossiers = await retention.due_for_purge(session, req.closed_before, req.batch_size)
            done = await retention.purge_cases(session, dossiers, req.at)
        if dossiers:
            # Counts only: which dossiers were purged is in the cases table (purged_at).
            logger.info(
                "retention: %d case(s), %d note text(s), %d email(s) purged",
                done.cases,
                done.audit_texts,
                done.emails,
            )
        return PurgeReport(
            cases=done.cases,
            audit_texts=done.audit_texts,
            emails=done.emails,
            more=len(dossiers) == req.batch_size,
        )
