"""Probes for the people who run the service: /healthz and /metrics."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from sqlalchemy import text
from starlette.responses import JSONResponse, Response

from parcours.interfaces.web.metrics import read_counts
from parcours.interfaces.web.state import StateDep, WebState
from parcours.kernel.errors import first_line

router = APIRouter(tags=["operations"])
PROBE_TIMEOUT = 5.0


async def _temporal_ok(state: WebState) -> str | None:
    """None when Temporal answers, else why not (one line)."""
    try:
        client = await asyncio.wait_for(state.client(), PROBE_TIMEOUT)
        await asyncio.wait_for(client.service_client.check_health(), PROBE_TIMEOUT)
    except Exception as err:  # any failure means "not healthy"; the reason is reported
        return first_line(err)
    return None


async def _database_ok(state: WebState) -> str | None:
    try:
        async with state.engine.connect() as conn:
            await asyncio.wait_for(conn.execute(text("SELECT 1")), PROBE_TIMEOUT)
    except Exception as err:
        return first_line(err)
    return None


@router.get("/healthz", summary="Temporal and the read model are reachable")
async def healthz(state: StateDep) -> Response:
    temporal, database = await asyncio.gather(_temporal_ok(state), _database_ok(state))
    ok = temporal is None and database is None
    body = {
        "status": "ok" if ok else "unavailable",
        "temporal": "ok" if temporal is None else temporal,
        "database": "ok" if database is None else database,
    }
    return JSONResponse(body, status_code=200 if ok else 503)


@router.get("/metrics", summary="Prometheus metrics (text format)")
async def metrics(state: StateDep) -> Response:
    async with state.sessions() as session:
        counts = await read_counts(session)
    return Response(
        state.metrics.render(counts), media_type="text/plain; version=0.0.4; charset=utf-8"
    )
