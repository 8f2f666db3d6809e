"""The dashboard benchmark (``mobility bench dashboard``) on a run of seconds: a smoke test, no speed limits.

A real engine (its own process), the real ``mobility dashboard`` subprocess and Debian's headless
chromium: what the run reports must have been measured (numbers, not blanks) and must add up
with what the other parts saw (every report the feeder sent accepted, the page's applied updates
matching the ``vehicles`` messages that reached it, every vehicle drawn on both pages).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from benchmarks import dashboard
from mobility.cli import main

VEHICLES = 120


@pytest.fixture(scope="module")
def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.fail("chromium not found: `make system-deps` installs it (apt-get install chromium)", pytrace=False)
    return path


def test_a_short_run_measures_the_page_and_adds_up(chromium: str, data_dir: Path, tmp_path: Path) -> None:
    options = dashboard.Options(vehicles=VEHICLES, minutes=0.1, sample_every_s=2.0, peer_minutes=0.05, quick=True)
    result = dashboard.run(data_dir=data_dir, options=options, out_dir=tmp_path)

    feeder = result["feeder"]
    assert feeder["errors"] == 0 and feeder["intervals"] >= 6
    assert feeder["reports_accepted"] == feeder["intervals"] * VEHICLES  # every report of every interval
    assert feeder["reports_per_s"] > 0 and feeder["interval_reports_p50_s"] > 0

    page = result["page"]
    assert page["vehicles_drawn"] == VEHICLES and page["console_errors"] == 0
    ws = page["websocket"]
    assert ws["first_full_items"] == VEHICLES  # the snapshot: the whole fleet
    # every vehicle moves every interval: an update carries at most the fleet, and most of it
    assert ws["changed_vehicles_max"] <= VEHICLES and ws["changed_vehicles_p50"] >= VEHICLES / 2
    # The page applied each `vehicles` message once: the first (warm-up) and the run's, all seen on the
    # socket (which may have carried a few more while the last memory samples were taken).
    applied = 1 + page["apply"]["count"]
    received = ws["vehicles_updates"] + ws["vehicles_full_messages"]
    assert applied >= 4 and applied <= received <= applied + 5
    assert page["applies_missed"] == 0
    assert page["first_apply_ms"] > 0
    a = page["apply"]
    assert 0 < a["p50_ms"] <= a["p95_ms"] <= a["max_ms"]
    assert page["frames"]["count"] > 0 and page["frames"]["p50_ms"] > 0
    assert page["paint"] is not None and page["paint"]["count"] > 0  # the page times its canvas redraws
    assert 0 < page["main_thread"]["busy"] <= 1
    heap = [s for s in page["samples"] if not s["after_gc"]]
    assert len(heap) >= 3 and all(s["js_heap_used_mb"] > 0 and s["dom_nodes"] > 0 for s in heap)
    assert page["heap_end_after_gc_mb"] > 0 and page["heap_max_mb"] == max(s["js_heap_used_mb"] for s in heap)
    assert ws["bytes_per_update_p50"] > 0 and ws["messages_by_type"]["hello"]["messages"] == 1

    server = result["dashboard_server"]
    assert server["rss_start_mb"] > 0 and server["rss_end_mb"] > 0 and server["rss_max_mb"] >= server["rss_end_mb"]
    assert server["cpu_share"] is not None and result["engine"]["cpu_share"] is not None

    peer = result["peer"]
    assert peer["vehicles_drawn"] == VEHICLES and peer["page_errors"] == []
    assert peer["first_apply_ms"] > 0 and peer["apply"]["count"] >= 1
    assert peer["paint"] is None  # the peer has no paint timing of its own

    assert json.loads((tmp_path / "dashboard.json").read_text())["feeder"] == feeder
    md = (tmp_path / "dashboard.md").read_text()
    assert "| apply one update: p50 / p95 / max (updates) |" in md and "Quick run" in md
    assert f"{VEHICLES} shared taxis" in md


def run_cli(args: list[str]) -> int:
    """``mobility ARGS``'s exit status (argparse's own errors exit through SystemExit)."""
    try:
        return main(args)
    except SystemExit as exc:
        return int(exc.code or 0)


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--vehicles", "0"], "--vehicles"),
        (["--vehicles", "20001"], "vehicles"),
        (["--interval", "0.01"], "interval"),
        (["--peer-minutes", "-1"], "peer_minutes"),
        (["--streams", "13"], "streams"),
        (["--network", "/nowhere/city.osm"], "network"),
    ],
)
def test_a_bad_option_is_one_line_naming_it(
    args: list[str], field: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(["bench", "dashboard", "--quick", "--out", str(tmp_path), *args]) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "error" in line]
    assert len(lines) == 1 and field in lines[0] and "Traceback" not in err, err
    assert not (tmp_path / "dashboard.json").exists()
