"""`parcours forecast` on a seeded read model (issue 18): reproducible by seed, the JSON
shape, the CSV and chart files, who may see which region (--by), one line on bad input."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy import insert

from bench.forecast_data import History, default_now, seed_history
from parcours.infrastructure.config import Settings
from parcours.infrastructure.store.db import create_engine
from parcours.infrastructure.store.migrate import upgrade
from parcours.infrastructure.store.models import Officer
from parcours.interfaces.cli.main import amain

ERROR = "parcours\u00a0: erreur\u00a0: "
Run = Callable[..., Awaitable[tuple[int, str, str]]]


@pytest.fixture
async def run(tmp_path: Path) -> Run:
    url = f"sqlite+aiosqlite:///{tmp_path / 'p.db'}"
    engine = create_engine(url)
    try:
        await upgrade(engine)
        history = History(
            now=default_now(), intake_per_year=600, years=2,
            regions={"montreal": 2, "capitale-nationale": 1},
            officers={"montreal": 3, "capitale-nationale": 2},
        )  # fmt: skip
        await seed_history(engine, history)
        async with engine.begin() as conn:
            await conn.execute(
                insert(Officer),
                [{"id": i, "name": i, "email": f"{i}@x.example", "region": r, "role": role}
                 for i, r, role in (("sup-mtl", "montreal", "supervisor"),
                                    ("dir", "montreal", "director"))],
            )  # fmt: skip
    finally:
        await engine.dispose()
    settings = Settings(temporal_address="127.0.0.1:1", database_url=url)

    async def go(*argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        code = await amain(["forecast", *argv], settings=settings, out=out, err=err)
        return code, out.getvalue(), err.getvalue()

    return go


QUICK = ("--months", "6", "--runs", "20")


async def test_same_seed_same_forecast_and_the_json_shape(run: Run) -> None:
    a = await run(*QUICK, "--seed", "3", "--json")
    b = await run(*QUICK, "--seed", "3", "--json")
    c = await run(*QUICK, "--seed", "4", "--json")
    assert a[0] == 0 and a == b
    assert a[1] != c[1]
    data = json.loads(a[1])
    assert set(data) >= {"inputs", "months", "parameters", "regions", "first_month_over_target"}
    for key in ("intake_per_year", "uptake", "officers", "target_caseload", "open_cases"):
        assert {"value", "source"} <= set(data["inputs"][key]) <= {"value", "source", "basis"}
        assert data["inputs"][key]["source"] in ("measured", "assumed")
    assert set(data["inputs"]["stage_months"]) == {
        "arrival", "francization", "employment", "community"
    }  # fmt: skip
    assert data["inputs"]["officers"] == {"value": 5, "source": "measured"}
    months = data["months"]
    assert [m["month"] for m in months] == [1, 2, 3, 4, 5, 6]
    first = months[0]
    assert set(first) == {"month", "open_p10", "open_p50", "open_p90", "per_officer_p50",
                          "officers_needed_p50", "by_stage", "by_region"}  # fmt: skip
    assert first["open_p10"] <= first["open_p50"] <= first["open_p90"]
    assert first["per_officer_p50"] == round(first["open_p50"] / 5, 1)
    assert set(first["by_region"]) == {"montreal", "capitale-nationale"}


async def test_text_csv_and_charts(run: Run, tmp_path: Path) -> None:
    svg, png, table = tmp_path / "c.svg", tmp_path / "c.png", tmp_path / "t.csv"
    code, out, err = await run(*QUICK, "--intake-per-year", "50 000", "--officers", "78",
                               "--csv", str(table), "--chart", str(svg))  # fmt: skip
    assert code == 0, err
    assert "Arrivées par année" in out and "50\u00a0000 (hypothèse)" in out
    assert "Agent·e·s requis·es".upper() in out
    rows = list(csv.reader(table.read_text().splitlines()))
    assert rows[0][:4] == ["month", "open_p10", "open_p50", "open_p90"]
    assert len(rows) == 7
    text = svg.read_text()
    assert text.startswith("<svg") and "Dossiers ouverts" in text and "<polyline" in text
    code, _, err = await run(*QUICK, "--chart", str(png), "--lang", "en")
    assert code == 0, err
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


async def test_a_supervisor_sees_their_region_only(run: Run) -> None:
    code, out, err = await run(*QUICK, "--by", "sup-mtl", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["parameters"]["region"] == "montreal"
    assert set(data["months"][0]["by_region"]) == {"montreal"}
    assert data["inputs"]["officers"]["value"] == 3
    code, out, err = await run(*QUICK, "--by", "sup-mtl", "--region", "capitale-nationale")
    assert (code, out) == (1, "")
    assert (
        err == ERROR + "sup-mtl ne coordonne pas la région capitale-nationale\u00a0: seules sa "
        "coordination et la direction consultent ses prévisions\n"
    )
    code, out, err = await run(*QUICK, "--by", "montreal-000")  # an officer
    assert code == 1 and err.startswith(ERROR) and err.count("\n") == 1
    code, out, _ = await run(*QUICK, "--by", "dir", "--json")
    assert code == 0 and json.loads(out)["parameters"]["region"] is None


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["--uptake", "1,5"], "l'adhésion doit être une part de 0 à 1 (par exemple 0,85)"),
        (["--months", "121"], "l'horizon doit être de 1 à 120 mois"),
        (["--runs", "1001"], "le nombre de tirages doit être de 1 à 1\u00a0000"),
        (["--intake-per-year", "10000000", "--months", "120", "--runs", "1000"],
         "trop de calcul\u00a0: arrivées par année × années × tirages dépasse "
         "100\u00a0000\u00a0000 (réduisez les tirages, l'horizon ou les arrivées)"),
        (["--officers", "2.5"], "--officers\u00a0: '2.5' n'est pas un nombre entier"),
        (["--intake-per-year", "lots"], "--intake-per-year\u00a0: 'lots' n'est pas un nombre"),
        (["--stage-months", "voyage=3"],
         "étape inconnue «\u00a0voyage\u00a0» "
         "(étapes\u00a0: arrival,francization,employment,community)"),
        (["--stage-months", "arrival=0"],
         "durée de l'étape arrival\u00a0: un nombre de mois plus grand que 0, au plus 240"),
        (["--chart", "x.pdf"], "--chart\u00a0: 'x.pdf' doit se terminer par .svg ou .png"),
        (["--region", "atlantide"], None),
    ],
)  # fmt: skip
async def test_bad_input_is_one_line(run: Run, argv: list[str], line: str | None) -> None:
    code, out, err = await run(*argv)
    assert code == 1 and out == "" and err.count("\n") == 1, err
    assert err.startswith(ERROR)
    if line is not None:
        assert err == ERROR + line + "\n"


async def test_help(run: Run, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _ = await run("--help")
    assert code == 0
    out = capsys.readouterr().out
    assert "--stage-months" in out and "--target-caseload" in out and "graine" in out
