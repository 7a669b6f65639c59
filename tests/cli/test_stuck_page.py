"""`parcours stuck` at scale answers with the count and the most urgent page, listing only
the escalation levels that page reaches into (SQL visibility cannot sort for us)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, timedelta

from parcours.application.stuck import find_stuck, read_model_ranking, stuck_query
from parcours.infrastructure.temporal import start_case
from parcours.kernel.domain import NewcomerApproval, PolicySnapshot, StagePolicy
from parcours.kernel.policy import load_policy
from parcours.kernel.search import StuckFilter
from tests.cli.conftest import Cli, eventually
from tests.conftest import Stack

REGION = "nord-du-quebec"  # no other CLI test opens cases there
HOUR = 3600


def reaching(level: int) -> PolicySnapshot:
    """A policy under which a case that arrived yesterday is at `level` at once, and stays."""
    seconds = [1, 2, 3][:level] + [HOUR * 24 * 300] * (3 - level)
    arrival = StagePolicy(deadline=HOUR * 24 * 400, remind_after=seconds[0],
                          escalate_after=seconds[1], escalate_again_after=seconds[2])  # fmt: skip
    return replace(load_policy(None), arrival=arrival)


async def test_stuck_page_is_the_most_urgent_with_the_total(stack: Stack) -> None:
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    levels = {f"SP-{level}-{i}-{id(stack) % 10000}": level for level in (1, 2, 3) for i in (0, 1)}
    for dossier, level in levels.items():
        approval = NewcomerApproval(dossier=dossier, full_name="A B", email="a@example.org",
                                    arrival_date=yesterday, region=REGION)  # fmt: skip
        await start_case(stack.client, stack.settings, approval, reaching(level))
    query = stuck_query(StuckFilter(min_level=1, region=REGION))

    async def escalated() -> bool:
        page = await find_stuck(stack.client, query)
        mine = {c.dossier: c.escalation_level for c in page.cases if c.dossier in levels}
        return mine == levels

    await eventually(escalated, within=30)
    page = await find_stuck(stack.client, query, limit=3)
    ours = [c for c in page.cases if c.dossier in levels]
    assert page.total >= 6 and len(page.cases) == 3
    assert [c.escalation_level for c in page.cases] == [3, 3, 2]
    assert len(ours) == 3
    everything = await find_stuck(stack.client, query)
    assert everything.total == page.total == len(everything.cases)
    assert [c.escalation_level for c in everything.cases] == sorted(
        (c.escalation_level for c in everything.cases), reverse=True
    )

    # The read model's ranking gives the same page, through one confirming visibility query.
    ranking = read_model_ranking(stack.sessions, StuckFilter(min_level=1, region=REGION))
    # The two level-3 cases come first; which of them first follows their stall clocks, set
    # by when each case's first task ran (not necessarily in start order).
    assert set((await ranking(3))[:2]) == {f"newcomer-SP-3-{i}-{id(stack) % 10000}" for i in (0, 1)}
    ranked = await find_stuck(stack.client, query, limit=3, ranked=ranking)
    assert [c.dossier for c in ranked.cases] == [c.dossier for c in page.cases]
    assert ranked.total == page.total

    # A ranking visibility does not confirm (a lagging read model: cases no longer stuck, or
    # too few) falls back to visibility alone: still the right page.
    async def stale(n: int) -> list[str]:
        return ["newcomer-NOT-STUCK-1", f"newcomer-SP-1-0-{id(stack) % 10000}"]

    fallback = await find_stuck(stack.client, query, limit=3, ranked=stale)
    assert [c.dossier for c in fallback.cases] == [c.dossier for c in page.cases]

    code, out, err = await Cli(stack.settings)(
        "stuck", "--region", REGION, "--limit", "3", "--json"
    )
    assert code == 0, err
    assert [r["escalation_level"] for r in json.loads(out)] == [3, 3, 2]
    assert f"{page.total} cases match; showing the 3 most urgent" in err
