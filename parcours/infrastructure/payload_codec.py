"""Encryption of every Temporal payload: names, emails and notes never reach the server in clear.

AES-256-GCM (after temporalio/samples-python `encryption/codec.py`), with the id of the key in
each payload's metadata so that keys can rotate: the first key of the keyring encrypts, every
key decrypts. A key retires only when no open case, and no history still kept by the server,
carries payloads encrypted with it (see README, "Key management"). The keys themselves:
codec.py.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import typing
from collections import abc
from collections.abc import Iterable, Sequence
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import (
    AdvancedJSONEncoder,
    CompositePayloadConverter,
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    DefaultPayloadConverter,
    JSONPlainPayloadConverter,
    JSONTypeConverter,
    JSONTypeConverterUnhandled,
    PayloadCodec,
    value_to_type,
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


# The dataclasses the fast paths below take: ours, which cross Temporal (a test lists them).
# Any other dataclass goes the SDK's way, so that an SDK or library type keeps its own rules.
OWN_MODULES: tuple[str, ...] = ("parcours.", "workflows.", "activities.")
_CONTAINERS = (dict, list, tuple, str, bytes, set, frozenset, abc.Mapping)
_UNORDERED = (set, frozenset, abc.Set, abc.MutableSet)


def _container(hint: Any) -> bool:
    # `json` writes a container as one and never asks `default`, so a dataclass that is also
    # a dict (say) loses its fields on the fast path.
    return isinstance(hint, type) and issubclass(hint, _CONTAINERS)


def _plain_hint(hint: Any) -> bool:
    if hint is Any or hint is object or hint in _UNORDERED:
        return False
    if typing.get_origin(hint) in _UNORDERED:
        return False
    if dataclasses.is_dataclass(hint) and _container(hint):
        return False
    return all(_plain_hint(arg) for arg in typing.get_args(hint))


@functools.cache
def _shape(cls: type) -> tuple[tuple[dataclasses.Field[Any], ...], dict[str, Any]]:
    # get_type_hints walks the class's MRO and builds a new dict on every call, and evaluates
    # again any annotation left as a string (domain.py evaluates its own at import for that).
    return dataclasses.fields(cls), typing.get_type_hints(cls)


@functools.cache
def _plain(cls: type) -> bool:
    """Whether `asdict`'s deep copy cannot change what `json` writes for this class: no set
    (a copied set may iterate in another order), no `Any` (it could hold one), and not itself
    a container."""
    if _container(cls):
        return False
    try:
        _, hints = _shape(cls)
    except Exception:  # an annotation that does not resolve: the SDK's way decides
        return False
    return all(_plain_hint(hint) for hint in hints.values())


def fast_path(cls: type) -> bool:
    """Whether our encoder and decoder handle this dataclass themselves."""
    return cls.__module__.startswith(OWN_MODULES) and _plain(cls)


class ShallowJSONEncoder(AdvancedJSONEncoder):
    """The SDK's JSON encoder, with our dataclasses handed to `json` one level at a time.

    The SDK's encoder turns a dataclass into a dict with `dataclasses.asdict`, which deep-copies
    every leaf it does not recurse into: each datetime of a case (a snapshot carries five) is
    copied through `__reduce_ex__` before `json` reads it (about a fifth of a workflow task's
    CPU in the storm benchmark's profile, 2026-12-04). Here the fields are given as they are
    and `json` recurses into lists, dicts and nested dataclasses itself, calling `default`
    again for each: the text is the same, byte for byte (a test holds it to the SDK's over
    every payload of every committed history). Classes for which the copy could matter
    (`fast_path`) keep the SDK's way.
    """

    def default(self, o: Any) -> Any:
        if dataclasses.is_dataclass(o) and not isinstance(o, type) and fast_path(type(o)):
            return {f.name: getattr(o, f.name) for f in dataclasses.fields(o)}
        return super().default(o)


class DataclassFromJSON(JSONTypeConverter):
    """The SDK's decoding of our dataclasses, with each class's type hints read once.

    `temporalio.converter.value_to_type` calls `typing.get_type_hints` for every dataclass it
    builds, every time: decoding a case's input took 853 us, a case view 534 us (2026-12-04).
    Same rules as the SDK's (fields missing from the JSON left to the class's defaults,
    unknown keys ignored, `init=False` fields set afterwards, a TypeError naming the field);
    the fields themselves are decoded by the SDK.
    """

    def to_typed_value(self, hint: type, value: Any) -> Any | JSONTypeConverterUnhandled:
        if not (
            isinstance(hint, type)
            and isinstance(value, dict)  # else the SDK raises its own TypeError
            and dataclasses.is_dataclass(hint)
            and fast_path(hint)
        ):
            return JSONTypeConverter.Unhandled
        fields, hints = _shape(hint)
        init: dict[str, Any] = {}
        later: dict[str, Any] = {}
        for f in fields:
            raw = value.get(f.name, dataclasses.MISSING)
            if raw is dataclasses.MISSING:
                continue
            try:
                converted = value_to_type(hints[f.name], raw, (self,))
            except Exception as err:
                raise TypeError(f"Failed converting field {f.name} on dataclass {hint}") from err
            (init if f.init else later)[f.name] = converted
        obj = hint(**init)
        for name, converted in later.items():
            object.__setattr__(obj, name, converted)
        return obj


class CasePayloadConverter(CompositePayloadConverter):
    """The SDK's default converters, with `ShallowJSONEncoder` and `DataclassFromJSON` for
    JSON."""

    def __init__(self) -> None:
        super().__init__(
            *(
                JSONPlainPayloadConverter(
                    encoder=ShallowJSONEncoder, custom_type_converters=[DataclassFromJSON()]
                )
                if type(c) is JSONPlainPayloadConverter
                else c
                for c in DefaultPayloadConverter.default_encoding_payload_converters
            )
        )


def data_converter(keys: Iterable[CodecKey] | None) -> DataConverter:
    """The converter every client and worker uses: encrypted payloads when there are keys,
    and failure messages and stack traces encoded too (they may quote a value)."""
    keyring = list(keys or [])
    if not keyring:
        return DataConverter.default
    return dataclasses.replace(
        DataConverter.default,
        payload_converter_class=CasePayloadConverter,
        payload_codec=EncryptionCodec(keyring),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )
