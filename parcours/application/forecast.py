"""The capacity forecast (issue 18): inputs measured from the read model or assumed, the
engine's runs (parcours/kernel/forecast.py), and the answer as a table, JSON, CSV or chart.

One implementation for `parcours forecast` and the console's *Prévisions* page.

Inputs and where they come from (each reported with `source` "measured" or "assumed"):
- intake: cases opened in the last 365 days, per region (scaled up when the history is
  shorter); `--intake-per-year` replaces it, shared between regions as measured.
- stage durations: the completed stages' durations (start to approval or waiver), per region
  when it has MIN_SAMPLE of them, else the province's, else an exponential with the mean of
  DEFAULT_STAGE_MONTHS; `--stage-months` replaces the stages it names (exponential).
- leave shares: per stage, the cases that declined or withdrew in it over those that left it
  either way (same fallbacks; 0 when nothing is known). Uptake is 1 - arrival's share.
- officers: active officers per region (those on leave counted: a leave lasts weeks, the
  forecast years); `--officers` replaces the total, shared as measured (else as intake).
- target caseload: the policy file's `target_caseload`, always "assumed".
A top-level input is "measured" only when every region's value is.
"""

from __future__ import annotations

import asyncio
import csv
import io
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy.ext.asyncio import AsyncSession

from parcours.infrastructure.store.measures import DayCounts, Measures, measure
from parcours.kernel.domain import REGIONS, STAGES
from parcours.kernel.forecast import (
    DAYS_PER_MONTH,
    MAX_MONTHS,
    Durations,
    RegionModel,
    StageModel,
    officers_needed,
    simulate,
)

MEASURED = "measured"
ASSUMED = "assumed"
# Fewest observations for a region's (else the province's) distribution to be used.
MIN_SAMPLE = 20
# Mean months per stage when nothing is measured: the default policy's deadlines (30 days,
# 52, 78 and 26 weeks), i.e. cases that take the time the programme gives them.
DEFAULT_STAGE_MONTHS: Mapping[str, float] = {
    "arrival": 1.0,
    "francization": 12.0,
    "employment": 18.0,
    "community": 6.0,
}
DEFAULT_MONTHS = 24
DEFAULT_RUNS = 200
DEFAULT_SEED = 18
# Runs cost CPU in the console's process too: 1,000 x 100,000 cases is about half a minute.
MAX_RUNS = 1_000
# Arrivals simulated in all (per year x years x runs): five times the default question (50,000 a
# year, 24 months, 200 runs). Past it one request would hold a console thread for hours.
MAX_SIMULATED_ARRIVALS = 100_000_000
STAGE_NAMES = tuple(s.value for s in STAGES)


@dataclass
class Overrides:
    """What the reader assumes instead of what the read model says (None: measure it)."""

    intake_per_year: float | None = None
    uptake: float | None = None
    stage_months: dict[str, float] = field(default_factory=dict)
    officers: int | None = None
    target_caseload: int | None = None


@dataclass
class Request:
    overrides: Overrides = field(default_factory=Overrides)
    months: int = DEFAULT_MONTHS
    runs: int = DEFAULT_RUNS
    seed: int = DEFAULT_SEED
    region: str | None = None  # None: every region


@dataclass
class Input:
    value: Any
    source: str
    basis: str | None = None  # for durations and shares: "region", "province" or "default"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"value": self.value, "source": self.source}
        if self.basis is not None:
            out["basis"] = self.basis
        return out


@dataclass
class RegionInputs:
    region: str
    intake_per_year: Input
    officers: Input
    open_cases: int
    stage_months: dict[str, Input]
    leave_share: dict[str, Input]
    model: RegionModel

    def to_json(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "intake_per_year": self.intake_per_year.to_json(),
            "officers": self.officers.to_json(),
            "open_cases": {"value": self.open_cases, "source": MEASURED},
            "stage_months": {s: i.to_json() for s, i in self.stage_months.items()},
            "leave_share": {s: i.to_json() for s, i in self.leave_share.items()},
        }


@dataclass
class Month:
    month: int
    open_p10: float
    open_p50: float
    open_p90: float
    per_officer_p50: float | None
    officers_needed_p50: int
    by_stage: dict[str, dict[str, float]]
    by_region: dict[str, dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {
            "month": self.month,
            "open_p10": self.open_p10,
            "open_p50": self.open_p50,
            "open_p90": self.open_p90,
            "per_officer_p50": self.per_officer_p50,
            "officers_needed_p50": self.officers_needed_p50,
            "by_stage": self.by_stage,
            "by_region": self.by_region,
        }


@dataclass
class Forecast:
    request: Request
    inputs: dict[str, Any]
    regions: list[RegionInputs]
    months: list[Month]
    officers: int
    target_caseload: int
    open_today: int
    first_month_over_target: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "inputs": {
                k: (v.to_json() if isinstance(v, Input) else {s: i.to_json() for s, i in v.items()})
                for k, v in self.inputs.items()
            },
            "parameters": {
                "months": self.request.months,
                "runs": self.request.runs,
                "seed": self.request.seed,
                "region": self.request.region,
            },
            "first_month_over_target": self.first_month_over_target,
            "regions": [r.to_json() for r in self.regions],
            "months": [m.to_json() for m in self.months],
        }


# --------------------------------------------------------------------------------------------
# From measures to the engine's models
# --------------------------------------------------------------------------------------------


def _sample(cells: DayCounts, region: str | None, stage: str) -> npt.NDArray[np.float64]:
    """Durations in months from the day counts of `region` (None: all regions pooled)."""
    days: list[int] = []
    counts: list[int] = []
    for (r, s), cell in cells.items():
        if s == stage and (region is None or r == region):
            days += list(cell)
            counts += list(cell.values())
    if not days:
        return np.zeros(0)
    return np.repeat(np.asarray(days, dtype=np.float64), counts) / DAYS_PER_MONTH


def _count(cells: DayCounts, region: str | None, stage: str) -> int:
    return sum(
        sum(cell.values())
        for (r, s), cell in cells.items()
        if s == stage and (region is None or r == region)
    )


def _stage_model(
    m: Measures, region: str, stage: str, o: Overrides
) -> tuple[StageModel, Input, Input]:
    basis: str | None = None
    done = Durations.exponential(DEFAULT_STAGE_MONTHS[stage])
    for scope in (region, None):
        sample = _sample(m.done, scope, stage)
        if sample.size >= MIN_SAMPLE:
            done = Durations.empirical(sample)
            basis = "region" if scope else "province"
            break
    months_in = Input(round(done.mean, 2), MEASURED, basis)
    if stage in o.stage_months:
        done = Durations.exponential(o.stage_months[stage])
        months_in = Input(o.stage_months[stage], ASSUMED)
    elif basis is None:
        months_in = Input(done.mean, ASSUMED, "default")

    share_in = Input(0.0, ASSUMED, "default")
    left: Durations | None = None
    for scope in (region, None):
        gone, finished = _count(m.left, scope, stage), _count(m.done, scope, stage)
        if gone + finished >= MIN_SAMPLE:
            share_in = Input(round(gone / (gone + finished), 4), MEASURED,
                             "region" if scope else "province")  # fmt: skip
            break
    for scope in (region, None):
        stays = _sample(m.left, scope, stage)
        if stays.size >= MIN_SAMPLE:
            left = Durations.empirical(stays)
            break
    if stage == STAGE_NAMES[0] and o.uptake is not None:
        share_in = Input(round(1 - o.uptake, 4), ASSUMED)
    return StageModel(done, float(share_in.value), left), months_in, share_in


def _open_cases(m: Measures, region: str) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    stages: list[int] = []
    ages: list[float] = []
    counts: list[int] = []
    for (r, s), cell in m.open.items():
        if r != region or s not in STAGE_NAMES:
            continue
        for d, n in cell.items():
            stages.append(STAGE_NAMES.index(s))
            ages.append(d / DAYS_PER_MONTH)
            counts.append(n)
    return (
        np.repeat(np.asarray(stages, dtype=np.int64), counts),
        np.repeat(np.asarray(ages, dtype=np.float64), counts),
    )


def _shares(weights: Mapping[str, float], regions: list[str]) -> dict[str, float]:
    total = sum(weights.get(r, 0) for r in regions)
    if total <= 0:
        return {r: 1 / len(regions) for r in regions}
    return {r: weights.get(r, 0) / total for r in regions}


def _combined(inputs: list[Input], value: Any) -> Input:
    """A province-wide input: measured if every region's is; the basis if they share one."""
    every = all(i.source == MEASURED for i in inputs)
    bases = {i.basis for i in inputs}
    return Input(value, MEASURED if every and inputs else ASSUMED,
                 bases.pop() if len(bases) == 1 else None)  # fmt: skip


def build(m: Measures, request: Request, target_caseload: int) -> Forecast:
    """The forecast of `request` over the read model's measures `m` (see the module doc)."""
    o = request.overrides
    if request.region is not None:
        regions = [request.region]
    else:
        seen = set(m.opened) | set(m.officers) | {r for r, _ in m.open}
        regions = [r for r in REGIONS if r in seen] or list(REGIONS)
    scale = 365 / m.history_days if m.history_days > 0 else 0.0
    measured_intake = {r: m.opened.get(r, 0) * scale for r in regions}
    intake_share = _shares(
        measured_intake if any(measured_intake.values()) else {**m.officers}, regions
    )
    officer_share = _shares({**m.officers} if any(m.officers.get(r) for r in regions)
                            else intake_share, regions)  # fmt: skip

    region_inputs: list[RegionInputs] = []
    for r in regions:
        if o.intake_per_year is not None:
            intake = Input(round(o.intake_per_year * intake_share[r], 1), ASSUMED)
        else:
            intake = Input(round(measured_intake[r], 1), MEASURED)
        if o.officers is not None:
            officers = Input(round(o.officers * officer_share[r], 2), ASSUMED)
        else:
            officers = Input(m.officers.get(r, 0), MEASURED)
        stage_models: list[StageModel] = []
        months_in: dict[str, Input] = {}
        shares_in: dict[str, Input] = {}
        for s in STAGE_NAMES:
            stage_model, months_in[s], shares_in[s] = _stage_model(m, r, s, o)
            stage_models.append(stage_model)
        open_stage, open_age = _open_cases(m, r)
        model = RegionModel(r, float(intake.value) / 12, tuple(stage_models), open_stage, open_age)
        region_inputs.append(
            RegionInputs(r, intake, officers, int(open_stage.size), months_in, shares_in, model)
        )

    runs = simulate([ri.model for ri in region_inputs], request.months, request.runs, request.seed)
    return _summarise(request, m, region_inputs, runs, target_caseload)


def _summarise(
    request: Request,
    m: Measures,
    regions: list[RegionInputs],
    runs: dict[str, npt.NDArray[np.int64]],
    target: int,
) -> Forecast:
    o = request.overrides
    total = sum(runs[r.region] for r in regions)  # (runs, months, stages)
    assert isinstance(total, np.ndarray)
    officers = sum(float(r.officers.value) for r in regions)
    officers_total = round(officers) if o.officers is None else o.officers
    weights = [max(float(r.intake_per_year.value), 1e-9) for r in regions]

    def mean_of(key: str, s: str) -> float:
        values = [float(getattr(r, key)[s].value) for r in regions]
        return round(float(np.average(values, weights=weights)), 4)

    inputs: dict[str, Any] = {
        "intake_per_year": _combined(
            [r.intake_per_year for r in regions],
            round(sum(float(r.intake_per_year.value) for r in regions)),
        ),
        "uptake": _combined(
            [r.leave_share[STAGE_NAMES[0]] for r in regions],
            round(1 - mean_of("leave_share", STAGE_NAMES[0]), 4),
        ),
        "stage_months": {
            s: _combined([r.stage_months[s] for r in regions], mean_of("stage_months", s))
            for s in STAGE_NAMES
        },
        "leave_share": {
            s: _combined([r.leave_share[s] for r in regions], mean_of("leave_share", s))
            for s in STAGE_NAMES
        },
        "officers": _combined([r.officers for r in regions], officers_total),
        "target_caseload": Input(target, ASSUMED),
        "open_cases": Input(sum(r.open_cases for r in regions), MEASURED),
    }
    if o.target_caseload is not None:
        inputs["target_caseload"] = Input(o.target_caseload, ASSUMED)
        target = o.target_caseload

    open_all = total.sum(axis=2)  # (runs, months)
    p10, p50, p90 = np.percentile(open_all, [10, 50, 90], axis=0)
    stage_p = np.percentile(total, [10, 50, 90], axis=0)  # (3, months, stages)
    region_p50 = {r.region: np.percentile(runs[r.region].sum(axis=2), 50, axis=0) for r in regions}
    months: list[Month] = []
    first_over: int | None = None
    for i in range(request.months):
        per_officer = float(p50[i]) / officers_total if officers_total > 0 else None
        over = per_officer > target if per_officer is not None else p50[i] > 0
        if over and first_over is None:
            first_over = i + 1
        by_region: dict[str, dict[str, Any]] = {}
        for r in regions:
            n = float(region_p50[r.region][i])
            staff = float(r.officers.value)
            by_region[r.region] = {
                "open_p50": n,
                "officers": staff,
                "per_officer_p50": round(n / staff, 1) if staff > 0 else None,
                "officers_needed_p50": officers_needed(n, target),
            }
        months.append(
            Month(
                month=i + 1,
                open_p10=float(p10[i]),
                open_p50=float(p50[i]),
                open_p90=float(p90[i]),
                per_officer_p50=round(per_officer, 1) if per_officer is not None else None,
                officers_needed_p50=officers_needed(float(p50[i]), target),
                by_stage={
                    s: {
                        "p10": float(stage_p[0, i, k]),
                        "p50": float(stage_p[1, i, k]),
                        "p90": float(stage_p[2, i, k]),
                    }
                    for k, s in enumerate(STAGE_NAMES)
                },
                by_region=by_region,
            )
        )
    return Forecast(
        request=request,
        inputs=inputs,
        regions=regions,
        months=months,
        officers=officers_total,
        target_caseload=target,
        open_today=sum(r.open_cases for r in regions),
        first_month_over_target=first_over,
    )


async def forecast(
    session: AsyncSession, request: Request, target_caseload: int, now: datetime
) -> Forecast:
    """Measure the read model as of `now`, then run the forecast."""
    check(request)
    measures = await measure(session, now)
    # Seconds of NumPy on large read models: off the event loop (NumPy releases the GIL).
    return await asyncio.to_thread(build, measures, request, target_caseload)


class ForecastInputError(ValueError):
    """A request the forecast cannot run; `field` names the input, `key` its message."""

    def __init__(self, field: str, key: str, **params: Any) -> None:
        super().__init__(f"{field}: {key}")
        self.field = field
        self.key = key
        self.params = params


def check(request: Request) -> None:
    """Refuse what cannot be forecast, naming the input (interfaces word it)."""
    o = request.overrides
    if not 1 <= request.months <= MAX_MONTHS:
        raise ForecastInputError("months", "forecast.error.months", most=MAX_MONTHS)
    if not 1 <= request.runs <= MAX_RUNS:
        raise ForecastInputError("runs", "forecast.error.runs", most=MAX_RUNS)
    if o.intake_per_year is not None and not (
        math.isfinite(o.intake_per_year) and 0 <= o.intake_per_year <= 10_000_000
    ):
        raise ForecastInputError("intake_per_year", "forecast.error.intake")
    if o.intake_per_year is not None and (
        o.intake_per_year * request.months / 12 * request.runs > MAX_SIMULATED_ARRIVALS
    ):
        most = f"{MAX_SIMULATED_ARRIVALS:,}".replace(",", "\u00a0")
        raise ForecastInputError("runs", "forecast.error.too_much", most=most)
    if o.uptake is not None and not (math.isfinite(o.uptake) and 0 <= o.uptake <= 1):
        raise ForecastInputError("uptake", "forecast.error.uptake")
    if o.officers is not None and not 0 <= o.officers <= 100_000:
        raise ForecastInputError("officers", "forecast.error.officers")
    if o.target_caseload is not None and not 1 <= o.target_caseload <= 10_000:
        raise ForecastInputError("target_caseload", "forecast.error.target")
    for stage, months in o.stage_months.items():
        if stage not in STAGE_NAMES:
            raise ForecastInputError(
                "stage_months", "forecast.error.stage", stage=stage, stages=",".join(STAGE_NAMES)
            )
        if not (math.isfinite(months) and 0 < months <= 240):
            raise ForecastInputError("stage_months", "forecast.error.stage_months", stage=stage)


def read_number(text: str) -> float | None:
    """A number as a person types it ("50000", "50 000", "0,85"), or None."""
    cleaned = text.strip()
    for space in ("\u00a0", "\u202f", " "):
        cleaned = cleaned.replace(space, "")
    try:
        value = float(cleaned.replace(",", "."))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def parse_stage_months(text: str) -> dict[str, float]:
    """`arrival=1,francization=12.5` -> {"arrival": 1.0, "francization": 12.5}."""
    out: dict[str, float] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        stage, eq, value = part.partition("=")
        stage = stage.strip()
        if not eq:
            raise ForecastInputError("stage_months", "forecast.error.stage_syntax")
        if stage not in STAGE_NAMES:
            raise ForecastInputError(
                "stage_months", "forecast.error.stage", stage=stage, stages=",".join(STAGE_NAMES)
            )
        try:
            out[stage] = float(value.replace("\u00a0", "").replace(" ", "").replace(",", "."))
        except ValueError:
            raise ForecastInputError(
                "stage_months", "forecast.error.stage_months", stage=stage
            ) from None
    if not out:
        raise ForecastInputError("stage_months", "forecast.error.stage_syntax")
    return out


# --------------------------------------------------------------------------------------------
# Exports
# --------------------------------------------------------------------------------------------

CSV_COLUMNS = (
    "month",
    "open_p10",
    "open_p50",
    "open_p90",
    *(f"{s}_p50" for s in STAGE_NAMES),
    "per_officer_p50",
    "officers_needed_p50",
)


def to_csv(f: Forecast) -> str:
    """One row per month, the columns named as in the JSON shape (README)."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for m in f.months:
        w.writerow(
            [
                m.month,
                round(m.open_p10),
                round(m.open_p50),
                round(m.open_p90),
                *(round(m.by_stage[s]["p50"]) for s in STAGE_NAMES),
                "" if m.per_officer_p50 is None else m.per_officer_p50,
                m.officers_needed_p50,
            ]
        )
    return out.getvalue()
