"""Server-rendered pages: one Jinja2 environment, autoescaped, with the translator in it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.templating import Jinja2Templates
from starlette.requests import Request
from starlette.responses import HTMLResponse

from parcours.interfaces.web.auth import csrf_token
from parcours.interfaces.web.i18n import DEFAULT_LANGUAGE, Translator


def make_templates(templates_dir: Path) -> Jinja2Templates:
    # Jinja2Templates autoescapes .html: names and notes typed by people are escaped.
    return Jinja2Templates(directory=str(templates_dir / "web"))


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    templates: Jinja2Templates = request.app.state.templates
    lang = getattr(request.state, "lang", DEFAULT_LANGUAGE)
    # A page about one case reads its dates and times in the case's zone (the Magdalen
    # Islands' are Atlantic); any other page, in Quebec's (Eastern). `strict_words` (set by the
    # words tests on their app): a key missing from the catalogue fails the page.
    t = Translator(
        lang,
        getattr((context or {}).get("case"), "time_zone", None),
        strict=getattr(request.app.state, "strict_words", False),
    )
    ctx: dict[str, Any] = {
        "t": t,
        "lang": lang,
        "account": getattr(request.state, "account", None),
        "csrf": csrf_token(request) if "session" in request.scope else "",
        "path": request.url.path,
        # Open cases without an officer in the reader's scope (supervisors and directors;
        # None for others): the header's alarm (issue 17, set with the account in auth.py).
        "unassigned_count": getattr(request.state, "unassigned_count", None),
        "flash": request.session.pop("flash", None) if "session" in request.scope else None,
    }
    ctx.update(context or {})
    return templates.TemplateResponse(
        request, template, ctx, status_code=status_code, headers=headers
    )
