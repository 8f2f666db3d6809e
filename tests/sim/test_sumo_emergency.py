"""Emergency vehicles with and without signal priority, in real SUMO: a hand-made signalised
corridor (netconvert from plain node/edge files written here) and the Jamsil network."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

import routing
from routing import InvalidArgumentError
from sim.sumo import build_sumo_network
from sim.sumo.emergency import (
    EmergencySpec,
    Incident,
    PriorityParams,
    default_stations,
    run_emergency,
)
from sim.sumo.tools import run_tool

#: x of the five signalised cross streets on the 2 km arterial (m)
SIGNAL_X = (300, 650, 1000, 1350, 1700)


def _write_corridor(folder: Path) -> tuple[Path, Path]:
    """A 2 km two-lane arterial (west to east, 50 km/h) with five signalised one-way cross
    streets (north to south), and background flows: 500 veh/h along the arterial and 450
    veh/h on each cross street, so that the signals matter."""
    nodes = ['<node id="W" x="0" y="0" type="priority"/>', '<node id="E" x="2000" y="0" type="priority"/>']
    edges = []
    chain = ["W"]
    for i, x in enumerate(SIGNAL_X):
        nodes.append(f'<node id="J{i}" x="{x}" y="0" type="traffic_light"/>')
        nodes.append(f'<node id="N{i}" x="{x}" y="250" type="priority"/>')
        nodes.append(f'<node id="S{i}" x="{x}" y="-250" type="priority"/>')
        edges.append(f'<edge id="N{i}J{i}" from="N{i}" to="J{i}" numLanes="1" speed="13.89"/>')
        edges.append(f'<edge id="J{i}S{i}" from="J{i}" to="S{i}" numLanes="1" speed="13.89"/>')
        chain.append(f"J{i}")
    chain.append("E")
    route = []
    for a, b in itertools.pairwise(chain):
        edges.append(f'<edge id="{a}{b}" from="{a}" to="{b}" numLanes="2" speed="13.89"/>')
        route.append(f"{a}{b}")
    (folder / "c.nod.xml").write_text("<nodes>\n" + "\n".join(nodes) + "\n</nodes>\n")
    (folder / "c.edg.xml").write_text("<edges>\n" + "\n".join(edges) + "\n</edges>\n")
    net = folder / "corridor.net.xml"
    run_tool(
        "netconvert",
        ["-n", str(folder / "c.nod.xml"), "-e", str(folder / "c.edg.xml"), "-o", str(net), "--no-turnarounds", "true"],
    )
    flows = [
        '<flow id="bg_art" begin="0" end="1500" vehsPerHour="500" route="art" departLane="best" departSpeed="max"/>'
    ]
    routes = [f'<route id="art" edges="{" ".join(route)}"/>']
    for i in range(len(SIGNAL_X)):
        routes.append(f'<route id="x{i}" edges="N{i}J{i} J{i}S{i}"/>')
        flows.append(f'<flow id="bg_x{i}" begin="0" end="1500" vehsPerHour="450" route="x{i}" departSpeed="max"/>')
    bg = folder / "bg.rou.xml"
    bg.write_text("<routes>\n" + "\n".join(routes + flows) + "\n</routes>\n")
    return net, bg


@pytest.fixture(scope="module")
def corridor(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, tuple[str, ...]]:
    folder = tmp_path_factory.mktemp("corridor")
    net, bg = _write_corridor(folder)
    route = ("WJ0", "J0J1", "J1J2", "J2J3", "J3J4", "J4E")
    return net, bg, route


@pytest.fixture(scope="module")
def corridor_result(corridor: tuple[Path, Path, tuple[str, ...]]):  # type: ignore[no-untyped-def]
    net, bg, route = corridor
    incidents = [
        Incident(
            id=f"ev{k}", dispatch_s=float(t), station="WJ0", route=route, arrival_pos_m=250.0,
            length_m=1950.0, free_flow_s=1950.0 / 13.89,
        )
        for k, t in enumerate((150, 400, 650, 900))
    ]  # fmt: skip
    spec = EmergencySpec(stations=("WJ0",), incidents=len(incidents), begin_s=0, end_s=1000, drain_s=400)
    return run_emergency(
        net, spec, seed=3, background_routes=bg, incidents=incidents, modes=("none", "bluelight", "priority")
    )


def test_priority_shortens_the_trip_and_never_stops_at_red(corridor_result) -> None:  # type: ignore[no-untyped-def]
    none, prio = corridor_result.modes["none"], corridor_result.modes["priority"]
    assert all(t.arrived for t in none.trips) and all(t.arrived for t in prio.trips)
    # without priority the signals matter: the vehicles meet red lights
    assert sum(t.red_stops for t in none.trips) >= 2
    assert sum(t.red_wait_s for t in none.trips) > 20
    # with priority: no stop at a red light, and every trip is shorter or equal, the total shorter
    assert [t.red_stops for t in prio.trips] == [0] * len(prio.trips)
    assert sum(t.red_wait_s for t in prio.trips) == 0
    for a, b in zip(none.trips, prio.trips, strict=True):
        assert b.response_s is not None and a.response_s is not None
        assert b.response_s <= a.response_s + 1.0, (a, b)
    assert sum(t.response_s or 0 for t in prio.trips) < sum(t.response_s or 0 for t in none.trips) - 20
    # the free-flow time is a bound no mode beats by much (speedFactor 1, 50 km/h)
    assert min(t.response_s or 0 for t in prio.trips) > 0.9 * 1950 / 13.89
    summary = corridor_result.summary()
    assert summary["priority"]["cut_mean_pct"] > 5
    assert summary["bluelight"]["arrived"] == len(prio.trips)


def test_signals_are_released_after_the_vehicle_passed(corridor_result) -> None:  # type: ignore[no-untyped-def]
    prio = corridor_result.modes["priority"]
    assert prio.signals_restored
    assert prio.holds_timed_out == 0  # each vehicle passed its signals well within max_hold_s
    touched = {h[0] for h in prio.holds}
    assert touched == {f"J{i}" for i in range(len(SIGNAL_X))}
    assert all(h[3] is not None and h[3] >= h[2] for h in prio.holds)
    # each hold ends soon after it began: the vehicle passed and the signal went back to its program
    assert max(h[3] - h[2] for h in prio.holds if h[3] is not None) < 60
    # and the holds of one vehicle are released in the order of its route
    ev0 = [h for h in prio.holds if h[1] == "ev0"]
    assert [h[0] for h in sorted(ev0, key=lambda h: h[3])] == [f"J{i}" for i in range(len(SIGNAL_X))]
    # back on the normal programs' own clocks: at the end every signal shows what it shows without priority
    assert prio.final_signals == corridor_result.modes["none"].final_signals
    assert len(prio.final_signals) == len(SIGNAL_X)
    # the cross traffic pays for it (the arterial's own traffic shares the green and gains)
    assert corridor_result.cross_delay_s("priority")["total_s"] > 100
    delay = corridor_result.others_delay_s("priority")
    assert delay["lost_s"] > 0 and delay["vehicles_slower"] > 0
    cross = [corridor_result.time_loss_by_prefix(m, "bg_x") for m in ("none", "priority")]
    assert cross[1] > cross[0]
    assert corridor_result.others_delay_s("none")["total_s"] == 0


def test_bad_values_name_the_field() -> None:
    with pytest.raises(InvalidArgumentError, match="incidents"):
        EmergencySpec(stations=("a",), incidents=0)
    with pytest.raises(InvalidArgumentError, match="end_s"):
        EmergencySpec(stations=("a",), begin_s=100, end_s=50)
    with pytest.raises(InvalidArgumentError, match="horizon_m"):
        PriorityParams(horizon_m=-1)


def test_jamsil_end_to_end(data_dir: Path, jamsil_net: routing.RoadNetwork, tmp_path: Path) -> None:
    path = data_dir / "osm" / "seoul_jamsil.osm"
    sumo = build_sumo_network(path, jamsil_net)
    stations = default_stations(sumo, jamsil_net, 2)
    assert len(stations) == 2
    spec = EmergencySpec(stations=stations, incidents=3, begin_s=0, end_s=600, drain_s=600)
    res = run_emergency(sumo, spec, seed=2, background_vph=600, workdir=tmp_path)
    assert len(res.incidents) == 3
    assert {inc.station for inc in res.incidents} <= set(stations)
    for mode in ("none", "bluelight", "priority"):
        assert all(t.arrived for t in res.modes[mode].trips), mode
    summary = res.summary()
    for mode in ("none", "bluelight", "priority"):
        assert summary[mode]["response_s"]["mean"] > 0
    assert "cut_mean_pct" in summary["priority"] and "others_delay" in summary["priority"]
    assert res.modes["priority"].signals_restored
    assert res.time_loss_by_prefix("none", "bg") > 0
    # the same seed draws the same incidents
    again = run_emergency(sumo, spec, seed=2, background_vph=600, modes=("none",))
    assert again.incidents == res.incidents
    assert [t.response_s for t in again.modes["none"].trips] == [t.response_s for t in res.modes["none"].trips]


def test_cli_writes_the_table_and_the_picture(tmp_path: Path, jamsil_net: routing.RoadNetwork, capsys) -> None:  # type: ignore[no-untyped-def]
    from mobility.cli import main

    scenario = tmp_path / "emg.toml"
    scenario.write_text(
        '[scenario]\nname = "emg"\nseed = 5\n[network]\nkind = "osm"\npath = "osm/seoul_jamsil.osm"\n'
        "[emergency]\nincidents = 2\nhours = 0.1\nbackground_vph = 300\ndrain_min = 10\n"
    )
    out = tmp_path / "out"
    assert main(["simulate-emergency", str(scenario), "--out", str(out), "--modes", "none,priority"]) == 0
    data = json.loads((out / "emergency.json").read_text())
    assert set(data["summary"]) == {"none", "priority"} and len(data["incidents"]) == 2
    assert "| priority |" in (out / "emergency.md").read_text()
    assert (out / "response_times.png").stat().st_size > 1000
    # a bad value is one line naming the option, exit 2
    assert main(["simulate-emergency", str(scenario), "--out", str(out), "--background-vph", "-5"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("mobility: error: --background-vph:") and "allowed" in err[-1]
    # --out that is a file: one line, before any simulation
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    assert main(["simulate-emergency", str(scenario), "--out", str(a_file)]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("mobility: error: --out:")
    scenario.write_text(scenario.read_text() + "horizon_m = 0\n")
    assert main(["simulate-emergency", str(scenario), "--out", str(out)]) == 2
    assert "emergency.horizon_m" in capsys.readouterr().err
