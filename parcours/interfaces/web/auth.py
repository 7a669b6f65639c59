"""Who is asking, and may they: sessions, CSRF, roles, API token scopes.

The session lives in the read model (`sessions.py`); the cookie holds only its opaque id. The
account is re-read from the database on every request, so a deactivated person is out at
once. What a person may see follows the workflow's own rule: an officer their own cases, a
supervisor the cases of their region, a director all of them. The workflow checks the same
claims again when an action arrives, so the web cannot widen them. A case someone may not see
answers exactly as a missing one (`no_such_case`): a 403 would confirm that the dossier exists.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from parcours.infrastructure.store.accounts import (
    Account,
    AccountKind,
    ApiToken,
    load_account,
    token_owner,
)
from parcours.infrastructure.store.caseload import count_unassigned
from parcours.infrastructure.store.officers import actor_of
from parcours.infrastructure.store.security import SecurityKind, record
from parcours.interfaces.web.sessions import CSRF as SESSION_CSRF
from parcours.interfaces.web.sessions import LOGIN as SESSION_LOGIN
from parcours.interfaces.web.sessions import ROTATE
from parcours.interfaces.web.state import StateDep
from parcours.kernel import authz
from parcours.kernel.domain import Role

# Catalogue keys (interfaces/web/i18n.py): the console words them in the page's language, the
# API in English (app.py).
NO_SUCH_CASE = "error.no_such_case"


def no_such_case() -> HTTPException:
    """The one answer for a missing case and for a case the caller may not see."""
    return HTTPException(status_code=404, detail=NO_SUCH_CASE)


def client_address(request: Request) -> str:
    # Behind a reverse proxy, uvicorn puts the forwarded address here (--forwarded-allow-ips).
    return request.client.host if request.client else "unknown"


class SignInRequired(Exception):
    """Raised by page dependencies; the app answers with a redirect to the sign-in page."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


class Forbidden(Exception):
    """A signed-in person asked for something outside their responsibility: 403 page."""


async def optional_account(request: Request, state: StateDep) -> Account | None:
    login = request.session.get(SESSION_LOGIN)
    if not isinstance(login, str):
        return None
    async with state.sessions() as session:
        account = await load_account(session, login)
        if account is not None:
            request.state.unassigned_count = await unassigned_in_scope(session, account)
    if account is None:
        request.session.clear()
    request.state.account = account
    return account


async def unassigned_in_scope(session: AsyncSession, account: Account) -> int | None:
    """Open cases waiting for an officer that the reader oversees (issue 17), for the
    console's header: a supervisor's region, every region for a director; None for others
    (an officer, an operator: nothing they could do about it)."""
    if account.officer is None or not account.officer.active:
        return None
    if account.role == Role.DIRECTOR.value:
        return await count_unassigned(session, None)
    if account.role == Role.SUPERVISOR.value:
        return await count_unassigned(session, account.region)
    return None


async def current_account(
    request: Request, account: Annotated[Account | None, Depends(optional_account)]
) -> Account:
    if account is None:
        raise SignInRequired(request.url.path)
    return account


async def staff_account(account: Annotated[Account, Depends(current_account)]) -> Account:
    """Officers, supervisors, directors: the case pages."""
    if account.kind != AccountKind.OFFICER:
        raise Forbidden()
    return account


async def supervisor_account(account: Annotated[Account, Depends(current_account)]) -> Account:
    if account.role not in (Role.SUPERVISOR.value, Role.DIRECTOR.value):
        raise Forbidden()
    return account


async def operator_account(account: Annotated[Account, Depends(current_account)]) -> Account:
    if account.kind != AccountKind.OPERATOR and account.role != Role.DIRECTOR.value:
        raise Forbidden()
    return account


def may_see_case(account: Account, region: str, officer_id: str | None) -> bool:
    """The table's "read the case" row (parcours/kernel/authz.py), as the workflow's actions."""
    if account.officer is None:
        return False
    return authz.may_read(actor_of(account.officer), region, officer_id)


def sign_in(request: Request, account: Account) -> None:
    # A fresh session (and CSRF token) at sign-in: no session fixation.
    request.session.clear()
    request.session[SESSION_LOGIN] = account.login
    request.session[SESSION_CSRF] = secrets.token_urlsafe(24)
    request.session[ROTATE] = True


def csrf_token(request: Request) -> str:
    token = request.session.get(SESSION_CSRF)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(24)
        request.session[SESSION_CSRF] = token
    return token


def check_csrf(request: Request, submitted: str | None) -> None:
    expected = request.session.get(SESSION_CSRF)
    if not isinstance(expected, str) or not submitted:
        raise HTTPException(status_code=400, detail="error.form_token_missing")
    if not hmac.compare_digest(expected, submitted):
        raise HTTPException(status_code=400, detail="error.form_token_stale")


def login_redirect(next_path: str) -> str:
    # Only local paths: never an open redirect.
    safe = next_path if next_path.startswith("/") and not next_path.startswith("//") else "/"
    return f"/login?next={quote(safe)}"


_bearer = HTTPBearer(auto_error=False, description="An operators' API token")


def api_token(scope: str) -> Any:
    """A dependency: the calling system's token if it holds `scope`; 401 without a valid
    token, 403 with a valid one of another scope. Each use goes to the security log."""

    async def check(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
        state: StateDep,
    ) -> ApiToken:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise HTTPException(
                status_code=401,
                detail="missing bearer token",
                headers={"WWW-Authenticate": "Bearer"},
            )
        async with state.sessions() as session, session.begin():
            token = await token_owner(session, credentials.credentials)
            if token is not None:
                allowed = token.scope == scope
                await record(
                    session,
                    SecurityKind.TOKEN_USED if allowed else SecurityKind.TOKEN_REFUSED,
                    state.clock(),
                    client=client_address(request),
                    token=token.name,
                )
        if token is None:
            raise HTTPException(
                status_code=401,
                detail="invalid or revoked token",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        if not allowed:
            raise HTTPException(
                status_code=403,
                detail=f"this token's scope is {token.scope}; this call needs {scope}",
                headers={"WWW-Authenticate": f'Bearer error="insufficient_scope" scope="{scope}"'},
            )
        return token

    return check
