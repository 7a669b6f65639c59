"""Fault tests run real servers for minutes: only under `make faults` (PARCOURS_FAULTS=1),
which `.ci/run` runs after `make test`. The outage test on PostgreSQL needs the server at
127.0.0.1:5432 (trust auth), where it creates and drops a database of its own."""

from __future__ import annotations

import faulthandler
import os
from collections.abc import Iterator

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("PARCOURS_FAULTS") == "1":
        return
    skip = pytest.mark.skip(reason="fault test: run with `make faults` (PARCOURS_FAULTS=1)")
    for item in items:
        if "tests/faults/" in str(item.fspath):
            item.add_marker(skip)


# A fault test that hangs (a retry loop with no end, a process that never answers) must fail
# with every thread's stack rather than hold CI for its whole time limit: past this, the
# pytest worker prints the stacks and exits, and xdist reports the test as crashed.
HANG_AFTER_S = 1200


@pytest.fixture(autouse=True)
def _hang_watchdog() -> Iterator[None]:
    faulthandler.dump_traceback_later(HANG_AFTER_S, exit=True)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()
