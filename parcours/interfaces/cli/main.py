"""Entry point of `parcours`: builds the parser from the command modules and runs one command.

Every failure a person can cause or fix is one line on stderr, « parcours : erreur : ... »
("parcours: error: ..." in English), with exit code 1 (2 for a malformed command line, as
argparse does). Set PARCOURS_DEBUG=1 to see the traceback of an unexpected failure.

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
from parcours.infrastructure import config
from parcours.infrastructure.catalog import Catalog, catalog
from parcours.infrastructure.config import Settings
from parcours.interfaces.cli import (
    audit,
    batches,
    casework,
    closing,
    finding,
    forecast,
    intake,
    meetings,
    officers,
    operations,
    partners,
    referrals,
    reports,
    stack,
    supervision,
    web,
)
from parcours.interfaces.cli.common import (
    LANG_FLAG,
    PROG,
    Context,
    Handler,
    Parser,
    UsageError,
    chosen_language,
)
from parcours.kernel.errors import ParcoursError
from parcours.kernel.policy import PolicyError


def build_parser(lang: str | None = None) -> Parser:
    """The whole command line, its help in `lang` (default: PARCOURS_LANGUAGE, else French)."""
    t = catalog(lang or chosen_language([]))
    parser = Parser(
        prog=PROG,
        t=t,
        description=t("cli.help.parcours"),
        epilog=t("cli.help.parcours_epilog"),
    )
    parser.add_argument("--policy", metavar=t("cli.metavar.file"), help=t("cli.opt.policy_global"))
    parser.add_argument(
        LANG_FLAG, choices=config.CLI_LANGUAGES, metavar="fr|en", help=t("cli.opt.lang")
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"%(prog)s {__version__}",
        help=t("cli.help.version"),
    )
    sub = parser.add_subparsers(dest="command", metavar=t("cli.metavar.command"), required=True)
    stack.register(sub, t)
    officers.register(sub, t)
    intake.register(sub, t)
    casework.register(sub, t)
    meetings.register(sub, t)
    closing.register(sub, t)
    finding.register(sub, t)
    supervision.register(sub, t)
    batches.register(sub, t)
    forecast.register(sub, t)
    reports.register(sub, t)
    web.register(sub, t)
    operations.register(sub, t)
    audit.register(sub, t)
    referrals.register(sub, t)
    partners.register(sub, t)
    return parser


def _fail(err: TextIO, t: Catalog, message: str, code: int) -> int:
    print(t("cli.error", prog=PROG, message=message), file=err)
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
    words = sys.argv[1:] if argv is None else list(argv)
    # `settings` given (tests): its language, unless the command line says otherwise.
    env_language = {"PARCOURS_LANGUAGE": settings.language} if settings is not None else None
    t = catalog(chosen_language(words, env_language))
    # argparse writes --help and --version to sys.stdout itself.
    try:
        args = build_parser(t.lang).parse_args(words)
    except UsageError as e:
        return _fail(err, t, str(e), 2)
    except SystemExit as e:  # --help and --version exit 0 through argparse
        return e.code if isinstance(e.code, int) else 0
    for line in getattr(args, "deprecations", []):
        print(t("cli.note", prog=PROG, message=line), file=err)
    try:
        settings = settings or Settings.from_env()
    except ParcoursError as e:  # a PARCOURS_* variable with a value that cannot be used
        return _fail(err, t, _said(t, e), 1)
    ctx = Context(settings=settings, policy_path=args.policy, out=out, err=err, t=t)
    handler: Handler = args.handler
    try:
        return await handler(args, ctx)
    except UsageError as e:
        return _fail(err, t, str(e), 2)
    except (ParcoursError, PolicyError) as e:
        return _fail(err, t, _said(t, e), 1)
    except BrokenPipeError:
        raise  # `parcours ... | head`: main() ends quietly
    except Exception as e:
        if ctx.settings.debug:
            traceback.print_exc(file=err)
        first = str(e).strip().splitlines()
        detail = first[0] if first else ""
        return _fail(err, t, t("cli.error.unexpected", kind=type(e).__name__, detail=detail), 1)
    finally:
        await ctx.aclose()


def _said(t: Catalog, error: Exception) -> str:
    """An error in the reader's language: its code and parameters from the catalogue (through
    `parcours.application.refusals.render`), else the error's own text."""
    from parcours.application.refusals import render

    return render(error, t.lang)


def main(argv: Sequence[str] | None = None) -> int:
    """The `parcours` console script.

    Called without `argv` (as the console script), it ends the process itself once the
    command is done: see `end_process`.
    """
    try:
        code = asyncio.run(amain(argv))
    except KeyboardInterrupt:
        t = catalog(chosen_language(sys.argv[1:] if argv is None else argv))
        print(t("cli.note", prog=PROG, message=t("cli.interrupted")), file=sys.stderr)
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
