"""The programme reports (issue 18): per region and per month, how the programme keeps its
promises. One use case for `parcours report` and the console's Rapports page; the queries are
SQL aggregates in infrastructure/store/reports.py.

A ratio whose cases carry none of the data it needs is `not recorded` (None), never zero: a
month of cases opened before first meetings were recorded has no meeting figure, not 0 %."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from parcours.infrastructure.store import reports as q
from parcours.kernel import authz
from parcours.kernel.domain import STAGES, Actor, WithdrawalReason
from parcours.kernel.errors import ParcoursError
from parcours.kernel.filters import NOT_RECORDED, Figure, ReportCut
from parcours.kernel.inputs import invalid, shown

LEVELS = (1, 2, 3)
REASONS = (*(r.value for r in WithdrawalReason), NOT_RECORDED)
# The default period: this month and the eleven before it.
DEFAULT_MONTHS = 12
# The longest period a report covers (10 years): a mistyped year is caught, not computed.
MAX_MONTHS = 120
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


# --------------------------------------------------------------------------------------------
# The period
# --------------------------------------------------------------------------------------------


def month_start(value: str, flag: str) -> date:
    """'2026-03' -> 2026-03-01; anything else is refused, naming the flag."""
    m = _MONTH.match(value.strip())
    if m is None or not 1 <= int(m.group(2)) <= 12 or int(m.group(1)) < 2000:
        raise invalid("invalid_month", flag, value=shown(value), flag=flag)
    return date(int(m.group(1)), int(m.group(2)), 1)


def add_months(d: date, n: int) -> date:
    k = d.year * 12 + d.month - 1 + n
    return date(k // 12, k % 12 + 1, 1)


@dataclass(frozen=True)
class Period:
    """Whole UTC months: from `start` (a month's first day) up to `end` (excluded)."""

    start: date
    end: date

    @classmethod
    def of(cls, first: str | None, last: str | None, today: date) -> Period:
        """The months `first` to `last` (YYYY-MM, both included); by default the twelve
        months up to this one."""
        this_month = today.replace(day=1)
        end = add_months(month_start(last, "--to"), 1) if last else add_months(this_month, 1)
        start = month_start(first, "--from") if first else add_months(end, -DEFAULT_MONTHS)
        if start >= end:
            raise invalid(
                "report_period_reversed",
                "--from",
                start=start.strftime("%Y-%m"),
                end=add_months(end, -1).strftime("%Y-%m"),
            )
        if len(_months(start, end)) > MAX_MONTHS:
            raise invalid("report_period_too_long", "--from", months=MAX_MONTHS)
        return cls(start, end)

    @property
    def months(self) -> list[str]:
        return _months(self.start, self.end)

    @property
    def first(self) -> str:
        return self.start.strftime("%Y-%m")

    @property
    def last(self) -> str:
        return add_months(self.end, -1).strftime("%Y-%m")


def _months(start: date, end: date) -> list[str]:
    out: list[str] = []
    d = start
    while d < end:
        out.append(d.strftime("%Y-%m"))
        d = add_months(d, 1)
    return out


def month_bounds(month: str) -> tuple[date, date]:
    start = month_start(month, "month")
    return start, add_months(start, 1)


# --------------------------------------------------------------------------------------------
# Who may read it
# --------------------------------------------------------------------------------------------


def check_reader(actor: Actor, region: str | None) -> None:
    """The programme table's "report" row: a director any region or all; a supervisor their
    own region. Refused with the table's words."""
    refused = authz.decide_programme(authz.ProgrammeAction.REPORT, actor, region)
    if refused is not None:
        raise ParcoursError(refusal=refused)


# --------------------------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------------------------


@dataclass
class Ratio:
    """`part` of `whole`; `recorded` False when cases were opened but none of them carries
    the data (the percentage is then not recorded, rather than 0 %)."""

    part: int
    whole: int
    opened: int

    @property
    def percent(self) -> float | None:
        return round(100 * self.part / self.whole, 1) if self.whole else None

    @property
    def recorded(self) -> bool:
        return self.whole > 0 or self.opened == 0

    def to_json(self) -> dict[str, object]:
        return {
            "part": self.part,
            "whole": self.whole,
            "percent": self.percent,
            "recorded": self.recorded,
        }


@dataclass
class StageTime:
    """Days spent in a stage, over the stages that ended in the month."""

    count: int = 0
    median: float | None = None
    p90: float | None = None

    def to_json(self) -> dict[str, object]:
        return {"count": self.count, "median_days": _r(self.median), "p90_days": _r(self.p90)}


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 1)


@dataclass
class MonthReport:
    region: str
    month: str
    opened: int
    greeted: Ratio
    meeting_on_time: Ratio
    plan_on_time: Ratio
    declined: dict[str, int]
    withdrawn: dict[str, int]
    stages: dict[str, StageTime]
    # Cases open at some time in the month, and the escalations to each level in it.
    open_cases: int
    escalations: dict[int, int]

    def per_100(self, level: int) -> float | None:
        if not self.open_cases:
            return None
        return round(100 * self.escalations.get(level, 0) / self.open_cases, 1)

    def to_json(self) -> dict[str, object]:
        return {
            "region": self.region,
            "month": self.month,
            "opened": self.opened,
            "greeted_at_airport": self.greeted.to_json(),
            "first_meeting_on_time": self.meeting_on_time.to_json(),
            "plan_on_time": self.plan_on_time.to_json(),
            "declined": dict(self.declined),
            "withdrawn": dict(self.withdrawn),
            "stage_days": {s: t.to_json() for s, t in self.stages.items()},
            "open_cases": self.open_cases,
            "escalations": {str(k): v for k, v in self.escalations.items()},
            "escalations_per_100_open": {str(k): self.per_100(k) for k in LEVELS},
        }


@dataclass
class RegionToday:
    """Today's caseload of a region: open cases, the unassigned among them, and how the
    assigned ones spread across its active officers (None without officers)."""

    region: str
    open_cases: int
    unassigned: int
    officers: int
    lowest: int | None
    median: float | None
    highest: int | None

    def to_json(self) -> dict[str, object]:
        return {
            "region": self.region,
            "open_cases": self.open_cases,
            "unassigned": self.unassigned,
            "officers": self.officers,
            "caseload_min": self.lowest,
            "caseload_median": self.median,
            "caseload_max": self.highest,
        }


@dataclass
class Report:
    period: Period
    region: str | None
    months: list[MonthReport] = field(default_factory=list)
    today: list[RegionToday] = field(default_factory=list)

    @property
    def regions(self) -> list[str]:
        return sorted({m.region for m in self.months} | {r.region for r in self.today})

    def to_json(self) -> dict[str, object]:
        return {
            "from": self.period.first,
            "to": self.period.last,
            "region": self.region,
            "months": [m.to_json() for m in self.months],
            "today": [r.to_json() for r in self.today],
        }


def _int(x: float | None) -> int | None:
    return None if x is None else int(x)


async def build_report(session: AsyncSession, period: Period, region: str | None) -> Report:
    """The report over `period`, for `region` (None: every region with cases or officers).
    The caller has checked the reader (`check_reader`)."""
    start, end = period.start, period.end
    cohorts = await q.cohorts(session, start, end, region)
    closings = await q.events_by_detail(
        session, (q.DECLINED_KIND, q.WITHDRAWN_KIND, q.ESCALATED_KIND), start, end, region
    )
    opened, closed = await q.opened_and_closed(session, start, end, region)
    stage_times = await q.stage_times(session, start, end, region)
    loads = await q.caseloads(session, region)
    now = await q.open_now(session, region)

    regions = sorted(
        {r for r, _ in cohorts}
        | {k[0] for k in closings}
        | {r for r, _ in opened}
        | {k[0] for k in loads}
        | set(now)
        | ({region} if region else set())
    )
    details: dict[tuple[str, str, str], dict[str, int]] = {}
    for (r, month, kind, detail), n in closings.items():
        details.setdefault((r, month, kind), {})[detail] = n
    report = Report(period, region)
    for r in regions:
        open_during = _open_during(r, period.months, opened, closed)
        for month in period.months:
            c = cohorts.get((r, month), q.CohortCounts())

            def by(kind: str, r: str = r, month: str = month) -> dict[str, int]:
                found = details.get((r, month, kind), {})
                return {reason: found.get(reason, 0) for reason in REASONS} | found

            escalated = by(q.ESCALATED_KIND)
            report.months.append(
                MonthReport(
                    region=r,
                    month=month,
                    opened=c.opened,
                    greeted=Ratio(c.greeted, c.greeting_recorded, c.opened),
                    meeting_on_time=Ratio(c.meeting_on_time, c.meeting_due, c.opened),
                    plan_on_time=Ratio(c.plan_on_time, c.plan_due, c.opened),
                    declined=by(q.DECLINED_KIND),
                    withdrawn=by(q.WITHDRAWN_KIND),
                    stages={
                        s.value: _stage_time(stage_times.get((r, month, s.value))) for s in STAGES
                    },
                    open_cases=open_during[month],
                    escalations={lv: escalated.get(str(lv), 0) for lv in LEVELS},
                )
            )
        spread = loads.get((r,))
        open_cases, unassigned = now.get(r, (0, 0))
        report.today.append(
            RegionToday(
                region=r,
                open_cases=open_cases,
                unassigned=unassigned,
                officers=spread.count if spread else 0,
                lowest=_int(spread.low) if spread else None,
                median=spread.median if spread else None,
                highest=_int(spread.high) if spread else None,
            )
        )
    return report


def _stage_time(spread: q.Spread | None) -> StageTime:
    if spread is None:
        return StageTime()
    return StageTime(spread.count, spread.median, spread.p90)


def _open_during(
    region: str,
    months: list[str],
    opened: dict[tuple[str, str], int],
    closed: dict[tuple[str, str], int],
) -> dict[str, int]:
    """Cases open at some time in each month: opened by its end, less closed before its
    start (running sums of the per-month counts the database gave)."""
    out: dict[str, int] = {}
    opened_by = opened.get((region, q.BEFORE), 0)
    closed_before = closed.get((region, q.BEFORE), 0)
    for month in months:
        opened_by += opened.get((region, month), 0)
        out[month] = opened_by - closed_before
        closed_before += closed.get((region, month), 0)
    return out


# --------------------------------------------------------------------------------------------
# The cases behind a figure
# --------------------------------------------------------------------------------------------


def cut(figure: Figure, month: str, value: str | None = None) -> ReportCut:
    start, end = month_bounds(month)
    return ReportCut(figure, start, end, value)


def csv_rows(report: Report) -> list[list[Any]]:
    """The report as one table: a row per region and month (today's caseload repeated on
    each of the region's rows). Empty cells are figures not recorded."""
    head: list[Any] = [
        "region",
        "month",
        "opened",
        "greeted_pct",
        "first_meeting_on_time_pct",
        "plan_on_time_pct",
        *(f"declined_{r}" for r in REASONS),
        *(f"withdrawn_{r}" for r in REASONS),
        *(f"{s.value}_{k}" for s in STAGES for k in ("median_days", "p90_days")),
        "open_cases",
        *(f"escalations_level{lv}_per_100" for lv in LEVELS),
        "officers",
        "caseload_min",
        "caseload_median",
        "caseload_max",
        "unassigned_today",
    ]
    today = {r.region: r for r in report.today}
    rows: list[list[Any]] = [head]
    for m in report.months:
        t = today[m.region]
        rows.append(
            [
                m.region,
                m.month,
                m.opened,
                m.greeted.percent,
                m.meeting_on_time.percent,
                m.plan_on_time.percent,
                *(m.declined.get(r, 0) for r in REASONS),
                *(m.withdrawn.get(r, 0) for r in REASONS),
                *(_r(getattr(m.stages[s.value], k)) for s in STAGES for k in ("median", "p90")),
                m.open_cases,
                *(m.per_100(lv) for lv in LEVELS),
                t.officers,
                t.lowest,
                t.median,
                t.highest,
                t.unassigned,
            ]
        )
    return rows
