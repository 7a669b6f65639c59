"""The errors of the roster, the accounts, the settings, the command line and an absent
Temporal server, as a person reads them: French by default, English with
PARCOURS_LANGUAGE=en; the English line stays on the exception for logs. No Temporal server:
nothing listens on port 1."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import pytest

from parcours.infrastructure.catalog import catalog
from parcours.infrastructure.config import ConfigError, Settings
from parcours.infrastructure.store.accounts import AccountError
from parcours.infrastructure.store.officers import NewOfficer, OfficerError, validate_officer
from parcours.interfaces.cli.main import amain

NBSP = "\u00a0"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        temporal_address="127.0.0.1:1",
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'p.db'}",
    )


async def run(settings: Settings | None, *argv: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = await amain(list(argv), settings=settings, out=out, err=err)
    return code, err.getvalue()


def english(settings: Settings) -> Settings:
    return dataclasses.replace(settings, language="en")


async def test_an_absent_temporal_server_in_both_languages(settings: Settings) -> None:
    code, err = await run(settings, "status", "D-1")
    assert code == 1
    assert err == (
        f"parcours{NBSP}: erreur{NBSP}: Temporal est injoignable à 127.0.0.1:1 (connection "
        f"refused){NBSP}: vérifiez PARCOURS_TEMPORAL_ADDRESS, et que le serveur est en marche\n"
    )
    code, err = await run(english(settings), "status", "D-1")
    assert (code, err) == (
        1,
        "parcours: error: cannot reach Temporal at 127.0.0.1:1: connection refused\n",
    )


async def test_an_officer_the_roster_refuses_in_both_languages(settings: Settings) -> None:
    add = ["officers", "add", "--id", "mgagne", "--name", "M. Gagné", "--email", "m@x.ca"]
    code, err = await run(settings, *add, "--region", "paris")
    assert code == 1
    assert err.startswith(
        f"parcours{NBSP}: erreur{NBSP}: région{NBSP}: 'paris' n'est pas une région du Québec "
        f"(au choix{NBSP}: "
    ), err
    code, err = await run(english(settings), *add, "--region", "paris")
    assert err.startswith("parcours: error: region: 'paris' is not a region of Quebec (one of: ")
    # Added once; the second time is a duplicate, in the reader's language.
    assert (await run(settings, *add, "--region", "montreal"))[0] == 0
    code, err = await run(settings, *add, "--region", "montreal")
    assert (code, err) == (
        1,
        f"parcours{NBSP}: erreur{NBSP}: identifiant{NBSP}: l'agent·e mgagne existe déjà\n",
    )
    code, err = await run(english(settings), *add, "--region", "montreal")
    assert err == "parcours: error: id: officer mgagne already exists\n"


async def test_a_token_nobody_made_in_both_languages(settings: Settings) -> None:
    code, err = await run(settings, "tokens", "revoke", "--name", "nobody")
    assert (code, err) == (1, f"parcours{NBSP}: erreur{NBSP}: aucun jeton nommé 'nobody'\n")
    code, err = await run(english(settings), "tokens", "revoke", "--name", "nobody")
    assert (code, err) == (1, "parcours: error: no token named 'nobody'\n")


async def test_a_bad_setting_in_both_languages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARCOURS_PUBLIC_URL", "ftp://x")
    code, err = await run(None, "officers", "list")
    assert (code, err) == (
        1,
        f"parcours{NBSP}: erreur{NBSP}: PARCOURS_PUBLIC_URL='ftp://x'{NBSP}: adresse http(s) "
        "attendue, comme https://hote\n",
    )
    monkeypatch.setenv("PARCOURS_LANGUAGE", "en")
    code, err = await run(None, "officers", "list")
    assert err == (
        "parcours: error: PARCOURS_PUBLIC_URL='ftp://x': expected an http(s) address like "
        "https://host\n"
    )


async def test_an_invalid_port_in_both_languages(settings: Settings) -> None:
    code, err = await run(settings, "web", "--port", "70000")
    assert code == 2
    assert err == (
        f"parcours{NBSP}: erreur{NBSP}: --port{NBSP}: port invalide '70000'{NBSP}: de 1 à 65535 "
        f"(voir «{NBSP}parcours web --help{NBSP}»)\n"
    )
    code, err = await run(english(settings), "web", "--port", "x")
    assert err == (
        "parcours: error: --port: invalid port 'x': expected 1-65535 (see 'parcours web --help')\n"
    )


def test_logs_keep_the_english_line_and_no_email() -> None:
    """The exception's own text is for logs (English, operators); people read the refusal."""
    with pytest.raises(ConfigError) as bad_setting:
        Settings.from_env({"PARCOURS_SMTP_PORT": "0"})
    assert str(bad_setting.value) == "PARCOURS_SMTP_PORT='0': expected a port number 1-65535"
    assert catalog("fr").message(bad_setting.value.refusal) == (  # type: ignore[arg-type]
        f"PARCOURS_SMTP_PORT='0'{NBSP}: numéro de port de 1 à 65535 attendu"
    )
    with pytest.raises(OfficerError) as bad_email:
        validate_officer(NewOfficer("mgagne", "M. Gagné", "m-at-x.ca", "montreal"))
    # An address is personal data: neither the log line nor the refusal repeats it.
    assert "m-at-x.ca" not in str(bad_email.value)
    assert bad_email.value.refusal is not None
    assert "m-at-x.ca" not in str(bad_email.value.refusal)
    assert issubclass(AccountError, ValueError) and issubclass(OfficerError, ValueError)


def test_a_closed_case_is_named_once_on_the_case_page_and_in_the_cli() -> None:
    """Temporal's errors about one case: the English line opens with the dossier; people read
    « dossier D-1 : » before the refusal in the CLI, and the refusal alone where the page
    already names the case."""
    from temporalio.service import RPCError, RPCStatusCode

    from parcours.application.refusals import render
    from parcours.infrastructure.temporal import _rpc_error

    closed = _rpc_error(
        RPCError("workflow execution already completed", RPCStatusCode.NOT_FOUND, b""),
        "D-1",
        Settings(),
    )
    assert str(closed) == "dossier D-1: the case is closed; it takes no more actions"
    assert render(closed, "fr") == (
        f"dossier D-1{NBSP}: le dossier est fermé{NBSP}; il ne prend plus d'actions"
    )
    assert render(closed, "en") == "dossier D-1: the case is closed; it takes no more actions"
    assert render(closed, "fr", prefix="dossier D-1: ") == (
        f"le dossier est fermé{NBSP}; il ne prend plus d'actions"
    )
    missing = _rpc_error(RPCError("not found", RPCStatusCode.NOT_FOUND, b""), "D-2", Settings())
    assert render(missing, "fr") == "aucun dossier D-2"
    assert render(missing, "en") == "no case for dossier D-2"
