"""The referral directory and plan items through the CLI, against a real dev server, worker,
read model and SMTP catcher (issue 16): `parcours partners add|list|update|deactivate` and
`parcours item`, the newcomer's referral email with the partner's contact details, and an
approval with an open item that needs a note."""

from __future__ import annotations

from parcours.kernel.domain import OPEN_STATUSES
from tests.cli.conftest import Cli, add_roster, dossier, eventually
from tests.conftest import Stack


async def test_partners_and_a_referral_through_the_cli(cli: Cli, stack: Stack) -> None:
    await add_roster(cli)
    added = await cli.json(
        "partners", "add", "--id", "fq-mtl", "--name", "Francisation Québec – Montréal",
        "--region", "montreal", "--services", "francization", "--phone", "514 555-0101",
        "--email", "fq@example.org",
    )  # fmt: skip
    assert added["services"] == ["francization"] and added["active"] is True
    await cli.ok(
        "partners", "add", "--id", "old-org", "--name", "Ancien organisme",
        "--region", "montreal", "--services", "employment,other", "--url", "https://ex.org",
    )  # fmt: skip
    # One line and exit 1 on bad input.
    err = await cli.fails(
        "partners", "add", "--id", "x", "--name", "X", "--region", "montreal",
        "--services", "cooking", "--phone", "1",
    )  # fmt: skip
    assert err == "services: 'cooking' (one of: francization, employment, community, other)"
    assert await cli.fails("partners", "deactivate", "nope") == (
        "no partner 'nope' in the directory (parcours partners list)"
    )
    assert (await cli.json("partners", "update", "old-org", "--phone", "514 555-0000"))["phone"]
    assert (await cli.json("partners", "deactivate", "old-org"))["active"] is False
    listed = await cli.json("partners", "list", "--region", "montreal")
    assert [p["id"] for p in listed] == ["fq-mtl"]
    assert {p["id"] for p in await cli.json("partners", "list", "--all")} == {"fq-mtl", "old-org"}
    assert "fq-mtl" in await cli.ok("partners", "list", "--service", "francization")

    d = dossier()
    await cli.ok(
        "start", "--dossier", d, "--name", "Amina Diallo", "--email", "amina@example.org",
        "--arrival", "2030-01-15", "--region", "montreal", "--language", "en",
    )  # fmt: skip

    async def assigned() -> bool:
        return (await cli.json("status", d))["officer"] is not None

    await eventually(assigned)
    await cli.ok("plan", d, "--by", "atremblay", "--item", "arrival: enrol in French courses")
    err = await cli.fails(
        "item", d, "i1", "--status", "referred", "--partner", "old-org", "--by", "atremblay"
    )
    assert err == "partner old-org is deactivated: choose another one"
    err = await cli.fails("item", d, "i1", "--status", "done", "--by", "atremblay")
    assert err == f'dossier {d}: action i1 is "planned": it cannot become "done"'
    view = await cli.json(
        "item", d, "i1", "--status", "referred", "--partner", "fq-mtl", "--by", "atremblay"
    )
    item = view["plan"][0]
    assert (item["id"], item["status"], item["partner_id"]) == ("i1", "referred", "fq-mtl")
    assert item["referred_on"]
    text = await cli.ok("status", d)
    assert "i1" in text and "referred" in text

    # Approving arrival with its item still open needs a note.
    err = await cli.fails("complete-stage", d, "--stage", "arrival", "--by", "atremblay")
    assert err.startswith(f"dossier {d}: 1 action(s) of this stage's plan are neither done")
    view = await cli.json(
        "complete-stage", d, "--stage", "arrival", "--by", "atremblay", "--note", "Enrolled"
    )
    assert view["stage"] == "francization" and view["status"] in OPEN_STATUSES

    # The newcomer's referral email carries the partner's contact details.
    def bodies() -> list[str]:
        found = []
        for m in stack.catcher.messages():
            body = m.get_body(preferencelist=("plain",))
            if "amina@example.org" in m.get("X-RcptTo", "") and body is not None:
                found.append(str(body.get_content()))
        return found

    async def referred() -> bool:
        return any("Francisation Québec – Montréal" in b for b in bodies())

    await eventually(referred)
    body = next(b for b in bodies() if "Francisation Québec – Montréal" in b)
    assert "514 555-0101" in body and "fq@example.org" in body
