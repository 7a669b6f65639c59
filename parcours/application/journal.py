"""A case's journal as people read it: one sentence per audit row, in the reader's language.

The audit trail stores what the machine needs (`kind`, `stage`, `actor`, a short `detail`
and free `text`); the detail has been a compact string since the first rows ("revision 2,
3 items", "montreal -> capitale-nationale; atremblay -> mlevesque",
"template=welcome audience=newcomer languages=fr recipients=1"). Rows are sealed into their
case's chain and never rewritten, so the journal parses what each kind has always written
and turns it into a sentence from the catalogue (keys `journal.*`): « Plan d'action déposé
(version 2, 3 actions) », « Courriel de bienvenue envoyé à la personne ». A detail that does
not parse still gives the kind's plain sentence, never the raw string.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from parcours.infrastructure.catalog import Catalog
from parcours.kernel.domain import NEWCOMER_ACTOR

# "revision 2, 3 items" (workflows/pathway.py, plan_filed)
# "i3 planned -> referred partner fq-montreal" (workflows/pathway.py update_item).
_ITEM = re.compile(r"(\S+) (\w+) -> (\w+)(?: partner (\S+))?")
_PLAN = re.compile(r"revision (\d+), (\d+) items?")
# "atremblay -> mlevesque", "unassigned -> mlevesque" (reassigned)
_MOVE = re.compile(r"(\S+) -> (\S+)")
# "montreal -> capitale-nationale; atremblay -> mlevesque" (transferred)
_TRANSFER = re.compile(r"(\S+) -> (\S+); (\S+) -> (\S+)")
# "later 2027-03-01" (newcomer_replied)
_LATER = re.compile(r"later (\d{4}-\d{2}-\d{2})")
# "paused 12 days" (resumed)
_PAUSED = re.compile(r"paused (\d+) days?")
_PERIOD = re.compile(r"period (\d+)")
# "key=value" pairs of the emails' rows (activities/notify.py) ...
_PAIR = re.compile(r"(\w+)=([^\s:]+)")
# ... and "welcome: MailRejected" of an email the workflow gave up on (workflows/effects.py).
_TEMPLATE_ONLY = re.compile(r"([a-z_]+): ")
# "2026-12-10T10:00:00-05:00 seq=1 late" (the first meeting, in the case's local time; issue 16)
_MEETING = re.compile(r"(\S+) seq=(\d+)( late)?")
MEETING_KINDS = ("meeting_booked", "meeting_rescheduled", "meeting_cancelled")
UNASSIGNED = "unassigned"


class AuditRow(Protocol):
    """What the journal reads of an audit row (`store.models.AuditEvent`)."""

    @property
    def kind(self) -> str: ...
    @property
    def at(self) -> datetime: ...
    @property
    def actor(self) -> str | None: ...
    @property
    def stage(self) -> str | None: ...
    @property
    def detail(self) -> str | None: ...
    @property
    def text(self) -> str | None: ...
    @property
    def text_digest(self) -> str | None: ...


@dataclass(frozen=True)
class JournalEntry:
    at: datetime
    sentence: str
    actor: str | None
    # The stage the case was at, for rows whose sentence does not name it.
    stage: str | None
    # What a person typed (a note, a reason), line breaks kept.
    note: str | None
    # The note was there and the retention sweep erased it (its digest stays in the chain).
    note_erased: bool


def journal(rows: Iterable[AuditRow], t: Catalog) -> list[JournalEntry]:
    """The rows as sentences, newest first. Rows of one instant (a case opened and assigned
    in one workflow step) keep their written order, reversed: they come oldest first."""
    ordered = sorted(rows, key=lambda r: r.at)[::-1]
    return [entry(r, t) for r in ordered]


def entry(row: AuditRow, t: Catalog) -> JournalEntry:
    sentence, names_stage = describe(row.kind, row.stage, row.detail, t)
    return JournalEntry(
        at=row.at,
        sentence=sentence,
        # The newcomer's own acts (their link) name them by their part, never by their name.
        actor=t("journal.actor.newcomer") if row.actor == NEWCOMER_ACTOR else row.actor,
        stage=None if names_stage else row.stage,
        note=row.text,
        note_erased=row.text is None and row.text_digest is not None,
    )


def describe(kind: str, stage: str | None, detail: str | None, t: Catalog) -> tuple[str, bool]:
    """The sentence for one row, and whether it names the stage itself."""
    detail = (detail or "").strip()
    stage_name = _stage(stage, t)
    if kind.startswith("email_"):
        return _email(kind, detail, t), False
    if kind in ("stage_started", "stage_approved", "stage_waived", "stage_overdue"):
        if stage_name:
            return t(f"journal.{kind}", stage=stage_name), True
        return t(f"event.{kind}"), False
    if kind == "case_opened":
        if detail:
            return t("journal.case_opened_policy", policy=detail), False
        return t("journal.case_opened"), False
    if kind == "officer_assigned" and detail:
        return t("journal.officer_assigned", officer=detail), False
    if kind == "case_assigned" and detail:
        # Issue 17: an unassigned case that the roster could at last give an officer.
        return t("journal.case_assigned", officer=detail), False
    if kind == "case_unassigned":
        return t("journal.case_unassigned"), False
    if kind == "escalated" and detail.isdigit():
        return t("journal.escalated", level=t.number(int(detail))), False
    if kind == "airport_greeting" and t.has(f"journal.greeting.{detail}"):
        return t(f"journal.greeting.{detail}"), False
    if kind == "plan_filed":
        found = _PLAN.fullmatch(detail)
        if found:
            revision, items = int(found.group(1)), int(found.group(2))
            return t.plural("journal.plan_filed", items, revision=t.number(revision)), False
        return t("journal.plan_filed_plain"), False
    if kind == "plan_item_updated":
        found = _ITEM.fullmatch(detail)
        if found and found.group(3) == "referred" and found.group(4):
            return t(
                "journal.plan_item_referred", item=found.group(1), partner=found.group(4)
            ), False
        if found and t.has(f"item_status.{found.group(3)}"):
            status = t(f"item_status.{found.group(3)}")
            return t("journal.plan_item_updated", item=found.group(1), status=status), False
        return t("event.plan_item_updated"), False
    if kind == "progress_note":
        return t("journal.progress_note"), False
    if kind == "reassigned":
        found = _MOVE.fullmatch(detail)
        if found and found.group(1) == UNASSIGNED:
            return t("journal.reassigned_from_none", new=found.group(2)), False
        if found:
            return t("journal.reassigned", old=found.group(1), new=found.group(2)), False
        return t("journal.reassigned_plain"), False
    if kind == "transferred":
        found = _TRANSFER.fullmatch(detail)
        if found:
            return t(
                "journal.transferred",
                old=found.group(1),
                new=found.group(2),
                officer=found.group(4),
            ), False
        return t("journal.transferred_plain"), False
    if kind == "paused":
        return t("journal.paused"), False
    if kind == "resumed":
        found = _PAUSED.fullmatch(detail)
        if found:
            return t.plural("journal.resumed", int(found.group(1))), False
        return t("journal.resumed_plain"), False
    if kind == "newcomer_replied":
        found = _LATER.fullmatch(detail)
        if found:
            day = date.fromisoformat(found.group(1))
            return t("journal.newcomer_replied.later", date=t.long_date(day)), False
        if t.has(f"journal.newcomer_replied.{detail}"):
            return t(f"journal.newcomer_replied.{detail}"), False
        return t("journal.newcomer_replied_plain"), False
    if kind == "waiting_ended":
        return t("journal.waiting_ended"), False
    if kind == "case_completed":
        return t("journal.case_completed"), False
    if kind == "case_withdrawn":
        if t.has(f"withdrawal.{detail}"):
            return t("journal.case_withdrawn", reason=t(f"withdrawal.{detail}")), False
        return t("journal.case_withdrawn_plain"), False
    if kind in MEETING_KINDS:
        return _meeting(kind, detail, t), False
    if kind == "case_declined":
        if t.has(f"withdrawal.{detail}"):
            return t("journal.case_declined", reason=t(f"withdrawal.{detail}")), False
        return t("journal.case_declined_plain"), False

    if kind == "case_reopened":
        found = _PERIOD.fullmatch(detail)
        if found:
            return t("journal.case_reopened", period=t.number(int(found.group(1)))), False
        return t("journal.case_reopened_plain"), False
    if t.has(f"event.{kind}"):
        return t(f"event.{kind}"), False
    return t("journal.unknown", kind=kind), False


def _meeting(kind: str, detail: str, t: Catalog) -> str:
    """« Première rencontre fixée au 10 décembre 2026, 10 h 00 »: the moment as the case's
    zone read it (its offset is in the detail)."""
    found = _MEETING.fullmatch(detail)
    try:
        when = datetime.fromisoformat(found.group(1)) if found else None
    except ValueError:
        when = None
    if found is None or when is None or when.tzinfo is None:
        return t(f"event.{kind}")
    late = bool(found.group(3)) and kind != "meeting_cancelled"
    return t(f"journal.{kind}" + ("_late" if late else ""), when=t.date_time(when, when.tzinfo))


def _stage(stage: str | None, t: Catalog) -> str | None:
    return t(f"stage.{stage}") if stage and t.has(f"stage.{stage}") else None


def _email(kind: str, detail: str, t: Catalog) -> str:
    """The emails' rows: which email, to whom, and what became of it."""
    pairs = dict(_PAIR.findall(detail))
    template = pairs.get("template")
    if template is None:
        found = _TEMPLATE_ONLY.match(detail)
        template = found.group(1) if found else None
    name = (
        t(f"journal.email.{template}")
        if template and t.has(f"journal.email.{template}")
        else t("journal.email.other")
    )
    audience = pairs.get("audience")
    if audience == "region_leads":
        # Issue 17: the region's supervisors, or the directors standing in (the trail says).
        told = pairs.get("told")
        audience = {"supervisors": "supervisors", "directors": "directors_for_region"}.get(
            told or "", "region_leads"
        )
    if pairs.get("stand_in") in ("backup", "supervisors"):
        # An officer's email sent to others while they were on leave (issue 17).
        audience = f"stand_in_{pairs['stand_in']}"
    to = t(f"journal.to.{audience}") if audience and t.has(f"journal.to.{audience}") else ""
    if kind == "email_resent" and pairs.get("resend", "").isdigit():
        resend = t.number(int(pairs["resend"]))
        return _tidy(t("journal.email_resent_n", email=name, to=to, resend=resend))
    if t.has(f"journal.{kind}"):
        return _tidy(t(f"journal.{kind}", email=name, to=to))
    return t("journal.unknown", kind=kind)


def _tidy(sentence: str) -> str:
    """Without the room an empty recipient left ("envoyé  (…)"); a non-breaking space, which
    French puts before a colon, is kept."""
    return re.sub(" +", " ", sentence).replace(" \u00a0", "\u00a0").strip()
