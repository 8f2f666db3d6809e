"""A simulated day's drives replayed in SUMO (the DRT fleet beside an emergency run)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from sim.simulator import Simulation
from sim.sumo import build_sumo_network
from sim.sumo.replay import DRT_PREFIX, write_fleet_routes
from sim.sumo.session import SumoSession
from tests.sim.test_simulator import small_scenario


def test_every_drive_is_replayed_and_arrives(data_dir: Path, tmp_path: Path) -> None:
    sc = small_scenario(data_dir, demand={"total": 40})
    sim = Simulation(sc)
    sim.setup()
    out = sim.run()
    sumo = build_sumo_network(
        sc.deployment.network.path, sim.network, build_options=sc.deployment.network.build_options()
    )
    routes = tmp_path / "drt.rou.xml"
    written, skipped = write_fleet_routes(out, sumo, sim.network, routes, end_s=sc.end_s)
    expected = [d for d in out.drives if len(d.nodes) >= 2 and d.depart_s < sc.end_s]
    assert skipped == 0 and written == len(expected) > 10
    vehicles = ET.parse(routes).getroot().findall("vehicle")
    departs = [float(v.get("depart", "nan")) for v in vehicles]
    assert departs == sorted(departs)
    assert sorted(departs) == sorted(float(d.depart_s) for d in expected)
    assert all(v.get("id", "").startswith(DRT_PREFIX) for v in vehicles)
    arrived: set[str] = set()
    with SumoSession(sumo.net_file, routes=[routes], begin_s=sc.start_s) as s:
        while s.simulation.getMinExpectedNumber() > 0 and s.simulation.getTime() < sc.end_s + 3600:
            s.simulation.step()
            arrived.update(s.simulation.getArrivedIDList())
    assert arrived == {v.get("id") for v in vehicles}


def test_simulate_emergency_with_the_drt_fleet(tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[2]
    out = tmp_path / "em"
    cmd = [sys.executable, "-m", "mobility.cli", "simulate-emergency", "imod_jamsil", "--incidents", "2"]
    cmd += ["--hours", "0.25", "--background-vph", "300", "--modes", "none,priority", "--fleet", "--out", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=repo, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    data = json.loads((out / "emergency.json").read_text())
    fleet = data["drt_fleet"]
    assert fleet["drives"] > 0
    assert fleet["none"]["delay_s"] == 0 and fleet["none"]["time_loss_s"] >= 0
    assert fleet["priority"]["time_loss_s"] >= 0
    delay = fleet["priority"]["time_loss_s"] - fleet["none"]["time_loss_s"]
    assert abs(fleet["priority"]["delay_s"] - delay) <= 0.11  # each figure rounded to 0.1 s
    assert "The DRT fleet" in (out / "emergency.md").read_text()
    bad = subprocess.run([*cmd[:-2], "--fleet-from", "25:00"], capture_output=True, text=True, cwd=repo, timeout=120)
    assert bad.returncode == 2 and "--fleet-from" in bad.stderr and "Traceback" not in bad.stderr
