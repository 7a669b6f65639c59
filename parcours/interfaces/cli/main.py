"""Entry point of `parcours`: builds the parser from the command modules and runs one command.

Every failure a person can cause or fix is one line on stderr, `parcours: error: ...`, with
exit code 1 (2 for a malformed command line, as argparse does). Set PARCOURS_DEBUG=1 to see
the traceback of an unexpected failure.

Start-up time is part of the interface: the parser is built from the command modules, which
import only the standard library, the kernel and the settings at their top; each command
imports what it runs on (the Temporal SDK, SQLAlchemy, the web stack) inside its handler.
tests/cli/test_startup.py holds that line.
"""

from __future__ import annotations

import asyncio
import os
import sys
import traceback
from collections.abc import Sequence
from typing import TextIO

from parcours import __version__
from parcours.application.lifecycle import INTERRUPTED, end_process
from parcours.infrastructure.config import Settings
from parcours.interfaces.cli import (
    audit,
    casework,
    finding,
    intake,
    officers,
    operations,
    stack,
    supervision,
    web,
)
from parcours.interfaces.cli.common import PROG, Context, Handler, Parser, UsageError
from parcours.kernel.errors import ParcoursError
from parcours.kernel.policy import PolicyError


def build_parser() -> Parser:
    parser = Parser(
        prog=PROG,
        description="Parcours: Quebec's personalized integration pathway for newcomers. "
        "Each newcomer is one durable Temporal workflow, from visa approval to a closed case.",
        epilog="Configuration comes from PARCOURS_* environment variables "
        "(PARCOURS_TEMPORAL_ADDRESS, PARCOURS_DATABASE_URL, PARCOURS_DATA_DIR, ...).",
    )
    parser.add_argument(
        "--policy",
        metavar="FILE",
        help="policy TOML for new cases (default: $PARCOURS_POLICY, else the packaged policy)",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    stack.register(sub)
    officers.register(sub)
    intake.register(sub)
    casework.register(sub)
    finding.register(sub)
    supervision.register(sub)
    web.register(sub)
    operations.register(sub)
    audit.register(sub)
    return parser


def _fail(err: TextIO, message: str, code: int) -> int:
    print(f"{PROG}: error: {message}", file=err)
    return code


async def amain(
    argv: Sequence[str] | None = None,
    *,
    settings: Settings | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Run one command in the running event loop (tests call this directly)."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        args = build_parser().parse_args(argv)
    except UsageError as e:
        return _fail(err, str(e), 2)
    except SystemExit as e:  # --help and --version exit 0 through argparse
        return e.code if isinstance(e.code, int) else 0
    try:
        settings = settings or Settings.from_env()
    except ParcoursError as e:  # a PARCOURS_* variable with a value that cannot be used
        return _fail(err, str(e), 1)
    ctx = Context(settings=settings, policy_path=args.policy, out=out, err=err)
    handler: Handler = args.handler
    try:
        return await handler(args, ctx)
    except UsageError as e:
        return _fail(err, str(e), 2)
    except (ParcoursError, PolicyError) as e:
        return _fail(err, str(e), 1)
    except BrokenPipeError:
        raise  # `parcours ... | head`: main() ends quietly
    except Exception as e:
        if ctx.settings.debug:
            traceback.print_exc(file=err)
        first = str(e).strip().splitlines()
        detail = first[0] if first else ""
        return _fail(
            err, f"unexpected {type(e).__name__}: {detail} (PARCOURS_DEBUG=1 shows more)", 1
        )
    finally:
        await ctx.aclose()


def main(argv: Sequence[str] | None = None) -> int:
    """The `parcours` console script.

    Called without `argv` (as the console script), it ends the process itself once the
    command is done: see `end_process`.
    """
    try:
        code = asyncio.run(amain(argv))
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        code = INTERRUPTED
    except BrokenPipeError:
        # The reader went away: stop writing, and keep Python from complaining at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        code = 141
    if argv is None:
        end_process(code)
    return code


if __name__ == "__main__":
    sys.exit(main())
