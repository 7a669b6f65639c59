"""`parcours reconcile` against a real dev server, worker and SQLite read model: it finds the
rows that drifted from the workflows, reports them, repairs them (unless --dry-run), and leaves
the contact data that the retention purge erased erased."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import delete, select, update

from parcours.infrastructure.store.models import Case, OutboxMessage
from parcours.infrastructure.temporal import start_case
from parcours.kernel import approval as approval_model
from parcours.kernel.inputs import ArrivalWindow
from parcours.kernel.policy import load_policy
from tests.cli.conftest import Cli, add_roster, dossier, eventually
from tests.conftest import Stack


async def start(cli: Cli, d: str) -> None:
    await cli.ok(
        "start", "--dossier", d, "--name", "Amina Diallo", "--email", "amina@example.org",
        "--arrival", "2030-01-15", "--region", "montreal", "--language", "fr",
    )  # fmt: skip


async def row(stack: Stack, d: str) -> Case | None:
    async with stack.sessions() as s:
        return await s.get(Case, d)


async def reconcile(cli: Cli, dossiers: list[str], *flags: str) -> tuple[int, dict[str, object]]:
    argv = ["reconcile", *flags, "--json"]
    for d in dossiers:
        argv += ["--dossier", d]
    code, out, err = await cli(*argv)
    assert code in (0, 3), err
    return code, json.loads(out)


async def test_reconcile_reports_and_repairs_drift(cli: Cli, stack: Stack) -> None:
    await add_roster(cli)
    moved, missing, purged, fine = (dossier() for _ in range(4))
    cases = [moved, missing, purged, fine]
    for d in cases:
        await start(cli, d)

    async def projected() -> bool:
        # Every effect carried out: a late projection would otherwise undo the damage below.
        views = [await cli.json("status", d) for d in cases]
        rows = [await row(stack, d) for d in cases]
        return all(v["pending_effects"] == 0 for v in views) and all(
            r is not None and r.officer_id for r in rows
        )

    await eventually(projected)
    officer = {d: (await cli.json("status", d))["officer"] for d in cases}
    me = officer[moved]
    stranger = "crodriguez" if me == "atremblay" else "atremblay"
    await cli.ok("plan", moved, "--by", me, "--item", "francization: 400 h")
    view = await cli.json("complete-stage", moved, "--stage", "arrival", "--by", me)
    assert view["stage"] == "francization"

    async def caught_up() -> bool:
        r = await row(stack, moved)
        settled = (await cli.json("status", moved))["pending_effects"] == 0
        return settled and r is not None and r.stage == "francization"

    await eventually(caught_up)

    # Drift, as a restore from an older backup or a lost write would leave it.
    async with stack.sessions() as s, s.begin():
        await s.execute(
            update(Case)
            .where(Case.dossier == moved)
            .values(stage="arrival", escalation_level=2, officer_id=stranger)
        )
        await s.execute(delete(Case).where(Case.dossier == missing))
        # The retention purge erased this case's contact data (as on a closed case).
        await s.execute(
            update(Case)
            .where(Case.dossier == purged)
            .values(full_name=None, email=None, phone=None, purged_at=datetime.now(UTC))
        )

    code, dry = await reconcile(cli, cases, "--dry-run")
    assert code == 3
    assert dry["checked"] == 4 and dry["fixed"] == 0 and dry["dry_run"] is True
    found = {d["dossier"]: d for d in dry["differences"]}  # type: ignore[attr-defined]
    assert set(found) == {moved, missing}
    assert found[missing]["problem"] == "missing"
    assert set(found[moved]["problem"].split(",")) == {"stage", "officer_id", "escalation_level"}
    assert found[moved]["read_model"]["stage"] == "arrival"
    assert found[moved]["workflow"]["stage"] == "francization"
    assert await row(stack, missing) is None  # dry run: nothing written
    r = await row(stack, moved)
    assert r is not None and r.stage == "arrival"

    assert dry["outbox"] is None  # a dry run sends nothing
    # An email a worker left in doubt, whose workflow will not retry it (here: one an older
    # at-most-once worker marked unconfirmed): the reconcile sweeps it, same Message-ID.
    welcome = select(OutboxMessage).where(
        OutboxMessage.dossier == fine, OutboxMessage.template == "welcome"
    )

    async def welcomed() -> bool:
        async with stack.sessions() as s:
            email = await s.scalar(welcome)
        return email is not None and email.status == "sent"

    await eventually(welcomed)
    async with stack.sessions() as s, s.begin():
        email = await s.scalar(welcome)
        assert email is not None
        email.status, email.claimed_at = "unconfirmed", None
    before = [m["Message-ID"] for m in stack.catcher.messages()]

    code, fixed = await reconcile(cli, cases)
    assert code == 3 and fixed["fixed"] == 2
    assert fixed["outbox"] == {
        "checked": 1, "resent": 1, "failed": 0, "stale": 0, "in_flight": 0, "errors": []
    }  # fmt: skip
    after = [m["Message-ID"] for m in stack.catcher.messages()]
    assert sorted(after) == sorted([*before, email.message_id])
    r = await row(stack, moved)
    assert r is not None
    assert (r.stage, r.officer_id, r.escalation_level) == ("francization", me, 0)
    recreated = await row(stack, missing)
    assert recreated is not None
    assert (recreated.status, recreated.stage) == ("active", "arrival")
    assert recreated.officer_id == officer[missing]
    # A recreated row gets its contact data back from the workflow's (encrypted) input...
    assert (recreated.full_name, recreated.email) == ("Amina Diallo", "amina@example.org")
    # ...but reconcile never restores what the retention purge erased.
    erased = await row(stack, purged)
    assert erased is not None and (erased.full_name, erased.email) == (None, None)

    code, again = await reconcile(cli, cases)
    assert code == 0 and again["differences"] == [] and again["fixed"] == 0

    # The human output names each difference on its own line.
    async with stack.sessions() as s, s.begin():
        await s.execute(update(Case).where(Case.dossier == fine).values(overdue=True))
    code, out, _ = await cli("reconcile", "--dossier", fine)
    assert code == 3
    assert f"{fine}: overdue True -> False" in out
    assert "1 case checked, 1 differed, fixed 1" in out
    assert "outbox: 0 email(s) in doubt sent again" in out


async def test_reconcile_of_an_unknown_dossier_says_so(cli: Cli) -> None:
    code, report = await reconcile(cli, ["NO-SUCH-9"])
    assert code == 0 and report["unreadable"] == ["NO-SUCH-9"]
    code, _, err = await cli("reconcile", "--dossier", "NO-SUCH-9")
    assert "NO-SUCH-9: the workflow did not answer; not checked" in err


async def test_reconcile_selects_no_rows_it_was_not_asked_about(cli: Cli, stack: Stack) -> None:
    await add_roster(cli)
    d, other = dossier(), dossier()
    for x in (d, other):
        await start(cli, x)

    async def both() -> bool:
        views = [await cli.json("status", x) for x in (d, other)]
        rows = [await row(stack, x) for x in (d, other)]
        return all(v["pending_effects"] == 0 for v in views) and all(
            r is not None and r.officer_id for r in rows
        )

    await eventually(both)
    async with stack.sessions() as s, s.begin():
        await s.execute(update(Case).where(Case.dossier.in_([d, other])).values(overdue=True))
    code, report = await reconcile(cli, [d])
    differences: list[dict[str, object]] = report["differences"]  # type: ignore[assignment]
    assert code == 3 and [x["dossier"] for x in differences] == [d]
    async with stack.sessions() as s:
        left = (await s.scalars(select(Case.overdue).where(Case.dossier == other))).one()
    assert left is True


async def test_a_case_under_a_lower_case_dossier_stays_reachable_and_is_reported(
    cli: Cli, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Opened before dossier numbers were normalised (the activity's check is lifted to open
    one, as the old code did): found by its exact number, listed by reconcile, and a new
    approval typed in lower case is the upper-case dossier."""
    await add_roster(cli)
    legacy = dossier().lower()
    normal = legacy.upper()
    old = approval_model.check(
        {"dossier": normal, "name": "Amina Diallo", "email": "amina@example.org",
         "arrival": "2030-01-15", "region": "montreal"},
        ArrivalWindow(date(2029, 6, 1)),
    ).approval  # fmt: skip
    assert old is not None
    monkeypatch.setattr("activities.casework.approval_problems", lambda *_: {})
    await start_case(stack.client, stack.settings, replace(old, dossier=legacy), load_policy(None))

    async def opened() -> bool:
        code, out, _ = await cli("status", legacy, "--json")
        return code == 0 and json.loads(out)["officer"] is not None

    await eventually(opened)
    assert (await cli.json("status", legacy))["dossier"] == legacy

    code, report = await reconcile(cli, [legacy])
    assert {"dossier": legacy, "normalised": normal, "twin": False} in report["unnormalised"]  # type: ignore[operator]
    # The same person approved again, typed in lower case: the normalised dossier.
    await start(cli, f"  {legacy} ")
    assert (await cli.json("status", normal))["dossier"] == normal
    assert (await cli.json("status", legacy))["dossier"] == normal  # now the normalised one
    code, report = await reconcile(cli, [legacy])
    assert {"dossier": legacy, "normalised": normal, "twin": True} in report["unnormalised"]  # type: ignore[operator]
    # Scoped to the one case: the unnormalised list still covers every dossier.
    code, out, _ = await cli("reconcile", "--dry-run", "--dossier", legacy)
    assert (
        f"{legacy}: dossier number not normalised (today: {normal}); a case {normal} exists too"
        in out.splitlines()
    )
