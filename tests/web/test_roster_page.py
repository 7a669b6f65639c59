"""The roster page (issue 17), in process on its own read model (no Temporal: the roster is
the read model's): who may see and change what (the programme's table), field errors as 4xx
in French with nothing written, every change audited, the open caseload beside each officer,
and the absent mark on the cases of an officer on leave today."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import update

from parcours.infrastructure.store.cases import register_case
from parcours.infrastructure.store.models import Case, Officer
from parcours.infrastructure.store.officers import (
    DEMO_OFFICERS,
    get_officer,
    local_today,
    roster_changes,
)
from parcours.kernel.domain import workflow_id_for
from tests.store import builders
from tests.web.console import Console, form_token, running_console, sign_in

EVERYONE = tuple(o.id for o in DEMO_OFFICERS)


async def signed_in(console: Console, login: str) -> httpx.AsyncClient:
    c = console.browser()
    r = await sign_in(c, login)
    assert r.status_code == 303, r.text[:300]
    return c


async def give_cases(console: Console, officer_id: str, *dossiers: str, level: int = 0) -> None:
    async with console.web.sessions() as session, session.begin():
        for d in dossiers:
            snap = builders.snapshot(d, escalation_level=level)
            await register_case(session, workflow_id_for(d), builders.approval(d), snap)
            await session.execute(
                update(Case).where(Case.dossier == d).values(officer_id=officer_id)
            )


def text_of(page: str, ident: str) -> str:
    """The text inside the element with id `ident` (tags dropped, spaces joined)."""
    found = re.search(rf'id="{ident}"[^>]*>(.*?)</(td|dd|div|span|h1)>', page, re.S)
    assert found, ident
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", found.group(1))).split())


async def test_directors_see_every_officer_with_caseload_and_officers_see_nothing(
    tmp_path: Path,
) -> None:
    async with running_console(tmp_path, logins=EVERYONE) as console:
        await give_cases(console, "atremblay", "R-1", "R-2")
        await give_cases(console, "atremblay", "R-3", level=2)
        director = await signed_in(console, "hcote")
        page = (await director.get("/roster")).text
        assert 'href="/roster"' in page and 'aria-current="page"' in page
        for o in DEMO_OFFICERS:
            assert f'id="officer-{o.id}"' in page
        assert text_of(page, "officer-atremblay-cases") == "3 (dont 1 escaladé)"
        assert text_of(page, "officer-crodriguez-cases") == "0"
        # A region chosen: only its staff.
        page = (await director.get("/roster?region=capitale-nationale")).text
        assert 'id="officer-jgagnon"' in page and 'id="officer-atremblay"' not in page

        officer = await signed_in(console, "atremblay")
        assert (await officer.get("/roster")).status_code == 403
        assert (await officer.get("/roster/atremblay")).status_code == 403
        assert 'href="/roster"' not in (await officer.get("/cases")).text


async def test_a_director_edits_an_officer_and_a_refusal_writes_nothing(tmp_path: Path) -> None:
    async with running_console(tmp_path, logins=EVERYONE) as console:
        await give_cases(console, "crodriguez", "R-9")
        director = await signed_in(console, "hcote")
        page = (await director.get("/roster/yhaddad")).text
        token = form_token(page)
        form = {"csrf": token, "name": "Yasmine Haddad-Roy", "email": "yh@parcours.example",
                "languages": "fr, ar, en, ar", "region": "montreal", "role": "officer"}  # fmt: skip
        r = await director.post("/roster/yhaddad", data=form)
        assert r.status_code == 303 and r.headers["location"] == "/roster/yhaddad"
        page = (await director.get("/roster/yhaddad")).text
        assert 'id="roster-ok"' in page and "Fiche enregistrée." in page
        assert text_of(page, "officer-name").startswith("Yasmine Haddad-Roy")
        assert text_of(page, "officer-languages") == "fr, ar, en"
        async with console.web.sessions() as session:
            changes = await roster_changes(session, "yhaddad")
        assert [(c.change, c.actor, c.detail) for c in changes][-1] == (
            "updated",
            "hcote",
            "name email",
        )

        # A bad email: 422, in French, beside its field, what was typed kept, nothing saved.
        bad = {**form, "email": "pas-une-adresse", "name": "Autre nom"}
        r = await director.post("/roster/yhaddad", data=bad)
        assert r.status_code == 422
        assert 'id="edit-error"' in r.text and "adresse" in r.text
        assert (
            'id="edit-email" type="email" required value="pas-une-adresse" aria-invalid=true'
            in r.text
        )
        assert 'value="Autre nom"' in r.text
        async with console.web.sessions() as session:
            officer = await get_officer(session, "yhaddad")
            assert officer is not None and officer.name == "Yasmine Haddad-Roy"
            assert len(await roster_changes(session, "yhaddad")) == len(changes)

        # A new region while holding open cases: refused, nothing changed (name included).
        r = await director.post(
            "/roster/crodriguez",
            data={**form, "name": "Carlos R.", "email": "cr@parcours.example",
                  "region": "laval", "languages": "fr,es"},
        )  # fmt: skip
        assert r.status_code == 422
        assert "1 dossier(s) ouvert(s)" in text_of(r.text, "edit-error")
        async with console.web.sessions() as session:
            officer = await get_officer(session, "crodriguez")
            assert officer is not None and (officer.region, officer.name) == (
                "montreal",
                "Carlos Rodríguez",
            )

        # Without the form's token: refused before anything.
        r = await director.post("/roster/yhaddad", data={**form, "csrf": "forged"})
        assert r.status_code == 400


async def test_a_supervisor_manages_leaves_of_their_region_only(tmp_path: Path) -> None:
    async with running_console(tmp_path, logins=EVERYONE) as console:
        await give_cases(console, "atremblay", "R-20")
        supervisor = await signed_in(console, "nbouchard")  # Montreal
        page = (await supervisor.get("/roster")).text
        assert 'id="officer-atremblay"' in page and 'id="officer-jgagnon"' not in page
        assert (await supervisor.get("/roster/jgagnon")).status_code == 404
        page = (await supervisor.get("/roster/atremblay")).text
        assert 'id="form-leave"' in page and 'id="form-edit"' not in page
        token = form_token(page)

        # The director's forms are not theirs: 403, in French, nothing written.
        r = await supervisor.post(
            "/roster/atremblay",
            data={"csrf": token, "name": "X", "email": "x@parcours.example",
                  "languages": "fr", "region": "montreal", "role": "supervisor"},
        )  # fmt: skip
        assert r.status_code == 403 and "direction" in text_of(r.text, "roster-error").lower()
        r = await supervisor.post(
            "/roster/jgagnon/leave", data={"csrf": token, "leave_from": "2027-01-04"}
        )
        assert r.status_code == 404
        # Their own record, a supervisor's: the directors' roster, not theirs (403, nothing).
        r = await supervisor.post(
            "/roster/nbouchard/leave",
            data={"csrf": token, "leave_from": "2027-01-04", "leave_to": "2027-01-08"},
        )
        assert r.status_code == 403 and "direction" in text_of(r.text, "leave-error").lower()

        today = local_today("montreal")
        # Dates the wrong way round: 422, nothing recorded.
        r = await supervisor.post(
            "/roster/atremblay/leave",
            data={"csrf": token, "leave_from": (today + timedelta(days=3)).isoformat(),
                  "leave_to": today.isoformat(), "backup": "crodriguez"},
        )  # fmt: skip
        assert r.status_code == 422
        assert "le dernier jour précède le premier" in text_of(r.text, "leave-error")
        # A backup of another region: refused.
        r = await supervisor.post(
            "/roster/atremblay/leave",
            data={"csrf": token, "leave_from": today.isoformat(),
                  "leave_to": today.isoformat(), "backup": "jgagnon"},
        )  # fmt: skip
        assert r.status_code == 422 and "jgagnon" in text_of(r.text, "leave-error")
        r = await supervisor.post(
            "/roster/atremblay/leave",
            data={"csrf": token, "leave_from": "", "leave_to": today.isoformat()},
        )
        assert r.status_code == 422
        async with console.web.sessions() as session:
            assert [c.change for c in await roster_changes(session, "atremblay")] == ["added"]

        r = await supervisor.post(
            "/roster/atremblay/leave",
            data={"csrf": token, "leave_from": (today - timedelta(days=1)).isoformat(),
                  "leave_to": (today + timedelta(days=6)).isoformat(), "backup": "crodriguez"},
        )  # fmt: skip
        assert r.status_code == 303
        page = (await supervisor.get("/roster/atremblay")).text
        assert "Congé inscrit." in page
        mark = text_of(page, "officer-absent")
        assert mark.startswith("En congé jusqu'au") and "crodriguez" in mark
        # The mark beside their cases, in the case list.
        page = (await supervisor.get("/cases")).text
        row = page[page.index('href="/cases/R-20"') :]
        assert "En congé jusqu" in row[: row.index("</tr>")]

        r = await supervisor.post("/roster/atremblay/leave/cancel", data={"csrf": token})
        assert r.status_code == 303
        page = (await supervisor.get("/roster/atremblay")).text
        assert "Congé annulé." in page and 'id="officer-absent"' not in page
        assert "En congé" not in (await supervisor.get("/cases")).text
        # No leave left to cancel: refused in French.
        r = await supervisor.post("/roster/atremblay/leave/cancel", data={"csrf": token})
        assert r.status_code == 422 and "pas de congé inscrit" in r.text
        async with console.web.sessions() as session:
            changes = await roster_changes(session, "atremblay")
        assert [(c.change, c.actor) for c in changes] == [
            ("added", None), ("leave", "nbouchard"), ("leave_cancelled", "nbouchard")
        ]  # fmt: skip


async def test_a_leave_ahead_is_listed_but_not_marked(tmp_path: Path) -> None:
    async with running_console(tmp_path, logins=EVERYONE) as console:
        today = local_today("montreal")
        async with console.web.sessions() as session, session.begin():
            await session.execute(
                update(Officer)
                .where(Officer.id == "yhaddad")
                .values(leave_from=today + timedelta(days=10), leave_to=today + timedelta(days=12))
            )
        director = await signed_in(console, "hcote")
        page = (await director.get("/roster")).text
        assert text_of(page, "officer-yhaddad-leave").startswith("du ")
        assert "En congé" not in text_of(page, "officer-yhaddad-active")


async def test_a_director_may_not_deactivate_themselves(tmp_path: Path) -> None:
    async with running_console(tmp_path, logins=EVERYONE) as console:
        director = await signed_in(console, "hcote")
        page = (await director.get("/roster/hcote")).text
        assert 'id="form-deactivate"' not in page and 'id="form-edit"' in page
        r = await director.post("/roster/hcote/deactivate", data={"csrf": form_token(page)})
        assert r.status_code == 422
        assert "vous désactiver vous-même" in text_of(r.text, "roster-error")
        async with console.web.sessions() as session:
            officer = await get_officer(session, "hcote")
            assert officer is not None and officer.active
