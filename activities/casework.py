"""Read-model activities: open a case and pick its officer; record each event.

Both are idempotent, so Temporal may retry them freely: a database that is unreachable or
locked raises, and the retry policy tries again; only input that can never succeed is
refused as non-retryable.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from parcours.infrastructure.signing import Verifier
from parcours.infrastructure.store import cases
from parcours.infrastructure.store.db import refuses_value
from parcours.kernel import activity_contract as contract
from parcours.kernel.approval import problems as approval_problems
from parcours.kernel.domain import (
    DOSSIER_RE,
    REGIONS,
    Assignment,
    CaseEvent,
    CaseSnapshot,
    EventBatch,
    EventBatchRecorded,
    EventRecorded,
    OfficerWanted,
    RegisterCase,
)
from parcours.kernel.inputs import ArrivalWindow

logger = logging.getLogger(__name__)

# How much further back a reopened case's arrival date may lie than a new case's (days).
REOPEN_DAYS_BACK = 3650


def _invalid(message: str) -> ApplicationError:
    return ApplicationError(message, type=contract.INVALID_INPUT, non_retryable=True)


def _check_snapshot(snap: CaseSnapshot) -> None:
    if not DOSSIER_RE.match(snap.dossier or ""):
        raise _invalid("snapshot.dossier is not a valid dossier number")
    if snap.region not in REGIONS:
        raise _invalid(f"snapshot.region {snap.region!r} is not a region of Quebec")
    try:
        date.fromisoformat(snap.arrival_date)
    except (TypeError, ValueError):
        raise _invalid("snapshot.arrival_date is not an ISO date (YYYY-MM-DD)") from None
    for name in ("stalled_since", "stage_started_at", "last_activity_at", "started_at"):
        value = getattr(snap, name)
        if value is not None and value.tzinfo is None:
            raise _invalid(f"snapshot.{name} must be timezone-aware")


class Casework:
    """Activities over the read model; the worker builds one with its session factory."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        starts: Verifier | None = None,
        window: Callable[[date], ArrivalWindow] = ArrivalWindow,
    ) -> None:
        self.sessions = sessions
        # The arrival dates an opening accepts around a day (Settings.arrival_window): the
        # same bounds as the interfaces that started it.
        self.window = window
        # Checks the signature of a case's start (None: this worker holds no signing keys, and
        # refuses every signed-start opening; `parcours worker` refuses to run without keys).
        self.starts = starts

    def _check_start(self, req: RegisterCase) -> None:
        """Refuse an opening whose start was not signed by an interface holding our keys (a
        client that only reached the Temporal frontend). Done here rather than in the
        workflow: this result is in history, so a replay never checks again.

        A request without `start_accepted_at` was scheduled by a first run of code older than
        signed starts (the workflow always sets it now, and a client cannot touch this
        input): that case was started by our interfaces before starts were signed."""
        if req.start_accepted_at is None:
            return
        if self.starts is None:
            raise _invalid("start refused: this worker holds no signing keys to check it")
        if req.policy is None:
            raise _invalid("start refused: the request names no policy")
        refused = self.starts.check_start(
            req.workflow_id,
            req.approval,
            req.policy,
            req.signature,
            req.start_accepted_at,
            req.reopening,
        )
        if refused is not None:
            # The run fails before it records or sends anything: no case row, no audit row,
            # no email.
            logger.warning("case %s: start refused: %s", req.snapshot.dossier, refused.code)
            raise _invalid(f"start refused: {refused}")

    @activity.defn(name=contract.REGISTER_CASE)
    async def register_case(self, req: RegisterCase) -> Assignment:
        """Open the case row (or find it, on a retry) and return its officer: the one already
        stored if any, else the best officer of the region, else none (unassigned)."""
        _check_snapshot(req.snapshot)
        # Around the day the interface accepted the start (the day its own check used), so a
        # retry days later, or a worker in another time zone, judges the same dates alike.
        opened_on = req.start_accepted_at or datetime.now(UTC)
        window = self.window(opened_on.date())
        if req.reopening is not None:
            # A reopened case keeps the arrival date it was opened with, months ago maybe.
            window = replace(window, days_back=window.days_back + REOPEN_DAYS_BACK)
        refused = approval_problems(req.approval, window)
        if refused:
            # The same checks as every interface (kernel/approval.py); field names only, never
            # the values: they are personal data, and failures are not encrypted.
            raise _invalid(f"the approval is refused: {', '.join(sorted(refused))}")
        if req.approval.dossier != req.snapshot.dossier:
            raise _invalid("approval and snapshot name different dossiers")
        self._check_start(req)
        try:
            async with self.sessions() as session, session.begin():
                reg = await cases.register_case(
                    session,
                    req.workflow_id,
                    req.approval,
                    req.snapshot,
                    reopening=req.reopening is not None,
                )
        except DBAPIError as err:
            if not refuses_value(err):
                raise
            # A value the column refuses (too long, out of range) fails the same way forever.
            raise _invalid("the read model refused a value of this case") from None
        except cases.ReopeningRefused as err:
            # Before any effect: the closed case, its row and its audit trail stay as they were.
            logger.warning("case %s: reopening refused: %s", req.snapshot.dossier, err.code)
            raise _invalid(f"reopening refused: {err.code}") from None
        except cases.CaseAlreadyOpened as err:
            # The run fails before it records or sends anything; the case row is untouched.
            logger.warning("case %s: %s", req.snapshot.dossier, err)
            raise _invalid(str(err)) from None
        if reg.officer_id is None:
            logger.warning(
                "case %s: no officer available in %s", req.snapshot.dossier, req.snapshot.region
            )
        elif reg.newly_assigned:
            logger.info("case %s assigned to %s", req.snapshot.dossier, reg.officer_id)
        return Assignment(officer_id=reg.officer_id, unassigned=reg.officer_id is None)

    @activity.defn(name=contract.FIND_OFFICER)
    async def find_officer(self, req: OfficerWanted) -> Assignment:
        """Who of the region takes an unassigned case on the case's local day `req.day` (the
        intake rule), or nobody and the first day an absent officer is back. The choice is
        written on the case row at once (the caseload the next pick reads), and a retry gets
        the same answer; the case assigns itself and audits it."""
        if req.region not in REGIONS:
            raise _invalid(f"region {req.region!r} is not a region of Quebec")
        try:
            day = date.fromisoformat(req.day)
        except ValueError:
            raise _invalid("day is not an ISO date (YYYY-MM-DD)") from None
        async with self.sessions() as session, session.begin():
            chosen, back = await cases.claim_officer(
                session, req.workflow_id, req.region, req.language, day
            )
        return Assignment(
            officer_id=chosen,
            unassigned=chosen is None,
            retry_on=back.isoformat() if back else "",
        )

    @activity.defn(name=contract.RECORD_EVENT)
    async def record_event(self, event: CaseEvent) -> EventRecorded:
        """Append one audit row and apply the projection it carries, in one transaction.
        A key seen before changes nothing and answers duplicate=True. (v1 workflows; v2
        sends batches to record_events.)"""
        batch = await self.record_events(EventBatch(events=[event]))
        return EventRecorded(key=event.key, duplicate=bool(batch.duplicates))

    @activity.defn(name=contract.RECORD_EVENTS)
    async def record_events(self, batch: EventBatch) -> EventBatchRecorded:
        """Append the audit rows of one workflow task and apply their projections, in order,
        in one transaction. Keys seen before change nothing.

        An event that can never be recorded (invalid, or a value the read model refuses) is
        named in `refused` and the others are still recorded: one buggy event must not cost
        the audit rows of its whole workflow task. When a column refuses a value, the batch
        is replayed one event per transaction to find which. If no event can be recorded,
        the activity fails for good, as it does for a single event.
        """
        valid: list[CaseEvent] = []
        refused: list[str] = []
        first_error: ApplicationError | None = None
        for event in batch.events:
            try:
                _check_event(event)
            except ApplicationError as err:
                first_error = first_error or err
                refused.append(event.key)
                logger.warning("event %s refused: %s", event.key, err.message)
            else:
                valid.append(event)
        duplicates: list[str] = []
        try:
            duplicates = await self._record(valid)
        except _ValueRefused:
            for event in valid:
                try:
                    duplicates += await self._record([event])
                except _ValueRefused:
                    # The driver's message is left out: it can quote the refused value.
                    first_error = first_error or _invalid(
                        f"the read model refused a value of event {event.key}"
                    )
                    refused.append(event.key)
                    logger.warning(
                        "event %s refused: a value does not fit the read model", event.key
                    )
        if refused and len(refused) == len(batch.events):
            assert first_error is not None
            raise first_error
        for key in duplicates:
            logger.info("event %s already recorded", key)
        return EventBatchRecorded(
            recorded=len(batch.events) - len(duplicates) - len(refused),
            duplicates=duplicates,
            refused=refused,
        )

    async def _record(self, events: list[CaseEvent]) -> list[str]:
        """Record `events` in one transaction; the keys that were already there."""
        duplicates: list[str] = []
        if not events:
            return duplicates
        try:
            async with self.sessions() as session, session.begin():
                duplicates = await cases.record_events(session, events)
        except DBAPIError as err:
            if refuses_value(err):
                raise _ValueRefused from None
            raise
        return duplicates


class _ValueRefused(Exception):
    """The read model refused a value of the events (a bug, not an outage)."""


def _check_event(event: CaseEvent) -> None:
    _check_snapshot(event.snapshot)
    if not event.key or not event.kind:
        raise _invalid("an event needs a key and a kind")
    if event.at.tzinfo is None:
        raise _invalid("event.at must be timezone-aware")
