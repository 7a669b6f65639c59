"""Fault tests run real servers for minutes: only under `make faults` (PARCOURS_FAULTS=1),
which `.ci/run` runs after `make test`. The outage test on PostgreSQL needs the server at
127.0.0.1:5432 (trust auth), where it creates and drops a database of its own."""

from __future__ import annotations

import os

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("PARCOURS_FAULTS") == "1":
        return
    skip = pytest.mark.skip(reason="fault test: run with `make faults` (PARCOURS_FAULTS=1)")
    for item in items:
        if "tests/faults/" in str(item.fspath):
            item.add_marker(skip)
