"""`parcours find TEXT`: cases by dossier number or name, from the read model.

The same query as the console's search (infrastructure/store/finder.py); `--by ID` limits it
to what that person may see in the console.
"""

from __future__ import annotations

import argparse
from typing import Any

from parcours.infrastructure.catalog import Catalog
from parcours.interfaces.cli.common import Context, add_json_flag
from parcours.interfaces.cli.output import dump_json, table
from parcours.kernel import inputs

DEFAULT_LIMIT = 50
# Kept here, not imported from the finder: `parcours --help` must not import SQLAlchemy.
STATUSES = ("open", "active", "paused", "closed", "all")


def register(sub: argparse._SubParsersAction[Any], t: Catalog) -> None:
    p = sub.add_parser(
        "find", help=t("cli.cmd.find.help"), description=t("cli.cmd.find.description")
    )
    p.add_argument("text", metavar=t("cli.metavar.text"), help=t("cli.opt.find_text"))
    p.add_argument("--by", metavar="ID", help=t("cli.opt.find_by"))
    p.add_argument("--status", choices=STATUSES, default="all", help=t("cli.opt.find_status"))
    p.add_argument(
        "--limit",
        type=int,
        default=DEFAULT_LIMIT,
        metavar="N",
        help=t("cli.opt.limit", default=DEFAULT_LIMIT),
    )
    add_json_flag(p)
    p.set_defaults(handler=find)


async def find(args: argparse.Namespace, ctx: Context) -> int:
    from parcours.infrastructure.store.finder import CaseSearch, StatusFilter, find_cases

    t = ctx.t
    text = " ".join(args.text.split())
    if not text:
        raise inputs.InvalidInput(t("cli.error.find_empty"))
    if args.limit < 1:
        raise inputs.InvalidInput(t("cli.error.limit", limit=args.limit))
    viewer = await ctx.actor(args.by, "--by") if args.by else None
    search = CaseSearch(text=text, status=StatusFilter(args.status), per_page=args.limit)
    sessions = await ctx.sessions()
    async with sessions() as session:
        found = await find_cases(session, viewer, search)
    if args.json:
        dump_json([r.to_json() for r in found.rows], ctx.out)
        return 0
    if not found.rows:
        ctx.print(t("find.none", text=text))
        return 0
    table(
        [
            t(key).upper()
            for key in (
                "col.dossier",
                "col.newcomer",
                "col.status",
                "col.stage",
                "col.officer",
                "col.region",
                "col.level",
            )
        ],
        [
            [
                r.dossier,
                r.full_name,
                t(f"status.{r.status}"),
                t(f"stage.{r.stage}") if r.stage else None,
                r.officer_id or t("reports.unassigned"),
                r.region,
                r.escalation_level,
            ]
            for r in found.rows
        ],
        ctx.out,
        t,
    )
    if found.total > len(found.rows):
        ctx.note(t("find.more", shown=len(found.rows), total=found.total))
    return 0
