"""Supervisors' views: stalled cases (Temporal visibility) and caseloads (the read model)."""

from __future__ import annotations

import argparse
from typing import Any

from parcours.interfaces.cli.common import Context, add_json_flag
from parcours.interfaces.cli.output import dump_json, table
from parcours.kernel import inputs
from parcours.kernel.domain import STAGES
from parcours.kernel.filters import UNASSIGNED, StuckFilter

DEFAULT_LIMIT = 100


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "stuck",
        help="list stalled or overdue cases, most urgent first",
        description="Active cases at escalation level N or more, or past their stage "
        "deadline, from Temporal visibility; most urgent first (level, overdue, oldest stall).",
    )
    p.add_argument("--stage", help="only this stage")
    p.add_argument("--region", help="only this region")
    p.add_argument("--officer", help="only this officer's cases ('unassigned' for none)")
    p.add_argument(
        "--min-level", default="1", metavar="N", help="lowest escalation level, 0-3 (default 1)"
    )
    p.add_argument(
        "--limit",
        type=int,
        default=DEFAULT_LIMIT,
        metavar="N",
        help=f"show at most N cases (default {DEFAULT_LIMIT})",
    )
    add_json_flag(p)
    p.set_defaults(handler=stuck)

    p = sub.add_parser(
        "caseload",
        help="open cases per officer, by stage and escalation level",
        description="Open cases per officer, by stage and escalation level, from the read model "
        "(the last row counts the cases waiting for an officer).",
    )
    p.add_argument("--region", help="only this region")
    add_json_flag(p)
    p.set_defaults(handler=caseload)


async def stuck(args: argparse.Namespace, ctx: Context) -> int:
    from parcours.application.stuck import find_stuck, read_model_ranking, stuck_query

    stage = inputs.stage(args.stage).value if args.stage else None
    region = inputs.region(args.region) if args.region else None
    officer = inputs.officer_filter(args.officer) if args.officer else None
    level = inputs.min_level(args.min_level)
    if args.limit < 1:
        raise inputs.InvalidInput(f"invalid --limit {args.limit}: expected 1 or more")
    f = StuckFilter(min_level=level, stage=stage, region=region, officer=officer)
    page = await find_stuck(
        await ctx.client(), stuck_query(f), args.limit, read_model_ranking(await ctx.sessions(), f)
    )
    cases = page.cases
    if page.total > len(cases):
        ctx.note(f"stuck: {page.total} cases match; showing the {len(cases)} most urgent")
    if args.json:
        dump_json([c.to_json() for c in cases], ctx.out)
        return 0
    if not cases:
        ctx.print("no stuck cases")
        return 0
    table(
        ["DOSSIER", "STAGE", "OFFICER", "REGION", "LEVEL", "STALLED SINCE", "OVERDUE"],
        [
            [
                c.dossier,
                c.stage,
                c.officer or UNASSIGNED,
                c.region,
                c.escalation_level,
                c.stalled_since,
                c.overdue,
            ]
            for c in cases
        ],
        ctx.out,
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
    stage_names = [s.value for s in STAGES]
    table(
        ["OFFICER", "REGION", "ROLE", "OPEN", *[s.upper() for s in stage_names], "L1", "L2", "L3"],
        [
            [
                e.officer_id or UNASSIGNED,
                e.region,
                e.role,
                e.open_cases,
                *[e.by_stage.get(s, 0) for s in stage_names],
                *[e.by_level.get(level, 0) for level in (1, 2, 3)],
            ]
            for e in entries
        ],
        ctx.out,
    )
    return 0
