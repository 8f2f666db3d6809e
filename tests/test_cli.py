"""The ``mobility`` command line: ``solve`` writes checked JSON, bad files fail in one line, help works;
``demo`` and ``simulate`` write a day's report with consistent KPIs; ``network build`` and ``network route``
summarise, cache and route on the bundled network."""

from __future__ import annotations

import csv
import itertools
import json
import math
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import routing
from mobility.cli import main
from routing import RoadNetwork
from routing.checker import check_solution_file
from routing.instances import read_cordeau_darp, read_li_lim
from routing.problem import DELIVERY, PICKUP, PDProblem
from tests.naive import network_distances

SOLUTION_KEYS = {
    "instance",
    "routes",
    "cost",
    "num_vehicles",
    "feasible",
    "runtime_s",
    "seed",
    "time_limit_s",
    "iterations",
    "unassigned",
}


def _assert_solution(problem: PDProblem, path: Path, iterations: int) -> dict:
    data = json.loads(path.read_text())
    assert set(data) == SOLUTION_KEYS
    assert data["instance"] == problem.name
    assert data["iterations"] == iterations and data["time_limit_s"] is None and data["seed"] == 0
    # One non-empty route per used vehicle, the instance's request nodes only (no depots), each once.
    routes = data["routes"]
    assert routes and all(routes) and len(routes) == data["num_vehicles"]
    visited = [node for route in routes for node in route]
    request_nodes = {int(n) for n in problem.pickup} | {int(n) for n in problem.delivery}
    assert sorted(visited) == sorted(request_nodes)
    assert all(problem.kind[node] in (PICKUP, DELIVERY) for node in visited)
    assert data["unassigned"] == []
    report = check_solution_file(problem, path)
    assert report.feasible, report.violations
    assert report.warnings == []  # the claimed cost, vehicles and verdict are the checker's
    return data


def test_solve_darp_writes_json_the_checker_accepts(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture):
    instance = data_dir / "darp" / "cordeau2006" / "a2-16.txt"
    out = tmp_path / "a2-16.json"
    assert main(["solve", "darp", str(instance), "--iterations", "200", "--out", str(out)]) == 0
    problem = read_cordeau_darp(instance)
    data = _assert_solution(problem, out, 200)
    depots = {0, 2 * problem.num_requests + 1}
    assert not depots & {node for route in data["routes"] for node in route}
    printed = capsys.readouterr().out
    assert "a2-16" in printed and "feasible" in printed and str(out) in printed


def test_solve_pdptw_writes_json_the_checker_accepts(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture):
    instance = data_dir / "pdptw" / "li_lim_100" / "lc101.txt"
    out = tmp_path / "lc101.json"
    assert main(["solve", "pdptw", str(instance), "--iterations", "200", "--out", str(out)]) == 0
    problem = read_li_lim(instance)
    data = _assert_solution(problem, out, 200)
    tasks = problem.num_nodes - 1  # node N (the added end depot) is not one of the file's tasks
    assert all(1 <= node < tasks for route in data["routes"] for node in route)
    assert "10 vehicles" in capsys.readouterr().out  # lc101's best-known fleet, found within 200 iterations


def test_solve_with_a_bad_file_fails_in_one_line(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture):
    missing = tmp_path / "missing.txt"
    assert main(["solve", "darp", str(missing), "--out", str(tmp_path / "x.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(missing) in err[0] and "file not found" in err[0]

    li_lim = data_dir / "pdptw" / "li_lim_100" / "lc101.txt"
    assert main(["solve", "darp", str(li_lim), "--out", str(tmp_path / "x.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "header should have 5 fields" in err[0] and "mobility solve pdptw" in err[0]

    garbage = tmp_path / "garbage.txt"
    garbage.write_text("not an instance\n")
    assert main(["solve", "pdptw", str(garbage), "--out", str(tmp_path / "x.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(garbage) in err[0]
    assert not (tmp_path / "x.json").exists()


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["solve", "--help"],
        ["solve", "darp", "--help"],
        ["bench", "darp", "--help"],
        ["bench", "pdptw", "--help"],
    ],
)
def test_help_exits_zero(argv: list[str], capsys: pytest.CaptureFixture):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 0
    assert "usage: mobility" in capsys.readouterr().out


def test_the_module_runs_as_a_program():
    res = subprocess.run([sys.executable, "-m", "mobility.cli", "--help"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0
    assert "solve" in res.stdout and "bench" in res.stdout


# ---------------------------------------------------------------------------- demo and simulate
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
REPORT_CSVS = ("rides.csv", "vehicles.csv", "drives.csv")
PLOTS = ("map.png", "occupancy.png", "wait_times.png")


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _assert_report(out: Path, *, requests: int, vehicles: int, max_wait_s: int) -> dict[str, Any]:
    """The report folder of a simulated day: its files, and KPIs that agree with its CSV files
    and are plausible for a day of minibuses in a city. Returns the KPIs."""
    for name in ("summary.json", *REPORT_CSVS):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    summary = json.loads((out / "summary.json").read_text())
    kpis = summary["kpis"]
    rides, fleet_rows = _rows(out / "rides.csv"), _rows(out / "vehicles.csv")
    outcomes = Counter(r["outcome"] for r in rides)
    req = kpis["requests"]
    assert req["total"] == len(rides) == summary["meta"]["requests"] == requests
    assert (req["completed"], req["cancelled"], req["no_show"]) == (
        outcomes["completed"],
        outcomes["cancelled"],
        outcomes["no_show"],
    )
    assert req["booked"] + req["rejected"] == requests
    assert req["service_rate"] == pytest.approx(req["completed"] / requests, abs=1e-4)
    assert req["service_rate"] > 0.5, req  # a working service serves most of its requests
    completed = [r for r in rides if r["outcome"] == "completed"]
    waits = [int(r["wait_s"]) for r in completed]
    assert kpis["wait_s"]["count"] == len(completed) and kpis["wait_s"]["max"] == max(waits)
    assert min(waits) >= 0 and max(waits) <= max_wait_s  # nobody waits beyond the promise
    assert kpis["punctuality"]["pickup_in_window_share"] > 0.95
    assert kpis["fleet"]["vehicles"] == len(fleet_rows) == vehicles
    dist = kpis["distance"]
    assert dist["vehicle_km"] == pytest.approx(sum(float(v["driven_km"]) for v in fleet_rows), rel=1e-3)
    assert dist["passenger_km"] == pytest.approx(sum(float(v["passenger_km"]) for v in fleet_rows), rel=1e-3)
    assert 0 < dist["empty_share"] < 1 and dist["vehicle_km"] > 0
    speed_kmh = dist["vehicle_km"] / kpis["fleet"]["busy_hours"]
    assert 10 < speed_kmh < 80, speed_kmh  # driving speed in a city
    assert kpis["revenue"]["fare_krw"] == sum(int(r["fare_krw"]) for r in completed)
    return kpis


def test_demo_simulates_the_bundled_day(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """``mobility demo``: the bundled I-MOD day (16 minibuses, 450 requests), its report and KPIs."""
    out = tmp_path / "demo"
    assert main(["demo", "--data-dir", str(data_dir), "--out", str(out)]) == 0
    _assert_report(out, requests=450, vehicles=16, max_wait_s=900)
    for name in PLOTS:
        data = (out / name).read_bytes()
        assert data[:8] == PNG_MAGIC and len(data) > 1000, name
    printed = capsys.readouterr().out
    assert "simulating imod_jamsil" in printed and "requests  450" in printed
    assert f"report:  {out}/" in printed
    # make demo says how to watch the day in the dashboard, and the folder it names replays
    assert f"replay:  mobility dashboard --run {out}" in printed
    from dashboard.replay import ReplayDay

    day = ReplayDay.open(out)
    assert day.start_s < day.end_s and len(day.vehicles_at(day.start_s)) == 16


#: A short day of the bundled scenario's kind: 4 vans, 60 requests between 07:00 and 09:00.
SHORT_DAY = """
[scenario]
name = "short_day"
description = "four vans in Jamsil for a morning"
seed = 7
start = "07:00"
end = "09:00"

[network]
kind = "osm"
path = "osm/seoul_jamsil.osm"

[stops]
kind = "virtual"
spacing_m = 300

[fleet]
vehicles = 4
seats = 8
wheelchair_places = 1
shift_start = "07:00"
shift_end = "09:30"

[service]
max_wait_s = 600
max_walk_m = 400
service_start_s = 25200
service_end_s = 32400

[fares]
policy = "imod"

[demand]
kind = "profile"
total = 60
profile = "two_peaks"
prebook_share = 0.1
prebook_lead_min = [20, 60]
lead_max_min = 2
group_sizes = { 1 = 0.8, 2 = 0.2 }
rider_classes = { adult = 1.0 }
wheelchair_share = 0.0
cancel_probability = 0.05
no_show_probability = 0.05

[traffic]
model = "bpr"
update_minutes = 30

[dispatch]
reoptimise_every_s = 300
reoptimise_iterations = 40
"""


def test_simulate_a_scenario_file_same_seed_same_day(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """``mobility simulate FILE``: a scenario written here, without plots; a seed gives one day."""
    scenario = tmp_path / "short_day.toml"
    scenario.write_text(SHORT_DAY)
    days = {}
    for label, seed in (("a", "3"), ("b", "3"), ("c", "4")):
        out = tmp_path / label
        argv = ["simulate", str(scenario), "--data-dir", str(data_dir), "--out", str(out), "--seed", seed]
        assert main([*argv, "--no-plots"]) == 0
        kpis = _assert_report(out, requests=60, vehicles=4, max_wait_s=600)
        assert not list(out.glob("*.png"))
        summary = json.loads((out / "summary.json").read_text())
        assert (summary["scenario"], summary["seed"]) == ("short_day", int(seed))
        assert kpis["requests"]["completed"] > 0
        days[label] = (out / "rides.csv").read_text()
        printed = capsys.readouterr().out
        assert "simulating short_day: four vans in Jamsil for a morning" in printed and str(out) in printed
    assert days["a"] == days["b"]  # same seed, same day
    assert days["a"] != days["c"]


# ---------------------------------------------------------------------------- network build / route
def test_network_build_summarises_the_network_and_caches_it(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture, jamsil_net: RoadNetwork
) -> None:
    osm = data_dir / "osm" / "seoul_jamsil.osm"
    argv = ["network", "build", str(osm), "--cache-dir", str(tmp_path), "-q"]
    assert main([*argv, "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert (first["nodes"], first["edges"]) == (jamsil_net.num_nodes, jamsil_net.num_edges)
    assert first["road_km"] == round(float(jamsil_net.length_m.sum()) / 1000, 2)  # every directed edge
    assert 10 < first["mean_speed_kph"] < 80  # free flow in a city
    assert first["stops"]["count"] == len(routing.virtual_stops(jamsil_net, spacing_m=300))
    assert first["ch"]["shortcuts"] > 0 and first["query_p50_us"] > 0
    assert first["from_cache"] is False and first["ch"]["from_cache"] is False
    assert Path(first["cache_path"]).is_file() and Path(first["cache_path"]).is_relative_to(tmp_path)
    # The second build reads the network and its hierarchy from the cache.
    assert main([*argv, "--json", "--stop-spacing", "500"]) == 0
    second = json.loads(capsys.readouterr().out)
    assert second["from_cache"] is True and second["ch"]["from_cache"] is True
    assert (second["nodes"], second["edges"], second["ch"]["shortcuts"]) == (
        first["nodes"],
        first["edges"],
        first["ch"]["shortcuts"],
    )
    assert second["stops"]["count"] == len(routing.virtual_stops(jamsil_net, spacing_m=500)) < first["stops"]["count"]
    # The text summary says the same.
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert f"{first['nodes']:,} nodes, {first['edges']:,} directed edges" in text
    assert f"hierarchy    {first['ch']['shortcuts']:,} shortcuts, loaded from the cache" in text


def test_network_route_gives_the_shortest_path(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture, jamsil_net: RoadNetwork
) -> None:
    """``mobility network route``: two points at network nodes far apart; the travel time is the
    shortest one (a plain Dijkstra's), the path runs from one to the other along the roads."""
    net = jamsil_net
    a = 0
    b = int(np.argmax(np.hypot(net.lat - net.lat[a], net.lon - net.lon[a])))
    frm, to = f"{net.lat[a]:.7f},{net.lon[a]:.7f}", f"{net.lat[b]:.7f},{net.lon[b]:.7f}"
    osm = data_dir / "osm" / "seoul_jamsil.osm"
    argv = ["network", "route", str(osm), "--from", frm, "--to", to, "--cache-dir", str(tmp_path), "-q"]
    assert main([*argv, "--json"]) == 0
    route = json.loads(capsys.readouterr().out)
    assert (route["from_node"], route["to_node"]) == (a, b)
    assert route["from_snap_m"] < 1 and route["to_snap_m"] < 1
    assert route["travel_time_s"] == int(network_distances(net, a)[b]) > 0
    path = route["path_lat_lon"]
    assert route["edges"] == len(path) - 1 >= 1
    assert path[0] == pytest.approx([net.lat[a], net.lon[a]], abs=1e-6)
    assert path[-1] == pytest.approx([net.lat[b], net.lon[b]], abs=1e-6)
    # The length: at least the straight line between the ends, and the sum of its legs' straight lines.
    legs = sum(_metres(p, q) for p, q in itertools.pairwise(path))
    assert _metres(path[0], path[-1]) <= legs <= route["length_m"] * 1.01
    assert route["length_m"] < 3 * _metres(path[0], path[-1])
    # The text answer says the same.
    assert main(argv) == 0
    text = capsys.readouterr().out
    minutes, seconds = divmod(route["travel_time_s"], 60)
    km = route["length_m"] / 1000
    assert f"travel time {minutes} min {seconds} s, {km:.2f} km over {route['edges']} edges" in text


def _metres(p: list[float], q: list[float]) -> float:
    """Great-circle distance between two (lat, lon) points."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*p, *q))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6_371_000 * math.asin(math.sqrt(h))
