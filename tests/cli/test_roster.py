"""`parcours officers update|leave|list` on a read model alone (issue 17): French by default,
one line and exit 1 on bad input, --json for data, every change audited."""

from __future__ import annotations

import io
import json
from pathlib import Path

from parcours.infrastructure.config import Settings
from parcours.interfaces.cli.main import amain

ERROR = "parcours\u00a0: erreur\u00a0: "


async def test_update_and_leave_through_the_cli(tmp_path: Path) -> None:
    settings = Settings(
        temporal_address="127.0.0.1:1",
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'p.db'}",
    )

    async def run(*argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        code = await amain(list(argv), settings=settings, out=out, err=err)
        return code, out.getvalue(), err.getvalue()

    for officer, langs in (("amy", "fr,en"), ("ben", "fr")):
        email = f"{officer}@parcours.example"
        add = ["officers", "add", "--id", officer, "--name", officer.title(), "--email", email,
               "--region", "montreal", "--languages", langs]  # fmt: skip
        assert (await run(*add))[0] == 0

    code, out, _ = await run("officers", "update", "amy", "--languages", "fr,en,es", "--by", "ben")
    assert (code, out) == (0, "amy modifié·e\n")
    code, out, _ = await run(
        "officers", "leave", "amy", "--from", "2027-03-01", "--to", "2027-03-10", "--backup", "ben"
    )
    assert code == 0
    assert out == "amy en congé du 2027-03-01 au 2027-03-10\u00a0; rappels à\u00a0: ben\n"
    code, out, _ = await run("officers", "list", "--json")
    amy = next(o for o in json.loads(out) if o["id"] == "amy")
    assert amy["languages"] == ["fr", "en", "es"]
    assert amy["leave"] == {"from": "2027-03-01", "to": "2027-03-10", "backup": "ben"}
    code, out, _ = await run("officers", "list")
    assert "2027-03-01 → 2027-03-10 (ben)" in out and "CONGÉ" in out

    for argv, line in [
        (["leave", "amy", "--from", "2027-03-01", "--to", "2027-03-10", "--backup", "amy"],
         "remplaçant·e\u00a0: amy ne peut pas se remplacer soi-même"),
        (["leave", "amy", "--from", "2027-03-10", "--to", "2027-03-01"],
         "congé\u00a0: le dernier jour précède le premier"),
        (["leave", "amy", "--from", "2027-03-01"],
         "congé\u00a0: --from et --to sont requis (ou --cancel)"),
        (["leave", "ghost", "--cancel"],
         "agent·e inconnu·e\u00a0: ghost (voir «\u00a0parcours officers list\u00a0»)"),
        (["update", "ben", "--region", "mars"], None),
    ]:  # fmt: skip
        code, out, err = await run("officers", *argv)
        assert code == 1 and out == "" and err.count("\n") == 1, (argv, err)
        assert err.startswith(ERROR), err
        if line is not None:
            assert err == ERROR + line + "\n"

    assert (await run("officers", "leave", "amy", "--cancel"))[1] == "congé de amy annulé\n"
    code, out, _ = await run("officers", "leave", "--help")
    assert code == 0
