"""All configuration in one place: environment variables with sane local defaults.

Every process (worker, CLI, dev stack, web) reads its settings through `Settings.from_env()`,
so the list below is the complete set of knobs an operator has.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

DEFAULT_TASK_QUEUE = "parcours"
DEFAULT_DATA_DIR = ".parcours"
AUDIT_KEY_FILE_NAME = "audit.keys"


def default_database_url(data_dir: str | os.PathLike[str] = DEFAULT_DATA_DIR) -> str:
    return f"sqlite+aiosqlite:///{Path(data_dir).resolve() / 'parcours.db'}"


@dataclass(frozen=True)
class Settings:
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    task_queue: str = DEFAULT_TASK_QUEUE
    database_url: str = field(default_factory=default_database_url)
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    mail_from: str = "Parcours <parcours@immigration.quebec.example>"
    policy_path: str | None = None
    data_dir: str = DEFAULT_DATA_DIR
    templates_dir: Path = REPO_ROOT / "templates"
    # Payload encryption (infrastructure/codec.py): keys inline, or a key file; with neither, the
    # data dir's key file if `parcours dev` made one. None: payloads are NOT encrypted.
    codec_keys: str | None = None
    codec_key_file: str | None = None
    # The codec server (for the Temporal UI and CLI): bearer token and allowed UI origins.
    codec_token: str | None = None
    codec_cors_origins: tuple[str, ...] = ("http://localhost:8080", "http://127.0.0.1:8233")
    codec_port: int = 8081
    # Personal data of a closed case is purged from the read model this many days later.
    retention_days: int = 730
    # TLS (and mTLS) to the Temporal frontend: file paths. Any of them set turns TLS on.
    temporal_tls: bool = False
    temporal_tls_cert: str | None = None
    temporal_tls_key: str | None = None
    temporal_tls_ca: str | None = None
    temporal_tls_server_name: str | None = None
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
    signing_keys: str | None = None
    signing_key_file: str | None = None
    # Email redelivery (activities/notify.py). An email whose attempt died mid-SMTP exchange is
    # sent again, same Message-ID, once this many seconds have passed since that attempt
    # claimed it: longer than an attempt can take (SMTP exchange + recording it), so the
    # first can no longer be in flight. After `mail_max_resends` it is `failed` and the
    # region's supervisors are told.
    mail_resend_lease_s: float = 600.0
    mail_max_resends: int = 3

    @classmethod
    def from_env(cls, env: os._Environ[str] | dict[str, str] | None = None) -> Settings:
        e = os.environ if env is None else env
        data_dir = e.get("PARCOURS_DATA_DIR", DEFAULT_DATA_DIR)
        return cls(
            temporal_address=e.get("PARCOURS_TEMPORAL_ADDRESS", cls.temporal_address),
            temporal_namespace=e.get("PARCOURS_TEMPORAL_NAMESPACE", cls.temporal_namespace),
            task_queue=e.get("PARCOURS_TASK_QUEUE", cls.task_queue),
            database_url=e.get("PARCOURS_DATABASE_URL") or default_database_url(data_dir),
            smtp_host=e.get("PARCOURS_SMTP_HOST", cls.smtp_host),
            smtp_port=int(e.get("PARCOURS_SMTP_PORT", cls.smtp_port)),
            smtp_username=e.get("PARCOURS_SMTP_USERNAME") or None,
            smtp_password=e.get("PARCOURS_SMTP_PASSWORD") or None,
            smtp_starttls=e.get("PARCOURS_SMTP_STARTTLS", "").lower() in ("1", "true", "yes"),
            mail_from=e.get("PARCOURS_MAIL_FROM", cls.mail_from),
            policy_path=e.get("PARCOURS_POLICY") or None,
            data_dir=data_dir,
            templates_dir=Path(e.get("PARCOURS_TEMPLATES", str(REPO_ROOT / "templates"))),
            codec_keys=e.get("PARCOURS_CODEC_KEYS") or None,
            codec_key_file=e.get("PARCOURS_CODEC_KEY_FILE") or _local_key_file(data_dir),
            codec_token=e.get("PARCOURS_CODEC_TOKEN") or None,
            codec_cors_origins=tuple(
                o.strip() for o in e.get("PARCOURS_CODEC_CORS_ORIGINS", "").split(",") if o.strip()
            )
            or cls.codec_cors_origins,
            codec_port=int(e.get("PARCOURS_CODEC_PORT", cls.codec_port)),
            retention_days=int(e.get("PARCOURS_RETENTION_DAYS", cls.retention_days)),
            temporal_tls=_flag(e.get("PARCOURS_TEMPORAL_TLS", "")),
            temporal_tls_cert=e.get("PARCOURS_TEMPORAL_TLS_CERT") or None,
            temporal_tls_key=e.get("PARCOURS_TEMPORAL_TLS_KEY") or None,
            temporal_tls_ca=e.get("PARCOURS_TEMPORAL_TLS_CA") or None,
            temporal_tls_server_name=e.get("PARCOURS_TEMPORAL_TLS_SERVER_NAME") or None,
            secure_cookies=e.get("PARCOURS_SECURE_COOKIES", "1").strip().lower()
            not in ("0", "false", "no", "off"),
            session_idle_minutes=int(e.get("PARCOURS_SESSION_IDLE_MINUTES", 30)),
            session_max_hours=int(e.get("PARCOURS_SESSION_MAX_HOURS", 12)),
            signin_max_failures=int(e.get("PARCOURS_SIGNIN_MAX_FAILURES", 5)),
            signin_max_failures_per_address=int(
                e.get("PARCOURS_SIGNIN_MAX_FAILURES_PER_ADDRESS", 20)
            ),
            signin_window_minutes=int(e.get("PARCOURS_SIGNIN_WINDOW_MINUTES", 15)),
            audit_keys=e.get("PARCOURS_AUDIT_KEYS") or None,
            audit_key_file=e.get("PARCOURS_AUDIT_KEY_FILE")
            or _local_key_file(data_dir, AUDIT_KEY_FILE_NAME),
            signing_keys=e.get("PARCOURS_SIGNING_KEYS") or None,
            signing_key_file=e.get("PARCOURS_SIGNING_KEY_FILE")
            or _local_key_file(data_dir, "signing.keys"),
            mail_resend_lease_s=float(
                e.get("PARCOURS_MAIL_RESEND_LEASE_S", cls.mail_resend_lease_s)
            ),
            mail_max_resends=int(e.get("PARCOURS_MAIL_MAX_RESENDS", cls.mail_max_resends)),
        )

    @property
    def tls_enabled(self) -> bool:
        return self.temporal_tls or any(
            (self.temporal_tls_cert, self.temporal_tls_key, self.temporal_tls_ca)
        )


def _flag(raw: str) -> bool:
    return raw.strip().lower() in ("1", "true", "yes")


def _local_key_file(data_dir: str, name: str = "codec.keys") -> str | None:
    """A key file `parcours dev` writes under its data dir, when it exists: so the CLI in
    another terminal reads the cases the dev stack encrypted, signs what it sends and
    verifies its audit chain."""
    path = Path(data_dir) / name
    return str(path) if path.is_file() else None
