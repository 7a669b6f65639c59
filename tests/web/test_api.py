"""The operators' API and the probes, over HTTP against a real `parcours dev`."""

from __future__ import annotations

import httpx

from tests.web.conftest import WebStack, approval, start_cases, wait_for


def auth(stack: WebStack) -> dict[str, str]:
    return {"Authorization": f"Bearer {stack.token}"}


def test_no_token_is_401(web_stack: WebStack) -> None:
    r = httpx.post(f"{web_stack.url}/api/v1/visa-approvals", json=approval("API-0"))
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")
    r = httpx.get(f"{web_stack.url}/api/v1/cases/API-0", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401


def test_batch_is_answered_per_item_and_idempotent(web_stack: WebStack) -> None:
    batch = [
        approval("API-1"),
        approval("API-2", email="not-an-email", region="mars", arrival="2026-02-30"),
        {"dossier": "API-3", "name": "Li Wei"},
        approval("API-1"),
        "not an object",
    ]
    r = httpx.post(
        f"{web_stack.url}/api/v1/visa-approvals", json=batch, headers=auth(web_stack), timeout=30
    )
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [x["result"] for x in results] == [
        "started", "rejected", "rejected", "rejected", "rejected"
    ]  # fmt: skip
    assert set(results[1]["errors"]) == {"email", "region", "arrival"}
    assert set(results[2]["errors"]) == {"email", "arrival", "region"}
    assert results[2]["errors"]["email"] == "missing"
    assert "repeats item 0" in results[3]["errors"]["dossier"]
    assert results[4]["errors"]

    # The visa system retries the same approval: nothing new, answered `exists`.
    again = start_cases(web_stack, approval("API-1"))
    assert again[0]["result"] == "exists"
    # One object (not a list) is accepted too.
    r = httpx.post(
        f"{web_stack.url}/api/v1/visa-approvals",
        json=approval("API-4", language="es", household=3, regulated=True),
        headers=auth(web_stack),
    )
    assert r.status_code == 200 and r.json()["results"][0]["result"] == "started"


def test_wholly_malformed_bodies_are_422(web_stack: WebStack) -> None:
    url = f"{web_stack.url}/api/v1/visa-approvals"
    for body in (b"{not json", b"42", b"[]", b'"text"', b"null"):
        r = httpx.post(
            url, content=body, headers={**auth(web_stack), "Content-Type": "application/json"}
        )
        assert r.status_code == 422, (body, r.text)


def test_get_case_is_the_status_json(web_stack: WebStack) -> None:
    start_cases(web_stack, approval("API-5", region="capitale-nationale"))

    def assigned() -> bool:
        r = httpx.get(f"{web_stack.url}/api/v1/cases/API-5", headers=auth(web_stack), timeout=30)
        return r.status_code == 200 and r.json()["officer"] is not None

    wait_for(assigned)
    view = httpx.get(f"{web_stack.url}/api/v1/cases/API-5", headers=auth(web_stack)).json()
    assert view["dossier"] == "API-5" and view["stage"] == "arrival"
    assert view["region"] == "capitale-nationale" and view["status"] == "active"
    assert "Amina" not in str(view)  # no personal data in the case JSON
    r = httpx.get(f"{web_stack.url}/api/v1/cases/NOPE-1", headers=auth(web_stack))
    assert r.status_code == 404
    r = httpx.get(f"{web_stack.url}/api/v1/cases/bad%20id", headers=auth(web_stack))
    assert r.status_code == 422


def test_openapi_is_served(web_stack: WebStack) -> None:
    assert httpx.get(f"{web_stack.url}/docs").status_code == 200
    schema = httpx.get(f"{web_stack.url}/openapi.json").json()
    assert "/api/v1/visa-approvals" in schema["paths"]
    assert "/api/v1/cases/{dossier}" in schema["paths"]


def test_healthz_and_metrics(web_stack: WebStack) -> None:
    r = httpx.get(f"{web_stack.url}/healthz")
    assert r.status_code == 200 and r.json() == {
        "status": "ok", "temporal": "ok", "database": "ok"
    }  # fmt: skip
    start_cases(web_stack, approval("API-6"))
    wait_for(lambda: 'parcours_cases{stage="arrival",status="active"}' in httpx.get(
        f"{web_stack.url}/metrics").text)  # fmt: skip
    text = httpx.get(f"{web_stack.url}/metrics").text
    assert "parcours_web_request_seconds_bucket" in text
    assert "parcours_escalations_total" in text or "# TYPE parcours_escalations" in text
    assert "Amina" not in text
