"""The programme reports' queries (issue 18): SQL aggregates over the read model, per region
and per month, shared by `parcours report` and the console's Rapports page
(parcours/application/reports.py puts them together).

Each figure that links to its cases is one condition (`cut_condition`), used both by the
count here and by the case list's `figure` filter (store/finder.py), so the two agree.
Percentiles run in the database: PostgreSQL's `percentile_cont`; on SQLite, window functions
over the sorted values with the same linear interpolation, so both answer alike. Months are
UTC months."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Integer,
    Select,
    and_,
    case,
    cast,
    exists,
    func,
    literal,
    or_,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession

from parcours.infrastructure.store.models import AuditEvent, Case, Officer, StageSpan
from parcours.kernel.domain import OPEN_STATUSES, GreetingOutcome, Role
from parcours.kernel.filters import NOT_RECORDED, Figure, ReportCut

DECLINED_KIND = "case_declined"
WITHDRAWN_KIND = "case_withdrawn"
ESCALATED_KIND = "escalated"
_CLOSING_KINDS = {Figure.DECLINED: DECLINED_KIND, Figure.WITHDRAWN: WITHDRAWN_KIND}
_OPEN = tuple(s.value for s in OPEN_STATUSES)
# The outcomes that say whether the newcomer was met at the airport.
_GREETING_OUTCOMES = (
    GreetingOutcome.GREETED.value,
    GreetingOutcome.DECLINED.value,
    GreetingOutcome.NO_SHOW.value,
)
BEFORE = "before"  # the month bucket of what happened before the period
# A SELECT of any columns (SQLAlchemy types a SELECT by its columns).
AnySelect = Select[*tuple[Any, ...]]


def moment(day: date) -> datetime:
    """The start of `day`, UTC."""
    return datetime.combine(day, time(0), tzinfo=UTC)


# --------------------------------------------------------------------------------------------
# The conditions: one per figure, over the case row
# --------------------------------------------------------------------------------------------

_COHORT: dict[Figure, ColumnElement[bool]] = {
    Figure.GREETED: Case.greeting == GreetingOutcome.GREETED.value,
    Figure.GREETING_RECORDED: Case.greeting.in_(_GREETING_OUTCOMES),
    Figure.MEETING_ON_TIME: and_(Case.meeting_on.is_not(None), Case.meeting_late.is_(False)),
    Figure.MEETING_DUE: or_(Case.meeting_on.is_not(None), Case.plan_overdue_at.is_not(None)),
    Figure.PLAN_ON_TIME: and_(Case.plan_filed_at.is_not(None), Case.plan_overdue_at.is_(None)),
    Figure.PLAN_DUE: or_(Case.plan_filed_at.is_not(None), Case.plan_overdue_at.is_not(None)),
}


def _detail_is(value: str | None) -> ColumnElement[bool]:
    if value is None or value == NOT_RECORDED:
        return or_(AuditEvent.detail.is_(None), AuditEvent.detail == "")
    return AuditEvent.detail == value


def cut_condition(cut: ReportCut) -> ColumnElement[bool]:
    """The cases behind `cut`, as a condition on the case row."""
    start, end = moment(cut.start), moment(cut.end)
    opened = and_(Case.started_at >= start, Case.started_at < end)
    if cut.figure == Figure.OPENED:
        return opened
    if cut.figure in _COHORT:
        return and_(opened, _COHORT[cut.figure])
    if cut.figure == Figure.STAGE_ENDED:
        return exists().where(
            StageSpan.dossier == Case.dossier,
            StageSpan.stage == (cut.value or ""),
            StageSpan.days.is_not(None),
            StageSpan.ended_at >= start,
            StageSpan.ended_at < end,
        )
    kind = _CLOSING_KINDS.get(cut.figure, ESCALATED_KIND)
    return exists().where(
        AuditEvent.dossier == Case.dossier,
        AuditEvent.kind == kind,
        AuditEvent.at >= start,
        AuditEvent.at < end,
        _detail_is(cut.value),
    )


# --------------------------------------------------------------------------------------------
# Dialect helpers
# --------------------------------------------------------------------------------------------


def _postgres(session: AsyncSession) -> bool:
    bind = session.bind
    return bind is not None and bind.dialect.name == "postgresql"


def _month(session: AsyncSession, column: Any) -> ColumnElement[str]:
    """'YYYY-MM' of a UTC datetime column."""
    if _postgres(session):
        return func.to_char(func.timezone("UTC", column), "YYYY-MM")
    # SQLite keeps datetimes as 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC).
    return func.substr(column, 1, 7)


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.sum(case((condition, 1), else_=0))


@dataclass
class Spread:
    """How values spread within a group: count, min, median, 90th percentile, max."""

    count: int
    low: float | None
    median: float | None
    p90: float | None
    high: float | None


QUANTILES = (0.5, 0.9)
# SQLite allows 500 terms in a compound SELECT.
_UNION_TERMS = 400


async def spreads(
    session: AsyncSession,
    source: AnySelect,
    groups: Sequence[str],
    value: str,
) -> dict[tuple[Any, ...], Spread]:
    """Per group of `source`'s `groups` columns, the spread of its `value` column, computed
    in the database: continuous percentiles (percentile_cont's interpolation)."""
    if _postgres(session):
        return await _spreads_postgres(session, source, groups, value)
    return await _spreads_sqlite_window(session, source, groups, value)


async def _spreads_sqlite_window(
    session: AsyncSession, source: AnySelect, groups: Sequence[str], value: str
) -> dict[tuple[Any, ...], Spread]:
    """SQLite, a small source (an aggregate): ROW_NUMBER and COUNT over each group, sorted,
    and the values at the ranks around each percentile's position."""
    sub = source.subquery()
    keys = [sub.c[g] for g in groups]
    v = sub.c[value]
    ranked = select(
        *keys,
        v.label("v"),
        func.row_number().over(partition_by=keys, order_by=v).label("rn"),
        func.count().over(partition_by=keys, order_by=v, rows=(None, None)).label("n"),
    ).subquery()
    rk = [ranked.c[g] for g in groups]

    def interpolated(q: float) -> ColumnElement[float]:
        # percentile_cont: position 1 + q (n - 1) among the sorted values, between the
        # values at its floor and the next.
        pos = 1 + q * (ranked.c.n - 1)
        lo = cast(pos, Integer)
        at_lo = func.max(case((ranked.c.rn == lo, ranked.c.v)))
        at_hi = func.max(case((ranked.c.rn == lo + 1, ranked.c.v)))
        frac = func.max(pos - lo)
        return at_lo + frac * (func.coalesce(at_hi, at_lo) - at_lo)

    stmt = select(
        *rk,
        func.count(),
        func.min(ranked.c.v),
        *(interpolated(q) for q in QUANTILES),
        func.max(ranked.c.v),
    ).group_by(*rk)
    return await _read_spreads(session, stmt, len(groups))


async def _read_spreads(
    session: AsyncSession, stmt: AnySelect, n: int
) -> dict[tuple[Any, ...], Spread]:
    """Rows of `n` group keys, then count, min, the QUANTILES and max."""
    out: dict[tuple[Any, ...], Spread] = {}
    for row in (await session.execute(stmt)).all():
        count, low, median, p90, high = row[n:]
        out[tuple(row[:n])] = Spread(
            int(count), _float(low), _float(median), _float(p90), _float(high)
        )
    return out


async def _spreads_postgres(
    session: AsyncSession, source: AnySelect, groups: Sequence[str], value: str
) -> dict[tuple[Any, ...], Spread]:
    sub = source.subquery()
    keys = [sub.c[g] for g in groups]
    v = sub.c[value]
    stmt = select(
        *keys,
        func.count(v),
        func.min(v),
        *(func.percentile_cont(q).within_group(v.asc()) for q in QUANTILES),
        func.max(v),
    ).group_by(*keys)
    return await _read_spreads(session, stmt, len(groups))


async def _stage_spreads_sqlite(
    session: AsyncSession, first: str, end: str, region: str | None
) -> dict[tuple[Any, ...], Spread]:
    """SQLite: days per (month, region, stage) of the spans that ended in months [first,
    end). Ranking every row with window functions (`_spreads_sqlite_window`) costs several
    times the scan (bench/programme_report.py); instead the database counts each group, then
    reads the two sorted values around each percentile's position straight from the spans'
    index (ORDER BY days LIMIT 2 OFFSET k), all groups in a few UNION ALL statements of plain
    SQL (built by SQLAlchemy, compiling hundreds of terms costs more than running them). The
    interpolation between the two is percentile_cont's."""
    s = StageSpan
    counts = (
        select(s.ended_month, s.region, s.stage, func.count(), func.min(s.days), func.max(s.days))
        .where(s.ended_month >= first, s.ended_month < end, s.days.is_not(None))
        .group_by(s.ended_month, s.region, s.stage)
    )
    if region is not None:
        counts = counts.where(s.region == region)
    found: list[tuple[Any, ...]] = [tuple(row) for row in (await session.execute(counts)).all()]
    terms: list[tuple[int, str]] = []
    for i, (_, _, _, n, _, _) in enumerate(found):
        for j, q in enumerate(QUANTILES):
            terms.append(
                (
                    i,
                    f"SELECT * FROM (SELECT {i}, {j}, days FROM stage_spans"
                    f" WHERE ended_month = :m{i} AND region = :r{i} AND stage = :s{i}"
                    f" AND days IS NOT NULL ORDER BY days LIMIT 2 OFFSET {int(q * (int(n) - 1))})",
                )
            )
    near: dict[tuple[int, int], list[float]] = {}
    for start in range(0, len(terms), _UNION_TERMS):
        chunk = terms[start : start + _UNION_TERMS]
        params: dict[str, Any] = {}
        for i, _ in chunk:
            month, reg, stage = found[i][:3]
            params |= {f"m{i}": month, f"r{i}": reg, f"s{i}": stage}
        stmt = text(" UNION ALL ".join(sql for _, sql in chunk))
        for i, j, x in (await session.execute(stmt, params)).all():
            near.setdefault((int(i), int(j)), []).append(float(x))
    out: dict[tuple[Any, ...], Spread] = {}
    for i, (month, reg, stage, n, low, high) in enumerate(found):
        at = [_between(near.get((i, j), []), q * (int(n) - 1)) for j, q in enumerate(QUANTILES)]
        out[(month, reg, stage)] = Spread(int(n), _float(low), at[0], at[1], _float(high))
    return out


def _between(values: list[float], position: float) -> float | None:
    """percentile_cont between the sorted values at floor(position) and the next."""
    if not values:
        return None
    ordered = sorted(values)  # the two values read, in order
    low = ordered[0]
    high = ordered[1] if len(ordered) > 1 else low
    return low + (position - int(position)) * (high - low)


def _float(x: object) -> float | None:
    return None if x is None else float(x)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# The report's queries
# --------------------------------------------------------------------------------------------


@dataclass
class CohortCounts:
    """The cases opened in one region and month, and how their first days went."""

    opened: int = 0
    greeted: int = 0
    greeting_recorded: int = 0
    meeting_on_time: int = 0
    meeting_due: int = 0
    plan_on_time: int = 0
    plan_due: int = 0


_COHORT_FIELDS = (
    ("greeted", Figure.GREETED),
    ("greeting_recorded", Figure.GREETING_RECORDED),
    ("meeting_on_time", Figure.MEETING_ON_TIME),
    ("meeting_due", Figure.MEETING_DUE),
    ("plan_on_time", Figure.PLAN_ON_TIME),
    ("plan_due", Figure.PLAN_DUE),
)


def _in_region(stmt: AnySelect, region: str | None) -> AnySelect:
    return stmt if region is None else stmt.where(Case.region == region)


async def cohorts(
    session: AsyncSession, start: date, end: date, region: str | None
) -> dict[tuple[str, str], CohortCounts]:
    """Per (region, month opened) in [start, end)."""
    month = _month(session, Case.started_at)
    stmt = _in_region(
        select(
            Case.region,
            month,
            func.count(),
            *(_count_if(_COHORT[f]) for _, f in _COHORT_FIELDS),
        )
        .where(Case.started_at >= moment(start), Case.started_at < moment(end))
        .group_by(Case.region, month),
        region,
    )
    out: dict[tuple[str, str], CohortCounts] = {}
    for row in (await session.execute(stmt)).all():
        counts = CohortCounts(opened=int(row[2]))
        for (name, _), value in zip(_COHORT_FIELDS, row[3:], strict=True):
            setattr(counts, name, int(value or 0))
        out[(row[0], row[1])] = counts
    return out


async def events_by_detail(
    session: AsyncSession, kinds: Sequence[str], start: date, end: date, region: str | None
) -> dict[tuple[str, str, str, str], int]:
    """Audit events of `kinds` in [start, end), counted per (region, month, kind, detail);
    a missing detail counts as NOT_RECORDED."""
    month = _month(session, AuditEvent.at)
    detail = func.coalesce(func.nullif(AuditEvent.detail, ""), literal(NOT_RECORDED))
    stmt = _in_region(
        select(Case.region, month, AuditEvent.kind, detail, func.count())
        .join(Case, Case.dossier == AuditEvent.dossier)
        .where(
            AuditEvent.kind.in_(kinds),
            AuditEvent.at >= moment(start),
            AuditEvent.at < moment(end),
        )
        .group_by(Case.region, month, AuditEvent.kind, detail),
        region,
    )
    return {(r, m, k, d): int(n) for r, m, k, d, n in (await session.execute(stmt)).all()}


async def opened_and_closed(
    session: AsyncSession, start: date, end: date, region: str | None
) -> tuple[dict[tuple[str, str], int], dict[tuple[str, str], int]]:
    """Cases opened and cases closed per (region, month) before `end`; what happened before
    `start` is in the month BEFORE. The cases open during a month are those opened by its end
    less those closed before its start."""

    async def per_month(column: Any) -> dict[tuple[str, str], int]:
        bucket = case((column < moment(start), literal(BEFORE)), else_=_month(session, column))
        stmt = _in_region(
            select(Case.region, bucket, func.count())
            .where(column.is_not(None), column < moment(end))
            .group_by(Case.region, bucket),
            region,
        )
        return {(r, m): int(n) for r, m, n in (await session.execute(stmt)).all()}

    return await per_month(Case.started_at), await per_month(Case.closed_at)


async def stage_times(
    session: AsyncSession, start: date, end: date, region: str | None
) -> dict[tuple[Any, ...], Spread]:
    """Days per stage, of the stages that ended in [start, end), per (region, month, stage):
    from the spans' own month, region and days (one index, no join)."""
    first, last = start.strftime("%Y-%m"), end.strftime("%Y-%m")
    if not _postgres(session):
        found = await _stage_spreads_sqlite(session, first, last, region)
        return {(r, m, st): spread for (m, r, st), spread in found.items()}
    source = select(
        StageSpan.ended_month.label("month"),
        StageSpan.region.label("region"),
        StageSpan.stage.label("stage"),
        StageSpan.days.label("days"),
    ).where(
        StageSpan.ended_month >= first,
        StageSpan.ended_month < last,
        StageSpan.days.is_not(None),
    )
    if region is not None:
        source = source.where(StageSpan.region == region)
    found = await spreads(session, source, ("month", "region", "stage"), "days")
    return {(r, m, st): spread for (m, r, st), spread in found.items()}


async def caseloads(session: AsyncSession, region: str | None) -> dict[tuple[Any, ...], Spread]:
    """Today's open cases per active officer (role officer, zero included), spread per
    region."""
    loads = (
        select(
            Officer.region.label("region"),
            cast(func.count(Case.dossier), Float).label("cases"),
        )
        .select_from(Officer)
        .outerjoin(Case, and_(Case.officer_id == Officer.id, Case.status.in_(_OPEN)))
        .where(Officer.active.is_(True), Officer.role == Role.OFFICER.value)
        .group_by(Officer.region, Officer.id)
    )
    if region is not None:
        loads = loads.where(Officer.region == region)
    return await spreads(session, loads, ("region",), "cases")


async def open_now(session: AsyncSession, region: str | None) -> dict[str, tuple[int, int]]:
    """Per region: today's open cases and the unassigned among them."""
    stmt = _in_region(
        select(Case.region, func.count(), _count_if(Case.officer_id.is_(None)))
        .where(Case.status.in_(_OPEN))
        .group_by(Case.region),
        region,
    )
    return {r: (int(n), int(u or 0)) for r, n, u in (await session.execute(stmt)).all()}
