"""register_case and record_event, run as activities (ActivityEnvironment)."""

from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.casework import Casework
from parcours.infrastructure.codec import new_key
from parcours.infrastructure.signing import Signer, Verifier
from parcours.infrastructure.store.db import create_engine, session_factory
from parcours.infrastructure.store.models import AuditEvent, Case
from parcours.infrastructure.store.officers import NewOfficer
from parcours.kernel.domain import CaseInput, CaseStatus, EventBatch, RegisterCase, Stage
from parcours.kernel.policy import load_policy
from tests.store.builders import T0, event, register, snapshot
from tests.store.conftest import AUDIT_KEYS, add
from tests.temporal_servers import TEST_SIGNER, TEST_SIGNING_KEY


def off(id: str, langs: str = "fr") -> NewOfficer:
    return NewOfficer(id, id.title(), f"{id}@parcours.example", "montreal", langs)


async def case_row(sessions, dossier: str = "D-1") -> Case:
    async with sessions() as session:
        case = await session.get(Case, dossier)
    assert case is not None
    return case


async def audit_count(sessions) -> int:
    async with sessions() as session:
        return await session.scalar(select(func.count()).select_from(AuditEvent))


async def test_register_case_picks_an_officer_and_stores_contact_data(
    sessions, casework, activity_env
):
    await add(sessions, off("anglo", "fr,en"), off("franco"))
    assignment = await activity_env.run(casework.register_case, register(language="en"))
    assert assignment.officer_id == "anglo" and not assignment.unassigned
    case = await case_row(sessions)
    assert case.officer_id == "anglo"
    assert case.full_name == "Ana Pérez" and case.email == "d-1@newcomer.example"
    assert case.workflow_id == "newcomer-D-1" and case.status == "active"


async def test_register_case_is_idempotent(sessions, casework, activity_env):
    await add(sessions, off("b"), off("c"))
    first = await activity_env.run(casework.register_case, register())
    assert first.officer_id == "b"  # tie on caseload: smallest id
    # A fresh pick would now choose "c" (fewer cases); the retry keeps the first choice.
    again = await activity_env.run(casework.register_case, register())
    assert again == first
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Case)) == 1


async def test_register_case_without_officer_is_unassigned(sessions, casework, activity_env):
    assignment = await activity_env.run(casework.register_case, register(region="cote-nord"))
    assert assignment.officer_id is None and assignment.unassigned
    assert (await case_row(sessions)).officer_id is None


async def test_record_event_twice_writes_one_audit_row(sessions, casework, activity_env):
    await activity_env.run(casework.register_case, register())
    ev = event(1, snapshot(officer_id="x", escalation_level=1), kind="escalated", text="note")
    first = await activity_env.run(casework.record_event, ev)
    # A retry of the same step, even with a different payload, changes nothing.
    second = await activity_env.run(
        casework.record_event, replace(ev, snapshot=snapshot(officer_id="y"))
    )
    assert not first.duplicate and second.duplicate
    assert await audit_count(sessions) == 1
    case = await case_row(sessions)
    assert case.officer_id == "x" and case.escalation_level == 1
    async with sessions() as session:
        row = await session.scalar(select(AuditEvent))
    assert row is not None and row.kind == "escalated" and row.text == "note"
    assert row.dossier == "D-1" and row.at == ev.at


async def test_an_older_event_arriving_late_does_not_overwrite_the_projection(
    sessions, casework, activity_env
):
    newer = event(5, snapshot(stage=Stage.FRANCIZATION, officer_id="b"), kind="stage_started")
    older = event(4, snapshot(stage=Stage.ARRIVAL, officer_id="a"), kind="plan_filed")
    await activity_env.run(casework.record_event, newer)
    result = await activity_env.run(casework.record_event, older)
    assert not result.duplicate  # audited all the same
    assert await audit_count(sessions) == 2
    case = await case_row(sessions)
    assert case.stage == "francization" and case.officer_id == "b"
    assert case.last_event_seq == 5


async def test_events_with_the_same_time_are_ordered_by_step(sessions, casework, activity_env):
    late = event(12, snapshot(status=CaseStatus.PAUSED), at=T0)
    early = event(11, snapshot(status=CaseStatus.ACTIVE), at=T0)
    await activity_env.run(casework.record_event, late)
    await activity_env.run(casework.record_event, early)
    assert (await case_row(sessions)).status == "paused"


async def test_a_newer_event_is_applied(sessions, casework, activity_env):
    await activity_env.run(casework.register_case, register())
    done = snapshot(status=CaseStatus.COMPLETED, stage=None, at=T0 + timedelta(days=400))
    await activity_env.run(casework.record_event, event(1, snapshot()))
    await activity_env.run(casework.record_event, event(2, done, at=T0 + timedelta(days=400)))
    case = await case_row(sessions)
    assert case.status == "completed" and case.stage is None
    assert case.closed_at == T0 + timedelta(days=400)
    assert case.full_name == "Ana Pérez"  # contact data untouched by projections


@pytest.mark.parametrize(
    "broken",
    [
        lambda e: replace(e, snapshot=replace(e.snapshot, region="ontario")),
        lambda e: replace(e, snapshot=replace(e.snapshot, arrival_date="10/03/2026")),
        lambda e: replace(e, at=e.at.replace(tzinfo=None)),
        lambda e: replace(e, key=""),
    ],
)
async def test_invalid_events_are_not_retried(casework, activity_env, broken):
    with pytest.raises(ApplicationError) as err:
        await activity_env.run(casework.record_event, broken(event(1, snapshot())))
    assert err.value.non_retryable


async def test_an_unreachable_database_raises_a_retryable_error(tmp_path, activity_env):
    # Nothing listens on port 1: the error must reach Temporal as a plain (retryable) failure.
    engine = create_engine("postgresql+asyncpg://nobody@127.0.0.1:1/nothing")
    try:
        casework = Casework(session_factory(engine, AUDIT_KEYS))
        with pytest.raises(Exception) as err:
            await activity_env.run(casework.record_event, event(1, snapshot()))
        assert not (isinstance(err.value, ApplicationError) and err.value.non_retryable)
    finally:
        await engine.dispose()


async def test_a_batch_is_recorded_in_order_and_a_retry_changes_nothing(
    sessions, casework, activity_env
):
    await activity_env.run(casework.register_case, register())
    batch = EventBatch(
        events=[
            event(1, snapshot(officer_id="x"), kind="case_opened"),
            event(2, snapshot(officer_id="x"), kind="officer_assigned"),
            event(3, snapshot(officer_id="x", escalation_level=1), kind="escalated"),
        ]
    )
    first = await activity_env.run(casework.record_events, batch)
    again = await activity_env.run(casework.record_events, batch)
    assert (first.recorded, first.duplicates) == (3, [])
    assert (again.recorded, again.duplicates) == (0, [e.key for e in batch.events])
    assert await audit_count(sessions) == 3
    assert (await case_row(sessions)).escalation_level == 1  # the last one's projection


async def test_a_broken_event_in_a_batch_is_refused_and_the_others_recorded(
    sessions, casework, activity_env
):
    await activity_env.run(casework.register_case, register())
    good = event(1, snapshot(), kind="case_opened")
    broken = replace(event(2, snapshot()), key="")
    later = event(3, snapshot(escalation_level=1), kind="escalated")
    result = await activity_env.run(
        casework.record_events, EventBatch(events=[good, broken, later])
    )
    assert (result.recorded, result.refused, result.duplicates) == (2, [""], [])
    assert await audit_count(sessions) == 2
    assert (await case_row(sessions)).escalation_level == 1


async def test_a_batch_of_only_broken_events_fails_for_good(sessions, casework, activity_env):
    await activity_env.run(casework.register_case, register())
    broken = [replace(event(i, snapshot()), at=T0.replace(tzinfo=None)) for i in (1, 2)]
    with pytest.raises(ApplicationError) as err:
        await activity_env.run(casework.record_events, EventBatch(events=broken))
    assert err.value.non_retryable and "timezone-aware" in str(err.value)
    assert await audit_count(sessions) == 0


async def test_a_value_the_read_model_refuses_costs_only_its_own_event(
    engine, sessions, casework, activity_env
):
    await activity_env.run(casework.register_case, register())
    good = event(1, snapshot(), kind="case_opened")
    # AuditEvent.kind is String(64): PostgreSQL refuses a longer one (DataError) where
    # SQLite, which does not enforce lengths, takes it.
    long = event(2, snapshot(), kind="k" * 65)
    later = event(3, snapshot(escalation_level=2), kind="escalated")
    result = await activity_env.run(casework.record_events, EventBatch(events=[good, long, later]))
    if engine.dialect.name == "postgresql":
        assert (result.recorded, result.refused) == (2, [long.key])
        assert await audit_count(sessions) == 2
    else:
        assert (result.recorded, result.refused) == (3, [])
        assert await audit_count(sessions) == 3
    assert (await case_row(sessions)).escalation_level == 2


async def test_a_case_value_the_read_model_refuses_fails_for_good(
    engine, sessions, casework, activity_env, monkeypatch
):
    req = register()
    # The approval checks now refuse every value the columns would (email-validator keeps an
    # address within 254 characters): stand in for a later check that lets one through, a
    # value longer than the column's 320.
    monkeypatch.setattr("activities.casework.approval_problems", lambda *_: {})
    long_email = "a" * 390 + "@example.org"
    long_value = replace(req, approval=replace(req.approval, email=long_email))
    if engine.dialect.name == "postgresql":
        # asyncpg's "value too long" reaches SQLAlchemy as a plain DBAPIError, not a DataError:
        # it must still be recognised as permanent, not retried for days.
        with pytest.raises(ApplicationError) as err:
            await activity_env.run(casework.register_case, long_value)
        assert err.value.non_retryable and "refused a value" in str(err.value)
        assert "aaaa" not in str(err.value)
    else:
        await activity_env.run(casework.register_case, long_value)
        assert (await case_row(sessions)).email == long_email


async def test_an_approval_the_interfaces_would_refuse_is_refused_by_the_activity(
    sessions, casework, activity_env
):
    """A client that reached Temporal without our interfaces may hand the workflow anything:
    the activity applies the same approval checks, and names the fields, never their values."""
    req = register()
    bad = replace(req, approval=replace(req.approval, full_name="A" * 201, email="not-an-email"))
    with pytest.raises(ApplicationError) as err:
        await activity_env.run(casework.register_case, bad)
    assert err.value.non_retryable
    assert "the approval is refused: email, name" in str(err.value)
    assert "AAAA" not in str(err.value) and "not-an-email" not in str(err.value)
    async with sessions() as session:
        assert (await session.execute(select(func.count()).select_from(Case))).scalar_one() == 0


async def test_a_second_opening_of_a_dossier_is_refused_and_changes_nothing(
    sessions, casework, activity_env
):
    """A run started over the case (TERMINATE_EXISTING from a client without our keys)
    carries its own opening time and the contact data it likes: refused, row untouched."""
    await add(sessions, off("b"))
    first = register()
    await activity_env.run(casework.register_case, first)
    forged = replace(
        first,
        approval=replace(first.approval, email="attacker@evil.example", region="estrie"),
        snapshot=replace(first.snapshot, region="estrie", started_at=T0 + timedelta(days=30)),
    )
    with pytest.raises(ApplicationError) as info:
        await activity_env.run(casework.register_case, forged)
    assert info.value.type == "InvalidInput" and info.value.non_retryable
    assert "a second opening is refused" in info.value.message
    case = await case_row(sessions)
    assert (case.email, case.region, case.officer_id) == ("d-1@newcomer.example", "montreal", "b")
    # A retry of the first run's own call still answers.
    assert (await activity_env.run(casework.register_case, first)).officer_id == "b"


def signed_opening(req: RegisterCase, signer: Signer, issued_at: datetime) -> RegisterCase:
    """`req` as a first run of today's workflow schedules it: the start's signature, policy and
    the time the server accepted the start."""
    policy = load_policy(None)
    inp = signer.sign_start(req.workflow_id, CaseInput(req.approval, policy), issued_at)
    return replace(req, policy=policy, signature=inp.signature, start_accepted_at=issued_at)


async def test_an_opening_whose_start_is_not_signed_by_our_keys_changes_nothing(sessions):
    """A client that reached Temporal without our keys starts a case: register_case refuses
    it for good, before the read model is touched (no case row, no audit row)."""
    await add(sessions, off("b"))
    ours = Casework(sessions, Verifier((TEST_SIGNING_KEY,)))
    env = ActivityEnvironment()
    at = T0 + timedelta(minutes=3)
    unsigned = replace(register(), policy=load_policy(None), start_accepted_at=at)
    forged = signed_opening(register(), Signer((new_key(TEST_SIGNING_KEY.key_id),)), at)
    stale = replace(
        signed_opening(register(), TEST_SIGNER, at - timedelta(minutes=10)),
        start_accepted_at=at,
    )
    for req, why in (
        (unsigned, "signature_missing"),
        (forged, "signature_invalid"),
        (stale, "signature_stale"),
    ):
        with pytest.raises(ApplicationError) as info:
            await env.run(ours.register_case, req)
        assert info.value.type == "InvalidInput" and info.value.non_retryable
        assert info.value.message.startswith(f"start refused: {why}"), info.value.message
        async with sessions() as session:
            assert await session.get(Case, "D-1") is None
        assert await audit_count(sessions) == 0
    # A worker without signing keys cannot check a start, so it refuses it too.
    with pytest.raises(ApplicationError, match="holds no signing keys"):
        await env.run(Casework(sessions).register_case, signed_opening(register(), TEST_SIGNER, at))
    # Signed by an interface holding the key: opened, and a retry (hours later, the same
    # input) answers the same officer.
    good = signed_opening(register(), TEST_SIGNER, at)
    assert (await env.run(ours.register_case, good)).officer_id == "b"
    assert (await env.run(ours.register_case, good)).officer_id == "b"


async def test_an_opening_scheduled_before_signed_starts_still_registers(sessions):
    """A first run of older code scheduled register_case without the start's fields (its
    input is in history and a retry reuses it): that case was started by our interfaces."""
    await add(sessions, off("b"))
    ours = Casework(sessions, Verifier((TEST_SIGNING_KEY,)))
    legacy = register()
    assert legacy.start_accepted_at is None and legacy.signature is None
    assert (await ActivityEnvironment().run(ours.register_case, legacy)).officer_id == "b"
