"""Issue 17 through the CLI: a case nobody in its region can take waits unassigned, heads
`parcours stuck`, and `officers add` in that region gives it the new officer (the roster's
signal), saying so on stderr; `officers leave --cancel` does the same for an officer back."""

from __future__ import annotations

import json

from tests.cli.conftest import Cli, dossier, eventually

REGION = "abitibi-temiscamingue"  # no other CLI test opens cases there


async def test_officers_add_picks_up_the_regions_unassigned_case(cli: Cli) -> None:  # noqa: F811
    d = dossier()
    await cli.ok(
        "start", "--dossier", d, "--name", "Noor Ali", "--email", "noor@example.org",
        "--arrival", "2030-02-01", "--region", REGION, "--language", "en",
    )  # fmt: skip

    async def opened() -> bool:
        return (await cli.json("status", d))["pending_effects"] == 0

    await eventually(opened)
    assert (await cli.json("status", d))["officer"] is None
    stuck = await cli.json("stuck", "--region", REGION)
    assert [r["dossier"] for r in stuck] == [d]  # level 0, yet stuck: nobody works on it

    code, out, err = await cli(
        "officers", "add", "--id", "rgirard", "--name", "Rose Girard",
        "--email", "rose@parcours.example", "--region", REGION, "--languages", "fr,en",
    )  # fmt: skip
    assert code == 0, err
    assert f"1 unassigned case(s) of the {REGION} region are now looking for an officer" in err

    async def assigned() -> bool:
        return (await cli.json("status", d))["officer"] == "rgirard"

    await eventually(assigned)
    assert json.loads((await cli("stuck", "--region", REGION, "--json"))[1]) == []

    # Nothing left to tell: another roster change in the region says nothing more.
    code, _, err = await cli(
        "officers", "update", "rgirard", "--languages", "fr,en,es"
    )  # fmt: skip
    assert code == 0 and "looking for an officer" not in err
