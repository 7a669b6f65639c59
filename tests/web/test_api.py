"""The operators' API and the probes, over HTTP against a real `parcours dev`."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from parcours.interfaces.web.api import accepted_language, status_fields
from parcours.kernel.domain import CaseStatus, CaseView, PlanItem, Stage, StageView
from tests.web.conftest import WebStack, approval, reader, start_cases, wait_for


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
    assert results[2]["errors"]["email"] == "Courriel\u00a0: champ obligatoire manquant"
    assert results[3]["errors"]["dossier"] == (
        "ce numéro de dossier répète l'élément 0 de la requête"
    )
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


def test_field_errors_carry_a_code_and_words_in_the_accepted_language(
    web_stack: WebStack,
) -> None:
    """An approval refused whole is a 422 naming each field: a stable code, its parameters,
    and the words in French unless `Accept-Language` asks for English."""
    url = f"{web_stack.url}/api/v1/visa-approvals"
    bad = approval("API-9", airport="XXX", arrival="2099-01-01", email="a" * 300 + "@x.org")
    answers = {
        lang: httpx.post(url, json=bad, headers={**auth(web_stack), **headers}, timeout=30)
        for lang, headers in (
            ("fr", {}),
            ("en", {"Accept-Language": "en-CA,en;q=0.9,fr;q=0.5"}),
        )
    }
    for lang, r in answers.items():
        assert r.status_code == 422, (lang, r.text)
        (item,) = r.json()["results"]
        assert item["result"] == "rejected"
        errors = {e["field"]: e for e in item["field_errors"]}
        assert {f: e["code"] for f, e in errors.items()} == {
            "airport": "unknown_airport",
            "arrival": "arrival_too_late",
            "email": "email_too_long",
        }
        assert errors["airport"]["params"] == {"value": "'XXX'"}
        assert item["errors"] == {f: e["message"] for f, e in errors.items()}
    fr = {e["field"]: e["message"] for e in answers["fr"].json()["results"][0]["field_errors"]}
    en = {e["field"]: e["message"] for e in answers["en"].json()["results"][0]["field_errors"]}
    assert fr["airport"].startswith("aéroport inconnu 'XXX'\u00a0: attendu le code")
    assert en["airport"].startswith("unknown airport 'XXX': expected the code")
    assert fr["email"] == "adresse courriel trop longue (254 caractères au plus)"
    assert en["email"] == "email address too long (at most 254 characters)"
    assert en["arrival"].startswith("arrival date too far ahead: ")


def test_wholly_malformed_bodies_are_422(web_stack: WebStack) -> None:
    url = f"{web_stack.url}/api/v1/visa-approvals"
    for body in (b"{not json", b"42", b"[]", b'"text"', b"null"):
        r = httpx.post(
            url, content=body, headers={**auth(web_stack), "Content-Type": "application/json"}
        )
        assert r.status_code == 422, (body, r.text)


def test_get_case_is_the_status_json(web_stack: WebStack) -> None:
    """A `read` token sees where a case stands, and none of its personal data: not the
    newcomer's name, email or phone, nor the note, plan item, pause or waiver reason people
    wrote in it (each one checked, on a case that has them all)."""
    personal = {
        "name": "Zéphirine Okonkwo-Lapointe",
        "email": "zephirine.ok@example.org",
        "phone": "+1 514 555 0199",
    }
    start_cases(
        web_stack,
        approval("API-5", region="capitale-nationale", **personal),
    )

    def assigned() -> bool:
        r = httpx.get(f"{web_stack.url}/api/v1/cases/API-5", headers=reader(web_stack), timeout=30)
        return r.status_code == 200 and r.json()["officer"] is not None

    wait_for(assigned)
    officer = httpx.get(f"{web_stack.url}/api/v1/cases/API-5", headers=reader(web_stack)).json()[
        "officer"
    ]
    written = {
        "note": "NOTE-7f3a: housing with her cousin in Limoilou",
        "plan item": "PLAN-91c2: open a bank account",
        "waiver reason": "WAIVE-55d0: already at level 9",
        "pause reason": "PAUSE-2b8e: hospitalised",
    }
    for argv in (
        ("progress", "API-5", "--by", officer, "--note", written["note"]),
        ("plan", "API-5", "--by", officer, "--item", f"arrival: {written['plan item']}"),
        ("waive", "API-5", "--stage", "francization", "--by", "mlevesque",
         "--reason", written["waiver reason"]),
        ("pause", "API-5", "--by", "mlevesque", "--reason", written["pause reason"]),
    ):  # fmt: skip
        done = web_stack.cli(*argv)
        assert done.returncode == 0, (argv[0], done.stderr)
    # The full view (the CLI's) holds the plan item and both reasons (notes live only in the
    # audit trail, counted below): the check that the API leaves them out is not vacuous.
    full = web_stack.cli("status", "API-5", "--json")
    assert full.returncode == 0, full.stderr
    for label in ("plan item", "waiver reason", "pause reason"):
        assert written[label] in full.stdout, label

    view = httpx.get(f"{web_stack.url}/api/v1/cases/API-5", headers=reader(web_stack)).json()
    assert view["dossier"] == "API-5" and view["stage"] == "arrival"
    assert view["region"] == "capitale-nationale" and view["status"] == "paused"
    assert view["notes_count"] == 1 and view["plan_items"] == 1
    assert any(s["waived"] for s in view["stages"])
    body = str(view)
    for label, text in {**personal, **written}.items():
        assert text not in body, label
    r = httpx.get(f"{web_stack.url}/api/v1/cases/NOPE-1", headers=reader(web_stack))
    assert r.status_code == 404
    r = httpx.get(f"{web_stack.url}/api/v1/cases/bad%20id", headers=reader(web_stack))
    assert r.status_code == 422


def test_status_fields_leave_out_every_free_text() -> None:
    """The read scope's allowlist, on a view whose every free-text field is filled."""
    at = datetime(2026, 12, 2, tzinfo=UTC)
    view = CaseView(
        dossier="D-1", status=CaseStatus.WITHDRAWN, stage=Stage.ARRIVAL, officer="atremblay",
        region="montreal", language="fr", arrival_date="2026-12-01", escalation_level=0,
        stalled_since=None, overdue=False,
        plan=[PlanItem(Stage.ARRIVAL, "SECRET-plan")], plan_revision=1, plan_due_at=at,
        greeting=None,
        stages=[StageView(Stage.FRANCIZATION, waived=True, waiver_reason="SECRET-waiver")],
        paused_at=at, pause_reason="SECRET-pause", close_reason="SECRET-close", notes_count=3,
    )  # fmt: skip
    assert "SECRET" in str(view.to_json())  # the full shape has them all
    shown = status_fields(view)
    assert "SECRET" not in str(shown)
    assert shown["plan_items"] == 1 and shown["notes_count"] == 3
    assert shown["stages"] == [
        {"stage": "francization", "started_at": None, "completed_at": None,
         "approved_by": None, "waived": True, "deadline_at": None, "due_on": None}
    ]  # fmt: skip


def test_tokens_are_scoped(web_stack: WebStack) -> None:
    start_cases(web_stack, approval("API-8"))
    wait_for(
        lambda: httpx.get(f"{web_stack.url}/api/v1/cases/API-8", headers=reader(web_stack))
        .status_code == 200
    )  # fmt: skip
    # An intake token reads nothing, and its refusal says nothing of whether the case exists.
    existing = httpx.get(f"{web_stack.url}/api/v1/cases/API-8", headers=auth(web_stack))
    missing = httpx.get(f"{web_stack.url}/api/v1/cases/NOPE-8", headers=auth(web_stack))
    assert existing.status_code == missing.status_code == 403
    assert existing.text == missing.text
    assert "insufficient_scope" in existing.headers["www-authenticate"]
    # A read token posts nothing.
    r = httpx.post(
        f"{web_stack.url}/api/v1/visa-approvals", json=approval("API-9"), headers=reader(web_stack)
    )
    assert r.status_code == 403
    assert (
        httpx.get(f"{web_stack.url}/api/v1/cases/API-9", headers=reader(web_stack)).status_code
        == 404
    )
    # `tokens list` shows each scope (the stack's first token took the default, intake).
    made = web_stack.cli("tokens", "new", "--name", "reader-2", "--scope", "read", "--json")
    assert made.returncode == 0 and '"scope": "read"' in made.stdout, made.stderr
    bad = web_stack.cli("tokens", "new", "--name", "reader-3", "--scope", "everything")
    assert bad.returncode != 0 and "n'est pas un choix possible" in bad.stderr
    listed = web_stack.cli("tokens", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert '"scope": "intake"' in listed.stdout and '"scope": "read"' in listed.stdout


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


def test_the_accepted_language_is_french_unless_english_is_preferred() -> None:
    assert accepted_language(None) == "fr"
    assert accepted_language("") == "fr"
    assert accepted_language("de-DE,es;q=0.8") == "fr"
    assert accepted_language("en") == "en"
    assert accepted_language("en-CA,fr-CA;q=0.9") == "en"
    assert accepted_language("fr-CA,en;q=0.9") == "fr"
    assert accepted_language("de,en;q=0.5,fr;q=0.7") == "fr"
    assert accepted_language("fr;q=0,en") == "en"
