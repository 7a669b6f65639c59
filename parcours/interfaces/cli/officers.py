"""`parcours officers add|list`: the roster in the read model."""

from __future__ import annotations

import argparse
from typing import Any

from parcours.infrastructure.catalog import Catalog
from parcours.interfaces.cli.common import Context, add_json_flag
from parcours.interfaces.cli.output import dump_json, table
from parcours.kernel import inputs
from parcours.kernel.domain import Role


def register(sub: argparse._SubParsersAction[Any], t: Catalog) -> None:
    officers = sub.add_parser(
        "officers",
        help=t("cli.cmd.officers.help"),
        description=t("cli.cmd.officers.description"),
    )
    actions = officers.add_subparsers(dest="action", metavar=t("cli.metavar.action"), required=True)

    p = actions.add_parser(
        "add",
        help=t("cli.cmd.officers_add.help"),
        description=t("cli.cmd.officers_add.description"),
    )
    p.add_argument("--id", required=True, help=t("cli.opt.officer_id"))
    p.add_argument("--name", required=True, help=t("cli.opt.officer_name"))
    p.add_argument("--email", required=True, help=t("cli.opt.officer_email"))
    p.add_argument("--region", required=True, help=t("cli.opt.officer_region"))
    p.add_argument("--languages", default="fr", help=t("cli.opt.officer_languages"))
    p.add_argument("--role", default=Role.OFFICER.value, help=t("cli.opt.officer_role"))
    add_json_flag(p)
    p.set_defaults(handler=add)

    p = actions.add_parser(
        "list", help=t("cli.cmd.officers_list.help"), description=t("cli.cmd.officers_list.help")
    )
    p.add_argument("--region", help=t("cli.opt.only_region"))
    add_json_flag(p)
    p.set_defaults(handler=list_)


async def add(args: argparse.Namespace, ctx: Context) -> int:
    from parcours.infrastructure.store.officers import NewOfficer, add_officer

    new = NewOfficer(
        id=args.id,
        name=args.name,
        email=args.email,
        region=args.region,
        languages=args.languages,
        role=args.role,
    )
    sessions = await ctx.sessions()
    async with sessions() as session, session.begin():
        officer = await add_officer(session, new)
        payload = officer.to_json()
    if args.json:
        dump_json(payload, ctx.out)
    else:
        role = f"role.{payload['role']}"
        ctx.print(
            ctx.t(
                "cli.officers.added",
                officer=payload["id"],
                role=ctx.t(role) if ctx.t.has(role) else payload["role"],
                region=payload["region"],
            )
        )
    return 0


async def list_(args: argparse.Namespace, ctx: Context) -> int:
    from parcours.infrastructure.store.officers import list_officers

    region = inputs.region(args.region) if args.region else None
    sessions = await ctx.sessions()
    async with sessions() as session:
        officers = await list_officers(session, region=region)
    if args.json:
        dump_json([o.to_json() for o in officers], ctx.out)
        return 0
    t = ctx.t
    table(
        [
            "ID",
            t("cli.col.name"),
            t("cli.col.role"),
            t("cli.col.region"),
            t("cli.col.languages"),
            t("cli.col.active"),
            t("cli.col.email"),
        ],
        [
            [o.id, o.name, _role(t, o.role), o.region, o.language_list, o.active, o.email]
            for o in officers
        ],
        ctx.out,
        t,
    )
    return 0


def _role(t: Catalog, role: str) -> str:
    key = f"role.{role}"
    return t(key) if t.has(key) else role
