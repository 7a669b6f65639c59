"""Stalled and overdue cases, most urgent first: the query, the ranking and the page.

One implementation for `parcours stuck` and the console's supervision page. Candidates come
from Temporal visibility (the truth about a running case) and, for a first page out of
thousands, from the read model's ranking, confirmed against visibility in one query.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, WorkflowExecution
from temporalio.service import RPCError

from parcours.infrastructure.store.caseload import most_urgent
from parcours.infrastructure.temporal import WORKFLOW_TYPE
from parcours.kernel import search
from parcours.kernel.domain import DOSSIER_RE, CaseStatus, dossier_of
from parcours.kernel.errors import ParcoursError, first_line
from parcours.kernel.messages import Message
from parcours.kernel.search import StuckFilter


@dataclass
class StuckCase:
    dossier: str
    stage: str | None
    officer: str | None
    region: str | None
    escalation_level: int
    stalled_since: datetime | None
    overdue: bool
    # The first meeting is booked after the plan's due day (issue 16).
    meeting_late: bool = False

    def urgency(self) -> tuple[int, int, int, int, datetime, str]:
        # A case with no officer first (issue 17: nobody is working on it), then the highest
        # level, then overdue, then a late first meeting, then the longest silence; ties by
        # dossier, so a page is the same whichever visibility query listed it (cases started
        # within the same moment tie on their clocks).
        since = self.stalled_since or datetime.max.replace(tzinfo=UTC)
        return (
            0 if self.officer is None else 1,
            -self.escalation_level,
            0 if self.overdue else 1,
            0 if self.meeting_late else 1,
            since,
            self.dossier,
        )

    def to_json(self) -> dict[str, object]:
        return {
            "dossier": self.dossier,
            "stage": self.stage,
            "officer": self.officer,
            "region": self.region,
            "escalation_level": self.escalation_level,
            "stalled_since": self.stalled_since.isoformat() if self.stalled_since else None,
            "overdue": self.overdue,
            "meeting_late": self.meeting_late,
        }


def stuck_query(f: StuckFilter) -> str:
    """The visibility list filter of `parcours stuck`. Every value was validated against a
    closed vocabulary or an id pattern, so quoting cannot be broken out of."""
    clauses = [
        f"WorkflowType = '{WORKFLOW_TYPE}'",
        f"{search.STATUS.name} = '{CaseStatus.ACTIVE.value}'",
        f"({search.ESCALATION_LEVEL.name} >= {f.min_level} OR {search.OVERDUE.name} = true"
        f" OR {search.MEETING_LATE.name} = true OR {UNASSIGNED_CLAUSE})",
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


# An open case with no officer is stuck whatever its clocks say (issue 17).
UNASSIGNED_CLAUSE = f"{search.OFFICER.name} = '{search.UNASSIGNED}'"


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
        meeting_late=bool(attrs.get(search.MEETING_LATE)),
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
            # The unassigned cases head the page, whatever their level; then the levels the
            # page reaches into (a case listed twice is kept once, below).
            unassigned = (await client.count_workflows(f"{query} AND {UNASSIGNED_CLAUSE}")).count
            queries = [f"{query} AND {UNASSIGNED_CLAUSE}"] if unassigned else []
            wanted: list[int] = []
            covered = unassigned
            for level in levels:
                if covered >= limit:
                    break
                n = (await client.count_workflows(f"{query} AND {_level(level)}")).count
                if n:
                    wanted.append(level)
                    covered += n
            queries += [f"{query} AND {_level(level)}" for level in wanted]
        else:
            queries = [query]
        by_id = {wf.id: _stuck_case(wf) for q in queries async for wf in client.list_workflows(q)}
        found = list(by_id.values())
    except RPCError as err:
        reason = first_line(err.message)
        raise ParcoursError(
            f"visibility query refused: {reason}",
            refusal=Message.of("visibility_refused", reason=reason),
        ) from None
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
