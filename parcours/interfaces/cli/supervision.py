"""Supervisors' views: stalled cases (Temporal visibility) and caseloads (the read model)."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, WorkflowExecution
from temporalio.service import RPCError

from parcours.infrastructure.store.caseload import caseload as read_caseload
from parcours.infrastructure.store.caseload import most_urgent
from parcours.infrastructure.temporal import WORKFLOW_TYPE
from parcours.interfaces.cli import validate
from parcours.interfaces.cli.common import Context, add_json_flag
from parcours.interfaces.cli.output import dump_json, table
from parcours.kernel import search
from parcours.kernel.domain import DOSSIER_RE, STAGES, CaseStatus, dossier_of
from parcours.kernel.errors import ParcoursError
from parcours.kernel.search import StuckFilter

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


@dataclass
class StuckCase:
    dossier: str
    stage: str | None
    officer: str | None
    region: str | None
    escalation_level: int
    stalled_since: datetime | None
    overdue: bool

    def urgency(self) -> tuple[int, int, datetime, str]:
        # Highest level first, then overdue, then the longest silence; ties by dossier, so a
        # page is the same whichever visibility query listed it (cases started within the same
        # moment tie on their clocks).
        since = self.stalled_since or datetime.max.replace(tzinfo=UTC)
        return (-self.escalation_level, 0 if self.overdue else 1, since, self.dossier)

    def to_json(self) -> dict[str, object]:
        return {
            "dossier": self.dossier,
            "stage": self.stage,
            "officer": self.officer,
            "region": self.region,
            "escalation_level": self.escalation_level,
            "stalled_since": self.stalled_since.isoformat() if self.stalled_since else None,
            "overdue": self.overdue,
        }


def stuck_query(f: StuckFilter) -> str:
    """The visibility list filter of `parcours stuck`. Every value was validated against a
    closed vocabulary or an id pattern, so quoting cannot be broken out of."""
    clauses = [
        f"WorkflowType = '{WORKFLOW_TYPE}'",
        f"{search.STATUS.name} = '{CaseStatus.ACTIVE.value}'",
        f"({search.ESCALATION_LEVEL.name} >= {f.min_level} OR {search.OVERDUE.name} = true)",
    ]
    if f.stage:
        clauses.append(f"{search.STAGE.name} = '{f.stage}'")
    if f.region:
        clauses.append(f"{search.REGION.name} = '{f.region}'")
    if f.officer:
        clauses.append(f"{search.OFFICER.name} = '{f.officer}'")
    if f.overdue_only:
        clauses.append(f"{search.OVERDUE.name} = true")
    return " AND ".join(clauses)


@dataclass
class StuckPage:
    total: int  # every match, of which `cases` is the most urgent first page
    cases: list[StuckCase]


def _stuck_case(wf: WorkflowExecution) -> StuckCase:
    attrs = wf.typed_search_attributes
    officer = attrs.get(search.OFFICER)
    stage = attrs.get(search.STAGE)
    return StuckCase(
        dossier=dossier_of(wf.id),
        stage=stage if stage and stage != search.CLOSED else None,
        officer=None if officer in (None, search.UNASSIGNED) else officer,
        region=attrs.get(search.REGION),
        escalation_level=attrs.get(search.ESCALATION_LEVEL) or 0,
        stalled_since=attrs.get(search.STALLED_SINCE),
        overdue=bool(attrs.get(search.OVERDUE)),
    )


# Ranks the read model's candidates for a page: (how many) -> workflow ids, most urgent first.
Ranking = Callable[[int], Awaitable[list[str]]]
# Candidates asked beyond the page, for rows of the read model that lag behind the workflow.
RANK_MARGIN = 20


async def find_stuck(
    client: Client, query: str, limit: int | None = None, ranked: Ranking | None = None
) -> StuckPage:
    """The count of stuck cases and the most urgent `limit` of them (all when None).

    With `ranked` (the read model's order, `most_urgent`), the page's candidates come from
    it and are confirmed against visibility in one query: the page shows Temporal's values,
    and a candidate that is no longer stuck drops out. If fewer than a page is confirmed (the
    read model lags), the page is built from visibility alone, as below.

    SQL visibility cannot ORDER BY a search attribute, so the order is ours: the levels are
    counted (cheap), and only the levels the first page reaches into are listed, highest
    first, then sorted. With thousands stalled at level 1, a page of level-3 and level-2 cases
    lists no level-1 case at all.
    """
    try:
        total = (await client.count_workflows(query)).count
        if limit is not None and total > limit and ranked is not None:
            # Quoted into the query below: only ids of a valid dossier go in.
            ids = [i for i in await ranked(limit + RANK_MARGIN) if DOSSIER_RE.match(dossier_of(i))]
            if ids:
                listed = ", ".join(f"'{i}'" for i in ids)
                found = [
                    _stuck_case(wf)
                    async for wf in client.list_workflows(f"{query} AND WorkflowId IN ({listed})")
                ]
                if len(found) >= limit:
                    found.sort(key=StuckCase.urgency)
                    return StuckPage(total=total, cases=found[:limit])
        levels: list[int] = [3, 2, 1, 0]
        if limit is not None and total > limit:
            wanted: list[int] = []
            covered = 0
            for level in levels:
                n = (await client.count_workflows(f"{query} AND {_level(level)}")).count
                if n:
                    wanted.append(level)
                    covered += n
                if covered >= limit:
                    break
            queries = [f"{query} AND {_level(level)}" for level in wanted]
        else:
            queries = [query]
        found = [_stuck_case(wf) for q in queries async for wf in client.list_workflows(q)]
    except RPCError as err:
        raise ParcoursError(f"visibility query refused: {err.message.splitlines()[0]}") from None
    found.sort(key=StuckCase.urgency)
    return StuckPage(total=total, cases=found if limit is None else found[:limit])


def read_model_ranking(sessions: async_sessionmaker[AsyncSession], f: StuckFilter) -> Ranking:
    """`find_stuck`'s candidates from the read model, for the same filter."""

    async def ranked(n: int) -> list[str]:
        async with sessions() as session:
            return await most_urgent(session, n, f)

    return ranked


def _level(level: int) -> str:
    return f"{search.ESCALATION_LEVEL.name} = {level}"


async def stuck(args: argparse.Namespace, ctx: Context) -> int:
    stage = validate.stage(args.stage).value if args.stage else None
    region = validate.region(args.region) if args.region else None
    officer = validate.officer_filter(args.officer) if args.officer else None
    level = validate.min_level(args.min_level)
    if args.limit < 1:
        raise validate.InvalidInput(f"invalid --limit {args.limit}: expected 1 or more")
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
                c.officer or search.UNASSIGNED,
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
    region = validate.region(args.region) if args.region else None
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
                e.officer_id or search.UNASSIGNED,
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
