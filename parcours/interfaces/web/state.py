"""What every request shares: settings, the read model, the Temporal client, the templates."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.requests import Request
from temporalio.client import Client

from parcours.application.policies import choose_policy
from parcours.application.start_many import Pacer, pacer_for
from parcours.infrastructure.config import Settings
from parcours.infrastructure.store.db import open_read_model, session_factory
from parcours.infrastructure.store.models import utcnow
from parcours.infrastructure.store.security import SessionLimits
from parcours.infrastructure.temporal import connect
from parcours.interfaces.web.metrics import WebMetrics
from parcours.kernel.domain import PolicySnapshot

SECRET_FILE = "web-secret"


def load_secret(settings: Settings) -> str:
    """$PARCOURS_WEB_SECRET, else a secret generated once into the data dir (mode 0600), so
    sessions survive a restart of `parcours dev` and no default secret ever ships."""
    value = settings.web_secret
    if value:
        return value
    path = Path(settings.data_dir) / SECRET_FILE
    if path.is_file():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value)
    return value


@dataclass
class WebState:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    policy: PolicySnapshot
    metrics: WebMetrics = field(default_factory=WebMetrics)
    # Sessions and the sign-in throttle read the time here: tests move it, nobody sleeps.
    clock: Callable[[], datetime] = utcnow
    _client: Client | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _read_model: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)
    # One pacer for every API batch of this process: concurrent batches share one window of
    # cases opening at once (application/start_many.py), which it keeps from batch to batch.
    _intake_pacer: Pacer | None = None

    @classmethod
    async def open(cls, settings: Settings, client: Client | None = None) -> WebState:
        read_model = contextlib.AsyncExitStack()
        # Migrated on open (once per process): the accounts' tables are there.
        engine = await read_model.enter_async_context(open_read_model(settings))
        return cls(
            settings=settings,
            engine=engine,
            sessions=session_factory(engine),
            # The same policy `parcours start` would snapshot (dev stack's included).
            policy=choose_policy(settings),
            _client=client,
            _read_model=read_model,
        )

    @property
    def session_limits(self) -> SessionLimits:
        return SessionLimits(
            idle=timedelta(minutes=self.settings.session_idle_minutes),
            lifetime=timedelta(hours=self.settings.session_max_hours),
        )

    async def client(self) -> Client:
        """Connected on first use (and again after a failure), so the console starts, and
        /healthz answers 503, while Temporal is down."""
        if self._client is None:
            async with self._lock:
                if self._client is None:
                    self._client = await connect(self.settings)
        return self._client

    def intake_pacer(self, largest: int) -> Pacer | None:
        """The process's pacer for bulk intake; None when pacing is turned off."""
        if self._intake_pacer is None:
            self._intake_pacer = pacer_for(self.settings, self.sessions, largest)
        return self._intake_pacer

    async def aclose(self) -> None:
        await self._read_model.aclose()


def web_state(request: Request) -> WebState:
    state: WebState = request.app.state.web
    return state


StateDep = Annotated[WebState, Depends(web_state)]
