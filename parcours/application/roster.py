"""After a roster change: the region's unassigned cases look again for an officer (issue 17).

A case cannot know that the roster changed; whoever changes it (the CLI, the console) tells the
region's open unassigned cases with a fire-and-forget `roster_changed` signal. Each case then
asks the read model itself who may take it (the intake rule, activity find_officer) and
assigns itself only if someone can. The signal decides nothing, so it is not signed: a forged
one costs a case one more look at the roster (README, "Security model").

Leaves that end need no signal: a case nobody could take because its region's officers were
away asks again by itself at the local midnight the first of them is back (its own timer).
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.service import RPCError

from parcours.infrastructure.store.caseload import unassigned_open
from parcours.infrastructure.store.officers import get_officer
from parcours.kernel.authz import ProgrammeAction, Refusal, decide_programme, refusal
from parcours.kernel.domain import Actor, Role, RosterChanged

logger = logging.getLogger(__name__)


def roster_change_refused(
    action: ProgrammeAction, actor: Actor, officer_region: str, officer_role: str
) -> Refusal | None:
    """Whether `actor` may change the record of an officer (`action`: ROSTER or LEAVE) of
    `officer_region` whose role is `officer_role`: the programme table, and above it one rule
    of its own. A region's supervisor manages their officers' leaves, not a fellow
    supervisor's (nor their own, nor a director's): the staff above officers are the
    directors' roster. The console and the CLI (`--by`) both ask this."""
    refused = decide_programme(action, actor, officer_region)
    if refused is None and actor.role != Role.DIRECTOR and officer_role != Role.OFFICER.value:
        refused = refusal(f"{action.value}_directors_only", actor=actor.officer_id)
    return refused


async def region_to_wake(
    sessions: async_sessionmaker[AsyncSession], officer_id: str
) -> tuple[str, int] | None:
    """After a change to an officer's record (added, updated, back from leave): their region
    and how many of its open cases wait for an officer, when a nudge could help (the officer
    is an active officer, and some case waits); else None, and Temporal need not be reached.
    The console and the CLI both ask this."""
    async with sessions() as session:
        officer = await get_officer(session, officer_id)
        if officer is None or not officer.active or officer.role != Role.OFFICER.value:
            return None
        waiting = len(await unassigned_open(session, officer.region))
    return (officer.region, waiting) if waiting else None


SIGNAL = "roster_changed"
# Signals sent at once: a region rarely has more than a few unassigned cases, but a roster
# change after a long vacancy may find hundreds.
CONCURRENCY = 20


async def wake_unassigned(
    client: Client, sessions: async_sessionmaker[AsyncSession], region: str | None
) -> int:
    """Signal `roster_changed` to the open unassigned cases of `region` (all when None); how
    many were told. A case that closed meanwhile is skipped: the signal is only a nudge."""
    async with sessions() as session:
        ids = await unassigned_open(session, region)
    gate = asyncio.Semaphore(CONCURRENCY)

    async def tell(workflow_id: str) -> bool:
        async with gate:
            try:
                await client.get_workflow_handle(workflow_id).signal(
                    SIGNAL, RosterChanged(region=region or "")
                )
            except RPCError as err:
                # Not found or already closed: the read model lags behind; nothing to do.
                logger.info("roster_changed not delivered to %s: %s", workflow_id, err.status)
                return False
            return True

    told = await asyncio.gather(*(tell(i) for i in ids))
    return sum(told)
