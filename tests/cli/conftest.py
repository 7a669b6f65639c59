"""The CLI's tests against a real stack: a Temporal dev server (`dev_env`), the real worker,
SQLite and a real SMTP catcher, one per test (tests/conftest.py `real_stack`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from tests.cli.test_end_to_end import Cli
from tests.conftest import Stack, real_stack


@pytest_asyncio.fixture
async def stack(dev_env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[Stack]:
    async with real_stack(dev_env.client, tmp_path) as s:
        yield s


@pytest.fixture
def cli(stack: Stack) -> Cli:
    return Cli(stack.settings)
