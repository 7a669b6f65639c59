"""docker-compose.yml and the Dockerfile, checked against the code (no Docker engine here).

Every PARCOURS_* the compose file sets is a setting the code reads; every setting with no safe
default in a container is set; commands parse with the real CLI parser; ports are the code's
defaults; the search attributes registered at start are parcours.kernel.search.ALL. The production
boundary: nothing but the TLS proxy published beyond the host's loopback, the app on its own
data-only database role, migrations as the owner first.
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

from parcours.infrastructure.config import Settings
from parcours.interfaces.cli.main import build_parser
from parcours.interfaces.devstack import DYNAMIC_CONFIG
from parcours.kernel import search

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
    "worker": {"PARCOURS_AUDIT_KEYS"},
}
APP_ROLE = "parcours_app"
# One-shot services that prepare the database as its owner, before any app process.
OWNER_STEPS = {"db-roles", "migrate"}
# The one service published beyond the host: it terminates TLS in front of the console.
TLS_PROXY = "proxy"
LOOPBACK = "127.0.0.1"
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
    """The long-running app processes and the retention one-shot (not the owner's steps)."""
    return {
        n: s for n, s in services.items() if s.get("image") == APP_IMAGE and n not in OWNER_STEPS
    }


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
    return {container: port for container, (_, port) in bindings(service).items()}


def bindings(service: dict[str, Any]) -> dict[int, tuple[str, int]]:
    """container port -> (host address, host port); "0.0.0.0" when the spec names none."""
    out = {}
    for spec in service.get("ports", []):
        parts = str(spec).split(":")
        address = parts[0] if len(parts) == 3 else "0.0.0.0"
        out[int(parts[-1])] = (address, int(parts[-2]))
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
        host, port = (s.temporal_address or "").split(":")
        assert host in services and host == "temporal" and int(port) == 7233, name
        url = make_url(s.database_url)
        assert (url.host, url.port, url.username, url.database) == (
            "postgresql",
            5432,
            APP_ROLE,
            pg["POSTGRES_DB"],
        )
        assert s.smtp_host in services and s.smtp_port == 1025  # Mailpit's SMTP port


def test_ports_match_the_code_defaults(services) -> None:
    parser = build_parser()
    web = services["web"]
    web_args = parser.parse_args(web["command"][1:])
    assert web_args.port == int(env_of(web)["PARCOURS_WEB_PORT"]) == 8000
    # Reached through the TLS proxy only, on the compose network.
    assert "ports" not in web
    proxy = services[TLS_PROXY]["command"]
    assert proxy[proxy.index("--to") + 1] == "web:8000"
    # Staff emails link to the console where the proxy serves it, over HTTPS.
    host = interpolate(proxy[proxy.index("--from") + 1])
    assert Settings.from_env(env_of(services["worker"])).public_url == f"https://{host}"
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


def test_temporal_has_task_queue_priority(services) -> None:
    """People before bulk work (parcours/kernel/priorities.py) needs a server with priority
    (1.29 on; 1.25 had none), kept on, on one partition per queue."""
    t = services["temporal"]
    version = tuple(int(x) for x in t["image"].split(":", 1)[1].split(".")[:2])
    assert version >= (1, 29), t["image"]
    mount = next(v for v in t["volumes"] if v.startswith("./deploy/temporal/"))
    source, target = mount.split(":")[:2]
    assert target.endswith(t["environment"]["DYNAMIC_CONFIG_FILE_PATH"])
    config = yaml.safe_load((ROOT / source).read_text())
    assert config["matching.useNewMatcher"] == [{"value": True}]
    for key in ("matching.numTaskqueueReadPartitions", "matching.numTaskqueueWritePartitions"):
        assert config[key] == [{"value": 1}]
    setup = services["temporal-setup"]["image"]
    assert setup.startswith(f"temporalio/admin-tools:{t['image'].split(':', 1)[1]}-"), setup


def test_the_dev_server_runs_with_the_production_dynamic_config(services) -> None:
    """What the bench measures on the dev server (one partition, eager activities) is what
    production's cluster is configured with: every dev-server value is in the mounted file."""
    mount = next(v for v in services["temporal"]["volumes"] if v.startswith("./deploy/temporal/"))
    config = yaml.safe_load((ROOT / mount.split(":")[0]).read_text())
    assert "system.enableActivityEagerExecution=true" in DYNAMIC_CONFIG
    for setting in DYNAMIC_CONFIG:
        key, value = setting.split("=", 1)
        assert config.get(key) == [{"value": yaml.safe_load(value)}], key


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


def test_only_the_tls_proxy_is_published_beyond_the_hosts_loopback(services) -> None:
    """The Temporal frontend has no authorizer and the UI no sign-in in this file: published
    on 0.0.0.0, anyone on the network could send updates or read every case."""
    for name, svc in services.items():
        for container, (address, _) in bindings(svc).items():
            if name == TLS_PROXY:
                assert container in (80, 443), container
            else:
                assert address == LOOPBACK, f"{name}:{container} published on {address}"
    assert bindings(services["temporal"])[7233] == (LOOPBACK, 7233)
    assert bindings(services["temporal-ui"])[8080] == (LOOPBACK, 8080)


def test_the_console_keeps_secure_cookies_behind_the_tls_proxy(services) -> None:
    """The choice the file states: TLS terminated by Caddy, so the console's Secure cookies
    and HSTS stay on (the setting's default); never turned off on this topology."""
    proxy = services[TLS_PROXY]
    assert proxy["image"].startswith("caddy:")
    assert proxy["command"][:2] == ["caddy", "reverse-proxy"]
    assert bindings(proxy)[443][1] == 443
    secure = env_of(services["web"]).get("PARCOURS_SECURE_COOKIES", "true")
    assert secure.strip().lower() in ("1", "true", "yes")
    header = (ROOT / "docker-compose.yml").read_text().split("\nx-parcours-env")[0]
    assert "TLS: terminated by the `proxy` service" in header
    assert 'PARCOURS_SECURE_COOKIES: "false"' in header  # how a plain-http staging host opts out


def test_the_console_sees_each_persons_address_through_the_proxy(services) -> None:
    """The sign-in throttle counts failures per client address: behind the proxy, uvicorn must
    believe its X-Forwarded-For, or every person would share the proxy's one address."""
    assert env_of(services["web"]).get("FORWARDED_ALLOW_IPS")
    assert "ports" not in services["web"]  # so only the proxy can reach it


def test_migrations_run_as_the_owner_before_the_app_starts(services) -> None:
    owner = services["postgresql"]["environment"]["POSTGRES_USER"]
    migrate = services["migrate"]
    assert migrate["image"] == APP_IMAGE and migrate["restart"] == "no"
    args = build_parser().parse_args(migrate["command"][1:])
    assert (args.command, args.db_command, args.revision) == ("db", "upgrade", "head")
    env = env_of(migrate)
    assert make_url(env["PARCOURS_DATABASE_URL"]).username == owner != APP_ROLE
    # Sealing the audit rows written before the chain (migration 0005) needs the key.
    assert "PARCOURS_AUDIT_KEYS" in env
    assert migrate["depends_on"]["db-roles"]["condition"] == "service_completed_successfully"
    for name, svc in app_services(services).items():
        assert svc["depends_on"]["migrate"]["condition"] == "service_completed_successfully", name
    roles = services["db-roles"]
    assert roles["environment"]["PGUSER"] == owner
    assert "./deploy/postgresql:/sql:ro" in roles["volumes"]
    assert roles["command"][-1] == "/sql/app-role.sql"
    assert (ROOT / "deploy/postgresql/app-role.sql").is_file()
    assert "parcours.app_password=" in roles["environment"]["PGOPTIONS"]


def test_the_app_role_has_data_rights_only() -> None:
    """Read as written; tests/deploy/test_app_role.py runs it on PostgreSQL."""
    sql = (ROOT / "deploy/postgresql/app-role.sql").read_text()
    body = "\n".join(line.split("--")[0] for line in sql.splitlines())
    grants = re.findall(r"GRANT\s+([A-Z, ]+?)\s+ON\s", body)
    assert grants, "no GRANT found"
    rights = {r.strip() for g in grants for r in g.split(",")}
    assert rights <= {"SELECT", "INSERT", "UPDATE", "DELETE", "USAGE"}, rights
    for attribute in ("NOSUPERUSER", "NOCREATEDB", "NOCREATEROLE", "NOBYPASSRLS"):
        assert attribute in body
    assert f"TO {APP_ROLE}" in body and "OWNER TO" not in body


def test_the_audit_key_goes_only_where_audit_rows_are_written(services) -> None:
    for name, svc in app_services(services).items():
        has_key = "PARCOURS_AUDIT_KEYS" in env_of(svc)
        assert has_key == (svc["command"][1] == "worker"), name
