"""Staff emails say only what is true (issue 17): an escalation says who was told before it,
from the facts the notify activity reads in the audit trail, never "already told" when nobody
was; an unassigned case's alert says when the directors stand in for absent supervisors."""

from __future__ import annotations

from typing import Any

import pytest

from parcours.kernel.domain import Audience
from tests.activities.test_emails import renderer
from tests.activities.test_render import STAFF_CONTEXT
from tests.activities.test_render import notice as notification

ALREADY_TOLD = {"fr": "déjà été avisés", "en": "have already been told"}


def text_of(template: str, lang: str, **context: Any) -> str:
    n = notification(template, Audience.DIRECTORS, lang, {**STAFF_CONTEXT, **context})
    return renderer().render_in(n, None, lang).text


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_director_email_says_already_told_only_when_the_officer_and_supervisors_were(
    lang: str,
) -> None:
    told = text_of("stall_director", lang, level=3, reminded="officer", escalated="supervisors")
    assert ALREADY_TOLD[lang] in told
    for reminded, escalated in (
        ("officer", "nobody"),
        ("nobody", "supervisors"),
        ("nobody", "nobody"),
        ("directors", "directors"),
        ("supervisors", "supervisors"),
    ):
        text = text_of(
            "stall_director",
            lang,
            level=3,
            officer_id="" if reminded in ("supervisors", "directors") else "atremblay",
            reminded=reminded,
            escalated=escalated,
        )
        assert ALREADY_TOLD[lang] not in text, (reminded, escalated)


def test_director_email_in_laval_says_nobody_was_reached() -> None:
    # No officer, no supervisor: the reminder and the escalation reached nobody.
    text = text_of(
        "stall_director", "fr", level=3, officer_id="", reminded="nobody", escalated="nobody"
    )
    assert "Le rappel n'a pu être envoyé à personne." in text
    assert "L'escalade n'a pu être envoyée à personne\u00a0: la région n'a pas de supervision." in (
        text
    )
    assert "avisés" not in text.replace("premiers avisés", "")


def test_director_email_when_the_directors_stood_in_all_along() -> None:
    text = text_of(
        "stall_director", "en", level=3, officer_id="", reminded="directors", escalated="directors"
    )
    assert "the reminder went to the directors" in text
    assert "the escalation already went to the directors" in text


@pytest.mark.parametrize(
    ("reminded", "officer", "fr", "en"),
    [
        ("officer", "atremblay", "malgré un rappel à l'agent·e responsable", "to the officer"),
        ("supervisors", "", "malgré un rappel à la supervision régionale", "regional supervisors"),
        ("directors", "", "le rappel a été envoyé à la direction", "went to the directors"),
        ("nobody", "", "n'a pu être envoyé à personne", "could not be sent to anyone"),
    ],
)
def test_level_two_says_whom_the_reminder_reached(
    reminded: str, officer: str, fr: str, en: str
) -> None:
    context = {"level": 2, "officer_id": officer, "reminded": reminded}
    assert fr in text_of("stall_escalation", "fr", **context)
    assert en in text_of("stall_escalation", "en", **context)
    if reminded != "officer":
        assert "rappel à l'agent·e responsable" not in text_of("stall_escalation", "fr", **context)


def test_a_reminder_to_absent_supervisors_is_not_called_a_reminder() -> None:
    # The officer on leave, no backup, and no supervisor in the region: the stand-in reminder
    # reached nobody, so the escalation does not claim the coordination was reminded.
    text = text_of("stall_escalation", "fr", reminded="nobody", reminded_stand_in="supervisors")
    assert "n'a pu être envoyé à personne" in text
    assert "malgré un rappel" not in text


@pytest.mark.parametrize(("told", "said"), [("directors", True), ("supervisors", False)])
def test_unassigned_alert_says_when_the_directors_stand_in(told: str, said: bool) -> None:
    text = text_of("case_unassigned", "fr", officer_id="", told=told, region="laval")
    assert ("la direction est avisée à sa place" in text) is said


def test_an_unassigned_cases_reminder_asks_for_an_officer_not_a_note() -> None:
    text = text_of("stall_reminder", "fr", level=1, officer_id="", told="directors")
    assert "merci de l'affecter" in text
    assert "suffit à le remettre à jour" not in text
    assert "supervision de votre région" not in text
    assert "le dossier vous sera signalé de nouveau" in text
    own = text_of("stall_reminder", "en", level=1, officer_id="atremblay")
    assert "please assign it" not in own
