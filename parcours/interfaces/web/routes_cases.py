"""Officers' pages: the caseload and the case page, with every case action as a form.

Each action is one workflow update; the page never writes case state itself. A success
redirects back to the case (POST-redirect-GET); a refusal, by the form checks here or by the
workflow's validators, renders the case page again with the message and the form as typed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from parcours.application import refusals
from parcours.infrastructure.store.accounts import Account
from parcours.infrastructure.store.officers import actor_of, get_officer, pick_officer
from parcours.infrastructure.temporal import resolve_dossier, update_case, view_case
from parcours.interfaces.web.auth import check_csrf, may_see_case, no_such_case, staff_account
from parcours.interfaces.web.render import render
from parcours.interfaces.web.reports import (
    CaseFilters,
    audit_trail,
    case_row,
    caseload_rows,
    officers_of,
)
from parcours.interfaces.web.state import StateDep, WebState
from parcours.kernel import authz, inputs
from parcours.kernel.domain import (
    REGIONS,
    STAGES,
    CaseStatus,
    CaseView,
    GreetingOutcome,
    GreetingReport,
    PauseRequest,
    PlanFiling,
    PlanItem,
    ProgressNote,
    Reassignment,
    ResumeRequest,
    Role,
    StageApproval,
    StageWaiver,
    Transfer,
    Withdrawal,
    WithdrawalReason,
)
from parcours.kernel.errors import CaseNotFound, ParcoursError, TemporalUnavailable, UpdateRejected
from parcours.kernel.search import UNASSIGNED

router = APIRouter(include_in_schema=False)

SUPERVISOR_ACTIONS = ("reassign", "waive", "pause", "resume", "transfer")
OFFICER_ACTIONS = ("greeting", "plan", "progress", "approve", "withdraw")


def parse_filters(request: Request, account: Account) -> CaseFilters:
    q = request.query_params
    stage = q.get("stage") or None
    if stage and stage not in {s.value for s in STAGES}:
        stage = None
    try:
        level = max(0, min(3, int(q.get("level") or 0)))
    except ValueError:
        level = 0
    officer = q.get("officer") or None
    if officer and account.role == Role.OFFICER.value:
        officer = None  # an officer only ever sees their own
    if officer and officer != UNASSIGNED:
        try:
            officer = inputs.officer_id(officer)
        except ParcoursError:
            officer = None
    return CaseFilters(
        stage=stage, min_level=level, overdue_only=q.get("overdue") == "1", officer=officer
    )


@router.get("/cases")
async def caseload_page(
    request: Request,
    account: Annotated[Account, Depends(staff_account)],
    state: StateDep,
) -> Response:
    filters = parse_filters(request, account)
    async with state.sessions() as session:
        rows = await caseload_rows(session, account, filters)
        officers = (
            await officers_of(
                session, None if account.role == Role.DIRECTOR.value else account.region
            )
            if account.role != Role.OFFICER.value
            else []
        )
    return render(
        request,
        "caseload.html",
        {"rows": rows, "filters": filters, "stages": STAGES, "officers": officers},
    )


def _lang(request: Request) -> str:
    """The page's language (app.py's middleware chose it: ?lang=, then the cookie)."""
    return str(getattr(request.state, "lang", "fr"))


@dataclass
class ActionError:
    """A refused action: which form, why, and what was typed (so nothing is lost)."""

    action: str
    message: str
    form: dict[str, Any] = field(default_factory=dict)


async def _load_case(state: WebState, account: Account, dossier: str) -> CaseView:
    try:
        inputs.dossier(dossier)
    except ParcoursError:
        raise no_such_case() from None
    try:
        client = await state.client()
        view = await view_case(client, state.settings, await resolve_dossier(client, dossier))
    except CaseNotFound:
        raise no_such_case() from None
    except TemporalUnavailable as err:
        raise HTTPException(status_code=503, detail=str(err)) from None
    if not may_see_case(account, view.region, view.officer):
        raise no_such_case()  # a 403 would tell that the dossier exists
    return view


async def _case_page(
    request: Request,
    state: WebState,
    account: Account,
    view: CaseView,
    error: ActionError | None = None,
    status_code: int = 200,
) -> Response:
    async with state.sessions() as session:
        row = await case_row(session, view.dossier)
        events = await audit_trail(session, view.dossier)
        officers = (
            await officers_of(session, view.region)
            if account.role in (Role.SUPERVISOR.value, Role.DIRECTOR.value)
            else []
        )
    plan_text = {s.value: "\n".join(i.text for i in view.plan if i.stage == s) for s in STAGES}
    return render(
        request,
        "case.html",
        {
            "case": view,
            "newcomer": row.full_name if row else None,
            "events": events,
            "officers": officers,
            "stages": STAGES,
            "plan_text": plan_text,
            "error": error,
            "is_supervisor": account.role in (Role.SUPERVISOR.value, Role.DIRECTOR.value),
            "is_director": account.role == Role.DIRECTOR.value,
            "regions": [r for r in REGIONS if r != view.region],
            "withdrawal_reasons": list(WithdrawalReason),
            "is_open": view.status in (CaseStatus.ACTIVE, CaseStatus.PAUSED),
            "outcomes": list(GreetingOutcome),
        },
        status_code=status_code,
    )


@router.get("/cases/{dossier}")
async def case_page(
    request: Request,
    dossier: str,
    account: Annotated[Account, Depends(staff_account)],
    state: StateDep,
) -> Response:
    view = await _load_case(state, account, dossier)
    return await _case_page(request, state, account, view)


def _text(form: FormData, name: str) -> str:
    return inputs.text(str(form.get(name) or ""), name)


async def _update_input(
    action: str, form: FormData, account: Account, state: WebState, view: CaseView
) -> tuple[str, object]:
    """The workflow update and its input for a submitted form; InvalidInput if the form is
    incomplete (the workflow would refuse it too, but a precise field message is kinder)."""
    assert account.officer is not None
    actor = actor_of(account.officer)
    if action == "greeting":
        try:
            outcome = GreetingOutcome(str(form.get("outcome") or "greeted"))
        except ValueError:
            raise inputs.invalid("unknown_greeting_outcome", "outcome") from None
        return "record_greeting", GreetingReport(actor=actor, outcome=outcome)
    if action == "plan":
        items: list[PlanItem] = []
        for stage in STAGES:
            for line in inputs.clean(str(form.get(f"plan_{stage.value}") or "")).splitlines():
                if line.strip():
                    items.append(PlanItem(stage=stage, text=line.strip()))
        return "file_plan", PlanFiling(actor=actor, items=items)
    if action == "progress":
        return "add_progress", ProgressNote(actor=actor, note=_text(form, "note"))
    if action == "approve":
        stage = inputs.stage(str(form.get("stage") or ""))
        note = inputs.clean(str(form.get("note") or "")).strip()
        return "approve_stage", StageApproval(actor=actor, stage=stage, note=note)
    if action == "waive":
        stage = inputs.stage(str(form.get("stage") or ""))
        reason = _text(form, "reason")
        return "waive_stage", StageWaiver(actor=actor, stage=stage, reason=reason)
    if action == "reassign":
        officer_id = inputs.officer_id(str(form.get("officer") or ""), "officer")
        async with state.sessions() as session:
            officer = await get_officer(session, officer_id)
        if officer is None:
            raise inputs.invalid("unknown_officer", "officer", officer=officer_id)
        return "reassign", Reassignment(actor=actor, new_officer=actor_of(officer))
    if action == "pause":
        return "pause", PauseRequest(actor=actor, reason=_text(form, "reason"))
    if action == "resume":
        return "resume", ResumeRequest(actor=actor)
    if action == "withdraw":
        try:
            category = WithdrawalReason(str(form.get("category") or ""))
        except ValueError:
            raise inputs.invalid("unknown_reason_category", "category") from None
        note = _text(form, "note")
        return "withdraw", Withdrawal(
            reason=note, recorded_by=actor.officer_id, actor=actor, reason_category=category
        )
    if action == "transfer":
        region = inputs.region(str(form.get("region") or ""))
        chosen = str(form.get("officer") or "").strip()
        async with state.sessions() as session:
            # Left empty: the officer the intake rule would give a new case of the region.
            picked = (
                inputs.officer_id(chosen, "officer")
                if chosen
                else await pick_officer(session, region, view.language)
            )
            officer = await get_officer(session, picked) if picked else None
        if officer is None:
            raise inputs.invalid("no_active_officer", "officer", region=region)
        note = inputs.clean(str(form.get("note") or "")).strip()
        return "transfer", Transfer(
            actor=actor, new_region=region, new_officer=actor_of(officer), note=note
        )
    raise HTTPException(status_code=404, detail="error.no_such_action")


@router.post("/cases/{dossier}/{action}")
async def case_action(
    request: Request,
    dossier: str,
    action: str,
    account: Annotated[Account, Depends(staff_account)],
    state: StateDep,
) -> Response:
    if action not in OFFICER_ACTIONS + SUPERVISOR_ACTIONS:
        raise HTTPException(status_code=404, detail="error.no_such_action")
    form = await request.form()
    check_csrf(request, str(form.get("csrf") or ""))
    view = await _load_case(state, account, dossier)
    typed = {k: v for k, v in form.items() if k != "csrf" and isinstance(v, str)}
    try:
        update, arg = await _update_input(action, form, account, state, view)
        # The table, before sending: a refusal in the person's language (the workflow checks
        # the same table again and decides).
        refused = authz.early_refusal(update, arg, view.region, view.officer)
        if refused is not None:
            raise UpdateRejected(refusal=refused)
        view = await update_case(await state.client(), state.settings, view.dossier, update, arg)
    except UpdateRejected as err:
        state.metrics.actions.labels(action, "rejected").inc()
        # The refusal in the page's language, without the "dossier X: " the CLI shows.
        message = refusals.render(err, _lang(request), prefix=f"dossier {view.dossier}: ")
        return await _case_page(
            request, state, account, view, ActionError(action, message, typed), status_code=409
        )
    except ParcoursError as err:
        state.metrics.actions.labels(action, "invalid").inc()
        message = refusals.render(err, _lang(request), prefix=f"dossier {view.dossier}: ")
        return await _case_page(
            request, state, account, view, ActionError(action, message, typed), status_code=422
        )
    state.metrics.actions.labels(action, "done").inc()
    request.session["flash"] = action
    return RedirectResponse(f"/cases/{view.dossier}", status_code=303)
