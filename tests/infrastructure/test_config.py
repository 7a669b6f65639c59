"""Configuration in one place: config.py alone reads PARCOURS_* from the environment, the
README's table is exactly config.KNOBS, bad values are one clear error, and the Temporal
connection's precedence (PARCOURS_TEMPORAL_* over the SDK's TEMPORAL_* over the defaults)."""

from __future__ import annotations

import ast
import io
import re
from pathlib import Path

import pytest
from temporalio.envconfig import ClientConfigProfile, ClientConfigTLS
from temporalio.service import TLSConfig

from parcours.infrastructure import config
from parcours.infrastructure.config import KNOBS, KNOWN, ConfigError, Settings
from parcours.infrastructure.temporal import resolve_target, temporal_profile

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "parcours" / "infrastructure" / "config.py"
NAME_RE = re.compile(r"\bPARCOURS_[A-Z][A-Z0-9_]*[A-Z0-9]\b")


def product_sources() -> list[Path]:
    files = [ROOT / "worker.py"]
    for package in ("parcours", "workflows", "activities"):
        files += sorted((ROOT / package).rglob("*.py"))
    return files


def env_reads(tree: ast.AST) -> list[int]:
    """Lines that touch the process environment: os.environ, os.getenv, or either of them
    imported by name."""
    names = ("environ", "environb", "getenv")
    lines = []
    for node in ast.walk(tree):
        by_attribute = isinstance(node, ast.Attribute) and node.attr in names
        by_import = isinstance(node, ast.ImportFrom) and any(a.name in names for a in node.names)
        if by_attribute or by_import:
            lines.append(getattr(node, "lineno", 0))
    return lines


def test_only_config_reads_the_environment() -> None:
    offenders = []
    for path in product_sources():
        if path == CONFIG:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        offenders += [f"{path.relative_to(ROOT)}:{line}" for line in env_reads(tree)]
    assert offenders == [], "read settings through config.Settings.from_env()"
    assert env_reads(ast.parse(CONFIG.read_text(encoding="utf-8")))  # the scan sees config's


def test_config_reads_exactly_the_knobs() -> None:
    assert len(KNOWN) == len(KNOBS)
    assert set(NAME_RE.findall(CONFIG.read_text(encoding="utf-8"))) == KNOWN


def test_every_variable_the_code_names_is_a_knob() -> None:
    # Help texts and error messages name variables too: each must be one config knows.
    named = {n for p in product_sources() for n in NAME_RE.findall(p.read_text(encoding="utf-8"))}
    assert named - KNOWN == set()


def test_the_readme_table_is_config_s() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    assert config.markdown_table() in section
    rows = [ln for ln in section.splitlines() if ln.startswith("| `PARCOURS_")]
    assert [ln.split("`")[1] for ln in rows] == [k.name for k in KNOBS]


def test_an_unknown_name_is_caught_in_config() -> None:
    with pytest.raises(AssertionError, match="KNOBS"):
        config._getter({})("PARCOURS_NOT_A_KNOB")


def test_defaults() -> None:
    s = Settings.from_env({"PARCOURS_DATA_DIR": "/nonexistent"})
    assert (s.worker_cache, s.worker_workflow_tasks, s.worker_activities) == (1000, 100, 100)
    assert s.worker_gc_young == 700  # CPython's own
    assert (s.workflow_sandbox, s.log_level, s.debug, s.web_port) == ("shared", "INFO", False, 8000)
    assert s.worker_metrics is None and s.web_secret is None
    assert s.demo_password == config.DEFAULT_DEMO_PASSWORD
    assert s.temporal_address is None and s.temporal_namespace is None and s.temporal_tls is None
    assert s.intake_pacing is True and s.intake_queue == 5


def test_values() -> None:
    s = Settings.from_env(
        {
            "PARCOURS_WORKER_CACHE": "0",
            "PARCOURS_WORKER_GC_YOUNG": "50000",
            "PARCOURS_WORKER_METRICS": " 127.0.0.1:9464 ",
            "PARCOURS_WORKFLOW_SANDBOX": " Isolated ",
            "PARCOURS_LOG_LEVEL": "warning",
            "PARCOURS_DEBUG": "1",
            "PARCOURS_WEB_PORT": "8443",
            "PARCOURS_WEB_SECRET": "s3cret",
            "PARCOURS_DEMO_PASSWORD": "demo-pw",
            "PARCOURS_POLICY": "/etc/parcours/policy.toml",
            "PARCOURS_INTAKE_PACING": "off",
            "PARCOURS_INTAKE_QUEUE": "2",
        }
    )
    assert s.intake_pacing is False and s.intake_queue == 2
    assert s.worker_cache == 0 and s.worker_metrics == "127.0.0.1:9464"
    assert s.worker_gc_young == 50_000
    assert (s.workflow_sandbox, s.log_level, s.debug, s.web_port) == (
        "isolated",
        "WARNING",
        True,
        8443,
    )
    assert (s.web_secret, s.demo_password) == ("s3cret", "demo-pw")
    assert s.policy_path == "/etc/parcours/policy.toml"
    assert "s3cret" not in repr(s) and "demo-pw" not in repr(s)


@pytest.mark.parametrize(
    ("name", "raw", "expected"),
    [
        ("PARCOURS_WORKER_CACHE", "lots", "whole number"),
        ("PARCOURS_WORKER_WORKFLOW_TASKS", "1", "at least 2"),
        ("PARCOURS_WORKER_ACTIVITIES", "0", "at least 1"),
        ("PARCOURS_WORKER_GC_YOUNG", "99", "from 100 to 2147483647"),
        # More than gc.set_threshold takes: refused here, not an OverflowError at start-up.
        ("PARCOURS_WORKER_GC_YOUNG", "3000000000", "from 100 to 2147483647"),
        ("PARCOURS_WORKER_METRICS", "9464", "host:port"),
        ("PARCOURS_WORKFLOW_SANDBOX", "off", "shared, isolated"),
        ("PARCOURS_LOG_LEVEL", "chatty", "INFO"),
        ("PARCOURS_WEB_PORT", "80000", "port number"),
        ("PARCOURS_SMTP_PORT", "smtp", "port number"),
        ("PARCOURS_CODEC_PORT", "", "port number"),
        ("PARCOURS_RETENTION_DAYS", "two years", "whole number"),
        ("PARCOURS_SESSION_IDLE_MINUTES", "-5", "whole number"),
        ("PARCOURS_MAIL_RESEND_LEASE_S", "10min", "seconds"),
        ("PARCOURS_TEMPORAL_TLS", "maybe", "1 or 0"),
        ("PARCOURS_INTAKE_PACING", "slowly", "1 or 0"),
        ("PARCOURS_INTAKE_QUEUE", "0", "at least 1"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_variable(name: str, raw: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({name: raw})
    message = str(caught.value)
    assert message.startswith(f"{name}={raw!r}: ") and expected in message
    assert "\n" not in message


async def test_the_cli_reports_a_bad_variable_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from parcours.interfaces.cli.main import amain

    monkeypatch.setenv("PARCOURS_WORKER_CACHE", "lots")
    out, err = io.StringIO(), io.StringIO()
    assert await amain(["officers", "list"], out=out, err=err) == 1
    # French by default, the setting's own words too; its name and value as they were given.
    assert err.getvalue() == (
        "parcours\u00a0: erreur\u00a0: PARCOURS_WORKER_CACHE='lots'\u00a0: nombre entier attendu "
        "(0 désactive le cache)\n"
    )
    monkeypatch.setenv("PARCOURS_LANGUAGE", "en")
    err = io.StringIO()
    assert await amain(["officers", "list"], out=out, err=err) == 1
    assert err.getvalue() == (
        "parcours: error: PARCOURS_WORKER_CACHE='lots': expected a whole number "
        "(0 disables the cache)\n"
    )


async def test_a_value_out_of_range_is_refused_in_french(monkeypatch: pytest.MonkeyPatch) -> None:
    from parcours.interfaces.cli.main import amain

    monkeypatch.setenv("PARCOURS_WORKER_GC_YOUNG", "5")
    out, err = io.StringIO(), io.StringIO()
    assert await amain(["officers", "list"], out=out, err=err) == 1
    assert err.getvalue() == (
        "parcours\u00a0: erreur\u00a0: PARCOURS_WORKER_GC_YOUNG='5'\u00a0: nombre entier de 100 "
        "à 2147483647 attendu\n"
    )


# The Temporal connection: PARCOURS_TEMPORAL_* > TEMPORAL_* (temporalio.envconfig) > defaults.


def test_temporal_defaults() -> None:
    target = resolve_target(Settings(), None)
    assert (target.address, target.namespace, target.tls) == ("127.0.0.1:7233", "default", False)
    assert target.api_key is None and dict(target.rpc_metadata) == {}


def test_the_sdk_profile_fills_what_parcours_leaves_unset() -> None:
    profile = ClientConfigProfile(
        address="ns.acct.tmprl.cloud:7233",
        namespace="ns.acct",
        api_key="key",
        grpc_meta={"x-team": "parcours"},
    )
    target = resolve_target(Settings(), profile)
    assert (target.address, target.namespace) == ("ns.acct.tmprl.cloud:7233", "ns.acct")
    assert target.api_key == "key" and target.tls is True  # an API key implies TLS (the SDK)
    assert dict(target.rpc_metadata) == {"x-team": "parcours"}
    assert "key" not in repr(target)


def test_parcours_temporal_settings_win() -> None:
    profile = ClientConfigProfile(address="elsewhere:7233", namespace="theirs", api_key="key")
    settings = Settings(temporal_address="temporal:7233", temporal_namespace="parcours")
    target = resolve_target(settings, profile)
    assert (target.address, target.namespace) == ("temporal:7233", "parcours")
    assert target.api_key == "key"  # nothing of ours says otherwise
    # Half set: each field on its own.
    target = resolve_target(Settings(temporal_namespace="parcours"), profile)
    assert (target.address, target.namespace) == ("elsewhere:7233", "parcours")


def test_tls_comes_whole_from_one_side(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_bytes(b"our CA")
    profile = ClientConfigProfile(
        tls=ClientConfigTLS(server_name="theirs", server_root_ca_cert=b"their CA")
    )
    from_profile = resolve_target(Settings(), profile).tls
    assert isinstance(from_profile, TLSConfig)
    assert (from_profile.domain, from_profile.server_root_ca_cert) == ("theirs", b"their CA")
    ours = resolve_target(Settings(temporal_tls_ca=str(ca)), profile).tls
    assert isinstance(ours, TLSConfig)
    assert (ours.domain, ours.server_root_ca_cert) == (None, b"our CA")
    assert resolve_target(Settings(temporal_tls=False), profile).tls is False


def test_the_environment_reaches_the_sdk_through_settings(tmp_path: Path) -> None:
    env = {
        "PARCOURS_TEMPORAL_NAMESPACE": "parcours",
        "TEMPORAL_ADDRESS": "from-sdk:7233",
        "TEMPORAL_NAMESPACE": "ignored",
        "TEMPORAL_CONFIG_FILE": str(tmp_path / "absent.toml"),
    }
    settings = Settings.from_env(env)
    assert (
        settings.temporal_env is not None
        and "PARCOURS_TEMPORAL_NAMESPACE" not in settings.temporal_env
    )
    target = resolve_target(settings, temporal_profile(settings))
    assert (target.address, target.namespace) == ("from-sdk:7233", "parcours")
    # Settings built in code (tests, `parcours dev`) do not consult the SDK's configuration.
    assert temporal_profile(Settings()) is None


def test_a_bad_profile_is_one_line(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {"TEMPORAL_PROFILE": "nope", "TEMPORAL_CONFIG_FILE": str(tmp_path / "absent.toml")}
    )
    with pytest.raises(Exception, match=r"^the Temporal client profile \(TEMPORAL_\*\): .*nope"):
        temporal_profile(settings)
