"""The case page an officer needs and finding cases, against a real `parcours dev`:

- search by dossier number or name, only among the cases one may read (an officer never finds
  another region's case, nor a colleague's); status filters; pages;
- every form answers 303 (Post/Redirect/Get); a refused form shows its message and what was
  typed once, from the server-side session, and never again on reload;
- the page offers only the forms the workflow would accept: none of greeting, plan or
  approval on a paused case, and the waiver list without a waived stage;
- the newcomer's contact data and profile; withdrawal with a reason category.
"""

from __future__ import annotations

import html
import re
import uuid

import httpx

from tests.web.conftest import (
    ROW,
    WebStack,
    approval,
    client,
    found,
    listed,
    officer_of,
    post,
    start_cases,
    status_of,
    wait_for,
)


def test_search_finds_a_case_by_name_or_dossier_within_what_one_may_see(
    web_stack: WebStack,
) -> None:
    tag = uuid.uuid4().hex[:6].upper()
    surname = f"Nkemelu{tag}"
    mtl, qc = f"FIND-{tag}-M", f"FIND-{tag}-Q"
    start_cases(
        web_stack,
        approval(mtl, name=f"Grace {surname}"),
        approval(qc, region="capitale-nationale", name=f"Grace {surname}"),
    )
    mine = officer_of(web_stack, mtl)
    officer_of(web_stack, qc)
    colleague = next(o for o in ("atremblay", "crodriguez", "yhaddad") if o != mine)

    with client(web_stack, "hcote") as director:
        listed(director, qc, q=surname)
        assert sorted(found(director, q=surname)) == sorted([mtl, qc])
    with client(web_stack, mine) as officer:
        assert found(officer, q=surname.lower()) == [mtl]  # any case
        assert found(officer, q=f"grace {surname}") == [mtl]  # every word
        assert found(officer, q=mtl.lower()) == [mtl]
        assert found(officer, q=qc) == []  # another region's: never found
        page = officer.get("/cases", params={"q": qc}).text
        assert "Aucun dossier ne correspond à cette recherche." in page
        assert f"Grace {surname}" not in page
    with client(web_stack, colleague) as other:
        assert found(other, q=surname) == []  # a colleague's case: not theirs to see
    with client(web_stack, "nbouchard") as supervisor:  # Montréal
        assert found(supervisor, q=surname) == [mtl]
    with client(web_stack, "mlevesque") as supervisor:  # Capitale-Nationale
        assert found(supervisor, q=surname) == [qc]


def test_status_filters_and_pages(web_stack: WebStack) -> None:
    tag = uuid.uuid4().hex[:6].upper()
    surname = f"Okafor{tag}"
    dossiers = [f"PAGE-{tag}-{n}" for n in range(3)]
    start_cases(web_stack, *[approval(d, name=f"Ada {surname}") for d in dossiers])
    for d in dossiers:
        officer_of(web_stack, d)
    paused, withdrawn, still_open = dossiers
    with client(web_stack, "nbouchard") as supervisor:
        listed(supervisor, dossiers[-1], q=surname)
        assert post(supervisor, paused, "pause", reason="Hospitalisation").status_code == 303
        done = post(supervisor, withdrawn, "withdraw", category="left_canada", note="")
        assert done.status_code == 303
        wait_for(lambda: found(supervisor, q=surname, status="closed") == [withdrawn])
        wait_for(lambda: found(supervisor, q=surname, status="paused") == [paused])
        assert sorted(found(supervisor, q=surname)) == sorted([paused, still_open])  # open
        assert sorted(found(supervisor, q=surname, status="all")) == sorted(dossiers)
        assert found(supervisor, q=surname, stage="employment") == []
        assert found(supervisor, q=surname, status="active", stage="arrival") == [still_open]

        # Pages: two cases a page, then the rest; the links keep the search.
        first = supervisor.get("/cases", params={"q": surname, "status": "all", "per": "2"})
        assert "3 dossiers · page 1 sur 2" in first.text
        next_link = re.search(r'<a href="([^"]+)" rel="next"', first.text)
        assert next_link is not None
        second = supervisor.get(html.unescape(next_link.group(1)))
        assert "page 2 sur 2" in second.text
        assert 'rel="next"' not in second.text and 'rel="prev"' in second.text
        assert sorted(ROW.findall(first.text) + ROW.findall(second.text)) == sorted(dossiers)


def test_a_refused_form_redirects_and_shows_what_was_typed_once(web_stack: WebStack) -> None:
    d = f"PRG-{uuid.uuid4().hex[:6].upper()}"
    start_cases(web_stack, approval(d))
    with client(web_stack, officer_of(web_stack, d)) as officer:
        too_long = "Rencontre au bureau; " * 200  # over the 4,000 characters a note may hold
        refused = post(officer, d, "progress", note=too_long)
        assert refused.status_code == 303
        assert refused.headers["location"] == f"/cases/{d}"  # no resubmittable address
        assert too_long.strip() not in refused.headers.get("set-cookie", "")
        shown = officer.get(f"/cases/{d}").text
        assert 'id="action-error"' in shown
        assert html.escape(too_long.strip(), quote=False) in shown  # the textarea, as typed
        again = officer.get(f"/cases/{d}").text  # reload: shown once only
        assert 'id="action-error"' not in again
        assert "Rencontre au bureau;" not in again

        done = post(officer, d, "progress", note="Premier appel fait")
        assert done.status_code == 303 and done.headers["location"] == f"/cases/{d}"
        page = officer.get(f"/cases/{d}").text
        assert 'id="action-ok"' in page and 'id="action-error"' not in page
        assert 'id="action-ok"' not in officer.get(f"/cases/{d}").text


def test_a_paused_case_offers_no_casework_forms(web_stack: WebStack) -> None:
    d = f"PAUSE-{uuid.uuid4().hex[:6].upper()}"
    start_cases(web_stack, approval(d))
    assigned = officer_of(web_stack, d)
    with client(web_stack, assigned) as officer, client(web_stack, "nbouchard") as supervisor:
        before = officer.get(f"/cases/{d}").text
        for form in ("form-greeting", "form-plan", "form-progress", "form-withdraw"):
            assert f'id="{form}"' in before, form
        assert 'id="form-approve"' not in before  # arrival needs a plan first
        assert 'id="approve-needs-plan"' in before
        assert 'id="form-pause"' not in before  # supervisors only
        assert 'id="form-pause"' in supervisor.get(f"/cases/{d}").text

        assert post(supervisor, d, "pause", reason="Congé de maladie").status_code == 303
        wait_for(lambda: status_of(web_stack, d) == "paused")
        paused = officer.get(f"/cases/{d}").text
        for form in ("form-greeting", "form-plan", "form-approve", "form-pause"):
            assert f'id="{form}"' not in paused, form
        assert 'id="form-progress"' in paused  # a note is still welcome
        overseen = supervisor.get(f"/cases/{d}").text
        assert 'id="form-resume"' in overseen and 'id="form-pause"' not in overseen
        assert 'id="form-waive"' not in overseen and 'id="form-plan"' not in overseen

        # The plan typed before the pause and sent after it: refused, the text not lost.
        refused = post(officer, d, "plan", plan_arrival="Rencontre d'accueil au bureau")
        assert refused.status_code == 303
        shown = officer.get(f"/cases/{d}").text
        assert 'id="action-error"' in shown
        assert "Rencontre d&#39;accueil au bureau" in shown


def test_waive_list_and_contact_data_and_withdrawal(web_stack: WebStack) -> None:
    d = f"CASE-{uuid.uuid4().hex[:6].upper()}"
    start_cases(
        web_stack,
        approval(
            d,
            name="Lucía Fernández",
            email="lucia.fernandez@example.org",
            phone="+1 514 555 0199",
            language="es",
            french_level="4",
            occupation="Infirmière",
            regulated="true",
            household="3",
        ),
    )
    assigned = officer_of(web_stack, d)
    with client(web_stack, assigned) as officer:
        page = officer.get(f"/cases/{d}").text
        assert '<a id="newcomer-email" href="mailto:lucia.fernandez@example.org">' in page
        assert 'href="tel:+15145550199"' in page
        assert "espagnol" in page
        assert "4 sur 12" in page
        assert "Infirmière" in page
        assert "3 personnes" in page
        assert "Lucía Fernández" in page
        english = officer.get(f"/cases/{d}", params={"lang": "en"}).text
        assert "Spanish" in english and "3 people" in english
        officer.get("/cases", params={"lang": "fr"})

    with client(web_stack, "nbouchard") as supervisor:
        assert (
            post(supervisor, d, "waive", stage="employment", reason="Déjà en emploi").status_code
            == 303
        )
        wait_for(lambda: 'value="employment"' not in _waive_list(supervisor, d))
        assert 'value="community"' in _waive_list(supervisor, d)
        assert 'value="arrival"' not in _waive_list(supervisor, d)

    with client(web_stack, assigned) as officer:
        # "Other" needs a word of explanation; a category alone says enough otherwise.
        assert post(officer, d, "withdraw", category="other", note="").status_code == 303
        assert 'id="action-error"' in officer.get(f"/cases/{d}").text
        assert status_of(web_stack, d) == "active"
        done = post(officer, d, "withdraw", category="left_canada", note="")
        assert done.status_code == 303
        assert status_of(web_stack, d) == "withdrawn"
        closed = officer.get(f"/cases/{d}").text
        # A closed case offers nothing but its reopening (issue 16).
        assert closed.count('class="actions"') == 1 and 'id="form-reopen"' in closed
        wait_for(lambda: d in found(officer, q=d, status="closed"))


def _waive_list(c: httpx.Client, dossier: str) -> str:
    page = c.get(f"/cases/{dossier}").text
    start = page.find('id="waive-stage"')
    assert start != -1, "no waiver form"
    return page[start : page.find("</select>", start)]
