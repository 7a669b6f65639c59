"""The pathway's vocabulary: stages, statuses, roles, and every message that crosses Temporal.

This module is imported by workflow code (passed through the sandbox), so it must stay
deterministic and light: dataclasses, enums and pure functions over them, nothing else.

Every workflow, activity, update and query takes one dataclass and returns one; fields added
later must have defaults so that running cases (and committed histories) still decode.

Annotations are evaluated at import (no `from __future__ import annotations`): the SDK's data
converter calls `typing.get_type_hints` on a dataclass every time it decodes one, and string
annotations made it evaluate each of them again (3% of the worker's CPU on the intake
benchmark). The two forward references below stay quoted.
"""

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from parcours.kernel.calendar import due_day, legacy_due_day
from parcours.kernel.timezones import EASTERN, zone, zone_name


class Stage(StrEnum):
    ARRIVAL = "arrival"
    FRANCIZATION = "francization"
    EMPLOYMENT = "employment"
    COMMUNITY = "community"


STAGES: tuple[Stage, ...] = (
    Stage.ARRIVAL,
    Stage.FRANCIZATION,
    Stage.EMPLOYMENT,
    Stage.COMMUNITY,
)


def next_stage(stage: Stage) -> Stage | None:
    i = STAGES.index(stage)
    return STAGES[i + 1] if i + 1 < len(STAGES) else None


class CaseStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    COMPLETED = "completed"
    WITHDRAWN = "withdrawn"
    # The newcomer declined the services before the plan was filed (issue 16): a normal end,
    # distinct from a withdrawal, and reopenable like one.
    DECLINED = "declined"
    # The newcomer asked to be contacted later (their own act through their link, not a
    # staff pause): the clocks stop until the day they gave, then the case resumes by itself.
    WAITING = "waiting"


OPEN_STATUSES = (CaseStatus.ACTIVE, CaseStatus.PAUSED, CaseStatus.WAITING)
CLOSED_STATUSES = (CaseStatus.COMPLETED, CaseStatus.WITHDRAWN, CaseStatus.DECLINED)
# What `parcours reopen` may bring back under the same dossier number.
REOPENABLE_STATUSES = (CaseStatus.DECLINED, CaseStatus.WITHDRAWN)


class Role(StrEnum):
    OFFICER = "officer"
    SUPERVISOR = "supervisor"
    DIRECTOR = "director"


class GreetingOutcome(StrEnum):
    GREETED = "greeted"
    DECLINED = "declined"
    NO_SHOW = "no_show"
    # Late enrolment: the newcomer had arrived before the case was opened.
    NOT_APPLICABLE = "not_applicable"


# The 17 administrative regions of Quebec, as slugs.
REGIONS: tuple[str, ...] = (
    "bas-saint-laurent",
    "saguenay-lac-saint-jean",
    "capitale-nationale",
    "mauricie",
    "estrie",
    "montreal",
    "outaouais",
    "abitibi-temiscamingue",
    "cote-nord",
    "nord-du-quebec",
    "gaspesie-iles-de-la-madeleine",
    "chaudiere-appalaches",
    "laval",
    "lanaudiere",
    "laurentides",
    "monteregie",
    "centre-du-quebec",
)

# Their official names, which are proper nouns: the same in French and in English.
REGION_NAMES = {
    "bas-saint-laurent": "Bas-Saint-Laurent",
    "saguenay-lac-saint-jean": "Saguenay–Lac-Saint-Jean",
    "capitale-nationale": "Capitale-Nationale",
    "mauricie": "Mauricie",
    "estrie": "Estrie",
    "montreal": "Montréal",
    "outaouais": "Outaouais",
    "abitibi-temiscamingue": "Abitibi-Témiscamingue",
    "cote-nord": "Côte-Nord",
    "nord-du-quebec": "Nord-du-Québec",
    "gaspesie-iles-de-la-madeleine": "Gaspésie–Îles-de-la-Madeleine",
    "chaudiere-appalaches": "Chaudière-Appalaches",
    "laval": "Laval",
    "lanaudiere": "Lanaudière",
    "laurentides": "Laurentides",
    "monteregie": "Montérégie",
    "centre-du-quebec": "Centre-du-Québec",
}


def region_name(slug: str | None) -> str:
    """« Montréal » for "montreal"; an unknown slug as it is."""
    return REGION_NAMES.get(slug or "", slug or "")


DOSSIER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
OFFICER_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
# A partner organisation's id in the directory (the `partners` table): a slug, like an officer's.
PARTNER_ID_RE = OFFICER_ID_RE
EMAIL_RE = re.compile(r"^[^@\s<>\"',;]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
LANGUAGE_RE = re.compile(r"^[a-z]{2}$")
IATA_RE = re.compile(r"^[A-Z]{3}$")

WORKFLOW_ID_PREFIX = "newcomer-"

# See CaseInput.continue_as_new_after_events.
HISTORY_EVENT_BUDGET = 1000

# The rejection an officer's action gets in the moment between a case's start and its
# officer's assignment (`register_case`). Interfaces retry it for a few seconds rather than
# show it: a script that starts a case and acts on it at once would otherwise trip on it.
# It is a refusal code (kernel/messages.py): interfaces compare the code, never a text.
STILL_OPENING = "still_opening"


def workflow_id_for(dossier: str) -> str:
    """The workflow id of a dossier: the only key of a case, and free of personal data."""
    return f"{WORKFLOW_ID_PREFIX}{dossier}"


def dossier_of(workflow_id: str) -> str:
    return workflow_id.removeprefix(WORKFLOW_ID_PREFIX)


# --------------------------------------------------------------------------------------------
# Policy: the clocks of each stage, in seconds, snapshotted into every case at its start.
# --------------------------------------------------------------------------------------------


@dataclass
class StagePolicy:
    deadline: int
    remind_after: int
    escalate_after: int
    escalate_again_after: int

    def threshold(self, level: int) -> int:
        """Seconds of silence after which the case reaches escalation `level` (1-3)."""
        return (self.remind_after, self.escalate_after, self.escalate_again_after)[level - 1]


@dataclass
class PolicySnapshot:
    arrival: StagePolicy
    francization: StagePolicy
    employment: StagePolicy
    community: StagePolicy
    name: str = "default"
    # The first meeting, which produces the action plan, is due within this many working days
    # of arrival.
    plan_due_working_days: int = 5

    def for_stage(self, stage: Stage) -> StagePolicy:
        policy: StagePolicy = getattr(self, stage.value)
        return policy


# --------------------------------------------------------------------------------------------
# Intake
# --------------------------------------------------------------------------------------------

# Field metadata for a field added later to a dataclass that a signed input nests (the approval
# of a start): the signature covers it only when it holds something else than its default
# (parcours/infrastructure/signing.py), so that interfaces and workers a release apart agree.
SIGNED = "signed"
UNLESS_DEFAULT = "unless-default"


@dataclass
class NewcomerApproval:
    """A visa approval as handed over by the operators: the case's personal data.

    None of these fields ever goes into a workflow id, a search attribute or a log line.
    """

    dossier: str
    full_name: str
    email: str
    arrival_date: str  # ISO date, YYYY-MM-DD
    region: str
    phone: str | None = None
    language: str = "fr"
    airport: str = "YUL"
    french_level: int | None = None
    occupation: str | None = None
    regulated_profession: bool = False
    household_size: int = 1
    # The case's time zone when its region's is wrong for it (the Magdalen Islands are on
    # Atlantic time, the rest of their region on Eastern): one of kernel/timezones.ZONES.
    # None: the region's (timezones.zone_name). Added in v5: signed only when set, so that a
    # start signed by an interface a release older or newer still verifies
    # (infrastructure/signing.py, UNLESS_DEFAULT).
    time_zone: str | None = field(default=None, metadata={SIGNED: UNLESS_DEFAULT})


class ItemStatus(StrEnum):
    """Where a plan item stands (issue 16): planned -> referred -> in_progress -> done, or
    abandoned (with a reason) from any step before done."""

    PLANNED = "planned"
    REFERRED = "referred"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    ABANDONED = "abandoned"


# An item in one of these needs nothing more: approving its stage needs no note for it.
FINISHED_ITEM_STATUSES = (ItemStatus.DONE, ItemStatus.ABANDONED)

# The fields below were added to PlanItem in v6: signed only when set (a plan filed by an
# interface a release apart still verifies, infrastructure/signing.py UNLESS_DEFAULT).
_V6 = {SIGNED: UNLESS_DEFAULT}


@dataclass
class PlanItem:
    stage: Stage
    text: str
    # Stable within the case ("i1", "i2"...), given when the plan is filed; items recorded
    # before v6 get theirs by position (rules.number_items). A refiled plan that keeps an id
    # keeps that item's status, partner and dates.
    id: str = field(default="", metadata=_V6)
    status: ItemStatus = field(default=ItemStatus.PLANNED, metadata=_V6)
    # The partner organisation (the `partners` directory's id) the newcomer was referred to.
    partner_id: str | None = field(default=None, metadata=_V6)
    # Local days (ISO dates, the case's zone) of each step.
    referred_on: str | None = field(default=None, metadata=_V6)
    started_on: str | None = field(default=None, metadata=_V6)
    done_on: str | None = field(default=None, metadata=_V6)
    abandoned_on: str | None = field(default=None, metadata=_V6)
    # Personal data (free text): kept in the state and the audit trail, never logged.
    abandoned_reason: str | None = field(default=None, metadata=_V6)

    @property
    def finished(self) -> bool:
        return self.status in FINISHED_ITEM_STATUSES


@dataclass
class PartnerRef:
    """A partner organisation as the directory had it when the newcomer was referred: the
    contact details their email gives (the workflow never reads the directory)."""

    partner_id: str
    name: str
    email: str = ""
    phone: str = ""
    url: str = ""


@dataclass
class StageRecord:
    stage: Stage
    started_at: datetime | None = None
    completed_at: datetime | None = None
    approved_by: str | None = None
    waived: bool = False
    waiver_reason: str | None = None
    waived_by: str | None = None
    deadline_at: datetime | None = None


@dataclass
class Effect:
    """One side effect to carry out: exactly one of the fields is set."""

    event: "CaseEvent | None" = None
    notification: "Notification | None" = None

    @property
    def key(self) -> str:
        if self.event is not None:
            return self.event.key
        assert self.notification is not None
        return self.notification.key


@dataclass
class Meeting:
    """The newcomer's first meeting, as booked (issue 16). Its invitation's UID stays the same
    through reschedules (SEQUENCE goes up) and its cancellation, so a calendar updates the one
    event. Personal data: `place` and `video_url` never go into a log line or a search
    attribute."""

    uid: str
    at: datetime
    place: str = ""
    video_url: str = ""
    # iCalendar SEQUENCE: 0 when booked, +1 at each reschedule and at the cancellation.
    sequence: int = 0
    cancelled: bool = False
    booked_by: str | None = None
    booked_at: datetime | None = None
    # Set on a day after the plan's due day (the 5th working day): allowed, but flagged.
    late: bool = False
    # The reminder (one working day before) has gone out, or was not needed.
    reminded: bool = False


@dataclass
class SeenSignature:
    mac: str
    issued_at: datetime


@dataclass
class CaseState:
    """Everything a case knows. Carried whole through continue-as-new."""

    approval: NewcomerApproval
    policy: PolicySnapshot
    status: CaseStatus = CaseStatus.ACTIVE
    stage: Stage | None = Stage.ARRIVAL
    officer_id: str | None = None
    # Region of the assigned officer: level-2 escalations go to that region's supervisors.
    officer_region: str | None = None
    stages: list[StageRecord] = field(default_factory=list)
    plan: list[PlanItem] = field(default_factory=list)
    plan_filed_at: datetime | None = None
    plan_filed_by: str | None = None
    plan_revision: int = 0
    plan_due_at: datetime | None = None
    greeting: GreetingOutcome | None = None
    greeting_recorded_by: str | None = None
    greeting_recorded_at: datetime | None = None
    escalation_level: int = 0
    # The stall clock: last officer activity in the current stage (stage entry counts; for
    # arrival, never earlier than the arrival day).
    clock_anchor: datetime | None = None
    overdue: bool = False
    # Set by the alarm when the current stage's deadline passes; with a late plan in arrival,
    # the only reasons for `overdue`. Handlers never read the clock to set either.
    deadline_passed: bool = False
    paused_at: datetime | None = None
    paused_by: str | None = None
    pause_reason: str | None = None
    notes_count: int = 0
    last_activity_at: datetime | None = None
    started_at: datetime | None = None
    closed_at: datetime | None = None
    close_reason: str | None = None
    # Business-step counter: with the workflow id it keys every side effect (audit rows,
    # emails), so retries are idempotent and continue-as-new never reuses a key.
    step: int = 0
    runs: int = 1
    # Side effects decided but not yet confirmed done, in order. Handlers only decide; the
    # workflow's main loop runs them as activities, so an update answers at once even while
    # the database or the mail server is down.
    pending: list[Effect] = field(default_factory=list)
    # The signatures of the actions taken within the last few minutes (v3): a signed action
    # copied and sent again while still fresh is refused (parcours/infrastructure/signing.py).
    signatures_seen: list["SeenSignature"] = field(default_factory=list)
    # v5: days are the case's local days (its time zone, kernel/timezones.py): a deadline
    # falls at the end of its due day, 00:00 local of the next one. False: the run was written
    # before (a day then started at 05:00 UTC, kernel/calendar.py). Set by the workflow from
    # its patch at every run's start.
    local_days: bool = False
    # v8: opened by code that has every patch up to OPENING_IN_ONE_TASK (workflows/pathway.py):
    # those hold without being asked again, in this run and those it continues as (no marker,
    # no search-attribute update each). False: opened before, each patch is asked as it was.
    implied_patches: bool = False
    # v9: the audit events its clocks decide (escalations, overdue stages, the end of a wait)
    # are recorded by a local activity in the workflow task the alarm woke
    # (workflows/pathway.py ALARM_EVENTS_LOCAL). Set at the opening, from its patch, and
    # carried: False for a case opened before.
    local_alarm_events: bool = False
    # v10: the emails its first opening and its clocks decide are sent from the worker in the
    # workflow task that decided them, falling back to an activity task
    # (workflows/pathway.py MAIL_IN_TASK). Set at the opening, from its patch, and carried.
    local_mail: bool = False
    # The first meeting, once booked (issue 16).
    meeting: Meeting | None = None
    # v6: the highest plan item number given so far ("i7": 7), so that an id never names two
    # items, even after a refiled plan dropped one (rules.number_items).
    item_seq: int = 0
    # Status WAITING (the newcomer asked to be contacted later, through their link): the
    # local day they gave and the moment it starts, when the case resumes by itself. The
    # clocks stop meanwhile, from `paused_at`, as in a pause (kernel/rules.py `wait`).
    waiting_until: datetime | None = None
    waiting_on: str | None = None
    # Why a case closed early, as a reason category (issue 16: a decline; "" or None before).
    close_category: str | None = None
    # Periods of the case under its dossier: 1, then one more each time it is reopened (a new
    # run of the same workflow id, which carries `step` on so effect keys never repeat).
    period: int = 1
    # Issue 17, unassigned cases: ask the read model for an officer at the next turn of the
    # main loop (set at the opening and by the `roster_changed` signal), and the moment to ask
    # again by itself (the local midnight when the first absent officer of the region is back).
    seek_officer: bool = False
    seek_on: datetime | None = None

    def record(self, stage: Stage) -> StageRecord:
        return next(r for r in self.stages if r.stage == stage)

    @property
    def time_zone(self) -> str:
        """The IANA name of the case's zone: its approval's override, else its region's."""
        return zone_name(self.approval.region, self.approval.time_zone)

    def due_on(self, due_at: datetime | None) -> str | None:
        """The local day (ISO date) a deadline of this case closes: what people read as "due
        on"; the case turns overdue when that day has passed."""
        if due_at is None:
            return None
        if not self.local_days:
            return legacy_due_day(due_at).isoformat()
        return due_day(due_at, zone(self.approval.region, self.approval.time_zone)).isoformat()

    @property
    def stalled_since(self) -> datetime | None:
        return self.clock_anchor if self.escalation_level > 0 else None


@dataclass
class Signature:
    """Proof that an update comes from an interface holding the signing key (signing.py):
    an HMAC over the workflow id, the update's name, the actor, a digest of the update's other
    fields and `issued_at`. Checked by validators only, so history replays without the key."""

    key_id: str
    issued_at: datetime
    mac: str  # hex
    # The input's fields the digest covers, as the signing interface knew them: a worker that
    # has since gained a field (at its default) still verifies an older interface's action.
    fields: list[str] = field(default_factory=list)


@dataclass
class CaseInput:
    """The workflow's single input: a new case, or a case carried over by continue-as-new."""

    approval: NewcomerApproval
    policy: PolicySnapshot
    state: CaseState | None = None
    # Continue-as-new once a run's history passes this many events, or sooner when the
    # server suggests it (0: only then). Replay time grows with a run's events, and a worker
    # replays a case each time it takes it back after the cache pushed it out: at 1,500 the
    # bench's longest run took 0.9 s warm and 1.6 s cold to replay (2026-12-01, ~1,700
    # events/s); 1,000 is about a year and a half of weekly check-ins. The value travels in
    # the input, so running cases keep the budget they started with (no patch needed).
    # Tests set it low to force a continue-as-new.
    continue_as_new_after_events: int = HISTORY_EVENT_BUDGET
    # Proof that an interface holding the signing key started this case (infrastructure/signing.py
    # `Signer.sign_start`, over the workflow id, approval, policy and issue time). Checked by
    # register_case, whose result is in history, never by workflow code: replay needs no key.
    # Continue-as-new runs carry none (they are started by the case itself, with a state).
    signature: Signature | None = None
    # Set when this run reopens a declined or withdrawn case (a new run of the same workflow
    # id): what it carries on from the closed run. Covered by the start's signature.
    reopening: "Reopening | None" = None


# --------------------------------------------------------------------------------------------
# People's actions (update inputs). The interface (CLI, web) authenticates the person and
# resolves them from the roster into an Actor; the workflow checks the claims against the
# case (assigned officer, region) synchronously in its validators.
# --------------------------------------------------------------------------------------------


@dataclass
class Actor:
    officer_id: str
    role: Role = Role.OFFICER
    region: str | None = None
    active: bool = True


class WithdrawalReason(StrEnum):
    DECLINED_SERVICES = "declined_services"
    LEFT_QUEBEC = "left_quebec"
    LEFT_CANADA = "left_canada"
    UNREACHABLE = "unreachable"
    OTHER = "other"


# One list of reasons for closing a case early, whether withdrawn or declined (issue 16).
ReasonCategory = WithdrawalReason


# Every update input below ends with `signature` (default None: histories recorded before
# signatures decode as they are); the interfaces sign through infrastructure/temporal.py's client.


@dataclass
class GreetingReport:
    actor: Actor
    outcome: GreetingOutcome = GreetingOutcome.GREETED
    signature: Signature | None = None


@dataclass
class PlanFiling:
    actor: Actor
    items: list[PlanItem] = field(default_factory=list)
    signature: Signature | None = None


@dataclass
class ProgressNote:
    actor: Actor
    note: str
    signature: Signature | None = None


@dataclass
class StageApproval:
    actor: Actor
    stage: Stage
    note: str = ""
    signature: Signature | None = None


@dataclass
class StageWaiver:
    actor: Actor
    stage: Stage
    reason: str
    signature: Signature | None = None


@dataclass
class Reassignment:
    actor: Actor
    new_officer: Actor
    signature: Signature | None = None


@dataclass
class Transfer:
    """A director moves the case to another region and its officer there."""

    actor: Actor
    new_region: str
    new_officer: Actor
    note: str = ""
    signature: Signature | None = None
    # The case's zone in its new region when not the region's (America/Halifax: a move to the
    # Magdalen Islands). None: the new region's; a transfer never keeps the old override.
    time_zone: str | None = None


@dataclass
class PauseRequest:
    actor: Actor
    reason: str
    signature: Signature | None = None


@dataclass
class ResumeRequest:
    actor: Actor
    signature: Signature | None = None


@dataclass
class Withdrawal:
    reason: str
    # Histories before v3 name only who recorded it (default "operator"); from v3 the person
    # acting is an Actor the workflow checks, with a reason category.
    recorded_by: str = "operator"
    actor: Actor | None = None
    reason_category: WithdrawalReason = WithdrawalReason.OTHER
    signature: Signature | None = None


class ReplyChoice(StrEnum):
    """What a newcomer may answer through their personal link (issue 16)."""

    USE = "use"
    DECLINE = "decline"
    LATER = "later"


# Who the audit trail names for the newcomer's own acts (never their name).
NEWCOMER_ACTOR = "newcomer"


@dataclass
class NewcomerReply:
    """The newcomer's own answer, through their personal link (`/n/<token>`). No Actor: the
    newcomer is no staff member; the web checks the link, then signs this like any update,
    and the workflow's validator checks that signature (kernel/rules.py check_newcomer_reply).
    `until`: with LATER, the local day (ISO date) to be contacted again. `note`: with DECLINE,
    why (optional; personal data). `link_id`: which link it came through (no personal data)."""

    choice: ReplyChoice = ReplyChoice.USE
    until: str | None = None
    note: str = ""
    link_id: str = ""
    signature: Signature | None = None


@dataclass
class MeetingBooking:
    """Book the first meeting, move it (a new `at`, place or link) or cancel it. Times are
    aware datetimes; the interfaces read them in the case's zone."""

    actor: Actor
    at: datetime | None = None
    place: str = ""
    video_url: str = ""
    cancel: bool = False
    signature: Signature | None = None


@dataclass
class ItemUpdate:
    """A plan item moves (issue 16): referred to a partner, in progress, done, or abandoned
    (with a reason). `partner` is the directory's entry at the time, for the newcomer's email
    (the workflow never reads the directory); personal data, never logged."""

    actor: Actor
    item_id: str
    status: ItemStatus
    partner_id: str | None = None
    partner: PartnerRef | None = None
    reason: str = ""
    signature: Signature | None = None


@dataclass
class Decline:
    """The newcomer declines the services before the plan is filed (issue 16): the case closes
    as declined. Recorded by staff (`actor`), or the newcomer's own act through their link
    (`by_newcomer`, no actor; the web signs it after checking the link)."""

    actor: Actor | None = None
    reason_category: WithdrawalReason = WithdrawalReason.DECLINED_SERVICES
    note: str = ""
    by_newcomer: bool = False
    signature: Signature | None = None


@dataclass
class Reopening:
    """What a reopening run carries on from the closed run of its dossier (CaseInput)."""

    actor: Actor
    note: str = ""
    previous_run_id: str = ""
    # The new run's period (the closed run's + 1) and the closed run's business step.
    period: int = 2
    step: int = 0
    # The closed run's officer (the table is checked against it) and airport greeting.
    officer_id: str | None = None
    greeting: GreetingOutcome | None = None
    previous_status: str = ""


@dataclass
class CaseQuery:
    """Query input (kept as a dataclass so fields can be added)."""

    include_plan: bool = True


@dataclass
class StageView:
    stage: Stage
    started_at: datetime | None = None
    completed_at: datetime | None = None
    approved_by: str | None = None
    waived: bool = False
    waiver_reason: str | None = None
    deadline_at: datetime | None = None
    # The local day (ISO date) the stage is due: `deadline_at` is the end of that day.
    due_on: str | None = None


@dataclass
class CaseView:
    """What a query or an update answers: the case as officers and supervisors see it."""

    dossier: str
    status: CaseStatus
    stage: Stage | None
    officer: str | None
    region: str
    language: str
    arrival_date: str
    escalation_level: int
    stalled_since: datetime | None
    overdue: bool
    plan: list[PlanItem]
    plan_revision: int
    plan_due_at: datetime | None
    greeting: GreetingOutcome | None
    stages: list[StageView]
    paused_at: datetime | None = None
    pause_reason: str | None = None
    notes_count: int = 0
    last_activity_at: datetime | None = None
    started_at: datetime | None = None
    closed_at: datetime | None = None
    close_reason: str | None = None
    runs: int = 1
    # Audit rows and emails decided but not yet carried out (a backlog means the database or
    # the mail server is unreachable).
    pending_effects: int = 0
    # The case's time zone (IANA name): the one its dates and times are read in.
    time_zone: str = EASTERN
    # The local day (ISO date) the plan is due: `plan_due_at` is the end of that day.
    plan_due_on: str | None = None
    # The first meeting, once booked (issue 16).
    meeting: Meeting | None = None
    # Status WAITING: the local day (ISO date) the newcomer asked to be contacted again.
    waiting_on: str | None = None

    def to_json(self) -> dict[str, object]:
        """The public JSON shape of `parcours status --json` and the web API."""

        def iso(d: datetime | None) -> str | None:
            return d.isoformat() if d else None

        return {
            "dossier": self.dossier,
            "status": self.status.value,
            "stage": self.stage.value if self.stage else None,
            "officer": self.officer,
            "region": self.region,
            "language": self.language,
            "arrival_date": self.arrival_date,
            "escalation_level": self.escalation_level,
            "stalled_since": iso(self.stalled_since),
            "overdue": self.overdue,
            "plan": [plan_item_json(i) for i in self.plan],
            "plan_revision": self.plan_revision,
            "plan_due_at": iso(self.plan_due_at),
            "plan_due_on": self.plan_due_on,
            "time_zone": self.time_zone,
            "greeting": self.greeting.value if self.greeting else None,
            "stages": [
                {
                    "stage": s.stage.value,
                    "started_at": iso(s.started_at),
                    "completed_at": iso(s.completed_at),
                    "approved_by": s.approved_by,
                    "waived": s.waived,
                    "waiver_reason": s.waiver_reason,
                    "deadline_at": iso(s.deadline_at),
                    "due_on": s.due_on,
                }
                for s in self.stages
            ],
            "paused_at": iso(self.paused_at),
            "pause_reason": self.pause_reason,
            "waiting_on": self.waiting_on,
            "notes_count": self.notes_count,
            "last_activity_at": iso(self.last_activity_at),
            "started_at": iso(self.started_at),
            "closed_at": iso(self.closed_at),
            "close_reason": self.close_reason,
            "pending_effects": self.pending_effects,
            "meeting": None
            if self.meeting is None
            else {
                "at": iso(self.meeting.at),
                "place": self.meeting.place,
                "video_url": self.meeting.video_url,
                "sequence": self.meeting.sequence,
                "cancelled": self.meeting.cancelled,
                "late": self.meeting.late,
                "booked_by": self.meeting.booked_by,
            },
        }


def plan_item_json(i: PlanItem) -> dict[str, object]:
    return {
        "id": i.id,
        "stage": i.stage.value,
        "text": i.text,
        "status": i.status.value,
        "partner_id": i.partner_id,
        "referred_on": i.referred_on,
        "started_on": i.started_on,
        "done_on": i.done_on,
        "abandoned_on": i.abandoned_on,
        "abandoned_reason": i.abandoned_reason,
    }


@dataclass
class CaseFile:
    """What the console's case page reads in one query: the view, and the state itself, so
    that the page offers only the actions the workflow's validators (kernel/rules.py) would
    accept now, and shows the newcomer's contact data and profile (`state.approval`).
    Personal data: travels in encrypted payloads only, never logged."""

    view: CaseView
    state: CaseState


def view_of(state: CaseState, include_plan: bool = True) -> CaseView:
    a = state.approval
    return CaseView(
        dossier=a.dossier,
        status=state.status,
        stage=state.stage,
        officer=state.officer_id,
        region=a.region,
        language=a.language,
        arrival_date=a.arrival_date,
        escalation_level=state.escalation_level,
        stalled_since=state.stalled_since,
        overdue=state.overdue,
        plan=list(state.plan) if include_plan else [],
        plan_revision=state.plan_revision,
        plan_due_at=state.plan_due_at,
        greeting=state.greeting,
        stages=[
            StageView(
                stage=r.stage,
                started_at=r.started_at,
                completed_at=r.completed_at,
                approved_by=r.approved_by,
                waived=r.waived,
                waiver_reason=r.waiver_reason,
                deadline_at=r.deadline_at,
                due_on=state.due_on(r.deadline_at),
            )
            for r in state.stages
        ],
        paused_at=state.paused_at,
        pause_reason=state.pause_reason,
        notes_count=state.notes_count,
        last_activity_at=state.last_activity_at,
        started_at=state.started_at,
        closed_at=state.closed_at,
        close_reason=state.close_reason,
        runs=state.runs,
        pending_effects=len(state.pending),
        time_zone=state.time_zone,
        plan_due_on=state.due_on(state.plan_due_at),
        meeting=state.meeting,
        waiting_on=state.waiting_on,
    )


# --------------------------------------------------------------------------------------------
# Activity messages
# --------------------------------------------------------------------------------------------


@dataclass
class CaseSnapshot:
    """The read model's projection of a case, written with every audit event."""

    dossier: str
    region: str
    language: str
    arrival_date: str
    status: CaseStatus
    stage: Stage | None
    officer_id: str | None
    escalation_level: int
    stalled_since: datetime | None
    overdue: bool
    stage_started_at: datetime | None
    last_activity_at: datetime | None
    started_at: datetime | None
    closed_at: datetime | None


@dataclass
class RegisterCase:
    """Open (or find) the case in the read model and pick its officer."""

    workflow_id: str
    approval: NewcomerApproval
    snapshot: CaseSnapshot
    # What the start's signature covers, and when the Temporal server accepted the start
    # (`workflow.info().workflow_start_time`, the WorkflowExecutionStarted event's time, not
    # when a worker got to it). Scheduled by runs started before signed starts: all None, and
    # such a case is already registered (or being registered by that same run).
    policy: PolicySnapshot | None = None
    signature: Signature | None = None
    start_accepted_at: datetime | None = None
    # A reopening's start (issue 16): the case row exists and is closed; its signature covers it.
    reopening: Reopening | None = None


@dataclass
class Assignment:
    officer_id: str | None
    # True when no officer of the region could take the case.
    unassigned: bool = False
    # find_officer only, when nobody can take the case: the first local day (ISO) an officer
    # of the region now on leave is back, when the case asks again by itself ("" : nobody).
    retry_on: str = ""


@dataclass
class OfficerWanted:
    """find_officer's input: who of the case's region can take it on `day` (the case's local
    day, by workflow time), by the intake rule (kernel/assignment.py)."""

    workflow_id: str
    region: str
    language: str = "fr"
    day: str = ""


@dataclass
class RosterChanged:
    """The `roster_changed` signal: the roster of `region` changed (an officer added, updated,
    back from leave). An unassigned case then asks the read model who may take it. It carries
    no authority (it grants nothing the intake rule would not), so it is not signed."""

    region: str = ""


@dataclass
class CaseEvent:
    """One line of the audit trail, with the projection it leaves behind.

    `key` (workflow id + business step) makes the write idempotent.
    """

    key: str
    workflow_id: str
    kind: str
    at: datetime
    snapshot: CaseSnapshot
    actor: str | None = None
    stage: Stage | None = None
    detail: str | None = None
    # Free text (notes, reasons): personal data; kept in the audit table, never logged.
    text: str | None = None


@dataclass
class EventRecorded:
    key: str
    duplicate: bool = False


@dataclass
class EventBatch:
    """The audit events one workflow task decided, recorded in one transaction (v2)."""

    events: list[CaseEvent] = field(default_factory=list)


@dataclass
class EventBatchRecorded:
    recorded: int = 0
    # Keys an earlier attempt had already recorded.
    duplicates: list[str] = field(default_factory=list)
    # Keys that can never be recorded (invalid, or refused by the read model); the others were.
    refused: list[str] = field(default_factory=list)


class Audience(StrEnum):
    NEWCOMER = "newcomer"
    OFFICER = "officer"  # the officer named in `officer_id`
    SUPERVISORS = "supervisors"  # supervisors of `region`
    DIRECTORS = "directors"
    # The region's supervisors, or the directors when the region has none (issue 17: an
    # unassigned case is everyone's emergency, never an email to nobody).
    REGION_LEADS = "region_leads"


@dataclass
class Notification:
    """An email to send exactly once: `key` is the outbox's unique idempotency key."""

    key: str
    workflow_id: str
    template: str
    audience: Audience
    region: str
    language: str = "fr"
    arrival_date: str | None = None
    officer_id: str | None = None
    # Only for Audience.NEWCOMER: the newcomer's address and name (never logged).
    recipient_email: str | None = None
    recipient_name: str | None = None
    # Template context: plain JSON values only (str, int, bool, lists and dicts of them).
    context: dict[str, Any] = field(default_factory=dict)
    # Workflow time at which the notice was decided: decides whether the newcomer's language
    # may stand beside the French (first six months after arrival only).
    decided_at: datetime | None = None
    # The case's own time zone when it is not its region's (the Magdalen Islands): the email's
    # dates are in it (parcours/kernel/timezones.py). None: the region's.
    time_zone: str | None = None


@dataclass
class NotificationOutcome:
    key: str
    # "sent", "already_sent", "no_recipient", "rejected", "failed" (in doubt after every
    # resend), "stale" (in doubt and too old to send)
    status: str
    recipients: int = 0
    # In a batch: why this email failed for good (SmtpRejected, TemplateMissing); "" if not.
    failure: str = ""


@dataclass
class NotificationBatch:
    """The emails one workflow task decided, sent over one SMTP connection (v2)."""

    notifications: list[Notification] = field(default_factory=list)


@dataclass
class NotificationBatchOutcome:
    outcomes: list[NotificationOutcome] = field(default_factory=list)
