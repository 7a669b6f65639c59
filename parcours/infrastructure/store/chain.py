"""The audit trail's chain: what each row's HMAC covers, and the keys that make it.

Every audit row carries `chain_mac`, an HMAC-SHA256 over its content and over the `chain_mac`
of the row before it in the same case (by `seq`, 1, 2, 3 ...). The key lives outside the
database (PARCOURS_AUDIT_KEYS or PARCOURS_AUDIT_KEY_FILE), so whoever can only write to the
database can append, alter or delete rows but cannot make the chain hold again:
`parcours audit verify` finds the first row that breaks it.

The free text (`text`: notes, reasons) is personal data that the retention purge erases. The
chain covers `text_digest`, a keyed digest of the text stored beside it, not the text itself:
the purge sets `text` to NULL and the chain still holds; a text changed in place no longer
matches its digest. The digest is keyed (an HMAC, not a bare SHA-256) so that, once the text
is gone, nobody without the key can confirm a guess of what it said.

Rotation: each row names the id of the key that sealed it (`chain_key`); new rows use the
first key of the keyring, and every key in it verifies. Retire a key only when no row names
it (or when re-sealing is decided, which this module does not do).

This format is fixed (the migration that chains rows written before it, 0005, uses it): a
change needs a new version tag, and verification must keep reading the old one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from parcours.infrastructure.catalog import catalog
from parcours.infrastructure.codec import CodecKey, parse_keys, read_key_file
from parcours.infrastructure.config import Settings
from parcours.kernel.errors import ParcoursError

VERSION = "parcours-audit-chain-v1"
KEYS_ENV = "PARCOURS_AUDIT_KEYS"
KEY_FILE_ENV = "PARCOURS_AUDIT_KEY_FILE"
AUDIT_KEYS_HEADER = (
    "Parcours audit-chain keys: current key first. Keep every key that sealed a row still kept."
)


class AuditKeyMissing(ParcoursError):
    """No audit key: rows cannot be sealed (nor verified)."""


# In French, the language of the administration: the worker, `db upgrade` and the CLI say it.
NO_KEY = catalog()("audit.no_key")


def audit_keyring(settings: Settings) -> list[CodecKey]:
    """The audit keys the settings name (current first); inline keys win over the file. Same
    formats and checks as the payload keys (infrastructure/codec.py); [] when none is set."""
    if settings.audit_keys:
        return parse_keys(settings.audit_keys, source=KEYS_ENV)
    if settings.audit_key_file:
        return read_key_file(settings.audit_key_file)
    return []


@dataclass(frozen=True)
class AuditKeys:
    """The keyring of the chain: the first key seals, every key verifies."""

    keys: tuple[CodecKey, ...]

    def __post_init__(self) -> None:
        if not self.keys:
            raise AuditKeyMissing(NO_KEY)

    @classmethod
    def of(cls, keys: Sequence[CodecKey]) -> AuditKeys:
        return cls(tuple(keys))

    @property
    def current(self) -> CodecKey:
        return self.keys[0]

    def get(self, key_id: str | None) -> CodecKey | None:
        return next((k for k in self.keys if k.key_id == key_id), None)


@dataclass(frozen=True)
class Link:
    """What the HMAC of one row covers (every column but `id`, `text` and the MAC itself)."""

    dossier: str
    seq: int
    key: str
    kind: str
    at: datetime
    actor: str | None
    stage: str | None
    detail: str | None
    text_digest: str | None
    recorded_at: datetime


def instant(value: datetime) -> str:
    """A datetime as the chain sees it: UTC, microseconds. SQLite hands datetimes back
    without their offset (they are stored as UTC), PostgreSQL with it: both read the same."""
    aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return aware.isoformat(timespec="microseconds")


def text_digest(key: CodecKey, text: str | None) -> str | None:
    if text is None:
        return None
    return hmac.new(key.secret, b"text\x00" + text.encode(), hashlib.sha256).hexdigest()


def seal(key: CodecKey, link: Link, previous: str | None) -> str:
    """The HMAC of a row, chained to `previous` (the MAC of the row before; None for seq 1)."""
    content = [
        VERSION,
        key.key_id,
        previous,
        link.dossier,
        link.seq,
        link.key,
        link.kind,
        instant(link.at),
        link.actor,
        link.stage,
        link.detail,
        link.text_digest,
        instant(link.recorded_at),
    ]
    message = json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode()
    return hmac.new(key.secret, message, hashlib.sha256).hexdigest()
