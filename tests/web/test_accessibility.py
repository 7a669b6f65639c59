"""Every console page in a real Chromium: axe-core finds no serious or critical violation, the
French pages show only French words from the catalogue, and the case and caseload pages fit a
390 px phone without sideways scrolling.

axe-core is the npm registry's package, installed by `make axe` (a dependency of `make test`)
into .axe/; nothing is fetched while the tests run. Its source is injected into each page by
the driver (which the page's Content-Security-Policy does not govern).
"""

from __future__ import annotations

from selenium import webdriver
from selenium.webdriver.common.by import By

from tests.web.chromium import (
    PHONE_WIDTH,
    browser,
    check_page,
    click_and_load,
    needs_chromium,
    serious_violations,
    shot_phone,
    sign_in,
)
from tests.web.conftest import WebStack, approval, officer_of, start_cases, wait_for

__all__ = ["browser"]  # the module-scoped Chromium of tests/web/chromium.py
pytestmark = needs_chromium  # Debian's chromium and chromium-driver (`make browser`)

DESKTOP = (1280, 1000)
# A note as an officer types it: line breaks, and one word longer than any phone is wide.
LONG_WORD = "https://exemple.quebec/" + "x" * 180
NOTE = f"Appel fait.\nRappeler lundi.\n{LONG_WORD}"


def fits(driver: webdriver.Chrome) -> tuple[int, int]:
    """(document width, viewport width): the first must not exceed the second."""
    widths = driver.execute_script(
        "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    return int(widths[0]), int(widths[1])


def add_note(driver: webdriver.Chrome, stack: WebStack, dossier: str) -> None:
    """Add NOTE to the case from its page, and wait until the journal shows it."""
    driver.get(f"{stack.url}/cases/{dossier}")
    driver.find_element(By.ID, "progress-note").send_keys(NOTE)
    click_and_load(driver, driver.find_element(By.CSS_SELECTOR, "#form-progress button"))

    def journaled() -> bool:
        driver.get(f"{stack.url}/cases/{dossier}")
        return "Note de suivi ajoutée" in driver.find_element(By.ID, "audit").text

    wait_for(journaled)


def test_every_page_passes_axe_and_speaks_french(
    browser: webdriver.Chrome, web_stack: WebStack
) -> None:
    browser.set_window_size(*DESKTOP)
    browser.delete_all_cookies()
    browser.get(f"{web_stack.url}/login?lang=fr")
    check_page(browser, "login")

    start_cases(web_stack, approval("AX-1"))
    officer = officer_of(web_stack, "AX-1")
    sign_in(browser, web_stack, officer)

    def listed() -> bool:
        browser.get(f"{web_stack.url}/cases")
        return bool(browser.find_elements(By.LINK_TEXT, "AX-1"))

    wait_for(listed)
    check_page(browser, "caseload")

    add_note(browser, web_stack, "AX-1")
    journal = browser.find_element(By.ID, "audit")
    # Newest first: the note, typed last, comes before everything the opening wrote (the fast
    # policy's reminders may still land after it); its line breaks are kept.
    entries = [li.text for li in journal.find_elements(By.CSS_SELECTOR, "li")]
    note = next(i for i, text in enumerate(entries) if "Note de suivi ajoutée" in text)
    assert "Appel fait.\nRappeler lundi." in entries[note]
    opened = next(i for i, text in enumerate(entries) if "Dossier ouvert" in text)
    assert note < opened and opened == len(entries) - 1
    check_page(browser, "case")

    browser.get(f"{web_stack.url}/cases/AX-404")
    assert browser.find_element(By.ID, "error-title").text.startswith("404")
    assert "Aucun dossier de ce numéro." in browser.find_element(By.TAG_NAME, "main").text
    check_page(browser, "error")

    sign_in(browser, web_stack, "hcote")  # the director: supervision pages and intake
    for name, path in [
        ("stuck", "/supervision/stuck?level=0"),
        ("reports", "/supervision/reports"),
        ("intake", "/intake"),
        ("forecast", "/supervision/forecast?months=6&runs=20"),
        # This test's cases only: other tests of the same process open cases under arbitrary
        # (hostile, machine-like) names, which the words check would read as machine text.
        ("all cases", "/cases?q=AX-"),
    ]:
        browser.get(f"{web_stack.url}{path}")
        check_page(browser, name)

    # The check sees what it is there to see: an image without a text alternative and grey
    # on grey, slipped into the page.
    browser.execute_script(
        """const main = document.querySelector('main');
        main.appendChild(document.createElement('img')).src = '/static/none.png';
        const p = main.appendChild(document.createElement('p'));
        p.textContent = 'Texte gris';
        p.style.color = '#ccc';  // CSSOM: the policy forbids style attributes, not this
        p.style.background = '#ddd';"""
    )
    seen = " ".join(serious_violations(browser))
    assert "image-alt" in seen and "color-contrast" in seen, seen

    # The same pages in English pass too.
    browser.get(f"{web_stack.url}/cases/AX-1?lang=en")
    assert "Progress note added" in browser.find_element(By.ID, "audit").text
    check_page(browser, "case in English", french=False)
    browser.get(f"{web_stack.url}/cases?lang=fr")


def test_case_and_caseload_fit_a_phone(browser: webdriver.Chrome, web_stack: WebStack) -> None:
    start_cases(web_stack, approval("AX-2"))
    officer = officer_of(web_stack, "AX-2")
    browser.set_window_size(*DESKTOP)
    sign_in(browser, web_stack, officer)
    add_note(browser, web_stack, "AX-2")
    try:
        browser.set_window_size(PHONE_WIDTH, 900)
        for path, name in [("/cases/AX-2", "phone-case"), ("/cases", "phone-caseload")]:
            browser.get(f"{web_stack.url}{path}")
            document, viewport = fits(browser)
            assert viewport <= PHONE_WIDTH
            assert document <= viewport, (path, document, viewport)
            assert serious_violations(browser) == [], path
            shot_phone(browser, name)
            browser.set_window_size(PHONE_WIDTH, 900)
    finally:
        browser.set_window_size(*DESKTOP)
