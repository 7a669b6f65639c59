"""The visa approval a case opens on, described once.

One table of fields serves every way an approval arrives: `parcours start` (flags),
`parcours import` (a CSV header or JSONL keys), the operators' API (its JSON body and its
OpenAPI schema) and the `register_case` activity, which checks again what reaches it. A field
added here appears in all of them; a check changed here changes in all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from parcours.kernel import inputs
from parcours.kernel.domain import DOSSIER_RE, REGIONS, NewcomerApproval
from parcours.kernel.errors import ParcoursError
from parcours.kernel.rules import MAX_TEXT
from parcours.kernel.timezones import ZONES

# Why a field was refused, when the check itself has no sentence to say.
MISSING = "missing"
UNKNOWN = "unknown field"


@dataclass(frozen=True)
class ApprovalField:
    name: str
    description: str
    check: Callable[[Any], Any]
    # JSON types accepted (strings are accepted for numbers and flags too, as in a CSV file).
    types: tuple[type, ...] = (str,)
    required: bool = False
    default: object = None
    schema: Mapping[str, object] = field(default_factory=dict)


def _text(name: str) -> Callable[[str], str]:
    return lambda value: inputs.text(value, name)


FIELDS: tuple[ApprovalField, ...] = (
    ApprovalField(
        "dossier",
        "dossier number, the case's only key",
        inputs.dossier,
        required=True,
        schema={"pattern": DOSSIER_RE.pattern, "maxLength": 64},
    ),
    ApprovalField(
        "name", "the newcomer's full name", inputs.name, required=True, schema={"maxLength": 200}
    ),
    ApprovalField("email", "the newcomer's email address", inputs.email, required=True),
    ApprovalField(
        "arrival",
        "expected arrival date, YYYY-MM-DD",
        inputs.iso_date,
        required=True,
        schema={"format": "date"},
    ),
    ApprovalField(
        "region",
        "destination region slug",
        inputs.region,
        required=True,
        schema={"enum": list(REGIONS)},
    ),
    ApprovalField("language", "preferred language, ISO 639-1", inputs.language, default="fr"),
    ApprovalField("airport", "arrival airport, IATA code", inputs.airport, default="YUL"),
    ApprovalField(
        "french_level",
        "French level on the Quebec scale, 1-12",
        inputs.french_level,
        types=(int, str),
        schema={"minimum": 1, "maximum": 12},
    ),
    ApprovalField(
        "occupation", "occupation, free text", _text("occupation"), schema={"maxLength": MAX_TEXT}
    ),
    ApprovalField(
        "regulated",
        "the occupation is regulated",
        lambda value: inputs.flag(value, "regulated"),
        types=(bool, str),
        default=False,
    ),
    ApprovalField(
        "household",
        "household size",
        inputs.household,
        types=(int, str),
        default=1,
        schema={"minimum": 1, "maximum": 99},
    ),
    ApprovalField("phone", "phone number", inputs.phone),
    ApprovalField(
        "time_zone",
        "the case's time zone when its region's is wrong for it (America/Halifax for the "
        "Magdalen Islands); default: the region's",
        inputs.time_zone,
        schema={"enum": list(ZONES)},
    ),
)
BY_NAME: dict[str, ApprovalField] = {f.name: f for f in FIELDS}
# The field names of `parcours start` (and the header of an import file), in order.
START_FIELDS: tuple[str, ...] = tuple(f.name for f in FIELDS)
REQUIRED_START_FIELDS: tuple[str, ...] = tuple(f.name for f in FIELDS if f.required)


def _json_type(t: type) -> str:
    return {bool: "boolean", int: "integer", str: "string"}[t]


def json_schema() -> dict[str, object]:
    """The JSON schema of one approval (the API's OpenAPI request body is built on it)."""
    properties: dict[str, object] = {}
    for f in FIELDS:
        types = [_json_type(t) for t in f.types]
        prop: dict[str, object] = {"description": f.description, **f.schema}
        prop["type"] = types[0] if len(types) == 1 else types
        if f.default is not None:
            prop["default"] = f.default
        properties[f.name] = prop
    return {
        "title": "VisaApproval",
        "type": "object",
        "properties": properties,
        "required": list(REQUIRED_START_FIELDS),
        "additionalProperties": False,
    }


@dataclass
class Checked:
    """An approval, or why its fields were refused (every field, not only the first)."""

    approval: NewcomerApproval | None
    errors: dict[str, str]


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def check(item: object) -> Checked:
    """Check every field of an approval given as a mapping (flags, a CSV row, JSON)."""
    if not isinstance(item, Mapping):
        return Checked(None, {"_item": "expected a JSON object"})
    errors: dict[str, str] = {}
    for key in item:
        if key not in BY_NAME:
            errors[str(key)[:64]] = UNKNOWN
    values: dict[str, object] = {}
    for f in FIELDS:
        raw = item.get(f.name)
        if _blank(raw):
            if f.required:
                errors[f.name] = MISSING
            continue
        if not isinstance(raw, f.types) or (isinstance(raw, bool) and bool not in f.types):
            errors[f.name] = f"expected {' or '.join(_json_type(t) for t in f.types)}"
            continue
        if isinstance(raw, int) and not isinstance(raw, bool):
            raw = str(raw)  # checked as in a CSV file, and quoted alike in a refusal
        try:
            if isinstance(raw, str):
                raw = inputs.printable(raw, f.name).strip()
            values[f.name] = f.check(raw)
        except ParcoursError as err:
            errors[f.name] = str(err)
    if errors:
        return Checked(None, errors)

    def value(name: str) -> Any:
        return values.get(name, BY_NAME[name].default)

    return Checked(
        NewcomerApproval(
            dossier=value("dossier"),
            full_name=value("name"),
            email=value("email"),
            arrival_date=value("arrival"),
            region=value("region"),
            phone=value("phone"),
            language=value("language"),
            airport=value("airport"),
            french_level=value("french_level"),
            occupation=value("occupation"),
            regulated_profession=value("regulated"),
            household_size=value("household"),
            time_zone=value("time_zone"),
        ),
        {},
    )


def first_error(errors: Mapping[str, str]) -> str:
    """One sentence for the first refused field, as the CLI prints it."""
    key, why = next(iter(errors.items()))
    if why == UNKNOWN:
        return f"unknown field {inputs.shown(key)} (expected: {', '.join(START_FIELDS)})"
    if why == MISSING:
        return f"missing {key}"
    if why.startswith("expected "):
        return f"invalid {key}: {why}"
    return why


def approval(fields: Mapping[str, object]) -> NewcomerApproval:
    """The approval, or `InvalidInput` naming the first refused field."""
    checked = check(fields)
    if checked.approval is None:
        raise inputs.InvalidInput(first_error(checked.errors))
    return checked.approval


def as_fields(approval: NewcomerApproval) -> dict[str, object]:
    """An approval back as its fields (what `check` takes)."""
    return {
        "dossier": approval.dossier,
        "name": approval.full_name,
        "email": approval.email,
        "arrival": approval.arrival_date,
        "region": approval.region,
        "language": approval.language,
        "airport": approval.airport,
        "french_level": approval.french_level,
        "occupation": approval.occupation,
        "regulated": approval.regulated_profession,
        "household": approval.household_size,
        "phone": approval.phone,
        "time_zone": approval.time_zone,
    }


def problems(approval: NewcomerApproval) -> dict[str, str]:
    """What is wrong with an approval that reached us already built (the activity's check:
    a client that bypassed our interfaces may hand the workflow anything)."""
    return check(as_fields(approval)).errors
