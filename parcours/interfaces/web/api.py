"""The operators' API: the visa system hands over approvals and reads cases back.

`POST /api/v1/visa-approvals` takes one approval or a list. Each item is checked on its own
and answered `started`, `exists` (the dossier already has a case: idempotent by dossier, so a
retried batch is harmless) or `rejected` with an error per field. Only a body that is not an
approval nor a list of them at all is refused whole, with 422.

Tokens are scoped: an `intake` token may only post approvals; a `read` token may only read a
case's status fields, never what people wrote in it (notes, plan items, reasons).
"""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from parcours.application.intake import IntakeItem, check_item, refuse_repeats
from parcours.application.start_many import start_many
from parcours.infrastructure.catalog import Catalog, catalog
from parcours.infrastructure.store.accounts import ApiToken
from parcours.infrastructure.temporal import (
    PayloadKeysMissing,
    SigningKeysMissing,
    resolve_dossier,
    view_case,
)
from parcours.interfaces.web.auth import api_token
from parcours.interfaces.web.state import StateDep, WebState
from parcours.kernel import approval as approval_model
from parcours.kernel.authz import TokenScope
from parcours.kernel.domain import DOSSIER_RE, CaseView
from parcours.kernel.errors import (
    CaseNotFound,
    ParcoursError,
    TemporalUnavailable,
)

router = APIRouter(prefix="/api/v1", tags=["intake"])

MAX_BATCH = 500
# A full batch of generous approvals is well under 1 MB; a larger body is refused unread.
MAX_BODY_BYTES = 4 * 1024 * 1024
TOO_LARGE = f"the body is larger than {MAX_BODY_BYTES // (1024 * 1024)} MB: send smaller batches"
START_CONCURRENCY = 16


class FieldError(BaseModel):
    field: str = Field(description="the refused field (`_item`: the item as a whole)")
    code: str = Field(description="why, as a stable code (`unknown_airport`, `missing_field`)")
    params: dict[str, str] = Field(default_factory=dict, description="the code's parameters")
    message: str = Field(description="why, in the language of `Accept-Language` (fr, en)")


class ItemResult(BaseModel):
    index: int = Field(description="position of the item in the request (0 for one object)")
    dossier: str | None
    result: Literal["started", "exists", "rejected"]
    workflow_id: str | None = None
    errors: dict[str, str] = Field(
        default_factory=dict, description="field -> why, worded as `field_errors` words it"
    )
    field_errors: list[FieldError] = Field(default_factory=list)


class IntakeResponse(BaseModel):
    results: list[ItemResult]


# The request body's schema comes from the one description of an approval.
_approval_schema = approval_model.json_schema()
_REQUEST_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "oneOf": [
                    _approval_schema,
                    {
                        "type": "array",
                        "items": _approval_schema,
                        "minItems": 1,
                        "maxItems": MAX_BATCH,
                    },
                ]
            }
        }
    },
}


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media in ("", "application/json") or (
        media.startswith("application/") and media.endswith("+json")
    )


async def _bounded_body(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise HTTPException(status_code=413, detail=TOO_LARGE)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():  # a chunked body declares no length: count it
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise HTTPException(status_code=413, detail=TOO_LARGE)
        chunks.append(chunk)
    return b"".join(chunks)


async def _read_body(request: Request) -> list[object] | object:
    # A form or a file upload sent here by mistake is named as such, not parsed as JSON.
    if not _is_json(request.headers.get("content-type", "")):
        raise HTTPException(status_code=415, detail="send the approvals as application/json")
    raw = await _bounded_body(request)
    try:
        # UTF-8 only (RFC 8259): json.loads(bytes) would also guess UTF-16 and UTF-32.
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise HTTPException(status_code=422, detail="the body is not UTF-8 text") from None
    try:
        body = json.loads(text)
    except json.JSONDecodeError:
        raise HTTPException(status_code=422, detail="the body is not JSON") from None
    except ValueError:  # an integer of thousands of digits (Python's conversion limit)
        raise HTTPException(status_code=422, detail="the body holds a number too long") from None
    except RecursionError:
        raise HTTPException(status_code=422, detail="the body is nested too deeply") from None
    if isinstance(body, list):
        if not body:
            raise HTTPException(status_code=422, detail="an empty list: nothing to start")
        if len(body) > MAX_BATCH:
            raise HTTPException(
                status_code=422, detail=f"at most {MAX_BATCH} approvals per request"
            )
        return body
    if isinstance(body, dict):
        return body
    raise HTTPException(
        status_code=422, detail="expected a visa approval (object) or a list of them"
    )


@router.post(
    "/visa-approvals",
    response_model=IntakeResponse,
    summary="Open cases on visa approvals (one or a batch)",
    openapi_extra={"requestBody": _REQUEST_BODY},
    responses={
        401: {"description": "missing or invalid bearer token"},
        403: {"description": "the token's scope is not `intake`"},
        413: {"description": "the body is larger than 4 MB"},
        415: {"description": "the body is not sent as application/json"},
        422: {
            "description": "the body is not an approval nor a list of approvals, or every "
            "item was rejected (then the body is the results, with each item's field errors)"
        },
        503: {"description": "Temporal unreachable: retry (idempotent by dossier)"},
    },
)
async def visa_approvals(
    request: Request,
    token: Annotated[ApiToken, Depends(api_token(TokenScope.INTAKE))],
    state: StateDep,
) -> IntakeResponse | JSONResponse:
    body = await _read_body(request)
    raw_items = body if isinstance(body, list) else [body]
    window = state.settings.arrival_window(date.today())
    items = [check_item(index, raw, window) for index, raw in enumerate(raw_items)]
    refuse_repeats(items, "item")
    if any(i.result == "pending" for i in items):
        client = await _client(state)
        try:
            unreachable = await start_many(
                client,
                state.settings,
                state.policy,
                items,
                concurrency=START_CONCURRENCY,
                pacer=state.intake_pacer(START_CONCURRENCY),
            )
        except (PayloadKeysMissing, SigningKeysMissing) as err:
            # The web refuses to start without keys; this keeps a batch whole regardless.
            raise HTTPException(status_code=503, detail=str(err)) from None
        if unreachable is not None:
            raise HTTPException(status_code=503, detail=str(unreachable))
    words = catalog(accepted_language(request.headers.get("accept-language")))
    answer = IntakeResponse(
        results=[_result(i, raw, words) for i, raw in zip(items, raw_items, strict=True)]
    )
    if all(i.result == "rejected" for i in items):
        # Nothing was opened nor found: the request as sent cannot succeed, say so with 422
        # (the body still names every refused field of every item).
        return JSONResponse(answer.model_dump(), status_code=422)
    return answer


def accepted_language(header: str | None) -> str:
    """The first of fr and en the `Accept-Language` header names, by its q-values; French
    when it names neither (or is absent)."""
    ranked: list[tuple[float, int, str]] = []
    for n, part in enumerate((header or "").split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        lang = tag.strip().lower().split("-")[0]
        if lang in ("fr", "en") and q > 0:
            ranked.append((-q, n, lang))
    return min(ranked)[2] if ranked else "fr"


def _result(item: IntakeItem, raw: object, words: Catalog) -> ItemResult:
    raw_dossier = raw.get("dossier") if isinstance(raw, dict) else None
    # Echoed only when it is a dossier number: not a megabyte of junk, not markup.
    dossier = (
        raw_dossier.strip()
        if isinstance(raw_dossier, str) and DOSSIER_RE.match(raw_dossier.strip())
        else None
    )
    if item.approval is not None:
        dossier = item.approval.dossier  # normalised: the number the case is kept under
    return ItemResult(
        index=item.position,
        dossier=dossier,
        result=item.result if item.result != "pending" else "rejected",
        workflow_id=item.workflow_id,
        errors={f: words.message(m) for f, m in item.errors.items()},
        field_errors=[
            FieldError(field=f, code=m.code, params=dict(m.params), message=words.message(m))
            for f, m in item.errors.items()
        ],
    )


async def _client(state: WebState) -> Any:
    try:
        return await state.client()
    except TemporalUnavailable as err:
        raise HTTPException(status_code=503, detail=str(err)) from None


# What a `read` token sees of a case: where it stands. Free text typed by people (progress
# notes, plan items, waiver, pause and closing reasons) is left out by naming what is kept, so
# a field added to the case later stays private until someone decides otherwise.
STATUS_FIELDS = (
    "dossier", "status", "stage", "officer", "region", "language", "arrival_date",
    "escalation_level", "stalled_since", "overdue", "plan_revision", "plan_due_at",
    "plan_due_on", "time_zone", "greeting", "paused_at", "notes_count", "last_activity_at",
    "started_at", "closed_at", "pending_effects",
)  # fmt: skip
STAGE_FIELDS = (
    "stage", "started_at", "completed_at", "approved_by", "waived", "deadline_at", "due_on",
)  # fmt: skip


def status_fields(view: CaseView) -> dict[str, object]:
    full = view.to_json()
    shown: dict[str, object] = {k: full[k] for k in STATUS_FIELDS}
    shown["plan_items"] = len(view.plan)
    stages = full["stages"]
    assert isinstance(stages, list)
    shown["stages"] = [{k: s[k] for k in STAGE_FIELDS} for s in stages]
    return shown


@router.get(
    "/cases/{dossier}",
    summary="Where a case stands: its status fields, never its notes, plan items or reasons",
    responses={
        401: {"description": "missing or invalid bearer token"},
        403: {"description": "the token's scope is not `read`"},
        404: {"description": "no case for this dossier"},
        503: {"description": "Temporal unreachable"},
    },
)
async def get_case(
    dossier: Annotated[str, Path(pattern=DOSSIER_RE.pattern, max_length=64)],
    token: Annotated[ApiToken, Depends(api_token(TokenScope.READ))],
    state: StateDep,
) -> dict[str, object]:
    client = await _client(state)
    try:
        # d-2026-0002 is D-2026-0002 (a case opened under the lower-case number before
        # numbers were normalised is still found by it).
        view = await view_case(client, state.settings, await resolve_dossier(client, dossier))
    except CaseNotFound:
        raise HTTPException(status_code=404, detail=f"no case for dossier {dossier}") from None
    except TemporalUnavailable as err:
        raise HTTPException(status_code=503, detail=str(err)) from None
    except ParcoursError as err:
        raise HTTPException(status_code=409, detail=str(err)) from None
    return status_fields(view)
