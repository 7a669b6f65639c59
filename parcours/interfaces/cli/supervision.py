"""Supervisors' views: stalled cases (Temporal visibility) and caseloads (the read model)."""

from __future__ import annotations

import argparse
from typing import Any

from parcours.infrastructure.catalog import Catalog
from parcours.interfaces.cli.common import Context, add_json_flag
from parcours.interfaces.cli.output import dump_json, table
from parcours.kernel import inputs
from parcours.kernel.domain import STAGES
from parcours.kernel.filters import UNASSIGNED, StuckFilter

DEFAULT_LIMIT = 100


def register(sub: argparse._SubParsersAction[Any], t: Catalog) -> None:
    p = sub.add_parser(
        "stuck", help=t("cli.cmd.stuck.help"), description=t("cli.cmd.stuck.description")
    )
    p.add_argument("--stage", help=t("cli.opt.only_stage"))
    p.add_argument("--region", help=t("cli.opt.only_region"))
    p.add_argument("--officer", metavar="ID", help=t("cli.opt.only_officer"))
    p.add_argument("--min-level", default="1", metavar="N", help=t("cli.opt.min_level"))
    p.add_argument(
        "--limit",
        type=int,
        default=DEFAULT_LIMIT,
        metavar="N",
        help=t("cli.opt.limit", default=DEFAULT_LIMIT),
    )
    add_json_flag(p)
    p.set_defaults(handler=stuck)

    p = sub.add_parser(
        "caseload",
        help=t("cli.cmd.caseload.help"),
        description=t("cli.cmd.caseload.description"),
    )
    p.add_argument("--region", help=t("cli.opt.only_region"))
    add_json_flag(p)
    p.set_defaults(handler=caseload)


async def stuck(args: argparse.Namespace, ctx: Context) -> int:
    from parcours.application.stuck import find_stuck, read_model_ranking, stuck_query

    stage = inputs.stage(args.stage).value if args.stage else None
    region = inputs.region(args.region) if args.region else None
    officer = inputs.officer_filter(args.officer) if args.officer else None
    level = inputs.min_level(args.min_level)
    if args.limit < 1:
        raise inputs.InvalidInput(ctx.t("cli.error.limit", limit=args.limit))
    if officer is not None and officer != UNASSIGNED:
        # A misspelt id would otherwise answer "no stuck cases", which reads as good news.
        await ctx.actor(officer, "--officer")
    f = StuckFilter(min_level=level, stage=stage, region=region, officer=officer)
    page = await find_stuck(
        await ctx.client(), stuck_query(f), args.limit, read_model_ranking(await ctx.sessions(), f)
    )
    cases = page.cases
    t = ctx.t
    if page.total > len(cases):
        ctx.note(
            t("cli.stuck.more", matched=t.plural("cli.stuck.matched", page.total), shown=len(cases))
        )
    if args.json:
        dump_json([c.to_json() for c in cases], ctx.out)
        return 0
    if not cases:
        ctx.print(t("cli.stuck.none"))
        return 0
    table(
        [
            t("cli.col.dossier"),
            t("cli.col.stage"),
            t("cli.col.officer"),
            t("cli.col.region"),
            t("cli.col.level"),
            t("cli.col.stalled_since"),
            t("cli.col.overdue"),
            t("cli.col.meeting_late"),
        ],
        [
            [
                c.dossier,
                t(f"stage.{c.stage}") if t.has(f"stage.{c.stage}") else c.stage,
                c.officer or t("cli.unassigned"),
                c.region,
                c.escalation_level,
                c.stalled_since,
                c.overdue,
                c.meeting_late,
            ]
            for c in cases
        ],
        ctx.out,
        t,
    )
    return 0


async def caseload(args: argparse.Namespace, ctx: Context) -> int:
    from parcours.infrastructure.store.caseload import caseload as read_caseload

    region = inputs.region(args.region) if args.region else None
    sessions = await ctx.sessions()
    async with sessions() as session:
        entries = await read_caseload(session, region=region)
    if args.json:
        dump_json([e.to_json() for e in entries], ctx.out)
        return 0
    t = ctx.t
    stage_names = [s.value for s in STAGES]
    table(
        [
            t("cli.col.officer"),
            t("cli.col.region"),
            t("cli.col.role"),
            t("cli.col.open"),
            *[t(f"stage.{s}").upper() for s in stage_names],
            *[t("cli.col.level_n", n=level) for level in (1, 2, 3)],
        ],
        [
            [
                e.officer_id or t("cli.unassigned"),
                e.region,
                t(f"role.{e.role}") if t.has(f"role.{e.role}") else e.role,
                e.open_cases,
                *[e.by_stage.get(s, 0) for s in stage_names],
                *[e.by_level.get(level, 0) for level in (1, 2, 3)],
            ]
            for e in entries
        ],
        ctx.out,
        t,
    )
    return 0
