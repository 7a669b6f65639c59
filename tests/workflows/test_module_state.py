"""The worker shares the workflow modules among all its cases (PARCOURS_WORKFLOW_SANDBOX
"shared", infrastructure/worker.py): they are imported once, not once per case. That is safe only
while they hold no state one case could change under another: these tests hold them to it.
The determinism of their code is checked by the other workflow tests, whose workers run the
SDK's default sandbox (each case imports and restricts the modules afresh)."""

from __future__ import annotations

import ast
import copy
import dataclasses
import enum
import importlib
import pkgutil
import types
import typing
from datetime import date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

import pytest
from temporalio.common import RetryPolicy
from temporalio.testing import WorkflowEnvironment

import workflows
from parcours.infrastructure import signing
from parcours.infrastructure.worker import passthrough_modules, sandbox_mode, workflow_runner
from parcours.kernel import activity_contract, authz, rules
from parcours.kernel.domain import ProgressNote, Reassignment, Stage, StageApproval
from tests.workflows.conftest import (
    OFFICER,
    OTHER_OFFICER,
    SUPERVISOR,
    FakeBackOffice,
    running_pathway,
    settled,
)
from tests.workflows.test_pathway import PLAN
from workflows.pathway import NewcomerPathway
from workflows.retention import RetentionSweep

# Values that cannot change once built. A RetryPolicy is a plain dataclass, but the SDK only
# reads it when an activity is scheduled, and no workflow code assigns to one.
IMMUTABLE = (
    str,
    bytes,
    int,
    float,
    bool,
    type(None),
    timedelta,
    date,
    datetime,
    enum.Enum,
    types.MappingProxyType,
    RetryPolicy,
    # Code: a table of functions (kernel/rules.py VALIDATORS) holds no case's data.
    types.FunctionType,
)
# Names every module has, or `from __future__ import annotations` adds.
IGNORED = {"annotations"}


def workflow_modules() -> list[types.ModuleType]:
    names = [m.name for m in pkgutil.iter_modules(workflows.__path__, "workflows.")]
    return [workflows] + [importlib.import_module(n) for n in names]


def is_immutable(value: object) -> bool:
    if isinstance(value, tuple | frozenset):
        return all(is_immutable(v) for v in value)
    if isinstance(value, types.MappingProxyType):
        return all(is_immutable(k) and is_immutable(v) for k, v in value.items())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        params = getattr(type(value), "__dataclass_params__", None)
        if params is not None and params.frozen:
            return True
    return isinstance(value, IMMUTABLE)


def state_of(module: types.ModuleType) -> dict[str, Any]:
    """The module's values, less its code (modules, classes, functions)."""
    return {
        name: value
        for name, value in vars(module).items()
        if not name.startswith("__")
        and name not in IGNORED
        and not isinstance(value, types.ModuleType | type | types.FunctionType)
    }


def snapshot(values: dict[str, Any]) -> dict[str, Any]:
    """A deep copy to compare with later (a read-only mapping is copied as a dict)."""
    return {
        k: dict(v) if isinstance(v, types.MappingProxyType) else copy.deepcopy(v)
        for k, v in values.items()
    }


def class_state(cls: type) -> dict[str, Any]:
    return {
        name: value
        for name, value in vars(cls).items()
        if not name.startswith("__")
        and not callable(value)
        and not isinstance(value, staticmethod | classmethod | property)
    }


@pytest.mark.parametrize("module", workflow_modules(), ids=lambda m: m.__name__)
def test_module_level_values_are_immutable(module: types.ModuleType) -> None:
    mutable = {n: type(v).__name__ for n, v in state_of(module).items() if not is_immutable(v)}
    assert not mutable, f"{module.__name__} has mutable module state shared by every case"


@pytest.mark.parametrize("cls", [NewcomerPathway, RetentionSweep], ids=lambda c: c.__name__)
def test_workflow_classes_keep_state_on_instances_only(cls: type) -> None:
    # A class attribute is shared by every instance, hence every case.
    mutable = {n: type(v).__name__ for n, v in class_state(cls).items() if not is_immutable(v)}
    assert not mutable


def test_no_global_statements_in_workflow_code() -> None:
    for path in Path(workflows.__path__[0]).glob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        found = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Global | ast.Nonlocal)]
        assert not found, f"{path.name}: global/nonlocal at lines {found}"


def test_the_checks_catch_mutable_state() -> None:
    # The checks above are only worth something if they can fail.
    fake = types.ModuleType("workflows.fake")
    fake.SEEN = {}  # type: ignore[attr-defined]
    fake.LIMITS = (1, [2])  # type: ignore[attr-defined]
    fake.OK = (1, "a", timedelta(days=1))  # type: ignore[attr-defined]
    assert {n for n, v in state_of(fake).items() if not is_immutable(v)} == {"SEEN", "LIMITS"}


def test_sandbox_modes() -> None:
    assert sandbox_mode({}) == "shared"
    assert sandbox_mode({"PARCOURS_WORKFLOW_SANDBOX": " Isolated "}) == "isolated"
    assert passthrough_modules("shared") == (
        "parcours.kernel",
        "parcours.infrastructure.signing",
        "workflows",
    )
    # Isolated: the SDK's behaviour for our workflow code (the domain is always shared).
    assert passthrough_modules("isolated") == ("parcours.kernel", "parcours.infrastructure.signing")
    with pytest.raises(Exception, match="PARCOURS_WORKFLOW_SANDBOX"):
        sandbox_mode({"PARCOURS_WORKFLOW_SANDBOX": "off"})


async def test_cases_run_in_the_shared_sandbox_leave_module_state_as_it_was(
    ts_env: WorkflowEnvironment, back_office: FakeBackOffice
) -> None:
    modules = workflow_modules()
    before = {m.__name__: snapshot(state_of(m)) for m in modules}
    class_before = snapshot(class_state(NewcomerPathway))
    async with running_pathway(ts_env, back_office, workflow_runner("shared")) as p:
        yesterday = await p.today() - timedelta(days=1)
        first = await p.start(arrival=yesterday)
        second = await p.start(arrival=yesterday)
        await first.execute_update(NewcomerPathway.file_plan, PLAN)
        await first.execute_update(
            NewcomerPathway.approve_stage, StageApproval(OFFICER, Stage.ARRIVAL)
        )
        await second.execute_update(NewcomerPathway.add_progress, ProgressNote(OFFICER, "appel"))
        await ts_env.sleep(timedelta(days=60))
        await second.execute_update(
            NewcomerPathway.reassign,
            Reassignment(SUPERVISOR, new_officer=OTHER_OFFICER),
        )
        one, two = await settled(first), await settled(second)
    # Each case kept its own state...
    assert (one.stage, one.officer) == (Stage.FRANCIZATION, OFFICER.officer_id)
    assert two.officer == OTHER_OFFICER.officer_id and two.escalation_level == 0
    # ...and the modules they share are as they were.
    assert {m.__name__: snapshot(state_of(m)) for m in modules} == before
    assert snapshot(class_state(NewcomerPathway)) == class_before


@pytest.mark.parametrize(
    "module", [authz, rules, activity_contract, signing], ids=lambda m: m.__name__
)
def test_the_rules_and_keys_workflows_read_hold_no_other_state(module: types.ModuleType) -> None:
    """Validators read the rules (kernel/rules.py), the table (kernel/authz.py) and the verifier
    (infrastructure/signing.py); activity calls, the contract (kernel/activity_contract.py).
    The verifier's slot is the one mutable value, and it is written once, before any workflow
    runs, by the worker (tests/security/test_signing.py holds it to that)."""
    mutable = {
        n
        for n, v in state_of(module).items()
        if not is_immutable(v) and not isinstance(v, typing.TypeVar | tzinfo)
    }
    assert mutable <= {"_SLOT"}
    assert isinstance(signing._SLOT, signing._VerifierSlot)
