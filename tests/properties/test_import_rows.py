"""`parcours import` row checking under random junk: every row is answered (good rows
accepted as written, junk rows rejected with one short line naming the field), and a file
that is not text at all gets one clear error, never a crash."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path
from tempfile import TemporaryDirectory

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parcours.infrastructure.catalog import catalog
from parcours.interfaces.cli.intake import check_rows
from parcours.kernel import approval as approval_model
from parcours.kernel.errors import ParcoursError
from parcours.kernel.inputs import ArrivalWindow
from tests.properties.strategies import Approval, approvals, junk_approvals

# Values only JSON can carry: wrong types, and a lone surrogate (valid JSON, not UTF-8).
_JSON_ONLY_JUNK: list[tuple[str, object]] = [
    ("name", "\ud83d"),
    ("name", 42),
    ("email", ["a@example.org"]),
    ("household", {"n": 2}),
    ("arrival", None),  # null: the same as missing
]

# Wide: these properties are about every row being answered; the window has its own tests
# (tests/properties/test_inputs.py). English: the reasons are read for the field's name.
WINDOW = ArrivalWindow(date(2029, 1, 1), days_back=3650, days_ahead=3650)
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def write_csv(path: Path, rows: list[Approval]) -> None:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=approval_model.START_FIELDS, lineterminator="\r\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: v for k, v in r.fields.items() if k in approval_model.START_FIELDS})
    path.write_text(out.getvalue(), encoding="utf-8")


def write_jsonl(path: Path, rows: list[Approval]) -> None:
    # ensure_ascii: the lone surrogate travels as an escape, as a JSON producer may send it.
    path.write_text("".join(json.dumps(r.fields) + "\n" for r in rows), encoding="utf-8")


def assert_answered(path: Path, written: list[Approval], first_line: int) -> None:
    rows = check_rows(path, WINDOW, catalog("en"))
    assert len(rows) == len(written)
    for n, (row, a) in enumerate(zip(rows, written, strict=True)):
        assert row.row == first_line + n
        if a.good:
            assert row.approval is not None, (row.reason, a.fields)
            assert row.approval.dossier == a.dossier
            assert row.approval.full_name == " ".join(str(a.fields["name"]).split())
        else:
            assert row.approval is None and row.result == "rejected", a.fields
            assert row.reason and "\n" not in row.reason and len(row.reason) < 400, row.reason
            # The reason names the field, or says why the whole row could not be read.
            words = {a.breaks, a.breaks.replace("_", " "), "unreadable csv row"}
            assert any(w in row.reason.lower() for w in words), (a.breaks, row.reason)


@FAST
@given(st.lists(approvals, min_size=1, max_size=12))
def test_csv_rows_are_each_answered(written: list[Approval]) -> None:
    with TemporaryDirectory() as tmp:
        path = Path(tmp) / "approvals.csv"
        write_csv(path, written)
        assert_answered(path, written, first_line=2)  # the header is line 1


@FAST
@given(st.lists(st.one_of(approvals, junk_approvals(_JSON_ONLY_JUNK)), min_size=1, max_size=12))
def test_jsonl_rows_are_each_answered(written: list[Approval]) -> None:
    with TemporaryDirectory() as tmp:
        path = Path(tmp) / "approvals.jsonl"
        write_jsonl(path, written)
        assert_answered(path, written, first_line=1)


@FAST
@given(st.binary(max_size=400), st.sampled_from([".csv", ".jsonl"]))
def test_any_bytes_get_an_answer_or_one_clear_error(content: bytes, suffix: str) -> None:
    with TemporaryDirectory() as tmp:
        path = Path(tmp) / f"approvals{suffix}"
        path.write_bytes(content)
        try:
            rows = check_rows(path, WINDOW, catalog("en"))
        except ParcoursError as err:
            message = str(err)
            assert message.startswith(str(path)) and "\n" not in message
            return
        for row in rows:
            assert row.result in ("pending", "rejected")
            if row.result == "rejected":
                assert row.reason and "\n" not in row.reason and len(row.reason) < 400


def test_latin1_file_is_refused_whole(tmp_path: Path) -> None:
    path = tmp_path / "approvals.csv"
    header = "dossier,name,email,arrival,region\n"
    path.write_bytes(
        (header + "L-1,Zoë Tremblay,z@example.org,2030-01-01,laval\n").encode("latin-1")
    )
    try:
        check_rows(path, WINDOW)
    except ParcoursError as err:
        assert str(err).startswith(f"{path}\u00a0: le fichier n'est pas en UTF-8 (premier ")
        assert "enregistrez le fichier au format CSV UTF-8" in str(err)
    else:
        raise AssertionError("a latin-1 file was read as UTF-8")


def test_line_separators_inside_fields_keep_rows_whole(tmp_path: Path) -> None:
    # str.splitlines would split on U+2028/U+2029 inside a field and renumber every later row.
    name = "Ana\u2028Lima\u2029Souza"
    good: dict[str, object] = {
        "dossier": "LS-1", "name": name, "email": "a@example.org", "arrival": "2030-01-01",
        "region": "laval",
    }  # fmt: skip
    second = {**good, "dossier": "LS-2", "name": "B C"}
    for suffix, write in ((".csv", write_csv), (".jsonl", write_jsonl)):
        path = tmp_path / f"a{suffix}"
        write(path, [Approval(good, good=True), Approval(second, good=True)])
        rows = check_rows(path, WINDOW, catalog("en"))
        assert [(r.dossier, r.result) for r in rows] == [("LS-1", "pending"), ("LS-2", "pending")]
        assert rows[1].row == (3 if suffix == ".csv" else 2)


def test_jsonl_rows_json_cannot_hold(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text('{"dossier": ' + "9" * 5000 + "}\n" + "[" * 100_000 + "\n")
    reasons = [r.reason for r in check_rows(path, WINDOW, catalog("en"))]
    assert reasons == ["not valid JSON (a number too long)", "not valid JSON (nested too deeply)"]


def test_a_column_twice_in_the_header_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("dossier,name,email,arrival,region,name\n")
    try:
        check_rows(path, WINDOW, catalog("en"))
    except ParcoursError as err:
        assert "column 'name' appears twice" in str(err)
    else:
        raise AssertionError("a repeated column was accepted")
