"""A batch: one action over an explicit list of cases (issue 17), durable and resumable.

Departures (redistribute or hand over an officer's open cases, then deactivate them) and
supervisors' bulk work (reassign, spread, note, pause) run here. The shape:
- the request's signature is checked first, by an activity, in every run (a run carried over
  by continue-as-new too): an unsigned or forged batch fails before any case is touched;
- the cases go a window at a time: their workflows are read (region, language, officer), each
  case's target is picked and recorded in the batch's state, and only then is each case sent
  its own signed update (activities/batches.py), which its validator judges as any action.
  The target is decided from recorded results only, so a worker that resumes the batch after
  a crash decides the same targets, and a case already with its target counts ALREADY: no
  case is moved twice;
- a refusal (closed meanwhile, not the actor's to move) is that case's result, not the
  batch's failure;
- continue-as-new between windows once the history passes its budget, carrying the results;
- a departure ends by deactivating the officer once none of their open cases is left (cases
  that reached them meanwhile are added to the batch, a few rounds at most).

The only commands are issued by `run`; the `progress` query reads the state.
"""

from __future__ import annotations

import asyncio
import dataclasses
import typing
from collections.abc import Iterable
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from parcours.kernel import activity_contract as contract
    from parcours.kernel import assignment
    from parcours.kernel.batches import (
        BatchCheck,
        BatchKind,
        BatchProgress,
        BatchRequest,
        BatchState,
        BatchVerdict,
        CaseAction,
        CaseActionResult,
        CaseFacts,
        CaseFactsList,
        CaseLookup,
        CaseOutcome,
        CaseResult,
        DepartureCheck,
        DepartureOutcome,
        RosterEntry,
        RosterLookup,
        RosterSnapshot,
        outcome_counts,
    )
    from parcours.kernel.domain import OPEN_STATUSES, Actor, Role
    from parcours.kernel.messages import REFUSAL_ERROR_TYPE, Message

# Cases whose updates are in flight at once: enough to keep a worker busy, few enough that a
# batch does not crowd out people's own actions on the same task queue.
WINDOW = 16
# A run's history budget (events): about four per case, so some thousand cases per run.
EVENT_BUDGET = 4000
# A departure adds the cases that reached the officer while it ran, this many times at most.
DEPARTURE_ROUNDS = 3
_OPEN = frozenset(s.value for s in OPEN_STATUSES)

READ_RETRY = RetryPolicy(
    maximum_interval=timedelta(seconds=30),
    non_retryable_error_types=list(contract.PERMANENT_READ_MODEL_FAILURES),
)
ACT_RETRY = RetryPolicy(
    maximum_interval=timedelta(seconds=30),
    non_retryable_error_types=list(contract.PERMANENT_READ_MODEL_FAILURES),
)


# v2 (attack review of issue 17): a departure leaves alone a case that is no longer the leaving
# officer's when its window comes (it used to move it again, away from whoever took it).
DEPARTURE_HELD_ONLY = "departure-held-only"


def workflow_id_of(batch_id: str) -> str:
    """The batch's workflow id (no personal data: the id is a digest or an operator's word)."""
    return f"batch-{batch_id}"


def progress_of(req: BatchRequest, s: BatchState, refusal: Message | None = None) -> BatchProgress:
    total, done, refused, failed = outcome_counts(s.results)
    return BatchProgress(
        batch_id=req.batch_id,
        kind=req.kind,
        total=total,
        done=done,
        refused=refused,
        failed=failed,
        finished=s.finished,
        results=list(s.results),
        refusal=refusal,
        deactivated=s.deactivated,
        still_held=s.still_held,
    )


def _windows(items: list[CaseResult], size: int) -> Iterable[list[CaseResult]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


@workflow.defn
class CaseBatch:
    @workflow.init
    def __init__(self, req: BatchRequest) -> None:
        self.req = dataclasses.replace(req, state=None)
        # Only a run the batch continued itself carries a state (the server names the run it
        # continues): a client's start with one, its acceptance time made up, is refused.
        self.carried_by_client = req.state is not None and workflow.info().continued_run_id is None
        self.state = req.state or BatchState(results=[CaseResult(d) for d in req.dossiers])
        self.refusal: Message | None = None

    @workflow.query
    def progress(self) -> BatchProgress:
        return progress_of(self.req, self.state, self.refusal)

    @workflow.run
    async def run(self, req: BatchRequest) -> BatchProgress:
        s = self.state
        if self.carried_by_client:
            self._refuse(Message.of("signature_invalid"))
        if s.accepted_at is None:
            # When the server accepted the first run (not when a worker first took it).
            s.accepted_at = workflow.info().workflow_start_time
        verdict: BatchVerdict = await workflow.execute_activity(
            contract.CHECK_BATCH,
            BatchCheck(workflow.info().workflow_id, self.req, s.accepted_at),
            result_type=BatchVerdict,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=READ_RETRY,
        )
        if verdict.refusal is not None:
            self._refuse(verdict.refusal)
        while not s.finished:
            if not await self._work():
                # The history's budget is spent: the same batch goes on in a fresh run.
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(dataclasses.replace(self.req, state=s))
            if self.req.deactivate:
                await self._close_departure(self.req.deactivate)
            else:
                s.finished = True
        return progress_of(self.req, s)

    # ----------------------------------------------------------------------------------------

    def _refuse(self, refusal: Message) -> typing.NoReturn:
        """The batch fails before touching any case (a failed batch id may be submitted
        again, signed)."""
        self.refusal = refusal
        raise ApplicationError(
            f"batch refused: {refusal}",
            refusal.as_dict(),
            type=REFUSAL_ERROR_TYPE,
            non_retryable=True,
        )

    def _budget_spent(self) -> bool:
        info = workflow.info()
        budget = self.req.continue_as_new_after_events or EVENT_BUDGET
        return info.is_continue_as_new_suggested() or info.get_current_history_length() > budget

    async def _work(self) -> bool:
        """Every pending case, a window at a time; False if the run must continue as new."""
        pending = [r for r in self.state.results if r.outcome == CaseOutcome.PENDING]
        for window in _windows(pending, self.req.window or WINDOW):
            if self._budget_spent():
                return False
            await self._window(window)
        return True

    async def _window(self, window: list[CaseResult]) -> None:
        req, s = self.req, self.state
        found: CaseFactsList = await workflow.execute_activity(
            contract.READ_CASES,
            CaseLookup([r.dossier for r in window]),
            result_type=CaseFactsList,
            start_to_close_timeout=timedelta(minutes=2),
            retry_policy=READ_RETRY,
        )
        facts = {f.dossier: f for f in found.cases}
        moving = req.kind in (BatchKind.REASSIGN, BatchKind.SPREAD)
        if moving:
            await self._read_roster({f.region for f in found.cases if f.found})
        sends: list[tuple[CaseResult, CaseAction]] = []
        for r in window:
            f = facts.get(r.dossier)
            if f is None or not f.found:
                r.outcome = CaseOutcome.FAILED
                r.refusal = Message.of("no_case", dossier=r.dossier)
                continue
            if f.status not in _OPEN:
                # Closed meanwhile: reported, nothing sent (its run takes no update).
                r.outcome = CaseOutcome.REFUSED
                r.refusal = Message.of("case_completed")
                continue
            if (
                req.deactivate
                and r.target is None
                and f.officer != req.deactivate
                and workflow.patched(DEPARTURE_HELD_ONLY)
            ):
                # No longer the leaving officer's (a supervisor moved it by hand meanwhile, or
                # another departure did): nothing of theirs to move.
                r.outcome = CaseOutcome.ALREADY
                continue
            target: Actor | None = None
            if moving:
                if r.target is None:
                    # Recorded before the update is sent: a resumed batch sends the same.
                    r.target = self._pick(f)
                    if r.target is not None:
                        s.given[r.target] = s.given.get(r.target, 0) + 1
                if r.target is None:
                    r.outcome = CaseOutcome.REFUSED
                    r.refusal = Message.of("batch_no_target", region=f.region)
                    continue
                if f.officer == r.target:
                    r.outcome = CaseOutcome.ALREADY
                    continue
                target = self._actor(r.target)
            action = CaseAction(
                batch_id=req.batch_id,
                dossier=r.dossier,
                kind=req.kind,
                actor=req.actor,
                target=target,
                note=req.note,
            )
            sends.append((r, action))
        outcomes = await asyncio.gather(
            *(
                workflow.execute_activity(
                    contract.ACT_ON_CASE,
                    action,
                    result_type=CaseActionResult,
                    start_to_close_timeout=timedelta(minutes=1),
                    retry_policy=ACT_RETRY,
                )
                for _, action in sends
            )
        )
        for (r, _), outcome in zip(sends, outcomes, strict=True):
            r.outcome = outcome.outcome
            r.refusal = outcome.refusal

    async def _read_roster(self, regions: set[str]) -> None:
        """The named officers (first time only) and the officers of the regions not yet read:
        read once, so a resumed run picks from the same roster."""
        req, s = self.req, self.state
        spread_by_rule = req.kind == BatchKind.SPREAD and not req.officers
        wanted = sorted(regions - set(s.regions_read)) if spread_by_rule else []
        named = list(req.officers) if s.roster is None else []
        if s.roster is not None and not wanted:
            return
        snapshot = RosterSnapshot()
        if wanted or named:
            snapshot = await workflow.execute_activity(
                contract.READ_ROSTER,
                RosterLookup(regions=wanted, officers=named),
                result_type=RosterSnapshot,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=READ_RETRY,
            )
        have = {e.id for e in s.roster or []}
        s.roster = [*(s.roster or []), *(e for e in snapshot.officers if e.id not in have)]
        s.regions_read = sorted({*s.regions_read, *wanted})

    def _entry(self, officer_id: str) -> RosterEntry | None:
        return next((e for e in self.state.roster or [] if e.id == officer_id), None)

    def _actor(self, officer_id: str) -> Actor:
        e = self._entry(officer_id)
        if e is None:
            return Actor(officer_id=officer_id, active=False)
        return Actor(officer_id=e.id, role=Role(e.role), region=e.region, active=e.active)

    def _pick(self, f: CaseFacts) -> str | None:
        """The case's target: the one named officer (reassign); else among the named ones, or
        the region's officers, by the intake rule (language first, then the lowest caseload
        counting what this batch already gave), never the officer leaving, the case's own,
        an inactive one or one on leave."""
        req, s = self.req, self.state
        if req.kind == BatchKind.REASSIGN:
            return req.officers[0] if req.officers else None
        pool = [
            e
            for e in s.roster or []
            if e.region == f.region
            and e.id not in (req.deactivate, f.officer)
            and ((e.id in req.officers) if req.officers else e.role == Role.OFFICER.value)
        ]
        day = workflow.now().date()
        return assignment.pick(
            (
                assignment.Candidate(
                    id=e.id,
                    languages=tuple(e.languages),
                    open_cases=e.open_cases + s.given.get(e.id, 0),
                    active=e.available,
                )
                for e in pool
            ),
            f.language,
            day,
        )

    async def _close_departure(self, officer_id: str) -> None:
        s = self.state
        outcome: DepartureOutcome = await workflow.execute_activity(
            contract.CLOSE_DEPARTURE,
            DepartureCheck(self.req.batch_id, officer_id, self.req.actor),
            result_type=DepartureOutcome,
            start_to_close_timeout=timedelta(minutes=5),
            retry_policy=READ_RETRY,
        )
        s.deactivated = outcome.deactivated
        s.still_held = len(outcome.remaining)
        listed = {r.dossier for r in s.results}
        new = [d for d in outcome.remaining if d not in listed]
        if outcome.deactivated or not new or s.rounds >= DEPARTURE_ROUNDS:
            s.finished = True
            return
        # Cases that reached the officer while the batch ran (not those it already tried).
        s.rounds += 1
        s.results.extend(CaseResult(d) for d in new)
