"""Server-side sessions of the web console and the security log.

A browser holds only an opaque random session id; the database keeps its sha256, so a copy of
this table does not let anyone sign in. Ending a session is deleting its row: logout, a
password change and deactivation take effect on the very next request.

The security log records sign-ins, failures, lockouts, logouts, ended sessions and API token
use: the login (or token name) and the client address, never a password or personal data.
It is also what the sign-in throttle counts.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Integer, String, Text, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from parcours.infrastructure.store.models import Base, UtcDateTime

# Touching `last_seen_at` on every request would be a write per page; the idle timeout is
# counted in minutes, so refreshing it once a minute is precise enough.
TOUCH_EVERY = timedelta(minutes=1)


class WebSession(Base):
    __tablename__ = "web_sessions"

    id_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    login: Mapped[str] = mapped_column(String(64), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    # A one-shot notice for the next page, JSON (interfaces/web/sessions.py): an action done,
    # or a refused form with its message and what was typed (personal data: it lives here, in
    # the row, never in a cookie or an address, and is dropped once shown or with the session).
    flash: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)


class SecurityKind:
    SIGNIN = "signin"
    SIGNIN_FAILED = "signin_failed"
    LOCKOUT = "lockout"
    LOGOUT = "logout"
    SESSIONS_ENDED = "sessions_ended"  # password change or deactivation
    UNLOCKED = "unlocked"  # `parcours users unlock`: the login's failures stop counting
    TOKEN_USED = "token_used"
    TOKEN_REFUSED = "token_refused"  # a valid token outside its scope
    # The newcomer's page (`/n/<token>`): a token that is no good link, and each answer sent
    # through a good one (`login` is then the link, `n:<dossier>:<link id>`).
    NEWCOMER_LINK_REFUSED = "newcomer_link_refused"
    NEWCOMER_REPLY = "newcomer_reply"


class SecurityEvent(Base):
    __tablename__ = "security_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    kind: Mapped[str] = mapped_column(String(32))
    login: Mapped[str | None] = mapped_column(String(64), index=True)
    client: Mapped[str | None] = mapped_column(String(64), index=True)
    token: Mapped[str | None] = mapped_column(String(64))


def session_digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


@dataclass(frozen=True)
class SessionLimits:
    idle: timedelta
    lifetime: timedelta


async def open_session(session: AsyncSession, login: str, csrf: str, now: datetime) -> str:
    """A new session for `login`; returns the id for the cookie (only its hash is stored).
    The caller commits."""
    session_id = secrets.token_urlsafe(32)
    session.add(
        WebSession(
            id_sha256=session_digest(session_id),
            login=login,
            csrf=csrf,
            created_at=now,
            last_seen_at=now,
        )
    )
    await session.flush()
    return session_id


async def find_session(
    session: AsyncSession, session_id: str, now: datetime, limits: SessionLimits
) -> WebSession | None:
    """The live session with this id, or None; an expired one is deleted on the way (the
    caller commits)."""
    if not session_id or len(session_id) > 128:
        return None
    row = await session.get(WebSession, session_digest(session_id))
    if row is None:
        return None
    if now - row.last_seen_at > limits.idle or now - row.created_at > limits.lifetime:
        await session.delete(row)
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
    return row


async def end_session(session: AsyncSession, session_id: str) -> None:
    await session.execute(
        delete(WebSession).where(WebSession.id_sha256 == session_digest(session_id))
    )


async def end_sessions(session: AsyncSession, login: str) -> int:
    """End every session of `login` (password change, deactivation); returns how many."""
    result = await session.execute(delete(WebSession).where(WebSession.login == login))
    return int(getattr(result, "rowcount", 0) or 0)


async def purge_expired(session: AsyncSession, now: datetime, limits: SessionLimits) -> None:
    """Sessions nobody came back to are deleted here (at each sign-in), not only when their
    cookie is replayed."""
    await session.execute(
        delete(WebSession).where(
            or_(
                WebSession.last_seen_at < now - limits.idle,
                WebSession.created_at < now - limits.lifetime,
            )
        )
    )


async def record(
    session: AsyncSession,
    kind: str,
    now: datetime,
    *,
    login: str | None = None,
    client: str | None = None,
    token: str | None = None,
) -> SecurityEvent:
    event = SecurityEvent(
        at=now,
        kind=kind,
        login=login[:64] if login else None,
        client=client[:64] if client else None,
        token=token,
    )
    session.add(event)
    await session.flush()
    return event


async def recent_failures(
    session: AsyncSession, since: datetime, *, login: str | None = None, client: str | None = None
) -> list[datetime]:
    """Times of the failed sign-ins since `since` for a login (after its last successful
    sign-in or unlock) or for a client address, oldest first."""
    stmt = select(SecurityEvent.at).where(
        SecurityEvent.kind == SecurityKind.SIGNIN_FAILED, SecurityEvent.at > since
    )
    if login is not None:
        # By row order, not time: an unlock from the CLI and a failure in the console are
        # stamped by two processes' clocks; the log's order is the one they happened in.
        reset = await session.scalar(
            select(func.max(SecurityEvent.id)).where(
                SecurityEvent.kind.in_((SecurityKind.SIGNIN, SecurityKind.UNLOCKED)),
                SecurityEvent.login == login,
            )
        )
        if reset is not None:
            stmt = stmt.where(SecurityEvent.id > reset)
        stmt = stmt.where(SecurityEvent.login == login)
    if client is not None:
        stmt = stmt.where(SecurityEvent.client == client)
    return list((await session.scalars(stmt.order_by(SecurityEvent.at))).all())


async def recent_events(
    session: AsyncSession,
    kind: str,
    since: datetime,
    *,
    login: str | None = None,
    client: str | None = None,
) -> list[datetime]:
    """Times of the `kind` rows since `since` for a login or a client address, oldest first
    (the newcomer page's throttle)."""
    stmt = select(SecurityEvent.at).where(SecurityEvent.kind == kind, SecurityEvent.at > since)
    if login is not None:
        stmt = stmt.where(SecurityEvent.login == login)
    if client is not None:
        stmt = stmt.where(SecurityEvent.client == client)
    return list((await session.scalars(stmt.order_by(SecurityEvent.at))).all())


async def strike(session: AsyncSession, event_id: int) -> None:
    """Remove one log row: an attempt counted as a failure in advance that succeeded."""
    await session.execute(delete(SecurityEvent).where(SecurityEvent.id == event_id))
