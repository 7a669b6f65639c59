"""The interfaces' side of Temporal: connect, register search attributes, start cases, act.

Every Temporal failure is turned into one `ParcoursError` with a sentence a person can act on,
so the CLI (and later the web) never shows a gRPC status or a traceback.

Workflow, update and query names are plain strings here so that the interfaces do not import
the workflow module (and its sandbox-oriented imports); `tests/cli` checks they match the
workflow's definition.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from google.protobuf.field_mask_pb2 import FieldMask
from temporalio.api.common.v1 import Priority as PriorityProto
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.api.workflow.v1 import WorkflowExecutionOptions
from temporalio.api.workflowservice.v1 import UpdateWorkflowExecutionOptionsRequest
from temporalio.client import (
    Client,
    Interceptor,
    OutboundInterceptor,
    StartWorkflowInput,
    StartWorkflowUpdateInput,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowQueryRejectedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import (
    SearchAttributeKey,
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.envconfig import ClientConfigProfile
from temporalio.exceptions import ApplicationError, FailureError, WorkflowAlreadyStartedError
from temporalio.runtime import Runtime
from temporalio.service import RPCError, RPCStatusCode, TLSConfig

from parcours.infrastructure.codec import CodecKeyError, keyring
from parcours.infrastructure.config import (
    DEFAULT_TEMPORAL_ADDRESS,
    DEFAULT_TEMPORAL_NAMESPACE,
    Settings,
)
from parcours.infrastructure.payload_codec import data_converter
from parcours.infrastructure.signing import Signer, signable, signer_for
from parcours.kernel import inputs, priorities, search
from parcours.kernel.batches import BatchRequest
from parcours.kernel.domain import (
    DOSSIER_RE,
    STILL_OPENING,
    CaseFile,
    CaseInput,
    CaseQuery,
    CaseStatus,
    CaseView,
    NewcomerApproval,
    PolicySnapshot,
    Reopening,
    Stage,
    workflow_id_for,
)
from parcours.kernel.errors import (
    CaseAlreadyExists,
    CaseNotFound,
    ParcoursError,
    TemporalUnavailable,
    UpdateRejected,
    first_line,
)
from parcours.kernel.messages import REFUSAL_ERROR_TYPE, Message

WORKFLOW_TYPE = "NewcomerPathway"
QUERY_VIEW = "view"
QUERY_CASE_FILE = "case_file"
UPDATES: tuple[str, ...] = (
    "record_greeting",
    "file_plan",
    "add_progress",
    "approve_stage",
    "waive_stage",
    "reassign",
    "transfer",
    "pause",
    "resume",
    "withdraw",
    "book_meeting",
    "update_item",
    "newcomer_reply",
    "decline",
)

# Without payload keys the default converter writes names, emails and notes to Temporal as
# plain JSON: every call that sends them refuses (`require_payload_codec`), before sending.
SET_PAYLOAD_KEYS = (
    "make one with `parcours keys new KID` and set PARCOURS_CODEC_KEYS (or "
    "PARCOURS_CODEC_KEY_FILE); `parcours dev` makes its own"
)
NO_PAYLOAD_KEYS = (
    f"no payload keys: names and emails would reach Temporal in clear; {SET_PAYLOAD_KEYS}"
)

# The message of a failure whose attributes the worker's converter encrypted (the SDK's
# DefaultFailureConverterWithEncodedAttributes): the server only relays it for a query.
ENCODED_FAILURE = "Encoded failure"

CONNECT_TIMEOUT = timedelta(seconds=10)
# A query or an update needs a worker to answer; without one the call would wait forever.
ANSWER_TIMEOUT = timedelta(seconds=30)
# Raising a case's priority is one small write; an action does not wait long for it.
RAISE_TIMEOUT = timedelta(seconds=2)
# How long an officer's action waits for a just-started case to get its officer.
OPENING_GRACE = timedelta(seconds=10)


async def connect(
    settings: Settings, *, within: timedelta = CONNECT_TIMEOUT, runtime: Runtime | None = None
) -> Client:
    """Connect to Temporal, or fail with one line naming the address. A worker passes its own
    `runtime` (the one that exports its metrics)."""
    try:
        converter = data_converter(keyring(settings))
        target = resolve_target(settings, temporal_profile(settings))
        signer = signer_for(settings)
    except CodecKeyError as err:
        raise ParcoursError(str(err), refusal=err.refusal) from None
    except OSError as err:
        raise ParcoursError(str(err)) from None
    address = target.address
    try:
        return await asyncio.wait_for(
            Client.connect(
                address,
                namespace=target.namespace,
                api_key=target.api_key,
                rpc_metadata=target.rpc_metadata,
                data_converter=converter,
                tls=target.tls,
                runtime=runtime,
                # Without signing keys the client can read but every action it sends is refused.
                interceptors=[SigningInterceptor(signer)] if signer else [],
            ),
            within.total_seconds(),
        )
    except TimeoutError:
        raise TemporalUnavailable(
            f"cannot reach Temporal at {address}: no answer within {within.total_seconds():g}s",
            refusal=Message.of(
                "temporal_silent", address=address, seconds=f"{within.total_seconds():g}"
            ),
        ) from None
    except Exception as err:  # the SDK raises RuntimeError with a multi-line gRPC dump
        reason = _connect_reason(err)
        raise _unreachable(address, reason) from None


@dataclass(frozen=True)
class TemporalTarget:
    """Where `connect` goes and how."""

    address: str
    namespace: str
    tls: TLSConfig | bool = False
    api_key: str | None = field(default=None, repr=False)
    rpc_metadata: Mapping[str, str] = field(default_factory=dict)


def temporal_profile(settings: Settings) -> ClientConfigProfile | None:
    """The SDK's client profile (temporalio.envconfig): the TEMPORAL_* variables the settings
    captured, and the profile file they (or the default location) name. None for settings
    built in code, which stay independent of the machine's Temporal CLI configuration."""
    if settings.temporal_env is None:
        return None
    try:
        return ClientConfigProfile.load(override_env_vars=settings.temporal_env)
    except Exception as err:  # the SDK's bridge raises its own ConfigError
        raise ParcoursError(
            f"the Temporal client profile (TEMPORAL_*): {first_line(err)}",
            refusal=Message.of("temporal_profile", reason=first_line(err)),
        ) from None


def resolve_target(settings: Settings, profile: ClientConfigProfile | None) -> TemporalTarget:
    """PARCOURS_TEMPORAL_* win where set; the SDK's profile fills the rest (and alone brings an
    API key and gRPC metadata); then the local defaults. TLS is taken whole from one side:
    ours when any PARCOURS_TEMPORAL_TLS* asks for it or PARCOURS_TEMPORAL_TLS=0 refuses it,
    else the profile's."""
    p = profile or ClientConfigProfile()
    tls: TLSConfig | bool
    if settings.tls_enabled:
        tls = tls_config(settings)
    elif settings.temporal_tls is False:
        tls = False
    else:
        tls = p.to_client_connect_config().get("tls", False)
    return TemporalTarget(
        address=settings.temporal_address or p.address or DEFAULT_TEMPORAL_ADDRESS,
        namespace=settings.temporal_namespace or p.namespace or DEFAULT_TEMPORAL_NAMESPACE,
        tls=tls,
        api_key=p.api_key,
        rpc_metadata=dict(p.grpc_meta),
    )


async def _wall_clock() -> datetime:
    return datetime.now(UTC)


class SigningInterceptor(Interceptor):
    """Signs every update this client sends (infrastructure/signing.py): `connect` installs it when
    the settings hold signing keys, so the CLI, the console and the API, which all act through
    `update_case` on a client from `connect`, sign what they send. `clock` is when the workflow
    will see the update: the wall clock, or a test server's skipped-ahead clock."""

    def __init__(
        self, signer: Signer, clock: Callable[[], Awaitable[datetime]] = _wall_clock
    ) -> None:
        self.signer = signer
        self.clock = clock

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _SigningOutbound(next, self)


class _SigningOutbound(OutboundInterceptor):
    def __init__(self, next: OutboundInterceptor, root: SigningInterceptor) -> None:
        super().__init__(next)
        self.root = root

    async def start_workflow_update(self, input: StartWorkflowUpdateInput) -> Any:
        if len(input.args) == 1 and signable(input.args[0]):
            now = await self.root.clock()
            input.args = [self.root.signer.sign(input.id, input.update, input.args[0], now)]
        return await super().start_workflow_update(input)

    async def start_workflow(self, input: StartWorkflowInput) -> WorkflowHandle[Any, Any]:
        # A new case's start (no state: continue-as-new is the workflow's own, not a client's)
        # is signed too; register_case refuses a case opened without it.
        if len(input.args) == 1 and isinstance(input.args[0], CaseInput):
            inp: CaseInput = input.args[0]
            if inp.state is None:
                now = await self.root.clock()
                input.args = [self.root.signer.sign_start(input.id, inp, now)]
        # A batch (issue 17) likewise: it checks this signature before it sends any update.
        if len(input.args) == 1 and isinstance(input.args[0], BatchRequest):
            req: BatchRequest = input.args[0]
            if req.state is None:
                now = await self.root.clock()
                input.args = [self.root.signer.sign_batch(req, now)]
        return await super().start_workflow(input)


def _signer(client: Client) -> Signer | None:
    found = (i for i in client.config()["interceptors"] if isinstance(i, SigningInterceptor))
    return next((i.signer for i in found), None)


def signs(client: Client) -> bool:
    return _signer(client) is not None


def signer_of(client: Client) -> Signer:
    """The signer of a client from `connect`; refused as `require_signing` refuses."""
    signer = _signer(client)
    if signer is None:
        message = Message.of("key.no_signing_for_start")
        raise SigningKeysMissing(f"no signing keys: {message}", refusal=message)
    return signer


def require_signing(client: Client) -> None:
    """A start from a client that cannot sign it would be accepted by Temporal and then fail
    at the worker's register_case: refused here, before anything is sent."""
    signer_of(client)


def tls_config(settings: Settings) -> TLSConfig | bool:
    """TLS to the Temporal frontend: a CA to trust, and a client pair for mTLS (Temporal
    Cloud, or a cluster with mTLS on); False (plain gRPC) when none is configured."""
    if not settings.tls_enabled:
        return False

    def read(path: str | None) -> bytes | None:
        return Path(path).read_bytes() if path else None

    return TLSConfig(
        server_root_ca_cert=read(settings.temporal_tls_ca),
        client_cert=read(settings.temporal_tls_cert),
        client_private_key=read(settings.temporal_tls_key),
        domain=settings.temporal_tls_server_name,
    )


async def register_search_attributes(
    client: Client,
    namespace: str,
    keys: Iterable[SearchAttributeKey[Any]] = search.ALL,
) -> list[str]:
    """Register the custom search attributes that are missing; returns the names added.

    Idempotent: attributes already present (same name) are left alone, and a concurrent
    registration ("already exists") is not an error.
    """
    listed = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    present = set(listed.custom_attributes) | set(listed.system_attributes)
    missing = {
        k.name: IndexedValueType.ValueType(int(k.indexed_value_type))
        for k in keys
        if k.name not in present
    }
    if not missing:
        return []
    try:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
        )
    except RPCError as err:
        if err.status != RPCStatusCode.ALREADY_EXISTS and "already exists" not in err.message:
            raise
    return sorted(missing)


class PayloadKeysMissing(ParcoursError):
    """A call that would send personal data, from a client without the payload codec."""


class SigningKeysMissing(ParcoursError):
    """A case start from a client without the signing interceptor."""


def require_payload_codec(client: Client) -> None:
    """The one rule for every path that sends personal data (start, import, API, updates): the
    client must encrypt. The codec still reads plaintext, for histories written before keys
    existed, so nothing downstream would notice a client that writes in clear."""
    if client.data_converter.payload_codec is None:
        raise PayloadKeysMissing(NO_PAYLOAD_KEYS)


def initial_search_attributes(approval: NewcomerApproval) -> TypedSearchAttributes:
    """What makes a new case visible to supervisors at once (no personal data)."""
    pairs: list[SearchAttributePair[Any]] = [
        SearchAttributePair(search.STAGE, Stage.ARRIVAL.value),
        SearchAttributePair(search.STATUS, CaseStatus.ACTIVE.value),
        SearchAttributePair(search.REGION, approval.region),
        SearchAttributePair(search.OFFICER, search.UNASSIGNED),
        SearchAttributePair(search.ESCALATION_LEVEL, 0),
        SearchAttributePair(search.OVERDUE, False),
    ]
    return TypedSearchAttributes(pairs)


async def start_case(
    client: Client,
    settings: Settings,
    approval: NewcomerApproval,
    policy: PolicySnapshot,
    *,
    bulk: bool = False,
) -> str:
    """Start the case of a dossier; returns its workflow id.

    A dossier has one case for as long as Temporal remembers it: a second start raises
    `CaseAlreadyExists`, whether the first case is still open or already closed. `bulk`: one
    of many started together (an import, a batch), which opens behind people's work
    (parcours/kernel/priorities.py).
    """
    require_payload_codec(client)
    # The client signs the start (`SigningInterceptor.start_workflow`).
    require_signing(client)
    workflow_id = workflow_id_for(approval.dossier)
    try:
        await _start_run(
            client,
            settings,
            CaseInput(approval=approval, policy=policy),
            WorkflowIDReusePolicy.REJECT_DUPLICATE,
            bulk=bulk,
        )
    except WorkflowAlreadyStartedError:
        raise CaseAlreadyExists(f"dossier {approval.dossier} already exists") from None
    except RPCError as err:
        raise _rpc_error(err, approval.dossier, settings) from None
    return workflow_id


async def _start_run(
    client: Client,
    settings: Settings,
    inp: CaseInput,
    reuse: WorkflowIDReusePolicy,
    *,
    bulk: bool,
) -> WorkflowHandle[Any, Any]:
    """Start a run of a case (an opening or a reopening): never beside a running one."""
    return await client.start_workflow(
        WORKFLOW_TYPE,
        inp,
        id=workflow_id_for(inp.approval.dossier),
        task_queue=settings.task_queue,
        id_reuse_policy=reuse,
        id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        search_attributes=initial_search_attributes(inp.approval),
        priority=priorities.for_start(bulk=bulk),
    )


async def reopenable_file(client: Client, settings: Settings, dossier: str) -> tuple[CaseFile, str]:
    """The case file of a dossier and the id of the run it comes from: the latest run, unless
    that is a reopening that failed to open (refused: nothing of it was recorded), whose closed
    run is then the case as it stands."""
    handle = case_handle(client, dossier)
    try:
        described = await handle.describe(rpc_timeout=ANSWER_TIMEOUT)
    except RPCError as err:
        raise _rpc_error(err, dossier, settings) from None
    run_id = described.run_id or ""
    if described.status == WorkflowExecutionStatus.FAILED:
        run_id = await _reopened_run(client, handle.id, run_id) or run_id
    found: CaseFile = await _query(client, settings, dossier, QUERY_CASE_FILE, CaseFile, run_id)
    return found, run_id


async def reopen_case(
    client: Client,
    settings: Settings,
    approval: NewcomerApproval,
    policy: PolicySnapshot,
    reopening: Reopening,
) -> CaseView:
    """Reopen a declined or withdrawn case under its dossier (issue 16): a new run of its
    workflow id, the only start that allows reusing a closed id (`ALLOW_DUPLICATE`; a running
    case still refuses it). Its client signs the start over the reopening too, and the new
    run checks the table before any effect. Returns the case once the run has opened it (or
    as it stands after OPENING_GRACE); a run that failed to open is an error."""
    require_payload_codec(client)
    require_signing(client)
    dossier = approval.dossier
    workflow_id = workflow_id_for(dossier)
    loop = asyncio.get_running_loop()
    give_up_at = loop.time() + OPENING_GRACE.total_seconds()
    pause = 0.05
    closed = client.get_workflow_handle(workflow_id, run_id=reopening.previous_run_id or None)
    # A case just closed still records its last audit rows and emails: its run ends after.
    while True:
        try:
            status = (await closed.describe(rpc_timeout=ANSWER_TIMEOUT)).status
        except RPCError as err:
            raise _rpc_error(err, dossier, settings) from None
        if status != WorkflowExecutionStatus.RUNNING:
            break
        if loop.time() + pause > give_up_at:
            raise UpdateRejected(
                f"dossier {dossier}: the case is still recording its closing; try again "
                "in a moment",
                dossier=dossier,
                refusal=Message.of("reopen_still_closing", dossier=dossier),
            )
        await asyncio.sleep(pause)
        pause = min(pause * 2, 0.5)
    try:
        # Only a reopening may start a run under a closed case's id.
        handle = await _start_run(
            client,
            settings,
            CaseInput(approval=approval, policy=policy, reopening=reopening),
            WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            bulk=False,
        )
    except WorkflowAlreadyStartedError:
        raise UpdateRejected(
            f"dossier {dossier}: the case is open; only a closed case is reopened",
            dossier=dossier,
            refusal=Message.of("not_reopenable", status="status.active"),
        ) from None
    except RPCError as err:
        raise _rpc_error(err, dossier, settings) from None
    give_up_at = loop.time() + OPENING_GRACE.total_seconds()
    pause = 0.05
    while True:
        try:
            status = (await handle.describe(rpc_timeout=ANSWER_TIMEOUT)).status
            if status not in (None, WorkflowExecutionStatus.RUNNING):
                raise UpdateRejected(
                    f"dossier {dossier}: the reopening was refused by the worker "
                    "(see the run's history)",
                    dossier=dossier,
                    refusal=Message.of("reopen_failed", dossier=dossier),
                )
            view: CaseView = await handle.query(
                QUERY_VIEW, CaseQuery(), result_type=CaseView, rpc_timeout=ANSWER_TIMEOUT
            )
        except RPCError as err:
            raise _rpc_error(err, dossier, settings) from None
        if view.pending_effects == 0 or loop.time() + pause > give_up_at:
            return view
        await asyncio.sleep(pause)
        pause = min(pause * 2, 0.5)


def case_handle(client: Client, dossier: str) -> WorkflowHandle[Any, Any]:
    # No run id: always the latest run, which follows continue-as-new.
    return client.get_workflow_handle(workflow_id_for(dossier))


async def resolve_dossier(client: Client, typed: str) -> str:
    """The dossier a person typed, as its case is keyed: trimmed and upper-case
    (`inputs.dossier`). A case opened under a lower-case number before numbers were
    normalised stays reachable: its exact number is used when only it names a case
    (`parcours reconcile` lists such cases)."""
    normal = inputs.dossier(typed)
    exact = typed.strip()
    if exact == normal or not DOSSIER_RE.match(exact):
        return normal
    for candidate in (normal, exact):
        try:
            await case_handle(client, candidate).describe(rpc_timeout=ANSWER_TIMEOUT)
            return candidate
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                break  # unreachable or refused: the action itself will say so
    return normal


async def view_case(client: Client, settings: Settings, dossier: str) -> CaseView:
    """The whole case as the workflow sees it (open or closed)."""
    view: CaseView = await _query(client, settings, dossier, QUERY_VIEW, CaseView)
    if view.officer is None:
        # Opening (the read model gives the officer), or a case no officer serves yet; or a
        # run whose opening was refused (a reopening's: the case is its closed run).
        closed_run = await _check_opening(client, dossier, settings)
        if closed_run is not None:
            view = await _query(client, settings, dossier, QUERY_VIEW, CaseView, closed_run)
    return view


async def case_file(client: Client, settings: Settings, dossier: str) -> CaseFile:
    """The view and the workflow's state of a case, read at one moment (the console's case
    page: contact data, and the validators that decide which forms it offers)."""
    found: CaseFile = await _query(client, settings, dossier, QUERY_CASE_FILE, CaseFile)
    if found.view.officer is None:
        closed_run = await _check_opening(client, dossier, settings)
        if closed_run is not None:
            found = await _query(client, settings, dossier, QUERY_CASE_FILE, CaseFile, closed_run)
    return found


async def _query(
    client: Client,
    settings: Settings,
    dossier: str,
    query: str,
    result_type: type[Any],
    run_id: str | None = None,
) -> Any:
    handle = client.get_workflow_handle(workflow_id_for(dossier), run_id=run_id)
    try:
        return await handle.query(
            query, CaseQuery(), result_type=result_type, rpc_timeout=ANSWER_TIMEOUT
        )
    except RPCError as err:
        raise _rpc_error(err, dossier, settings) from None
    except WorkflowQueryRejectedError as err:
        raise ParcoursError(
            f"dossier {dossier}: the case cannot be read ({err})",
            dossier=dossier,
            refusal=Message.of("case_unreadable", reason=first_line(err)),
        ) from None
    except WorkflowQueryFailedError as err:
        if err.message == ENCODED_FAILURE:
            # A query never fails but on a payload the worker cannot decrypt: ours,
            # encrypted with a key outside its ring. Its reason comes back encrypted too.
            raise ParcoursError(
                f"dossier {dossier}: the worker could not read the query (its reason is "
                "encrypted): is this process's current payload key in the worker's keyring?",
                dossier=dossier,
                refusal=Message.of("query_undecodable"),
            ) from None
        raise ParcoursError(
            f"dossier {dossier}: {first_line(err.message)}",
            dossier=dossier,
            refusal=Message.of("query_failed", reason=first_line(err.message)),
        ) from None
    except (KeyError, CodecKeyError) as err:
        raise _undecodable(err, dossier) from None


async def _check_opening(client: Client, dossier: str, settings: Settings) -> str | None:
    """A case not yet registered is opening, unless its run has ended: then its opening was
    refused (an unsigned or forged start, a second opening of a dossier) and nothing of it was
    recorded. It is no case, and must not read as an active one. A refused reopening (issue
    16) leaves the case as its closed run: that run's id is returned."""
    handle = case_handle(client, dossier)
    try:
        described = await handle.describe(rpc_timeout=ANSWER_TIMEOUT)
    except RPCError as err:
        raise _rpc_error(err, dossier, settings) from None
    status = described.status
    if status == WorkflowExecutionStatus.COMPLETED:
        # A case closed while no officer served it: a case all the same.
        return None
    if status not in (None, WorkflowExecutionStatus.RUNNING):
        closed_run = await _reopened_run(client, handle.id, described.run_id)
        if closed_run is not None:
            return closed_run
        raise CaseNotFound(
            f"no case for dossier {dossier}: its opening was refused and nothing was recorded "
            "(an unsigned or forged start); see the workflow's history in the Temporal UI",
            refusal=Message.of("no_case_start_refused", dossier=dossier),
        )
    return None


async def _reopened_run(client: Client, workflow_id: str, run_id: str | None) -> str | None:
    """The run that holds the case when its latest run `run_id` ended without opening it (a
    refused reopening; or a start over the closed case by a client without our keys): the
    newest earlier run of the workflow id that completed, which is how a case's last run ends
    (declined, withdrawn or completed). None if there is none: the dossier never opened.

    Not what the failed run's own input names (`Reopening.previous_run_id`): a start that only
    reached the Temporal frontend names what it likes (nothing, or an older period's run), and
    the case would read as "never opened", or as its older period, and no longer reopen."""
    newest: tuple[datetime, str] | None = None
    query = f'WorkflowId = "{workflow_id}" AND ExecutionStatus = "Completed"'
    try:
        async for run in client.list_workflows(query, rpc_timeout=ANSWER_TIMEOUT):
            if run.run_id != run_id and (newest is None or run.start_time > newest[0]):
                newest = (run.start_time, run.run_id)
    except RPCError:
        return None
    return newest[1] if newest is not None else None


async def update_case(
    client: Client,
    settings: Settings,
    dossier: str,
    update: str,
    arg: Any,
    *,
    within: timedelta = ANSWER_TIMEOUT,
) -> CaseView:
    """Run one officer action on a case and return the case after it.

    The client signs it (`SigningInterceptor`, from `connect`); the workflow's validators
    check the signature and the authorization table, and reject a wrong action synchronously;
    the rejection's message becomes the error line.
    """
    if update not in UPDATES:
        raise ValueError(f"unknown update {update!r}")
    require_payload_codec(client)
    await raise_priority(client, dossier)
    handle = case_handle(client, dossier)
    loop = asyncio.get_running_loop()
    give_up_at = loop.time() + OPENING_GRACE.total_seconds()
    pause = 0.05
    try:
        while True:
            try:
                view: CaseView = await asyncio.wait_for(
                    handle.execute_update(update, arg, result_type=CaseView),
                    within.total_seconds(),
                )
                break
            except WorkflowUpdateFailedError as err:
                refused = refusal_of(err.cause)
                message = str(refused) if refused is not None else _failure_message(err.cause)
                # A rejected update leaves no trace in the history, so asking again is safe.
                still_opening = refused is not None and refused.code == STILL_OPENING
                if not still_opening or loop.time() + pause > give_up_at:
                    raise UpdateRejected(
                        f"dossier {dossier}: {message}", dossier=dossier, refusal=refused
                    ) from None
                await asyncio.sleep(pause)
                pause = min(pause * 2, 1.0)
    except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
        raise ParcoursError(
            f"dossier {dossier}: no worker answered within {within.total_seconds():g}s "
            f"(is `parcours worker` running on task queue {settings.task_queue!r}?); "
            "the action may still apply if a worker picks it up within a few minutes (after "
            "that its signature is stale and it is refused): check `parcours status`",
            dossier=dossier,
            refusal=Message.of(
                "no_worker",
                seconds=f"{within.total_seconds():g}",
                queue=settings.task_queue,
            ),
        ) from None
    except RPCError as err:
        raise _rpc_error(err, dossier, settings) from None
    except (KeyError, CodecKeyError) as err:
        raise _undecodable(err, dossier) from None
    return view


async def raise_priority(client: Client, dossier: str) -> None:
    """Put a case at people's priority before a person acts on it.

    The update runs in a workflow task of the case, queued at the case's priority: on a case
    an import opened (BULK) it would wait behind the rest of the import. Raising it moves its
    queued tasks ahead too. Idempotent: on a case already at PEOPLE the server changes nothing
    and writes no event; the first raise writes one WorkflowExecutionOptionsUpdated event,
    which is no command (histories replay as before). Best effort: a server without priority,
    or a case that is gone, leaves the action to succeed or fail on its own.
    """
    request = UpdateWorkflowExecutionOptionsRequest(
        namespace=client.namespace,
        # No run id: the current run, which follows continue-as-new.
        workflow_execution=WorkflowExecution(workflow_id=workflow_id_for(dossier)),
        workflow_execution_options=WorkflowExecutionOptions(
            priority=PriorityProto(priority_key=priorities.PEOPLE_KEY)
        ),
        update_mask=FieldMask(paths=["priority"]),
    )
    with contextlib.suppress(RPCError):
        await client.workflow_service.update_workflow_execution_options(
            request, timeout=RAISE_TIMEOUT
        )


# Why the codec could not decrypt a case, each with its own words (refusal.case_undecryptable.*).
UNDECRYPTABLE_REASONS = frozenset({"key.unknown_payload_key", "key.payload_tampered"})


def _undecodable(err: KeyError | CodecKeyError, dossier: str) -> ParcoursError:
    """A case this client cannot decrypt: the SDK's KeyError ("Unknown payload encoding
    binary/encrypted") when it has no codec, the codec's error when the key is not in its ring.
    Any other KeyError is a bug and is not dressed up."""
    if isinstance(err, CodecKeyError):
        inner = err.refusal
        refusal = (
            # The codec's own reason, worded whole in the reader's language.
            Message(f"case_undecryptable.{inner.code.removeprefix('key.')}", inner.params)
            if inner is not None and inner.code in UNDECRYPTABLE_REASONS
            else Message.of("case_undecryptable", reason=first_line(err))
        )
        return ParcoursError(
            f"dossier {dossier}: cannot decrypt the case: {err}",
            dossier=dossier,
            refusal=refusal,
        )
    if "binary/encrypted" not in str(err):
        raise err
    return PayloadKeysMissing(
        f"dossier {dossier}: the case is encrypted and this process has no payload keys: "
        "set PARCOURS_CODEC_KEYS (or PARCOURS_CODEC_KEY_FILE) to the keys the worker uses",
        dossier=dossier,
        refusal=Message.of("payload_keys_missing"),
    )


def refusal_of(err: BaseException) -> Message | None:
    """The code and parameters of a workflow's refusal (`ApplicationError` of type Rejected,
    first detail `Message.as_dict()`), or None for any other failure."""
    if isinstance(err, ApplicationError) and err.type == REFUSAL_ERROR_TYPE and err.details:
        return Message.from_dict(err.details[0])
    return None


def _failure_message(err: BaseException) -> str:
    if isinstance(err, ApplicationError | FailureError) and err.message:
        return first_line(err.message)
    return first_line(err)


def _unreachable(address: str, reason: str) -> TemporalUnavailable:
    # `reason` is the transport's own words ("connection refused"), left as they come.
    return TemporalUnavailable(
        f"cannot reach Temporal at {address}: {reason}",
        refusal=Message.of("temporal_unreachable", address=address, reason=reason),
    )


def _closed(dossier: str) -> ParcoursError:
    return ParcoursError(
        f"dossier {dossier}: the case is closed; it takes no more actions",
        dossier=dossier,
        refusal=Message.of("case_completed"),
    )


def _rpc_error(err: RPCError, dossier: str, settings: Settings) -> ParcoursError:
    text = err.message.lower()
    if err.status == RPCStatusCode.NOT_FOUND and "completed" in text:
        return _closed(dossier)
    if err.status == RPCStatusCode.NOT_FOUND:
        return CaseNotFound(
            f"no case for dossier {dossier}", refusal=Message.of("no_case", dossier=dossier)
        )
    if "already completed" in text or "workflow execution already" in text:
        return _closed(dossier)
    if err.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
        return _unreachable(settings.temporal_address or "?", first_line(err.message))
    return ParcoursError(
        f"dossier {dossier}: Temporal refused: {first_line(err.message)}",
        dossier=dossier,
        refusal=Message.of("temporal_refused", reason=first_line(err.message)),
    )


_OS_MESSAGE_RE = re.compile(r'message: "([^"]+)"')


def _connect_reason(err: BaseException) -> str:
    """'connection refused' rather than the Rust transport error it is buried in."""
    text = str(err)
    found = _OS_MESSAGE_RE.search(text)
    if found:
        return found.group(1).lower()
    return first_line(text.removeprefix("Failed client connect: "))
