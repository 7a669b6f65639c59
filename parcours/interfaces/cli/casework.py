"""Officer and supervisor actions on one case, and `parcours status`.

Each action resolves the person from the roster first (an unknown id fails before Temporal is
contacted), reads the case and checks the authorization table (parcours/kernel/authz.py) so that a
refusal comes early, then runs one signed workflow update. The workflow's validators are the
judge: they check the same table again and their refusal is the error line.

The CLI is a trusted administrative tool for whoever holds the keys on a staff host: `--by`
and `--officer` name the person acting, they do not authenticate them (README "Security
model"). Officers work in the console, which authenticates them.
"""

from __future__ import annotations

import argparse
from typing import Any

from parcours.interfaces.cli.common import Context, add_json_flag
from parcours.interfaces.cli.output import dump_json, fields, table
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
)
from parcours.kernel.errors import ParcoursError


def _case(p: argparse.ArgumentParser) -> None:
    p.add_argument("dossier", metavar="DOSSIER", help="dossier number")
    add_json_flag(p)


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "status",
        help="show a case (open or closed)",
        description="Show the whole state of a case, as the workflow holds it.",
    )
    _case(p)
    p.set_defaults(handler=status)

    p = sub.add_parser(
        "greet",
        help="record the airport greeting",
        description="Record that the newcomer was greeted at the airport (or declined).",
    )
    _case(p)
    p.add_argument("--officer", required=True, help="id of the officer recording it")
    outcome = p.add_mutually_exclusive_group()
    outcome.add_argument("--declined", action="store_true", help="the newcomer declined")
    outcome.add_argument("--no-show", action="store_true", help="the newcomer did not show up")
    p.set_defaults(handler=greet)

    p = sub.add_parser(
        "plan",
        help="file the individualized action plan",
        description="File (or revise) the action plan: one --item per action, "
        'as "STAGE: text" with STAGE one of arrival, francization, employment, community. '
        "Arrival cannot be approved until a plan is on file.",
    )
    _case(p)
    p.add_argument("--officer", required=True, help="id of the assigned officer")
    p.add_argument(
        "--item",
        required=True,
        action="append",
        metavar='"STAGE: text"',
        help="an action of the plan (repeat for several)",
    )
    p.set_defaults(handler=plan)

    p = sub.add_parser(
        "progress",
        help="record an officer check-in (resets the stall clock)",
        description="Record a check-in with the newcomer; it returns the case to "
        "escalation level 0 and restarts the stall clock.",
    )
    _case(p)
    p.add_argument("--officer", required=True, help="id of the officer")
    p.add_argument("--note", required=True, help="what happened (kept in the audit trail)")
    p.set_defaults(handler=progress)

    p = sub.add_parser(
        "complete-stage",
        help="approve the current stage",
        description="Approve the current stage (assigned officer, or a supervisor/director); "
        "the case moves to the next stage, or closes after community.",
    )
    _case(p)
    p.add_argument("--stage", required=True, help="the stage being approved (must be current)")
    p.add_argument("--officer", required=True, help="id of the approving officer")
    p.add_argument("--note", default="", help="optional note")
    p.set_defaults(handler=complete_stage)

    p = sub.add_parser(
        "waive",
        help="waive a stage (supervisors)",
        description="Waive a stage with a reason, e.g. francization for a newcomer already "
        "at level 7 or more.",
    )
    _case(p)
    p.add_argument("--stage", required=True, help="the stage to waive")
    p.add_argument("--by", required=True, help="id of the supervisor or director")
    p.add_argument("--reason", required=True, help="why the stage is waived")
    p.set_defaults(handler=waive)

    p = sub.add_parser(
        "reassign",
        help="give the case to another officer (supervisors)",
        description="Reassign the case; the new officer is told by email.",
    )
    _case(p)
    p.add_argument("--officer", required=True, help="id of the new officer")
    p.add_argument("--by", required=True, help="id of the supervisor or director")
    p.set_defaults(handler=reassign)

    p = sub.add_parser(
        "transfer",
        help="move the case to another region (directors)",
        description="Transfer the case to another region and an officer there: by default "
        "the one the intake rule picks (an active officer of the region who speaks the "
        "newcomer's language, lightest caseload first). Both regions' supervisors are told.",
    )
    _case(p)
    p.add_argument("--region", required=True, help="the new region (slug, e.g. estrie)")
    p.add_argument("--officer", help="id of the new officer (default: the intake rule's choice)")
    p.add_argument("--by", required=True, help="id of the director")
    p.add_argument("--note", default="", help="why (kept in the audit trail)")
    p.set_defaults(handler=transfer)

    p = sub.add_parser(
        "pause",
        help="pause the case (stall clocks stop; supervisors)",
        description="Pause the case: no reminders or escalations until it is resumed. "
        "The region's supervisors and directors only.",
    )
    _case(p)
    p.add_argument("--by", required=True, help="id of the supervisor or director")
    p.add_argument("--reason", required=True, help="why the case is paused")
    p.set_defaults(handler=pause)

    p = sub.add_parser(
        "resume",
        help="resume a paused case",
        description="Resume a paused case; its stall clock restarts now.",
    )
    _case(p)
    p.add_argument("--by", required=True, help="id of the supervisor or director")
    p.set_defaults(handler=resume)

    p = sub.add_parser(
        "withdraw",
        help="close the case: the newcomer withdrew",
        description="Close the case with status 'withdrawn'. It cannot be undone: the "
        "assigned officer, the region's supervisors and directors only.",
    )
    _case(p)
    p.add_argument("--by", required=True, help="id of the person withdrawing the case")
    p.add_argument(
        "--reason-category",
        required=True,
        choices=[r.value for r in WithdrawalReason],
        help="why, in one word",
    )
    p.add_argument(
        "--note", "--reason", dest="note", required=True, help="what happened (audit trail)"
    )
    p.set_defaults(handler=withdraw)


# ---------------------------------------------------------------------------------------------


def show(ctx: Context, view: CaseView, as_json: bool, name: str | None = None) -> None:
    """The case; `name`: the newcomer's, when the command read it (`status`)."""
    if as_json:
        dump_json(view.to_json() | ({"name": name} if name is not None else {}), ctx.out)
        return
    named: list[tuple[str, object]] = [] if name is None else [(_name_label(ctx), name)]
    fields(
        [
            ("dossier", view.dossier),
            *named,
            ("status", view.status),
            ("stage", view.stage),
            ("officer", view.officer),
            ("region", view.region),
            ("language", view.language),
            ("arrival", view.arrival_date),
            ("greeting", view.greeting),
            ("escalation level", view.escalation_level),
            ("stalled since", view.stalled_since),
            ("overdue", view.overdue),
            ("plan due", view.plan_due_at),
            ("paused since", view.paused_at),
            ("closed", view.closed_at),
        ],
        ctx.out,
    )
    if view.stages:
        ctx.print()
        table(
            ["STAGE", "STARTED", "COMPLETED", "APPROVED BY", "WAIVED", "DEADLINE"],
            [
                [s.stage, s.started_at, s.completed_at, s.approved_by, s.waived, s.deadline_at]
                for s in view.stages
            ],
            ctx.out,
        )
    if view.plan:
        ctx.print()
        table(["PLAN", "ACTION"], [[i.stage, i.text] for i in view.plan], ctx.out)


async def _act(
    ctx: Context,
    args: argparse.Namespace,
    update: str,
    arg: object,
    current: CaseView | None = None,
) -> int:
    from parcours.infrastructure.temporal import update_case, view_case

    dossier = inputs.dossier(args.dossier)
    client = await ctx.client()
    current = current or await view_case(client, ctx.settings, dossier)
    refused = authz.early_refusal(update, arg, current.region, current.officer)
    if refused is not None:
        raise ParcoursError(f"dossier {dossier}: {refused.message()}")
    view = await update_case(client, ctx.settings, dossier, update, arg)
    show(ctx, view, args.json)
    return 0


def _name_label(ctx: Context) -> str:
    from parcours.interfaces.cli.finding import terminal_words

    return terminal_words(ctx.settings)("contact.name").lower()


async def status(args: argparse.Namespace, ctx: Context) -> int:
    from parcours.infrastructure.temporal import case_file

    dossier = inputs.dossier(args.dossier)
    client = await ctx.client()
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
    actor = await ctx.actor(args.officer)
    return await _act(ctx, args, "record_greeting", GreetingReport(actor=actor, outcome=outcome))


async def plan(args: argparse.Namespace, ctx: Context) -> int:
    inputs.dossier(args.dossier)
    items = [inputs.plan_item(i) for i in args.item]
    actor = await ctx.actor(args.officer)
    return await _act(ctx, args, "file_plan", PlanFiling(actor=actor, items=items))


async def progress(args: argparse.Namespace, ctx: Context) -> int:
    inputs.dossier(args.dossier)
    note = inputs.text(args.note, "--note")
    actor = await ctx.actor(args.officer)
    return await _act(ctx, args, "add_progress", ProgressNote(actor=actor, note=note))


async def complete_stage(args: argparse.Namespace, ctx: Context) -> int:
    inputs.dossier(args.dossier)
    stage = inputs.stage(args.stage)
    note = args.note.strip()
    if len(note) > inputs.MAX_TEXT:
        inputs.text(note, "--note")  # raises the length error
    actor = await ctx.actor(args.officer)
    return await _act(
        ctx, args, "approve_stage", StageApproval(actor=actor, stage=stage, note=note)
    )


async def waive(args: argparse.Namespace, ctx: Context) -> int:
    inputs.dossier(args.dossier)
    stage = inputs.stage(args.stage)
    reason = inputs.text(args.reason, "--reason")
    actor = await ctx.actor(args.by, "--by")
    return await _act(
        ctx, args, "waive_stage", StageWaiver(actor=actor, stage=stage, reason=reason)
    )


async def reassign(args: argparse.Namespace, ctx: Context) -> int:
    inputs.dossier(args.dossier)
    actor = await ctx.actor(args.by, "--by")
    new_officer = await ctx.actor(args.officer)
    return await _act(ctx, args, "reassign", Reassignment(actor=actor, new_officer=new_officer))


async def pause(args: argparse.Namespace, ctx: Context) -> int:
    inputs.dossier(args.dossier)
    reason = inputs.text(args.reason, "--reason")
    actor = await ctx.actor(args.by, "--by")
    return await _act(ctx, args, "pause", PauseRequest(actor=actor, reason=reason))


async def resume(args: argparse.Namespace, ctx: Context) -> int:
    inputs.dossier(args.dossier)
    actor = await ctx.actor(args.by, "--by")
    return await _act(ctx, args, "resume", ResumeRequest(actor=actor))


async def transfer(args: argparse.Namespace, ctx: Context) -> int:
    from parcours.infrastructure.temporal import view_case

    dossier = inputs.dossier(args.dossier)
    region = inputs.region(args.region)
    note = args.note.strip()
    if note:
        note = inputs.text(note, "--note")
    actor = await ctx.actor(args.by, "--by")
    current = await view_case(await ctx.client(), ctx.settings, dossier)
    if args.officer:
        new_officer = await ctx.actor(args.officer)
    else:
        new_officer = await _intake_choice(ctx, region, current.language)
    arg = Transfer(actor=actor, new_region=region, new_officer=new_officer, note=note)
    return await _act(ctx, args, "transfer", arg, current)


async def _intake_choice(ctx: Context, region: str, language: str) -> Actor:
    """The officer a new case of `region` would get (parcours/infrastructure/store/officers.py)."""
    from parcours.infrastructure.store.officers import actor_of, get_officer, pick_officer

    sessions = await ctx.sessions()
    async with sessions() as session:
        officer_id = await pick_officer(session, region, language)
        officer = await get_officer(session, officer_id) if officer_id else None
    if officer is None:
        raise ParcoursError(f"no active officer in region {region}: name one with --officer")
    return actor_of(officer)


async def withdraw(args: argparse.Namespace, ctx: Context) -> int:
    inputs.dossier(args.dossier)
    note = inputs.text(args.note, "--note")
    actor = await ctx.actor(args.by, "--by")
    arg = Withdrawal(
        reason=note,
        recorded_by=actor.officer_id,
        actor=actor,
        reason_category=WithdrawalReason(args.reason_category),
    )
    return await _act(ctx, args, "withdraw", arg)
