"""A French-speaking officer's day through the CLI, against a real Temporal dev server and
worker: every line in French by default, in English with PARCOURS_LANGUAGE=en; the old
`--officer` flags still work with a warning; `plan --add` and `--replace`; an Excel (fr-CA)
semicolon file imported."""

from __future__ import annotations

import dataclasses
import io
import json
import uuid
from pathlib import Path

from parcours.infrastructure.config import Settings
from parcours.interfaces.cli.main import amain
from tests.conftest import Stack

NBSP = "\u00a0"


class Cli:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def __call__(self, *argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        code = await amain(list(argv), settings=self.settings, out=out, err=err)
        # French typography's no-break spaces as plain ones, to compare with literals.
        return code, out.getvalue().replace(NBSP, " "), err.getvalue().replace(NBSP, " ")

    async def ok(self, *argv: str) -> tuple[str, str]:
        code, out, err = await self(*argv)
        assert code == 0, f"parcours {' '.join(argv)} -> {code}: {err}"
        return out, err


async def _roster(cli: Cli) -> None:
    for officer_id, role in (("atremblay", "officer"), ("nbouchard", "supervisor")):
        await cli.ok(
            "officers", "add", "--id", officer_id, "--name", officer_id,
            "--email", f"{officer_id}@parcours.example", "--region", "montreal",
            "--languages", "fr,en", "--role", role,
        )  # fmt: skip
    await cli.ok(
        "officers", "add", "--id", "crodriguez", "--name", "Carlos Rodríguez",
        "--email", "crodriguez@parcours.example", "--region", "montreal",
    )  # fmt: skip


async def test_an_officers_day_in_french(stack: Stack, tmp_path: Path) -> None:
    cli = Cli(stack.settings)  # no language set: French
    await _roster(cli)
    d = f"FR-{uuid.uuid4().hex[:8].upper()}"

    # An Excel (fr-CA) file: semicolons, a BOM, accents.
    path = tmp_path / "approbations.csv"
    path.write_bytes(
        "dossier;name;email;arrival;region;language\n"
        f"{d};Élodie Côté;elodie@example.org;2030-01-15;montreal;en\n".encode("utf-8-sig")
    )
    out, err = await cli.ok("import", str(path))
    assert out == f"ligne 2 : {d} ouvert\n"
    assert err == (
        "parcours : import : 1 ligne lue : 1 dossier ouvert, 0 dossier déjà ouvert, "
        "0 ligne refusée\n"
    )
    out, err = await cli.ok("import", str(path))
    assert out == f"ligne 2 : {d} existe déjà\n"
    assert "0 dossier ouvert, 1 dossier déjà ouvert" in err

    out, _ = await cli.ok("status", d)
    assert out.startswith(
        f"dossier            {d}\nnom                Élodie Côté\nstatut             Actif\n"
        "étape              "
    )
    assert "en retard          non" in out
    assert "ÉTAPE" in out and "Francisation" in out

    # The old flag still works, says so once on stderr, and the case moves.
    out, err = await cli.ok("greet", d, "--officer", "atremblay")
    assert err == (
        "parcours : l'option --officer de « parcours greet » s'appelle désormais --by ; "
        "--officer disparaîtra à la prochaine version\n"
    )
    assert "accueil            Accueilli·e" in out

    await cli.ok("plan", d, "--by", "atremblay", "--item", "francization: 400 h au CSS")
    # One more --item with neither flag: refused, nothing filed.
    code, _, err = await cli("plan", d, "--by", "atremblay", "--item", "employment: OIIQ")
    assert code == 1
    assert err == (
        f"parcours : erreur : le dossier {d} a déjà un plan d'action : ajoutez ces actions "
        "avec --add, ou remplacez tout le plan avec --replace\n"
    )
    code, out, _ = await cli("plan", d, "--by", "atremblay", "--item", "x: y", "--add")
    assert code == 1  # an unknown stage is refused before the plan is read
    view = json.loads(
        (await cli.ok("plan", d, "--by", "atremblay", "--item", "employment: OIIQ", "--add",
                      "--json"))[0]
    )  # fmt: skip
    assert [(i["stage"], i["text"]) for i in view["plan"]] == [
        ("francization", "400 h au CSS"),
        ("employment", "OIIQ"),
    ]
    assert view["plan_revision"] == 2
    view = json.loads(
        (await cli.ok("plan", d, "--by", "atremblay", "--item", "community: bénévolat",
                      "--replace", "--json"))[0]
    )  # fmt: skip
    assert [(i["stage"], i["text"]) for i in view["plan"]] == [("community", "bénévolat")]

    # An early refusal (the authorization table) in French.
    code, _, err = await cli("complete-stage", d, "--stage", "arrival", "--by", "crodriguez")
    assert code == 1
    assert err == (
        f"parcours : erreur : dossier {d} : crodriguez n'est ni l'agent assigné à ce dossier "
        "ni un superviseur de la région montreal\n"
    )
    # The old --officer of reassign is the new officer.
    out, err = await cli.ok("reassign", d, "--officer", "crodriguez", "--by", "nbouchard")
    assert "« parcours reassign » s'appelle désormais --to" in err
    assert "agent·e            crodriguez" in out
    code, _, err = await cli("reassign", d, "--to", "ghost", "--by", "nbouchard")
    assert (code, err) == (
        1,
        "parcours : erreur : agent·e inconnu·e : ghost (voir « parcours officers list »)\n",
    )

    # The same in English, by the knob and by the flag.
    english = Cli(dataclasses.replace(stack.settings, language="en"))
    out, _ = await english.ok("status", d)
    assert [line.split() for line in out.splitlines()[:3]] == [
        ["dossier", d],
        ["name", "Élodie", "Côté"],
        ["status", "Active"],
    ]
    out, _ = await cli.ok("--lang", "en", "status", d)
    assert ["overdue", "no"] in [line.split() for line in out.splitlines()]
    code, _, err = await english("plan", d, "--by", "crodriguez", "--item", "employment: OIIQ")
    assert err == (
        f"parcours: error: case {d} already has an action plan: append these actions with "
        "--add, or replace the whole plan with --replace\n"
    )
    # --json is the machine's, in either language.
    fr_json = json.loads((await cli.ok("status", d, "--json"))[0])
    en_json = json.loads((await english.ok("status", d, "--json"))[0])
    # (Effects still in flight may settle between the two reads.)
    fr_json.pop("pending_effects"), en_json.pop("pending_effects")
    assert fr_json == en_json and fr_json["status"] == "active"

    # A mistyped dossier.
    code, _, err = await cli("status", "NO-SUCH-1")
    assert (code, err) == (1, "parcours : erreur : aucun dossier NO-SUCH-1\n")
