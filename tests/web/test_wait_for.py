"""The browser tests' wait: a stale element is "not yet", any other error is the test's."""

from __future__ import annotations

import pytest
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException

from tests.web.conftest import wait_for


def test_a_look_at_an_element_that_a_reload_replaced_is_tried_again() -> None:
    looks: list[int] = []

    def finished() -> bool:
        looks.append(1)
        if len(looks) < 3:
            raise StaleElementReferenceException("the page reloaded under the element")
        return True

    wait_for(finished, timeout=5, every=0.01)
    assert len(looks) == 3


def test_other_errors_and_a_condition_never_met_still_fail() -> None:
    def missing() -> bool:
        raise NoSuchElementException("no such element")

    with pytest.raises(NoSuchElementException):
        wait_for(missing, timeout=5, every=0.01)
    with pytest.raises(AssertionError, match="not met in time"):
        wait_for(lambda: False, timeout=0.05, every=0.01)
