"""The console's case actions follow the authorization table, against a real `parcours dev`:
a supervisor's transfer is refused before it is sent, in the page's language; a director's
goes through (the intake rule picks the officer), and the case leaves the old region's view;
a withdrawal carries its reason category. Refused or not, a form answers 303 (Post/Redirect/Get)
and the next page says why."""

from __future__ import annotations

import re
import uuid

import httpx

from tests.web.conftest import DEMO_PASSWORD, WebStack, approval, start_cases, wait_for

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def sign_in(c: httpx.Client, login: str) -> None:
    page = c.get("/login").text
    found = CSRF.search(page)  # the sign-in form may carry a form token
    data = {"login": login, "password": DEMO_PASSWORD}
    if found:
        data["csrf"] = found.group(1)
    r = c.post("/login", data=data)
    assert r.status_code in (200, 303), r.text[:500]


def case_api(stack: WebStack, dossier: str) -> dict[str, object]:
    r = httpx.get(
        f"{stack.url}/api/v1/cases/{dossier}",
        headers={"Authorization": f"Bearer {stack.read_token}"},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    data: dict[str, object] = r.json()
    return data


def act(c: httpx.Client, dossier: str, action: str, **fields: str) -> httpx.Response:
    page = c.get(f"/cases/{dossier}")
    assert page.status_code == 200
    found = CSRF.search(page.text)
    assert found
    return c.post(f"/cases/{dossier}/{action}", data={"csrf": found.group(1), **fields})


def test_transfer_and_withdraw_from_the_console(web_stack: WebStack) -> None:
    d = f"AUTHZ-{uuid.uuid4().hex[:6].upper()}"
    assert start_cases(web_stack, approval(d))[0]["result"] == "started"
    wait_for(lambda: case_api(web_stack, d).get("officer") is not None)

    with httpx.Client(base_url=web_stack.url, timeout=30) as sup:
        sign_in(sup, "nbouchard")  # Montréal's supervisor
        assert 'id="form-transfer"' not in sup.get(f"/cases/{d}").text
        refused = act(sup, d, "transfer", region="capitale-nationale", officer="")
        assert refused.status_code == 303
        assert "seul un directeur transfère un dossier" in sup.get(f"/cases/{d}").text
        assert case_api(web_stack, d)["region"] == "montreal"

        with httpx.Client(base_url=web_stack.url, timeout=30) as director:
            sign_in(director, "hcote")
            assert 'id="form-transfer"' in director.get(f"/cases/{d}").text
            moved = act(director, d, "transfer", region="capitale-nationale", officer="")
            assert moved.status_code == 303, moved.text[:2000]
            case = case_api(web_stack, d)
            assert case["region"] == "capitale-nationale"
            assert case["officer"] in ("jgagnon", "smartinez")  # its region's officers
            # The case is no longer the Montréal supervisor's to see.
            assert sup.get(f"/cases/{d}").status_code in (403, 404)

            # Withdrawing: the category is part of the action.
            bad = act(director, d, "withdraw", category="bored", note="x")
            assert bad.status_code == 303
            assert 'id="action-error"' in director.get(f"/cases/{d}").text
            assert case_api(web_stack, d)["status"] == "active"
            done = act(director, d, "withdraw", category="left_quebec", note="Parti en Ontario")
            assert done.status_code == 303, done.text[:2000]
            assert case_api(web_stack, d)["status"] == "withdrawn"
            # The audit trail (written by the worker a moment later) names both.
            wait_for(lambda: "Parti en Ontario" in director.get(f"/cases/{d}").text)
            page = director.get(f"/cases/{d}").text
            # The journal in sentences, never the stored "montreal -> capitale-nationale".
            assert "Dossier transféré de la région montreal à la région capitale-nationale" in page
            assert "-&gt;" not in page
            assert "Dossier retiré (motif\u00a0: A quitté le Québec)" in page
