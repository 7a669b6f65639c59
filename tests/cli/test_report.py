"""`parcours report` over the hand-built read model of tests/store/test_reports.py (SQLite):
the JSON and CSV shapes, the French text, who may read it with --by, and bad input."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from parcours.infrastructure.config import Settings
from parcours.infrastructure.store import migrate
from parcours.infrastructure.store.db import create_engine, session_factory
from parcours.interfaces.cli.main import amain
from tests.store.test_reports import cases, events, officers, spans


@pytest.fixture
async def settings(tmp_path: Path) -> Settings:
    url = f"sqlite+aiosqlite:///{tmp_path / 'parcours.db'}"
    engine = create_engine(url)
    try:
        await migrate.upgrade(engine)
        sessions = session_factory(engine)
        async with sessions() as session, session.begin():
            session.add_all([*officers(), *cases(), *spans()])
            await session.flush()
            session.add_all(events())
    finally:
        await engine.dispose()
    return Settings(database_url=url, data_dir=str(tmp_path), language="fr")


async def run(settings: Settings, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = await amain(list(argv), settings=settings, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


PERIOD = ("--from", "2026-01", "--to", "2026-02")


async def test_json_gives_the_figures_per_region_and_month(settings: Settings) -> None:
    code, out, err = await run(settings, "report", *PERIOD, "--region", "montreal", "--json")
    assert (code, err) == (0, "")
    report = json.loads(out)
    assert (report["from"], report["to"], report["region"]) == ("2026-01", "2026-02", "montreal")
    jan = report["months"][0]
    assert (jan["month"], jan["opened"]) == ("2026-01", 5)
    assert jan["greeted_at_airport"]["percent"] == 66.7
    assert jan["plan_on_time"] == {"part": 1, "whole": 2, "percent": 50.0, "recorded": True}
    assert jan["withdrawn"]["not_recorded"] == 1
    assert jan["stage_days"]["arrival"] == {"count": 4, "median_days": 6.5, "p90_days": 24.7}
    assert jan["escalations_per_100_open"] == {"1": 16.7, "2": 16.7, "3": 0.0}
    assert report["months"][1]["first_meeting_on_time"]["recorded"] is False
    assert report["today"] == [
        {
            "region": "montreal",
            "open_cases": 5,
            "unassigned": 1,
            "officers": 3,
            "caseload_min": 0,
            "caseload_median": 1.0,
            "caseload_max": 3,
        }
    ]


async def test_csv_is_one_row_per_region_and_month(settings: Settings) -> None:
    code, out, _ = await run(settings, "report", *PERIOD, "--csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["region"], r["month"]) for r in rows] == [
        ("capitale-nationale", "2026-01"),
        ("capitale-nationale", "2026-02"),
        ("montreal", "2026-01"),
        ("montreal", "2026-02"),
    ]
    assert rows[2]["greeted_pct"] == "66.7" and rows[3]["greeted_pct"] == ""
    assert rows[2]["unassigned_today"] == "1"


async def test_text_is_french_and_says_what_is_not_recorded(settings: Settings) -> None:
    code, out, _ = await run(settings, "report", *PERIOD, "--region", "montreal")
    assert code == 0
    assert "== Montréal ==" in out
    assert "66,7\u00a0% (2 sur 3)" in out
    assert "non enregistré" in out
    assert "motif non enregistré\u00a0: 1" in out
    assert "5 dossiers ouverts (dont 1 dossier non assigné)" in out


async def test_by_names_who_reads_and_the_table_decides(settings: Settings) -> None:
    code, _, err = await run(settings, "report", *PERIOD, "--by", "nbouchard")
    assert code == 1 and err.count("\n") == 1 and "nbouchard" in err  # all regions: refused
    code, out, _ = await run(
        settings, "report", *PERIOD, "--by", "nbouchard", "--region", "montreal", "--json"
    )
    assert code == 0 and json.loads(out)["region"] == "montreal"
    code, _, err = await run(
        settings, "report", *PERIOD, "--by", "nbouchard", "--region", "capitale-nationale"
    )
    assert code == 1 and "capitale-nationale" in err
    code, _, err = await run(settings, "report", "--by", "ghost")
    assert code == 1 and "ghost" in err


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (("--from", "2026-13"), "--from invalide '2026-13'"),
        (("--to", "janvier"), "--to invalide 'janvier'"),
        (("--from", "2026-05", "--to", "2026-02"), "période vide"),
        (("--from", "2000-01", "--to", "2026-02"), "au plus 120 mois"),
        (("--region", "atlantis"), "atlantis"),
    ],
)
async def test_bad_input_is_one_clear_line(
    settings: Settings, argv: tuple[str, ...], said: str
) -> None:
    code, out, err = await run(settings, "report", *argv)
    assert code == 1 and out == ""
    assert err.startswith("parcours\u00a0: erreur\u00a0: ") and err.count("\n") == 1
    assert said in err
