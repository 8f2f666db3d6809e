"""``mobility bench pooling --quick`` end to end: both modes run on the same demand, the checks
find no broken rule, the JSON and Markdown carry the rows, anchors and unjudged targets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import pooling
from mobility.cli import main


@pytest.fixture(scope="module")
def quick(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str]:
    out = tmp_path_factory.mktemp("pooling")
    assert main(["bench", "pooling", "--quick", "--data-dir", str(data_dir), "--out", str(out)]) == 0
    return json.loads((out / "pooling.json").read_text()), (out / "pooling.md").read_text()


def test_quick_runs_both_modes_on_the_same_demand(quick):
    data, _ = quick
    runs = data["runs"]
    assert [r["mode"] for r in runs] == ["batch", "insertion"]
    q = pooling.QUICK
    for r in runs:
        assert r["vehicles"] == q["vehicles"] and r["capacity"] == q["capacity"] and r["wait_min"] == q["wait_min"]
        assert r["problems"] == 0, r["first_problems"]
        assert 0 < r["served_pct"] <= 100
        assert r["vehicle_km"] > 0
    assert runs[0]["requests"] == runs[1]["requests"] > 0
    assert runs[0]["batches"] == 60 * q["minutes"] // 30 - 1  # every 30 s after the start, within the period
    assert runs[1]["batches"] == 0
    hour = data["demand"]["busiest_hour_start_s"]
    assert hour == 19 * 3600  # the taxi_chicago profile's peak
    assert data["demand"]["requests"] == pooling.TOTAL_REQUESTS


def test_quick_judges_no_target_and_prints_the_anchors(quick):
    data, md = quick
    assert all(t["met"] is None for t in data["targets"].values())
    assert "Alonso-Mora" in md and "Wallar" in md
    assert md.count("| quick |") == 2
    assert "not measured by this run" in md


def test_grid_points_are_checked():
    assert pooling.grid_points((1000,), (1, 4), (5,)) == [(1000, 1, 5), (1000, 4, 5)]
    with pytest.raises(Exception, match="capacities"):
        pooling.grid_points((1000,), (0,), (5,))
