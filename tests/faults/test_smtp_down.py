"""The SMTP server is down while cases move through stages and escalations: the cases keep
moving (officers' actions answer, stages advance, escalations climb), the emails wait in the
outbox, and once the server is back every one of them is delivered exactly once.

Real processes: the Temporal dev server, a `python worker.py` subprocess, an SMTP server that
is stopped (connections refused) and started again on the same port.
"""

from __future__ import annotations

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


async def test_smtp_down_then_back(tmp_path: Path) -> None:
    began = time.monotonic()
    async with rig(tmp_path) as r:
        r.catcher.stop()  # the relay refuses connections from the first case on
        workers = r.workers()
        workers.start()
        driver = CaseDriver(await r.client(), r.settings, r.policy(), alive=workers.alive)
        try:
            outcomes = await driver.drive_many([f"M-{i:04d}" for i in range(OUTAGE_CASES)])
            # Every case reached the end of its route with no SMTP server at all.
            moved = time.monotonic() - began

            # The audit trail does not wait for the mail: it catches up on its own.
            async def audited() -> bool:
                try:
                    assert_audited_once(outcomes, await read_model(r.settings.database_url))
                except AssertionError:
                    return False
                return True

            await eventually(audited, within=60)
            assert r.catcher.messages() == []
            waiting = (await read_model(r.settings.database_url)).outbox_status
            assert waiting["sent"] == 0 and waiting["pending"] > 0, waiting

            r.catcher.start()  # same port: the activities' retries find it
            await eventually(lambda: driver.all_settled(outcomes), within=300, every=3)
            delivered = time.monotonic() - began

            after = await read_model(r.settings.database_url)
            await assert_where_expected(driver, outcomes, after)
        finally:
            workers.stop()
        assert_audited_once(outcomes, after)
        # No process died mid-exchange: every email is `sent`, and arrived exactly once.
        status = assert_emails_delivered(outcomes, after, r.catcher, crashes=False)
        print(
            f"\n{OUTAGE_CASES} cases moved to the end of their routes in {moved:.0f}s with "
            f"SMTP down ({waiting['pending']} emails waiting); {status['arrived']} delivered "
            f"once each {delivered - moved:.0f}s after it came back"
        )
