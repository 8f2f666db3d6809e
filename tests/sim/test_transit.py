"""Bus lines in the simulated day on a tiny hand-made road network, checked by hand counts.

The network: nodes 0-1-2-3-4 on a straight street and a side street 2-5-6, every link 500 m
and 60 s both ways. Line A runs 0-1-2-3-4, line B 2-5-6 (both directions each).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from matching.deployment import ConfigError
from planning import RouteRules, TransitProblem
from sim.simulator import Simulation
from sim.transit import LineNetwork, LinesSpec, TransitLines, TransitOutput, parse_lines, plan_journeys
from tests.sim.transit_network import ARCS, LINK_S, T0, XY, tiny_lines, tiny_scenario, write_tiny_network


def run_day(folder: Path, lines: LineNetwork, spec: LinesSpec,
            passengers: list[tuple[int, int, int]] | None) -> tuple[TransitLines, TransitOutput]:  # fmt: skip
    comp = TransitLines(spec, lines=lines, passengers=passengers)
    sim = Simulation(tiny_scenario(folder), components=[comp])
    sim.setup()
    out = sim.run()
    extra = out.extras["transit"]
    assert isinstance(extra, TransitOutput)
    return comp, extra


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tiny")


# ---------------------------------------------------------------------------- hand counts
@pytest.fixture(scope="module")
def counted(folder: Path) -> tuple[TransitLines, TransitOutput]:
    spec = LinesSpec(seats=30, standing=40, dwell_base_s=10, dwell_per_boarding_s=3)
    lines = tiny_lines([[0, 1, 2, 3, 4]], [30.0], spec=spec)
    # one bus each way at 07:00; p1 0->3, p2 0->2, p3 1->4, p4 2->3 forwards; p5 4->0 back
    pax = [(0, 3, T0), (0, 2, T0), (1, 4, T0), (2, 3, T0), (4, 0, T0)]
    return run_day(folder, lines, spec, pax)


def test_load_profile_against_a_hand_count(counted: tuple[TransitLines, TransitOutput]) -> None:
    _, out = counted
    rows = out.segment_loads()
    fwd = [r["max_load"] for r in rows if r["direction"] == 0]
    back = [r["max_load"] for r in rows if r["direction"] == 1]
    # after stop 0: p1 p2; stop 1: + p3; stop 2: - p2 + p4; stop 3: - p1 - p4 (p3 stays to 4)
    assert fwd == [2, 3, 3, 1]
    assert back == [1, 1, 1, 1]
    assert [r["mean_load"] for r in rows if r["direction"] == 0] == [2.0, 3.0, 3.0, 1.0]
    line = out.line_rows()[0]
    assert line["boardings"] == 5 and line["denied_boardings"] == 0
    # passenger-km: forwards (2 + 3 + 3 + 1) x 0.5 km, back 4 x 1 x 0.5 km
    assert line["passenger_km"] == pytest.approx(0.5 * 9 + 0.5 * 4)
    assert out.kpis()["by_status"] == {"completed": 5}


def test_dwell_grows_with_boardings(counted: tuple[TransitLines, TransitOutput]) -> None:
    comp, _ = counted
    fwd = next(t for t in comp.trips if t.direction == 0)
    dwell = [c.depart_s - c.arrive_s for c in fwd.calls[:-1]]
    ons_offs = [c.boarded + c.alighted for c in fwd.calls[:-1]]
    assert ons_offs == [2, 1, 2, 2]
    assert dwell == [10 + 3 * k for k in ons_offs]
    # the next stop is reached one link later; the schedule counted the base dwell only
    for a, b in zip(fwd.calls[:-1], fwd.calls[1:], strict=True):
        assert b.arrive_s == a.depart_s + LINK_S
    assert fwd.delay_s == 3 * sum(ons_offs)


def test_buses_keep_their_headways_without_traffic(folder: Path) -> None:
    spec = LinesSpec(dwell_base_s=10, dwell_per_boarding_s=3)
    lines = tiny_lines([[0, 1, 2, 3, 4]], [10.0], spec=spec, last_s=T0 + 3600)
    comp, out = run_day(folder, lines, spec, [])
    fwd = [t for t in comp.trips if t.direction == 0]
    assert len(fwd) == 7  # 07:00, 07:10, ..., 08:00
    for stop in range(5):
        arrivals = [t.calls[stop].arrive_s for t in fwd]
        assert set(np.diff(arrivals).tolist()) == {600}
        assert arrivals[0] == T0 + stop * (LINK_S + 10)
    assert out.kpis()["delay_last_stop_s"]["max"] == 0


def test_nobody_boards_a_full_bus(folder: Path) -> None:
    spec = LinesSpec(seats=2, standing=0, dwell_base_s=0, dwell_per_boarding_s=0)
    lines = tiny_lines([[0, 1, 2, 3, 4]], [10.0], spec=spec, last_s=T0 + 3600)
    comp, out = run_day(folder, lines, spec, [(0, 2, T0)] * 5)
    assert max(c.load_after for t in comp.trips for c in t.calls) == 2
    waits = sorted(p.wait_s for p in comp.passengers)
    assert waits == [0, 0, 600, 600, 1200]
    assert out.kpis()["denied_boardings"] == 3 + 1  # 3 left behind by the first bus, 1 by the second
    assert out.kpis()["passengers_left_behind"] == 3
    assert out.line_rows()[0]["crowding_share"] == 0.0  # no standing places, so nobody stands


def test_transfers_counted(folder: Path) -> None:
    spec = LinesSpec(dwell_base_s=0, dwell_per_boarding_s=0)
    lines = tiny_lines([[0, 1, 2, 3, 4], [2, 5, 6]], [10.0, 10.0], spec=spec, last_s=T0 + 3600)
    comp, out = run_day(folder, lines, spec, [(0, 6, T0), (6, 4, T0), (0, 4, T0)])
    by_od = {(p.origin, p.destination): p for p in comp.passengers}
    assert by_od[(0, 6)].transfers == 1 and by_od[(0, 6)].lines_used == ["A", "B"]
    assert by_od[(6, 4)].transfers == 1 and by_od[(6, 4)].lines_used == ["B", "A"]
    assert by_od[(0, 4)].transfers == 0
    # 0 -> 6: A leaves 07:00, reaches 2 at 07:02; B leaves 2 at 07:10 (8 min wait), 2 links
    assert by_od[(0, 6)].wait_s == 8 * 60 and by_od[(0, 6)].in_vehicle_s == 4 * 60
    assert out.kpis()["transfers_per_trip"] == pytest.approx(2 / 3)


def test_journey_search_expected_times() -> None:
    spec = LinesSpec(dwell_base_s=0)
    lines = tiny_lines([[0, 1, 2, 3, 4], [2, 5, 6]], [10.0, 20.0], spec=spec)
    got = plan_journeys(lines, 0)
    # 0 -> 6: wait 5 + ride 2 + penalty 5 + wait 10 + ride 2
    assert got[6][:2] == (pytest.approx(24.0), 1)
    assert [leg[1:] for leg in got[6][2]] == [(0, 2), (0, 2)]
    assert got[3][:2] == (pytest.approx(8.0), 0)


# ---------------------------------------------------------------------------- planning vs simulation
def tiny_problem() -> TransitProblem:
    n = len(XY)
    t = np.full((n, n), np.inf)
    for a, b in ARCS:
        t[a, b] = t[b, a] = LINK_S / 60
    d = np.zeros((n, n))
    for (o, dd), q in {(0, 6): 30, (6, 0): 20, (1, 4): 40, (4, 5): 25, (3, 1): 15, (5, 2): 10}.items():
        d[o, dd] = q
    xy = np.asarray(XY, np.float64) * 500
    return TransitProblem("tiny", t, d, xy[:, 0], xy[:, 1], RouteRules(num_routes=2, min_stops=2, max_stops=10))


@pytest.mark.parametrize("dwell", [0.0, 20.0])
def test_simulated_att_against_the_evaluator(folder: Path, dwell: float) -> None:
    problem = tiny_problem()
    spec = LinesSpec(dwell_base_s=dwell, dwell_per_boarding_s=dwell / 4, trips=3000)
    lines = tiny_lines([[0, 1, 2, 3, 4], [2, 5, 6]], [10.0, 15.0], spec=spec, last_s=T0 + 7200, problem=problem)
    _comp, out = run_day(folder, lines, spec, None)
    pc = out.kpis()["planning"]
    assert pc["passengers_compared"] > 50
    # the same definition (in-vehicle + 5 min per transfer), the same passengers' OD pairs
    if dwell == 0:
        assert pc["simulated_att_min"] == pytest.approx(pc["evaluator_att_same_trips_min"], abs=1e-9)
    else:
        assert pc["simulated_att_min"] > pc["evaluator_att_same_trips_min"] + 0.1
    assert pc["simulated_att_with_wait_min"] > pc["simulated_att_min"] + 1.0
    # the whole OD table: the sample's mix differs a little from the table's
    assert pc["evaluator_att_min"] == pytest.approx(pc["evaluator_att_same_trips_min"], rel=0.1)


# ---------------------------------------------------------------------------- the section
@pytest.mark.parametrize(
    ("table", "field"),
    [
        ({"routes": "x.json"}, "lines.plan"),
        ({}, "lines.routes"),
        ({"gtfs": "feed.zip", "routes": "x.json", "plan": "p.toml"}, "lines.gtfs"),
        ({"routes": "x.json", "plan": "p.toml", "headway_min": 0}, "lines.headway_min"),
        ({"routes": "x.json", "plan": "p.toml", "headway_min": [10, "x"]}, "lines.headway_min[1]"),
        ({"routes": "x.json", "plan": "p.toml", "headway_min": 10, "fleet": 9}, "lines.fleet"),
        ({"gtfs": "feed.zip", "headway_min": 10}, "lines.headway_min"),
        ({"gtfs": "feed.zip", "seats": 0}, "lines.seats"),
        ({"gtfs": "feed.zip", "dwell_base_s": -1}, "lines.dwell_base_s"),
        ({"gtfs": "feed.zip", "walk_speed_mps": 9}, "lines.walk_speed_mps"),
        ({"gtfs": "feed.zip", "first": "25:99"}, "lines.first"),
        ({"gtfs": "feed.zip", "first": "08:00", "last": "07:00"}, "lines.last"),
        ({"gtfs": "feed.zip", "headways": 10}, "lines.headways"),
        ({"gtfs": "nowhere.zip"}, "lines.gtfs"),
    ],
)
def test_bad_lines_values_name_the_field(tmp_path: Path, table: dict[str, Any], field: str) -> None:
    for name in ("x.json", "p.toml", "feed.zip"):
        (tmp_path / name).write_text("")
    with pytest.raises(ConfigError) as err:
        parse_lines(table, base=tmp_path, data_dir=None)
    assert err.value.field == field
    text = str(err.value)
    assert "\n" not in text and text.startswith(field)


def test_lines_in_a_scenario_file(folder: Path) -> None:
    (folder / "feed.zip").write_text("")
    sc = tiny_scenario(folder, lines={"gtfs": str(folder / "feed.zip"), "first": "07:30", "seats": 20})
    assert sc.lines.seats == 20 and sc.lines.first_s == 7.5 * 3600 and sc.lines.gtfs == folder / "feed.zip"
    with pytest.raises(ConfigError, match=r"^lines\.standing"):
        tiny_scenario(folder, lines={"gtfs": str(folder / "feed.zip"), "standing": -2})


def test_a_gtfs_feed_needs_a_geographic_network(folder: Path) -> None:
    (folder / "feed.zip").write_text("not a zip")
    sim = Simulation(tiny_scenario(folder, lines={"gtfs": str(folder / "feed.zip")}))
    sim.setup()
    with pytest.raises(ConfigError, match=r"^lines\.gtfs: the network 'tiny' has no geographic coordinates"):
        sim.run()


def test_a_rider_who_comes_while_the_bus_dwells_gets_on(folder: Path) -> None:
    spec = LinesSpec(dwell_base_s=10, dwell_per_boarding_s=3)
    lines = tiny_lines([[0, 1, 2, 3, 4]], [30.0], spec=spec)
    # p1 is there when the bus comes (07:00, dwell 10 + 3 s); p2 comes 5 s later, p3 20 s later
    comp, _ = run_day(folder, lines, spec, [(0, 2, T0), (0, 2, T0 + 5), (0, 2, T0 + 20)])
    first = next(t for t in comp.trips if t.direction == 0).calls[0]
    assert (first.boarded, first.load_after, first.depart_s - first.arrive_s) == (2, 2, 13)
    status = {p.start_s - T0: (p.status, p.wait_s) for p in comp.passengers}
    assert status == {0: ("completed", 0), 5: ("completed", 8), 20: ("stranded", 0)}


# ---------------------------------------------------------------------------- service outside the day
@pytest.mark.parametrize(
    ("first", "last", "field", "allowed"),
    [
        ("12:00", "13:00", "lines.first", "before 09:00"),  # the whole service after the day (07:00 .. 09:00)
        ("09:00", None, "lines.first", "before 09:00"),  # the first bus at the very end
        ("05:00", "06:30", "lines.last", "07:00 or later"),  # the whole service before the day
    ],
)
def test_a_bus_service_outside_the_day_is_refused(
    folder: Path, first: str, last: str | None, field: str, allowed: str
) -> None:
    (folder / "feed.zip").write_text("")
    table = {"gtfs": str(folder / "feed.zip"), "first": first} | ({"last": last} if last else {})
    sim = Simulation(tiny_scenario(folder, lines=table))
    sim.setup()
    with pytest.raises(ConfigError) as err:
        sim.run()
    assert err.value.field == field
    text = str(err.value)
    assert "\n" not in text and text.startswith(f"{field}: ") and f"(allowed: {allowed})" in text
    assert "07:00 .. 09:00" in text  # the day it must overlap


def test_a_service_that_overlaps_the_day_runs(folder: Path) -> None:
    """Partly outside is fine: buses from 06:00 to 07:30 on a 07:00 .. 09:00 day."""
    from sim.transit import build_lines, check_service_window

    spec = LinesSpec(first_s=6 * 3600, last_s=int(7.5 * 3600))
    check_service_window(spec, start_s=T0, end_s=9 * 3600)  # no error
    with pytest.raises(ConfigError, match=r"^lines\.gtfs: the network 'tiny'"):  # got past the window check
        sim = Simulation(tiny_scenario(folder))
        sim.setup()
        build_lines(replace(spec, gtfs=folder / "feed.zip"), sim.network, lambda u, v: 0, start_s=T0,
                    end_s=9 * 3600)  # fmt: skip


def test_a_bus_service_outside_the_day_exits_2_on_the_command_line(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mobility.cli import main

    (tmp_path / "feed.zip").write_text("")
    net = write_tiny_network(tmp_path)
    (tmp_path / "day.toml").write_text(f"""
[scenario]
name = "tiny"
start = "07:00"
end = "09:00"
[network]
kind = "benchmark"
path = "{net.parent}"
coord_unit_m = 500
time_unit_s = 1
[stops]
kind = "nodes"
[fleet]
vehicles = 1
shift_start = "07:00"
shift_end = "09:00"
[demand]
kind = "profile"
total = 0
[lines]
gtfs = "feed.zip"
first = "12:00"
last = "13:00"
""")
    code = main(["simulate", str(tmp_path / "day.toml"), "--out", str(tmp_path / "out"), "--set", "lines.last=14:00"])
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == 2
    assert err[-1].startswith("mobility: error: lines.first: 12:00 is not before the end of the simulated day")
    assert "Traceback" not in "\n".join(err)


# ---------------------------------------------------------------------------- the lines map
def test_the_lines_map_follows_the_roads_between_stops(folder: Path, tmp_path: Path) -> None:
    spec = LinesSpec()
    # line A stops at 0, 2, 4 only: its buses drive through 1 and 3; line B stops at 2 and 6, through 5
    lines = tiny_lines([[0, 2, 4], [2, 6]], [30.0, 30.0], spec=spec)
    _, out = run_day(folder, lines, spec, [])
    got = {li: sorted(p.tolist() for p in paths) for li, paths in out.paths.items()}
    assert got == {0: [[0, 1, 2, 3, 4], [4, 3, 2, 1, 0]], 1: [[2, 5, 6], [6, 5, 2]]}
    files = out.write(tmp_path, plots=True)
    assert files["lines_map"] == tmp_path / "lines_map.png"
    assert files["lines_map"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "lines_map" not in out.write(tmp_path / ".", plots=False)
