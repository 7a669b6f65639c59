"""The forecast's engine (parcours/kernel/forecast.py): reproducible, and right by Little's
law at steady state."""

from __future__ import annotations

import numpy as np
import pytest

from parcours.kernel.forecast import (
    DAYS_PER_MONTH,
    Durations,
    RegionModel,
    StageModel,
    officers_needed,
    simulate,
)

MEANS = (1.0, 12.0, 18.0, 6.0)


def _model(make, leave: tuple[float, ...] = (0, 0, 0, 0), intake_per_year: float = 12_000):
    stages = tuple(
        StageModel(make(mean), leave_share=share) for mean, share in zip(MEANS, leave, strict=True)
    )
    return RegionModel("r", intake_per_year / 12, stages)


def _steady_open(model: RegionModel, runs: int = 20) -> float:
    """Mean open cases over the last year of ten, starting empty (37 months of stages: the
    system is full after about four years)."""
    out = simulate([model], 120, runs, seed=5)["r"].sum(axis=2)
    return float(out[:, -12:].mean())


@pytest.mark.parametrize("make", [Durations.exponential, Durations.deterministic])
def test_littles_law_without_withdrawals(make) -> None:
    model = _model(make)
    expected = model.intake_per_month * sum(MEANS)  # L = lambda x W, W = sum of the means
    assert expected == pytest.approx(1000 * 37)
    assert _steady_open(model) == pytest.approx(expected, rel=0.05)


@pytest.mark.parametrize("make", [Durations.exponential, Durations.deterministic])
def test_littles_law_counts_partial_stays(make) -> None:
    # 20% decline in arrival, 10% withdraw in francization (after half its mean), ...
    leave = (0.2, 0.1, 0.05, 0.0)
    model = _model(make, leave)
    w = model.mean_time_open()
    # By hand: arrival 1 x (0.8 + 0.2 x 0.5); francization reached by 0.8 ...
    by_hand = 0.9 + 0.8 * (0.9 * 12 + 0.1 * 6) + 0.72 * (0.95 * 18 + 0.05 * 9) + 0.684 * 6
    assert w == pytest.approx(by_hand)
    assert w < sum(MEANS) * 0.8  # well below: the test would catch ignoring the leavers
    assert _steady_open(model) == pytest.approx(model.intake_per_month * w, rel=0.05)


def test_same_seed_same_output_whatever_the_threads() -> None:
    rng = np.random.default_rng(0)
    stages = tuple(StageModel(Durations.empirical(rng.exponential(m, 300)), 0.05) for m in MEANS)
    model = RegionModel("r", 300, stages, rng.integers(0, 4, 2000), rng.exponential(2, 2000))
    a = simulate([model], 24, 30, seed=7, threads=1)["r"]
    b = simulate([model], 24, 30, seed=7, threads=2)["r"]
    c = simulate([model], 24, 30, seed=8)["r"]
    assert a.shape == (30, 24, 4)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_todays_cases_leave_after_their_remaining_time() -> None:
    # No arrivals; 100 cases 2 months into a deterministic 3-month arrival stage, 50 cases
    # just started francization (deterministic 2 months), nothing after.
    stages = (
        StageModel(Durations.deterministic(3)),
        StageModel(Durations.deterministic(2)),
        StageModel(Durations.deterministic(0)),
        StageModel(Durations.deterministic(0)),
    )
    open_stage = np.array([0] * 100 + [1] * 50)
    open_age = np.array([2.0] * 100 + [0.5] * 50)
    model = RegionModel("r", 0.0, stages, open_stage, open_age)
    out = simulate([model], 6, 3, seed=1)["r"][0]
    # Month 1: arrival ones leave at 1.0 (not counted at its end), francization ones at 1.5.
    assert out[0].tolist() == [0, 150, 0, 0]
    # The former arrival cases spend 2 months in francization: months 1..3.
    assert out[:, 1].tolist() == [150, 100, 0, 0, 0, 0]


def test_an_empirical_draw_for_a_case_already_in_the_stage_is_longer_than_its_age() -> None:
    d = Durations.empirical(np.array([1.0, 2.0, 3.0, 10.0]))
    rng = np.random.default_rng(3)
    age = np.full(10_000, 2.5)
    left = d.remaining(rng, age, d.rank(age))
    assert set(np.round(left, 6)) == {0.5, 7.5}  # 3 - 2.5 and 10 - 2.5 only
    fresh = d.draw(rng, 10_000)
    assert set(fresh) == {1.0, 2.0, 3.0, 10.0}
    assert fresh.mean() == pytest.approx(4.0, rel=0.05)
    # Past the longest observation: memoryless, with the sample's mean.
    old = np.full(20_000, 11.0)
    assert d.remaining(rng, old, d.rank(old)).mean() == pytest.approx(4.0, rel=0.05)


def test_officers_needed_rounds_up() -> None:
    assert officers_needed(0, 60) == 0
    assert officers_needed(60, 60) == 1
    assert officers_needed(61, 60) == 2
    assert pytest.approx(30.4375) == DAYS_PER_MONTH


def test_horizon_and_runs_are_bounded() -> None:
    model = _model(Durations.exponential)
    with pytest.raises(ValueError):
        simulate([model], 121, 1, seed=1)
    with pytest.raises(ValueError):
        simulate([model], 12, 0, seed=1)
