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

    for officer, langs, role in (
        ("amy", "fr,en", "officer"),
        ("ben", "fr", "officer"),
        ("sue", "fr", "supervisor"),
        ("dan", "fr", "director"),
    ):
        email = f"{officer}@parcours.example"
        add = ["officers", "add", "--id", officer, "--name", officer.title(), "--email", email,
               "--region", "montreal", "--languages", langs, "--role", role]  # fmt: skip
        assert (await run(*add))[0] == 0

    # `--by` names who made the change in the audit: checked as the console checks its person.
    not_director = "ben n'est pas à la direction\u00a0: seule la direction modifie l'effectif"
    for argv in (
        ["update", "amy", "--languages", "fr,en,es", "--by", "ben"],  # an officer
        ["update", "amy", "--languages", "fr,en,es", "--by", "sue"],  # a supervisor: leaves only
        ["leave", "amy", "--from", "2027-03-01", "--to", "2027-03-10", "--by", "ben"],
        ["leave", "sue", "--from", "2027-03-01", "--to", "2027-03-10", "--by", "sue"],
        ["update", "amy", "--name", "X", "--by", "nobody"],
    ):
        code, out, err = await run("officers", *argv)
        assert code == 1 and out == "" and err.count("\n") == 1 and err.startswith(ERROR), err
    assert not_director in (await run("officers", "update", "amy", "--name", "X", "--by", "ben"))[2]
    code, out, _ = await run("officers", "list", "--json")
    amy = next(o for o in json.loads(out) if o["id"] == "amy")
    assert amy["languages"] == ["fr", "en"] and amy["name"] == "Amy" and amy["leave"] is None

    code, out, _ = await run("officers", "update", "amy", "--languages", "fr,en,es", "--by", "dan")
    assert (code, out) == (0, "amy modifié·e\n")
    # A region's supervisor puts their officers on leave.
    code, _, err = await run(
        "officers", "leave", "ben", "--from", "2027-04-01", "--to", "2027-04-02", "--by", "sue"
    )
    assert code == 0, err
    assert (await run("officers", "leave", "ben", "--cancel", "--by", "sue"))[0] == 0
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
