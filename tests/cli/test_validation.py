"""The CLI refuses bad input with one clear line, before touching Temporal or the database."""

from __future__ import annotations

import io
from datetime import date, timedelta
from pathlib import Path

import pytest

from parcours.infrastructure.catalog import catalog
from parcours.infrastructure.config import Settings
from parcours.interfaces.cli.intake import check_rows
from parcours.interfaces.cli.main import amain
from parcours.kernel import approval as approval_model
from parcours.kernel import inputs
from parcours.kernel.domain import PlanItem, Stage
from parcours.kernel.errors import ParcoursError
from parcours.kernel.inputs import ArrivalWindow

# Nothing listens here: a command that got past validation would fail with "cannot reach".
# The fixed "today" these tests check arrival dates around (2030 is within two years of it).
WINDOW = ArrivalWindow(date(2029, 6, 1))
# In English (PARCOURS_LANGUAGE=en): tests/cli/test_french.py and
# test_refusals_are_french_by_default read the French.
UNREACHABLE = Settings(
    temporal_address="127.0.0.1:1", database_url="sqlite+aiosqlite://", language="en"
)
EN = catalog("en")
# An arrival the window accepts whatever day the tests run.
SOON = (date.today() + timedelta(days=30)).isoformat()

GOOD_START = [
    "start",
    "--dossier",
    "D-100",
    "--name",
    "Amina Diallo",
    "--email",
    "amina@example.org",
    "--arrival",
    SOON,
    "--region",
    "montreal",
]


async def run(*argv: str, settings: Settings = UNREACHABLE) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = await amain(list(argv), settings=settings, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def replace_flag(argv: list[str], flag: str, value: str) -> list[str]:
    i = argv.index(flag)
    return [*argv[: i + 1], value, *argv[i + 2 :]]


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--arrival", "15/01/2030", "Arrival date: invalid date '15/01/2030', expected YYYY-MM-DD"),
        ("--arrival", "2030-02-30", "Arrival date: invalid date '2030-02-30'"),
        ("--arrival", "1999-01-15", "arrival date too far back"),
        ("--arrival", "2099-01-15", "arrival date too far ahead"),
        ("--region", "ontario", "unknown region 'ontario'"),
        ("--email", "amina-at-example.org", "invalid email address"),
        ("--email", "a" * 300 + "@example.org", "email address too long"),
        ("--dossier", "D 100", "invalid dossier number 'D 100'"),
    ],
)
async def test_start_refuses_bad_values_in_one_line(flag: str, value: str, message: str) -> None:
    code, out, err = await run(*replace_flag(GOOD_START, flag, value))
    assert code == 1
    assert out == ""
    assert err.startswith(f"parcours: error: {message}")
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--language", "french"], "invalid language 'french'"),
        (["--airport", "MTL1"], "unknown airport 'MTL1'"),
        (["--airport", "xxx"], "unknown airport 'XXX'"),
        (["--french-level", "13"], "invalid French level '13'"),
        (["--household", "0"], "invalid household size '0'"),
    ],
)
async def test_start_refuses_bad_optional_values(extra: list[str], message: str) -> None:
    code, _, err = await run(*GOOD_START, *extra)
    assert code == 1
    assert message in err


async def test_refusals_are_french_by_default() -> None:
    french = Settings(temporal_address="127.0.0.1:1", database_url="sqlite+aiosqlite://")
    code, _, err = await run(*replace_flag(GOOD_START, "--arrival", "2099-01-01"), settings=french)
    assert code == 1
    assert err.startswith(
        "parcours\u00a0: erreur\u00a0: date d'arrivée trop lointaine\u00a0: au plus tard le "
    )


async def test_valid_start_gets_as_far_as_temporal() -> None:
    code, _, err = await run(*GOOD_START)
    assert code == 1
    assert err == "parcours: error: cannot reach Temporal at 127.0.0.1:1: connection refused\n"


async def test_usage_errors_exit_2_in_one_line() -> None:
    code, _, err = await run("start", "--dossier", "D-1")
    assert code == 2
    assert err.startswith("parcours: error: the following arguments are required: --name")
    assert err.count("\n") == 1

    code, _, err = await run("frobnicate")
    assert code == 2
    assert "invalid choice: 'frobnicate'" in err


async def test_help_exits_0() -> None:
    for argv in (["--help"], ["stuck", "--help"], ["officers", "add", "--help"]):
        code, _, _ = await run(*argv)
        assert code == 0


async def test_unknown_stage_is_refused() -> None:
    code, _, err = await run("complete-stage", "D-1", "--stage", "welcome", "--by", "x1")
    assert code == 1
    assert "unknown stage 'welcome' (expected: arrival, francization" in err


async def test_bad_plan_item_is_refused_before_any_lookup() -> None:
    code, _, err = await run("plan", "D-1", "--by", "x1", "--item", "find a job")
    assert code == 1
    assert err == "parcours: error: invalid --item 'find a job': expected \"STAGE: text\"\n"

    code, _, err = await run("plan", "D-1", "--by", "x1", "--item", "holidays: ski")
    assert code == 1
    assert "unknown stage 'holidays'" in err


async def test_unknown_officer_is_refused_before_temporal(tmp_path: Path) -> None:
    settings = Settings(
        temporal_address="127.0.0.1:1",
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'p.db'}",
    )
    code, _, err = await run("greet", "D-1", "--by", "nobody", settings=settings)
    assert code == 1
    # French, the default: the settings say no other language.
    assert err.startswith("parcours\u00a0: erreur\u00a0: agent·e inconnu·e\u00a0: nobody")


async def test_stuck_filters_are_checked() -> None:
    code, _, err = await run("stuck", "--region", "atlantis")
    assert code == 1 and "unknown region 'atlantis'" in err
    code, _, err = await run("stuck", "--min-level", "4")
    assert code == 1 and "invalid --min-level '4'" in err


def test_plan_item_parsing() -> None:
    assert inputs.plan_item(" Francization :  400 h at the CSS ") == PlanItem(
        Stage.FRANCIZATION, "400 h at the CSS"
    )
    with pytest.raises(inputs.InvalidInput, match="plan_item_no_text"):
        inputs.plan_item("employment:   ")


def test_approval_from_row_normalises_and_defaults() -> None:
    a = approval_model.approval(
        {
            "dossier": "D-1",
            "name": "  Amina   Diallo ",
            "email": "amina@example.org",
            "arrival": "2030-01-15",
            "region": "Montreal",
            "airport": "yqb",
            "french_level": 5,
            "regulated": "oui",
            "household": "3",
        },
        WINDOW,
    )
    assert (a.full_name, a.region, a.airport, a.language) == (
        "Amina Diallo",
        "montreal",
        "YQB",
        "fr",
    )
    assert (a.french_level, a.regulated_profession, a.household_size) == (5, True, 3)


def test_approval_refuses_unknown_and_missing_fields() -> None:
    with pytest.raises(inputs.InvalidInput, match="unknown_field"):
        approval_model.approval({"dossier": "D-1", "mail": "x@y.z"}, WINDOW)
    with pytest.raises(inputs.InvalidInput, match=r"missing_field\{field=input.email\}"):
        approval_model.approval(
            {"dossier": "D-1", "name": "A", "arrival": "2030-01-01", "region": "laval"}, WINDOW
        )


def test_import_rows_are_checked_one_by_one(tmp_path: Path) -> None:
    path = tmp_path / "approvals.csv"
    path.write_text(
        "dossier,name,email,arrival,region,language,french_level\n"
        "D-1,Amina Diallo,amina@example.org,2030-01-15,montreal,fr,\n"
        "D-2,Li Wei,li.wei@example,2030-01-16,montreal,zh,\n"
        "D-3,Carlos Ruiz,carlos@example.org,2030-13-01,laval,es,\n"
        "\n"
        "D-1,Amina Again,amina2@example.org,2030-01-15,montreal,fr,\n"
        "D-5,Ana Lima,ana@example.org,2030-02-01,nowhere,pt,4\n"
        "D-6,Too,many@example.org,2030-02-01,laval,fr,4,extra\n"
    )
    rows = check_rows(path, WINDOW, EN)
    assert [(r.row, r.dossier, r.result) for r in rows] == [
        (2, "D-1", "pending"),
        (3, "D-2", "rejected"),
        (4, "D-3", "rejected"),
        (6, "D-1", "rejected"),
        (7, "D-5", "rejected"),
        (8, None, "rejected"),
    ]
    reasons = [r.reason for r in rows]
    assert "invalid email address" in (reasons[1] or "")
    assert "invalid date '2030-13-01'" in (reasons[2] or "")
    assert reasons[3] == "this dossier number repeats row 2 of the file"
    assert "unknown region 'nowhere'" in (reasons[4] or "")
    assert reasons[5] == "8 values for 7 columns"


def test_import_refuses_a_bad_header(tmp_path: Path) -> None:
    path = tmp_path / "approvals.csv"
    path.write_text("dossier,nom,email,arrival,region\n")
    with pytest.raises(ParcoursError, match="unknown column 'nom'"):
        check_rows(path, WINDOW, EN)


def test_import_jsonl_rows(tmp_path: Path) -> None:
    path = tmp_path / "approvals.jsonl"
    path.write_text(
        '{"dossier": "J-1", "name": "A B", "email": "a@b.org", "arrival": "2030-01-01",'
        ' "region": "estrie", "household": 2, "regulated": true}\n'
        "not json\n"
        '["a list"]\n'
        '{"dossier": "J-4", "name": "C D", "email": "c@d.org", "arrival": "2030-01-01",'
        ' "region": "estrie", "french_level": 20}\n'
    )
    rows = check_rows(path, WINDOW, EN)
    assert [(r.row, r.result) for r in rows] == [
        (1, "pending"),
        (2, "rejected"),
        (3, "rejected"),
        (4, "rejected"),
    ]
    assert rows[0].approval is not None and rows[0].approval.household_size == 2
    assert rows[1].reason is not None and rows[1].reason.startswith("not valid JSON")
    assert "invalid French level '20'" in (rows[3].reason or "")


async def test_import_with_only_bad_rows_exits_1_without_temporal(tmp_path: Path) -> None:
    path = tmp_path / "approvals.jsonl"
    path.write_text("{}\n")
    code, out, err = await run("import", str(path))
    assert code == 1
    assert out == "row 1: - rejected: Dossier number: required field missing\n"
    assert "import: 1 row read: 0 cases started, 0 cases already open, 1 row rejected" in err


def test_update_and_query_names_match_the_workflow() -> None:
    from temporalio.workflow import _Definition

    from parcours.infrastructure.temporal import (
        QUERY_CASE_FILE,
        QUERY_VIEW,
        UPDATES,
        WORKFLOW_TYPE,
    )
    from workflows.pathway import NewcomerPathway

    defn = _Definition.must_from_class(NewcomerPathway)
    assert defn.name == WORKFLOW_TYPE
    assert set(UPDATES) <= set(defn.updates)
    assert {QUERY_VIEW, QUERY_CASE_FILE} <= set(defn.queries)


async def test_officer_ids_are_matched_whatever_their_case(tmp_path: Path) -> None:
    settings = Settings(
        temporal_address="127.0.0.1:1",
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'p.db'}",
        language="en",
    )
    code, _, err = await run(
        "officers", "add", "--id", "atremblay", "--name", "Amélie Tremblay",
        "--email", "atremblay@parcours.example", "--region", "montreal",
        settings=settings,
    )  # fmt: skip
    assert code == 0, err
    # Found in the roster: the command gets as far as Temporal.
    code, _, err = await run("greet", "d-1", "--by", " ATREMBLAY ", settings=settings)
    assert code == 1
    assert err.startswith("parcours: error: cannot reach Temporal"), err


def test_import_rows_normalise_dossiers_and_strip_control_characters(tmp_path: Path) -> None:
    path = tmp_path / "approvals.csv"
    path.write_text(
        "dossier,name,email,arrival,region,occupation\n"
        " d-2026-0002 ,Amina\x1b[1m Diallo,amina@example.org,2030-01-15,montreal,soudeuse\x07\n"
        "D-2026-0002,Amina Diallo,amina@example.org,2030-01-15,montreal,\n"
    )
    rows = check_rows(path, WINDOW, EN)
    assert [(r.dossier, r.result) for r in rows] == [
        ("D-2026-0002", "pending"),
        ("D-2026-0002", "rejected"),
    ]
    first = rows[0].approval
    assert first is not None
    assert (first.full_name, first.occupation) == ("Amina Diallo", "soudeuse")
    assert rows[1].reason == "this dossier number repeats row 2 of the file"
