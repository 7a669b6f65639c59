"""Workers killed with SIGKILL at random moments while 200+ cases move through stages and
escalations: afterwards every case is where it should be, every transition is in the audit
trail exactly once, and no email went out twice.

Real processes: the Temporal dev server, two `python worker.py` subprocesses, an SMTP server.
Emails: the Notifier chooses at-most-once for a crash in the middle of an SMTP exchange (the
row becomes `unconfirmed`, never resent). So the honest check is: no Message-ID twice at the
SMTP server, every `sent` row arrived, and sent <= arrived <= sent + unconfirmed.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from parcours.store.db import create_engine, session_factory
from parcours.store.models import AuditEvent, Case, OutboxMessage
from tests.faults.driver import CaseDriver
from tests.faults.harness import eventually, rig

pytestmark = pytest.mark.faults

CASES = int(os.environ.get("PARCOURS_FAULT_CASES", "200"))


async def test_sigkill_workers_while_cases_move(tmp_path: Path) -> None:
    began = time.monotonic()
    rng = random.Random(int(os.environ.get("PARCOURS_FAULT_SEED", "4")))
    async with rig(tmp_path) as r:
        workers = r.workers()
        workers.start()
        workers.start()
        client = await r.client()
        driver = CaseDriver(client, r.settings, r.policy())
        done = asyncio.Event()

        async def killer() -> None:
            while not done.is_set():
                await asyncio.sleep(rng.uniform(0.5, 4.0))
                if done.is_set():
                    return
                await asyncio.to_thread(workers.kill_one)
                # Sometimes both die before a replacement comes up.
                if rng.random() < 0.2:
                    await asyncio.to_thread(workers.kill_one)
                    await asyncio.sleep(rng.uniform(0.5, 2.0))
                    workers.start()
                workers.start()

        kill_task = asyncio.create_task(killer())
        try:
            outcomes = await driver.drive_many([f"K-{i:04d}" for i in range(CASES)])
        finally:
            done.set()
            await kill_task
        driven = time.monotonic() - began

        # Settle with live workers: activities that died with a worker time out and retry.
        await eventually(lambda: driver.all_settled(outcomes), within=240, every=3)
        settled = time.monotonic() - began

        engine = create_engine(r.settings.database_url)
        try:
            async with session_factory(engine)() as s:
                cases = {c.dossier: c for c in (await s.scalars(select(Case))).all()}
                audit = (await s.execute(select(AuditEvent.dossier, AuditEvent.kind))).all()
                outbox = (await s.scalars(select(OutboxMessage))).all()
        finally:
            await engine.dispose()

        # Every case in the right stage, in Temporal and in the read model (queries need a
        # live worker, so the workers stop only after).
        for o in outcomes:
            view = await driver.view(o.dossier)
            assert (view.status.value, view.stage.value if view.stage else None) == o.expected
            row = cases[o.dossier]
            assert (row.status, row.stage) == o.expected, o.dossier
        workers.stop()
        # Every transition exactly once.
        kinds = Counter((d, k) for d, k in audit)
        for o in outcomes:
            for kind, n in o.expected_events().items():
                assert kinds[(o.dossier, kind)] == n, (o.dossier, kind, kinds[(o.dossier, kind)])
        # Emails: nothing pending, nothing twice.
        status = Counter(m.status for m in outbox)
        assert set(status) <= {"sent", "unconfirmed"}, status
        arrived = Counter(m["Message-ID"] for m in r.catcher.messages())
        assert max(arrived.values()) == 1, [k for k, v in arrived.items() if v > 1]
        sent_ids = {m.message_id for m in outbox if m.status == "sent"}
        assert sent_ids <= set(arrived)
        assert status["sent"] <= len(arrived) <= status["sent"] + status["unconfirmed"]
        # The newcomers' and staff's emails the workflows decided, none missing.
        per_case = Counter(m.dossier for m in outbox)
        for o in outcomes:
            assert per_case[o.dossier] == o.expected_emails(), (o.dossier, per_case[o.dossier])

        print(
            f"\n{CASES} cases, {workers.kills} SIGKILLs, {len(outbox)} emails "
            f"({status['sent']} sent, {status['unconfirmed']} unconfirmed, {len(arrived)} "
            f"arrived), {len(audit)} audit rows; driven in {driven:.0f}s, settled in "
            f"{settled:.0f}s"
        )
