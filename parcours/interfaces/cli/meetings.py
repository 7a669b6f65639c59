"""`parcours meeting`: book, move or cancel a case's first meeting (issue 16).

`--at` is a local time in the case's own zone (America/Toronto for Eastern Quebec), as the
newcomer's invitation shows it. Booking again moves the meeting (the newcomer's calendar
gets an update of the same event); `--cancel` cancels it. The workflow's validator is the
judge (kernel/rules.py `check_meeting`); the CLI refuses early what it can.
"""

from __future__ import annotations

import argparse
from typing import Any

from parcours.infrastructure.catalog import Catalog
from parcours.interfaces.cli.common import Context, Parser, add_by_flag, add_json_flag
from parcours.kernel import inputs
from parcours.kernel.domain import MeetingBooking
from parcours.kernel.errors import ParcoursError


def register(sub: argparse._SubParsersAction[Any], t: Catalog) -> None:
    p: Parser = sub.add_parser(
        "meeting",
        help=t("cli.cmd.meeting.help"),
        description=t("cli.cmd.meeting.description"),
    )
    p.add_argument("dossier", metavar="DOSSIER", help=t("cli.opt.dossier"))
    add_json_flag(p)
    add_by_flag(p, "cli.opt.by_case_actor")
    p.add_argument("--at", metavar="AAAA-MM-JJTHH:MM", help=t("cli.opt.meeting_at"))
    where = p.add_mutually_exclusive_group()
    where.add_argument("--place", help=t("cli.opt.meeting_place"))
    where.add_argument("--video", metavar="URL", help=t("cli.opt.meeting_video"))
    p.add_argument("--cancel", action="store_true", help=t("cli.opt.meeting_cancel"))
    p.set_defaults(handler=meeting)


async def meeting(args: argparse.Namespace, ctx: Context) -> int:
    from datetime import UTC, datetime

    from parcours.infrastructure.temporal import resolve_dossier, update_case
    from parcours.interfaces.cli.casework import _checked, show
    from parcours.interfaces.cli.output import day, zone

    t = ctx.t
    inputs.dossier(args.dossier)
    if args.cancel and (args.at or args.place or args.video):
        raise ParcoursError(t("cli.error.meeting_cancel_alone"))
    if not args.cancel and not args.at:
        raise ParcoursError(t("cli.error.meeting_at_required"))
    if not args.cancel and not (args.place or args.video):
        raise ParcoursError(t("cli.error.meeting_where_required"))
    place = inputs.text(args.place, "--place") if args.place else ""
    video = inputs.video_url(args.video) if args.video else ""
    actor = await ctx.actor(args.by)
    client = await ctx.client()
    dossier = await resolve_dossier(client, args.dossier)
    # The table first (an early, worded refusal); the case's zone reads `--at`.
    probe = MeetingBooking(actor=actor, cancel=True)
    current = await _checked(ctx, dossier, "book_meeting", probe)
    at = None
    if not args.cancel:
        at = inputs.meeting_time(args.at, zone(current.time_zone), datetime.now(UTC))
    arg = MeetingBooking(actor=actor, at=at, place=place, video_url=video, cancel=args.cancel)
    view = await update_case(client, ctx.settings, dossier, "book_meeting", arg)
    show(ctx, view, args.json)
    m = view.meeting
    if not args.json and m is not None:
        ctx.print()
        when = t.date_time(m.at, zone(view.time_zone))
        key = "cli.meeting.cancelled" if m.cancelled else "cli.meeting.booked"
        ctx.print(t(key, when=when, where=m.place or m.video_url))
        if m.late and not m.cancelled:
            ctx.print(t("cli.meeting.late", due=day(view.plan_due_on, t)))
    return 0
