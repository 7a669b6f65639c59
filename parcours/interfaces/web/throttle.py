"""The sign-in throttle: a few failures lock a login, more lock a client address.

Failures are the security log's `signin_failed` rows (so every web process counts the same
ones). An attempt is logged as a failure *before* its password is checked and struck off if
it succeeds, so a burst of parallel guesses cannot all slip in before the first is counted.
A locked attempt is answered 429 without hashing anything: guessing stops costing us argon2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from parcours.infrastructure.config import Settings
from parcours.infrastructure.store.security import SecurityKind, recent_failures, record


@dataclass(frozen=True)
class Limits:
    per_login: int
    per_address: int
    window: timedelta

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(
            per_login=settings.signin_max_failures,
            per_address=settings.signin_max_failures_per_address,
            window=timedelta(minutes=settings.signin_window_minutes),
        )


def wait_seconds(failures: list[datetime], limit: int, window: timedelta, now: datetime) -> int:
    """Seconds until fewer than `limit` of `failures` (oldest first, all within `window`)
    remain in the window; 0 if there are fewer already."""
    if len(failures) < limit:
        return 0
    frees_at = failures[len(failures) - limit] + window
    return max(1, math.ceil((frees_at - now).total_seconds()))


async def locked_for(
    session: AsyncSession, limits: Limits, login: str, client: str, now: datetime
) -> int:
    """Seconds the caller must wait before trying this login from this address; 0: go on."""
    since = now - limits.window
    by_login = await recent_failures(session, since, login=login)
    by_address = await recent_failures(session, since, client=client)
    return max(
        wait_seconds(by_login, limits.per_login, limits.window, now),
        wait_seconds(by_address, limits.per_address, limits.window, now),
    )


async def count_attempt(session: AsyncSession, login: str, client: str, now: datetime) -> int:
    """Log the attempt as a failure until proven otherwise; returns its row id."""
    event = await record(session, SecurityKind.SIGNIN_FAILED, now, login=login, client=client)
    return event.id


async def after_failure(
    session: AsyncSession, limits: Limits, login: str, client: str, now: datetime
) -> None:
    """Record a lockout when this failure is the one that reaches a limit."""
    since = now - limits.window
    if len(await recent_failures(session, since, login=login)) == limits.per_login:
        await record(session, SecurityKind.LOCKOUT, now, login=login, client=client)
    elif len(await recent_failures(session, since, client=client)) == limits.per_address:
        await record(session, SecurityKind.LOCKOUT, now, client=client)
