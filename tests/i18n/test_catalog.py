"""The catalogue itself: complete in French and English, compiled, and formatting by locale."""

from __future__ import annotations

import io
import re
from datetime import date
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

from parcours.infrastructure.catalog import (
    DOMAIN,
    LOCALE_DIR,
    PLURAL_SUFFIX,
    Catalog,
    MissingMessage,
    language,
)


def _po(lang: str):  # noqa: ANN202 (babel is untyped)
    with open(LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po", "rb") as f:
        return read_po(f, locale=lang)


def _entries(messages) -> set[tuple[object, object]]:  # noqa: ANN001 (babel is untyped)
    """(id, text) of each entry; a plural entry's ids and texts are lists in a .mo."""

    def frozen(value: object) -> object:
        return tuple(value) if isinstance(value, list | tuple) else value

    return {(frozen(m.id), frozen(m.string)) for m in messages if m.id}


def _keys(lang: str) -> set[str]:
    return {m.id if isinstance(m.id, str) else m.id[0] for m in _po(lang) if m.id}


@pytest.mark.parametrize("lang", ["fr", "en", "es"])
def test_each_compiled_catalogue_matches_its_source(lang: str) -> None:
    """The committed .mo is what `make catalogue` makes of the .po: an edited .po that was not
    compiled would silently show the old words."""
    mo_path = LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.mo"
    with open(mo_path, "rb") as f:
        committed = _entries(read_mo(f))
    buffer = io.BytesIO()
    write_mo(buffer, _po(lang))
    buffer.seek(0)
    fresh = _entries(read_mo(buffer))
    assert committed == fresh, f"run `make catalogue`: {mo_path} is older than its .po"


def test_french_and_english_have_the_same_keys_and_every_text() -> None:
    fr, en = _keys("fr"), _keys("en")
    assert fr - en == set(), "keys with no English text"
    assert en - fr == set(), "keys with no French text"
    for lang in ("fr", "en"):
        empty = [
            m.id
            for m in _po(lang)
            if m.id and (not m.string or (isinstance(m.string, tuple) and not all(m.string)))
        ]
        assert empty == [], f"{lang}: keys without text"


def test_a_plural_entry_is_keyed_by_its_singular() -> None:
    for m in _po("fr"):
        if isinstance(m.id, tuple):
            assert m.id[1] == m.id[0] + PLURAL_SUFFIX, m.id


def test_strict_catalogue_refuses_an_unknown_key() -> None:
    with pytest.raises(MissingMessage):
        Catalog("fr", strict=True)("no.such.key")
    assert Catalog("fr")("no.such.key") == "no.such.key"


def test_languages_are_read_from_tags_and_default_to_french() -> None:
    assert language("en-CA") == "en"
    assert language("en_CA.UTF-8") == "en"
    assert language("de") == "fr"
    assert language(None) == "fr"
    assert language("es", allowed=("fr", "en", "es")) == "es"


def test_numbers_and_dates_follow_each_locale() -> None:
    fr, en = Catalog("fr"), Catalog("en")
    assert fr.number(0, digits=1) == "0,0"
    assert en.number(1234.5, digits=1) == "1,234.5"
    assert fr.number(1234.5, digits=1) == "1\u00a0234,5"
    assert fr.long_date(date(2027, 2, 1)) == "1er février 2027"
    assert fr.long_date(date(2027, 1, 15)) == "15 janvier 2027"
    assert en.long_date(date(2027, 1, 15)) == "January 15, 2027"


def test_catalogue_directory_is_shipped() -> None:
    assert Path(LOCALE_DIR, "fr", "LC_MESSAGES", f"{DOMAIN}.mo").is_file()


def test_a_text_equal_to_its_key_is_not_missing() -> None:
    """English "no" is the key "no": found, not reported missing (it was, on every status)."""
    english = Catalog("en", strict=True)
    assert english.has("no") and english("no") == "no"
    assert not english.has("no.such.key")


def test_a_batchs_counts_agree_in_number() -> None:
    """« 1 sur 1 dossier traité », « 1 refusé »: a batch of one case reads right in French (the
    CLI printed « 1 refusés » and the console « 1 sur 1 dossiers traités »)."""
    fr = Catalog("fr")
    assert fr.plural("bulk.counts", 1, handled="1", total="1") == "1 sur 1 dossier traité"
    assert fr.plural("bulk.counts", 3, handled="2", total="3") == "2 sur 3 dossiers traités"
    assert fr.plural("bulk.count.refused", 1) == "1 refusé"
    assert fr.plural("cli.batch.cases", 4) == "4 dossiers"
    assert Catalog("en").plural("bulk.counts", 1, handled="0", total="1") == "0 of 1 case handled"


def test_french_puts_a_no_break_space_before_a_colon() -> None:
    """French typography: « région inconnue : x », the space before the colon unbreakable, so
    that a line never starts with « : » (the console and the CLI wrap)."""
    plain = []
    for m in _po("fr"):
        texts = m.string if isinstance(m.string, tuple | list) else (m.string,)
        plain += [m.id for t in texts if t and re.search(r"\S :", t)]
    assert plain == []
