"""The web app in process, on its own SQLite read model, with a clock the test moves.

For what needs no Temporal: sessions, sign-in, throttling, headers. Each test gets a fresh
database, so a lockout never leaks into another test (the `parcours dev` stack of the other
web tests is shared by all of them, and signs everyone in from 127.0.0.1).
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from fastapi import FastAPI

from parcours.infrastructure.config import Settings
from parcours.infrastructure.store.accounts import set_password
from parcours.infrastructure.store.officers import DEMO_OFFICERS, add_officer
from parcours.interfaces.web.app import create_app
from parcours.interfaces.web.state import WebState

PASSWORD = "correct horse battery"
T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
BASE_URL = "https://console.test"


@dataclass
class Console:
    app: FastAPI
    now: datetime = T0

    @property
    def web(self) -> WebState:
        state: WebState = self.app.state.web
        return state

    def advance(self, delta: timedelta) -> None:
        self.now += delta

    def browser(self, address: str = "192.0.2.10") -> httpx.AsyncClient:
        """A client with its own cookie jar, calling from `address`."""
        transport = httpx.ASGITransport(app=self.app, client=(address, 50000))
        return httpx.AsyncClient(transport=transport, base_url=BASE_URL)


@contextlib.asynccontextmanager
async def running_console(
    tmp_path: Path, *, logins: tuple[str, ...] = ("atremblay",), **overrides: object
) -> AsyncIterator[Console]:
    settings = dataclasses.replace(
        Settings(
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'parcours.db'}",
            data_dir=str(tmp_path),
        ),
        **overrides,  # type: ignore[arg-type]
    )
    app = create_app(settings, secret="test-secret")
    console = Console(app)
    async with app.router.lifespan_context(app):
        console.web.clock = lambda: console.now
        async with console.web.sessions() as session, session.begin():
            for officer in DEMO_OFFICERS:
                if officer.id in logins:
                    await add_officer(session, officer)
                    await set_password(session, officer.id, PASSWORD)
        yield console


def form_token(page: str) -> str:
    """The CSRF token of the first form on a page."""
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, "no form token on the page"
    return found.group(1)


async def sign_in(
    c: httpx.AsyncClient, login: str = "atremblay", password: str = PASSWORD
) -> httpx.Response:
    token = form_token((await c.get("/login")).text)
    return await c.post("/login", data={"login": login, "password": password, "csrf": token})
