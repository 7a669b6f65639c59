"""What a paced import waits for (store/cases.welcomed, application/start_many.opened_in): a
new case counts as opened once its `case_opened` event is recorded and its welcome email is
written and out of its SMTP exchange, whether or not the SMTP server took it (an outage must
not hold an import). Other emails of the case do not count."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parcours.application.start_many import opened_in
from parcours.infrastructure.store import cases
from parcours.infrastructure.store.cases import welcomed
from parcours.infrastructure.store.models import OutboxMessage
from parcours.kernel.domain import CaseEvent, Stage
from tests.store.builders import approval, snapshot

AT = datetime(2027, 1, 15, 14, 0, tzinfo=UTC)


async def _case(
    sessions: async_sessionmaker[AsyncSession], dossier: str, *, opened: bool, welcome: str | None
) -> None:
    wid = f"newcomer-{dossier}"
    async with sessions() as s, s.begin():
        await cases.register_case(s, wid, approval(dossier), snapshot(dossier))
        if opened:
            await cases.record_event(
                s,
                CaseEvent(
                    key=f"{wid}:000001:case_opened",
                    workflow_id=wid,
                    kind="case_opened",
                    at=AT,
                    snapshot=snapshot(dossier, at=AT),
                    stage=Stage.ARRIVAL,
                ),
            )
        if welcome is not None:
            s.add(
                OutboxMessage(
                    key=f"{wid}:000002:mail-welcome",
                    dossier=dossier,
                    template="welcome",
                    audience="newcomer",
                    status=welcome,
                )
            )
        s.add(
            OutboxMessage(
                key=f"{wid}:000003:mail-officer_assigned",
                dossier=dossier,
                template="officer_assigned",
                audience="officer",
                status="sent",
            )
        )


async def test_an_opening_is_done_when_its_event_and_its_welcome_are_written(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _case(sessions, "D-1", opened=True, welcome="sent")
    await _case(sessions, "D-2", opened=True, welcome="pending")  # SMTP down: still opened
    await _case(sessions, "D-3", opened=True, welcome="sending")  # mid-exchange: not yet
    await _case(sessions, "D-4", opened=False, welcome="sent")  # its events not recorded yet
    await _case(sessions, "D-5", opened=True, welcome=None)  # only the officer's email
    await _case(sessions, "D-9", opened=True, welcome="sent")  # not asked about
    async with sessions() as s:
        assert await welcomed(s, ["D-1", "D-2", "D-3", "D-4", "D-5", "D-6"]) == {"D-1", "D-2"}
        assert await welcomed(s, []) == set()
    assert await opened_in(sessions)(["D-3", "D-9"]) == {"D-9"}
