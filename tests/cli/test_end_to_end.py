"""The CLI against a real Temporal dev server, a real worker, SQLite and a real SMTP catcher.

One newcomer from visa approval to a withdrawn case, driven only through `parcours ...`.
"""

from __future__ import annotations

import json
from pathlib import Path

from parcours.infrastructure.config import Settings
from tests.cli.conftest import Cli, add_roster, dossier, eventually
from tests.conftest import Stack

STATUS_KEYS = {
    "dossier",
    "status",
    "stage",
    "officer",
    "region",
    "escalation_level",
    "stalled_since",
    "overdue",
    "plan",
    "stages",
}
STAGE_KEYS = {"stage", "started_at", "completed_at", "approved_by", "waived"}


async def test_a_case_through_the_cli(cli: Cli, stack: Stack) -> None:
    await add_roster(cli)
    officers = await cli.json("officers", "list")
    assert {o["id"] for o in officers} == {"atremblay", "crodriguez", "nbouchard"}
    err = await cli.fails(
        "officers", "add", "--id", "x1", "--name", "X", "--email", "nope", "--region", "laval"
    )
    assert err.startswith("email:")

    d = dossier()
    start = (
        "start", "--dossier", d, "--name", "Amina Diallo", "--email", "amina@example.org",
        "--arrival", "2030-01-15", "--region", "montreal", "--language", "en",
        "--french-level", "4", "--occupation", "nurse", "--regulated", "--household", "3",
    )  # fmt: skip
    assert f"{d} started" in await cli.ok(*start)
    assert await cli.fails(*start) == f"dossier {d} already exists"

    # Assignment happens in an activity right after the start.
    async def assigned() -> bool:
        return (await cli.json("status", d))["officer"] is not None

    await eventually(assigned)
    view = await cli.json("status", d)
    assert set(view) >= STATUS_KEYS
    assert (view["status"], view["stage"], view["region"]) == ("active", "arrival", "montreal")
    assert view["officer"] == "atremblay"  # the montreal officer who speaks English
    assert set(view["stages"][0]) >= STAGE_KEYS

    # Human output is a readable block, not JSON.
    text = await cli.ok("status", d)
    assert "stage" in text and "arrival" in text and "{" not in text

    await cli.ok("greet", d, "--by", "atremblay")
    err = await cli.fails("complete-stage", d, "--stage", "arrival", "--by", "atremblay")
    # The workflow's own message, synchronously: no approval without a plan.
    assert err == f"dossier {d}: arrival cannot be approved until an action plan is on file"
    await cli.ok(
        "plan", d, "--by", "atremblay",
        "--item", "francization: 400 hours, part-time, at the CSS de Montréal",
        "--item", "employment: recognition of the nursing diploma (OIIQ)",
    )  # fmt: skip
    err = await cli.fails("complete-stage", d, "--stage", "community", "--by", "atremblay")
    assert err == f'dossier {d}: cannot approve stage "Community": the case is in stage "Arrival"'
    err = await cli.fails("complete-stage", d, "--stage", "arrival", "--by", "crodriguez")
    assert err == (
        f"dossier {d}: crodriguez is neither the officer assigned to this case nor a "
        "supervisor of region montreal"
    )
    assert await cli.fails("greet", d, "--by", "nobody") == (
        "unknown officer: nobody (see 'parcours officers list')"
    )

    view = await cli.json("complete-stage", d, "--stage", "arrival", "--by", "atremblay")
    assert view["stage"] == "francization"
    assert [i["stage"] for i in view["plan"]] == ["francization", "employment"]
    arrival = view["stages"][0]
    assert arrival["approved_by"] == "atremblay" and arrival["completed_at"]

    await cli.ok("progress", d, "--by", "atremblay", "--note", "Enrolled at the CSS.")

    # Visibility is eventually consistent. Nothing is stalled at level 1+ with real durations,
    # but at --min-level 0 every active case is listed.
    async def listed() -> bool:
        found = await cli.json("stuck", "--min-level", "0", "--region", "montreal")
        return any(c["dossier"] == d and c["stage"] == "francization" for c in found)

    await eventually(listed)
    found = await cli.json("stuck", "--min-level", "0", "--officer", "atremblay")
    row = next(c for c in found if c["dossier"] == d)
    assert set(row) == {
        "dossier", "stage", "officer", "region", "escalation_level", "stalled_since", "overdue",
        "meeting_late",
    }  # fmt: skip
    assert (row["officer"], row["escalation_level"], row["overdue"]) == ("atremblay", 0, False)
    assert row["meeting_late"] is False
    assert all(c["dossier"] != d for c in await cli.json("stuck"))
    assert "DOSSIER" in await cli.ok("stuck", "--min-level", "0", "--officer", "atremblay")

    async def counted() -> bool:
        load = await cli.json("caseload")
        mine = next(e for e in load if e["officer"] == "atremblay")
        return bool(mine["open_cases"] == 1 and mine["by_stage"]["francization"] == 1)

    await eventually(counted)

    # Closing a case is the assigned officer's, the region's supervisors' or a director's.
    assert await cli.fails(
        "withdraw", d, "--by", "crodriguez", "--reason-category", "left_quebec", "--note", "x"
    ) == (
        f"dossier {d}: crodriguez is neither the officer assigned to this case nor a "
        "supervisor of region montreal"
    )
    view = await cli.json(
        "withdraw", d, "--by", "atremblay", "--reason-category", "left_quebec",
        "--note", "Moved to Ontario",
    )  # fmt: skip
    assert view["status"] == "withdrawn"
    closed = await cli.json("status", d)  # a closed case still answers
    assert (closed["status"], closed["stage"]) == ("withdrawn", None)
    # Once the workflow has finished its last effects, Temporal itself refuses the update.
    await stack.client.get_workflow_handle(f"newcomer-{d}").result()
    err = await cli.fails("progress", d, "--by", "atremblay", "--note", "too late")
    assert err == f"dossier {d}: the case is closed; it takes no more actions"

    assert await cli.fails("status", "NO-SUCH-1") == "no case for dossier NO-SUCH-1"
    assert await cli.fails("greet", "NO-SUCH-1", "--by", "atremblay") == (
        "no case for dossier NO-SUCH-1"
    )

    # The welcome email went through the real SMTP server, in French (and English beside it).
    async def welcomed() -> bool:
        return any("amina@example.org" in m.get("X-RcptTo", "") for m in stack.catcher.messages())

    await eventually(welcomed)


async def test_supervisor_actions(cli: Cli) -> None:
    await add_roster(cli)
    d = dossier()
    await cli.ok(
        "start", "--dossier", d, "--name", "Li Wei", "--email", "li.wei@example.org",
        "--arrival", "2030-03-01", "--region", "montreal", "--language", "es",
    )  # fmt: skip

    async def assigned() -> bool:
        return (await cli.json("status", d))["officer"] == "crodriguez"

    await eventually(assigned)
    view = await cli.json("reassign", d, "--to", "atremblay", "--by", "nbouchard")
    assert view["officer"] == "atremblay"
    view = await cli.json("pause", d, "--by", "nbouchard", "--reason", "Hospitalised")
    assert view["status"] == "paused"
    view = await cli.json("resume", d, "--by", "nbouchard")
    assert view["status"] == "active"
    await cli.ok("plan", d, "--by", "atremblay", "--item", "community: volunteer centre")
    await cli.ok("complete-stage", d, "--stage", "arrival", "--by", "nbouchard")
    view = await cli.json(
        "waive", d, "--stage", "francization", "--by", "nbouchard", "--reason", "Level 8 already"
    )
    assert view["stage"] == "employment"
    francization = next(s for s in view["stages"] if s["stage"] == "francization")
    assert francization["waived"] is True


async def test_import_mixed_rows(cli: Cli, tmp_path: Path) -> None:
    await add_roster(cli)
    a, b = dossier(), dossier()
    csv_path = tmp_path / "approvals.csv"
    csv_path.write_text(
        "dossier,name,email,arrival,region,language,airport,french_level,occupation,regulated,"
        "household\n"
        f"{a},Amina Diallo,amina@example.org,2030-01-15,montreal,fr,YUL,5,nurse,yes,2\n"
        "BAD-1,Li Wei,li.wei@example,2030-01-16,montreal,zh,YUL,,,,1\n"
        f"{b},Carlos Ruiz,carlos@example.org,2030-01-20,montreal,es,YQB,,,no,1\n"
        "BAD-2,Ana Lima,ana@example.org,2030-02-01,atlantis,pt,YUL,,,,1\n"
    )
    code, out, err = await cli("import", str(csv_path))
    assert code == 1
    assert out.splitlines() == [
        f"row 2: {a} started",
        "row 3: BAD-1 rejected: invalid email address: expected name@domain.ca",
        f"row 4: {b} started",
        "row 5: BAD-2 rejected: unknown region 'atlantis'",
    ]
    assert "import: 4 rows read: 2 cases started, 0 cases already open, 2 rows rejected" in err
    for d in (a, b):
        assert (await cli.json("status", d))["status"] == "active"

    # Again, as JSON Lines: the good rows now already exist; the bad ones are still refused.
    code, out, _ = await cli("import", str(csv_path), "--json")
    assert code == 1
    results = [json.loads(line) for line in out.splitlines()]
    assert [(r["row"], r["result"]) for r in results] == [
        (2, "already exists"),
        (3, "rejected"),
        (4, "already exists"),
        (5, "rejected"),
    ]
    assert results[1]["reason"].startswith("invalid email address")

    c = dossier()
    jsonl = tmp_path / "approvals.jsonl"
    jsonl.write_text(
        json.dumps(
            {
                "dossier": c,
                "name": "Yara Haddad",
                "email": "yara@example.org",
                "arrival": "2030-04-01",
                "region": "montreal",
                "language": "ar",
                "household": 4,
            }
        )  # fmt: skip
        + "\n"
        + json.dumps({"dossier": "BAD-3", "name": "X", "email": "x@example.org"})
        + "\n"
    )
    code, out, _ = await cli("import", str(jsonl))
    assert code == 1
    assert out.splitlines() == [
        f"row 1: {c} started",
        "row 2: BAD-3 rejected: Arrival date: required field missing",
    ]
    code, out, _ = await cli("import", str(jsonl.with_name("missing.jsonl")))
    assert code == 1


async def test_unreachable_server_is_one_line() -> None:
    cli = Cli(Settings(temporal_address="127.0.0.1:1"))
    err = await cli.fails("status", "D-1")
    assert err == "cannot reach Temporal at 127.0.0.1:1: connection refused"
