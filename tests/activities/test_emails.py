"""Every email from the catalogue: complete in each language it exists in, no English left in
the French or Spanish, a welcome that fits a newcomer already here, dates in the case's zone,
and staff emails that link to the case in the console (never to a command)."""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime
from html import unescape
from pathlib import Path
from typing import Any

import pytest

from parcours.infrastructure.catalog import EMAIL_LANGUAGES, LOCALE_DIR
from parcours.infrastructure.config import ConfigError, Settings
from parcours.infrastructure.mail.render import Renderer
from parcours.kernel.domain import Audience
from parcours.kernel.timezones import ATLANTIC
from tests.activities.test_render import STAFF_CONTEXT
from tests.activities.test_render import notice as notification

TEMPLATES = Settings().templates_dir
ARRIVAL = "2026-03-10"
MEETING_URL = "https://rencontre.exemple.qc.ca/abc"
STAGES = ("arrival", "francization", "employment", "community")
BEFORE = datetime(2026, 2, 1, 15, tzinfo=UTC)
AFTER = datetime(2026, 3, 31, 15, tzinfo=UTC)

NEWCOMER: dict[str, list[dict[str, Any]]] = {
    "welcome": [
        {"arrival_date": ARRIVAL, "airport": "YUL", "region": "montreal"},
        # With the newcomer's personal link (activities/notify.py mints it).
        {
            "arrival_date": ARRIVAL,
            "airport": "YUL",
            "region": "montreal",
            "reply_url": "https://x/n/t",
        },
    ],
    "plan_filed": [
        {"revision": r, "plan": [{"stage": s, "text": "Cours du soir"} for s in STAGES]}
        for r in (1, 2)
    ],
    "stage_started": [{"stage": s} for s in ("francization", "employment", "community")],
    "case_completed": [{}],
    "case_withdrawn": [{"reason": "Départ du Québec"}, {"reason": ""}],
    # Issue 16: the first meeting (the workflow's context: a place, a link, or both).
    **{
        template: [
            {"at": "2026-03-16T14:00:00+00:00", "place": "Bureau régional", "video_url": ""},
            {"at": "2026-03-16T14:00:00+00:00", "place": "", "video_url": MEETING_URL},
        ]
        for template in (
            "meeting_booked",
            "meeting_rescheduled",
            "meeting_cancelled",
            "meeting_reminder",
        )
    },
    "referral": [
        {
            "item_stage": "francization",
            "item": "Cours à temps plein",
            "partner_name": "Francisation Québec – Montréal",
            "partner_email": "francisation@example.org",
            "partner_phone": "514 555-0100",
            "partner_url": "https://www.quebec.ca/francisation",
        },
        {
            "item_stage": "employment",
            "item": "Emploi",
            "partner_name": "Carrefour",
            "partner_email": "",
            "partner_phone": "",
            "partner_url": "",
        },
    ],
    "case_declined": [{}],
    # Issue 17: the newcomer meets their new officer (name and address from the roster).
    "officer_introduced": [
        {"officer_name": "Amélie Tremblay", "officer_email": "atremblay@example.org"}
    ],
}
# Every field a staff email may use; each case below changes some.
STAFF_BASE = STAFF_CONTEXT
STAFF: dict[str, list[dict[str, Any]]] = {
    "officer_assigned": [
        {"reason": r, "stage": s}
        for r in ("new_case", "reassigned", "transferred", "reopened", "")
        for s in ("arrival", "employment", "")
    ],
    "case_unassigned": [
        *({"language": lang} for lang in ("es", "ar", "fr")),
        *({"officer_id": "", "told": told} for told in ("supervisors", "directors")),
    ],
    # Issue 17: the previous officer of a reassignment, a transfer, or none.
    "case_reassigned_away": [
        {"reason": r, "new_officer_id": "crodriguez"} for r in ("reassigned", "transferred", "")
    ],
    "stall_reminder": [
        *({"days_silent": d} for d in (1, 14)),
        # Issue 17: an unassigned case's reminder, to the supervisors or the directors.
        {"officer_id": ""},
        *({"officer_id": "", "told": told} for told in ("supervisors", "directors")),
        *(
            {"stand_in": {"kind": k, "officer": "Amélie Tremblay", "until": "2026-06-01"}}
            for k in ("backup", "supervisors")
        ),
    ],
    "stall_escalation": [
        {"level": 2, "days_silent": 21},
        {"officer_id": ""},
        *({"reminded_stand_in": k} for k in ("backup", "supervisors")),
        # Issue 17: whom the reminder truly reached (the audit trail says it).
        *(
            {"officer_id": o, "reminded": r}
            for o, r in (
                ("atremblay", "officer"),
                ("", "supervisors"),
                ("", "directors"),
                ("", "nobody"),
                ("atremblay", "nobody"),
            )
        ),
        {"reminded": "nobody", "reminded_stand_in": "supervisors"},
    ],
    "stall_director": [
        {"level": 3, "days_silent": 30},
        {"officer_id": ""},
        *({"reminded_stand_in": k} for k in ("backup", "supervisors")),
        # Issue 17: every pair of whom the reminder and the escalation truly reached.
        *(
            {"officer_id": "" if r in ("supervisors", "directors") else "atremblay"}
            | {"reminded": r, "escalated": e}
            for r in ("officer", "supervisors", "directors", "nobody")
            for e in ("supervisors", "directors", "nobody")
        ),
        *(
            {"reminded": "officer", "reminded_stand_in": k, "escalated": e}
            for k in ("backup", "supervisors")
            for e in ("supervisors", "nobody")
        ),
    ],
    "case_transferred": [
        {"from_region": "montreal", "to_region": "capitale-nationale"},
        {"from_region": "laval", "to_region": "estrie", "officer_id": "", "stage": ""},
    ],
    "newcomer_replied": [
        {"choice": c, "until": u, "ended": e}
        for c, u, e in (
            ("use", "", False),
            ("decline", "", False),
            ("later", "2026-06-01", False),
            ("later", "2026-06-01", True),
        )
    ],  # fmt: skip
    "email_undelivered": [
        {
            "template": t,
            "audience": a.value,
            "resends": n,
            "created_at": "2026-04-01T12:00:00+00:00",
            "message_id": "<k-1@immigration.quebec.example>",
        }
        for t, a, n in (("welcome", Audience.NEWCOMER, 3), ("stall_reminder", Audience.OFFICER, 1))
    ],
}
# Words that are English and neither French nor Spanish: one of them in a French or Spanish
# email is a sentence the catalogue did not translate.
ENGLISH_WORDS = {
    "the", "your", "you", "and", "with", "will", "please", "this", "that", "hello", "welcome",
    "airport", "officer", "file", "been", "have", "from", "case", "stage", "reminder", "email",
    "open", "region", "none", "reason", "thank", "team",
}  # fmt: skip


def renderer(now: datetime = BEFORE, **kwargs: Any) -> Renderer:
    return Renderer(TEMPLATES, strict=True, clock=lambda: now, **kwargs)


def every_email() -> list[tuple[str, Audience, dict[str, Any]]]:
    out = [(t, Audience.NEWCOMER, c) for t, cs in NEWCOMER.items() for c in cs]
    return out + [
        (t, Audience.SUPERVISORS, {**STAFF_BASE, **c}) for t, cs in STAFF.items() for c in cs
    ]


def words_of(text: str) -> str:
    """What a reader sees: tags out, entities decoded."""
    return unescape(re.sub(r"<[^>]+>", " ", text))


def english_only_phrases() -> set[tuple[str, ...]]:
    """Every three-word run of the English email texts that no French text has."""

    def runs(lang: str) -> set[tuple[str, ...]]:
        po = (LOCALE_DIR / lang / "LC_MESSAGES" / "parcours.po").read_text()
        texts = re.findall(r'msgid "email\.[^"]*"\n(?:msgid_plural[^\n]*\n)?msgstr\S* "(.*)"', po)
        found: set[tuple[str, ...]] = set()
        for text in texts:
            words = re.findall(r"[A-Za-zÀ-ÿ']+", re.sub(r"\{[a-z_]+\}", " ", text))
            found |= {tuple(w.lower() for w in words[i : i + 3]) for i in range(len(words) - 2)}
        return found

    return runs("en") - runs("fr") - runs("es")


def test_every_email_exists_in_french_and_english_and_newcomers_in_spanish() -> None:
    r = renderer()
    for template in NEWCOMER:
        assert all(r.has(template, lang) for lang in EMAIL_LANGUAGES), template
    for template in STAFF:
        assert r.has(template, "fr") and r.has(template, "en"), template
    templates = {p.name.split(".")[0] for p in (TEMPLATES / "email").glob("[!_]*.j2")}
    assert templates == set(NEWCOMER) | set(STAFF), "an email without cases in this test"


@pytest.mark.parametrize("now", [BEFORE, AFTER], ids=["before-arrival", "after-arrival"])
def test_every_email_renders_in_each_language_from_a_strict_catalogue(now: datetime) -> None:
    """A missing key raises (strict catalogue, StrictUndefined); no English is left in the
    French or Spanish; no key or unfilled field shows."""
    r = renderer(now)
    english = english_only_phrases()
    assert len(english) > 100  # the check below has something to find
    for template, audience, context in every_email():
        for lang in EMAIL_LANGUAGES:
            if not r.has(template, lang):
                continue
            n = notification(template, audience, lang, context)
            msg = r.render_in(n, "Zoé", lang)
            for body in (msg.subject, msg.text, words_of(msg.html)):
                where = f"{template} {lang} {context}"
                assert "D-9" in body, where
                assert not re.search(r"email\.[a-z_]+\.|\{[a-z_]+\}|#plural", body), where
                if lang == "en":
                    continue
                words = [w.lower() for w in re.findall(r"[A-Za-zÀ-ÿ']+", body)]
                assert ENGLISH_WORDS.isdisjoint(words), (where, ENGLISH_WORDS & set(words))
                runs = {tuple(words[i : i + 3]) for i in range(len(words) - 2)}
                assert runs.isdisjoint(english), (where, runs & english)


def test_french_follows_french_typography() -> None:
    msg = renderer().render_in(
        notification("welcome", Audience.NEWCOMER, "fr", NEWCOMER["welcome"][0]), "Zoé", "fr"
    )
    assert "Bienvenue au Québec\u00a0!" in msg.text and "Québec\u00a0:" in msg.subject
    assert " :" not in msg.text and " !" not in msg.text  # every one non-breaking


# ------------------------------------------------------------------------------------------
# The welcome, before and after the arrival date
# ------------------------------------------------------------------------------------------


def welcome(lang: str, now: datetime, **extra: Any) -> str:
    n = notification("welcome", Audience.NEWCOMER, lang, NEWCOMER["welcome"][0], **extra)
    return renderer(now).render_in(n, "Zoé", lang).text


def test_before_arrival_the_welcome_announces_the_arrival_and_the_airport_greeting() -> None:
    text = welcome("fr", BEFORE)
    assert "Votre arrivée est prévue le 10 mars 2026 à l'aéroport Montréal–Trudeau (YUL)" in text
    assert "vous accueillera à l'aéroport" in text
    assert "arrivé·e" not in text
    assert "Your arrival is planned for March 10, 2026" in welcome("en", BEFORE)
    assert "Su llegada está prevista para el 10 de marzo de 2026" in welcome("es", BEFORE)


@pytest.mark.parametrize("lang", EMAIL_LANGUAGES)
def test_after_arrival_the_welcome_fits_someone_already_here(lang: str) -> None:
    text = welcome(lang, AFTER)
    before = welcome(lang, BEFORE)
    assert text != before
    for promise in ("prévue", "aéroport", "planned", "airport", "prevista", "aeropuerto"):
        assert promise not in text, promise
    arrived = {
        "fr": "vous êtes arrivé·e au Québec le 10 mars 2026",
        "en": "you arrived in Québec on March 10, 2026",
        "es": "usted llegó a Quebec el 10 de marzo de 2026",
    }
    assert arrived[lang] in text


@pytest.mark.parametrize(
    ("now", "passed"),
    [
        (datetime(2026, 3, 10, 16, tzinfo=UTC), False),  # the arrival day itself
        (datetime(2026, 3, 11, 3, 59, tzinfo=UTC), False),  # 23:59 on the 10th in Quebec
        (datetime(2026, 3, 11, 4, 0, tzinfo=UTC), True),  # midnight on the 11th in Quebec
    ],
)
def test_the_arrival_date_has_passed_on_the_next_day_in_the_cases_zone(
    now: datetime, passed: bool
) -> None:
    assert ("arrivé·e" in welcome("fr", now)) is passed


def test_a_case_on_atlantic_time_passes_its_arrival_date_an_hour_earlier() -> None:
    now = datetime(2026, 3, 11, 3, 30, tzinfo=UTC)  # 23:30 Eastern, 00:30 Atlantic
    assert "arrivé·e" not in welcome("fr", now)
    assert "arrivé·e" in welcome("fr", now, time_zone=ATLANTIC)


def test_staff_dates_are_in_the_cases_zone() -> None:
    context = {**STAFF_BASE, "stalled_since": "2026-08-16T03:30:00+00:00"}
    eastern = notification("stall_reminder", Audience.OFFICER, "fr", context)
    atlantic = notification("stall_reminder", Audience.OFFICER, "fr", context, time_zone=ATLANTIC)
    assert "depuis le 15 août 2026" in renderer().render(eastern, None).text
    assert "depuis le 16 août 2026" in renderer().render(atlantic, None).text


# ------------------------------------------------------------------------------------------
# Staff emails link to the console
# ------------------------------------------------------------------------------------------


# The previous officer of a reassignment may no longer open the case (an officer sees their
# own): no link that would answer "no such case".
NO_LINK = {"case_reassigned_away"}


@pytest.mark.parametrize("template", sorted(STAFF))
def test_staff_emails_link_to_the_case_and_name_no_command(template: str) -> None:
    r = renderer(public_url="https://parcours.quebec.example/")
    n = notification(template, Audience.SUPERVISORS, "fr", {**STAFF_BASE, **STAFF[template][0]})
    msg = r.render(n, None)
    url = "https://parcours.quebec.example/cases/D-9"
    if template in NO_LINK:
        assert "/cases/" not in msg.text and "/cases/" not in msg.html
    else:
        assert f"Ouvrir le dossier dans la console\u00a0: {url}\n" in msg.text
        assert f'<a href="{url}">Ouvrir le dossier D-9 dans la console</a>' in msg.html
    for body in (msg.text, msg.html):
        assert not re.search(r"\bparcours [a-z]+ |--[a-z]+|<vous>|&lt;vous&gt;", body), body


@pytest.mark.parametrize("template", sorted(NEWCOMER))
def test_newcomer_emails_have_no_console_link(template: str) -> None:
    n = notification(template, Audience.NEWCOMER, "fr", NEWCOMER[template][0])
    msg = renderer().render(n, "Zoé")
    assert "/cases/" not in msg.text and "/cases/" not in msg.html


def test_the_link_escapes_the_dossier_and_defaults_to_the_dev_console() -> None:
    n = notification("stall_reminder", Audience.OFFICER, "fr", STAFF_BASE)
    n.workflow_id = "newcomer-D 9&x"
    n.context["dossier"] = "D 9&x"
    msg = renderer().render(n, None)
    assert "http://127.0.0.1:8000/cases/D%209%26x" in msg.text


def test_the_public_url_is_a_setting() -> None:
    assert Settings.from_env({}).public_url == "http://127.0.0.1:8000"
    env = {"PARCOURS_PUBLIC_URL": "https://parcours.quebec.example/"}
    assert Settings.from_env(env).public_url == "https://parcours.quebec.example"
    assert Renderer.from_settings(Settings.from_env(env)).public_url == env[
        "PARCOURS_PUBLIC_URL"
    ].rstrip("/")
    for bad in ("parcours.quebec.example", "ftp://x", "https://"):
        with pytest.raises(ConfigError, match="PARCOURS_PUBLIC_URL"):
            Settings.from_env({"PARCOURS_PUBLIC_URL": bad})


def test_templates_are_compiled_once(tmp_path: Path) -> None:
    """Composing reads no file: the templates were compiled when the renderer was built."""
    copy = tmp_path / "templates"
    shutil.copytree(TEMPLATES / "email", copy / "email")
    r = Renderer(copy, strict=True, clock=lambda: BEFORE)
    shutil.rmtree(copy)
    n = notification("welcome", Audience.NEWCOMER, "es", NEWCOMER["welcome"][0])
    assert r.render(n, "Zoé").languages == ("fr", "es")


def test_the_dev_stack_links_to_its_own_console() -> None:
    from parcours.interfaces.devstack import DevOptions

    assert DevOptions(web_port=8123).settings(Settings()).public_url == "http://127.0.0.1:8123"
    told = Settings(public_url="https://parcours.quebec.example")
    assert DevOptions(web_port=8123).settings(told).public_url == told.public_url
