"""The benchmark harness works end to end at smoke size. No timings are asserted: CI
machines vary, and benchmarks are not tests (issue 5)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = {
    "1 intake",
    "2 open cases",
    "3 escalation storm",
    "4 officer latency",
    "5 history growth",
    "6 cli start-up",
    "7 departure",
}


def test_smoke_run_reports_every_scenario(tmp_path: Path) -> None:
    proc = subprocess.run(
        # A short pause between each plan and its timed approval (`--officer-pause`).
        [
            sys.executable,
            "-m",
            "bench",
            "--smoke",
            "--json",
            "--no-write",
            "--officer-pause",
            "0.05",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    assert report["size"] == "smoke"
    assert report["scaled_down"] is True
    assert {"nproc", "memory_gb", "cpu"} <= set(report["machine"])
    metrics = report["metrics"]
    assert {m["scenario"] for m in metrics} == SCENARIOS
    for m in metrics:
        assert {"name", "value", "unit", "baseline", "ratio", "target", "met"} <= set(m)
    # The pause is in the report, on the approvals it came before and not on the queries.
    assert report["settings"]["officer_pause_s"] == 0.05
    latency = [m for m in metrics if m["scenario"] == "4 officer latency"]
    approvals = [m for m in latency if m["name"].startswith("approve")]
    assert approvals and all("0.05 s after the plan" in m["note"] for m in approvals)
    assert not any("after the plan" in m["note"] for m in latency if m["name"].startswith("query"))
    # Every case of the smoke run was opened, and no escalation email went out twice.
    intake = next(m for m in metrics if m["name"] == "all assigned, recorded, welcomed")
    assert intake["value"] is not None, intake["note"]
    duplicates = next(m for m in metrics if m["name"] == "duplicate emails")
    assert duplicates["value"] == 0
    # Scaled-down runs never claim a program-scale target as met.
    judged = [m for m in metrics if m["met"] is not None]
    assert all(
        m["scenario"] in ("3 escalation storm", "4 officer latency", "5 history growth")
        for m in judged
    )
