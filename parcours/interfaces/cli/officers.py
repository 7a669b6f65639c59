"""`parcours officers add|list`: the roster in the read model."""

from __future__ import annotations

import argparse
from typing import Any

from parcours.interfaces.cli.common import Context, add_json_flag
from parcours.interfaces.cli.output import dump_json, table
from parcours.kernel import inputs
from parcours.kernel.domain import Role
from parcours.kernel.errors import ParcoursError


def register(sub: argparse._SubParsersAction[Any]) -> None:
    officers = sub.add_parser(
        "officers",
        help="manage the roster of officers, supervisors and directors",
        description="The roster: who may act on cases, and whom cases are assigned to.",
    )
    actions = officers.add_subparsers(dest="action", metavar="ACTION", required=True)

    p = actions.add_parser(
        "add",
        help="add an officer, supervisor or director",
        description="Add a person to the roster (id: lowercase letters, digits, '.', '_', '-').",
    )
    p.add_argument("--id", required=True, help="officer id, e.g. atremblay")
    p.add_argument("--name", required=True, help="full name")
    p.add_argument("--email", required=True, help="email address (reminders go there)")
    p.add_argument("--region", required=True, help="region slug, e.g. montreal")
    p.add_argument(
        "--languages",
        default="fr",
        help="spoken languages, ISO 639-1, comma-separated (default fr)",
    )
    p.add_argument(
        "--role",
        default=Role.OFFICER.value,
        help="officer (default), supervisor or director",
    )
    add_json_flag(p)
    p.set_defaults(handler=add)

    p = actions.add_parser("list", help="list the roster", description="List the roster.")
    p.add_argument("--region", help="only this region")
    add_json_flag(p)
    p.set_defaults(handler=list_)


async def add(args: argparse.Namespace, ctx: Context) -> int:
    from parcours.infrastructure.store.officers import NewOfficer, OfficerError, add_officer

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
        try:
            officer = await add_officer(session, new)
        except OfficerError as err:
            raise ParcoursError(str(err)) from None
        payload = officer.to_json()
    if args.json:
        dump_json(payload, ctx.out)
    else:
        ctx.print(f"officer {payload['id']} added ({payload['role']}, {payload['region']})")
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
    table(
        ["ID", "NAME", "ROLE", "REGION", "LANGUAGES", "ACTIVE", "EMAIL"],
        [[o.id, o.name, o.role, o.region, o.language_list, o.active, o.email] for o in officers],
        ctx.out,
    )
    return 0
