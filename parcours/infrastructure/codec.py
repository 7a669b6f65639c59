"""Encryption of every Temporal payload: names, emails and notes never reach the server in clear.

AES-256-GCM (after temporalio/samples-python `encryption/codec.py`), with the id of the key in
each payload's metadata so that keys can rotate: the first key of the keyring encrypts, every
key decrypts. A key retires only when no open case, and no history still kept by the server,
carries payloads encrypted with it (see README, "Key management").

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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import (
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    PayloadCodec,
)

from parcours.infrastructure.config import Settings

ENCODING = b"binary/encrypted"
KEY_ID_METADATA = "encryption-key-id"
KEY_FILE_NAME = "codec.keys"
NONCE_BYTES = 12
KEY_BYTES = 32
KEY_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class CodecKeyError(ValueError):
    """A key specification that cannot be used; the message says which entry and why (never
    the key itself)."""


@dataclass(frozen=True)
class CodecKey:
    key_id: str
    secret: bytes = dataclasses.field(repr=False)

    def spec(self) -> str:
        return f"{self.key_id}:{base64.b64encode(self.secret).decode()}"


def new_key(key_id: str) -> CodecKey:
    if not KEY_ID_RE.match(key_id):
        raise CodecKeyError(f"key id {key_id!r}: letters, digits, '.', '_', '-' (up to 64)")
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
            raise CodecKeyError(f"{source}: entry {n} is not 'key-id:base64-key'")
        try:
            secret = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise CodecKeyError(f"{source}: key {key_id!r} is not valid base64") from None
        if len(secret) != KEY_BYTES:
            raise CodecKeyError(
                f"{source}: key {key_id!r} is {len(secret)} bytes; {purpose} needs {KEY_BYTES}"
            )
        if any(k.key_id == key_id for k in keys):
            raise CodecKeyError(f"{source}: key id {key_id!r} appears twice")
        keys.append(CodecKey(key_id, secret))
    if not keys:
        raise CodecKeyError(f"{source}: no key")
    return keys


def read_key_file(path: str | os.PathLike[str], *, purpose: str = "AES-256") -> list[CodecKey]:
    try:
        text = Path(path).read_text()
    except OSError as err:
        raise CodecKeyError(f"cannot read the key file {path}: {err.strerror or err}") from None
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


class EncryptionCodec(PayloadCodec):
    """AES-GCM over the serialized payload; the nonce is prefixed to the ciphertext."""

    def __init__(self, keys: Sequence[CodecKey]) -> None:
        if not keys:
            raise CodecKeyError("an encryption codec needs at least one key")
        self.current = keys[0]
        self._ciphers = {k.key_id: AESGCM(k.secret) for k in keys}
        self._current_cipher = self._ciphers[self.current.key_id]

    @property
    def key_ids(self) -> list[str]:
        return list(self._ciphers)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._decrypt(p) for p in payloads]

    def _encrypt(self, p: Payload) -> Payload:
        nonce = os.urandom(NONCE_BYTES)
        # The key id is authenticated too: a payload cannot be passed off under another key.
        kid = self.current.key_id.encode()
        sealed = self._current_cipher.encrypt(nonce, p.SerializeToString(), kid)
        return Payload(
            metadata={"encoding": ENCODING, KEY_ID_METADATA: kid},
            data=nonce + sealed,
        )

    def _decrypt(self, p: Payload) -> Payload:
        # Payloads written before encryption was turned on stay readable as they are.
        if p.metadata.get("encoding", b"") != ENCODING:
            return p
        kid = p.metadata.get(KEY_ID_METADATA, b"")
        cipher = self._ciphers.get(kid.decode(errors="replace"))
        if cipher is None:
            raise CodecKeyError(
                f"payload encrypted with key {kid.decode(errors='replace')!r}, which is not in "
                f"the keyring ({', '.join(self.key_ids)})"
            )
        try:
            plain = cipher.decrypt(p.data[:NONCE_BYTES], p.data[NONCE_BYTES:], kid)
        except InvalidTag:
            raise CodecKeyError(
                f"payload under key {kid.decode()!r} does not authenticate (wrong key or "
                "tampered data)"
            ) from None
        return Payload.FromString(plain)


def data_converter(keys: Iterable[CodecKey] | None) -> DataConverter:
    """The converter every client and worker uses: encrypted payloads when there are keys,
    and failure messages and stack traces encoded too (they may quote a value)."""
    keyring = list(keys or [])
    if not keyring:
        return DataConverter.default
    return dataclasses.replace(
        DataConverter.default,
        payload_codec=EncryptionCodec(keyring),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


def keyring(settings: Settings) -> list[CodecKey]:
    """The keys the settings name: inline keys win over the key file; none means no codec."""
    if settings.codec_keys:
        return parse_keys(settings.codec_keys)
    if settings.codec_key_file:
        return read_key_file(settings.codec_key_file)
    return []
