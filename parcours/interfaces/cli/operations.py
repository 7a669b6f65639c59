"""Operators' commands: `db upgrade|current`, `retention install`, `reconcile`,
`codec-server`, `keys new`."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from parcours.interfaces.cli.common import Context, add_json_flag
from parcours.interfaces.cli.output import dump_json
from parcours.kernel.errors import ParcoursError

if TYPE_CHECKING:
    pass


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser("db", help="read-model schema: upgrade, current")
    dbsub = p.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    q = dbsub.add_parser("upgrade", help="migrate the read model to the newest schema")
    q.add_argument("--revision", default="head", help="target revision (default head)")
    q.set_defaults(handler=db_upgrade)
    q = dbsub.add_parser("current", help="the schema revision the read model is at")
    q.set_defaults(handler=db_current)

    p = sub.add_parser("retention", help="the personal-data retention schedule")
    rsub = p.add_subparsers(dest="retention_command", metavar="ACTION", required=True)
    q = rsub.add_parser(
        "install",
        help="create or update the daily purge schedule (PARCOURS_RETENTION_DAYS)",
    )
    q.set_defaults(handler=retention_install)

    p = sub.add_parser(
        "reconcile",
        help="rebuild the read model's case rows from the workflows; report differences",
        description="Ask every pathway workflow its state and compare it with the read "
        "model's case row; rewrite rows that differ or are missing (unless --dry-run). "
        "Exit 0 when nothing differed, 3 when differences were found (and fixed unless "
        "--dry-run).",
    )
    p.add_argument("--dry-run", action="store_true", help="report only, change nothing")
    p.add_argument("--dossier", action="append", help="only this dossier (repeatable)")
    add_json_flag(p)
    p.set_defaults(handler=reconcile)

    p = sub.add_parser(
        "codec-server",
        help="serve /codec/encode and /codec/decode for the Temporal UI and CLI",
        description="Needs the payload keys (PARCOURS_CODEC_KEYS or PARCOURS_CODEC_KEY_FILE) "
        "and PARCOURS_CODEC_TOKEN; answers CORS for PARCOURS_CODEC_CORS_ORIGINS.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--port", type=int, default=None, help="port (default PARCOURS_CODEC_PORT)")
    p.set_defaults(handler=codec_server)

    p = sub.add_parser("keys", help="payload encryption and update signing keys")
    ksub = p.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    q = ksub.add_parser(
        "new",
        help="print a new key entry (kid:base64) to put first",
        description="Print a new key entry. Payload keys go first in PARCOURS_CODEC_KEYS "
        "(workers, web, CLI, codec server); signing keys first in PARCOURS_SIGNING_KEYS "
        "(workers and every interface that acts on cases).",
    )
    q.add_argument("key_id", help="an id for the key, e.g. 2026-11")
    q.add_argument(
        "--kind",
        choices=("payload", "signing"),
        default="payload",
        help="payload (AES-256-GCM encryption, the default) or signing (HMAC-SHA256 of updates)",
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
        raise ParcoursError(str(err)) from None
    # Not migrated on open: the command names the revision.
    from parcours.infrastructure.store.db import open_read_model

    async with open_read_model(ctx.settings, migrate=False) as engine:
        at = await migrate.upgrade(engine, args.revision, audit_keys=audit_keys)
    ctx.print(f"read model at revision {at}")
    return 0


async def db_current(args: argparse.Namespace, ctx: Context) -> int:
    from parcours.infrastructure.store import migrate
    from parcours.infrastructure.store.db import open_read_model

    async with open_read_model(ctx.settings, migrate=False) as engine:
        at = await migrate.current(engine)
    head = migrate.head()
    state = "up to date" if at == head else f"behind head {head}: run 'parcours db upgrade'"
    ctx.print(f"{at or 'empty (no revision)'} ({state})")
    return 0


async def retention_install(args: argparse.Namespace, ctx: Context) -> int:
    from parcours.application.retention import SCHEDULE_ID, install_schedule

    done = await install_schedule(await ctx.client(), ctx.settings)
    ctx.print(
        f"schedule {SCHEDULE_ID} {done}: daily purge of personal data of cases closed "
        f"{ctx.settings.retention_days} days ago"
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
        for d in report.differences:
            if d.problem == "missing":
                ctx.print(f"{d.dossier}: missing from the read model")
            else:
                changes = ", ".join(
                    f"{k} {d.read_model[k]} -> {d.workflow[k]}" for k in d.problem.split(",")
                )
                ctx.print(f"{d.dossier}: {changes}")
        verb = "would fix" if args.dry_run else "fixed"
        ctx.print(
            f"{report.checked} case(s) checked, {len(report.differences)} differed, "
            f"{verb} {len(report.differences) if args.dry_run else report.fixed}"
        )
        if swept is not None:
            ctx.print(
                f"outbox: {swept.resent} email(s) in doubt sent again, {swept.failed} given "
                f"up (supervisors told), {swept.stale} stale dropped, {swept.in_flight} still "
                "within their lease"
            )
    for error in swept.errors if swept else []:
        ctx.note(f"outbox: {error}; left for the next sweep")
    for dossier in report.unreadable:
        ctx.note(f"{dossier}: the workflow did not answer; not checked")
    if not args.json:
        for u in report.unnormalised:
            # One line each: the case stays reachable by its exact number.
            twin = f"; a case {u.normalised} exists too" if u.twin else ""
            ctx.print(f"{u.dossier}: dossier number not normalised (today: {u.normalised}){twin}")
    return 3 if report.differences else 0


async def codec_server(args: argparse.Namespace, ctx: Context) -> int:
    import uvicorn

    from parcours.infrastructure.codec import CodecKeyError, keyring
    from parcours.infrastructure.signing import require_keys
    from parcours.interfaces.codec_server import build_codec_app, tokens_of

    s = ctx.settings
    try:
        require_keys(s, "the codec server")
        keys = keyring(s)
        app = build_codec_app(keys, tokens_of(s.codec_token), s.codec_cors_origins)
    except CodecKeyError as err:
        raise ParcoursError(str(err)) from None
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
        raise ParcoursError(str(err)) from None
    ctx.note(f"put it first in {variable}, keeping the keys still in use after it")
    return 0
