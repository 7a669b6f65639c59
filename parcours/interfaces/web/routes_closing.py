"""Closing and coming back (issue 16): the case page's decline and reopen forms, and the
operators' `POST /api/v1/cases/{dossier}/reopen`.

The forms follow the case page's rules (routes_cases.py): offered only when the workflow
would accept them (kernel/offers.py `closing_offers`), CSRF, and a redirect to the case page
with the outcome in the server-side session (Post/Redirect/Get). Reopening is no update: the
closed run takes none; it starts a new run of the case (parcours/application/reopening.py).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.datastructures import FormData
from starlette.responses import Response

from parcours.application import refusals
from parcours.application.reopening import reopen
from parcours.infrastructure.catalog import catalog
from parcours.infrastructure.store.accounts import Account, ApiToken
from parcours.infrastructure.store.officers import actor_of, get_officer
from parcours.interfaces.web.api import accepted_language, status_fields
from parcours.interfaces.web.auth import api_token, staff_account
from parcours.interfaces.web.routes_cases import act_on_case, send_update
from parcours.interfaces.web.state import StateDep, WebState
from parcours.kernel import inputs
from parcours.kernel.authz import TokenScope
from parcours.kernel.domain import DOSSIER_RE, CaseView, Decline, ReasonCategory
from parcours.kernel.errors import CaseNotFound, ParcoursError, TemporalUnavailable, UpdateRejected

router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/api/v1", tags=["intake"])


def _note(value: object) -> str:
    note = inputs.clean(str(value or "")).strip()
    return inputs.text(note, "note") if note else ""


@router.post("/cases/{dossier}/decline")
async def decline_form(
    request: Request,
    dossier: str,
    account: Annotated[Account, Depends(staff_account)],
    state: StateDep,
) -> Response:
    return await _act(request, dossier, "decline", account, state)


@router.post("/cases/{dossier}/reopen")
async def reopen_form(
    request: Request,
    dossier: str,
    account: Annotated[Account, Depends(staff_account)],
    state: StateDep,
) -> Response:
    return await _act(request, dossier, "reopen", account, state)


async def _act(
    request: Request, dossier: str, action: str, account: Account, state: WebState
) -> Response:
    assert account.officer is not None
    actor = actor_of(account.officer)

    async def send(form: FormData, view: CaseView) -> None:
        note = _note(form.get("note"))
        if action == "reopen":
            await reopen(
                await state.client(), state.settings, state.sessions, view.dossier, actor, note
            )
            return
        try:
            category = ReasonCategory(str(form.get("category") or ""))
        except ValueError:
            raise inputs.invalid("unknown_reason_category", "category") from None
        arg = Decline(actor=actor, reason_category=category, note=note)
        await send_update(state, view, action, arg)

    return await act_on_case(request, state, account, dossier, action, send)


class ReopenRequest(BaseModel):
    by: str = Field(description="the staff member reopening the case (officer id)")
    note: str = Field(default="", description="why (kept in the audit trail)")


@api_router.post(
    "/cases/{dossier}/reopen",
    summary="Reopen a declined or withdrawn case under its dossier number",
    responses={
        401: {"description": "missing or invalid bearer token"},
        403: {"description": "the token's scope is not `intake`"},
        404: {"description": "no case for this dossier"},
        409: {"description": "refused: `code`, `params`, `message` (not reopenable, purged...)"},
        422: {"description": "`by` names no one on the roster, or the note is too long"},
        503: {"description": "Temporal unreachable"},
    },
)
async def reopen_api(
    request: Request,
    dossier: Annotated[str, Path(pattern=DOSSIER_RE.pattern, max_length=64)],
    body: ReopenRequest,
    token: Annotated[ApiToken, Depends(api_token(TokenScope.INTAKE))],
    state: StateDep,
) -> Any:
    words = catalog(accepted_language(request.headers.get("accept-language")))
    try:
        officer_id = inputs.officer_id(body.by, "by")
        note = _note(body.note)
        async with state.sessions() as session:
            officer = await get_officer(session, officer_id)
        if officer is None:
            raise inputs.invalid("unknown_officer", "by", officer=officer_id)
        client = await state.client()
        view = await reopen(
            client, state.settings, state.sessions, inputs.dossier(dossier), actor_of(officer),
            note,
        )  # fmt: skip
    except CaseNotFound:
        raise HTTPException(status_code=404, detail=f"no case for dossier {dossier}") from None
    except TemporalUnavailable as err:
        raise HTTPException(status_code=503, detail=str(err)) from None
    except UpdateRejected as err:
        return _refusal(409, err, words)
    except ParcoursError as err:
        return _refusal(422, err, words)
    return status_fields(view)


def _refusal(status: int, err: ParcoursError, words: Any) -> JSONResponse:
    message = refusals.message_of(err)
    if message is None:
        return JSONResponse({"detail": str(err)}, status_code=status)
    return JSONResponse(
        {
            "code": message.code,
            "params": {k: str(v) for k, v in message.params},
            "message": words.message(message),
        },
        status_code=status,
    )
