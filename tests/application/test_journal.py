"""The journal reads as sentences, in French and in English, from the rows the workflow and the
email activity have always written (old rows are never rewritten: they are sealed)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from parcours.application.journal import describe, journal
from parcours.infrastructure.catalog import Catalog

FR = Catalog("fr", strict=True)
EN = Catalog("en", strict=True)
NB = "\u00a0"
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Row:
    kind: str
    at: datetime
    actor: str | None = None
    stage: str | None = None
    detail: str | None = None
    text: str | None = None
    text_digest: str | None = None


# (kind, stage, detail) as written today, and the French and English sentences.
CASES = [
    ("plan_filed", "arrival", "revision 2, 3 items",
     "Plan d'action déposé (version 2, 3 actions)", "Action plan filed (version 2, 3 actions)"),
    ("plan_filed", "arrival", "revision 1, 1 items",
     "Plan d'action déposé (version 1, 1 action)", "Action plan filed (version 1, 1 action)"),
    ("plan_filed", "arrival", "revision 1, 0 items",
     "Plan d'action déposé (version 1, 0 action)", "Action plan filed (version 1, 0 actions)"),
    ("email_sent", "arrival", "template=welcome audience=newcomer languages=fr recipients=1",
     "Courriel de bienvenue envoyé à la personne", "Welcome email sent to the newcomer"),
    ("email_no_recipient", None, "template=welcome audience=newcomer languages=fr recipients=0",
     f"Courriel de bienvenue non envoyé{NB}: aucune adresse de destinataire",
     "Welcome email not sent: no recipient address"),
    ("email_resent", None,
     "template=stall_reminder audience=officer languages=fr resend=2 recipients=1",
     "Rappel d'inactivité renvoyé à l'agent·e (nouvel envoi n° 2)",
     "Inactivity reminder sent again to the officer (resend 2)"),
    ("email_unconfirmed", None,
     "template=plan_filed audience=newcomer resends=0: an attempt stopped during the SMTP "
     "exchange; sent again once its lease is over",
     f"Courriel du plan d'action à la personne{NB}: envoi interrompu, il sera renvoyé",
     "Action plan email to the newcomer: sending interrupted, it will be sent again"),
    ("email_failed", None, "welcome: MailRejectedError",
     "Courriel de bienvenue non remis", "Welcome email not delivered"),
    ("email_rejected", None,
     "template=case_unassigned audience=supervisors languages=- recipients=2",
     "Avis de dossier sans agent·e aux coordonnateur·trice·s refusé par le serveur de courriel",
     "Unassigned case notice to the supervisors rejected by the mail server"),
    ("airport_greeting", "arrival", "greeted",
     "Personne accueillie à l'aéroport", "Newcomer greeted at the airport"),
    ("reassigned", "arrival", "atremblay -> crodriguez",
     "Dossier réassigné de atremblay à crodriguez", "Case reassigned from atremblay to crodriguez"),
    ("reassigned", "arrival", "unassigned -> crodriguez",
     "Dossier sans agent·e assigné à crodriguez", "Unassigned case given to crodriguez"),
    ("transferred", "arrival", "montreal -> capitale-nationale; atremblay -> mlevesque",
     "Dossier transféré de la région montreal à la région capitale-nationale et confié à "
     "mlevesque", "Case transferred from region montreal to region capitale-nationale and "
     "given to mlevesque"),
    ("resumed", "arrival", "paused 0 days",
     "Dossier repris après 0 jour de pause", "Case resumed after 0 days on pause"),
    ("resumed", "arrival", "paused 1 days",
     "Dossier repris après 1 jour de pause", "Case resumed after 1 day on pause"),
    ("resumed", "arrival", "paused 12 days",
     "Dossier repris après 12 jours de pause", "Case resumed after 12 days on pause"),
    ("escalated", "francization", "2",
     f"Aucune activité{NB}: escalade au niveau 2", "No activity: escalated to level 2"),
    ("stage_approved", "arrival", None, "Étape Accueil approuvée", "Arrival stage approved"),
    ("stage_started", "francization", None,
     "Début de l'étape Francisation", "Francization stage started"),
    ("case_withdrawn", "employment", "left_quebec",
     f"Dossier retiré (motif{NB}: A quitté le Québec)", "Case withdrawn (reason: Left Quebec)"),
    ("case_withdrawn", "employment", None, "Dossier retiré", "Case withdrawn"),
    ("case_opened", "arrival", "default-2026",
     "Dossier ouvert selon la politique de suivi default-2026",
     "Case opened under follow-up policy default-2026"),
    ("officer_assigned", None, "atremblay", "Dossier assigné à atremblay",
     "Case assigned to atremblay"),
    ("meeting_booked", "arrival", "2026-12-10T10:00:00-05:00 seq=0",
     f"Première rencontre fixée au 10 décembre 2026, 10{NB}h{NB}00",
     "First meeting booked for December 10, 2026, 10:00\u202fa.m."),
    ("meeting_rescheduled", "arrival", "2026-12-17T14:30:00-05:00 seq=1 late",
     f"Première rencontre déplacée au 17 décembre 2026, 14{NB}h{NB}30, après le jour où le "
     "plan est dû",
     "First meeting moved to December 17, 2026, 2:30\u202fp.m., after the day the plan is due"),
    ("meeting_cancelled", "arrival", "2026-12-17T14:30:00-05:00 seq=2",
     f"Première rencontre du 17 décembre 2026, 14{NB}h{NB}30 annulée",
     "First meeting of December 17, 2026, 2:30\u202fp.m. cancelled"),
    ("plan_item_updated", "arrival", "i1 planned -> referred partner fq-montreal",
     f"Action i1 du plan{NB}: orientée vers fq-montreal",
     "Plan action i1: referred to fq-montreal"),
    ("plan_item_updated", "arrival", "i2 in_progress -> abandoned",
     f"Action i2 du plan{NB}: abandonnée", "Plan action i2: abandoned"),
    ("email_sent", None, "template=referral audience=newcomer languages=fr recipients=1",
     "Courriel d'orientation vers un partenaire envoyé à la personne",
     "Referral email sent to the newcomer"),
    ("email_sent", "arrival",
     "template=stall_reminder audience=officer stand_in=backup languages=fr recipients=1",
     "Rappel d'inactivité envoyé au ou à la remplaçant·e de l'agent·e en congé",
     "Inactivity reminder sent to the backup of the officer on leave"),
    # Issue 17: an unassigned case's alert, the roster's assignment, the reassignment notices.
    ("email_sent", "arrival",
     "template=case_unassigned audience=region_leads told=directors languages=fr recipients=1",
     "Avis de dossier sans agent·e envoyé à la direction, la région n'ayant pas de "
     "coordination",
     "Unassigned case notice sent to the directors, the region having no supervisor"),
    ("email_no_recipient", None,
     "template=case_unassigned audience=region_leads languages=fr recipients=0",
     f"Avis de dossier sans agent·e non envoyé{NB}: aucune adresse de destinataire",
     "Unassigned case notice not sent: no recipient address"),
    ("case_assigned", "arrival", "off-laval",
     "Dossier confié automatiquement à off-laval", "Case assigned automatically to off-laval"),
    ("email_sent", "arrival",
     "template=case_reassigned_away audience=officer languages=fr recipients=1",
     "Avis de fin d'assignation envoyé à l'agent·e",
     "Notice that the case is no longer theirs sent to the officer"),
    ("email_sent", "arrival",
     "template=officer_introduced audience=newcomer languages=fr,en recipients=1",
     "Courriel de présentation de l'agent·e envoyé à la personne",
     "Introduction of the officer sent to the newcomer"),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "stage", "detail", "fr", "en"), CASES)
def test_each_row_reads_as_a_sentence(
    kind: str, stage: str | None, detail: str | None, fr: str, en: str
) -> None:
    assert describe(kind, stage, detail, FR)[0] == fr
    assert describe(kind, stage, detail, EN)[0] == en


@pytest.mark.parametrize("kind", ["plan_filed", "reassigned", "transferred", "resumed"])
def test_a_detail_that_does_not_parse_still_gives_a_sentence(kind: str) -> None:
    sentence, _ = describe(kind, "arrival", "something else entirely", FR)
    assert "something" not in sentence and sentence[0].isupper()


def test_every_kind_the_code_writes_has_its_sentence() -> None:
    """The kinds written by the workflow (`event("kind", ...)`) and by the email activity
    (`"email_..."`): none falls back to the generic « Événement ».
    """
    sources = [ROOT / "workflows" / "pathway.py", ROOT / "workflows" / "effects.py"]
    kinds = set()
    for source in sources:
        kinds |= set(re.findall(r'\.event\(\s*"([a-z_]+)"', source.read_text()))
        kinds |= set(re.findall(r'"(email_[a-z_]+)"', source.read_text()))
    notify = (ROOT / "activities" / "notify.py").read_text()
    kinds |= set(re.findall(r'"(email_[a-z_]+)"', notify)) - {"email_undelivered"}
    assert {"plan_filed", "email_no_recipient", "case_withdrawn"} <= kinds
    for kind in sorted(kinds):
        for t in (FR, EN):
            sentence, _ = describe(kind, "arrival", "", t)
            assert sentence != t("journal.unknown", kind=kind), kind


def test_newest_first_notes_kept_and_erased_notes_said() -> None:
    t0 = datetime(2027, 1, 10, 14, tzinfo=UTC)
    rows = [
        Row("case_opened", t0, stage="arrival", detail="default-2026"),
        Row("progress_note", t0 + timedelta(hours=2), actor="atremblay", stage="arrival",
            text="Appel fait.\nRappeler lundi.", text_digest="d1"),
        Row("paused", t0 + timedelta(hours=1), actor="nbouchard", stage="arrival",
            text=None, text_digest="d2"),
    ]  # fmt: skip
    entries = journal(rows, FR)
    assert [e.sentence for e in entries] == [
        "Note de suivi ajoutée",
        "Dossier mis en pause",
        "Dossier ouvert selon la politique de suivi default-2026",
    ]
    assert entries[0].note == "Appel fait.\nRappeler lundi." and entries[0].stage == "arrival"
    assert entries[1].note is None and entries[1].note_erased
    assert not entries[2].note_erased


def test_an_unknown_kind_is_named_not_left_raw() -> None:
    assert describe("new_kind", None, "x=1", FR)[0] == "Événement «\u00a0new_kind\u00a0»"
