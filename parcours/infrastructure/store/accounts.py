"""Sign-in accounts of the web console and the operators' API tokens.

The roster (`officers`) says who a person is; this module only says how they prove it.
Officers, supervisors and directors sign in with their officer id; operators (the visa
system's staff) have a login of their own with no officer row. Secrets are stored hashed:
passwords with argon2id (a slow, salted hash), API tokens with sha256 (they are long random
strings, so a fast hash is enough and lets every API call be checked cheaply).

A password change or a deactivation ends the person's web sessions in the same transaction.
An API token has a scope: `intake` (post visa approvals) or `read` (a case's status fields).
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Boolean, String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from parcours.infrastructure.store.models import Base, Officer, UtcDateTime, utcnow
from parcours.infrastructure.store.security import SecurityKind, end_sessions, record
from parcours.kernel.authz import TokenScope
from parcours.kernel.domain import OFFICER_ID_RE
from parcours.kernel.errors import ParcoursError
from parcours.kernel.inputs import shown
from parcours.kernel.messages import Message


class AccountKind:
    OFFICER = "officer"  # officers, supervisors, directors: the roster says which
    OPERATOR = "operator"


class Credential(Base):
    """A password that lets `login` sign in to the web console."""

    __tablename__ = "web_credentials"

    login: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default=AccountKind.OFFICER)
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class ApiToken(Base):
    """A bearer token of an operators' system (the visa system); only its sha256 is kept."""

    __tablename__ = "api_tokens"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    scope: Mapped[str] = mapped_column(
        String(16), default=TokenScope.INTAKE, server_default=TokenScope.INTAKE
    )
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class AccountError(ParcoursError, ValueError):
    """A login, password or token refused: an English line for logs, and the same as a
    `Message` (`refusal`) that interfaces render in their reader's language."""


_hasher = PasswordHasher()
MIN_PASSWORD = 8
# A prefix makes a leaked token recognisable by secret scanners and in support tickets.
TOKEN_PREFIX = "pct_"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# Verified against when the login is unknown or inactive, so that an unknown login costs the
# same argon2 work as a wrong password and the answer's timing does not reveal who exists.
_dummy_hash: str | None = None


def dummy_hash() -> str:
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = hash_password(secrets.token_urlsafe(16))
    return _dummy_hash


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class Account:
    """Who signed in: an officer row (officers, supervisors, directors) or an operator."""

    login: str
    kind: str
    officer: Officer | None = None

    @property
    def role(self) -> str:
        return self.officer.role if self.officer is not None else AccountKind.OPERATOR

    @property
    def region(self) -> str | None:
        return self.officer.region if self.officer is not None else None

    @property
    def display_name(self) -> str:
        return self.officer.name if self.officer is not None else self.login


async def set_password(
    session: AsyncSession, login: str, password: str, *, operator: bool = False
) -> Credential:
    """Create or replace the password of `login`. An officer id must be on the roster; any
    other login is an operator's, and only with `operator=True`. The caller commits."""
    login = login.strip()
    if not OFFICER_ID_RE.match(login):
        raise AccountError(
            f"invalid login {login!r}: lowercase letters, digits, '.', '_', '-'",
            refusal=Message.of("login_invalid", login=shown(login)),
        )
    if len(password) < MIN_PASSWORD:
        raise AccountError(
            f"the password is too short (at least {MIN_PASSWORD} characters)",
            refusal=Message.of("password_short", least=MIN_PASSWORD),
        )
    officer = await session.get(Officer, login)
    if officer is None and not operator:
        raise AccountError(
            f"no officer with id {login} (see 'parcours officers list'; "
            "use --operator for an operator's login)",
            refusal=Message.of("login_not_officer", login=login),
        )
    kind = AccountKind.OFFICER if officer is not None else AccountKind.OPERATOR
    # argon2 is slow on purpose: keep it off the event loop.
    hashed = await asyncio.to_thread(hash_password, password)
    cred = await session.get(Credential, login)
    if cred is None:
        cred = Credential(login=login, kind=kind, password_hash=hashed)
        session.add(cred)
    else:
        cred.kind = kind
        cred.password_hash = hashed
        cred.active = True
        await _end_sessions(session, login)
    await session.flush()
    return cred


async def deactivate(session: AsyncSession, login: str) -> None:
    """The login can no longer sign in, and its open sessions end now. The caller commits."""
    cred = await session.get(Credential, login.strip())
    if cred is None:
        raise AccountError(
            f"no sign-in for {login!r}", refusal=Message.of("login_unknown", login=shown(login))
        )
    cred.active = False
    await _end_sessions(session, cred.login)
    await session.flush()


async def _end_sessions(session: AsyncSession, login: str) -> None:
    if await end_sessions(session, login):
        await record(session, SecurityKind.SESSIONS_ENDED, utcnow(), login=login)


async def authenticate(session: AsyncSession, login: str, password: str) -> Account | None:
    """The account if the password matches and the person may still sign in, else None."""
    cred = await session.get(Credential, login.strip())
    if cred is None or not cred.active:
        await asyncio.to_thread(check_password, await asyncio.to_thread(dummy_hash), password)
        return None
    if not await asyncio.to_thread(check_password, cred.password_hash, password):
        return None
    return await load_account(session, cred.login)


async def load_account(session: AsyncSession, login: str) -> Account | None:
    """Re-read on every request, so that a deactivated officer loses access at once."""
    cred = await session.get(Credential, login)
    if cred is None or not cred.active:
        return None
    if cred.kind == AccountKind.OPERATOR:
        return Account(login=login, kind=AccountKind.OPERATOR)
    officer = await session.get(Officer, login)
    if officer is None or not officer.active:
        return None
    return Account(login=login, kind=AccountKind.OFFICER, officer=officer)


async def create_token(session: AsyncSession, name: str, scope: str = TokenScope.INTAKE) -> str:
    """A new token named `name`; returns the token itself, which is shown once and never
    stored. The caller commits."""
    name = name.strip()
    if scope not in TokenScope.ALL:
        raise AccountError(
            f"unknown scope {scope!r}: {' or '.join(TokenScope.ALL)}",
            refusal=Message.of(
                "token_scope", scope=shown(scope), choices=", ".join(TokenScope.ALL)
            ),
        )
    if not OFFICER_ID_RE.match(name):
        raise AccountError(
            f"invalid token name {name!r}: lowercase letters, digits, '.', '_', '-'",
            refusal=Message.of("token_name_invalid", name=shown(name)),
        )
    if await session.get(ApiToken, name) is not None:
        raise AccountError(
            f"a token named {name} exists (revoke it first)",
            refusal=Message.of("token_exists", name=name),
        )
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(name=name, token_sha256=token_digest(token), scope=scope))
    await session.flush()
    return token


async def revoke_token(session: AsyncSession, name: str) -> None:
    row = await session.get(ApiToken, name)
    if row is None:
        raise AccountError(
            f"no token named {name}", refusal=Message.of("token_unknown", name=shown(name))
        )
    await session.delete(row)
    await session.flush()


async def list_tokens(session: AsyncSession) -> list[ApiToken]:
    return list((await session.scalars(select(ApiToken).order_by(ApiToken.name))).all())


async def token_owner(session: AsyncSession, token: str) -> ApiToken | None:
    """The active token `token` (its name and scope), or None."""
    row = await session.scalar(select(ApiToken).where(ApiToken.token_sha256 == token_digest(token)))
    if row is None or not row.active:
        return None
    row.last_used_at = utcnow()
    return row


async def seed_demo_passwords(session: AsyncSession, password: str) -> list[str]:
    """Give every roster member without a password the demo password, plus a demo operator
    login `operator`; returns the logins seeded. For `parcours dev` only. The caller commits."""
    seeded: list[str] = []
    officers = (await session.scalars(select(Officer).order_by(Officer.id))).all()
    for officer in officers:
        if await session.get(Credential, officer.id) is None:
            await set_password(session, officer.id, password)
            seeded.append(officer.id)
    if await session.get(Credential, DEMO_OPERATOR) is None:
        await set_password(session, DEMO_OPERATOR, password, operator=True)
        seeded.append(DEMO_OPERATOR)
    return seeded


DEMO_OPERATOR = "operator"
