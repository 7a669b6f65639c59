"""The window of a paced import (kernel/pacing.py): grows while openings take what the fastest
took, shrinks when they take longer (a queue forming, which officers would wait behind), and
never leaves its bounds. Pure: no server."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parcours.kernel.pacing import BASE_CHUNKS, BASE_SPAN, OpeningWindow


def test_openings_as_fast_as_the_fastest_grow_the_window_to_its_largest() -> None:
    window = OpeningWindow(largest=32)
    assert window.size == 4
    for _ in range(2000):
        window.opened(0.4)
    assert window.size == 32
    assert window.waiting() == pytest.approx(0, abs=1e-6)


def test_openings_that_take_twice_the_fastest_shrink_the_window_to_a_short_queue() -> None:
    window = OpeningWindow(largest=32, limit=32)
    window.opened(0.4)
    for _ in range(400):
        window.opened(0.8)
    # Half of each opening is waiting: size * (1 - 0.4/0.8) is held between low and high.
    assert window.low - 0.1 <= window.waiting() <= window.high + 0.1
    assert 2 * window.low - 1 <= window.size <= 2 * window.high


def test_the_window_grows_back_when_the_queue_is_gone() -> None:
    window = OpeningWindow(largest=32, limit=32)
    window.opened(0.4)
    for _ in range(400):
        window.opened(1.6)
    shrunk = window.size
    for _ in range(4000):
        window.opened(0.4)
    # Three quarters of each opening waiting: size * 0.75 at most `high`.
    assert shrunk <= window.high / 0.75
    assert window.size == 32


def test_a_lucky_outlier_ages_out_of_the_shortest_opening() -> None:
    window = OpeningWindow(largest=32)
    window.opened(0.01)  # a welcome already written by an earlier run, say
    for _ in range(BASE_SPAN * BASE_CHUNKS + BASE_SPAN):
        window.opened(0.4)
    assert window.base == pytest.approx(0.4)
    for _ in range(2000):
        window.opened(0.4)
    assert window.size == 32


def test_a_surge_cuts_the_window_at_once() -> None:
    window = OpeningWindow(largest=32, limit=32)
    for _ in range(10):
        window.opened(0.4)
    window.opened(40.0)  # far more than `high` waiting, by any estimate
    assert window.size <= 24


def test_a_case_given_up_halves_the_window_and_leaves_the_average_alone() -> None:
    window = OpeningWindow(largest=32, limit=20)
    window.opened(0.4)
    recent = window.recent
    window.gave_up()
    assert window.size == 10
    assert window.recent == recent


@given(st.lists(st.floats(min_value=0.0, max_value=120.0), max_size=300))
def test_the_window_never_leaves_its_bounds(latencies: list[float]) -> None:
    window = OpeningWindow(largest=16, smallest=2)
    for seconds in latencies:
        window.opened(seconds)
        assert 2 <= window.size <= 16
        assert window.waiting() >= 0


@pytest.mark.parametrize(
    "kwargs", [{"smallest": 0}, {"smallest": 5, "largest": 4}, {"low": 3.0, "high": 1.0}]
)
def test_impossible_bounds_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        OpeningWindow(**kwargs)  # type: ignore[arg-type]
