"""The workflows and the activities agree (parcours/kernel/activity_contract.py).

Read from the code itself, not from a list kept beside it:
- every activity a workflow calls is registered by the worker, under that name;
- every failure an activity raises as permanent (`ApplicationError(type=..., non_retryable=True)`)
  is named in the retry policy of every workflow call to an activity of that module.
A renamed activity or error type then fails here, instead of a case retrying a broken event
forever (the read model's policy once named `InvalidCaseEvent`, which nothing raised). The last
test checks the scan against what a running case schedules on the time-skipping server.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from temporalio import activity
from temporalio.common import RetryPolicy
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    RetryState,
    TimeoutError,
    TimeoutType,
)

import activities
import workflows
from activities import notify
from activities.batches import BatchWork
from activities.casework import Casework
from activities.notify import Notifier
from activities.retention import Retention
from parcours.infrastructure.worker import Resources
from parcours.kernel import activity_contract as contract
from parcours.kernel.domain import Audience, Effect, Notification
from tests.temporal_servers import local_activities, run_histories
from tests.workflows.conftest import Pathway, settled
from tests.workflows.test_pathway import PLAN
from workflows.effects import (
    LOCAL_MAIL_RETRY,
    RETRY_POLICIES,
    Effects,
    _failure_type,
    _local_mail_timeout,
    _permanent_mail_failure,
)
from workflows.pathway import NewcomerPathway

CALLS = {"execute_activity", "start_activity", "execute_local_activity", "start_local_activity"}
METHOD_CALLS = {"execute_activity_method", "start_activity_method"}


def modules(package: ModuleType) -> list[ModuleType]:
    names = [m.name for m in pkgutil.iter_modules(package.__path__, f"{package.__name__}.")]
    return [importlib.import_module(n) for n in names]


def tree_of(module: ModuleType) -> ast.Module:
    return ast.parse(inspect.getsource(module), module.__name__)


def value_of(node: ast.expr, module: ModuleType) -> Any:
    """An expression of the module's code, evaluated in the module's namespace (names,
    attributes, constants, a policy built in place). One that needs a local fails the test:
    a call's name and retry policy must be readable from the module."""
    return eval(compile(ast.Expression(node), module.__name__, "eval"), vars(module))


# --------------------------------------------------------------------------------------------
# The worker's side
# --------------------------------------------------------------------------------------------


def registered() -> dict[str, str]:
    """The activities the worker registers (infrastructure/worker.py `Resources.activities`),
    by name: the module that defines each."""
    fake = SimpleNamespace(
        casework=Casework, notifier=Notifier, retention=Retention, batches=BatchWork
    )
    found: dict[str, str] = {}
    for fn in Resources.activities(fake):  # type: ignore[arg-type]
        name = activity._Definition.must_from_callable(fn).name
        assert name is not None
        found[name] = fn.__module__
    return found


def permanent_failures(module: ModuleType) -> set[str]:
    """The error types `module` raises with non_retryable=True."""
    found: set[str] = set()
    for node in ast.walk(tree_of(module)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name != "ApplicationError":
            continue
        kw = {k.arg: k.value for k in node.keywords}
        if "non_retryable" in kw and value_of(kw["non_retryable"], module) is True:
            assert "type" in kw, (
                f"{module.__name__}:{node.lineno}: a permanent failure names its type"
            )
            found.add(value_of(kw["type"], module))
    return found


# --------------------------------------------------------------------------------------------
# The workflows' side
# --------------------------------------------------------------------------------------------


@dataclass
class Call:
    where: str
    activity: str
    retry: RetryPolicy


def calls() -> Iterator[Call]:
    """Every activity call in workflows/, with its name and retry policy."""
    for module in modules(workflows):
        for node in ast.walk(tree_of(module)):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            if node.func.attr not in CALLS | METHOD_CALLS:
                continue
            where = f"{module.__name__}:{node.lineno}"
            target = value_of(node.args[0], module)
            if node.func.attr in METHOD_CALLS or callable(target):
                target = activity._Definition.must_from_callable(target).name
            kw = {k.arg: k.value for k in node.keywords}
            # No policy: the SDK's default, which retries every failure.
            retry = value_of(kw["retry_policy"], module) if "retry_policy" in kw else RetryPolicy()
            assert isinstance(target, str) and isinstance(retry, RetryPolicy), where
            yield Call(where, target, retry)


def missing_from_policy(call: Call, worker: dict[str, str]) -> set[str]:
    """The permanent failures of `call`'s activity that its retry policy would retry."""
    raised = permanent_failures(importlib.import_module(worker[call.activity]))
    return raised - set(call.retry.non_retryable_error_types or ())


# --------------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------------


def test_the_worker_registers_every_activity_of_the_contract_and_no_other() -> None:
    assert sorted(registered()) == sorted(contract.ACTIVITY_NAMES)


@pytest.mark.parametrize("call", list(calls()), ids=lambda c: f"{c.where}:{c.activity}")
def test_every_activity_a_workflow_calls_is_registered(call: Call) -> None:
    assert call.activity in registered(), f"{call.where}: {call.activity} is not registered"


@pytest.mark.parametrize("call", list(calls()), ids=lambda c: f"{c.where}:{c.activity}")
def test_no_permanent_failure_is_retried(call: Call) -> None:
    missing = missing_from_policy(call, registered())
    assert not missing, f"{call.where}: {call.activity} raises {missing} as permanent"


def test_the_scan_sees_what_it_checks() -> None:
    """The two tests above are worth something only if the scan finds the calls and the
    raise sites: the v1 and v2 calls of the pathway, the sweep's, and each permanent type."""
    assert {c.activity for c in calls()} == set(contract.ACTIVITY_NAMES)
    by_module = {m.__name__: permanent_failures(m) for m in modules(activities)}
    assert by_module["activities.casework"] == {contract.INVALID_INPUT}
    assert by_module["activities.notify"] == {contract.SMTP_REJECTED, contract.TEMPLATE_MISSING}
    assert contract.EMAIL_IN_FLIGHT not in by_module["activities.notify"]  # retried on purpose
    assert by_module["activities.batches"] == {contract.INVALID_INPUT}


def test_a_policy_that_names_the_wrong_type_is_caught() -> None:
    drifted = Call(
        "old", contract.RECORD_EVENTS, RetryPolicy(non_retryable_error_types=["InvalidCaseEvent"])
    )
    assert missing_from_policy(drifted, registered()) == {contract.INVALID_INPUT}


async def test_the_server_sees_the_contracts_names_and_policies(pathway: Pathway) -> None:
    """What the scan read is what a running case schedules: a case opened and given a plan
    (register_case and the opening's events run locally since v8, its emails since v10; the
    plan's events and emails, decided by an update, as activity tasks)."""
    h = await pathway.start()
    await h.execute_update(NewcomerPathway.file_plan, PLAN)
    await settled(h)
    worker = registered()
    events = [e for history in await run_histories(pathway.client, h) for e in history.events]
    scheduled = [
        e.activity_task_scheduled_event_attributes
        for e in events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]
    assert {a.activity_type.name for a in scheduled} == {
        contract.RECORD_EVENTS,
        contract.SEND_NOTIFICATIONS,
    }
    assert local_activities(events) == [
        contract.REGISTER_CASE,
        contract.RECORD_EVENTS,
        contract.SEND_NOTIFICATIONS,
    ]
    for a in scheduled:
        name = a.activity_type.name
        raised = permanent_failures(importlib.import_module(worker[name]))
        assert raised <= set(a.retry_policy.non_retryable_error_types), name
        assert list(a.retry_policy.non_retryable_error_types) == list(
            RETRY_POLICIES[name].non_retryable_error_types or ()
        )


def test_what_ends_an_email_sent_from_the_worker() -> None:
    """v10: an email whose local attempts failed goes on as an activity task unless no retry
    could send it: a permanent type ends it (named by the policy or raised non-retryable),
    whether it failed in the worker (the ApplicationError itself) or in a task (wrapped)."""

    def wrapped(cause: BaseException) -> ActivityError:
        err = ActivityError(
            "activity failed",
            scheduled_event_id=1,
            started_event_id=2,
            identity="w",
            activity_type=contract.SEND_NOTIFICATIONS,
            activity_id="1",
            retry_state=RetryState.NON_RETRYABLE_FAILURE,
        )
        err.__cause__ = cause
        return err

    rejected = ApplicationError("550", type=contract.SMTP_REJECTED)
    assert _permanent_mail_failure(rejected)
    assert _permanent_mail_failure(wrapped(rejected))
    assert _permanent_mail_failure(ApplicationError("bug", type="Bug", non_retryable=True))
    in_flight = ApplicationError("lease", type=contract.EMAIL_IN_FLIGHT)
    assert not _permanent_mail_failure(in_flight)
    assert not _permanent_mail_failure(ApplicationError("down", type="ConnectionError"))
    assert not _permanent_mail_failure(
        TimeoutError("slow", type=TimeoutType.START_TO_CLOSE, last_heartbeat_details=[])
    )
    # The local attempts stop at once for what a task would not retry, and for an email in
    # its lease, which only a task can wait out without holding the case's workflow task.
    assert set(LOCAL_MAIL_RETRY.non_retryable_error_types or ()) == {
        *contract.PERMANENT_MAIL_FAILURES,
        contract.EMAIL_IN_FLIGHT,
    }
    assert LOCAL_MAIL_RETRY.maximum_attempts == 2
    # Logged by its type alone: a mail server's answer may name the recipient.
    busy = ApplicationError("451 <amina@example.org> try later", type="MailTransientError")
    assert _failure_type(busy) == _failure_type(wrapped(busy)) == "MailTransientError"
    assert _failure_type(TimeoutError("slow", type=None, last_heartbeat_details=[])) == (
        "TimeoutError"
    )


def test_an_email_attempt_in_the_workflow_task_is_not_cut_while_it_records() -> None:
    """The worker cancels a local attempt at its start-to-close (an activity task's attempt is
    not cancelled at its limit): for an email sent from the case's workflow task, that limit
    covers the longest attempt the notifier allows, the SMTP exchange and then its patience
    with the "sent" record, so the email is never left in doubt by the worker itself."""
    longest = notify.SEND_DEADLINE_S + notify.RECORD_PATIENCE_S + notify.RECORD_RETRY_MAX_S
    for n in (1, 2, 5):
        mails = [Effect(notification=_notice(f"k{i}")) for i in range(n)]
        assert _local_mail_timeout(mails).total_seconds() > n * longest
    source = inspect.getsource(Effects._send_locally)
    assert "start_to_close_timeout=_local_mail_timeout(effects)" in source


def _notice(key: str) -> Notification:
    return Notification(key, "newcomer-D-1", "welcome", Audience.NEWCOMER, "montreal")
