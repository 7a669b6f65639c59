"""All configuration in one place: environment variables with sane local defaults.

Every process (worker, CLI, dev stack, web) reads its settings through `Settings.from_env()`,
so the list below is the complete set of knobs an operator has.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

DEFAULT_TASK_QUEUE = "parcours"
DEFAULT_DATA_DIR = ".parcours"


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
        )
