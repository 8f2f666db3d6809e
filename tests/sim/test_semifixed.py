"""Semi-fixed routes in a simulated day: checkpoints kept (recounted from the drives and stop
visits), the fixed line's boarding stops, and bad ``[semi_fixed]`` values named in one line."""

from __future__ import annotations

import csv
import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sim.kpi import validate
from sim.records import SimOutput
from sim.report import write_report
from sim.scenario import Scenario, ScenarioError
from sim.semifixed import SemiFixedRoute
from sim.simulator import Simulation

#: Seven checkpoints round the middle of the Jamsil extract.
ROUTE = [[37.5119, 127.0925], [37.5186, 127.0953], [37.5224, 127.1015], [37.5248, 127.1072],
         [37.5201, 127.1143], [37.5127, 127.1171], [37.5120, 127.1081]]  # fmt: skip


def scenario(data_dir: Path, semi_fixed: dict[str, Any] | None = None, **overrides: Any) -> Scenario:
    """Two morning-peak hours, three vehicles on the route, demand enough to tempt deviations,
    traffic that changes every quarter hour."""
    doc: dict[str, Any] = {
        "scenario": {"name": "semifixed", "seed": 3, "start": "07:00", "end": "09:00"},
        "network": {"kind": "osm", "path": "osm/seoul_jamsil.osm"},
        "stops": {"kind": "virtual", "spacing_m": 300},
        "fleet": {"vehicles": 3, "seats": 10, "shift_start": "07:00", "shift_end": "09:30"},
        "service": {"max_wait_s": 900, "service_start_s": 6 * 3600, "service_end_s": 23 * 3600},
        "demand": {"kind": "profile", "total": 120, "profile": "two_peaks", "lead_max_min": 2},
        "traffic": {"model": "bpr", "update_minutes": 15},
        "dispatch": {"reoptimise_every_s": 300, "reoptimise_iterations": 20},
        "semi_fixed": {"route": ROUTE, "slack_min": 2, **(semi_fixed or {})},
    }
    for section, values in overrides.items():
        doc.setdefault(section, {}).update(values)
    return Scenario.from_dict(doc, data_dir=data_dir)


def run(sc: Scenario) -> tuple[Simulation, SimOutput]:
    sim = Simulation(sc)
    sim.setup()
    return sim, sim.run()


@pytest.fixture(scope="module")
def semi(data_dir: Path) -> tuple[Simulation, SimOutput]:
    return run(scenario(data_dir))


@pytest.fixture(scope="module")
def fixed(data_dir: Path) -> tuple[Simulation, SimOutput]:
    return run(scenario(data_dir, {"mode": "fixed"}))


def component(sim: Simulation) -> SemiFixedRoute:
    (route,) = [c for c in sim.components if isinstance(c, SemiFixedRoute)]
    return route


def test_every_checkpoint_is_kept_every_cycle(semi: tuple[Simulation, SimOutput]) -> None:
    sim, out = semi
    route = component(sim)
    tt = route.timetable
    assert tt is not None
    n = len(tt.stops)
    # The timetable: each vehicle runs the route in order, one headway after the one before.
    phases = []
    for vid, booked in route.booked.items():
        assert booked, vid
        for (_, k1, _, _, t1), (_, k2, _, s2, t2) in itertools.pairwise(booked):
            assert k2 == (k1 + 1) % n and s2 == tt.stops[k2]
            assert t2 - t1 == (tt.offset_s[k2] if k2 else tt.cycle_s) - tt.offset_s[k1]
        assert booked[-1][4] > sim.scenario.end_s - tt.cycle_s  # cycle after cycle to the end of the day
        phases.append((booked[0][4] - tt.offset_s[booked[0][1]]) % tt.cycle_s)
    gaps = np.diff(sorted(phases))
    assert np.allclose(gaps, tt.cycle_s / len(phases), atol=1)
    # Recount from what the vehicles did: the drives that reach each checkpoint stop and the
    # stop visits there, never from the dispatcher.
    for vid, booked in route.booked.items():
        drives = sorted((d for d in out.drives if d.vehicle_id == vid), key=lambda d: d.depart_s)
        visits = sorted((v for v in out.visits if v.vehicle_id == vid), key=lambda v: v.service_start_s)
        at_time = [v for v in visits if v.boarded == v.alighted == 0]
        assert [(v.stop, v.service_start_s) for v in at_time] == [(s, t) for *_, s, t in booked]
        for v in at_time:
            before = [d for d in drives if d.arrive_s <= v.service_start_s]
            arrived = before[-1].arrive_s if before else sim.scenario.start_s
            where = before[-1].to_stop if before else sim.fleet[int(vid[3:])].depot_stop
            assert where == v.stop  # it was there ...
            assert arrived <= v.service_start_s  # ... no later than the scheduled time
            assert v.depart_s >= v.service_start_s  # and did not leave before it
            leaves = [d for d in drives if d.depart_s >= v.service_start_s]
            assert not leaves or leaves[0].depart_s >= v.depart_s
    report = out.extras["checkpoints"].kpis()
    assert report["kept_share"] == 1.0 and report["scheduled"] == sum(len(b) for b in route.booked.values())
    # Demand tempted the vehicles off the route, within the slack.
    assert report["deviations_per_cycle"]["mean"] > 0
    assert validate(out) == []


def test_the_report_and_its_csv(semi: tuple[Simulation, SimOutput], tmp_path: Path) -> None:
    sim, out = semi
    files = write_report(out, tmp_path, plots=False)
    with open(files["checkpoints"], newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == sum(len(b) for b in component(sim).booked.values())
    assert all(row["kept"] == "1" and int(row["arrive_s"]) <= int(row["scheduled_s"]) for row in rows)
    lines = out.extras["checkpoints"].summary_lines()
    assert any("100.0 %" in line for line in lines)


def test_fixed_line_boards_only_at_route_stops(fixed: tuple[Simulation, SimOutput]) -> None:
    sim, out = fixed
    route = component(sim)
    tt = route.timetable
    assert tt is not None
    # the route stops recounted: stops on the road path between consecutive checkpoints
    router = sim.dispatcher.router
    nodes = [int(sim.stops.node[s]) for s in tt.stops]
    on_path = set()
    for a, b in itertools.pairwise([*nodes, nodes[0]]):
        on_path.update(router.path(a, b).nodes.tolist())
    line = {s for s in range(len(sim.stops)) if int(sim.stops.node[s]) in on_path}
    assert line == set(route.route_stops.tolist()) and set(tt.stops) <= line
    served = [v for v in out.visits if v.boarded or v.alighted]
    assert served and all(v.stop in line for v in served)
    rides = [r for r in out.rides if r.outcome == "completed"]
    assert rides and all(r.origin_stop in line and r.destination_stop in line for r in rides)
    assert any(r.walk_to_pickup_m > 0 or r.walk_from_dropoff_m > 0 for r in rides)  # riders walked to the line
    assert out.extras["checkpoints"].kpis()["kept_share"] == 1.0
    assert out.extras["checkpoints"].kpis()["deviations_per_cycle"]["max"] == 0


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"route": [[37.51, 127.09]]}, "semi_fixed.route"),
        ({"route": [ROUTE[0], "here"]}, "semi_fixed.route[1]"),
        ({"route": [ROUTE[0], [127.09, 37.51]]}, "semi_fixed.route[1]"),
        ({"mode": "bus"}, "semi_fixed.mode"),
        ({"slack_min": -1}, "semi_fixed.slack_min"),
        ({"slack_min": None, "times": [0, 5, 9, 14, 19, 24, 28]}, "semi_fixed.cycle_min"),
        ({"slack_min": None, "cycle_min": 40, "times": [0, 5, 5, 14, 19, 24, 28]}, "semi_fixed.times"),
        ({"cycle_min": 40, "times": [0, 5, 9, 14, 19, 24, 28]}, "semi_fixed.slack_min"),
        ({"vehicles": 0}, "semi_fixed.vehicles"),
        ({"headway": 5}, "semi_fixed.headway"),
        ({"start": "7 o'clock"}, "semi_fixed.start"),
    ],
)
def test_bad_values_name_the_field(data_dir: Path, values: dict[str, Any], field: str) -> None:
    sf = {k: v for k, v in values.items() if v is not None}
    drop = [k for k, v in values.items() if v is None]
    with pytest.raises(ScenarioError) as info:
        doc = scenario_doc(data_dir, sf, drop)
        Scenario.from_dict(doc, data_dir=data_dir)
    assert info.value.field == field and "\n" not in str(info.value)


def scenario_doc(data_dir: Path, semi_fixed: dict[str, Any], drop: list[str]) -> dict[str, Any]:
    sc = {"route": ROUTE, "slack_min": 2, **semi_fixed}
    for key in drop:
        sc.pop(key, None)
    return {
        "scenario": {"name": "bad", "start": "07:00", "end": "08:00"},
        "network": {"kind": "osm", "path": "osm/seoul_jamsil.osm"},
        "semi_fixed": sc,
    }


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"slack_min": None, "cycle_min": 5}, "semi_fixed.cycle_min"),  # shorter than the drive round
        ({"slack_min": None, "cycle_min": 60, "times": [0, 1, 2, 3, 4, 5, 6]}, "semi_fixed.times"),
        ({"vehicles": 4}, "semi_fixed.vehicles"),  # the fleet has 3
        ({"route": [ROUTE[0], 10_000]}, "semi_fixed.route[1]"),
        ({"route": [ROUTE[0], [37.60, 127.30]]}, "semi_fixed.route[1]"),  # off the map
    ],
)
def test_values_that_do_not_fit_the_network_name_the_field(
    bare: Simulation, data_dir: Path, values: dict[str, Any], field: str
) -> None:
    doc = scenario_doc(
        data_dir, {k: v for k, v in values.items() if v is not None}, [k for k, v in values.items() if v is None]
    )
    sc = Scenario.from_dict(doc, data_dir=data_dir)
    with pytest.raises(ScenarioError) as info:
        SemiFixedRoute(sc.semi_fixed).attach(bare)  # what the run does first
    assert info.value.field == field and "\n" not in str(info.value)


@pytest.fixture(scope="module")
def bare(data_dir: Path) -> Simulation:
    """A day set up, not run (its components are attached by hand)."""
    sim = Simulation(scenario(data_dir))
    sim.setup()
    return sim


def test_the_timetable_by_hand() -> None:
    from sim.semifixed import SemiFixedSpec, build_timetable

    stops, drives = (4, 5, 6), (100, 200, 300)  # the drives 4 -> 5 -> 6 -> 4, seconds
    tt = build_timetable(SemiFixedSpec(stops, slack_min=1, dwell_s=10), stops, drives)
    assert (tt.offset_s, tt.cycle_s, tt.slack_s) == ((0, 170, 440), 810, (60, 60, 60))
    # a 15-min cycle: 630 s of drives and dwells, 60 s of slack each, the other 90 s by drive (15, 30, 45)
    tt = build_timetable(SemiFixedSpec(stops, slack_min=1, cycle_min=15, dwell_s=10), stops, drives)
    assert (tt.offset_s, tt.cycle_s, tt.slack_s) == ((0, 185, 485), 900, (75, 90, 105))
    tt = build_timetable(SemiFixedSpec(stops, cycle_min=14, times_min=(0, 3, 8)), stops, drives)
    assert (tt.offset_s, tt.cycle_s, tt.slack_s) == ((0, 180, 480), 840, (80, 100, 60))
    with pytest.raises(ScenarioError) as info:  # 6 -> 4 gets 4 min for a drive of 5
        build_timetable(SemiFixedSpec(stops, cycle_min=12, times_min=(0, 3, 8)), stops, drives)
    assert info.value.field == "semi_fixed.times" and "checkpoint 2 -> 0" in str(info.value)
    with pytest.raises(ScenarioError) as info:  # 600 s of drives + 3 x 60 s of slack > 12 min
        build_timetable(SemiFixedSpec(stops, slack_min=1, cycle_min=12), stops, drives)
    assert info.value.field == "semi_fixed.cycle_min"
