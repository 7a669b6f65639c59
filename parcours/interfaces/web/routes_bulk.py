"""Bulk work in the console (issue 17): from the stuck list or a filtered case list, a
supervisor or a director selects cases (or "all N matching this filter") and reassigns them
to one officer, spreads them over several (or the region's, by the intake rule), adds the same
note, or pauses them with a reason; then follows the batch on its progress page.

The programme's table (`bulk`) is checked early and never grants more: the batch sends each
case its own signed update, which that case's validator judges by the case table, so a case
outside the person's reach comes back refused, in its row. A filter is resolved to an
explicit list of the cases this person may see when the batch starts
(application/batches.py), and the batch's id derives from that list and its action, so the
same form sent twice starts one batch.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from sqlalchemy import select
from starlette.datastructures import FormData
from starlette.responses import JSONResponse, RedirectResponse, Response

from parcours.application import refusals
from parcours.application.batches import (
    BATCH_ID_RE,
    MAX_CASES,
    batch_progress,
    bulk_request,
    cases_of_filter,
    parse_filter,
    start_batch,
)
from parcours.infrastructure.catalog import catalog
from parcours.infrastructure.store.accounts import Account
from parcours.infrastructure.store.finder import find_cases, visible_to
from parcours.infrastructure.store.models import Case
from parcours.infrastructure.store.officers import actor_of
from parcours.interfaces.web.auth import check_csrf, supervisor_account
from parcours.interfaces.web.render import render
from parcours.interfaces.web.reports import officers_of
from parcours.interfaces.web.state import StateDep, WebState
from parcours.kernel import inputs
from parcours.kernel.authz import ProgrammeAction, decide_programme
from parcours.kernel.batches import BatchKind, BatchProgress, CaseOutcome
from parcours.kernel.domain import OPEN_STATUSES, Actor, Role
from parcours.kernel.errors import ParcoursError, TemporalUnavailable, UpdateRejected

router = APIRouter(include_in_schema=False)
PAGE = "/bulk"
KINDS = (BatchKind.REASSIGN, BatchKind.SPREAD, BatchKind.NOTE, BatchKind.PAUSE)
# The pages a bulk form may come from, for the error page's way back (never elsewhere).
BACK_TO = ("/cases", "/supervision/stuck")
# Rows of a progress page: the counts cover the rest.
MAX_ROWS = 1000


def bulk_region(actor: Actor) -> str | None:
    """The region a person's bulk work covers: a director every region (None), a supervisor
    their own."""
    return None if actor.role == Role.DIRECTOR else actor.region


def may_bulk(account: Account) -> bool:
    if account.officer is None:
        return False
    actor = actor_of(account.officer)
    return decide_programme(ProgrammeAction.BULK, actor, bulk_region(actor)) is None


def filter_text(
    *,
    stage: str | None,
    min_level: int,
    region: str | None,
    officer: str | None,
    overdue: bool,
) -> str:
    """A list page's filter in the batch's words (`stage=francization,min-level=2,...`)."""
    parts = [f"min-level={min_level}"]
    if stage:
        parts.append(f"stage={stage}")
    if region:
        parts.append(f"region={region}")
    if officer:
        parts.append(f"officer={officer}")
    if overdue:
        parts.append("overdue")
    return ",".join(parts)


@dataclass
class BulkOffer:
    """What a list page shows for bulk work: the filter its "all N" means (None when the page
    shows more than a filter can say, a text search say), how many that is, the officers."""

    filter: str | None
    matching: int
    officers: list[Any]
    back: str
    kinds: tuple[BatchKind, ...] = KINDS
    # The statuses a case can be selected in (a closed one takes no action).
    open: frozenset[str] = frozenset(s.value for s in OPEN_STATUSES)


async def bulk_offer(
    state: WebState, account: Account, filter_: str | None, back: str
) -> BulkOffer | None:
    """The bulk form of a list page, or None for someone the table does not allow."""
    if not may_bulk(account):
        return None
    assert account.officer is not None
    actor = actor_of(account.officer)
    async with state.sessions() as session:
        # Counted, not listed: the list is resolved when a batch starts (the same query).
        matching = (
            (await find_cases(session, actor, replace(parse_filter(filter_), per_page=1))).total
            if filter_
            else 0
        )
        officers = await officers_of(session, bulk_region(actor))
    return BulkOffer(filter_, matching, officers, back)


def _back(form: FormData) -> str:
    back = str(form.get("back") or "")
    return back if back.startswith(BACK_TO) and "//" not in back else "/cases"


@dataclass
class BulkError:
    field: str | None
    message: str


async def _selected(state: WebState, actor: Actor, form: FormData) -> list[str]:
    """The cases the form names that this person may see, or every open case of the page's
    filter, resolved now; in dossier order either way, so that the same selection is the same
    batch (its id derives from the list) whatever order the page listed it in."""
    async with state.sessions() as session:
        if form.get("all") == "1":
            return await cases_of_filter(session, actor, str(form.get("filter") or ""))
        asked = list(
            dict.fromkeys(inputs.dossier(str(d)) for d in form.getlist("dossier") if str(d))
        )[: MAX_CASES + 1]
        seen = set(
            (
                await session.scalars(
                    visible_to(select(Case.dossier), actor).where(Case.dossier.in_(asked))
                )
            ).all()
        )
    return sorted(d for d in asked if d in seen)


@router.post(PAGE)
async def bulk_action(
    request: Request,
    account: Annotated[Account, Depends(supervisor_account)],
    state: StateDep,
) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf") or ""))
    assert account.officer is not None
    actor = actor_of(account.officer)
    lang = str(getattr(request.state, "lang", "fr"))
    try:
        refused = decide_programme(ProgrammeAction.BULK, actor, bulk_region(actor))
        if refused is not None:
            raise UpdateRejected(refusal=refused)
        try:
            kind = BatchKind(str(form.get("kind") or ""))
        except ValueError:
            raise inputs.invalid("bulk_kind", "kind") from None
        dossiers = await _selected(state, actor, form)
        if not dossiers:
            raise inputs.invalid("bulk_none_selected", "dossier")
        officers = (
            [str(form.get("to") or "")]
            if kind == BatchKind.REASSIGN
            else [str(o) for o in form.getlist("spread") if str(o)]
            if kind == BatchKind.SPREAD
            else []
        )
        if kind == BatchKind.REASSIGN and not officers[0]:
            raise inputs.invalid("bulk_to_missing", "to")
        batch = bulk_request(
            kind, dossiers, actor, officers=officers, note=str(form.get("note") or "")
        )
        progress = await start_batch(
            await state.client(), batch, task_queue=state.settings.task_queue
        )
    except TemporalUnavailable as err:
        raise HTTPException(status_code=503, detail=str(err)) from None
    except ParcoursError as err:
        status = 403 if isinstance(err, UpdateRejected) else 422
        return render(
            request,
            "bulk_refused.html",
            {
                "error": BulkError(getattr(err, "field", None), refusals.render(err, lang)),
                "back": _back(form),
            },
            status_code=status,
        )
    return RedirectResponse(f"{PAGE}/{progress.batch_id}", status_code=303)


async def _progress(state: WebState, account: Account, batch_id: str) -> BatchProgress:
    """The batch's progress with the rows of the cases this person may see: a batch's id is
    no secret, its cases are."""
    if not BATCH_ID_RE.match(batch_id):
        raise HTTPException(status_code=404, detail="bulk.unknown")
    try:
        progress = await batch_progress(await state.client(), batch_id)
    except TemporalUnavailable as err:
        raise HTTPException(status_code=503, detail=str(err)) from None
    except ParcoursError:
        raise HTTPException(status_code=404, detail="bulk.unknown") from None
    assert account.officer is not None
    actor = actor_of(account.officer)
    if actor.role != Role.DIRECTOR:
        wanted = [r.dossier for r in progress.results]
        async with state.sessions() as session:
            seen = set(
                (
                    await session.scalars(
                        visible_to(select(Case.dossier), actor).where(Case.dossier.in_(wanted))
                    )
                ).all()
            )
        if not seen:
            # None of its cases is theirs to see: as if there were no such batch.
            raise HTTPException(status_code=404, detail="bulk.unknown")
        progress = progress.only(seen)
    return progress


@router.get(PAGE + "/{batch_id}")
async def progress_page(
    request: Request,
    batch_id: str,
    account: Annotated[Account, Depends(supervisor_account)],
    state: StateDep,
) -> Response:
    progress = await _progress(state, account, batch_id)
    words = catalog(str(getattr(request.state, "lang", "fr")))
    # Settled rows first (what needs a look: refused and failed at the top), pending after.
    order = {
        CaseOutcome.REFUSED: 0,
        CaseOutcome.FAILED: 1,
        CaseOutcome.DONE: 2,
        CaseOutcome.ALREADY: 3,
        CaseOutcome.PENDING: 4,
    }
    rows = sorted(progress.results, key=lambda r: order.get(r.outcome, 5))[:MAX_ROWS]
    return render(
        request,
        "bulk.html",
        {
            "progress": progress,
            "rows": rows,
            "shown_all": len(rows) == len(progress.results),
            "reasons": {r.dossier: words.message(r.refusal) for r in rows if r.refusal is not None},
            "refusal": words.message(progress.refusal) if progress.refusal else None,
        },
    )


@router.get(PAGE + "/{batch_id}/progress.json")
async def progress_json(
    batch_id: str,
    account: Annotated[Account, Depends(supervisor_account)],
    state: StateDep,
) -> Response:
    """The counts the progress page polls (no case rows: the page reloads for those)."""
    p = await _progress(state, account, batch_id)
    return JSONResponse(
        {
            "batch": p.batch_id,
            "total": p.total,
            "handled": p.handled,
            "done": p.done,
            "refused": p.refused,
            "failed": p.failed,
            "finished": p.finished,
        },
        headers={"Cache-Control": "no-store"},
    )
