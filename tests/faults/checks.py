"""What every fault test proves afterwards: each case is where its route leads, in Temporal and
in the read model; every transition is in the audit trail exactly once; no email went out
twice, and every email the workflows decided arrived.

Emails are delivered at least once (activities/notify.py): an email whose attempt died in the
middle of an SMTP exchange is `unconfirmed`, then sent again from its row with the same
Message-ID once its lease is over. So the strict check: every outbox email meant to go (not
refused, not dropped as stale, not failed) arrived; an email that arrived more than once was
one in doubt (resent), with at most one copy per attempt, every copy with the same Message-ID,
subject, recipients and bodies; and nothing arrived that the outbox does not know.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from email.message import EmailMessage

from sqlalchemy import select

from parcours.application.reconcile import FIELDS, projection
from parcours.infrastructure.mail.catcher import MailCatcher
from parcours.infrastructure.store.db import create_engine, session_factory
from parcours.infrastructure.store.models import AuditEvent, Case, OutboxMessage
from tests.faults.driver import CaseDriver, Outcome

# Cases per outage test (SMTP down, database cut, server restart); the SIGKILL test has its own
# size, PARCOURS_FAULT_CASES.
OUTAGE_CASES = int(os.environ.get("PARCOURS_FAULT_OUTAGE_CASES", "40"))


@dataclass
class ReadModel:
    cases: dict[str, Case]
    audit: list[tuple[str, str]]
    outbox: list[OutboxMessage]

    @property
    def outbox_status(self) -> Counter[str]:
        return Counter(m.status for m in self.outbox)


async def read_model(database_url: str) -> ReadModel:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as s:
            cases = {c.dossier: c for c in (await s.scalars(select(Case))).all()}
            audit = [
                (d, k) for d, k in (await s.execute(select(AuditEvent.dossier, AuditEvent.kind)))
            ]
            outbox = list((await s.scalars(select(OutboxMessage))).all())
    finally:
        await engine.dispose()
    return ReadModel(cases, audit, outbox)


async def assert_where_expected(driver: CaseDriver, outcomes: list[Outcome], rm: ReadModel) -> None:
    """Each case in its route's stage in Temporal, and its read-model row equal to the
    workflow's own view, column by column (needs a live worker to answer the queries)."""
    for o in outcomes:
        view = await driver.view(o.dossier)
        assert (view.status.value, view.stage.value if view.stage else None) == o.expected
        row = rm.cases[o.dossier]
        wanted = projection(view)
        differing = {
            k: (getattr(row, k), wanted[k]) for k in FIELDS if getattr(row, k) != wanted[k]
        }
        assert not differing, (o.dossier, differing)


def assert_audited_once(outcomes: list[Outcome], rm: ReadModel) -> None:
    kinds = Counter(rm.audit)
    for o in outcomes:
        for kind, n in o.expected_events().items():
            assert kinds[(o.dossier, kind)] == n, (o.dossier, kind, kinds[(o.dossier, kind)])


# Outbox statuses of an email not meant to reach anyone (any more).
NOT_MEANT_TO_GO = frozenset({"rejected", "no_recipient", "stale", "failed"})


def _content(m: EmailMessage) -> tuple[str, ...]:
    # Date differs between copies (it is when the copy was composed); nothing else may.
    text = m.get_body(("plain",))
    html = m.get_body(("html",))
    return (
        str(m["Subject"]),
        str(m["To"]),
        text.get_content() if text else "",
        html.get_content() if html else "",
    )


def assert_emails_delivered(
    outcomes: list[Outcome], rm: ReadModel, catcher: MailCatcher, *, crashes: bool
) -> Counter[str]:
    """The strict check (module docstring). Without `crashes` (no process died mid-exchange,
    no record lost) nothing may be in doubt: every email `sent`, arrived exactly once.

    Returns the figures: emails, sent, unconfirmed (times an email was found in doubt),
    resent, arrived (copies), duplicates (Message-IDs that arrived more than once)."""
    status = rm.outbox_status
    messages = catcher.messages()
    copies: dict[str, list[EmailMessage]] = {}
    for m in messages:
        copies.setdefault(str(m["Message-ID"]), []).append(m)
    rows = {m.message_id: m for m in rm.outbox if m.message_id}

    # Nothing left half-done or dropped. An email still in doubt after every resend is
    # `failed` (only possible with crashes), and its supervisors' notice went.
    assert set(status) <= ({"sent", "failed"} if crashes else {"sent"}), status
    keys = {m.key: m for m in rm.outbox}
    for row in rm.outbox:
        if row.status == "failed":
            notice = keys.get(f"{row.key}:undelivered")
            assert notice is not None and notice.status == "sent", row.key
    # No stranger: every copy is an outbox email.
    strangers = set(copies) - set(rows)
    assert not strangers, strangers
    # Every email meant to go arrived.
    meant = [row for row in rm.outbox if row.status not in NOT_MEANT_TO_GO]
    missing = [row.key for row in meant if row.message_id not in copies]
    assert not missing, missing
    # Copies: only of an email in doubt, at most one per attempt, and identical.
    duplicates = {mid: ms for mid, ms in copies.items() if len(ms) > 1}
    for mid, ms in duplicates.items():
        row = rows[mid]
        assert row.resends > 0, (row.key, len(ms))
        assert len(ms) <= 1 + row.resends, (row.key, len(ms), row.resends)
        assert len({_content(m) for m in ms}) == 1, row.key
    unconfirmed = sum(1 for _, kind in rm.audit if kind == "email_unconfirmed")
    # Resends begun (the column) and accepted (audited); one killed in its turn left the
    # email in doubt again, which the trail records as another `email_unconfirmed`.
    resent = sum(row.resends for row in rm.outbox)
    accepted = sum(1 for _, kind in rm.audit if kind == "email_resent")
    assert accepted <= resent <= unconfirmed, (accepted, resent, unconfirmed)
    if not crashes:
        assert unconfirmed == resent == 0 and not duplicates, (unconfirmed, resent)

    per_case = Counter(r.dossier for r in rm.outbox if not r.key.endswith(":undelivered"))
    for o in outcomes:
        assert per_case[o.dossier] == o.expected_emails(), (o.dossier, per_case[o.dossier])
    return Counter(
        emails=len(rm.outbox),
        sent=status["sent"],
        failed=status["failed"],
        unconfirmed=unconfirmed,
        resent=resent,
        arrived=len(messages),
        duplicates=len(duplicates),
    )


def email_figures(status: Counter[str]) -> str:
    return (
        f"{status['emails']} emails ({status['sent']} sent, {status['unconfirmed']} found "
        f"unconfirmed, {status['resent']} resent, {status['arrived']} arrived, "
        f"{status['duplicates']} arrived more than once with the same Message-ID, "
        f"{status['failed']} failed)"
    )
