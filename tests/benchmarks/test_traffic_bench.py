"""``mobility bench traffic`` quick: the Helsinki peak hour with BPR and with SUMO (real SUMO)."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.traffic import run


def test_quick_traffic_bench_runs_both_models(data_dir: Path, tmp_path: Path) -> None:
    result = run(data_dir=data_dir, out_dir=tmp_path, quick=True)
    rows = result["runs"]
    assert [(r["scenario"], r["model"]) for r in rows] == [
        ("imod_helsinki_peak", "bpr"),
        ("imod_helsinki_peak", "sumo"),
    ]
    bpr, sumo = rows
    assert bpr["real_time_factor"] is None and sumo["real_time_factor"] > 1
    assert sumo["teleports"] >= 0 and sumo["background_vph"] > 0
    for r in rows:
        assert r["requests"] > 0 and 0 <= r["completed"] <= r["requests"] and r["met"] is None
        assert r["total_s"] >= r["run_s"] > 0
    assert json.loads((tmp_path / "traffic.json").read_text())["runs"] == rows
    md = (tmp_path / "traffic.md").read_text()
    assert "| imod_helsinki_peak | SUMO |" in md and "Quick run" in md
