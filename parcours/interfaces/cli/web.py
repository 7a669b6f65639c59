"""`parcours web` (the console alone), `parcours users set-password`, `parcours tokens ...`."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from datetime import UTC, datetime
from typing import Any

from parcours.infrastructure.catalog import Catalog
from parcours.interfaces.cli.common import Context, add_json_flag, tcp_port
from parcours.interfaces.cli.output import dump_json, table
from parcours.kernel.authz import TokenScope
from parcours.kernel.errors import ParcoursError


def register(sub: argparse._SubParsersAction[Any], t: Catalog) -> None:
    action = t("cli.metavar.action")
    p = sub.add_parser("web", help=t("cli.cmd.web.help"), description=t("cli.cmd.web.description"))
    p.add_argument("--host", default=None, help=t("cli.opt.web_host"))
    p.add_argument("--port", type=tcp_port, default=None, help=t("cli.opt.web_port_env"))
    p.set_defaults(handler=web)

    users = sub.add_parser(
        "users", help=t("cli.cmd.users.help"), description=t("cli.cmd.users.description")
    )
    actions = users.add_subparsers(dest="action", metavar=action, required=True)
    p = actions.add_parser(
        "set-password",
        help=t("cli.cmd.set_password.help"),
        description=t("cli.cmd.set_password.description"),
    )
    p.add_argument("login", metavar="ID", help=t("cli.opt.login"))
    p.add_argument("--operator", action="store_true", help=t("cli.opt.operator"))
    p.add_argument("--password-stdin", action="store_true", help=t("cli.opt.password_stdin"))
    p.set_defaults(handler=set_password_cmd)
    p = actions.add_parser(
        "deactivate",
        help=t("cli.cmd.deactivate.help"),
        description=t("cli.cmd.deactivate.description"),
    )
    p.add_argument("login", metavar="ID", help=t("cli.opt.login"))
    p.set_defaults(handler=deactivate_cmd)
    p = actions.add_parser(
        "unlock", help=t("cli.cmd.unlock.help"), description=t("cli.cmd.unlock.description")
    )
    p.add_argument("login", metavar="ID", help=t("cli.opt.login"))
    p.set_defaults(handler=unlock_cmd)

    tokens = sub.add_parser(
        "tokens", help=t("cli.cmd.tokens.help"), description=t("cli.cmd.tokens.description")
    )
    actions = tokens.add_subparsers(dest="action", metavar=action, required=True)
    p = actions.add_parser("create", aliases=["new"], help=t("cli.cmd.tokens_create.help"))
    p.add_argument("--name", required=True, help=t("cli.opt.token_name"))
    p.add_argument(
        "--scope",
        choices=TokenScope.ALL,
        default=TokenScope.INTAKE,
        help=t("cli.opt.token_scope"),
    )
    add_json_flag(p)
    p.set_defaults(handler=token_create)
    p = actions.add_parser("list", help=t("cli.cmd.tokens_list.help"))
    add_json_flag(p)
    p.set_defaults(handler=token_list)
    p = actions.add_parser("revoke", help=t("cli.cmd.tokens_revoke.help"))
    p.add_argument("--name", required=True, help=t("cli.opt.token_name_revoke"))
    p.set_defaults(handler=token_revoke)


async def web(args: argparse.Namespace, ctx: Context) -> int:
    from parcours.application.lifecycle import configure_logging, install_stop_handlers
    from parcours.infrastructure.codec import CodecKeyError
    from parcours.infrastructure.signing import require_keys
    from parcours.interfaces.web.server import DEFAULT_HOST, build_server, default_port, serve_until

    try:
        require_keys(ctx.settings, "web")
    except CodecKeyError as err:
        raise ParcoursError(str(err), refusal=err.refusal) from None
    configure_logging()
    host = args.host or DEFAULT_HOST
    port = args.port or default_port(ctx.settings)
    server = build_server(ctx.settings, host=host, port=port)
    stop = asyncio.Event()
    install_stop_handlers(stop)
    ctx.note(ctx.t("cli.web.serving", url=f"http://{host}:{port}"))
    await serve_until(server, stop)
    return 0


def _read_password(t: Catalog, from_stdin: bool) -> str:
    if from_stdin or not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass(t("cli.users.new_password"))
    if getpass.getpass(t("cli.users.again")) != first:
        raise ParcoursError(t("cli.users.differ"))
    return first


async def _sessions(ctx: Context) -> Any:
    return await ctx.sessions()  # migrated on open: the accounts' tables are there


async def set_password_cmd(args: argparse.Namespace, ctx: Context) -> int:
    from parcours.infrastructure.store.accounts import set_password

    password = await asyncio.to_thread(_read_password, ctx.t, args.password_stdin)
    sessions = await _sessions(ctx)
    async with sessions() as session, session.begin():
        cred = await set_password(session, args.login, password, operator=args.operator)
        login, kind = cred.login, cred.kind
    ctx.print(ctx.t("cli.users.password_set", login=login, kind=kind))
    return 0


async def deactivate_cmd(args: argparse.Namespace, ctx: Context) -> int:
    from parcours.infrastructure.store.accounts import deactivate

    sessions = await _sessions(ctx)
    async with sessions() as session, session.begin():
        await deactivate(session, args.login)
    ctx.print(ctx.t("cli.users.deactivated", login=args.login.strip()))
    return 0


async def unlock_cmd(args: argparse.Namespace, ctx: Context) -> int:
    from parcours.infrastructure.store.security import SecurityKind, record

    login = args.login.strip()
    if not login:
        raise ParcoursError(ctx.t("cli.users.login_needed"))
    sessions = await _sessions(ctx)
    async with sessions() as session, session.begin():
        await record(session, SecurityKind.UNLOCKED, datetime.now(UTC), login=login, client="cli")
    ctx.print(ctx.t("cli.users.unlocked", login=login))
    return 0


async def token_create(args: argparse.Namespace, ctx: Context) -> int:
    from parcours.infrastructure.store.accounts import create_token

    sessions = await _sessions(ctx)
    async with sessions() as session, session.begin():
        token = await create_token(session, args.name, args.scope)
    if args.json:
        dump_json({"name": args.name, "scope": args.scope, "token": token}, ctx.out)
    else:
        ctx.print(token)
        ctx.note(ctx.t("cli.tokens.created", name=args.name, scope=args.scope))
    return 0


async def token_list(args: argparse.Namespace, ctx: Context) -> int:
    from parcours.infrastructure.store.accounts import list_tokens

    sessions = await _sessions(ctx)
    async with sessions() as session:
        rows = await list_tokens(session)
    if args.json:
        dump_json(
            [
                {
                    "name": r.name,
                    "scope": r.scope,
                    "created_at": r.created_at,
                    "last_used_at": r.last_used_at,
                }
                for r in rows
            ],
            ctx.out,
        )
        return 0
    t = ctx.t
    table(
        [t("cli.col.name"), t("cli.col.scope"), t("cli.col.created"), t("cli.col.last_used")],
        [[r.name, r.scope, r.created_at, r.last_used_at] for r in rows],
        ctx.out,
        t,
    )
    return 0


async def token_revoke(args: argparse.Namespace, ctx: Context) -> int:
    from parcours.infrastructure.store.accounts import revoke_token

    sessions = await _sessions(ctx)
    async with sessions() as session, session.begin():
        await revoke_token(session, args.name)
    ctx.print(ctx.t("cli.tokens.revoked", name=args.name))
    return 0
