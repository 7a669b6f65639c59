"""The payload converter's JSON (ShallowJSONEncoder, DataclassFromJSON): the same bytes and
the same values as the SDK's, for every payload a case has ever sent.

Every payload of every committed history is decoded to the type the workflow or the activity
declares for it, by both converters, then encoded again by both: a difference would change
what the server stores, what an older worker reads back, or what a case does with it.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import pytest
from temporalio import activity, workflow
from temporalio.api.common.v1 import Payload
from temporalio.converter import DataConverter, PayloadConverter

from activities.batches import BatchWork
from activities.casework import Casework
from activities.notify import Notifier
from activities.retention import Retention
from parcours.infrastructure.codec import new_key
from parcours.infrastructure.payload_codec import CasePayloadConverter, data_converter
from workflows.batch import CaseBatch
from workflows.pathway import NewcomerPathway
from workflows.retention import RetentionSweep

HISTORIES = Path(__file__).parents[1] / "histories"
SDK = DataConverter.default.payload_converter
OURS = CasePayloadConverter()


def _activity_types() -> dict[str, tuple[type, type | None]]:
    """Activity name -> (input type, result type), from the activities' own definitions."""
    types: dict[str, tuple[type, type | None]] = {}
    for cls in (Casework, Notifier, Retention, BatchWork):
        for fn in vars(cls).values():
            defn = activity._Definition.from_callable(fn)
            if defn is not None and defn.name is not None and defn.arg_types:
                types[defn.name] = (defn.arg_types[0], defn.ret_type)
    return types


def _workflow_types() -> dict[str, dict[str, tuple[type, type | None]]]:
    """Workflow type -> {"": (input, result), update name -> (input, result)}."""
    out: dict[str, dict[str, tuple[type, type | None]]] = {}
    for cls in (NewcomerPathway, CaseBatch, RetentionSweep):
        defn = workflow._Definition.must_from_class(cls)
        assert defn.name is not None and defn.arg_types
        entry: dict[str, tuple[type, type | None]] = {"": (defn.arg_types[0], defn.ret_type)}
        for name, upd in defn.updates.items():
            if name and upd.arg_types:
                entry[name] = (upd.arg_types[0], upd.ret_type)
        out[defn.name] = entry
    return out


def _payloads(holder: dict[str, Any] | None) -> list[Payload]:
    if not holder:
        return []
    return [
        Payload(
            metadata={k: base64.b64decode(v) for k, v in p.get("metadata", {}).items()},
            data=base64.b64decode(p.get("data", "")),
        )
        for p in holder.get("payloads", [])
    ]


def _typed_payloads(history: dict[str, Any]) -> list[tuple[str, type, Payload]]:
    """(where, type, payload) for every payload of the history whose type is declared."""
    acts = _activity_types()
    flows = _workflow_types()
    found: list[tuple[str, type, Payload]] = []
    scheduled: dict[str, str] = {}
    updates: dict[str, str] = {}
    kind = ""
    for event in history["events"]:
        eid = str(event["eventId"])
        if a := event.get("workflowExecutionStartedEventAttributes"):
            kind = a["workflowType"]["name"]
            found += [(f"{eid} start", flows[kind][""][0], p) for p in _payloads(a.get("input"))]
        elif a := event.get("workflowExecutionContinuedAsNewEventAttributes"):
            found += [(f"{eid} continue", flows[kind][""][0], p) for p in _payloads(a.get("input"))]
        elif a := event.get("activityTaskScheduledEventAttributes"):
            name = a["activityType"]["name"]
            scheduled[eid] = name
            found += [(f"{eid} {name}", acts[name][0], p) for p in _payloads(a.get("input"))]
        elif a := event.get("activityTaskCompletedEventAttributes"):
            name = scheduled[str(a["scheduledEventId"])]
            result = acts[name][1]
            if result is not None:
                found += [(f"{eid} {name} result", result, p) for p in _payloads(a.get("result"))]
        elif a := event.get("workflowExecutionUpdateAcceptedEventAttributes"):
            request = a["acceptedRequest"]
            name = request["input"]["name"]
            updates[a["protocolInstanceId"]] = name
            found += [
                (f"{eid} {name}", flows[kind][name][0], p)
                for p in _payloads(request["input"].get("args"))
            ]
        elif a := event.get("workflowExecutionUpdateCompletedEventAttributes"):
            name = updates[a["meta"]["updateId"]]
            result = flows[kind][name][1]
            if result is not None and "success" in a["outcome"]:
                found += [
                    (f"{eid} {name} answer", result, p) for p in _payloads(a["outcome"]["success"])
                ]
    return found


def _encoded(converter: PayloadConverter, value: Any) -> bytes:
    return bytes(converter.to_payloads([value])[0].data)


HISTORY_FILES = sorted(HISTORIES.glob("*.json"))


@pytest.mark.parametrize("path", HISTORY_FILES, ids=[p.stem for p in HISTORY_FILES])
def test_every_payload_of_a_history_encodes_as_the_sdk_does(path: Path) -> None:
    history = json.loads(path.read_text())
    typed = _typed_payloads(history)
    assert typed, "no payload found: the walk over the history is broken"
    for where, hint, payload in typed:
        [value] = SDK.from_payloads([payload], [hint])
        [ours] = OURS.from_payloads([payload], [hint])
        assert ours == value and type(ours) is type(value), f"{path.name} event {where}"
        assert _encoded(OURS, value) == _encoded(SDK, value), f"{path.name} event {where}"


def test_the_histories_hold_every_kind_of_payload_a_case_sends() -> None:
    """The comparison above is only as wide as the histories: it must see the case's input
    (with and without a carried state), each batch activity's input and result, and an
    update's input and answer."""
    seen: set[str] = set()
    for path in HISTORY_FILES:
        for where, hint, _ in _typed_payloads(json.loads(path.read_text())):
            seen.add(hint.__name__)
            if where.endswith("continue"):
                seen.add("continued state")
    for name in (
        "CaseInput",
        "continued state",
        "EventBatch",
        "EventBatchRecorded",
        "NotificationBatch",
        "NotificationBatchOutcome",
        "RegisterCase",
        "CaseView",
    ):
        assert name in seen, name


class _Colour(StrEnum):
    RED = "red"


@dataclasses.dataclass
class _Inner:
    at: datetime
    colour: _Colour
    tags: tuple[str, ...] = ()


@dataclasses.dataclass
class _Outer:
    inner: _Inner
    many: list[_Inner]
    by_key: dict[str, _Inner]
    maybe: _Inner | None = None
    numbers: dict[int, float] = dataclasses.field(default_factory=dict)


def test_nested_dataclasses_tuples_enums_and_keys_encode_as_the_sdk_does() -> None:
    at = datetime(2026, 12, 4, 15, 30, 0, 123456, tzinfo=UTC)
    inner = _Inner(at, _Colour.RED, ("a", "b"))
    value = _Outer(inner, [inner, _Inner(at, _Colour.RED)], {"k": inner}, None, {3: 0.5})
    assert _encoded(OURS, value) == _encoded(SDK, value)
    assert _encoded(OURS, [value, None, "x"]) == _encoded(SDK, [value, None, "x"])


@dataclasses.dataclass
class _Late:
    name: str
    count: int = 0
    seen: list[str] = dataclasses.field(default_factory=list, init=False)


def _decoded(converter: PayloadConverter, raw: object, hint: type) -> Any:
    payload = SDK.to_payloads([raw])[0]
    return converter.from_payloads([payload], [hint])[0]


@pytest.mark.parametrize(
    "raw",
    [
        {"name": "a", "count": 2, "seen": ["x"], "unknown": 1},  # unknown keys ignored
        {"name": "a"},  # defaults kept
        {"name": "a", "seen": ["y", "z"]},  # init=False set after
    ],
)
def test_decoding_follows_the_sdks_rules(raw: dict[str, object]) -> None:
    ours, sdk = _decoded(OURS, raw, _Late), _decoded(SDK, raw, _Late)
    assert ours == sdk and ours.seen == sdk.seen


@pytest.mark.parametrize(
    "raw",
    [
        {"count": 2},  # a required field missing
        {"name": "a", "count": "many"},  # a field of the wrong type
        ["not", "an", "object"],
    ],
)
def test_decoding_refuses_what_the_sdk_refuses(raw: object) -> None:
    with pytest.raises(TypeError):
        _decoded(SDK, raw, _Late)
    with pytest.raises(TypeError):
        _decoded(OURS, raw, _Late)


def test_the_converter_is_the_one_every_client_and_worker_uses() -> None:
    converter = data_converter([new_key("k1")])
    assert converter.payload_converter_class is CasePayloadConverter
    # Decoding is the SDK's own: what we wrote reads back as the same dataclass.
    at = datetime(2026, 12, 4, tzinfo=UTC)
    value = _Inner(at, _Colour.RED, ("a",))
    [back] = converter.payload_converter.from_payloads(
        converter.payload_converter.to_payloads([value]), [_Inner]
    )
    assert back == _Inner(at, _Colour.RED, ("a",))
