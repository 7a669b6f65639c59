"""The report benchmark's harness (bench/programme_report.py) on a small read model: it seeds,
measures every query it names, and its data makes a report with something in every figure.
Speed is judged by the benchmark itself, never here."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.programme_report import NOW, amain, seed
from parcours.application.reports import Period, build_report
from parcours.infrastructure.store import migrate
from parcours.infrastructure.store.db import create_engine, session_factory


async def test_the_harness_measures_each_query_against_count() -> None:
    args = argparse.Namespace(cases=300, samples=1, seed=1, database_url=None)
    report = await amain(args)
    names = {m.name for m in report.metrics}
    assert "count_cases_audit_spans p50" in names
    measured = [m for m in report.metrics if m.name.startswith("report_")]
    assert len(measured) == 3
    assert all(m.baseline and m.value and m.ratio for m in measured)
    assert report.scaled_down  # 300 cases: no verdict on the target


async def test_the_seeded_model_fills_every_figure(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'parcours.db'}")
    try:
        await migrate.upgrade(engine)
        sizes = await seed(engine, 2000, 18)
        assert sizes["audit_events"] > 10 * sizes["cases"]
        async with session_factory(engine)() as session:
            report = await build_report(session, Period.of("2026-01", "2026-10", NOW.date()), None)
    finally:
        await engine.dispose()
    montreal = [m for m in report.months if m.region == "montreal"]
    assert all(m.opened > 0 and m.greeted.percent is not None for m in montreal)
    assert any(m.plan_on_time.percent for m in montreal)
    assert any(sum(m.declined.values()) for m in montreal)
    assert any(m.stages["francization"].count for m in montreal)
    assert any(m.per_100(1) for m in montreal)
    laval = next(r for r in report.today if r.region == "laval")
    assert (laval.officers, laval.lowest) == (0, None)  # no officer: nothing to spread
    assert laval.unassigned == laval.open_cases > 0
