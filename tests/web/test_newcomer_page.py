"""The newcomer's own page, `/n/<token>`: reached from the link in their welcome email, in a
real browser against a real `parcours dev`; bad links refused and throttled like the sign-in."""

from __future__ import annotations

import email
import email.policy
import html
import re
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from selenium.webdriver.common.by import By

from parcours.infrastructure.newcomer_links import NewcomerLinks
from parcours.kernel.domain import workflow_id_for
from tests.temporal_servers import TEST_SIGNING_KEY
from tests.web.chromium import (
    CHROMEDRIVER,
    CHROMIUM,
    browser,
    click_and_load,
    serious_violations,
    sign_in,
)
from tests.web.conftest import WebStack, approval, officer_of, reader, start_cases, wait_for
from tests.web.console import running_console

__all__ = ["browser"]  # the module's fixture, shared

LINK = re.compile(r"https?://\S+/n/[A-Za-z0-9_.\-]+")


def welcome_to(stack: WebStack, address: str) -> EmailMessage:
    found: list[EmailMessage] = []

    def arrived() -> bool:
        for path in sorted((stack.data_dir / "mail").glob("*.eml")):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            assert isinstance(message, EmailMessage)
            if address in str(message["To"]) and "/n/" in message.as_string():
                found.append(message)
                return True
        return False

    wait_for(arrived, timeout=60)
    return found[0]


@pytest.mark.skipif(
    not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()),
    reason="Debian's chromium and chromium-driver are not installed (make test installs them)",
)
def test_the_newcomer_answers_through_the_link_in_their_welcome(
    web_stack: WebStack, browser: object
) -> None:
    from selenium import webdriver

    assert isinstance(browser, webdriver.Chrome)
    dossier = f"NL-{datetime.now(UTC):%H%M%S%f}"
    start_cases(
        web_stack,
        approval(dossier, email="luz.gomez@example.org", name="Luz Marina Gómez", language="es"),
    )
    welcome = welcome_to(web_stack, "luz.gomez@example.org")
    body = welcome.get_body(("plain",))
    assert body is not None
    links = LINK.findall(body.get_content())
    assert links, "no personal link in the welcome"
    browser.delete_all_cookies()
    browser.get(links[0])
    page = browser.find_element(By.TAG_NAME, "main").text
    # The first name and the dossier only; French first, Spanish beside it (first 6 months).
    assert "Bonjour Luz," in page and "Hola Luz:" in page and dossier in page
    assert "Gómez" not in page and "luz.gomez" not in page
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "fr"
    assert serious_violations(browser) == []  # axe-core, as every console page

    day = (date.today() + timedelta(days=30)).isoformat()
    field = browser.find_element(By.ID, "later-day")
    browser.execute_script("arguments[0].value = arguments[1]", field, day)
    click_and_load(browser, browser.find_element(By.ID, "choice-later"))
    done = browser.find_element(By.ID, "newcomer-done").text
    assert "nous vous contacterons à partir du" in done and "a partir del" in done
    status = httpx.get(f"{web_stack.url}/api/v1/cases/{dossier}", headers=reader(web_stack))
    assert status.json()["status"] == "waiting"

    # The officer sees it on the case page: when it resumes, and the newcomer's own act.
    sign_in(browser, web_stack, officer_of(web_stack, dossier))
    browser.get(f"{web_stack.url}/cases/{dossier}")
    assert browser.find_element(By.ID, "case-status").text == "En attente du nouvel arrivant"
    assert "être contactée à partir du" in browser.find_element(By.ID, "case-waiting").text
    journal = browser.find_element(By.ID, "audit").text
    assert "La personne demande à être contactée à partir du" in journal
    assert "par la personne" in journal

    # A link changed by one character: a clear page, nothing changes.
    tampered = links[0][:-3] + ("abc" if not links[0].endswith("abc") else "xyz")
    r = httpx.get(tampered, timeout=30)
    assert r.status_code == 404 and "Ce lien n'est pas valide" in html.unescape(r.text)
    status = httpx.get(f"{web_stack.url}/api/v1/cases/{dossier}", headers=reader(web_stack))
    assert status.json()["status"] == "waiting"


async def test_bad_links_are_refused_and_throttled_like_the_sign_in(tmp_path: Path) -> None:
    async with running_console(
        tmp_path, signing_keys=TEST_SIGNING_KEY.spec(), signin_max_failures_per_address=3
    ) as console:
        links = NewcomerLinks([TEST_SIGNING_KEY], days=60)
        good = links.mint(workflow_id_for("D-2026-0042"), "000002", console.now)
        old = links.mint(workflow_id_for("D-2026-0042"), "000002", console.now - timedelta(61))
        c = console.browser()
        r = await c.get(f"/n/{old}")
        assert r.status_code == 410 and 'id="newcomer-expired"' in r.text
        for _ in range(3):
            r = await c.get(f"/n/{good[:-4]}AAAA")
            assert r.status_code == 404 and 'id="newcomer-invalid"' in r.text
        # The address is locked for the window, even with a good link, and told when to
        # come back; another address is not (no Temporal here: the case cannot be read).
        for r in (await c.get(f"/n/{good}"), await c.post(f"/n/{good}", data={"choice": "use"})):
            assert r.status_code == 429 and 'id="newcomer-locked"' in r.text
            assert 0 < int(r.headers["retry-after"]) <= 15 * 60
        r = await console.browser("198.51.100.7").get(f"/n/{good}")
        assert r.status_code == 503 and 'id="newcomer-unavailable"' in r.text
        console.advance(timedelta(minutes=16))
        assert (await c.get(f"/n/{good}")).status_code == 503


async def test_an_answer_to_a_closed_case_says_so_and_a_reason_is_stored_clean(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No Temporal: the case is read and answered through stand-ins, to see what the page
    sends and says. A reason's terminal escapes are dropped, as every interface does; a case
    closed (before the page, or while it was open) is said to be closed, not "try later"."""
    from parcours.interfaces.web import routes_newcomer
    from parcours.kernel import rules
    from parcours.kernel.domain import (
        CaseFile,
        CaseState,
        CaseStatus,
        NewcomerApproval,
        PolicySnapshot,
        StagePolicy,
        view_of,
    )
    from parcours.kernel.errors import ParcoursError
    from parcours.kernel.messages import Message

    async with running_console(tmp_path, signing_keys=TEST_SIGNING_KEY.spec()) as console:
        stage = StagePolicy(30 * 86400, 86400, 2 * 86400, 3 * 86400)
        s = CaseState(
            approval=NewcomerApproval("D-2026-0042", "Amina Diallo", "a@example.org",
                                      (console.now + timedelta(days=20)).date().isoformat(),
                                      "montreal"),
            policy=PolicySnapshot(stage, stage, stage, stage),
        )  # fmt: skip
        rules.open_case(s, console.now)
        sent: list[object] = []
        answer: list[Exception] = []

        async def case_file(client: object, settings: object, dossier: str) -> CaseFile:
            return CaseFile(view=view_of(s), state=s)

        async def update_case(*args: object) -> object:
            if answer:
                raise answer[0]
            sent.append(args[-1])
            return view_of(s)

        monkeypatch.setattr(routes_newcomer, "case_file", case_file)
        monkeypatch.setattr(routes_newcomer, "update_case", update_case)
        console.web._client = object()  # type: ignore[assignment]
        links = NewcomerLinks([TEST_SIGNING_KEY], days=60)
        token = links.mint(workflow_id_for("D-2026-0042"), "000002", console.now)
        c = console.browser()
        csrf = re.search(r'name="csrf" value="([^"]+)"', (await c.get(f"/n/{token}")).text)
        assert csrf is not None
        form = {"csrf": csrf.group(1), "choice": "decline", "note": "non\x1b[2J\x1b]0;x\x07 merci"}
        assert (await c.post(f"/n/{token}", data=form)).status_code == 303
        assert [getattr(r, "note", None) for r in sent] == ["non merci"]

        # Closed while the page was open: the run has ended and Temporal refuses the update.
        answer.append(ParcoursError("closed", refusal=Message.of("case_completed")))
        r = await c.post(f"/n/{token}", data=form)
        assert r.status_code == 409 and 'id="newcomer-refused"' in r.text
        assert 'id="newcomer-unavailable"' not in r.text and 'id="newcomer-problem"' not in r.text
        # Known closed: nothing sent, the page says it is closed.
        s.status = CaseStatus.DECLINED
        r = await c.post(f"/n/{token}", data=form)
        assert r.status_code == 409 and 'id="newcomer-closed"' in r.text
        assert 'id="newcomer-problem"' not in r.text and len(sent) == 1
