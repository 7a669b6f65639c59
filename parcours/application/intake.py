"""Opening cases on many visa approvals at once: `parcours import` and the API's batches.

Each approval is checked on its own (`parcours.kernel.approval`), a dossier repeated inside
one batch is refused after its first occurrence, and the good ones are started a few at a
time. A dossier that already has a case is reported as such and changed in nothing, so a
retried batch is harmless (the starting is `parcours.application.start_many`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from parcours.kernel import approval as approval_model
from parcours.kernel.domain import NewcomerApproval
from parcours.kernel.errors import ParcoursError, first_line
from parcours.kernel.inputs import ArrivalWindow
from parcours.kernel.messages import Message

Result = Literal["pending", "started", "exists", "rejected"]

# What separates a CSV file's fields: a comma, or a semicolon (what Excel writes in fr-CA,
# where the comma is the decimal mark).
DELIMITERS = (",", ";")


def delimiter_of(header: str) -> str:
    """The delimiter of a CSV file, from its header line: the one of `DELIMITERS` that occurs
    most in it (a comma on a tie). The header is made of known column names, which contain
    neither, so counting is exact where `csv.Sniffer` guesses from the rows' values."""
    counts = {d: header.count(d) for d in DELIMITERS}
    return max(DELIMITERS, key=lambda d: counts[d])


@dataclass
class IntakeItem:
    """One approval of a batch and what became of it."""

    position: int  # the row number in a file, the index in a request
    approval: NewcomerApproval | None
    # field -> why, as a code and parameters (each interface words it in its language)
    errors: dict[str, Message] = field(default_factory=dict)
    result: Result = "pending"
    workflow_id: str | None = None

    def reject(self, field_name: str, why: Message) -> None:
        self.approval, self.result = None, "rejected"
        self.errors = {field_name: why}

    def fail(self, err: ParcoursError) -> None:
        """The start itself failed (Temporal unreachable, a refusal): the item as a whole."""
        self.reject(
            approval_model.ITEM,
            err.refusal or Message.of("start_failed", reason=first_line(err)),
        )


def check_item(position: int, fields: object, window: ArrivalWindow) -> IntakeItem:
    checked = approval_model.check(fields, window)
    return IntakeItem(
        position=position,
        approval=checked.approval,
        errors=checked.errors,
        result="pending" if checked.approval is not None else "rejected",
    )


def refuse_repeats(items: Sequence[IntakeItem], what: str) -> None:
    """A dossier named twice in one batch: the first occurrence goes, the others are refused
    ("dossier repeats row 3": a sentence, as every field check's), so one batch never races
    against itself."""
    seen: dict[str, int] = {}
    for item in items:
        if item.approval is None:
            continue
        first = seen.setdefault(item.approval.dossier, item.position)
        if first != item.position:
            item.reject("dossier", Message.of(f"dossier_repeats_{what}", first=first))
