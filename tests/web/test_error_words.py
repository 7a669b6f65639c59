"""Error pages are worded from the catalogue in the page's language, French by default: the
code raises catalogue keys, never a sentence a person would read in English only."""

from __future__ import annotations

from pathlib import Path

from tests.web.console import running_console, sign_in


async def test_a_refused_form_is_explained_in_french_then_in_english(tmp_path: Path) -> None:
    async with running_console(tmp_path) as console:
        c = console.browser()
        assert (await sign_in(c)).status_code == 303
        # A form posted without its token (a forged cross-site post, or a page left open).
        r = await c.post("/cases/D-1/progress", data={"note": "x"})
        assert r.status_code == 400
        assert "Jeton de formulaire manquant\u00a0: rechargez la page." in r.text
        assert "error.form_token_missing" not in r.text
        r = await c.post("/cases/D-1/progress?lang=en", data={"note": "x"})
        assert r.status_code == 400 and "missing form token: reload the page" in r.text
