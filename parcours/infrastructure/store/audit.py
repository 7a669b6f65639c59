"""Appending to the audit trail, each row sealed into its case's chain, and verifying chains.

The keys travel with the session factory (`session_factory(engine, audit_keys=...)`, kept in
each session's `info`), so every writer of audit rows (the casework and email activities)
seals with the worker's keys without handing them around.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy import text as sql
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parcours.infrastructure.store.chain import (
    NO_KEY,
    AuditKeyMissing,
    AuditKeys,
    Link,
    seal,
    text_digest,
)
from parcours.infrastructure.store.models import AuditEvent, Case, utcnow
from parcours.infrastructure.store.writes import insert_ignore

INFO_KEY = "parcours.audit_keys"
# The class id of the per-case advisory locks (PostgreSQL's two-int key space, which never
# meets the one-bigint space of the migration lock).
CHAIN_LOCK_CLASS = 0x61756474  # "audt"


def keys_of(session: AsyncSession) -> AuditKeys:
    keys = session.info.get(INFO_KEY)
    if not isinstance(keys, AuditKeys):
        raise AuditKeyMissing(NO_KEY)
    return keys


async def _lock_chain(session: AsyncSession, dossier: str) -> None:
    """Serialize the appends of one case until the transaction ends. Two batches of one case
    recorded at once would otherwise both read the same last row and take the same place
    (the unique (dossier, seq) index would then refuse the second)."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(_PG_LOCK, {"cls": CHAIN_LOCK_CLASS, "dossier": dossier})
    elif not await _sqlite_writing(session):
        # SQLite locks the whole database, but only from a transaction's first write: the
        # read of the last row below would still see a state another connection is about to
        # change. A write that changes nothing takes the lock first (and waits for it).
        await session.execute(_SQLITE_LOCK)


# Built once: these run for every batch of audit rows.
_PG_LOCK = sql("SELECT pg_advisory_xact_lock(:cls, hashtext(:dossier))")
_SQLITE_LOCK = sql("UPDATE audit_events SET seq = seq WHERE 0")
_TAIL = (
    select(AuditEvent.seq, AuditEvent.chain_mac)
    .where(AuditEvent.dossier == bindparam("dossier"), AuditEvent.seq.is_not(None))
    .order_by(AuditEvent.seq.desc())
    .limit(1)
)


async def _sqlite_writing(session: AsyncSession) -> bool:
    """True when this SQLite transaction has written already, and so holds the database's
    write lock (the driver opens a transaction at the first write, never at a read): the
    outbox's "sent" record, for one, updates its row before it audits."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    return bool(getattr(raw.driver_connection, "in_transaction", False))


async def append(
    session: AsyncSession,
    *,
    key: str,
    dossier: str,
    kind: str,
    at: datetime,
    actor: str | None = None,
    stage: str | None = None,
    detail: str | None = None,
    text: str | None = None,
) -> bool:
    """Insert one audit row at the end of its case's chain, unless its key exists (returns
    False then, and nothing changed). The caller commits."""
    keys = keys_of(session)
    tails = _tails(session)
    tail = tails.get(dossier)
    if tail is None:
        tail = await _locked_tail(session, dossier)
    seq, previous = tail[0] + 1, tail[1]
    sealer = keys.current
    link = Link(
        dossier=dossier,
        seq=seq,
        key=key,
        kind=kind,
        at=at,
        actor=actor,
        stage=stage,
        detail=detail,
        text_digest=text_digest(sealer, text),
        recorded_at=utcnow(),
    )
    values: dict[str, Any] = {
        "key": key,
        "dossier": dossier,
        "kind": kind,
        "at": at,
        "actor": actor,
        "stage": stage,
        "detail": detail,
        "text": text,
        "recorded_at": link.recorded_at,
        "seq": seq,
        "text_digest": link.text_digest,
        "chain_key": sealer.key_id,
        "chain_mac": seal(sealer, link, previous),
    }
    inserted = await insert_ignore(session, AuditEvent, values)
    tails[dossier] = (seq, values["chain_mac"]) if inserted else tail
    return inserted


Tail = tuple[int, str | None]  # (the last place taken in a case, its seal)
_TAILS = "parcours.audit_tails"


def _tails(session: AsyncSession) -> dict[str, Tail]:
    """The tails of the chains this transaction holds locked. A batch appends several rows
    to one case: only the first locks and reads the tail, the others continue from it. Kept
    per transaction (a new one starts empty), since the lock ends with it."""
    transaction = session.sync_session.get_transaction()
    if transaction is None:  # begun by the first statement: nothing to remember it by
        return {}
    held = session.info.get(_TAILS)
    if held is None or held[0] is not transaction:
        held = (transaction, {})
        session.info[_TAILS] = held
    tails: dict[str, Tail] = held[1]
    return tails


async def _locked_tail(session: AsyncSession, dossier: str) -> Tail:
    await _lock_chain(session, dossier)
    last = (await session.execute(_TAIL, {"dossier": dossier})).first()
    return (last[0] or 0, last[1]) if last is not None else (0, None)


# Why a row breaks its chain (codes for --json; the CLI words them).
UNCHAINED = "unchained"  # no place or no seal: written around the application
GAP = "gap"  # rows are missing before this one (deleted), or its place was changed
UNKNOWN_KEY = "unknown_key"  # sealed with a key that is not in the keyring
TEXT_ALTERED = "text_altered"  # the text no longer matches its digest
SEAL = "seal"  # content or chain changed since it was sealed, or a forged seal
EMPTY = "empty"  # the case has a row in `cases` and not one audit row: all of them deleted
# A case's first audit rows follow its `cases` row within seconds (the same workflow task's
# batch); a case opened more recently than this is not yet expected to have any.
OPENING_GRACE = timedelta(minutes=15)


@dataclass(frozen=True)
class Break:
    """The first row of a case where its chain stops holding."""

    dossier: str
    row_id: int | None
    key: str | None
    seq: int | None
    reason: str
    expected_seq: int

    def to_json(self) -> dict[str, object]:
        return {
            "dossier": self.dossier,
            "id": self.row_id,
            "key": self.key,
            "seq": self.seq,
            "expected_seq": self.expected_seq,
            "reason": self.reason,
        }


@dataclass
class Verification:
    cases: int = 0
    rows: int = 0
    broken: list[Break] = field(default_factory=list)

    @property
    def holds(self) -> bool:
        return not self.broken


def first_break(keys: AuditKeys, rows: Sequence[AuditEvent]) -> Break | None:
    """Walk one case's rows in chain order; the first that does not hold, if any."""
    previous: str | None = None
    for expected, row in enumerate(rows, start=1):

        def broken(reason: str, row: AuditEvent = row, expected: int = expected) -> Break:
            return Break(row.dossier, row.id, row.key, row.seq, reason, expected)

        if row.seq is None or row.chain_mac is None:
            return broken(UNCHAINED)
        if row.seq != expected:
            return broken(GAP)
        key = keys.get(row.chain_key)
        if key is None:
            return broken(UNKNOWN_KEY)
        if row.text is not None and not _same(text_digest(key, row.text), row.text_digest):
            return broken(TEXT_ALTERED)
        link = Link(
            dossier=row.dossier,
            seq=row.seq,
            key=row.key,
            kind=row.kind,
            at=row.at,
            actor=row.actor,
            stage=row.stage,
            detail=row.detail,
            text_digest=row.text_digest,
            recorded_at=row.recorded_at,
        )
        if not _same(seal(key, link, previous), row.chain_mac):
            return broken(SEAL)
        previous = row.chain_mac
    return None


def _same(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and hmac.compare_digest(a, b)


def _chain_order(row: AuditEvent) -> tuple[bool, int, int]:
    # Unchained rows (no seq) first, so a row slipped in around the application is named.
    return (row.seq is not None, row.seq or 0, row.id)


Progress = Callable[[Verification, int], None]
CASES_PER_READ = 200


async def verify(
    sessions: async_sessionmaker[AsyncSession],
    keys: AuditKeys,
    dossiers: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> Verification:
    """Check the chain of every case (or of `dossiers`). Reads a few hundred cases at a time,
    each in its own short transaction, so a long run holds no lock and little memory;
    `progress(result so far, total cases)` is called after each read."""
    async with sessions() as session:
        stmt = select(AuditEvent.dossier).distinct().order_by(AuditEvent.dossier)
        if dossiers:
            stmt = stmt.where(AuditEvent.dossier.in_(list(dossiers)))
        todo = list((await session.scalars(stmt)).all())
        # Deleting every row of a case leaves no chain to break: a case the read model holds
        # and the audit trail does not is named too.
        opened = select(Case.dossier).where(Case.started_at <= utcnow() - OPENING_GRACE)
        if dossiers:
            opened = opened.where(Case.dossier.in_(list(dossiers)))
        audited = set(todo)
        empty = sorted(d for d in (await session.scalars(opened)).all() if d not in audited)
    result = Verification()
    for dossier in empty:
        result.cases += 1
        result.broken.append(Break(dossier, None, None, None, EMPTY, 1))
    for start in range(0, len(todo), CASES_PER_READ):
        group = todo[start : start + CASES_PER_READ]
        async with sessions() as session:
            rows = (
                await session.scalars(select(AuditEvent).where(AuditEvent.dossier.in_(group)))
            ).all()
        by_case: dict[str, list[AuditEvent]] = {d: [] for d in group}
        for row in rows:
            by_case[row.dossier].append(row)
        for dossier in group:
            chain = sorted(by_case[dossier], key=_chain_order)
            result.cases += 1
            result.rows += len(chain)
            found = first_break(keys, chain)
            if found is not None:
                result.broken.append(found)
        if progress is not None:
            progress(result, len(todo))
    return result
