"""Closing and coming back (issue 16): `parcours decline` and `parcours reopen`.

`decline` closes a case as declined: the newcomer does not want the services (before the plan
is filed; the workflow says so otherwise). `greet --declined` is something else: it records
only that the airport greeting was refused. `reopen` brings a declined or withdrawn case back
under the same dossier number, at arrival's first meeting (parcours/application/reopening.py).
As everywhere in the CLI, `--by` names the person acting; the workflow checks the table.
"""

from __future__ import annotations

import argparse
from typing import Any

from parcours.infrastructure.catalog import Catalog
from parcours.interfaces.cli.common import Context, Parser, add_by_flag, add_json_flag
from parcours.kernel import inputs
from parcours.kernel.domain import Decline, ReasonCategory


def register(sub: argparse._SubParsersAction[Any], t: Catalog) -> None:
    def command(name: str) -> Parser:
        p: Parser = sub.add_parser(
            name, help=t(f"cli.cmd.{name}.help"), description=t(f"cli.cmd.{name}.description")
        )
        p.add_argument("dossier", metavar="DOSSIER", help=p.t("cli.opt.dossier"))
        add_json_flag(p)
        return p

    p = command("decline")
    add_by_flag(p, "cli.opt.by_decline")
    p.add_argument(
        "--reason-category",
        required=True,
        choices=[r.value for r in ReasonCategory],
        help=t("cli.opt.reason_category"),
    )
    p.add_argument("--note", default="", help=t("cli.opt.note_decline"))
    p.set_defaults(handler=decline)

    p = command("reopen")
    add_by_flag(p, "cli.opt.by_reopen")
    p.add_argument("--note", default="", help=t("cli.opt.note_reopen"))
    p.set_defaults(handler=reopen)


def _note(value: str) -> str:
    note = inputs.clean(value).strip()
    return inputs.text(note, "--note") if note else ""


async def decline(args: argparse.Namespace, ctx: Context) -> int:
    from parcours.interfaces.cli.casework import _act

    inputs.dossier(args.dossier)
    note = _note(args.note)
    actor = await ctx.actor(args.by)
    arg = Decline(actor=actor, reason_category=ReasonCategory(args.reason_category), note=note)
    return await _act(ctx, args, "decline", arg)


async def reopen(args: argparse.Namespace, ctx: Context) -> int:
    from parcours.application.reopening import reopen as reopen_case
    from parcours.infrastructure.temporal import resolve_dossier
    from parcours.interfaces.cli.casework import show

    inputs.dossier(args.dossier)
    note = _note(args.note)
    actor = await ctx.actor(args.by)
    client = await ctx.client()
    dossier = await resolve_dossier(client, args.dossier)
    view = await reopen_case(client, ctx.settings, await ctx.sessions(), dossier, actor, note)
    show(ctx, view, args.json)
    return 0
