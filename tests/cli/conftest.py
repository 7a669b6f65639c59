"""The CLI's tests against a real stack: a Temporal dev server (`dev_env`), the real worker,
SQLite and a real SMTP catcher, one per test (tests/conftest.py `real_stack`); and the
helpers they share (`Cli`, `eventually`, `dossier`, `add_roster`)."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from parcours.infrastructure.config import Settings
from parcours.interfaces.cli.main import amain
from tests.conftest import Stack, real_stack


class Cli:
    """`parcours` in English (PARCOURS_LANGUAGE=en): these tests read the messages of the
    kernel and the workflow, which are English; tests/cli/test_french.py reads the French."""

    def __init__(self, settings: Settings) -> None:
        self.settings = dataclasses.replace(settings, language="en")

    async def __call__(self, *argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        code = await amain(list(argv), settings=self.settings, out=out, err=err)
        return code, out.getvalue(), err.getvalue()

    async def ok(self, *argv: str) -> str:
        code, out, err = await self(*argv)
        assert code == 0, f"parcours {' '.join(argv)} -> {code}: {err}"
        assert err == "" or not err.startswith("parcours: error")
        return out

    async def json(self, *argv: str) -> Any:
        return json.loads(await self.ok(*argv, "--json"))

    async def fails(self, *argv: str, code: int = 1) -> str:
        got, out, err = await self(*argv)
        assert got == code, f"parcours {' '.join(argv)} -> {got} (expected {code}): {out}{err}"
        assert err.startswith("parcours: error: ")
        assert err.count("\n") == 1, err
        return err.removeprefix("parcours: error: ").strip()


async def eventually(check: Callable[[], Awaitable[bool]], *, within: float = 15.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await check():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.2)


def dossier() -> str:
    return f"E2E-{uuid.uuid4().hex[:8].upper()}"


async def add_roster(cli: Cli) -> None:
    await cli.ok(
        "officers", "add", "--id", "atremblay", "--name", "Amélie Tremblay",
        "--email", "atremblay@parcours.example", "--region", "montreal", "--languages", "fr,en",
    )  # fmt: skip
    await cli.ok(
        "officers", "add", "--id", "crodriguez", "--name", "Carlos Rodríguez",
        "--email", "crodriguez@parcours.example", "--region", "montreal", "--languages", "fr,es",
    )  # fmt: skip
    await cli.ok(
        "officers", "add", "--id", "nbouchard", "--name", "Nathalie Bouchard",
        "--email", "nbouchard@parcours.example", "--region", "montreal", "--role", "supervisor",
    )  # fmt: skip


@pytest_asyncio.fixture
async def stack(dev_env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[Stack]:
    async with real_stack(dev_env.client, tmp_path) as s:
        yield s


@pytest.fixture
def cli(stack: Stack) -> Cli:
    return Cli(stack.settings)
