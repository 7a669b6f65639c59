"""One newcomer's integration pathway: a durable entity workflow that lives months to years.

Shape (after temporalio/samples-python message_passing/safe_message_handlers):
- all state in one `CaseState`, handed whole to continue-as-new;
- people act through Updates whose validators reject wrong actions synchronously (the
  caller hears why), and whose handlers only *decide*: they change the state and queue the
  side effects (audit rows, emails) as `Effect`s;
- the main loop runs queued effects as activities and keeps the stall clock: it sleeps until
  the next escalation threshold or deadline, until a handler changes something, or until an
  effect completes.

The main loop is the only code that issues commands (activities, timers, search-attribute
upserts); handlers are synchronous and issue none. So the order of commands depends only on
the history, never on how the SDK happens to interleave handler and loop coroutines within
an activation: a worker that replays a case after a crash issues exactly what the first one
did (tests run the worker with no cache, so every activation is a replay). An update answers
at once even while the database or the mail server is down; effects catch up later.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from types import MappingProxyType
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.workflow import ActivityHandle

with workflow.unsafe.imports_passed_through():
    from parcours.infrastructure import signing
    from parcours.kernel import authz, search
    from parcours.kernel.authz import Action
    from parcours.kernel.calendar import add_working_days, end_of_day, start_of_day
    from parcours.kernel.domain import (
        OPEN_STATUSES,
        STAGES,
        STILL_OPENING,
        Actor,
        Assignment,
        Audience,
        CaseEvent,
        CaseInput,
        CaseQuery,
        CaseSnapshot,
        CaseState,
        CaseStatus,
        CaseView,
        Effect,
        EventBatch,
        EventBatchRecorded,
        EventRecorded,
        GreetingOutcome,
        GreetingReport,
        Notification,
        NotificationBatch,
        NotificationBatchOutcome,
        NotificationOutcome,
        PauseRequest,
        PlanFiling,
        PlanItem,
        ProgressNote,
        Reassignment,
        RegisterCase,
        ResumeRequest,
        Role,
        SeenSignature,
        Stage,
        StageApproval,
        StageRecord,
        StageWaiver,
        Transfer,
        Withdrawal,
        WithdrawalReason,
        view_of,
        workflow_id_for,
    )

# Activity names (registered by worker.py from activities/casework.py and activities/notify.py).
# Called by name so that this module does not import SQLAlchemy or SMTP code.
REGISTER_CASE = "register_case"
RECORD_EVENT = "record_event"
RECORD_EVENTS = "record_events"
SEND_NOTIFICATION = "send_notification"
SEND_NOTIFICATIONS = "send_notifications"

# The database may be down for a while: retry with backoff, without limit; a broken event is
# a bug, not an outage, and fails at once.
READ_MODEL_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    non_retryable_error_types=["InvalidCaseEvent"],
)
# Mail servers go down too; a permanent rejection (5xx) or a missing template does not heal.
MAIL_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=10),
    non_retryable_error_types=["SmtpRejected", "TemplateMissing"],
)
# An email that could not go out within three days is stale: it is dropped and the drop is
# in the audit trail, rather than a reminder arriving a week late.
MAIL_GIVE_UP_AFTER = timedelta(days=3)

MAX_PLAN_ITEMS = 50
MAX_TEXT = 4000
# Read-only: the worker shares this module among all its cases (parcours/infrastructure/worker.py).
LEVEL_TEMPLATES = MappingProxyType(
    {1: "stall_reminder", 2: "stall_escalation", 3: "stall_director"}
)

# Patches (README, "Changing the workflow safely"). Each id marks a change to the command
# sequence; histories written before it replay down the old branch.
# v2: continue-as-new no longer waits for queued effects, only for running ones.
CARRY_QUEUED_EFFECTS = "carry-queued-effects-across-continue-as-new"
# v2: the effects a workflow task decides go out as one batch of audit events and one batch of
# emails (one transaction, one SMTP connection), not one activity each.
BATCH_EFFECTS = "batch-effects-per-workflow-task"
# v3: handlers re-check the authorization table (parcours/kernel/authz.py) instead of the v2 rules
# (pause and resume by supervisors, reassignment within the region, withdrawal by a named
# actor), and withdrawals record their reason category. Asked once per run, in __init__: the
# marker is then the run's first command, whatever order updates and activities arrive in.
AUTHZ_TABLE = "authorization-table-in-handlers"
# v4: a cancellation request is ignored. Any client that reaches the frontend can ask for one,
# keys or not, and it used to end the run as "canceled" while the case, its read-model row and
# its audit trail still said active. A case closes by withdrawal or completion only (both
# signed and checked). Asked when a request arrives: a run cancelled before this replays as
# it was (the cancellation ends it).
IGNORE_CANCELLATION = "ignore-cancellation-requests"
# Every patch id in use: each must appear in a committed history (tests/workflows/test_replay).
PATCHES = (CARRY_QUEUED_EFFECTS, BATCH_EFFECTS, AUTHZ_TABLE, IGNORE_CANCELLATION)
# Bounds a batch's payload (each event carries a snapshot; a long carried-over queue is split).
MAX_BATCH = 25


def _reject(message: str) -> ApplicationError:
    # Raised from a validator: the update is rejected and never enters history. Raised from a
    # handler (re-checked there): the update fails, the workflow does not.
    return ApplicationError(message, type="Rejected", non_retryable=True)


@workflow.defn
class NewcomerPathway:
    @workflow.init
    def __init__(self, inp: CaseInput) -> None:
        self.state: CaseState = inp.state or CaseState(approval=inp.approval, policy=inp.policy)
        self.continue_as_new_after = inp.continue_as_new_after_events
        # Bumped by every handler: wakes the main loop to recompute clocks and run effects.
        self.version = 0
        # The stall-clock timer (see _set_alarm) and how many times it has rung.
        self.alarm: asyncio.TimerHandle | None = None
        self.alarm_at: datetime | None = None
        self.rang_for: datetime | None = None
        self.rings = 0
        # Effects being carried out, by key (not carried over: continue-as-new waits for none).
        self.running: dict[str, ActivityHandle[Any]] = {}
        self.upserted: dict[str, object] = {}
        # False until the read model has given the case its officer (a few milliseconds).
        self.opened = self.state.started_at is not None
        # The start's signature, for register_case to check (never checked here: see there).
        self.start_signature = inp.signature
        # Validators always apply the table; a handler re-checks with the rules of the code
        # that wrote the history (a v2 run replays with the v2 rules).
        self.authz_v3 = workflow.patched(AUTHZ_TABLE)

    # ----------------------------------------------------------------------------------------
    # Main loop
    # ----------------------------------------------------------------------------------------

    @workflow.run
    async def run(self, inp: CaseInput) -> CaseView:
        if inp.state is not None and workflow.info().continued_run_id is None:
            # Only the case's own continue-as-new carries a state (the server names the run it
            # continues); a client that starts a run with one (no key needed) would get a case
            # that skips its opening and acts on whatever officer and effects it says.
            raise ApplicationError(
                "a case's state is carried only by its own continue-as-new",
                type="InvalidInput",
                non_retryable=True,
            )
        s = self.state
        if s.started_at is None:
            await self._open_case()
            self.opened = True
        else:
            s.runs += 1
        self._publish()

        while True:
            self._apply_clocks()
            self._carry_out_effects()
            if s.status not in OPEN_STATUSES and not s.pending:
                break
            if self._continue_as_new_due():
                await self._drain()
                workflow.continue_as_new(
                    CaseInput(
                        approval=s.approval,
                        policy=s.policy,
                        state=s,
                        continue_as_new_after_events=self.continue_as_new_after,
                    )
                )
            self._set_alarm(self._next_clock())
            await self._until_changed(self._continue_as_new_due)
        self._set_alarm(None)

        await workflow.wait_condition(workflow.all_handlers_finished)
        return view_of(s)

    async def _drain(self) -> None:
        """Reach a point where nothing is in flight, so the run can continue as new."""
        s = self.state
        if workflow.patched(CARRY_QUEUED_EFFECTS):
            # Wait only for the activities already running; effects queued meanwhile are not
            # started here but travel in the state, and the next run starts them first (keys
            # are per business step, so nothing runs twice). Waiting for the queue to empty,
            # as v1 did, never ends on a case under a steady stream of actions: each action
            # queues a new effect, and the run grew past its history budget (1,902 events
            # against 1,500 in the benchmark).
            while self.running or not workflow.all_handlers_finished():
                self._settle_effects()
                self._publish()
                await self._until_changed(
                    lambda: not self.running and workflow.all_handlers_finished()
                )
            return
        while s.pending or not workflow.all_handlers_finished():
            self._carry_out_effects()
            await self._until_changed(lambda: not s.pending and workflow.all_handlers_finished())

    def _mark(self) -> tuple[int, int, int]:
        return (self.version, len(self.state.pending), self.rings)

    async def _until_changed(self, also: Callable[[], bool]) -> None:
        """Sleep until a handler changes the case, an effect completes, the alarm rings, or
        `also()` holds."""
        mark = self._mark()
        try:
            await workflow.wait_condition(
                lambda: (
                    self._mark() != mark or any(h.done() for h in self.running.values()) or also()
                )
            )
        except asyncio.CancelledError:
            if not workflow.patched(IGNORE_CANCELLATION):
                raise
            workflow.logger.warning("cancellation request ignored: a case closes by withdrawal")

    def _set_alarm(self, at: datetime | None) -> None:
        """Keep one timer for the next thing due, replaced only when that moment changes.

        Waking up for other reasons (an effect done, an update) leaves the timer alone, so the
        commands of a workflow task do not depend on how many times the loop woke within it:
        after a crash, a new worker may be handed an activity result and an update together
        that the first worker saw one after the other.
        """
        if at == self.alarm_at and self.alarm is not None:
            return
        if self.alarm is not None:
            self.alarm.cancel()
            self.alarm = None
        self.alarm_at = at
        if at is not None:
            delay = max((at - workflow.now()).total_seconds(), 0.001)
            self.alarm = asyncio.get_running_loop().call_later(delay, self._ring)

    def _ring(self) -> None:
        self.rang_for = self.alarm_at
        self.alarm = None
        self.alarm_at = None
        self.rings += 1

    async def _open_case(self) -> None:
        s = self.state
        now = workflow.now()
        arrival = date.fromisoformat(s.approval.arrival_date)
        s.started_at = now
        s.stages = [StageRecord(stage=stage) for stage in STAGES]
        s.plan_due_at = end_of_day(add_working_days(arrival, s.policy.plan_due_working_days))
        self._enter_stage(Stage.ARRIVAL, now)
        workflow.logger.info("case opened")

        assignment: Assignment = await workflow.execute_activity(
            REGISTER_CASE,
            RegisterCase(
                workflow_id=workflow.info().workflow_id,
                approval=s.approval,
                snapshot=self._snapshot(),
                # The start's signature is checked by the activity, whose result is in
                # history: a replay never re-checks it, so rotating or losing a key never
                # breaks one. The check compares the issue time with when the server accepted
                # the start (the started event's time), not with when a worker got to it.
                # No patch: only this activity's input changes, and the SDK's determinism
                # check compares a scheduled activity's id and type, not its input (sdk-core
                # activity_state_machine, IdAndTypeDeterminismChecks). A first run scheduled
                # by older code keeps its recorded input (no signature fields), which
                # register_case takes as a case started before signed starts.
                policy=s.policy,
                signature=self.start_signature,
                start_accepted_at=workflow.info().workflow_start_time,
            ),
            result_type=Assignment,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=READ_MODEL_RETRY,
        )
        # A supervisor may have assigned someone while the read model was being asked.
        if s.officer_id is None and assignment.officer_id is not None:
            s.officer_id = assignment.officer_id
            s.officer_region = s.approval.region

        self._event("case_opened", actor=None, stage=Stage.ARRIVAL, detail=s.policy.name)
        self._notify_newcomer(
            "welcome",
            {
                "dossier": s.approval.dossier,
                "arrival_date": s.approval.arrival_date,
                "airport": s.approval.airport,
                "region": s.approval.region,
            },
        )
        if s.officer_id is not None:
            self._event("officer_assigned", actor=None, detail=s.officer_id)
            self._notify_staff(
                "officer_assigned",
                Audience.OFFICER,
                {"reason": "new_case"},
            )
        else:
            workflow.logger.warning("no officer available in the region: case waits unassigned")
            self._event("case_unassigned", actor=None)
            self._notify_staff("case_unassigned", Audience.SUPERVISORS, {})

    # ----------------------------------------------------------------------------------------
    # Clocks: escalation ladder and deadlines
    # ----------------------------------------------------------------------------------------

    def _next_clock(self) -> datetime | None:
        """When something is next due: an escalation level or a deadline. None when paused."""
        s = self.state
        if s.status != CaseStatus.ACTIVE or s.stage is None or s.clock_anchor is None:
            return None
        due: list[datetime] = []
        if s.escalation_level < 3:
            threshold = s.policy.for_stage(s.stage).threshold(s.escalation_level + 1)
            due.append(s.clock_anchor + timedelta(seconds=threshold))
        deadline = s.record(s.stage).deadline_at
        if not s.deadline_passed and deadline is not None:
            due.append(deadline)
        if self._plan_awaited() and not s.overdue and s.plan_due_at is not None:
            due.append(s.plan_due_at)
        return min(due) if due else None

    def _plan_awaited(self) -> bool:
        return self.state.stage == Stage.ARRIVAL and not self.state.plan

    def _apply_clocks(self) -> None:
        s = self.state
        rang_for, self.rang_for = self.rang_for, None
        if s.status != CaseStatus.ACTIVE or s.stage is None or s.clock_anchor is None:
            return
        # Clocks move only when the alarm rings, and they move to the moment the alarm was set
        # for: the decision is a function of the state and the timer-fired event alone. The
        # clock reading of that workflow task is not used: it may fall either side of a
        # threshold (timer rounding), and a task retried after a worker crash reads later than
        # the first attempt did. What falls due later gets its own alarm.
        if rang_for is None:
            return
        now = rang_for
        deadline = s.record(s.stage).deadline_at
        if deadline is not None and now >= deadline:
            s.deadline_passed = True
        plan_late = self._plan_awaited() and s.plan_due_at is not None and now >= s.plan_due_at
        if not s.overdue and (s.deadline_passed or plan_late):
            s.overdue = True
            workflow.logger.info("stage %s overdue", s.stage.value)
            self._event("stage_overdue", actor=None, stage=s.stage)
        stage_policy = s.policy.for_stage(s.stage)
        while s.escalation_level < 3:
            level = s.escalation_level + 1
            if now < s.clock_anchor + timedelta(seconds=stage_policy.threshold(level)):
                break
            s.escalation_level = level
            workflow.logger.info("stage %s escalated to level %d", s.stage.value, level)
            self._event("escalated", actor=None, stage=s.stage, detail=str(level))
            self._notify_escalation(level, now)

    def _notify_escalation(self, level: int, now: datetime) -> None:
        s = self.state
        assert s.stage is not None and s.clock_anchor is not None
        context = {
            "stage": s.stage.value,
            "level": level,
            "stalled_since": s.clock_anchor.isoformat(),
            "days_silent": (now - s.clock_anchor).days,
            "officer_id": s.officer_id or "",
        }
        if level == 1:
            audience = Audience.OFFICER if s.officer_id else Audience.SUPERVISORS
        elif level == 2:
            audience = Audience.SUPERVISORS
        else:
            audience = Audience.DIRECTORS
        self._notify_staff(LEVEL_TEMPLATES[level], audience, context)

    def _touch(self, now: datetime) -> None:
        """Officer activity: the stall clock restarts and the case drops back to level 0."""
        s = self.state
        s.last_activity_at = now
        s.escalation_level = 0
        s.clock_anchor = self._anchor(now)

    def _anchor(self, now: datetime) -> datetime:
        # Before arrival the newcomer is not here yet: the arrival stage's stall clock starts on
        # the day of arrival, whatever happens before it.
        s = self.state
        if s.stage == Stage.ARRIVAL:
            return max(now, start_of_day(date.fromisoformat(s.approval.arrival_date)))
        return now

    # ----------------------------------------------------------------------------------------
    # Stage transitions
    # ----------------------------------------------------------------------------------------

    def _enter_stage(self, stage: Stage, now: datetime) -> None:
        s = self.state
        s.stage = stage
        record = s.record(stage)
        record.started_at = now
        s.escalation_level = 0
        s.clock_anchor = self._anchor(now)
        record.deadline_at = s.clock_anchor + timedelta(seconds=s.policy.for_stage(stage).deadline)
        # A new stage starts on time; only the alarm flags it overdue (see _apply_clocks).
        s.deadline_passed = False
        s.overdue = False

    def _advance(self, now: datetime) -> None:
        """Leave the current stage (already marked done) for the next one not waived."""
        s = self.state
        assert s.stage is not None
        i = STAGES.index(s.stage) + 1
        while i < len(STAGES) and s.record(STAGES[i]).waived:
            i += 1
        if i == len(STAGES):
            self._close(CaseStatus.COMPLETED, now, reason="completed")
            self._event("case_completed", actor=None)
            self._notify_newcomer("case_completed", {"dossier": s.approval.dossier})
            return
        self._enter_stage(STAGES[i], now)
        self._event("stage_started", actor=None, stage=STAGES[i])
        self._notify_newcomer(
            "stage_started", {"dossier": s.approval.dossier, "stage": STAGES[i].value}
        )

    def _close(self, status: CaseStatus, now: datetime, reason: str) -> None:
        s = self.state
        s.status = status
        s.stage = None
        s.closed_at = now
        s.close_reason = reason
        s.escalation_level = 0
        s.overdue = False
        s.paused_at = None

    # ----------------------------------------------------------------------------------------
    # Who may act
    # ----------------------------------------------------------------------------------------

    def _check_open(self, *, allow_paused: bool = False) -> None:
        s = self.state
        if s.status in (CaseStatus.COMPLETED, CaseStatus.WITHDRAWN):
            raise _reject(f"the case is closed ({s.status.value})")
        if s.status == CaseStatus.PAUSED and not allow_paused:
            raise _reject("the case is paused: resume it first")

    def _refuse(self, refused: authz.Refusal) -> ApplicationError:
        if refused.code == "no_officer" and not self.opened:
            return _reject(STILL_OPENING)
        return _reject(refused.message())

    def _check_signed(self, update: str, inp: object) -> None:
        """Validators only: a handler never checks, so that replay needs no key."""
        verifier = signing.verifier()
        refused = (
            authz.refusal("signature_unchecked")
            if verifier is None
            else verifier.check(workflow.info().workflow_id, update, inp, workflow.now())
        )
        if refused is not None:
            raise self._refuse(refused)

    def _check_actor(self, actor: Actor, action: Action, *, strict: bool) -> None:
        s = self.state
        if strict:
            refused = authz.decide(action, actor, s.approval.region, s.officer_id)
            if refused is not None:
                raise self._refuse(refused)
            return
        self._check_actor_v2(actor, supervisors_only=action in (Action.WAIVE, Action.REASSIGN))

    def _check_actor_v2(self, actor: Actor, *, supervisors_only: bool) -> None:
        """The rules before the table (AUTHZ_TABLE): only for runs recorded before it."""
        s = self.state
        if not actor.active:
            raise _reject(f"officer {actor.officer_id} is not active")
        if actor.role == Role.DIRECTOR:
            return
        if actor.role == Role.SUPERVISOR and actor.region == s.approval.region:
            return
        if supervisors_only:
            raise _reject(
                f"{actor.officer_id} is not a supervisor of region {s.approval.region} "
                "nor a director"
            )
        if s.officer_id is None:
            raise _reject(
                STILL_OPENING
                if not self.opened
                else "the case has no officer yet: a supervisor of the region assigns one"
            )
        if actor.officer_id != s.officer_id:
            raise _reject(
                f"{actor.officer_id} is neither the officer assigned to this case nor a "
                f"supervisor of region {s.approval.region}"
            )

    # ----------------------------------------------------------------------------------------
    # Updates. Each validator is re-run by its handler, since a validator sees the state as it
    # was when the update arrived, and another update may have been applied since.
    # ----------------------------------------------------------------------------------------

    @workflow.update
    def record_greeting(self, inp: GreetingReport) -> CaseView:
        self._validate_greeting(inp, strict=self.authz_v3)
        s = self.state
        now = workflow.now()
        s.greeting = inp.outcome
        s.greeting_recorded_by = inp.actor.officer_id
        s.greeting_recorded_at = now
        self._touch(now)
        self._event(
            "airport_greeting", actor=inp.actor.officer_id, stage=s.stage, detail=inp.outcome
        )
        return self._changed(inp)

    @record_greeting.validator
    def _accept_greeting(self, inp: GreetingReport) -> None:
        self._check_signed("record_greeting", inp)
        self._validate_greeting(inp, strict=True)

    def _validate_greeting(self, inp: GreetingReport, *, strict: bool) -> None:
        if strict:
            self._check_not_reused(inp)
        self._check_open()
        self._check_actor(inp.actor, Action.GREET, strict=strict)
        if self.state.stage != Stage.ARRIVAL:
            raise _reject("the airport greeting is recorded during the arrival stage only")
        if not isinstance(inp.outcome, GreetingOutcome):
            raise _reject("greeting outcome must be greeted, declined or no_show")

    @workflow.update
    def file_plan(self, inp: PlanFiling) -> CaseView:
        self._validate_plan(inp, strict=self.authz_v3)
        s = self.state
        now = workflow.now()
        s.plan = [PlanItem(stage=i.stage, text=i.text.strip()) for i in inp.items]
        s.plan_filed_at = now
        s.plan_filed_by = inp.actor.officer_id
        s.plan_revision += 1
        self._touch(now)
        # The plan is on file: only a passed stage deadline can keep the stage overdue.
        s.overdue = s.deadline_passed
        self._event(
            "plan_filed",
            actor=inp.actor.officer_id,
            stage=s.stage,
            detail=f"revision {s.plan_revision}, {len(s.plan)} items",
        )
        self._notify_newcomer(
            "plan_filed",
            {
                "dossier": s.approval.dossier,
                "revision": s.plan_revision,
                "plan": [{"stage": i.stage.value, "text": i.text} for i in s.plan],
            },
        )
        return self._changed(inp)

    @file_plan.validator
    def _accept_plan(self, inp: PlanFiling) -> None:
        self._check_signed("file_plan", inp)
        self._validate_plan(inp, strict=True)

    def _validate_plan(self, inp: PlanFiling, *, strict: bool) -> None:
        if strict:
            self._check_not_reused(inp)
        self._check_open()
        self._check_actor(inp.actor, Action.PLAN, strict=strict)
        s = self.state
        assert s.stage is not None
        if not inp.items:
            raise _reject("an action plan needs at least one item")
        if len(inp.items) > MAX_PLAN_ITEMS:
            raise _reject(f"an action plan has at most {MAX_PLAN_ITEMS} items")
        remaining = STAGES[STAGES.index(s.stage) :]
        for n, item in enumerate(inp.items, 1):
            if item.stage not in remaining:
                raise _reject(
                    f"plan item {n}: stage {item.stage} is behind the case (remaining: "
                    f"{', '.join(st.value for st in remaining)})"
                )
            if not item.text.strip():
                raise _reject(f"plan item {n}: the text is empty")
            if len(item.text) > MAX_TEXT:
                raise _reject(f"plan item {n}: the text is longer than {MAX_TEXT} characters")

    @workflow.update
    def add_progress(self, inp: ProgressNote) -> CaseView:
        self._validate_progress(inp, strict=self.authz_v3)
        s = self.state
        now = workflow.now()
        s.notes_count += 1
        self._touch(now)
        self._event("progress_note", actor=inp.actor.officer_id, stage=s.stage, text=inp.note)
        return self._changed(inp)

    @add_progress.validator
    def _accept_progress(self, inp: ProgressNote) -> None:
        self._check_signed("add_progress", inp)
        self._validate_progress(inp, strict=True)

    def _validate_progress(self, inp: ProgressNote, *, strict: bool) -> None:
        if strict:
            self._check_not_reused(inp)
        self._check_open(allow_paused=True)
        self._check_actor(inp.actor, Action.PROGRESS, strict=strict)
        if not inp.note.strip():
            raise _reject("the progress note is empty")
        if len(inp.note) > MAX_TEXT:
            raise _reject(f"the progress note is longer than {MAX_TEXT} characters")

    @workflow.update
    def approve_stage(self, inp: StageApproval) -> CaseView:
        self._validate_approval(inp, strict=self.authz_v3)
        s = self.state
        now = workflow.now()
        record = s.record(inp.stage)
        record.completed_at = now
        record.approved_by = inp.actor.officer_id
        self._touch(now)
        workflow.logger.info("stage %s approved", inp.stage.value)
        self._event(
            "stage_approved", actor=inp.actor.officer_id, stage=inp.stage, text=inp.note or None
        )
        self._advance(now)
        return self._changed(inp)

    @approve_stage.validator
    def _accept_approval(self, inp: StageApproval) -> None:
        self._check_signed("approve_stage", inp)
        self._validate_approval(inp, strict=True)

    def _validate_approval(self, inp: StageApproval, *, strict: bool) -> None:
        if strict:
            self._check_not_reused(inp)
        self._check_open()
        s = self.state
        if inp.stage != s.stage:
            raise _reject(
                f"cannot approve {inp.stage}: the case is in stage {s.stage}"
                if s.stage
                else f"cannot approve {inp.stage}: the case has no current stage"
            )
        self._check_actor(inp.actor, Action.APPROVE, strict=strict)
        if inp.stage == Stage.ARRIVAL and not s.plan:
            raise _reject("arrival cannot be approved until an action plan is on file")
        if len(inp.note) > MAX_TEXT:
            raise _reject(f"the note is longer than {MAX_TEXT} characters")

    @workflow.update
    def waive_stage(self, inp: StageWaiver) -> CaseView:
        self._validate_waiver(inp, strict=self.authz_v3)
        s = self.state
        now = workflow.now()
        record = s.record(inp.stage)
        record.waived = True
        record.waiver_reason = inp.reason.strip()
        record.waived_by = inp.actor.officer_id
        self._event("stage_waived", actor=inp.actor.officer_id, stage=inp.stage, text=inp.reason)
        if inp.stage == s.stage:
            record.completed_at = now
            self._touch(now)
            self._advance(now)
        return self._changed(inp)

    @waive_stage.validator
    def _accept_waiver(self, inp: StageWaiver) -> None:
        self._check_signed("waive_stage", inp)
        self._validate_waiver(inp, strict=True)

    def _validate_waiver(self, inp: StageWaiver, *, strict: bool) -> None:
        if strict:
            self._check_not_reused(inp)
        self._check_open()
        self._check_actor(inp.actor, Action.WAIVE, strict=strict)
        s = self.state
        assert s.stage is not None
        if inp.stage == Stage.ARRIVAL:
            raise _reject("arrival cannot be waived: the action plan is made at the first meeting")
        record = s.record(inp.stage)
        if record.waived:
            raise _reject(f"stage {inp.stage} is already waived")
        if STAGES.index(inp.stage) < STAGES.index(s.stage):
            raise _reject(f"stage {inp.stage} is already behind the case")
        if not inp.reason.strip():
            raise _reject("a waiver needs a reason")
        if len(inp.reason) > MAX_TEXT:
            raise _reject(f"the reason is longer than {MAX_TEXT} characters")

    @workflow.update
    def reassign(self, inp: Reassignment) -> CaseView:
        self._validate_reassignment(inp, strict=self.authz_v3)
        s = self.state
        now = workflow.now()
        previous = s.officer_id
        s.officer_id = inp.new_officer.officer_id
        s.officer_region = inp.new_officer.region or s.approval.region
        # The new officer gets a full stall period to take the case in hand.
        self._touch(now)
        self._event(
            "reassigned",
            actor=inp.actor.officer_id,
            stage=s.stage,
            detail=f"{previous or 'unassigned'} -> {s.officer_id}",
        )
        self._notify_staff("officer_assigned", Audience.OFFICER, {"reason": "reassigned"})
        return self._changed(inp)

    @reassign.validator
    def _accept_reassignment(self, inp: Reassignment) -> None:
        self._check_signed("reassign", inp)
        self._validate_reassignment(inp, strict=True)

    def _validate_reassignment(self, inp: Reassignment, *, strict: bool) -> None:
        if strict:
            self._check_not_reused(inp)
        self._check_open(allow_paused=True)
        self._check_actor(inp.actor, Action.REASSIGN, strict=strict)
        s = self.state
        if strict:
            refused = authz.check_new_officer(inp.new_officer, s.approval.region, s.officer_id)
            if refused is not None:
                raise self._refuse(refused)
            return
        if not inp.new_officer.active:
            raise _reject(f"officer {inp.new_officer.officer_id} is not active")
        if inp.new_officer.officer_id == s.officer_id:
            raise _reject(f"the case is already assigned to {inp.new_officer.officer_id}")

    @workflow.update
    def transfer(self, inp: Transfer) -> CaseView:
        # New in v3: no history holds it, so no patch; its rules are the table's.
        self._validate_transfer(inp)
        s = self.state
        now = workflow.now()
        previous_region, previous_officer = s.approval.region, s.officer_id
        # The case's region is its approval's: search attribute, read model, who may act and
        # which supervisors are told all follow it from here on.
        s.approval.region = inp.new_region
        s.officer_id = inp.new_officer.officer_id
        s.officer_region = inp.new_region
        self._touch(now)
        self._event(
            "transferred",
            actor=inp.actor.officer_id,
            stage=s.stage,
            detail=(
                f"{previous_region} -> {inp.new_region}; "
                f"{previous_officer or 'unassigned'} -> {s.officer_id}"
            ),
            text=inp.note.strip() or None,
        )
        context = {"from_region": previous_region, "to_region": inp.new_region}
        for region in (previous_region, inp.new_region):
            self._notify_staff("case_transferred", Audience.SUPERVISORS, context, region=region)
        self._notify_staff("officer_assigned", Audience.OFFICER, {"reason": "transferred"})
        return self._changed(inp)

    @transfer.validator
    def _accept_transfer(self, inp: Transfer) -> None:
        self._check_signed("transfer", inp)
        self._validate_transfer(inp)

    def _validate_transfer(self, inp: Transfer) -> None:
        self._check_not_reused(inp)
        self._check_open(allow_paused=True)
        s = self.state
        self._check_actor(inp.actor, Action.TRANSFER, strict=True)
        refused = authz.check_transfer(inp.new_region, inp.new_officer, s.approval.region)
        if refused is not None:
            raise self._refuse(refused)
        if len(inp.note) > MAX_TEXT:
            raise _reject(f"the note is longer than {MAX_TEXT} characters")

    @workflow.update
    def pause(self, inp: PauseRequest) -> CaseView:
        self._validate_pause(inp, strict=self.authz_v3)
        s = self.state
        now = workflow.now()
        s.status = CaseStatus.PAUSED
        s.paused_at = now
        s.paused_by = inp.actor.officer_id
        s.pause_reason = inp.reason.strip()
        s.last_activity_at = now
        self._event("paused", actor=inp.actor.officer_id, stage=s.stage, text=inp.reason)
        return self._changed(inp)

    @pause.validator
    def _accept_pause(self, inp: PauseRequest) -> None:
        self._check_signed("pause", inp)
        self._validate_pause(inp, strict=True)

    def _validate_pause(self, inp: PauseRequest, *, strict: bool) -> None:
        if strict:
            self._check_not_reused(inp)
        self._check_open()
        self._check_actor(inp.actor, Action.PAUSE, strict=strict)
        if not inp.reason.strip():
            raise _reject("a pause needs a reason")
        if len(inp.reason) > MAX_TEXT:
            raise _reject(f"the reason is longer than {MAX_TEXT} characters")

    @workflow.update
    def resume(self, inp: ResumeRequest) -> CaseView:
        self._validate_resume(inp, strict=self.authz_v3)
        s = self.state
        now = workflow.now()
        assert s.paused_at is not None and s.stage is not None
        # Stall clocks stop during a pause: the deadlines move by the time spent paused.
        paused_for = now - s.paused_at
        record = s.record(s.stage)
        if record.deadline_at is not None:
            record.deadline_at += paused_for
        if s.stage == Stage.ARRIVAL and s.plan_due_at is not None:
            s.plan_due_at += paused_for
        s.status = CaseStatus.ACTIVE
        s.paused_at = None
        s.paused_by = None
        s.pause_reason = None
        # Overdue stays as it was when paused: the deadlines moved by the paused time.
        self._touch(now)
        self._event(
            "resumed",
            actor=inp.actor.officer_id,
            stage=s.stage,
            detail=f"paused {paused_for.days} days",
        )
        return self._changed(inp)

    @resume.validator
    def _accept_resume(self, inp: ResumeRequest) -> None:
        self._check_signed("resume", inp)
        self._validate_resume(inp, strict=True)

    def _validate_resume(self, inp: ResumeRequest, *, strict: bool) -> None:
        if strict:
            self._check_not_reused(inp)
        if self.state.status != CaseStatus.PAUSED:
            raise _reject(f"the case is not paused (it is {self.state.status.value})")
        self._check_actor(inp.actor, Action.RESUME, strict=strict)

    @workflow.update
    def withdraw(self, inp: Withdrawal) -> CaseView:
        self._validate_withdrawal(inp, strict=self.authz_v3)
        s = self.state
        now = workflow.now()
        stage = s.stage
        self._close(CaseStatus.WITHDRAWN, now, reason=inp.reason.strip())
        workflow.logger.info("case withdrawn")
        self._event(
            "case_withdrawn",
            actor=inp.actor.officer_id if inp.actor is not None else inp.recorded_by,
            stage=stage,
            detail=inp.reason_category.value if self.authz_v3 else None,
            text=inp.reason,
        )
        self._notify_newcomer(
            "case_withdrawn", {"dossier": s.approval.dossier, "reason": inp.reason.strip()}
        )
        return self._changed(inp)

    @withdraw.validator
    def _accept_withdrawal(self, inp: Withdrawal) -> None:
        self._check_signed("withdraw", inp)
        self._validate_withdrawal(inp, strict=True)

    def _validate_withdrawal(self, inp: Withdrawal, *, strict: bool) -> None:
        if strict:
            self._check_not_reused(inp)
        self._check_open(allow_paused=True)
        if strict:
            # v2 withdrawals named no one (`recorded_by` defaulted to "operator").
            if inp.actor is None:
                raise _reject("a withdrawal names the person who records it")
            self._check_actor(inp.actor, Action.WITHDRAW, strict=True)
            if not isinstance(inp.reason_category, WithdrawalReason):
                raise _reject(
                    "the reason category must be one of "
                    + ", ".join(r.value for r in WithdrawalReason)
                )
        if not inp.reason.strip():
            raise _reject("a withdrawal needs a reason")
        if len(inp.reason) > MAX_TEXT:
            raise _reject(f"the reason is longer than {MAX_TEXT} characters")

    @workflow.query
    def view(self, inp: CaseQuery) -> CaseView:
        v = view_of(self.state, include_plan=inp.include_plan)
        if not self.opened:
            v.pending_effects += 1  # the case is still being registered
        return v

    def _changed(self, inp: object) -> CaseView:
        # The main loop wakes on this, then carries out the effects and publishes.
        self.version += 1
        if self.authz_v3:
            self._remember_signature(inp)
        return view_of(self.state)

    def _remember_signature(self, inp: object) -> None:
        """Keep the signature of an action just taken for as long as it could be sent again
        (state only: no command, and no key needed on replay)."""
        sig = getattr(inp, "signature", None)
        if sig is None:
            return
        s = self.state
        oldest = workflow.now() - signing.FRESH_FOR - signing.AHEAD_ALLOWED
        s.signatures_seen = [seen for seen in s.signatures_seen if seen.issued_at >= oldest]
        s.signatures_seen.append(SeenSignature(mac=sig.mac, issued_at=sig.issued_at))

    def _check_not_reused(self, inp: object) -> None:
        sig = getattr(inp, "signature", None)
        if sig is not None and any(seen.mac == sig.mac for seen in self.state.signatures_seen):
            raise self._refuse(authz.refusal("signature_reused"))

    # ----------------------------------------------------------------------------------------
    # Effects: decided by handlers and clocks, carried out by activities
    # ----------------------------------------------------------------------------------------

    def _next_key(self, kind: str) -> str:
        # Workflow id + business step: stable across retries and continue-as-new.
        self.state.step += 1
        return f"{workflow.info().workflow_id}:{self.state.step:06d}:{kind}"

    def _snapshot(self) -> CaseSnapshot:
        s = self.state
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

    def _event(
        self,
        kind: str,
        *,
        actor: str | None,
        stage: Stage | None = None,
        detail: str | None = None,
        text: str | None = None,
    ) -> None:
        self.state.pending.append(
            Effect(
                event=CaseEvent(
                    key=self._next_key(kind),
                    workflow_id=workflow.info().workflow_id,
                    kind=kind,
                    at=workflow.now(),
                    snapshot=self._snapshot(),
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
    ) -> None:
        s = self.state
        self.state.pending.append(
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
                    officer_id=s.officer_id,
                    recipient_email=s.approval.email if audience == Audience.NEWCOMER else None,
                    recipient_name=s.approval.full_name if audience == Audience.NEWCOMER else None,
                    context={"dossier": s.approval.dossier, **context},
                    decided_at=workflow.now(),
                )
            )
        )

    def _notify_newcomer(self, template: str, context: Mapping[str, object]) -> None:
        self._notification(template, Audience.NEWCOMER, context)

    def _notify_staff(
        self,
        template: str,
        audience: Audience,
        context: Mapping[str, object],
        *,
        region: str | None = None,
    ) -> None:
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
        )

    def _carry_out_effects(self) -> None:
        """Settle finished effects, start the new ones, publish: all in a fixed order."""
        self._settle_effects()
        new = [e for e in self.state.pending if e.key not in self.running]
        if new and workflow.patched(BATCH_EFFECTS):
            events = [e for e in new if e.event is not None]
            mails = [e for e in new if e.notification is not None]
            for i in range(0, len(events), MAX_BATCH):
                self._run_batch(events[i : i + MAX_BATCH], self._start_events)
            for i in range(0, len(mails), MAX_BATCH):
                self._run_batch(mails[i : i + MAX_BATCH], self._start_notifications)
        else:
            for effect in new:
                self.running[effect.key] = self._start(effect)
        self._publish()

    def _run_batch(
        self, effects: list[Effect], start: Callable[[list[Effect]], ActivityHandle[Any]]
    ) -> None:
        handle = start(effects)
        for effect in effects:
            self.running[effect.key] = handle

    def _settle_effects(self) -> None:
        """Take finished effects off the queue; a permanent failure is audited."""
        s = self.state
        for key in [k for k, h in self.running.items() if h.done()]:
            handle = self.running.pop(key)
            effect = next(e for e in s.pending if e.key == key)
            s.pending.remove(effect)
            err = handle.exception()
            if err is None:
                self._settle_batched(effect, handle.result())
                continue
            if not isinstance(err, ActivityError):
                raise err
            # Permanent: a rejected address, a missing template, a stale email. The case goes
            # on; the failure is in the audit trail for the officer to follow up.
            workflow.logger.warning("side effect %s failed for good: %s", key, err.cause)
            if effect.notification is not None:
                self._event(
                    "email_failed",
                    actor=None,
                    stage=s.stage,
                    detail=f"{effect.notification.template}: {type(err.cause).__name__}",
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
        self._event(
            "email_failed",
            actor=None,
            stage=self.state.stage,
            detail=f"{effect.notification.template}: {outcome.failure}",
        )

    def _start_events(self, effects: list[Effect]) -> ActivityHandle[Any]:
        return workflow.start_activity(
            RECORD_EVENTS,
            EventBatch(events=[e.event for e in effects if e.event is not None]),
            result_type=EventBatchRecorded,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=READ_MODEL_RETRY,
        )

    def _start_notifications(self, effects: list[Effect]) -> ActivityHandle[Any]:
        return workflow.start_activity(
            SEND_NOTIFICATIONS,
            NotificationBatch(
                notifications=[e.notification for e in effects if e.notification is not None]
            ),
            result_type=NotificationBatchOutcome,
            # Per email as for one: a batch holds at most MAX_BATCH of them.
            start_to_close_timeout=timedelta(seconds=60) * min(len(effects), 5),
            schedule_to_close_timeout=MAIL_GIVE_UP_AFTER,
            retry_policy=MAIL_RETRY,
        )

    def _start(self, effect: Effect) -> ActivityHandle[Any]:
        if effect.event is not None:
            return workflow.start_activity(
                RECORD_EVENT,
                effect.event,
                result_type=EventRecorded,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=READ_MODEL_RETRY,
            )
        assert effect.notification is not None
        return workflow.start_activity(
            SEND_NOTIFICATION,
            effect.notification,
            result_type=NotificationOutcome,
            start_to_close_timeout=timedelta(seconds=60),
            schedule_to_close_timeout=MAIL_GIVE_UP_AFTER,
            retry_policy=MAIL_RETRY,
        )

    # ----------------------------------------------------------------------------------------
    # Visibility and history
    # ----------------------------------------------------------------------------------------

    def _publish(self) -> None:
        """Keep the search attributes current (ids, stage and clocks only: no personal data)."""
        s = self.state
        values: dict[str, object] = {
            search.STAGE.name: s.stage.value if s.stage else search.CLOSED,
            search.STATUS.name: s.status.value,
            search.OFFICER.name: s.officer_id or search.UNASSIGNED,
            search.REGION.name: s.approval.region,
            search.ESCALATION_LEVEL.name: s.escalation_level,
            search.STALLED_SINCE.name: s.stalled_since,
            search.OVERDUE.name: s.overdue,
        }
        if values == self.upserted:
            return
        updates: list[SearchAttributeUpdate[Any]] = [
            search.STAGE.value_set(str(values[search.STAGE.name])),
            search.STATUS.value_set(s.status.value),
            search.OFFICER.value_set(str(values[search.OFFICER.name])),
            search.REGION.value_set(s.approval.region),
            search.ESCALATION_LEVEL.value_set(s.escalation_level),
            search.OVERDUE.value_set(s.overdue),
            search.STALLED_SINCE.value_set(s.stalled_since)
            if s.stalled_since is not None
            else search.STALLED_SINCE.value_unset(),
        ]
        workflow.upsert_search_attributes(updates)
        self.upserted = values

    def _continue_as_new_due(self) -> bool:
        info = workflow.info()
        if info.is_continue_as_new_suggested():
            return True
        return bool(
            self.continue_as_new_after
            and info.get_current_history_length() >= self.continue_as_new_after
        )


__all__ = ["NewcomerPathway", "workflow_id_for"]
