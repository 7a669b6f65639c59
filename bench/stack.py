"""The stack a benchmark run owns: a Temporal dev server on free loopback ports (its own
SQLite file), the counting SMTP catcher, the product's worker and the baseline worker, each
in its own process, and a fresh read model with a program-sized roster."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import sqlite3
import sys
import tempfile
import time
import urllib.request
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from temporalio.client import Client

from bench.catcher import CountingCatcher
from parcours.infrastructure.codec import ensure_key_file, new_key
from parcours.infrastructure.config import AUDIT_KEY_FILE_NAME, Settings
from parcours.infrastructure.mail.catcher import free_port
from parcours.infrastructure.store.chain import AUDIT_KEYS_HEADER
from parcours.infrastructure.store.db import create_engine, session_factory
from parcours.infrastructure.store.migrate import upgrade
from parcours.infrastructure.store.officers import NewOfficer, add_officer
from parcours.infrastructure.temporal import connect
from parcours.infrastructure.worker import METRICS_ENV
from parcours.interfaces.devstack import (
    SQLITE_PRAGMAS,
    DevOptions,
    find_temporal_binary,
    server_command,
)
from parcours.kernel.domain import REGIONS

# `python worker.py`, as an operator runs it.
WORKER_PY = Path(__file__).resolve().parents[1] / "worker.py"

HOST = "127.0.0.1"
TASK_QUEUE = "bench-parcours"
BASELINE_QUEUE = "bench-baseline"
READY_TIMEOUT = 60.0
# The product's pragmas by default; `--pragma none` measures without them.
DEFAULT_PRAGMAS: tuple[str, ...] = SQLITE_PRAGMAS


@dataclass(frozen=True)
class StackOptions:
    pragmas: tuple[str, ...] = DEFAULT_PRAGMAS
    # Extra environment for the product's worker (cache size, concurrency): what we tune.
    worker_env: dict[str, str] = field(default_factory=dict)
    # Extra environment for the CLI commands the scenarios run (`parcours import`...).
    cli_env: dict[str, str] = field(default_factory=dict)
    keep: bool = False
    # Worker processes on each queue (the product's and the baseline's alike), as
    # `docker compose up --scale worker=N` runs them.
    workers: int = 1


def roster() -> list[NewOfficer]:
    """78 officers as the program has, spread over the regions (Montreal gets the most),
    one supervisor per region and two directors. Fake names and addresses."""
    officers: list[NewOfficer] = []
    regions = sorted(REGIONS)
    per_region = {r: 4 for r in regions}
    per_region["montreal"] = 14
    for region in regions:
        for i in range(per_region[region]):
            oid = f"o-{region[:12]}-{i}"
            langs = "fr,en,es" if i % 3 == 0 else ("fr,en,ar" if i % 3 == 1 else "fr,en")
            officers.append(NewOfficer(oid, f"Officer {oid}", f"{oid}@bench.test", region, langs))
        sid = f"s-{region[:12]}"
        officers.append(
            NewOfficer(sid, f"Supervisor {sid}", f"{sid}@bench.test", region, "fr,en", "supervisor")
        )
    for i in range(2):
        did = f"d-{i}"
        officers.append(
            NewOfficer(did, f"Director {did}", f"{did}@bench.test", "montreal", "fr", "director")
        )
    return officers


class ProcessGroup:
    """A group of processes (the workers on one queue), measured together: their resident
    memory summed, sampled every half second (peak per window), and the CPU time they used."""

    def __init__(self, *pids: int) -> None:
        self.pids = pids
        self.window_peak = 0
        self.peak = 0
        self.last = 0
        self._task: asyncio.Task[None] | None = None

    def read(self) -> int:
        return sum(_rss(pid) for pid in self.pids)

    def cpu_seconds(self) -> float:
        """CPU time the group has used so far (`cpu_seconds` of each)."""
        return sum(cpu_seconds(pid) for pid in self.pids)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    def reset_window(self) -> None:
        self.window_peak = self.read()

    async def _run(self) -> None:
        while True:
            self.last = self.read()
            self.window_peak = max(self.window_peak, self.last)
            self.peak = max(self.peak, self.last)
            await asyncio.sleep(0.5)

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()


@dataclass
class Stack:
    dir: Path
    client: Client
    settings: Settings
    env: dict[str, str]
    catcher: CountingCatcher
    workers: ProcessGroup
    baseline_workers: ProcessGroup
    # One per baseline worker process.
    baseline_counts_files: list[Path]
    pragmas: tuple[str, ...]
    worker_env: dict[str, str]
    # The SDK's Prometheus endpoints of the workers (PARCOURS_WORKER_METRICS), one per process.
    worker_metrics: list[str] = field(default_factory=list)
    baseline_metrics: list[str] = field(default_factory=list)
    # The dev server's process, for its CPU time (cpu_seconds).
    server_pid: int = 0

    def metrics(self, which: str = "worker") -> dict[str, float]:
        """The workers' (or the baseline's) SDK metrics, summed over their labels and
        processes ({} when one did not answer: a partial sum would read as a count)."""
        urls = self.worker_metrics if which == "worker" else self.baseline_metrics
        out: dict[str, float] = {}
        for url in urls:
            one = scrape(url)
            if not one:
                return {}
            for name, value in one.items():
                out[name] = out.get(name, 0.0) + value
        return out

    @property
    def read_model(self) -> Path:
        return self.dir / "parcours.db"

    def baseline_counts(self) -> dict[str, int]:
        """The baseline's activity counts, summed over its worker processes."""
        counts: dict[str, int] = {}
        for path in self.baseline_counts_files:
            try:
                one: dict[str, int] = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            for name, n in one.items():
                counts[name] = counts.get(name, 0) + n
        return counts

    def sql(self, query: str, params: Sequence[object] = ()) -> list[tuple[object, ...]]:
        """Read the read model directly (read-only, WAL lets us read while the worker writes)."""
        con = sqlite3.connect(f"file:{self.read_model}?mode=ro", uri=True, timeout=30)
        try:
            return list(con.execute(query, params).fetchall())
        finally:
            con.close()

    def count(self, query: str, params: Sequence[object] = ()) -> int:
        rows = self.sql(query, params)
        return int(rows[0][0]) if rows and rows[0][0] is not None else 0  # type: ignore[call-overload]

    async def cli(
        self, *args: str, env: dict[str, str] | None = None
    ) -> tuple[int, str, str, float]:
        """Run `parcours ARGS` as a person would, with `env` over the stack's environment;
        returns (code, stdout, stderr, seconds)."""
        started = time.perf_counter()
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "parcours.interfaces.cli.main",
            *args,
            env={**self.env, **(env or {})},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await proc.communicate()
        return (
            proc.returncode or 0,
            out.decode(errors="replace"),
            err.decode(errors="replace"),
            time.perf_counter() - started,
        )


def _rss(pid: int) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system, all threads) a process has used so far; 0.0 when it is gone.
    The measure of cost that holds on a shared machine, where wall time depends on the
    neighbours."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    # Fields after the command name (which may hold spaces, inside parentheses): utime and
    # stime are the 14th and 15th fields of the line, in clock ticks.
    fields = stat.rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def scrape(url: str) -> dict[str, float]:
    """Prometheus text format, each metric summed over its label sets ({} when unreachable)."""
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            text = resp.read().decode()
    except OSError:
        return {}
    out: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name_labels, _, value = line.rpartition(" ")
        name = name_labels.split("{", 1)[0]
        with contextlib.suppress(ValueError):
            out[name] = out.get(name, 0.0) + float(value)
    return out


def _env(base: dict[str, str], settings: Settings, smtp_port: int) -> dict[str, str]:
    env = dict(base)
    env.update(
        PARCOURS_TEMPORAL_ADDRESS=settings.temporal_address or "",
        PARCOURS_TASK_QUEUE=settings.task_queue,
        PARCOURS_DATABASE_URL=settings.database_url,
        PARCOURS_SMTP_HOST=HOST,
        PARCOURS_SMTP_PORT=str(smtp_port),
        PARCOURS_DATA_DIR=settings.data_dir,
        PARCOURS_AUDIT_KEY_FILE=settings.audit_key_file or "",
        PARCOURS_LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
        PARCOURS_CODEC_KEYS=settings.codec_keys or "",
        PARCOURS_SIGNING_KEYS=settings.signing_keys or "",
    )
    env.pop("PARCOURS_POLICY", None)
    return env


async def _spawn(
    args: list[str], env: dict[str, str], log: IO[bytes]
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *args,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )


async def _stop(proc: asyncio.subprocess.Process, within: float = 20.0) -> None:
    if proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(proc.wait(), within)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()


async def _connect(settings: Settings, proc: asyncio.subprocess.Process) -> Client:
    """A client as the interfaces have: the payload codec, and updates signed."""
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        if proc.returncode is not None:
            raise RuntimeError(f"the dev server exited with code {proc.returncode}")
        try:
            return await connect(settings)
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.3)


async def _seed(settings: Settings) -> None:
    engine = create_engine(settings.database_url)
    try:
        # The schema as the worker makes it (migrations), so the worker finds it current.
        await upgrade(engine)
        async with session_factory(engine)() as session, session.begin():
            for officer in roster():
                await add_officer(session, officer)
    finally:
        await engine.dispose()


async def _workers_ready(stack_dir: Path, client: Client, queue: str, count: int) -> None:
    """Wait until `count` workers poll the queue (a first poll shows in the queue's pollers,
    one identity per process)."""
    from temporalio.api.enums.v1 import TaskQueueType
    from temporalio.api.taskqueue.v1 import TaskQueue
    from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest

    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        resp = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=client.namespace,
                task_queue=TaskQueue(name=queue),
                task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
            )
        )
        if len({p.identity for p in resp.pollers}) >= count:
            return
        await asyncio.sleep(0.3)
    raise RuntimeError(
        f"fewer than {count} workers polled {queue} within {READY_TIMEOUT:g}s (logs: {stack_dir})"
    )


def _without_pragmas(cmd: list[str]) -> list[str]:
    """The product's server command less its pragmas, so a run can compare settings."""
    out: list[str] = []
    skip = False
    for arg in cmd:
        if skip:
            skip = False
        elif arg == "--sqlite-pragma":
            skip = True
        else:
            out.append(arg)
    return out


@contextlib.asynccontextmanager
async def running_stack(opts: StackOptions) -> AsyncIterator[Stack]:
    root = Path(tempfile.mkdtemp(prefix="parcours-bench-"))
    dev = DevOptions(
        data_dir=root,
        temporal_port=free_port(HOST),
        ui_port=free_port(HOST),
        host=HOST,
    )
    cmd = _without_pragmas(server_command(find_temporal_binary("temporal"), dev))
    cmd.append("--headless")
    for pragma in opts.pragmas:
        cmd += ["--sqlite-pragma", pragma]
    settings = Settings(
        temporal_address=dev.temporal_address,
        task_queue=TASK_QUEUE,
        database_url=f"sqlite+aiosqlite:///{root / 'parcours.db'}",
        data_dir=str(root),
        # The workers seal the audit trail with a key of the run's own (read from this file).
        audit_key_file=str(root / AUDIT_KEY_FILE_NAME),
        # The keys production runs with (the worker refuses to start without them).
        codec_keys=new_key("bench-payload").spec(),
        signing_keys=new_key("bench-signing").spec(),
    )
    ensure_key_file(Path(str(settings.audit_key_file)), "bench-1", header=AUDIT_KEYS_HEADER)
    server: asyncio.subprocess.Process | None = None
    workers: list[asyncio.subprocess.Process] = []
    samplers: list[ProcessGroup] = []
    catcher = CountingCatcher(HOST, stats=root / "catcher.json")
    catcher.start()
    logs: list[IO[bytes]] = []

    async def logged(name: str, args: list[str], env: dict[str, str]) -> asyncio.subprocess.Process:
        """A process of the stack, its output in `name`.log of the run's directory."""
        log = (root / f"{name}.log").open("ab")
        logs.append(log)
        return await _spawn(args, env, log)

    try:
        await _seed(settings)
        base_env = {k: v for k, v in os.environ.items() if not k.startswith("PARCOURS_")}
        env = _env(base_env, settings, catcher.port)
        server = await logged("temporal", cmd, env)
        client = await _connect(settings, server)

        worker_env = env | opts.worker_env
        ours: list[asyncio.subprocess.Process] = []
        theirs: list[asyncio.subprocess.Process] = []
        metrics_at: list[str] = []
        baseline_metrics_at: list[str] = []
        counts_files: list[Path] = []
        for i in range(opts.workers):
            suffix = "" if i == 0 else f"-{i + 1}"
            metrics_at.append(f"{HOST}:{free_port(HOST)}")
            baseline_metrics_at.append(f"{HOST}:{free_port(HOST)}")
            ours.append(
                await logged(
                    f"worker{suffix}",
                    # `python worker.py`, as an operator runs it.
                    [sys.executable, str(WORKER_PY)],
                    worker_env | {METRICS_ENV: metrics_at[-1]},
                )
            )
            counts_files.append(root / f"baseline-counts{suffix}.json")
            baseline = ["-m", "bench.baseline.worker", dev.temporal_address, BASELINE_QUEUE]
            theirs.append(
                await logged(
                    f"baseline{suffix}",
                    [sys.executable, *baseline, str(counts_files[-1])],
                    worker_env | {METRICS_ENV: baseline_metrics_at[-1]},
                )
            )
        workers += ours + theirs
        await _workers_ready(root, client, TASK_QUEUE, opts.workers)
        await _workers_ready(root, client, BASELINE_QUEUE, opts.workers)
        our_group = ProcessGroup(*(p.pid for p in ours))
        their_group = ProcessGroup(*(p.pid for p in theirs))
        samplers += [our_group, their_group]
        for s in samplers:
            s.start()
        yield Stack(
            dir=root,
            client=client,
            settings=settings,
            env=env | opts.cli_env,
            catcher=catcher,
            workers=our_group,
            baseline_workers=their_group,
            baseline_counts_files=counts_files,
            pragmas=opts.pragmas,
            worker_env=opts.worker_env,
            worker_metrics=[f"http://{at}/metrics" for at in metrics_at],
            baseline_metrics=[f"http://{at}/metrics" for at in baseline_metrics_at],
            server_pid=server.pid,
        )
    finally:
        for s in samplers:
            s.stop()
        # Workers first, together (each drains for up to 20 s on SIGTERM: after Ctrl-C in the
        # middle of a scenario one after the other took most of a minute), the server last.
        await asyncio.gather(*(_stop(proc) for proc in workers))
        if server is not None:
            await _stop(server)
        catcher.stop()
        for log in logs:
            log.close()
        if not opts.keep:
            shutil.rmtree(root, ignore_errors=True)
