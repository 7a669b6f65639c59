"""The console's server when its port is taken: one clear error, not a traceback that takes
the whole `parcours dev` process down (uvicorn calls sys.exit when it cannot bind)."""

from __future__ import annotations

import asyncio
import socket

import pytest
import uvicorn

from parcours.interfaces.web.server import serve_until
from parcours.kernel.errors import ParcoursError


async def app(scope: dict, receive: object, send: object) -> None:  # never reached
    raise AssertionError("the server must not start")


async def test_a_taken_port_is_one_error_and_the_process_lives_on() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical")
        )
        with pytest.raises(ParcoursError, match=f"could not listen on 127.0.0.1:{port}"):
            await asyncio.wait_for(serve_until(server, asyncio.Event()), timeout=10)
    # Still here: the event loop was not ended by the SystemExit uvicorn raised.
    await asyncio.sleep(0)
