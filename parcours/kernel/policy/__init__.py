"""Pathway policy: per-stage deadlines and escalation thresholds, read from TOML.

A policy file is checked whole before anything uses it; the first problem found is reported
with the key that holds it (``francization.remind_after: ...``).
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path

from parcours.kernel.domain import STAGES, PolicySnapshot, StagePolicy

DEFAULT_POLICY_PATH = Path(__file__).with_name("default.toml")

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION_RE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_CLOCKS = ("deadline", "remind_after", "escalate_after", "escalate_again_after")


class PolicyError(ValueError):
    """A policy file that cannot be used; the message names the file and the key."""


def parse_duration(text: str) -> int:
    """'90s', '45m', '36h', '14d', '2w' -> seconds."""
    m = _DURATION_RE.match(text) if isinstance(text, str) else None
    if not m:
        raise ValueError(
            f"{text!r} is not a duration: use a whole number and a unit s, m, h, d or w "
            "(e.g. 90s, 45m, 36h, 14d, 2w)"
        )
    seconds = int(m.group(1)) * _UNITS[m.group(2)]
    if seconds <= 0:
        raise ValueError(f"{text!r} must be longer than zero")
    return seconds


def format_duration(seconds: int) -> str:
    for unit in ("w", "d", "h", "m"):
        if seconds % _UNITS[unit] == 0:
            return f"{seconds // _UNITS[unit]}{unit}"
    return f"{seconds}s"


def policy_from_mapping(data: dict[str, object], source: str = "policy") -> PolicySnapshot:
    stages: dict[str, StagePolicy] = {}
    known = {s.value for s in STAGES} | {"name", "target_caseload"}
    for key in data:
        if key not in known:
            raise PolicyError(
                f"{source}: unknown key {key!r} (expected {', '.join(sorted(known))})"
            )
    plan_due = 5
    for stage in STAGES:
        table = data.get(stage.value)
        if not isinstance(table, dict):
            raise PolicyError(f"{source}: missing table [{stage.value}]")
        allowed = set(_CLOCKS) | ({"plan_due_working_days"} if stage.value == "arrival" else set())
        for key in table:
            if key not in allowed:
                raise PolicyError(f"{source}: unknown key {stage.value}.{key}")
        values: dict[str, int] = {}
        for clock in _CLOCKS:
            if clock not in table:
                raise PolicyError(f"{source}: missing key {stage.value}.{clock}")
            try:
                values[clock] = parse_duration(table[clock])
            except ValueError as err:
                raise PolicyError(f"{source}: {stage.value}.{clock}: {err}") from None
        if not values["remind_after"] < values["escalate_after"] < values["escalate_again_after"]:
            raise PolicyError(
                f"{source}: {stage.value}.escalate_after must be longer than remind_after, and "
                "escalate_again_after longer than escalate_after"
            )
        if stage.value == "arrival" and "plan_due_working_days" in table:
            raw = table["plan_due_working_days"]
            if not isinstance(raw, int) or isinstance(raw, bool) or not 1 <= raw <= 60:
                raise PolicyError(
                    f"{source}: arrival.plan_due_working_days must be a whole number from 1 to 60"
                )
            plan_due = raw
        stages[stage.value] = StagePolicy(**values)
    target_caseload_of(data, source)  # checked with the rest; the forecast reads it
    name = data.get("name", Path(source).stem)
    if not isinstance(name, str) or not name:
        raise PolicyError(f"{source}: name must be a non-empty string")
    return PolicySnapshot(name=name, plan_due_working_days=plan_due, **stages)


# Open cases per officer that the programme considers workable, when the policy file says
# nothing: the capacity forecast's line (issue 18). An assumption to replace with the
# programme's own figure, not a measured one.
DEFAULT_TARGET_CASELOAD = 60


def target_caseload_of(data: Mapping[str, object], source: str = "policy") -> int:
    """The policy's `target_caseload` (a whole number from 1 to 10,000), else the default."""
    raw = data.get("target_caseload", DEFAULT_TARGET_CASELOAD)
    if not isinstance(raw, int) or isinstance(raw, bool) or not 1 <= raw <= 10_000:
        raise PolicyError(f"{source}: target_caseload must be a whole number from 1 to 10000")
    return raw


def load_target_caseload(path: str | os.PathLike[str] | None = None) -> int:
    """`target_caseload` of the policy file at `path` (else the default policy's)."""
    chosen = Path(path or DEFAULT_POLICY_PATH)
    load_policy(chosen)  # the whole file is checked before any of it is used
    return target_caseload_of(tomllib.loads(chosen.read_text(encoding="utf-8")), str(chosen))


def load_policy(path: str | os.PathLike[str] | None = None) -> PolicySnapshot:
    """Load the policy at `path`, else the default shipped here. (The kernel reads no
    environment: callers pass `Settings.policy_path`, which is $PARCOURS_POLICY.)"""
    chosen = Path(path or DEFAULT_POLICY_PATH)
    try:
        raw = chosen.read_bytes()
    except OSError as err:
        raise PolicyError(f"{chosen}: cannot read policy file ({err.strerror})") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise PolicyError(f"{chosen}: not valid TOML ({err})") from None
    return policy_from_mapping(data, str(chosen))


def policy_toml(name: str, **stages: Mapping[str, str | int]) -> str:
    """The default policy as TOML, renamed and with some stages' values replaced: for test
    and benchmark stacks whose clocks must ring in seconds, e.g.
    `policy_toml("storm", arrival={"remind_after": "15s"})`."""
    data = tomllib.loads(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))
    for stage, values in stages.items():
        table = data.get(stage)
        if not isinstance(table, dict):
            raise PolicyError(f"policy_toml: no stage {stage!r} in the default policy")
        table.update(values)
    lines = [f"name = {json.dumps(name)}"]
    lines += [
        f"{k} = {json.dumps(v)}" for k, v in data.items() if k != "name" and not isinstance(v, dict)
    ]
    for key, table in data.items():
        if isinstance(table, dict):
            lines.append(f"[{key}]")
            lines += [f"{k} = {json.dumps(v)}" for k, v in table.items()]
    text = "\n".join(lines) + "\n"
    policy_from_mapping(tomllib.loads(text), f"policy_toml({name!r})")  # fail here, not later
    return text
