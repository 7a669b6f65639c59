"""Pieces of the benchmark harness that decide what a run measures."""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.cli import parse, sizes_for, worker_settings
from bench.report import code_version
from bench.scenarios.intake import FORCED_EVICTIONS, delta
from bench.scenarios.storm import lead_time
from bench.sizes import FULL, QUICK
from bench.stack import ProcessGroup, Stack, cpu_seconds, scrape
from parcours.infrastructure.config import Settings

PROMETHEUS_TEXT = b"""# HELP temporal_sticky_cache_total_forced_eviction evictions
# TYPE temporal_sticky_cache_total_forced_eviction counter
temporal_sticky_cache_total_forced_eviction{namespace="default",task_queue="q"} 12
temporal_sticky_cache_total_forced_eviction{namespace="default",task_queue="r"} 3
temporal_sticky_cache_size{namespace="default"} 40
temporal_request_latency_bucket{operation="Poll",le="+Inf"} 7
"""


@pytest.fixture
def metrics_url() -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(PROMETHEUS_TEXT)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/metrics"
    finally:
        server.shutdown()


def test_scrape_sums_a_metric_over_its_labels(metrics_url: str) -> None:
    m = scrape(metrics_url)
    assert m[FORCED_EVICTIONS] == 15
    assert m["temporal_sticky_cache_size"] == 40
    assert m["temporal_request_latency_bucket"] == 7


def test_scrape_of_nothing_listening_is_empty() -> None:
    assert scrape("http://127.0.0.1:9/metrics") == {}


def test_a_counter_that_never_appeared_counted_none() -> None:
    assert delta({}, {"other": 1.0}, FORCED_EVICTIONS) == 0
    assert delta({FORCED_EVICTIONS: 5.0}, {FORCED_EVICTIONS: 9.0}, FORCED_EVICTIONS) == 4
    # An endpoint that did not answer is not a count of zero.
    assert delta({}, {}, FORCED_EVICTIONS) is None


def test_cpu_seconds_counts_a_process_and_nothing_for_one_gone() -> None:
    start = cpu_seconds(os.getpid())
    deadline = time.process_time() + 0.05
    while time.process_time() < deadline:  # burn a little CPU
        pass
    assert cpu_seconds(os.getpid()) > start > 0
    assert cpu_seconds(2**22 + 12345) == 0.0  # above the kernel's largest pid


def test_storm_lead_time_covers_the_opening_of_every_case() -> None:
    # 5,000 cases opened at 10/s take 500 s: the timers wait longer than that.
    assert lead_time(180, 5000, 10.0) == 770
    assert lead_time(180, 5000, 10.0) > 5000 / 10.0
    # Never below the run's least lead, and that least when intake measured nothing.
    assert lead_time(180, 100, 50.0) == 180
    assert lead_time(15, 100, None) == 15
    # The smoke run's small margin: ten cases at 5/s open within its 8 s least.
    assert lead_time(8, 10, 5.0, margin_s=3) == 8
    assert lead_time(8, 10, 1.0, margin_s=3) == 18


def test_command_line_overrides_the_scale_checkpoints_and_budget() -> None:
    assert sizes_for(parse([])) == FULL
    quick = sizes_for(parse(["--quick", "--open-cases", "500", "900", "--scale-budget", "60"]))
    assert quick.name == "quick"
    assert quick.open_cases == (500, 900)
    assert quick.scale_budget_s == 60
    assert quick.intake == QUICK.intake
    # Only what was given changes.
    assert sizes_for(parse(["--scale-budget", "10"])).open_cases == FULL.open_cases
    # The officer's pause before the timed approval: none unless asked.
    assert parse([]).officer_pause == 0.0
    assert parse(["--officer-pause", "0.3"]).officer_pause == 0.3


@pytest.mark.parametrize(
    "argv",
    [
        ["--open-cases", "-5"],
        ["--open-cases", "many"],
        ["--scale-budget", "-1"],
        ["--officer-pause", "-0.1"],
        ["--officer-pause", "inf"],
        ["--scale-budget", "nan"],
    ],
)
def test_bad_scale_options_are_refused_with_a_message(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        parse(argv)
    assert exit_.value.code == 2
    assert "argument --" in capsys.readouterr().err


def test_the_report_records_the_worker_settings_with_their_defaults() -> None:
    tuned = worker_settings({"PARCOURS_WORKER_CACHE": "500"})
    assert tuned["cache"] == 500
    assert worker_settings({"PARCOURS_WORKER_GC_YOUNG": "900"})["gc_young"] == 900
    # Left alone, a knob is recorded at the value the worker will use, not as absent.
    assert worker_settings({})["workflow_tasks"] == Settings.from_env({}).worker_workflow_tasks


def test_the_report_names_the_commit_it_measured(tmp_path: Path) -> None:
    here = code_version()
    assert here["commit"] is not None and len(str(here["commit"])) == 40
    assert isinstance(here["uncommitted_changes"], bool)
    # Outside a checkout (an unpacked release): nothing to name, and no failure.
    assert code_version(tmp_path) == {"commit": None, "uncommitted_changes": None}


@pytest.mark.parametrize(
    "setting", ["PARCOURS_WORKER_CACHE=lots", "PARCOURS_WORKER_CACHE", "=1000"]
)
def test_a_bad_worker_setting_is_refused_before_any_server_starts(setting: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--no-write", f"--worker-env={setting}"],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert "--worker-env" in proc.stderr
    assert "Traceback" not in proc.stderr and "bench: warm-up" not in proc.stderr


def _stack(tmp_path: Path, **fields: Any) -> Stack:
    """A Stack with only what the reading helpers use (no server behind it)."""
    defaults: dict[str, Any] = {
        "dir": tmp_path,
        "client": None,
        "settings": Settings(),
        "env": {},
        "catcher": None,
        "workers": ProcessGroup(),
        "baseline_workers": ProcessGroup(),
        "baseline_counts_files": [],
        "pragmas": (),
        "worker_env": {},
    }
    return Stack(**(defaults | fields))


def test_several_workers_are_read_as_one(tmp_path: Path, metrics_url: str) -> None:
    """`--workers N`: the metrics, the baseline's counts and the memory are the sums."""
    first, second = tmp_path / "baseline-counts.json", tmp_path / "baseline-counts-2.json"
    first.write_text('{"notify": 3, "register": 1}')
    second.write_text('{"notify": 4}')
    st = _stack(
        tmp_path,
        worker_metrics=[metrics_url, metrics_url],
        baseline_counts_files=[first, second, tmp_path / "not-written-yet.json"],
    )
    assert st.metrics()[FORCED_EVICTIONS] == 30
    assert st.baseline_counts() == {"notify": 7, "register": 1}
    # One process that does not answer: no sum (a partial one would read as a count).
    silent = _stack(tmp_path, worker_metrics=[metrics_url, "http://127.0.0.1:9/metrics"])
    assert silent.metrics() == {}
    me = ProcessGroup(os.getpid())
    assert ProcessGroup(os.getpid(), os.getpid()).read() >= 2 * me.read() * 0.9 > 0
    assert ProcessGroup(os.getpid(), os.getpid()).cpu_seconds() >= me.cpu_seconds() > 0


@pytest.mark.parametrize("bad", ["0", "two"])
def test_the_worker_count_is_a_whole_number_from_one(
    bad: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert parse(["--workers", "2"]).workers == 2
    with pytest.raises(SystemExit):
        parse(["--workers", bad])
    assert "--workers" in capsys.readouterr().err
