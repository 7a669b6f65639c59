"""Server-side sessions: the cookie carries an opaque id, the read model carries the rest.

The middleware gives every page request `request.session`, a plain dict (Starlette's
interface, so `auth.py` and the routes are unchanged by where it lives):

- signed in: `login`, `csrf` and maybe `flash`, loaded from the `web_sessions` row whose hash
  matches the cookie, if it has not passed its idle timeout or absolute lifetime. The flash is
  any JSON value: what the next page shows once (an action done, or a refused form with its
  message and the text typed, which is personal data and so never goes into a cookie);
- not signed in: only `csrf`, kept in a cookie of its own (a double-submit token), so the
  sign-in form is protected without writing a row for every anonymous visitor. That cookie
  is signed with the web secret and expires: a token cannot be made up, nor kept for days.

After the route has run, the dict is written back: a new `login` (with `ROTATE`) opens a new
session with a new id, an emptied dict ends the session, a changed flash or CSRF token is
saved. The API, probes and static files carry no session at all.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from itsdangerous import BadSignature, TimestampSigner
from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from parcours.infrastructure.store.security import end_session, find_session, open_session

if TYPE_CHECKING:
    from parcours.interfaces.web.state import WebState

SESSION_COOKIE = "parcours_session"
SIGNIN_CSRF_COOKIE = "parcours_signin_csrf"
LOGIN = "login"
CSRF = "csrf"
FLASH = "flash"
# Set by `auth.sign_in`: the next write opens a fresh session (never reuse an id across a
# sign-in: no session fixation).
ROTATE = "_rotate"

SIGNIN_CSRF_MAX_AGE = 2 * 3600
_SESSIONLESS_PREFIXES = ("/api/", "/static/")
_SESSIONLESS_PATHS = ("/healthz", "/metrics", "/openapi.json", "/docs", "/redoc")


def _load_flash(stored: str) -> Any:
    """A flash as the route left it (JSON); a row written before flashes were JSON holds a
    bare action name."""
    try:
        return json.loads(stored)
    except ValueError:
        return stored


def has_session(path: str) -> bool:
    return not (path.startswith(_SESSIONLESS_PREFIXES) or path in _SESSIONLESS_PATHS)


class ServerSessionMiddleware:
    def __init__(self, app: ASGIApp, secret: str) -> None:
        self.app = app
        self.signer = TimestampSigner(secret, salt="parcours-signin-csrf")

    def _signin_csrf(self, cookie: str | None) -> str | None:
        if not cookie:
            return None
        try:
            return self.signer.unsign(cookie, max_age=SIGNIN_CSRF_MAX_AGE).decode()
        except (BadSignature, UnicodeDecodeError):
            return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not has_session(scope["path"]):
            await self.app(scope, receive, send)
            return
        web: WebState = scope["app"].state.web
        cookies = HTTPConnection(scope).cookies
        session_id = cookies.get(SESSION_COOKIE)
        had_signin_cookie = SIGNIN_CSRF_COOKIE in cookies
        signin_csrf = self._signin_csrf(cookies.get(SIGNIN_CSRF_COOKIE))
        data: dict[str, Any] = {}
        if session_id:
            async with web.sessions() as db, db.begin():
                row = await find_session(db, session_id, web.clock(), web.session_limits)
                if row is not None:
                    data = {LOGIN: row.login, CSRF: row.csrf}
                    if row.flash:
                        data[FLASH] = _load_flash(row.flash)
        if not data and signin_csrf:
            data = {CSRF: signin_csrf}
        before = dict(data)
        scope["session"] = data
        signed_in = LOGIN in before

        async def send_with_session(message: Message) -> None:
            if message["type"] == "http.response.start":
                cookie = Response()
                if session_id and not signed_in:
                    cookie.delete_cookie(SESSION_COOKIE)  # ended or expired: forget it
                await self._save(web, cookie, session_id if signed_in else None, before, data)
                if LOGIN not in data and data.get(CSRF) and data[CSRF] != signin_csrf:
                    cookie.set_cookie(
                        SIGNIN_CSRF_COOKIE,
                        self.signer.sign(data[CSRF]).decode(),
                        httponly=True,
                        samesite="lax",
                        secure=web.settings.secure_cookies,
                    )
                elif LOGIN in data and had_signin_cookie:
                    cookie.delete_cookie(SIGNIN_CSRF_COOKIE)
                headers = MutableHeaders(scope=message)
                for name, value in cookie.raw_headers:
                    if name == b"set-cookie":
                        headers.append("set-cookie", value.decode("latin-1"))
            await send(message)

        await self.app(scope, receive, send_with_session)

    async def _save(
        self,
        web: WebState,
        cookie: Response,
        session_id: str | None,
        before: dict[str, Any],
        data: dict[str, Any],
    ) -> None:
        rotate = bool(data.pop(ROTATE, False))
        if (data == before and not rotate) or (session_id is None and LOGIN not in data):
            return  # nothing changed, or an anonymous visitor (whose token is a cookie)
        async with web.sessions() as db, db.begin():
            if session_id is not None and (rotate or data.get(LOGIN) != before.get(LOGIN)):
                await end_session(db, session_id)
                if LOGIN not in data:
                    cookie.delete_cookie(SESSION_COOKIE)
                session_id = None
            if LOGIN not in data:
                return
            if session_id is None:
                new_id = await open_session(db, data[LOGIN], data[CSRF], web.clock())
                cookie.set_cookie(
                    SESSION_COOKIE,
                    new_id,
                    max_age=int(web.session_limits.lifetime.total_seconds()),
                    httponly=True,
                    samesite="lax",
                    secure=web.settings.secure_cookies,
                )
                session_id = new_id
            row = await find_session(db, session_id, web.clock(), web.session_limits)
            if row is not None:
                row.csrf = data[CSRF]
                flash = data.get(FLASH)
                row.flash = None if flash is None else json.dumps(flash, ensure_ascii=False)
