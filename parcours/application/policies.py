"""Which policy a new case snapshots: one rule for the CLI, the console and the API."""

from __future__ import annotations

from pathlib import Path

from parcours.infrastructure.config import Settings
from parcours.kernel.domain import PolicySnapshot
from parcours.kernel.policy import load_policy, load_target_caseload


def dev_policy_path(data_dir: str | Path) -> Path:
    """Where `parcours dev --policy FILE` leaves a copy of FILE for the CLI to find."""
    return Path(data_dir) / "policy.toml"


def policy_path(settings: Settings, asked: str | None = None) -> str | None:
    """The policy file in force: the one asked for (`--policy`), else $PARCOURS_POLICY, else
    the one the local dev stack runs with (`parcours dev --policy`), else None (the packaged
    default)."""
    chosen = asked or settings.policy_path
    if chosen is None:
        dev_policy = dev_policy_path(settings.data_dir)
        if dev_policy.is_file():
            chosen = str(dev_policy)
    return chosen


def choose_policy(settings: Settings, asked: str | None = None) -> PolicySnapshot:
    """The policy new cases snapshot (`policy_path`)."""
    return load_policy(policy_path(settings, asked))


def choose_target_caseload(settings: Settings, asked: str | None = None) -> int:
    """The capacity forecast's target caseload, from the same policy file."""
    return load_target_caseload(policy_path(settings, asked))
