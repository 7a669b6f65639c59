"""The console's header counts the open cases waiting for an officer in the reader's scope
(issue 17): a supervisor their region's, a director every region's, an officer none."""

from __future__ import annotations

import re
from pathlib import Path

from parcours.infrastructure.store import cases
from parcours.kernel.domain import CaseStatus
from tests.store.builders import approval, snapshot
from tests.web.console import running_console, sign_in


def alert(page: str) -> str | None:
    found = re.search(r'<a id="unassigned-alert"[^>]*>([^<]*)</a>', page)
    return found.group(1) if found else None


async def test_header_counts_unassigned_cases_in_the_readers_scope(tmp_path: Path) -> None:
    logins = ("atremblay", "nbouchard", "mlevesque", "hcote")
    async with running_console(tmp_path, logins=logins) as console:
        async with console.web.sessions() as session, session.begin():
            # No officer of the Capitale-Nationale nor of Laval is on this roster: two open
            # cases wait there, one in Laval, and a closed one does not count.
            for dossier, region, status in (
                ("U-1", "capitale-nationale", CaseStatus.ACTIVE),
                ("U-2", "capitale-nationale", CaseStatus.PAUSED),
                ("U-3", "laval", CaseStatus.ACTIVE),
                ("U-4", "laval", CaseStatus.WITHDRAWN),
            ):
                snap = snapshot(dossier, region=region, status=status)
                snap.stage = None if status == CaseStatus.WITHDRAWN else snap.stage
                await cases.register_case(
                    session, f"newcomer-{dossier}", approval(dossier, region=region), snap
                )
            await cases.register_case(
                session,
                "newcomer-A-1",
                approval("A-1"),
                snapshot("A-1", officer_id="atremblay"),
            )
        seen: dict[str, str | None] = {}
        for login in logins:
            c = console.browser(address=f"192.0.2.{len(seen) + 20}")
            await sign_in(c, login)
            page = await c.get("/supervision/reports")
            seen[login] = alert(page.text)
    assert seen["atremblay"] is None  # an officer: no alarm
    assert seen["nbouchard"] is None  # nothing waits in Montreal
    assert seen["mlevesque"] == "2 dossiers sans agent·e"  # their region's
    assert seen["hcote"] == "3 dossiers sans agent·e"  # every region's
