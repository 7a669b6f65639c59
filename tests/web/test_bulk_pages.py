"""Departures and bulk work through the console's forms (issue 17), against the shared
`parcours dev` stack: the roster's deactivate form (at once without cases, else a batch that
hands the cases over and then deactivates), refusals in French, a bulk pause of "all the
cases of this filter", and a progress page that shows a supervisor only their region's rows
and counts.

The officers are this module's own, in Centre-du-Québec (no other test opens cases there).
"""

from __future__ import annotations

import uuid

import httpx

from tests.web.conftest import (
    WebStack,
    approval,
    client,
    form_token,
    listed,
    officer_of,
    start_cases,
    wait_for,
)

REGION = "centre-du-quebec"
# The pause test's region, apart: intake there is not swayed by the other test's officers.
PAUSE_REGION = "lanaudiere"
# The wake test's: no officer anywhere in the suite works on the Côte-Nord until it moves one.
WAKE_REGION = "cote-nord"


def add_officers(stack: WebStack, tag: str, *suffixes: str, region: str = REGION) -> list[str]:
    ids = [f"bk-{tag}-{s}" for s in suffixes]
    for officer in ids:
        made = stack.cli(
            "officers", "add", "--id", officer, "--name", f"Agent {officer}",
            "--email", f"{officer}@parcours.example", "--region", region,
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
    return ids


def finished(c: httpx.Client, location: str) -> dict[str, object]:
    """Poll the batch's JSON counts (as its page does) until it is finished."""
    seen: dict[str, object] = {}

    def done() -> bool:
        r = c.get(f"{location}/progress.json")
        assert r.status_code == 200, r.text
        seen.update(r.json())
        return bool(seen["finished"])

    wait_for(done, timeout=60)
    return seen


def test_deactivating_an_officer_hands_their_cases_over_then_deactivates(
    web_stack: WebStack,
) -> None:
    tag = uuid.uuid4().hex[:6]
    a, b = add_officers(web_stack, tag, "a", "b")
    # Three cases: the intake rule spreads them over a and b (lowest caseload first).
    dossiers = [f"BK-{tag.upper()}-{i}" for i in range(3)]
    start_cases(web_stack, *(approval(d, region=REGION) for d in dossiers))
    holders = {d: officer_of(web_stack, d) for d in dossiers}
    held_by_a = sorted(d for d, o in holders.items() if o == a)
    assert held_by_a
    (idle,) = add_officers(web_stack, tag, "idle")  # added after: holds nothing

    with client(web_stack, "hcote") as director:
        for d in dossiers:
            listed(director, d, officer=holders[d])
        page = director.get(f"/roster/{a}").text
        assert 'id="form-deactivate"' in page and 'id="deactivate-redistribute"' in page
        token = form_token(page)

        # "Hand them to one officer" with nobody named: 422 in French, nothing done.
        r = director.post(f"/roster/{a}/deactivate", data={"csrf": token, "choice": "to"})
        assert r.status_code == 422
        assert "choisissez l'agent·e qui reçoit les dossiers" in r.text.replace("&#39;", "'")

        r = director.post(f"/roster/{a}/deactivate", data={"csrf": token, "choice": "to", "to": b})
        assert r.status_code == 303 and r.headers["location"].startswith("/bulk/reassign-")
        progress = finished(director, r.headers["location"])
        assert progress["done"] == len(held_by_a) and progress["refused"] == 0
        page = director.get(r.headers["location"]).text
        assert 'id="bulk-deactivated"' in page
        for d in held_by_a:
            assert f'id="result-{d}-outcome">Fait<' in page
        listed(director, held_by_a[0], officer=b)
        page = director.get(f"/roster/{a}").text
        assert 'id="officer-active">Inactif·ve' in page and 'id="form-deactivate"' not in page
        assert "Désactivation" in page  # the roster's own trail

        # Nobody's cases: deactivated at once.
        page = director.get(f"/roster/{idle}").text
        assert "Aucun dossier ouvert" in page
        r = director.post(f"/roster/{idle}/deactivate", data={"csrf": form_token(page)})
        assert r.status_code == 303 and r.headers["location"] == f"/roster/{idle}"
        assert "Personne désactivée." in director.get(f"/roster/{idle}").text

    # A supervisor may not deactivate: refused in French, the form not offered.
    with client(web_stack, "nbouchard") as supervisor:
        token = form_token(supervisor.get("/roster/atremblay").text)
        r = supervisor.post(
            "/roster/atremblay/deactivate", data={"csrf": token, "choice": "redistribute"}
        )
        assert r.status_code == 403 and "seule la direction modifie l'effectif" in r.text.replace(
            "&#39;", "'"
        )


def test_bulk_pause_of_a_whole_filter_and_who_sees_its_rows(web_stack: WebStack) -> None:
    tag = uuid.uuid4().hex[:6]
    (a,) = add_officers(web_stack, tag, "p", region=PAUSE_REGION)
    dossiers = [f"BP-{tag.upper()}-{i}" for i in range(3)]
    start_cases(web_stack, *(approval(d, region=PAUSE_REGION) for d in dossiers))
    with client(web_stack, "hcote") as director:
        for d in dossiers:
            listed(director, d, officer=a)
        page = director.get("/cases", params={"officer": a}).text
        assert 'id="bulk-all"' in page and "Les 3 dossiers ouverts de ce filtre" in page
        assert f'name="filter" value="min-level=0,officer={a}"' in page
        # The page's region is the batch's too: "all N" never means more than the page lists.
        page = director.get("/cases", params={"officer": a, "region": PAUSE_REGION}).text
        assert f'value="min-level=0,region={PAUSE_REGION},officer={a}"' in page
        page = director.get("/cases", params={"officer": a}).text
        token = form_token(page)
        form = {"csrf": token, "all": "1", "filter": f"min-level=0,officer={a}",
                "kind": "pause", "back": f"/cases?officer={a}"}  # fmt: skip

        # A pause needs its reason: 422, nothing started.
        r = director.post("/bulk", data=form)
        assert r.status_code == 422 and 'id="bulk-error"' in r.text
        assert f'href="/cases?officer={a}"' in r.text

        r = director.post("/bulk", data={**form, "note": "Dossier revu en comité"})
        assert r.status_code == 303
        location = r.headers["location"]
        assert finished(director, location)["done"] == 3
        listed(director, dossiers[0], officer=a, status="paused")

        # The same again: the same batch (its id derives from the list and the action).
        r = director.post("/bulk", data={**form, "note": "Dossier revu en comité"})
        assert r.headers["location"] == location

    # Another region's supervisor learns nothing of it, not even its counts: no such batch.
    with client(web_stack, "mlevesque") as other:
        for address in (location, f"{location}/progress.json"):
            r = other.get(address)
            assert r.status_code == 404 and all(d not in r.text for d in dossiers)
            assert "3 sur 3" not in r.text
    # An officer has no bulk form and may not post one.
    with client(web_stack, "atremblay") as officer:
        assert 'id="bulk"' not in officer.get("/cases").text
        token = form_token(officer.get("/cases").text)
        assert officer.post("/bulk", data={**form, "csrf": token}).status_code == 403


def test_an_officer_moved_in_through_the_console_takes_the_case_waiting_there(
    web_stack: WebStack,
) -> None:
    """The roster's edit form nudges the waiting cases of the officer's new region, as the
    CLI does: without it the case would ask again only on its own day."""
    tag = uuid.uuid4().hex[:6]
    (mover,) = add_officers(web_stack, tag, "m", region="laurentides")
    waiting = f"BW-{tag.upper()}"
    start_cases(web_stack, approval(waiting, region=WAKE_REGION))
    with client(web_stack, "hcote") as director:
        listed(director, waiting, officer="unassigned")
        page = director.get(f"/roster/{mover}").text
        form = {"csrf": form_token(page), "name": f"Agent {mover}", "role": "officer",
                "email": f"{mover}@parcours.example", "languages": "fr",
                "region": WAKE_REGION}  # fmt: skip
        r = director.post(f"/roster/{mover}", data=form)
        assert r.status_code == 303, r.text
    assert officer_of(web_stack, waiting) == mover
