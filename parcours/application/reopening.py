"""Reopening a declined or withdrawn case under its dossier number (issue 16), for the CLI,
the console and the API alike.

The closed run's state is read (its `case_file` query: Temporal keeps closed runs for the
namespace's retention), the authorization table and the read model are asked first so that a
refusal comes early and in the person's words, then a new run of the same workflow id starts
(infrastructure/temporal.py `reopen_case`). The new run checks the table again before any
effect, and register_case checks the signature and the read model (declined or withdrawn,
not purged): they are the judges.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from temporalio.client import Client

from parcours.infrastructure.config import Settings
from parcours.infrastructure.store import retention
from parcours.infrastructure.temporal import reopen_case, reopenable_file
from parcours.kernel import authz
from parcours.kernel.authz import Action
from parcours.kernel.domain import REOPENABLE_STATUSES, Actor, CaseView, Reopening
from parcours.kernel.errors import CaseNotFound, UpdateRejected
from parcours.kernel.messages import Message

Sessions = Callable[[], AbstractAsyncContextManager[Any]]


def _refused(dossier: str, refusal: Message) -> UpdateRejected:
    return UpdateRejected(f"dossier {dossier}: {refusal}", dossier=dossier, refusal=refusal)


async def reopen(
    client: Client,
    settings: Settings,
    sessions: Sessions,
    dossier: str,
    actor: Actor,
    note: str = "",
) -> CaseView:
    """Reopen `dossier` as `actor`; the case as the new run opened it."""
    async with sessions() as session:
        erased = await retention.purged(session, dossier)
    if erased:
        # Its personal data is gone: the way back is a new dossier.
        raise _refused(dossier, Message.of("reopen_purged", dossier=dossier))
    try:
        found, run_id = await reopenable_file(client, settings, dossier)
    except CaseNotFound:
        if erased is None:
            raise
        # A case row without its workflow: Temporal no longer keeps the closed run.
        raise _refused(dossier, Message.of("reopen_purged", dossier=dossier)) from None
    s = found.state
    if s.status not in REOPENABLE_STATUSES:
        raise _refused(dossier, Message.of("not_reopenable", status=f"status.{s.status.value}"))
    refused = authz.decide(Action.REOPEN, actor, s.approval.region, s.officer_id)
    if refused is not None:
        raise _refused(dossier, refused)
    reopening = Reopening(
        actor=actor,
        note=note,
        previous_run_id=run_id,
        period=s.period + 1,
        step=s.step,
        officer_id=s.officer_id,
        greeting=s.greeting,
        previous_status=s.status.value,
    )
    return await reopen_case(client, settings, s.approval, s.policy, reopening)
