"""docker-compose.yml and the Dockerfile, checked against the code (no Docker engine here).

Every PARCOURS_* the compose file sets is a setting the code reads; every setting with no safe
default in a container is set; commands parse with the real CLI parser; ports are the code's
defaults; the search attributes registered at start are parcours.search.ALL.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml
from sqlalchemy.engine import make_url

from parcours import search
from parcours.cli.main import build_parser
from parcours.config import Settings

ROOT = Path(__file__).resolve().parents[2]
APP_IMAGE = "parcours:local"
# Settings whose local defaults (127.0.0.1, a SQLite file, no keys) are wrong in a container.
REQUIRED = {
    "PARCOURS_TEMPORAL_ADDRESS",
    "PARCOURS_DATABASE_URL",
    "PARCOURS_SMTP_HOST",
    "PARCOURS_CODEC_KEYS",
    "PARCOURS_SIGNING_KEYS",
}
REQUIRED_BY_COMMAND = {
    "web": {"PARCOURS_WEB_SECRET"},
    "codec-server": {"PARCOURS_CODEC_TOKEN"},
}
SA_TYPES = {"KEYWORD": "Keyword", "INT": "Int", "DATETIME": "Datetime", "BOOL": "Bool"}
_VAR = re.compile(r"\$\{(\w+)(?::?([-?])([^}]*))?\}")


def interpolate(value: str) -> str:
    """Compose's ${VAR:-default} -> default, ${VAR:?error} -> a placeholder secret."""

    def sub(m: re.Match[str]) -> str:
        return m.group(3) if m.group(2) == "-" else f"secret-{m.group(1).lower()}"

    return _VAR.sub(sub, value)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def app_services(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {n: s for n, s in services.items() if s.get("image") == APP_IMAGE}


def env_of(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    assert isinstance(env, dict), "environment as a mapping, so anchors merge"
    return {k: interpolate(str(v)) for k, v in env.items()}


def known_settings() -> set[str]:
    """Every PARCOURS_* name the code reads (string literals in the application code)."""
    names: set[str] = set()
    for path in [*ROOT.joinpath("parcours").rglob("*.py"), ROOT / "worker.py"]:
        names |= set(re.findall(r"PARCOURS_[A-Z0-9_]*[A-Z0-9]", path.read_text()))
    return names


def published(service: dict[str, Any]) -> dict[int, int]:
    """container port -> host port."""
    out = {}
    for spec in service.get("ports", []):
        host, _, container = str(spec).rpartition(":")
        out[int(container)] = int(host)
    return out


def test_app_services_set_only_known_settings_and_every_required_one(services) -> None:
    known = known_settings()
    apps = app_services(services)
    assert set(apps) >= {"worker", "web", "codec-server", "retention"}
    for name, svc in apps.items():
        env = env_of(svc)
        unknown = {k for k in env if k.startswith("PARCOURS_")} - known
        assert not unknown, f"{name}: settings the code never reads: {unknown}"
        command = svc["command"][1]
        missing = REQUIRED | REQUIRED_BY_COMMAND.get(command, set())
        assert missing <= set(env), f"{name}: missing {missing - set(env)}"
        # The whole environment parses as the code parses it (ints, flags, keys).
        settings = Settings.from_env(env)
        assert settings.retention_days == 730
        assert make_url(settings.database_url).get_backend_name() == "postgresql"


def test_commands_parse_with_the_real_cli(services) -> None:
    parser = build_parser()
    for name, svc in app_services(services).items():
        command = svc["command"]
        assert command[0] == "parcours", name
        args = parser.parse_args(command[1:])
        assert callable(args.handler), name


def test_addresses_point_at_the_services_on_their_ports(services) -> None:
    pg = services["postgresql"]["environment"]
    for name, svc in app_services(services).items():
        s = Settings.from_env(env_of(svc))
        host, port = s.temporal_address.split(":")
        assert host in services and host == "temporal" and int(port) == 7233, name
        url = make_url(s.database_url)
        assert (url.host, url.port, url.username, url.database) == (
            "postgresql",
            5432,
            pg["POSTGRES_USER"],
            pg["POSTGRES_DB"],
        )
        assert s.smtp_host in services and s.smtp_port == 1025  # Mailpit's SMTP port
    assert 7233 in published(services["temporal"])


def test_ports_match_the_code_defaults(services) -> None:
    parser = build_parser()
    web = services["web"]
    web_args = parser.parse_args(web["command"][1:])
    assert web_args.port == int(env_of(web)["PARCOURS_WEB_PORT"]) == 8000
    assert 8000 in published(web)
    codec = services["codec-server"]
    codec_args = parser.parse_args(codec["command"][1:])
    assert codec_args.port == Settings().codec_port == 8081
    assert 8081 in published(codec)
    # The worker scales: no fixed name, no published port.
    worker = services["worker"]
    assert "container_name" not in worker and "ports" not in worker


def test_ui_uses_the_codec_server_and_is_an_allowed_origin(services) -> None:
    ui = services["temporal-ui"]["environment"]
    endpoint = urlparse(ui["TEMPORAL_CODEC_ENDPOINT"])
    codec = services["codec-server"]
    assert endpoint.port == published(codec)[8081]
    assert endpoint.path == "/codec"  # the UI posts to <endpoint>/decode
    origins = Settings.from_env(env_of(codec)).codec_cors_origins
    ui_origin = f"http://localhost:{published(services['temporal-ui'])[8080]}"
    assert ui_origin in origins
    assert ui["TEMPORAL_ADDRESS"] == "temporal:7233"


def test_temporal_runs_on_postgresql_with_our_search_attributes(services) -> None:
    t = services["temporal"]
    assert t["image"].startswith("temporalio/auto-setup:")
    env = t["environment"]
    assert env["DB"] == "postgres12" and env["POSTGRES_SEEDS"] == "postgresql"
    assert env["POSTGRES_USER"] == services["postgresql"]["environment"]["POSTGRES_USER"]
    script = " ".join(services["temporal-setup"]["command"])
    registered = dict(re.findall(r"(Parcours\w+)=(\w+)", script))
    assert registered == {k.name: SA_TYPES[k.indexed_value_type.name] for k in search.ALL}
    assert "search-attribute create" in script


def test_every_required_secret_is_in_the_env_example(compose) -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    required = set(re.findall(r"\$\{(\w+):\?", text))
    example = {
        line.split("=", 1)[0]
        for line in (ROOT / ".env.example").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    }
    assert required <= example, required - example


def test_dockerfile_ships_the_code_the_worker_needs() -> None:
    text = (ROOT / "Dockerfile").read_text()
    copied = set(re.findall(r"^COPY (\S+)", text, re.M))
    for needed in ("parcours", "workflows", "activities", "templates", "worker.py"):
        assert needed in copied, needed
    # The image sets PYTHONDONTWRITEBYTECODE and runs as a user who cannot write /app: the
    # sandboxed workflow modules must be compiled at build time (see ensure_workflow_bytecode).
    compiled = re.search(r"compileall[^\n]*\bworkflows\b", text)
    assert compiled is not None and text.index("COPY workflows") < compiled.start()
    cmd = re.search(r"^CMD (.+)$", text, re.M)
    assert cmd is not None
    assert shlex.split(cmd.group(1).replace('"', "").strip("[]").replace(",", " ")) == [
        "parcours",
        "worker",
    ]
