"""The newcomer's personal link, `/n/<token>`: signed, expiring, single-purpose, no account.

The token is an itsdangerous `URLSafeTimedSerializer` token under the salt "newcomer-reply"
(so no other token of ours passes for one, nor one of these for another), keyed by the signing
key ring (infrastructure/signing.py: worker and web both hold it; current key signs, every key
verifies, so a rotation keeps the links already sent). Its payload is the case's workflow id
and a link id, nothing personal: the page reads the rest from the case.

It is minted in the notify activity when the welcome email is composed, at the moment the
workflow decided that email (`Notification.decided_at`), not at the wall clock: a resend, or
a retried batch, carries the very same link. It is good for `PARCOURS_NEWCOMER_LINK_DAYS`
(60) days from then.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from itsdangerous import BadData, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from parcours.infrastructure.codec import CodecKey
from parcours.infrastructure.config import Settings
from parcours.infrastructure.signing import signing_keyring
from parcours.kernel.domain import WORKFLOW_ID_PREFIX, Notification

SALT = "newcomer-reply"
# The path of the page (interfaces/web/routes_newcomer.py) under PARCOURS_PUBLIC_URL.
PATH = "/n/"
# The email that carries the link.
TEMPLATE = "welcome"
MAX_TOKEN = 512


class LinkRefused(Exception):
    """A token that is not a good link: tampered, of another purpose, or malformed."""


class LinkExpired(LinkRefused):
    """A genuine link past its life."""


@dataclass(frozen=True)
class Link:
    workflow_id: str
    link_id: str
    issued_at: datetime


def link_id_of(n: Notification) -> str:
    """The link's id: the business step of the email that carries it (`<wf>:<step>:<kind>`),
    stable across resends and free of personal data."""
    parts = n.key.split(":")
    return parts[1] if len(parts) >= 3 else "0"


class NewcomerLinks:
    def __init__(self, keys: list[CodecKey] | tuple[CodecKey, ...], days: int) -> None:
        if not keys:
            raise ValueError("newcomer links need at least one signing key")
        # itsdangerous signs with the last key and verifies with all; the ring's current is
        # its first.
        self._secrets = [k.secret for k in reversed(keys)]
        self.max_age = timedelta(days=days)

    @classmethod
    def from_settings(cls, settings: Settings) -> NewcomerLinks | None:
        keys = signing_keyring(settings)
        return cls(keys, settings.newcomer_link_days) if keys else None

    def _serializer(self, issued_at: datetime | None = None) -> URLSafeTimedSerializer:
        if issued_at is None:
            return URLSafeTimedSerializer(self._secrets, salt=SALT)
        stamp = int(issued_at.timestamp())

        class _At(TimestampSigner):
            def get_timestamp(self) -> int:
                return stamp

        return URLSafeTimedSerializer(self._secrets, salt=SALT, signer=_At)

    def mint(self, workflow_id: str, link_id: str, issued_at: datetime) -> str:
        """The token of `workflow_id`'s link `link_id`, issued at `issued_at` (the same
        arguments give the same token)."""
        token: str = self._serializer(issued_at).dumps({"w": workflow_id, "l": link_id})
        return token

    def for_notification(self, n: Notification, public_url: str) -> str:
        """The full address of the link the email `n` carries."""
        issued_at = n.decided_at or datetime.now(UTC)
        token = self.mint(n.workflow_id, link_id_of(n), issued_at)
        return f"{public_url.rstrip('/')}{PATH}{token}"

    def read(self, token: str) -> Link:
        """The link behind `token`; `LinkExpired` or `LinkRefused` otherwise."""
        if not token or len(token) > MAX_TOKEN:
            raise LinkRefused("malformed")
        try:
            payload, signed_at = self._serializer().loads(
                token, max_age=int(self.max_age.total_seconds()), return_timestamp=True
            )
        except SignatureExpired:
            raise LinkExpired("expired") from None
        except BadData:
            raise LinkRefused("bad signature") from None
        return Link(*_fields(payload), issued_at=signed_at)


def _fields(payload: Any) -> tuple[str, str]:
    if not isinstance(payload, dict):
        raise LinkRefused("bad payload")
    workflow_id, link_id = payload.get("w"), payload.get("l")
    if not isinstance(workflow_id, str) or not workflow_id.startswith(WORKFLOW_ID_PREFIX):
        raise LinkRefused("bad payload")
    if not isinstance(link_id, str) or len(link_id) > 32:
        raise LinkRefused("bad payload")
    return workflow_id, link_id
