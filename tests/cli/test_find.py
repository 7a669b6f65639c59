"""`parcours find TEXT` and the newcomer's name in `parcours status`, against a real Temporal
dev server, a real worker and SQLite (the fixtures of test_end_to_end.py)."""

from __future__ import annotations

import dataclasses
import uuid

# `cli` and `stack` are the fixtures this test uses.
from tests.cli.conftest import Cli, add_roster, eventually


async def test_find_by_name_or_dossier_and_status_names_the_newcomer(
    cli: Cli,  # noqa: F811
) -> None:
    await add_roster(cli)
    tag = uuid.uuid4().hex[:6].upper()
    surname = f"Mbeki{tag}"
    first, second = f"FIND-{tag}-1", f"FIND-{tag}-2"
    for d, given, language in ((first, "Thandi", "en"), (second, "Sipho", "es")):
        await cli.ok(
            "start", "--dossier", d, "--name", f"{given} {surname}", "--email",
            f"{given.lower()}@example.org", "--arrival", "2030-01-15", "--region", "montreal",
            "--language", language,
        )  # fmt: skip

    async def both_listed() -> bool:
        rows = await cli.json("find", surname)
        return {r["dossier"] for r in rows} == {first, second}

    await eventually(both_listed)
    rows = await cli.json("find", f"thandi {surname.upper()}")  # every word, any case
    assert [(r["dossier"], r["name"], r["status"]) for r in rows] == [
        (first, f"Thandi {surname}", "active")
    ]
    assert [r["dossier"] for r in await cli.json("find", second.lower())] == [second]
    # --by: what that person may see. atremblay holds the English speaker's case only.
    mine = await cli.json("find", surname, "--by", "atremblay")
    assert [r["dossier"] for r in mine] == [first]
    assert await cli.json("find", surname, "--status", "closed") == []

    text = await cli.ok("find", surname)
    assert first in text and f"Sipho {surname}" in text and "{" not in text
    assert "No case matches" in await cli.ok("find", f"nobody-{tag}")  # the tests' English
    french = Cli(cli.settings)
    french.settings = dataclasses.replace(cli.settings, language="fr")
    assert "Aucun dossier ne correspond" in await french.ok("find", f"nobody-{tag}")
    assert "PERSONNE" in await french.ok("find", surname)
    assert await cli.fails("find", "  ") == "TEXT must not be empty: a dossier number or a name"
    assert "unknown officer: ghost" in await cli.fails("find", surname, "--by", "ghost")

    # `status` names the newcomer, in text and in JSON.
    assert (await cli.json("status", first))["name"] == f"Thandi {surname}"
    assert f"Thandi {surname}" in await cli.ok("status", first)
