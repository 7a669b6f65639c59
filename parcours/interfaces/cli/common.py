"""What every command shares: the parser class, the context (settings, client, read model).

Imported by every command module, before the command line is even parsed: the Temporal SDK
and SQLAlchemy are imported only by the context methods that need them (`parcours --help`
must not pay for them; tests/cli/test_startup.py checks it).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NoReturn, TextIO

from parcours.application.policies import choose_policy
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


class Parser(argparse.ArgumentParser):
    """argparse, but an error is one line naming the command, and it raises instead of exiting
    so that `main()` stays callable from tests."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


Handler = Callable[[argparse.Namespace, "Context"], Awaitable[int]]


@dataclass
class Context:
    settings: Settings
    policy_path: str | None = None
    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)
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

    async def actor(self, officer_id: str, flag: str = "--officer") -> Actor:
        """The person behind an officer id, from the roster; the workflow checks the claims."""
        from parcours.infrastructure.store.officers import actor_of, get_officer

        officer_id = inputs.officer_id(officer_id, flag)
        sessions = await self.sessions()
        async with sessions() as session:
            officer = await get_officer(session, officer_id)
        if officer is None:
            raise ParcoursError(f"no officer with id {officer_id} (see 'parcours officers list')")
        return actor_of(officer)

    def print(self, *values: object) -> None:
        print(*values, file=self.out)

    def note(self, message: str) -> None:
        """Progress and hints: stderr, so stdout stays parseable."""
        print(f"{PROG}: {message}", file=self.err)

    async def aclose(self) -> None:
        await self._read_model.aclose()
        self._engine = None
        self._sessions = None


def add_json_flag(
    parser: argparse.ArgumentParser, help: str = "print JSON instead of text"
) -> None:
    parser.add_argument("--json", action="store_true", help=help)


def add_policy_flag(parser: argparse.ArgumentParser) -> None:
    """`--policy` after the command too; SUPPRESS keeps the global one when absent."""
    parser.add_argument(
        "--policy",
        metavar="FILE",
        default=argparse.SUPPRESS,
        help="policy TOML (default: $PARCOURS_POLICY, else the packaged policy)",
    )


def tcp_port(value: str) -> int:
    """A TCP port for argparse (`type=tcp_port`)."""
    try:
        number = int(value)
    except ValueError:
        number = 0
    if not 1 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"invalid port {inputs.shown(value)}: expected 1-65535")
    return number
