"""The pathway policy file: durations, checks that name the key, the default, overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from parcours.kernel.policy import (
    PolicyError,
    format_duration,
    load_policy,
    parse_duration,
    policy_toml,
)

DAY = 86400


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("45m", 2700), ("36h", 129600), ("14d", 14 * DAY)]
)
def test_durations_round_trip(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds
    assert parse_duration(format_duration(seconds)) == seconds


@pytest.mark.parametrize("text", ["", "5", "5y", "-3d", "0d", "1.5d", "d5"])
def test_junk_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_the_default_policy() -> None:
    policy = load_policy()
    assert policy.name == "default-2026"
    assert policy.plan_due_working_days == 5
    assert policy.arrival.remind_after == 5 * DAY
    assert policy.francization.deadline == 52 * 7 * DAY


def test_overrides_keep_the_rest_of_the_default(tmp_path: Path) -> None:
    text = policy_toml("storm", arrival={"remind_after": "15s"})
    path = tmp_path / "storm.toml"
    path.write_text(text)
    policy, default = load_policy(path), load_policy(None)
    assert policy.name == "storm"
    assert policy.arrival.remind_after == 15
    assert policy.arrival.escalate_after == default.arrival.escalate_after
    assert policy.community == default.community


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"arrival": {"remind_after": "15y"}}, "arrival.remind_after"),
        ({"arrival": {"remind_after": "30d"}}, "arrival.escalate_after must be longer"),
        ({"arrival": {"plan_due_working_days": 0}}, "plan_due_working_days"),
        ({"employment": {"remind_every": "1d"}}, "unknown key employment.remind_every"),
        ({"orientation": {"deadline": "1d"}}, "no stage 'orientation'"),
    ],
)
def test_bad_overrides_are_refused_with_the_key(overrides: dict, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        policy_toml("bad", **overrides)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name = 'x'\n[arrival]\n", "missing key arrival.deadline"),
        ("[arrival", "not valid TOML"),
        ("colour = 'blue'", "unknown key 'colour'"),
    ],
)
def test_bad_files_are_refused_with_one_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(text)
    with pytest.raises(PolicyError, match=message) as err:
        load_policy(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read policy file"):
        load_policy(tmp_path / "absent.toml")
