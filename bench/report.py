"""The run's table: printed, and written as JSON and Markdown under bench/results/."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass
class Metric:
    scenario: str
    name: str
    value: float | None
    unit: str
    baseline: float | None = None
    target: str = ""
    # None: no target, or not judged at this scale.
    met: bool | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.value is None or not self.baseline:
            return None
        return self.value / self.baseline

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"ratio": self.ratio}


@dataclass
class Report:
    size: str
    scaled_down: bool
    machine: dict[str, Any]
    settings: dict[str, Any]
    metrics: list[Metric] = field(default_factory=list)
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    duration_s: float = 0.0

    def add(self, metric: Metric) -> Metric:
        self.metrics.append(metric)
        return metric

    def to_json(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "scaled_down": self.scaled_down,
            "started_at": self.started_at,
            "duration_s": round(self.duration_s, 1),
            "machine": self.machine,
            "settings": self.settings,
            "metrics": [m.to_json() for m in self.metrics],
        }


def machine() -> dict[str, Any]:
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb: float | None = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "memory_gb": mem_gb,
        "cpu": cpu,
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
    }


def code_version(repo: Path = RESULTS_DIR.parents[1]) -> dict[str, Any]:
    """The commit the run measured, and whether the tree had changes on top of it (a result
    file read weeks later must say which code it was)."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", *args], cwd=repo, capture_output=True, text=True, timeout=10, check=True
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip()

    commit = git("rev-parse", "HEAD")
    changes = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "uncommitted_changes": None if changes is None else bool(changes)}


def _fmt(v: float | None) -> str:
    if v is None:
        return "-"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.3g}"


def _verdict(m: Metric) -> str:
    if m.met is None:
        return "-" if not m.target else "n/a"
    return "met" if m.met else "NOT met"


COLUMNS = [
    "scenario",
    "metric",
    "parcours",
    "unit",
    "baseline",
    "ratio",
    "target",
    "verdict",
    "note",
]


def rows(report: Report) -> list[list[str]]:
    out = []
    for m in report.metrics:
        ratio = m.ratio
        out.append(
            [
                m.scenario,
                m.name,
                _fmt(m.value),
                m.unit,
                _fmt(m.baseline),
                "-" if ratio is None else f"{ratio:.2f}",
                m.target or "-",
                _verdict(m),
                m.note,
            ]
        )
    return out


def text_table(report: Report) -> str:
    body = rows(report)
    widths = [max(len(c), *(len(r[i]) for r in body)) for i, c in enumerate(COLUMNS)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(COLUMNS, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in body]
    return "\n".join(lines)


def markdown(report: Report) -> str:
    m = report.machine
    head = [
        f"# Parcours benchmark: {report.size} run"
        + (" (SCALED DOWN: not the program-scale targets)" if report.scaled_down else ""),
        "",
        f"Started {report.started_at}, {report.duration_s:.0f} s. Machine: {m['nproc']} cores, "
        f"{m['memory_gb']} GB, {m['cpu']}; Python {m['python']}; {m['os']}.",
        f"Settings: `{json.dumps(report.settings)}`",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    return "\n".join(head + ["| " + " | ".join(r) + " |" for r in rows(report)]) + "\n"


def write(report: Report, directory: Path = RESULTS_DIR) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    stem = f"{report.size}-{report.started_at[:19].replace(':', '').replace('-', '')}"
    json_path = directory / f"{stem}.json"
    md_path = directory / f"{stem}.md"
    json_path.write_text(json.dumps(report.to_json(), indent=2) + "\n")
    md_path.write_text(markdown(report))
    return json_path, md_path
