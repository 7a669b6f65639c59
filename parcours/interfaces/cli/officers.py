"""`parcours officers add|list|update|leave|deactivate`: the roster in the read model.

Every change is audited (`roster_changes`). A new region or role waits until the officer's
open cases are handed over; a leave makes new cases skip the officer and sends their stall
reminders to the backup (else the region's supervisors) on its days, and ends by itself."""

from __future__ import annotations

import argparse
from typing import Any

from parcours.infrastructure.catalog import Catalog
from parcours.interfaces.cli.batches import register_deactivate
from parcours.interfaces.cli.common import Context, add_json_flag
from parcours.interfaces.cli.output import dump_json, table
from parcours.kernel import inputs
from parcours.kernel.authz import ProgrammeAction
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

    p = actions.add_parser(
        "update",
        help=t("cli.cmd.officers_update.help"),
        description=t("cli.cmd.officers_update.description"),
    )
    p.add_argument("officer_id", metavar="ID", help=t("cli.opt.officer_id"))
    p.add_argument("--name", help=t("cli.opt.officer_name"))
    p.add_argument("--email", help=t("cli.opt.officer_email"))
    p.add_argument("--languages", help=t("cli.opt.officer_languages_new"))
    p.add_argument("--region", help=t("cli.opt.officer_region_new"))
    p.add_argument("--role", help=t("cli.opt.officer_role_new"))
    p.add_argument("--by", metavar="OFFICER", help=t("cli.opt.roster_by"))
    add_json_flag(p)
    p.set_defaults(handler=update)

    p = actions.add_parser(
        "leave",
        help=t("cli.cmd.officers_leave.help"),
        description=t("cli.cmd.officers_leave.description"),
    )
    p.add_argument("officer_id", metavar="ID", help=t("cli.opt.officer_id"))
    p.add_argument(
        "--from", dest="leave_from", metavar=t("cli.metavar.date"), help=t("cli.opt.leave_from")
    )
    p.add_argument(
        "--to", dest="leave_to", metavar=t("cli.metavar.date"), help=t("cli.opt.leave_to")
    )
    p.add_argument("--backup", metavar="OFFICER", help=t("cli.opt.leave_backup"))
    p.add_argument("--cancel", action="store_true", help=t("cli.opt.leave_cancel"))
    p.add_argument("--by", metavar="OFFICER", help=t("cli.opt.roster_by"))
    add_json_flag(p)
    p.set_defaults(handler=leave)

    register_deactivate(actions, t)


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
    await _wake(ctx, payload)
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


async def _wake(ctx: Context, officer: dict[str, Any]) -> None:
    """After a change that may let an officer take cases (added, updated, back from leave):
    the open unassigned cases of their region look again for an officer (issue 17,
    parcours/application/roster.py). Temporal is reached only when there are such cases; the
    change itself is already committed, so a failure here is a note, not an error."""
    from parcours.application.roster import region_to_wake, wake_unassigned

    sessions = await ctx.sessions()
    found = await region_to_wake(sessions, str(officer["id"]))
    if found is None:
        return
    region, waiting = found
    try:
        told = await wake_unassigned(await ctx.client(), sessions, region)
    except Exception as err:  # the roster change stands; the cases can be told again later
        ctx.note(ctx.t("cli.officers.wake_failed", count=waiting, reason=type(err).__name__))
        return
    ctx.note(ctx.t("cli.officers.woke", count=told, region=region))


async def _by(
    args: argparse.Namespace, ctx: Context, action: ProgrammeAction, officer_id: str
) -> str:
    """Who makes the change, for the roster's audit: `--by`, else the operator's tool ("cli":
    whoever holds the database's credentials). A `--by` is checked as the console checks its
    person (the programme table, and a supervisor manages their officers' leaves only): the
    audit never names someone for a change they could not have made."""
    from parcours.application.roster import roster_change_refused
    from parcours.infrastructure.store.officers import known_officer
    from parcours.kernel.errors import ParcoursError

    if not args.by:
        return "cli"
    actor = await ctx.actor(args.by)
    sessions = await ctx.sessions()
    async with sessions() as session:
        officer = await known_officer(session, officer_id)
    refused = roster_change_refused(action, actor, officer.region, officer.role)
    if refused is not None:
        raise ParcoursError(str(refused), refusal=refused)
    return actor.officer_id


async def update(args: argparse.Namespace, ctx: Context) -> int:
    from parcours.infrastructure.store.officers import update_officer

    officer_id = inputs.officer_id(args.officer_id, "ID")
    by = await _by(args, ctx, ProgrammeAction.ROSTER, officer_id)
    sessions = await ctx.sessions()
    async with sessions() as session, session.begin():
        officer = await update_officer(
            session,
            officer_id,
            name=args.name,
            email=args.email,
            languages=args.languages,
            region=args.region,
            role=args.role,
            actor=by,
        )
        payload = officer.to_json()
    await _wake(ctx, payload)
    if args.json:
        dump_json(payload, ctx.out)
    else:
        ctx.print(ctx.t("cli.officers.updated", officer=payload["id"]))
    return 0


async def leave(args: argparse.Namespace, ctx: Context) -> int:
    from datetime import date

    from parcours.infrastructure.store.officers import cancel_leave, set_leave
    from parcours.kernel.errors import ParcoursError
    from parcours.kernel.messages import Message

    officer_id = inputs.officer_id(args.officer_id, "ID")
    if args.cancel:
        if args.leave_from or args.leave_to or args.backup:
            raise ParcoursError("--cancel alone", refusal=Message.of("leave_cancel_alone"))
    elif not (args.leave_from and args.leave_to):
        raise ParcoursError("--from and --to", refusal=Message.of("leave_dates_required"))
    by = await _by(args, ctx, ProgrammeAction.LEAVE, officer_id)
    sessions = await ctx.sessions()
    async with sessions() as session, session.begin():
        if args.cancel:
            officer = await cancel_leave(session, officer_id, actor=by)
        else:
            officer = await set_leave(
                session,
                officer_id,
                date.fromisoformat(inputs.iso_date(args.leave_from, "--from")),
                date.fromisoformat(inputs.iso_date(args.leave_to, "--to")),
                inputs.officer_id(args.backup, "--backup") if args.backup else None,
                actor=by,
            )
        payload = officer.to_json()
    # A cancelled leave, or one that does not cover today, makes the officer available now.
    await _wake(ctx, payload)
    if args.json:
        dump_json(payload, ctx.out)
    elif args.cancel:
        ctx.print(ctx.t("cli.officers.leave_cancelled", officer=officer_id))
    else:
        ctx.print(
            ctx.t(
                "cli.officers.on_leave",
                officer=officer_id,
                start=args.leave_from,
                end=args.leave_to,
                backup=args.backup or ctx.t("cli.officers.backup_supervisors"),
            )
        )
    return 0


def _leave(t: Catalog, leave: Any) -> str:
    if not leave:
        return "-"
    return t(
        "cli.officers.leave_cell",
        start=leave["from"],
        end=leave["to"],
        backup=leave["backup"] or t("cli.officers.backup_supervisors"),
    )


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
            t("cli.col.leave"),
            t("cli.col.email"),
        ],
        [
            [
                o.id,
                o.name,
                _role(t, o.role),
                o.region,
                o.language_list,
                o.active,
                _leave(t, o.to_json()["leave"]),
                o.email,
            ]
            for o in officers
        ],
        ctx.out,
        t,
    )
    return 0


def _role(t: Catalog, role: str) -> str:
    key = f"role.{role}"
    return t(key) if t.has(key) else role
