"""Who may act on a case: the one authorization table, as data, and pure functions over it.

The workflow's validators are the source of truth (workflows/pathway.py calls `decide`); the
CLI and the console call the same functions before they send an action, so that a refusal
arrives early and in the person's words, but they never grant more: the workflow checks
again. README "Security model" -> "Who may act" shows the same table (a test compares them).

No I/O and no heavy imports: the module is passed through the workflow sandbox, and the
worker shares it among all its cases, so everything here is immutable.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from parcours.kernel.domain import REGIONS, Actor, Reassignment, Role, Transfer
from parcours.kernel.messages import Message


class Action(StrEnum):
    GREET = "greet"
    PLAN = "plan"
    PROGRESS = "progress"
    APPROVE = "approve"
    WAIVE = "waive"
    REASSIGN = "reassign"
    TRANSFER = "transfer"
    PAUSE = "pause"
    RESUME = "resume"
    WITHDRAW = "withdraw"
    # Issue 16: the newcomer declines (recorded by staff), a closed case is reopened, the first
    # meeting is booked, a plan item moves (referred, in progress, done, abandoned).
    DECLINE = "decline"
    REOPEN = "reopen"
    MEETING = "meeting"
    ITEM = "item"
    READ = "read"


# The workflow update behind each action (reading is the `view` query, or the read model).
UPDATE_OF: Mapping[Action, str] = MappingProxyType(
    {
        Action.GREET: "record_greeting",
        Action.PLAN: "file_plan",
        Action.PROGRESS: "add_progress",
        Action.APPROVE: "approve_stage",
        Action.WAIVE: "waive_stage",
        Action.REASSIGN: "reassign",
        Action.TRANSFER: "transfer",
        Action.PAUSE: "pause",
        Action.RESUME: "resume",
        Action.WITHDRAW: "withdraw",
        Action.DECLINE: "decline",
        Action.MEETING: "book_meeting",
        Action.ITEM: "update_item",
        # REOPEN is no update: a closed run takes none. It is a new run of the same workflow
        # id, whose opening checks the table (workflows/pathway.py).
    }
)
ACTION_OF_UPDATE: Mapping[str, Action] = MappingProxyType({u: a for a, u in UPDATE_OF.items()})
# Updates that are no staff action, so no row of the table above: the newcomer's own answer
# through their personal link (issue 16; README "Who may act", the callers that are not
# staff). It names no Actor: staff cannot send it in a newcomer's name through any interface
# (only the web's public page, after checking the link, sends it), and the workflow's
# validator checks its signature as for any update (kernel/rules.py check_newcomer_reply).
NEWCOMER_UPDATES: frozenset[str] = frozenset({"newcomer_reply"})


class Relation(StrEnum):
    """The actor's relation to the case: what the table's columns are."""

    ASSIGNED_OFFICER = "assigned officer"
    REGION_OFFICER = "another officer of the region"
    OTHER_REGION_OFFICER = "officer of another region"
    REGION_SUPERVISOR = "region's supervisor"
    OTHER_REGION_SUPERVISOR = "another region's supervisor"
    DIRECTOR = "director"
    INACTIVE = "inactive account"


RELATIONS: tuple[Relation, ...] = tuple(Relation)

_CASEWORK = frozenset({Relation.ASSIGNED_OFFICER, Relation.REGION_SUPERVISOR, Relation.DIRECTOR})
_OVERSIGHT = frozenset({Relation.REGION_SUPERVISOR, Relation.DIRECTOR})

# The table. An inactive account may do nothing; neither may anyone not listed.
ALLOWED: Mapping[Action, frozenset[Relation]] = MappingProxyType(
    {
        Action.GREET: _CASEWORK,
        Action.PLAN: _CASEWORK,
        Action.PROGRESS: _CASEWORK,
        Action.APPROVE: _CASEWORK,
        Action.WAIVE: _OVERSIGHT,
        # ...and only to an active officer serving the case's region (check_new_officer).
        Action.REASSIGN: _OVERSIGHT,
        # ...to an active officer of the new region.
        Action.TRANSFER: frozenset({Relation.DIRECTOR}),
        # Pausing stops the stall clock: an officer could silence their own escalations.
        Action.PAUSE: _OVERSIGHT,
        Action.RESUME: _OVERSIGHT,
        Action.WITHDRAW: _CASEWORK,
        Action.DECLINE: _CASEWORK,
        Action.REOPEN: _CASEWORK,
        Action.MEETING: _CASEWORK,
        Action.ITEM: _CASEWORK,
        Action.READ: _CASEWORK,
    }
)


# --------------------------------------------------------------------------------------------
# Refusals: a stable code and its parameters; each interface words them from the catalogue.
# --------------------------------------------------------------------------------------------


# A refusal is a kernel Message whose code is one of CODES (the catalogue holds its words as
# `refusal.<code>`, French and English; tests/i18n checks every code has them).
Refusal = Message

CODES: frozenset[str] = frozenset(
    {
        "inactive",
        "not_assigned",
        "supervisors_only",
        "directors_only",
        "no_officer",
        "target_inactive",
        "target_other_region",
        "already_assigned",
        "same_region",
        "unknown_region",
        "signature_missing",
        "signature_invalid",
        "signature_stale",
        "signature_reused",
        "signature_unchecked",
    }
    # The programme table's own (decide_programme): each says which action it refuses.
    | {
        "roster_directors_only",
        "leave_supervisors_only",
        "leave_directors_only",
        "bulk_supervisors_only",
        "bulk_directors_only",
        "forecast_supervisors_only",
        "forecast_directors_only",
        "report_supervisors_only",
        "report_directors_only",
    }
)


def refusal(code: str, **params: str) -> Refusal:
    assert code in CODES, code
    return Message.of(code, **params)


# --------------------------------------------------------------------------------------------
# Decisions
# --------------------------------------------------------------------------------------------


def relation(actor: Actor, region: str, officer_id: str | None) -> Relation:
    """How `actor` stands to a case of `region` assigned to `officer_id`.

    A supervisor of the region counts as such even when assigned the case, so that the
    assigned officer's column never grants a supervisor less than their role does."""
    if not actor.active:
        return Relation.INACTIVE
    if actor.role == Role.DIRECTOR:
        return Relation.DIRECTOR
    if actor.role == Role.SUPERVISOR and actor.region == region:
        return Relation.REGION_SUPERVISOR
    if officer_id is not None and actor.officer_id == officer_id:
        return Relation.ASSIGNED_OFFICER
    if actor.role == Role.SUPERVISOR:
        return Relation.OTHER_REGION_SUPERVISOR
    if actor.region == region:
        return Relation.REGION_OFFICER
    return Relation.OTHER_REGION_OFFICER


def allowed(action: Action, rel: Relation) -> bool:
    return rel in ALLOWED[action]


def decide(action: Action, actor: Actor, region: str, officer_id: str | None) -> Refusal | None:
    """None if `actor` may do `action` on a case of `region` assigned to `officer_id`."""
    rel = relation(actor, region, officer_id)
    if rel == Relation.INACTIVE:
        return refusal("inactive", actor=actor.officer_id)
    granted = ALLOWED[action]
    if rel in granted:
        return None
    if Relation.ASSIGNED_OFFICER in granted:
        if officer_id is None:
            return refusal("no_officer")
        return refusal("not_assigned", actor=actor.officer_id, region=region)
    if Relation.REGION_SUPERVISOR in granted:
        return refusal("supervisors_only", actor=actor.officer_id, region=region)
    return refusal("directors_only", actor=actor.officer_id)


def may_read(actor: Actor, region: str, officer_id: str | None) -> bool:
    return decide(Action.READ, actor, region, officer_id) is None


def check_new_officer(new_officer: Actor, region: str, officer_id: str | None) -> Refusal | None:
    """A case of `region` (now with `officer_id`) may go only to an active officer serving
    `region`: otherwise neither region's supervisors would see it."""
    if not new_officer.active:
        return refusal("target_inactive", officer=new_officer.officer_id)
    if new_officer.officer_id == officer_id:
        return refusal("already_assigned", officer=new_officer.officer_id)
    if new_officer.region != region:
        return refusal("target_other_region", officer=new_officer.officer_id, region=region)
    return None


def check_transfer(new_region: str, new_officer: Actor, region: str) -> Refusal | None:
    if new_region not in REGIONS:
        return refusal("unknown_region", region=new_region)
    if new_region == region:
        return refusal("same_region", region=region)
    return check_new_officer(new_officer, new_region, None)


def markdown_table() -> str:
    """The table as README shows it (tests/test_authz.py keeps the two identical)."""
    head = "| action | " + " | ".join(r.value for r in RELATIONS) + " |"
    rule = "|---|" + "---|" * len(RELATIONS)
    rows = [
        f"| {a.value} | " + " | ".join("yes" if allowed(a, r) else "no" for r in RELATIONS) + " |"
        for a in Action
    ]
    return "\n".join([head, rule, *rows])


def early_refusal(update: str, arg: object, region: str, officer_id: str | None) -> Refusal | None:
    """What an interface refuses before sending `update` with `arg` to a case of `region`
    assigned to `officer_id` (as it last read them): the table's answer, less "no officer
    yet", which the workflow answers itself (a case just started is still being given one,
    and infrastructure/temporal.py waits for it). Never more permissive than the workflow."""
    action = ACTION_OF_UPDATE[update]
    actor = getattr(arg, "actor", None)
    if not isinstance(actor, Actor):
        return None  # the workflow refuses an action that names no one
    refused = decide(action, actor, region, officer_id)
    if refused is None and isinstance(arg, Reassignment):
        refused = check_new_officer(arg.new_officer, region, officer_id)
    if refused is None and isinstance(arg, Transfer):
        refused = check_transfer(arg.new_region, arg.new_officer, region)
    return None if refused is not None and refused.code == "no_officer" else refused


# --------------------------------------------------------------------------------------------
# The programme's actions (issues 17 and 18): on the roster and over many cases, not on one
# case. No workflow validates these (no single case is acted on); the interfaces apply this
# table, and an action over cases (a batch) still sends each case its own signed update, which
# the case's validator judges by the table above. README "Who may act" shows this second table.
# --------------------------------------------------------------------------------------------


class ProgrammeAction(StrEnum):
    # Edit an officer (name, email, languages, region, role), deactivate one, redistribute
    # their cases: directors, since it moves cases between people.
    ROSTER = "roster"
    # Put an officer of the region on leave (with a backup) or cancel the leave.
    LEAVE = "leave"
    # Start a batch over selected cases (reassign, note, pause); each case re-checks its row.
    BULK = "bulk"
    # The capacity forecast and the programme reports (read-only, aggregated).
    FORECAST = "forecast"
    REPORT = "report"


class Scope(StrEnum):
    """The actor's relation to a region (the programme table's columns)."""

    OFFICER = "officer"
    REGION_SUPERVISOR = "region's supervisor"
    OTHER_REGION_SUPERVISOR = "another region's supervisor"
    DIRECTOR = "director"
    INACTIVE = "inactive account"


SCOPES: tuple[Scope, ...] = tuple(Scope)
_REGION_OVERSIGHT = frozenset({Scope.REGION_SUPERVISOR, Scope.DIRECTOR})

PROGRAMME_ALLOWED: Mapping[ProgrammeAction, frozenset[Scope]] = MappingProxyType(
    {
        ProgrammeAction.ROSTER: frozenset({Scope.DIRECTOR}),
        ProgrammeAction.LEAVE: _REGION_OVERSIGHT,
        ProgrammeAction.BULK: _REGION_OVERSIGHT,
        ProgrammeAction.FORECAST: _REGION_OVERSIGHT,
        ProgrammeAction.REPORT: _REGION_OVERSIGHT,
    }
)


def scope(actor: Actor, region: str | None) -> Scope:
    """How `actor` stands to `region` (None: every region, which only a director covers)."""
    if not actor.active:
        return Scope.INACTIVE
    if actor.role == Role.DIRECTOR:
        return Scope.DIRECTOR
    if actor.role == Role.SUPERVISOR:
        if region is not None and actor.region == region:
            return Scope.REGION_SUPERVISOR
        return Scope.OTHER_REGION_SUPERVISOR
    return Scope.OFFICER


def decide_programme(action: ProgrammeAction, actor: Actor, region: str | None) -> Refusal | None:
    """None if `actor` may do `action` over `region` (None: all regions)."""
    sc = scope(actor, region)
    if sc == Scope.INACTIVE:
        return refusal("inactive", actor=actor.officer_id)
    granted = PROGRAMME_ALLOWED[action]
    if sc in granted:
        return None
    # The code names the action (`bulk_supervisors_only`), so every interface words the
    # refusal from the catalogue alone, the same in the console and the CLI.
    if Scope.REGION_SUPERVISOR in granted and region is not None:
        return refusal(f"{action.value}_supervisors_only", actor=actor.officer_id, region=region)
    # The roster, or every region at once.
    return refusal(f"{action.value}_directors_only", actor=actor.officer_id)


def programme_markdown_table() -> str:
    """The programme table as README shows it (tests/security/test_authz.py compares)."""
    head = "| programme action | " + " | ".join(s.value for s in SCOPES) + " |"
    rule = "|---|" + "---|" * len(SCOPES)
    rows = [
        f"| {a.value} | "
        + " | ".join("yes" if s in PROGRAMME_ALLOWED[a] else "no" for s in SCOPES)
        + " |"
        for a in ProgrammeAction
    ]
    return "\n".join([head, rule, *rows])


class TokenScope:
    """What an operators' system may do with its API token (never act on a case)."""

    INTAKE = "intake"  # POST visa approvals, nothing else
    READ = "read"  # GET a case's status fields, never its free text
    ALL = (INTAKE, READ)
