"""`parcours web` (the console alone), `parcours users set-password`, `parcours tokens ...`."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from datetime import UTC, datetime
from typing import Any

from parcours.interfaces.cli.common import Context, add_json_flag, tcp_port
from parcours.interfaces.cli.output import dump_json, table
from parcours.kernel.authz import TokenScope
from parcours.kernel.errors import ParcoursError


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "web",
        help="serve the web console and the intake API alone",
        description="Serve the officers' and supervisors' console and the operators' API "
        "(http://127.0.0.1:8000 by default; PARCOURS_WEB_PORT). Sessions live in the read "
        "model; the sign-in form's token cookie is signed with PARCOURS_WEB_SECRET, else with "
        "a secret generated into the data dir. Cookies are Secure (HTTPS) unless "
        "PARCOURS_SECURE_COOKIES=0.",
    )
    p.add_argument("--host", default=None, help="address to listen on (default 127.0.0.1)")
    p.add_argument(
        "--port", type=tcp_port, default=None, help="port (default $PARCOURS_WEB_PORT or 8000)"
    )
    p.set_defaults(handler=web)

    users = sub.add_parser(
        "users",
        help="web console sign-in",
        description="Passwords of the web console (stored as argon2id hashes).",
    )
    actions = users.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = actions.add_parser(
        "set-password",
        help="set a person's password (asked on the terminal, or read from stdin)",
        description="Set the password of an officer id (officers, supervisors, directors) or, "
        "with --operator, of an operator's login (created if new).",
    )
    p.add_argument("login", metavar="ID", help="officer id or operator login")
    p.add_argument("--operator", action="store_true", help="an operator's login, not an officer")
    p.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    p.set_defaults(handler=set_password_cmd)
    p = actions.add_parser(
        "deactivate",
        help="stop a login from signing in, and end its open sessions now",
        description="Deactivate a sign-in (officer id or operator login): its web sessions end "
        "at once. 'set-password' reactivates it.",
    )
    p.add_argument("login", metavar="ID", help="officer id or operator login")
    p.set_defaults(handler=deactivate_cmd)
    p = actions.add_parser(
        "unlock",
        help="let a login locked by failed sign-ins try again now",
        description="Clear a login's failed sign-ins (the lockout after too many), recorded in "
        "the security log. A lock on a client address is not cleared: it ends with its window.",
    )
    p.add_argument("login", metavar="ID", help="officer id or operator login")
    p.set_defaults(handler=unlock_cmd)

    tokens = sub.add_parser(
        "tokens",
        help="API tokens of the operators' systems",
        description="Bearer tokens for the intake API; only their sha256 is stored. A token's "
        "scope is 'intake' (post visa approvals) or 'read' (a case's status fields, no notes, "
        "plan items or reasons).",
    )
    actions = tokens.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = actions.add_parser("create", aliases=["new"], help="create a token (printed once)")
    p.add_argument("--name", required=True, help="who uses it, e.g. visa-system")
    p.add_argument(
        "--scope",
        choices=TokenScope.ALL,
        default=TokenScope.INTAKE,
        help="intake (default): post visa approvals; read: read a case's status",
    )
    add_json_flag(p)
    p.set_defaults(handler=token_create)
    p = actions.add_parser("list", help="list tokens (names and dates, never the secret)")
    add_json_flag(p)
    p.set_defaults(handler=token_list)
    p = actions.add_parser("revoke", help="revoke a token")
    p.add_argument("--name", required=True, help="the token's name")
    p.set_defaults(handler=token_revoke)


async def web(args: argparse.Namespace, ctx: Context) -> int:
    from parcours.application.lifecycle import configure_logging, install_stop_handlers
    from parcours.infrastructure.codec import CodecKeyError
    from parcours.infrastructure.signing import require_keys
    from parcours.interfaces.web.server import DEFAULT_HOST, build_server, default_port, serve_until

    try:
        require_keys(ctx.settings, "the web console")
    except CodecKeyError as err:
        raise ParcoursError(str(err)) from None
    configure_logging()
    host = args.host or DEFAULT_HOST
    port = args.port or default_port(ctx.settings)
    server = build_server(ctx.settings, host=host, port=port)
    stop = asyncio.Event()
    install_stop_handlers(stop)
    ctx.note(f"web console on http://{host}:{port} (API docs: http://{host}:{port}/docs)")
    await serve_until(server, stop)
    return 0


def _read_password(from_stdin: bool) -> str:
    if from_stdin or not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("New password: ")
    if getpass.getpass("Again: ") != first:
        raise ParcoursError("the two passwords differ")
    return first


async def _sessions(ctx: Context) -> Any:
    return await ctx.sessions()  # migrated on open: the accounts' tables are there


async def set_password_cmd(args: argparse.Namespace, ctx: Context) -> int:
    from parcours.infrastructure.store.accounts import AccountError, set_password

    password = await asyncio.to_thread(_read_password, args.password_stdin)
    sessions = await _sessions(ctx)
    async with sessions() as session, session.begin():
        try:
            cred = await set_password(session, args.login, password, operator=args.operator)
        except AccountError as err:
            raise ParcoursError(str(err)) from None
        login, kind = cred.login, cred.kind
    ctx.print(f"password set for {login} ({kind}); its open web sessions are ended")
    return 0


async def deactivate_cmd(args: argparse.Namespace, ctx: Context) -> int:
    from parcours.infrastructure.store.accounts import AccountError, deactivate

    sessions = await _sessions(ctx)
    async with sessions() as session, session.begin():
        try:
            await deactivate(session, args.login)
        except AccountError as err:
            raise ParcoursError(str(err)) from None
    ctx.print(f"{args.login.strip()} deactivated; its web sessions are ended")
    return 0


async def unlock_cmd(args: argparse.Namespace, ctx: Context) -> int:
    from parcours.infrastructure.store.security import SecurityKind, record

    login = args.login.strip()
    if not login:
        raise ParcoursError("a login is needed (officer id or operator login)")
    sessions = await _sessions(ctx)
    async with sessions() as session, session.begin():
        await record(session, SecurityKind.UNLOCKED, datetime.now(UTC), login=login, client="cli")
    ctx.print(f"{login} unlocked: its failed sign-ins no longer count")
    return 0


async def token_create(args: argparse.Namespace, ctx: Context) -> int:
    from parcours.infrastructure.store.accounts import AccountError, create_token

    sessions = await _sessions(ctx)
    async with sessions() as session, session.begin():
        try:
            token = await create_token(session, args.name, args.scope)
        except AccountError as err:
            raise ParcoursError(str(err)) from None
    if args.json:
        dump_json({"name": args.name, "scope": args.scope, "token": token}, ctx.out)
    else:
        ctx.print(token)
        ctx.note(
            f"token {args.name} ({args.scope}) created; it is shown this once "
            "(only its hash is kept)"
        )
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
    table(
        ["NAME", "SCOPE", "CREATED", "LAST USED"],
        [[r.name, r.scope, r.created_at, r.last_used_at] for r in rows],
        ctx.out,
    )
    return 0


async def token_revoke(args: argparse.Namespace, ctx: Context) -> int:
    from parcours.infrastructure.store.accounts import AccountError, revoke_token

    sessions = await _sessions(ctx)
    async with sessions() as session, session.begin():
        try:
            await revoke_token(session, args.name)
        except AccountError as err:
            raise ParcoursError(str(err)) from None
    ctx.print(f"token {args.name} revoked")
    return 0
