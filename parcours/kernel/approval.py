"""The visa approval a case opens on, described once.

One table of fields serves every way an approval arrives: `parcours start` (flags),
`parcours import` (a CSV header or JSONL keys), the operators' API (its JSON body and its
OpenAPI schema) and the `register_case` activity, which checks again what reaches it. A field
added here appears in all of them; a check changed here changes in all of them.

A refused field is a `Message` (code and parameters); each interface words it in its reader's
language. The arrival date is checked against an `ArrivalWindow` the caller gives (its "today"
and the configured bounds), so no check here reads a clock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from parcours.kernel import inputs
from parcours.kernel.airports import AIRPORTS
from parcours.kernel.domain import DOSSIER_RE, REGIONS, NewcomerApproval
from parcours.kernel.errors import ParcoursError
from parcours.kernel.inputs import ArrivalWindow, InvalidInput
from parcours.kernel.messages import Message
from parcours.kernel.rules import MAX_TEXT
from parcours.kernel.timezones import ZONES

# Free-text fields: control characters and terminal escapes are stripped from them (a name
# pasted from a terminal); in every other field they are refused.
FREE_TEXT = frozenset({"name", "occupation"})
# The field of an error about the item as a whole (not an object at all).
ITEM = "_item"


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
        "expected arrival date, YYYY-MM-DD, from a year back to two years ahead (configurable)",
        inputs.iso_date,  # and the window, in `check`
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
    ApprovalField(
        "airport",
        "arrival airport, IATA code of a Quebec or Canadian international airport",
        inputs.airport,
        default="YUL",
        schema={"enum": sorted(AIRPORTS)},
    ),
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
    errors: dict[str, Message]


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def check(item: object, window: ArrivalWindow) -> Checked:
    """Check every field of an approval given as a mapping (flags, a CSV row, JSON); the
    arrival date must fall in `window`."""
    if not isinstance(item, Mapping):
        return Checked(None, {ITEM: Message.of("not_an_approval")})
    errors: dict[str, Message] = {}
    for key in item:
        if key not in BY_NAME:
            errors[str(key)[:64]] = Message.of(
                "unknown_field", field=inputs.shown(key), expected=", ".join(START_FIELDS)
            )
    values: dict[str, object] = {}
    for f in FIELDS:
        raw = item.get(f.name)
        if _blank(raw):
            if f.required:
                errors[f.name] = Message.of("missing_field", field=inputs.field_key(f.name))
            continue
        if not isinstance(raw, f.types) or (isinstance(raw, bool) and bool not in f.types):
            errors[f.name] = Message.of(
                "wrong_type",
                field=inputs.field_key(f.name),
                expected=" | ".join(_json_type(t) for t in f.types),
            )
            continue
        if isinstance(raw, int) and not isinstance(raw, bool):
            raw = str(raw)  # checked as in a CSV file, and quoted alike in a refusal
        try:
            if isinstance(raw, str):
                raw = (
                    inputs.clean(raw) if f.name in FREE_TEXT else inputs.printable(raw, f.name)
                ).strip()
            values[f.name] = (
                inputs.arrival(str(raw), window) if f.name == "arrival" else f.check(raw)
            )
        except ParcoursError as err:
            errors[f.name] = err.refusal or Message.of("invalid_field", field=f.name)
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


def first_error(errors: Mapping[str, Message]) -> InvalidInput:
    """The first refused field, as the CLI reports it (one line)."""
    key, why = next(iter(errors.items()))
    return InvalidInput(why, key)


def approval(fields: Mapping[str, object], window: ArrivalWindow) -> NewcomerApproval:
    """The approval, or `InvalidInput` naming the first refused field."""
    checked = check(fields, window)
    if checked.approval is None:
        raise first_error(checked.errors)
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


def problems(approval: NewcomerApproval, window: ArrivalWindow) -> dict[str, Message]:
    """What is wrong with an approval that reached us already built (the activity's check:
    a client that bypassed our interfaces may hand the workflow anything)."""
    checked = check(as_fields(approval), window)
    if checked.approval is not None and checked.approval.dossier != approval.dossier:
        # Our interfaces normalise it; another client's "d-1" would be a second case of D-1.
        return {"dossier": Message.of("dossier_not_normalised", value=approval.dossier)}
    return checked.errors
