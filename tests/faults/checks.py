"""What every fault test proves afterwards: each case is where its route leads, in Temporal and
in the read model; every transition is in the audit trail exactly once; no email went out
twice, and every email the workflows decided is accounted for at the SMTP server.

Emails: the Notifier chooses at-most-once for a crash in the middle of an SMTP exchange (the
row becomes `unconfirmed`, never resent). So the honest check is: no Message-ID twice at the
SMTP server, every `sent` row arrived, and sent <= arrived <= sent + unconfirmed.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass

from sqlalchemy import select

from parcours.mail.catcher import MailCatcher
from parcours.reconcile import FIELDS, projection
from parcours.store.db import create_engine, session_factory
from parcours.store.models import AuditEvent, Case, OutboxMessage
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


def assert_emails_once(
    outcomes: list[Outcome], rm: ReadModel, catcher: MailCatcher, *, crashes: bool
) -> Counter[str]:
    """No email twice at the SMTP server and none missing. Without `crashes` (no process died
    mid-exchange), every email must be `sent` and have arrived exactly once."""
    status = rm.outbox_status
    assert set(status) <= ({"sent", "unconfirmed"} if crashes else {"sent"}), status
    arrived = Counter(m["Message-ID"] for m in catcher.messages())
    assert not arrived or max(arrived.values()) == 1, [k for k, v in arrived.items() if v > 1]
    sent_ids = {m.message_id for m in rm.outbox if m.status == "sent"}
    assert sent_ids <= set(arrived)
    assert status["sent"] <= len(arrived) <= status["sent"] + status["unconfirmed"]
    per_case = Counter(m.dossier for m in rm.outbox)
    for o in outcomes:
        assert per_case[o.dossier] == o.expected_emails(), (o.dossier, per_case[o.dossier])
    return status + Counter(arrived=len(arrived))
