"""The simulated day, end to end, checked against independent recounts of its own output."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from matching.deployment import Deployment
from sim.demand import generate
from sim.report import write_report
from sim.scenario import Scenario, ScenarioError, parse_time
from sim.simulator import Simulation
from sim.traffic import TrafficModel

REPO = Path(__file__).resolve().parents[2]


def small_scenario(data_dir: Path, **overrides: Any) -> Scenario:
    """Two hours of the I-MOD scenario with a few buses (fast, but busy enough to pool)."""
    return Scenario.from_dict(small_doc(**overrides), data_dir=data_dir)


def small_doc(**overrides: Any) -> dict[str, Any]:
    """The TOML tables of :func:`small_scenario` (each override updates its section)."""
    doc: dict[str, Any] = {
        "scenario": {"name": "small", "seed": 3, "start": "07:00", "end": "09:00"},
        "network": {"kind": "osm", "path": "osm/seoul_jamsil.osm"},
        "stops": {"kind": "virtual", "spacing_m": 300},
        "fleet": {"vehicles": 3, "seats": 6, "shift_start": "07:00", "shift_end": "10:00"},
        "service": {"max_wait_s": 600, "service_start_s": 6 * 3600, "service_end_s": 23 * 3600},
        "demand": {
            "kind": "profile",
            "total": 80,
            "profile": "two_peaks",
            "prebook_share": 0.2,
            "lead_max_min": 2,
            "cancel_probability": 0.05,
            "no_show_probability": 0.05,
        },
        "traffic": {"model": "none"},
        "dispatch": {"reoptimise_every_s": 600, "reoptimise_iterations": 20},
    }
    for section, values in overrides.items():
        doc.setdefault(section, {}).update(values)
    return doc


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def day(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Simulation, Path]:
    sim = Simulation(small_scenario(data_dir))
    sim.setup()
    out = sim.run()
    folder = tmp_path_factory.mktemp("day")
    write_report(out, folder, plots=False)
    return sim, folder


def test_every_request_ends_somewhere(day: tuple[Simulation, Path]) -> None:
    sim, folder = day
    rides = read_csv(folder / "rides.csv")
    assert len(rides) == len(sim.demand) > 50
    outcomes = {r["outcome"] for r in rides}
    assert outcomes <= {"completed", "rejected", "cancelled", "no_show"}
    assert sum(r["outcome"] == "completed" for r in rides) > 0.5 * len(rides)


def test_recount_promises_from_the_ride_csv(day: tuple[Simulation, Path]) -> None:
    _, folder = day
    for r in read_csv(folder / "rides.csv"):
        if r["outcome"] != "completed":
            continue
        pickup, dropoff = int(r["pickup_s"]), int(r["dropoff_s"])
        assert int(r["promised_pickup_start_s"]) - 1 <= pickup <= int(r["promised_pickup_end_s"]) + 1, r["ride_id"]
        assert pickup >= int(r["requested_s"]) - 1
        ride = dropoff - (pickup + int(r["pickup_service_s"]))
        assert ride <= int(r["max_ride_s"]) + 1, r["ride_id"]
        assert ride >= int(r["direct_time_s"]) - 1  # nobody arrives faster than the direct drive


def test_recount_loads_from_the_ride_csv(day: tuple[Simulation, Path]) -> None:
    sim, folder = day
    seats = {v.id: v.seats for v in sim.fleet}
    events: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for r in read_csv(folder / "rides.csv"):
        if r["outcome"] == "completed":
            events[r["vehicle_id"]].append((int(r["pickup_s"]), int(r["passengers"])))
            events[r["vehicle_id"]].append((int(r["dropoff_s"]), -int(r["passengers"])))
    assert events
    for vid, evs in events.items():
        load = 0
        for _, change in sorted(evs, key=lambda e: (e[0], e[1])):  # alightings first at equal times
            load += change
            assert 0 <= load <= seats[vid], vid


def test_vehicle_km_is_the_sum_of_driven_paths(day: tuple[Simulation, Path]) -> None:
    sim, folder = day
    drives = read_csv(folder / "drives.csv")
    by_vehicle: dict[str, int] = defaultdict(int)
    for d in drives:
        a, b = int(d["from_stop"]), int(d["to_stop"])
        path = sim.router.path(int(sim.stops.node[a]), int(sim.stops.node[b]))
        assert int(d["length_m"]) == path.length_m  # free-flow traffic: the same shortest path
        by_vehicle[d["vehicle_id"]] += int(d["length_m"])
    for v in read_csv(folder / "vehicles.csv"):
        driven = next(float(v[k]) for k in v if k.startswith("driven_km"))
        assert driven == pytest.approx(by_vehicle[v["vehicle_id"]] / 1000.0, abs=0.01)


def test_same_seed_same_day_other_seed_other_day(data_dir: Path) -> None:
    def rides(seed: int) -> list[tuple[Any, ...]]:
        sim = Simulation(small_scenario(data_dir, demand={"total": 40}), seed=seed)
        sim.setup()
        out = sim.run()
        return [(r.ride_id, r.outcome, r.vehicle_id, r.pickup_s, r.dropoff_s) for r in out.rides]

    assert rides(5) == rides(5)
    assert rides(5) != rides(6)


def test_traffic_slows_the_peak_and_the_dispatcher_sees_it(data_dir: Path) -> None:
    sc = small_scenario(data_dir, traffic={"model": "bpr", "update_minutes": 30})
    sim = Simulation(sc)
    sim.setup()
    model = sim.traffic
    night, peak = model.travel_times(3 * 3600), model.travel_times(8.5 * 3600)
    assert (peak >= night).all() and (peak > 1.3 * night).any()
    out = sim.run()
    assert out.rides
    # after the last traffic update the dispatcher's travel times (between the stops its pool holds) are the router's
    pool = sim.dispatcher.plan.pool
    slots = np.flatnonzero(pool.place >= 0)
    nodes = sim.stops.node[pool.place[slots]]
    expected = sim.router.matrix(nodes, nodes)
    assert slots.size and np.array_equal(sim.dispatcher.plan.arrays.travel_time[np.ix_(slots, slots)], expected)
    assert TrafficModel(sim.network, sc.traffic).ratio((0.0,) * 12 + (1.0,) * 12, 12.5 * 3600) == pytest.approx(1.0)


def test_demand_follows_the_profile(data_dir: Path) -> None:
    sc = small_scenario(data_dir, scenario={"start": "06:00", "end": "23:00"}, demand={"total": 3000})
    items = generate(sc, 35)
    times = np.array([it.request.requested_time_s for it in items])
    assert len(items) == 3000
    assert times.min() >= 6 * 3600 and times.max() < 23 * 3600
    peak = ((times >= 8 * 3600) & (times < 9 * 3600)).sum()
    midday = ((times >= 14 * 3600) & (times < 15 * 3600)).sum()
    assert peak > 2 * midday  # the profile has 8 against 3
    assert all(it.submit_s <= it.request.requested_time_s for it in items)
    assert generate(sc, 35)[0] == items[0]  # reproducible


@pytest.mark.parametrize(
    ("section", "values", "field"),
    [
        ("scenario", {"start": "25:99"}, "scenario.start"),
        ("scenario", {"colour": "red"}, "scenario.colour"),
        ("fleet", {"vehicles": 0}, "fleet.vehicles"),
        ("demand", {"kind": "magic"}, "demand.kind"),
        ("network", {"path": "osm/nowhere.osm"}, "network.path"),
        ("traffic", {"vc_major": [1, 2]}, "traffic.vc_major"),
    ],
)
def test_bad_scenarios_name_the_field(data_dir: Path, section: str, values: dict[str, Any], field: str) -> None:
    with pytest.raises(ScenarioError) as info:
        small_scenario(data_dir, **{section: values})
    assert info.value.field == field


@pytest.mark.parametrize("load", [Scenario.from_toml, Deployment.from_toml])
def test_unreadable_scenario_files_name_the_file_and_the_reason(tmp_path: Path, load: Any) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[scenario\nname = ")
    for path, reason in [
        (tmp_path / "missing.toml", "file not found"),
        (tmp_path, "is a directory"),
        (broken, "not valid TOML"),
    ]:
        with pytest.raises(ScenarioError, match=reason) as info:
            load(path)
        assert info.value.field == "scenario" and str(path) in str(info.value)


def test_bundled_scenarios_load(data_dir: Path) -> None:
    from sim.scenario import load_scenario  # I-MOD scenarios and shared-taxi ones (tests/sim/test_taxi.py)

    for path in sorted((REPO / "scenarios").glob("*.toml")):
        if path.stem.startswith("plan_"):  # planning specs (planning.city), not service days
            continue
        sc = load_scenario(path, data_dir=data_dir)
        assert sc.name == path.stem
    assert parse_time("06:30", "t") == 6 * 3600 + 1800


def test_independent_validation_finds_nothing(data_dir: Path) -> None:
    from sim.kpi import validate

    for traffic in ("none", "bpr"):
        sim = Simulation(small_scenario(data_dir, traffic={"model": traffic}, demand={"total": 120}))
        sim.setup()
        out = sim.run()
        problems = validate(out)
        if traffic == "none":
            assert problems == []
        else:
            # Traffic that worsens after a booking can make a vehicle late; the dispatcher reports
            # each such ride, and nothing else may go wrong.
            late = {e.ride_id for e in sim.dispatcher.events if e.kind == "late"}
            for problem in problems:
                assert "outside its promised window" in problem or "exceeds max_ride_s" in problem, problem
                assert any(f"ride {rid}:" in problem for rid in late), problem
