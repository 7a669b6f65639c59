"""`python worker.py`: run a Parcours worker (the same as `parcours worker`).

Configured by the environment: the PARCOURS_* variables of the README's "Configuration"
table (parcours/infrastructure/config.py reads them all). The process's life (logging,
signals, exit) is the application layer's; the worker runtime itself is infrastructure
(parcours/infrastructure/worker.py), which is why this entry point joins the two.
"""

import asyncio
import sys

from parcours.application.lifecycle import (
    INTERRUPTED,
    configure_logging,
    end_process,
    install_stop_handlers,
)
from parcours.application.refusals import render
from parcours.infrastructure import config
from parcours.infrastructure.catalog import catalog
from parcours.infrastructure.config import Settings
from parcours.infrastructure.worker import serve
from parcours.kernel.errors import ParcoursError


async def amain(settings: Settings | None = None) -> None:
    stop = asyncio.Event()
    install_stop_handlers(stop)
    await serve(settings or Settings.from_env(), stop)


def main() -> None:
    code = 0
    try:
        configure_logging()  # a bad PARCOURS_LOG_LEVEL is one line, as every bad setting
        asyncio.run(amain())
    except ParcoursError as err:
        # In the operator's language (PARCOURS_LANGUAGE, French by default), as the CLI does.
        lang = config.language()
        print(
            catalog(lang)("cli.error", prog="parcours", message=render(err, lang)), file=sys.stderr
        )
        code = 1
    except KeyboardInterrupt:
        code = INTERRUPTED
    end_process(code)  # no interpreter teardown: see end_process


if __name__ == "__main__":
    main()
