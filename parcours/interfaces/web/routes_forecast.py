"""*Prévisions*: the capacity forecast in the console (issue 18), for directors (every region,
or one) and supervisors (their region). The form's fields are the CLI's overrides; empty
means measured. A GET form: the page computes, it changes nothing, and its address is the
forecast (the CSV link repeats it)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from markupsafe import Markup
from starlette.datastructures import QueryParams
from starlette.responses import Response

from parcours.application import forecast as fc
from parcours.application.forecast_chart import chart_labels, svg
from parcours.application.policies import choose_target_caseload
from parcours.infrastructure.store.accounts import Account
from parcours.infrastructure.store.officers import actor_of
from parcours.interfaces.web.auth import Forbidden, supervisor_account
from parcours.interfaces.web.i18n import Translator
from parcours.interfaces.web.render import render
from parcours.interfaces.web.state import StateDep
from parcours.kernel.authz import ProgrammeAction, decide_programme
from parcours.kernel.domain import REGIONS, Role

router = APIRouter(include_in_schema=False)

NUMBER_FIELDS = ("intake_per_year", "uptake", "officers", "target_caseload", "months", "runs",
                 "seed")  # fmt: skip
WHOLE = {"officers", "target_caseload", "months", "runs", "seed"}
STAGE_FIELDS = {s: f"stage_{s}" for s in fc.STAGE_NAMES}


def _read(q: QueryParams) -> tuple[fc.Request, dict[str, str]]:
    """The form as a request, and the errors per field (catalogue keys)."""
    errors: dict[str, str] = {}
    values: dict[str, float] = {}
    for name in (*NUMBER_FIELDS, *STAGE_FIELDS.values()):
        raw = (q.get(name) or "").strip()
        if not raw:
            continue
        value = fc.read_number(raw)
        if value is None:
            errors[name] = "forecast.error.not_a_number"
        elif name in WHOLE and value != int(value):
            errors[name] = "forecast.error.not_whole"
        else:
            values[name] = value
    o = fc.Overrides(
        intake_per_year=values.get("intake_per_year"),
        uptake=values.get("uptake"),
        stage_months={s: values[f] for s, f in STAGE_FIELDS.items() if f in values},
        officers=int(values["officers"]) if "officers" in values else None,
        target_caseload=int(values["target_caseload"]) if "target_caseload" in values else None,
    )
    request = fc.Request(
        overrides=o,
        months=int(values.get("months", fc.DEFAULT_MONTHS)),
        runs=int(values.get("runs", fc.DEFAULT_RUNS)),
        seed=int(values.get("seed", fc.DEFAULT_SEED)),
    )
    if not errors:
        try:
            fc.check(request)
        except fc.ForecastInputError as err:
            name = err.field if err.field != "stage_months" else _stage_field(err)
            errors[name] = err.key
            errors[f"{name}:params"] = "|".join(f"{k}={v}" for k, v in err.params.items())
    return request, errors


def _stage_field(err: fc.ForecastInputError) -> str:
    return STAGE_FIELDS.get(str(err.params.get("stage")), "stage_arrival")


async def _forecast(
    request: Request, account: Account, state: StateDep
) -> tuple[fc.Request, dict[str, str], fc.Forecast | None, list[str]]:
    q = request.query_params
    asked, errors = _read(q)
    director = account.role == Role.DIRECTOR.value
    wanted = q.get("region") or None
    if wanted is not None and wanted not in REGIONS:
        errors["region"] = "forecast.error.region"
        wanted = None
    # A supervisor's page is their region's; naming another one is refused, not widened.
    asked.region = wanted if (director or wanted) else account.region
    if account.officer is None or decide_programme(
        ProgrammeAction.FORECAST, actor_of(account.officer), asked.region
    ):
        raise Forbidden()
    regions = list(REGIONS) if director else [r for r in REGIONS if r == account.region]
    if errors:
        return asked, errors, None, regions
    target = choose_target_caseload(state.settings)
    async with state.sessions() as session:
        result = await fc.forecast(session, asked, target, datetime.now(UTC))
    return asked, errors, result, regions


def _chart(t: Translator, f: fc.Forecast) -> Markup:
    # svg() escapes every word it writes; the numbers are ours.
    return Markup(svg(f, chart_labels(t, f), lambda v: t.number(round(v))))  # noqa: S704


@router.get("/supervision/forecast")
async def forecast_page(
    request: Request,
    account: Annotated[Account, Depends(supervisor_account)],
    state: StateDep,
) -> Response:
    asked, errors, result, regions = await _forecast(request, account, state)
    t = Translator(getattr(request.state, "lang", "fr"))
    context: dict[str, Any] = {
        "form": request.query_params,
        "errors": {k: v for k, v in errors.items() if ":" not in k},
        "error_params": {
            k.split(":")[0]: dict(p.split("=", 1) for p in v.split("|") if "=" in p)
            for k, v in errors.items()
            if k.endswith(":params")
        },
        "stage_fields": STAGE_FIELDS,
        "regions": regions,
        "region": asked.region,
        "director": account.role == Role.DIRECTOR.value,
        "result": result,
        "chart": _chart(t, result) if result is not None else None,
        "csv_query": str(request.query_params),
    }
    return render(request, "forecast.html", context, status_code=400 if errors else 200)


@router.get("/supervision/forecast.csv")
async def forecast_csv(
    request: Request,
    account: Annotated[Account, Depends(supervisor_account)],
    state: StateDep,
) -> Response:
    asked, errors, result, _ = await _forecast(request, account, state)
    if result is None:
        return await forecast_page(request, account, state)
    name = f"prevision-{asked.region or 'quebec'}-{asked.months}m.csv"
    return Response(
        fc.to_csv(result),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
