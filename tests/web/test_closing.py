"""Declining and reopening from the console, and the operators' reopen API (issue 16),
against the web tests' real `parcours dev`."""

from __future__ import annotations

import uuid

import httpx

from tests.web.conftest import (
    WebStack,
    approval,
    client,
    officer_of,
    post,
    reader,
    start_cases,
    status_of,
    wait_for,
)


def test_decline_and_reopen_from_the_console_and_the_api(web_stack: WebStack) -> None:
    d = f"CLOSE-{uuid.uuid4().hex[:6].upper()}"
    start_cases(web_stack, approval(d))
    officer_of(web_stack, d)
    intake = {"Authorization": f"Bearer {web_stack.token}"}
    with client(web_stack, "nbouchard") as supervisor:
        page = supervisor.get(f"/cases/{d}").text
        assert 'id="form-decline"' in page and 'id="form-reopen"' not in page
        done = post(supervisor, d, "decline", category="declined_services", note="Pas besoin")
        assert done.status_code == 303 and done.headers["location"] == f"/cases/{d}"
        wait_for(lambda: status_of(web_stack, d) == "declined")
        page = supervisor.get(f"/cases/{d}").text
        assert 'id="form-reopen"' in page and 'id="form-decline"' not in page
        assert "Services refusés, dossier fermé" in page

        # The API: an intake token only; an open case is refused with a code.
        url = f"{web_stack.url}/api/v1/cases/{d}/reopen"
        body = {"by": "nbouchard", "note": "Elle rappelle"}
        assert httpx.post(url, json=body, headers=reader(web_stack)).status_code == 403
        assert httpx.post(url, json={"by": "nobody"}, headers=intake).status_code == 422
        r = httpx.post(url, json=body, headers=intake, timeout=30)
        assert r.status_code == 200, r.text
        assert (r.json()["status"], r.json()["stage"]) == ("active", "arrival")
        r = httpx.post(url, json=body, headers=intake, timeout=30)
        assert r.status_code == 409 and r.json()["code"] == "not_reopenable"

        # Declined again, and reopened from the console: both periods in one journal.
        assert post(supervisor, d, "decline", category="unreachable").status_code == 303
        wait_for(lambda: status_of(web_stack, d) == "declined")
        assert post(supervisor, d, "reopen", note="Retour").status_code == 303
        wait_for(lambda: status_of(web_stack, d) == "active")
        page = supervisor.get(f"/cases/{d}").text
        assert page.count("Dossier rouvert (période") == 2, page
