"""`parcours report`: the programme reports per region and month (issue 18), the same figures
as the console's Rapports page (parcours/application/reports.py)."""

from __future__ import annotations

import argparse
import csv
from datetime import UTC, datetime
from typing import Any

from parcours.infrastructure.catalog import Catalog
from parcours.interfaces.cli.common import Context, add_json_flag
from parcours.interfaces.cli.output import dump_json, table
from parcours.kernel import inputs


def register(sub: argparse._SubParsersAction[Any], t: Catalog) -> None:
    p = sub.add_parser(
        "report", help=t("cli.cmd.report.help"), description=t("cli.cmd.report.description")
    )
    p.add_argument(
        "--from", dest="first", metavar=t("cli.metavar.month"), help=t("cli.opt.report_from")
    )
    p.add_argument("--to", dest="last", metavar=t("cli.metavar.month"), help=t("cli.opt.report_to"))
    p.add_argument("--region", help=t("cli.opt.only_region"))
    p.add_argument("--by", metavar="ID", help=t("cli.opt.report_by"))
    add_json_flag(p)
    p.add_argument("--csv", action="store_true", help=t("cli.opt.csv"))
    p.set_defaults(handler=report)


async def report(args: argparse.Namespace, ctx: Context) -> int:
    from parcours.application.reports import Period, build_report, check_reader, csv_rows

    region = inputs.region(args.region) if args.region else None
    period = Period.of(args.first, args.last, datetime.now(UTC).date())
    if args.by:
        # The trusted CLI reads everything; named, a person reads what the table lets them.
        check_reader(await ctx.actor(args.by, "--by"), region)
    sessions = await ctx.sessions()
    async with sessions() as session:
        found = await build_report(session, period, region)
    if args.json:
        dump_json(found.to_json(), ctx.out)
        return 0
    if args.csv:
        csv.writer(ctx.out, lineterminator="\n").writerows(
            ["" if v is None else v for v in row] for row in csv_rows(found)
        )
        return 0
    _print(found, ctx)
    return 0


def _print(found: Any, ctx: Context) -> None:
    from parcours.application.reports import LEVELS, REASONS, Ratio
    from parcours.kernel.domain import REGION_NAMES, STAGES

    t = ctx.t
    not_recorded = t("reports.not_recorded")

    def ratio(r: Ratio) -> str:
        if not r.recorded:
            return not_recorded
        if r.percent is None:
            return "—"
        return t(
            "reports.ratio",
            percent=t("reports.percent", value=t.number(r.percent, digits=1)),
            part=r.part,
            whole=r.whole,
        )

    def reasons(counts: dict[str, int]) -> str:
        said = [
            t("reports.reason_count", reason=t("reports.reason." + k), n=n)
            for k, n in counts.items()
            if n and k in REASONS
        ]
        return ", ".join(said) or "0"

    def days(x: float | None) -> str:
        return "—" if x is None else t.number(x, digits=1)

    ctx.print(t("reports.period", first=found.period.first, last=found.period.last))
    today = {r.region: r for r in found.today}
    for region in found.regions:
        months = [m for m in found.months if m.region == region]
        ctx.print()
        ctx.print(f"== {REGION_NAMES[region]} ==")
        table(
            [
                t(k).upper()
                for k in (
                    "reports.month",
                    "reports.opened",
                    "reports.greeted",
                    "reports.meeting_on_time",
                    "reports.plan_on_time",
                    "reports.declined",
                    "reports.withdrawn",
                    "reports.escalations",
                )
            ],
            [
                [
                    m.month,
                    m.opened,
                    ratio(m.greeted),
                    ratio(m.meeting_on_time),
                    ratio(m.plan_on_time),
                    reasons(m.declined),
                    reasons(m.withdrawn),
                    " / ".join(
                        "—" if m.per_100(lv) is None else t.number(m.per_100(lv), digits=1)
                        for lv in LEVELS
                    ),
                ]
                for m in months
            ],
            ctx.out,
            t,
        )
        ctx.print()
        table(
            [t("reports.month").upper(), *(t(f"stage.{s.value}").upper() for s in STAGES)],
            [
                [
                    m.month,
                    *(
                        f"{days(m.stages[s.value].median)} / {days(m.stages[s.value].p90)}"
                        for s in STAGES
                    ),
                ]
                for m in months
            ],
            ctx.out,
            t,
        )
        now = today[region]
        ctx.print(
            t(
                "reports.today_line",
                open=t.plural("reports.open_cases", now.open_cases),
                unassigned=t.plural("reports.unassigned_cases", now.unassigned),
                officers=now.officers,
                low="—" if now.lowest is None else now.lowest,
                median="—" if now.median is None else t.number(now.median, digits=1),
                high="—" if now.highest is None else now.highest,
            )
        )
    ctx.print()
    ctx.print(t("reports.legend"))
