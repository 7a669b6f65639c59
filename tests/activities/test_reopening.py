"""register_case for a reopening (issue 16), on the read model (SQLite, and PostgreSQL with
PARCOURS_TEST_DATABASE_URL): accepted for a declined or withdrawn case whose start was signed
over the reopening; refused, changing nothing, for an open or purged case or a signature over
anything else."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.casework import Casework
from parcours.infrastructure.signing import Verifier
from parcours.infrastructure.store.retention import purge_cases
from parcours.kernel.domain import (
    Actor,
    CaseInput,
    CaseStatus,
    EventBatch,
    RegisterCase,
    Reopening,
    Role,
)
from parcours.kernel.policy import load_policy
from tests.activities.test_casework import case_row, off, signed_opening
from tests.store.builders import T0, event, register, snapshot
from tests.store.conftest import add
from tests.temporal_servers import TEST_SIGNER, TEST_SIGNING_KEY

REOPENING = Reopening(
    actor=Actor("sup", Role.SUPERVISOR, "montreal"), period=2, step=3, officer_id="b",
    previous_status="declined",
)  # fmt: skip


def reopening_request(at_days: int, reopening: Reopening = REOPENING) -> RegisterCase:
    at = T0 + timedelta(days=at_days)
    policy = load_policy(None)
    req = register()
    req = replace(req, snapshot=replace(req.snapshot, started_at=at), reopening=reopening)
    inp = TEST_SIGNER.sign_start(
        req.workflow_id, CaseInput(req.approval, policy, reopening=reopening), at
    )
    return replace(req, policy=policy, signature=inp.signature, start_accepted_at=at)


async def test_a_reopening_registers_only_a_closed_case_signed_over_it(sessions) -> None:
    await add(sessions, off("b"))
    ours = Casework(sessions, Verifier((TEST_SIGNING_KEY,)))
    env = ActivityEnvironment()
    opening = signed_opening(register(), TEST_SIGNER, T0)
    await env.run(ours.register_case, opening)

    async def refused(req: RegisterCase) -> str:
        with pytest.raises(ApplicationError) as info:
            await env.run(ours.register_case, req)
        assert info.value.type == "InvalidInput" and info.value.non_retryable
        return info.value.message

    # Open: no reopening (the row is untouched).
    assert await refused(reopening_request(1)) == "reopening refused: not_reopenable"
    assert (await case_row(sessions)).status == "active"
    closed = snapshot(status=CaseStatus.DECLINED, stage=None, officer_id="b")
    await env.run(ours.record_events, EventBatch([event(2, closed, kind="case_declined")]))
    # Signed over another reopening, or a plain start's signature: refused.
    other = reopening_request(200, replace(REOPENING, officer_id="someone"))
    assert (await refused(replace(other, reopening=REOPENING))).startswith(
        "start refused: signature_invalid"
    )
    plain = signed_opening(register(), TEST_SIGNER, T0 + timedelta(days=200))
    assert (await refused(replace(plain, reopening=REOPENING))).startswith(
        "start refused: signature_invalid"
    )
    # Months later (arrival far behind the intake window), signed: registered; a retry too.
    good = reopening_request(200)
    assert (await env.run(ours.register_case, good)).officer_id == "b"
    assert (await env.run(ours.register_case, good)).officer_id == "b"
    # Purged by retention: refused, pointing to a new dossier.
    async with sessions() as session, session.begin():
        await purge_cases(session, ["D-1"], T0 + timedelta(days=300))
    assert await refused(reopening_request(301)) == "reopening refused: reopen_purged"
