"""A case someone may not see answers exactly as a missing case: same status, same page, for
GET and for POST. A 403 would confirm that the dossier exists. Against a real `parcours dev`."""

from __future__ import annotations

import httpx

from tests.web.conftest import (
    WebStack,
    approval,
    form_token,
    reader,
    sign_in,
    start_cases,
    wait_for,
)


def test_a_hidden_case_is_answered_as_a_missing_one(web_stack: WebStack) -> None:
    start_cases(web_stack, approval("VIS-1", region="capitale-nationale"))
    wait_for(
        lambda: httpx.get(f"{web_stack.url}/api/v1/cases/VIS-1", headers=reader(web_stack))
        .status_code == 200
    )  # fmt: skip
    for login in ("atremblay", "nbouchard"):  # an officer and a supervisor of Montreal
        with httpx.Client(base_url=web_stack.url, timeout=30) as c:
            signed = sign_in(c, login)
            assert signed.status_code == 303
            # `parcours dev` serves plain http: its cookie cannot be Secure, nor HSTS sent.
            assert "secure" not in signed.headers["set-cookie"].lower()
            assert "strict-transport-security" not in signed.headers
            hidden, missing = c.get("/cases/VIS-1"), c.get("/cases/VIS-404")
            assert hidden.status_code == missing.status_code == 404
            assert hidden.text == missing.text
            # Worded from the catalogue, in French by default: never the code's English.
            assert "Aucun dossier de ce numéro." in hidden.text
            assert "no such case" not in hidden.text
            token = form_token(c.get("/cases").text)
            for action, fields in (("progress", {"note": "x"}), ("pause", {"reason": "y"})):
                answers = [
                    c.post(f"/cases/{d}/{action}", data={"csrf": token, **fields})
                    for d in ("VIS-1", "VIS-404")
                ]
                assert [a.status_code for a in answers] == [404, 404], (login, action)
                assert answers[0].text == answers[1].text
    # The case exists and nothing was written to it: its region's supervisor sees it, as it was.
    with httpx.Client(base_url=web_stack.url, timeout=30) as c:
        assert sign_in(c, "mlevesque").status_code == 303
        assert c.get("/cases/VIS-1").status_code == 200
    view = httpx.get(f"{web_stack.url}/api/v1/cases/VIS-1", headers=reader(web_stack)).json()
    assert view["notes_count"] == 0 and view["status"] == "active"
