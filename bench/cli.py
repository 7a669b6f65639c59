"""`python -m bench [--quick|--smoke] [--scenarios ...] [--json]`."""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace

from bench.report import Report, code_version, machine, text_table, write
from bench.scenarios.cli import run_cli
from bench.scenarios.common import Run
from bench.scenarios.departure import run_departure
from bench.scenarios.history import run_history
from bench.scenarios.intake import run_intake, warm_up
from bench.scenarios.latency import run_idle
from bench.scenarios.scale import run_scale
from bench.scenarios.storm import run_storm
from bench.sizes import FULL, QUICK, SMOKE, Sizes
from bench.stack import DEFAULT_PRAGMAS, StackOptions, running_stack
from parcours.infrastructure.config import ConfigError, Settings

# In this order: latency "during intake" runs inside intake; idle latency right after it,
# then the CLI's start-up while the stack is still quiet, the storm before scale (its
# escalated cases give `stuck` something to find), scale last.
SCENARIOS: dict[str, Callable[[Run], Awaitable[None]]] = {
    "intake": run_intake,
    "latency": run_idle,
    "cli": run_cli,
    "storm": run_storm,
    "history": run_history,
    # Before scale: its top-up (M open cases) is small beside scale's.
    "departure": run_departure,
    "scale": run_scale,
}


def _at_least_zero(kind: type[int] | type[float]) -> Callable[[str], float]:
    def convert(raw: str) -> float:
        try:
            value = kind(raw)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{raw!r} is not a number") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{raw!r} is not a finite number")
        if value < 0:
            raise argparse.ArgumentTypeError(f"{raw} is negative")
        return value

    return convert


def _at_least_one(raw: str) -> int:
    try:
        n = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {raw!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {n}")
    return n


def _setting(raw: str) -> tuple[str, str]:
    """One K=V of --worker-env / --cli-env."""
    key, eq, value = raw.partition("=")
    if not eq or not key:
        raise argparse.ArgumentTypeError(f"expected K=V, got {raw!r}")
    return key, value


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="scaled down, under 3 minutes")
    size.add_argument("--smoke", action="store_true", help="tiny counts: checks the harness")
    p.add_argument(
        "--scenarios", nargs="+", choices=list(SCENARIOS), default=list(SCENARIOS), metavar="S"
    )
    p.add_argument(
        "--open-cases",
        nargs="+",
        type=_at_least_zero(int),
        metavar="N",
        help="scale checkpoints of open cases, in turn (default: the size's, e.g. 50000 100000)",
    )
    p.add_argument(
        "--scale-budget",
        type=_at_least_zero(float),
        metavar="S",
        help="seconds allowed for filling up to the checkpoints; beyond it, measure and "
        "extrapolate (default: the size's)",
    )
    p.add_argument(
        "--departure",
        nargs=2,
        type=_at_least_zero(int),
        metavar=("N", "M"),
        help="the departure scenario: the leaving officer holds N of M open cases "
        "(default: the size's, 1000 of 20000 in full)",
    )
    p.add_argument(
        "--intake",
        type=_at_least_zero(int),
        metavar="N",
        help="approvals the intake scenario imports (default: the size's, 10000 in full); "
        "another count than the full run's is reported as scaled down",
    )
    p.add_argument(
        "--officer-pause",
        type=_at_least_zero(float),
        default=0.0,
        metavar="S",
        help="seconds an officer waits between filing a plan and approving the stage in "
        "scenario 4 (default 0: at once, as the issue's target was measured; a person takes "
        "seconds, so with a pause the timed approval no longer meets the plan's effects)",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument(
        "--pragma",
        action="append",
        metavar="P",
        help=f"dev server SQLite pragma (default: {' '.join(DEFAULT_PRAGMAS)}; 'none' for none)",
    )
    p.add_argument(
        "--worker-env",
        action="append",
        type=_setting,
        default=[],
        metavar="K=V",
        help="environment for the product's worker, e.g. PARCOURS_WORKER_CACHE=500",
    )
    p.add_argument(
        "--cli-env",
        action="append",
        type=_setting,
        default=[],
        metavar="K=V",
        help="environment for the CLI commands the scenarios run, e.g. PARCOURS_INTAKE_PACING=0",
    )
    p.add_argument(
        "--workers",
        type=_at_least_one,
        default=1,
        metavar="N",
        help="worker processes on each queue, the product's and the baseline's alike, as "
        "`docker compose up --scale worker=N` runs them (default 1); CPU and memory are "
        "reported summed over them",
    )
    p.add_argument("--no-write", action="store_true", help="do not write bench/results/")
    p.add_argument("--keep", action="store_true", help="keep the run's temp dir (logs)")
    args = p.parse_args(argv)
    args.worker_env, args.cli_env = dict(args.worker_env), dict(args.cli_env)
    try:  # a bad worker setting: one line, before any server starts
        worker_settings(args.worker_env)
    except ConfigError as err:
        p.error(f"--worker-env: {err}")
    return args


def sizes_for(args: argparse.Namespace) -> Sizes:
    """The run's size, with the scale checkpoints and budget the command line overrides."""
    sizes = SMOKE if args.smoke else QUICK if args.quick else FULL
    if args.open_cases:
        sizes = replace(sizes, open_cases=tuple(args.open_cases))
    if args.scale_budget is not None:
        sizes = replace(sizes, scale_budget_s=args.scale_budget)
    if args.intake is not None and args.intake != sizes.intake:
        sizes = replace(sizes, intake=args.intake, scaled_down=True)
    if args.departure:
        held, total = (int(v) for v in args.departure)
        sizes = replace(sizes, departure_held=held, departure_open=total)
    return sizes


def worker_settings(worker_env: dict[str, str]) -> dict[str, object]:
    """The worker's tuning as it will read it: this environment, `--worker-env` on top."""
    s = Settings.from_env({**os.environ, **worker_env})
    return {
        "cache": s.worker_cache,
        "gc_young": s.worker_gc_young,
        "workflow_tasks": s.worker_workflow_tasks,
        "activities": s.worker_activities,
        "sandbox": s.workflow_sandbox,
    }


async def amain(args: argparse.Namespace) -> Report:
    sizes = sizes_for(args)
    pragmas = DEFAULT_PRAGMAS
    if args.pragma:
        pragmas = tuple(p for p in args.pragma if p != "none")
    worker_env, cli_env = args.worker_env, args.cli_env
    report = Report(
        size=sizes.name,
        scaled_down=sizes.scaled_down,
        machine=machine(),
        settings={
            "sqlite_pragmas": list(pragmas),
            "worker_env": worker_env,
            "cli_env": cli_env,
            "open_cases": list(sizes.open_cases),
            "scale_budget_s": sizes.scale_budget_s,
            "officer_pause_s": args.officer_pause,
            # What the product's worker ran with, defaults included (cache, collector, slots).
            "worker": worker_settings(worker_env) | {"processes": args.workers},
            "code": code_version(),
        },
    )
    if sizes.scaled_down:
        print(
            f"bench: {sizes.name} run: SCALED DOWN counts (intake {sizes.intake}, storm "
            f"{sizes.storm}, open cases {sizes.open_cases}); targets are judged on the full run",
            file=sys.stderr,
        )
    t0 = time.perf_counter()
    async with running_stack(
        StackOptions(
            pragmas=pragmas,
            worker_env=worker_env,
            cli_env=cli_env,
            keep=args.keep,
            workers=args.workers,
        )
    ) as stack:
        run = Run(stack, sizes, report, [], [], officer_pause=args.officer_pause)
        await warm_up(run)
        for name, scenario in SCENARIOS.items():
            if name in args.scenarios:
                await scenario(run)
        if args.keep:
            run.say(f"logs kept in {stack.dir}")
    report.duration_s = time.perf_counter() - t0
    return report


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    report = asyncio.run(amain(args))
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print(text_table(report))
    if not args.no_write:
        json_path, md_path = write(report)
        print(f"bench: wrote {json_path} and {md_path}", file=sys.stderr)
