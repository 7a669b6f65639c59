"""Processes that serve cases refuse to start without keys; the others run without them."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from parcours.infrastructure.codec import new_key, parse_keys
from parcours.infrastructure.config import Settings
from parcours.infrastructure.signing import PURPOSE, signing_keyring
from parcours.interfaces.cli.main import amain


def bare(tmp_path: Path, **keys: str) -> Settings:
    return Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'parcours.db'}",
        data_dir=str(tmp_path),
        # Nothing listens here: a command that got past the key check would fail differently.
        temporal_address="127.0.0.1:1",
        language="en",  # the keys' message is English; the frame follows the CLI's language
        **keys,  # type: ignore[arg-type]
    )


async def run(settings: Settings, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = await amain(list(argv), settings=settings, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    ("argv", "who"),
    [(["worker"], "the worker"), (["web"], "the web console"),
     (["codec-server"], "the codec server")],
)  # fmt: skip
@pytest.mark.parametrize("have", ["none", "payload", "signing"])
async def test_serving_processes_refuse_to_start_without_keys(
    tmp_path: Path, argv: list[str], who: str, have: str
) -> None:
    keys = {
        "none": {},
        "payload": {"codec_keys": new_key("p").spec()},
        "signing": {"signing_keys": new_key("s").spec()},
    }[have]
    code, out, err = await run(bare(tmp_path, **keys), *argv)
    missing = {"none": "payload and signing", "payload": "signing", "signing": "payload"}[have]
    assert code == 1 and out == ""
    assert err.startswith(f"parcours: error: {who} needs {missing} keys: make them with ")
    assert "`parcours keys new KID --kind signing`" in err
    assert err.count("\n") == 1  # one line


async def test_keys_new_makes_either_kind(tmp_path: Path) -> None:
    code, out, err = await run(bare(tmp_path), "keys", "new", "2026-12", "--kind", "signing")
    assert code == 0 and "PARCOURS_SIGNING_KEYS" in err
    [key] = signing_keyring(Settings(signing_keys=out.strip()))
    assert key.key_id == "2026-12" and len(key.secret) == 32
    code, out, err = await run(bare(tmp_path), "keys", "new", "p1")
    assert code == 0 and "PARCOURS_CODEC_KEYS" in err
    assert parse_keys(out)[0].key_id == "p1"
    assert parse_keys(out, purpose=PURPOSE)  # same format


async def test_commands_that_need_no_keys_run_without_them(tmp_path: Path) -> None:
    settings = bare(tmp_path)
    assert (await run(settings, "db", "upgrade"))[0] == 0
    assert (await run(settings, "tokens", "list"))[0] == 0
    assert (await run(settings, "--help"))[0] == 0
    assert (await run(settings, "users", "--help"))[0] == 0
    # An action without a signing key reaches no further than Temporal (unreachable here):
    # it is not refused for want of keys by the CLI itself, the workflow would refuse it.
    code, _, err = await run(settings, "status", "D-1")
    assert code == 1 and "cannot reach Temporal" in err
