"""Every cell of the authorization table (kernel/authz.py, README "Who may act"), walked twice.

1. Through the workflow on the time-skipping server: each action, sent (signed) by an actor of
   each relation to a case where the action is otherwise valid, is accepted exactly where the
   table says so; a refusal is the table's own sentence.
2. Through the CLI against a real dev server and worker: a refused cell is refused by the CLI
   *before* anything is sent (the CLI runs without signing keys there, so an update that reached
   the workflow would be refused as unsigned instead), and an allowed cell goes through.
The "read" row is the console's check (`may_see_case`).
"""

from __future__ import annotations

import dataclasses
import io
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from parcours.application.refusals import message_of
from parcours.infrastructure.catalog import catalog
from parcours.infrastructure.store.accounts import Account, AccountKind
from parcours.infrastructure.store.models import Officer
from parcours.infrastructure.store.officers import NewOfficer, add_officer, get_officer
from parcours.infrastructure.temporal import case_handle, start_case, view_case
from parcours.interfaces.cli.main import amain
from parcours.interfaces.web.auth import may_see_case
from parcours.kernel import authz
from parcours.kernel.authz import ALLOWED, Action, Relation
from parcours.kernel.domain import (
    Actor,
    CaseView,
    Decline,
    GreetingReport,
    ItemStatus,
    ItemUpdate,
    MeetingBooking,
    NewcomerApproval,
    PauseRequest,
    PlanFiling,
    PlanItem,
    ProgressNote,
    Reassignment,
    ResumeRequest,
    Role,
    Stage,
    StageApproval,
    StageWaiver,
    Transfer,
    Withdrawal,
    WithdrawalReason,
)
from parcours.kernel.policy import load_policy
from tests.conftest import Stack, real_stack
from tests.workflows.conftest import (
    DIRECTOR,
    OFFICER,
    OTHER_OFFICER,
    OTHER_SUPERVISOR,
    QC_OFFICER,
    SUPERVISOR,
    Pathway,
    settled,
)

REGION = "montreal"
NEW_REGION = "capitale-nationale"
ACTORS: dict[Relation, Actor] = {
    Relation.ASSIGNED_OFFICER: OFFICER,
    Relation.REGION_OFFICER: OTHER_OFFICER,
    Relation.OTHER_REGION_OFFICER: QC_OFFICER,
    Relation.REGION_SUPERVISOR: SUPERVISOR,
    Relation.OTHER_REGION_SUPERVISOR: OTHER_SUPERVISOR,
    Relation.DIRECTOR: DIRECTOR,
    Relation.INACTIVE: Actor("sup-gone", Role.SUPERVISOR, REGION, active=False),
}
REASSIGN_TO = Actor("off-mtl-3", Role.OFFICER, REGION)
TRANSFER_TO = Actor("off-qc-2", Role.OFFICER, NEW_REGION)
PLAN_ITEMS = [PlanItem(Stage.FRANCIZATION, "Francisation a temps plein")]
MEETING_AT = datetime(2030, 1, 16, 15, tzinfo=UTC)
UPDATE_ACTIONS = [a for a in Action if a in authz.UPDATE_OF]


def argument(action: Action, actor: Actor) -> object:
    """The update input of `action` by `actor`, valid in every way but (perhaps) its actor."""
    return {
        Action.GREET: lambda: GreetingReport(actor),
        Action.PLAN: lambda: PlanFiling(actor, PLAN_ITEMS),
        Action.PROGRESS: lambda: ProgressNote(actor, "Appel de suivi"),
        Action.APPROVE: lambda: StageApproval(actor, Stage.ARRIVAL),
        Action.WAIVE: lambda: StageWaiver(actor, Stage.EMPLOYMENT, "Emploi deja obtenu"),
        Action.REASSIGN: lambda: Reassignment(actor, REASSIGN_TO),
        Action.TRANSFER: lambda: Transfer(actor, NEW_REGION, TRANSFER_TO, "Demenagement"),
        Action.PAUSE: lambda: PauseRequest(actor, "Hospitalisation"),
        Action.RESUME: lambda: ResumeRequest(actor),
        Action.WITHDRAW: lambda: Withdrawal(
            reason="Refus", actor=actor, reason_category=WithdrawalReason.DECLINED_SERVICES
        ),
        Action.MEETING: lambda: MeetingBooking(actor, at=MEETING_AT, place="Bureau régional"),
        Action.ITEM: lambda: ItemUpdate(actor, "i1", ItemStatus.IN_PROGRESS),
        Action.DECLINE: lambda: Decline(actor, WithdrawalReason.DECLINED_SERVICES, "Pas besoin"),
    }[action]()


async def prepare(action: Action, h: WorkflowHandle[Any, Any]) -> None:
    """What the action needs first: a plan before approving, a pause before resuming."""
    if action in (Action.APPROVE, Action.ITEM):
        await h.execute_update("file_plan", PlanFiling(OFFICER, PLAN_ITEMS), result_type=CaseView)
    if action == Action.RESUME:
        await h.execute_update("pause", PauseRequest(SUPERVISOR, "Voyage"), result_type=CaseView)


def expected_refusal(action: Action, rel: Relation) -> str | None:
    refused = authz.decide(action, ACTORS[rel], REGION, OFFICER.officer_id)
    assert (refused is None) == (rel in ALLOWED[action])
    # As the CLI words it (in French, its default language).
    return None if refused is None else catalog("fr").message(refused)


# --------------------------------------------------------------------------------------------
# 1. The workflow
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("action", UPDATE_ACTIONS, ids=lambda a: a.value)
async def test_every_cell_through_the_workflow(pathway: Pathway, action: Action) -> None:
    update = authz.UPDATE_OF[action]
    # Refused cells first, all on one case: a refusal changes nothing.
    h = await pathway.start()
    await prepare(action, h)
    before = await settled(h)
    for rel in Relation:
        expected = expected_refusal(action, rel)
        if expected is None:
            continue
        with pytest.raises(WorkflowUpdateFailedError) as info:
            await h.execute_update(update, argument(action, ACTORS[rel]), result_type=CaseView)
        assert isinstance(info.value.cause, ApplicationError)
        assert info.value.cause.type == "Rejected"
        # The code and parameters cross Temporal; worded here as the CLI words them.
        assert catalog("fr").message(message_of(info.value)) == expected, (action, rel)  # type: ignore[arg-type]
    assert await settled(h) == before
    # Each allowed cell on a case of its own: the action changes the case.
    for rel in sorted(ALLOWED[action]):
        h = await pathway.start()
        await prepare(action, h)
        view = await h.execute_update(update, argument(action, ACTORS[rel]), result_type=CaseView)
        assert view.dossier, (action, rel)
    if action == Action.TRANSFER:
        assert view.region == NEW_REGION and view.officer == TRANSFER_TO.officer_id


def test_the_read_row_through_the_console_check() -> None:
    for rel, actor in ACTORS.items():
        officer = Officer(
            id=actor.officer_id,
            name="x",
            email="x@parcours.example",
            region=actor.region or NEW_REGION,
            role=actor.role.value,
            active=actor.active,
        )
        account = Account(login=actor.officer_id, kind=AccountKind.OFFICER, officer=officer)
        assert may_see_case(account, REGION, OFFICER.officer_id) == (rel in ALLOWED[Action.READ]), (
            rel
        )
    operator = Account(login="operator", kind=AccountKind.OPERATOR)
    assert not may_see_case(operator, REGION, OFFICER.officer_id)


# --------------------------------------------------------------------------------------------
# 2. The CLI, against a real dev server and worker
# --------------------------------------------------------------------------------------------

# (id, region, languages, role, active): the case goes to off-mtl-1, the only one who speaks
# English in montreal (the intake rule), so the columns are the table's.
ROSTER = [
    (OFFICER.officer_id, REGION, "fr,en", "officer", True),
    (OTHER_OFFICER.officer_id, REGION, "fr", "officer", True),
    (REASSIGN_TO.officer_id, REGION, "fr", "officer", True),
    (QC_OFFICER.officer_id, NEW_REGION, "fr", "officer", True),
    (TRANSFER_TO.officer_id, NEW_REGION, "fr", "officer", True),
    (SUPERVISOR.officer_id, REGION, "fr", "supervisor", True),
    (OTHER_SUPERVISOR.officer_id, NEW_REGION, "fr", "supervisor", True),
    (DIRECTOR.officer_id, NEW_REGION, "fr", "director", True),
    ("sup-gone", REGION, "fr", "supervisor", False),
]


def argv(action: Action, who: str, dossier: str) -> list[str]:
    return {
        Action.GREET: ["greet", dossier, "--by", who],
        Action.PLAN: ["plan", dossier, "--by", who, "--item", "francization: cours"],
        Action.PROGRESS: ["progress", dossier, "--by", who, "--note", "Appel"],
        Action.APPROVE: ["complete-stage", dossier, "--stage", "arrival", "--by", who],
        Action.WAIVE: ["waive", dossier, "--stage", "employment", "--by", who, "--reason", "r"],
        Action.REASSIGN: ["reassign", dossier, "--to", REASSIGN_TO.officer_id, "--by", who],
        Action.TRANSFER: ["transfer", dossier, "--region", NEW_REGION, "--by", who],
        Action.PAUSE: ["pause", dossier, "--by", who, "--reason", "Voyage"],
        Action.RESUME: ["resume", dossier, "--by", who],
        Action.WITHDRAW: [
            "withdraw", dossier, "--by", who, "--reason-category", "other", "--note", "n",
        ],
        Action.MEETING: [
            "meeting", dossier, "--by", who, "--at", "2030-01-16T10:00", "--place", "Bureau",
        ],
        Action.ITEM: ["item", dossier, "i1", "--status", "in_progress", "--by", who],
        Action.DECLINE: [
            "decline", dossier, "--by", who, "--reason-category", "declined_services",
        ],
    }[action]  # fmt: skip


@pytest_asyncio.fixture
async def stack(dev_env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[Stack]:
    async with real_stack(dev_env.client, tmp_path) as s:
        async with s.sessions() as session, session.begin():
            for officer_id, region, languages, role, _ in ROSTER:
                await add_officer(
                    session,
                    NewOfficer(officer_id, officer_id, f"{officer_id}@parcours.example",
                               region, languages, role),
                )  # fmt: skip
        async with s.sessions() as session, session.begin():
            for officer_id, *_, active in ROSTER:
                officer = await get_officer(session, officer_id)
                assert officer is not None
                officer.active = active
        yield s


async def run_cli(stack: Stack, args: list[str], *, signed: bool) -> tuple[int, str]:
    settings = dataclasses.replace(stack.settings, language="fr")  # the CLI's default
    if not signed:
        settings = dataclasses.replace(settings, signing_keys=None, signing_key_file=None)
    out, err = io.StringIO(), io.StringIO()
    code = await amain(args, settings=settings, out=out, err=err)
    return code, err.getvalue().removeprefix("parcours\u00a0: erreur\u00a0: ").strip()


async def open_case(stack: Stack, action: Action) -> str:
    dossier = f"AZ-{uuid.uuid4().hex[:8].upper()}"
    approval = NewcomerApproval(
        dossier, "Amina Diallo", "amina@example.org", "2030-01-15", REGION, language="en"
    )
    await start_case(stack.client, stack.settings, approval, load_policy(None))
    for _ in range(100):
        if (await view_case(stack.client, stack.settings, dossier)).officer is not None:
            break
    await prepare(action, case_handle(stack.client, dossier))
    return dossier


async def case_now(stack: Stack, dossier: str) -> CaseView:
    # Less the effects still in flight (audit rows and emails of the opening).
    view = await view_case(stack.client, stack.settings, dossier)
    return dataclasses.replace(view, pending_effects=0)


@pytest.mark.parametrize("action", UPDATE_ACTIONS, ids=lambda a: a.value)
async def test_every_cell_through_the_cli(stack: Stack, action: Action) -> None:
    dossier = await open_case(stack, action)
    before = await case_now(stack, dossier)
    assert before.officer == OFFICER.officer_id
    for rel, actor in ACTORS.items():
        expected = expected_refusal(action, rel)
        if expected is None:
            continue
        # No signing key: only the CLI's own check can give the table's sentence.
        code, err = await run_cli(stack, argv(action, actor.officer_id, dossier), signed=False)
        assert (code, err) == (1, f"dossier {dossier}\u00a0: {expected}"), (action, rel)
    assert await case_now(stack, dossier) == before
    # The same CLI without keys, on an allowed cell: sent, and refused by the workflow.
    allowed = ACTORS[sorted(ALLOWED[action])[0]].officer_id
    code, err = await run_cli(stack, argv(action, allowed, dossier), signed=False)
    assert (code, err) == (
        1,
        f"dossier {dossier}\u00a0: " + catalog("fr").message(authz.refusal("signature_missing")),
    )
    for rel in sorted(ALLOWED[action]):
        dossier = await open_case(stack, action)
        code, err = await run_cli(stack, argv(action, ACTORS[rel].officer_id, dossier), signed=True)
        assert (code, err) == (0, ""), (action, rel)
