"""`parcours forecast`: will the officers keep up? (issue 18, parcours/application/forecast.py)."""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from parcours.infrastructure.catalog import Catalog
from parcours.interfaces.cli.common import Context, add_json_flag
from parcours.interfaces.cli.output import dump_json, table
from parcours.kernel import inputs
from parcours.kernel.domain import STAGES, region_name
from parcours.kernel.errors import ParcoursError

if TYPE_CHECKING:
    from parcours.application.forecast import Forecast, Input, Request

STAGE_NAMES = tuple(s.value for s in STAGES)


def register(sub: argparse._SubParsersAction[Any], t: Catalog) -> None:
    p = sub.add_parser(
        "forecast",
        help=t("cli.cmd.forecast.help"),
        description=t("cli.cmd.forecast.description"),
        epilog=t("cli.cmd.forecast.epilog"),
    )
    p.add_argument("--intake-per-year", metavar="N", help=t("cli.opt.forecast.intake"))
    p.add_argument("--uptake", metavar="F", help=t("cli.opt.forecast.uptake"))
    p.add_argument(
        "--stage-months",
        metavar="arrival=A,francization=F,employment=E,community=C",
        help=t("cli.opt.forecast.stage_months"),
    )
    p.add_argument("--officers", metavar="N", help=t("cli.opt.forecast.officers"))
    p.add_argument("--target-caseload", metavar="N", help=t("cli.opt.forecast.target"))
    p.add_argument("--months", metavar="N", default="24", help=t("cli.opt.forecast.months"))
    p.add_argument("--runs", metavar="N", default="200", help=t("cli.opt.forecast.runs"))
    p.add_argument("--seed", metavar="S", default="18", help=t("cli.opt.forecast.seed"))
    p.add_argument("--region", help=t("cli.opt.forecast.region"))
    p.add_argument("--csv", metavar=t("cli.metavar.file"), help=t("cli.opt.forecast.csv"))
    p.add_argument("--chart", metavar=t("cli.metavar.chart_file"), help=t("cli.opt.forecast.chart"))
    p.add_argument("--by", metavar="ID", help=t("cli.opt.forecast.by"))
    add_json_flag(p, t("cli.opt.forecast.json"))
    p.set_defaults(handler=forecast)


def _number(t: Catalog, flag: str, raw: str, *, whole: bool = False) -> float:
    from parcours.application.forecast import read_number

    value = read_number(raw)
    if value is None or (whole and value != int(value)):
        kind = "cli.error.forecast.whole" if whole else "cli.error.forecast.number"
        raise inputs.InvalidInput(t(kind, flag=flag, value=inputs.shown(raw)))
    return value


def request_of(args: argparse.Namespace, t: Catalog) -> Request:
    from parcours.application.forecast import Overrides, Request, parse_stage_months

    o = Overrides()
    if args.intake_per_year is not None:
        o.intake_per_year = _number(t, "--intake-per-year", args.intake_per_year)
    if args.uptake is not None:
        o.uptake = _number(t, "--uptake", args.uptake)
    if args.stage_months is not None:
        o.stage_months = parse_stage_months(args.stage_months)
    if args.officers is not None:
        o.officers = int(_number(t, "--officers", args.officers, whole=True))
    if args.target_caseload is not None:
        o.target_caseload = int(_number(t, "--target-caseload", args.target_caseload, whole=True))
    return Request(
        overrides=o,
        months=int(_number(t, "--months", args.months, whole=True)),
        runs=int(_number(t, "--runs", args.runs, whole=True)),
        seed=int(_number(t, "--seed", args.seed, whole=True)),
        region=inputs.region(args.region) if args.region else None,
    )


async def forecast(args: argparse.Namespace, ctx: Context) -> int:
    from parcours.application.forecast import ForecastInputError, check, to_csv
    from parcours.application.forecast import forecast as run_forecast
    from parcours.application.policies import choose_target_caseload
    from parcours.kernel.authz import ProgrammeAction, decide_programme
    from parcours.kernel.domain import Role

    t = ctx.t
    chart = Path(args.chart) if args.chart else None
    if chart is not None and chart.suffix.lower() not in (".svg", ".png"):
        raise inputs.InvalidInput(t("cli.error.forecast.chart", value=inputs.shown(args.chart)))
    try:
        request = request_of(args, t)
        if args.by:
            actor = await ctx.actor(args.by)
            # A supervisor's forecast is their region's unless they name another (refused).
            if request.region is None and actor.role == Role.SUPERVISOR:
                request.region = actor.region
            refused = decide_programme(ProgrammeAction.FORECAST, actor, request.region)
            if refused is not None:
                raise ParcoursError(t.message(refused))
        check(request)
        target = choose_target_caseload(ctx.settings, ctx.policy_path)
        sessions = await ctx.sessions()
        async with sessions() as session:
            result = await run_forecast(session, request, target, datetime.now(UTC))
    except ForecastInputError as err:
        raise inputs.InvalidInput(t(err.key, **err.params)) from None
    if args.csv:
        await asyncio.to_thread(Path(args.csv).write_text, to_csv(result), encoding="utf-8")
    if chart is not None:
        from parcours.application.forecast_chart import chart_labels, save

        labels = chart_labels(t, result)
        await asyncio.to_thread(save, result, chart, labels, lambda v: t.number(round(v)))
    if args.json:
        dump_json(result.to_json(), ctx.out)
        return 0
    print_forecast(result, ctx)
    return 0


def _source(t: Catalog, i: Input) -> str:
    text = t(f"forecast.source.{i.source}")
    return (
        t("forecast.source_basis", source=text, basis=t(f"forecast.basis.{i.basis}"))
        if (i.basis in ("region", "province"))
        else text
    )


def print_forecast(f: Forecast, ctx: Context) -> None:
    t = ctx.t
    inp = f.inputs
    region = region_name(f.request.region) if f.request.region else t("forecast.all_regions")
    ctx.print(
        t(
            "forecast.heading",
            region=region,
            months=f.request.months,
            runs=f.request.runs,
            seed=f.request.seed,
        )  # fmt: skip
    )
    lines = [
        (t("forecast.input.intake"), t.number(inp["intake_per_year"].value),
         inp["intake_per_year"]),
        (t("forecast.input.uptake"), t.percent(inp["uptake"].value, digits=1), inp["uptake"]),
        *(
            (t("forecast.input.stage_months", stage=t(f"stage.{s}")),
             t.number(inp["stage_months"][s].value, digits=1), inp["stage_months"][s])
            for s in STAGE_NAMES
        ),
        *(
            (t("forecast.input.leave_share", stage=t(f"stage.{s}")),
             t.percent(inp["leave_share"][s].value, digits=1), inp["leave_share"][s])
            for s in STAGE_NAMES
        ),
        (t("forecast.input.officers"), t.number(inp["officers"].value), inp["officers"]),
        (t("forecast.input.target"), t.number(inp["target_caseload"].value),
         inp["target_caseload"]),
        (t("forecast.input.open_cases"), t.number(inp["open_cases"].value), inp["open_cases"]),
    ]  # fmt: skip
    ctx.print(t("forecast.inputs"))
    width = max(len(label) for label, _, _ in lines)
    for label, value, i in lines:
        ctx.print(f"  {label.ljust(width)}  {value} ({_source(t, i)})")
    ctx.print("")
    table(
        [
            t("forecast.col.month").upper(),
            t("forecast.col.open_p10").upper(),
            t("forecast.col.open_p50").upper(),
            t("forecast.col.open_p90").upper(),
            *[t(f"stage.{s}").upper() for s in STAGE_NAMES],
            t("forecast.col.per_officer").upper(),
            t("forecast.col.officers_needed").upper(),
        ],
        [
            [
                m.month,
                t.number(round(m.open_p10)),
                t.number(round(m.open_p50)),
                t.number(round(m.open_p90)),
                *[t.number(round(m.by_stage[s]["p50"])) for s in STAGE_NAMES],
                "—" if m.per_officer_p50 is None else t.number(m.per_officer_p50, digits=1),
                t.number(m.officers_needed_p50),
            ]
            for m in f.months
        ],
        ctx.out,
        t,
    )
    ctx.print("")
    if f.first_month_over_target is None:
        ctx.print(t("forecast.never_over", target=f.target_caseload, months=f.request.months))
    else:
        ctx.print(t("forecast.first_over", target=f.target_caseload,
                    month=f.first_month_over_target))  # fmt: skip
