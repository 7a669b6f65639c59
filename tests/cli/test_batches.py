"""`parcours officers deactivate`, `parcours bulk ...` and `parcours batch status` against a
real Temporal dev server, the real worker (its batch workflow and activities), SQLite and a
real SMTP catcher (issue 17)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from parcours.infrastructure.store.db import open_read_model, session_factory
from parcours.infrastructure.store.officers import get_officer, roster_changes
from tests.cli.conftest import Cli, eventually
from tests.conftest import Stack
from tests.store.conftest import AUDIT_KEYS


async def roster(cli: Cli) -> None:
    for officer, region, langs, role in (
        ("atremblay", "montreal", "fr,en", "officer"),
        ("crodriguez", "montreal", "fr,es", "officer"),
        ("yhaddad", "montreal", "fr,ar", "officer"),
        ("nbouchard", "montreal", "fr", "supervisor"),
        ("hcote", "capitale-nationale", "fr", "director"),
    ):
        await cli.ok(
            "officers", "add", "--id", officer, "--name", officer.title(),
            "--email", f"{officer}@parcours.example", "--region", region,
            "--languages", langs, "--role", role,
        )  # fmt: skip


async def open_cases(cli: Cli, n: int) -> list[str]:
    prefix = uuid.uuid4().hex[:6].upper()
    dossiers = [f"BT-{prefix}-{i}" for i in range(n)]
    for d in dossiers:
        await cli.ok(
            "start", "--dossier", d, "--name", "Amina Diallo", "--email", "amina@example.org",
            "--arrival", "2030-01-15", "--region", "montreal",
        )  # fmt: skip

    async def assigned() -> bool:
        views = [await cli.json("status", d) for d in dossiers]
        return all(v["officer"] is not None for v in views)

    await eventually(assigned)
    return dossiers


async def test_a_departure_and_bulk_work_through_the_cli(cli: Cli, stack: Stack) -> None:
    await roster(cli)
    dossiers = await open_cases(cli, 6)
    held = [d for d in dossiers if (await cli.json("status", d))["officer"] == "atremblay"]
    assert held  # the intake rule spreads six French speakers over three officers

    # Not a director; no choice while cases are held: one line, exit 1, nothing started.
    err = await cli.fails(
        "officers", "deactivate", "atremblay", "--redistribute", "--by", "nbouchard"
    )
    assert "director" in err
    err = await cli.fails("officers", "deactivate", "atremblay", "--by", "hcote")
    assert "--redistribute" in err and "--to" in err
    # Moving them to another region is refused while they hold cases, naming the way out.
    err = await cli.fails("officers", "update", "atremblay", "--region", "laval", "--by", "hcote")
    assert "parcours bulk" in err

    out = await cli.json("officers", "deactivate", "atremblay", "--redistribute", "--by", "hcote")
    assert out["finished"] and out["deactivated"] and out["done"] == len(held)
    assert {r["dossier"] for r in out["results"]} == set(held)
    for d in held:
        officer = (await cli.json("status", d))["officer"]
        assert officer in ("crodriguez", "yhaddad")
    async with open_read_model(stack.settings) as engine:
        sessions = session_factory(engine, AUDIT_KEYS)
        async with sessions() as session:
            gone = await get_officer(session, "atremblay")
            changes = await roster_changes(session, "atremblay")
    assert gone is not None and not gone.active
    assert (changes[-1].change, changes[-1].actor) == ("deactivated", "hcote")
    assert changes[-1].detail == f"batch={out['batch']}"

    # A supervisor's note over a filter; the same submission again is a no-op.
    first = await cli.json(
        "bulk", "note", "--filter", "region=montreal", "--note", "dossier revu en comité",
        "--by", "nbouchard", "--id", "comite-1",
    )  # fmt: skip
    assert (first["batch"], first["done"], first["total"]) == ("comite-1", 6, 6)
    again = await cli.json(
        "bulk", "note", "--filter", "region=montreal", "--note", "dossier revu en comité",
        "--by", "nbouchard", "--id", "comite-1",
    )  # fmt: skip
    assert again["results"] == first["results"]
    for d in dossiers:
        assert (await cli.json("status", d))["notes_count"] == 1
    status = await cli.json("batch", "status", "comite-1")
    assert status["finished"] and status["done"] == 6

    # A plain reassign, detached: it runs on; `batch watch` follows it to its end.
    code, out, err = await cli(
        "bulk", "reassign", "--cases", ",".join(dossiers[:2]), "--to", "yhaddad",
        "--by", "nbouchard", "--detach",
    )  # fmt: skip
    assert code == 0 and "parcours batch watch" not in out
    batch_id = err.split()[2].rstrip(":")
    watched = await cli.json("batch", "watch", batch_id)
    assert watched["finished"] and watched["done"] == 2
    assert await cli.fails("batch", "status", "nope-1") == "no batch nope-1"


async def test_ctrl_c_leaves_the_batch_running_and_says_how_to_follow_it_again(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`parcours batch watch` interrupted: the bar stops, a note names the command that
    re-attaches, and nothing asks the batch to stop (no client call but the progress query)."""
    import io

    from parcours.application import batches as app
    from parcours.infrastructure.config import Settings
    from parcours.interfaces.cli.common import Context
    from parcours.interfaces.cli.main import amain
    from parcours.kernel.batches import BatchKind, BatchProgress

    asked: list[str] = []
    followed = asyncio.Event()

    async def progress(client: object, batch_id: str) -> BatchProgress:
        asked.append(batch_id)
        if len(asked) >= 3:
            followed.set()
        return BatchProgress(batch_id, BatchKind.SPREAD, total=300, done=len(asked))

    async def no_client(self: Context) -> object:
        return object()

    monkeypatch.setattr(app, "batch_progress", progress)
    monkeypatch.setattr(Context, "client", no_client)
    settings = Settings(
        temporal_address="127.0.0.1:1", database_url=f"sqlite+aiosqlite:///{tmp_path / 'p.db'}"
    )
    out, err = io.StringIO(), io.StringIO()
    watching = asyncio.create_task(
        amain(["batch", "watch", "lot-7"], settings=settings, out=out, err=err)
    )
    await asyncio.wait_for(followed.wait(), 30)
    watching.cancel()  # what asyncio.run does on Ctrl-C
    with pytest.raises(asyncio.CancelledError):
        await watching
    assert "[" in err.getvalue() and "/300" in err.getvalue()
    assert "parcours batch watch lot-7" in err.getvalue().splitlines()[-1]
    assert out.getvalue() == ""
