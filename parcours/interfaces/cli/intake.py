"""`parcours start` and `parcours import`: opening cases on visa approval."""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from parcours.application.intake import IntakeItem, check_item, refuse_repeats
from parcours.interfaces.cli.common import Context, add_json_flag, add_policy_flag
from parcours.interfaces.cli.output import dump_json
from parcours.kernel import approval as approval_model
from parcours.kernel.domain import NewcomerApproval, PolicySnapshot
from parcours.kernel.errors import CaseAlreadyExists, ParcoursError
from parcours.kernel.inputs import ArrivalWindow

# Starts in flight at once: enough to import tens of thousands of rows in minutes without
# flooding a small dev server.
IMPORT_CONCURRENCY = 32
# Files with more rows than this get progress lines on stderr.
PROGRESS_THRESHOLD = 200
PROGRESS_EVERY = 500
# The csv module refuses a field over 128 KiB by raising mid-file; let any field through to
# the row checks, which reject an over-long one by itself with the field's name.
_CSV_FIELD_LIMIT = sys.maxsize >> 1


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "start",
        help="open a newcomer's case on visa approval",
        description="Open a newcomer's case (one durable workflow per dossier). "
        "Starting a dossier that already has a case reports it and changes nothing.",
    )
    p.add_argument("--dossier", required=True, help="dossier number (the case's only key)")
    p.add_argument("--name", required=True, help="the newcomer's full name")
    p.add_argument("--email", required=True, help="the newcomer's email address")
    p.add_argument("--arrival", required=True, metavar="YYYY-MM-DD", help="expected arrival date")
    p.add_argument("--region", required=True, help="destination region slug, e.g. montreal")
    p.add_argument("--language", default="fr", help="preferred language, ISO 639-1 (default fr)")
    p.add_argument("--airport", default="YUL", help="arrival airport, IATA code (default YUL)")
    p.add_argument("--french-level", metavar="N", help="French level on the Quebec scale, 1-12")
    p.add_argument("--occupation", help="occupation, free text")
    p.add_argument("--regulated", action="store_true", help="the occupation is regulated")
    p.add_argument("--household", default="1", metavar="N", help="household size (default 1)")
    p.add_argument("--phone", help="phone number (optional)")
    add_json_flag(p)
    add_policy_flag(p)
    p.set_defaults(handler=start)

    p = sub.add_parser(
        "import",
        help="open cases from a .csv or .jsonl file of visa approvals",
        description="Open one case per row. CSV header (or JSONL keys): "
        + ",".join(approval_model.START_FIELDS)
        + " (dossier,name,email,arrival,region required). Each row is checked on its own; "
        "good rows are started even when others are rejected. Rows are numbered as lines of "
        "the file (the CSV header is row 1). Exit 1 if any row was rejected.",
    )
    p.add_argument("file", metavar="FILE", help="a .csv or .jsonl file")
    add_json_flag(p, help="one JSON object per row, one per line (JSON Lines)")
    add_policy_flag(p)
    p.set_defaults(handler=import_file)


async def start(args: argparse.Namespace, ctx: Context) -> int:
    from parcours.infrastructure.temporal import start_case

    approval = approval_model.approval(
        {
            "dossier": args.dossier,
            "name": args.name,
            "email": args.email,
            "arrival": args.arrival,
            "region": args.region,
            "language": args.language,
            "airport": args.airport,
            "french_level": args.french_level,
            "occupation": args.occupation,
            "regulated": args.regulated,
            "household": args.household,
            "phone": args.phone,
        },
        ctx.settings.arrival_window(date.today()),
    )
    policy = ctx.policy()
    client = await ctx.client()
    try:
        workflow_id = await start_case(client, ctx.settings, approval, policy)
    except CaseAlreadyExists as err:
        if args.json:
            dump_json({"dossier": approval.dossier, "result": "already exists"}, ctx.out)
        raise err
    if args.json:
        dump_json(
            {"dossier": approval.dossier, "result": "started", "workflow_id": workflow_id},
            ctx.out,
        )
    else:
        ctx.print(f"{approval.dossier} started (workflow {workflow_id})")
    return 0


# ---------------------------------------------------------------------------------------------


@dataclass
class Row:
    """A row of the file: what `check_item` and `start_many` made of it, as the CLI says it."""

    item: IntakeItem
    dossier: str | None = None
    unreadable: str | None = None  # why the row could not be read at all
    lang: str = "fr"  # the language its refusal is worded in (PARCOURS_LANGUAGE)

    @property
    def row(self) -> int:
        return self.item.position

    @property
    def approval(self) -> NewcomerApproval | None:
        return self.item.approval

    @property
    def result(self) -> str:
        return {"exists": "already exists"}.get(self.item.result, self.item.result)

    @property
    def reason(self) -> str | None:
        if self.unreadable is not None:
            return self.unreadable
        errors = self.item.errors
        if not errors:
            return None
        from parcours.application.refusals import render

        return render(approval_model.first_error(errors), self.lang)

    def line(self) -> str:
        who = self.dossier or "-"
        if self.result == "rejected":
            return f"row {self.row}: {who} rejected: {self.reason}"
        return f"row {self.row}: {who} {self.result}"

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"row": self.row, "dossier": self.dossier, "result": self.result}
        if self.reason:
            out["reason"] = self.reason
        return out


def read_rows(path: Path) -> Iterator[tuple[int, dict[str, object] | str]]:
    """Yield (row number, fields) or (row number, why the row cannot be read)."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        yield from _read_csv(path)
    elif suffix in (".jsonl", ".ndjson"):
        yield from _read_jsonl(path)
    else:
        raise ParcoursError(
            f"{path}: unsupported file type {suffix or '(none)'!r}: use .csv or .jsonl"
        )


def _open(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")  # tolerate the BOM spreadsheets write
    except FileNotFoundError:
        raise ParcoursError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise ParcoursError(f"{path}: not UTF-8 text") from None
    except OSError as err:
        raise ParcoursError(f"{path}: cannot read ({err.strerror})") from None


def _lines(text: str) -> list[str]:
    """The file's lines, split on LF (and CRLF) only: `str.splitlines` would also split inside
    a field on U+2028, U+0085, form feed and the like, breaking a row (or a JSON string, where
    U+2028 is legal) in two and misnumbering every later line."""
    return [line.removesuffix("\r") for line in text.split("\n")]


def _read_csv(path: Path) -> Iterator[tuple[int, dict[str, object] | str]]:
    if csv.field_size_limit() < _CSV_FIELD_LIMIT:
        csv.field_size_limit(_CSV_FIELD_LIMIT)
    reader = csv.DictReader(io.StringIO(_open(path), newline=""))
    header = [h.strip() for h in (reader.fieldnames or [])]
    if not header:
        raise ParcoursError(f"{path}: empty file (expected a header line)")
    unknown = [h for h in header if h not in approval_model.START_FIELDS]
    missing = [f for f in approval_model.REQUIRED_START_FIELDS if f not in header]
    twice = [h for i, h in enumerate(header) if h in header[:i]]
    if twice:  # the csv module would silently keep the last of the two values
        raise ParcoursError(f"{path}: column {twice[0]!r} appears twice in the header")
    if unknown or missing:
        problem = f"unknown column {unknown[0]!r}" if unknown else f"missing column {missing[0]!r}"
        raise ParcoursError(
            f"{path}: {problem} in the header (expected: {','.join(approval_model.START_FIELDS)})"
        )
    reader.fieldnames = header
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            # What the csv module still refuses: this row is unreadable, the next ones may
            # be fine. (The reader counts the line it failed
            # on only once it reads the next one.)
            yield reader.line_num + 1, f"unreadable CSV row: {err}"
            continue
        line = reader.line_num
        if not any((v or "").strip() for v in record.values() if isinstance(v, str)):
            continue  # blank line
        if None in record:
            yield line, f"{len(header) + len(record[None])} values for {len(header)} columns"
            continue
        yield line, {k: v for k, v in record.items() if v is not None and v.strip() != ""}


def _read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, object] | str]]:
    for number, text in enumerate(_lines(_open(path)), start=1):
        if not text.strip():
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError as err:
            yield number, f"not valid JSON ({err.msg})"
            continue
        except ValueError:  # an integer of thousands of digits (Python's conversion limit)
            yield number, "not valid JSON (a number too long)"
            continue
        except RecursionError:
            yield number, "not valid JSON (nested too deeply)"
            continue
        if not isinstance(value, dict):
            yield number, "expected a JSON object"
            continue
        yield number, {k: v for k, v in value.items() if v is not None}


def check_rows(path: Path, window: ArrivalWindow, lang: str = "fr") -> list[Row]:
    """Validate every row, without touching Temporal; duplicates in the file are rejected
    (which copy would win a concurrent start is not something to leave to chance)."""
    rows: list[Row] = []
    for number, fields in read_rows(path):
        if isinstance(fields, str):
            rows.append(
                Row(IntakeItem(number, None, result="rejected"), unreadable=fields, lang=lang)
            )
            continue
        item = check_item(number, fields, window)
        raw = fields.get("dossier")
        # The normalised number when the row is good; else as typed, trimmed.
        dossier = (
            item.approval.dossier
            if item.approval is not None
            else raw.strip()
            if isinstance(raw, str) and raw.strip()
            else None
        )
        rows.append(Row(item, dossier=dossier, lang=lang))
    refuse_repeats([r.item for r in rows], "row")
    return rows


async def import_file(args: argparse.Namespace, ctx: Context) -> int:
    rows = check_rows(
        Path(args.file), ctx.settings.arrival_window(date.today()), ctx.settings.language
    )
    good = [r for r in rows if r.approval is not None]
    if good:
        policy = ctx.policy()
        client = await ctx.client()
        # `start_many` refuses the whole file, not row by row: no row starts in clear.
        await _start_all(ctx, client, policy, rows, good, json_lines=args.json)
    else:
        _flush(ctx, rows, 0, json_lines=args.json)
    counts = {k: sum(1 for r in rows if r.result == k) for k in ("started", "already exists")}
    rejected = sum(1 for r in rows if r.result == "rejected")
    ctx.note(
        f"import: {len(rows)} rows: {counts['started']} started, "
        f"{counts['already exists']} already existed, {rejected} rejected"
    )
    return 1 if rejected else 0


async def _start_all(
    ctx: Context,
    client: Any,
    policy: PolicySnapshot,
    rows: list[Row],
    good: list[Row],
    *,
    json_lines: bool,
) -> None:
    """Start the good rows, IMPORT_CONCURRENCY at a time; print results in file order as soon
    as every earlier row is settled."""
    from parcours.application.start_many import start_many

    done = 0
    printed = 0
    show_progress = len(good) > PROGRESS_THRESHOLD

    def settled(_: IntakeItem) -> None:
        nonlocal done, printed
        done += 1
        if show_progress and done % PROGRESS_EVERY == 0:
            ctx.note(f"import: {done}/{len(good)} rows sent")
        printed = _flush(ctx, rows, printed, json_lines=json_lines)

    await start_many(
        client,
        ctx.settings,
        policy,
        [r.item for r in good],
        concurrency=IMPORT_CONCURRENCY,
        settled=settled,
    )
    _flush(ctx, rows, printed, json_lines=json_lines)


def _flush(ctx: Context, rows: list[Row], start: int, *, json_lines: bool) -> int:
    i = start
    while i < len(rows) and rows[i].result != "pending":
        if json_lines:
            dump_json(rows[i].to_json(), ctx.out, compact=True)
        else:
            ctx.print(rows[i].line())
        i += 1
    return i
