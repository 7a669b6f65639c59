"""`parcours bulk ...`, `parcours batch status|watch` and `parcours officers deactivate`.

A batch runs as its own durable workflow (workflows/batch.py): these commands resolve what it
acts on (a filter to its explicit list, an officer's open cases), check the programme table
early (kernel/authz.py `decide_programme`), start it through parcours/application/batches.py
and follow its progress. Ctrl-C stops following, never the batch.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import TYPE_CHECKING, Any

from parcours.infrastructure.catalog import Catalog
from parcours.interfaces.cli.common import Context, add_json_flag
from parcours.interfaces.cli.output import dump_json
from parcours.kernel import inputs

if TYPE_CHECKING:
    from parcours.kernel.batches import BatchProgress, BatchRequest

KINDS = ("reassign", "spread", "note", "pause")
POLL_SECONDS = 0.5
BAR_WIDTH = 30


def register(sub: argparse._SubParsersAction[Any], t: Catalog) -> None:
    bulk = sub.add_parser(
        "bulk", help=t("cli.cmd.bulk.help"), description=t("cli.cmd.bulk.description")
    )
    kinds = bulk.add_subparsers(dest="kind", metavar=t("cli.metavar.action"), required=True)
    for kind in KINDS:
        p = kinds.add_parser(
            kind,
            help=t(f"cli.cmd.bulk_{kind}.help"),
            description=t(f"cli.cmd.bulk_{kind}.help"),
        )
        which = p.add_mutually_exclusive_group(required=True)
        which.add_argument(
            "--filter", metavar=t("cli.metavar.filter"), help=t("cli.opt.bulk_filter")
        )
        which.add_argument("--cases", metavar="D1,D2,...", help=t("cli.opt.bulk_cases"))
        if kind in ("reassign", "spread"):
            p.add_argument(
                "--to",
                action="append",
                metavar="OFFICER",
                required=kind == "reassign",
                help=t(f"cli.opt.bulk_to_{kind}"),
            )
        else:
            p.add_argument("--note", required=True, help=t(f"cli.opt.bulk_note_{kind}"))
        p.add_argument("--by", required=True, metavar="ID", help=t("cli.opt.bulk_by"))
        p.add_argument("--id", dest="batch_id", metavar="ID", help=t("cli.opt.batch_id"))
        p.add_argument("--detach", action="store_true", help=t("cli.opt.batch_detach"))
        add_json_flag(p)
        p.set_defaults(handler=bulk_action, bulk_kind=kind)

    batch = sub.add_parser(
        "batch", help=t("cli.cmd.batch.help"), description=t("cli.cmd.batch.description")
    )
    actions = batch.add_subparsers(dest="action", metavar=t("cli.metavar.action"), required=True)
    for name in ("status", "watch"):
        p = actions.add_parser(
            name,
            help=t(f"cli.cmd.batch_{name}.help"),
            description=t(f"cli.cmd.batch_{name}.help"),
        )
        p.add_argument("batch_id", metavar="BATCH_ID", help=t("cli.opt.batch_id_arg"))
        add_json_flag(p)
        p.set_defaults(handler=batch_status, follow=name == "watch")


def register_deactivate(actions: argparse._SubParsersAction[Any], t: Catalog) -> None:
    """`parcours officers deactivate` (registered by cli/officers.py)."""
    p = actions.add_parser(
        "deactivate",
        help=t("cli.cmd.officers_deactivate.help"),
        description=t("cli.cmd.officers_deactivate.description"),
    )
    p.add_argument("officer_id", metavar="ID", help=t("cli.opt.officer_id"))
    how = p.add_mutually_exclusive_group()
    how.add_argument("--redistribute", action="store_true", help=t("cli.opt.redistribute"))
    how.add_argument("--to", metavar="OFFICER", help=t("cli.opt.deactivate_to"))
    p.add_argument("--by", required=True, metavar="DIRECTOR", help=t("cli.opt.deactivate_by"))
    p.add_argument("--detach", action="store_true", help=t("cli.opt.batch_detach"))
    add_json_flag(p)
    p.set_defaults(handler=deactivate)


async def deactivate(args: argparse.Namespace, ctx: Context) -> int:
    from parcours.application.batches import departure

    officer_id = inputs.officer_id(args.officer_id, "ID")
    to = inputs.officer_id(args.to, "--to") if args.to else None
    actor = await ctx.actor(args.by)
    sessions = await ctx.sessions()
    async with sessions() as session, session.begin():
        request = await departure(session, actor, officer_id, redistribute=args.redistribute, to=to)
    if request is None:
        if args.json:
            dump_json({"officer": officer_id, "deactivated": True, "batch": None}, ctx.out)
        else:
            ctx.print(ctx.t("cli.officers.deactivated", officer=officer_id))
        return 0
    return await _start(args, ctx, request)


async def bulk_action(args: argparse.Namespace, ctx: Context) -> int:
    from parcours.application.batches import (
        bulk_request,
        cases_of_filter,
        check_bulk,
        parse_filter,
    )
    from parcours.kernel.batches import BatchKind

    actor = await ctx.actor(args.by)
    region = parse_filter(args.filter).region if args.filter else None
    check_bulk(actor, region)
    if args.filter:
        sessions = await ctx.sessions()
        async with sessions() as session:
            dossiers = await cases_of_filter(session, actor, args.filter)
    else:
        dossiers = [d for d in (x.strip() for x in args.cases.split(",")) if d]
    officers = [inputs.officer_id(o, "--to") for o in getattr(args, "to", None) or []]
    for officer in officers:
        await ctx.actor(officer, "--to")  # a misspelt id is an error here, not 300 refusals
    request = bulk_request(
        BatchKind(args.bulk_kind),
        dossiers,
        actor,
        officers=officers,
        note=getattr(args, "note", "") or "",
        batch_id=args.batch_id or "",
    )
    return await _start(args, ctx, request)


async def _start(args: argparse.Namespace, ctx: Context, request: BatchRequest) -> int:
    from parcours.application.batches import start_batch

    client = await ctx.client()
    progress = await start_batch(client, request, task_queue=ctx.settings.task_queue)
    ctx.note(
        ctx.t(
            "cli.batch.started",
            batch=progress.batch_id,
            count=ctx.t.plural("cli.batch.cases", progress.total),
        )
    )
    return await _follow(args, ctx, progress)


async def batch_status(args: argparse.Namespace, ctx: Context) -> int:
    from parcours.application.batches import batch_progress

    client = await ctx.client()
    progress = await batch_progress(client, args.batch_id.strip().lower())
    args.detach = not args.follow
    return await _follow(args, ctx, progress)


async def _follow(args: argparse.Namespace, ctx: Context, progress: BatchProgress) -> int:
    """The progress bar on stderr until the batch ends (unless --detach), then the result."""
    from parcours.application.batches import batch_progress

    if not args.detach and not progress.finished and progress.refusal is None:
        client = await ctx.client()
        try:
            while not progress.finished and progress.refusal is None:
                _bar(ctx, progress)
                await asyncio.sleep(POLL_SECONDS)
                try:
                    progress = await batch_progress(client, progress.batch_id)
                except Exception:  # a query lost in a continue-as-new: ask again
                    continue
        except (asyncio.CancelledError, KeyboardInterrupt):
            print(file=ctx.err)
            ctx.note(ctx.t("cli.batch.detached", batch=progress.batch_id))
            raise
        _bar(ctx, progress)
        print(file=ctx.err)
    return _report(args, ctx, progress)


def _bar(ctx: Context, p: BatchProgress) -> None:
    filled = BAR_WIDTH * p.handled // p.total if p.total else BAR_WIDTH
    bar = "#" * filled + "." * (BAR_WIDTH - filled)
    line = ctx.t("cli.batch.bar", bar=bar, handled=p.handled, total=p.total, refused=p.refused)
    print("\r" + line, end="", file=ctx.err, flush=True)


def _report(args: argparse.Namespace, ctx: Context, p: BatchProgress) -> int:
    if args.json:
        dump_json(
            {
                "batch": p.batch_id,
                "kind": p.kind.value,
                "total": p.total,
                "done": p.done,
                "refused": p.refused,
                "failed": p.failed,
                "finished": p.finished,
                "refusal": p.refusal.as_dict() if p.refusal else None,
                "deactivated": p.deactivated,
                "still_held": p.still_held,
                "results": [
                    {
                        "dossier": r.dossier,
                        "outcome": r.outcome.value,
                        "target": r.target,
                        "refusal": r.refusal.as_dict() if r.refusal else None,
                    }
                    for r in p.results
                ],
            },
            ctx.out,
        )
        return 1 if p.refusal is not None else 0

    t = ctx.t
    if p.refusal is not None:
        ctx.print(t("cli.batch.refused", batch=p.batch_id, reason=t.message(p.refusal)))
        return 1
    state = t("cli.batch.finished") if p.finished else t("cli.batch.running")
    ctx.print(
        t(
            "cli.batch.summary",
            batch=p.batch_id,
            state=state,
            cases=t.plural("cli.batch.cases", p.total),
            done=t.plural("bulk.count.done", p.done),
            refused=t.plural("bulk.count.refused", p.refused),
            failed=t.plural("bulk.count.failed", p.failed),
        )
    )
    for r in p.results:
        if r.refusal is not None and r.outcome.value in ("refused", "failed"):
            ctx.print(
                t(
                    "cli.batch.case_line",
                    dossier=r.dossier,
                    outcome=t(f"cli.batch.outcome.{r.outcome.value}"),
                    reason=t.message(r.refusal),
                )
            )
    if p.finished and p.kind.value in ("spread", "reassign") and p.deactivated:
        ctx.print(t("cli.batch.deactivated"))
    elif p.finished and p.still_held:
        ctx.print(t("cli.batch.still_held", count=p.still_held))
    return 0
