"""`parcours partners add|list|update|deactivate`: the referral directory in the read model
(issue 16). A deactivated partner stays listed (with --all) for the referrals that name it, and
no new referral may name it."""

from __future__ import annotations

import argparse
from typing import Any

from parcours.infrastructure.catalog import Catalog
from parcours.interfaces.cli.common import Context, add_json_flag
from parcours.interfaces.cli.output import dump_json, table
from parcours.kernel import inputs


def register(sub: argparse._SubParsersAction[Any], t: Catalog) -> None:
    partners = sub.add_parser(
        "partners", help=t("cli.cmd.partners.help"), description=t("cli.cmd.partners.description")
    )
    actions = partners.add_subparsers(dest="action", metavar=t("cli.metavar.action"), required=True)

    def action(name: str) -> Any:
        key = f"cli.cmd.partners_{name}.help"
        return actions.add_parser(name, help=t(key), description=t(key))

    def contact(p: Any, required: bool) -> None:
        p.add_argument("--name", required=required, help=t("cli.opt.partner_name"))
        p.add_argument("--region", required=required, help=t("cli.opt.partner_region"))
        p.add_argument(
            "--services", required=required, metavar="S[,S]", help=t("cli.opt.partner_services")
        )
        p.add_argument("--email", help=t("cli.opt.partner_email"))
        p.add_argument("--phone", help=t("cli.opt.partner_phone"))
        p.add_argument("--url", help=t("cli.opt.partner_url"))
        add_json_flag(p)

    p = action("add")
    p.add_argument("--id", required=True, help=t("cli.opt.partner_id"))
    contact(p, required=True)
    p.set_defaults(handler=add)

    p = action("list")
    p.add_argument("--region", help=t("cli.opt.only_region"))
    p.add_argument("--service", help=t("cli.opt.partner_service"))
    p.add_argument("--all", action="store_true", help=t("cli.opt.partner_all"))
    add_json_flag(p)
    p.set_defaults(handler=list_)

    p = action("update")
    p.add_argument("partner_id", metavar="ID", help=t("cli.opt.partner_id"))
    contact(p, required=False)
    p.add_argument("--activate", action="store_true", help=t("cli.opt.partner_activate"))
    p.set_defaults(handler=update)

    p = action("deactivate")
    p.add_argument("partner_id", metavar="ID", help=t("cli.opt.partner_id"))
    add_json_flag(p)
    p.set_defaults(handler=deactivate)


def _said(ctx: Context, key: str, payload: dict[str, object], as_json: bool) -> int:
    if as_json:
        dump_json(payload, ctx.out)
    else:
        ctx.print(ctx.t(key, partner=payload["id"], region=payload["region"]))
    return 0


async def add(args: argparse.Namespace, ctx: Context) -> int:
    from parcours.infrastructure.store.partners import NewPartner, add_partner

    new = NewPartner(
        id=args.id,
        name=args.name,
        region=args.region,
        services=args.services,
        email=args.email or "",
        phone=args.phone or "",
        url=args.url or "",
    )
    sessions = await ctx.sessions()
    async with sessions() as session, session.begin():
        payload = (await add_partner(session, new)).to_json()
    return _said(ctx, "cli.partners.added", payload, args.json)


async def update(args: argparse.Namespace, ctx: Context) -> int:
    from parcours.infrastructure.store.partners import update_partner

    sessions = await ctx.sessions()
    async with sessions() as session, session.begin():
        partner = await update_partner(
            session,
            args.partner_id,
            name=args.name,
            region=args.region,
            services=args.services,
            email=args.email,
            phone=args.phone,
            url=args.url,
            active=True if args.activate else None,
        )
        payload = partner.to_json()
    return _said(ctx, "cli.partners.updated", payload, args.json)


async def deactivate(args: argparse.Namespace, ctx: Context) -> int:
    from parcours.infrastructure.store.partners import update_partner

    sessions = await ctx.sessions()
    async with sessions() as session, session.begin():
        payload = (await update_partner(session, args.partner_id, active=False)).to_json()
    return _said(ctx, "cli.partners.deactivated", payload, args.json)


async def list_(args: argparse.Namespace, ctx: Context) -> int:
    from parcours.infrastructure.store.partners import list_partners, parse_services

    region = inputs.region(args.region) if args.region else None
    service = parse_services(args.service)[0] if args.service else None
    sessions = await ctx.sessions()
    async with sessions() as session:
        partners = await list_partners(
            session, region=region, service=service, active_only=not args.all
        )
    if args.json:
        dump_json([p.to_json() for p in partners], ctx.out)
        return 0
    t = ctx.t
    if not partners:
        ctx.print(t("cli.partners.none"))
        return 0
    table(
        [
            "ID",
            t("cli.col.name"),
            t("cli.col.region"),
            t("cli.col.services"),
            t("cli.col.active"),
            t("cli.col.contact"),
        ],
        [
            [
                p.id,
                p.name,
                p.region,
                ",".join(t(f"partner_service.{s}") for s in p.service_list),
                p.active,
                " ".join(x for x in (p.phone, p.email, p.url) if x) or "-",
            ]
            for p in partners
        ],
        ctx.out,
        t,
    )
    return 0
