"""Real processes for fault tests: a Temporal dev server and workers as subprocesses, an SMTP
catcher, a TCP proxy that can cut the database; each can be killed or cut on purpose."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from temporalio.client import Client

from parcours.infrastructure.codec import new_key
from parcours.infrastructure.config import Settings
from parcours.infrastructure.mail.catcher import MailCatcher, free_port
from parcours.infrastructure.store.db import create_engine, session_factory
from parcours.infrastructure.store.migrate import upgrade
from parcours.infrastructure.store.officers import NewOfficer, add_officer
from parcours.infrastructure.temporal import connect
from parcours.interfaces.devstack import (
    dynamic_config_args,
    find_temporal_binary,
    search_attribute_args,
)
from parcours.kernel.domain import REGIONS, Role
from parcours.kernel.policy import load_policy, policy_toml

ROOT = Path(__file__).resolve().parents[2]

# Seconds, so that escalations fire while the test runs; employment waits for the next test.
FAST_POLICY = policy_toml(
    "faults",
    arrival={"deadline": "1d", "remind_after": "1d", "escalate_after": "2d",
             "escalate_again_after": "3d"},
    francization={"deadline": "1h", "remind_after": "2s", "escalate_after": "4s",
                  "escalate_again_after": "6s"},
)  # fmt: skip

OFFICERS = [
    NewOfficer(f"off{i}", f"Officer {i}", f"off{i}@parcours.example", "montreal", "fr,en")
    for i in range(4)
] + [
    NewOfficer("sup", "Sup", "sup@parcours.example", "montreal", "fr", Role.SUPERVISOR.value),
    NewOfficer("dir", "Dir", "dir@parcours.example", "montreal", "fr", Role.DIRECTOR.value),
]
assert "montreal" in REGIONS


# Starts of the dev server tried before a test gives up on it.
SPAWNS = 3


class DevServer:
    """`temporal server start-dev` with a persistent file: can be stopped and started again."""

    def __init__(self, db_file: Path, log: Path) -> None:
        self.db_file = db_file
        self.log = log
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._spawn()
        spawns = 1
        for _ in range(200):
            try:
                await (await connect(Settings(temporal_address=self.address))).count_workflows()
                return
            except Exception:
                assert self.proc is not None
                if self.proc.poll() is not None and spawns < SPAWNS:
                    # The dev server picks its internal services' ports itself and exits when
                    # one was taken meanwhile (seen in CI: "bind: address already in use" for
                    # matching, then a panic): start it again, on new ones.
                    self._spawn()
                    spawns += 1
                await asyncio.sleep(0.2)
        raise RuntimeError(f"dev server did not start, see {self.log}")

    def _spawn(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    find_temporal_binary("temporal"),
                    "server",
                    "start-dev",
                    "--headless",
                    "--ip",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--http-port",
                    str(free_port()),
                    "--metrics-port",
                    str(free_port()),
                    "--db-filename",
                    str(self.db_file),
                    "--log-level",
                    "error",
                    *search_attribute_args(),
                    # As `parcours dev` and production run it (eager activities, one
                    # partition): a killed worker's eager activities wait out their timeout.
                    *dynamic_config_args(),
                ],  # fmt: skip
                stdout=log,
                stderr=log,
                start_new_session=True,
            )

    def kill(self) -> None:
        """SIGKILL: the server dies with whatever it had in flight; its data file stays."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass
class Workers:
    """`python worker.py` subprocesses with a given environment."""

    env: dict[str, str]
    log: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    kills: int = 0

    def start(self) -> subprocess.Popen[bytes]:
        with self.log.open("ab") as log:
            p = subprocess.Popen(
                [sys.executable, str(ROOT / "worker.py")],
                env=self.env,
                cwd=ROOT,
                stdout=log,
                stderr=log,
            )
        self.procs.append(p)
        return p

    def alive(self) -> bool:
        return any(p.poll() is None for p in self.procs)

    def kill_one(self) -> None:
        """SIGKILL: no graceful shutdown, activities die mid-flight."""
        alive = [p for p in self.procs if p.poll() is None]
        if alive:
            alive[0].send_signal(signal.SIGKILL)
            alive[0].wait()
            self.kills += 1

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


class TcpProxy:
    """A TCP proxy to a backend; `cut()` drops every connection and refuses new ones."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self.open = True
        self._server: asyncio.Server | None = None
        self._conns: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.open:
            writer.close()
            return
        try:
            up_r, up_w = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._conns |= {writer, up_w}

        async def pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await r.read(65536):
                    w.write(data)
                    await w.drain()
            with contextlib.suppress(Exception):
                w.close()

        await asyncio.gather(pipe(reader, up_w), pipe(up_r, writer))
        self._conns -= {writer, up_w}

    def cut(self) -> None:
        self.open = False
        for w in list(self._conns):
            with contextlib.suppress(Exception):
                w.transport.abort()
        self._conns.clear()

    def restore(self) -> None:
        self.open = True

    async def close(self) -> None:
        self.cut()
        if self._server:
            self._server.close()


def worker_env(settings: Settings, policy: Path, key_spec: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARCOURS_")}
    env.update(
        PARCOURS_TEMPORAL_ADDRESS=settings.temporal_address or "",
        PARCOURS_TASK_QUEUE=settings.task_queue,
        PARCOURS_DATABASE_URL=settings.database_url,
        PARCOURS_SMTP_HOST=settings.smtp_host,
        PARCOURS_SMTP_PORT=str(settings.smtp_port),
        PARCOURS_POLICY=str(policy),
        PARCOURS_CODEC_KEYS=key_spec,
        PARCOURS_AUDIT_KEYS=settings.audit_keys or "",
        PARCOURS_SIGNING_KEYS=settings.signing_keys or "",
        PARCOURS_LOG_LEVEL="WARNING",
        PARCOURS_DATA_DIR=str(policy.parent),
        # The shortest lease the Notifier accepts (60 s SMTP deadline + 30 s recording + 4 s),
        # so an email in doubt is resent within the run (production: 600 s).
        PARCOURS_MAIL_RESEND_LEASE_S="100",
    )
    env.update(extra)
    return env


async def seed_officers(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await upgrade(engine)
        async with session_factory(engine)() as s, s.begin():
            for o in OFFICERS:
                await add_officer(s, o)
    finally:
        await engine.dispose()


@dataclass
class Rig:
    tmp: Path
    server: DevServer
    catcher: MailCatcher
    settings: Settings
    policy_file: Path
    key_spec: str

    async def client(self) -> Client:
        return await connect(self.settings)

    def policy(self):  # -> PolicySnapshot
        return load_policy(self.policy_file)

    def workers(self, **extra: str) -> Workers:
        env = worker_env(self.settings, self.policy_file, self.key_spec, **extra)
        return Workers(env, self.tmp / "worker.log")


LOG_TAIL = 60


@contextlib.asynccontextmanager
async def rig(tmp: Path, database_url: str | None = None):  # -> AsyncIterator[Rig]
    policy_file = tmp / "policy.toml"
    policy_file.write_text(FAST_POLICY)
    server = DevServer(tmp / "temporal.db", tmp / "temporal.log")
    await server.start()
    catcher = MailCatcher(tmp / "mail", port=free_port())
    catcher.start()
    key = new_key("faults-1")
    settings = Settings(
        temporal_address=server.address,
        task_queue=f"faults-{uuid.uuid4().hex[:8]}",
        database_url=database_url or f"sqlite+aiosqlite:///{tmp / 'parcours.db'}",
        smtp_host=catcher.host,
        smtp_port=catcher.port,
        codec_keys=key.spec(),
        audit_keys=new_key("faults-audit-1").spec(),
        signing_keys=new_key("faults-signing").spec(),
        data_dir=str(tmp),
        policy_path=str(policy_file),
    )
    await seed_officers(settings.database_url)
    try:
        yield Rig(tmp, server, catcher, settings, policy_file, key.spec())
    except BaseException:
        # What the workers and the server said last: pytest shows it under the failure.
        for log in (tmp / "worker.log", tmp / "temporal.log"):
            if log.exists():
                tail = log.read_text(errors="replace").splitlines()[-LOG_TAIL:]
                print(f"--- last {len(tail)} lines of {log.name}", *tail, sep="\n")
        raise
    finally:
        catcher.stop()
        server.stop()


async def eventually(
    check: Callable[[], Awaitable[bool]], within: float, every: float = 1.0
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"not settled within {timedelta(seconds=within)}")
        await asyncio.sleep(every)
