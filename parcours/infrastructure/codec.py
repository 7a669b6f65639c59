"""The payload codec's keys: their format, key files, and the keyring the settings name.

The codec itself (AES-256-GCM over every Temporal payload) is payload_codec.py. The keys live
apart from it because the signing keys (signing.py) and the audit-chain keys
(store/chain.py) share their format, and the read model must not import the Temporal SDK
and the cipher just to read a key file (a CLI command that only reads the read model would
pay for both at start-up).

Keys come from `PARCOURS_CODEC_KEYS` (`kid:base64key,kid:base64key`, current key first) or a
key file (`PARCOURS_CODEC_KEY_FILE`, one `kid:base64key` per line, current key first, `#`
comments); `parcours dev` writes one under its data dir. Search attributes are not payloads of
the codec: they stay plain and hold no personal data (parcours/kernel/search.py).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import os
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from parcours.infrastructure.config import Settings
from parcours.kernel.errors import ParcoursError
from parcours.kernel.messages import Message

KEY_FILE_NAME = "codec.keys"
KEY_BYTES = 32
KEY_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class CodecKeyError(ParcoursError, ValueError):
    """A key specification that cannot be used; says which entry and why (never the key
    itself), as a code and parameters (`key.<code>` in the catalogue) that each interface words
    in its reader's language; the text is the English line, for logs."""

    @classmethod
    def of(cls, code: str, **params: object) -> CodecKeyError:
        # Here, not at the top: the codec is imported by every CLI command, the catalogue only
        # when a key is wrong.
        from parcours.infrastructure.catalog import catalog

        message = Message.of(f"key.{code}", **params)
        return cls(catalog("en").message(message), refusal=message)


@dataclass(frozen=True)
class CodecKey:
    key_id: str
    secret: bytes = dataclasses.field(repr=False)

    def spec(self) -> str:
        return f"{self.key_id}:{base64.b64encode(self.secret).decode()}"


def new_key(key_id: str) -> CodecKey:
    if not KEY_ID_RE.match(key_id):
        raise CodecKeyError.of("bad_id", key_id=key_id)
    return CodecKey(key_id, secrets.token_bytes(KEY_BYTES))


def parse_keys(
    spec: str, *, source: str = "PARCOURS_CODEC_KEYS", purpose: str = "AES-256"
) -> list[CodecKey]:
    """`kid:base64,kid:base64` (commas or newlines; `#` starts a comment). Current key first.
    The signing keys (infrastructure/signing.py) share the format, with `purpose` "HMAC-SHA256"."""
    keys: list[CodecKey] = []
    entries = [
        line.split("#", 1)[0].strip() for chunk in spec.splitlines() for line in chunk.split(",")
    ]
    for n, entry in enumerate((e for e in entries if e), start=1):
        key_id, sep, encoded = entry.partition(":")
        key_id = key_id.strip()
        if not sep or not KEY_ID_RE.match(key_id):
            raise CodecKeyError.of("bad_entry", source=source, n=n)
        try:
            secret = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise CodecKeyError.of("bad_base64", source=source, key_id=key_id) from None
        if len(secret) != KEY_BYTES:
            raise CodecKeyError.of(
                "bad_length",
                source=source,
                key_id=key_id,
                size=len(secret),
                purpose=purpose,
                needed=KEY_BYTES,
            )
        if any(k.key_id == key_id for k in keys):
            raise CodecKeyError.of("duplicate", source=source, key_id=key_id)
        keys.append(CodecKey(key_id, secret))
    if not keys:
        raise CodecKeyError.of("none", source=source)
    return keys


def read_key_file(path: str | os.PathLike[str], *, purpose: str = "AES-256") -> list[CodecKey]:
    try:
        text = Path(path).read_text()
    except OSError as err:
        raise CodecKeyError.of(
            "unreadable", path=str(path), reason=err.strerror or str(err)
        ) from None
    return parse_keys(text, source=str(path), purpose=purpose)


PAYLOAD_KEYS_HEADER = (
    "Parcours payload keys: current key first. Keep every key that may still decrypt."
)


def write_key_file(path: Path, keys: Sequence[CodecKey], header: str = PAYLOAD_KEYS_HEADER) -> None:
    """Write a key file readable by its owner only (created 0600, never world-readable)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = f"# {header}\n"
    body += "".join(f"{k.spec()}\n" for k in keys)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(body)


def ensure_key_file(path: Path, key_id: str = "local-1", header: str = PAYLOAD_KEYS_HEADER) -> bool:
    """Create a key file with one fresh key unless one exists; True if created."""
    if path.exists():
        return False
    write_key_file(path, [new_key(key_id)], header)
    return True


def keyring(settings: Settings) -> list[CodecKey]:
    """The keys the settings name: inline keys win over the key file; none means no codec."""
    if settings.codec_keys:
        return parse_keys(settings.codec_keys)
    if settings.codec_key_file:
        return read_key_file(settings.codec_key_file)
    return []
