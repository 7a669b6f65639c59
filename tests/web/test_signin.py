"""Sign-in: its CSRF token, the throttle per login and per address, the lockout in the
security log, and the same argon2 work whether or not the login exists."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from parcours.infrastructure.store import accounts
from parcours.infrastructure.store.security import SecurityEvent
from parcours.interfaces.web.sessions import SESSION_COOKIE, SIGNIN_CSRF_COOKIE
from tests.web.console import PASSWORD, Console, form_token, running_console, sign_in
from tests.web.test_sessions import _cli


async def kinds(console: Console) -> list[tuple[str, str | None, str | None]]:
    async with console.web.sessions() as session:
        rows = (await session.scalars(select(SecurityEvent).order_by(SecurityEvent.id))).all()
    return [(r.kind, r.login, r.client) for r in rows]


async def test_sign_in_needs_the_forms_token(tmp_path: Path) -> None:
    async with running_console(tmp_path) as console:
        c = console.browser()
        good = {"login": "atremblay", "password": PASSWORD}
        # No token at all (a cross-site form posting the attacker's own credentials).
        r = await c.post("/login", data=good)
        assert r.status_code == 400 and 'id="login-expired"' in r.text
        assert SESSION_COOKIE not in c.cookies
        # A token from another browser does not match this browser's cookie.
        other = console.browser("192.0.2.99")
        foreign = form_token((await other.get("/login")).text)
        c.cookies.clear()
        await c.get("/login")
        r = await c.post("/login", data={**good, "csrf": foreign})
        assert r.status_code == 400 and SESSION_COOKIE not in c.cookies
        # A cookie that was not signed by us is ignored.
        c.cookies.clear()
        c.cookies.set(SIGNIN_CSRF_COOKIE, "made-up")
        r = await c.post("/login", data={**good, "csrf": "made-up"})
        assert r.status_code == 400
        # The form as served works, and nothing above counted as a failed password.
        assert (await sign_in(c)).status_code == 303
        assert await kinds(console) == [("signin", "atremblay", "192.0.2.10")]


async def test_a_login_is_locked_after_five_failures(tmp_path: Path) -> None:
    async with running_console(tmp_path, signin_max_failures=5) as console:
        c = console.browser()
        for i in range(5):
            r = await sign_in(c, "atremblay", f"guess {i}")
            assert r.status_code == 401
            console.advance(timedelta(seconds=10))
        # Locked: even the right password is refused, with when to come back.
        r = await sign_in(c)
        assert r.status_code == 429
        retry = int(r.headers["retry-after"])
        assert 15 * 60 - 60 <= retry <= 15 * 60  # the first failure leaves the window then
        assert 'id="login-locked"' in r.text and "Réessayez dans 15 min" in r.text
        assert SESSION_COOKIE not in c.cookies
        # From another address too: the login itself is locked.
        assert (await sign_in(console.browser("203.0.113.5"))).status_code == 429
        log = await kinds(console)
        assert log.count(("signin_failed", "atremblay", "192.0.2.10")) == 5
        assert log.count(("lockout", "atremblay", "192.0.2.10")) == 1
        # Once the window has passed, the right password works again.
        console.advance(timedelta(seconds=retry))
        assert (await sign_in(c)).status_code == 303


async def test_staff_unlock_a_locked_login_and_the_log_says_so(tmp_path: Path) -> None:
    async with running_console(tmp_path, signin_max_failures=3) as console:
        c = console.browser()
        for i in range(3):
            assert (await sign_in(c, "atremblay", f"guess {i}")).status_code == 401
        assert (await sign_in(c)).status_code == 429
        # A colleague is locked out too: unlocking one login leaves the other locked.
        for i in range(3):
            await sign_in(console.browser("198.51.100.7"), "crodriguez", f"guess {i}")
        done = await asyncio.to_thread(_cli, tmp_path, "users", "unlock", "atremblay")
        assert done.returncode == 0, done.stderr
        assert "atremblay débloqué" in done.stdout  # the CLI speaks French by default
        assert (await sign_in(c)).status_code == 303
        assert (await sign_in(console.browser("198.51.100.7"), "crodriguez")).status_code == 429
        assert ("unlocked", "atremblay", "cli") in await kinds(console)
        # The failures stay in the log: unlocking stops them counting, it erases nothing.
        assert [k for k in await kinds(console) if k[1] == "atremblay"].count(
            ("signin_failed", "atremblay", "192.0.2.10")
        ) == 3


async def test_a_locked_attempt_costs_no_hashing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_console(tmp_path, signin_max_failures=2) as console:
        c = console.browser()
        for i in range(2):
            await sign_in(c, "atremblay", f"guess {i}")
        calls: list[str] = []

        def counting(stored_hash: str, password: str) -> bool:
            calls.append(password)
            return False

        monkeypatch.setattr(accounts, "check_password", counting)
        assert (await sign_in(c, "atremblay", "guess 3")).status_code == 429
        assert calls == []


async def test_one_address_is_locked_after_many_logins_fail(tmp_path: Path) -> None:
    async with running_console(
        tmp_path, signin_max_failures=5, signin_max_failures_per_address=8
    ) as console:
        attacker = console.browser("203.0.113.66")
        for i in range(8):  # a different login each time: no login reaches its own limit
            r = await sign_in(attacker, f"user{i}", "guess")
            assert r.status_code == 401, i
        r = await sign_in(attacker)
        assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
        assert ("lockout", None, "203.0.113.66") in await kinds(console)
        # Someone at another address signs in as usual.
        assert (await sign_in(console.browser("192.0.2.44"))).status_code == 303


async def test_a_successful_sign_in_clears_the_logins_count(tmp_path: Path) -> None:
    async with running_console(tmp_path, signin_max_failures=3) as console:
        c = console.browser()
        for _ in range(2):
            assert (await sign_in(c, "atremblay", "typo")).status_code == 401
        assert (await sign_in(c)).status_code == 303
        c2 = console.browser()
        for _ in range(2):
            assert (await sign_in(c2, "atremblay", "typo")).status_code == 401
        assert (await sign_in(c2)).status_code == 303  # 2 + 2 failures, never 3 in a row


async def test_an_unknown_login_costs_the_same_argon2_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_console(tmp_path, logins=("atremblay", "crodriguez")) as console:
        real_check = accounts.check_password
        verified: list[str] = []

        def spy(stored_hash: str, password: str) -> bool:
            verified.append(stored_hash)
            return real_check(stored_hash, password)

        monkeypatch.setattr(accounts, "check_password", spy)
        c = console.browser()
        unknown = await sign_in(c, "nobody-here", "some guess")
        assert verified == [accounts.dummy_hash()]
        # The dummy has the same argon2 parameters as a real password hash.
        async with console.web.sessions() as session:
            cred = await session.get(accounts.Credential, "atremblay")
            assert cred is not None
            real_params = cred.password_hash.rsplit("$", 2)[0]
        assert accounts.dummy_hash().rsplit("$", 2)[0] == real_params
        verified.clear()
        wrong = await sign_in(c, "atremblay", "some guess")
        assert verified == [cred.password_hash]
        # A deactivated login is verified against the dummy too.
        async with console.web.sessions() as session, session.begin():
            await accounts.deactivate(session, "crodriguez")
        verified.clear()
        inactive = await sign_in(c, "crodriguez", PASSWORD)
        assert verified == [accounts.dummy_hash()]
        # And the three answers are the same page.
        assert unknown.status_code == wrong.status_code == inactive.status_code == 401
        assert 'id="login-error"' in unknown.text and 'id="login-error"' in inactive.text
