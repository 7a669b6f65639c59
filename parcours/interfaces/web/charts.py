"""Server-rendered SVG charts: geometry here, markup in a (autoescaped) template.

A horizontal bar per officer, stacked by escalation level, so a supervisor sees at a glance
both who carries the most cases and who carries the stalled ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from parcours.infrastructure.store.caseload import CaseloadEntry

# Level 0..3: calm to alarming; readable by the colour-blind (blue, yellow, orange, red).
LEVEL_COLOURS = ("#3b6ea5", "#e0b000", "#e07000", "#c0392b")
BAR_HEIGHT = 22
GAP = 8
LABEL_WIDTH = 150
CHART_WIDTH = 640
TOP = 28


@dataclass
class Segment:
    x: float
    width: float
    colour: str
    level: int
    count: int


@dataclass
class Bar:
    label: str
    y: float
    total: int
    segments: list[Segment] = field(default_factory=list)
    end_x: float = 0.0  # where the bar ends: its total is written just after


@dataclass
class BarChart:
    width: int
    height: int
    label_width: int
    bar_height: int
    bars: list[Bar]
    max_value: int
    ticks: list[tuple[float, int]]
    legend: list[tuple[str, int]]


def caseload_chart(entries: list[CaseloadEntry], unassigned_label: str) -> BarChart:
    rows = [e for e in entries if e.officer_id is not None or e.open_cases]
    max_value = max((e.open_cases for e in rows), default=0) or 1
    plot = CHART_WIDTH - LABEL_WIDTH - 40
    bars: list[Bar] = []
    for i, e in enumerate(rows):
        bar = Bar(
            label=e.officer_id or unassigned_label,
            y=TOP + i * (BAR_HEIGHT + GAP),
            total=e.open_cases,
        )
        x = float(LABEL_WIDTH)
        for level in (0, 1, 2, 3):
            n = e.by_level.get(level, 0)
            if n:
                w = plot * n / max_value
                bar.segments.append(Segment(x, w, LEVEL_COLOURS[level], level, n))
                x += w
        bar.end_x = x
        bars.append(bar)
    step = max(1, round(max_value / 4))
    ticks = [(LABEL_WIDTH + plot * v / max_value, v) for v in range(0, max_value + 1, step)]
    return BarChart(
        width=CHART_WIDTH,
        height=TOP + len(bars) * (BAR_HEIGHT + GAP) + 10,
        label_width=LABEL_WIDTH,
        bar_height=BAR_HEIGHT,
        bars=bars,
        max_value=max_value,
        ticks=ticks,
        legend=[(c, lvl) for lvl, c in enumerate(LEVEL_COLOURS)],
    )
