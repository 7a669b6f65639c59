"""The forecast's chart (parcours/application/forecast_chart.py): geometry and markup."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from parcours.application.forecast import Overrides, Request, build
from parcours.application.forecast_chart import BOTTOM, HEIGHT, TOP, geometry, save, svg
from parcours.infrastructure.store.measures import Measures

LABELS = {"title": "Dossiers <ouverts>", "x_axis": "mois", "y_axis": "dossiers",
          "band": "10e & 90e", "median": "médiane", "capacity": "capacité"}  # fmt: skip


def _forecast(officers: int = 10):
    m = Measures(now=datetime(2026, 12, 1, tzinfo=UTC), open={("montreal", "arrival"): {3: 500}})
    o = Overrides(intake_per_year=12_000, officers=officers, target_caseload=50)
    return build(m, Request(overrides=o, months=12, runs=20, region="montreal"), 60)


def test_geometry_starts_today_and_draws_capacity() -> None:
    f = _forecast()
    g = geometry(f)
    assert f.open_today == 500
    assert len(g.median) == 13 and len(g.band) == 26
    assert g.median[0] == g.band[0] == g.band[-1]  # month 0: today's count, no spread
    assert g.y_max >= max(m.open_p90 for m in f.months) and g.y_max in (5000, 10000, 20000)
    # The capacity line sits at 10 x 50 = 500 cases, as today's point does.
    assert g.capacity_y == pytest.approx(g.median[0][1])
    bottom = HEIGHT - BOTTOM
    assert all(TOP <= y <= bottom for _, y in g.band)
    assert geometry(_forecast(officers=0)).capacity_y is None


def test_svg_escapes_words_and_png_is_drawn(tmp_path: Path) -> None:
    f = _forecast()
    text = svg(f, LABELS, str)
    assert "Dossiers &lt;ouverts&gt;" in text and "10e &amp; 90e" in text
    assert "<ouverts>" not in text and "style=" not in text
    save(f, tmp_path / "c.svg", LABELS, str)
    assert (tmp_path / "c.svg").read_text().startswith("<svg")
    save(f, tmp_path / "c.png", LABELS, str)
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"
