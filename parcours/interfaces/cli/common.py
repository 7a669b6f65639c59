"""What every command shares: the parser class, the context (settings, client, read model).

Imported by every command module, before the command line is even parsed: the Temporal SDK
and SQLAlchemy are imported only by the context methods that need them (`parcours --help`
must not pay for them; tests/cli/test_startup.py checks it).

Every word the CLI prints comes from the catalogue (parcours/infrastructure/catalog.py, keys
`cli.*`), in French unless PARCOURS_LANGUAGE=en or `--lang en`: the help text too, so the
language is chosen before the parser is built (`chosen_language`). argparse's own words
(« utilisation : », its errors) are rendered by `Parser` from the same catalogue.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from parcours.application.policies import choose_policy
from parcours.infrastructure import config
from parcours.infrastructure.catalog import Catalog, catalog
from parcours.infrastructure.config import Settings
from parcours.kernel import inputs
from parcours.kernel.domain import Actor, PolicySnapshot
from parcours.kernel.errors import ParcoursError

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
    from temporalio.client import Client

PROG = "parcours"


class UsageError(ParcoursError):
    """A command line argparse refuses (exit 2, as argparse does)."""


LANG_FLAG = "--lang"


def chosen_language(argv: Sequence[str], env: Mapping[str, str] | None = None) -> str:
    """`--lang fr|en` on the command line, else PARCOURS_LANGUAGE, else French. Read before
    the parser exists, since the parser's help is written in it; a value neither accepts
    falls back to French here and is refused by the parser (or the settings) after."""
    for i, arg in enumerate(argv):
        if arg == "--":
            break
        value = argv[i + 1] if arg == LANG_FLAG and i + 1 < len(argv) else None
        if arg.startswith(LANG_FLAG + "="):
            value = arg.split("=", 1)[1]
        if value in config.CLI_LANGUAGES:
            return value
    try:
        return config.language(env)
    except config.ConfigError:
        return config.CLI_LANGUAGES[0]


class Formatter(argparse.HelpFormatter):
    """argparse's help with the catalogue's « utilisation : » (set by `Parser`)."""

    usage_prefix: str | None = None

    def add_usage(
        self,
        usage: str | None,
        actions: Any,
        groups: Any,
        prefix: str | None = None,
    ) -> None:
        super().add_usage(usage, actions, groups, self.usage_prefix if prefix is None else prefix)


# argparse's error messages, matched to be rendered from the catalogue (`cli.argparse.*`);
# anything else argparse says is shown as it is.
_ARGPARSE_ERRORS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), key)
    for pattern, key in (
        (r"^the following arguments are required: (?P<names>.+)$", "required"),
        (r"^unrecognized arguments: (?P<names>.+)$", "unrecognized"),
        (r"^argument (?P<name>\S+): expected one argument$", "expected_one"),
        (
            r"^argument (?P<name>\S+): invalid choice: (?P<value>.+) "
            r"\(choose from (?P<choices>.+)\)$",
            "invalid_choice",
        ),
        (
            r"^argument (?P<name>\S+): not allowed with argument (?P<other>\S+)$",
            "not_allowed_with",
        ),
        (r"^argument (?P<name>\S+): invalid (?P<kind>\S+) value: (?P<value>.+)$", "invalid_value"),
        # `tcp_port`'s own words (an argparse `type=` sees no catalogue).
        (r"^argument (?P<name>\S+): invalid port (?P<value>.+): expected 1-65535$", "invalid_port"),
    )
)


class Parser(argparse.ArgumentParser):
    """argparse, but an error is one line naming the command, and it raises instead of exiting
    so that `main()` stays callable from tests; its words come from the catalogue `t`.

    `deprecated` are option names kept for one release: `{"--officer": "--by"}` reads
    `--officer X` as `--by X`, and the parse result's `deprecations` lists one line per alias
    used, for `main` to print on stderr. They are not registered options, so the help does
    not show them.
    """

    def __init__(
        self,
        *args: Any,
        t: Catalog | None = None,
        deprecated: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        self.t = t or catalog()
        self.deprecated = dict(deprecated or {})
        kwargs.setdefault("formatter_class", Formatter)
        kwargs["add_help"] = False
        super().__init__(*args, **kwargs)
        self._positionals.title = self.t("cli.argparse.positionals")
        self._optionals.title = self.t("cli.argparse.options")
        self.add_argument(
            "-h", "--help", action="help", default=argparse.SUPPRESS, help=self.t("cli.help.help")
        )

    def _get_formatter(self) -> argparse.HelpFormatter:
        formatter = super()._get_formatter()
        if isinstance(formatter, Formatter):
            formatter.usage_prefix = self.t("cli.argparse.usage")
        return formatter

    def add_subparsers(self, **kwargs: Any) -> Any:
        kwargs.setdefault("parser_class", _sub_parser(type(self), self.t))
        return super().add_subparsers(**kwargs)

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        notes: list[str] = []
        if self.deprecated and args is not None:
            given = {a.partition("=")[0] for a in args}
            for old, new in self.deprecated.items():
                if old in given and new in given:  # which one meant what is anyone's guess
                    self.error(self.t("cli.error.both_flags", old=old, new=new))
            args = [self._unalias(a, notes) for a in args]
        parsed, rest = super().parse_known_args(args, namespace)
        if notes:
            parsed.deprecations = [*getattr(parsed, "deprecations", []), *notes]
        return parsed, rest

    def _unalias(self, arg: str, notes: list[str]) -> str:
        name, eq, value = arg.partition("=")
        new = self.deprecated.get(name)
        if new is None:
            return arg
        notes.append(self.t("cli.deprecated_flag", old=name, new=new, command=self.prog))
        return new + eq + value

    def error(self, message: str) -> NoReturn:
        for pattern, key in _ARGPARSE_ERRORS:
            match = pattern.match(message)
            if match:
                message = self.t(f"cli.argparse.{key}", **match.groupdict())
                break
        raise UsageError(self.t("cli.argparse.see_help", message=message, prog=self.prog))


def _sub_parser(cls: type[Parser], t: Catalog) -> Callable[..., Parser]:
    def make(*args: Any, **kwargs: Any) -> Parser:
        kwargs.setdefault("t", t)
        parser = cls(*args, **kwargs)
        # `--lang` after the command too (`parcours status D-1 --lang en`); the language was
        # read from the command line before parsing (`chosen_language`), this only accepts it.
        parser.add_argument(
            LANG_FLAG,
            choices=config.CLI_LANGUAGES,
            metavar="fr|en",
            default=argparse.SUPPRESS,
            help=t("cli.opt.lang"),
        )
        return parser

    return make


Handler = Callable[[argparse.Namespace, "Context"], Awaitable[int]]


@dataclass
class Context:
    settings: Settings
    policy_path: str | None = None
    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)
    t: Catalog = field(default_factory=catalog)
    _client: Client | None = None
    _engine: AsyncEngine | None = None
    _sessions: async_sessionmaker[AsyncSession] | None = None
    _read_model: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)

    def policy(self) -> PolicySnapshot:
        """The policy new cases snapshot (`parcours.application.policies.choose_policy`)."""
        return choose_policy(self.settings, self.policy_path)

    async def client(self) -> Client:
        if self._client is None:
            from parcours.infrastructure.temporal import connect

            self._client = await connect(self.settings)
        return self._client

    async def sessions(self) -> async_sessionmaker[AsyncSession]:
        if self._sessions is None:
            from parcours.infrastructure.store.chain import audit_keyring
            from parcours.infrastructure.store.db import open_read_model, session_factory

            # Migrated on open (once per process); lets `officers add` work before any
            # worker has run.
            self._engine = await self._read_model.enter_async_context(
                open_read_model(self.settings)
            )
            audit_keys = audit_keyring(self.settings)
            # With the audit keys, the commands that write to the trail (the reconcile's
            # outbox sweep) seal their rows as the worker does; without, they are refused.
            self._sessions = session_factory(self._engine, audit_keys)
        return self._sessions

    async def actor(self, officer_id: str, flag: str = "--by") -> Actor:
        """The person behind an officer id, from the roster; the workflow checks the claims.
        An id the roster does not know is an error that names it."""
        from parcours.infrastructure.store.officers import actor_of, get_officer

        officer_id = inputs.officer_id(officer_id, flag)
        sessions = await self.sessions()
        async with sessions() as session:
            officer = await get_officer(session, officer_id)
        if officer is None:
            raise ParcoursError(self.t("cli.error.unknown_officer", officer=officer_id))
        return actor_of(officer)

    def print(self, *values: object) -> None:
        print(*values, file=self.out)

    def note(self, message: str) -> None:
        """Progress and hints: stderr, so stdout stays parseable."""
        print(self.t("cli.note", prog=PROG, message=message), file=self.err)

    async def aclose(self) -> None:
        await self._read_model.aclose()
        self._engine = None
        self._sessions = None


def add_json_flag(parser: Parser, help: str | None = None) -> None:
    parser.add_argument("--json", action="store_true", help=help or parser.t("cli.opt.json"))


def add_policy_flag(parser: Parser) -> None:
    """`--policy` after the command too; SUPPRESS keeps the global one when absent."""
    parser.add_argument(
        "--policy",
        metavar=parser.t("cli.metavar.file"),
        default=argparse.SUPPRESS,
        help=parser.t("cli.opt.policy_here"),
    )


def add_by_flag(parser: Parser, help_key: str) -> None:
    """`--by ID`: the person acting on the case, in every command that acts on one."""
    parser.add_argument("--by", required=True, metavar="ID", help=parser.t(help_key))


def tcp_port(value: str) -> int:
    """A TCP port for argparse (`type=tcp_port`)."""
    try:
        number = int(value)
    except ValueError:
        number = 0
    if not 1 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"invalid port {inputs.shown(value)}: expected 1-65535")
    return number
