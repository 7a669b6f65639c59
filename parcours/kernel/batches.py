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

from dataclasses import dataclass, field
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

    @property
    def handled(self) -> int:
        return self.done + self.refused + self.failed
