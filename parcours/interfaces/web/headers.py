"""Security headers on every response, and the API docs page under a policy of its own.

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

from fastapi.openapi.docs import get_swagger_ui_html
from starlette.datastructures import MutableHeaders
from starlette.responses import HTMLResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HSTS = "max-age=31536000"
SWAGGER_CDN = "https://cdn.jsdelivr.net"
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


def docs_page(openapi_url: str, title: str) -> HTMLResponse:
    """FastAPI's Swagger UI, whose one inline script is allowed by its hash (computed from
    the page itself, so a FastAPI upgrade cannot silently break it), with the CDN it loads
    from. The page shows the API's schema, never a case."""
    page = get_swagger_ui_html(openapi_url=openapi_url, title=title)
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(script).digest()).decode() + "'"
        for script in _INLINE_SCRIPT.findall(bytes(page.body))
    )
    page.headers["Content-Security-Policy"] = (
        f"default-src 'self'; script-src {SWAGGER_CDN} {hashes}; "
        # Swagger UI sets style attributes from its script.
        f"style-src {SWAGGER_CDN} 'unsafe-inline'; img-src 'self' data: https:; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    )
    return page
