"""What the capacity forecast reads from the read model (issue 18), on a data set whose
answers are known: stage durations from the audit trail's dates, leave shares, today's open
cases with their time in stage, intake, officers; and overrides reported as assumed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from parcours.application.forecast import (
    DEFAULT_STAGE_MONTHS,
    Overrides,
    Request,
    build,
    forecast,
)
from parcours.infrastructure.store.db import session_factory
from parcours.infrastructure.store.measures import measure
from parcours.infrastructure.store.models import AuditEvent, Case, Officer
from parcours.kernel.forecast import DAYS_PER_MONTH, Shape

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


class Data:
    def __init__(self) -> None:
        self.cases: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []

    def case(self, region: str, status: str, stage: str | None, opened: datetime,
             stage_started: datetime | None, closed: datetime | None = None) -> str:  # fmt: skip
        dossier = f"K{len(self.cases):05d}"
        self.cases.append(
            {"dossier": dossier, "workflow_id": f"w-{dossier}", "region": region,
             "arrival_date": opened.date(), "status": status, "stage": stage,
             "stage_started_at": stage_started, "started_at": opened, "closed_at": closed}
        )  # fmt: skip
        self.event(dossier, "case_opened", "arrival", opened)
        return dossier

    def event(self, dossier: str, kind: str, stage: str, at: datetime) -> None:
        n = len(self.events)
        self.events.append(
            {"key": f"k{n}", "dossier": dossier, "kind": kind, "stage": stage, "at": at}
        )


async def _seed(engine: AsyncEngine) -> None:
    d = Data()
    for i in range(25):  # Montréal: arrival in 10 days, francization in 61, then employment
        t = NOW - timedelta(days=200, hours=i)
        dossier = d.case("montreal", "active", "employment", t, t + timedelta(days=71))
        d.event(dossier, "stage_approved", "arrival", t + timedelta(days=10))
        d.event(dossier, "stage_started", "francization", t + timedelta(days=10))
        d.event(dossier, "stage_approved", "francization", t + timedelta(days=71))
        d.event(dossier, "stage_started", "employment", t + timedelta(days=71))
    for i in range(5):  # Capitale-Nationale: arrival in 20 days (too few for the region alone)
        t = NOW - timedelta(days=100, hours=i)
        dossier = d.case("capitale-nationale", "active", "francization", t, t + timedelta(days=20))
        d.event(dossier, "stage_waived", "arrival", t + timedelta(days=20))
        d.event(dossier, "stage_started", "francization", t + timedelta(days=20))
    for i in range(5):  # Montréal: declined 3 days into arrival (the closed row names no stage)
        t = NOW - timedelta(days=150, hours=i)
        dossier = d.case("montreal", "declined", None, t, None, t + timedelta(days=3))
        d.event(dossier, "case_declined", "arrival", t + timedelta(days=3))
    for i in range(2):  # Montréal: withdrawn 30 days into francization
        t = NOW - timedelta(days=120, hours=i)
        dossier = d.case("montreal", "withdrawn", None, t, None, t + timedelta(days=40))
        d.event(dossier, "stage_approved", "arrival", t + timedelta(days=10))
        d.event(dossier, "stage_started", "francization", t + timedelta(days=10))
        d.event(dossier, "case_withdrawn", "francization", t + timedelta(days=40))
    for i in range(10):  # Montréal: 45 days into francization today
        t = NOW - timedelta(days=60, hours=i)
        d.case("montreal", "paused" if i == 0 else "active", "francization", t,
               NOW - timedelta(days=45))  # fmt: skip
    for i in range(3):  # Capitale-Nationale: 2 days into arrival
        t = NOW - timedelta(days=2)
        d.case("capitale-nationale", "waiting" if i == 0 else "active", "arrival", t, t)
    officers = [
        ("m1", "montreal", "officer", True), ("m2", "montreal", "officer", True),
        ("m3", "montreal", "officer", True), ("m4", "montreal", "officer", False),
        ("ms", "montreal", "supervisor", True), ("q1", "capitale-nationale", "officer", True),
    ]  # fmt: skip
    async with engine.begin() as conn:
        await conn.execute(insert(Case), d.cases)
        await conn.execute(insert(AuditEvent), d.events)
        await conn.execute(
            insert(Officer),
            [{"id": i, "name": i, "email": f"{i}@x.example", "region": r, "role": role,
              "active": active} for i, r, role, active in officers],
        )  # fmt: skip


async def test_measures_read_known_stage_dates(engine: AsyncEngine) -> None:
    await _seed(engine)
    async with session_factory(engine, [])() as session:
        m = await measure(session, NOW)
    assert m.done[("montreal", "arrival")] == {10: 27}
    assert m.done[("montreal", "francization")] == {61: 25}
    assert m.done[("capitale-nationale", "arrival")] == {20: 5}
    assert ("montreal", "employment") not in m.done  # started, not finished
    assert m.left == {("montreal", "arrival"): {3: 5}, ("montreal", "francization"): {30: 2}}
    assert m.open[("montreal", "francization")] == {45: 10}
    assert m.open[("capitale-nationale", "arrival")] == {2: 3}
    assert m.opened == {"montreal": 42, "capitale-nationale": 8}
    assert m.history_days == pytest.approx(200 + 24 / 24, abs=0.01)
    assert m.officers == {"montreal": 3, "capitale-nationale": 1}


async def test_forecast_inputs_per_region_then_province_then_default(engine: AsyncEngine) -> None:
    await _seed(engine)
    async with session_factory(engine, [])() as session:
        f = await forecast(session, Request(months=6, runs=10), 60, NOW)
    by = {r.region: r for r in f.regions}
    mtl, qc = by["montreal"], by["capitale-nationale"]
    # Arrival: Montréal has 27 of its own; the Capitale's 5 fall back to the province's 32.
    assert mtl.stage_months["arrival"].to_json() == {
        "value": round(10 / DAYS_PER_MONTH, 2), "source": "measured", "basis": "region"
    }  # fmt: skip
    assert qc.stage_months["arrival"].basis == "province"
    assert qc.stage_months["arrival"].value == pytest.approx(
        (25 * 10 + 5 * 20) / 30 / DAYS_PER_MONTH, abs=0.01
    )
    assert qc.model.stages[0].done.shape == Shape.EMPIRICAL
    # Employment: nobody finished it anywhere: the default mean, assumed.
    assert mtl.stage_months["employment"].to_json() == {
        "value": DEFAULT_STAGE_MONTHS["employment"], "source": "assumed", "basis": "default"
    }  # fmt: skip
    # Declines: 5 of the 32 Montréal cases that left arrival; 2 of 27 withdrew in francization.
    assert mtl.leave_share["arrival"].value == pytest.approx(5 / 32, abs=1e-4)
    assert mtl.leave_share["francization"].value == pytest.approx(2 / 27, abs=1e-4)
    assert mtl.leave_share["arrival"].source == "measured"
    assert qc.leave_share["arrival"].basis == "province"
    assert f.inputs["uptake"].source == "measured"
    # Today's open cases start where they are: the 25 in employment for 129 days, the 10 in
    # francization for 45 (stage 1).
    assert mtl.open_cases == 35 and qc.open_cases == 8
    ages = mtl.model.open_age[mtl.model.open_stage == 1]
    assert ages.size == 10 and set(ages.round(4)) == {round(45 / DAYS_PER_MONTH, 4)}
    # Intake: 42 cases over 201 days of history, scaled to a year.
    assert mtl.intake_per_year.value == pytest.approx(42 * 365 / 201, abs=0.2)
    assert f.inputs["officers"].to_json() == {"value": 4, "source": "measured"}
    assert f.inputs["target_caseload"].to_json() == {"value": 60, "source": "assumed"}
    assert f.inputs["open_cases"].value == 43
    first = f.months[0]
    assert first.open_p50 > 0 and set(first.by_region) == {"montreal", "capitale-nationale"}


async def test_overrides_are_reported_assumed(engine: AsyncEngine) -> None:
    await _seed(engine)
    async with session_factory(engine, [])() as session:
        m = await measure(session, NOW)
    o = Overrides(intake_per_year=50_000, uptake=0.8, stage_months={"employment": 10},
                  officers=78, target_caseload=40)  # fmt: skip
    f = build(m, Request(overrides=o, months=3, runs=5), 60)
    out = f.to_json()["inputs"]
    assert out["intake_per_year"] == {"value": 50_000, "source": "assumed"}
    assert out["uptake"] == {"value": 0.8, "source": "assumed"}
    assert out["stage_months"]["employment"] == {"value": 10, "source": "assumed"}
    assert out["stage_months"]["arrival"]["source"] == "measured"  # not overridden
    assert out["officers"] == {"value": 78, "source": "assumed"}
    assert out["target_caseload"] == {"value": 40, "source": "assumed"}
    # The override is shared between regions as measured (42 and 8 cases opened).
    by = {r["region"]: r for r in f.to_json()["regions"]}
    assert by["montreal"]["intake_per_year"]["value"] == pytest.approx(50_000 * 42 / 50, abs=0.1)
    assert by["montreal"]["officers"]["value"] == pytest.approx(78 * 3 / 4, abs=0.01)
    assert f.target_caseload == 40
    assert f.months[0].officers_needed_p50 == -(-int(f.months[0].open_p50) // 40)


async def test_one_region_only(engine: AsyncEngine) -> None:
    await _seed(engine)
    async with session_factory(engine, [])() as session:
        f = await forecast(session, Request(months=2, runs=5, region="capitale-nationale"), 60, NOW)
    assert [r.region for r in f.regions] == ["capitale-nationale"]
    assert f.inputs["open_cases"].value == 8
    assert f.inputs["officers"].value == 1
    assert set(f.months[0].by_region) == {"capitale-nationale"}
