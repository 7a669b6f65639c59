"""`parcours audit verify`: check every case's audit chain (infrastructure/store/chain.py)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from parcours.infrastructure.catalog import Catalog
from parcours.interfaces.cli.common import Context, add_json_flag
from parcours.interfaces.cli.output import dump_json
from parcours.kernel import inputs
from parcours.kernel.errors import ParcoursError

if TYPE_CHECKING:
    from parcours.infrastructure.store.chain import AuditKeys

# Exit code when a chain is broken (as `reconcile` exits 3 when it found differences).
BROKEN = 3
# Progress on stderr at most this often (cases), so a long run shows it is alive.
PROGRESS_EVERY = 2000


def register(sub: argparse._SubParsersAction[Any], t: Catalog) -> None:
    p = sub.add_parser("audit", help=t("cli.cmd.audit.help"))
    asub = p.add_subparsers(dest="audit_command", metavar=t("cli.metavar.action"), required=True)
    q = asub.add_parser(
        "verify",
        help=t("cli.cmd.audit_verify.help"),
        description=t("cli.cmd.audit_verify.description"),
    )
    q.add_argument("--dossier", action="append", help=t("cli.opt.only_dossier"))
    add_json_flag(q)
    q.set_defaults(handler=verify)


def _keys(ctx: Context) -> AuditKeys:
    from parcours.infrastructure.codec import CodecKeyError
    from parcours.infrastructure.store.chain import NO_KEY, AuditKeys, audit_keyring

    try:
        keys = audit_keyring(ctx.settings)
    except CodecKeyError as err:
        raise ParcoursError(str(err), refusal=err.refusal) from None
    if not keys:
        raise ParcoursError(NO_KEY)
    return AuditKeys.of(keys)


async def verify(args: argparse.Namespace, ctx: Context) -> int:
    from parcours.infrastructure.store import audit

    t = ctx.t  # the CLI's language (PARCOURS_LANGUAGE / --lang), French by default

    dossiers = [inputs.dossier(d) for d in args.dossier or []]
    keys = _keys(ctx)
    sessions = await ctx.sessions()
    shown = 0

    def progress(done: audit.Verification, total: int) -> None:
        nonlocal shown
        if done.cases - shown >= PROGRESS_EVERY or (shown and done.cases == total):
            shown = done.cases
            ctx.note(t("audit.progress", cases=done.cases, total=total, rows=done.rows))

    result = await audit.verify(sessions, keys, dossiers or None, progress)
    if args.json:
        dump_json(
            {
                "holds": result.holds,
                "cases": result.cases,
                "rows": result.rows,
                "broken": [b.to_json() for b in result.broken],
            },
            ctx.out,
        )
    else:
        for b in result.broken:
            if b.reason == audit.EMPTY:
                minutes = int(audit.OPENING_GRACE.total_seconds() // 60)
                ctx.print(t("audit.empty", dossier=b.dossier, minutes=minutes))
                continue
            ctx.print(
                t(
                    "audit.broken",
                    dossier=b.dossier,
                    row_id=b.row_id,
                    seq="-" if b.seq is None else b.seq,
                    expected=b.expected_seq,
                    key=b.key,
                    reason=t(f"audit.reason.{b.reason}"),
                )
            )
        # "1 dossier, 8 lignes": each count with its plural, by the language's rules.
        cases = t.plural("audit.cases", result.cases)
        rows = t.plural("audit.rows", result.rows)
        if result.rows == 0 and result.holds:
            ctx.print(t("audit.no_rows"))
        elif result.holds:
            ctx.print(t("audit.summary_ok", cases=cases, rows=rows))
        else:
            total = t.number(result.cases)  # "1 dossier sur 2": the noun goes with the first
            ctx.print(t.plural("audit.summary_broken", len(result.broken), cases=total, rows=rows))
    return 0 if result.holds else BROKEN
