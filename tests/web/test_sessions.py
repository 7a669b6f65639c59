"""Server-side sessions: what ends them (logout, password change, deactivation, idle time,
absolute lifetime) and what the cookie holds. In process, with a clock the test moves."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import select

from parcours.infrastructure.store.models import Officer
from parcours.infrastructure.store.security import SecurityEvent, WebSession, session_digest
from parcours.interfaces.web.sessions import SESSION_COOKIE
from tests.web.console import PASSWORD, Console, form_token, running_console, sign_in

PARCOURS = str(Path(sys.executable).parent / "parcours")


async def signed_in(console: Console, login: str = "atremblay") -> tuple[httpx.AsyncClient, str]:
    """A signed-in client and its session cookie."""
    c = console.browser()
    r = await sign_in(c, login)
    assert r.status_code == 303, r.text[:300]
    cookie = c.cookies.get(SESSION_COOKIE)
    assert cookie
    assert (await c.get("/cases")).status_code == 200
    return c, cookie


async def replay(console: Console, cookie: str, path: str = "/cases") -> int:
    """The status a request with only this old cookie gets (a fresh client: an attacker
    who copied it)."""
    async with console.browser("198.51.100.7") as other:
        other.cookies.set(SESSION_COOKIE, cookie)
        r = await other.get(path)
        if r.status_code == 303:
            assert r.headers["location"].startswith("/login")
        return r.status_code


async def test_the_cookie_is_an_opaque_id_stored_as_a_hash(tmp_path: Path) -> None:
    async with running_console(tmp_path) as console:
        c, cookie = await signed_in(console)
        assert "atremblay" not in cookie and len(cookie) >= 40
        async with console.web.sessions() as session:
            rows = (await session.scalars(select(WebSession))).all()
        assert [r.id_sha256 for r in rows] == [session_digest(cookie)]
        assert all(cookie not in str(vars(r)) for r in rows)
        # A second sign-in in the same browser gets a new id: no session fixation.
        token = form_token((await c.get("/cases")).text)
        r = await c.post("/login", data={"login": "atremblay", "password": PASSWORD, "csrf": token})
        assert r.status_code == 303
        assert c.cookies.get(SESSION_COOKIE) != cookie
        assert await replay(console, cookie) == 303


async def test_logout_ends_the_session_at_once(tmp_path: Path) -> None:
    async with running_console(tmp_path) as console:
        c, cookie = await signed_in(console)
        assert await replay(console, cookie) == 200  # the copy works while signed in
        token = form_token((await c.get("/cases")).text)
        r = await c.post("/logout", data={"csrf": token})
        assert r.status_code == 303
        assert await replay(console, cookie) == 303
        assert (await c.get("/cases")).status_code == 303


def _cli(tmp_path: Path, *argv: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PARCOURS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'parcours.db'}",
        "PARCOURS_DATA_DIR": str(tmp_path),
    }
    return subprocess.run(
        [PARCOURS, *argv], input=stdin, env=env, capture_output=True, text=True, timeout=60
    )


async def test_a_password_change_ends_every_session_of_that_person(tmp_path: Path) -> None:
    async with running_console(tmp_path, logins=("atremblay", "crodriguez")) as console:
        _, first = await signed_in(console)
        _, second = await signed_in(console)
        _, colleague = await signed_in(console, "crodriguez")
        done = await asyncio.to_thread(
            _cli,
            tmp_path,
            "users",
            "set-password",
            "atremblay",
            "--password-stdin",
            stdin="a brand new password\n",
        )
        assert done.returncode == 0, done.stderr
        assert await replay(console, first) == 303
        assert await replay(console, second) == 303
        assert await replay(console, colleague) == 200  # only that person's
        c = console.browser()
        assert (await sign_in(c, "atremblay", "a brand new password")).status_code == 303


async def test_deactivation_ends_the_sessions(tmp_path: Path) -> None:
    async with running_console(tmp_path, logins=("atremblay", "crodriguez")) as console:
        _, cookie = await signed_in(console)
        done = await asyncio.to_thread(_cli, tmp_path, "users", "deactivate", "atremblay")
        assert done.returncode == 0, done.stderr
        assert await replay(console, cookie) == 303
        c = console.browser()
        r = await sign_in(c, "atremblay")
        assert r.status_code == 401  # and no new sign-in
        # Taken off the roster (an import marks the officer inactive): out on the next page.
        _, other = await signed_in(console, "crodriguez")
        async with console.web.sessions() as session, session.begin():
            officer = await session.get(Officer, "crodriguez")
            assert officer is not None
            officer.active = False
        assert await replay(console, other) == 303
        async with console.web.sessions() as session:
            assert not (await session.scalars(select(WebSession))).all()


async def test_idle_timeout(tmp_path: Path) -> None:
    async with running_console(tmp_path, session_idle_minutes=30) as console:
        c, cookie = await signed_in(console)
        console.advance(timedelta(minutes=29))
        assert (await c.get("/cases")).status_code == 200  # activity restarts the idle clock
        console.advance(timedelta(minutes=29))
        assert (await c.get("/cases")).status_code == 200
        console.advance(timedelta(minutes=31))
        assert await replay(console, cookie) == 303
        r = await c.get("/cases")
        assert r.status_code == 303
        # The browser is told to forget the dead cookie.
        assert SESSION_COOKIE in r.headers.get("set-cookie", "")


async def test_absolute_lifetime_even_when_active(tmp_path: Path) -> None:
    async with running_console(tmp_path, session_max_hours=12) as console:
        c, cookie = await signed_in(console)
        for _ in range(11 * 3):  # busy all day: a page every 20 minutes for 11 hours
            console.advance(timedelta(minutes=20))
            assert (await c.get("/cases")).status_code == 200
        console.advance(timedelta(minutes=61))  # 12 h 01 after sign-in
        assert (await c.get("/cases")).status_code == 303
        assert await replay(console, cookie) == 303


async def test_the_security_log_holds_no_password(tmp_path: Path) -> None:
    async with running_console(tmp_path) as console:
        c = console.browser()
        await sign_in(c, "atremblay", "wrong guess 1")
        await sign_in(c, "nobody-here", "wrong guess 2")
        await sign_in(c)
        token = form_token((await c.get("/cases")).text)
        await c.post("/logout", data={"csrf": token})
        async with console.web.sessions() as session:
            rows = (await session.scalars(select(SecurityEvent).order_by(SecurityEvent.id))).all()
        assert [(r.kind, r.login, r.client) for r in rows] == [
            ("signin_failed", "atremblay", "192.0.2.10"),
            ("signin_failed", "nobody-here", "192.0.2.10"),
            ("signin", "atremblay", "192.0.2.10"),
            ("logout", "atremblay", "192.0.2.10"),
        ]
        everything = " ".join(str(vars(r)) for r in rows)
        assert "guess" not in everything and "horse" not in everything
