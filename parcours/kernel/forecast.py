"""The capacity forecast's engine (issue 18): how many cases will be open, month by month.

A Monte Carlo of the pathway as an M/G/infinity system, vectorised with NumPy: every case is
a row of arrays, every stage one pass over them, every month-end count one `bincount`. There
is no loop over events or cases, so 100,000 open cases x 24 months x 200 runs take seconds.

- Cases open by a Poisson process at the region's intake rate (uniform within a month).
- Today's open cases start in their current stage with the time already spent in it: their
  remaining time is drawn from the stage's duration *given that it is longer than that*.
- In each stage a case either finishes it (approval or waiver) or leaves the programme
  (declines or withdraws) with the stage's measured share; a case that leaves stays open for
  its partial stay only. Declines and withdrawals in the arrival stage are what "uptake"
  measures (uptake = 1 - arrival's leave share).
- A duration is drawn from an empirical sample (a bootstrap of measured completed stages),
  from an exponential with a given mean, or is that mean exactly (deterministic).

Little's law checks the whole: at steady state, open cases = arrival rate x mean time open,
where the mean time open counts the partial stays (tests/kernel/test_forecast_engine.py).
The measuring (the read model) and the output shape live in parcours/application/forecast.py.
Durations are in months (30.4375 days), the unit people plan in.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import numpy.typing as npt

DAYS_PER_MONTH = 365.25 / 12
MAX_MONTHS = 120
# Cases are simulated a few runs at a time so that memory stays near 100 MB at 200,000 cases
# per run. The chunk size follows from the inputs alone, so the same seed gives the same draws.
_CASES_PER_CHUNK = 250_000

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class Shape(StrEnum):
    EMPIRICAL = "empirical"
    EXPONENTIAL = "exponential"
    DETERMINISTIC = "deterministic"


@dataclass(frozen=True)
class Durations:
    """How long something lasts, in months: a measured sample, or a mean and a shape."""

    shape: Shape
    mean: float
    sample: FloatArray = field(default_factory=lambda: np.zeros(0))

    @classmethod
    def empirical(cls, months: FloatArray) -> Durations:
        ordered = np.sort(np.asarray(months, dtype=np.float64))
        if ordered.size == 0:
            raise ValueError("an empirical distribution needs at least one duration")
        return cls(Shape.EMPIRICAL, float(ordered.mean()), ordered)

    @classmethod
    def exponential(cls, mean: float) -> Durations:
        return cls(Shape.EXPONENTIAL, float(mean))

    @classmethod
    def deterministic(cls, mean: float) -> Durations:
        return cls(Shape.DETERMINISTIC, float(mean))

    def draw(self, rng: np.random.Generator, n: int) -> FloatArray:
        """`n` durations of cases entering the stage now."""
        if self.shape == Shape.DETERMINISTIC:
            return np.full(n, self.mean)
        if self.shape == Shape.EXPONENTIAL:
            return rng.exponential(self.mean, n) if self.mean > 0 else np.zeros(n)
        # Any observed duration, equally likely (a bootstrap of the measured sample).
        return self.sample[(rng.random(n) * self.sample.size).astype(np.int64)]

    def rank(self, age: FloatArray) -> IntArray:
        """For `remaining`: how many observed durations are not longer than each `age`
        (computed once per forecast for today's cases, whose ages every run shares)."""
        if self.shape != Shape.EMPIRICAL:
            return np.zeros(age.size, dtype=np.int64)
        return np.searchsorted(self.sample, age, side="right").astype(np.int64)

    def remaining(self, rng: np.random.Generator, age: FloatArray, rank: IntArray) -> FloatArray:
        """Months left for cases already `age` months in: a duration drawn given that it is
        longer than `age`. Past the longest observation the empirical tail is memoryless
        with the sample's mean, as the exponential is everywhere."""
        n = age.size
        if self.shape == Shape.DETERMINISTIC:
            return np.maximum(self.mean - age, 0.0)
        if self.shape == Shape.EXPONENTIAL:
            return rng.exponential(self.mean, n) if self.mean > 0 else np.zeros(n)
        values = self.sample
        room = values.size - rank
        idx = np.minimum(rank + (rng.random(n) * room).astype(np.int64), values.size - 1)
        out = values[idx] - age
        past = room <= 0
        if past.any():
            out[past] = rng.exponential(max(self.mean, 1e-9), int(past.sum()))
        return out


@dataclass(frozen=True)
class StageModel:
    """One stage: how long those who finish it take, who leaves during it and after how long."""

    done: Durations
    leave_share: float = 0.0
    left: Durations | None = None  # partial stays; None: half the stage's mean, exponential

    def partial(self) -> Durations:
        return self.left or Durations.exponential(self.done.mean / 2)

    def mean_time(self) -> float:
        """Mean months spent in the stage by a case that enters it."""
        return (1 - self.leave_share) * self.done.mean + self.leave_share * self.partial().mean


@dataclass(frozen=True)
class RegionModel:
    """What one region's simulation starts from: its intake, its stages, its open cases."""

    name: str
    intake_per_month: float
    stages: tuple[StageModel, ...]
    open_stage: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    open_age: FloatArray = field(default_factory=lambda: np.zeros(0))  # months in stage

    def mean_time_open(self) -> float:
        """Mean months a new case stays open, partial stays included (Little's law's W)."""
        total, reach = 0.0, 1.0
        for stage in self.stages:
            total += reach * stage.mean_time()
            reach *= 1 - stage.leave_share
        return total


@dataclass(frozen=True)
class _Today:
    """Today's cases in one stage, as every run starts them: their months in the stage and
    their ranks in the stage's two samples (finishing, leaving)."""

    age: FloatArray
    rank_done: IntArray
    rank_left: IntArray

    @classmethod
    def of(cls, model: RegionModel, k: int) -> _Today:
        age = model.open_age[model.open_stage == k]
        stage = model.stages[k]
        return cls(age, stage.done.rank(age), stage.partial().rank(age))


def _stays(
    rng: np.random.Generator, stage: StageModel, n: int, today: _Today | None, runs: int
) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """Months in the stage for `n` cases entering it now, then for today's cases of each run
    (from the time they have already spent), and who of them all leaves the programme."""
    m = 0 if today is None else today.age.size * runs
    leaves = rng.random(n + m) < stage.leave_share if stage.leave_share > 0 else None
    stay = np.empty(n + m)
    fresh = stay[:n]
    if leaves is None:
        fresh[:] = stage.done.draw(rng, n)
    else:
        go = ~leaves[:n]
        fresh[go] = stage.done.draw(rng, int(go.sum()))
        fresh[~go] = stage.partial().draw(rng, n - int(go.sum()))
    if today is not None and m:
        age = np.tile(today.age, runs)
        old = stay[n:]
        if leaves is None:
            old[:] = stage.done.remaining(rng, age, np.tile(today.rank_done, runs))
        else:
            go = ~leaves[n:]
            old[go] = stage.done.remaining(rng, age[go], np.tile(today.rank_done, runs)[go])
            old[~go] = stage.partial().remaining(rng, age[~go], np.tile(today.rank_left, runs)[~go])
    return stay, (np.zeros(n + m, dtype=bool) if leaves is None else leaves)


def _occupancy(
    rng: np.random.Generator,
    model: RegionModel,
    today: list[_Today | None],
    runs: int,
    months: int,
) -> npt.NDArray[np.int64]:
    """Open cases at the end of each month, per stage: an array (runs, months, stages)."""
    k_stages = len(model.stages)
    bins = months + 2  # bin m counts month-end m (1..months); 0 and months+1 catch the rest
    size = runs * k_stages * bins
    counts = np.zeros(size, dtype=np.int64)
    arrivals = rng.poisson(model.intake_per_month, size=(runs, months))
    # Cases entering the current stage: when they enter (months from now) and, with more than
    # one run in the chunk, their run (one run: every case's is 0, no array needed).
    many = runs > 1
    run = np.repeat(np.arange(runs, dtype=np.int64), arrivals.sum(axis=1)) if many else None
    entry = np.repeat(np.tile(np.arange(months, dtype=np.float64), runs), arrivals.ravel())
    entry += rng.random(entry.size)
    per_run = k_stages * bins
    last = months + 1

    def bin_of(times: FloatArray, k: int, runs_of: IntArray | None) -> IntArray:
        """Where each time counts: the first month-end at or after it (capped)."""
        at = np.minimum(np.ceil(times), last).astype(np.int64)
        at += k * bins
        if runs_of is not None:
            at += runs_of * per_run
        return at

    for k, stage in enumerate(model.stages):
        here = today[k]
        n = entry.size
        stay, leaves = _stays(rng, stage, n, here, runs)
        counts += np.bincount(bin_of(entry, k, run), minlength=size)
        end = entry + stay[:n]
        if here is not None and here.age.size:
            # Today's cases are in the stage now (bin 0 of every run) and leave `stay` from now.
            count = here.age.size
            counts[np.arange(runs) * per_run + k * bins] += count
            end = np.concatenate([end, stay[n:]])
            if run is not None:
                run = np.concatenate([run, np.repeat(np.arange(runs, dtype=np.int64), count)])
        if end.size == 0:
            continue
        counts -= np.bincount(bin_of(end, k, run), minlength=size)
        # Those who finished the stage before the horizon go on to the next one.
        going = (end < months) & ~leaves
        entry = end[going]
        if run is not None:
            run = run[going]
    occupancy = np.cumsum(counts.reshape(runs, k_stages, bins), axis=2)[:, :, 1 : months + 1]
    return occupancy.transpose(0, 2, 1)


def simulate(
    models: list[RegionModel], months: int, runs: int, seed: int, threads: int = 2
) -> dict[str, npt.NDArray[np.int64]]:
    """Open cases per region: for each, an array (runs, months, stages). Same seed, same
    arrays, whatever `threads`: each chunk of runs of each region draws from its own stream,
    spawned from the seed in a fixed order (NumPy releases the GIL on large arrays, so the
    chunks run side by side on the cores there are)."""
    if not 1 <= months <= MAX_MONTHS:
        raise ValueError(f"months must be from 1 to {MAX_MONTHS}")
    if runs < 1:
        raise ValueError("runs must be at least 1")
    jobs: list[tuple[RegionModel, int, np.random.SeedSequence]] = []
    for model, stream in zip(models, np.random.SeedSequence(seed).spawn(len(models)), strict=True):
        per_run = model.open_stage.size + model.intake_per_month * months + 1
        chunk = max(1, min(runs, int(_CASES_PER_CHUNK // per_run)))
        sizes = [min(chunk, runs - start) for start in range(0, runs, chunk)]
        jobs += [(model, n, s) for n, s in zip(sizes, stream.spawn(len(sizes)), strict=True)]

    today = {
        m.name: [_Today.of(m, k) if (m.open_stage == k).any() else None
                 for k in range(len(m.stages))]
        for m in models
    }  # fmt: skip

    def one(job: tuple[RegionModel, int, np.random.SeedSequence]) -> npt.NDArray[np.int64]:
        model, n, stream = job
        return _occupancy(np.random.default_rng(stream), model, today[model.name], n, months)

    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        parts = list(pool.map(one, jobs))
    out: dict[str, list[npt.NDArray[np.int64]]] = {m.name: [] for m in models}
    for (model, _, _), part in zip(jobs, parts, strict=True):
        out[model.name].append(part)
    return {name: np.concatenate(p, axis=0) for name, p in out.items()}


def officers_needed(open_cases: float, target: float) -> int:
    """Officers for `open_cases` at no more than `target` each."""
    return math.ceil(open_cases / target - 1e-9) if open_cases > 0 else 0
