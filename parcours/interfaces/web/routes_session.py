"""Sign-in, sign-out, the home redirect and the operators' page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from starlette.responses import RedirectResponse, Response

from parcours.infrastructure.store.accounts import Account, AccountKind, authenticate, list_tokens
from parcours.infrastructure.store.security import SecurityKind, purge_expired, record, strike
from parcours.interfaces.web import throttle
from parcours.interfaces.web.auth import (
    check_csrf,
    client_address,
    current_account,
    login_redirect,
    operator_account,
    optional_account,
    sign_in,
)
from parcours.interfaces.web.render import render
from parcours.interfaces.web.sessions import LOGIN
from parcours.interfaces.web.state import StateDep
from parcours.kernel.domain import Role

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
    csrf: Annotated[str, Form()] = "",
) -> Response:
    try:
        check_csrf(request, csrf)
    except HTTPException:
        # A sign-in page left open past its token's life: a fresh form, in the person's words.
        return render(
            request,
            "login.html",
            {"expired": True, "next": _safe_next(next) or "", "login": login},
            status_code=400,
        )
    who = login.strip()[:64]
    client = client_address(request)
    limits = throttle.Limits.of(state.settings)
    now = state.clock()
    async with state.sessions() as session, session.begin():
        wait = await throttle.locked_for(session, limits, who, client, now)
        if not wait:
            attempt = await throttle.count_attempt(session, who, client, now)
    if wait:
        minutes = max(1, -(-wait // 60))
        return render(
            request,
            "login.html",
            {"locked_minutes": minutes, "next": _safe_next(next) or "", "login": login},
            status_code=429,
            headers={"Retry-After": str(wait)},
        )
    async with state.sessions() as session:
        account = await authenticate(session, login, password)
    async with state.sessions() as session, session.begin():
        if account is None:
            await throttle.after_failure(session, limits, who, client, now)
        else:
            await strike(session, attempt)
            await record(session, SecurityKind.SIGNIN, now, login=account.login, client=client)
            await purge_expired(session, now, state.session_limits)
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
async def logout(request: Request, state: StateDep, csrf: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf)
    login = request.session.get(LOGIN)
    if isinstance(login, str):
        async with state.sessions() as session, session.begin():
            await record(
                session,
                SecurityKind.LOGOUT,
                state.clock(),
                login=login,
                client=client_address(request),
            )
    request.session.clear()  # the middleware deletes the session's row
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
