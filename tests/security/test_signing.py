"""Signed updates (signing.py): what the validators accept and refuse, without Temporal
except for the data converter's round trip, which is what the workflow really sees."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.converter import DataConverter

from parcours.infrastructure.codec import CodecKeyError, new_key
from parcours.infrastructure.config import Settings
from parcours.infrastructure.payload_codec import data_converter
from parcours.infrastructure.signing import (
    AHEAD_ALLOWED,
    FRESH_FOR,
    Signer,
    Verifier,
    _VerifierSlot,
    require_keys,
    signing_keyring,
)
from parcours.kernel.domain import (
    Actor,
    CaseInput,
    NewcomerApproval,
    PlanFiling,
    PlanItem,
    ProgressNote,
    Reassignment,
    Role,
    Signature,
    Stage,
    Withdrawal,
    WithdrawalReason,
)
from parcours.kernel.policy import load_policy

WF = "newcomer-D-1"
NOW = datetime(2026, 12, 2, 14, 0, tzinfo=UTC)
OFFICER = Actor("off-mtl-1", Role.OFFICER, "montreal")
DIRECTOR = Actor("dir-1", Role.DIRECTOR, None)
KEY = new_key("k1")
NOTE = ProgressNote(actor=OFFICER, note="Appel de suivi")


def code(verifier: Verifier, arg: object, *, now: datetime = NOW, wf: str = WF,
         update: str = "add_progress") -> str | None:  # fmt: skip
    refused = verifier.check(wf, update, arg, now)
    return refused.code if refused else None


def test_a_signed_update_is_accepted_once_decoded_as_the_workflow_sees_it() -> None:
    signer, verifier = Signer((KEY,)), Verifier((KEY,))
    plan = PlanFiling(OFFICER, [PlanItem(Stage.FRANCIZATION, "Cours à temps plein")])
    signed = signer.sign(WF, "file_plan", plan, NOW)
    assert plan.signature is None  # the caller's value is left alone
    # Through the payload converter and back: enums, datetimes and lists as decoded.
    converter = DataConverter.default.payload_converter
    [payload] = converter.to_payloads([signed])
    [decoded] = converter.from_payloads([payload], [PlanFiling])
    assert decoded == signed
    assert code(verifier, decoded, update="file_plan") is None


async def test_accepted_after_the_encrypting_codec_too() -> None:
    converter = data_converter([new_key("p1")])
    signed = Signer((KEY,)).sign(WF, "add_progress", NOTE, NOW)
    payloads = await converter.encode([signed])
    [decoded] = await converter.decode(payloads, [ProgressNote])
    assert code(Verifier((KEY,)), decoded) is None


def test_missing_signature() -> None:
    assert code(Verifier((KEY,)), NOTE) == "signature_missing"


def test_wrong_key() -> None:
    forged = Signer((new_key("k1"),)).sign(WF, "add_progress", NOTE, NOW)  # same id, other key
    assert code(Verifier((KEY,)), forged) == "signature_invalid"
    unknown = Signer((new_key("k9"),)).sign(WF, "add_progress", NOTE, NOW)
    assert code(Verifier((KEY,)), unknown) == "signature_invalid"


@pytest.mark.parametrize(
    "tamper",
    [
        lambda a: dataclasses.replace(a, note="Autre chose"),
        lambda a: dataclasses.replace(a, actor=DIRECTOR),
        lambda a: dataclasses.replace(a, actor=dataclasses.replace(OFFICER, active=False)),
        lambda a: dataclasses.replace(
            a, signature=dataclasses.replace(a.signature, issued_at=NOW + timedelta(seconds=1))
        ),
    ],
    ids=["note", "actor", "actor-field", "issued-at"],
)
def test_tampered_argument(tamper: Callable[[ProgressNote], ProgressNote]) -> None:
    signed = Signer((KEY,)).sign(WF, "add_progress", NOTE, NOW)
    assert code(Verifier((KEY,)), signed) is None
    assert code(Verifier((KEY,)), tamper(signed)) == "signature_invalid"


def test_bound_to_its_case_and_its_update() -> None:
    signed = Signer((KEY,)).sign(WF, "add_progress", NOTE, NOW)
    assert code(Verifier((KEY,)), signed, wf="newcomer-D-2") == "signature_invalid"
    # The same fields replayed as another update of the same shape.
    assert code(Verifier((KEY,)), signed, update="record_greeting") == "signature_invalid"


def test_stale_and_future_signatures() -> None:
    signed = Signer((KEY,)).sign(WF, "add_progress", NOTE, NOW)
    v = Verifier((KEY,))
    assert code(v, signed, now=NOW + FRESH_FOR) is None
    assert code(v, signed, now=NOW + FRESH_FOR + timedelta(seconds=1)) == "signature_stale"
    assert code(v, signed, now=NOW - AHEAD_ALLOWED) is None
    assert code(v, signed, now=NOW - AHEAD_ALLOWED - timedelta(seconds=1)) == "signature_stale"


def test_rotated_key() -> None:
    old, new = KEY, new_key("k2")
    by_old = Signer((old,)).sign(WF, "add_progress", NOTE, NOW)
    rotated = Signer((new, old))  # the new key first: it signs, both verify
    by_new = rotated.sign(WF, "add_progress", NOTE, NOW)
    assert by_new.signature is not None and by_new.signature.key_id == "k2"
    both = Verifier((new, old))
    assert code(both, by_old) is None and code(both, by_new) is None
    # Once the old key is dropped, what it signed is refused.
    assert code(Verifier((new,)), by_old) == "signature_invalid"


def test_withdrawal_without_actor_signs_and_verifies() -> None:
    arg = Withdrawal(reason="x", actor=None, reason_category=WithdrawalReason.OTHER)
    signed = Signer((KEY,)).sign(WF, "withdraw", arg, NOW)
    assert code(Verifier((KEY,)), signed, update="withdraw") is None


def test_reassignment_target_is_covered() -> None:
    arg = Reassignment(actor=DIRECTOR, new_officer=OFFICER)
    signed = Signer((KEY,)).sign(WF, "reassign", arg, NOW)
    other = dataclasses.replace(signed, new_officer=Actor("off-qc-1", region="capitale-nationale"))
    assert code(Verifier((KEY,)), other, update="reassign") == "signature_invalid"


def test_the_verifier_slot_is_set_once() -> None:
    slot = _VerifierSlot()
    assert slot.get() is None
    first = slot.install([KEY])
    assert slot.install([KEY]) is first  # the same ring again: a no-op
    with pytest.raises(CodecKeyError, match="restart"):
        slot.install([new_key("k2")])
    assert slot.get() is first
    with pytest.raises(CodecKeyError):
        slot.install([])


def test_keys_from_settings_and_the_refusal_to_start_without() -> None:
    assert signing_keyring(Settings()) == []
    with pytest.raises(CodecKeyError, match="payload and signing keys: make them with"):
        require_keys(Settings(), "the worker")
    with pytest.raises(CodecKeyError, match="needs signing keys"):
        require_keys(Settings(codec_keys=new_key("p").spec()), "the worker")
    with pytest.raises(CodecKeyError, match="HMAC-SHA256 needs 32"):
        signing_keyring(Settings(signing_keys="k:" + "QUFB"))
    both = Settings(codec_keys=new_key("p").spec(), signing_keys=KEY.spec())
    require_keys(both, "the worker")
    assert signing_keyring(both) == [KEY]


@dataclasses.dataclass
class NoteV1:
    """An update input as an older interface knows it..."""

    actor: Actor
    note: str
    signature: Signature | None = None


@dataclasses.dataclass
class NoteV2:
    """...and as a newer worker knows it: one more field, with a default."""

    actor: Actor
    note: str
    urgent: bool = False
    signature: Signature | None = None


def test_a_newer_worker_verifies_an_older_interface() -> None:
    converter = DataConverter.default.payload_converter
    signed = Signer((KEY,)).sign(WF, "add_progress", NoteV1(OFFICER, "Appel"), NOW)
    [decoded] = converter.from_payloads(converter.to_payloads([signed]), [NoteV2])
    assert decoded.urgent is False
    assert code(Verifier((KEY,)), decoded) is None
    # The field the interface did not sign cannot be set behind its back.
    assert code(Verifier((KEY,)), dataclasses.replace(decoded, urgent=True)) == (
        "signature_invalid"
    )


def test_an_older_worker_refuses_what_it_cannot_read() -> None:
    signed = Signer((KEY,)).sign(WF, "add_progress", NoteV2(OFFICER, "Appel", urgent=True), NOW)
    assert signed.signature is not None and "urgent" in signed.signature.fields
    older = NoteV1(OFFICER, "Appel", signature=signed.signature)
    assert code(Verifier((KEY,)), older) == "signature_invalid"
    # Nor may the list of fields be cut down to what suits.
    assert signed.signature is not None
    cut = dataclasses.replace(signed.signature, fields=["actor", "note"])
    assert code(Verifier((KEY,)), dataclasses.replace(signed, signature=cut)) == (
        "signature_invalid"
    )


# Signed starts (issue 12: a client without our keys must not open a case).


def start_input(email: str = "amina@example.org") -> CaseInput:
    approval = NewcomerApproval("D-1", "Amina Diallo", email, "2030-01-15", "montreal")
    return CaseInput(approval=approval, policy=load_policy(None))


def start_code(
    verifier: Verifier, inp: CaseInput, *, accepted_at: datetime = NOW, wf: str = WF
) -> str | None:
    refused = verifier.check_start(wf, inp.approval, inp.policy, inp.signature, accepted_at)
    return refused.code if refused else None


def test_a_signed_start_is_accepted_once_decoded_as_register_case_sees_it() -> None:
    signed = Signer((KEY,)).sign_start(WF, start_input(), NOW)
    assert signed.signature is not None and start_input().signature is None
    converter = DataConverter.default.payload_converter
    [decoded] = converter.from_payloads(converter.to_payloads([signed]), [CaseInput])
    assert decoded == signed
    assert start_code(Verifier((KEY,)), decoded) is None


def test_a_start_is_refused_unsigned_tampered_elsewhere_or_under_another_key() -> None:
    signer, verifier = Signer((KEY,)), Verifier((KEY,))
    signed = signer.sign_start(WF, start_input(), NOW)
    assert start_code(verifier, start_input()) == "signature_missing"
    # Another address for the welcome email, another region, another policy.
    for tampered in (
        dataclasses.replace(signed, approval=start_input("attacker@evil.example").approval),
        dataclasses.replace(signed, approval=dataclasses.replace(signed.approval, region="estrie")),
        dataclasses.replace(
            signed, policy=dataclasses.replace(signed.policy, plan_due_working_days=99)
        ),
    ):
        assert start_code(verifier, tampered) == "signature_invalid"
    # Lifted onto another dossier's workflow id.
    assert start_code(verifier, signed, wf="newcomer-D-2") == "signature_invalid"
    # An attacker's own key under our key's id.
    own = Signer((dataclasses.replace(new_key("x"), key_id=KEY.key_id),))
    assert start_code(verifier, own.sign_start(WF, start_input(), NOW)) == "signature_invalid"
    # An update's signature (another context) does not pass for a start, even named "start".
    as_update = signer.sign(WF, "start", start_input(), NOW)
    assert start_code(verifier, as_update) == "signature_invalid"


@dataclasses.dataclass
class ApprovalV4:
    """The approval before `time_zone` (v5)."""

    dossier: str
    full_name: str
    email: str
    arrival_date: str
    region: str
    phone: str | None = None
    language: str = "fr"
    airport: str = "YUL"
    french_level: int | None = None
    occupation: str | None = None
    regulated_profession: bool = False
    household_size: int = 1


def test_a_start_verifies_across_the_release_that_added_the_time_zone() -> None:
    """An approval's field added later is signed only when set: a worker and an interface a
    release apart agree on the digest of an approval that leaves it at its default."""
    converter = DataConverter.default.payload_converter
    older = ApprovalV4("D-1", "Amina Diallo", "amina@example.org", "2030-01-15", "montreal")
    signed = Signer((KEY,)).sign_start(WF, start_input(), NOW)
    # Signed by an older interface, decoded by a newer worker (time_zone at its default).
    as_older = CaseInput(approval=older, policy=signed.policy)  # type: ignore[arg-type]
    signed_older = Signer((KEY,)).sign_start(WF, as_older, NOW)
    [decoded] = converter.from_payloads(converter.to_payloads([signed_older]), [CaseInput])
    assert decoded.approval.time_zone is None
    assert start_code(Verifier((KEY,)), decoded) is None
    # Signed by a newer interface, read by an older worker (which knows no time_zone).
    [seen] = converter.from_payloads(converter.to_payloads([signed.approval]), [ApprovalV4])
    as_seen = dataclasses.replace(signed, approval=seen)
    assert start_code(Verifier((KEY,)), as_seen) is None
    # Set, it is signed: nobody moves a case to Atlantic time behind the signature.
    islands = dataclasses.replace(signed.approval, time_zone="America/Halifax")
    assert start_code(Verifier((KEY,)), dataclasses.replace(signed, approval=islands)) == (
        "signature_invalid"
    )
    atlantic = Signer((KEY,)).sign_start(
        WF, dataclasses.replace(start_input(), approval=islands), NOW
    )
    assert start_code(Verifier((KEY,)), atlantic) is None


def test_a_start_is_fresh_against_when_the_server_accepted_it() -> None:
    signed = Signer((KEY,)).sign_start(WF, start_input(), NOW)
    verifier = Verifier((KEY,))
    # A worker that gets to the case hours later still opens it: the server accepted the
    # start at once (register_case receives the started event's time, not its own clock).
    assert start_code(verifier, signed, accepted_at=NOW + FRESH_FOR) is None
    assert start_code(verifier, signed, accepted_at=NOW + FRESH_FOR + timedelta(seconds=1)) == (
        "signature_stale"
    )
    assert start_code(verifier, signed, accepted_at=NOW - AHEAD_ALLOWED) is None
    assert start_code(verifier, signed, accepted_at=NOW - AHEAD_ALLOWED - timedelta(seconds=1)) == (
        "signature_stale"
    )
