"""Fault tests run real servers for minutes: only under `make faults` (PARCOURS_FAULTS=1),
which CI runs after `make test`."""

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
