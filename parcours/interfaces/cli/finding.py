"""`parcours find TEXT`: cases by dossier number or name, from the read model.

The same query as the console's search (infrastructure/store/finder.py); `--by ID` limits it
to what that person may see in the console. The words come from the catalogue, in the
language of the terminal (`Settings.terminal_locale`), French unless it says English.
"""

from __future__ import annotations

import argparse
from typing import Any

from parcours.infrastructure.catalog import Catalog, catalog, language
from parcours.infrastructure.config import Settings
from parcours.interfaces.cli.common import Context, add_json_flag
from parcours.interfaces.cli.output import dump_json, table
from parcours.kernel import inputs

DEFAULT_LIMIT = 50
# Kept here, not imported from the finder: `parcours --help` must not import SQLAlchemy.
STATUSES = ("open", "active", "paused", "closed", "all")


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "find",
        help="find cases by dossier number or name",
        description="Cases whose dossier number or newcomer's name contains every word of "
        "TEXT (any case), open ones first, most urgent first; then closed ones.",
    )
    p.add_argument("text", metavar="TEXT", help="dossier number or name, or part of them")
    p.add_argument("--by", help="only the cases this officer, supervisor or director may see")
    p.add_argument("--status", choices=STATUSES, default="all", help="which cases (default: all)")
    p.add_argument(
        "--limit",
        type=int,
        default=DEFAULT_LIMIT,
        metavar="N",
        help=f"show at most N cases (default {DEFAULT_LIMIT})",
    )
    add_json_flag(p)
    p.set_defaults(handler=find)


def terminal_words(settings: Settings) -> Catalog:
    """The catalogue in the terminal's language."""
    return catalog(language(settings.terminal_locale))


async def find(args: argparse.Namespace, ctx: Context) -> int:
    from parcours.infrastructure.store.finder import CaseSearch, StatusFilter, find_cases

    text = " ".join(args.text.split())
    if not text:
        raise inputs.InvalidInput("TEXT must not be empty: a dossier number or a name")
    if args.limit < 1:
        raise inputs.InvalidInput(f"invalid --limit {args.limit}: expected 1 or more")
    viewer = await ctx.actor(args.by, "--by") if args.by else None
    search = CaseSearch(text=text, status=StatusFilter(args.status), per_page=args.limit)
    sessions = await ctx.sessions()
    async with sessions() as session:
        found = await find_cases(session, viewer, search)
    if args.json:
        dump_json([r.to_json() for r in found.rows], ctx.out)
        return 0
    t = terminal_words(ctx.settings)
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
    )
    if found.total > len(found.rows):
        ctx.note(t("find.more", shown=len(found.rows), total=found.total))
    return 0
