"""One newcomer's integration pathway: a durable entity workflow that lives months to years.

Shape (after temporalio/samples-python message_passing/safe_message_handlers):
- all state in one `CaseState`, handed whole to continue-as-new;
- people act through Updates whose validators reject wrong actions synchronously (the
  caller hears why), and whose handlers only *decide*: they change the state and queue the
  side effects (audit rows, emails) as `Effect`s;
- the main loop runs queued effects as activities and keeps the stall clock: it sleeps until
  the next escalation threshold or deadline, until a handler changes something, or until an
  effect completes.

This module is the orchestration only. The rules (clocks, deadlines, who may act, every
validator) are functions of the state in parcours/kernel/rules.py, tested without a server;
the effect queue and its activities are in workflows/effects.py.

The main loop is the only code that issues commands (activities, timers, search-attribute
upserts); handlers are synchronous and issue none. So the order of commands depends only on
the history, never on how the SDK happens to interleave handler and loop coroutines within
an activation: a worker that replays a case after a crash issues exactly what the first one
did (tests run the worker with no cache, so every activation is a replay). An update answers
at once even while the database or the mail server is down; effects catch up later.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date, datetime, timedelta
from types import MappingProxyType
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate
from temporalio.exceptions import ApplicationError

from workflows.effects import (
    BATCH_EFFECTS,
    CARRY_QUEUED_EFFECTS,
    MAIL_GIVE_UP_AFTER,
    RETRY_POLICIES,
    Effects,
    holds,
    snapshot,
)

with workflow.unsafe.imports_passed_through():
    from parcours.infrastructure import signing
    from parcours.kernel import activity_contract as contract
    from parcours.kernel import authz, rules, search
    from parcours.kernel.domain import (
        NEWCOMER_ACTOR,
        OPEN_STATUSES,
        Assignment,
        Audience,
        CaseFile,
        CaseInput,
        CaseQuery,
        CaseState,
        CaseStatus,
        CaseView,
        Decline,
        GreetingOutcome,
        GreetingReport,
        ItemStatus,
        ItemUpdate,
        Meeting,
        MeetingBooking,
        NewcomerReply,
        OfficerWanted,
        PauseRequest,
        PlanFiling,
        ProgressNote,
        ReasonCategory,
        Reassignment,
        RegisterCase,
        ReplyChoice,
        ResumeRequest,
        RosterChanged,
        SeenSignature,
        Stage,
        StageApproval,
        StageWaiver,
        Transfer,
        Withdrawal,
        view_of,
        workflow_id_for,
    )
    from parcours.kernel.messages import REFUSAL_ERROR_TYPE, Message

# Read-only: the worker shares this module among all its cases (parcours/infrastructure/worker.py).
LEVEL_TEMPLATES = MappingProxyType(
    {1: "stall_reminder", 2: "stall_escalation", 3: "stall_director"}
)

# Patches (README, "Changing the workflow safely"). Each id marks a change to the command
# sequence; histories written before it replay down the old branch. CARRY_QUEUED_EFFECTS and
# BATCH_EFFECTS (v2) belong to the effect queue: see workflows/effects.py.
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
# v5: days are the case's local days (its time zone): "due on day D" falls due at 00:00 local
# on D + 1, a stage deadline in whole days falls at the end of a day, and the arrival stage's
# clock starts at local midnight (before: at 05:00 UTC, an hour late in summer). It moves
# timers, so a run recorded before keeps its days (`CaseState.local_days`). Asked once per
# run, in __init__, after AUTHZ_TABLE.
LOCAL_DAYS = "local-day-deadlines"
# v6: plan items track referrals (status, partner, dates; the `update_item` update, new, needs
# no patch), and approving a stage with items neither done nor abandoned needs a note. The
# handler re-checks that rule only in a run that took this patch: older runs approved such
# stages without notes, and their replay must accept what they accepted. Asked once per run,
# in __init__, after LOCAL_DAYS. (Validators apply the rule to every new approval.)
PLAN_ITEM_STATUS = "plan-item-status"
# v6 (issue 16): a case opened after its arrival day records the airport greeting as not
# applicable (arrived before enrolment). Asked at the opening, only when that holds: a case
# opened late before this replays with no greeting row.
LATE_ENROLMENT = "late-enrolment"
# v6 (issue 16, usage): a late-enrolled case's plan is due 5 working days from the opening's
# local day, not from the arrival (which made it overdue, escalated and its first meeting
# "late" the moment it opened). Asked at the opening, before register_case, only for a case
# opened after its arrival day: one opened before this replays with its due day from arrival.
LATE_ENROLMENT_DUE = "late-enrolment-plan-due"
# v7 (issue 17): a case nobody can take at its opening (or its reopening) alerts the region's
# supervisors, or the directors when the region has none (Audience.REGION_LEADS), and its
# level-1 and level-2 escalations go the same way while it has no officer (before: the
# region's supervisors, which for a region without any was an email to nobody). Asked at the
# opening when the case is unassigned, and at an escalation of an unassigned case.
UNASSIGNED_ALERT = "unassigned-alert"
# v7 (issue 17): an unassigned case asks the read model who may take it (find_officer, the
# intake rule) at its opening, when a `roster_changed` signal comes, and by itself on the day
# an absent officer of its region is back; it assigns itself when someone can take it. Asked
# in the main loop, only when an unassigned case is about to ask.
ROSTER_ASSIGN = "roster-assign"
# v7 (issue 17): a reassignment or a transfer tells the previous officer (case_reassigned_away)
# and introduces the new officer to the newcomer (officer_introduced). Asked once per run, in
# __init__, after PLAN_ITEM_STATUS (a handler issues no command): a run started before it
# keeps the old emails until it continues as new.
REASSIGNMENT_NOTICES = "reassignment-notices"
# v8 (issue 14, a lighter case): the opening registers the case and records its first audit
# events as local activities, in its first workflow task, instead of two activity tasks and
# the workflow tasks their completions bring (about a third of the server's work per case at
# intake). Only a first opening (not a reopening: see _opens_in_one_task), and its events go
# out before anything else can wait (an unassigned case's find_officer, an update). An update
# reaches a case still opening once its first task is done (refused as still opening, unless
# it is a lead's: withdraw, transfer, pause...); during a read-model outage, that is at the
# worker's task heartbeats, about every 8 s. While the read model is down the opening retries
# in the worker (beyond a minute between attempts, on a timer), as the activity retried on the
# server. Asked first, in __init__, by a new run only; a case it opens takes every patch above
# as given (effects.holds, CaseState.implied_patches). A later patch that the opening may ask
# after its local activities must be asked before them (effects.holds says why).
OPENING_IN_ONE_TASK = "opening-in-one-task"
# v9 (issue 14, the storm): the audit events a case's clocks decide (an escalation, an overdue
# stage, the end of a wait) are recorded by a local activity in the workflow task its alarm
# woke, not an activity task and the workflow task its completion brings: an escalation was 3
# workflow tasks and 2 activity tasks, it is 2 and 1 (its email stays an activity task). The
# task is the alarm's own: only an update that reaches the case while it runs waits for the
# write (during a read-model outage, for the task's heartbeat, ~8 s). Asked in __init__
# by a new run, right after OPENING_IN_ONE_TASK and before any local activity (effects.holds
# says why), and kept in the state (CaseState.local_alarm_events): a case opened before keeps
# activity tasks for good, and a continued run asks nothing.
ALARM_EVENTS_LOCAL = "alarm-events-local"
# v10 (issue 14, the storm with a small cache): the emails a first opening or an alarm decides
# go out from the worker in the workflow task that decided them (a local activity, as their
# events since v8/v9), not as an activity task whose completion brings another workflow task:
# an escalation is one workflow task and no activity task. With a workflow cache smaller than
# the cases due together, the second task replayed the whole case (the storm's worker CPU per
# escalation went 27 -> 45 ms from a cache of 4,000 to 1,000). The local attempts are few and
# quick (effects.LOCAL_MAIL_RETRY): an email they could not send (the mail server down or
# slow, an earlier attempt still in its lease) goes on as an activity task, with the server's
# retries and the three days' limit, as before; so an outage neither holds the case's task
# nor writes a timer per retry into its history. Emails decided by people's updates stay
# activity tasks: an officer's answer never waits for the mail server. Asked in __init__ by a
# new run that took ALARM_EVENTS_LOCAL, right after it and before any local activity
# (effects.holds says why), and kept in the state (CaseState.local_mail).
MAIL_IN_TASK = "mail-in-deciding-task"
# Every patch id in use: each must appear in a committed history (tests/workflows/test_replay).
PATCHES = (
    CARRY_QUEUED_EFFECTS,
    BATCH_EFFECTS,
    AUTHZ_TABLE,
    IGNORE_CANCELLATION,
    LOCAL_DAYS,
    PLAN_ITEM_STATUS,
    LATE_ENROLMENT,
    LATE_ENROLMENT_DUE,
    UNASSIGNED_ALERT,
    ROSTER_ASSIGN,
    REASSIGNMENT_NOTICES,
    OPENING_IN_ONE_TASK,
    ALARM_EVENTS_LOCAL,
    MAIL_IN_TASK,
)


def _reject(message: Message) -> ApplicationError:
    # Raised from a validator: the update is rejected and never enters history. Raised from a
    # handler (re-checked there): the update fails, the workflow does not. The error's text is
    # the code (for logs); its first detail the code and parameters the interfaces render.
    return ApplicationError(
        message.code, message.as_dict(), type=REFUSAL_ERROR_TYPE, non_retryable=True
    )


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
        # The effect queue (decided in state.pending; carried out by the main loop).
        self.effects = Effects(self.state)
        self.upserted: dict[str, object] = {}
        # False until the read model has given the case its officer (a few milliseconds).
        self.opened = self.state.started_at is not None
        # The start's signature, for register_case to check (never checked here: see there).
        self.start_signature = inp.signature
        # Set when this run reopens a closed case of the same dossier (issue 16): a new run of
        # the workflow id, whose opening carries on from the closed one (no state is carried).
        self.reopening = inp.reopening if inp.state is None else None
        # v8: a new case asks this first, and then no earlier patch (effects.holds); a run
        # continued from a v8 case carries the answer in its state.
        if self.state.started_at is None and workflow.patched(OPENING_IN_ONE_TASK):
            self.state.implied_patches = True
            # v9: never implied (a v8 case took every patch before it as given, not this one).
            self.state.local_alarm_events = workflow.patched(ALARM_EVENTS_LOCAL)
            # v10: only after v9 (a v9 history replays without asking it).
            self.state.local_mail = self.state.local_alarm_events and workflow.patched(MAIL_IN_TASK)
        # Validators always apply the table; a handler re-checks with the rules of the code
        # that wrote the history (a v2 run replays with the v2 rules).
        self.authz_v3 = holds(self.state, AUTHZ_TABLE)
        # Set on every run: a case continued from a run before v5 takes local days for the
        # deadlines set from here on (those already set keep their moment).
        self.state.local_days = holds(self.state, LOCAL_DAYS)
        self.item_rule = holds(self.state, PLAN_ITEM_STATUS)
        self.notices = holds(self.state, REASSIGNMENT_NOTICES)
        # Items carried from a run before v6 get their ids by position (state only).
        rules.number_items(self.state)

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
                type=contract.INVALID_INPUT,
                non_retryable=True,
            )
        s = self.state
        if s.started_at is None:
            await self._open_case()
            self.opened = True
            if self._opens_in_one_task():
                # Before anything else can wait (an unassigned case's find_officer, an update):
                # the opening's events go out in its own workflow task, as a local activity
                # (v10: its emails too).
                self.effects.carry_out(local_events=True, local_mail=s.local_mail)
        else:
            s.runs += 1
        self._publish()

        while True:
            rang = self._apply_clocks()
            if self._wants_officer() and holds(self.state, ROSTER_ASSIGN):
                await self._seek_officer()
                # The alarm may have rung while the read model was asked.
                rang = self._apply_clocks() or rang
            # v9: the events the alarm decided (and any queued with them) go out within this
            # workflow task, the alarm's own (ALARM_EVENTS_LOCAL says what may wait on it);
            # v10: its emails too (MAIL_IN_TASK).
            self.effects.carry_out(
                local_events=rang and s.local_alarm_events, local_mail=rang and s.local_mail
            )
            self._publish()
            if s.status not in OPEN_STATUSES and not s.pending:
                break
            if self._continue_as_new_due():
                await self.effects.drain(self._until_changed, self._publish)
                workflow.continue_as_new(
                    CaseInput(
                        approval=s.approval,
                        policy=s.policy,
                        state=s,
                        continue_as_new_after_events=self.continue_as_new_after,
                    )
                )
            self._set_alarm(self._next_alarm())
            await self._until_changed(self._continue_as_new_due)
        self._set_alarm(None)

        await workflow.wait_condition(workflow.all_handlers_finished)
        return view_of(s)

    def _mark(self) -> tuple[int, int, int]:
        return (self.version, len(self.state.pending), self.rings)

    async def _until_changed(self, also: Callable[[], bool]) -> None:
        """Sleep until a handler changes the case, an effect completes, the alarm rings, or
        `also()` holds."""
        mark = self._mark()
        try:
            await workflow.wait_condition(
                lambda: self._mark() != mark or self.effects.any_done() or also()
            )
        except asyncio.CancelledError:
            if not holds(self.state, IGNORE_CANCELLATION):
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

    def _opens_in_one_task(self) -> bool:
        """v8, a first opening (not a reopening): register_case and the first events run as
        local activities. A reopening keeps activity tasks: its registration checks the
        closed case's status, which its own events change, so a first workflow task redone
        after a crash would find the case already reopened and refuse it."""
        return self.state.implied_patches and self.reopening is None

    async def _open_case(self) -> None:
        s = self.state
        reopening = self.reopening
        # v8: the opening's moment is when the server accepted the start, the same in every
        # attempt of the first workflow task. register_case now runs inside that task: a
        # worker that dies there leaves the next one to redo it, with inputs it computes anew
        # (an activity task's input was kept by history). With workflow.now() the redone
        # opening carried another started_at and was refused as a second opening (seen in
        # tests/faults/test_worker_killed.py).
        now = workflow.info().workflow_start_time if s.implied_patches else workflow.now()
        if reopening is not None:
            # The table, against the closed run's region and officer: a refused reopening
            # fails here, before any effect (like a forged start; the signature over it is
            # register_case's to check). The interfaces refuse it earlier, with words.
            try:
                rules.check_reopening(s, reopening)
            except rules.Rejected as err:
                raise ApplicationError(
                    f"reopening refused: {err.message.code}",
                    type=contract.INVALID_INPUT,
                    non_retryable=True,
                ) from None
            rules.reopen_case(s, reopening, now)
            workflow.logger.info("case reopened (period %d)", s.period)
        else:
            rules.open_case(s, now)
            if rules.arrived_before_opening(s, now) and holds(s, LATE_ENROLMENT_DUE):
                rules.plan_due_from_enrolment(s, now)
            workflow.logger.info("case opened")

        register = RegisterCase(
            workflow_id=workflow.info().workflow_id,
            approval=s.approval,
            snapshot=snapshot(s),
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
            reopening=reopening,
        )
        if self._opens_in_one_task():
            # v8: the case is registered and its opening events recorded by this worker within
            # this workflow task (local activities); only its emails go through the server.
            assignment: Assignment = await workflow.execute_local_activity(
                contract.REGISTER_CASE,
                register,
                result_type=Assignment,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RETRY_POLICIES[contract.REGISTER_CASE],
            )
        else:
            assignment = await workflow.execute_activity(
                contract.REGISTER_CASE,
                register,
                result_type=Assignment,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RETRY_POLICIES[contract.REGISTER_CASE],
            )
        # A supervisor may have assigned someone while the read model was being asked.
        if s.officer_id is None and assignment.officer_id is not None:
            s.officer_id = assignment.officer_id
            s.officer_region = s.approval.region

        fx = self.effects
        if reopening is not None:
            fx.event(
                "case_reopened",
                actor=reopening.actor.officer_id,
                stage=Stage.ARRIVAL,
                detail=f"period {s.period}",
                text=reopening.note.strip() or None,
            )
            if s.officer_id is not None:
                fx.notify_staff("officer_assigned", Audience.OFFICER, {"reason": "reopened"})
            elif holds(self.state, UNASSIGNED_ALERT):
                self._alert_unassigned()
            return
        fx.event("case_opened", actor=None, stage=Stage.ARRIVAL, detail=s.policy.name)
        assert s.started_at is not None
        if rules.arrived_before_opening(s, s.started_at) and holds(self.state, LATE_ENROLMENT):
            # Late enrolment: the newcomer was already here; no airport greeting to record.
            s.greeting = GreetingOutcome.NOT_APPLICABLE
            s.greeting_recorded_at = s.started_at
            fx.event(
                "airport_greeting",
                actor=None,
                stage=Stage.ARRIVAL,
                detail=GreetingOutcome.NOT_APPLICABLE.value,
            )
        fx.notify_newcomer(
            "welcome",
            {
                "dossier": s.approval.dossier,
                "arrival_date": s.approval.arrival_date,
                "airport": s.approval.airport,
                "region": s.approval.region,
            },
        )
        if s.officer_id is not None:
            fx.event("officer_assigned", actor=None, detail=s.officer_id)
            fx.notify_staff("officer_assigned", Audience.OFFICER, {"reason": "new_case"})
        else:
            workflow.logger.warning("no officer available in the region: case waits unassigned")
            if holds(self.state, UNASSIGNED_ALERT):
                self._alert_unassigned()
            else:
                fx.event("case_unassigned", actor=None)
                fx.notify_staff("case_unassigned", Audience.SUPERVISORS, {})

    def _alert_unassigned(self) -> None:
        """v7: nobody can take the case. The region's supervisors, else the directors, hear
        of it at once (the activity resolves who, and records it), and the case asks the read
        model again at the next turn of the main loop (which also learns when to ask next)."""
        s = self.state
        self.effects.event("case_unassigned", actor=None, stage=s.stage)
        self.effects.notify_staff("case_unassigned", Audience.REGION_LEADS, {})
        s.seek_officer = True

    # ----------------------------------------------------------------------------------------
    # Unassigned cases (issue 17): the case finds its officer when the roster can give one
    # ----------------------------------------------------------------------------------------

    def _wants_officer(self) -> bool:
        s = self.state
        return s.seek_officer and s.officer_id is None and s.status in OPEN_STATUSES

    def _next_alarm(self) -> datetime | None:
        """The stall clocks' next moment, or earlier the day an unassigned case asks again."""
        s = self.state
        at = rules.next_clock(s)
        if s.seek_on is not None and s.officer_id is None and s.status in OPEN_STATUSES:
            return s.seek_on if at is None else min(at, s.seek_on)
        return at

    async def _seek_officer(self) -> None:
        """Ask the read model who of the region takes the case today (the intake rule), and
        assign them; else remember when the first absent officer is back, to ask again then.
        Main loop only (it issues the activity)."""
        s = self.state
        s.seek_officer = False
        now = workflow.now()
        found: Assignment = await workflow.execute_activity(
            contract.FIND_OFFICER,
            OfficerWanted(
                workflow_id=workflow.info().workflow_id,
                region=s.approval.region,
                language=s.approval.language,
                # The case's local day by workflow time: a leave is judged by it.
                day=now.astimezone(rules.case_zone(s)).date().isoformat(),
            ),
            result_type=Assignment,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RETRY_POLICIES[contract.FIND_OFFICER],
        )
        if s.officer_id is not None or s.status not in OPEN_STATUSES:
            # Assigned by a supervisor, or closed, while the read model was asked.
            s.seek_on = None
            return
        if found.officer_id is None:
            back = date.fromisoformat(found.retry_on) if found.retry_on else None
            s.seek_on = rules.day_starts(s, back) if back is not None else None
            return
        s.seek_on = None
        s.officer_id = found.officer_id
        s.officer_region = s.approval.region
        now = workflow.now()
        # The officer gets a full stall period to take the case in hand, as on a reassignment.
        rules.touch(s, now)
        workflow.logger.info("unassigned case assigned by the roster")
        self.effects.event("case_assigned", actor=None, stage=s.stage, detail=s.officer_id)
        self.effects.notify_staff("officer_assigned", Audience.OFFICER, {"reason": "unassigned"})
        self._introduce_officer()
        self.version += 1

    def _introduce_officer(self) -> None:
        """The newcomer meets their new officer: name and contact (the activity reads them
        from the roster), never why the case moved."""
        self.effects.notify_newcomer("officer_introduced", {"dossier": self.state.approval.dossier})

    @workflow.signal(name="roster_changed")
    def roster_changed(self, inp: RosterChanged) -> None:
        """The region's roster changed: an unassigned case asks the read model again.

        Not signed, unlike every update: it carries no decision, only "look again". The
        officer comes from the read model by the intake rule, exactly as at the opening, so a
        forged or repeated signal can at most make the case read the roster once more (one
        cheap activity; signals arriving together are asked once). A case with an officer
        ignores it."""
        s = self.state
        if s.officer_id is None and s.status in OPEN_STATUSES:
            s.seek_officer = True
            self.version += 1

    # ----------------------------------------------------------------------------------------
    # Clocks: the escalation ladder and deadlines (rules.ring decides, this records)
    # ----------------------------------------------------------------------------------------

    def _apply_clocks(self) -> bool:
        """Whether the alarm had rung."""
        # Clocks move only when the alarm rings, and they move to the moment the alarm was set
        # for: the decision is a function of the state and the timer-fired event alone (see
        # rules.ring). What falls due later gets its own alarm.
        rang_for, self.rang_for = self.rang_for, None
        if rang_for is None:
            return False
        s = self.state
        if s.seek_on is not None and rang_for >= s.seek_on:
            # v7: an absent officer of the region is back today: ask who takes the case.
            s.seek_on = None
            s.seek_officer = True
        if rules.remind(s, rang_for):
            # Only a case with a booked meeting has this alarm (issue 16): no patch.
            assert s.meeting is not None
            self.effects.notify_newcomer("meeting_reminder", self._meeting_context(s.meeting))
        # The day a newcomer asked to be contacted again has come (issue 16: the alarm rings
        # for it only in the WAITING status, which no earlier history holds).
        day = s.waiting_on
        waited = rules.wake(s, rang_for)
        if waited is not None:
            workflow.logger.info("case resumed: the newcomer's day has come")
            self.effects.event(
                "waiting_ended", actor=None, stage=s.stage, detail=f"waited {waited.days} days"
            )
            self._notify_reply(ReplyChoice.LATER, day, ended=True)
        for step in rules.ring(s, rang_for):
            assert s.stage is not None
            if step.kind == rules.OVERDUE:
                workflow.logger.info("stage %s overdue", s.stage.value)
                self.effects.event("stage_overdue", actor=None, stage=s.stage)
                continue
            workflow.logger.info("stage %s escalated to level %d", s.stage.value, step.level)
            self.effects.event("escalated", actor=None, stage=s.stage, detail=str(step.level))
            self._notify_escalation(step.level, rang_for)
        return True

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
        # v7: a case without an officer never escalates to nobody: the directors stand in for
        # a region without supervisors (the patch is asked only for such a case).
        if (
            audience == Audience.SUPERVISORS
            and s.officer_id is None
            and holds(self.state, UNASSIGNED_ALERT)
        ):
            audience = Audience.REGION_LEADS
        self.effects.notify_staff(LEVEL_TEMPLATES[level], audience, context)

    def _advance(self, now: datetime) -> None:
        """Leave the current stage (already marked done) for the next one not waived."""
        s = self.state
        stage = rules.following_stage(s)
        if stage is None:
            rules.close(s, CaseStatus.COMPLETED, now, reason="completed")
            self.effects.event("case_completed", actor=None)
            self.effects.notify_newcomer("case_completed", {"dossier": s.approval.dossier})
            return
        rules.enter_stage(s, stage, now)
        self.effects.event("stage_started", actor=None, stage=stage)
        self.effects.notify_newcomer(
            "stage_started", {"dossier": s.approval.dossier, "stage": stage.value}
        )

    # ----------------------------------------------------------------------------------------
    # Who may act: the rules decide (parcours/kernel/rules.py); the signature is checked here
    # ----------------------------------------------------------------------------------------

    def _validate(self, check: rules.Validator, inp: object, *, strict: bool) -> None:
        try:
            check(self.state, inp, strict=strict, opened=self.opened)
        except rules.Rejected as err:
            raise _reject(err.message) from None

    def _check_signed(self, update: str, inp: object) -> None:
        """Validators only: a handler never checks, so that replay needs no key."""
        verifier = signing.verifier()
        refused = (
            authz.refusal("signature_unchecked")
            if verifier is None
            else verifier.check(workflow.info().workflow_id, update, inp, workflow.now())
        )
        if refused is not None:
            raise _reject(rules.refuse(refused, opened=self.opened).message)

    # ----------------------------------------------------------------------------------------
    # Updates. Each validator is re-run by its handler, since a validator sees the state as it
    # was when the update arrived, and another update may have been applied since.
    # ----------------------------------------------------------------------------------------

    @workflow.update
    def record_greeting(self, inp: GreetingReport) -> CaseView:
        self._validate(rules.check_greeting, inp, strict=self.authz_v3)
        s = self.state
        now = workflow.now()
        s.greeting = inp.outcome
        s.greeting_recorded_by = inp.actor.officer_id
        s.greeting_recorded_at = now
        rules.touch(s, now)
        self.effects.event(
            "airport_greeting", actor=inp.actor.officer_id, stage=s.stage, detail=inp.outcome
        )
        return self._changed(inp)

    @record_greeting.validator
    def _accept_greeting(self, inp: GreetingReport) -> None:
        self._check_signed("record_greeting", inp)
        self._validate(rules.check_greeting, inp, strict=True)

    @workflow.update
    def file_plan(self, inp: PlanFiling) -> CaseView:
        self._validate(rules.check_plan, inp, strict=self.authz_v3)
        s = self.state
        now = workflow.now()
        # Items that keep their id keep their status, partner and dates; new ones get an id.
        s.plan = rules.refile(s, inp.items)
        s.plan_filed_at = now
        s.plan_filed_by = inp.actor.officer_id
        s.plan_revision += 1
        rules.touch(s, now)
        # The plan is on file: only a passed stage deadline can keep the stage overdue.
        s.overdue = s.deadline_passed
        self.effects.event(
            "plan_filed",
            actor=inp.actor.officer_id,
            stage=s.stage,
            detail=f"revision {s.plan_revision}, {len(s.plan)} items",
        )
        self.effects.notify_newcomer(
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
        self._validate(rules.check_plan, inp, strict=True)

    @workflow.update
    def add_progress(self, inp: ProgressNote) -> CaseView:
        self._validate(rules.check_progress, inp, strict=self.authz_v3)
        s = self.state
        now = workflow.now()
        s.notes_count += 1
        rules.touch(s, now)
        self.effects.event(
            "progress_note", actor=inp.actor.officer_id, stage=s.stage, text=inp.note
        )
        return self._changed(inp)

    @add_progress.validator
    def _accept_progress(self, inp: ProgressNote) -> None:
        self._check_signed("add_progress", inp)
        self._validate(rules.check_progress, inp, strict=True)

    @workflow.update
    def approve_stage(self, inp: StageApproval) -> CaseView:
        # Before v6 (no PLAN_ITEM_STATUS marker) a stage with open items was approved without
        # a note: its replay must accept it.
        check = rules.check_stage_approval if self.item_rule else rules.check_approval
        self._validate(check, inp, strict=self.authz_v3)
        s = self.state
        now = workflow.now()
        still_open = len(rules.open_items(s, inp.stage)) if self.item_rule else 0
        record = s.record(inp.stage)
        record.completed_at = now
        record.approved_by = inp.actor.officer_id
        rules.touch(s, now)
        workflow.logger.info("stage %s approved", inp.stage.value)
        self.effects.event(
            "stage_approved",
            actor=inp.actor.officer_id,
            stage=inp.stage,
            # v6: how many items were still open (the note says why it goes ahead anyway).
            detail=f"{still_open} open items" if still_open else None,
            text=inp.note or None,
        )
        self._advance(now)
        return self._changed(inp)

    @approve_stage.validator
    def _accept_approval(self, inp: StageApproval) -> None:
        self._check_signed("approve_stage", inp)
        self._validate(rules.check_stage_approval, inp, strict=True)

    @workflow.update
    def update_item(self, inp: ItemUpdate) -> CaseView:
        # New in v6: no history holds it, so no patch; its rules are the table's.
        self._validate(rules.check_item, inp, strict=True)
        s = self.state
        now = workflow.now()
        item = rules.find_item(s, inp.item_id)
        assert item is not None
        before = item.status
        rules.move_item(s, inp, now)
        partner = f" partner {item.partner_id}" if item.partner_id else ""
        self.effects.event(
            "plan_item_updated",
            actor=inp.actor.officer_id,
            stage=s.stage,
            detail=f"{item.id} {before.value} -> {item.status.value}{partner}",
            text=inp.reason.strip() or None,
        )
        if item.status == ItemStatus.REFERRED:
            ref = inp.partner
            self.effects.notify_newcomer(
                "referral",
                {
                    "item_stage": item.stage.value,
                    "item": item.text,
                    "partner_name": ref.name if ref else (item.partner_id or ""),
                    "partner_email": ref.email if ref else "",
                    "partner_phone": ref.phone if ref else "",
                    "partner_url": ref.url if ref else "",
                },
            )
        return self._changed(inp)

    @update_item.validator
    def _accept_item(self, inp: ItemUpdate) -> None:
        self._check_signed("update_item", inp)
        self._validate(rules.check_item, inp, strict=True)

    @workflow.update
    def waive_stage(self, inp: StageWaiver) -> CaseView:
        self._validate(rules.check_waiver, inp, strict=self.authz_v3)
        s = self.state
        now = workflow.now()
        record = s.record(inp.stage)
        record.waived = True
        record.waiver_reason = inp.reason.strip()
        record.waived_by = inp.actor.officer_id
        self.effects.event(
            "stage_waived", actor=inp.actor.officer_id, stage=inp.stage, text=inp.reason
        )
        if inp.stage == s.stage:
            record.completed_at = now
            rules.touch(s, now)
            self._advance(now)
        return self._changed(inp)

    @waive_stage.validator
    def _accept_waiver(self, inp: StageWaiver) -> None:
        self._check_signed("waive_stage", inp)
        self._validate(rules.check_waiver, inp, strict=True)

    @workflow.update
    def reassign(self, inp: Reassignment) -> CaseView:
        self._validate(rules.check_reassignment, inp, strict=self.authz_v3)
        s = self.state
        now = workflow.now()
        previous = s.officer_id
        s.officer_id = inp.new_officer.officer_id
        s.officer_region = inp.new_officer.region or s.approval.region
        # The new officer gets a full stall period to take the case in hand.
        rules.touch(s, now)
        self.effects.event(
            "reassigned",
            actor=inp.actor.officer_id,
            stage=s.stage,
            detail=f"{previous or 'unassigned'} -> {s.officer_id}",
        )
        self.effects.notify_staff("officer_assigned", Audience.OFFICER, {"reason": "reassigned"})
        if self.notices:
            self._notify_moved(previous, "reassigned")
        return self._changed(inp)

    def _notify_moved(self, previous: str | None, reason: str) -> None:
        """v7: the previous officer hears that the case is no longer theirs, and the newcomer
        meets the new officer (an officer moved to themselves changes nothing to say)."""
        s = self.state
        s.seek_officer, s.seek_on = False, None
        if previous == s.officer_id:
            return
        if previous:
            self.effects.notify_staff(
                "case_reassigned_away",
                Audience.OFFICER,
                {"reason": reason, "new_officer_id": s.officer_id or ""},
                officer_id=previous,
            )
        self._introduce_officer()

    @reassign.validator
    def _accept_reassignment(self, inp: Reassignment) -> None:
        self._check_signed("reassign", inp)
        self._validate(rules.check_reassignment, inp, strict=True)

    @workflow.update
    def transfer(self, inp: Transfer) -> CaseView:
        # New in v3: no history holds it, so no patch; its rules are the table's.
        self._validate(rules.check_transfer, inp, strict=True)
        s = self.state
        now = workflow.now()
        previous_region, previous_officer = s.approval.region, s.officer_id
        # The case's region is its approval's: search attribute, read model, who may act and
        # which supervisors are told all follow it from here on.
        s.approval.region = inp.new_region
        # The zone follows the region (or the transfer's own): due days stay the same days.
        rules.move_zone(s, inp.time_zone)
        s.officer_id = inp.new_officer.officer_id
        s.officer_region = inp.new_region
        rules.touch(s, now)
        self.effects.event(
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
            self.effects.notify_staff(
                "case_transferred", Audience.SUPERVISORS, context, region=region
            )
        self.effects.notify_staff("officer_assigned", Audience.OFFICER, {"reason": "transferred"})
        if self.notices:
            self._notify_moved(previous_officer, "transferred")
        return self._changed(inp)

    @transfer.validator
    def _accept_transfer(self, inp: Transfer) -> None:
        self._check_signed("transfer", inp)
        self._validate(rules.check_transfer, inp, strict=True)

    @workflow.update
    def pause(self, inp: PauseRequest) -> CaseView:
        self._validate(rules.check_pause, inp, strict=self.authz_v3)
        s = self.state
        rules.pause(s, inp, workflow.now())
        self.effects.event("paused", actor=inp.actor.officer_id, stage=s.stage, text=inp.reason)
        return self._changed(inp)

    @pause.validator
    def _accept_pause(self, inp: PauseRequest) -> None:
        self._check_signed("pause", inp)
        self._validate(rules.check_pause, inp, strict=True)

    @workflow.update
    def resume(self, inp: ResumeRequest) -> CaseView:
        self._validate(rules.check_resume, inp, strict=self.authz_v3)
        s = self.state
        paused_for = rules.resume(s, workflow.now())
        self.effects.event(
            "resumed",
            actor=inp.actor.officer_id,
            stage=s.stage,
            detail=f"paused {paused_for.days} days",
        )
        return self._changed(inp)

    @resume.validator
    def _accept_resume(self, inp: ResumeRequest) -> None:
        self._check_signed("resume", inp)
        self._validate(rules.check_resume, inp, strict=True)

    @workflow.update
    def withdraw(self, inp: Withdrawal) -> CaseView:
        self._validate(rules.check_withdrawal, inp, strict=self.authz_v3)
        s = self.state
        now = workflow.now()
        stage = s.stage
        rules.close(s, CaseStatus.WITHDRAWN, now, reason=inp.reason.strip())
        workflow.logger.info("case withdrawn")
        self.effects.event(
            "case_withdrawn",
            actor=inp.actor.officer_id if inp.actor is not None else inp.recorded_by,
            stage=stage,
            detail=inp.reason_category.value if self.authz_v3 else None,
            text=inp.reason,
        )
        self.effects.notify_newcomer(
            "case_withdrawn", {"dossier": s.approval.dossier, "reason": inp.reason.strip()}
        )
        self._cancel_meeting_on_close(inp.actor.officer_id if inp.actor else None, now)
        return self._changed(inp)

    @withdraw.validator
    def _accept_withdrawal(self, inp: Withdrawal) -> None:
        self._check_signed("withdraw", inp)
        self._validate(rules.check_withdrawal, inp, strict=True)

    @workflow.update
    def book_meeting(self, inp: MeetingBooking) -> CaseView:
        # New in issue 16: no history holds it, so no patch; its rules are the table's.
        self._validate(rules.check_meeting, inp, strict=True)
        s = self.state
        now = workflow.now()
        # One UID per case and period (a reopened case books its own first meeting).
        period = s.period
        uid = f"{workflow.info().workflow_id}.{period}.first-meeting@parcours"
        kind = rules.book_meeting(s, inp, now, uid)
        m = s.meeting
        assert m is not None
        # The moment in the case's zone (the journal reads it as the case's local time).
        local = m.at.astimezone(rules.case_zone(s)).isoformat()
        detail = f"{local} seq={m.sequence}" + (" late" if m.late else "")
        self.effects.event(
            kind,
            actor=inp.actor.officer_id,
            stage=s.stage,
            detail=detail,
            text=None if m.cancelled else (m.place or m.video_url),
        )
        self.effects.notify_newcomer(kind, self._meeting_context(m))
        return self._changed(inp)

    @book_meeting.validator
    def _accept_meeting(self, inp: MeetingBooking) -> None:
        self._check_signed("book_meeting", inp)
        self._validate(rules.check_meeting, inp, strict=True)

    def _cancel_meeting_on_close(self, actor: str | None, now: datetime) -> None:
        """A case closed with a meeting still booked: the newcomer's calendar gets the
        CANCEL. Only a case with a booked meeting (issue 16) takes this path: no patch."""
        m = self.state.meeting
        if m is None or m.cancelled or m.at <= now:
            return
        m.cancelled = True
        m.sequence += 1
        local = m.at.astimezone(rules.case_zone(self.state)).isoformat()
        self.effects.event(rules.MEETING_CANCELLED, actor=actor, detail=f"{local} seq={m.sequence}")
        # The case is closing: no one will call to set a new time (the email says so). Only
        # the activity's input changes: replay compares an activity's id and type, not it.
        context = {**self._meeting_context(m), "case_closed": True}
        self.effects.notify_newcomer(rules.MEETING_CANCELLED, context)

    def _meeting_context(self, m: Meeting) -> dict[str, object]:
        """What the meeting's emails say, and what their invitation (.ics) is made of
        (infrastructure/mail/ical.py): plain JSON values."""
        return {
            "uid": m.uid,
            "at": m.at.isoformat(),
            "place": m.place,
            "video_url": m.video_url,
            "sequence": m.sequence,
            "cancelled": m.cancelled,
        }

    @workflow.update
    def newcomer_reply(self, inp: NewcomerReply) -> CaseView:
        # New with issue 16: no history holds it, so no patch; always the current rules.
        now = workflow.now()
        self._validate_reply(inp, now)
        s = self.state
        stage = s.stage
        if inp.choice == ReplyChoice.DECLINE:
            # The same closing as a staff decline, recorded as the newcomer's own act.
            self._close_declined(NEWCOMER_ACTOR, ReasonCategory.DECLINED_SERVICES, inp.note, now)
        else:
            detail = inp.choice.value
            if inp.choice == ReplyChoice.LATER:
                assert inp.until is not None
                rules.wait(s, date.fromisoformat(inp.until), now)
                detail = f"later {s.waiting_on}"
            elif s.status == CaseStatus.WAITING:
                # "I will use the service" while waiting: the newcomer is back now.
                rules.resume(s, now)
            self.effects.event("newcomer_replied", actor=NEWCOMER_ACTOR, stage=stage, detail=detail)
        self._notify_reply(inp.choice, s.waiting_on)
        return self._changed(inp)

    @newcomer_reply.validator
    def _accept_newcomer_reply(self, inp: NewcomerReply) -> None:
        self._check_signed("newcomer_reply", inp)
        self._validate_reply(inp, workflow.now())

    def _validate_reply(self, inp: NewcomerReply, now: datetime) -> None:
        try:
            rules.check_newcomer_reply(self.state, inp, opened=self.opened, now=now)
        except rules.Rejected as err:
            raise _reject(err.message) from None

    def _notify_reply(self, choice: ReplyChoice, day: str | None, *, ended: bool = False) -> None:
        """The officer hears of the newcomer's answer (the region's supervisors while the case
        has none), and of a wait that has ended."""
        s = self.state
        self.effects.notify_staff(
            "newcomer_replied",
            Audience.OFFICER if s.officer_id else Audience.SUPERVISORS,
            {"choice": choice.value, "until": day or "", "ended": ended},
        )

    @workflow.update
    def decline(self, inp: Decline) -> CaseView:
        # New in issue 16: no history holds it, so no patch; always the table's rules.
        self._validate(rules.check_decline, inp, strict=True)
        actor = inp.actor.officer_id if inp.actor is not None else NEWCOMER_ACTOR
        self._close_declined(actor, inp.reason_category, inp.note, workflow.now())
        return self._changed(inp)

    def _close_declined(
        self, actor: str, category: ReasonCategory, note: str, now: datetime
    ) -> None:
        """Close the case as declined (staff's `decline`, or the newcomer's own answer): the
        audit row, the newcomer's email saying how to come back, and a booked meeting
        cancelled."""
        s = self.state
        stage = s.stage
        rules.close(s, CaseStatus.DECLINED, now, reason=note.strip())
        s.close_category = category.value
        workflow.logger.info("case declined")
        self.effects.event(
            "case_declined",
            actor=actor,
            stage=stage,
            detail=category.value,
            text=note.strip() or None,
        )
        self._cancel_meeting_on_close(actor, now)
        self.effects.notify_newcomer("case_declined", {"dossier": s.approval.dossier})

    @decline.validator
    def _accept_decline(self, inp: Decline) -> None:
        self._check_signed("decline", inp)
        self._validate(rules.check_decline, inp, strict=True)

    @workflow.query
    def view(self, inp: CaseQuery) -> CaseView:
        v = view_of(self.state, include_plan=inp.include_plan)
        if not self.opened:
            v.pending_effects += 1  # the case is still being registered
        return v

    @workflow.query(name="case_file")
    def case_file(self, inp: CaseQuery) -> CaseFile:
        """The view and the state: the console decides its forms with the validators.
        A query issues no command: adding it changes no history."""
        return CaseFile(view=self.view(inp), state=self.state)

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
        if s.meeting is not None:
            # Only once a meeting is booked (issue 16): older histories upsert as they did.
            values[search.MEETING_LATE.name] = rules.meeting_flagged(s)
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
        if search.MEETING_LATE.name in values:
            updates.append(search.MEETING_LATE.value_set(bool(values[search.MEETING_LATE.name])))
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


__all__ = [
    "MAIL_GIVE_UP_AFTER",
    "PATCHES",
    "NewcomerPathway",
    "workflow_id_for",
]
