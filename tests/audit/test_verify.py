"""`parcours audit verify` catches a changed, a deleted and a forged row, on SQLite and
PostgreSQL, through the real CLI on a migrated database; the retention purge keeps chains whole.
"""

from __future__ import annotations

import io
import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, text

from parcours.infrastructure.codec import new_key
from parcours.infrastructure.config import Settings
from parcours.infrastructure.store import cases, retention
from parcours.infrastructure.store.db import session_factory
from parcours.infrastructure.store.models import AuditEvent, utcnow
from parcours.interfaces.cli.main import amain
from parcours.kernel.domain import CaseStatus
from tests.audit.conftest import Db
from tests.store.builders import T0, event, snapshot
from tests.store.conftest import AUDIT_KEYS

KEYS = ",".join(k.spec() for k in AUDIT_KEYS)


async def record(db: Db, dossier: str, steps: range, **kw: Any) -> None:
    async with db.sessions() as s, s.begin():
        for step in steps:
            await cases.record_event(s, event(step, snapshot(dossier), **kw))


async def verify(db: Db, *args: str, keys: str | None = KEYS) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    settings = Settings(database_url=db.url, audit_keys=keys, temporal_address="127.0.0.1:1")
    code = await amain(["audit", "verify", *args], settings=settings, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


async def verify_json(db: Db, *args: str, keys: str = KEYS) -> tuple[int, dict[str, Any]]:
    code, out, _ = await verify(db, "--json", *args, keys=keys)
    return code, json.loads(out)


async def row_id(db: Db, dossier: str, seq: int) -> int:
    async with db.sessions() as s:
        found = await s.scalar(
            select(AuditEvent.id).where(AuditEvent.dossier == dossier, AuditEvent.seq == seq)
        )
    assert found is not None
    return found


async def test_intact_chains_hold(db: Db) -> None:
    await record(db, "D-1", range(1, 6), text="Amina a trouvé un logement")
    await record(db, "D-2", range(1, 4))
    code, out, _ = await verify(db)
    assert code == 0
    assert out.strip() == "journal d'audit intact\u00a0: 2 dossiers, 8 lignes"
    code, report = await verify_json(db)
    assert (code, report["holds"], report["cases"], report["rows"]) == (0, True, 2, 8)
    assert report["broken"] == []


async def test_a_modified_row_is_named(db: Db) -> None:
    await record(db, "D-1", range(1, 6))
    await record(db, "D-2", range(1, 4))
    target = await row_id(db, "D-1", 3)
    await db.tamper("UPDATE audit_events SET actor = 'someone-else' WHERE id = :id", id=target)
    code, out, _ = await verify(db)
    assert code == 3
    assert f"D-1\u00a0: chaîne rompue à la ligne {target} (n° 3, attendu n° 3" in out
    assert "le contenu ou la chaîne a changé" in out
    assert "1 dossier sur 2 a une chaîne rompue" in out
    _, report = await verify_json(db)
    assert [(b["dossier"], b["id"], b["reason"]) for b in report["broken"]] == [
        ("D-1", target, "seal")
    ]


async def test_a_modified_text_is_named(db: Db) -> None:
    await record(db, "D-1", range(1, 4), text="note d'origine")
    target = await row_id(db, "D-1", 2)
    await db.tamper("UPDATE audit_events SET text = 'note réécrite' WHERE id = :id", id=target)
    code, report = await verify_json(db)
    assert code == 3
    assert [(b["id"], b["reason"]) for b in report["broken"]] == [(target, "text_altered")]


async def test_a_deleted_row_is_named(db: Db) -> None:
    await record(db, "D-1", range(1, 6))
    gone = await row_id(db, "D-1", 2)
    after = await row_id(db, "D-1", 3)
    await db.tamper("DELETE FROM audit_events WHERE id = :id", id=gone)
    code, report = await verify_json(db)
    assert code == 3
    [broken] = report["broken"]
    assert (broken["id"], broken["seq"], broken["expected_seq"], broken["reason"]) == (
        after,
        3,
        2,
        "gap",
    )


async def test_a_forged_back_dated_row_is_named(db: Db) -> None:
    """Someone with write access to the database but not the key appends a row dated before
    the case's others, copying a real row's seal: it cannot be made to hold."""
    await record(db, "D-1", range(1, 4))
    async with db.sessions() as s:
        last = (
            await s.scalars(
                select(AuditEvent).where(AuditEvent.dossier == "D-1").order_by(AuditEvent.seq)
            )
        ).all()[-1]
    forged = {
        "key": "newcomer-D-1:000000:stage_waived",
        "dossier": "D-1",
        "kind": "stage_waived",
        "at": T0 - timedelta(days=3),
        "actor": "director-x",
        "recorded_at": T0 - timedelta(days=3),
        "seq": 4,
        "chain_key": last.chain_key,
        "chain_mac": last.chain_mac,
        "text_digest": None,
    }
    # An insert needs no trigger out of the way: the triggers only guard updates and deletes.
    async with db.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO audit_events (key, dossier, kind, at, actor, recorded_at, seq, "
                "chain_key, chain_mac, text_digest) VALUES (:key, :dossier, :kind, :at, "
                ":actor, :recorded_at, :seq, :chain_key, :chain_mac, :text_digest)"
            ),
            forged,
        )
        forged_id = (
            await conn.execute(
                text("SELECT id FROM audit_events WHERE key = :k"), {"k": forged["key"]}
            )
        ).scalar_one()
    code, out, _ = await verify(db)
    assert code == 3
    assert f"chaîne rompue à la ligne {forged_id} (n° 4" in out
    # A forged row without a place in the chain is named too.
    async with db.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO audit_events (key, dossier, kind, at, recorded_at) "
                "VALUES ('newcomer-D-2:000001:case_withdrawn', 'D-2', 'case_withdrawn', :at, :at)"
            ),
            {"at": T0 - timedelta(days=1)},
        )
    _, report = await verify_json(db, "--dossier", "D-2")
    assert [(b["dossier"], b["reason"]) for b in report["broken"]] == [("D-2", "unchained")]


async def test_the_retention_purge_keeps_every_chain(db: Db) -> None:
    closed = snapshot("D-1", status=CaseStatus.COMPLETED, stage=None)
    async with db.sessions() as s, s.begin():
        await cases.record_event(s, event(1, snapshot("D-1"), text="Amina Diallo, 514-555-0199"))
        await cases.record_event(s, event(2, closed, kind="case_completed"))
    async with db.sessions() as s, s.begin():
        done = await retention.purge_cases(s, ["D-1"], T0 + timedelta(days=800))
    assert done.audit_texts == 1
    async with db.sessions() as s:
        texts = (await s.scalars(select(AuditEvent.text))).all()
    assert texts == [None, None]
    assert (await verify(db))[0] == 0


async def test_rotation_verifies_old_rows_and_refuses_an_unknown_key(db: Db) -> None:
    await record(db, "D-1", range(1, 3))
    newer = new_key("test-audit-2")
    rotated = session_factory(db.engine, [newer, *AUDIT_KEYS])
    async with rotated() as s, s.begin():
        await cases.record_event(s, event(3, snapshot("D-1")))
    both = ",".join(k.spec() for k in [newer, *AUDIT_KEYS])
    code, out, _ = await verify(db, keys=both)
    assert code == 0, out
    # Without the old key the first row sealed with it is named.
    code, report = await verify_json(db, keys=newer.spec())
    assert code == 3
    assert report["broken"][0]["reason"] == "unknown_key"


async def test_without_a_key_verify_refuses_in_one_line(db: Db) -> None:
    code, out, err = await verify(db, keys=None)
    assert code == 1 and out == ""
    assert err.count("\n") == 1
    assert err.startswith(
        "parcours\u00a0: erreur\u00a0: aucune clé d'audit\u00a0: définir PARCOURS_AUDIT_KEYS"
    )


async def test_a_wrong_key_breaks_every_chain(db: Db) -> None:
    await record(db, "D-1", range(1, 3))
    await record(db, "D-2", range(1, 3))
    impostor = new_key(AUDIT_KEYS[0].key_id)  # same id, other secret
    code, report = await verify_json(db, keys=impostor.spec())
    assert code == 3
    assert [(b["dossier"], b["seq"]) for b in report["broken"]] == [("D-1", 1), ("D-2", 1)]


async def test_progress_on_stderr_and_a_bad_dossier_refused(
    db: Db, monkeypatch: pytest.MonkeyPatch
) -> None:
    from parcours.infrastructure.store import audit as store_audit
    from parcours.interfaces.cli import audit as audit_cli

    await record(db, "D-1", range(1, 3))
    await record(db, "D-2", range(1, 3))
    await record(db, "D-3", range(1, 3))
    monkeypatch.setattr(audit_cli, "PROGRESS_EVERY", 2)
    monkeypatch.setattr(store_audit, "CASES_PER_READ", 1)
    code, out, err = await verify(db)
    assert code == 0
    assert err.splitlines() == [
        "parcours\u00a0: 2/3 dossiers vérifiés (4 lignes)",
        "parcours\u00a0: 3/3 dossiers vérifiés (6 lignes)",
    ]
    assert out.strip() == "journal d'audit intact\u00a0: 3 dossiers, 6 lignes"
    code, out, err = await verify(db, "--dossier", "not a dossier")
    assert code != 0 and out == "" and len(err.splitlines()) == 1


async def test_a_case_whose_every_row_was_deleted_is_named(db: Db) -> None:
    """No chain is left to break: the read model's row of the case gives it away."""
    await record(db, "D-1", range(1, 4))
    await record(db, "D-2", range(1, 4))
    await db.tamper("DELETE FROM audit_events WHERE dossier = 'D-2'")
    code, out, _ = await verify(db)
    assert code == 3
    assert "D-2\u00a0: aucune ligne d'audit pour un dossier ouvert depuis plus de 15 minutes" in out
    assert "1 dossier sur 2 a une chaîne rompue" in out
    code, report = await verify_json(db, "--dossier", "D-2")
    assert code == 3
    assert [(b["dossier"], b["id"], b["reason"]) for b in report["broken"]] == [
        ("D-2", None, "empty")
    ]
    # A case opened a moment ago has no rows yet (its first batch follows): not a break.
    async with db.engine.begin() as conn:
        await conn.execute(
            text("UPDATE cases SET started_at = :now WHERE dossier = 'D-2'"),
            {"now": utcnow() - timedelta(minutes=1)},
        )
    code, report = await verify_json(db)
    assert (code, report["cases"], report["broken"]) == (0, 1, [])
