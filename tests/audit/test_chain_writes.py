"""Writing the chain: strict order under concurrent batches of one case, the database's own
guards (frozen chain columns, no TRUNCATE), and no process that writes audit rows without a
key."""

from __future__ import annotations

import asyncio
import io

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from activities.casework import Casework
from parcours.infrastructure.codec import new_key
from parcours.infrastructure.config import Settings
from parcours.infrastructure.store import audit
from parcours.infrastructure.store.chain import AuditKeyMissing, AuditKeys
from parcours.infrastructure.store.db import session_factory
from parcours.infrastructure.store.models import AuditEvent
from parcours.infrastructure.worker import require_audit_keys
from parcours.interfaces.cli.main import amain
from parcours.kernel.domain import EventBatch
from parcours.kernel.errors import ParcoursError
from tests.audit.conftest import Db
from tests.store.builders import T0, event, snapshot
from tests.store.conftest import AUDIT_KEYS

AT = T0
BATCHES = 8
PER_BATCH = 6


async def test_concurrent_batches_of_one_case_keep_a_strict_chain(db: Db) -> None:
    """Eight workflow tasks' batches of one case recorded at the same time (on PostgreSQL,
    eight connections): every row takes its own place, 1..48, and the chain holds."""
    casework = Casework(db.sessions)
    start = asyncio.Event()

    async def batch(n: int) -> int:
        events = [
            event(n * 100 + i, snapshot("D-1"), kind=f"batch{n}") for i in range(1, PER_BATCH + 1)
        ]
        await start.wait()
        done = await casework.record_events(EventBatch(events=events))
        return done.recorded

    tasks = [asyncio.create_task(batch(n)) for n in range(BATCHES)]
    await asyncio.sleep(0)
    start.set()
    assert await asyncio.gather(*tasks) == [PER_BATCH] * BATCHES
    async with db.sessions() as s:
        rows = (
            await s.execute(
                select(AuditEvent.seq, AuditEvent.kind)
                .where(AuditEvent.dossier == "D-1")
                .order_by(AuditEvent.seq)
            )
        ).all()
    assert [seq for seq, _ in rows] == list(range(1, BATCHES * PER_BATCH + 1))
    # Each batch's rows are contiguous: one transaction held the case's chain at a time.
    kinds = [kind for _, kind in rows]
    assert all(len(set(kinds[i : i + PER_BATCH])) == 1 for i in range(0, len(kinds), PER_BATCH))
    result = await audit.verify(db.sessions, AuditKeys.of(AUDIT_KEYS))
    assert (result.holds, result.rows) == (True, BATCHES * PER_BATCH)


async def test_a_retried_event_takes_no_second_place(db: Db) -> None:
    first = event(1, snapshot("D-1"))
    async with db.sessions() as s, s.begin():
        assert await audit.append(s, key=first.key, dossier="D-1", kind="a", at=first.at)
    async with db.sessions() as s, s.begin():
        assert not await audit.append(s, key=first.key, dossier="D-1", kind="a", at=first.at)
        assert await audit.append(s, key="other", dossier="D-1", kind="b", at=first.at)
    async with db.sessions() as s:
        seqs = (await s.scalars(select(AuditEvent.seq).order_by(AuditEvent.seq))).all()
    assert seqs == [1, 2]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET seq = 7",
        "UPDATE audit_events SET chain_mac = 'x'",
        "UPDATE audit_events SET chain_key = 'other'",
        "UPDATE audit_events SET text_digest = NULL",
        "DELETE FROM audit_events",
    ],
)
async def test_the_chain_columns_are_frozen(db: Db, statement: str) -> None:
    async with db.sessions() as s, s.begin():
        await audit.append(
            s,
            key="k1",
            dossier="D-1",
            kind="progress_note",
            at=event(1, snapshot()).at,
            text="note",
        )
    with pytest.raises((IntegrityError, DBAPIError), match="append-only"):
        async with db.engine.begin() as conn:
            await conn.execute(text(statement))


async def test_truncate_is_refused(db: Db) -> None:
    async with db.sessions() as s, s.begin():
        await audit.append(
            s, key="k1", dossier="D-1", kind="case_opened", at=event(1, snapshot()).at
        )
    # SQLite has no TRUNCATE: its nearest, DELETE without WHERE, is refused above.
    statement = "TRUNCATE audit_events" if db.postgresql else "DELETE FROM audit_events"
    with pytest.raises((IntegrityError, DBAPIError), match="append-only"):
        async with db.engine.begin() as conn:
            await conn.execute(text(statement))
    async with db.engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM audit_events"))).scalar() == 1


async def test_sessions_without_a_key_write_no_audit_row(db: Db) -> None:
    keyless = session_factory(db.engine)
    with pytest.raises(AuditKeyMissing, match="aucune clé d'audit"):
        async with keyless() as s, s.begin():
            await audit.append(s, key="k1", dossier="D-1", kind="x", at=AT)
    async with db.engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM audit_events"))).scalar() == 0


def test_the_worker_needs_an_audit_key() -> None:
    with pytest.raises(ParcoursError, match="^aucune clé d.audit\u00a0: définir PARCOURS_AUDIT"):
        require_audit_keys(Settings(audit_keys=None, audit_key_file=None))
    with pytest.raises(ParcoursError, match="PARCOURS_AUDIT_KEYS: entry 1 is not"):
        require_audit_keys(Settings(audit_keys="not-a-key"))
    assert require_audit_keys(Settings(audit_keys=AUDIT_KEYS[0].spec())) == AUDIT_KEYS


async def test_parcours_worker_refuses_to_start_without_a_key_in_one_line() -> None:
    out, err = io.StringIO(), io.StringIO()
    # Temporal is unreachable: the refusal comes before anything connects. Payload and
    # signing keys are there, so the audit key is the one missing.
    settings = Settings(
        temporal_address="127.0.0.1:1",
        database_url="sqlite+aiosqlite://",
        codec_keys=new_key("test-payload").spec(),
        signing_keys=new_key("test-signing").spec(),
    )
    code = await amain(["worker"], settings=settings, out=out, err=err)
    assert code == 1
    lines = err.getvalue().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("parcours\u00a0: erreur\u00a0: aucune clé d'audit")


async def test_appends_outside_an_explicit_transaction_read_the_tail_each_time(db: Db) -> None:
    """The tail a batch remembers lives as long as its transaction: rows appended by
    successive implicit transactions of one session still chain in order."""
    async with db.sessions() as s:
        for i in range(3):
            assert await audit.append(s, key=f"k{i}", dossier="D-1", kind="x", at=AT)
            await s.commit()
        async with db.sessions() as other, other.begin():
            assert await audit.append(other, key="k-other", dossier="D-1", kind="x", at=AT)
        assert await audit.append(s, key="k-last", dossier="D-1", kind="x", at=AT)
        await s.commit()
    result = await audit.verify(db.sessions, AuditKeys.of(AUDIT_KEYS))
    assert (result.holds, result.rows) == (True, 5)
