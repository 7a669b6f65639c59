"""A paced import (application/start_many) against a simulated system: it never has more
cases opening than its window, it narrows the window when openings slow down because of its
own load, and it never holds an import on a read model it cannot read or that never shows
an opening. No server: the `opened` function is the simulation, and `start_case` is
replaced where `start_many` itself is under test."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import pytest

from parcours.application import start_many as start_many_module
from parcours.application.intake import IntakeItem
from parcours.application.start_many import Pacer, pacer_for, start_many
from parcours.infrastructure.config import Settings
from parcours.kernel.domain import NewcomerApproval
from parcours.kernel.errors import CaseAlreadyExists, TemporalUnavailable
from parcours.kernel.pacing import OpeningWindow
from parcours.kernel.policy import load_policy


@pytest.fixture(autouse=True)
def _fast_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(start_many_module, "POLL_S", 0.002)


class Machine:
    """Cases open after `each` seconds, plus `queueing` seconds per other case opening at
    the same time when `queueing` > 0 (a machine whose openings share its cores)."""

    def __init__(self, each: float, queueing: float = 0.0) -> None:
        self.each = each
        self.queueing = queueing
        self.due: dict[str, float] = {}
        self.most_at_once = 0
        self.started: list[str] = []

    def start(self, dossier: str) -> None:
        now = asyncio.get_running_loop().time()
        self.due[dossier] = now + self.each + self.queueing * len(self.due)
        self.most_at_once = max(self.most_at_once, len(self.due))
        self.started.append(dossier)

    async def opened(self, dossiers: Sequence[str]) -> set[str]:
        now = asyncio.get_running_loop().time()
        done = {d for d in dossiers if self.due.get(d, now + 1) <= now}
        for d in done:
            del self.due[d]
        return done


async def _import(pacer: Pacer, machine: Machine, n: int, starters: int = 16) -> None:
    names = iter(f"D{i:05d}" for i in range(n))
    watcher = asyncio.create_task(pacer.watch())

    async def starter() -> None:
        for dossier in names:
            sent_at = await pacer.admit()
            machine.start(dossier)
            pacer.started(dossier, sent_at)

    try:
        await asyncio.gather(*(starter() for _ in range(starters)))
    finally:
        watcher.cancel()


def _pacer(machine: Machine, window: OpeningWindow, **kwargs: Any) -> Pacer:
    return Pacer(machine.opened, window, clock=asyncio.get_running_loop().time, **kwargs)


async def test_never_more_cases_opening_than_the_window_allows() -> None:
    machine = Machine(each=0.05)
    window = OpeningWindow(largest=6)
    await _import(_pacer(machine, window), machine, 200)
    assert machine.most_at_once <= 6
    assert window.size > 4  # openings took no longer with more at once: it grew


async def test_openings_that_slow_with_load_keep_the_window_small() -> None:
    # Each case opening at once adds 10 ms to the others: a queue that officers would feel.
    machine = Machine(each=0.02, queueing=0.01)
    window = OpeningWindow(largest=32)
    await _import(_pacer(machine, window), machine, 300)
    assert window.size <= 10
    assert machine.most_at_once <= 12


async def test_a_read_model_it_cannot_read_stops_the_pacing_not_the_import(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(_: Sequence[str]) -> set[str]:
        raise OSError("database is locked")

    told: list[bool] = []
    machine = Machine(each=10.0)  # never seen opened
    pacer = Pacer(
        broken,
        OpeningWindow(largest=4),
        clock=asyncio.get_running_loop().time,
        unpaced=lambda: told.append(True),
    )
    with caplog.at_level(logging.WARNING, logger=start_many_module.__name__):
        await asyncio.wait_for(_import(pacer, machine, 50), timeout=10)
    assert machine.most_at_once == 50
    assert told == [True]
    assert "starting the rest without pacing" in caplog.text
    assert "database is locked" not in caplog.text  # the error's type only: no row data


async def test_a_look_that_hangs_counts_as_failed(monkeypatch: pytest.MonkeyPatch) -> None:
    # A PostgreSQL connection that never answers: the import must not wait on it.
    monkeypatch.setattr(start_many_module, "POLL_TIMEOUT_S", 0.01)

    async def hangs(_: Sequence[str]) -> set[str]:
        await asyncio.sleep(3600)
        return set()

    machine = Machine(each=0.01)
    pacer = Pacer(hangs, OpeningWindow(largest=4), clock=asyncio.get_running_loop().time)
    await asyncio.wait_for(_import(pacer, machine, 30), timeout=10)
    assert pacer.blind
    assert len(machine.started) == 30


async def test_one_failed_look_is_retried_not_taken_for_an_outage() -> None:
    machine = Machine(each=0.01)
    failures = [OSError("blip")]

    async def flaky(dossiers: Sequence[str]) -> set[str]:
        if failures:
            raise failures.pop()
        return await machine.opened(dossiers)

    pacer = Pacer(flaky, OpeningWindow(largest=4), clock=asyncio.get_running_loop().time)
    await _import(pacer, machine, 40)
    assert not pacer.blind
    assert machine.most_at_once <= 4


async def test_openings_never_seen_halve_the_window_then_stop_the_pacing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A CLI reading another read model than the worker's: no case is ever seen opened.
    monkeypatch.setattr(start_many_module, "GIVE_UP_S", 0.05)
    machine = Machine(each=3600.0)
    window = OpeningWindow(largest=8, limit=8)
    told: list[bool] = []
    pacer = _pacer(machine, window, unpaced=lambda: told.append(True))
    await asyncio.wait_for(_import(pacer, machine, 40), timeout=10)
    assert window.size == window.smallest
    assert pacer.blind and told == [True]
    assert len(machine.started) == 40


# start_many itself, with start_case replaced: what each item becomes, and the window's slots.


def _items(n: int) -> list[IntakeItem]:
    return [
        IntakeItem(
            position=i,
            approval=NewcomerApproval(
                dossier=f"D-{i:04d}",
                full_name="Amina Diallo",
                email="amina@example.org",
                arrival_date="2027-01-15",
                region="montreal",
            ),
        )
        for i in range(n)
    ]


@pytest.fixture
def no_keys_needed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(start_many_module, "require_payload_codec", lambda _client: None)
    monkeypatch.setattr(start_many_module, "require_signing", lambda _client: None)


@pytest.mark.usefixtures("no_keys_needed")
async def test_every_item_is_settled_and_every_slot_given_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    machine = Machine(each=0.01)
    exists = {"D-0003", "D-0007"}

    async def start_case(_c: Any, _s: Any, approval: NewcomerApproval, *_: Any, **__: Any) -> str:
        if approval.dossier in exists:
            raise CaseAlreadyExists(approval.dossier)
        machine.start(approval.dossier)
        return f"case-{approval.dossier}"

    monkeypatch.setattr(start_many_module, "start_case", start_case)
    items = _items(30)
    seen: list[IntakeItem] = []
    result = await start_many(
        object(),
        Settings(),
        load_policy(None),
        items,
        concurrency=8,
        settled=seen.append,
        pacer=_pacer(machine, OpeningWindow(largest=8)),
    )
    assert result is None
    assert len(seen) == 30
    assert {i.approval.dossier for i in items if i.result == "exists"} == exists  # type: ignore[union-attr]
    assert sum(i.result == "started" for i in items) == 28
    assert machine.most_at_once <= 8


@pytest.mark.usefixtures("no_keys_needed")
async def test_an_unreachable_temporal_refuses_the_rest_without_waiting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = 0

    async def start_case(*_: Any, **__: Any) -> str:
        nonlocal calls
        calls += 1
        raise TemporalUnavailable("Temporal is unreachable")

    monkeypatch.setattr(start_many_module, "start_case", start_case)
    items = _items(20)
    machine = Machine(each=3600.0)
    result = await asyncio.wait_for(
        start_many(
            object(),
            Settings(),
            load_policy(None),
            items,
            concurrency=4,
            pacer=_pacer(machine, OpeningWindow(largest=4)),
        ),
        timeout=10,
    )
    assert isinstance(result, TemporalUnavailable)
    assert all(i.result == "rejected" for i in items)
    assert calls <= 4


@pytest.mark.usefixtures("no_keys_needed")
async def test_an_unexpected_error_is_raised_as_itself_and_leaves_nothing_waiting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def start_case(*_: Any, **__: Any) -> str:
        raise RuntimeError("a bug")

    monkeypatch.setattr(start_many_module, "start_case", start_case)
    machine = Machine(each=0.01)
    before = asyncio.all_tasks()
    with pytest.raises(RuntimeError, match="a bug"):
        await asyncio.wait_for(
            start_many(
                object(),
                Settings(),
                load_policy(None),
                _items(20),
                concurrency=4,
                pacer=_pacer(machine, OpeningWindow(largest=4)),
            ),
            timeout=10,
        )
    await asyncio.sleep(0)
    assert asyncio.all_tasks() - before == set()


@pytest.mark.usefixtures("no_keys_needed")
async def test_batches_that_share_a_pacer_share_its_window(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The web's API batches: two at once, one pacer, one window of 6 for both together.
    machine = Machine(each=0.03)

    async def start_case(_c: Any, _s: Any, approval: NewcomerApproval, *_: Any, **__: Any) -> str:
        machine.start(approval.dossier)
        return f"case-{approval.dossier}"

    monkeypatch.setattr(start_many_module, "start_case", start_case)
    shared = _pacer(machine, OpeningWindow(largest=6, limit=6))
    first, second = _items(40), _items(80)[40:]

    async def batch(items: list[IntakeItem]) -> None:
        await start_many(
            object(), Settings(), load_policy(None), items, concurrency=16, pacer=shared
        )

    await asyncio.gather(batch(first), batch(second))
    assert all(i.result == "started" for i in first + second)
    assert machine.most_at_once <= 6
    # Nobody uses it now: its watcher is gone, and it would start the next batch paced.
    assert shared._watcher is None and not shared.blind


def test_a_pacer_follows_the_settings() -> None:
    def sessions() -> Any:
        raise AssertionError("not opened until the pacer looks")

    assert pacer_for(Settings(intake_pacing=False), sessions, 16) is None
    pacer = pacer_for(Settings(intake_queue=2), sessions, 16)
    assert pacer is not None
    assert (pacer.window.largest, pacer.window.low, pacer.window.high) == (16, 1.0, 2.0)
