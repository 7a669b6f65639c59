"""French first, English on request; dates the Quebec way.

The language comes from `?lang=` (remembered in a cookie) or the cookie, else French: the
Charter of the French language makes French the normal language of the administration.
Numeric dates are ISO 8601 (2026-11-24), the official Quebec numeric format; long dates are
"24 novembre 2026" in French. Times are shown in Quebec's time zone.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

LANGUAGES = ("fr", "en")
DEFAULT_LANGUAGE = "fr"
LANG_COOKIE = "lang"
QUEBEC_TZ = ZoneInfo("America/Montreal")

_MONTHS = {
    "fr": (
        "janvier", "février", "mars", "avril", "mai", "juin",
        "juillet", "août", "septembre", "octobre", "novembre", "décembre",
    ),
    "en": (
        "January", "February", "March", "April", "May", "June",
        "July", "August", "September", "October", "November", "December",
    ),
}  # fmt: skip

# One entry per visible string: (French, English).
_CATALOG: dict[str, tuple[str, str]] = {
    "app.title": (
        "Parcours — accompagnement des personnes immigrantes",
        "Parcours — newcomer pathway",
    ),
    "nav.caseload": ("Mes dossiers", "My caseload"),
    "nav.cases": ("Dossiers", "Cases"),
    "nav.stuck": ("Dossiers bloqués", "Stuck cases"),
    "nav.reports": ("Charge et délais", "Caseload and durations"),
    "nav.intake": ("Réception des dossiers", "Intake"),
    "nav.signout": ("Se déconnecter", "Sign out"),
    "nav.language": ("English", "Français"),
    "login.title": ("Connexion", "Sign in"),
    "login.login": ("Identifiant", "Login"),
    "login.password": ("Mot de passe", "Password"),
    "login.submit": ("Se connecter", "Sign in"),
    "login.failed": ("Identifiant ou mot de passe incorrect.", "Wrong login or password."),
    "login.locked": (
        "Trop de tentatives de connexion. Réessayez dans {minutes} min.",
        "Too many sign-in attempts. Try again in {minutes} min.",
    ),
    "login.expired": (
        "Le formulaire a expiré. Veuillez vous connecter de nouveau.",
        "The form has expired. Please sign in again.",
    ),
    "role.officer": ("Agent·e d'aide à l'intégration", "Integration officer"),
    "role.supervisor": ("Coordonnateur·trice", "Supervisor"),
    "role.director": ("Direction", "Director"),
    "role.operator": ("Opérateur·trice", "Operator"),
    "stage.arrival": ("Accueil", "Arrival"),
    "stage.francization": ("Francisation", "Francization"),
    "stage.employment": ("Emploi", "Employment"),
    "stage.community": ("Intégration communautaire", "Community"),
    "stage.none": ("—", "—"),
    "status.active": ("Actif", "Active"),
    "status.paused": ("En pause", "Paused"),
    "status.completed": ("Terminé", "Completed"),
    "status.withdrawn": ("Retiré", "Withdrawn"),
    "greeting.greeted": ("Accueilli·e", "Greeted"),
    "greeting.declined": ("Refusé", "Declined"),
    "greeting.no_show": ("Absent·e", "No-show"),
    "col.dossier": ("Dossier", "Dossier"),
    "col.newcomer": ("Personne", "Newcomer"),
    "col.stage": ("Étape", "Stage"),
    "col.status": ("Statut", "Status"),
    "col.officer": ("Agent·e", "Officer"),
    "col.region": ("Région", "Region"),
    "col.level": ("Niveau d'escalade", "Escalation level"),
    "col.overdue": ("En retard", "Overdue"),
    "col.stalled_since": ("Sans activité depuis", "Stalled since"),
    "col.last_activity": ("Dernière activité", "Last activity"),
    "col.days_idle": ("Jours sans activité", "Days idle"),
    "col.arrival": ("Arrivée", "Arrival"),
    "col.started": ("Début", "Started"),
    "col.completed": ("Fin", "Completed"),
    "col.approved_by": ("Approuvé par", "Approved by"),
    "col.deadline": ("Échéance", "Deadline"),
    "col.when": ("Quand", "When"),
    "col.event": ("Événement", "Event"),
    "col.actor": ("Par", "By"),
    "col.detail": ("Détail", "Detail"),
    "col.open_cases": ("Dossiers ouverts", "Open cases"),
    "col.median": ("Médiane (jours)", "Median (days)"),
    "col.p90": ("90e centile (jours)", "90th percentile (days)"),
    "col.count": ("Étapes terminées", "Completed stages"),
    "filter.all": ("Tous", "All"),
    "filter.apply": ("Filtrer", "Filter"),
    "filter.min_level": ("Niveau minimal", "Minimum level"),
    "filter.overdue_only": ("En retard seulement", "Overdue only"),
    "yes": ("oui", "yes"),
    "no": ("non", "no"),
    "empty.cases": ("Aucun dossier.", "No cases."),
    "empty.stuck": ("Aucun dossier bloqué.", "No stuck cases."),
    "case.title": ("Dossier", "Case"),
    "case.timeline": ("Étapes", "Stages"),
    "case.plan": ("Plan d'action", "Action plan"),
    "case.plan_none": ("Aucun plan au dossier.", "No plan on file."),
    "case.plan_due": ("Plan attendu le", "Plan due"),
    "case.audit": ("Journal", "Audit trail"),
    "case.waived": ("exemptée", "waived"),
    "case.paused_since": ("En pause depuis", "Paused since"),
    "case.greeting": ("Accueil à l'aéroport", "Airport greeting"),
    "case.actions": ("Actions", "Actions"),
    "case.supervision": ("Supervision", "Supervision"),
    "case.rejected": ("Action refusée", "Action rejected"),
    "case.done": ("Action enregistrée.", "Action recorded."),
    "form.greeting": ("Consigner l'accueil à l'aéroport", "Record the airport greeting"),
    "form.outcome": ("Résultat", "Outcome"),
    "form.plan": ("Déposer ou modifier le plan", "File or adjust the plan"),
    "form.plan_help": ("Une action par ligne, par étape.", "One action per line, per stage."),
    "form.progress": ("Note de suivi", "Progress note"),
    "form.note": ("Note", "Note"),
    "form.approve": ("Approuver l'étape", "Approve the stage"),
    "form.stage": ("Étape", "Stage"),
    "form.reassign": ("Réassigner", "Reassign"),
    "form.new_officer": ("Nouvel·le agent·e", "New officer"),
    "form.waive": ("Exempter une étape", "Waive a stage"),
    "form.reason": ("Motif", "Reason"),
    "form.pause": ("Mettre en pause", "Pause"),
    "form.resume": ("Reprendre", "Resume"),
    "form.submit": ("Enregistrer", "Save"),
    "form.withdraw": ("Retirer le dossier (définitif)", "Withdraw the case (final)"),
    "form.reason_category": ("Catégorie de motif", "Reason category"),
    "withdrawal.declined_services": ("Services refusés", "Declined services"),
    "withdrawal.left_quebec": ("A quitté le Québec", "Left Quebec"),
    "withdrawal.unreachable": ("Injoignable", "Unreachable"),
    "withdrawal.other": ("Autre", "Other"),
    "form.transfer": ("Transférer à une autre région", "Transfer to another region"),
    "form.new_region": ("Nouvelle région", "New region"),
    "form.officer_optional": (
        "Agent·e (vide : selon la règle d'attribution)",
        "Officer (empty: the intake rule picks)",
    ),
    "stuck.title": ("Dossiers bloqués", "Stuck cases"),
    "stuck.source": ("Source : visibilité Temporal", "Source: Temporal visibility"),
    "reports.caseload": ("Charge par agent·e", "Caseload per officer"),
    "reports.durations": ("Durée des étapes", "Stage durations"),
    "reports.unassigned": ("non assignés", "unassigned"),
    "intake.title": ("Réception des approbations de visa", "Visa approval intake"),
    "intake.tokens": ("Jetons d'API", "API tokens"),
    "intake.docs": ("Documentation de l'API (OpenAPI)", "API documentation (OpenAPI)"),
    "intake.create_hint": (
        "Créer un jeton : parcours tokens create --name NOM [--scope intake|read]",
        "Create a token: parcours tokens create --name NAME [--scope intake|read]",
    ),
    "intake.name": ("Nom", "Name"),
    "intake.scope": ("Portée", "Scope"),
    "scope.intake": ("réception (POST des approbations)", "intake (POST approvals)"),
    "scope.read": ("lecture (statut des dossiers)", "read (case status)"),
    "error.forbidden": ("Accès refusé", "Access denied"),
    "error.forbidden_text": (
        "Ce dossier ou cette page ne relève pas de votre responsabilité.",
        "This case or page is outside your responsibility.",
    ),
    "error.not_found": ("Introuvable", "Not found"),
    # Error details: the console shows them in the page's language, the API in English.
    "error.no_such_case": ("Aucun dossier de ce numéro.", "no such case"),
    "error.no_such_action": ("Cette action n'existe pas.", "no such action"),
    "error.form_token_missing": (
        "Jeton de formulaire manquant : rechargez la page.",
        "missing form token: reload the page",
    ),
    "error.form_token_stale": (
        "Jeton de formulaire périmé : rechargez la page.",
        "stale form token: reload the page",
    ),
    "error.unavailable": ("Service indisponible", "Service unavailable"),
}

EVENT_KINDS: dict[str, tuple[str, str]] = {
    "case_opened": ("Dossier ouvert", "Case opened"),
    "officer_assigned": ("Agent·e assigné·e", "Officer assigned"),
    "case_unassigned": ("En attente d'un·e agent·e", "Waiting for an officer"),
    "stage_started": ("Étape commencée", "Stage started"),
    "stage_approved": ("Étape approuvée", "Stage approved"),
    "stage_waived": ("Étape exemptée", "Stage waived"),
    "stage_overdue": ("Étape en retard", "Stage overdue"),
    "escalated": ("Escalade", "Escalated"),
    "airport_greeting": ("Accueil à l'aéroport", "Airport greeting"),
    "email_failed": ("Courriel non remis", "Email not delivered"),
    "email_sent": ("Courriel envoyé", "Email sent"),
    "email_unconfirmed": ("Courriel à vérifier", "Email unconfirmed"),
    "email_resent": ("Courriel renvoyé", "Email sent again"),
    "email_stale": ("Courriel périmé, non envoyé", "Stale email, not sent"),
    "plan_filed": ("Plan déposé", "Plan filed"),
    "progress_note": ("Note de suivi", "Progress note"),
    "reassigned": ("Réassigné", "Reassigned"),
    "transferred": ("Transféré à une autre région", "Transferred to another region"),
    "paused": ("Mis en pause", "Paused"),
    "resumed": ("Repris", "Resumed"),
    "case_completed": ("Dossier terminé", "Case completed"),
    "case_withdrawn": ("Dossier retiré", "Case withdrawn"),
}


def pick_language(query_value: str | None, cookie_value: str | None) -> str:
    for value in (query_value, cookie_value):
        if value in LANGUAGES:
            return value
    return DEFAULT_LANGUAGE


class Translator:
    """What templates call as `t("key")`, plus the date formats of one language."""

    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGUAGES else DEFAULT_LANGUAGE
        self._i = LANGUAGES.index(self.lang)

    def __call__(self, key: str) -> str:
        # Anything not in the catalogue (an error detail that is no key, say) passes as it is.
        entry = _CATALOG.get(key) if isinstance(key, str) else None
        return entry[self._i] if entry else key

    def event(self, kind: str) -> str:
        entry = EVENT_KINDS.get(kind)
        return entry[self._i] if entry else kind

    def long_date(self, value: date | datetime | str | None) -> str:
        """24 novembre 2026 / November 24, 2026."""
        d = _as_date(value)
        if d is None:
            return "—"
        month = _MONTHS[self.lang][d.month - 1]
        if self.lang == "fr":
            day = "1er" if d.day == 1 else str(d.day)
            return f"{day} {month} {d.year}"
        return f"{month} {d.day}, {d.year}"

    def iso_date(self, value: date | datetime | str | None) -> str:
        d = _as_date(value)
        return d.isoformat() if d else "—"

    def date_time(self, value: datetime | None) -> str:
        """2026-11-24 14:05 (Quebec time): ISO date, 24-hour clock."""
        if value is None:
            return "—"
        local = value.astimezone(QUEBEC_TZ) if value.tzinfo else value
        return local.strftime("%Y-%m-%d %H:%M")


def _as_date(value: date | datetime | str | None) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return (value.astimezone(QUEBEC_TZ) if value.tzinfo else value).date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None
