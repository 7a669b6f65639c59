"""Serving the app with uvicorn inside a running event loop (`parcours web`, `parcours dev`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import uvicorn
from temporalio.client import Client

from parcours.infrastructure.config import Settings
from parcours.infrastructure.tasks import stop_task
from parcours.interfaces.web.app import create_app
from parcours.kernel.errors import ParcoursError

PORT_ENV = "PARCOURS_WEB_PORT"  # Settings.web_port
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = Settings.web_port  # 8000


def default_port(settings: Settings | None = None) -> int:
    return (settings or Settings.from_env()).web_port


def build_server(
    settings: Settings,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    client: Client | None = None,
) -> uvicorn.Server:
    config = uvicorn.Config(
        create_app(settings, client=client),
        host=host,
        port=port,
        # Access lines carry query strings (filters); ours hold no personal data, but the
        # app's own latency metrics make uvicorn's access log redundant.
        access_log=False,
        log_level="warning",
        lifespan="on",
    )
    return _EmbeddedServer(config)


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without signal handlers of its own: the caller's stop event rules, so Ctrl-C
    stops the whole dev stack in order."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def _serve(server: uvicorn.Server) -> None:
    # uvicorn calls sys.exit when it cannot bind. Raised inside a task, SystemExit escapes the
    # event loop and ends the whole process with a traceback (every other part of `parcours
    # dev` with it): caught here, where `server.started` still says what happened.
    with contextlib.suppress(SystemExit):
        await server.serve()


async def serve_until(server: uvicorn.Server, stop: asyncio.Event) -> None:
    """Run `server` until `stop` is set; a port already in use is one clear error line."""
    task = asyncio.create_task(_serve(server))
    stopper = asyncio.create_task(stop.wait())
    try:
        done, _ = await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            task.result()
            if not server.started:
                raise ParcoursError(
                    f"the web console could not listen on {server.config.host}:"
                    f"{server.config.port} (port in use? set {PORT_ENV} or --web-port)"
                )
            return
        server.should_exit = True
        await task
    finally:
        await stop_task(stopper)


async def wait_started(
    server: uvicorn.Server, within: float = 10.0, serving: asyncio.Task[None] | None = None
) -> bool:
    # uvicorn offers no event for "listening": poll its flag, and stop polling as soon as the
    # serving task has ended (a port in use ends it at once).
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not server.started and loop.time() < deadline:  # noqa: ASYNC110
        if serving is not None and serving.done():
            break
        await asyncio.sleep(0.05)
    return server.started
