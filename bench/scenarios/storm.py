"""Scenario 3: cases whose stall timers all fire within the same minute: every escalation
recorded and emailed, none twice.

The cases are opened first and their reminders fall due only once every one of them is open
(the lead time is sized from the intake scenario's measured rate), so the clock measures the
storm of escalations itself, not a backlog of openings. Their timers fall due over the import's
window (under a minute at the full run's 5,000 cases: the import is unpaced here).
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

from bench.baseline.workflow import NOTIFY
from bench.data import quebec_today, write_approvals
from bench.scenarios.common import Run, import_cases, prefix_like, start_baseline, wait_until
from bench.scenarios.intake import EMAILS_PER_CASE, cpu_now, intake_done, report_cpu
from parcours.kernel.policy import policy_toml

PREFIX = "S"
BASELINE_PREFIX = "BS"
# Margin on the measured opening time, and the seconds added to it.
LEAD_FACTOR = 1.5
LEAD_MARGIN_S = 20


def storm_policy(path: Path, remind_after_s: int) -> Path:
    """The default policy with a reminder due `remind_after_s` after arrival."""
    path.write_text(policy_toml("bench-storm", arrival={"remind_after": f"{remind_after_s}s"}))
    return path


def lead_time(least_s: int, n: int, rate: float | None, margin_s: int = LEAD_MARGIN_S) -> int:
    """Seconds from the first start to the first reminder: enough to open all `n` cases at the
    rate intake measured (cases/s), and never less than `least_s`."""
    if not rate:
        return least_s
    return max(least_s, int(LEAD_FACTOR * n / rate) + margin_s)


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


def escalated(run: Run) -> int:
    return run.stack.count(
        "SELECT count(*) FROM audit_events WHERE dossier LIKE ? AND kind='escalated'",
        (prefix_like(PREFIX),),
    )


async def run_storm(run: Run) -> None:
    n = run.sizes.storm
    st = run.stack
    least, margin = run.sizes.storm_remind_after_s, run.sizes.storm_lead_margin_s
    lead = lead_time(least, n, run.open_rate, margin)
    b_lead = lead_time(least, n, run.baseline_open_rate, margin)
    timeout = run.sizes.drain_timeout_s

    run.say(f"storm, baseline: {n} no-op cases escalating {b_lead}s after they start")
    before = st.baseline_counts().get(NOTIFY, 0)
    t0 = time.perf_counter()
    await start_baseline(run, BASELINE_PREFIX, n, b_lead)
    b_opened = await wait_until(
        lambda: st.baseline_counts().get(NOTIFY, 0) >= before + EMAILS_PER_CASE * n, b_lead, 0.5
    )
    b_cpu0 = cpu_now(st)
    await wait_until(
        lambda: st.baseline_counts().get(NOTIFY, 0) >= before + (EMAILS_PER_CASE + 1) * n,
        b_lead + timeout,
        0.5,
    )
    b_drain = time.perf_counter() - (t0 + b_lead)
    b_cpu = [b - a for a, b in zip(b_cpu0, cpu_now(st), strict=True)]

    run.say(f"storm: {n} cases escalating {lead}s after they start")
    policy = storm_policy(run.tmp / "storm.toml", lead)
    # Arrived yesterday: the stall clock runs from the case's start, for every case at once.
    csv = write_approvals(
        run.tmp / "storm.csv", PREFIX, n, arrival=quebec_today() - timedelta(days=1)
    )
    dup0 = st.catcher.duplicates()
    t0 = time.perf_counter()
    # Unpaced, as the baseline's starts: the storm is timers falling due together. A paced
    # import (the default since 2026-12-03) spreads its starts, hence the due times, over its
    # whole run (262 s at 5,000 cases on 2026-12-04), and the scenario then timed the pacer.
    window, code, last = await import_cases(
        run, csv, "--policy", str(policy), env={"PARCOURS_INTAKE_PACING": "0"}
    )
    opened = await wait_until(lambda: intake_done(run, PREFIX, n), lead, every=0.5)
    cpu0 = cpu_now(st)
    early = escalated(run)
    drained = await wait_until(lambda: storm_done(run, n), lead + timeout, every=0.5)
    cpu = [b - a for a, b in zip(cpu0, cpu_now(st), strict=True)]
    drain = time.perf_counter() - (t0 + lead)
    like = prefix_like(PREFIX)
    recorded = escalated(run)
    mailed = st.count(
        "SELECT count(*) FROM outbox WHERE dossier LIKE ? AND template='stall_reminder'", (like,)
    )
    dups = st.catcher.duplicates() - dup0
    scaled = " scaled down" if run.sizes.scaled_down else ""
    quiet = opened is not None and early == 0 and b_opened is not None
    run.metric(
        "3 escalation storm",
        f"{n} escalations recorded+emailed, from first due{scaled}",
        drain if drained is not None else None,
        "s",
        baseline=b_drain,
        target="< 300 s",
        met=drained is not None and drain < 300 if not run.sizes.scaled_down else None,
        note=f"timers due over {window:.0f}s, {lead}s after the starts"
        + (
            f" (all cases open {opened:.0f}s after the import)"
            if quiet and opened is not None
            else "; NOT all cases were open when the first timer was due"
        )
        + f"; {recorded} recorded, {mailed} emails"
        + ("" if code == 0 else f"; import exit {code}: {last}")
        + ("" if drained is not None else f"; NOT drained within {lead + timeout:g}s"),
    )
    run.metric(
        "3 escalation storm",
        "duplicate emails",
        dups,
        "emails",
        target="0",
        met=dups == 0 and recorded == n,
    )
    # CPU time from all cases open to all escalations done (the quiet wait before the timers
    # is included; it costs little). Each side over its own phase.
    report_cpu(
        run,
        "3 escalation storm",
        "escalation",
        n,
        cpu,
        b_cpu,
        (
            "user + system time of the worker (all its processes), all cases open -> all escalated",
            "the Temporal dev server's user + system time over the same window",
        ),
    )
