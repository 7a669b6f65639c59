"""Operators' commands: `db upgrade|current`, `retention install`, `reconcile`,
`codec-server`, `keys new`."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from parcours.infrastructure.catalog import Catalog
from parcours.interfaces.cli.common import Context, add_json_flag
from parcours.interfaces.cli.output import dump_json
from parcours.kernel.errors import ParcoursError

if TYPE_CHECKING:
    pass


def register(sub: argparse._SubParsersAction[Any], t: Catalog) -> None:
    action = t("cli.metavar.action")
    p = sub.add_parser("db", help=t("cli.cmd.db.help"))
    dbsub = p.add_subparsers(dest="db_command", metavar=action, required=True)
    q = dbsub.add_parser("upgrade", help=t("cli.cmd.db_upgrade.help"))
    q.add_argument("--revision", default="head", help=t("cli.opt.revision"))
    q.set_defaults(handler=db_upgrade)
    q = dbsub.add_parser("current", help=t("cli.cmd.db_current.help"))
    q.set_defaults(handler=db_current)

    p = sub.add_parser("retention", help=t("cli.cmd.retention.help"))
    rsub = p.add_subparsers(dest="retention_command", metavar=action, required=True)
    q = rsub.add_parser("install", help=t("cli.cmd.retention_install.help"))
    q.set_defaults(handler=retention_install)

    p = sub.add_parser(
        "reconcile",
        help=t("cli.cmd.reconcile.help"),
        description=t("cli.cmd.reconcile.description"),
    )
    p.add_argument("--dry-run", action="store_true", help=t("cli.opt.dry_run"))
    p.add_argument("--dossier", action="append", help=t("cli.opt.only_dossier"))
    add_json_flag(p)
    p.set_defaults(handler=reconcile)

    p = sub.add_parser(
        "codec-server",
        help=t("cli.cmd.codec_server.help"),
        description=t("cli.cmd.codec_server.description"),
    )
    p.add_argument("--host", default="127.0.0.1", help=t("cli.opt.host"))
    p.add_argument("--port", type=int, default=None, help=t("cli.opt.codec_port"))
    p.set_defaults(handler=codec_server)

    p = sub.add_parser("keys", help=t("cli.cmd.keys.help"))
    ksub = p.add_subparsers(dest="keys_command", metavar=action, required=True)
    q = ksub.add_parser(
        "new", help=t("cli.cmd.keys_new.help"), description=t("cli.cmd.keys_new.description")
    )
    q.add_argument("key_id", metavar="KEY_ID", help=t("cli.opt.key_id"))
    q.add_argument(
        "--kind",
        choices=("payload", "signing"),
        default="payload",
        help=t("cli.opt.key_kind"),
    )
    q.set_defaults(handler=keys_new)


async def db_upgrade(args: argparse.Namespace, ctx: Context) -> int:
    from parcours.infrastructure.codec import CodecKeyError
    from parcours.infrastructure.store import migrate
    from parcours.infrastructure.store.chain import audit_keyring

    try:
        # Sealing existing audit rows (migration 0005) needs them; other revisions do not.
        audit_keys = audit_keyring(ctx.settings)
    except CodecKeyError as err:
        raise ParcoursError(str(err), refusal=err.refusal) from None
    # Not migrated on open: the command names the revision.
    from parcours.infrastructure.store.db import open_read_model

    async with open_read_model(ctx.settings, migrate=False) as engine:
        at = await migrate.upgrade(engine, args.revision, audit_keys=audit_keys)
    ctx.print(ctx.t("cli.db.at", revision=at))
    return 0


async def db_current(args: argparse.Namespace, ctx: Context) -> int:
    from parcours.infrastructure.store import migrate
    from parcours.infrastructure.store.db import open_read_model

    async with open_read_model(ctx.settings, migrate=False) as engine:
        at = await migrate.current(engine)
    head = migrate.head()
    t = ctx.t
    state = t("cli.db.up_to_date") if at == head else t("cli.db.behind", head=head)
    ctx.print(t("cli.db.current", revision=at or t("cli.db.empty"), state=state))
    return 0


async def retention_install(args: argparse.Namespace, ctx: Context) -> int:
    from parcours.application.retention import SCHEDULE_ID, install_schedule

    done = await install_schedule(await ctx.client(), ctx.settings)
    ctx.print(
        ctx.t(
            f"cli.retention.{done}",
            schedule=SCHEDULE_ID,
            days=ctx.settings.retention_days,
        )
    )
    return 0


async def reconcile(args: argparse.Namespace, ctx: Context) -> int:
    from parcours.application.reconcile import reconcile as run
    from parcours.application.reconcile import sweep_outbox

    sessions = await ctx.sessions()
    report = await run(
        await ctx.client(), ctx.settings, sessions, dry_run=args.dry_run, only=args.dossier
    )
    # Emails in doubt that no retry will come back for (never in a dry run: it sends).
    swept = None if args.dry_run else await sweep_outbox(ctx.settings, sessions)
    if args.json:
        dump_json(
            report.to_json(args.dry_run) | {"outbox": asdict(swept) if swept else None}, ctx.out
        )
    else:
        t = ctx.t
        for d in report.differences:
            if d.problem == "missing":
                ctx.print(t("cli.reconcile.missing", dossier=d.dossier))
            else:
                changes = ", ".join(
                    f"{k} {d.read_model[k]} -> {d.workflow[k]}" for k in d.problem.split(",")
                )
                ctx.print(f"{d.dossier}: {changes}")
        ctx.print(
            t(
                "cli.reconcile.would_fix" if args.dry_run else "cli.reconcile.fixed",
                checked=t.plural("cli.reconcile.checked", report.checked),
                differed=len(report.differences),
                fixed=len(report.differences) if args.dry_run else report.fixed,
            )
        )
        if swept is not None:
            ctx.print(
                t(
                    "cli.reconcile.outbox",
                    resent=swept.resent,
                    failed=swept.failed,
                    stale=swept.stale,
                    in_flight=swept.in_flight,
                )
            )
    for error in swept.errors if swept else []:
        ctx.note(ctx.t("cli.reconcile.outbox_error", error=error))
    for dossier in report.unreadable:
        ctx.note(ctx.t("cli.reconcile.unreadable", dossier=dossier))
    if not args.json:
        for u in report.unnormalised:
            # One line each: the case stays reachable by its exact number.
            key = "cli.reconcile.unnormalised_twin" if u.twin else "cli.reconcile.unnormalised"
            ctx.print(ctx.t(key, dossier=u.dossier, normalised=u.normalised))
    return 3 if report.differences else 0


async def codec_server(args: argparse.Namespace, ctx: Context) -> int:
    import uvicorn

    from parcours.infrastructure.codec import CodecKeyError, keyring
    from parcours.infrastructure.signing import require_keys
    from parcours.interfaces.codec_server import build_codec_app, tokens_of

    s = ctx.settings
    try:
        require_keys(s, "codec_server")
        keys = keyring(s)
        app = build_codec_app(keys, tokens_of(s.codec_token), s.codec_cors_origins)
    except CodecKeyError as err:
        raise ParcoursError(str(err), refusal=err.refusal) from None
    config = uvicorn.Config(app, host=args.host, port=args.port or s.codec_port, log_level="info")
    await uvicorn.Server(config).serve()
    return 0


async def keys_new(args: argparse.Namespace, ctx: Context) -> int:
    from parcours.infrastructure.codec import CodecKeyError, new_key

    # Both kinds are 32 random bytes; the kind says where the entry goes.
    variable = "PARCOURS_SIGNING_KEYS" if args.kind == "signing" else "PARCOURS_CODEC_KEYS"
    try:
        ctx.print(new_key(args.key_id).spec())
    except CodecKeyError as err:
        raise ParcoursError(str(err), refusal=err.refusal) from None
    ctx.note(ctx.t("cli.keys.put_first", variable=variable))
    return 0
