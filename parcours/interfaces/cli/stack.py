"""`parcours dev` (the whole local stack) and `parcours worker` (a worker only)."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
from pathlib import Path
from typing import Any

from parcours.infrastructure.catalog import Catalog
from parcours.infrastructure.config import DEFAULT_DATA_DIR, Settings
from parcours.interfaces.cli.common import Context, add_policy_flag, tcp_port


def register(sub: argparse._SubParsersAction[Any], t: Catalog) -> None:
    p = sub.add_parser("dev", help=t("cli.cmd.dev.help"), description=t("cli.cmd.dev.description"))
    p.add_argument(
        "--data-dir",
        default=DEFAULT_DATA_DIR,
        metavar="DIR",
        help=t("cli.opt.data_dir", default=DEFAULT_DATA_DIR),
    )
    p.add_argument("--temporal-port", type=tcp_port, default=7233, help=t("cli.opt.temporal_port"))
    p.add_argument("--ui-port", type=tcp_port, default=8233, help=t("cli.opt.ui_port"))
    p.add_argument("--smtp-port", type=tcp_port, default=1025, help=t("cli.opt.smtp_port"))
    p.add_argument("--web-port", type=tcp_port, default=None, help=t("cli.opt.web_port"))
    add_policy_flag(p)
    p.set_defaults(handler=dev)

    p = sub.add_parser(
        "worker",
        help=t("cli.cmd.worker.help"),
        description=t("cli.cmd.worker.description", cache=Settings.worker_cache),
    )
    add_policy_flag(p)
    p.set_defaults(handler=worker)


async def dev(args: argparse.Namespace, ctx: Context) -> int:
    # Imported here: the stack pulls in the worker, the workflow and the mail code, which
    # the other commands do not need.
    from parcours.application.lifecycle import configure_logging
    from parcours.interfaces.devstack import DevOptions, run_dev

    configure_logging()
    opts = DevOptions(
        data_dir=Path(args.data_dir),
        policy=ctx.policy_path,
        temporal_port=args.temporal_port,
        ui_port=args.ui_port,
        smtp_port=args.smtp_port,
        web_port=args.web_port,
    )
    await run_dev(opts, ctx.settings, ctx.out, ctx.t)
    return 0


async def worker(args: argparse.Namespace, ctx: Context) -> int:
    from parcours.application.lifecycle import configure_logging, install_stop_handlers
    from parcours.infrastructure.worker import serve

    configure_logging()
    settings = ctx.settings
    if ctx.policy_path:
        settings = dataclasses.replace(settings, policy_path=ctx.policy_path)
    stop = asyncio.Event()
    install_stop_handlers(stop)
    await serve(settings, stop)
    return 0
