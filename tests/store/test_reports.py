"""The programme reports (issue 18) against a hand-built read model whose answers are worked
out below by hand, on SQLite and (PARCOURS_TEST_DATABASE_URL) PostgreSQL: the percentages,
the percentiles, "not recorded", a supervisor's region, and the cases behind each figure."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parcours.application.reports import Period, build_report, check_reader, cut
from parcours.infrastructure.store.finder import CaseSearch, StatusFilter, find_cases
from parcours.infrastructure.store.models import AuditEvent, Case, Officer, StageSpan
from parcours.kernel.domain import Actor, Role
from parcours.kernel.errors import ParcoursError
from parcours.kernel.filters import NOT_RECORDED, Figure

DIRECTOR = Actor("hcote", Role.DIRECTOR, "montreal")
MONTREAL_SUPERVISOR = Actor("nbouchard", Role.SUPERVISOR, "montreal")
QUEBEC_SUPERVISOR = Actor("mlevesque", Role.SUPERVISOR, "capitale-nationale")
OFFICER = Actor("atremblay", Role.OFFICER, "montreal")
PERIOD = Period(date(2026, 1, 1), date(2026, 3, 1))


def at(month: int, day: int, year: int = 2026) -> datetime:
    return datetime(year, month, day, 15, 0, tzinfo=UTC)


def case(
    dossier: str,
    opened: datetime,
    *,
    region: str = "montreal",
    officer: str | None = "a1",
    status: str = "active",
    closed: datetime | None = None,
    greeting: str | None = None,
    meeting_late: bool | None = None,
    plan_filed: datetime | None = None,
    plan_overdue: datetime | None = None,
) -> Case:
    return Case(
        dossier=dossier,
        workflow_id=f"newcomer-{dossier}",
        region=region,
        language="fr",
        arrival_date=opened.date(),
        status=status,
        stage=None if closed else "arrival",
        officer_id=officer,
        escalation_level=0,
        overdue=False,
        started_at=opened,
        closed_at=closed,
        greeting=greeting,
        greeting_at=opened if greeting else None,
        meeting_on=opened.date() if meeting_late is not None else None,
        meeting_late=meeting_late,
        plan_filed_at=plan_filed,
        plan_overdue_at=plan_overdue,
    )


def span(
    *, dossier: str, stage: str, started_at: datetime | None, ended_at: datetime | None
) -> StageSpan:
    days = (ended_at - started_at).total_seconds() / 86400 if started_at and ended_at else None
    region = "capitale-nationale" if dossier.startswith("C") else "montreal"
    return StageSpan(
        dossier=dossier,
        stage=stage,
        started_at=started_at,
        ended_at=ended_at,
        region=region,
        days=days,
        ended_month=ended_at.strftime("%Y-%m") if ended_at else None,
    )


def event(n: int, dossier: str, kind: str, when: datetime, detail: str | None) -> AuditEvent:
    return AuditEvent(
        key=f"newcomer-{dossier}:{n:06d}:{kind}",
        dossier=dossier,
        kind=kind,
        at=when,
        detail=detail,
        seq=n,
    )


def officer(oid: str, region: str, *, role: str = "officer", active: bool = True) -> Officer:
    return Officer(
        id=oid, name=oid, email=f"{oid}@example.org", region=region, role=role, active=active
    )


# The data set. Montréal, January 2026: five cases opened (M1-M5), one more in February (M6),
# one older still open (M0). Capitale-Nationale: one case (C1).
#   greeting  M1 greeted, M2 no_show, M3 greeted, M4 not_applicable, M5 none
#             -> greeted 2 of 3 recorded = 66.7 %
#   meeting   M1 on time, M2 late (and plan overdue), M4 on time -> 2 of 3 = 66.7 %
#   plan      M1 filed on time, M2 filed after it went overdue   -> 1 of 2 = 50 %
#   February  M6 has none of it: opened 1, each ratio not recorded.
#   closings  M3 declined (left_quebec) on 15 Jan; M5 withdrawn with no reason on 28 Jan.
#   open      January: M0 + M1-M5 = 6; February: 7 opened by its end, 2 closed before = 5.
#   escalated M2 to level 1 (18 Jan) and 2 (22 Jan); M1 to level 1 (10 Feb)
#             -> January 16.7 per 100 at levels 1 and 2; February 20.0 at level 1.
#   arrival   ended in January after 1, 3, 10 and 31 days (M4, M2, M1, M0)
#             -> median 6.5, 90th percentile 10 + 0.7 x 21 = 24.7 (percentile_cont).
#   today     Montréal officers a1 (M1, M2, M6), a2 (M0), a3 (none): min 0, median 1, max 3;
#             M4 unassigned; 5 open. a9 (inactive) and the supervisor do not count.
def cases() -> list[Case]:
    return [
        case("M0", at(12, 1, 2025), officer="a2"),
        case(
            "M1",
            at(1, 5),
            greeting="greeted",
            meeting_late=False,
            plan_filed=at(1, 9),
        ),
        case(
            "M2",
            at(1, 10),
            greeting="no_show",
            meeting_late=True,
            plan_filed=at(1, 25),
            plan_overdue=at(1, 20),
        ),
        case(
            "M3",
            at(1, 12),
            officer="a2",
            status="declined",
            closed=at(1, 15),
            greeting="greeted",
        ),
        case("M4", at(1, 20), officer=None, greeting="not_applicable", meeting_late=False),
        case("M5", at(1, 25), officer="a3", status="withdrawn", closed=at(1, 28)),
        case("M6", at(2, 3)),
        case("C1", at(1, 7), region="capitale-nationale", officer="j1", greeting="greeted"),
    ]


def events() -> list[AuditEvent]:
    return [
        event(1, "M3", "case_declined", at(1, 15), "left_quebec"),
        event(1, "M5", "case_withdrawn", at(1, 28), None),
        event(1, "M2", "escalated", at(1, 18), "1"),
        event(2, "M2", "escalated", at(1, 22), "2"),
        event(1, "M1", "escalated", at(2, 10), "1"),
        # Outside the period: not counted.
        event(1, "M0", "escalated", at(12, 20, 2025), "1"),
    ]


def spans() -> list[StageSpan]:
    return [
        span(dossier="M4", stage="arrival", started_at=at(1, 20), ended_at=at(1, 21)),
        span(dossier="M2", stage="arrival", started_at=at(1, 10), ended_at=at(1, 13)),
        span(dossier="M1", stage="arrival", started_at=at(1, 5), ended_at=at(1, 15)),
        span(dossier="M0", stage="arrival", started_at=at(12, 1, 2025), ended_at=at(1, 1)),
        span(dossier="M0", stage="francization", started_at=at(1, 1), ended_at=at(2, 1)),
        # An end without its start (recorded before the trail began): left out.
        span(dossier="M6", stage="arrival", started_at=None, ended_at=at(2, 5)),
    ]


def officers() -> list[Officer]:
    return [
        officer("a1", "montreal"),
        officer("a2", "montreal"),
        officer("a3", "montreal"),
        officer("a9", "montreal", active=False),
        officer("nbouchard", "montreal", role="supervisor"),
        officer("j1", "capitale-nationale"),
    ]


@pytest.fixture
async def seeded(sessions: async_sessionmaker[AsyncSession]) -> async_sessionmaker[AsyncSession]:
    async with sessions() as session, session.begin():
        session.add_all([*officers(), *cases(), *spans()])
        await session.flush()
        session.add_all(events())
    return sessions


async def test_percentages_and_percentiles_match_the_hand_worked_answers(
    seeded: async_sessionmaker[AsyncSession],
) -> None:
    async with seeded() as session:
        report = await build_report(session, PERIOD, "montreal")
    assert report.regions == ["montreal"]
    jan, feb = report.months
    assert (jan.month, feb.month) == ("2026-01", "2026-02")
    assert jan.opened == 5 and feb.opened == 1
    assert (jan.greeted.part, jan.greeted.whole, jan.greeted.percent) == (2, 3, 66.7)
    assert (jan.meeting_on_time.part, jan.meeting_on_time.whole) == (2, 3)
    assert jan.meeting_on_time.percent == 66.7
    assert (jan.plan_on_time.part, jan.plan_on_time.whole, jan.plan_on_time.percent) == (1, 2, 50.0)
    assert jan.declined["left_quebec"] == 1 and sum(jan.declined.values()) == 1
    assert jan.withdrawn[NOT_RECORDED] == 1 and sum(jan.withdrawn.values()) == 1
    assert (jan.open_cases, feb.open_cases) == (6, 5)
    assert jan.escalations == {1: 1, 2: 1, 3: 0}
    assert (jan.per_100(1), jan.per_100(2), jan.per_100(3)) == (16.7, 16.7, 0.0)
    assert feb.escalations == {1: 1, 2: 0, 3: 0} and feb.per_100(1) == 20.0
    arrival = jan.stages["arrival"]
    assert arrival.count == 4
    assert arrival.median == pytest.approx(6.5)
    assert arrival.p90 == pytest.approx(24.7)
    francization = feb.stages["francization"]
    assert (francization.count, francization.median, francization.p90) == (1, 31.0, 31.0)
    assert feb.stages["arrival"].count == 0  # M6's span has no start
    (today,) = report.today
    assert (today.open_cases, today.unassigned, today.officers) == (5, 1, 3)
    assert (today.lowest, today.median, today.highest) == (0, 1.0, 3)


async def test_a_figure_without_its_data_is_not_recorded_rather_than_zero(
    seeded: async_sessionmaker[AsyncSession],
) -> None:
    async with seeded() as session:
        report = await build_report(session, PERIOD, None)
    feb = next(m for m in report.months if (m.region, m.month) == ("montreal", "2026-02"))
    # M6 was opened, but nothing about its greeting, meeting or plan is recorded.
    for ratio in (feb.greeted, feb.meeting_on_time, feb.plan_on_time):
        assert ratio.percent is None and not ratio.recorded
    # A month with no case opened has nothing to measure: not a missing record.
    quebec_feb = next(
        m for m in report.months if (m.region, m.month) == ("capitale-nationale", "2026-02")
    )
    assert quebec_feb.opened == 0 and quebec_feb.greeted.recorded
    assert quebec_feb.greeted.percent is None
    assert feb.to_json()["greeted_at_airport"] == {
        "part": 0,
        "whole": 0,
        "percent": None,
        "recorded": False,
    }


async def test_the_director_sees_every_region_and_a_supervisor_only_theirs(
    seeded: async_sessionmaker[AsyncSession],
) -> None:
    check_reader(DIRECTOR, None)
    check_reader(DIRECTOR, "montreal")
    check_reader(QUEBEC_SUPERVISOR, "capitale-nationale")
    for actor, region in (
        (QUEBEC_SUPERVISOR, "montreal"),
        (QUEBEC_SUPERVISOR, None),
        (OFFICER, "montreal"),
    ):
        with pytest.raises(ParcoursError) as refused:
            check_reader(actor, region)
        assert refused.value.refusal is not None
    async with seeded() as session:
        everywhere = await build_report(session, PERIOD, None)
        quebec = await build_report(session, PERIOD, "capitale-nationale")
    assert everywhere.regions == ["capitale-nationale", "montreal"]
    assert quebec.regions == ["capitale-nationale"]
    assert {m.region for m in quebec.months} == {"capitale-nationale"}
    jan = quebec.months[0]
    assert (jan.opened, jan.greeted.percent, jan.open_cases) == (1, 100.0, 1)
    assert (quebec.today[0].lowest, quebec.today[0].highest) == (1, 1)


async def _behind(
    sessions: async_sessionmaker[AsyncSession],
    viewer: Actor,
    figure: Figure,
    month: str,
    value: str | None = None,
    region: str = "montreal",
) -> set[str]:
    search = CaseSearch(
        status=StatusFilter.ALL, region=region, cut=cut(figure, month, value), per_page=200
    )
    async with sessions() as session:
        found = await find_cases(session, viewer, search)
    return {r.dossier for r in found.rows}


@pytest.mark.parametrize(
    ("figure", "month", "value", "dossiers"),
    [
        (Figure.OPENED, "2026-01", None, {"M1", "M2", "M3", "M4", "M5"}),
        (Figure.GREETED, "2026-01", None, {"M1", "M3"}),
        (Figure.GREETING_RECORDED, "2026-01", None, {"M1", "M2", "M3"}),
        (Figure.MEETING_ON_TIME, "2026-01", None, {"M1", "M4"}),
        (Figure.MEETING_DUE, "2026-01", None, {"M1", "M2", "M4"}),
        (Figure.PLAN_ON_TIME, "2026-01", None, {"M1"}),
        (Figure.PLAN_DUE, "2026-01", None, {"M1", "M2"}),
        (Figure.DECLINED, "2026-01", "left_quebec", {"M3"}),
        (Figure.DECLINED, "2026-01", "other", set()),
        (Figure.WITHDRAWN, "2026-01", NOT_RECORDED, {"M5"}),
        (Figure.ESCALATED, "2026-01", "1", {"M2"}),
        (Figure.ESCALATED, "2026-02", "1", {"M1"}),
        (Figure.STAGE_ENDED, "2026-01", "arrival", {"M0", "M1", "M2", "M4"}),
        (Figure.STAGE_ENDED, "2026-02", "francization", {"M0"}),
    ],
)
async def test_each_figure_lists_the_cases_behind_it(
    seeded: async_sessionmaker[AsyncSession],
    figure: Figure,
    month: str,
    value: str | None,
    dossiers: set[str],
) -> None:
    assert await _behind(seeded, DIRECTOR, figure, month, value) == dossiers
    # Within what the reader may see: another region's supervisor sees none of them.
    assert await _behind(seeded, QUEBEC_SUPERVISOR, figure, month, value) == set()
    assert await _behind(seeded, MONTREAL_SUPERVISOR, figure, month, value) == dossiers


async def test_the_list_and_the_report_count_alike(
    seeded: async_sessionmaker[AsyncSession],
) -> None:
    async with seeded() as session:
        report = await build_report(session, PERIOD, "montreal")
    jan = report.months[0]
    assert len(await _behind(seeded, DIRECTOR, Figure.GREETED, "2026-01")) == jan.greeted.part
    assert (
        len(await _behind(seeded, DIRECTOR, Figure.PLAN_DUE, "2026-01")) == jan.plan_on_time.whole
    )
    assert len(await _behind(seeded, DIRECTOR, Figure.OPENED, "2026-01")) == jan.opened
