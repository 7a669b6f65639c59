"""Referrals in the console (issue 16): moving a plan item from the case page, and the
partners directory page for directors.

Moving an item is one workflow update (`update_item`), offered per item only for the moves the
validators would accept (kernel/offers.py); like every case form it answers with a redirect to
the case page (Post/Redirect/Get) and a refusal travels in the server-side session. A referral
names a partner of the directory, whose entry the console hands to the workflow for the
newcomer's email (the workflow never reads the directory).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from parcours.application import refusals
from parcours.infrastructure.store.accounts import Account, AccountKind
from parcours.infrastructure.store.models import Partner
from parcours.infrastructure.store.officers import actor_of
from parcours.infrastructure.store.partners import (
    PARTNER_SERVICES,
    NewPartner,
    add_partner,
    list_partners,
    referral_partner,
    update_partner,
)
from parcours.interfaces.web.auth import Forbidden, check_csrf, current_account, staff_account
from parcours.interfaces.web.render import render
from parcours.interfaces.web.routes_cases import _lang, act_on_case, send_update
from parcours.interfaces.web.sessions import FLASH
from parcours.interfaces.web.state import StateDep
from parcours.kernel import inputs
from parcours.kernel.domain import REGIONS, CaseView, ItemStatus, ItemUpdate, Role
from parcours.kernel.errors import ParcoursError

router = APIRouter(include_in_schema=False)
UPDATE = "update_item"


async def director_account(account: Annotated[Account, Depends(current_account)]) -> Account:
    """The directory is the directors' (the issue's "a console page for directors")."""
    if account.kind != AccountKind.OFFICER or account.role != Role.DIRECTOR.value:
        raise Forbidden()
    return account


async def case_partners(state: StateDep) -> list[Partner]:
    """Every partner (names of past referrals); the forms offer the active ones."""
    async with state.sessions() as session:
        return await list_partners(session)


@router.post("/cases/{dossier}/items/{item_id}")
async def item_action(
    request: Request,
    dossier: str,
    item_id: str,
    account: Annotated[Account, Depends(staff_account)],
    state: StateDep,
) -> Response:
    assert account.officer is not None
    actor = actor_of(account.officer)

    async def send(form: FormData, view: CaseView) -> None:
        try:
            status = ItemStatus(str(form.get("status") or ""))
        except ValueError:
            raise inputs.invalid("unknown_item_status", "status") from None
        reason = inputs.clean(str(form.get("reason") or "")).strip()
        if reason:
            reason = inputs.text(reason, "reason")
        chosen = str(form.get("partner") or "").strip()
        partner = None
        # A partner matters to a referral (and may be named when work starts).
        if chosen and status in (ItemStatus.REFERRED, ItemStatus.IN_PROGRESS):
            async with state.sessions() as session:
                partner = await referral_partner(session, chosen)
        arg = ItemUpdate(
            actor=actor,
            item_id=item_id[:16],
            status=status,
            partner_id=partner.partner_id if partner else None,
            partner=partner,
            reason=reason,
        )
        await send_update(state, view, UPDATE, arg)

    return await act_on_case(request, state, account, dossier, "item", send, anchor="#items")


# --------------------------------------------------------------------------------------------
# The directory (directors)
# --------------------------------------------------------------------------------------------

PAGE = "/partners"


@router.get(PAGE)
async def partners_page(
    request: Request,
    account: Annotated[Account, Depends(director_account)],
    state: StateDep,
) -> Response:
    async with state.sessions() as session:
        partners = await list_partners(session)
    flash = request.session.pop(FLASH, None)
    said = flash if isinstance(flash, dict) and flash.get("page") == PAGE else {}
    return render(
        request,
        "partners.html",
        {
            "partners": partners,
            "regions": REGIONS,
            "services": PARTNER_SERVICES,
            "refused": said.get("refused"),
            "done": said.get("done"),
            "typed": said.get("form") or {},
        },
    )


def _said(request: Request, **what: object) -> Response:
    request.session[FLASH] = {"page": PAGE, **what}
    return RedirectResponse(PAGE, status_code=303)


@router.post(PAGE)
async def add_partner_action(
    request: Request,
    account: Annotated[Account, Depends(director_account)],
    state: StateDep,
) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf") or ""))
    typed = {k: v for k, v in form.items() if k != "csrf" and isinstance(v, str)}
    new = NewPartner(
        id=str(form.get("id") or ""),
        name=str(form.get("name") or ""),
        region=str(form.get("region") or ""),
        services=",".join(str(s) for s in form.getlist("services")),
        email=str(form.get("email") or ""),
        phone=str(form.get("phone") or ""),
        url=str(form.get("url") or ""),
    )
    try:
        async with state.sessions() as session, session.begin():
            await add_partner(session, new)
    except ParcoursError as err:
        return _said(request, refused=refusals.render(err, _lang(request)), form=typed)
    return _said(request, done="added")


@router.post(PAGE + "/{partner_id}/active")
async def partner_active_action(
    request: Request,
    partner_id: str,
    account: Annotated[Account, Depends(director_account)],
    state: StateDep,
) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf") or ""))
    try:
        async with state.sessions() as session, session.begin():
            await update_partner(session, partner_id, active=form.get("active") == "1")
    except ParcoursError as err:
        return _said(request, refused=refusals.render(err, _lang(request)))
    return _said(request, done="changed")
