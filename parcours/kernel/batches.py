"""A batch: one action over an explicit list of cases (issue 17), run by its own workflow.

Departures (deactivating an officer: redistribute or hand over their open cases) and
supervisors' bulk work (reassign, spread, note, pause) are the same thing: a list of dossiers
fixed when the batch starts (a filter is resolved to its list first), one action, and a result
per case. The batch workflow (workflows/batch.py) records each case's target before it sends
that case its own signed update, so a batch resumed after a crash never moves a case twice,
and each case's validator still judges the actor by the authorization table.

Dataclasses only (passed through the workflow sandbox); new fields get defaults.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from parcours.kernel.domain import Actor, Signature
from parcours.kernel.messages import Message


class BatchKind(StrEnum):
    # Every case to one named officer (`officers` holds one id).
    REASSIGN = "reassign"
    # Spread the cases over the named officers (`officers`), or, when `officers` is empty,
    # over the region's available officers by the intake rule (language match first, then
    # lowest caseload): a departure's "redistribute".
    SPREAD = "spread"
    # The same progress note on every case (`note`).
    NOTE = "note"
    # Pause every case with a reason (`note`).
    PAUSE = "pause"


class CaseOutcome(StrEnum):
    PENDING = "pending"
    DONE = "done"
    # The case already had its target (a resumed batch, or a second submission): counted done.
    ALREADY = "already"
    # The case's validator refused (closed meanwhile, not the actor's to move): reported.
    REFUSED = "refused"
    # Anything else (the case does not exist): reported, never fatal to the batch.
    FAILED = "failed"


@dataclass
class BatchRequest:
    kind: BatchKind
    # Fixed when the batch starts, in order; the batch's id derives from them with the action.
    dossiers: list[str]
    actor: Actor
    officers: list[str] = field(default_factory=list)
    note: str = ""
    # Set on a departure: the officer whose cases these are, deactivated once none is left.
    deactivate: str | None = None
    # The interface's signature over this request (the batch checks it before any update).
    signature: Signature | None = None
    # A given id (else derived: kernel-free, see application/batches.py).
    batch_id: str = ""
    # Carried by continue-as-new only (never by an interface, never signed: the batch checks
    # the signature above again in every run, so a forged carry moves nothing unsigned).
    state: BatchState | None = None
    # Continue-as-new once a run's history passes this many events (0: the default budget,
    # or sooner when the server suggests it). Tests set it low.
    continue_as_new_after_events: int = 0
    # Cases sent their update at once (0: the default window).
    window: int = 0


@dataclass
class CaseResult:
    dossier: str
    outcome: CaseOutcome = CaseOutcome.PENDING
    # Recorded before the update is sent: the officer this case goes to (reassign, spread).
    target: str | None = None
    refusal: Message | None = None


@dataclass
class BatchProgress:
    batch_id: str
    kind: BatchKind
    total: int
    done: int = 0
    refused: int = 0
    failed: int = 0
    finished: bool = False
    results: list[CaseResult] = field(default_factory=list)

    # Set when the batch refused its own request (unsigned, forged, stale): nothing was done.
    refusal: Message | None = None
    # A departure: whether the officer was deactivated at the end, and the open cases still
    # theirs when not (refused or failed cases, or cases that reached them meanwhile).
    deactivated: bool = False
    still_held: int = 0

    @property
    def handled(self) -> int:
        return self.done + self.refused + self.failed

    def only(self, dossiers: set[str]) -> BatchProgress:
        """This progress as someone who may see only `dossiers` reads it: their rows, and
        counts of those rows alone (a region's supervisor learns nothing of another region's
        cases from a batch that also held them)."""
        results = [r for r in self.results if r.dossier in dossiers]
        total, done, refused, failed = outcome_counts(results)
        return dataclasses.replace(
            self,
            total=total,
            done=done,
            refused=refused,
            failed=failed,
            results=results,
            still_held=0 if len(results) < len(self.results) else self.still_held,
        )


def outcome_counts(results: list[CaseResult]) -> tuple[int, int, int, int]:
    """A progress's counts of `results`: total, done (an ALREADY is done), refused, failed.
    The batch's query and a reader's narrowed view count alike."""
    outcomes = [r.outcome for r in results]
    done = outcomes.count(CaseOutcome.DONE) + outcomes.count(CaseOutcome.ALREADY)
    return (
        len(results),
        done,
        outcomes.count(CaseOutcome.REFUSED),
        outcomes.count(CaseOutcome.FAILED),
    )


# --------------------------------------------------------------------------------------------
# What the batch workflow carries, and what it asks its activities (activities/batches.py).
# --------------------------------------------------------------------------------------------


@dataclass
class RosterEntry:
    """An officer as a batch picks targets: ids, codes and counts only (no name, no email).
    `available`: active and not on leave on the region's day when the batch read the roster."""

    id: str
    role: str
    region: str
    languages: list[str] = field(default_factory=lambda: ["fr"])
    active: bool = True
    available: bool = True
    open_cases: int = 0


@dataclass
class BatchState:
    """Everything a batch knows, handed whole to continue-as-new."""

    results: list[CaseResult]
    # When the Temporal server accepted the batch's first run: its signature was fresh then.
    accepted_at: datetime | None = None
    # The roster as read once, at the start (a redistribution counts what it has already
    # given on top of these caseloads, so a resumed run does not count them twice).
    roster: list[RosterEntry] | None = None
    given: dict[str, int] = field(default_factory=dict)
    # The regions whose officers are in `roster` (one without officers reads as none).
    regions_read: list[str] = field(default_factory=list)
    # Departures: rounds of "open cases still theirs" already added to the batch.
    rounds: int = 0
    finished: bool = False
    deactivated: bool = False
    still_held: int = 0


@dataclass
class BatchCheck:
    """The batch's own request, to check its signature (an activity: workflow code holds no
    key, and a rotated key must not break the replay of a history)."""

    workflow_id: str
    request: BatchRequest
    accepted_at: datetime


@dataclass
class BatchVerdict:
    refusal: Message | None = None


@dataclass
class RosterLookup:
    regions: list[str]
    officers: list[str]


@dataclass
class RosterSnapshot:
    officers: list[RosterEntry] = field(default_factory=list)


@dataclass
class CaseLookup:
    dossiers: list[str]


@dataclass
class CaseFacts:
    """A case as its workflow answers (not the read model, which may lag)."""

    dossier: str
    found: bool = True
    region: str = ""
    language: str = "fr"
    officer: str | None = None
    status: str = ""


@dataclass
class CaseFactsList:
    cases: list[CaseFacts] = field(default_factory=list)


@dataclass
class CaseAction:
    """One case's own update, sent by the batch as the request's actor. `target`: the
    officer recorded before it was sent (reassign, spread)."""

    batch_id: str
    dossier: str
    kind: BatchKind
    actor: Actor
    target: Actor | None = None
    note: str = ""


@dataclass
class CaseActionResult:
    outcome: CaseOutcome
    refusal: Message | None = None


@dataclass
class DepartureCheck:
    batch_id: str
    officer_id: str
    actor: Actor
    # Deactivate only when none is left (else only report them).
    deactivate: bool = True


@dataclass
class DepartureOutcome:
    deactivated: bool = False
    # Open cases still the officer's (by their workflows), in dossier order.
    remaining: list[str] = field(default_factory=list)
