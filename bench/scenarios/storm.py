"""Scenario 3: cases whose stall timers all fire within the same minute: every escalation
recorded and emailed, none twice."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

from bench.baseline.workflow import NOTIFY
from bench.data import quebec_today, write_approvals
from bench.scenarios.common import Run, import_cases, prefix_like, start_baseline, wait_until
from parcours.policy import policy_toml

PREFIX = "S"
BASELINE_PREFIX = "BS"


def storm_policy(path: Path, remind_after_s: int) -> Path:
    """The default policy with a reminder due `remind_after_s` after arrival."""
    path.write_text(policy_toml("bench-storm", arrival={"remind_after": f"{remind_after_s}s"}))
    return path


def storm_done(run: Run, n: int) -> bool:
    like = prefix_like(PREFIX)
    st = run.stack
    mailed = st.count(
        "SELECT count(*) FROM outbox WHERE dossier LIKE ? AND template='stall_reminder' "
        "AND status IN ('sent', 'unconfirmed')",
        (like,),
    )
    if mailed < n:
        return False
    recorded = st.count(
        "SELECT count(*) FROM audit_events WHERE dossier LIKE ? AND kind='escalated'", (like,)
    )
    return recorded >= n


async def run_storm(run: Run) -> None:
    n, remind = run.sizes.storm, run.sizes.storm_remind_after_s
    st = run.stack
    timeout = run.sizes.drain_timeout_s + remind

    run.say(f"storm, baseline: {n} no-op cases escalating {remind}s after they start")
    before = st.baseline_counts().get(NOTIFY, 0)
    t0 = time.perf_counter()
    b_window, _ = await start_baseline(run, BASELINE_PREFIX, n, remind)
    await wait_until(lambda: st.baseline_counts().get(NOTIFY, 0) >= before + 3 * n, timeout, 0.5)
    b_drain = time.perf_counter() - (t0 + remind)

    run.say(f"storm: {n} cases escalating {remind}s after they start")
    policy = storm_policy(run.tmp / "storm.toml", remind)
    # Arrived yesterday: the stall clock runs from the case's start, for every case at once.
    csv = write_approvals(
        run.tmp / "storm.csv", PREFIX, n, arrival=quebec_today() - timedelta(days=1)
    )
    dup0 = st.catcher.duplicates()
    t0 = time.perf_counter()
    window, code, last = await import_cases(run, csv, "--policy", str(policy))
    drained = await wait_until(lambda: storm_done(run, n), timeout, every=0.5)
    drain = time.perf_counter() - (t0 + remind)
    like = prefix_like(PREFIX)
    recorded = st.count(
        "SELECT count(*) FROM audit_events WHERE dossier LIKE ? AND kind='escalated'", (like,)
    )
    mailed = st.count(
        "SELECT count(*) FROM outbox WHERE dossier LIKE ? AND template='stall_reminder'", (like,)
    )
    dups = st.catcher.duplicates() - dup0
    scaled = " scaled down" if run.sizes.scaled_down else ""
    run.metric(
        "3 escalation storm",
        f"{n} escalations recorded+emailed, from first due{scaled}",
        drain if drained is not None else None,
        "s",
        baseline=b_drain,
        target="< 300 s",
        met=drained is not None and drain < 300 if not run.sizes.scaled_down else None,
        note=f"timers due over {window:.0f}s; {recorded} recorded, {mailed} emails"
        + ("" if code == 0 else f"; import exit {code}: {last}")
        + ("" if drained is not None else f"; NOT drained within {timeout:g}s"),
    )
    run.metric(
        "3 escalation storm",
        "duplicate emails",
        dups,
        "emails",
        target="0",
        met=dups == 0 and recorded == n,
    )
