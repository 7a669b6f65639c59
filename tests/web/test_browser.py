"""The console in a real headless Chromium (Debian's chromium + chromedriver, driven by
Selenium; Selenium Manager never downloads anything: the driver path is given).

Set PARCOURS_SCREENSHOTS=DIR to save PNGs of the main pages (`make screenshots`).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from tests.web.chromium import (
    browser,
    click_and_load,
    csp_violations,
    error_text,
    needs_chromium,
    shot,
    shot_phone,
    sign_in,
)
from tests.web.conftest import WebStack, approval, officer_of, start_cases, wait_for

__all__ = ["browser"]  # the fixture, imported for pytest
pytestmark = needs_chromium


def test_officer_takes_a_case_through_arrival(
    browser: webdriver.Chrome, web_stack: WebStack
) -> None:
    start_cases(web_stack, approval("BR-1", language="es"))
    officer = officer_of(web_stack, "BR-1")
    sign_in(browser, web_stack, officer)
    browser.get(f"{web_stack.url}/cases")

    def listed() -> bool:
        browser.get(f"{web_stack.url}/cases")  # the read model catches up within moments
        return bool(browser.find_elements(By.LINK_TEXT, "BR-1"))

    wait_for(listed)
    assert "Mes dossiers" in browser.page_source  # French by default
    shot(browser, "caseload")
    click_and_load(browser, browser.find_element(By.LINK_TEXT, "BR-1"))
    assert browser.find_element(By.ID, "dossier").text == "BR-1"

    # Arrival cannot be approved before a plan is on file: no approval form, a hint instead.
    assert not browser.find_elements(By.ID, "form-approve")
    assert browser.find_element(By.ID, "approve-needs-plan")

    # A refused form (a note over the 4,000 characters a note may hold): the message and the
    # note as typed, at the case's address (Post/Redirect/Get: a reload sends nothing again),
    # once.
    note = "Rencontre au bureau. " * 200
    browser.execute_script("document.getElementById('progress-note').value = arguments[0];", note)
    click_and_load(browser, browser.find_element(By.CSS_SELECTOR, "#form-progress button"))
    assert error_text(browser)
    assert browser.current_url == f"{web_stack.url}/cases/BR-1"
    assert browser.find_element(By.ID, "progress-note").get_attribute("value") == note
    browser.refresh()
    assert not browser.find_elements(By.ID, "action-error")
    assert browser.find_element(By.ID, "progress-note").get_attribute("value") == ""

    browser.find_element(By.ID, "plan_arrival").send_keys("Rencontre d'accueil au bureau")
    browser.find_element(By.ID, "plan_francization").send_keys("Cours à temps plein, 33 semaines")
    browser.find_element(By.ID, "plan_employment").send_keys("Reconnaissance des acquis")
    click_and_load(browser, browser.find_element(By.CSS_SELECTOR, "#form-plan button"))
    assert browser.find_element(By.ID, "action-ok")
    assert "Cours à temps plein" in browser.find_element(By.ID, "plan").text

    # The arrival item through the plan follow-up: in progress, then done. With no item of
    # arrival left open, its approval needs no note.
    assert browser.find_element(By.ID, "approve-open-items")
    for status in ("in_progress", "done"):
        Select(browser.find_element(By.ID, "item-i1-move")).select_by_value(status)
        click_and_load(browser, browser.find_element(By.ID, "item-i1-submit"))
        assert browser.find_element(By.ID, "action-ok")
    assert browser.find_element(By.ID, "items-count-arrival").text.startswith("1 sur 1")
    assert not browser.find_elements(By.ID, "approve-open-items")

    click_and_load(browser, browser.find_element(By.ID, "approve-submit"))
    assert browser.find_element(By.ID, "case-stage").text == "Francisation"
    shot(browser, "case")

    # The audit trail (read model) catches up with the approval.
    def audited() -> bool:
        browser.refresh()
        return "Étape Accueil approuvée" in browser.find_element(By.ID, "audit").text

    wait_for(audited)

    # English on request, remembered.
    browser.get(f"{web_stack.url}/cases/BR-1?lang=en")
    assert browser.find_element(By.ID, "case-stage").text == "Francization"
    browser.get(f"{web_stack.url}/cases")
    assert "My caseload" in browser.page_source
    browser.get(f"{web_stack.url}/cases?lang=fr")


def test_officer_finds_a_case_sees_the_email_and_withdraws_it(
    browser: webdriver.Chrome, web_stack: WebStack
) -> None:
    start_cases(
        web_stack,
        approval(
            "BR-4",
            name="Kwame Mensah",
            email="kwame.mensah@example.org",
            phone="+1 438 555 0142",
            language="en",
            french_level="5",
            occupation="Ingénieur civil",
            regulated="true",
            household="4",
        ),
    )
    officer = officer_of(web_stack, "BR-4")
    sign_in(browser, web_stack, officer)

    def found() -> bool:
        browser.get(f"{web_stack.url}/cases")
        box = browser.find_element(By.ID, "search-q")
        box.send_keys("mensah")
        click_and_load(browser, browser.find_element(By.CSS_SELECTOR, "#search button"))
        return bool(browser.find_elements(By.LINK_TEXT, "BR-4"))

    wait_for(found)  # the read model catches up within moments
    assert "q=mensah" in browser.current_url
    assert browser.find_element(By.ID, "found-count").text == "1 dossier"
    shot(browser, "search")
    click_and_load(browser, browser.find_element(By.LINK_TEXT, "BR-4"))

    email = browser.find_element(By.ID, "newcomer-email")
    assert email.text == "kwame.mensah@example.org"
    assert email.get_attribute("href") == "mailto:kwame.mensah@example.org"
    assert browser.find_element(By.ID, "newcomer-language").text == "anglais"
    assert browser.find_element(By.ID, "newcomer-household").text == "4 personnes"
    shot(browser, "case-contact")
    browser.set_window_size(390, 900)  # a phone: the contact data still reads
    shot_phone(browser, "case-phone")
    browser.set_window_size(1280, 1000)

    Select(browser.find_element(By.ID, "withdraw-category")).select_by_value("left_quebec")
    browser.find_element(By.ID, "withdraw-note").send_keys("Installé en Ontario")
    click_and_load(browser, browser.find_element(By.ID, "withdraw-submit"))
    assert browser.find_element(By.ID, "action-ok")
    assert browser.find_element(By.ID, "case-status").text == "Retiré"
    assert not browser.find_elements(By.ID, "form-withdraw")
    # Nothing but its reopening (issue 16).
    sections = browser.find_elements(By.CSS_SELECTOR, "section.actions")
    assert [s.get_attribute("id") for s in sections] == ["closing"]
    assert browser.find_element(By.ID, "form-reopen")

    # Closed, it is found among the closed cases.
    browser.get(f"{web_stack.url}/cases?q=BR-4&status=closed")
    assert browser.find_elements(By.LINK_TEXT, "BR-4")


def test_a_paused_case_shows_no_casework_forms(
    browser: webdriver.Chrome, web_stack: WebStack
) -> None:
    start_cases(web_stack, approval("BR-5"))
    officer = officer_of(web_stack, "BR-5")
    sign_in(browser, web_stack, "nbouchard")  # Montréal's supervisor
    browser.get(f"{web_stack.url}/cases/BR-5")
    browser.find_element(By.ID, "pause-reason").send_keys("Hospitalisation")
    click_and_load(browser, browser.find_element(By.ID, "pause-submit"))
    assert browser.find_element(By.ID, "case-status").text == "En pause"
    assert browser.find_element(By.ID, "form-resume")
    assert not browser.find_elements(By.ID, "form-pause")
    assert not browser.find_elements(By.ID, "form-waive")
    shot(browser, "case-paused-supervisor")

    sign_in(browser, web_stack, officer)
    browser.get(f"{web_stack.url}/cases/BR-5?lang=en")
    assert browser.find_element(By.ID, "case-status").text == "Paused"
    for form in ("form-greeting", "form-plan", "form-approve", "form-pause", "form-resume"):
        assert not browser.find_elements(By.ID, form), form
    assert browser.find_element(By.ID, "form-progress")  # a note is still welcome
    assert "paused" in browser.find_element(By.ID, "paused-hint").text
    shot(browser, "case-paused-officer")
    browser.get(f"{web_stack.url}/cases?lang=fr")


def test_supervisor_finds_an_escalated_case_and_reassigns_it(
    browser: webdriver.Chrome, web_stack: WebStack
) -> None:
    start_cases(web_stack, approval("BR-2"))
    before = officer_of(web_stack, "BR-2")
    sign_in(browser, web_stack, "nbouchard")  # supervisor, Montreal
    browser.get(f"{web_stack.url}/supervision/stuck")

    # remind_after is 2s: the case reaches level 1+ within seconds, in visibility too.
    def listed() -> bool:
        browser.get(f"{web_stack.url}/supervision/stuck?stage=arrival&level=1")
        return bool(browser.find_elements(By.LINK_TEXT, "BR-2"))

    wait_for(listed, timeout=60, every=1.0)
    shot(browser, "stuck")
    click_and_load(browser, browser.find_element(By.LINK_TEXT, "BR-2"))
    level = int(browser.find_element(By.ID, "case-level").text)
    assert level >= 1
    other = next(o for o in ("atremblay", "crodriguez", "yhaddad") if o != before)
    Select(browser.find_element(By.ID, "reassign-officer")).select_by_value(other)
    click_and_load(browser, browser.find_element(By.ID, "reassign-submit"))
    assert browser.find_element(By.ID, "case-officer").text == other
    assert browser.find_element(By.ID, "action-ok")

    browser.get(f"{web_stack.url}/supervision/reports")
    assert browser.find_element(By.ID, "caseload-chart")
    assert browser.find_element(By.ID, "report-montreal")
    # Every page visited so far, the chart's legend included, ran under the policy untouched.
    assert browser.execute_script("return 1 + 1") == 2  # the driver's own script still runs
    assert csp_violations(browser) == []


def test_supervisor_reads_the_reports_and_opens_the_cases_behind_a_figure(
    browser: webdriver.Chrome, web_stack: WebStack
) -> None:
    """Issue 18: the Rapports page of a supervisor shows their region only, month by month,
    and a figure's link leads to exactly the cases it counts."""
    start_cases(web_stack, approval("BR-6"))
    officer_of(web_stack, "BR-6")  # opened and assigned: in the read model
    sign_in(browser, web_stack, "nbouchard")
    browser.get(f"{web_stack.url}/supervision/reports")
    section = browser.find_element(By.ID, "report-montreal")
    assert not browser.find_elements(By.ID, "report-capitale-nationale")
    assert not browser.find_elements(By.NAME, "region")  # a director's choice, not theirs
    assert browser.find_element(By.ID, "caseload-chart")
    assert browser.find_element(By.ID, "report-legend")
    month = datetime.now(UTC).strftime("%Y-%m")
    row = section.find_element(By.CSS_SELECTOR, f"table.report-months tr[data-month='{month}']")
    opened = row.find_element(By.CSS_SELECTOR, "a.opened")
    count = int(re.sub(r"\D", "", opened.text))
    assert count >= 1
    shot(browser, "reports")
    click_and_load(browser, opened)
    assert browser.find_element(By.ID, "figure-filter")
    assert browser.find_elements(By.LINK_TEXT, "BR-6")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#caseload tbody tr")) == count
    shot(browser, "reports-cases")
    # A month typed wrong: one clear message, the page still answers with the default period.
    browser.get(f"{web_stack.url}/supervision/reports?from=2026-13")
    assert "2026-13" in browser.find_element(By.ID, "report-error").text
    assert browser.find_element(By.ID, "report-montreal")


def test_pages_are_sent_with_security_headers(
    browser: webdriver.Chrome, web_stack: WebStack
) -> None:
    """The policy is really in force in the browser: a page of the console may not be framed,
    not even by another page of the console."""
    sign_in(browser, web_stack, "nbouchard")
    csp_violations(browser)  # drop earlier messages
    # A page of ours that frames the console: the browser refuses the frame.
    browser.get(f"{web_stack.url}/supervision/reports")
    browser.execute_script(
        "const f = document.createElement('iframe'); f.src = '/cases';"
        " document.body.appendChild(f);"
    )
    seen: list[str] = []

    def refused() -> bool:
        seen.extend(csp_violations(browser))
        return any("frame-ancestors" in m for m in seen)

    wait_for(refused, timeout=10)


def test_officer_cannot_open_another_regions_case(
    browser: webdriver.Chrome, web_stack: WebStack
) -> None:
    start_cases(web_stack, approval("BR-3", region="capitale-nationale"))
    officer_of(web_stack, "BR-3")
    sign_in(browser, web_stack, "atremblay")  # Montreal
    # The same page as for a dossier that does not exist: nothing says BR-3 is real.
    browser.get(f"{web_stack.url}/cases/BR-3")
    assert browser.find_element(By.ID, "error-title").text.startswith("404")
    hidden = browser.find_element(By.TAG_NAME, "main").text
    browser.get(f"{web_stack.url}/cases/BR-404")
    assert browser.find_element(By.TAG_NAME, "main").text == hidden
    # Nor can a Montreal supervisor; the region's own supervisor can.
    sign_in(browser, web_stack, "nbouchard")
    browser.get(f"{web_stack.url}/cases/BR-3")
    assert browser.find_elements(By.ID, "error-title")
    sign_in(browser, web_stack, "mlevesque")
    browser.get(f"{web_stack.url}/cases/BR-3")
    assert browser.find_element(By.ID, "dossier").text == "BR-3"


def test_sign_in_page(browser: webdriver.Chrome, web_stack: WebStack) -> None:
    browser.delete_all_cookies()
    browser.get(f"{web_stack.url}/cases")
    assert "/login" in browser.current_url
    shot(browser, "login")
    browser.find_element(By.ID, "login").send_keys("atremblay")
    browser.find_element(By.ID, "password").send_keys("wrong password")
    click_and_load(browser, browser.find_element(By.ID, "sign-in"))
    assert browser.find_element(By.ID, "login-error")


def test_api_docs_work_on_a_closed_network(browser: webdriver.Chrome, web_stack: WebStack) -> None:
    """Swagger UI and ReDoc draw the API from the console's own files: with every other host
    unreachable (as on the ministry's network), they still show its operations."""
    csp_violations(browser)  # drop earlier messages
    browser.get(f"{web_stack.url}/docs")
    wait_for(lambda: len(browser.find_elements(By.CSS_SELECTOR, ".opblock")) >= 2, timeout=30)
    assert "/api/v1/visa-approvals" in browser.find_element(By.ID, "swagger-ui").text
    assert csp_violations(browser) == []
    shot(browser, "docs")
    browser.get(f"{web_stack.url}/redoc")
    wait_for(lambda: "Open cases on visa approvals" in browser.page_source, timeout=30)
    # ReDoc's "API docs by Redocly" logo points at its CDN (no option turns it off): the
    # policy blocks it, and nothing else is asked of another host.
    blocked = csp_violations(browser)
    assert all("cdn.redoc.ly" in m for m in blocked), blocked
    origin = web_stack.url.rstrip("/")
    loaded = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )
    elsewhere = {u for u in loaded if not u.startswith(origin)}
    assert loaded and elsewhere <= {"https://cdn.redoc.ly/redoc/logo-mini.svg"}, loaded
