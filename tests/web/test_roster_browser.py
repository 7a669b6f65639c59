"""The roster page and bulk work in a real Chromium, against the shared `parcours dev` stack
(issue 17): a director edits an officer, records a leave (the absent mark shows beside their
cases) and is refused in French; a bulk reassignment from the case list runs as a batch whose
progress page follows it to a result per case. axe-core checks each new page.

The officers are this test's own, in Mauricie (no other test opens cases there), so the demo
roster the other browser tests rely on is left alone.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from parcours.infrastructure.store.officers import local_today
from tests.web.chromium import browser, check_page, click_and_load, needs_chromium, shot, sign_in
from tests.web.conftest import WebStack, approval, officer_of, start_cases, wait_for

__all__ = ["browser"]  # the module-scoped Chromium of test_browser.py
pytestmark = needs_chromium

REGION = "mauricie"


# Only this module's first officer speaks it: the intake rule (language first) gives them the
# cases of this language whatever other officers other tests left in REGION.
RARE_LANGUAGE = "zu"


def two_officers(stack: WebStack) -> tuple[str, str, str]:
    """This test's own two officers of REGION: (tag, first id, second id)."""
    tag = uuid.uuid4().hex[:6]
    a, b = f"rb-{tag}-a", f"rb-{tag}-b"
    for officer, languages in ((a, f"fr,{RARE_LANGUAGE}"), (b, "fr,en")):
        made = stack.cli(
            "officers", "add", "--id", officer, "--name", f"Agente {officer[-1].upper()}",
            "--email", f"{officer}@parcours.example", "--region", REGION, "--languages", languages,
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
    return tag, a, b


def set_date(driver: webdriver.Chrome, element_id: str, value: str) -> None:
    """A date field's value as ISO (typing into one follows the browser's locale)."""
    driver.execute_script(
        "document.getElementById(arguments[0]).value = arguments[1];", element_id, value
    )


def test_director_edits_an_officer_records_a_leave_and_is_refused_in_french(
    browser: webdriver.Chrome, web_stack: WebStack
) -> None:
    tag, a, b = two_officers(web_stack)
    dossier = f"RB-{tag.upper()}"
    start_cases(web_stack, approval(dossier, region=REGION))
    holder = officer_of(web_stack, dossier)
    other = b if holder == a else a

    sign_in(browser, web_stack, "hcote")
    browser.get(f"{web_stack.url}/cases")
    click_and_load(browser, browser.find_element(By.LINK_TEXT, "Effectif"))
    Select(browser.find_element(By.ID, "roster-region")).select_by_value(REGION)
    click_and_load(browser, browser.find_element(By.CSS_SELECTOR, ".filters button"))
    assert browser.find_element(By.ID, f"officer-{holder}-cases").text == "1"
    check_page(browser, "roster")
    shot(browser, "roster")
    click_and_load(browser, browser.find_element(By.CSS_SELECTOR, f"#officer-{holder} a"))

    # An edit: the languages, saved and audited.
    field = browser.find_element(By.ID, "edit-languages")
    field.clear()
    field.send_keys("fr, en, es")
    click_and_load(browser, browser.find_element(By.ID, "edit-submit"))
    assert browser.find_element(By.ID, "roster-ok").text == "Fiche enregistrée."
    assert browser.find_element(By.ID, "officer-languages").text == "fr, en, es"
    assert "languages=fr,en,es" in browser.find_element(By.ID, "roster-changes").text

    # A new region while they hold a case: refused, in French, beside the form.
    Select(browser.find_element(By.ID, "edit-region")).select_by_value("estrie")
    click_and_load(browser, browser.find_element(By.ID, "edit-submit"))
    refused = browser.find_element(By.ID, "edit-error").text
    assert refused.startswith("Action refusée") and "1 dossier(s) ouvert(s)" in refused
    assert browser.find_element(By.ID, "edit-region").get_attribute("aria-invalid") == "true"
    assert browser.find_element(By.ID, "officer-region").text == "Mauricie"

    # A leave whose last day comes before its first: refused, nothing recorded.
    today = local_today(REGION)
    set_date(browser, "leave-from", (today + timedelta(days=4)).isoformat())
    set_date(browser, "leave-to", today.isoformat())
    click_and_load(browser, browser.find_element(By.ID, "leave-submit"))
    assert "le dernier jour précède le premier" in browser.find_element(By.ID, "leave-error").text
    assert browser.find_element(By.ID, "officer-leave").text == "—"
    check_page(browser, "officer refused")
    shot(browser, "roster-refused")

    # The leave, from today, with a backup: the mark on their record and beside their case.
    set_date(browser, "leave-from", today.isoformat())
    set_date(browser, "leave-to", (today + timedelta(days=6)).isoformat())
    Select(browser.find_element(By.ID, "leave-backup")).select_by_value(other)
    click_and_load(browser, browser.find_element(By.ID, "leave-submit"))
    assert browser.find_element(By.ID, "roster-ok").text == "Congé inscrit."
    mark = browser.find_element(By.ID, "officer-absent").text
    assert mark.startswith("En congé jusqu'au") and other in mark
    check_page(browser, "officer")
    shot(browser, "roster-officer")
    browser.get(f"{web_stack.url}/cases/{dossier}")
    assert other in browser.find_element(By.ID, "case-officer-absent").text

    # Called off: the mark goes at once.
    browser.get(f"{web_stack.url}/roster/{holder}")
    click_and_load(browser, browser.find_element(By.ID, "leave-cancel-submit"))
    assert browser.find_element(By.ID, "roster-ok").text == "Congé annulé."
    assert not browser.find_elements(By.ID, "officer-absent")


def test_bulk_reassign_from_the_case_list_with_its_progress(
    browser: webdriver.Chrome, web_stack: WebStack
) -> None:
    tag, a, b = two_officers(web_stack)
    dossiers = [f"RC-{tag.upper()}-{i}" for i in range(4)]
    start_cases(web_stack, *(approval(d, region=REGION, language=RARE_LANGUAGE) for d in dossiers))
    holders = {d: officer_of(web_stack, d) for d in dossiers}
    mine = sorted(d for d, o in holders.items() if o == a)
    assert mine == sorted(dossiers)  # the intake rule: language first

    sign_in(browser, web_stack, "hcote")
    browser.get(f"{web_stack.url}/cases?officer={a}")

    def listed() -> bool:
        browser.get(f"{web_stack.url}/cases?officer={a}")
        return all(browser.find_elements(By.ID, f"pick-{d}") for d in mine)

    wait_for(listed)
    for d in mine:
        browser.find_element(By.ID, f"pick-{d}").click()
    Select(browser.find_element(By.ID, "bulk-kind")).select_by_value("reassign")
    Select(browser.find_element(By.ID, "bulk-to")).select_by_value(b)
    shot(browser, "bulk-select")
    click_and_load(browser, browser.find_element(By.ID, "bulk-submit"))
    assert "/bulk/reassign-" in browser.current_url
    progress_url = browser.current_url

    # The page follows the batch by itself (it polls its counts and reloads).
    wait_for(
        lambda: browser.find_element(By.ID, "bulk-status").text.startswith("Terminée"),
        timeout=60,
        every=0.5,
    )
    assert browser.find_element(By.ID, "bulk-status").text == (
        f"Terminée · {len(mine)} sur {len(mine)} dossiers traités"
    )
    for d in mine:
        assert browser.find_element(By.ID, f"result-{d}-outcome").text == "Fait"
        assert b in browser.find_element(By.ID, f"result-{d}").text
    check_page(browser, "bulk progress")
    shot(browser, "bulk-progress")

    # The cases are b's; the same form again is the same batch, already done.
    browser.get(f"{web_stack.url}/cases/{mine[0]}")
    assert browser.find_element(By.ID, "case-officer").text == b

    # The list reads the read model, which records the reassignments just after the batch
    # has them done (its events are activities of each case): wait for it, as for a's above.
    def listed_for_b() -> bool:
        browser.get(f"{web_stack.url}/cases?officer={b}")
        return all(browser.find_elements(By.ID, f"pick-{d}") for d in mine)

    wait_for(listed_for_b)
    for d in mine:
        browser.find_element(By.ID, f"pick-{d}").click()
    Select(browser.find_element(By.ID, "bulk-kind")).select_by_value("reassign")
    Select(browser.find_element(By.ID, "bulk-to")).select_by_value(b)
    click_and_load(browser, browser.find_element(By.ID, "bulk-submit"))
    assert browser.current_url == progress_url

    # Nothing chosen: refused in French, nothing started.
    browser.get(f"{web_stack.url}/cases?officer={b}")
    click_and_load(browser, browser.find_element(By.ID, "bulk-submit"))
    assert "aucun dossier choisi" in browser.find_element(By.ID, "bulk-error").text
    check_page(browser, "bulk refused")
