"""The CLI's words without a Temporal server: help and errors in French by default, in
English with PARCOURS_LANGUAGE=en or `--lang en`; deprecated flags; officers the roster does
not know; the import's delimiter and encoding."""

from __future__ import annotations

import dataclasses
import io
import json
from datetime import date
from pathlib import Path

import pytest

from parcours.application.intake import IntakeItem, delimiter_of
from parcours.infrastructure.catalog import catalog
from parcours.infrastructure.config import ConfigError, Settings, language
from parcours.interfaces.cli.common import chosen_language
from parcours.interfaces.cli.intake import Row, check_rows, summary
from parcours.interfaces.cli.main import amain, build_parser
from parcours.kernel.errors import ParcoursError
from parcours.kernel.inputs import ArrivalWindow

NBSP = "\u00a0"
HEADER = "dossier,name,email,arrival,region"
ROW = "D-1,Élodie Côté,elodie@example.org,2030-01-15,montreal"
# Arrival dates in these files are checked around a fixed "today".
WINDOW = ArrivalWindow(date(2029, 6, 1), days_back=3650, days_ahead=3650)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """A read model of its own and no Temporal (nothing listens on port 1)."""
    return Settings(
        temporal_address="127.0.0.1:1",
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'p.db'}",
    )


async def run(settings: Settings, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = await amain(list(argv), settings=settings, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def french(text: str) -> str:
    """French typography's no-break spaces as plain spaces, to compare with a literal."""
    return text.replace(NBSP, " ")


# ---- choosing the language ----


def test_the_language_knob_is_french_unless_it_says_english() -> None:
    assert language({}) == "fr"
    assert language({"PARCOURS_LANGUAGE": "en"}) == "en"
    assert language({"PARCOURS_LANGUAGE": " EN "}) == "en"
    with pytest.raises(ConfigError, match="PARCOURS_LANGUAGE"):
        language({"PARCOURS_LANGUAGE": "de"})
    assert Settings.from_env({"PARCOURS_LANGUAGE": "en"}).language == "en"


def test_lang_flag_wins_over_the_knob() -> None:
    assert chosen_language(["status", "D-1"], {}) == "fr"
    assert chosen_language(["status", "D-1"], {"PARCOURS_LANGUAGE": "en"}) == "en"
    assert chosen_language(["--lang", "fr", "status"], {"PARCOURS_LANGUAGE": "en"}) == "fr"
    assert chosen_language(["--lang=en", "status"], {}) == "en"
    # After the command too, where the command's parser accepts it.
    assert chosen_language(["status", "D-1", "--lang", "en"], {}) == "en"
    build_parser("en").parse_args(["status", "D-1", "--lang", "en"])
    # A bad value is refused by the settings (or the parser), not guessed at here.
    assert chosen_language(["status"], {"PARCOURS_LANGUAGE": "de"}) == "fr"


def test_help_is_french_by_default_and_english_on_demand() -> None:
    fr = french(build_parser("fr").format_help())
    assert fr.startswith("utilisation : parcours")
    assert "afficher cette aide" in fr and "show this help" not in fr
    assert "consigner l'accueil à l'aéroport" in fr
    en = build_parser("en").format_help()
    assert en.startswith("usage: parcours")
    assert "record the airport greeting" in en and "accueil" not in en


def _sub_help(lang: str, *path: str) -> str:
    import argparse

    parser = build_parser(lang)
    for name in path:
        [commands] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        parser = commands.choices[name]
    return " ".join(french(parser.format_help()).split())


def test_acting_flags_are_by_and_to_and_the_old_ones_are_hidden() -> None:
    for command in ("greet", "plan", "progress", "complete-stage", "waive", "pause", "withdraw"):
        text = _sub_help("fr", command)
        assert "--by ID" in text, command
        assert "--officer" not in text, command
    reassign = _sub_help("fr", "reassign")
    assert "--to ID" in reassign and "--officer" not in reassign
    plan = _sub_help("fr", "plan")
    assert "--add" in plan and "--replace" in plan


async def test_usage_errors_speak_the_language(settings: Settings) -> None:
    code, _, err = await run(settings, "greet", "D-1")
    assert code == 2
    assert french(err) == (
        "parcours : erreur : il manque : --by (voir « parcours greet --help »)\n"
    )
    code, _, err = await run(settings, "--lang", "en", "greet", "D-1")
    assert code == 2
    assert err == (
        "parcours: error: the following arguments are required: --by "
        "(see 'parcours greet --help')\n"
    )
    english = dataclasses.replace(settings, language="en")
    code, _, err = await run(english, "greet", "D-1")
    assert err.startswith("parcours: error: the following arguments are required: --by")


# ---- deprecated flags ----


def _parse(*argv: str) -> object:
    return build_parser("fr").parse_args(list(argv))


def test_officer_still_means_by_with_one_deprecation_line() -> None:
    args = _parse("greet", "D-1", "--officer", "atremblay")
    assert args.by == "atremblay"  # type: ignore[attr-defined]
    [line] = args.deprecations  # type: ignore[attr-defined]
    assert french(line) == (
        "l'option --officer de « parcours greet » s'appelle désormais --by ; "
        "--officer disparaîtra à la prochaine version"
    )
    args = _parse("complete-stage", "D-1", "--stage", "arrival", "--officer=atremblay")
    assert args.by == "atremblay"  # type: ignore[attr-defined]


def test_officer_in_reassign_still_means_to() -> None:
    args = _parse("reassign", "D-1", "--officer", "crodriguez", "--by", "nbouchard")
    assert (args.to, args.by) == ("crodriguez", "nbouchard")  # type: ignore[attr-defined]
    [line] = args.deprecations  # type: ignore[attr-defined]
    assert "--to" in line


async def test_the_old_and_the_new_flag_together_are_refused(settings: Settings) -> None:
    code, _, err = await run(settings, "greet", "D-1", "--officer", "a", "--by", "b")
    assert code == 2
    assert french(err).startswith(
        "parcours : erreur : --officer et --by ensemble : --officer est l'ancien nom de --by"
    )


def test_new_flags_print_no_deprecation() -> None:
    args = _parse("greet", "D-1", "--by", "atremblay")
    assert not getattr(args, "deprecations", [])


async def test_the_deprecation_line_goes_to_stderr_before_the_command_runs(
    settings: Settings,
) -> None:
    code, out, err = await run(settings, "progress", "D-1", "--officer", "nobody", "--note", "x")
    assert code == 1 and out == ""
    first, second = french(err).splitlines()
    assert first.startswith("parcours : l'option --officer de « parcours progress »")
    assert second.startswith("parcours : erreur : agent·e inconnu·e : nobody")


# ---- officers the roster does not know ----


async def test_stuck_names_an_unknown_officer_instead_of_finding_nothing(
    settings: Settings,
) -> None:
    code, out, err = await run(settings, "stuck", "--officer", "ghost")
    assert code == 1 and out == ""
    assert french(err) == (
        "parcours : erreur : agent·e inconnu·e : ghost (voir « parcours officers list »)\n"
    )
    code, _, err = await run(settings, "--lang", "en", "stuck", "--officer", "ghost")
    assert err == "parcours: error: unknown officer: ghost (see 'parcours officers list')\n"


@pytest.mark.parametrize(
    "argv",
    [
        ("reassign", "D-1", "--to", "ghost", "--by", "ghost2"),
        ("transfer", "D-1", "--region", "estrie", "--by", "ghost"),
        ("pause", "D-1", "--by", "ghost", "--reason", "r"),
        ("withdraw", "D-1", "--by", "ghost", "--reason-category", "other", "--note", "n"),
    ],
    ids=lambda argv: argv[0],
)
async def test_every_by_and_to_names_an_unknown_officer(
    settings: Settings, argv: tuple[str, ...]
) -> None:
    code, _, err = await run(settings, *argv)
    assert code == 1
    assert "agent·e inconnu·e" in err and "ghost" in err


# ---- import: delimiter, encoding, plurals ----


@pytest.mark.parametrize(
    ("header", "delimiter"),
    [
        (HEADER, ","),
        (HEADER.replace(",", ";"), ";"),
        ("dossier", ","),  # a single column: nothing to tell, the comma
        ("dossier;name,email;arrival;region", ";"),  # the majority
    ],
)
def test_delimiter_is_sniffed_from_the_header(header: str, delimiter: str) -> None:
    assert delimiter_of(header) == delimiter


def test_a_semicolon_csv_as_excel_writes_it_in_french(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text(f"{HEADER}\n{ROW}\n".replace(",", ";"), encoding="utf-8")
    [row] = check_rows(path, WINDOW)
    assert row.approval is not None
    assert (row.approval.dossier, row.approval.full_name) == ("D-1", "Élodie Côté")


def test_a_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes(f"{HEADER}\n{ROW}\n".replace(",", ";").encode("utf-8-sig"))
    [row] = check_rows(path, WINDOW)
    assert row.approval is not None and row.approval.dossier == "D-1"


def test_a_semicolon_header_with_a_wrong_column_names_the_column(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("dossier;nom;email;arrival;region\n")
    with pytest.raises(ParcoursError) as refused:
        check_rows(path, WINDOW)
    assert french(str(refused.value)).startswith(f"{path} : colonne « nom » inconnue")
    # The expected columns are listed with the file's own delimiter.
    assert "dossier;name;email;arrival;region" in str(refused.value)


async def test_a_cp1252_file_is_refused_whole_with_the_fix(
    settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes(f"{HEADER}\n{ROW}\n".replace(",", ";").encode("cp1252"))
    code, out, err = await run(settings, "import", str(path))
    assert code == 1 and out == ""  # nothing started, no row printed
    [line] = french(err).splitlines()
    assert line == (
        f"parcours : erreur : {path} : le fichier n'est pas en UTF-8 (premier caractère "
        "illisible à la ligne 2) ; enregistrez le fichier au format CSV UTF-8 (dans Excel : "
        "Enregistrer sous, « CSV UTF-8 (délimité par des virgules) ») ; rien n'a été importé"
    )
    code, _, err = await run(settings, "--lang", "en", "import", str(path))
    assert "save the file as CSV UTF-8" in err


async def test_rows_and_the_summary_are_french_by_default(
    settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "a.csv"
    path.write_text(f"{HEADER}\nD-9,X,not-an-email,2030-01-15,montreal\n")
    code, out, err = await run(settings, "import", str(path))  # no good row: no Temporal
    assert code == 1
    assert french(out).startswith("ligne 2 : D-9 refusée : ")
    assert french(err) == (
        "parcours : import : 1 ligne lue : 0 dossier ouvert, 0 dossier déjà ouvert, "
        "1 ligne refusée\n"
    )


def _rows(**results: int) -> list[Row]:
    rows: list[Row] = []
    for result, count in results.items():
        for _ in range(count):
            item = IntakeItem(len(rows) + 2, None, result=result)  # type: ignore[arg-type]
            rows.append(Row(item, dossier=f"D-{len(rows)}"))
    return rows


@pytest.mark.parametrize(
    ("lang", "rows", "said"),
    [
        ("fr", _rows(started=1), "1 ligne lue : 1 dossier ouvert, 0 dossier déjà ouvert, "
         "0 ligne refusée"),
        ("fr", _rows(started=2, exists=1, rejected=2), "5 lignes lues : 2 dossiers ouverts, "
         "1 dossier déjà ouvert, 2 lignes refusées"),
        ("en", _rows(started=1), "1 row read: 1 case started, 0 cases already open, "
         "0 rows rejected"),
        ("en", _rows(started=2, exists=2, rejected=1), "5 rows read: 2 cases started, "
         "2 cases already open, 1 row rejected"),
    ],
)  # fmt: skip
def test_the_import_summary_uses_the_catalogues_plurals(
    lang: str, rows: list[Row], said: str
) -> None:
    text = french(summary(catalog(lang), rows))
    assert text == f"import{' :' if lang == 'fr' else ':'} {said}"
    assert "1 rows" not in text and "1 lignes" not in text


async def test_json_keeps_the_machines_english_in_a_french_cli(
    settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "a.csv"
    path.write_text(f"{HEADER}\nD-9,X,not-an-email,2030-01-15,montreal\n".replace(",", ";"))
    code, out, _ = await run(settings, "import", str(path), "--json")
    assert code == 1
    [line] = [json.loads(text) for text in out.splitlines()]
    assert (line["row"], line["dossier"], line["result"]) == (2, "D-9", "rejected")
    assert set(line) == {"row", "dossier", "result", "reason"}


async def test_an_unreachable_temporal_is_said_in_french_with_what_to_check(
    settings: Settings,
) -> None:
    code, _, err = await run(settings, "status", "D-1")
    assert code == 1
    assert french(err) == (
        "parcours : erreur : Temporal est injoignable à 127.0.0.1:1 (connection refused) : "
        "vérifiez PARCOURS_TEMPORAL_ADDRESS, et que le serveur est en marche\n"
    )
