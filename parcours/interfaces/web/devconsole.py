"""The web console inside `parcours dev`: demo passwords, the server, the banner lines."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from temporalio.client import Client

from parcours.infrastructure.catalog import Catalog, catalog
from parcours.infrastructure.config import Settings
from parcours.infrastructure.store.accounts import seed_demo_passwords
from parcours.infrastructure.store.db import open_read_model, session_factory
from parcours.infrastructure.tasks import stop_task
from parcours.interfaces.web.server import DEFAULT_HOST, build_server, serve_until, wait_started
from parcours.kernel.errors import ParcoursError
from parcours.kernel.messages import Message


async def seed_demo_logins(settings: Settings) -> list[str]:
    """Demo passwords for roster members who have none (a password set with `parcours users
    set-password` is never overwritten); returns the logins seeded now."""
    async with (
        open_read_model(settings) as engine,
        session_factory(engine)() as session,
        session.begin(),
    ):
        return await seed_demo_passwords(session, settings.demo_password)


@contextlib.asynccontextmanager
async def dev_console(
    settings: Settings, client: Client, stop: asyncio.Event, port: int, t: Catalog | None = None
) -> AsyncIterator[list[str]]:
    """Serve the console until the block exits; yields the banner lines (in `t`'s language)."""
    t = t or catalog(settings.language)
    await seed_demo_logins(settings)
    server = build_server(settings, host=DEFAULT_HOST, port=port, client=client)
    task = asyncio.create_task(serve_until(server, stop))
    if not await wait_started(server, serving=task) or task.done():
        stop.set()
        await task  # raises the "port in use" error
        raise ParcoursError(
            f"the web console did not start on {DEFAULT_HOST}:{port}",
            refusal=Message.of("console_not_started", address=f"{DEFAULT_HOST}:{port}"),
        )
    url = f"http://{DEFAULT_HOST}:{port}"
    lines = [
        f"  {t('dev.label.console')}  {t('dev.console', url=url)}",
        "    " + t("dev.demo_signin", password=settings.demo_password),
        "    " + t("dev.demo_change"),
    ]
    try:
        yield lines
    finally:
        server.should_exit = True
        await stop_task(task, cancel=False)
