"""Plausible input and refusals as codes, in the kernel (fast: no server, no database).

Each check raises `InvalidInput` carrying a `Message` and its field; every code any check or
rule can raise has its words in French and English."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from parcours.application.intake import check_item, refuse_repeats
from parcours.application.refusals import message_of, render
from parcours.infrastructure.catalog import catalog
from parcours.infrastructure.config import Settings
from parcours.kernel import airports, approval, authz, inputs, rules
from parcours.kernel.domain import DOSSIER_RE, STILL_OPENING
from parcours.kernel.errors import UpdateRejected
from parcours.kernel.inputs import ArrivalWindow, InvalidInput
from parcours.kernel.messages import Message

ROOT = Path(__file__).resolve().parents[2]
TODAY = date(2026, 12, 3)
WINDOW = ArrivalWindow(TODAY)


def refused(call: object, *args: object) -> InvalidInput:
    assert callable(call)
    with pytest.raises(InvalidInput) as info:
        call(*args)
    return info.value


def good(**fields: object) -> dict[str, object]:
    return {
        "dossier": "D-2026-0002",
        "name": "Amina Diallo",
        "email": "amina@example.org",
        "arrival": (TODAY + timedelta(days=20)).isoformat(),
        "region": "montreal",
        **fields,
    }


# --------------------------------------------------------------------------------------------
# Arrival window
# --------------------------------------------------------------------------------------------


@given(
    st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 1, 1)),
    st.integers(-2000, 2000),
    st.integers(0, 1000),
    st.integers(0, 1000),
)
def test_an_arrival_is_accepted_exactly_within_the_window(
    today: date, offset: int, back: int, ahead: int
) -> None:
    window = ArrivalWindow(today, back, ahead)
    day = today + timedelta(days=offset)
    if -back <= offset <= ahead:
        assert inputs.arrival(day.isoformat(), window) == day.isoformat()
    else:
        err = refused(inputs.arrival, day.isoformat(), window)
        assert err.field == "arrival"
        assert err.refusal is not None
        assert err.refusal.code == ("arrival_too_early" if offset < 0 else "arrival_too_late")


def test_the_default_window_is_a_year_back_and_two_years_ahead() -> None:
    assert (WINDOW.earliest, WINDOW.latest) == (date(2025, 12, 3), date(2028, 12, 2))
    for typo in ("1999-01-15", "2099-01-15"):
        assert approval.check(good(arrival=typo), WINDOW).errors["arrival"].code in (
            "arrival_too_early",
            "arrival_too_late",
        )
    # The knobs move the bounds.
    wider = Settings.from_env({"PARCOURS_ARRIVAL_DAYS_AHEAD": "30000"}).arrival_window(TODAY)
    assert approval.check(good(arrival="2099-01-15"), wider).approval is not None


# --------------------------------------------------------------------------------------------
# Airports, emails, free text
# --------------------------------------------------------------------------------------------


@given(st.sampled_from(sorted(airports.AIRPORTS)), st.sampled_from(["", " ", "\t"]))
def test_known_airports_are_accepted_in_any_case(code: str, pad: str) -> None:
    assert inputs.airport(pad + code.lower() + pad) == code


@given(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=3, max_size=3))
def test_an_unknown_airport_is_refused_by_its_code(code: str) -> None:
    if code in airports.AIRPORTS:
        return
    err = refused(inputs.airport, code)
    assert err.refusal == Message.of("unknown_airport", value=repr(code))
    assert "XXX" in catalog("fr").message(refused(inputs.airport, "xxx").refusal)  # type: ignore[arg-type]


def test_airports_have_their_french_names() -> None:
    assert airports.french_name("yul") == "Montréal–Trudeau"
    assert airports.french_name("YGR") == "Îles-de-la-Madeleine"
    assert airports.french_name("ZZZ") == "ZZZ"  # a code no longer listed prints as it is
    assert {"YUL", "YQB", "YOW", "YYZ", "YHZ", "YVR", "YYC", "YEG", "YWG"} <= set(airports.AIRPORTS)


def test_email_addresses_follow_the_rfcs_lengths_included() -> None:
    assert inputs.email(" Amina@Example.ORG ") == "Amina@example.org"
    assert inputs.email("x.y+z@mail.example.ca") == "x.y+z@mail.example.ca"
    too_long = "a" * 300 + "@example.org"
    assert refused(inputs.email, too_long).refusal == Message.of("email_too_long", max=254)
    # A local part over 64 characters, the whole under 254.
    assert refused(inputs.email, "a" * 65 + "@example.org").refusal == Message.of("invalid_email")
    for bad in ("not-an-email", "a@b", "a b@example.org", "a@example.test", "a@@example.org"):
        err = refused(inputs.email, bad)
        assert err.refusal == Message.of("invalid_email") and err.field == "email"
        # The address is personal data: never in the message's parameters.
        assert bad not in str(err)


_CONTROL = st.characters(min_codepoint=0, max_codepoint=0x9F).filter(
    lambda c: not c.isprintable() and c not in "\t\n\r"
)
_ANSI = st.sampled_from(["\x1b[31m", "\x1b[0m", "\x1b[1;32;40m", "\x1b]0;title\x07", "\x1bc"])


@given(st.lists(st.one_of(st.text(max_size=8), _CONTROL, _ANSI), max_size=12))
def test_clean_text_keeps_no_control_character_but_line_breaks_and_tabs(
    parts: list[str],
) -> None:
    cleaned = inputs.clean("".join(parts))
    # No control character (Cc) but tab and line feed, no lone surrogate (Cs).
    assert all(unicodedata.category(c) not in ("Cc", "Cs") or c in "\t\n" for c in cleaned), repr(
        cleaned
    )
    assert "\x1b" not in cleaned and "\r" not in cleaned
    assert inputs.clean(cleaned) == cleaned


def test_escape_sequences_are_stripped_whole_and_line_breaks_kept() -> None:
    note = "Appel\x1b[31m urgent\x1b[0m\r\nrappeler\tlundi\x00\x07"
    assert inputs.text(note, "note") == "Appel urgent\nrappeler\tlundi"
    a = approval.check(good(name="Amina\x1b[31m Diallo\x00", occupation="infirmière\x7f"), WINDOW)
    assert a.approval is not None
    assert (a.approval.full_name, a.approval.occupation) == ("Amina Diallo", "infirmière")
    # A coded field still refuses them (a dossier is not free text).
    err = approval.check(good(dossier="D-1\x1b[31m"), WINDOW).errors["dossier"]
    assert err.code == "control_character"


# --------------------------------------------------------------------------------------------
# Dossiers and officer ids
# --------------------------------------------------------------------------------------------

_DOSSIERS = st.from_regex(DOSSIER_RE, fullmatch=True)


@given(_DOSSIERS, st.sampled_from(["", " ", "  \t"]))
def test_a_dossier_is_one_case_however_it_is_typed(typed: str, pad: str) -> None:
    normal = inputs.dossier(typed)
    assert normal == typed.upper()
    assert inputs.dossier(pad + typed.lower() + pad) == normal
    assert inputs.dossier(pad + typed.swapcase() + pad) == normal


def test_dossiers_are_normalised_at_intake() -> None:
    assert inputs.dossier(" d-2026-0002 ") == "D-2026-0002"
    # The approval (CLI start, import, API, the activity's checks share it).
    checked = approval.check(good(dossier=" d-2026-0002"), WINDOW)
    assert checked.approval is not None and checked.approval.dossier == "D-2026-0002"
    # Within one batch, the two spellings are one dossier.
    items = [check_item(0, good(dossier="D-2026-0002"), WINDOW)]
    items.append(check_item(1, good(dossier="d-2026-0002"), WINDOW))
    refuse_repeats(items, "item")
    assert [i.result for i in items] == ["pending", "rejected"]
    assert items[1].errors["dossier"] == Message.of("dossier_repeats_item", first=0)
    # An approval built by another client with a lower-case dossier: the activity refuses it.
    assert checked.approval is not None
    lower = approval.problems(replace(checked.approval, dossier="d-2026-0002"), WINDOW)
    assert lower["dossier"].code == "dossier_not_normalised"
    assert approval.problems(checked.approval, WINDOW) == {}


@given(st.from_regex(r"[a-z0-9][a-z0-9_.-]{0,20}", fullmatch=True))
def test_officer_ids_match_whatever_their_case(officer: str) -> None:
    assert inputs.officer_id(officer.upper()) == officer
    assert inputs.officer_filter(" " + officer.upper()) == officer


# --------------------------------------------------------------------------------------------
# Refusals as codes
# --------------------------------------------------------------------------------------------

_RAISED = re.compile(
    r"""(?:Rejected\.of|invalid|Message\.of|refusal)\(\s*(?:f?["'])([a-z_]+)["']"""
)


def codes_in_sources() -> set[str]:
    found: set[str] = set(authz.CODES) | {STILL_OPENING}
    for path in [
        *(ROOT / "parcours" / "kernel").glob("*.py"),
        *(ROOT / "parcours" / "application").glob("*.py"),
        *(ROOT / "parcours" / "interfaces" / "web").glob("*.py"),
        *(ROOT / "parcours" / "interfaces" / "cli").glob("*.py"),
        *(ROOT / "parcours" / "infrastructure").glob("*.py"),
        # The workflows' and activities' refusals reach people too (a batch's rows).
        *(ROOT / "workflows").glob("*.py"),
        *(ROOT / "activities").glob("*.py"),
    ]:
        found |= set(_RAISED.findall(path.read_text(encoding="utf-8")))
    return found


def test_every_refusal_code_has_french_and_english_words() -> None:
    codes = codes_in_sources()
    assert {"plan_required", "wrong_stage", "case_closed", "unknown_airport"} <= codes
    assert {"batch_actor_changed", "batch_no_target", "case_completed"} <= codes
    # `dossier_repeats_{what}`: both forms.
    codes |= {"dossier_repeats_item", "dossier_repeats_row"}
    codes.discard("dossier_repeats_")
    for lang in ("fr", "en"):
        words = catalog(lang)
        missing = sorted(c for c in codes if not words.has(f"refusal.{c}"))
        assert missing == [], (lang, missing)


def test_stage_and_status_parameters_are_worded_in_the_readers_language() -> None:
    wrong = Message.of("wrong_stage", current="stage.arrival", asked="stage.employment")
    assert catalog("fr").message(wrong) == (
        f"impossible d'approuver l'étape «\u00a0{catalog('fr')('stage.employment')}\u00a0»"
        f"\u00a0: le dossier est à l'étape «\u00a0{catalog('fr')('stage.arrival')}\u00a0»"
    )
    assert catalog("en").message(wrong) == (
        'cannot approve stage "Employment": the case is in stage "Arrival"'
    )
    closed = Message.of("case_closed", status="status.withdrawn")
    assert "status.withdrawn" not in catalog("fr").message(closed)


def test_message_of_reads_every_shape_a_refusal_arrives_in() -> None:
    plan = Message.of("plan_required")
    # The kernel's own.
    assert message_of(rules.Rejected(plan)) == plan
    assert message_of(inputs.invalid("unknown_airport", "airport", value="'XXX'")) == Message.of(
        "unknown_airport", value="'XXX'"
    )
    # The workflow's, as the client raises it.
    failure = ApplicationError("plan_required", plan.as_dict(), type="Rejected")
    assert message_of(failure) == plan
    assert message_of(WorkflowUpdateFailedError(failure)) == plan
    # As update_case raises it.
    assert message_of(UpdateRejected("dossier D-1: plan_required", refusal=plan)) == plan
    # Anything else: no refusal.
    assert message_of(ApplicationError("boom", type="Other")) is None
    assert message_of(ValueError("x")) is None
    assert message_of(UpdateRejected("dossier D-1: no worker")) is None


def test_render_words_a_refusal_and_keeps_what_precedes_its_code() -> None:
    # As update_case raises it: the case it is about travels beside the refusal, not in its text.
    err = UpdateRejected(
        "dossier D-1: plan_required", dossier="D-1", refusal=Message.of("plan_required")
    )
    assert render(err, "en") == (
        "dossier D-1: arrival cannot be approved until an action plan is on file"
    )
    assert render(err, "fr", prefix="dossier D-1: ").startswith("l'accueil ne peut pas")
    assert render(ValueError("plain text"), "fr") == "plain text"


def test_the_cli_language_knob() -> None:
    assert Settings.from_env({}).language == "fr"
    assert Settings.from_env({"PARCOURS_LANGUAGE": "EN"}).language == "en"
    with pytest.raises(Exception, match="PARCOURS_LANGUAGE"):
        Settings.from_env({"PARCOURS_LANGUAGE": "de"})
