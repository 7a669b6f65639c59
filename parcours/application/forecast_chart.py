"""The forecast's chart: open cases per month, the median line in the 10th-90th percentile
band, and the capacity line (officers x target caseload). One SVG for the console and
`parcours forecast --chart x.svg`; `--chart x.png` draws the same with matplotlib.

The words come in `labels` (the caller's catalogue); the markup uses presentation attributes
only, no inline style, so the console's Content-Security-Policy accepts it inline.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from html import escape
from pathlib import Path

from parcours.application.forecast import Forecast
from parcours.kernel.domain import region_name

WIDTH, HEIGHT = 680, 340
LEFT, RIGHT, TOP, BOTTOM = 70, 20, 30, 50
BAND, MEDIAN, CAPACITY = "#b7cde6", "#1f4e79", "#c0392b"


def chart_labels(t: Callable[..., str], f: Forecast) -> dict[str, str]:
    """The chart's words for `svg` and `save`, from the caller's catalogue `t`."""
    region = region_name(f.request.region) if f.request.region else t("forecast.all_regions")
    return {
        "title": t("forecast.chart.title", region=region, months=f.request.months),
        "x_axis": t("forecast.chart.x_axis"),
        "y_axis": t("forecast.chart.y_axis"),
        "band": t("forecast.chart.band"),
        "median": t("forecast.chart.median"),
        "capacity": t("forecast.chart.capacity", officers=f.officers, target=f.target_caseload),
    }


@dataclass
class Geometry:
    """The chart in pixels: what tests check, and what both drawings share."""

    band: list[tuple[float, float]]  # polygon: p90 left to right, then p10 right to left
    median: list[tuple[float, float]]
    capacity_y: float | None
    x_ticks: list[tuple[float, int]]
    y_ticks: list[tuple[float, float]]
    y_max: float


def _nice(top: float) -> float:
    """A round axis maximum (1, 2 or 5 x a power of ten) at or above `top`."""
    if top <= 0:
        return 1.0
    power = 10 ** len(str(int(top))) / 10
    for step in (1, 2, 5, 10):
        if step * power >= top:
            return float(step * power)
    return float(10 * power)


def geometry(f: Forecast) -> Geometry:
    capacity = f.officers * f.target_caseload
    top = max([m.open_p90 for m in f.months] + [capacity, f.open_today, 1.0])
    y_max = _nice(top * 1.05)
    months = len(f.months)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(month: float) -> float:
        return round(LEFT + plot_w * month / months, 1)

    def y(value: float) -> float:
        return round(TOP + plot_h * (1 - value / y_max), 1)

    # Month 0 is today: the open cases counted, no spread yet.
    today = (x(0), y(f.open_today))
    upper = [today] + [(x(m.month), y(m.open_p90)) for m in f.months]
    lower = [(x(m.month), y(m.open_p10)) for m in reversed(f.months)] + [today]
    step = max(1, months // 8)
    step = next(s for s in (1, 2, 3, 6, 12, 24, 60) if s >= step)
    return Geometry(
        band=upper + lower,
        median=[today] + [(x(m.month), y(m.open_p50)) for m in f.months],
        capacity_y=y(capacity) if capacity > 0 else None,
        x_ticks=[(x(m), m) for m in range(0, months + 1, step)],
        y_ticks=[(y(y_max * i / 4), y_max * i / 4) for i in range(5)],
        y_max=y_max,
    )


def svg(f: Forecast, labels: Mapping[str, str], number: Callable[[float], str]) -> str:
    """The chart as an SVG element. `labels`: title, x_axis, y_axis, band, median, capacity."""
    g = geometry(f)
    e = escape
    pts = " ".join(f"{px},{py}" for px, py in g.median)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="forecast-chart-title" '
        'class="forecast-chart">',
        f'<title id="forecast-chart-title">{e(labels["title"])}</title>',
        f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
    ]
    for py, value in g.y_ticks:
        out.append(
            f'<line x1="{LEFT}" y1="{py}" x2="{WIDTH - RIGHT}" y2="{py}" stroke="#dddddd"/>'
            f'<text x="{LEFT - 6}" y="{py + 4}" text-anchor="end" font-size="11" '
            f'fill="#333333">{e(number(value))}</text>'
        )
    for px, month in g.x_ticks:
        out.append(
            f'<text x="{px}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" font-size="11" '
            f'fill="#333333">{month}</text>'
        )
    band = " ".join(f"{px},{py}" for px, py in g.band)
    out += [
        f'<polygon points="{band}" fill="{BAND}" stroke="none"><title>{e(labels["band"])}'
        "</title></polygon>",
        f'<polyline points="{pts}" fill="none" stroke="{MEDIAN}" stroke-width="2.5">'
        f"<title>{e(labels['median'])}</title></polyline>",
    ]
    if g.capacity_y is not None:
        out.append(
            f'<line x1="{LEFT}" y1="{g.capacity_y}" x2="{WIDTH - RIGHT}" y2="{g.capacity_y}" '
            f'stroke="{CAPACITY}" stroke-width="2" stroke-dasharray="6 4">'
            f"<title>{e(labels['capacity'])}</title></line>"
        )
    ly = HEIGHT - 14
    out += [
        f'<line x1="{LEFT}" y1="{TOP + (HEIGHT - TOP - BOTTOM)}" x2="{WIDTH - RIGHT}" '
        f'y2="{TOP + (HEIGHT - TOP - BOTTOM)}" stroke="#333333"/>',
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{HEIGHT - BOTTOM}" stroke="#333333"/>',
        f'<text x="{LEFT}" y="{TOP - 10}" font-size="12" fill="#333333">'
        f"{e(labels['y_axis'])}</text>",
        f'<text x="{WIDTH - RIGHT}" y="{HEIGHT - BOTTOM + 32}" text-anchor="end" font-size="12" '
        f'fill="#333333">{e(labels["x_axis"])}</text>',
        f'<rect x="{LEFT}" y="{ly - 9}" width="14" height="10" fill="{BAND}"/>'
        f'<text x="{LEFT + 18}" y="{ly}" font-size="11" fill="#333333">{e(labels["band"])}</text>',
        f'<line x1="{LEFT + 200}" y1="{ly - 4}" x2="{LEFT + 216}" y2="{ly - 4}" '
        f'stroke="{MEDIAN}" stroke-width="2.5"/><text x="{LEFT + 220}" y="{ly}" font-size="11" '
        f'fill="#333333">{e(labels["median"])}</text>',
    ]
    if g.capacity_y is not None:
        out.append(
            f'<line x1="{LEFT + 330}" y1="{ly - 4}" x2="{LEFT + 346}" y2="{ly - 4}" '
            f'stroke="{CAPACITY}" stroke-width="2" stroke-dasharray="6 4"/>'
            f'<text x="{LEFT + 350}" y="{ly}" font-size="11" fill="#333333">'
            f"{e(labels['capacity'])}</text>"
        )
    out.append("</svg>")
    return "".join(out)


def save(
    f: Forecast, path: Path, labels: Mapping[str, str], number: Callable[[float], str]
) -> None:
    """`path` ending in .svg: the SVG above; in .png: the same chart drawn by matplotlib."""
    if path.suffix.lower() == ".svg":
        path.write_text(svg(f, labels, number) + "\n", encoding="utf-8")
        return
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    months = [0] + [m.month for m in f.months]
    fig, ax = plt.subplots(figsize=(WIDTH / 100, HEIGHT / 100), dpi=150)
    try:
        ax.fill_between(
            months, [f.open_today] + [m.open_p10 for m in f.months],
            [f.open_today] + [m.open_p90 for m in f.months],
            color=BAND, label=labels["band"],
        )  # fmt: skip
        median = [f.open_today] + [m.open_p50 for m in f.months]
        ax.plot(months, median, color=MEDIAN, lw=2, label=labels["median"])
        capacity = f.officers * f.target_caseload
        if capacity > 0:
            ax.axhline(capacity, color=CAPACITY, ls="--", lw=1.5, label=labels["capacity"])
        ax.set_title(labels["title"], fontsize=9)
        ax.set_xlabel(labels["x_axis"])
        ax.set_ylabel(labels["y_axis"])
        ax.set_ylim(0, geometry(f).y_max)
        ax.yaxis.set_major_formatter(lambda v, _: number(v))
        ax.legend(fontsize=7, loc="upper left")
        fig.tight_layout()
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)
