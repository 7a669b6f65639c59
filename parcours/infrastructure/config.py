"""All configuration in one place: environment variables with sane local defaults.

Every process (worker, CLI, dev stack, web, codec server) reads its settings through
`Settings.from_env()`, and no other module reads a `PARCOURS_*` variable
(tests/infrastructure/test_config.py scans the source). `KNOBS` below is the complete set an
operator has; the README's "Configuration" table is printed from it
(`python -m parcours.infrastructure.config`) and a test keeps the two equal.

Cheap to import on purpose: the CLI reads its settings before it knows whether the command
needs SQLAlchemy or Temporal, so nothing heavy is imported here.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from parcours.kernel.errors import ParcoursError
from parcours.kernel.inputs import DAYS_AHEAD, DAYS_BACK, ArrivalWindow, shown
from parcours.kernel.messages import Message

REPO_ROOT = Path(__file__).resolve().parents[2]

DEFAULT_TASK_QUEUE = "parcours"
DEFAULT_DATA_DIR = ".parcours"
AUDIT_KEY_FILE_NAME = "audit.keys"
# Where Temporal is when neither PARCOURS_TEMPORAL_* nor the SDK's TEMPORAL_* say (temporal.py).
DEFAULT_TEMPORAL_ADDRESS = "127.0.0.1:7233"
DEFAULT_TEMPORAL_NAMESPACE = "default"
SANDBOX_MODES = ("shared", "isolated")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
DEFAULT_DEMO_PASSWORD = "parcours-demo"
# Where staff open a case from an email: the dev console's address unless told otherwise.
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"
# The SDK's own client variables (temporalio.envconfig): kept for `connect`, never read by us.
TEMPORAL_ENV_PREFIX = "TEMPORAL_"

Env = Mapping[str, str]


class ConfigError(ParcoursError):
    """A setting with a value that cannot be used; the message names the variable."""


def _refused(name: str, raw: str, expected: str, code: str, **params: object) -> ConfigError:
    """A bad value of `name`: the English line for logs, and refusal `setting_<code>` (with
    the variable, the value as given and `params`) for the reader's language."""
    return ConfigError(
        f"{name}={raw!r}: expected {expected}",
        refusal=Message.of(f"setting_{code}", name=name, value=shown(raw), **params),
    )


@dataclass(frozen=True)
class Knob:
    """One environment variable: the README's "Configuration" table is made of these."""

    name: str
    default: str
    what: str
    read_by: str


KNOBS: tuple[Knob, ...] = (
    Knob("PARCOURS_TEMPORAL_ADDRESS", "`TEMPORAL_ADDRESS`, else `127.0.0.1:7233`",
         "Temporal frontend `host:port`", "all"),
    Knob("PARCOURS_TEMPORAL_NAMESPACE", "`TEMPORAL_NAMESPACE`, else `default`",
         "Temporal namespace", "all"),
    Knob("PARCOURS_TEMPORAL_TLS", "unset", "`1`: TLS with the system's roots; `0`: plain "
         "gRPC even if a `TEMPORAL_*` profile asks for TLS", "all"),
    Knob("PARCOURS_TEMPORAL_TLS_CA", "unset", "PEM file of the CA to trust; turns TLS on",
         "all"),
    Knob("PARCOURS_TEMPORAL_TLS_CERT", "unset", "PEM client certificate (mTLS); turns TLS on",
         "all"),
    Knob("PARCOURS_TEMPORAL_TLS_KEY", "unset", "PEM client key (mTLS); turns TLS on", "all"),
    Knob("PARCOURS_TEMPORAL_TLS_SERVER_NAME", "unset", "TLS server name (SNI) override", "all"),
    Knob("PARCOURS_TASK_QUEUE", "`parcours`", "task queue of the cases", "all"),
    Knob("PARCOURS_DATABASE_URL", "SQLite in the data dir",
         "read model, e.g. `postgresql+asyncpg://user:password@host:5432/parcours`", "all"),
    Knob("PARCOURS_DATA_DIR", "`.parcours`",
         "local state of `parcours dev` (SQLite, key files, mail, web secret)", "all"),
    Knob("PARCOURS_SMTP_HOST", "`127.0.0.1`", "SMTP relay", "worker"),
    Knob("PARCOURS_SMTP_PORT", "`1025`", "SMTP port", "worker"),
    Knob("PARCOURS_SMTP_USERNAME", "unset", "SMTP login", "worker"),
    Knob("PARCOURS_SMTP_PASSWORD", "unset", "SMTP password (secret store)", "worker"),
    Knob("PARCOURS_SMTP_STARTTLS", "off", "`1`: STARTTLS to the relay", "worker"),
    Knob("PARCOURS_MAIL_FROM", "`Parcours <parcours@immigration.quebec.example>`",
         "sender of the emails", "worker"),
    Knob("PARCOURS_MAIL_RESEND_LEASE_S", "`600`", "seconds before an email whose attempt died "
         "mid-SMTP is sent again, same Message-ID (\"Emails\")", "worker"),
    Knob("PARCOURS_MAIL_MAX_RESENDS", "`3`",
         "resends before an email is `failed` and the supervisors told", "worker"),
    Knob("PARCOURS_POLICY", "the packaged policy", "policy TOML for new cases (\"Policy\")",
         "worker, CLI, web"),
    Knob("PARCOURS_TEMPLATES", "`templates/`", "email templates folder", "worker"),
    Knob("PARCOURS_PUBLIC_URL", "`http://127.0.0.1:8000`", "the console's address as staff "
         "reach it: staff emails link to `<url>/cases/<dossier>`",
         "worker, `reconcile`"),
    Knob("PARCOURS_NEWCOMER_LINK_DAYS", "`60`", "days a newcomer's personal link "
         "(`<url>/n/<token>`, in the welcome email) stays good", "worker, web"),
    Knob("PARCOURS_CODEC_KEYS", "unset", "payload keys `kid:base64,...`, current first",
         "all"),
    Knob("PARCOURS_CODEC_KEY_FILE", "`<data-dir>/codec.keys` if it exists",
         "payload keys, one per line", "all"),
    Knob("PARCOURS_CODEC_TOKEN", "unset", "bearer token(s), comma-separated", "codec server"),
    Knob("PARCOURS_CODEC_CORS_ORIGINS", "`http://localhost:8080,http://127.0.0.1:8233`",
         "the Temporal UI's origin(s)", "codec server"),
    Knob("PARCOURS_CODEC_PORT", "`8081`", "codec server port", "codec server"),
    Knob("PARCOURS_AUDIT_KEYS", "unset", "keys that seal the audit trail (`kid:base64`, current "
         "first); the worker does not start without one (\"Audit trail\")",
         "worker, `db upgrade`, `audit verify`"),
    Knob("PARCOURS_AUDIT_KEY_FILE", "`<data-dir>/audit.keys` if it exists",
         "audit keys, one per line", "worker, `db upgrade`, `audit verify`"),
    Knob("PARCOURS_SIGNING_KEYS", "unset", "keys that sign officers' updates, current first "
         "(\"Signed actions\")", "worker, CLI, web"),
    Knob("PARCOURS_SIGNING_KEY_FILE", "`<data-dir>/signing.keys` if it exists",
         "signing keys, one per line", "worker, CLI, web"),
    Knob("PARCOURS_RETENTION_DAYS", "`730`",
         "days after closure before personal data is purged", "`retention install`"),
    Knob("PARCOURS_WORKER_CACHE", "`1000`",
         "cases kept in the worker's workflow cache (about 0.1 MB each, more while garbage "
         "awaits a collection, \"Performance\"; 0: none)", "worker"),
    Knob("PARCOURS_WORKER_GC_YOUNG", "`700`", "allocations between two young collections "
         "of the worker's garbage collector (CPython's own; larger: rarer but longer full "
         "collections, which hold officers' actions, and more memory, \"Performance\")",
         "worker"),
    Knob("PARCOURS_WORKER_WORKFLOW_TASKS", "`100`", "workflow tasks the worker runs at once "
         "(the SDK's default; fewer suit a bulk import but make officers wait, \"Performance\")",
         "worker"),
    Knob(
        "PARCOURS_WORKER_ACTIVITIES",
        "`100`",
        "activities the worker runs at once (and, apart, local activities)",
        "worker",
    ),
    Knob("PARCOURS_WORKER_METRICS", "unset", "`host:port` where the worker serves the SDK's "
         "Prometheus metrics (task slots, latencies, cache hits and evictions)", "worker"),
    Knob("PARCOURS_WORKFLOW_SANDBOX", "`shared`", "`shared`: the workflow modules are imported "
         "once for all cases; `isolated`: again for every case (\"The sandbox\")", "worker"),
    Knob("PARCOURS_LOG_LEVEL", "`INFO`", "log level of the long-running processes",
         "worker, `dev`, `web`"),
    Knob("PARCOURS_DEBUG", "off", "`1`: an unexpected error prints its traceback", "CLI"),
    Knob("PARCOURS_WEB_PORT", "`8000`", "port of the web console", "`web`, `dev`"),
    Knob("PARCOURS_WEB_SECRET", "generated into the data dir",
         "signs the sign-in form's token cookie", "web"),
    Knob("PARCOURS_SECURE_COOKIES", "on", "`0`: no `Secure` cookie and no HSTS (plain-http "
         "hosts only; `parcours dev` turns it off)", "web"),
    Knob("PARCOURS_SESSION_IDLE_MINUTES", "`30`", "a console session ends after this long "
         "without a request", "web"),
    Knob("PARCOURS_SESSION_MAX_HOURS", "`12`", "a console session ends this long after sign-in",
         "web"),
    Knob("PARCOURS_SIGNIN_MAX_FAILURES", "`5`",
         "failed sign-ins of one login, within the window, that lock it", "web"),
    Knob("PARCOURS_SIGNIN_MAX_FAILURES_PER_ADDRESS", "`20`",
         "failed sign-ins from one client address that lock it", "web"),
    Knob("PARCOURS_SIGNIN_WINDOW_MINUTES", "`15`", "the sign-in throttle's window", "web"),
    Knob("PARCOURS_DEMO_PASSWORD", "`parcours-demo`",
         "password `parcours dev` gives the demo roster", "`dev`"),
    Knob("PARCOURS_LANGUAGE", "`fr`", "language of the CLI's messages: `fr` or `en`", "CLI"),
    Knob("PARCOURS_ARRIVAL_DAYS_BACK", "`365`", "a new case's arrival date is at most this many "
         "days back", "CLI, web, worker"),
    Knob("PARCOURS_ARRIVAL_DAYS_AHEAD", "`730`", "a new case's arrival date is at most this "
         "many days ahead", "CLI, web, worker"),
    Knob("PARCOURS_INTAKE_PACING", "on", "`0`: a bulk import starts cases as fast as Temporal "
         "takes them instead of keeping only a few opening at once (\"Officers first\")",
         "CLI, web"),
    Knob("PARCOURS_INTAKE_QUEUE", "`5`", "openings a paced import lets wait, at most (it grows "
         "its window while fewer than half wait): fewer put officers first, more put intake "
         "first (\"Officers first: pacing the import\")", "CLI, web"),
)  # fmt: skip
# The languages the CLI speaks (the catalogue has both complete).
CLI_LANGUAGES = ("fr", "en")

KNOWN = frozenset(k.name for k in KNOBS)


def default_database_url(data_dir: str | os.PathLike[str] = DEFAULT_DATA_DIR) -> str:
    return f"sqlite+aiosqlite:///{Path(data_dir).resolve() / 'parcours.db'}"


@dataclass(frozen=True)
class Settings:
    # Temporal. None: not set here, so the SDK's TEMPORAL_* variables and profile decide, else
    # the defaults above (parcours/infrastructure/temporal.py `resolve_target`).
    temporal_address: str | None = None
    temporal_namespace: str | None = None
    task_queue: str = DEFAULT_TASK_QUEUE
    database_url: str = field(default_factory=default_database_url)
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_username: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    smtp_starttls: bool = False
    mail_from: str = "Parcours <parcours@immigration.quebec.example>"
    policy_path: str | None = None
    data_dir: str = DEFAULT_DATA_DIR
    templates_dir: Path = REPO_ROOT / "templates"
    # The console's address as staff reach it (behind the ministry's proxy in production).
    public_url: str = DEFAULT_PUBLIC_URL
    # How long a newcomer's personal link stays good (infrastructure/newcomer_links.py).
    newcomer_link_days: int = 60
    # Payload encryption (infrastructure/codec.py): keys inline, or a key file; with neither, the
    # data dir's key file if `parcours dev` made one. None: payloads are NOT encrypted.
    codec_keys: str | None = field(default=None, repr=False)
    codec_key_file: str | None = None
    # The codec server (for the Temporal UI and CLI): bearer token and allowed UI origins.
    codec_token: str | None = field(default=None, repr=False)
    codec_cors_origins: tuple[str, ...] = ("http://localhost:8080", "http://127.0.0.1:8233")
    codec_port: int = 8081
    # Personal data of a closed case is purged from the read model this many days later.
    retention_days: int = 730
    # TLS (and mTLS) to the Temporal frontend: file paths. Any of them set turns TLS on.
    # `temporal_tls` None: not said here (a TEMPORAL_* profile may turn TLS on).
    temporal_tls: bool | None = None
    temporal_tls_cert: str | None = None
    temporal_tls_key: str | None = None
    temporal_tls_ca: str | None = None
    temporal_tls_server_name: str | None = None
    # The TEMPORAL_* variables of the process, for the SDK's envconfig under `connect`. None
    # (settings built in code: tests, `parcours dev`): the SDK's variables and profile files
    # are not consulted at all. repr=False: TEMPORAL_API_KEY is a secret.
    temporal_env: Mapping[str, str] | None = field(default=None, repr=False, compare=False)
    # Web console sessions and sign-in (interfaces/web/sessions.py, throttle.py). The cookie is
    # Secure and HSTS is sent unless turned off: only `parcours dev` (plain http on loopback)
    # and a plain-http staging host should turn it off.
    secure_cookies: bool = True
    session_idle_minutes: int = 30
    session_max_hours: int = 12
    # Sign-in throttle: this many failures within the window lock a login (or, with the
    # larger figure, a client address: many people may share one office's address).
    signin_max_failures: int = 5
    signin_max_failures_per_address: int = 20
    signin_window_minutes: int = 15
    # Audit-chain HMAC keys (infrastructure/store/chain.py): kept outside the database, so that
    # whoever can only write to the database cannot forge a chained row. Same formats as the
    # codec keys; with neither, the data dir's audit.keys if `parcours dev` made one.
    audit_keys: str | None = field(default=None, repr=False)
    audit_key_file: str | None = None
    # Signing keys for the updates the interfaces send (infrastructure/signing.py): inline, or a key
    # file; with neither, the data dir's `signing.keys` if `parcours dev` made one.
    signing_keys: str | None = field(default=None, repr=False)
    signing_key_file: str | None = None
    # Email redelivery (activities/notify.py). An email whose attempt died mid-SMTP exchange is
    # sent again, same Message-ID, once this many seconds have passed since that attempt
    # claimed it: longer than an attempt can take (SMTP exchange + recording it), so the
    # first can no longer be in flight. After `mail_max_resends` it is `failed` and the
    # region's supervisors are told.
    mail_resend_lease_s: float = 600.0
    mail_max_resends: int = 3
    # The worker (infrastructure/worker.py): workflow cache, task slots, metrics endpoint and
    # how the sandbox imports our modules. See the README table for what each costs.
    worker_cache: int = 1000
    # Allocations between two young collections of the worker's collector: CPython's own
    # (infrastructure/heap.py says why a larger one was tried and not kept).
    worker_gc_young: int = 700
    worker_workflow_tasks: int = 100
    worker_activities: int = 100
    worker_metrics: str | None = None
    workflow_sandbox: str = SANDBOX_MODES[0]
    log_level: str = "INFO"
    debug: bool = False
    # The web console: its port, the secret of its sign-in cookie (None: generated into the
    # data dir, interfaces/web/state.py) and the demo roster's password under `parcours dev`.
    web_port: int = 8000
    web_secret: str | None = field(default=None, repr=False)
    demo_password: str = field(default=DEFAULT_DEMO_PASSWORD, repr=False)
    # The language of the CLI's messages (another interface follows its reader's choice).
    language: str = CLI_LANGUAGES[0]
    # The arrival dates a new case accepts, around the day it is opened (kernel/inputs.py).
    arrival_days_back: int = DAYS_BACK
    arrival_days_ahead: int = DAYS_AHEAD
    # A bulk import keeps only a few cases opening at once (application/start_many.py), so
    # that officers' actions do not queue behind it.
    intake_pacing: bool = True
    # Openings it lets wait: the measured trade between officers' latency and intake's rate.
    # 5: the smallest queue that kept intake at its target (0.5 x the bare baseline) in the
    # full runs of 2026-12-04, at the cost of an approval's p99 at 3.0-3.4 x idle (4 kept it
    # under 3 x and intake under its target; README, "Performance").
    intake_queue: int = 5

    def arrival_window(self, today: date) -> ArrivalWindow:
        return ArrivalWindow(today, self.arrival_days_back, self.arrival_days_ahead)

    @classmethod
    def from_env(cls, env: Env | None = None) -> Settings:
        """The settings the environment (or `env`) gives; a bad value is a `ConfigError`
        naming the variable."""
        e = os.environ if env is None else env
        get = _getter(e)
        data_dir = get("PARCOURS_DATA_DIR") or DEFAULT_DATA_DIR
        return cls(
            temporal_address=get("PARCOURS_TEMPORAL_ADDRESS") or None,
            temporal_namespace=get("PARCOURS_TEMPORAL_NAMESPACE") or None,
            task_queue=get("PARCOURS_TASK_QUEUE") or cls.task_queue,
            database_url=get("PARCOURS_DATABASE_URL") or default_database_url(data_dir),
            smtp_host=get("PARCOURS_SMTP_HOST") or cls.smtp_host,
            smtp_port=_port(get, "PARCOURS_SMTP_PORT", cls.smtp_port),
            smtp_username=get("PARCOURS_SMTP_USERNAME") or None,
            smtp_password=get("PARCOURS_SMTP_PASSWORD") or None,
            smtp_starttls=_flag(get("PARCOURS_SMTP_STARTTLS")),
            mail_from=get("PARCOURS_MAIL_FROM") or cls.mail_from,
            policy_path=get("PARCOURS_POLICY") or None,
            data_dir=data_dir,
            templates_dir=Path(get("PARCOURS_TEMPLATES") or REPO_ROOT / "templates"),
            public_url=_web_address(get, "PARCOURS_PUBLIC_URL", cls.public_url),
            newcomer_link_days=_whole(
                get, "PARCOURS_NEWCOMER_LINK_DAYS", cls.newcomer_link_days, 1
            ),
            codec_keys=get("PARCOURS_CODEC_KEYS") or None,
            codec_key_file=get("PARCOURS_CODEC_KEY_FILE") or _local_key_file(data_dir),
            codec_token=get("PARCOURS_CODEC_TOKEN") or None,
            codec_cors_origins=tuple(
                o.strip()
                for o in (get("PARCOURS_CODEC_CORS_ORIGINS") or "").split(",")
                if o.strip()
            )
            or cls.codec_cors_origins,
            codec_port=_port(get, "PARCOURS_CODEC_PORT", cls.codec_port),
            retention_days=_whole(get, "PARCOURS_RETENTION_DAYS", cls.retention_days, 1),
            temporal_tls=_tristate(get, "PARCOURS_TEMPORAL_TLS"),
            temporal_tls_cert=get("PARCOURS_TEMPORAL_TLS_CERT") or None,
            temporal_tls_key=get("PARCOURS_TEMPORAL_TLS_KEY") or None,
            temporal_tls_ca=get("PARCOURS_TEMPORAL_TLS_CA") or None,
            temporal_tls_server_name=get("PARCOURS_TEMPORAL_TLS_SERVER_NAME") or None,
            temporal_env={k: v for k, v in e.items() if k.startswith(TEMPORAL_ENV_PREFIX)},
            secure_cookies=(get("PARCOURS_SECURE_COOKIES") or "1").strip().lower()
            not in ("0", "false", "no", "off"),
            session_idle_minutes=_whole(
                get, "PARCOURS_SESSION_IDLE_MINUTES", cls.session_idle_minutes, 1
            ),
            session_max_hours=_whole(get, "PARCOURS_SESSION_MAX_HOURS", cls.session_max_hours, 1),
            signin_max_failures=_whole(
                get, "PARCOURS_SIGNIN_MAX_FAILURES", cls.signin_max_failures, 1
            ),
            signin_max_failures_per_address=_whole(
                get,
                "PARCOURS_SIGNIN_MAX_FAILURES_PER_ADDRESS",
                cls.signin_max_failures_per_address,
                1,
            ),
            signin_window_minutes=_whole(
                get, "PARCOURS_SIGNIN_WINDOW_MINUTES", cls.signin_window_minutes, 1
            ),
            audit_keys=get("PARCOURS_AUDIT_KEYS") or None,
            audit_key_file=get("PARCOURS_AUDIT_KEY_FILE")
            or _local_key_file(data_dir, AUDIT_KEY_FILE_NAME),
            signing_keys=get("PARCOURS_SIGNING_KEYS") or None,
            signing_key_file=get("PARCOURS_SIGNING_KEY_FILE")
            or _local_key_file(data_dir, "signing.keys"),
            mail_resend_lease_s=_seconds(
                get, "PARCOURS_MAIL_RESEND_LEASE_S", cls.mail_resend_lease_s
            ),
            mail_max_resends=_whole(get, "PARCOURS_MAIL_MAX_RESENDS", cls.mail_max_resends, 0),
            worker_cache=_whole(
                get,
                "PARCOURS_WORKER_CACHE",
                cls.worker_cache,
                0,
                " (0 disables the cache)",
                code="cache",
            ),
            worker_gc_young=_between(
                get, "PARCOURS_WORKER_GC_YOUNG", cls.worker_gc_young, 100, GC_THRESHOLD_MAX
            ),
            worker_workflow_tasks=_whole(
                get, "PARCOURS_WORKER_WORKFLOW_TASKS", cls.worker_workflow_tasks, 2
            ),
            worker_activities=_whole(get, "PARCOURS_WORKER_ACTIVITIES", cls.worker_activities, 1),
            worker_metrics=_host_port(get, "PARCOURS_WORKER_METRICS"),
            workflow_sandbox=_choice(get, "PARCOURS_WORKFLOW_SANDBOX", SANDBOX_MODES),
            log_level=_choice(get, "PARCOURS_LOG_LEVEL", LOG_LEVELS, default="INFO", upper=True),
            debug=_flag(get("PARCOURS_DEBUG")),
            web_port=_port(get, "PARCOURS_WEB_PORT", cls.web_port),
            web_secret=get("PARCOURS_WEB_SECRET") or None,
            demo_password=get("PARCOURS_DEMO_PASSWORD") or DEFAULT_DEMO_PASSWORD,
            language=language(e),
            arrival_days_back=_whole(get, "PARCOURS_ARRIVAL_DAYS_BACK", cls.arrival_days_back, 0),
            arrival_days_ahead=_whole(
                get, "PARCOURS_ARRIVAL_DAYS_AHEAD", cls.arrival_days_ahead, 0
            ),
            intake_pacing=_tristate(get, "PARCOURS_INTAKE_PACING") is not False,
            intake_queue=_whole(get, "PARCOURS_INTAKE_QUEUE", cls.intake_queue, 1),
        )

    @property
    def tls_enabled(self) -> bool:
        """TLS asked for by PARCOURS_TEMPORAL_TLS* (a TEMPORAL_* profile may ask too)."""
        return bool(self.temporal_tls) or any(
            (self.temporal_tls_cert, self.temporal_tls_key, self.temporal_tls_ca)
        )


Get = Callable[[str], str | None]


def language(env: Env | None = None) -> str:
    """The CLI's language (PARCOURS_LANGUAGE: fr or en, French by default). Read on its own
    as well as in `Settings`, so that the CLI can word even a broken setting's error."""
    return _choice(_getter(os.environ if env is None else env), "PARCOURS_LANGUAGE", CLI_LANGUAGES)


def _getter(env: Env) -> Get:
    def get(name: str) -> str | None:
        # A name missing from KNOBS would be a setting the README does not document.
        assert name in KNOWN, f"{name} is not in config.KNOBS"
        return env.get(name)

    return get


def _flag(raw: str | None) -> bool:
    return (raw or "").strip().lower() in ("1", "true", "yes")


def _tristate(get: Get, name: str) -> bool | None:
    raw = (get(name) or "").strip().lower()
    if not raw:
        return None
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise _refused(name, raw, "1 or 0", "flag")


def _number(
    get: Get,
    name: str,
    default: int,
    accept: Callable[[int], bool],
    expected: str,
    code: str,
    **params: object,
) -> int:
    raw = get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or not accept(value):
        raise _refused(name, raw, expected, code, **params)
    return value


def _whole(
    get: Get, name: str, default: int, least: int, hint: str = "", code: str = "whole"
) -> int:
    hint = hint or ("" if least <= 0 else f" of at least {least}")
    return _number(
        get, name, default, lambda v: v >= least, f"a whole number{hint}", code, least=least
    )


# gc.set_threshold takes a C int: anything larger is an OverflowError at the worker's start.
GC_THRESHOLD_MAX = 2**31 - 1


def _between(get: Get, name: str, default: int, least: int, most: int) -> int:
    return _number(
        get,
        name,
        default,
        lambda v: least <= v <= most,
        f"a whole number from {least} to {most}",
        "range",
        least=least,
        most=most,
    )


def _port(get: Get, name: str, default: int) -> int:
    return _number(get, name, default, lambda v: 1 <= v <= 65535, "a port number 1-65535", "port")


def _seconds(get: Get, name: str, default: float) -> float:
    raw = get(name)
    if raw is None:
        return default
    try:
        return float(raw)
    except ValueError:
        raise _refused(name, raw, "a number of seconds", "seconds") from None


def _host_port(get: Get, name: str) -> str | None:
    raw = (get(name) or "").strip()
    if not raw:
        return None
    host, _, port = raw.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise _refused(name, raw, "host:port, e.g. 127.0.0.1:9464", "host_port")
    return raw


def _choice(
    get: Get,
    name: str,
    choices: tuple[str, ...],
    *,
    default: str | None = None,
    upper: bool = False,
) -> str:
    raw = get(name)
    if raw is None:
        return default or choices[0]
    value = raw.strip().upper() if upper else raw.strip().lower()
    if value not in choices:
        raise _refused(
            name, raw, f"one of {', '.join(choices)}", "choice", choices=", ".join(choices)
        )
    return value


def _local_key_file(data_dir: str, name: str = "codec.keys") -> str | None:
    """A key file `parcours dev` writes under its data dir, when it exists: so the CLI in
    another terminal reads the cases the dev stack encrypted, signs what it sends and
    verifies its audit chain."""
    path = Path(data_dir) / name
    return str(path) if path.is_file() else None


def markdown_table() -> str:
    """The README's "Configuration" table."""
    rows = ["| variable | default | what | read by |", "|---|---|---|---|"]
    rows += [f"| `{k.name}` | {k.default} | {k.what} | {k.read_by} |" for k in KNOBS]
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown_table())


def _web_address(get: Get, name: str, default: str) -> str:
    """An http(s) address with a host and no trailing slash ("https://parcours.example")."""
    raw = (get(name) or "").strip()
    if not raw:
        return default
    scheme, _, rest = raw.partition("://")
    if scheme.lower() not in ("http", "https") or not rest.strip("/"):
        raise _refused(name, raw, "an http(s) address like https://host", "address")
    return raw.rstrip("/")
