"""The batch workflow's side effects (issue 17): check its request, read the roster and the
cases, send each case its own signed update, close a departure.

Each case's update goes through the worker's Temporal client, which signs it as the
interfaces' clients do (infrastructure/temporal.py `SigningInterceptor`); the case's validator
then judges the batch's actor by the authorization table, as for any action. Every update is
sent with an id made of the batch's and the dossier, so a retried activity whose first attempt
reached the case gets that first outcome back (Temporal deduplicates updates by id) instead of
acting twice.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from parcours.infrastructure.signing import Verifier
from parcours.infrastructure.store.models import Case, Officer, split_languages
from parcours.infrastructure.store.officers import (
    actor_of,
    deactivate_officer,
    get_officer,
    local_today,
)
from parcours.infrastructure.temporal import QUERY_VIEW, refusal_of
from parcours.kernel import activity_contract as contract
from parcours.kernel import assignment
from parcours.kernel.batches import (
    BatchCheck,
    BatchKind,
    BatchVerdict,
    CaseAction,
    CaseActionResult,
    CaseFacts,
    CaseFactsList,
    CaseLookup,
    CaseOutcome,
    DepartureCheck,
    DepartureOutcome,
    RosterEntry,
    RosterLookup,
    RosterSnapshot,
)
from parcours.kernel.domain import (
    OPEN_STATUSES,
    Actor,
    CaseQuery,
    CaseView,
    PauseRequest,
    ProgressNote,
    Reassignment,
    Role,
    workflow_id_for,
)
from parcours.kernel.messages import Message

logger = logging.getLogger(__name__)

# A case answers a query or an update within this, or the attempt fails and is retried.
ANSWER_TIMEOUT = timedelta(seconds=20)
# Cases read at once by one activity (queries to their workflows).
READ_CONCURRENCY = 20
_OPEN = frozenset(s.value for s in OPEN_STATUSES)
# The status of a case whose run has ended but that does not say which way.
CLOSED = "closed"


def update_id(batch_id: str, dossier: str) -> str:
    """The update's id on the case: one per batch and case (no personal data)."""
    return f"batch-{batch_id}-{dossier}"


def _invalid(message: str) -> ApplicationError:
    return ApplicationError(message, type=contract.INVALID_INPUT, non_retryable=True)


class BatchWork:
    """The batch activities. `client` is the worker's (it signs what it sends); `sessions`
    the read model's; `verifier` the signing keys' (None: every batch is refused)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession] | None,
        verifier: Verifier | None,
        client: Client | None = None,
    ) -> None:
        self.sessions = sessions
        self.verifier = verifier
        self.client = client

    def attach(self, client: Client) -> None:
        """The worker's client, once it exists (infrastructure/worker.py build_worker)."""
        self.client = client

    def _client(self) -> Client:
        if self.client is None:
            raise RuntimeError("the batch activities have no Temporal client")
        return self.client

    def _sessions(self) -> async_sessionmaker[AsyncSession]:
        if self.sessions is None:
            raise RuntimeError("the batch activities have no read model")
        return self.sessions

    @activity.defn(name=contract.CHECK_BATCH)
    async def check_batch(self, check: BatchCheck) -> BatchVerdict:
        """The request's signature, for the batch's own workflow id, fresh when it started."""
        req = check.request
        if check.workflow_id != f"batch-{req.batch_id}":
            return BatchVerdict(Message.of("signature_invalid"))
        if self.verifier is None:
            return BatchVerdict(Message.of("signature_unchecked"))
        return BatchVerdict(self.verifier.check_batch(req, check.accepted_at))

    @activity.defn(name=contract.READ_ROSTER)
    async def batch_roster(self, lookup: RosterLookup) -> RosterSnapshot:
        """The officers of `regions` (role officer) and the named ones (any role), with their
        open caseloads and whether they are there today (active, not on leave)."""
        from sqlalchemy import func, or_

        open_cases = (
            select(func.count(Case.dossier))
            .where(Case.officer_id == Officer.id, Case.status.in_(sorted(_OPEN)))
            .correlate(Officer)
            .scalar_subquery()
        )
        stmt = (
            select(Officer, open_cases.label("open_cases"))
            .where(
                or_(
                    (Officer.region.in_(lookup.regions)) & (Officer.role == Role.OFFICER.value),
                    Officer.id.in_(lookup.officers),
                )
            )
            .order_by(Officer.id)
        )
        async with self._sessions()() as session:
            rows = (await session.execute(stmt)).all()
        entries = []
        for o, count in rows:
            day = local_today(o.region)
            entries.append(
                RosterEntry(
                    id=o.id,
                    role=o.role,
                    region=o.region,
                    languages=split_languages(o.languages),
                    active=o.active,
                    available=o.active and not assignment.on_leave(o.leave_from, o.leave_to, day),
                    open_cases=int(count or 0),
                )
            )
        return RosterSnapshot(entries)

    async def _facts(self, dossier: str) -> CaseFacts:
        handle = self._client().get_workflow_handle(workflow_id_for(dossier))
        try:
            view: CaseView = await handle.query(
                QUERY_VIEW, CaseQuery(), result_type=CaseView, rpc_timeout=ANSWER_TIMEOUT
            )
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise
            # A closed run may not answer queries (some servers): is there a case at all?
            try:
                await handle.describe(rpc_timeout=ANSWER_TIMEOUT)
            except RPCError as gone:
                if gone.status == RPCStatusCode.NOT_FOUND:
                    return CaseFacts(dossier=dossier, found=False)
                raise
            return CaseFacts(dossier=dossier, status=CLOSED)
        return CaseFacts(
            dossier=dossier,
            region=view.region,
            language=view.language,
            officer=view.officer,
            status=view.status.value,
        )

    @activity.defn(name=contract.READ_CASES)
    async def batch_cases(self, lookup: CaseLookup) -> CaseFactsList:
        """Each case as its workflow answers now (region, language, officer, status)."""
        gate = asyncio.Semaphore(READ_CONCURRENCY)

        async def one(dossier: str) -> CaseFacts:
            async with gate:
                return await self._facts(dossier)

        return CaseFactsList(list(await asyncio.gather(*(one(d) for d in lookup.dossiers))))

    @activity.defn(name=contract.ACT_ON_CASE)
    async def batch_act(self, action: CaseAction) -> CaseActionResult:
        """Send the case its update as the batch's actor; a refusal is an outcome, not a
        failure. Already done (the target officer, an already paused case) counts ALREADY.

        The actor and the target are read again from the roster for each case: a batch of
        thousands outlives the moment it was signed (attack review of issue 17). An actor
        deactivated, moved to another region or given another role meanwhile acts no more:
        never with less than they had then, nor with more (a supervisor promoted mid-batch
        does not gain the other regions' cases of the list). A target deactivated or moved
        since the batch read the roster is sent as they are now, so the case's validator
        refuses it (`target_inactive`, `target_other_region`)."""
        if not await self._actor_unchanged(action.actor):
            return CaseActionResult(
                CaseOutcome.REFUSED,
                Message.of("batch_actor_changed", actor=action.actor.officer_id),
            )
        if action.target is not None:
            action = dataclasses.replace(action, target=await self._as_now(action.target))
        update, arg = _update_of(action)
        handle = self._client().get_workflow_handle(workflow_id_for(action.dossier))
        try:
            await handle.execute_update(
                update,
                arg,
                id=update_id(action.batch_id, action.dossier),
                result_type=CaseView,
                rpc_timeout=ANSWER_TIMEOUT,
            )
        except WorkflowUpdateFailedError as err:
            refused = refusal_of(err.cause)
            if refused is None:
                return CaseActionResult(
                    CaseOutcome.FAILED, Message.of("batch_case_failed", dossier=action.dossier)
                )
            if _already(action.kind, refused):
                return CaseActionResult(CaseOutcome.ALREADY)
            return CaseActionResult(CaseOutcome.REFUSED, refused)
        except RPCError as err:
            text = err.message.lower()
            if "completed" in text or "already" in text:
                # Closed meanwhile: its run takes no update any more.
                return CaseActionResult(CaseOutcome.REFUSED, Message.of("case_completed"))
            if err.status == RPCStatusCode.NOT_FOUND:
                return CaseActionResult(
                    CaseOutcome.FAILED, Message.of("no_case", dossier=action.dossier)
                )
            raise
        return CaseActionResult(CaseOutcome.DONE)

    async def _as_now(self, actor: Actor) -> Actor:
        """`actor` as the roster has them now; gone from it, an inactive account. Without a
        read model (workflow tests), as given."""
        if self.sessions is None:
            return actor
        async with self.sessions() as session:
            officer = await get_officer(session, actor.officer_id)
        if officer is None:
            return dataclasses.replace(actor, active=False)
        return actor_of(officer)

    async def _actor_unchanged(self, signed: Actor) -> bool:
        """The batch's actor is still who signed it: active, same role, same region."""
        now = await self._as_now(signed)
        return now.active and (now.role, now.region) == (signed.role, signed.region)

    @activity.defn(name=contract.CLOSE_DEPARTURE)
    async def batch_departure(self, check: DepartureCheck) -> DepartureOutcome:
        """The open cases still the officer's, by their workflows (the read model may lag
        behind the updates just sent); with none left, the officer is deactivated, audited.
        Idempotent: an officer already inactive stays so."""
        stmt = (
            select(Case.dossier)
            .where(Case.officer_id == check.officer_id, Case.status.in_(sorted(_OPEN)))
            .order_by(Case.dossier)
        )
        async with self._sessions()() as session:
            listed = list((await session.scalars(stmt)).all())
        facts = (await self.batch_cases(CaseLookup(listed))).cases
        remaining = [
            f.dossier
            for f in facts
            if f.found and f.officer == check.officer_id and f.status in _OPEN
        ]
        if remaining or not check.deactivate:
            return DepartureOutcome(deactivated=False, remaining=remaining)
        if not await self._actor_unchanged(check.actor):
            # The director who signed it is no longer one (or no longer active): the cases
            # moved, but the officer is not deactivated in their name.
            logger.warning(
                "batch %s: %s not deactivated: its signer changed", check.batch_id, check.officer_id
            )
            return DepartureOutcome(deactivated=False, remaining=[])
        async with self._sessions()() as session, session.begin():
            await deactivate_officer(
                session,
                check.officer_id,
                actor=check.actor.officer_id,
                detail=f"batch={check.batch_id}",
                checked=True,
            )
        return DepartureOutcome(deactivated=True)


def _update_of(action: CaseAction) -> tuple[str, object]:
    if action.kind in (BatchKind.REASSIGN, BatchKind.SPREAD):
        if action.target is None:
            raise _invalid("a reassignment names its target")
        return "reassign", Reassignment(actor=action.actor, new_officer=action.target)
    if action.kind == BatchKind.NOTE:
        return "add_progress", ProgressNote(actor=action.actor, note=action.note)
    if action.kind == BatchKind.PAUSE:
        return "pause", PauseRequest(actor=action.actor, reason=action.note)
    raise _invalid(f"unknown batch kind {action.kind!r}")


def _already(kind: BatchKind, refused: Message) -> bool:
    """The case already stands as the batch wants it."""
    if kind in (BatchKind.REASSIGN, BatchKind.SPREAD):
        return refused.code == "already_assigned"
    if kind == BatchKind.PAUSE:
        return refused.code == "case_paused"
    return False
