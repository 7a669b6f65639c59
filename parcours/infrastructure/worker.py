"""The worker: runs the pathway workflow, the batches (issue 17) and their activities.

It owns the resources (engine, mailer, renderer) and hands them to the activity classes once,
as in temporalio/samples-python `hello/hello_activity_method.py`.
"""

from __future__ import annotations

import asyncio
import compileall
import contextlib
import importlib
import logging
import os
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.batches import BatchWork
from activities.casework import Casework
from activities.notify import Notifier
from activities.retention import Retention
from parcours.infrastructure.codec import CodecKey, CodecKeyError
from parcours.infrastructure.config import Settings
from parcours.infrastructure.heap import (
    CollectorWatch,
    needs_collection_net,
    settle_startup_heap,
)
from parcours.infrastructure.mail.render import Renderer
from parcours.infrastructure.mail.smtp import Mailer
from parcours.infrastructure.newcomer_links import NewcomerLinks
from parcours.infrastructure.signing import (
    install_verifier,
    require_keys,
    signing_keyring,
    start_verifier,
)
from parcours.infrastructure.store.chain import NO_KEY, audit_keyring
from parcours.infrastructure.store.db import open_read_model, safe_url, session_factory
from parcours.infrastructure.temporal import connect, register_search_attributes
from parcours.kernel.errors import ParcoursError, first_line
from parcours.kernel.messages import Message
from parcours.kernel.policy import PolicyError, load_policy
from workflows.batch import CaseBatch
from workflows.pathway import NewcomerPathway
from workflows.retention import RetentionSweep

logger = logging.getLogger("parcours.infrastructure.worker")

Env = dict[str, str] | os._Environ[str]

# The worker's settings are read by config.py (Settings.worker_*); these name them in tests.
CACHE_ENV = "PARCOURS_WORKER_CACHE"
# host:port where the worker serves the SDK's Prometheus metrics (task slots, schedule-to-start
# latencies, sticky cache hits, misses and forced evictions); unset: none.
METRICS_ENV = "PARCOURS_WORKER_METRICS"
# Cases kept in memory between their tasks. A case pushed out while it is still busy (an
# opening, an escalation) is replayed from its history on its next task, which costs about as
# much again as the task itself; idle cases (waiting days for a timer) cost little to push out.
# 1000 covers the cases an import or a storm keeps busy at once (their openings and alarms take
# seconds; at ~25 cases/s a case stays cached ~40 s after its last task). It also bounds the
# collector's full pauses, which walk every cached case (~150 tracked objects each): 140-250 ms
# at 1000 against 500-700 ms at 4000, which officers' actions felt during an import
# (README, "Performance", 2026-12-05). A cached case costs about 0.1 MB (270 MiB resident
# during a 10,000-case import). Deployments add worker processes rather than a larger cache.
DEFAULT_CACHE = Settings.worker_cache  # 1000
# Task slots (Concurrency below); the SDK's defaults unless set.
DEFAULT_WORKFLOW_TASKS = Settings.worker_workflow_tasks
DEFAULT_ACTIVITIES = Settings.worker_activities
# Activities in flight get this long to finish on shutdown before they are cancelled.
GRACEFUL_SHUTDOWN = timedelta(seconds=10)

# How each workflow's sandbox gets our modules. The SDK's sandbox imports every module that
# is not passed through afresh for each workflow instance it creates: for `workflows/` that is
# the module code of pathway.py and its class, built again for every case the worker opens or
# takes back after the cache evicted it. Measured on the intake benchmark: a tenth of the
# worker's CPU, and at 1000 cached cases 449-510 MiB resident against 308 MiB shared.
#
# "shared" (the default) passes the workflow modules through as well as the domain: they
# are imported once and every instance uses the same module objects. What that gives up is
# the sandbox's per-instance isolation of those modules, so they must hold no mutable
# module-level state (tests/workflows/test_module_state.py checks it), and the sandbox's
# restriction checks on calls made from them (the clock, randomness, I/O): the test suite's
# workers run the SDK's default sandbox, which imports and restricts both packages for every
# workflow (tests/workflows/conftest.py), and so do the replay tests. "isolated" is the SDK's
# default behaviour for our workflow modules, at the cost above.
# (PARCOURS_WORKFLOW_SANDBOX, Settings.workflow_sandbox)
# What workflow code may import from parcours/, always passed through (one copy of their
# classes, so isinstance holds): the kernel (pure rules and data), and the signature verifier,
# whose keys the worker installs once per process (a sandboxed copy would hold none).
DOMAIN_MODULES = ("parcours.kernel", "parcours.infrastructure.signing")
WORKFLOW_PACKAGES = ("workflows",)


def sandbox_mode(env: Env | None = None) -> str:
    return Settings.from_env(env).workflow_sandbox


def passthrough_modules(
    mode: str, workflow_packages: Sequence[str] = WORKFLOW_PACKAGES
) -> tuple[str, ...]:
    # The domain is always passed through: one copy of its classes, so isinstance holds.
    return DOMAIN_MODULES + (tuple(workflow_packages) if mode == "shared" else ())


def ensure_workflow_bytecode(packages: Sequence[str] = WORKFLOW_PACKAGES) -> bool:
    """Write the bytecode of the workflow modules if it is missing.

    In the "isolated" sandbox mode the workflow modules are imported again for every new case
    (and every case the cache evicted). With PYTHONDONTWRITEBYTECODE set (our Dockerfile, many
    CI machines) no .pyc exists, so each of those imports compiled `workflows/pathway.py` from
    source: 23% of the worker's CPU during the intake benchmark. False (and a warning) when it
    cannot be written.
    """
    ok = True
    for name in packages:
        module = importlib.import_module(name)
        for folder in getattr(module, "__path__", []):
            try:
                written = compileall.compile_dir(folder, quiet=2, workers=1)
            except OSError:
                written = False
            if not written:
                ok = False
                logger.warning(
                    "cannot write the bytecode of %s: each new case compiles it from source "
                    "(run `python -m compileall %s` where the code is installed)",
                    folder,
                    folder,
                )
    return ok


def workflow_runner(
    mode: str | None = None, workflow_packages: Sequence[str] = WORKFLOW_PACKAGES
) -> SandboxedWorkflowRunner:
    modules = passthrough_modules(mode or sandbox_mode(), workflow_packages)
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*modules)
    )


def cache_size(env: Env | None = None) -> int:
    return Settings.from_env(env).worker_cache


@dataclass(frozen=True)
class Concurrency:
    """Task slots: how many workflow tasks and activities the worker runs at once."""

    workflow_tasks: int = DEFAULT_WORKFLOW_TASKS
    activities: int = DEFAULT_ACTIVITIES


def concurrency(settings: Settings | Env | None = None) -> Concurrency:
    if not isinstance(settings, Settings):
        settings = Settings.from_env(settings)
    return Concurrency(settings.worker_workflow_tasks, settings.worker_activities)


def metrics_runtime(settings: Settings | Env | None = None) -> Runtime | None:
    """A Temporal runtime exporting the worker's metrics at PARCOURS_WORKER_METRICS, if set."""
    if not isinstance(settings, Settings):
        settings = Settings.from_env(settings)
    raw = settings.worker_metrics
    if raw is None:
        return None
    try:
        return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=raw)))
    except Exception as err:  # the SDK raises RuntimeError when it cannot bind
        reason = first_line(err)
        raise ParcoursError(
            f"{METRICS_ENV}={raw}: cannot serve metrics there ({reason})",
            refusal=Message.of("metrics_bind", name=METRICS_ENV, value=raw, reason=reason),
        ) from None


@dataclass
class Resources:
    """What the activities need, built once per worker process."""

    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    casework: Casework
    notifier: Notifier
    retention: Retention
    # The batch workflow's (issue 17); it sends cases their updates through the worker's
    # client, given in build_worker.
    batches: BatchWork

    def activities(self) -> list[Callable[..., Any]]:
        return [
            self.casework.register_case,
            self.casework.record_event,
            self.casework.record_events,
            self.casework.find_officer,
            self.notifier.send_notification,
            self.notifier.send_notifications,
            self.retention.purge_personal_data,
            self.batches.check_batch,
            self.batches.batch_roster,
            self.batches.batch_cases,
            self.batches.batch_act,
            self.batches.batch_departure,
        ]


def require_audit_keys(settings: Settings) -> list[CodecKey]:
    """The keys that seal the audit trail; the worker does not start without them (every
    audit row it writes is sealed, parcours/infrastructure/store/chain.py)."""
    try:
        keys = audit_keyring(settings)
    except CodecKeyError as err:
        raise ParcoursError(str(err), refusal=err.refusal) from None
    if not keys:
        raise ParcoursError(NO_KEY)
    return keys


@contextlib.asynccontextmanager
async def resources(settings: Settings) -> AsyncIterator[Resources]:
    audit_keys = require_audit_keys(settings)
    async with open_read_model(settings, one_sqlite_writer=True) as engine:
        sessions = session_factory(engine, audit_keys)
        renderer = Renderer.from_settings(settings)
        mailer = Mailer.from_settings(settings)
        async with contextlib.aclosing(mailer):
            yield Resources(
                engine=engine,
                sessions=sessions,
                casework=Casework(sessions, start_verifier(settings), settings.arrival_window),
                notifier=Notifier(
                    sessions,
                    mailer,
                    renderer,
                    resend_lease_s=settings.mail_resend_lease_s,
                    max_resends=settings.mail_max_resends,
                    links=NewcomerLinks.from_settings(settings),
                ),
                retention=Retention(sessions),
                batches=BatchWork(sessions, start_verifier(settings)),
            )


def build_worker(
    client: Client,
    settings: Settings,
    res: Resources,
    *,
    max_cached_workflows: int | None = None,
    sandbox: str | None = None,
    slots: Concurrency | None = None,
) -> Worker:
    slots = slots or concurrency(settings)
    # The validators' verifier (infrastructure/signing.py): set before any workflow runs. Without
    # keys none is installed and every update is refused (serve() refuses to start first).
    keys = signing_keyring(settings)
    if keys:
        install_verifier(keys)
    res.batches.attach(client)
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=[NewcomerPathway, RetentionSweep, CaseBatch],
        activities=res.activities(),
        workflow_runner=workflow_runner(sandbox or settings.workflow_sandbox),
        max_cached_workflows=(
            settings.worker_cache if max_cached_workflows is None else max_cached_workflows
        ),
        max_concurrent_workflow_tasks=slots.workflow_tasks,
        max_concurrent_activities=slots.activities,
        # A first opening's register_case and events run as local activities (v8): the same
        # bound, so PARCOURS_WORKER_ACTIVITIES limits every read-model writer the worker runs.
        max_concurrent_local_activities=slots.activities,
        graceful_shutdown_timeout=GRACEFUL_SHUTDOWN,
    )


async def serve(settings: Settings, stop: asyncio.Event, client: Client | None = None) -> None:
    """Run a worker until `stop` is set, then shut it down gracefully."""
    try:
        require_keys(settings, "worker")
        policy = load_policy(settings.policy_path)
    except CodecKeyError as err:
        raise ParcoursError(str(err), refusal=err.refusal) from None
    except PolicyError as err:
        raise ParcoursError(str(err)) from None
    require_audit_keys(settings)  # before anything connects: one line, nothing started
    cache = settings.worker_cache
    sandbox = settings.workflow_sandbox
    slots = concurrency(settings)
    if sandbox == "isolated":
        ensure_workflow_bytecode()
    if client is None:
        runtime = metrics_runtime(settings)
        client = await connect(settings, runtime=runtime)
        if runtime is not None:
            logger.info("worker metrics at http://%s/metrics", settings.worker_metrics)
    added = await register_search_attributes(client, client.namespace)
    if added:
        logger.info("registered search attributes: %s", ", ".join(added))
    async with resources(settings) as res:
        worker = build_worker(
            client, settings, res, max_cached_workflows=cache, sandbox=sandbox, slots=slots
        )
        logger.info(
            "worker on task queue %r at %s (namespace %s); read model %s; SMTP %s:%s; "
            "policy %r for new cases; workflow cache %d, %s sandbox; slots: %d workflow "
            "tasks, %d activities; collector's young generation %d",
            settings.task_queue,
            client.service_client.config.target_host,
            client.namespace,
            safe_url(settings.database_url),
            settings.smtp_host,
            settings.smtp_port,
            policy.name,
            cache,
            sandbox,
            slots.workflow_tasks,
            slots.activities,
            settings.worker_gc_young,
        )
        settle_startup_heap(settings.worker_gc_young)
        watch = CollectorWatch()
        net = (
            watch.collecting()
            if needs_collection_net(settings.worker_gc_young)
            else contextlib.nullcontext(watch)
        )
        async with worker, watch.reporting(logger), net:
            await stop.wait()
            logger.info(
                "stopping: finishing tasks in flight (up to %ss)", GRACEFUL_SHUTDOWN.seconds
            )
    logger.info("worker stopped")
