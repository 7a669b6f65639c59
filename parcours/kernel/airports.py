"""The airports a newcomer to Quebec lands at, by IATA code, with the names people read.

A short, closed list rather than any three letters: a code outside it is a typing mistake
(`XXX`, `YUK`) that would otherwise reach the welcome email as « à l'aéroport XXX ». Quebec's
airports with scheduled flights, and Canada's international airports a newcomer may enter by
before travelling on. Adding one is adding a line here.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

# IATA code -> the airport's French name, as the emails print it.
AIRPORTS: Mapping[str, str] = MappingProxyType(
    {
        "YUL": "Montréal–Trudeau",
        "YQB": "Québec–Jean-Lesage",
        "YOW": "Ottawa–Macdonald-Cartier",
        "YYZ": "Toronto–Pearson",
        "YHZ": "Halifax–Stanfield",
        "YVR": "Vancouver",
        "YYC": "Calgary",
        "YEG": "Edmonton",
        "YWG": "Winnipeg–Richardson",
        "YBG": "Bagotville",
        "YZV": "Sept-Îles",
        "YGP": "Gaspé",
        "YGR": "Îles-de-la-Madeleine",
        "YVO": "Val-d'Or",
        "YRJ": "Roberval",
        "YUY": "Rouyn-Noranda",
    }
)
DEFAULT_AIRPORT = "YUL"


def known(code: str) -> bool:
    return code in AIRPORTS


def french_name(code: str) -> str:
    """The airport's name for an email (« à l'aéroport Montréal–Trudeau (YUL) »); the code
    itself for one no longer on the list (a case opened before it was shortened)."""
    return AIRPORTS.get(code.strip().upper(), code)
