"""The app factory: one FastAPI app serving the console pages, the intake API and probes."""

from __future__ import annotations

import importlib.resources
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import RedirectResponse, Response
from temporalio.client import Client

from parcours import __version__
from parcours.infrastructure.config import Settings
from parcours.interfaces.web import (
    api,
    ops,
    routes_bulk,
    routes_cases,
    routes_closing,
    routes_forecast,
    routes_meetings,
    routes_newcomer,
    routes_referrals,
    routes_roster,
    routes_session,
    routes_supervision,
)
from parcours.interfaces.web.auth import Forbidden, SignInRequired, login_redirect
from parcours.interfaces.web.headers import SecurityHeaders, docs_page, redoc_page
from parcours.interfaces.web.i18n import LANG_COOKIE, Translator, pick_language
from parcours.interfaces.web.render import make_templates, render
from parcours.interfaces.web.sessions import ServerSessionMiddleware
from parcours.interfaces.web.state import WebState, load_secret

ENGLISH = Translator("en")

STATIC_DIR = Path(__file__).parent / "static"
# Swagger UI, ReDoc and their favicon, as the fastapi-offline package ships them (a maintained
# copy of the files FastAPI's pages would otherwise load from a CDN), under /static/: served
# like the console's own static files, without a session, cacheable.
DOCS_ASSETS = "/static/docs"


def docs_assets_dir() -> str:
    return str(importlib.resources.files("fastapi_offline") / "static")


# What an error page says when its error carries no catalogue key of its own.
ERROR_TEXTS = {404: "error.no_such_page", 503: "error.unavailable_text"}


def error_text(status: int) -> str:
    return ERROR_TEXTS.get(status, "error.other_text")


def create_app(
    settings: Settings | None = None,
    *,
    client: Client | None = None,
    secret: str | None = None,
) -> FastAPI:
    """The web app. `client` lets a caller that already holds a Temporal client (the dev
    stack, tests) share it; otherwise the app connects on first use."""
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.web = await WebState.open(settings, client)
        try:
            yield
        finally:
            await app.state.web.aclose()

    app = FastAPI(
        title="Parcours",
        version=__version__,
        description="Quebec's integration pathway: the operators' intake API. "
        "Authenticate with `Authorization: Bearer <token>` (see `parcours tokens create`): "
        "an `intake` token may post approvals, a `read` token may read a case's status.",
        lifespan=lifespan,
        # Our own /docs and /redoc below: their assets from the console, under policies of
        # their own (headers.py).
        docs_url=None,
        redoc_url=None,
    )
    app.state.templates = make_templates(settings.templates_dir)
    # Added last, run first: the headers wrap every response, error pages included.
    app.add_middleware(ServerSessionMiddleware, secret=secret or load_secret(settings))
    app.add_middleware(SecurityHeaders, hsts=settings.secure_cookies)

    @app.get("/docs", include_in_schema=False)
    async def docs() -> Response:
        return docs_page(app.openapi_url or "/openapi.json", f"{app.title} API", DOCS_ASSETS)

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> Response:
        return redoc_page(app.openapi_url or "/openapi.json", f"{app.title} API", DOCS_ASSETS)

    @app.middleware("http")
    async def language_and_timing(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        asked = request.query_params.get("lang")
        request.state.lang = pick_language(asked, request.cookies.get(LANG_COOKIE))
        started = time.perf_counter()
        response = await call_next(request)
        if asked is not None and asked == request.state.lang:
            response.set_cookie(
                LANG_COOKIE,
                asked,
                max_age=365 * 86400,
                samesite="lax",
                secure=settings.secure_cookies,
            )
        # The route template ("/cases/{dossier}"), never the raw path: bounded labels.
        route = getattr(request.scope.get("route"), "path", "unmatched")
        web: WebState | None = getattr(request.app.state, "web", None)
        if web is not None:
            web.metrics.request_seconds.labels(
                request.method, route, str(response.status_code)
            ).observe(time.perf_counter() - started)
        return response

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, exc: SignInRequired) -> Response:
        return RedirectResponse(login_redirect(exc.next_path), status_code=303)

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden) -> Response:
        return render(request, "forbidden.html", status_code=403)

    # Starlette's own errors too (an unknown path, a wrong method), which FastAPI's are a kind of.
    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if request.url.path.startswith("/api/") or request.url.path in ("/healthz", "/metrics"):
            # A catalogue key becomes its English text; any other detail passes as it is.
            detail = ENGLISH(exc.detail) if ENGLISH.has(exc.detail) else exc.detail
            return JSONResponse(
                {"detail": detail}, status_code=exc.status_code, headers=exc.headers
            )
        # A page says what the catalogue says, in the page's language: a detail that is no
        # catalogue key (Starlette's own "Not Found", a driver's error text) gives way to the
        # status's sentence, never shown raw.
        key = exc.detail if ENGLISH.has(exc.detail) else error_text(exc.status_code)
        return render(
            request,
            "error.html",
            {"status": exc.status_code, "detail": key},
            status_code=exc.status_code,
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        # Field locations and messages only: never echo the input, which may be personal.
        errors = [{"loc": e.get("loc"), "msg": e.get("msg")} for e in exc.errors()]
        return JSONResponse({"detail": errors}, status_code=422)

    app.include_router(routes_session.router)
    # Before routes_cases: its /cases/{dossier}/{action} would take /meeting.
    app.include_router(routes_meetings.router)
    # Before routes_cases: its /cases/{dossier}/{action} would take decline and reopen.
    app.include_router(routes_closing.router)
    app.include_router(routes_cases.router)
    app.include_router(routes_supervision.router)
    app.include_router(routes_forecast.router)
    app.include_router(routes_referrals.router)
    app.include_router(routes_roster.router)
    app.include_router(routes_bulk.router)
    app.include_router(routes_newcomer.router)
    app.include_router(api.router)
    app.include_router(routes_closing.api_router)
    app.include_router(ops.router)
    # Before /static, which would otherwise take its paths.
    app.mount(DOCS_ASSETS, StaticFiles(directory=docs_assets_dir()), name="docs-assets")
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
