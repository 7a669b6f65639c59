"""`parcours item DOSSIER ITEM-ID --status S [--partner P] --by O [--reason R]`: a plan item
moves (issue 16). A referral names a partner of the directory (`parcours partners`), whose
contact details go to the newcomer in their referral email; the workflow never reads the
directory, so the CLI hands it the entry as it is now."""

from __future__ import annotations

import argparse
from typing import Any

from parcours.infrastructure.catalog import Catalog
from parcours.interfaces.cli.common import Context, add_by_flag, add_json_flag
from parcours.kernel import inputs
from parcours.kernel.domain import ItemStatus, ItemUpdate

# What an item can be moved to (planned is where it starts).
MOVES = [s.value for s in ItemStatus if s != ItemStatus.PLANNED]


def register(sub: argparse._SubParsersAction[Any], t: Catalog) -> None:
    p = sub.add_parser(
        "item", help=t("cli.cmd.item.help"), description=t("cli.cmd.item.description")
    )
    p.add_argument("dossier", metavar="DOSSIER", help=t("cli.opt.dossier"))
    p.add_argument("item_id", metavar="ITEM-ID", help=t("cli.opt.item_id"))
    p.add_argument("--status", required=True, choices=MOVES, help=t("cli.opt.item_status"))
    p.add_argument("--partner", metavar="ID", help=t("cli.opt.item_partner"))
    add_by_flag(p, "cli.opt.by_case_actor")
    p.add_argument("--reason", default="", help=t("cli.opt.item_reason"))
    add_json_flag(p)
    p.set_defaults(handler=item)


async def item(args: argparse.Namespace, ctx: Context) -> int:
    from parcours.interfaces.cli.casework import _act

    inputs.dossier(args.dossier)
    reason = inputs.clean(args.reason).strip()
    if reason:
        reason = inputs.text(reason, "--reason")
    actor = await ctx.actor(args.by)
    partner = None
    if args.partner:
        from parcours.infrastructure.store.partners import referral_partner

        sessions = await ctx.sessions()
        async with sessions() as session:
            partner = await referral_partner(session, args.partner.strip())
    arg = ItemUpdate(
        actor=actor,
        item_id=args.item_id.strip(),
        status=ItemStatus(args.status),
        partner_id=partner.partner_id if partner else None,
        partner=partner,
        reason=reason,
    )
    return await _act(ctx, args, "update_item", arg)
