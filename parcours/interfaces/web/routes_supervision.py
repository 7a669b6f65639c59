"""Supervisors' and directors' pages: stuck cases (Temporal visibility), caseload chart and
stage durations (read model). A supervisor sees their region only; a director all regions."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Request
from starlette.responses import Response

from parcours.application import refusals
from parcours.application.reports import (
    LEVELS,
    REASONS,
    Period,
    build_report,
    check_reader,
)
from parcours.application.stuck import find_stuck, read_model_ranking, stuck_query
from parcours.infrastructure.store.absences import absences_today
from parcours.infrastructure.store.accounts import Account
from parcours.infrastructure.store.caseload import caseload
from parcours.infrastructure.store.officers import actor_of
from parcours.interfaces.web.auth import supervisor_account
from parcours.interfaces.web.charts import caseload_chart
from parcours.interfaces.web.i18n import Translator
from parcours.interfaces.web.render import render
from parcours.interfaces.web.reports import officers_of
from parcours.interfaces.web.routes_bulk import bulk_offer, filter_text
from parcours.interfaces.web.state import StateDep
from parcours.kernel import inputs
from parcours.kernel.domain import REGIONS, STAGES, Role
from parcours.kernel.errors import ParcoursError, TemporalUnavailable
from parcours.kernel.inputs import InvalidInput
from parcours.kernel.search import StuckFilter

router = APIRouter(include_in_schema=False)
MAX_STUCK = 200


def _region_scope(account: Account, asked: str | None) -> str | None:
    """Directors choose (None: all regions); a supervisor always gets their own region."""
    if account.role == Role.DIRECTOR.value:
        if asked:
            try:
                return inputs.region(asked)
            except ParcoursError:
                return None
        return None
    return account.region


@router.get("/supervision/stuck")
async def stuck_page(
    request: Request,
    account: Annotated[Account, Depends(supervisor_account)],
    state: StateDep,
) -> Response:
    q = request.query_params
    region = _region_scope(account, q.get("region"))
    stage = q.get("stage") or None
    if stage not in {s.value for s in STAGES}:
        stage = None
    officer = q.get("officer") or None
    if officer:
        try:
            officer = inputs.officer_filter(officer)
        except ParcoursError:
            officer = None
    try:
        level = inputs.min_level(q.get("level") or "1")
    except ParcoursError:
        level = 1
    overdue_only = q.get("overdue") == "1"
    f = StuckFilter(
        min_level=level, stage=stage, region=region, officer=officer, overdue_only=overdue_only
    )
    try:
        page = await find_stuck(
            await state.client(), stuck_query(f), MAX_STUCK, read_model_ranking(state.sessions, f)
        )
    except TemporalUnavailable as err:
        raise HTTPException(status_code=503, detail=str(err)) from None
    async with state.sessions() as session:
        officers = await officers_of(session, region)
        away = await absences_today(session)
    bulk = await bulk_offer(
        state,
        account,
        filter_text(
            stage=stage, min_level=level, region=region, officer=officer, overdue=overdue_only
        ),
        str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""),
    )
    return render(
        request,
        "stuck.html",
        {
            "away": away,
            "bulk": bulk,
            "cases": page.cases,
            "total": page.total,
            "filters": {
                "stage": stage,
                "region": region,
                "officer": officer,
                "level": level,
                "overdue": overdue_only,
            },
            "stages": STAGES,
            "regions": REGIONS if account.role == Role.DIRECTOR.value else [account.region],
            "officers": officers,
        },
    )


@router.get("/supervision/reports")
async def reports_page(
    request: Request,
    account: Annotated[Account, Depends(supervisor_account)],
    state: StateDep,
) -> Response:
    """The programme reports (issue 18): a director chooses the region (all by default), a
    supervisor always reads their own. Each figure links to the case list behind it."""
    q = request.query_params
    region = _region_scope(account, q.get("region"))
    assert account.officer is not None
    reader = actor_of(account.officer)
    first, last = (q.get("from") or "").strip() or None, (q.get("to") or "").strip() or None
    errors: dict[str, str] = {}
    t = Translator(getattr(request.state, "lang", "fr"))
    try:
        period = Period.of(first, last, state.clock().date())
    except InvalidInput as err:
        errors[err.field or "--from"] = refusals.render(err, t.lang)
        period = Period.of(None, None, state.clock().date())
    try:
        check_reader(reader, region)
    except ParcoursError as err:
        raise HTTPException(status_code=403, detail=str(err)) from None
    async with state.sessions() as session:
        report = await build_report(session, period, region)
        entries = await caseload(session, region=region)
    unassigned = sum(e.open_cases for e in entries if e.officer_id is None)
    chart = caseload_chart(entries, t.plural("reports.unassigned_bar", unassigned))
    return render(
        request,
        "reports.html",
        {
            "report": report,
            "chart": chart,
            "region": region,
            "first": first or period.first,
            "last": last or period.last,
            "errors": errors,
            "stages": STAGES,
            "levels": LEVELS,
            "reasons": REASONS,
            "link": _figure_link,
            "regions": REGIONS if account.role == Role.DIRECTOR.value else [account.region],
        },
        status_code=400 if errors else 200,
    )


def _figure_link(
    region: str, figure: str, first: str, last: str | None = None, value: object = None
) -> str:
    """The case list behind a report figure (routes_cases.parse_search reads it)."""
    params = {"status": "all", "region": region, "figure": figure, "from": first}
    params["to"] = last or first
    if value is not None:
        params["value"] = str(value)
    return "/cases?" + urlencode(params)
