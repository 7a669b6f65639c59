"""The roster in the console (issue 17): every officer with their open caseload and leave,
and the forms that change the roster.

Who may do what is the programme's table (kernel/authz.py `decide_programme`): a director
edits, deactivates and puts on leave anyone (`roster`); a region's supervisor puts their
region's officers on leave or calls a leave off (`leave`), and sees the page filtered to their
region with the leave form only. The store functions (infrastructure/store/officers.py) check
the fields and audit every change; each form is one transaction, so a refused form writes
nothing. A refused form answers 4xx with the page again, the message in the reader's
language beside the field it is about and what was typed kept; a form done answers with a
redirect (Post/Redirect/Get).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from parcours.application import refusals
from parcours.application.batches import departure, start_batch
from parcours.application.roster import roster_change_refused
from parcours.infrastructure.store.absences import absences_today
from parcours.infrastructure.store.accounts import Account
from parcours.infrastructure.store.caseload import caseload
from parcours.infrastructure.store.models import Officer
from parcours.infrastructure.store.officers import (
    actor_of,
    cancel_leave,
    get_officer,
    list_officers,
    open_cases_of,
    roster_changes,
    set_leave,
    update_officer,
)
from parcours.interfaces.web.auth import Forbidden, check_csrf, staff_account
from parcours.interfaces.web.render import render
from parcours.interfaces.web.sessions import FLASH
from parcours.interfaces.web.state import StateDep, WebState
from parcours.kernel import inputs
from parcours.kernel.authz import ProgrammeAction, decide_programme
from parcours.kernel.domain import OFFICER_ID_RE, REGIONS, Actor, Role
from parcours.kernel.errors import ParcoursError, TemporalUnavailable, UpdateRejected

logger = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
PAGE = "/roster"
NO_SUCH_OFFICER = "roster.no_such_officer"


@dataclass(frozen=True)
class RosterScope:
    """What the signed-in person may do on the roster: `region` None is every region."""

    actor: Actor
    region: str | None
    edit: bool  # the director's forms (edit, deactivate), besides the leave


def roster_scope(account: Account) -> RosterScope:
    """A director the whole roster; a supervisor their region's leaves; anyone else nothing."""
    assert account.officer is not None
    actor = actor_of(account.officer)
    if decide_programme(ProgrammeAction.ROSTER, actor, None) is None:
        return RosterScope(actor, None, edit=True)
    if decide_programme(ProgrammeAction.LEAVE, actor, actor.region) is None:
        return RosterScope(actor, actor.region, edit=False)
    raise Forbidden()


async def roster_account(account: Annotated[Account, Depends(staff_account)]) -> Account:
    roster_scope(account)
    return account


RosterAccount = Annotated[Account, Depends(roster_account)]


def _lang(request: Request) -> str:
    return str(getattr(request.state, "lang", "fr"))


@dataclass
class FormError:
    """A refused form: which one, the field it is about (None: the whole form), the message
    in the reader's language, and what was typed."""

    form: str
    field: str | None
    message: str
    typed: dict[str, Any] = dataclass_field(default_factory=dict)


@router.get(PAGE)
async def roster_page(request: Request, account: RosterAccount, state: StateDep) -> Response:
    scope = roster_scope(account)
    asked = request.query_params.get("region") or None
    region = scope.region
    if scope.region is None and asked:
        try:
            region = inputs.region(asked)
        except ParcoursError:
            region = None
    async with state.sessions() as session:
        officers = await list_officers(session, region=region)
        held = {e.officer_id: e for e in await caseload(session, region=region)}
        away = await absences_today(session)
    return render(
        request,
        "roster.html",
        {
            "officers": officers,
            "held": held,
            "away": away,
            "scope": scope,
            "region": region,
            "regions": REGIONS if scope.region is None else [scope.region],
        },
    )


def no_such_officer() -> HTTPException:
    return HTTPException(status_code=404, detail=NO_SUCH_OFFICER)


async def _officer_in_scope(state: WebState, scope: RosterScope, officer_id: str) -> Officer:
    """The officer, if the person's roster shows them; else the one 404 (a supervisor's
    roster is their region's)."""
    wanted = officer_id.strip().lower()
    if not OFFICER_ID_RE.match(wanted):
        raise no_such_officer()
    async with state.sessions() as session:
        officer = await get_officer(session, wanted)
    if officer is None or (scope.region is not None and officer.region != scope.region):
        raise no_such_officer()
    return officer


async def _officer_page(
    request: Request,
    state: WebState,
    account: Account,
    officer_id: str,
    *,
    error: FormError | None = None,
    status_code: int = 200,
) -> Response:
    scope = roster_scope(account)
    officer = await _officer_in_scope(state, scope, officer_id)
    async with state.sessions() as session:
        held = await open_cases_of(session, officer.id)
        changes = await roster_changes(session, officer.id)
        colleagues = [
            o
            for o in await list_officers(session, region=officer.region, active_only=True)
            if o.id != officer.id and o.role != Role.DIRECTOR.value
        ]
        away = await absences_today(session)
    done = None
    if error is None:
        flash = request.session.pop(FLASH, None)
        if isinstance(flash, dict) and flash.get("officer") == officer.id:
            done = flash.get("done")
    may_leave = decide_programme(ProgrammeAction.LEAVE, scope.actor, officer.region) is None
    # The forms this person is offered on this record (a refusal of another shows on top).
    forms = {
        "edit": scope.edit,
        "leave": may_leave and officer.active,
        "deactivate": scope.edit and officer.active and officer.id != scope.actor.officer_id,
    }
    return render(
        request,
        "roster_officer.html",
        {
            "officer": officer,
            "held": held,
            "changes": list(reversed(changes)),
            "backups": colleagues,
            # Cases go only to an officer (role) serving the region.
            "takers": [o for o in colleagues if o.role == Role.OFFICER.value],
            "absence": away.get(officer.id),
            "scope": scope,
            "forms": {name for name, offered in forms.items() if offered},
            "regions": REGIONS,
            "roles": list(Role),
            "error": error,
            "done": done,
        },
        status_code=status_code,
    )


@router.get(PAGE + "/{officer_id}")
async def officer_page(
    request: Request, officer_id: str, account: RosterAccount, state: StateDep
) -> Response:
    return await _officer_page(request, state, account, officer_id)


def _typed(form: FormData) -> dict[str, Any]:
    return {k: v for k, v in form.items() if k != "csrf" and isinstance(v, str)}


async def _refused(
    request: Request,
    state: WebState,
    account: Account,
    officer_id: str,
    form_name: str,
    err: ParcoursError,
    typed: dict[str, Any],
) -> Response:
    """The officer's page again, the refusal beside its field: 403 when the programme's table
    refuses the person, 422 for what was typed."""
    status = 403 if isinstance(err, UpdateRejected) else 422
    where = getattr(err, "field", None)
    message = refusals.render(err, _lang(request))
    return await _officer_page(
        request,
        state,
        account,
        officer_id,
        error=FormError(form_name, where, message, typed),
        status_code=status,
    )


def _check(action: ProgrammeAction, scope: RosterScope, officer: Officer) -> None:
    refused = roster_change_refused(action, scope.actor, officer.region, officer.role)
    if refused is not None:
        raise UpdateRejected(refusal=refused)


def _done(request: Request, officer_id: str, what: str) -> Response:
    request.session[FLASH] = {"officer": officer_id, "done": what}
    return RedirectResponse(f"{PAGE}/{officer_id}", status_code=303)


# What a form changes, inside its one transaction: (session, officer, who acts, the form).
Change = Callable[[AsyncSession, Officer, str, FormData], Awaitable[object]]


async def _change(
    request: Request,
    state: WebState,
    account: Account,
    officer_id: str,
    form_name: str,
    action: ProgrammeAction,
    done: str,
    change: Change,
) -> Response:
    """Every roster form acts this way: CSRF, the officer as this person's roster shows them
    (else 404), the programme's table, then `change` in one transaction (a refusal rolls it
    back whole) and Post/Redirect/Get; or the page again with the refusal."""
    form = await request.form()
    check_csrf(request, str(form.get("csrf") or ""))
    scope = roster_scope(account)
    officer = await _officer_in_scope(state, scope, officer_id)
    try:
        _check(action, scope, officer)
        async with state.sessions() as session, session.begin():
            await change(session, officer, scope.actor.officer_id, form)
    except ParcoursError as err:
        return await _refused(request, state, account, officer.id, form_name, err, _typed(form))
    await _wake_unassigned(state, officer.id)
    return _done(request, officer.id, done)


async def _wake_unassigned(state: WebState, officer_id: str) -> None:
    """As the CLI does after a roster change: the cases of the officer's region (the new one,
    if they moved) that wait for an officer ask again (a leave cancelled, an officer back or
    moved in). Only a nudge: the change is saved whether or not Temporal answers, and each
    case also asks again on its own day. Nothing to tell when the officer takes no cases."""
    from parcours.application.roster import region_to_wake, wake_unassigned

    found = await region_to_wake(state.sessions, officer_id)
    if found is None:
        return
    try:
        told = await wake_unassigned(await state.client(), state.sessions, found[0])
    except Exception as err:  # noqa: BLE001 - the roster change stands; the cases retry later
        logger.warning("roster change: unassigned cases not told (%s)", type(err).__name__)
        return
    if told:
        logger.info("roster change: %d unassigned case(s) asked for an officer again", told)


@router.post(PAGE + "/{officer_id}")
async def update_action(
    request: Request, officer_id: str, account: RosterAccount, state: StateDep
) -> Response:
    async def change(session: AsyncSession, officer: Officer, by: str, form: FormData) -> None:
        await update_officer(
            session,
            officer.id,
            name=inputs.clean(str(form.get("name") or "")),
            email=str(form.get("email") or ""),
            languages=str(form.get("languages") or ""),
            region=str(form.get("region") or ""),
            role=str(form.get("role") or ""),
            actor=by,
        )

    return await _change(
        request, state, account, officer_id, "edit", ProgrammeAction.ROSTER, "updated", change
    )


def _day(form: FormData, name: str) -> date:
    value = str(form.get(name) or "").strip()
    if not value:
        raise inputs.invalid("field_empty", name, field=inputs.field_key(name))
    return date.fromisoformat(inputs.iso_date(value, name))


@router.post(PAGE + "/{officer_id}/leave")
async def leave_action(
    request: Request, officer_id: str, account: RosterAccount, state: StateDep
) -> Response:
    async def change(session: AsyncSession, officer: Officer, by: str, form: FormData) -> None:
        leave_from, leave_to = _day(form, "leave_from"), _day(form, "leave_to")
        backup = str(form.get("backup") or "").strip() or None
        await set_leave(session, officer.id, leave_from, leave_to, backup, actor=by)

    return await _change(
        request, state, account, officer_id, "leave", ProgrammeAction.LEAVE, "leave", change
    )


@router.post(PAGE + "/{officer_id}/leave/cancel")
async def cancel_leave_action(
    request: Request, officer_id: str, account: RosterAccount, state: StateDep
) -> Response:
    async def change(session: AsyncSession, officer: Officer, by: str, form: FormData) -> None:
        await cancel_leave(session, officer.id, actor=by)

    return await _change(
        request,
        state,
        account,
        officer_id,
        "leave",
        ProgrammeAction.LEAVE,
        "leave_cancelled",
        change,
    )


@router.post(PAGE + "/{officer_id}/deactivate")
async def deactivate_action(
    request: Request, officer_id: str, account: RosterAccount, state: StateDep
) -> Response:
    """A departure: an officer without open cases is deactivated at once; else a batch moves
    their cases (spread over the region's officers by the intake rule, or all to one officer)
    and deactivates them once none is left, and the page that answers is its progress."""
    form = await request.form()
    check_csrf(request, str(form.get("csrf") or ""))
    scope = roster_scope(account)
    officer = await _officer_in_scope(state, scope, officer_id)
    choice = str(form.get("choice") or "")
    to = str(form.get("to") or "").strip() or None
    try:
        _check(ProgrammeAction.ROSTER, scope, officer)
        if choice == "to" and to is None:
            raise inputs.invalid("bulk_to_missing", "to")
        async with state.sessions() as session, session.begin():
            batch = await departure(
                session,
                scope.actor,
                officer.id,
                redistribute=choice == "redistribute",
                to=to if choice == "to" else None,
            )
        if batch is None:
            return _done(request, officer.id, "deactivated")
        progress = await start_batch(
            await state.client(), batch, task_queue=state.settings.task_queue
        )
    except TemporalUnavailable as err:
        raise HTTPException(status_code=503, detail=str(err)) from None
    except ParcoursError as err:
        return await _refused(request, state, account, officer.id, "deactivate", err, _typed(form))
    return RedirectResponse(f"/bulk/{progress.batch_id}", status_code=303)
