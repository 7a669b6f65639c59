"""The payload converter's JSON (ShallowJSONEncoder, DataclassFromJSON): the same bytes and
the same values as the SDK's, for every payload a case has ever sent.

Every payload of every committed history is decoded to the type the workflow or the activity
declares for it, by both converters, then encoded again by both: a difference would change
what the server stores, what an older worker reads back, or what a case does with it.
"""

from __future__ import annotations

import dataclasses
import functools
import typing
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import pytest
from temporalio import activity, workflow
from temporalio.api.common.v1 import Payload
from temporalio.client import WorkflowHistory
from temporalio.converter import DataConverter, PayloadConverter

from activities.batches import BatchWork
from activities.casework import Casework
from activities.notify import Notifier
from activities.retention import Retention
from parcours.infrastructure import payload_codec
from parcours.infrastructure.codec import new_key
from parcours.infrastructure.payload_codec import CasePayloadConverter, data_converter, fast_path
from parcours.kernel.domain import EventBatchRecorded
from workflows.batch import CaseBatch
from workflows.pathway import NewcomerPathway
from workflows.retention import RetentionSweep

HISTORIES = Path(__file__).parents[1] / "histories"
SDK = DataConverter.default.payload_converter
OURS = CasePayloadConverter()


@functools.cache
def _activity_types() -> dict[str, tuple[type, type | None]]:
    """Activity name -> (input type, result type), from the activities' own definitions."""
    types: dict[str, tuple[type, type | None]] = {}
    for cls in (Casework, Notifier, Retention, BatchWork):
        for fn in vars(cls).values():
            defn = activity._Definition.from_callable(fn)
            if defn is not None and defn.name is not None and defn.arg_types:
                types[defn.name] = (defn.arg_types[0], defn.ret_type)
    return types


@functools.cache
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


@functools.cache
def _typed_payloads(path: Path) -> list[tuple[str, type, Payload]]:
    """(where, type, payload) for every payload of the history whose type is declared."""
    acts = _activity_types()
    flows = _workflow_types()
    found: list[tuple[str, type, Payload]] = []
    scheduled: dict[int, str] = {}
    updates: dict[str, str] = {}
    kind = ""
    for e in WorkflowHistory.from_json(path.stem, path.read_text()).events:
        at = e.event_id
        if e.HasField("workflow_execution_started_event_attributes"):
            started = e.workflow_execution_started_event_attributes
            kind = started.workflow_type.name
            found += [(f"{at} start", flows[kind][""][0], p) for p in started.input.payloads]
        elif e.HasField("workflow_execution_continued_as_new_event_attributes"):
            carried = e.workflow_execution_continued_as_new_event_attributes.input.payloads
            found += [(f"{at} continue", flows[kind][""][0], p) for p in carried]
        elif e.HasField("activity_task_scheduled_event_attributes"):
            task = e.activity_task_scheduled_event_attributes
            name = scheduled[at] = task.activity_type.name
            found += [(f"{at} {name}", acts[name][0], p) for p in task.input.payloads]
        elif e.HasField("activity_task_completed_event_attributes"):
            done = e.activity_task_completed_event_attributes
            name = scheduled[done.scheduled_event_id]
            result = acts[name][1]
            if result is not None:
                found += [(f"{at} {name} result", result, p) for p in done.result.payloads]
        elif e.HasField("workflow_execution_update_accepted_event_attributes"):
            accepted = e.workflow_execution_update_accepted_event_attributes
            name = accepted.accepted_request.input.name
            updates[accepted.protocol_instance_id] = name
            args = accepted.accepted_request.input.args.payloads
            found += [(f"{at} {name}", flows[kind][name][0], p) for p in args]
        elif e.HasField("workflow_execution_update_completed_event_attributes"):
            completed = e.workflow_execution_update_completed_event_attributes
            name = updates[completed.meta.update_id]
            result = flows[kind][name][1]
            if result is not None and completed.outcome.HasField("success"):
                answer = completed.outcome.success.payloads
                found += [(f"{at} {name} answer", result, p) for p in answer]
    return found


def _encoded(converter: PayloadConverter, value: Any) -> bytes:
    return bytes(converter.to_payloads([value])[0].data)


HISTORY_FILES = sorted(HISTORIES.rglob("*.json"))


@pytest.mark.parametrize(
    "path", HISTORY_FILES, ids=[str(p.relative_to(HISTORIES)) for p in HISTORY_FILES]
)
def test_every_payload_of_a_history_encodes_as_the_sdk_does(path: Path) -> None:
    typed = _typed_payloads(path)
    assert typed, "no payload found: the walk over the history is broken"
    for where, hint, payload in typed:
        [value] = SDK.from_payloads([payload], [hint])
        [ours] = OURS.from_payloads([payload], [hint])
        _same(ours, value, f"{path.name} event {where}")
        sdk_bytes = _encoded(SDK, value)
        assert _encoded(OURS, value) == sdk_bytes, f"{path.name} event {where}"
        assert _encoded(OURS, ours) == sdk_bytes, f"{path.name} event {where}"


def _same(a: object, b: object, where: str) -> None:
    """Equal, and of the same type at every level (`Stage.ARRIVAL == "arrival"` is True)."""
    assert type(a) is type(b), f"{where}: {type(a).__name__} != {type(b).__name__}"
    if dataclasses.is_dataclass(a) and not isinstance(a, type):
        for f in dataclasses.fields(a):
            _same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{where}[{i}]")
    elif isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), where
        for k in a:
            _same(a[k], b[k], f"{where}[{k!r}]")
    else:
        assert a == b, where


def test_the_histories_hold_every_kind_of_payload_a_case_sends() -> None:
    """The comparison above is only as wide as the histories: it must see the case's input
    (with and without a carried state), each batch activity's input and result, and an
    update's input and answer."""
    seen: set[str] = set()
    for path in HISTORY_FILES:
        for where, hint, _ in _typed_payloads(path):
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


def _dataclasses_crossing_temporal() -> set[type]:
    """Every dataclass a workflow or an activity takes or returns, and those nested in them."""
    roots: list[Any] = [t for pair in _activity_types().values() for t in pair]
    roots += [t for entry in _workflow_types().values() for pair in entry.values() for t in pair]
    found: set[type] = set()

    def walk(hint: Any) -> None:
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            if hint in found:
                return
            found.add(hint)
            for sub in typing.get_type_hints(hint).values():
                walk(sub)
        for arg in typing.get_args(hint):
            walk(arg)

    for root in roots:
        walk(root)
    return found


def test_every_dataclass_crossing_temporal_takes_the_fast_path_but_one() -> None:
    """Correctness does not depend on it (the others go the SDK's way), speed does: a set or
    an `Any` in a new field sends its class back to `asdict`'s deep copy. The one today is
    the email's template context, a `dict[str, Any]`."""
    crossing = _dataclasses_crossing_temporal()
    assert len(crossing) > 30
    assert {c.__name__ for c in crossing if not fast_path(c)} == {"Notification"}


class _Colour(StrEnum):
    RED = "red"


@dataclasses.dataclass
class _Inner:
    at: datetime
    colour: _Colour
    tags: tuple[str, ...] = ()
    later: datetime | None = None


@dataclasses.dataclass(frozen=True)
class _Frozen:
    name: str
    numbers: dict[int, float] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class _Outer:
    inner: _Inner
    many: list[_Inner]
    by_key: dict[str, _Inner]
    frozen: _Frozen
    maybe: _Inner | None = None
    seen: list[str] = dataclasses.field(default_factory=list, init=False)


@dataclasses.dataclass
class _WithSet:
    tags: set[str]


@dataclasses.dataclass
class _WithAny:
    context: dict[str, Any]


class _DictLike(dict[str, int]):
    pass


@dataclasses.dataclass
class _AlsoADict(_DictLike):
    x: int = 1


@dataclasses.dataclass
class _Holder:
    d: _AlsoADict


@pytest.fixture
def ours_here(monkeypatch: pytest.MonkeyPatch) -> None:
    """This module's dataclasses count as ours, as the product's do."""
    monkeypatch.setattr(payload_codec, "OWN_MODULES", (*payload_codec.OWN_MODULES, __name__))


def _sample() -> _Outer:
    at = datetime(2026, 12, 4, 15, 30, 0, 123456, tzinfo=UTC)
    inner = _Inner(at, _Colour.RED, ("a", "b"), at)
    value = _Outer(
        inner, [inner, _Inner(at, _Colour.RED)], {"k": inner}, _Frozen("f", {3: 0.5}), inner
    )
    value.seen.append("x")
    return value


def test_nested_frozen_and_late_fields_encode_and_decode_as_the_sdk_does(ours_here: None) -> None:
    assert fast_path(_Outer) and fast_path(_Inner) and fast_path(_Frozen)
    value = _sample()
    assert _encoded(OURS, value) == _encoded(SDK, value)
    assert _encoded(OURS, [value, None, "x"]) == _encoded(SDK, [value, None, "x"])
    payload = SDK.to_payloads([value])[0]
    [sdk] = SDK.from_payloads([payload], [_Outer])
    [ours] = OURS.from_payloads([payload], [_Outer])
    _same(ours, sdk, "_Outer")
    assert ours.seen == ["x"]


def test_sets_any_and_container_dataclasses_go_the_sdks_way(ours_here: None) -> None:
    # A copied set may iterate in another order; `json` writes a dict subclass as a dict.
    assert not any(fast_path(c) for c in (_WithSet, _WithAny, _AlsoADict, _Holder))
    tags = {str(n) for n in range(50)} - {str(n) for n in range(3, 50)}
    for value in (_WithSet(tags), _WithAny({"tags": tags}), _Holder(_AlsoADict())):
        assert _encoded(OURS, value) == _encoded(SDK, value), value


def test_dataclasses_not_ours_go_the_sdks_way() -> None:
    assert not fast_path(_Outer)  # this module is not one of ours without the fixture
    value = _sample()
    assert _encoded(OURS, value) == _encoded(SDK, value)


@pytest.mark.parametrize(
    "raw",
    [
        {"name": "a", "numbers": {"1": 2.0}, "unknown": 1},  # unknown keys ignored
        {"name": "a"},  # defaults kept
    ],
)
def test_decoding_follows_the_sdks_rules(ours_here: None, raw: dict[str, object]) -> None:
    payload = SDK.to_payloads([raw])[0]
    [sdk] = SDK.from_payloads([payload], [_Frozen])
    [ours] = OURS.from_payloads([payload], [_Frozen])
    _same(ours, sdk, "_Frozen")


@pytest.mark.parametrize(
    "raw",
    [
        {"numbers": {}},  # a required field missing
        {"name": "a", "numbers": {"1": "many"}},  # a value of the wrong type
        ["not", "an", "object"],
    ],
)
def test_decoding_refuses_what_the_sdk_refuses(ours_here: None, raw: object) -> None:
    payload = SDK.to_payloads([raw])[0]
    with pytest.raises(TypeError) as sdk:
        SDK.from_payloads([payload], [_Frozen])
    with pytest.raises(TypeError) as ours:
        OURS.from_payloads([payload], [_Frozen])
    assert str(ours.value) == str(sdk.value)


def test_the_converter_is_the_one_every_client_and_worker_uses() -> None:
    converter = data_converter([new_key("k1")])
    assert converter.payload_converter_class is CasePayloadConverter
    # A product dataclass written and read back through the keyed converter.
    sent = EventBatchRecorded(recorded=2, duplicates=["k"], refused=[])
    [back] = converter.payload_converter.from_payloads(
        converter.payload_converter.to_payloads([sent]), [EventBatchRecorded]
    )
    assert back == sent
