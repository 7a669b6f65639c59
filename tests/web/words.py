"""What a person reads on a console page, and the check that it all comes from the catalogue
in the page's language: no catalogue key shown raw, no English-only sentence on a French page,
no machine text ("template=welcome", "revision 1, 3 items")."""

from __future__ import annotations

import re
from functools import cache
from html.parser import HTMLParser

from babel.messages.pofile import read_po

from parcours.infrastructure.catalog import DOMAIN, LOCALE_DIR

# Attributes a person reads (or hears, with a screen reader).
READ_ATTRIBUTES = ("title", "aria-label", "alt", "placeholder", "data-label")
KEY_LIKE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_#]+)+$")
MACHINE = re.compile(r"\b\w+=\S|\brevision \d|\b\d+ items\b|\bemail_[a-z_]+\b|->")


def _po(lang: str) -> dict[str, tuple[str, ...]]:
    with open(LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po", "rb") as f:
        catalogue = read_po(f, locale=lang)
    out: dict[str, tuple[str, ...]] = {}
    for m in catalogue:
        if m.id:
            key = m.id if isinstance(m.id, str) else m.id[0]
            forms = m.string if isinstance(m.string, list | tuple) else [m.string]
            out[key] = tuple(str(f) for f in forms)
    return out


@cache
def keys() -> frozenset[str]:
    return frozenset(_po("fr")) | frozenset(_po("en"))


@cache
def english_only() -> frozenset[str]:
    """English texts (their fixed part, before any "{field}") that French never uses."""
    fr_texts = {text for texts in _po("fr").values() for text in texts}
    found: set[str] = set()
    for texts in _po("en").values():
        for text in texts:
            fixed = text.split("{", 1)[0].strip(" :(")
            # Words of at least five letters: "Email", "Note" or "Actions" are French too.
            long_enough = len(re.sub(r"[^A-Za-z]", "", fixed)) >= 5
            if long_enough and text not in fr_texts and not any(fixed in f for f in fr_texts):
                found.add(fixed)
    return frozenset(found)


class _Texts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "code"):
            self._skip += 1
        for name, value in attrs:
            if name in READ_ATTRIBUTES and value:
                self.texts.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "code") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            self.texts.append(" ".join(data.split()))


def texts_of(html: str) -> list[str]:
    """The text nodes and read attributes of a page, outside scripts, styles and code."""
    parser = _Texts()
    parser.feed(html)
    return parser.texts


def foreign_words(texts: list[str], lang: str = "fr") -> list[str]:
    """The texts a French page should not show: a raw key, English-only words, machine text."""
    bad: list[str] = []
    for text in texts:
        if KEY_LIKE.match(text) or text in keys():
            bad.append(f"raw key: {text!r}")
        elif MACHINE.search(text):
            bad.append(f"machine text: {text!r}")
        elif lang == "fr":
            bad.extend(f"English: {text!r}" for e in english_only() if e in text)
    return bad
