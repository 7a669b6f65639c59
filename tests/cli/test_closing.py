"""`parcours decline` and `parcours reopen` end to end (issue 16): a real Temporal dev server,
a real worker, SQLite and an SMTP catcher. A case is declined, reopened under its dossier
number (a new run of the same workflow id), declined again, purged by retention, and then
refused a second reopening."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from parcours.application.refusals import message_of
from parcours.infrastructure.store import retention
from parcours.infrastructure.store.models import AuditEvent, OutboxMessage
from parcours.infrastructure.temporal import reopen_case, reopenable_file
from parcours.kernel.domain import Actor, Reopening
from parcours.kernel.errors import UpdateRejected
from parcours.kernel.messages import Message
from tests.cli.conftest import Cli, add_roster, dossier, eventually
from tests.conftest import Stack


async def test_decline_reopen_and_purged(cli: Cli, stack: Stack) -> None:  # noqa: F811
    await add_roster(cli)
    d = dossier()
    await cli.ok(
        "start", "--dossier", d, "--name", "Amina Diallo", "--email", "amina@example.org",
        "--arrival", "2030-01-15", "--region", "montreal", "--language", "en",
    )  # fmt: skip

    async def assigned() -> bool:
        return bool((await cli.json("status", d))["officer"])

    await eventually(assigned)
    officer = (await cli.json("status", d))["officer"]
    other = "crodriguez" if officer == "atremblay" else "atremblay"
    err = await cli.fails("decline", d, "--by", other, "--reason-category", "declined_services")
    assert other in err
    err = await cli.fails("decline", d, "--by", officer, "--reason-category", "other")
    assert "reason is required" in err
    declined = await cli.json(
        "decline", d, "--by", officer, "--reason-category", "declined_services",
        "--note", "Not now",
    )  # fmt: skip
    assert declined["status"] == "declined" and declined["stage"] is None

    assert other in await cli.fails("reopen", d, "--by", other)
    # A reopening the CLI would not send (someone the table refuses), started anyway: the new
    # run fails before any effect, and the case is still the declined one, reopenable.
    found, run_id = await reopenable_file(stack.client, stack.settings, d)
    forged = Reopening(
        actor=Actor(other, region="montreal"), previous_run_id=run_id, period=2,
        step=found.state.step, officer_id=officer, previous_status="declined",
    )  # fmt: skip
    with pytest.raises(UpdateRejected) as info:
        await reopen_case(stack.client, stack.settings, found.state.approval, found.state.policy,
                          forged)  # fmt: skip
    assert message_of(info.value) == Message.of("reopen_failed", dossier=d)
    assert (await reopenable_file(stack.client, stack.settings, d))[1] == run_id
    # One that names no closed run (a start from a client that only reached the frontend
    # names what it likes): the case is still the declined one, not "never opened".
    with pytest.raises(UpdateRejected):
        await reopen_case(stack.client, stack.settings, found.state.approval, found.state.policy,
                          replace(forged, previous_run_id=""))  # fmt: skip
    assert (await reopenable_file(stack.client, stack.settings, d))[1] == run_id
    assert (await cli.json("status", d))["status"] == "declined"
    reopened = await cli.json("reopen", d, "--by", "nbouchard", "--note", "She called back")
    assert (reopened["status"], reopened["stage"]) == ("active", "arrival")
    assert reopened["officer"] == officer
    assert reopened["arrival_date"] == "2030-01-15"
    assert "only a declined or withdrawn" in await cli.fails("reopen", d, "--by", "nbouchard")

    async def recorded() -> list[str]:
        async with stack.sessions() as session:
            rows = await session.scalars(select(AuditEvent).where(AuditEvent.dossier == d))
            return [r.kind for r in sorted(rows, key=lambda r: (r.at, r.id))]

    async def trail_has_both_periods() -> bool:
        return "case_reopened" in await recorded()

    await eventually(trail_has_both_periods)
    kinds = await recorded()
    assert kinds.index("case_opened") < kinds.index("case_declined") < kinds.index("case_reopened")
    async with stack.sessions() as session:
        mails = list(await session.scalars(select(OutboxMessage).where(OutboxMessage.dossier == d)))
    assert "case_declined" in {m.template for m in mails}
    assert len({m.key for m in mails}) == len(mails)

    # Declined again, then purged by retention: no reopening, and a clear way forward.
    await cli.ok("decline", d, "--by", officer, "--reason-category", "unreachable")

    async def due_for_purge() -> bool:
        # Retention counts a declined case as closed.
        async with stack.sessions() as session:
            return d in await retention.due_for_purge(session, datetime.now(UTC), 100)

    await eventually(due_for_purge)
    async with stack.sessions() as session, session.begin():
        await retention.purge_cases(session, [d], datetime.now(UTC))
    err = await cli.fails("reopen", d, "--by", "nbouchard")
    assert "erased" in err and "new dossier" in err
