"""Sign-in, sign-out, the home redirect and the operators' page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import RedirectResponse, Response

from parcours.domain import Role
from parcours.store.accounts import Account, AccountKind, authenticate, list_tokens
from parcours.web.auth import (
    check_csrf,
    current_account,
    login_redirect,
    operator_account,
    optional_account,
    sign_in,
)
from parcours.web.render import render
from parcours.web.state import StateDep

router = APIRouter()


def home_of(account: Account) -> str:
    if account.kind == AccountKind.OPERATOR:
        return "/intake"
    if account.role in (Role.SUPERVISOR.value, Role.DIRECTOR.value):
        return "/supervision/stuck"
    return "/cases"


def _safe_next(value: str | None) -> str | None:
    if value and value.startswith("/") and not value.startswith("//"):
        return value
    return None


@router.get("/", include_in_schema=False)
async def home(account: Annotated[Account, Depends(current_account)]) -> Response:
    return RedirectResponse(home_of(account), status_code=303)


@router.get("/login", include_in_schema=False)
async def login_page(
    request: Request,
    account: Annotated[Account | None, Depends(optional_account)],
    next: str | None = None,
) -> Response:
    if account is not None:
        return RedirectResponse(_safe_next(next) or home_of(account), status_code=303)
    return render(request, "login.html", {"next": _safe_next(next) or "", "login": ""})


@router.post("/login", include_in_schema=False)
async def login_submit(
    request: Request,
    state: StateDep,
    login: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    async with state.sessions() as session:
        account = await authenticate(session, login, password)
    if account is None:
        # The same answer for an unknown login and a wrong password.
        return render(
            request,
            "login.html",
            {"error": True, "next": _safe_next(next) or "", "login": login},
            status_code=401,
        )
    sign_in(request, account)
    return RedirectResponse(_safe_next(next) or home_of(account), status_code=303)


@router.post("/logout", include_in_schema=False)
async def logout(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf)
    request.session.clear()
    return RedirectResponse(login_redirect("/"), status_code=303)


@router.get("/intake", include_in_schema=False)
async def intake_page(
    request: Request,
    account: Annotated[Account, Depends(operator_account)],
    state: StateDep,
) -> Response:
    async with state.sessions() as session:
        tokens = await list_tokens(session)
    return render(request, "intake.html", {"tokens": tokens})
