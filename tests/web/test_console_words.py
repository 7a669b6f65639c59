"""Every word the console shows comes from the catalogue, in the page's language.

Three nets: the keys the templates and the web code name exist in French and English; the
templates hold no words of their own outside `t(...)`; and pages rendered with a strict
catalogue (a missing key fails the page) show no raw key, no English-only sentence in
French and no machine text. The browser tests (test_accessibility.py) run the same check on
the pages that need Temporal (the case page, stuck cases)."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from tests.web.console import running_console, sign_in
from tests.web.words import READ_ATTRIBUTES, foreign_words, keys, texts_of

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = sorted((ROOT / "templates" / "web").glob("*.html"))
WEB_CODE = sorted((ROOT / "parcours" / "interfaces" / "web").glob("*.py"))
# t("key"), t.plural("key", ...), t('key'), and the error details the web code raises.
USED_KEY = re.compile(r"""\bt(?:\.plural)?\(\s*["']([a-z][a-z0-9_.]*)["']""")
# Any other string of the web code shaped like a key of one of the catalogue's families
# ("error.no_such_case" raised as a detail).
KEY_LITERAL = re.compile(r"""["']([a-z][a-z0-9_]*\.[a-z0-9_.]*[a-z0-9_])["']""")
# t("stage." ~ s.value): a family of keys, of which at least one must exist.
KEY_FAMILY = re.compile(r"""\bt\(\s*["']([a-z][a-z0-9_.]*\.)["']\s*~""")
# The brand is a name, the same in every language.
NAMES = {"Parcours"}


NAMESPACES = {"error", "journal", "case", "nav", "reports", "login", "form", "a11y", "refusal"}


def _used(paths: list[Path]) -> tuple[set[str], set[str]]:
    used: set[str] = set()
    families: set[str] = set()
    for path in paths:
        source = path.read_text()
        used |= set(USED_KEY.findall(source))
        if path.suffix == ".py":
            used |= {
                k
                for k in KEY_LITERAL.findall(source)
                if k.split(".")[0] in NAMESPACES and not k.endswith((".html", ".py"))
            }
        families |= set(KEY_FAMILY.findall(source))
    return used, families


def test_every_key_the_console_names_is_in_french_and_english() -> None:
    used, families = _used(TEMPLATES + WEB_CODE)
    assert {"nav.caseload", "journal.by", "error.no_such_case"} <= used
    missing = sorted(k for k in used if k not in keys() and not k.endswith("."))
    assert missing == []
    # `keys()` is the union; tests/i18n checks that French and English hold the same keys.
    assert [f for f in families if not any(k.startswith(f) for k in keys())] == []


def _literal_text(template: str) -> str:
    """What a template shows of its own: without Jinja, tags and code samples."""
    text = re.sub(r"\{#.*?#\}|\{%.*?%\}|\{\{.*?\}\}", " ", template, flags=re.S)
    text = re.sub(r"<code>.*?</code>", " ", text, flags=re.S)
    text = re.sub(r"<[^>]*>", " ", text, flags=re.S)
    return text


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.name)
def test_templates_hold_no_words_of_their_own(template: Path) -> None:
    words = set(re.findall(r"[^\W\d_]{2,}", _literal_text(template.read_text())))
    assert words - NAMES == set()


def test_templates_read_attributes_from_the_catalogue() -> None:
    for template in TEMPLATES:
        source = template.read_text()
        for value in re.findall(rf'(?:{"|".join(READ_ATTRIBUTES)})="([^"]*)"', source):
            assert value.startswith("{{"), (template.name, value)


def test_the_check_sees_a_raw_key_english_and_machine_text() -> None:
    page = (
        "<p>case.title</p><p>Action rejected: no</p><p title='revision 1, 3 items'>x</p>"
        "<code>POST /api/v1/visa-approvals</code><p>Dossier D-1 · Amélie Tremblay</p>"
    )
    found = foreign_words(texts_of(page))
    assert len(found) == 3, found
    assert foreign_words(texts_of("<p>Action refusée\u00a0: non</p>")) == []


async def test_pages_in_french_show_only_french_words(tmp_path: Path) -> None:
    logins = ("atremblay", "hcote")
    async with running_console(tmp_path, logins=logins) as console:
        console.app.state.strict_words = True
        c = console.browser()
        pages = {"login": (await c.get("/login")).text}
        assert (await sign_in(c, "hcote")).status_code == 303  # the director sees every page
        for name, path, status in [
            ("caseload", "/cases", 200),
            ("reports", "/supervision/reports", 200),
            ("intake", "/intake", 200),
            ("partners", "/partners", 200),
            ("roster", "/roster", 200),
            ("roster officer", "/roster/atremblay", 200),
            ("forecast", "/supervision/forecast?months=3&runs=10", 200),
            ("no such page", "/nowhere", 404),
            # No Temporal behind this console: the case page says the service is down.
            ("unavailable", "/cases/D-2026-0001", 503),
        ]:
            r = await c.get(path)
            assert r.status_code == status, (name, r.text)
            pages[name] = html.unescape(r.text)
        officer = console.browser("192.0.2.11")
        assert (await sign_in(officer)).status_code == 303
        r = await officer.get("/supervision/stuck")
        assert r.status_code == 403
        pages["forbidden"] = html.unescape(r.text)
        for name, page in pages.items():
            assert foreign_words(texts_of(page)) == [], name
        assert "Cette page n'existe pas." in pages["no such page"]
        assert "Not Found" not in pages["no such page"]
        assert "<title>Erreur 404 · Parcours</title>" in pages["no such page"]
        assert "Rapports du programme" in pages["reports"]
        assert "Dossiers non assignés" in pages["reports"]

        # English pages: English words and English punctuation.
        r = await c.get("/nowhere?lang=en")
        assert "This page does not exist." in html.unescape(r.text) and "Not Found" not in r.text
        r = await c.get("/supervision/reports")
        assert "Programme reports" in r.text and "Unassigned cases" in r.text
        assert not re.search(r"\w \u00a0?:", " ".join(texts_of(r.text)))
