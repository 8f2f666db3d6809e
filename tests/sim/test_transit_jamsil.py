"""The bundled feeder scenario (route set + plan) for an hour and a half, and the same lines read
back from a GTFS feed written by the planning wing."""

from __future__ import annotations

import copy
import csv
import json
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sim.report import write_report
from sim.scenario import Scenario
from sim.simulator import Simulation
from sim.transit import LinesSpec, TransitLines, TransitOutput, build_lines

REPO = Path(__file__).resolve().parents[2]
SCENARIO = REPO / "scenarios" / "imod_feeder_jamsil.toml"


def short_doc() -> dict[str, Any]:
    doc = tomllib.loads(SCENARIO.read_text())
    doc["scenario"].update(start="07:00", end="08:30")
    doc["lines"].update(first="07:00", last="08:15")
    return doc


@pytest.fixture(scope="module")
def day(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Simulation, Path]:
    sc = Scenario.from_dict(short_doc(), base=SCENARIO.parent, data_dir=data_dir, source=SCENARIO)
    sim = Simulation(sc)
    sim.setup()
    out = sim.run()
    folder = tmp_path_factory.mktemp("feeder_day")
    write_report(out, folder, plots=False)
    return sim, folder


def test_both_modes_in_the_report(day: tuple[Simulation, Path]) -> None:
    _, folder = day
    summary = json.loads((folder / "summary.json").read_text())
    transit, journeys = summary["extras"]["transit"], summary["extras"]["journeys"]
    assert transit["lines"] == 6 and transit["by_status"].get("completed", 0) > 100
    assert journeys["completed"] > 0 and journeys["drt_legs_completed"] >= journeys["completed"]
    with open(folder / "rides.csv", newline="") as fh:
        rides = list(csv.DictReader(fh))
    fed = [r for r in rides if r["journey_id"]]
    assert len(fed) >= journeys["drt_legs_completed"] and len(rides) > len(fed)  # and the zone's own riders
    with open(folder / "transit_trips.csv", newline="") as fh:
        riders = list(csv.DictReader(fh))
    assert len(riders) == transit["passengers"]
    assert sum(1 for r in riders if r["journey_id"]) >= journeys["bus_legs_completed"]
    for name in ("lines.csv", "line_loads.csv", "bus_stop_calls.csv", "journeys.csv"):
        assert (folder / name).stat().st_size > 100


def test_recount_boardings_from_the_stop_calls(day: tuple[Simulation, Path]) -> None:
    _, folder = day
    with open(folder / "bus_stop_calls.csv", newline="") as fh:
        calls = list(csv.DictReader(fh))
    with open(folder / "lines.csv", newline="") as fh:
        lines = {r["line"]: r for r in csv.DictReader(fh)}
    for name, row in lines.items():
        mine = [c for c in calls if c["line"] == name]
        assert sum(int(c["boarded"]) for c in mine) == int(row["boardings"])
        # load after a stop = load before + boarded - alighted, trip by trip
        trips: dict[str, list[dict[str, str]]] = {}
        for c in mine:
            trips.setdefault(c["trip_id"], []).append(c)
        for seq in trips.values():
            load = 0
            for c in sorted(seq, key=lambda c: int(c["stop_index"])):
                load += int(c["boarded"]) - int(c["alighted"])
                assert load == int(c["load_after"])
            assert load == 0


def test_planning_att_beside_the_simulated(day: tuple[Simulation, Path]) -> None:
    _, folder = day
    pc = json.loads((folder / "summary.json").read_text())["extras"]["transit"]["planning"]
    design = json.loads((REPO / "scenarios" / "routes_jamsil.json").read_text())
    assert pc["evaluator_att_min"] == pytest.approx(design["att_min"], rel=1e-9)
    # traffic and dwell make the simulated ride longer than the planning graph's link times
    assert pc["simulated_att_min"] > pc["evaluator_att_same_trips_min"]
    assert pc["simulated_att_with_wait_min"] > pc["simulated_att_min"]


def test_gtfs_feed_gives_the_same_lines(day: tuple[Simulation, Path], tmp_path: Path) -> None:
    from planning import load_city, read_route_set, set_frequencies, write_gtfs

    sim, _ = day
    comp = next(c for c in sim.components if isinstance(c, TransitLines))
    assert comp.lines is not None
    city = load_city(REPO / "scenarios" / "plan_jamsil.toml")
    routes = read_route_set(REPO / "scenarios" / "routes_jamsil.json", city.problem)
    freqs = set_frequencies(city.problem, routes, fleet=40)
    feed = write_gtfs(tmp_path / "feed.zip", city.problem, routes, freqs, service_start="07:00:00",
                      service_end="08:00:00")  # fmt: skip
    spec = LinesSpec(gtfs=feed)
    gtfs = build_lines(spec, sim.network, lambda u, v: int(sim.router.travel_time(u, v)), start_s=7 * 3600,
                       end_s=int(8.5 * 3600))  # fmt: skip
    assert len(gtfs.line_names) == len(routes) and len(gtfs.patterns) == 2 * len(routes)
    want = sorted(tuple(comp.lines.node_road[p.nodes].tolist()) for p in comp.lines.patterns)
    got = sorted(tuple(gtfs.node_road[p.nodes].tolist()) for p in gtfs.patterns)
    assert got == want
    for p in gtfs.patterns:  # departures every headway from 07:00 (frequencies.txt), before 08:00
        h = freqs.headway_min[p.line] * 60
        deps = p.departures_s
        assert deps[0] == 7 * 3600 and deps[-1] < 8 * 3600
        assert np.allclose(np.diff(deps), round(h), atol=1)


def test_a_short_day_with_the_bundled_lines_runs_a_gtfs_feed(data_dir: Path, tmp_path: Path) -> None:
    """[lines] gtfs = ... in a scenario: the feed's trips run, riders drawn uniformly over the stops."""
    from planning import load_city, read_route_set, set_frequencies, write_gtfs

    city = load_city(REPO / "scenarios" / "plan_jamsil.toml")
    routes = read_route_set(REPO / "scenarios" / "routes_jamsil.json", city.problem)
    feed = write_gtfs(tmp_path / "feed.zip", city.problem, routes, set_frequencies(city.problem, routes, fleet=30),
                      service_start="07:00:00", service_end="07:40:00")  # fmt: skip
    doc = copy.deepcopy(short_doc())
    doc["scenario"].update(end="08:00")
    doc["lines"] = {"gtfs": str(feed), "trips": 2000}
    del doc["feeder"]
    sim = Simulation(Scenario.from_dict(doc, base=SCENARIO.parent, data_dir=data_dir, source=SCENARIO))
    sim.setup()
    out = sim.run()
    k = out.extras["transit"]
    assert isinstance(k, TransitOutput)
    assert k.kpis()["planning"] is None and k.kpis()["by_status"].get("completed", 0) > 10


def write_feed(folder: Path, stops: list[tuple[str, float, float]], trips: list[tuple[str, int, list[str]]]) -> Path:
    """A GTFS folder with one route, the given stops and trips (``id``, direction, stop times)
    and no frequencies or calendar."""
    folder.mkdir()
    (folder / "agency.txt").write_text("agency_id,agency_name,agency_url,agency_timezone\na,A,https://x.org,UTC\n")
    (folder / "routes.txt").write_text("route_id,agency_id,route_short_name,route_type\nr1,a,7,3\n")
    (folder / "stops.txt").write_text(
        "stop_id,stop_name,stop_lat,stop_lon\n" + "".join(f"{s},{s},{la},{lo}\n" for s, la, lo in stops)
    )
    (folder / "trips.txt").write_text(
        "route_id,service_id,trip_id,direction_id\n" + "".join(f"r1,s,{t},{d}\n" for t, d, _ in trips)
    )
    rows = []
    for t, d, times in trips:
        order = [s for s, _, _ in stops] if d == 0 else [s for s, _, _ in stops][::-1]
        rows += [f"{t},{tm},{tm},{s},{k + 1}\n" for k, (s, tm) in enumerate(zip(order, times, strict=True))]
    (folder / "stop_times.txt").write_text(
        "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n" + "".join(rows)
    )
    return folder


def test_gtfs_timetable_from_stop_times(day: tuple[Simulation, Path], tmp_path: Path) -> None:
    sim, _ = day
    comp = next(c for c in sim.components if isinstance(c, TransitLines))
    assert comp.lines is not None
    road = comp.lines.node_road[comp.lines.patterns[0].nodes[:3]]  # three stops of line L1
    net = sim.network
    stops = [(f"s{k}", float(net.lat[r]), float(net.lon[r])) for k, r in enumerate(road.tolist())]
    trips = [
        ("t1", 0, ["07:05:00", "07:08:00", "07:12:00"]),
        ("t2", 0, ["07:35:00", "07:38:30", "07:42:00"]),
        ("t3", 1, ["07:10:00", "07:14:00", "07:17:00"]),
    ]
    feed = write_feed(tmp_path / "feed", stops, trips)
    spec = LinesSpec(gtfs=feed)
    lines = build_lines(spec, net, lambda u, v: int(sim.router.travel_time(u, v)), start_s=7 * 3600,
                        end_s=9 * 3600)  # fmt: skip
    assert lines.line_names == ("7",)
    assert lines.node_road.tolist() == road.tolist()
    clock = lambda text: sum(int(x) * f for x, f in zip(text.split(":"), (3600, 60, 1), strict=True))  # noqa: E731
    by_dir = {p.direction: p for p in lines.patterns}
    assert by_dir[0].nodes.tolist() == [0, 1, 2] and by_dir[1].nodes.tolist() == [2, 1, 0]
    assert by_dir[0].schedule_s.tolist() == [[clock(t) for t in trips[0][2]], [clock(t) for t in trips[1][2]]]
    assert by_dir[1].schedule_s.tolist() == [[clock(t) for t in trips[2][2]]]
    assert by_dir[0].headway_min == 30.0
    # lines.first / lines.last keep the trips that leave between them
    late = build_lines(LinesSpec(gtfs=feed, first_s=clock("07:06:00")), net,
                       lambda u, v: int(sim.router.travel_time(u, v)), start_s=7 * 3600, end_s=9 * 3600)  # fmt: skip
    assert sorted(int(p.departures_s[0]) for p in late.patterns) == [clock("07:10:00"), clock("07:35:00")]


def test_an_unreadable_feed_is_one_line(day: tuple[Simulation, Path], tmp_path: Path) -> None:
    from matching.deployment import ConfigError

    sim, _ = day
    (tmp_path / "feed.zip").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ConfigError) as err:
        build_lines(LinesSpec(gtfs=tmp_path / "feed.zip"), sim.network, lambda u, v: 0, start_s=0, end_s=3600)
    assert err.value.field == "lines.gtfs" and "\n" not in str(err.value)


# ---------------------------------------------------------------------------- feeds that cannot run
def three_stops(sim: Simulation) -> list[tuple[str, float, float]]:
    comp = next(c for c in sim.components if isinstance(c, TransitLines))
    assert comp.lines is not None
    road = comp.lines.node_road[comp.lines.patterns[0].nodes[:3]]
    return [(f"s{k}", float(sim.network.lat[r]), float(sim.network.lon[r])) for k, r in enumerate(road.tolist())]


def feed_error(sim: Simulation, feed: Path) -> str:
    from matching.deployment import ConfigError

    with pytest.raises(ConfigError) as err:
        build_lines(LinesSpec(gtfs=feed), sim.network, lambda u, v: 60, start_s=7 * 3600, end_s=9 * 3600)
    text = str(err.value)
    assert err.value.field == "lines.gtfs" and "\n" not in text and text.startswith("lines.gtfs: ")
    return text


def test_a_feed_whose_service_lies_outside_the_day(day: tuple[Simulation, Path], tmp_path: Path) -> None:
    sim, _ = day
    trips = [("t1", 0, ["05:05:00", "05:08:00", "05:12:00"]), ("t2", 1, ["06:10:00", "06:14:00", "06:17:00"])]
    text = feed_error(sim, write_feed(tmp_path / "feed", three_stops(sim), trips))
    assert "the feed's trips depart 05:05 .. 06:10, none between 07:00 and 09:00" in text


@pytest.mark.parametrize(
    ("row", "want"),
    [
        ("t1,07:00:00,08:00:00,0", "frequencies.txt line 2 (trip 't1', route 'r1'): headway_secs 0"),
        ("t1,07:00:00,08:00:00,-60", "frequencies.txt line 2 (trip 't1', route 'r1'): headway_secs -60"),
        ("t1,08:00:00,07:00:00,600", "frequencies.txt line 2 (trip 't1', route 'r1'): start_time 08:00:00 is after "
         "end_time 07:00:00"),
        ("t1,7am,08:00:00,600", "frequencies.txt line 2 (trip 't1', route 'r1'): start_time '7am' is not a time"),
    ],
)  # fmt: skip
def test_frequencies_that_cannot_run_name_the_row(day: tuple[Simulation, Path], tmp_path: Path, row: str,
                                                  want: str) -> None:  # fmt: skip
    sim, _ = day
    feed = write_feed(tmp_path / "feed", three_stops(sim), [("t1", 0, ["07:00:00", "07:03:00", "07:06:00"])])
    (feed / "frequencies.txt").write_text(f"trip_id,start_time,end_time,headway_secs\n{row}\n")
    assert want in feed_error(sim, feed)


def test_good_frequencies_still_run(day: tuple[Simulation, Path], tmp_path: Path) -> None:
    sim, _ = day
    feed = write_feed(tmp_path / "feed", three_stops(sim), [("t1", 0, ["07:00:00", "07:03:00", "07:06:00"])])
    (feed / "frequencies.txt").write_text("trip_id,start_time,end_time,headway_secs\nt1,07:00:00,08:00:00,600\n")
    lines = build_lines(LinesSpec(gtfs=feed), sim.network, lambda u, v: 60, start_s=7 * 3600, end_s=9 * 3600)
    assert lines.patterns[0].departures_s.tolist() == [7 * 3600 + 600 * k for k in range(6)]  # 07:00 .. 07:50


def test_swapped_stop_coordinates_name_the_feed_and_the_stop(day: tuple[Simulation, Path], tmp_path: Path) -> None:
    sim, _ = day
    stops = three_stops(sim)
    swapped = [stops[0], (stops[1][0], stops[1][2], stops[1][1]), stops[2]]  # s1: (127.1, 37.5)
    text = feed_error(sim, write_feed(tmp_path / "feed", swapped, [("t1", 0, ["07:00:00", "07:03:00", "07:06:00"])]))
    assert f"stops.txt: stop 's1': ({stops[1][2]:g}, {stops[1][1]:g}) is not lat/lon" in text and "swapped?" in text


def test_a_feed_for_another_city(day: tuple[Simulation, Path], tmp_path: Path) -> None:
    sim, _ = day
    helsinki = [("s0", 60.170, 24.941), ("s1", 60.171, 24.945), ("s2", 60.172, 24.950)]
    text = feed_error(sim, write_feed(tmp_path / "feed", helsinki, [("t1", 0, ["07:00:00", "07:03:00", "07:06:00"])]))
    assert "stops.txt: none of the feed's 3 stops lies within lines.max_walk_m (500 m)" in text


@pytest.mark.parametrize(
    ("instance", "want"),
    [
        ("helsinki", "lines.routes: the route set is for 'helsinki', the plan is 'jamsil' ("),
        (None, "(is the route set for another plan than 'jamsil'?)"),
        ("jamsil", None),  # the right plan: the plain reason, no hint
    ],
)
def test_a_route_set_for_another_plan_says_so(day: tuple[Simulation, Path], tmp_path: Path, instance: str | None,
                                              want: str | None) -> None:  # fmt: skip
    from matching.deployment import ConfigError

    sim, _ = day
    doc: dict[str, Any] = {"routes": [["N7", "N999", "N3"]]}
    if instance is not None:
        doc["instance"] = instance
    (tmp_path / "routes.json").write_text(json.dumps(doc))
    spec = LinesSpec(routes=tmp_path / "routes.json", plan=REPO / "scenarios" / "plan_jamsil.toml")
    with pytest.raises(ConfigError) as err:
        build_lines(spec, sim.network, lambda u, v: 60, start_s=7 * 3600, end_s=9 * 3600)
    text = str(err.value)
    assert err.value.field == "lines.routes" and "\n" not in text and "N999" in text
    if want is None:
        assert "another plan" not in text and "is for" not in text
    else:
        assert want in text


def test_a_broken_route_set_file_gives_its_own_reason(day: tuple[Simulation, Path], tmp_path: Path) -> None:
    from matching.deployment import ConfigError

    sim, _ = day
    (tmp_path / "routes.json").write_text('{"routes": [["N7", "N8"]')  # cut short
    spec = LinesSpec(routes=tmp_path / "routes.json", plan=REPO / "scenarios" / "plan_jamsil.toml")
    with pytest.raises(ConfigError, match=r"^lines\.routes: .*not valid JSON") as err:
        build_lines(spec, sim.network, lambda u, v: 60, start_s=7 * 3600, end_s=9 * 3600)
    assert "another plan" not in str(err.value)
