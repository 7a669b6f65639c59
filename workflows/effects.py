"""A case's side effects: queued by the workflow's handlers and clocks, carried out by
activities from its main loop.

Handlers and clocks only *decide*: each audit event and email becomes an `Effect` in
`CaseState.pending`, keyed by workflow id and business step (idempotent across retries and
continue-as-new). The main loop alone calls `carry_out` and `drain`, the only places that
start activities for effects, so the order of commands depends on the history alone
(workflows/pathway.py says why).

Command order is history: every `workflow.patched` here is asked at the same point, and only
when the same condition holds, as in the code that recorded tests/histories.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from types import MappingProxyType
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.workflow import ActivityHandle

with workflow.unsafe.imports_passed_through():
    from parcours.kernel import activity_contract as contract
    from parcours.kernel.domain import (
        Audience,
        CaseEvent,
        CaseSnapshot,
        CaseState,
        Effect,
        EventBatch,
        EventBatchRecorded,
        EventRecorded,
        Notification,
        NotificationBatch,
        NotificationBatchOutcome,
        NotificationOutcome,
        Stage,
    )

# The database may be down for a while: retry with backoff, without limit; a broken event is
# a bug, not an outage, and fails at once.
READ_MODEL_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    non_retryable_error_types=list(contract.PERMANENT_READ_MODEL_FAILURES),
)
# Mail servers go down too; a permanent rejection (5xx) or a missing template does not heal.
MAIL_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=10),
    non_retryable_error_types=list(contract.PERMANENT_MAIL_FAILURES),
)
# v10 (pathway.MAIL_IN_TASK): an email sent from the worker within the workflow task that
# decided it gets two quick attempts there. Whatever stops them (the mail server down or slow,
# an earlier attempt still in its lease) sends it on as an activity task (MAIL_RETRY, the three
# days' limit): an outage then neither holds the case's workflow task nor writes a timer per
# retry into its history. A permanent failure is final here as there.
LOCAL_MAIL_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_attempts=2,
    non_retryable_error_types=[*contract.PERMANENT_MAIL_FAILURES, contract.EMAIL_IN_FLIGHT],
)
# An email that could not go out within three days is stale: it is dropped and the drop is
# in the audit trail, rather than a reminder arriving a week late.
MAIL_GIVE_UP_AFTER = timedelta(days=3)
# Bounds a batch's payload (each event carries a snapshot; a long carried-over queue is split).
MAX_BATCH = 25

# Patches (README, "Changing the workflow safely"); workflows/pathway.py lists them all.
# v2: continue-as-new no longer waits for queued effects, only for running ones.
CARRY_QUEUED_EFFECTS = "carry-queued-effects-across-continue-as-new"
# v2: the effects a workflow task decides go out as one batch of audit events and one batch of
# emails (one transaction, one SMTP connection), not one activity each.
BATCH_EFFECTS = "batch-effects-per-workflow-task"

# The retry policy of each activity a workflow calls (tests/workflows/test_activity_contract
# holds each to the failures its activity raises as permanent).
RETRY_POLICIES: Mapping[str, RetryPolicy] = MappingProxyType(
    {
        contract.REGISTER_CASE: READ_MODEL_RETRY,
        contract.FIND_OFFICER: READ_MODEL_RETRY,
        contract.RECORD_EVENT: READ_MODEL_RETRY,
        contract.RECORD_EVENTS: READ_MODEL_RETRY,
        contract.SEND_NOTIFICATION: MAIL_RETRY,
        contract.SEND_NOTIFICATIONS: MAIL_RETRY,
    }
)


def holds(state: CaseState, patch: str) -> bool:
    """`workflow.patched(patch)` for a patch that predates OPENING_IN_ONE_TASK (v8): a case
    opened by v8 code or later takes it as given, without a marker (CaseState.implied_patches).

    Besides a marker and a search-attribute update per patch per run, this is what keeps v8's
    local activities safe: on replay, a patch is known only from the markers of the workflow
    task being replayed, and a local activity's result may replay in an earlier task than the
    one where the code after it ran (when the worker completed the task to heartbeat it). A
    patch first asked after a local activity could then replay as not taken."""
    return state.implied_patches or workflow.patched(patch)


def snapshot(s: CaseState) -> CaseSnapshot:
    """The read model's projection of the case, carried by every audit event."""
    return CaseSnapshot(
        dossier=s.approval.dossier,
        region=s.approval.region,
        language=s.approval.language,
        arrival_date=s.approval.arrival_date,
        status=s.status,
        stage=s.stage,
        officer_id=s.officer_id,
        escalation_level=s.escalation_level,
        stalled_since=s.stalled_since,
        overdue=s.overdue,
        stage_started_at=s.record(s.stage).started_at if s.stage and s.stages else None,
        last_activity_at=s.last_activity_at,
        started_at=s.started_at,
        closed_at=s.closed_at,
    )


class Effects:
    """The effect queue of one run: what is decided (`state.pending`, carried through
    continue-as-new) and what is being carried out (`running`, never carried: a run continues
    as new only once nothing runs)."""

    def __init__(self, state: CaseState) -> None:
        self.state = state
        # Effects being carried out, by key; a batch's effects share one handle.
        self.running: dict[str, ActivityHandle[Any]] = {}
        # v10: the emails being sent from the worker (a local activity), and those whose local
        # attempts failed, which go on as activity tasks (never locally again, even if an
        # alarm rings before they start). A function of the history, like the rest; not
        # carried across continue-as-new (a continued run starts its carried effects as
        # activity tasks: its first turn of the loop is no alarm's).
        self.sent_locally: set[str] = set()
        self.by_task: set[str] = set()

    # ----------------------------------------------------------------------------------------
    # Deciding (handlers and clocks): queue only, no command
    # ----------------------------------------------------------------------------------------

    def _next_key(self, kind: str) -> str:
        # Workflow id + business step: stable across retries and continue-as-new.
        self.state.step += 1
        return f"{workflow.info().workflow_id}:{self.state.step:06d}:{kind}"

    def event(
        self,
        kind: str,
        *,
        actor: str | None,
        stage: Stage | None = None,
        detail: str | None = None,
        text: str | None = None,
    ) -> None:
        """Queue an audit event, with the case as it stands now."""
        self.state.pending.append(
            Effect(
                event=CaseEvent(
                    key=self._next_key(kind),
                    workflow_id=workflow.info().workflow_id,
                    kind=kind,
                    at=workflow.now(),
                    snapshot=snapshot(self.state),
                    actor=actor,
                    stage=stage,
                    detail=detail,
                    text=text,
                )
            )
        )

    def _notification(
        self,
        template: str,
        audience: Audience,
        context: Mapping[str, object],
        *,
        region: str | None = None,
        officer_id: str | None = None,
    ) -> None:
        s = self.state
        s.pending.append(
            Effect(
                notification=Notification(
                    key=self._next_key(f"mail-{template}"),
                    workflow_id=workflow.info().workflow_id,
                    template=template,
                    audience=audience,
                    # Supervisors of the officer's region: it may differ after a reassignment
                    # (before v3); a transfer names each region it tells.
                    region=region or s.officer_region or s.approval.region,
                    language=s.approval.language,
                    arrival_date=s.approval.arrival_date,
                    # The case's officer, or the one named (a reassignment's previous officer).
                    officer_id=officer_id or s.officer_id,
                    recipient_email=s.approval.email if audience == Audience.NEWCOMER else None,
                    recipient_name=s.approval.full_name if audience == Audience.NEWCOMER else None,
                    context={"dossier": s.approval.dossier, **context},
                    decided_at=workflow.now(),
                    # The case's zone, whatever region the email is for (a transfer tells
                    # two): its dates are the case's local days.
                    time_zone=s.time_zone,
                )
            )
        )

    def notify_newcomer(self, template: str, context: Mapping[str, object]) -> None:
        self._notification(template, Audience.NEWCOMER, context)

    def notify_staff(
        self,
        template: str,
        audience: Audience,
        context: Mapping[str, object],
        *,
        region: str | None = None,
        officer_id: str | None = None,
    ) -> None:
        """A staff email; `officer_id` names another officer than the case's for
        Audience.OFFICER (the previous officer of a reassignment)."""
        s = self.state
        self._notification(
            template,
            audience,
            {
                "stage": s.stage.value if s.stage else "",
                "region": s.approval.region,
                "language": s.approval.language,
                "officer_id": s.officer_id or "",
                **context,
            },
            region=region,
            officer_id=officer_id,
        )

    # ----------------------------------------------------------------------------------------
    # Carrying out (main loop only): the activities
    # ----------------------------------------------------------------------------------------

    def any_done(self) -> bool:
        return any(h.done() for h in self.running.values())

    def carry_out(self, local_events: bool = False, local_mail: bool = False) -> None:
        """Settle finished effects, then start the new ones: all in a fixed order.

        `local_events` (v8 and v9: the opening, the alarm): the audit events go to a local
        activity, in the workflow task that decided them; `local_mail` (v10, the same tasks):
        the emails too, except those whose local attempts already failed."""
        self.settle()
        new = [e for e in self.state.pending if e.key not in self.running]
        if new and holds(self.state, BATCH_EFFECTS):
            events = [e for e in new if e.event is not None]
            mails = [e for e in new if e.notification is not None]
            for i in range(0, len(events), MAX_BATCH):
                self._run_batch(
                    events[i : i + MAX_BATCH], lambda b: self._start_events(b, local_events)
                )
            local: list[Effect] = []
            by_task: list[Effect] = []
            for e in mails:
                (local if local_mail and e.key not in self.by_task else by_task).append(e)
            for i in range(0, len(local), MAX_BATCH):
                self._run_batch(local[i : i + MAX_BATCH], self._send_locally)
            for i in range(0, len(by_task), MAX_BATCH):
                self._run_batch(by_task[i : i + MAX_BATCH], self._start_notifications)
        else:
            for effect in new:
                self.running[effect.key] = self._start(effect)

    async def drain(
        self,
        until_changed: Callable[[Callable[[], bool]], Awaitable[None]],
        publish: Callable[[], None],
    ) -> None:
        """Reach a point where nothing is in flight, so the run can continue as new.

        `until_changed(also)` sleeps until the case changes or `also()` holds; `publish` keeps
        the search attributes current (both the workflow's)."""
        s = self.state
        if holds(s, CARRY_QUEUED_EFFECTS):
            # Wait only for the activities already running; effects queued meanwhile are not
            # started here but travel in the state, and the next run starts them first (keys
            # are per business step, so nothing runs twice). Waiting for the queue to empty,
            # as v1 did, never ends on a case under a steady stream of actions: each action
            # queues a new effect, and the run grew past its history budget.
            while self.running or not workflow.all_handlers_finished():
                self.settle()
                publish()
                await until_changed(lambda: not self.running and workflow.all_handlers_finished())
            return
        while s.pending or not workflow.all_handlers_finished():
            self.carry_out()
            publish()
            await until_changed(lambda: not s.pending and workflow.all_handlers_finished())

    def _run_batch(
        self, effects: list[Effect], start: Callable[[list[Effect]], ActivityHandle[Any]]
    ) -> None:
        handle = start(effects)
        for effect in effects:
            self.running[effect.key] = handle

    def settle(self) -> None:
        """Take finished effects off the queue; a permanent failure is audited."""
        s = self.state
        for key in [k for k, h in self.running.items() if h.done()]:
            handle = self.running.pop(key)
            effect = next(e for e in s.pending if e.key == key)
            err = handle.exception()
            if key in self.sent_locally:
                self.sent_locally.discard(key)
                if err is not None and not _permanent_mail_failure(err):
                    # v10: stays queued; carry_out sends it on as an activity task.
                    self.by_task.add(key)
                    # The failure's type only: a mail server's words may name the recipient.
                    workflow.logger.info(
                        "email %s goes on as an activity task after %s", key, _failure_type(err)
                    )
                    continue
            s.pending.remove(effect)
            if err is None:
                self._settle_batched(effect, handle.result())
                continue
            # A local activity's failure (v8's opening events) arrives as the activity's own
            # ApplicationError; an activity task's, wrapped in an ActivityError (_cause).
            if not isinstance(err, ActivityError | ApplicationError):
                raise err
            cause = _cause(err)
            # Permanent: a rejected address, a missing template, a stale email. The case goes
            # on; the failure is in the audit trail for the officer to follow up.
            workflow.logger.warning("side effect %s failed for good: %s", key, cause)
            if effect.notification is not None:
                self.event(
                    "email_failed",
                    actor=None,
                    stage=s.stage,
                    detail=f"{effect.notification.template}: {type(cause).__name__}",
                )

    def _settle_batched(self, effect: Effect, result: object) -> None:
        """In a batch, an effect that failed for good is answered in the batch's result."""
        if isinstance(result, EventBatchRecorded) and effect.key in result.refused:
            # Logged only, as a failed record_event is: no command, so replay is unchanged.
            workflow.logger.warning("side effect %s failed for good: refused", effect.key)
            return
        if effect.notification is None or not isinstance(result, NotificationBatchOutcome):
            return
        outcome = next((o for o in result.outcomes if o.key == effect.key), None)
        if outcome is None or not outcome.failure:
            return
        workflow.logger.warning("side effect %s failed for good: %s", effect.key, outcome.failure)
        self.event(
            "email_failed",
            actor=None,
            stage=self.state.stage,
            detail=f"{effect.notification.template}: {outcome.failure}",
        )

    def _start_events(self, effects: list[Effect], local: bool = False) -> ActivityHandle[Any]:
        batch = EventBatch(events=[e.event for e in effects if e.event is not None])
        # Two literal calls, not one through a variable: tests/workflows/test_activity_contract
        # reads each call's activity and retry policy from the source.
        if local:
            # v8, the opening's events: run by this worker within the workflow task, no
            # activity task on the server; the same activity, retries and idempotent keys.
            return workflow.start_local_activity(
                contract.RECORD_EVENTS,
                batch,
                result_type=EventBatchRecorded,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RETRY_POLICIES[contract.RECORD_EVENTS],
            )
        return workflow.start_activity(
            contract.RECORD_EVENTS,
            batch,
            result_type=EventBatchRecorded,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RETRY_POLICIES[contract.RECORD_EVENTS],
        )

    def _start_notifications(self, effects: list[Effect]) -> ActivityHandle[Any]:
        return workflow.start_activity(
            contract.SEND_NOTIFICATIONS,
            _mail_batch(effects),
            result_type=NotificationBatchOutcome,
            start_to_close_timeout=_mail_timeout(effects),
            schedule_to_close_timeout=MAIL_GIVE_UP_AFTER,
            retry_policy=RETRY_POLICIES[contract.SEND_NOTIFICATIONS],
        )

    def _send_locally(self, effects: list[Effect]) -> ActivityHandle[Any]:
        """v10: the same activity, run by this worker within the workflow task."""
        self.sent_locally.update(e.key for e in effects)
        return workflow.start_local_activity(
            contract.SEND_NOTIFICATIONS,
            _mail_batch(effects),
            result_type=NotificationBatchOutcome,
            start_to_close_timeout=_local_mail_timeout(effects),
            retry_policy=LOCAL_MAIL_RETRY,
        )

    def _start(self, effect: Effect) -> ActivityHandle[Any]:
        """v1: one activity per effect."""
        if effect.event is not None:
            return workflow.start_activity(
                contract.RECORD_EVENT,
                effect.event,
                result_type=EventRecorded,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RETRY_POLICIES[contract.RECORD_EVENT],
            )
        assert effect.notification is not None
        return workflow.start_activity(
            contract.SEND_NOTIFICATION,
            effect.notification,
            result_type=NotificationOutcome,
            start_to_close_timeout=timedelta(seconds=60),
            schedule_to_close_timeout=MAIL_GIVE_UP_AFTER,
            retry_policy=RETRY_POLICIES[contract.SEND_NOTIFICATION],
        )


def _mail_batch(effects: list[Effect]) -> NotificationBatch:
    return NotificationBatch(
        notifications=[e.notification for e in effects if e.notification is not None]
    )


def _mail_timeout(effects: list[Effect]) -> timedelta:
    # Per email as for one: a batch holds at most MAX_BATCH of them.
    return timedelta(seconds=60) * min(len(effects), 5)


def _local_mail_timeout(effects: list[Effect]) -> timedelta:
    """The worker cancels a local attempt at its limit: that covers a whole email's attempt
    (contract.EMAIL_ATTEMPT_S), so none is cut while recording what the server accepted. Not
    a command: changing it changes no history."""
    return timedelta(seconds=contract.EMAIL_ATTEMPT_S) * min(len(effects), 5)


def _cause(err: BaseException) -> BaseException:
    """What failed: an activity task's failure comes wrapped in an ActivityError, a local
    activity's as itself."""
    return err.cause if isinstance(err, ActivityError) and err.cause is not None else err


def _failure_type(err: BaseException) -> str:
    cause = _cause(err)
    return (cause.type if isinstance(cause, ApplicationError) else None) or type(cause).__name__


def _permanent_mail_failure(err: BaseException) -> bool:
    """An email that no retry can send (refused for good, no template): final, whether it
    failed in the worker or in an activity task."""
    cause = _cause(err)
    return isinstance(cause, ApplicationError) and (
        cause.non_retryable
        and cause.type != contract.EMAIL_IN_FLIGHT
        or cause.type in contract.PERMANENT_MAIL_FAILURES
    )
