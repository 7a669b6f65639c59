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
from typing import TYPE_CHECKING, Any

from parcours.application.intake import IntakeItem, check_item, delimiter_of, refuse_repeats
from parcours.infrastructure.catalog import Catalog, catalog
from parcours.interfaces.cli.common import Context, add_json_flag, add_policy_flag
from parcours.interfaces.cli.output import dump_json
from parcours.kernel import approval as approval_model
from parcours.kernel.domain import NewcomerApproval, PolicySnapshot
from parcours.kernel.errors import CaseAlreadyExists, ParcoursError
from parcours.kernel.inputs import ArrivalWindow

if TYPE_CHECKING:
    from parcours.application.start_many import Pacer

# Starts in flight at once: enough to import tens of thousands of rows in minutes without
# flooding a small dev server.
IMPORT_CONCURRENCY = 32
# Files with more rows than this get progress lines on stderr.
PROGRESS_THRESHOLD = 200
PROGRESS_EVERY = 500
# The csv module refuses a field over 128 KiB by raising mid-file; let any field through to
# the row checks, which reject an over-long one by itself with the field's name.
_CSV_FIELD_LIMIT = sys.maxsize >> 1


def register(sub: argparse._SubParsersAction[Any], t: Catalog) -> None:
    p = sub.add_parser(
        "start", help=t("cli.cmd.start.help"), description=t("cli.cmd.start.description")
    )
    p.add_argument("--dossier", required=True, help=t("cli.opt.start_dossier"))
    p.add_argument("--name", required=True, help=t("cli.opt.start_name"))
    p.add_argument("--email", required=True, help=t("cli.opt.start_email"))
    p.add_argument(
        "--arrival", required=True, metavar=t("cli.metavar.date"), help=t("cli.opt.arrival")
    )
    p.add_argument("--region", required=True, help=t("cli.opt.start_region"))
    p.add_argument("--language", default="fr", help=t("cli.opt.start_language"))
    p.add_argument("--airport", default="YUL", help=t("cli.opt.airport"))
    p.add_argument("--french-level", metavar="N", help=t("cli.opt.french_level"))
    p.add_argument("--occupation", help=t("cli.opt.occupation"))
    p.add_argument("--regulated", action="store_true", help=t("cli.opt.regulated"))
    p.add_argument("--household", default="1", metavar="N", help=t("cli.opt.household"))
    p.add_argument("--phone", help=t("cli.opt.phone"))
    p.add_argument("--time-zone", metavar="ZONE", help=t("cli.opt.time_zone"))
    add_json_flag(p)
    add_policy_flag(p)
    p.set_defaults(handler=start)

    p = sub.add_parser(
        "import",
        help=t("cli.cmd.import.help"),
        description=t(
            "cli.cmd.import.description",
            fields=",".join(approval_model.START_FIELDS),
            required=",".join(approval_model.REQUIRED_START_FIELDS),
        ),
    )
    p.add_argument("file", metavar=t("cli.metavar.file"), help=t("cli.opt.import_file"))
    add_json_flag(p, help=t("cli.opt.json_lines"))
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
            "time_zone": args.time_zone,
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
        ctx.print(ctx.t("cli.start.started", dossier=approval.dossier, workflow=workflow_id))
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

    def line(self, t: Catalog) -> str:
        who = self.dossier or "-"
        key = {"already exists": "exists"}.get(self.result, self.result)
        return t(f"cli.import.row.{key}", row=self.row, dossier=who, reason=self.reason)

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"row": self.row, "dossier": self.dossier, "result": self.result}
        if self.reason:
            out["reason"] = self.reason
        return out


def read_rows(path: Path, t: Catalog) -> Iterator[tuple[int, dict[str, object] | str]]:
    """Yield (row number, fields) or (row number, why the row cannot be read)."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        yield from _read_csv(path, t)
    elif suffix in (".jsonl", ".ndjson"):
        yield from _read_jsonl(path, t)
    else:
        raise ParcoursError(t("cli.import.file_type", path=path, suffix=suffix or "-"))


def _open(path: Path, t: Catalog) -> str:
    """The file's text. UTF-8 only, with or without the BOM spreadsheets write: a file in
    another encoding (Excel's "CSV" in Windows-1252) is refused whole, with the fix, rather
    than read with its accents garbled into names."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ParcoursError(t("cli.import.no_file", path=path)) from None
    except OSError as err:
        raise ParcoursError(t("cli.import.unreadable", path=path, why=err.strerror)) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise ParcoursError(t("cli.import.not_utf8", path=path, line=line)) from None


def _lines(text: str) -> list[str]:
    """The file's lines, split on LF (and CRLF) only: `str.splitlines` would also split inside
    a field on U+2028, U+0085, form feed and the like, breaking a row (or a JSON string, where
    U+2028 is legal) in two and misnumbering every later line."""
    return [line.removesuffix("\r") for line in text.split("\n")]


def _read_csv(path: Path, t: Catalog) -> Iterator[tuple[int, dict[str, object] | str]]:
    if csv.field_size_limit() < _CSV_FIELD_LIMIT:
        csv.field_size_limit(_CSV_FIELD_LIMIT)
    text = _open(path, t)
    delimiter = delimiter_of(text.split("\n", 1)[0])
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = [h.strip() for h in (reader.fieldnames or [])]
    if not header:
        raise ParcoursError(t("cli.import.empty", path=path))
    unknown = [h for h in header if h not in approval_model.START_FIELDS]
    missing = [f for f in approval_model.REQUIRED_START_FIELDS if f not in header]
    twice = [h for i, h in enumerate(header) if h in header[:i]]
    if twice:  # the csv module would silently keep the last of the two values
        raise ParcoursError(t("cli.import.column_twice", path=path, column=twice[0]))
    if unknown or missing:
        key = "cli.import.unknown_column" if unknown else "cli.import.missing_column"
        raise ParcoursError(
            t(
                key,
                path=path,
                column=(unknown or missing)[0],
                expected=delimiter.join(approval_model.START_FIELDS),
            )
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
            yield reader.line_num + 1, t("cli.import.unreadable_row", why=err)
            continue
        line = reader.line_num
        if not any((v or "").strip() for v in record.values() if isinstance(v, str)):
            continue  # blank line
        if None in record:
            yield (
                line,
                t(
                    "cli.import.too_many_values",
                    values=len(header) + len(record[None]),
                    columns=len(header),
                ),
            )
            continue
        yield line, {k: v for k, v in record.items() if v is not None and v.strip() != ""}


def _read_jsonl(path: Path, t: Catalog) -> Iterator[tuple[int, dict[str, object] | str]]:
    for number, text in enumerate(_lines(_open(path, t)), start=1):
        if not text.strip():
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError as err:
            yield number, t("cli.import.bad_json", why=err.msg)
            continue
        except ValueError:  # an integer of thousands of digits (Python's conversion limit)
            yield number, t("cli.import.json_number_too_long")
            continue
        except RecursionError:
            yield number, t("cli.import.json_too_deep")
            continue
        if not isinstance(value, dict):
            yield number, t("cli.import.json_not_object")
            continue
        yield number, {k: v for k, v in value.items() if v is not None}


def check_rows(path: Path, window: ArrivalWindow, t: Catalog | None = None) -> list[Row]:
    """Validate every row, without touching Temporal; duplicates in the file are rejected
    (which copy would win a concurrent start is not something to leave to chance). Messages
    in `t`'s language (French by default)."""
    t = t or catalog()
    lang = t.lang
    rows: list[Row] = []
    for number, fields in read_rows(path, t):
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
    rows = check_rows(Path(args.file), ctx.settings.arrival_window(date.today()), ctx.t)
    good = [r for r in rows if r.approval is not None]
    if good:
        policy = ctx.policy()
        client = await ctx.client()
        # `start_many` refuses the whole file, not row by row: no row starts in clear.
        await _start_all(ctx, client, policy, rows, good, json_lines=args.json)
    else:
        _flush(ctx, rows, 0, json_lines=args.json)
    ctx.note(summary(ctx.t, rows))
    return 1 if any(r.result == "rejected" for r in rows) else 0


def summary(t: Catalog, rows: list[Row]) -> str:
    """« import : 3 lignes lues : 2 dossiers ouverts, 0 dossier déjà ouvert, 1 ligne refusée »."""

    def count(result: str) -> int:
        return sum(1 for r in rows if r.result == result)

    return t(
        "cli.import.summary",
        rows=t.plural("cli.import.rows", len(rows)),
        started=t.plural("cli.import.started", count("started")),
        existed=t.plural("cli.import.existed", count("already exists")),
        rejected=t.plural("cli.import.rejected", count("rejected")),
    )


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
            ctx.note(ctx.t("cli.import.progress", done=done, total=len(good)))
        printed = _flush(ctx, rows, printed, json_lines=json_lines)

    await start_many(
        client,
        ctx.settings,
        policy,
        [r.item for r in good],
        concurrency=IMPORT_CONCURRENCY,
        settled=settled,
        pacer=await _pacer(ctx),
    )
    _flush(ctx, rows, printed, json_lines=json_lines)


async def _pacer(ctx: Context) -> Pacer | None:
    """The import's pacer; None (unpaced) when pacing is off or the read model cannot be
    opened. The operator hears once if the import goes on unpaced."""
    from parcours.application.start_many import pacer_for

    def unpaced() -> None:
        ctx.note(ctx.t("cli.import.unpaced"))

    if not ctx.settings.intake_pacing:
        return None
    try:
        sessions = await ctx.sessions()
    except ParcoursError:
        unpaced()
        return None
    return pacer_for(ctx.settings, sessions, IMPORT_CONCURRENCY, unpaced)


def _flush(ctx: Context, rows: list[Row], start: int, *, json_lines: bool) -> int:
    i = start
    while i < len(rows) and rows[i].result != "pending":
        if json_lines:
            dump_json(rows[i].to_json(), ctx.out, compact=True)
        else:
            ctx.print(rows[i].line(ctx.t))
        i += 1
    return i
