"""Security headers on every response, and the API docs pages under policies of their own.

Pages are served with a Content-Security-Policy that allows scripts, styles and images from
the console itself only: no inline script or style (templates hold none), no framing. Every
response but static files gets `Cache-Control: no-store`: pages and API answers carry
personal data, and nothing must stay in a shared cache or the browser's history. With
`secure_cookies` (the default; off only for `parcours dev`'s plain http) HSTS tells browsers
to come back over HTTPS only.
"""

from __future__ import annotations

import base64
import hashlib
import re

from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from starlette.datastructures import MutableHeaders
from starlette.responses import HTMLResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HSTS = "max-age=31536000"
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cacheable = scope["path"].startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                # A route with a policy of its own (the API docs) keeps it.
                headers.setdefault("Content-Security-Policy", CSP)
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "same-origin"
                headers["X-Frame-Options"] = "DENY"  # frame-ancestors, for older browsers
                if not cacheable:
                    headers["Cache-Control"] = "no-store"
                if self.hsts:
                    headers["Strict-Transport-Security"] = HSTS
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _script_hashes(page: HTMLResponse) -> str:
    return " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(script).digest()).decode() + "'"
        for script in _INLINE_SCRIPT.findall(bytes(page.body))
    )


def docs_page(openapi_url: str, title: str, assets: str) -> HTMLResponse:
    """FastAPI's Swagger UI with its script, style and favicon served by the console itself
    from `assets` (nothing from another host: the console may run on a closed network). Its
    one inline script is allowed by its hash, computed from the page itself, so a FastAPI
    upgrade cannot silently break it. The page shows the API's schema, never a case."""
    page = get_swagger_ui_html(
        openapi_url=openapi_url,
        title=title,
        swagger_js_url=f"{assets}/swagger-ui-bundle.js",
        swagger_css_url=f"{assets}/swagger-ui.css",
        swagger_favicon_url=f"{assets}/favicon.png",
    )
    page.headers["Content-Security-Policy"] = (
        f"default-src 'self'; script-src 'self' {_script_hashes(page)}; "
        # Swagger UI sets style attributes from its script.
        "style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    )
    return page


def redoc_page(openapi_url: str, title: str, assets: str) -> HTMLResponse:
    """ReDoc, from the same assets (no web fonts: they would come from another host)."""
    page = get_redoc_html(
        openapi_url=openapi_url,
        title=title,
        redoc_js_url=f"{assets}/redoc.standalone.js",
        redoc_favicon_url=f"{assets}/favicon.png",
        with_google_fonts=False,
    )
    page.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self'; "
        # ReDoc writes its styles into the page and searches in a worker it makes from a blob.
        "style-src 'self' 'unsafe-inline'; img-src 'self' data:; worker-src 'self' blob:; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    )
    return page
