"""Officers' pages: finding cases (the caseload is a search) and the case page, with every
case action as a form.

Each action is one workflow update; the page never writes case state itself. The page offers
a form only for what the workflow's validators would accept from this person in the case's
current state (kernel/offers.py, on the state the `case_file` query returns).

Every form answers with a redirect to the case page (Post/Redirect/Get, 303), refused or not,
so that reloading never sends it again. A refusal, by the form checks here or by the
workflow's validators, travels to that page in the server-side session (sessions.py: never a
cookie or the address, since notes are personal data) with what was typed, and is shown once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from babel import Locale
from fastapi import APIRouter, Depends, HTTPException, Request
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from parcours.application import refusals
from parcours.application.reports import Period, add_months
from parcours.infrastructure.catalog import BABEL_LOCALES
from parcours.infrastructure.store.absences import absences_today
from parcours.infrastructure.store.accounts import Account
from parcours.infrastructure.store.finder import (
    MAX_PER_PAGE,
    PER_PAGE,
    CaseSearch,
    StatusFilter,
    find_cases,
)
from parcours.infrastructure.store.officers import actor_of, get_officer, pick_officer
from parcours.infrastructure.store.partners import list_partners
from parcours.infrastructure.temporal import case_file, resolve_dossier, update_case
from parcours.interfaces.web.auth import check_csrf, may_see_case, no_such_case, staff_account
from parcours.interfaces.web.render import render
from parcours.interfaces.web.reports import audit_trail, officers_of
from parcours.interfaces.web.routes_bulk import bulk_offer, filter_text
from parcours.interfaces.web.sessions import FLASH
from parcours.interfaces.web.state import StateDep, WebState
from parcours.kernel import authz, inputs
from parcours.kernel.domain import (
    REGIONS,
    STAGES,
    CaseFile,
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
from parcours.kernel.filters import Figure, ReportCut
from parcours.kernel.offers import Offers, closing_offers, offers
from parcours.kernel.search import UNASSIGNED

router = APIRouter(include_in_schema=False)

SUPERVISOR_ACTIONS = ("reassign", "waive", "pause", "resume", "transfer")
OFFICER_ACTIONS = ("greeting", "plan", "progress", "approve", "withdraw")


def parse_search(request: Request, account: Account) -> CaseSearch:
    """The search and filters of `/cases` from the address; anything unknown is ignored."""
    q = request.query_params
    stage = q.get("stage") or None
    if stage and stage not in {s.value for s in STAGES}:
        stage = None
    try:
        status = StatusFilter(q.get("status") or StatusFilter.OPEN)
    except ValueError:
        status = StatusFilter.OPEN
    level = _whole(q.get("level"), 0, 0, 3)
    officer = q.get("officer") or None
    if officer and account.role == Role.OFFICER.value:
        officer = None  # an officer only ever sees their own
    if officer and officer != UNASSIGNED:
        try:
            officer = inputs.officer_id(officer)
        except ParcoursError:
            officer = None
    region = q.get("region") or None
    if region not in REGIONS:
        region = None
    return CaseSearch(
        region=region,
        cut=_report_cut(q.get("figure"), q.get("from"), q.get("to"), q.get("value")),
        text=" ".join((q.get("q") or "").split()),
        status=status,
        stage=stage,
        min_level=level,
        overdue_only=q.get("overdue") == "1",
        officer=officer,
        page=_whole(q.get("page"), 1, 1, 100_000),
        per_page=_whole(q.get("per"), PER_PAGE, 1, MAX_PER_PAGE),
    )


def _report_cut(
    figure: str | None, first: str | None, last: str | None, value: str | None
) -> ReportCut | None:
    """The cases behind a figure of the programme reports (`figure`, months `from` to `to`);
    None when any of it is not understood (the list then shows without it)."""
    if not figure or not first:
        return None
    try:
        period = Period.of(first, last or first, date.today())
        return ReportCut(Figure(figure), period.start, period.end, (value or None))
    except (ValueError, ParcoursError):
        return None


def _whole(value: str | None, default: int, low: int, high: int) -> int:
    try:
        return max(low, min(high, int(value or default)))
    except ValueError:
        return default


def _address(search: CaseSearch, page: int) -> str:
    """The address of another page of the same search."""
    params: dict[str, str | int] = {}
    if search.text:
        params["q"] = search.text
    if search.status != StatusFilter.OPEN:
        params["status"] = search.status.value
    if search.stage:
        params["stage"] = search.stage
    if search.min_level:
        params["level"] = search.min_level
    if search.overdue_only:
        params["overdue"] = "1"
    if search.officer:
        params["officer"] = search.officer
    if search.region:
        params["region"] = search.region
    if search.cut is not None:
        params["figure"] = search.cut.figure.value
        params["from"] = search.cut.start.strftime("%Y-%m")
        params["to"] = add_months(search.cut.end, -1).strftime("%Y-%m")
        if search.cut.value:
            params["value"] = search.cut.value
    if search.per_page != PER_PAGE:
        params["per"] = search.per_page
    if page > 1:
        params["page"] = page
    return "/cases" + ("?" + urlencode(params) if params else "")


@router.get("/cases")
async def caseload_page(
    request: Request,
    account: Annotated[Account, Depends(staff_account)],
    state: StateDep,
) -> Response:
    search = parse_search(request, account)
    assert account.officer is not None
    async with state.sessions() as session:
        found = await find_cases(session, actor_of(account.officer), search, state.clock())
        officers = (
            await officers_of(
                session, None if account.role == Role.DIRECTOR.value else account.region
            )
            if account.role != Role.OFFICER.value
            else []
        )
        away = await absences_today(session)
    # "All N matching" when the page shows what a batch's filter can say: open cases, no
    # text, no report figure's condition (a filter cannot say "greeted late"); else "all N"
    # would mean more cases than the page lists (attack review of issue 17).
    expressible = search.status == StatusFilter.OPEN and not search.text and search.cut is None
    bulk = await bulk_offer(
        state,
        account,
        filter_text(
            stage=search.stage,
            min_level=search.min_level,
            region=search.region,
            officer=search.officer,
            overdue=search.overdue_only,
        )
        if expressible
        else None,
        _address(search, found.page),
    )
    return render(
        request,
        "caseload.html",
        {
            "away": away,
            "bulk": bulk,
            "found": found,
            "rows": found.rows,
            "filters": search,
            "statuses": list(StatusFilter),
            "stages": STAGES,
            "officers": officers,
            "previous_page": _address(search, found.page - 1) if found.page > 1 else None,
            "next_page": _address(search, found.page + 1) if found.page < found.pages else None,
        },
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


async def _load_file(state: WebState, account: Account, dossier: str) -> CaseFile:
    """The case's view and state, if `account` may read it; else the one 404 of a missing
    case (a 403 would tell that the dossier exists)."""
    try:
        inputs.dossier(dossier)
    except ParcoursError:
        raise no_such_case() from None
    try:
        client = await state.client()
        found = await case_file(client, state.settings, await resolve_dossier(client, dossier))
    except CaseNotFound:
        raise no_such_case() from None
    except TemporalUnavailable as err:
        raise HTTPException(status_code=503, detail=str(err)) from None
    if not may_see_case(account, found.view.region, found.view.officer):
        raise no_such_case()
    return found


def _flash_for(request: Request, dossier: str) -> tuple[ActionError | None, str | None]:
    """The refused form or the action done that the last POST left for this case (once)."""
    flash = request.session.pop(FLASH, None)
    if not isinstance(flash, dict) or flash.get("dossier") != dossier:
        return None, None
    if "refused" in flash:
        form = flash.get("form")
        return (
            ActionError(
                str(flash["refused"]),
                str(flash.get("message", "")),
                form if isinstance(form, dict) else {},
            ),
            None,
        )
    return None, str(flash.get("done") or "")


def _offered(o: Offers, action: str) -> bool:
    """Is the form of `action` (a route's action name) on the page?"""
    return {
        "greeting": o.greet,
        "plan": o.plan,
        "progress": o.progress,
        "approve": o.approve is not None,
        "withdraw": o.withdraw,
        "reassign": bool(o.reassign_to),
        "waive": bool(o.waive),
        "pause": o.pause,
        "resume": o.resume,
        "transfer": bool(o.transfer_to),
    }.get(action, False)


def language_name(code: str, request: Request) -> str:
    """The newcomer's language, named in the page's language (Babel's CLDR names)."""
    page = getattr(request.state, "lang", "fr")
    names = Locale.parse(BABEL_LOCALES.get(page, "fr_CA")).languages
    return names.get(code, code)


async def _case_page(
    request: Request, state: WebState, account: Account, found: CaseFile
) -> Response:
    view, case_state = found.view, found.state
    assert account.officer is not None
    actor = actor_of(account.officer)
    oversees = account.role in (Role.SUPERVISOR.value, Role.DIRECTOR.value)
    async with state.sessions() as session:
        events = await audit_trail(session, view.dossier)
        officers = await officers_of(session, view.region) if oversees else []
        partners = await list_partners(session)  # the referral directory (routes_referrals)
        away = await absences_today(session)
    offered = offers(case_state, actor, [actor_of(o) for o in officers])
    error, done = _flash_for(request, view.dossier)
    # A form refused and no longer offered (the case was paused meanwhile, say): what was
    # typed in it is shown with the message, so that nothing is lost.
    kept = (
        [
            v
            for k, v in error.form.items()
            if (k in ("note", "reason") or k.startswith("plan_")) and str(v).strip()
        ]
        if error is not None and not _offered(offered, error.action)
        else []
    )
    plan_text = {s.value: "\n".join(i.text for i in view.plan if i.stage == s) for s in STAGES}
    return render(
        request,
        "case.html",
        {
            "case": view,
            "absence": away.get(view.officer) if view.officer else None,
            "newcomer": case_state.approval,
            "language_name": language_name(case_state.approval.language, request),
            "events": events,
            "officers": [o for o in officers if o.id in offered.reassign_to],
            "stages": STAGES,
            "plan_text": plan_text,
            "error": error,
            "kept": kept,
            "flash": done,
            "offers": offered,
            "regions": offered.transfer_to,
            "withdrawal_reasons": list(WithdrawalReason),
            "outcomes": list(GreetingOutcome),
            "partners": partners,
            "closing": closing_offers(case_state, actor),
        },
    )


@router.get("/cases/{dossier}")
async def case_page(
    request: Request,
    dossier: str,
    account: Annotated[Account, Depends(staff_account)],
    state: StateDep,
) -> Response:
    return await _case_page(request, state, account, await _load_file(state, account, dossier))


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
        # The form shows the stages from the current one on: the items of the stages behind
        # stay as filed, and a line that names an item on file keeps its id (and so its
        # status, partner and dates: v6 plan items).
        behind = STAGES[: STAGES.index(view.stage)] if view.stage else ()
        items: list[PlanItem] = [i for i in view.plan if i.stage in behind]
        on_file = {(i.stage, i.text): i.id for i in view.plan if i.stage not in behind}
        for stage in STAGES:
            for line in inputs.clean(str(form.get(f"plan_{stage.value}") or "")).splitlines():
                if line.strip():
                    text = line.strip()
                    items.append(
                        PlanItem(stage=stage, text=text, id=on_file.get((stage, text), ""))
                    )
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
        # The category says why; a note is optional but for "other" (the workflow checks).
        note = str(form.get("note") or "").strip()
        if note:
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

    async def send(form: FormData, view: CaseView) -> None:
        update, arg = await _update_input(action, form, account, state, view)
        await send_update(state, view, update, arg)

    return await act_on_case(request, state, account, dossier, action, send)


Send = Callable[[FormData, CaseView], Awaitable[None]]


async def act_on_case(
    request: Request,
    state: WebState,
    account: Account,
    dossier: str,
    action: str,
    send: Send,
    *,
    anchor: str = "",
) -> Response:
    """Every case form acts this way: CSRF, the case as this person may see it (a hidden one
    is the same 404 as a missing one), `send` (which raises a ParcoursError for what it cannot
    read or what is refused), then Post/Redirect/Get to the case page with the outcome, and
    the refused form's fields, in the server-side session."""
    form = await request.form()
    check_csrf(request, str(form.get("csrf") or ""))
    view = (await _load_file(state, account, dossier)).view
    typed = {k: v for k, v in form.items() if k != "csrf" and isinstance(v, str)}
    back = RedirectResponse(f"/cases/{view.dossier}{anchor}", status_code=303)
    try:
        await send(form, view)
    except ParcoursError as err:
        outcome = "rejected" if isinstance(err, UpdateRejected) else "invalid"
        state.metrics.actions.labels(action, outcome).inc()
        # The refusal in the page's language, without the "dossier X: " the CLI shows.
        message = refusals.render(err, _lang(request), prefix=f"dossier {view.dossier}: ")
        request.session[FLASH] = {
            "dossier": view.dossier,
            "refused": action,
            "message": message,
            "form": typed,
        }
        return back
    state.metrics.actions.labels(action, "done").inc()
    request.session[FLASH] = {"dossier": view.dossier, "done": action}
    return back


async def send_update(state: WebState, view: CaseView, update: str, arg: object) -> None:
    """The table first, for a refusal in the person's language (the workflow checks the same
    table again and decides), then the signed update."""
    refused = authz.early_refusal(update, arg, view.region, view.officer)
    if refused is not None:
        raise UpdateRejected(refusal=refused)
    await update_case(await state.client(), state.settings, view.dossier, update, arg)
