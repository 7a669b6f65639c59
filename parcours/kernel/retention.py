"""Retention of personal data: what the daily sweep workflow and its activity exchange.

Kernel data (no I/O), so that `workflows/retention.py` imports it inside the sandbox; the
Schedule that starts the sweep is installed by `parcours.application.retention`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

WORKFLOW_TYPE = "RetentionSweep"
BATCH = 500


@dataclass
class SweepInput:
    retention_days: int
    batch_size: int = BATCH


@dataclass
class PurgeRequest:
    """Erase the personal data of cases closed before `closed_before` (one batch)."""

    closed_before: datetime
    at: datetime
    batch_size: int = BATCH


@dataclass
class PurgeReport:
    cases: int = 0
    audit_texts: int = 0
    emails: int = 0
    # True when the batch was full: the sweep asks again.
    more: bool = False
