"""How big each scenario runs: the full program scale, a quick run (< 3 minutes) and a smoke
run (seconds, for CI: checks the harness, not the speed)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sizes:
    name: str
    # Cases opened before the scenarios, so the worker is warm and latency has targets.
    warmup: int
    intake: int
    storm: int
    # Least time between the storm's case starts and their stall timers firing. The storm
    # waits longer when intake showed that opening its cases takes longer, so that the timers
    # fire on open, quiet cases: it measures the storm, not a backlog of openings.
    storm_remind_after_s: int
    # Open cases to reach, in turn, measuring visibility, caseload and memory at each (0: no
    # top-up, measure over the cases already open).
    open_cases: tuple[int, ...]
    # Seconds allowed for all the filling; beyond it, measure and extrapolate.
    scale_budget_s: float
    latency_samples: int
    query_samples: int
    # Weekly check-ins driven into one case (156 = three years).
    checkins: int
    # Check-ins beyond three years, to show continue-as-new bounding the run.
    checkins_max: int
    # How long to wait for a scenario to drain before calling it failed.
    drain_timeout_s: float
    scaled_down: bool
    # Seconds added to the storm's lead time over the measured opening time. The smoke run's
    # ten cases open in a second or two: a 20 s margin there was a third of `make test`'s
    # slowest test (issue 13), and the smoke run checks the harness, not quietness.
    storm_lead_margin_s: int = 20
    # Issue 17's departure: open cases in all (topped up by an import), and how many of them
    # the leaving officer holds.
    departure_open: int = 20_000
    departure_held: int = 1_000


FULL = Sizes(
    name="full",
    warmup=400,
    intake=10_000,
    storm=5_000,
    storm_remind_after_s=180,
    open_cases=(50_000, 100_000),
    scale_budget_s=9000,
    latency_samples=200,
    query_samples=40,
    checkins=156,
    checkins_max=600,
    drain_timeout_s=1800,
    scaled_down=False,
)
QUICK = Sizes(
    name="quick",
    warmup=40,
    intake=300,
    storm=100,
    storm_remind_after_s=15,
    # No top-up: the quick run measures the queries over the cases it already opened.
    open_cases=(0,),
    scale_budget_s=0,
    latency_samples=20,
    query_samples=10,
    checkins=156,
    checkins_max=156,
    drain_timeout_s=90,
    scaled_down=True,
    departure_open=1_000,
    departure_held=100,
)
SMOKE = Sizes(
    name="smoke",
    warmup=8,
    intake=20,
    storm=10,
    storm_remind_after_s=8,
    open_cases=(40,),
    scale_budget_s=60,
    latency_samples=4,
    query_samples=3,
    checkins=6,
    checkins_max=6,
    drain_timeout_s=60,
    scaled_down=True,
    storm_lead_margin_s=3,
    departure_open=60,
    departure_held=10,
)
BY_NAME = {s.name: s for s in (FULL, QUICK, SMOKE)}
