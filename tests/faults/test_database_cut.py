"""The read-model database (PostgreSQL) is unreachable, twice, while cases move: officers'
actions still answer, the activities retry, and afterwards the read model matches the
workflows column by column, the audit trail holds every transition once, no email went out
twice. Then rows are damaged on purpose and `parcours reconcile` (a real CLI process) reports
exactly those and repairs them.

Real processes: the Temporal dev server, a `python worker.py` subprocess, an SMTP server, and
PostgreSQL behind a TCP proxy that drops every connection and refuses new ones while cut.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio
from sqlalchemy import delete, update

from parcours.infrastructure.store.db import create_engine, session_factory
from parcours.infrastructure.store.models import Case
from tests.faults.checks import (
    OUTAGE_CASES,
    assert_audited_once,
    assert_emails_delivered,
    assert_where_expected,
    email_figures,
    read_model,
)
from tests.faults.driver import CaseDriver
from tests.faults.harness import TcpProxy, eventually, rig, worker_env

pytestmark = pytest.mark.faults

POSTGRES = ("127.0.0.1", 5432)


@pytest_asyncio.fixture
async def database() -> AsyncIterator[str]:
    """A database of its own on the local PostgreSQL, dropped afterwards."""
    name = f"faults_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(host=POSTGRES[0], port=POSTGRES[1], user="postgres")
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield name
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def test_database_cut_then_reconcile(tmp_path: Path, database: str) -> None:
    began = time.monotonic()
    proxy = TcpProxy(*POSTGRES)
    await proxy.start()
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{proxy.port}/{database}"
    cuts: list[float] = []
    async with rig(tmp_path, database_url=url) as r:
        workers = r.workers()
        workers.start()
        driver = CaseDriver(await r.client(), r.settings, r.policy(), alive=workers.alive)

        async def worker_up() -> bool:
            try:
                return bool((await read_model(url)).cases)
            except Exception:
                return False

        async def cutter() -> None:
            # Not before the worker has migrated and opened a case: a worker that meets the
            # cut while it starts exits (on a loaded machine it took over 3 s to get there).
            await eventually(worker_up, within=120, every=0.5)
            # The first outage hits the openings and plans, the second the escalations.
            for wait, outage in ((3.0, 12.0), (4.0, 8.0)):
                await asyncio.sleep(wait)
                proxy.cut()
                await asyncio.sleep(outage)
                proxy.restore()
                cuts.append(outage)

        cut_task = asyncio.create_task(cutter())
        try:
            outcomes = await driver.drive_many([f"D-{i:04d}" for i in range(OUTAGE_CASES)])
            await cut_task
            await eventually(lambda: driver.all_settled(outcomes), within=300, every=3)
            settled = time.monotonic() - began
            rm = await read_model(url)
            await assert_where_expected(driver, outcomes, rm)
            assert_audited_once(outcomes, rm)
            # A cut between the SMTP server's acceptance and the outbox update leaves the row
            # in doubt, as a crash would: sent again after its lease, same Message-ID.
            status = assert_emails_delivered(outcomes, rm, r.catcher, crashes=True)

            # Now damage the read model as a restore from an older backup would, and let
            # reconcile find it.
            gone, stale = outcomes[0].dossier, outcomes[1].dossier
            engine = create_engine(url)
            try:
                async with session_factory(engine)() as s, s.begin():
                    await s.execute(delete(Case).where(Case.dossier == gone))
                    await s.execute(
                        update(Case)
                        .where(Case.dossier == stale)
                        .values(stage="arrival", escalation_level=2)
                    )
            finally:
                await engine.dispose()
            env = worker_env(r.settings, r.policy_file, r.key_spec)

            def reconcile() -> tuple[int, dict[str, object]]:
                run = subprocess.run(
                    [sys.executable, "-m", "parcours.interfaces.cli.main", "reconcile", "--json"],
                    env=env,
                    capture_output=True,
                    timeout=120,
                )
                return run.returncode, json.loads(run.stdout)

            code, first = await asyncio.to_thread(reconcile)
            assert code == 3, first
            differences: list[dict[str, object]] = first["differences"]  # type: ignore[assignment]
            assert {d["dossier"]: d["problem"] for d in differences} == {
                gone: "missing",
                stale: "stage,escalation_level",
            }
            assert first["checked"] == OUTAGE_CASES and first["unreadable"] == []
            code, second = await asyncio.to_thread(reconcile)
            assert (code, second["differences"]) == (0, [])
            await assert_where_expected(driver, outcomes, await read_model(url))
        finally:
            cut_task.cancel()
            workers.stop()
            await proxy.close()
        print(
            f"\n{OUTAGE_CASES} cases through database outages of {cuts} s; settled in "
            f"{settled:.0f}s; {email_figures(status)}; reconcile found and fixed "
            f"{len(differences)} damaged rows, then none"
        )
