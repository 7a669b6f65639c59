"""The Temporal dev server dies (SIGKILL) and is started again on the same data file, twice,
while cases move through stages and escalations: every open case, timer and escalation goes
on. Stall timers that fell due while the server was down fire once it is back.

The worker process is not restarted: the SDK's pollers retry an unreachable server with
backoff, so the worker picks up again by itself (the test fails if a worker process exits).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from tests.faults.checks import (
    OUTAGE_CASES,
    assert_audited_once,
    assert_emails_delivered,
    assert_where_expected,
    read_model,
)
from tests.faults.driver import CaseDriver
from tests.faults.harness import eventually, rig

pytestmark = pytest.mark.faults


async def test_dev_server_restarted_on_its_data_file(tmp_path: Path) -> None:
    began = time.monotonic()
    async with rig(tmp_path) as r:
        workers = r.workers()
        workers.start()
        driver = CaseDriver(await r.client(), r.settings, r.policy(), alive=workers.alive)
        downtimes: list[float] = []

        async def worker_up() -> bool:
            return bool((await read_model(r.settings.database_url)).cases)

        async def restarter() -> None:
            # Not before the worker has connected and opened a case: a worker that cannot
            # reach the server when it starts exits (on a loaded machine it took over 4 s to
            # get there, and CI then waited on a worker that was gone).
            await eventually(worker_up, within=120, every=0.5)
            # The first outage hits the openings and plans; the second falls in francization,
            # whose stall timers (seconds apart in the fault policy) come due while it is down.
            for wait, outage in ((4.0, 6.0), (6.0, 8.0)):
                await asyncio.sleep(wait)
                await asyncio.to_thread(r.server.kill)
                await asyncio.sleep(outage)
                down = time.monotonic()
                await r.server.start()  # same port, same SQLite file
                downtimes.append(round(outage + time.monotonic() - down, 1))

        restarts = asyncio.create_task(restarter())
        try:
            outcomes = await driver.drive_many([f"R-{i:04d}" for i in range(OUTAGE_CASES)])
            await restarts
            await eventually(lambda: driver.all_settled(outcomes), within=300, every=3)
            settled = time.monotonic() - began
            assert all(p.poll() is None for p in workers.procs), "a worker gave up"
            rm = await read_model(r.settings.database_url)
            await assert_where_expected(driver, outcomes, rm)
        finally:
            restarts.cancel()
            workers.stop()
        assert len(workers.procs) == 1  # never replaced
        assert_audited_once(outcomes, rm)
        # The worker never died mid-exchange: every email `sent`, each arrived once. (An
        # activity whose completion the dead server never heard of runs again and finds its
        # outbox row already sent.)
        status = assert_emails_delivered(outcomes, rm, r.catcher, crashes=False)
        escalations = sum(1 for _, kind in rm.audit if kind == "escalated")
        print(
            f"\n{OUTAGE_CASES} cases through 2 server kills (down {downtimes} s); settled in "
            f"{settled:.0f}s; {escalations} escalations, {status['arrived']} emails once each"
        )
