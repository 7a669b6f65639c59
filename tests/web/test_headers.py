"""Security headers on pages, API answers and the docs; the cookie's Secure flag and HSTS
follow `secure_cookies`; templates hold nothing the policy would block."""

from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

from parcours.infrastructure.config import REPO_ROOT, Settings
from parcours.interfaces.web.sessions import SESSION_COOKIE, SIGNIN_CSRF_COOKIE
from tests.web.console import running_console, sign_in


def assert_protected(r: httpx.Response) -> None:
    csp = r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "same-origin"
    assert r.headers["cache-control"] == "no-store"


def set_cookie(r: httpx.Response, name: str) -> str:
    found = [v for v in r.headers.get_list("set-cookie") if v.startswith(f"{name}=")]
    assert found, (name, r.headers.get_list("set-cookie"))
    return found[0].lower()


async def test_pages_and_api_answers_carry_the_headers(tmp_path: Path) -> None:
    async with running_console(tmp_path) as console:
        c = console.browser()
        assert_protected(await c.get("/login"))
        assert_protected(await c.get("/cases"))  # the redirect to sign in, too
        signed = await sign_in(c)
        assert_protected(signed)
        for path in ("/cases", "/cases/NOPE-1"):  # a page, an error page
            assert_protected(await c.get(path))
        api = await c.get("/api/v1/cases/NOPE-1")  # no token: 401, as JSON
        assert api.status_code == 401
        assert_protected(api)
        assert_protected(await c.get("/healthz"))
        # Static files hold no personal data: they may be cached.
        css = await c.get("/static/style.css")
        assert css.status_code == 200 and "no-store" not in css.headers.get("cache-control", "")
        assert css.headers["x-content-type-options"] == "nosniff"


async def test_secure_cookie_and_hsts_by_default(tmp_path: Path) -> None:
    assert Settings().secure_cookies is True
    assert Settings.from_env({}).secure_cookies is True
    async with running_console(tmp_path) as console:
        c = console.browser()
        page = await c.get("/login")
        assert page.headers["strict-transport-security"].startswith("max-age=")
        assert "; secure" in set_cookie(page, SIGNIN_CSRF_COOKIE)
        signed = await sign_in(c)
        cookie = set_cookie(signed, SESSION_COOKIE)
        assert "; secure" in cookie and "; httponly" in cookie and "samesite=lax" in cookie


async def test_plain_http_when_turned_off(tmp_path: Path) -> None:
    """`parcours dev` (and PARCOURS_SECURE_COOKIES=0) serve plain http on loopback."""
    assert Settings.from_env({"PARCOURS_SECURE_COOKIES": "0"}).secure_cookies is False
    async with running_console(tmp_path, secure_cookies=False) as console:
        c = console.browser()
        page = await c.get("/login")
        assert "strict-transport-security" not in page.headers
        assert "secure" not in set_cookie(page, SIGNIN_CSRF_COOKIE)
        signed = await sign_in(c)
        assert "secure" not in set_cookie(signed, SESSION_COOKIE)
        assert_protected(signed)  # the other headers stay


async def test_the_docs_inline_script_is_allowed_by_its_hash_only(tmp_path: Path) -> None:
    async with running_console(tmp_path) as console:
        r = await console.browser().get("/docs")
        assert r.status_code == 200
        csp = r.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and r.headers["cache-control"] == "no-store"
        scripts = re.findall(r"<script>(.*?)</script>", r.text, re.DOTALL)
        assert scripts
        script_src = next(d for d in csp.split(";") if d.strip().startswith("script-src"))
        assert "unsafe-inline" not in script_src
        for script in scripts:
            digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
            assert f"'sha256-{digest}'" in script_src


class _Assets(HTMLParser):
    """Every URL a page makes the browser load: scripts, styles, images, icons."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        url = a.get("src") if tag in ("script", "img") else None
        if tag == "link" and a.get("rel") in ("stylesheet", "icon", "shortcut icon"):
            url = a.get("href")
        if url:
            self.urls.append(url)


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_the_api_docs_load_everything_from_the_console(tmp_path: Path, page: str) -> None:
    """/docs and /redoc on a closed network: every script, style and icon they name is the
    console's own, and served."""
    async with running_console(tmp_path) as console:
        c = console.browser()
        r = await c.get(page)
        assert r.status_code == 200
        found = _Assets()
        found.feed(r.text)
        assert len(found.urls) >= 2 and any(u.endswith("favicon.png") for u in found.urls)
        for url in found.urls:
            assert url.startswith("/") and not url.startswith("//"), url
            asset = await c.get(url)
            assert asset.status_code == 200, url
            assert len(asset.content) > 1000, url
        policy = r.headers["content-security-policy"]
        assert "http" not in policy  # no other host allowed either
        assert "frame-ancestors 'none'" in policy


def test_templates_hold_no_inline_script_or_style() -> None:
    """What the policy would block: inline <script>, style attributes or elements, event
    handler attributes, javascript: links."""
    offending = re.compile(
        r"<script(?![^>]*\bsrc=)|<style|\sstyle=|\son[a-z]+=|javascript:", re.IGNORECASE
    )
    found = [
        f"{path.name}: {m.group(0)}"
        for path in sorted((REPO_ROOT / "templates" / "web").glob("*.html"))
        for m in offending.finditer(path.read_text())
    ]
    assert found == []
