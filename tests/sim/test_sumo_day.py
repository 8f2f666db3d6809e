"""A service day with SUMO driving the fleet (closed loop), checked by the independent recount."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from matching.deployment import ConfigError
from sim.kpi import validate
from sim.scenario import Scenario, ScenarioError
from sim.simulator import Simulation
from tests.sim.test_simulator import small_doc, small_scenario

REPO = Path(__file__).resolve().parents[2]


def sumo_day(data_dir: Path, seed: int = 3) -> Simulation:
    sc = small_scenario(data_dir, traffic={"model": "sumo", "update_minutes": 15})
    sim = Simulation(sc, seed=seed)
    sim.setup()
    sim.output = sim.run()  # type: ignore[attr-defined]
    return sim


@pytest.fixture(scope="module")
def day(data_dir: Path) -> Simulation:
    return sumo_day(data_dir)


def test_every_request_ends_and_the_recount_finds_only_reported_lateness(day: Simulation) -> None:
    out = day.output  # type: ignore[attr-defined]
    assert len(out.rides) == len(day.demand) > 50
    assert {r.outcome for r in out.rides} <= {"completed", "rejected", "cancelled", "no_show"}
    assert sum(r.outcome == "completed" for r in out.rides) > 0.5 * len(out.rides)
    # SUMO's drive times differ from the plan's (signals, junctions, leaving a stop): a vehicle
    # may be late; the dispatcher reports each such ride, and nothing else may go wrong.
    late = {e.ride_id for e in day.dispatcher.events if e.kind == "late"}
    for problem in validate(out, max_per_kind=10_000):
        assert "outside its promised window" in problem or "exceeds max_ride_s" in problem, problem
        assert any(f"ride {rid}:" in problem for rid in late), problem


def test_sumo_drove_the_engine_paths(day: Simulation) -> None:
    out = day.output  # type: ignore[attr-defined]
    assert day.timings["sumo_teleports"] == 0
    ratios, times = [], []
    for d in out.drives[:-10]:  # the drives back to the depots after the day are not simulated
        if d.from_stop == d.to_stop or len(d.nodes) < 2:
            continue
        lengths = [
            int(day.network.length_m[day.network.edge_id(a, b)]) for a, b in zip(d.nodes, d.nodes[1:], strict=False)
        ]
        if sum(lengths) > 100:
            ratios.append(d.length_m / sum(lengths))
            times.append(d.arrive_s - d.depart_s)
    assert len(ratios) > 20
    # SUMO's odometer over the drive against the engine path: the same streets (the stop stands
    # on the last edge long enough to stop on, and a missing turn makes a small detour)
    assert 0.9 < float(np.median(ratios)) < 1.1
    assert min(times) > 0


def test_the_router_learns_sumo_travel_times(day: Simulation) -> None:
    free = day.network.travel_time_s.astype(np.float64)
    now = day.router.network.travel_time_s.astype(np.float64)
    # after the last update the router's times are SUMO's measurements: slower where the
    # vehicles met red lights and queues, free flow where nobody drove; never faster
    assert (now >= free - 1).all()
    assert (now > free * 1.2).any()


def test_same_seed_same_day_in_sumo(data_dir: Path, day: Simulation) -> None:
    again = sumo_day(data_dir)
    a = [(r.ride_id, r.outcome, r.vehicle_id, r.pickup_s, r.dropoff_s) for r in day.output.rides]  # type: ignore[attr-defined]
    b = [(r.ride_id, r.outcome, r.vehicle_id, r.pickup_s, r.dropoff_s) for r in again.output.rides]  # type: ignore[attr-defined]
    assert a == b


def test_bad_traffic_settings_are_clear_errors(data_dir: Path) -> None:
    with pytest.raises(ScenarioError, match=r"traffic\.model"):
        Scenario.from_dict(small_doc(traffic={"model": "vissim"}), data_dir=data_dir)
    with pytest.raises(ScenarioError, match=r"traffic\.signals"):
        Scenario.from_dict(small_doc(traffic={"model": "sumo", "signals": "green"}), data_dir=data_dir)
    with pytest.raises(ScenarioError, match=r"traffic\.background_vph"):
        Scenario.from_dict(small_doc(traffic={"model": "sumo", "background_vph": -5}), data_dir=data_dir)
    doc = small_doc(traffic={"model": "sumo"})
    doc["network"] = {"kind": "benchmark", "path": "rideshare/manhattan"}
    with pytest.raises((ConfigError, ScenarioError), match=r"traffic\.model"):
        sim = Simulation(Scenario.from_dict(doc, data_dir=data_dir))
        sim.setup()


def test_cli_simulate_with_traffic_sumo(data_dir: Path, tmp_path: Path) -> None:
    scenario = tmp_path / "tiny.toml"
    scenario.write_text(
        "\n".join(
            [
                '[scenario]\nname = "tiny"\nseed = 2\nstart = "07:00"\nend = "07:40"',
                f'[network]\nkind = "osm"\npath = "{data_dir / "osm" / "seoul_jamsil.osm"}"',
                '[stops]\nkind = "virtual"\nspacing_m = 400',
                '[fleet]\nvehicles = 2\nseats = 6\nshift_start = "07:00"\nshift_end = "08:00"',
                '[demand]\nkind = "profile"\ntotal = 15\nprofile = "flat"',
                '[traffic]\nmodel = "bpr"',
            ]
        )
    )
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "mobility.cli", "simulate", str(scenario), "--traffic", "sumo", "--no-plots"]
    done = subprocess.run([*cmd, "--out", str(out)], capture_output=True, text=True, cwd=REPO, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["meta"]["overrides"]["traffic.model"] == "sumo"
    bad = subprocess.run([*cmd[:-3], "--traffic", "vissim"], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert bad.returncode == 2 and "--traffic" in bad.stderr and "Traceback" not in bad.stderr


def test_cross_check_bpr_against_sumo(data_dir: Path, tmp_path: Path) -> None:
    from sim.sumo.crosscheck import cross_check, plot, to_markdown

    sc = small_scenario(data_dir, traffic={"model": "bpr", "update_minutes": 15})
    result = cross_check(sc, seed=4)
    assert set(result["summary"]) == {"bpr", "sumo"}
    for model in ("bpr", "sumo"):
        s = result["summary"][model]
        assert s["completed"] > 0 and 0 < s["service_rate"] <= 1 and s["vehicle_km"] > 0
    t = sc.traffic
    top = 1 + t.alpha * max(max(t.vc_major), max(t.vc_minor)) ** t.beta
    rows = [r for r in result["by_hour"] if r["bpr_drives"]]
    assert rows and any(r["sumo_drives"] for r in result["by_hour"])
    for r in rows:  # under BPR a drive takes the router's time: free flow times the hour's factor
        assert 0.99 <= r["bpr_ratio"] <= top + 0.01, r
    # nobody drives faster than free flow in SUMO either (the engine's speeds are limits there)
    for r in result["by_hour"]:
        if r["sumo_drives"]:
            assert r["sumo_ratio"] > 0.7, r
    md = to_markdown(result)
    assert "| hour | road |" in md and "BPR" in md and "SUMO" in md
    plot(result, tmp_path / "x.png")
    assert (tmp_path / "x.png").stat().st_size > 1000


def test_cli_gui_needs_sumo_and_a_display(tmp_path: Path) -> None:
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    base = [sys.executable, "-m", "mobility.cli", "simulate", "imod_jamsil", "--gui", "--out", str(tmp_path / "g")]
    no_sumo = subprocess.run(base, capture_output=True, text=True, cwd=REPO, timeout=120, env=env)
    assert no_sumo.returncode == 2 and "--traffic sumo" in no_sumo.stderr
    no_display = subprocess.run(
        [*base, "--traffic", "sumo"], capture_output=True, text=True, cwd=REPO, timeout=120, env=env
    )
    assert no_display.returncode == 2 and "display" in no_display.stderr and "Traceback" not in no_display.stderr


def test_traffic_kpis_of_the_day(day: Simulation, tmp_path: Path) -> None:
    from sim.report import write_report

    out = day.output  # type: ignore[attr-defined]
    report = out.extras["traffic"]
    k = report.kpis()
    assert k["signals"] > 0 and k["real_time_factor"] > 1
    hours = [r["hour"] for r in k["by_hour"]]
    assert hours == sorted(hours) and set(hours) <= set(range(7, 12))
    top_speed_kmh = 3.6 * max(float(s) for s in day.network.length_m / np.maximum(day.network.travel_time_s, 1))
    for r in k["by_hour"]:
        assert r["vehicles_mean"] >= 0 and r["queue_mean"] >= 0 and r["queue_max"] >= 0
        if r["mean_speed_kmh"] is not None:
            assert 0 <= r["mean_speed_kmh"] <= top_speed_kmh + 1
    assert any(r["mean_speed_kmh"] for r in k["by_hour"])
    files = write_report(out, tmp_path, plots=False)
    assert (tmp_path / "traffic.csv").read_text().startswith("hour,vehicles_mean,mean_speed_kmh")
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["extras"]["traffic"]["signals"] == k["signals"]
    assert "traffic" in files


def test_cli_crosscheck_refuses_an_out_that_is_a_file(tmp_path: Path) -> None:
    taken = tmp_path / "results"
    taken.write_text("")
    cmd = [sys.executable, "-m", "mobility.cli", "crosscheck", "imod_jamsil", "--out", str(taken)]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 2 and f"--out: {taken} is a file, not a folder" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    taxi = subprocess.run([*cmd[:4], "imoa_dongjak"], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert taxi.returncode == 2 and "shared-taxi" in taxi.stderr


def test_a_day_with_background_traffic(data_dir: Path) -> None:
    sc = small_scenario(
        data_dir,
        scenario={"start": "07:30", "end": "08:30"},
        demand={"total": 30},
        traffic={"model": "sumo", "update_minutes": 15, "background_vph": 1200},
    )
    sim = Simulation(sc, seed=2)
    sim.setup()
    out = sim.run()
    assert {r.outcome for r in out.rides} <= {"completed", "rejected", "cancelled", "no_show"}
    late = {e.ride_id for e in sim.dispatcher.events if e.kind == "late"}
    for problem in validate(out, max_per_kind=10_000):
        assert "outside its promised window" in problem or "exceeds max_ride_s" in problem, problem
        assert any(f"ride {rid}:" in problem for rid in late), problem
    rows = out.extras["traffic"].kpis()["by_hour"]
    # the background cars are on the roads: far more vehicles than the 3 minibuses, and queues
    assert max(r["vehicles_mean"] for r in rows) > 10
    assert max(r["queue_max"] for r in rows) > 0
