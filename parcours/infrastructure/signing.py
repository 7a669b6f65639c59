"""Signed updates: a case takes an action only from an interface that holds the signing key.

The codec cannot be the boundary: it must keep reading plaintext payloads written before keys
existed, and a decoding error would fail the workflow task forever (README, "Security
model"). So every update input carries a `Signature`: HMAC-SHA256, under a key of the ring,
over the workflow id, the update's name, the actor, a SHA-256 digest of the update's other
fields (canonical JSON) and the time it was issued. The interfaces sign through their
Temporal client (infrastructure/temporal.py `SigningInterceptor`, installed by `connect`); the
workflow's validators verify (`verifier()`), and refuse a missing, wrong or stale signature
as any other refusal. Handlers never verify: validators do not run on replay, so rotating or
losing a key never breaks the replay of a history.

Keys use the codec's format (`kid:base64,...`, 32 bytes each, current key first): the first
signs, every key verifies, so a new key is rolled out by putting it second everywhere, then
first, then dropping the old one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import threading
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from enum import Enum
from typing import Any, TypeVar

from parcours.infrastructure.codec import (
    CodecKey,
    CodecKeyError,
    keyring,
    parse_keys,
    read_key_file,
)
from parcours.infrastructure.config import Settings
from parcours.kernel.authz import Refusal, refusal
from parcours.kernel.batches import BatchRequest
from parcours.kernel.domain import (
    SIGNED,
    UNLESS_DEFAULT,
    CaseInput,
    NewcomerApproval,
    PolicySnapshot,
    Reopening,
    Signature,
)

KEY_FILE_NAME = "signing.keys"
KEY_FILE_HEADER = "Parcours signing keys: current key first. Workers and interfaces share them."
PURPOSE = "HMAC-SHA256"
# How long a signed action stays good, against the workflow's clock (workflow.now(): the start
# of the workflow task that validates it). Long enough for a slow worker to pick it up, short
# enough that a captured update cannot be sent again later.
FRESH_FOR = timedelta(minutes=5)
# Clocks of the interface's host and of the Temporal server differ a little.
AHEAD_ALLOWED = timedelta(minutes=1)
_CONTEXT = b"parcours-update-v1"
# Starts are signed under their own context, so no update signature can pass for one.
_START_CONTEXT = b"parcours-start-v1"
START = "start"
# What a start's digest covers: the case's data. The event budget and the (refused) state
# are left out: the first is harmless, the second fails the run before any effect.
START_FIELDS = ("approval", "policy")
# A reopening's start (issue 16) covers what it carries on from the closed run as well.
REOPEN_FIELDS = (*START_FIELDS, "reopening")
# A batch (issue 17) is signed under its own context over its id, its actor and these fields:
# what it does to which cases. The carried state, the window and the event budget are left
# out: they change how it runs, never what it may do.
_BATCH_CONTEXT = b"parcours-batch-v1"
BATCH_FIELDS = ("kind", "dossiers", "officers", "note", "deactivate")

T = TypeVar("T")


def _plain(value: Any) -> Any:
    """A JSON-able form that is the same before the payload is encoded and after it is decoded
    (enums as values, tuples as lists, datetimes in ISO form)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _plain(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if not (
                f.metadata.get(SIGNED) == UNLESS_DEFAULT and getattr(value, f.name) == f.default
            )
        }
    if isinstance(value, Enum):
        return _plain(value.value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def canonical(value: Any) -> bytes:
    return json.dumps(_plain(value), sort_keys=True, separators=(",", ":")).encode()


def field_names(arg: Any) -> list[str]:
    """The fields a signature covers: all of the input's but the signature itself."""
    return [f.name for f in dataclasses.fields(arg) if f.name != "signature"]


def argument_digest(arg: Any, names: Sequence[str]) -> str:
    """SHA-256 of the canonical form of the input's fields `names` (their names included)."""
    plain = _plain(arg)
    return hashlib.sha256(canonical({n: plain[n] for n in names})).hexdigest()


def _message(
    workflow_id: str, update: str, arg: Any, names: Sequence[str], issued_at: datetime
) -> bytes:
    actor = getattr(arg, "actor", None)
    parts = [
        _CONTEXT,
        workflow_id.encode(),
        update.encode(),
        canonical(actor),
        argument_digest(arg, names).encode(),
        _utc(issued_at).isoformat().encode(),
    ]
    return b"\n".join(parts)


def _start_fields(inp: CaseInput) -> tuple[str, ...]:
    return START_FIELDS if inp.reopening is None else REOPEN_FIELDS


def _start_message(workflow_id: str, inp: CaseInput, issued_at: datetime) -> bytes:
    parts = [
        _START_CONTEXT,
        workflow_id.encode(),
        START.encode(),
        argument_digest(inp, _start_fields(inp)).encode(),
        _utc(issued_at).isoformat().encode(),
    ]
    return b"\n".join(parts)


def _batch_message(req: BatchRequest, issued_at: datetime) -> bytes:
    parts = [
        _BATCH_CONTEXT,
        req.batch_id.encode(),
        canonical(req.actor),
        argument_digest(req, BATCH_FIELDS).encode(),
        _utc(issued_at).isoformat().encode(),
    ]
    return b"\n".join(parts)


def _fresh(issued_at: datetime, now: datetime) -> Refusal | None:
    age = now - issued_at
    if age > FRESH_FOR or age < -AHEAD_ALLOWED:
        return refusal("signature_stale", issued_at=_utc(issued_at).isoformat())
    return None


def _unsigned_fields_at_default(arg: Any, names: Sequence[str]) -> bool:
    """A field the signer did not know (the worker is newer) must hold its default: otherwise
    someone could set it without touching the signature."""
    for f in dataclasses.fields(arg):
        if f.name == "signature" or f.name in names:
            continue
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            return False
        if getattr(arg, f.name) != default:
            return False
    return True


def _utc(at: datetime) -> datetime:
    return at.astimezone(UTC)


def _mac(key: CodecKey, message: bytes) -> str:
    return hmac.new(key.secret, message, hashlib.sha256).hexdigest()


def signable(arg: object) -> bool:
    return dataclasses.is_dataclass(arg) and any(
        f.name == "signature" for f in dataclasses.fields(arg)
    )


@dataclasses.dataclass(frozen=True)
class Signer:
    keys: tuple[CodecKey, ...]

    def sign(self, workflow_id: str, update: str, arg: T, now: datetime) -> T:
        """`arg` with its `signature` set (a copy: the caller's value is left alone)."""
        assert dataclasses.is_dataclass(arg) and not isinstance(arg, type)
        key = self.keys[0]
        issued_at = _utc(now)
        names = field_names(arg)
        mac = _mac(key, _message(workflow_id, update, arg, names, issued_at))
        signature = Signature(key_id=key.key_id, issued_at=issued_at, mac=mac, fields=names)
        signed: T = dataclasses.replace(arg, signature=signature)
        return signed

    def sign_start(self, workflow_id: str, inp: CaseInput, now: datetime) -> CaseInput:
        """`inp` with the signature of a start of `workflow_id` (a copy)."""
        key = self.keys[0]
        issued_at = _utc(now)
        mac = _mac(key, _start_message(workflow_id, inp, issued_at))
        signature = Signature(
            key_id=key.key_id, issued_at=issued_at, mac=mac, fields=list(_start_fields(inp))
        )
        return dataclasses.replace(inp, signature=signature)

    def batch_digest(self, what: bytes) -> str:
        """A batch's derived id (application/batches.py): keyed, so that neither the note it
        carries nor its list can be read back from the id, nor the id of a batch still to
        come guessed and started first by someone else (issue 17 attack review)."""
        return _mac(self.keys[0], b"parcours batch id\n" + what)

    def sign_batch(self, req: BatchRequest, now: datetime) -> BatchRequest:
        """`req` (its `batch_id` set) with the signature of an interface (a copy)."""
        key = self.keys[0]
        issued_at = _utc(now)
        mac = _mac(key, _batch_message(req, issued_at))
        signature = Signature(
            key_id=key.key_id, issued_at=issued_at, mac=mac, fields=list(BATCH_FIELDS)
        )
        return dataclasses.replace(req, signature=signature)


@dataclasses.dataclass(frozen=True)
class Verifier:
    keys: tuple[CodecKey, ...]

    def check(self, workflow_id: str, update: str, arg: Any, now: datetime) -> Refusal | None:
        """None if `arg` was signed, for this case and this update, by a key of the ring,
        within FRESH_FOR of `now`."""
        sig: Signature | None = getattr(arg, "signature", None)
        if sig is None:
            return refusal("signature_missing")
        key = next((k for k in self.keys if k.key_id == sig.key_id), None)
        known = set(field_names(arg))
        # An interface newer than this worker signed a field the worker does not know: it
        # cannot tell what it would be agreeing to.
        if key is None or not set(sig.fields) <= known or not sig.fields:
            return refusal("signature_invalid")
        if not _unsigned_fields_at_default(arg, sig.fields):
            return refusal("signature_invalid")
        expected = _mac(key, _message(workflow_id, update, arg, sig.fields, sig.issued_at))
        if not hmac.compare_digest(expected, sig.mac):
            return refusal("signature_invalid")
        # Checked after the MAC: the time is only trusted once it is known to be signed.
        return _fresh(sig.issued_at, now)

    def check_start(
        self,
        workflow_id: str,
        approval: NewcomerApproval,
        policy: PolicySnapshot,
        sig: Signature | None,
        accepted_at: datetime,
        reopening: Reopening | None = None,
    ) -> Refusal | None:
        """None if the start of `workflow_id` with this approval and policy was signed by a
        key of the ring within FRESH_FOR of `accepted_at`, when the Temporal server accepted
        the start (not when a worker got to it: a backlog must not make a good start stale)."""
        if sig is None:
            return refusal("signature_missing")
        key = next((k for k in self.keys if k.key_id == sig.key_id), None)
        inp = CaseInput(approval=approval, policy=policy, reopening=reopening)
        if key is None or tuple(sig.fields) != _start_fields(inp):
            return refusal("signature_invalid")
        expected = _mac(key, _start_message(workflow_id, inp, sig.issued_at))
        if not hmac.compare_digest(expected, sig.mac):
            return refusal("signature_invalid")
        return _fresh(sig.issued_at, accepted_at)

    def check_batch(self, req: BatchRequest, accepted_at: datetime) -> Refusal | None:
        """None if the batch `req` was signed by a key of the ring within FRESH_FOR of
        `accepted_at`, when the Temporal server accepted the batch's first run."""
        sig = req.signature
        if sig is None:
            return refusal("signature_missing")
        key = next((k for k in self.keys if k.key_id == sig.key_id), None)
        if key is None or tuple(sig.fields) != BATCH_FIELDS or not req.batch_id:
            return refusal("signature_invalid")
        expected = _mac(key, _batch_message(req, sig.issued_at))
        if not hmac.compare_digest(expected, sig.mac):
            return refusal("signature_invalid")
        return _fresh(sig.issued_at, accepted_at)


def signing_keyring(settings: Settings) -> list[CodecKey]:
    """The signing keys the settings name (inline wins over the file); [] if none."""
    if settings.signing_keys:
        return parse_keys(settings.signing_keys, source="PARCOURS_SIGNING_KEYS", purpose=PURPOSE)
    if settings.signing_key_file:
        return read_key_file(settings.signing_key_file, purpose=PURPOSE)
    return []


def signer_for(settings: Settings) -> Signer | None:
    keys = signing_keyring(settings)
    return Signer(tuple(keys)) if keys else None


def start_verifier(settings: Settings) -> Verifier | None:
    """register_case's verifier of case starts (an activity: it reads the settings itself)."""
    keys = signing_keyring(settings)
    return Verifier(tuple(keys)) if keys else None


class _VerifierSlot:
    """The worker process's verifier, set once at start (parcours/infrastructure/worker.py).

    Workflow code reads no environment and no file, so the keys reach the validators through
    this module, which the sandbox passes through. It is the one piece of module state a
    workflow reads, and it is safe to share among cases because it is written before any
    workflow runs and never changes afterwards: a second `install` with the same keys is a
    no-op, with other keys an error (one process, one key ring; rotation is a restart).
    """

    __slots__ = ("_lock", "_verifier")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._verifier: Verifier | None = None

    def install(self, keys: Sequence[CodecKey]) -> Verifier:
        if not keys:
            raise CodecKeyError.of("verifier_empty")
        verifier = Verifier(tuple(keys))
        with self._lock:
            if self._verifier is None:
                self._verifier = verifier
            elif self._verifier != verifier:
                raise CodecKeyError.of("verifier_changed")
            return self._verifier

    def get(self) -> Verifier | None:
        return self._verifier


_SLOT = _VerifierSlot()


def install_verifier(keys: Sequence[CodecKey]) -> Verifier:
    return _SLOT.install(keys)


def verifier() -> Verifier | None:
    """The verifier the worker installed; None if none (every update is then refused)."""
    return _SLOT.get()


def require_keys(settings: Settings, who: str) -> None:
    """A process that serves cases (worker, web, codec server) refuses to start without both
    rings: without payload keys names and emails would reach Temporal in clear, and without
    signing keys every action would be refused (or, for a worker, could not be checked)."""
    missing = [
        name
        for name, ring in (
            ("payload", lambda: keyring(settings)),
            ("signing", lambda: signing_keyring(settings)),
        )
        if not ring()
    ]
    if missing:
        # `who`: worker, web or codec_server (the catalogue's key.who.*).
        raise CodecKeyError.of(f"missing_{'_'.join(missing)}", who=f"key.who.{who}")
