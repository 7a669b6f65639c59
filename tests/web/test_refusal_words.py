"""A refusal reaches the console as a code and is worded in the page's language: French by
default, English with ?lang=en. The refusal here is the workflow's own (no plan on file), so
the code crosses Temporal (ApplicationError details) before the console words it."""

from __future__ import annotations

import html
import uuid

import httpx

from tests.web.conftest import WebStack, approval, start_cases, wait_for
from tests.web.test_case_authz import CSRF, case_api, sign_in

FRENCH = "l'accueil ne peut pas être approuvé tant qu'aucun plan d'action n'est déposé"
ENGLISH = "arrival cannot be approved until an action plan is on file"


def approve_arrival(c: httpx.Client, dossier: str, query: str = "") -> httpx.Response:
    page = c.get(f"/cases/{dossier}{query}")
    assert page.status_code == 200
    found = CSRF.search(page.text)
    assert found
    # Followed: a console that redirects after a refused POST shows the refusal on the GET.
    return c.post(
        f"/cases/{dossier}/approve{query}",
        data={"csrf": found.group(1), "stage": "arrival", "note": ""},
        follow_redirects=True,
    )


def test_a_workflow_refusal_in_french_then_in_english(web_stack: WebStack) -> None:
    d = f"WORDS-{uuid.uuid4().hex[:6].upper()}"
    assert start_cases(web_stack, approval(d))[0]["result"] == "started"
    wait_for(lambda: case_api(web_stack, d).get("officer") is not None)
    with httpx.Client(base_url=web_stack.url, timeout=30) as sup:
        sign_in(sup, "nbouchard")  # Montréal's supervisor: may approve, no plan yet
        french = html.unescape(approve_arrival(sup, d).text)
        assert FRENCH in french and ENGLISH not in french
        assert "plan_required" not in french
        english = html.unescape(approve_arrival(sup, d, "?lang=en").text)
        assert ENGLISH in english and FRENCH not in english
    assert case_api(web_stack, d)["stage"] == "arrival"


def test_a_dossier_typed_in_lower_case_is_the_same_case(web_stack: WebStack) -> None:
    d = f"LOWER-{uuid.uuid4().hex[:6].upper()}"
    # Opened as typed in lower case, with spaces: stored normalised.
    started = start_cases(web_stack, approval(f"  {d.lower()} "))
    assert started[0]["result"] == "started", started
    assert started[0]["workflow_id"] == f"newcomer-{d}" and started[0]["dossier"] == d
    assert start_cases(web_stack, approval(d))[0]["result"] == "exists"
    wait_for(lambda: case_api(web_stack, d.lower()).get("officer") is not None)
    assert case_api(web_stack, d.lower())["dossier"] == d
    with httpx.Client(base_url=web_stack.url, timeout=30) as sup:
        sign_in(sup, "nbouchard")
        page = sup.get(f"/cases/{d.lower()}")
        assert page.status_code == 200 and d in page.text
