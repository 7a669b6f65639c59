"""What the audit chain says to people (the worker's refusal, `parcours audit verify`):
(French, English) pairs, French printed.

The CLI has no catalogue of its own yet (its other commands speak English); this one holds
the audit chain's words only, in the shape of the web's (interfaces/web/i18n.py `_CATALOG`), so
that it can be folded into a shared catalogue.
"""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
    "no_key": (
        "aucune clé d'audit : définir PARCOURS_AUDIT_KEYS (kid:base64, voir « parcours keys "
        "new KID ») ou PARCOURS_AUDIT_KEY_FILE ; elle scelle le journal d'audit et reste hors "
        "de la base de données",
        "no audit key: set PARCOURS_AUDIT_KEYS (kid:base64, from 'parcours keys new KID') or "
        "PARCOURS_AUDIT_KEY_FILE; it seals the audit trail and stays outside the database",
    ),
    "migration_needs_key": (
        "la migration 0005 doit sceller les lignes d'audit existantes : {reason}",
        "migration 0005 must seal the existing audit rows: {reason}",
    ),
    "progress": (
        "{cases}/{total} dossiers vérifiés ({rows} lignes)",
        "{cases}/{total} cases checked ({rows} rows)",
    ),
    "broken": (
        "{dossier} : chaîne rompue à la ligne {row_id} (n° {seq}, attendu n° {expected}, "
        "clé {key}) : {reason}",
        "{dossier}: chain broken at row {row_id} (no. {seq}, expected no. {expected}, key "
        "{key}): {reason}",
    ),
    "empty": (
        "{dossier} : aucune ligne d'audit pour un dossier ouvert depuis plus de {minutes} "
        "minutes : ses lignes ont été supprimées",
        "{dossier}: no audit row for a case opened more than {minutes} minutes ago: its rows "
        "were deleted",
    ),
    "summary_ok": (
        "journal d'audit intact : {cases} dossiers, {rows} lignes",
        "audit trail intact: {cases} cases, {rows} rows",
    ),
    "summary_broken": (
        "journal d'audit altéré : {broken} dossier(s) sur {cases} ont une chaîne rompue "
        "({rows} lignes lues)",
        "audit trail tampered with: {broken} of {cases} cases have a broken chain ({rows} "
        "rows read)",
    ),
    "no_rows": (
        "aucune ligne d'audit à vérifier",
        "no audit rows to check",
    ),
    "reason.unchained": (
        "ligne non scellée (écrite hors de l'application)",
        "row not sealed (written around the application)",
    ),
    "reason.gap": (
        "il manque une ou plusieurs lignes avant celle-ci (supprimées), ou son rang a changé",
        "one or more rows are missing before this one (deleted), or its place changed",
    ),
    "reason.unknown_key": (
        "scellée avec une clé absente du trousseau",
        "sealed with a key that is not in the keyring",
    ),
    "reason.text_altered": (
        "le texte ne correspond plus à son empreinte",
        "the text no longer matches its digest",
    ),
    "reason.seal": (
        "le contenu ou la chaîne a changé depuis le scellement, ou le sceau est contrefait",
        "content or chain changed since it was sealed, or the seal is forged",
    ),
}


def say(message_id: str, **values: object) -> str:
    """The French text of `message_id`, filled in."""
    return MESSAGES[message_id][0].format(**values)
