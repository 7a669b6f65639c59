"""Officer and supervisor actions on one case, and `parcours status`.

Each action resolves the person from the roster first (an unknown id fails before Temporal is
contacted), reads the case and checks the authorization table (parcours/kernel/authz.py) so that a
refusal comes early, then runs one signed workflow update. The workflow's validators are the
judge: they check the same table again and their refusal is the error line.

The acting person is `--by` in every command that acts on a case, and the new officer of
`reassign` and `transfer` is `--to`. (Until the next release, `--officer` is still read, with
a deprecation line: as `--to` in those two, as `--by` everywhere else.)

The CLI is a trusted administrative tool for whoever holds the keys on a staff host: `--by`
names the person acting, it does not authenticate them (README "Security model"). Officers
work in the console, which authenticates them.
"""

from __future__ import annotations

import argparse
from typing import Any

from parcours.infrastructure.catalog import Catalog
from parcours.interfaces.cli.common import Context, Parser, add_by_flag, add_json_flag
from parcours.interfaces.cli.output import day, dump_json, fields, table, zone
from parcours.kernel import authz, inputs
from parcours.kernel.domain import (
    Actor,
    CaseView,
    GreetingOutcome,
    GreetingReport,
    PauseRequest,
    PlanFiling,
    ProgressNote,
    Reassignment,
    ResumeRequest,
    StageApproval,
    StageWaiver,
    Transfer,
    Withdrawal,
    WithdrawalReason,
    region_name,
)
from parcours.kernel.errors import ParcoursError


def _case(p: Parser) -> None:
    p.add_argument("dossier", metavar="DOSSIER", help=p.t("cli.opt.dossier"))
    add_json_flag(p)


def register(sub: argparse._SubParsersAction[Any], t: Catalog) -> None:
    # Deprecated for one release: the acting person was --officer in these commands.
    acting_alias = {"--officer": "--by"}
    # ... and the new officer was --officer in reassign and transfer.
    target_alias = {"--officer": "--to"}

    def command(name: str, aliases: dict[str, str] | None = None) -> Parser:
        key = name.replace("-", "_")
        p: Parser = sub.add_parser(
            name,
            help=t(f"cli.cmd.{key}.help"),
            description=t(f"cli.cmd.{key}.description"),
            deprecated=aliases or {},
        )
        _case(p)
        return p

    p = command("status")
    p.set_defaults(handler=status)

    p = command("greet", acting_alias)
    add_by_flag(p, "cli.opt.by_recorder")
    outcome = p.add_mutually_exclusive_group()
    outcome.add_argument("--declined", action="store_true", help=t("cli.opt.declined"))
    outcome.add_argument("--no-show", action="store_true", help=t("cli.opt.no_show"))
    p.set_defaults(handler=greet)

    p = command("plan", acting_alias)
    add_by_flag(p, "cli.opt.by_assigned")
    p.add_argument(
        "--item",
        required=True,
        action="append",
        metavar=t("cli.metavar.plan_item"),
        help=t("cli.opt.item"),
    )
    how = p.add_mutually_exclusive_group()
    how.add_argument("--add", action="store_true", help=t("cli.opt.plan_add"))
    how.add_argument("--replace", action="store_true", help=t("cli.opt.plan_replace"))
    p.set_defaults(handler=plan)

    p = command("progress", acting_alias)
    add_by_flag(p, "cli.opt.by_officer")
    p.add_argument("--note", required=True, help=t("cli.opt.note_progress"))
    p.set_defaults(handler=progress)

    p = command("complete-stage", acting_alias)
    p.add_argument("--stage", required=True, help=t("cli.opt.stage_approved"))
    add_by_flag(p, "cli.opt.by_approver")
    p.add_argument("--note", default="", help=t("cli.opt.note_optional"))
    p.set_defaults(handler=complete_stage)

    p = command("waive")
    p.add_argument("--stage", required=True, help=t("cli.opt.stage_waived"))
    add_by_flag(p, "cli.opt.by_supervisor")
    p.add_argument("--reason", required=True, help=t("cli.opt.reason_waive"))
    p.set_defaults(handler=waive)

    p = command("reassign", target_alias)
    p.add_argument("--to", required=True, metavar="ID", help=t("cli.opt.to"))
    add_by_flag(p, "cli.opt.by_supervisor")
    p.set_defaults(handler=reassign)

    p = command("transfer", target_alias)
    p.add_argument("--region", required=True, help=t("cli.opt.region_new"))
    p.add_argument("--to", metavar="ID", help=t("cli.opt.to_transfer"))
    add_by_flag(p, "cli.opt.by_director")
    p.add_argument("--note", default="", help=t("cli.opt.note_why"))
    p.add_argument("--time-zone", metavar="ZONE", help=t("cli.opt.time_zone_transfer"))
    p.set_defaults(handler=transfer)

    p = command("pause")
    add_by_flag(p, "cli.opt.by_supervisor")
    p.add_argument("--reason", required=True, help=t("cli.opt.reason_pause"))
    p.set_defaults(handler=pause)

    p = command("resume")
    add_by_flag(p, "cli.opt.by_supervisor")
    p.set_defaults(handler=resume)

    p = command("withdraw")
    add_by_flag(p, "cli.opt.by_withdraw")
    p.add_argument(
        "--reason-category",
        required=True,
        choices=[r.value for r in WithdrawalReason],
        help=t("cli.opt.reason_category"),
    )
    p.add_argument(
        "--note", "--reason", dest="note", required=True, help=t("cli.opt.note_withdraw")
    )
    p.set_defaults(handler=withdraw)


# ---------------------------------------------------------------------------------------------


def show(ctx: Context, view: CaseView, as_json: bool, name: str | None = None) -> None:
    """The case; `name`: the newcomer's, when the command read it (`status`)."""
    if as_json:
        dump_json(view.to_json() | ({"name": name} if name is not None else {}), ctx.out)
        return
    t = ctx.t
    named: list[tuple[str, object]] = [] if name is None else [(t("cli.case.name"), name)]
    # Moments in the case's own zone; "due" is a whole local day (the case turns overdue
    # when it has passed).
    tz = zone(view.time_zone)
    fields(
        [
            (t("cli.case.dossier"), view.dossier),
            *named,
            (t("cli.case.status"), view.status),
            (t("cli.case.stage"), view.stage),
            (t("cli.case.officer"), view.officer),
            (t("cli.case.region"), region_name(view.region)),
            (t("cli.case.time_zone"), view.time_zone),
            (t("cli.case.language"), view.language),
            (t("cli.case.arrival"), day(view.arrival_date, t)),
            (t("cli.case.greeting"), view.greeting),
            (t("cli.case.level"), view.escalation_level),
            (t("cli.case.stalled_since"), view.stalled_since),
            (t("cli.case.overdue"), view.overdue),
            (
                t("cli.case.plan_due"),
                day(view.plan_due_on, t) if view.plan_due_on else view.plan_due_at,
            ),
            (t("cli.case.paused_since"), view.paused_at),
            (t("cli.case.closed"), view.closed_at),
        ],
        ctx.out,
        t,
        tz,
    )
    if view.stages:
        ctx.print()
        table(
            [
                t("cli.col.stage"),
                t("cli.col.started"),
                t("cli.col.completed"),
                t("cli.col.approved_by"),
                t("cli.col.waived"),
                t("cli.col.deadline"),
            ],
            [
                [
                    s.stage,
                    s.started_at,
                    s.completed_at,
                    s.approved_by,
                    s.waived,
                    day(s.due_on, t) if s.due_on else s.deadline_at,
                ]
                for s in view.stages
            ],
            ctx.out,
            t,
            tz,
        )
    if view.plan:
        ctx.print()
        table(
            ["ID", t("cli.col.plan"), t("cli.col.item_status"), t("cli.col.action")],
            [[i.id or "-", i.stage, i.status, i.text] for i in view.plan],
            ctx.out,
            t,
        )


async def _act(
    ctx: Context,
    args: argparse.Namespace,
    update: str,
    arg: object,
    current: CaseView | None = None,
) -> int:
    from parcours.infrastructure.temporal import resolve_dossier, update_case

    client = await ctx.client()
    dossier = current.dossier if current else await resolve_dossier(client, args.dossier)
    current = await _checked(ctx, dossier, update, arg, current)
    view = await update_case(client, ctx.settings, dossier, update, arg)
    show(ctx, view, args.json)
    return 0


async def _checked(
    ctx: Context, dossier: str, update: str, arg: object, current: CaseView | None = None
) -> CaseView:
    """The case as it is now, once the authorization table lets `arg`'s actor send `update`."""
    from parcours.infrastructure.temporal import view_case

    current = current or await view_case(await ctx.client(), ctx.settings, dossier)
    refused = authz.early_refusal(update, arg, current.region, current.officer)
    if refused is not None:
        raise ParcoursError(
            ctx.t("cli.error.refused", dossier=dossier, reason=_refusal_text(ctx.t, refused))
        )
    return current


async def status(args: argparse.Namespace, ctx: Context) -> int:
    from parcours.infrastructure.temporal import case_file, resolve_dossier

    inputs.dossier(args.dossier)
    client = await ctx.client()
    dossier = await resolve_dossier(client, args.dossier)
    found = await case_file(client, ctx.settings, dossier)
    show(ctx, found.view, args.json, name=found.state.approval.full_name)
    return 0


async def greet(args: argparse.Namespace, ctx: Context) -> int:
    inputs.dossier(args.dossier)
    outcome = (
        GreetingOutcome.DECLINED
        if args.declined
        else GreetingOutcome.NO_SHOW
        if args.no_show
        else GreetingOutcome.GREETED
    )
    actor = await ctx.actor(args.by)
    return await _act(ctx, args, "record_greeting", GreetingReport(actor=actor, outcome=outcome))


async def plan(args: argparse.Namespace, ctx: Context) -> int:
    """File a plan. On a case that has one, `--add` appends the items to it (read through
    the case's query) and `--replace` files them alone; with neither, nothing is filed: a
    single `--item` used to replace a whole plan without a word."""
    dossier = inputs.dossier(args.dossier)
    items = [inputs.plan_item(i) for i in args.item]
    actor = await ctx.actor(args.by)
    current = await _checked(ctx, dossier, "file_plan", PlanFiling(actor=actor, items=items))
    if current.plan and not (args.add or args.replace):
        raise ParcoursError(ctx.t("cli.error.plan_on_file", dossier=dossier))
    if args.add:
        items = [*current.plan, *items]
    return await _act(ctx, args, "file_plan", PlanFiling(actor=actor, items=items), current)


async def progress(args: argparse.Namespace, ctx: Context) -> int:
    inputs.dossier(args.dossier)
    note = inputs.text(args.note, "--note")
    actor = await ctx.actor(args.by)
    return await _act(ctx, args, "add_progress", ProgressNote(actor=actor, note=note))


async def complete_stage(args: argparse.Namespace, ctx: Context) -> int:
    inputs.dossier(args.dossier)
    stage = inputs.stage(args.stage)
    note = inputs.clean(args.note).strip()
    if len(note) > inputs.MAX_TEXT:
        inputs.text(note, "--note")  # raises the length error
    actor = await ctx.actor(args.by)
    return await _act(
        ctx, args, "approve_stage", StageApproval(actor=actor, stage=stage, note=note)
    )


async def waive(args: argparse.Namespace, ctx: Context) -> int:
    inputs.dossier(args.dossier)
    stage = inputs.stage(args.stage)
    reason = inputs.text(args.reason, "--reason")
    actor = await ctx.actor(args.by)
    return await _act(
        ctx, args, "waive_stage", StageWaiver(actor=actor, stage=stage, reason=reason)
    )


async def reassign(args: argparse.Namespace, ctx: Context) -> int:
    inputs.dossier(args.dossier)
    actor = await ctx.actor(args.by)
    new_officer = await ctx.actor(args.to, "--to")
    return await _act(ctx, args, "reassign", Reassignment(actor=actor, new_officer=new_officer))


async def pause(args: argparse.Namespace, ctx: Context) -> int:
    inputs.dossier(args.dossier)
    reason = inputs.text(args.reason, "--reason")
    actor = await ctx.actor(args.by)
    return await _act(ctx, args, "pause", PauseRequest(actor=actor, reason=reason))


async def resume(args: argparse.Namespace, ctx: Context) -> int:
    inputs.dossier(args.dossier)
    actor = await ctx.actor(args.by)
    return await _act(ctx, args, "resume", ResumeRequest(actor=actor))


async def transfer(args: argparse.Namespace, ctx: Context) -> int:
    from parcours.infrastructure.temporal import resolve_dossier, view_case

    inputs.dossier(args.dossier)
    region = inputs.region(args.region)
    note = inputs.clean(args.note).strip()
    if note:
        note = inputs.text(note, "--note")
    actor = await ctx.actor(args.by)
    client = await ctx.client()
    current = await view_case(client, ctx.settings, await resolve_dossier(client, args.dossier))
    if args.to:
        new_officer = await ctx.actor(args.to, "--to")
    else:
        new_officer = await _intake_choice(ctx, region, current.language)
    time_zone = inputs.time_zone(args.time_zone) if args.time_zone else None
    arg = Transfer(
        actor=actor, new_region=region, new_officer=new_officer, note=note, time_zone=time_zone
    )
    return await _act(ctx, args, "transfer", arg, current)


async def _intake_choice(ctx: Context, region: str, language: str) -> Actor:
    """The officer a new case of `region` would get (parcours/infrastructure/store/officers.py)."""
    from parcours.infrastructure.store.officers import actor_of, get_officer, pick_officer

    sessions = await ctx.sessions()
    async with sessions() as session:
        officer_id = await pick_officer(session, region, language)
        officer = await get_officer(session, officer_id) if officer_id else None
    if officer is None:
        raise ParcoursError(ctx.t("cli.error.no_active_officer", region=region))
    return actor_of(officer)


async def withdraw(args: argparse.Namespace, ctx: Context) -> int:
    inputs.dossier(args.dossier)
    note = inputs.text(args.note, "--note")
    actor = await ctx.actor(args.by)
    arg = Withdrawal(
        reason=note,
        recorded_by=actor.officer_id,
        actor=actor,
        reason_category=WithdrawalReason(args.reason_category),
    )
    return await _act(ctx, args, "withdraw", arg)


def _refusal_text(t: Catalog, refused: object) -> str:
    """An early refusal in the reader's language, from its code: a kernel `Message`, or the
    authorization table's (code, params) with its text under `refusal.<code>`."""
    from parcours.kernel.messages import Message

    if isinstance(refused, Message):
        return t.message(refused)
    code = getattr(refused, "code", "")
    params = dict(getattr(refused, "params", ()))
    key = f"refusal.{code}"
    if not t.has(key):
        return str(refused)
    return t(key, **{k: t(v) if t.has(v) else v for k, v in params.items()})
