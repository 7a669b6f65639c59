"""Templates and the language rule, without SMTP."""

from datetime import UTC, date, datetime
from typing import Any

import pytest

from parcours.infrastructure.mail.language import add_months, within_grace_period
from parcours.infrastructure.mail.render import TemplateMissing
from parcours.kernel.domain import Audience, Notification

NEWCOMER_TEMPLATES: dict[str, dict[str, Any]] = {
    "welcome": {"arrival_date": "2026-03-10", "airport": "YQB", "region": "capitale-nationale"},
    "plan_filed": {
        "revision": 1,
        "plan": [
            {"stage": "francization", "text": "Cours de français à temps plein"},
            {"stage": "employment", "text": "Reconnaissance des acquis"},
        ],
    },
    "stage_started": {"stage": "employment"},
    "case_completed": {},
    "case_withdrawn": {"reason": "Départ du Québec"},
    "meeting_booked": {"at": "2026-03-16T14:00:00+00:00", "place": "Bureau", "video_url": ""},
}
STAFF_CONTEXT = {
    "stage": "arrival",
    "region": "montreal",
    "language": "es",
    "officer_id": "atremblay",
    "level": 1,
    "stalled_since": "2026-04-01T12:00:00+00:00",
    "days_silent": 1,
    "reason": "reassigned",
    "from_region": "montreal",
    "to_region": "capitale-nationale",
}
STAFF_TEMPLATES = (
    "officer_assigned",
    "case_unassigned",
    "stall_reminder",
    "stall_escalation",
    "stall_director",
    "case_transferred",
)


def notice(
    template: str, audience: Audience, language: str, context: dict, **extra: Any
) -> Notification:
    return Notification(
        key=f"newcomer-D-9:000001:mail-{template}",
        workflow_id="newcomer-D-9",
        template=template,
        audience=audience,
        region="montreal",
        language=language,
        arrival_date="2026-03-10",
        context={"dossier": "D-9", **context},
        decided_at=datetime(2026, 3, 12, tzinfo=UTC),
        **extra,
    )


@pytest.mark.parametrize("language", ["fr", "en", "es"])
@pytest.mark.parametrize("template", sorted(NEWCOMER_TEMPLATES))
def test_every_newcomer_template_renders(renderer, template, language):
    n = notice(template, Audience.NEWCOMER, language, NEWCOMER_TEMPLATES[template])
    msg = renderer.render(n, "Ana")
    assert msg.languages == (("fr",) if language == "fr" else ("fr", language))
    assert msg.subject and "\n" not in msg.subject and "D-9" in msg.subject
    assert msg.text.count("Subject:") == 0 and "D-9" in msg.text
    assert msg.html.startswith("<!DOCTYPE html>") and "D-9" in msg.html


@pytest.mark.parametrize("template", STAFF_TEMPLATES)
def test_every_staff_template_renders_in_french_only(renderer, template):
    n = notice(template, Audience.SUPERVISORS, "es", STAFF_CONTEXT)
    msg = renderer.render(n, None)
    assert msg.languages == ("fr",)
    assert "D-9" in msg.subject and "Bonjour," in msg.text
    # They exist in English too (the catalogue is complete), but staff read French.
    assert renderer.has(template, "en")


def test_plan_lists_every_item_and_a_revision_says_so(renderer):
    ctx = {**NEWCOMER_TEMPLATES["plan_filed"], "revision": 2}
    msg = renderer.render(notice("plan_filed", Audience.NEWCOMER, "fr", ctx), None)
    assert "mis à jour" in msg.subject
    assert "- La francisation\u00a0: Cours de français à temps plein" in msg.text
    assert "Reconnaissance des acquis" in msg.html


def test_unknown_template_is_missing(renderer):
    with pytest.raises(TemplateMissing):
        renderer.render(notice("nope", Audience.NEWCOMER, "fr", {}), None)


@pytest.mark.parametrize(
    ("decided_at", "allowed"),
    [
        (datetime(2026, 1, 5, tzinfo=UTC), True),  # before departure
        (datetime(2026, 3, 10, 12, tzinfo=UTC), True),  # arrival day
        (datetime(2026, 9, 9, 23, tzinfo=UTC), True),  # last day (19:00 in Quebec)
        (datetime(2026, 9, 10, 3, tzinfo=UTC), True),  # still Sept 9 in Quebec
        (datetime(2026, 9, 10, 12, tzinfo=UTC), False),  # six months have passed
        (datetime(2027, 3, 10, tzinfo=UTC), False),
        (None, False),
    ],
)
def test_six_month_rule(decided_at, allowed):
    assert within_grace_period("2026-03-10", decided_at) is allowed


def test_add_months_clamps_to_the_end_of_the_month():
    assert add_months(date(2025, 8, 31), 6) == date(2026, 2, 28)
    assert add_months(date(2023, 8, 31), 6) == date(2024, 2, 29)
    assert add_months(date(2026, 11, 15), 6) == date(2027, 5, 15)


def test_a_transfer_names_both_regions(renderer):
    n = notice("case_transferred", Audience.SUPERVISORS, "fr", STAFF_CONTEXT)
    msg = renderer.render(n, None)
    assert "Montréal" in msg.subject and "Capitale-Nationale" in msg.subject
    assert "Ancienne région\u00a0: Montréal" in msg.text
    assert "Nouvelle région\u00a0: Capitale-Nationale" in msg.text


def test_a_reopened_case_is_not_announced_as_new(renderer):
    ctx = {**STAFF_CONTEXT, "reason": "reopened"}
    msg = renderer.render(notice("officer_assigned", Audience.OFFICER, "fr", ctx), None)
    assert "rouvert" in msg.subject and "nouveau" not in msg.subject
    assert "suivant la réouverture" in msg.text and "suivant la réouverture" in msg.html
    assert "suivant l'arrivée" not in msg.text


def test_a_meeting_cancelled_by_the_closing_promises_no_new_time(renderer):
    ctx = {**NEWCOMER_TEMPLATES["meeting_booked"], "cancelled": True, "sequence": 1}
    msg = renderer.render(notice("meeting_cancelled", Audience.NEWCOMER, "es", ctx), None)
    assert "nouveau moment" in msg.text
    msg = renderer.render(
        notice("meeting_cancelled", Audience.NEWCOMER, "es", {**ctx, "case_closed": True}), None
    )
    assert "dossier est fermé" in msg.text and "expediente está cerrado" in msg.text
    assert "nouveau moment" not in msg.text and "nuevo momento" not in msg.text
