"""Referrals in the console, against a real `parcours dev` (which seeds the demo directory):
the case page's plan follow-up (items done/total per stage, a form per item for the moves the
workflow would accept, a referral to a partner), the note an approval with open items needs,
a plan refiled from the form keeping its items' statuses, and the directors' partners page."""

from __future__ import annotations

import json
import time
import uuid

from tests.web.conftest import WebStack, approval, client, form_token, officer_of, post, start_cases


def test_items_follow_up_referral_and_approval_with_an_open_item(web_stack: WebStack) -> None:
    d = f"REF-{uuid.uuid4().hex[:6].upper()}"
    start_cases(web_stack, approval(d))
    with client(web_stack, officer_of(web_stack, d)) as officer:
        post(officer, d, "plan", plan_arrival="Inscription en francisation",
             plan_francization="Cours à temps plein")  # fmt: skip
        page = officer.get(f"/cases/{d}").text
        assert 'id="items-count-arrival">0 sur 1' in page
        assert 'id="form-item-i1"' in page and 'id="form-item-i2"' in page
        assert 'value="fq-montreal"' in page  # the demo directory
        # The case's region first, this stage's service at its top; other regions apart.
        i2 = page[page.index('id="item-i2-partner"') :]
        i2 = i2[: i2.index("</select>")]
        order = [i2.index(f'value="{p}"') for p in ("fq-montreal", "emploi-montreal")]
        assert order == sorted(order) and i2.index("Autres régions") > order[-1]
        assert i2.index('value="fq-capitale-nationale"') > i2.index("Autres régions")
        assert 'id="approve-open-items"' in page

        token = form_token(page)
        r = officer.post(
            f"/cases/{d}/items/i1",
            data={"csrf": token, "status": "referred", "partner": "fq-montreal"},
        )
        assert r.status_code == 303
        page = officer.get(f"/cases/{d}").text
        assert 'id="action-ok"' in page
        assert 'id="item-i1-status">orientée' in page
        assert "Francisation Québec – point de service Montréal" in page

        # A move the workflow refuses: the message, once.
        r = officer.post(f"/cases/{d}/items/i1", data={"csrf": token, "status": "done"})
        page = officer.get(f"/cases/{d}").text
        assert 'id="action-error"' in page and "ne peut pas passer" in page

        # The plan refiled from its form keeps i1 referred; the new line gets a new id.
        post(officer, d, "plan", plan_arrival="Inscription en francisation",
             plan_francization="Cours à temps plein\nCours du soir")  # fmt: skip
        page = officer.get(f"/cases/{d}").text
        assert 'id="item-i1-status">orientée' in page and 'id="item-i3"' in page

        assert post(officer, d, "approve", stage="arrival").status_code == 303
        page = officer.get(f"/cases/{d}").text
        assert 'id="action-error"' in page and "ajoutez une note" in page
        post(officer, d, "approve", stage="arrival", note="Inscription en cours")
        page = officer.get(f"/cases/{d}").text
        assert 'id="case-stage">Francisation' in page
        # The note, in the audit trail: the page reads it from the read model, which records
        # the approval's events just after the workflow answers (an activity of the case).
        for _ in range(100):
            if "Inscription en cours" in page:
                break
            time.sleep(0.05)
            page = officer.get(f"/cases/{d}").text
        assert "Inscription en cours" in page


def test_the_partners_page_is_the_directors(web_stack: WebStack) -> None:
    with client(web_stack, "atremblay") as officer:
        assert officer.get("/partners").status_code == 403
    with client(web_stack, "hcote") as director:
        page = director.get("/partners").text
        assert 'id="partner-fq-montreal"' in page and 'id="partner-emploi-montreal"' in page
        token = form_token(page)
        pid = f"org-{uuid.uuid4().hex[:6]}"
        r = director.post(
            "/partners",
            data={"csrf": token, "id": pid, "name": "Centre d'aide", "region": "laval",
                  "services": ["community", "other"], "phone": "450 555-0100"},
        )  # fmt: skip
        assert r.status_code == 303
        page = director.get("/partners").text
        assert f'id="partner-{pid}"' in page and 'id="partners-ok"' in page
        # Refused: what was typed comes back with the message.
        again = {"csrf": token, "id": pid, "name": "X", "region": "laval", "services": "other"}
        director.post("/partners", data={**again, "phone": "1"})
        page = director.get("/partners").text
        assert 'id="partners-error"' in page and "existe déjà" in page
        director.post(f"/partners/{pid}/active", data={"csrf": token, "active": "0"})
        listed = web_stack.cli("partners", "list", "--all", "--json")
        assert listed.returncode == 0, listed.stderr
        assert [p["active"] for p in json.loads(listed.stdout) if p["id"] == pid] == [False]
