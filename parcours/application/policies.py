"""Which policy a new case snapshots: one rule for the CLI, the console and the API."""

from __future__ import annotations

from pathlib import Path

from parcours.infrastructure.config import Settings
from parcours.kernel.domain import PolicySnapshot
from parcours.kernel.policy import load_policy


def dev_policy_path(data_dir: str | Path) -> Path:
    """Where `parcours dev --policy FILE` leaves a copy of FILE for the CLI to find."""
    return Path(data_dir) / "policy.toml"


def choose_policy(settings: Settings, asked: str | None = None) -> PolicySnapshot:
    """The policy new cases snapshot: the one asked for (`--policy`), else $PARCOURS_POLICY,
    else the one the local dev stack runs with (`parcours dev --policy`), else the packaged
    default."""
    chosen = asked or settings.policy_path
    if chosen is None:
        dev_policy = dev_policy_path(settings.data_dir)
        if dev_policy.is_file():
            chosen = str(dev_policy)
    return load_policy(chosen)
