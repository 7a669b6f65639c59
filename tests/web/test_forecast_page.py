"""*Prévisions* (issue 18) in the real console and a real Chromium: a director forecasts every
region and tries assumptions; a supervisor sees their region only; bad input is a 400 with
the field named; the CSV is the page's table."""

from __future__ import annotations

import asyncio
import csv
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By

from bench.forecast_data import History, seed_history
from parcours.infrastructure.store.db import create_engine
from tests.web.chromium import browser, click_and_load, csp_violations, shot
from tests.web.chromium import sign_in as sign_in_browser
from tests.web.conftest import WebStack, sign_in

__all__ = ["browser"]  # the fixture, imported for pytest

# Regions no other console test uses: the seeded cases have no officer and must not show up
# in the other tests' caseloads.
SEEDED = {"outaouais": 0.6, "estrie": 0.4}


@pytest.fixture(scope="module")
def seeded(web_stack: WebStack) -> Iterator[WebStack]:
    async def seed() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{web_stack.data_dir / 'parcours.db'}")
        try:
            history = History(now=datetime.now(UTC), intake_per_year=400, years=2,
                              regions=SEEDED, officers={})  # fmt: skip
            await seed_history(engine, history)
        finally:
            await engine.dispose()

    asyncio.run(seed())
    yield web_stack


def test_director_forecasts_and_tries_assumptions(
    browser: webdriver.Chrome, seeded: WebStack
) -> None:
    sign_in_browser(browser, seeded, "hcote")
    browser.get(f"{seeded.url}/cases")
    click_and_load(browser, browser.find_element(By.LINK_TEXT, "Prévisions"))
    assert browser.find_element(By.TAG_NAME, "h1").text == "Prévisions de charge"
    rows = browser.find_elements(By.CSS_SELECTOR, "#forecast-months tbody tr")
    assert len(rows) == 24
    assert browser.find_element(By.CSS_SELECTOR, "#input-intake_per_year td:last-child").text \
        .startswith("mesure")  # fmt: skip
    assert browser.find_elements(By.CSS_SELECTOR, "#forecast-chart svg polyline")
    regions = browser.find_elements(By.CSS_SELECTOR, "#forecast-regions tbody th")
    assert {"Outaouais", "Estrie"} <= {r.text for r in regions}

    browser.find_element(By.ID, "f-intake_per_year").send_keys("50 000")
    browser.find_element(By.ID, "f-officers").send_keys("78")
    browser.find_element(By.ID, "f-months").send_keys("12")
    click_and_load(browser, browser.find_element(By.ID, "forecast-run"))
    # Selenium gives the no-break space of "50 000" as a plain one.
    intake = browser.find_element(By.ID, "input-intake_per_year").text.replace("\u00a0", " ")
    assert "50 000" in intake and "hypothèse" in intake
    assert "78" in browser.find_element(By.ID, "input-officers").text
    assert len(browser.find_elements(By.CSS_SELECTOR, "#forecast-months tbody tr")) == 12
    verdict = browser.find_element(By.ID, "forecast-verdict").text
    assert "La charge par agent·e" in verdict
    href = browser.find_element(By.ID, "forecast-csv").get_attribute("href") or ""
    assert "/supervision/forecast.csv?" in href and "officers=78" in href
    assert csp_violations(browser) == []
    shot(browser, "forecast-director")

    browser.find_element(By.ID, "f-uptake").send_keys("beaucoup")
    click_and_load(browser, browser.find_element(By.ID, "forecast-run"))
    assert browser.find_element(By.ID, "error-uptake").text == "ce n'est pas un nombre"
    field = browser.find_element(By.ID, "f-uptake")
    assert field.get_attribute("aria-invalid") == "true"
    assert not browser.find_elements(By.ID, "forecast-months")  # nothing half-computed


def test_supervisor_sees_their_region_only(seeded: WebStack) -> None:
    with httpx.Client(base_url=seeded.url, timeout=60) as c:
        assert sign_in(c, "nbouchard").status_code in (200, 303)
        page = c.get("/supervision/forecast", params={"months": "3", "runs": "20"})
        assert page.status_code == 200
        assert 'id="forecast-regions"' not in page.text  # one region: no per-region table
        assert 'name="region"' not in page.text  # and no choice of region
        other = c.get("/supervision/forecast", params={"region": "outaouais"})
        assert other.status_code == 403
        assert c.get("/supervision/forecast.csv", params={"region": "outaouais"}).status_code \
            == 403  # fmt: skip
        table = c.get("/supervision/forecast.csv", params={"months": "3", "runs": "20"})
        assert table.status_code == 200 and table.headers["content-type"].startswith("text/csv")
        assert 'filename="prevision-montreal-3m.csv"' in table.headers["content-disposition"]
        rows = list(csv.reader(table.text.splitlines()))
        assert rows[0][0] == "month" and [r[0] for r in rows[1:]] == ["1", "2", "3"]
    with httpx.Client(base_url=seeded.url, timeout=60) as c:
        sign_in(c, "atremblay")  # an officer
        assert c.get("/supervision/forecast").status_code == 403


@pytest.mark.parametrize(
    ("params", "field", "text"),
    [
        ({"months": "500"}, "months", "l'horizon doit être de 1 à 120 mois"),
        ({"officers": "2,5"}, "officers", "ce n'est pas un nombre entier"),
        ({"stage_employment": "0"}, "stage_employment",
         "durée de l'étape employment\u00a0: un nombre de mois plus grand que 0, au plus 240"),
        ({"region": "atlantide"}, "region", "région inconnue"),
        # Hours of one console thread (review of issue 18): refused before any computing.
        ({"intake_per_year": "10000000", "months": "120", "runs": "1000"}, "runs",
         "trop de calcul\u00a0: arrivées par année × années × tirages dépasse "
         "100\u00a0000\u00a0000"),
    ],
)  # fmt: skip
def test_bad_input_is_a_400_naming_the_field(
    seeded: WebStack, params: dict[str, str], field: str, text: str
) -> None:
    with httpx.Client(base_url=seeded.url, timeout=60) as c:
        sign_in(c, "hcote")
        page = c.get("/supervision/forecast", params=params)
        assert page.status_code == 400
        assert f'id="error-{field}">{text}' in page.text.replace("&#39;", "'")
        assert 'id="forecast-months"' not in page.text
