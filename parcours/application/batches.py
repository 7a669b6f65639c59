"""Batches (issue 17): departures and supervisors' bulk work, as both interfaces start them.

A batch is one action over an explicit list of dossiers, fixed here before it starts (a
filter is resolved to its list first, within what the actor may see), run by its own durable
workflow (workflows/batch.py). Its id is given, or derived (an HMAC under the signing key) from
the action, the list and Quebec's day, so a second submission of the same batch that day is a
no-op that answers the first one's progress. The
client signs the request (infrastructure/temporal.py `SigningInterceptor`); the workflow checks
that signature before touching any case, and each case's validator judges the actor again.

Async functions taking a connected client or a session, for the CLI and the console alike.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from parcours.infrastructure.config import DEFAULT_TASK_QUEUE
from parcours.infrastructure.store.finder import CaseSearch, StatusFilter, matching_dossiers
from parcours.infrastructure.store.models import Case
from parcours.infrastructure.store.officers import (
    OfficerError,
    actor_of,
    deactivate_officer,
    known_officer,
    local_today,
)
from parcours.infrastructure.temporal import (
    ANSWER_TIMEOUT,
    require_payload_codec,
    require_signing,
    signer_of,
)
from parcours.kernel import inputs
from parcours.kernel.authz import ProgrammeAction, decide_programme
from parcours.kernel.batches import BatchKind, BatchProgress, BatchRequest
from parcours.kernel.domain import OPEN_STATUSES, Actor, Role
from parcours.kernel.errors import ParcoursError
from parcours.kernel.messages import Message

WORKFLOW_TYPE = "CaseBatch"
QUERY_PROGRESS = "progress"
# A batch's list is carried in its workflow's input and state: a large programme's whole
# caseload fits; more is a mistake to refuse, not a batch to start.
MAX_CASES = 25_000
# A given id: an operator's word, not a person's.
BATCH_ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_OPEN = [s.value for s in OPEN_STATUSES]


def _refused(code: str, **params: Any) -> ParcoursError:
    message = Message.of(code, **params)
    return ParcoursError(str(message), refusal=message)


def given_batch_id(request: BatchRequest) -> str:
    """The id the submitter gave, normalised ("" when none: start_batch derives one)."""
    if not request.batch_id:
        return ""
    given = request.batch_id.strip().lower()
    if not BATCH_ID_RE.match(given):
        raise _refused("batch_id_invalid", value=inputs.shown(request.batch_id))
    return given


def batch_id_for(request: BatchRequest, digest: Callable[[bytes], str], day: date) -> str:
    """The batch's id: the given one, else a keyed digest (`digest`, the signer's) of its
    action, its list and the day (kind, dossiers in order, officers, note, departure).

    The same submission on the same day is the same batch (a second click, a repeated
    command: a no-op); the same action weeks later is a new one. Keyed, so the id says
    nothing of the note and cannot be guessed ahead by someone without the keys."""
    given = given_batch_id(request)
    if given:
        return given
    what = {
        "kind": request.kind.value,
        "dossiers": list(request.dossiers),
        "officers": list(request.officers),
        "note": request.note,
        "deactivate": request.deactivate,
        "day": day.isoformat(),
    }
    return f"{request.kind.value}-{digest(json.dumps(what, sort_keys=True).encode())[:20]}"


def workflow_id_of(batch_id: str) -> str:
    return f"batch-{batch_id}"


def _pending(request: BatchRequest) -> BatchProgress:
    return BatchProgress(batch_id=request.batch_id, kind=request.kind, total=len(request.dossiers))


async def start_batch(
    client: Client, request: BatchRequest, *, task_queue: str = DEFAULT_TASK_QUEUE
) -> BatchProgress:
    """Start the batch (its id derived if not given) and answer its progress. Idempotent: a
    batch with this id already running or finished is left alone and its progress answered;
    one that failed (its request refused) may be submitted again."""
    require_payload_codec(client)
    require_signing(client)  # the client signs the request: the batch refuses it unsigned
    if request.batch_id:
        # A given id names the batch whatever its list is now (a filter resolved again after
        # the batch moved its cases matches none of them): the first one's progress.
        known = await _known(client, given_batch_id(request))
        if known is not None:
            return known
    if not request.dossiers:
        raise _refused("batch_empty")
    if len(request.dossiers) > MAX_CASES:
        raise _refused("batch_too_large", count=len(request.dossiers), max=MAX_CASES)
    digest = signer_of(client).batch_digest
    # Quebec's day, as the interfaces show dates.
    request = replace(request, batch_id=batch_id_for(request, digest, local_today()), state=None)
    from parcours.kernel import priorities

    try:
        await client.start_workflow(
            WORKFLOW_TYPE,
            request,
            id=workflow_id_of(request.batch_id),
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
            # Running already: the same batch, submitted twice.
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            # Behind people's own actions, as an import is.
            priority=priorities.for_start(bulk=True),
        )
    except WorkflowAlreadyStartedError:
        pass  # finished already: its progress is the answer
    except RPCError as err:
        raise _refused("temporal_refused", reason=err.message.splitlines()[0]) from None
    try:
        return await batch_progress(client, request.batch_id)
    except ParcoursError:
        # Not yet picked up by a worker: nothing done so far.
        return _pending(request)


async def _known(client: Client, batch_id: str) -> BatchProgress | None:
    """The batch's progress if it ran already and did not refuse its request."""
    try:
        progress = await batch_progress(client, batch_id)
    except ParcoursError:
        return None
    return progress if progress.refusal is None else None


async def batch_progress(client: Client, batch_id: str) -> BatchProgress:
    """The batch's progress, running or finished; one that refused its own request answers
    that refusal."""
    handle = client.get_workflow_handle(workflow_id_of(batch_id))
    try:
        progress: BatchProgress = await handle.query(
            QUERY_PROGRESS, result_type=BatchProgress, rpc_timeout=ANSWER_TIMEOUT
        )
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise _refused("batch_unknown", batch=batch_id) from None
        raise _refused("temporal_refused", reason=err.message.splitlines()[0]) from None
    except WorkflowQueryFailedError as err:
        raise _refused("query_failed", reason=str(err).splitlines()[0]) from None
    return progress


# --------------------------------------------------------------------------------------------
# Which cases: a filter, a list, an officer's open cases
# --------------------------------------------------------------------------------------------

FILTER_KEYS = ("stage", "min-level", "region", "officer", "overdue")


def parse_filter(filter_text: str) -> CaseSearch:
    """`stage=francization,min-level=2,region=montreal,officer=x,overdue` as a search over
    open cases; an unknown key or a bad value is one clear refusal."""
    search = CaseSearch(status=StatusFilter.OPEN)
    parts = [p.strip() for p in filter_text.split(",") if p.strip()]
    if not parts:
        raise _refused("batch_filter_empty")
    for part in parts:
        key, eq, value = part.partition("=")
        key = key.strip().lower()
        value = value.strip()
        if key == "overdue" and not eq:
            search.overdue_only = True
        elif not eq or key not in FILTER_KEYS:
            raise _refused(
                "batch_filter_invalid", part=inputs.shown(part), keys=", ".join(FILTER_KEYS)
            )
        elif key == "stage":
            search.stage = inputs.stage(value).value
        elif key == "min-level":
            search.min_level = inputs.min_level(value)
        elif key == "region":
            search.region = inputs.region(value)
        elif key == "officer":
            search.officer = inputs.officer_filter(value)
        else:  # overdue=yes|no
            search.overdue_only = inputs.flag(value, "overdue")
    return search


async def cases_of_filter(session: AsyncSession, actor: Actor, filter_text: str) -> list[str]:
    """The open dossiers matching the filter that `actor` may see, in dossier order: the
    explicit list a bulk batch is started with."""
    return await matching_dossiers(session, actor, parse_filter(filter_text), limit=MAX_CASES + 1)


async def open_cases_of_officer(session: AsyncSession, officer_id: str) -> list[str]:
    """The officer's open dossiers as the read model has them, in dossier order."""
    stmt = (
        select(Case.dossier)
        .where(Case.officer_id == officer_id, Case.status.in_(_OPEN))
        .order_by(Case.dossier)
    )
    return list((await session.scalars(stmt)).all())


def check_bulk(actor: Actor, region: str | None) -> None:
    """The programme table's `bulk` row, early (each case's validator judges again)."""
    scope_region = region if region is not None else actor.region
    if actor.role == Role.DIRECTOR and region is None:
        scope_region = None
    refused = decide_programme(ProgrammeAction.BULK, actor, scope_region)
    if refused is not None:
        raise ParcoursError(str(refused), refusal=refused)


def bulk_request(
    kind: BatchKind,
    dossiers: list[str],
    actor: Actor,
    *,
    officers: list[str] | None = None,
    note: str = "",
    batch_id: str = "",
) -> BatchRequest:
    """A bulk batch, its words checked: reassign names one officer, spread any number (none:
    the region's by the intake rule), note and pause a text."""
    officers = [inputs.officer_id(o, "--to") for o in officers or []]
    if kind == BatchKind.REASSIGN and len(officers) != 1:
        raise _refused("bulk_to_one")
    if kind in (BatchKind.NOTE, BatchKind.PAUSE):
        note = inputs.text(note, "--note")
        officers = []
    else:
        note = ""
    seen: dict[str, None] = dict.fromkeys(inputs.dossier(d) for d in dossiers)
    request = BatchRequest(
        kind=kind, dossiers=list(seen), actor=actor, officers=officers, note=note
    )
    request.batch_id = given_batch_id(replace(request, batch_id=batch_id))
    return request


# --------------------------------------------------------------------------------------------
# Departures
# --------------------------------------------------------------------------------------------


async def departure(
    session: AsyncSession,
    actor: Actor,
    officer_id: str,
    *,
    redistribute: bool = False,
    to: str | None = None,
) -> BatchRequest | None:
    """A departure, checked: None when the officer held no open case and was deactivated at
    once (audited; the caller commits); else the batch that moves their cases (to `to`, or
    spread over the region's officers) and then deactivates them."""
    officer = await known_officer(session, officer_id)
    refused = decide_programme(ProgrammeAction.ROSTER, actor, officer.region)
    if refused is None and officer.id == actor.officer_id:
        # Signed out for good on nobody's word but their own: another director does it
        # (the console and the CLI alike).
        raise inputs.invalid("roster_self_deactivate", None)
    if refused is not None:
        raise ParcoursError(str(refused), refusal=refused)
    if not officer.active:
        raise _refused("officer_inactive_already", officer=officer.id)
    held = await open_cases_of_officer(session, officer.id)
    if not held:
        if to is not None or redistribute:
            pass  # nothing to move: the choice does not matter
        await deactivate_officer(session, officer.id, actor=actor.officer_id)
        return None
    if (to is None) == (not redistribute):
        raise _refused("departure_choice", officer=officer.id, count=len(held))
    officers: list[str] = []
    kind = BatchKind.SPREAD
    if to is not None:
        target = await known_officer(session, to)
        if target.id == officer.id:
            raise _refused("departure_to_self", officer=officer.id)
        problem = _target_problem(actor_of(target), officer.region)
        if problem is not None:
            raise problem
        officers, kind = [target.id], BatchKind.REASSIGN
    # Its id is derived when it starts (start_batch).
    return BatchRequest(
        kind=kind, dossiers=held, actor=actor, officers=officers, deactivate=officer.id
    )


def _target_problem(target: Actor, region: str) -> OfficerError | None:
    if not target.active:
        return OfficerError(
            "to", "inactive", Message.of("target_inactive", officer=target.officer_id)
        )
    if target.region != region:
        return OfficerError(
            "to",
            "other region",
            Message.of("target_other_region", officer=target.officer_id, region=region),
        )
    return None
