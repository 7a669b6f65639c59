"""Hypothesis strategies for visa approvals: good ones (with the names real people have, and
the markup and injection attempts a hostile file may carry, which are still good names), and
junk ones, each with the field it breaks."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date, timedelta

from hypothesis import strategies as st

from parcours.kernel.domain import REGIONS

_serial = itertools.count()

# Names that must be accepted as they are, and shown escaped everywhere.
HOSTILE_NAMES = [
    "<script>alert('x')</script>",
    '"><img src=x onerror=alert(1)>',
    "{{ 7*7 }} {% raw %}",
    "Robert'); DROP TABLE cases;--",
    '=HYPERLINK("http://evil")',
    "Zoë O'Brien-Nguyễn",
    "محمد الأحمد",
    "王小明",
    "Ólafur Þór",
]

_letters = st.characters(
    categories=("Lu", "Ll", "Lo", "Mn", "Nd", "Zs", "Pd", "Po", "Sm"),
    exclude_characters="\u2028\u2029",
)
good_names = st.one_of(
    st.sampled_from(HOSTILE_NAMES),
    st.text(_letters, min_size=1, max_size=80).filter(lambda s: s.strip() != ""),
)


@dataclass
class Approval:
    fields: dict[str, object]
    good: bool
    breaks: str = ""  # the field a junk approval gets wrong

    @property
    def dossier(self) -> str:
        return str(self.fields.get("dossier", ""))


def new_dossier() -> str:
    """Unique across examples: a case started by one example must not answer another's."""
    return f"HX-{next(_serial):06d}"


@st.composite
def good_approvals(draw: st.DrawFn) -> Approval:
    fields: dict[str, object] = {
        "dossier": new_dossier(),
        "name": draw(good_names),
        "email": draw(st.sampled_from(["a@example.org", "x.y+z@mail.example.ca"])),
        # Ahead of today and inside the default arrival window (up to 730 days), whatever
        # day the suite runs: these rows go through a real `parcours dev` too.
        "arrival": (_today() + timedelta(days=draw(st.integers(1, 700)))).isoformat(),
        "region": draw(st.sampled_from(REGIONS)),
    }
    if draw(st.booleans()):
        fields["occupation"] = draw(st.sampled_from(HOSTILE_NAMES + ["infirmière", "soudeur"]))
    if draw(st.booleans()):
        fields["french_level"] = draw(st.integers(1, 12))
    if fields["region"] == "gaspesie-iles-de-la-madeleine" and draw(st.booleans()):
        fields["time_zone"] = "America/Halifax"  # the Magdalen Islands
    return Approval(fields, good=True)


def _today() -> date:
    return date.today()


# (field, bad value): each makes an otherwise good approval a rejected one. (Control characters
# in a name or an occupation are stripped, not refused: tests/properties/test_inputs.py.)
_JUNK: list[tuple[str, object]] = [
    ("email", "not-an-email"),
    ("email", "a\x00b@example.org"),
    ("email", ""),
    ("arrival", "2030-02-30"),
    ("arrival", "15/01/2030"),
    ("arrival", "٢٠٣٠-٠١-١٥"),
    ("region", "mars"),
    ("region", "<b>montreal</b>"),
    ("name", "x" * 1_000_000),
    ("name", "   "),
    ("occupation", "y" * 5000),
    ("french_level", "13"),
    ("french_level", "beaucoup"),
    ("household", "0"),
    ("phone", "call me"),
    ("language", "français"),
    ("airport", "MONTREAL"),
    ("time_zone", "Europe/Paris"),
    ("time_zone", "EST"),
    ("airport", "XXX"),
    ("email", "a" * 300 + "@example.org"),
    ("arrival", "1999-01-01"),
    ("arrival", "2099-01-01"),
    ("dossier", "../../etc/passwd"),
    ("dossier", "D" * 65),
]


@st.composite
def junk_approvals(draw: st.DrawFn, junk: list[tuple[str, object]] = _JUNK) -> Approval:
    """A good approval with one field made bad (from `junk`: (field, bad value) pairs)."""
    base = draw(good_approvals())
    field, value = draw(st.sampled_from(junk))
    fields = dict(base.fields)
    fields[field] = value
    return Approval(fields, good=False, breaks=field)


approvals = st.one_of(good_approvals(), junk_approvals())
