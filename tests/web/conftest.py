"""One real `parcours dev` (Temporal dev server, worker, SMTP catcher, web console) for the
web tests, with a policy whose arrival clocks run in seconds so escalations happen live."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from parcours.infrastructure.mail.catcher import free_port
from parcours.kernel.policy import policy_toml
from tests.web.console import form_token

PARCOURS = str(Path(sys.executable).parent / "parcours")
DEMO_PASSWORD = "parcours-demo"

FAST_POLICY = policy_toml(
    "web-tests",
    arrival={"deadline": "1h", "remind_after": "2s", "escalate_after": "4s",
             "escalate_again_after": "6s"},
)  # fmt: skip


@dataclass
class WebStack:
    url: str
    token: str  # scope intake: posts approvals
    data_dir: Path
    env: dict[str, str]
    read_token: str = ""  # scope read: a case's status fields

    def cli(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [PARCOURS, *argv], env=self.env, capture_output=True, text=True, timeout=60
        )


@pytest.fixture(scope="session")
def web_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebStack]:
    root = tmp_path_factory.mktemp("web")
    policy = root / "policy.toml"
    policy.write_text(FAST_POLICY)
    data_dir = root / "data"
    ports = {k: free_port() for k in ("temporal", "ui", "smtp", "web")}
    env = {
        **os.environ,
        "PARCOURS_DATA_DIR": str(data_dir),
        "PARCOURS_TEMPORAL_ADDRESS": f"127.0.0.1:{ports['temporal']}",
        "PARCOURS_DEMO_PASSWORD": DEMO_PASSWORD,
        # Fixed dates from the issues (arrival on 10 January 2027) stay openable in later
        # years; the window itself is tested with an injected "today" (tests/properties).
        "PARCOURS_ARRIVAL_DAYS_BACK": str(20 * 365),
        "PARCOURS_ARRIVAL_DAYS_AHEAD": str(20 * 365),
    }
    env.pop("PARCOURS_DATABASE_URL", None)
    env.pop("PARCOURS_POLICY", None)
    log = (root / "dev.log").open("w")
    proc = subprocess.Popen(
        [PARCOURS, "dev", "--data-dir", str(data_dir), "--policy", str(policy),
         "--temporal-port", str(ports["temporal"]), "--ui-port", str(ports["ui"]),
         "--smtp-port", str(ports["smtp"]), "--web-port", str(ports["web"])],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{ports['web']}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, (root / "dev.log").read_text()[-3000:]
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the dev stack did not come up"
            time.sleep(0.3)
        stack = WebStack(url=url, token="", data_dir=data_dir, env=env)
        made = stack.cli("tokens", "create", "--name", "visa-system")
        assert made.returncode == 0, made.stderr
        stack.token = made.stdout.strip()
        made = stack.cli("tokens", "create", "--name", "case-reader", "--scope", "read")
        assert made.returncode == 0, made.stderr
        stack.read_token = made.stdout.strip()
        yield stack
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def sign_in(c: httpx.Client, login: str, password: str = DEMO_PASSWORD) -> httpx.Response:
    """Sign in as a browser does: the form (and its token) first, then the post."""
    token = form_token(c.get("/login").text)
    return c.post("/login", data={"login": login, "password": password, "csrf": token})


def reader(stack: WebStack) -> dict[str, str]:
    return {"Authorization": f"Bearer {stack.read_token}"}


def approval(dossier: str, region: str = "montreal", **extra: object) -> dict[str, object]:
    """A visa approval that arrived yesterday, so the arrival stall clock (which starts on the
    arrival day, Quebec time) is already running."""
    from datetime import date, timedelta

    return {
        "dossier": dossier,
        "name": "Amina Diallo",
        "email": "amina@example.org",
        "arrival": (date.today() - timedelta(days=1)).isoformat(),
        "region": region,
        **extra,
    }


def start_cases(stack: WebStack, *approvals: dict[str, object]) -> list[dict[str, object]]:
    r = httpx.post(
        f"{stack.url}/api/v1/visa-approvals",
        json=list(approvals),
        headers={"Authorization": f"Bearer {stack.token}"},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    results: list[dict[str, object]] = r.json()["results"]
    return results


def wait_for(predicate: object, timeout: float = 30.0, every: float = 0.3) -> None:
    """Until `predicate()` holds. A page that reloads itself (a batch's progress) may replace
    an element between its finding and its reading: that look counts as "not yet"."""
    from selenium.common.exceptions import StaleElementReferenceException

    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while True:
        try:
            if predicate():
                return
        except StaleElementReferenceException:
            pass
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(every)


# The console's pages as a signed-in person sees them, over HTTP (no browser).
ROW = re.compile(r'<td[^>]*><a href="/cases/([^"]+)">')


def read_case(stack: WebStack, dossier: str) -> httpx.Response:
    """The case as the API shows it to the read-only token."""
    return httpx.get(f"{stack.url}/api/v1/cases/{dossier}", headers=reader(stack), timeout=30)


def officer_of(stack: WebStack, dossier: str) -> str:
    found: dict[str, str] = {}

    def assigned() -> bool:
        r = read_case(stack, dossier)
        if r.status_code == 200 and r.json()["officer"]:
            found["officer"] = r.json()["officer"]
            return True
        return False

    wait_for(assigned)
    return found["officer"]


def status_of(stack: WebStack, dossier: str) -> str:
    r = read_case(stack, dossier)
    assert r.status_code == 200, r.text
    return str(r.json()["status"])


@contextlib.contextmanager
def client(stack: WebStack, login: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.url, timeout=30) as c:
        assert sign_in(c, login).status_code == 303
        yield c


def found(c: httpx.Client, **params: str) -> list[str]:
    page = c.get("/cases", params=params)
    assert page.status_code == 200
    return ROW.findall(page.text)


def post(c: httpx.Client, dossier: str, action: str, **fields: str) -> httpx.Response:
    token = form_token(c.get(f"/cases/{dossier}").text)
    return c.post(f"/cases/{dossier}/{action}", data={"csrf": token, **fields})


def listed(c: httpx.Client, dossier: str, **params: str) -> None:
    """Wait until the read model (written by the worker a moment later) lists `dossier`."""
    wait_for(lambda: dossier in found(c, **params))
