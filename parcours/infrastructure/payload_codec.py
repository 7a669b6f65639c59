"""Encryption of every Temporal payload: names, emails and notes never reach the server in clear.

AES-256-GCM (after temporalio/samples-python `encryption/codec.py`), with the id of the key in
each payload's metadata so that keys can rotate: the first key of the keyring encrypts, every
key decrypts. A key retires only when no open case, and no history still kept by the server,
carries payloads encrypted with it (see README, "Key management"). The keys themselves:
codec.py.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import (
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    PayloadCodec,
)

from parcours.infrastructure.codec import CodecKey, CodecKeyError

ENCODING = b"binary/encrypted"
KEY_ID_METADATA = "encryption-key-id"
NONCE_BYTES = 12


class EncryptionCodec(PayloadCodec):
    """AES-GCM over the serialized payload; the nonce is prefixed to the ciphertext."""

    def __init__(self, keys: Sequence[CodecKey]) -> None:
        if not keys:
            raise CodecKeyError.of("codec_empty")
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
            raise CodecKeyError.of(
                "unknown_payload_key",
                key_id=kid.decode(errors="replace"),
                known=", ".join(self.key_ids),
            )
        try:
            plain = cipher.decrypt(p.data[:NONCE_BYTES], p.data[NONCE_BYTES:], kid)
        except InvalidTag:
            raise CodecKeyError.of("payload_tampered", key_id=kid.decode()) from None
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
