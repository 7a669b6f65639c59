"""The console in a real headless Chromium, for the web tests that drive one: Debian's chromium
and chromedriver through Selenium (Selenium Manager never downloads anything: the driver path
is given), the module-scoped `browser` fixture (a module imports it), signing in, screenshots
(PARCOURS_SCREENSHOTS=DIR), and axe-core's check of a page with the French-words check.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from tests.web.conftest import DEMO_PASSWORD, WebStack
from tests.web.words import READ_ATTRIBUTES, foreign_words

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--no-first-run", "--window-size=1280,1000",
)  # fmt: skip

# A phone's width (CSS pixels): the case and caseload pages must fit it.
PHONE_WIDTH = 390

needs_chromium = pytest.mark.skipif(
    not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()),
    reason="Debian's chromium and chromium-driver are not installed (make test installs them)",
)


def click_and_load(driver: webdriver.Chrome, element: WebElement, timeout: float = 30.0) -> None:
    """Click a link or submit button and wait until the page it leads to has replaced this
    one: a click returns before the navigation, and looking up elements in between finds
    the old page (stale element references under load)."""
    element.click()

    def gone(_: object) -> bool:
        try:
            element.is_enabled()
        except WebDriverException:  # stale, or its node belongs to a page that is gone
            return True
        return False

    WebDriverWait(driver, timeout).until(gone)


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    # The console log shows Content-Security-Policy violations: tests read it.
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.implicitly_wait(2)
    try:
        yield driver
    finally:
        driver.quit()


def fit_window(driver: webdriver.Chrome, width: int, most: int = 4000) -> None:
    """Make the window `width` wide and tall enough that the viewport holds the whole page
    (up to `most` pixels): a screenshot shows the viewport, and the window's height includes
    the browser's own frame, which differs between Chromium versions."""
    driver.set_window_size(width, 800)
    inner, outer = driver.execute_script("return [window.innerHeight, window.outerHeight]")
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, max(800, min(int(height) + int(outer) - int(inner), most)))


def shot(driver: webdriver.Chrome, name: str) -> None:
    target = os.environ.get("PARCOURS_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        fit_window(driver, 1280)  # the whole page, not only the window
        driver.save_screenshot(str(Path(target) / f"{name}.png"))
        driver.set_window_size(1280, 1000)


def shot_phone(driver: webdriver.Chrome, name: str) -> None:
    """The page at the window's current (phone) width, whole."""
    target = os.environ.get("PARCOURS_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        width = driver.execute_script("return window.innerWidth")
        fit_window(driver, PHONE_WIDTH, most=6000)
        driver.save_screenshot(str(Path(target) / f"{name}.png"))
        assert int(width) <= 400


def sign_in(driver: webdriver.Chrome, stack: WebStack, login: str) -> None:
    driver.delete_all_cookies()
    driver.get(f"{stack.url}/login")
    driver.find_element(By.ID, "login").send_keys(login)
    driver.find_element(By.ID, "password").send_keys(DEMO_PASSWORD)
    click_and_load(driver, driver.find_element(By.ID, "sign-in"))
    assert login not in driver.current_url  # left the sign-in page
    assert driver.find_elements(By.ID, "who")


def csp_violations(driver: webdriver.Chrome) -> list[str]:
    """Messages of the browser console (since the last call) that report a blocked script,
    style or frame: the policy must never stop one of our own pages from working."""
    logs = driver.get_log("browser")
    return [e["message"] for e in logs if "Content Security Policy" in e["message"]]


def error_text(driver: webdriver.Chrome) -> str:
    return str(driver.find_element(By.ID, "action-error").text)


ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / ".axe" / "node_modules" / "axe-core" / "axe.min.js"

# The visible text nodes of the page and the attributes a person reads.
TEXTS_JS = """
const read = arguments[0];
const out = [];
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
while (walker.nextNode()) {
  const node = walker.currentNode, parent = node.parentElement;
  if (!parent || parent.closest('script, style, code')) continue;
  const text = node.textContent.replace(/\\s+/g, ' ').trim();
  if (text && parent.getClientRects().length) out.push(text);
}
for (const el of document.querySelectorAll('*'))
  for (const name of read) { const v = el.getAttribute(name); if (v) out.push(v); }
out.push(document.title);
return out;
"""


def axe_source() -> str:
    if not AXE.is_file():
        pytest.fail(f"axe-core is not installed at {AXE}: run `make axe`")
    return AXE.read_text()


def serious_violations(driver: webdriver.Chrome) -> list[str]:
    """axe-core's serious and critical violations of the page shown, one line each."""
    if not driver.execute_script("return !!window.axe"):
        driver.execute_script(axe_source() + "\n;window.axe = axe;")
    found: list[dict[str, Any]] = driver.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        axe.run(document, {resultTypes: ['violations']})
          .then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                  nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}))))
          .catch(e => done([{id: 'axe-error', impact: 'critical', help: String(e), nodes: []}]));
        """
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {v['nodes']}"
        for v in found
        if v["impact"] in ("serious", "critical")
    ]


def check_page(driver: webdriver.Chrome, name: str, *, french: bool = True) -> None:
    assert serious_violations(driver) == [], name
    if french:
        assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "fr"
        assert foreign_words(driver.execute_script(TEXTS_JS, list(READ_ATTRIBUTES))) == [], name
