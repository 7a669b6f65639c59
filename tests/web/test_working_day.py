"""An officer's and a supervisor's working day in a real Chromium, with the console in French
and then in English (issue 15's proof): find a case by the newcomer's name, open it and write
to them, see a refusal in the page's language, file the plan and approve arrival; the
supervisor pauses another case, its officer finds no stage work offered on it, and withdraws
it with a category. axe-core checks every page on the way, in that language.

One case walks the approval path and one the pause and withdrawal, per language, so that the
two runs share nothing and the read model's catching up is the only wait.
"""

from __future__ import annotations

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from parcours.infrastructure.catalog import catalog
from parcours.kernel.messages import Message
from tests.web.chromium import browser, check_page, click_and_load, needs_chromium, sign_in
from tests.web.conftest import WebStack, approval, officer_of, start_cases, wait_for

__all__ = ["browser"]  # the module-scoped Chromium of test_browser.py
pytestmark = needs_chromium

# A note a little over the 4,000 characters a note may hold.
LONG_NOTE = "Rencontre au bureau, dossier complet. " * 106

# Per language: the newcomers (a different name each run, so a search finds one case), the
# refusal exactly as the catalogue words it, and the stage that follows Arrival.
DAYS = {
    "fr": {
        "approve": ("Thi Mai Nguyen", "nguyen"),
        "pause": ("Rania Belkacem", "belkacem"),
        "refused": "Action refusée\u00a0: Note\u00a0: le texte dépasse 4\u00a0000 caractères",
        "next_stage": "Francisation",
        "found": "1 dossier",
    },
    "en": {
        "approve": ("Oksana Hrytsenko", "hrytsenko"),
        "pause": ("Tomás Oyarzún", "oyarzun"),
        "refused": "Action rejected: Note: the text is longer than 4,000 characters",
        "next_stage": "Francization",
        "found": "1 case",
    },
}

# The forms of stage work and oversight that a paused case offers its officer none of.
STAGE_WORK = (
    "form-greeting", "form-plan", "form-approve", "form-pause", "form-resume", "form-waive",
    "form-reassign", "form-transfer",
)  # fmt: skip


def check(driver: webdriver.Chrome, lang: str, name: str) -> None:
    """axe on the page shown; the page is in `lang` (and, in French, has no English word)."""
    assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == lang, name
    check_page(driver, f"{name} ({lang})", french=lang == "fr")


def start_day(driver: webdriver.Chrome, stack: WebStack, login: str, lang: str) -> None:
    """Sign in (which forgets the session and its language), then ask for `lang` once."""
    sign_in(driver, stack, login)
    driver.get(f"{stack.url}/cases?lang={lang}")
    check(driver, lang, "caseload")


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_an_officers_and_a_supervisors_day(
    browser: webdriver.Chrome, web_stack: WebStack, lang: str
) -> None:
    day, t = DAYS[lang], catalog(lang)
    # The refusal expected is the catalogue's own sentence (the literal above pins its words).
    rendered = t.message(Message.of("text_too_long", field="input.note", max=4000))
    assert t("case.rejected_because", message=rendered) == day["refused"]
    plan_case, pause_case = f"DAY-{lang.upper()}-1", f"DAY-{lang.upper()}-2"
    (plan_name, plan_search), (pause_name, _) = day["approve"], day["pause"]
    start_cases(
        web_stack,
        approval(plan_case, name=plan_name, email=f"{plan_search}@example.org"),
        approval(pause_case, name=pause_name),
    )
    officer = officer_of(web_stack, plan_case)
    other_officer = officer_of(web_stack, pause_case)

    browser.delete_all_cookies()
    browser.get(f"{web_stack.url}/login?lang={lang}")
    check(browser, lang, "sign-in")
    start_day(browser, web_stack, officer, lang)

    # Search by the newcomer's name (the read model catches up within moments).
    def found() -> bool:
        browser.get(f"{web_stack.url}/cases")
        browser.find_element(By.ID, "search-q").send_keys(plan_search)
        click_and_load(browser, browser.find_element(By.CSS_SELECTOR, "#search button"))
        return bool(browser.find_elements(By.LINK_TEXT, plan_case))

    wait_for(found)
    assert f"q={plan_search}" in browser.current_url
    assert browser.find_element(By.ID, "found-count").text == day["found"]
    check(browser, lang, "search")

    # Open it: the newcomer's email, to write to them.
    click_and_load(browser, browser.find_element(By.LINK_TEXT, plan_case))
    assert browser.find_element(By.ID, "case-name").text == plan_name
    email = browser.find_element(By.ID, "newcomer-email")
    assert email.text == f"{plan_search}@example.org"
    assert email.get_attribute("href") == f"mailto:{plan_search}@example.org"
    check(browser, lang, "case")

    # A refused action, in the page's language: a note over 4,000 characters.
    browser.execute_script(
        "document.getElementById('progress-note').value = arguments[0];", LONG_NOTE
    )
    click_and_load(browser, browser.find_element(By.CSS_SELECTOR, "#form-progress button"))
    # As written, non-breaking spaces included (WebDriver's .text would turn them to spaces).
    refusal = browser.find_element(By.CSS_SELECTOR, "#action-error strong")
    assert refusal.get_attribute("textContent") == day["refused"]
    check(browser, lang, "case with a refusal")

    # File the plan, then approve arrival.
    browser.find_element(By.ID, "plan_arrival").send_keys("Rencontre d'accueil au bureau")
    browser.find_element(By.ID, "plan_francization").send_keys("Cours à temps plein")
    click_and_load(browser, browser.find_element(By.CSS_SELECTOR, "#form-plan button"))
    assert browser.find_element(By.ID, "action-ok").text == t("case.done")
    # Its arrival item is still open: the approval carries a note (v6).
    browser.find_element(By.ID, "approve-note").send_keys("Rencontre faite")
    click_and_load(browser, browser.find_element(By.ID, "approve-submit"))
    assert browser.find_element(By.ID, "action-ok").text == t("case.done")
    assert browser.find_element(By.ID, "case-stage").text == day["next_stage"]
    check(browser, lang, "case approved")

    # The supervisor pauses the other case.
    start_day(browser, web_stack, "nbouchard", lang)  # Montréal's supervisor
    browser.get(f"{web_stack.url}/cases/{pause_case}")
    browser.find_element(By.ID, "pause-reason").send_keys("Hospitalisation")
    click_and_load(browser, browser.find_element(By.ID, "pause-submit"))
    assert browser.find_element(By.ID, "case-status").text == t("status.paused")
    assert browser.find_element(By.ID, "form-resume")
    check(browser, lang, "case paused, supervisor")

    # Its officer finds no stage work offered on it, only a note and the withdrawal.
    start_day(browser, web_stack, other_officer, lang)
    browser.get(f"{web_stack.url}/cases/{pause_case}")
    assert browser.find_element(By.ID, "case-status").text == t("status.paused")
    for form in STAGE_WORK:
        assert not browser.find_elements(By.ID, form), form
    hint = browser.find_element(By.ID, "paused-hint").get_attribute("textContent")
    assert hint == t("case.paused_hint")
    check(browser, lang, "case paused, officer")

    # ...and withdraws it with a category: the case is closed and offers only its reopening.
    Select(browser.find_element(By.ID, "withdraw-category")).select_by_value("left_quebec")
    click_and_load(browser, browser.find_element(By.ID, "withdraw-submit"))
    assert browser.find_element(By.ID, "action-ok").text == t("case.done")
    assert browser.find_element(By.ID, "case-status").text == t("status.withdrawn")
    sections = browser.find_elements(By.CSS_SELECTOR, "section.actions")
    assert [s.get_attribute("id") for s in sections] == ["closing"]
    check(browser, lang, "case withdrawn")
