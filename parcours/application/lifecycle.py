"""How a Parcours process starts and ends: logging, the stop signals, and the exit.

Every long-running process (the worker, the web console, `parcours dev`) and every CLI
command shares these, so they live here rather than in one interface that the others would
then have to import (the CLI's entry point used to hold `end_process`, and the worker
imported the CLI for it). Standard library only: the CLI imports this module before it
knows which command runs, and it must not cost start-up time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from typing import NoReturn

from parcours.infrastructure.config import Settings

logger = logging.getLogger("parcours.application.lifecycle")

# Exit code after Ctrl-C (128 + SIGINT), as shells report it.
INTERRUPTED = 130


def configure_logging(settings: Settings | None = None) -> None:
    """Log lines for people running a service: time, level, logger, message."""
    logging.basicConfig(
        level=(settings or Settings.from_env()).log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # aiosmtpd logs every connection (with peer addresses) at INFO: noise, and not ours.
    logging.getLogger("mail.log").setLevel(logging.WARNING)


def install_stop_handlers(stop: asyncio.Event) -> None:
    """SIGINT/SIGTERM set `stop` (a second signal ends at once, as people expect)."""
    loop = asyncio.get_running_loop()

    def on_signal(signum: int) -> None:
        if stop.is_set():
            logger.warning("second %s: exiting now", signal.Signals(signum).name)
            os._exit(INTERRUPTED)
        logger.info("%s received", signal.Signals(signum).name)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, on_signal, sig)


def end_process(code: int) -> NoReturn:
    """Flush and exit without interpreter teardown.

    The Temporal client's Rust runtime keeps threads that may touch the GIL while CPython
    finalizes, which aborts a short-lived process after its work is done ("Fatal Python
    error: PyGILState_Release", temporalio/sdk-python#300). Callers have nothing left to
    clean up: asyncio.run has closed the loop, engines are disposed, and the output is
    flushed here.
    """
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)
