"""Which actions to offer a person on a case, decided by the workflow's own validators.

An interface asks `offers(state, actor)` with the `CaseState` it just queried: each action is
offered only if its validator (kernel/rules.py) accepts a probe, the most favourable input a
form could send (a one-character note, the current stage, an officer of the region who is not
the current one). So a form is never shown that the workflow would refuse for the person or
for the case's state (a paused case offers no greeting, plan or approval; the waiver list
leaves out stages already waived or behind the case), and a form may still be refused for
what is typed in it (an empty note): the workflow stays the judge when the form is sent.

Pure, like the rules: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from parcours.kernel import authz, rules
from parcours.kernel.authz import Action
from parcours.kernel.domain import (
    REGIONS,
    REOPENABLE_STATUSES,
    STAGES,
    Actor,
    CaseState,
    Decline,
    GreetingOutcome,
    GreetingReport,
    ItemStatus,
    ItemUpdate,
    MeetingBooking,
    PauseRequest,
    PlanFiling,
    PlanItem,
    ProgressNote,
    Reassignment,
    ResumeRequest,
    Role,
    Stage,
    StageApproval,
    StageWaiver,
    Transfer,
    Withdrawal,
    WithdrawalReason,
)

# The text of a probe: the shortest note a validator accepts. Never sent.
_PROBE_TEXT = "-"
# An officer id no roster holds: the probe of "another officer" for a reassignment or transfer.
_SOMEONE_ELSE = "\x00probe"
# A partner id the directory may hold: the probe of a referral (the form lists the real ones).
_PARTNER = "probe"


@dataclass(frozen=True)
class Offers:
    """What the case page shows forms for. Empty tuples and False: no form."""

    greet: bool = False
    plan: bool = False
    # The stages a plan may still name (from the current one on).
    plan_stages: tuple[Stage, ...] = ()
    progress: bool = False
    # The stage that may be approved now (the current one), if any.
    approve: Stage | None = None
    waive: tuple[Stage, ...] = ()
    # Officer ids the case may be reassigned to, among the candidates given.
    reassign_to: tuple[str, ...] = ()
    # Regions the case may be transferred to (the officer is checked when the form is sent).
    transfer_to: tuple[str, ...] = ()
    pause: bool = False
    resume: bool = False
    withdraw: bool = False
    # The first meeting (issue 16): book or move it; cancel the one booked.
    meeting: bool = False
    meeting_cancel: bool = False
    # v6: how many items of the stage to approve are still open (its form then asks a note).
    approve_open_items: int = 0
    # v6: each plan item the person may move, with the statuses it may move to.
    items: tuple[tuple[str, tuple[ItemStatus, ...]], ...] = ()

    @property
    def casework(self) -> bool:
        return (
            self.greet or self.plan or self.progress or self.approve is not None or bool(self.items)
        )

    @property
    def oversight(self) -> bool:
        return bool(self.waive or self.reassign_to or self.transfer_to or self.pause or self.resume)

    @property
    def any(self) -> bool:
        return self.casework or self.oversight or self.withdraw


def accepts(update: str, state: CaseState, inp: object) -> bool:
    """Would the workflow's validator take `inp` now (signature apart: interfaces sign)?"""
    try:
        rules.validate(update, state, inp, strict=True, opened=True)
    except rules.Rejected:
        return False
    return True


def offers(state: CaseState, actor: Actor, candidates: Sequence[Actor] = ()) -> Offers:
    """The actions `actor` may take on the case in `state`; `candidates`: the officers a
    reassignment could name (the region's roster), each checked as the workflow would."""
    stage = state.stage
    if stage is None or not state.stages:
        return Offers()  # closed: every validator refuses
    # The probe of a booking: a moment (any: the validator does not read the clock) and a place.
    probe_at = state.started_at or state.clock_anchor
    remaining = STAGES[STAGES.index(stage) :]
    plan = accepts(
        "file_plan",
        state,
        PlanFiling(actor=actor, items=[PlanItem(stage=stage, text=_PROBE_TEXT)]),
    )
    return Offers(
        greet=accepts(
            "record_greeting", state, GreetingReport(actor=actor, outcome=GreetingOutcome.GREETED)
        ),
        plan=plan,
        plan_stages=remaining if plan else (),
        progress=accepts("add_progress", state, ProgressNote(actor=actor, note=_PROBE_TEXT)),
        approve=stage
        if accepts(
            "approve_stage", state, StageApproval(actor=actor, stage=stage, note=_PROBE_TEXT)
        )
        else None,
        approve_open_items=len(rules.open_items(state, stage)),
        items=_item_moves(state, actor),
        waive=tuple(
            s
            for s in STAGES
            if accepts("waive_stage", state, StageWaiver(actor=actor, stage=s, reason=_PROBE_TEXT))
        ),
        reassign_to=tuple(
            c.officer_id
            for c in candidates
            if accepts("reassign", state, Reassignment(actor=actor, new_officer=c))
        ),
        transfer_to=tuple(
            r
            for r in REGIONS
            if accepts(
                "transfer",
                state,
                Transfer(
                    actor=actor,
                    new_region=r,
                    new_officer=Actor(officer_id=_SOMEONE_ELSE, role=Role.OFFICER, region=r),
                ),
            )
        ),
        pause=accepts("pause", state, PauseRequest(actor=actor, reason=_PROBE_TEXT)),
        resume=accepts("resume", state, ResumeRequest(actor=actor)),
        withdraw=accepts(
            "withdraw",
            state,
            Withdrawal(
                reason=_PROBE_TEXT,
                recorded_by=actor.officer_id,
                actor=actor,
                reason_category=WithdrawalReason.OTHER,
            ),
        ),
        meeting=probe_at is not None
        and accepts(
            "book_meeting", state, MeetingBooking(actor=actor, at=probe_at, place=_PROBE_TEXT)
        ),
        meeting_cancel=accepts("book_meeting", state, MeetingBooking(actor=actor, cancel=True)),
    )


def _item_moves(state: CaseState, actor: Actor) -> tuple[tuple[str, tuple[ItemStatus, ...]], ...]:
    moves = []
    for item in state.plan:
        to = tuple(
            status
            for status in ItemStatus
            if accepts(
                "update_item",
                state,
                ItemUpdate(
                    actor=actor,
                    item_id=item.id,
                    status=status,
                    partner_id=_PARTNER,
                    reason=_PROBE_TEXT,
                ),
            )
        )
        if to:
            moves.append((item.id, to))
    return tuple(moves)


@dataclass(frozen=True)
class ClosingOffers:
    """Issue 16: declining (an open case before its plan) and reopening (a declined or
    withdrawn case). Apart from `Offers` so that the case page includes them on closed cases
    too."""

    decline: bool = False
    reopen: bool = False


def closing_offers(state: CaseState, actor: Actor) -> ClosingOffers:
    decline = state.stage is not None and accepts(
        "decline",
        state,
        Decline(actor=actor, reason_category=WithdrawalReason.DECLINED_SERVICES),
    )
    reopen = state.status in REOPENABLE_STATUSES and (
        authz.decide(Action.REOPEN, actor, state.approval.region, state.officer_id) is None
    )
    return ClosingOffers(decline=decline, reopen=reopen)
