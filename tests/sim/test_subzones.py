"""Sub-zones: a dispatcher and vehicles per sub-zone; trips that cross go across or change.

Two morning hours on Jamsil (:func:`tests.sim.test_simulator.small_scenario`, 80 requests),
split at longitude 127.105 into ``west`` and ``east`` (two vehicles each). The sub-zones of
stops are recounted here from the polygons (:func:`zones_of`), and who served what from the
stop visits and ride records, never taken from the backend being tested.
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from matching import Offer, Request, point_in_polygon
from matching.deployment import ConfigError
from mobility.cli import main
from sim.records import SimOutput
from sim.scenario import Scenario
from sim.simulator import Simulation
from sim.subzones import (
    SubzoneBackend,
    SubzoneOutput,
    compare_with_undivided,
    comparison_markdown,
    journey_kpis,
)
from tests.sim.test_simulator import small_doc

SPLIT_LON = 127.105
WEST = [(37.50, 127.07), (37.54, 127.07), (37.54, SPLIT_LON), (37.50, SPLIT_LON)]
EAST = [(37.50, SPLIT_LON), (37.54, SPLIT_LON), (37.54, 127.13), (37.50, 127.13)]
REACH_M = 400.0


def small_scenario(data_dir: Path, **overrides: Any) -> Scenario:
    """:func:`tests.sim.test_simulator.small_scenario` for a split zone: the sub-zones hold the
    vehicles, so the fleet has no ``vehicles`` of its own (a split scenario refuses one)."""
    doc = small_doc(**overrides)
    if "subzones" in doc:
        doc["fleet"].pop("vehicles", None)
    return Scenario.from_dict(doc, data_dir=data_dir)


def split_scenario(data_dir: Path, crossing: str = "transfer", **overrides: Any) -> Scenario:
    zones = [{"name": "west", "polygon": WEST, "vehicles": 2}, {"name": "east", "polygon": EAST, "vehicles": 2}]
    table = {"crossing": crossing, "transfer_reach_m": REACH_M, "zones": zones}
    return small_scenario(data_dir, subzones=table, **overrides)


def zones_of(sim: Simulation) -> np.ndarray:
    """The sub-zone of each stop recounted from the polygons: 0 west, 1 east (first wins on the edge)."""
    west = point_in_polygon(sim.stops.lat, sim.stops.lon, WEST)
    east = point_in_polygon(sim.stops.lat, sim.stops.lon, EAST)
    return np.where(west, 0, np.where(east, 1, -1))


def zone_of_vehicle(vehicle_id: str) -> int:
    return {"west": 0, "east": 1}[vehicle_id.split("-veh")[0]]


def run_day(scenario: Scenario) -> tuple[Simulation, SimOutput]:
    sim = Simulation(scenario)
    sim.setup()
    return sim, sim.run()


@pytest.fixture(scope="module")
def transfer_day(data_dir: Path) -> tuple[Simulation, SimOutput]:
    return run_day(split_scenario(data_dir, "transfer"))


@pytest.fixture(scope="module")
def across_day(data_dir: Path) -> tuple[Simulation, SimOutput]:
    return run_day(split_scenario(data_dir, "across"))


# ---------------------------------------------------------------------------------- both rules
@pytest.mark.parametrize("which", ["transfer_day", "across_day"])
def test_rides_within_a_subzone_are_served_by_its_vehicles(which: str, request: pytest.FixtureRequest) -> None:
    sim, out = request.getfixturevalue(which)
    zone = zones_of(sim)
    assert (zone == 0).sum() >= 5 and (zone == 1).sum() >= 5  # the split means something
    assert len(sim.fleet) == 4 and {v.id for v in sim.fleet} == {
        "west-veh0000", "west-veh0001", "east-veh0000", "east-veh0001"
    }  # fmt: skip
    assert all(zone[v.depot_stop] == zone_of_vehicle(v.id) for v in sim.fleet)
    boardings = {(v.vehicle_id, v.stop, v.service_start_s) for v in out.visits if v.boarded > 0}
    alightings = {(v.vehicle_id, v.stop, v.service_start_s) for v in out.visits if v.alighted > 0}
    within = 0
    for r in out.rides:
        if r.outcome != "completed" or zone[r.origin_stop] != zone[r.destination_stop]:
            continue
        within += 1
        # the stop visits say which vehicle picked the rider up and set them down
        assert (r.vehicle_id, r.origin_stop, r.pickup_s) in boardings
        assert (r.vehicle_id, r.destination_stop, r.dropoff_s) in alightings
        assert zone_of_vehicle(r.vehicle_id) == zone[r.origin_stop], r
    assert within >= 20


@pytest.mark.parametrize("which", ["transfer_day", "across_day"])
def test_every_pickup_lies_in_the_vehicles_subzone_or_at_a_transfer_stop(
    which: str, request: pytest.FixtureRequest
) -> None:
    sim, out = request.getfixturevalue(which)
    zone = zones_of(sim)
    candidates = {int(c) for cands in sim.backend.transfer_candidates.values() for c in cands}
    for v in out.visits:
        if v.boarded > 0 and zone[v.stop] != zone_of_vehicle(v.vehicle_id):
            assert which == "transfer_day" and v.stop in candidates, v


@pytest.mark.parametrize("which", ["transfer_day", "across_day"])
def test_the_independent_checks_find_nothing(which: str, request: pytest.FixtureRequest) -> None:
    from sim.kpi import validate

    _, out = request.getfixturevalue(which)
    assert validate(out) == []


def test_the_same_seed_gives_the_same_split_day(data_dir: Path, transfer_day: tuple[Simulation, SimOutput]) -> None:
    _, again = run_day(split_scenario(data_dir, "transfer"))
    _, out = transfer_day
    assert [r.to_row() for r in again.rides] == [r.to_row() for r in out.rides]
    assert [(d.vehicle_id, d.depart_s, d.to_stop) for d in again.drives] == [
        (d.vehicle_id, d.depart_s, d.to_stop) for d in out.drives
    ]


def test_transfer_mode_vehicles_stay_in_their_subzone_but_for_transfer_stops(
    transfer_day: tuple[Simulation, SimOutput],
) -> None:
    sim, out = transfer_day
    zone = zones_of(sim)
    candidates = set(sim.backend.transfer_candidates[(0, 1)].tolist())  # type: ignore[attr-defined]
    outside = [v for v in out.visits if zone[v.stop] != zone_of_vehicle(v.vehicle_id)]
    assert len(out.visits) > 100
    assert all(v.stop in candidates for v in outside), outside
    # and only for a rider changing there, or starting or ending a crossing trip there
    used = {s for j in sim.backend.journeys.values() for s in j.stops}  # type: ignore[attr-defined]
    assert all(v.stop in used for v in outside)


def test_across_mode_drops_off_in_the_other_subzone(across_day: tuple[Simulation, SimOutput]) -> None:
    sim, out = across_day
    zone = zones_of(sim)
    crossing = [r for r in out.rides if r.outcome == "completed" and zone[r.origin_stop] != zone[r.destination_stop]]
    assert len(crossing) >= 10
    for r in crossing:
        assert zone_of_vehicle(r.vehicle_id) == zone[r.origin_stop]  # the origin's vehicle, all the way
    assert all(r.journey_id == "" for r in out.rides)  # one ride per journey
    dropped_outside = [v for v in out.visits if v.alighted > 0 and zone[v.stop] != zone_of_vehicle(v.vehicle_id)]
    assert len(dropped_outside) >= 10


# ---------------------------------------------------------------------------------- transfers
def test_transfer_candidates_lie_near_the_boundary(transfer_day: tuple[Simulation, SimOutput]) -> None:
    sim, _ = transfer_day
    cands = set(sim.backend.transfer_candidates[(0, 1)].tolist())  # type: ignore[attr-defined]
    zone = zones_of(sim)
    # distance to the shared edge (the meridian SPLIT_LON) on a sphere, recounted
    metres = np.abs(sim.stops.lon - SPLIT_LON) * 111_320 * np.cos(np.radians(sim.stops.lat))
    for side in (0, 1):
        own = np.flatnonzero(zone == side)
        nearest = int(own[np.argmin(metres[own])])
        assert nearest in cands
        for s in own:
            if metres[s] < REACH_M - 10:
                assert s in cands, (s, metres[s])
            elif metres[s] > REACH_M + 10 and s != nearest:
                assert s not in cands, (s, metres[s])
    assert 2 <= len(cands) < len(sim.stops) / 2


def test_a_crossing_journey_has_two_legs_the_second_asked_at_the_transfer_stop(
    transfer_day: tuple[Simulation, SimOutput],
) -> None:
    sim, out = transfer_day
    zone = zones_of(sim)
    rides = {r.ride_id: r for r in out.rides}
    demand = {it.request.id: it.request for it in sim.demand}
    two_legged = [j for j in sim.backend.journeys.values() if j.legs == 2]  # type: ignore[attr-defined]
    done = 0
    for j in two_legged:
        first = rides[j.journey_id]
        assert (first.journey_id, first.leg) == (j.journey_id, 0)
        asked = demand[j.journey_id]
        assert zone[asked.origin_stop] != zone[asked.destination_stop]
        if first.outcome != "completed":
            assert f"{j.journey_id}.2" not in rides  # no second leg without the first
            continue
        assert first.destination_stop == j.stops[1] != asked.destination_stop
        assert zone_of_vehicle(first.vehicle_id) == zone[asked.origin_stop]
        second = rides[f"{j.journey_id}.2"]
        assert (second.journey_id, second.leg) == (j.journey_id, 1)
        assert second.origin_stop == j.stops[1] and second.destination_stop == asked.destination_stop
        assert second.submitted_s == first.dropoff_s <= second.requested_s  # asked when the rider alighted
        if second.outcome == "completed":
            done += 1
            assert zone_of_vehicle(second.vehicle_id) == zone[asked.destination_stop]
            assert second.pickup_s >= first.dropoff_s
    assert done >= 5
    # the transfer stop is the candidate with the least direct time origin -> stop -> destination
    router, nodes = sim.router, sim.stops.node
    cands = sim.backend.transfer_candidates[(0, 1)]  # type: ignore[attr-defined]
    for j in two_legged[:10]:
        total = [
            router.travel_time(int(nodes[j.origin_stop]), int(nodes[c]))
            + router.travel_time(int(nodes[c]), int(nodes[j.destination_stop]))
            for c in cands
        ]
        assert total[list(cands).index(j.stops[1])] == min(total)


BANDS = (127.07, 127.098, 127.112, 127.13)  # three sub-zones side by side: west, centre, east


def band(k: int) -> list[tuple[float, float]]:
    lo, hi = BANDS[k], BANDS[k + 1]
    return [(37.50, lo), (37.54, lo), (37.54, hi), (37.50, hi)]


@pytest.fixture(scope="module")
def three_band_day(data_dir: Path) -> tuple[Simulation, SimOutput]:
    zones = [{"name": name, "polygon": band(k), "vehicles": 2} for k, name in enumerate(["west", "centre", "east"])]
    table = {"crossing": "transfer", "transfer_reach_m": 300, "zones": zones}
    return run_day(small_scenario(data_dir, subzones=table, demand={"total": 120}))


def test_a_journey_between_subzones_that_do_not_touch_changes_in_the_one_between(
    three_band_day: tuple[Simulation, SimOutput],
) -> None:
    sim, out = three_band_day
    backend = sim.backend
    assert isinstance(backend, SubzoneBackend)
    assert backend.zone_paths[(0, 2)] == [0, 1, 2] and backend.zone_paths[(2, 1)] == [2, 1]
    band_of = np.digitize(sim.stops.lon, BANDS[1:3])  # 0 west, 1 centre, 2 east, recounted
    rides = {r.ride_id: r for r in out.rides}
    router, node = sim.router, sim.stops.node

    def tt(a: int, b: int) -> int:
        return int(router.travel_time(int(node[a]), int(node[b])))

    three = [j for j in backend.journeys.values() if j.legs == 3]
    assert three
    done = 0
    for j in three:
        o, d = j.origin_stop, j.destination_stop
        assert (band_of[o], band_of[d]) in ((0, 2), (2, 0)) and j.zones == (band_of[o], 1, band_of[d])
        # the two transfer stops together minimise the direct times (brute force over both candidate sets)
        c1 = backend.transfer_candidates[tuple(sorted((int(band_of[o]), 1)))]  # type: ignore[index]
        c2 = backend.transfer_candidates[tuple(sorted((1, int(band_of[d]))))]  # type: ignore[index]
        best = min(tt(o, a) + tt(a, b) + tt(b, d) for a in c1 for b in c2)
        assert tt(o, j.stops[1]) + tt(j.stops[1], j.stops[2]) + tt(j.stops[2], d) == best
        legs = [rides.get(j.leg_id(k)) for k in range(3)]
        if all(r is not None and r.outcome == "completed" for r in legs):
            done += 1
            for k, r in enumerate(legs):
                assert r is not None
                assert (r.journey_id, r.leg, r.origin_stop, r.destination_stop) == (
                    j.journey_id,
                    k,
                    *j.stops[k : k + 2],
                )
                assert zone_of_vehicle3(r.vehicle_id) == j.zones[k]
                if k:
                    prev = legs[k - 1]
                    assert prev is not None and r.submitted_s == prev.dropoff_s <= r.pickup_s
    assert done >= 1
    rows = {row.journey_id: row for row in out.extras["subzones"].journeys}
    for j in three:
        row = rows[j.journey_id]
        assert row.legs == 3 and row.transfer_stops == j.stops[1:3]
        legs = [rides.get(j.leg_id(k)) for k in range(3)]
        if row.outcome == "completed":
            assert row.transfer_wait_s == sum(
                b.pickup_s - a.dropoff_s
                for a, b in itertools.pairwise(legs)  # type: ignore[union-attr]
            )


def zone_of_vehicle3(vehicle_id: str) -> int:
    return {"west": 0, "centre": 1, "east": 2}[vehicle_id.split("-veh")[0]]


def test_journey_kpis_count_both_legs(transfer_day: tuple[Simulation, SimOutput]) -> None:
    sim, out = transfer_day
    extra = out.extras["subzones"]
    assert isinstance(extra, SubzoneOutput)
    rows = {j.journey_id: j for j in extra.journeys}
    assert len(rows) == len(sim.demand) == 80  # one journey per request, legs or not
    rides = {r.ride_id: r for r in out.rides}
    second_legs = [r for r in out.rides if r.leg == 1]
    assert len(out.rides) == 80 + len(second_legs) and second_legs
    completed_two = 0
    for r2 in second_legs:
        r1 = rides[r2.journey_id]
        row = rows[r2.journey_id]
        assert row.crossing and row.legs == 2 and row.transfer_stops == (r2.origin_stop,)
        if r2.outcome == "completed":
            completed_two += 1
            assert row.outcome == "completed"
            assert row.wait_s == r1.pickup_s - r1.requested_s
            assert row.transfer_wait_s == r2.pickup_s - r1.dropoff_s
            assert row.journey_s == r2.dropoff_s - r1.requested_s
        elif r2.outcome in ("rejected", "cancelled", "no_show"):
            assert row.outcome == "stranded"
    k = journey_kpis(extra.journeys)
    assert k["transfer_wait_s"]["count"] == completed_two > 0
    assert k["completed"] == sum(1 for j in rows.values() if j.outcome == "completed")
    zone = zones_of(sim)
    crossing = sum(1 for it in sim.demand if zone[it.request.origin_stop] != zone[it.request.destination_stop])
    assert k["crossing"] == crossing and 0.2 < crossing / 80 < 0.8
    # per sub-zone: rides completed by its vehicles, recounted from the records
    for z, name in enumerate(["west", "east"]):
        served = [r for r in out.rides if r.outcome == "completed" and zone_of_vehicle(r.vehicle_id) == z]
        assert extra.zones[z]["served"] == len(served) > 0
        km = sum(d.length_m for d in out.drives if zone_of_vehicle(d.vehicle_id) == z) / 1000
        assert extra.zones[z]["vehicle_km"] == pytest.approx(km, abs=1e-3)
        assert extra.zones[z]["name"] == name
    assert sum(z["requests"] for z in extra.zones) == len(out.rides)
    text = "\n".join(extra.summary_lines())
    assert "west: 2 vehicles" in text and "transfer wait p50" in text


def test_the_report_has_the_subzone_files(transfer_day: tuple[Simulation, SimOutput], tmp_path: Path) -> None:
    from sim.report import write_report

    _, out = transfer_day
    files = write_report(out, tmp_path, plots=True)
    assert {"subzones", "subzone_journeys", "subzones_map"} <= set(files)
    summary = json.loads(files["summary"].read_text())
    assert summary["extras"]["subzones"]["journeys"]["journeys"] == 80
    lines = files["subzone_journeys"].read_text().splitlines()
    assert len(lines) == 81 and lines[0].startswith("journey_id,")


# ---------------------------------------------------------------------------------- the backend
def metres(lat0: float, lon0: float, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Haversine distances (m), recounted here."""
    p0, p, dl = math.radians(lat0), np.radians(lat), np.radians(lon - lon0)
    a = np.sin((p - p0) / 2) ** 2 + math.cos(p0) * np.cos(p) * np.sin(dl / 2) ** 2
    return 2 * 6_371_000 * np.arcsin(np.sqrt(a))


def test_points_walk_to_a_stop_of_their_own_subzone(data_dir: Path) -> None:
    sim = Simulation(split_scenario(data_dir, "across"))
    sim.setup()
    zone = zones_of(sim)
    backend = sim.backend
    assert isinstance(backend, SubzoneBackend)
    # a point just inside the west, level with the east stop nearest to the split
    east = np.flatnonzero(zone == 1)
    e = int(east[np.argmin(sim.stops.lon[east])])
    lat, lon = float(sim.stops.lat[e]), SPLIT_LON - 1e-5
    dist = metres(lat, lon, sim.stops.lat, sim.stops.lon)
    assert zone[int(np.argmin(dist))] == 1  # its nearest stop lies in the east ...
    now = 7 * 3600 + 600
    far_east = int(east[np.argmax(sim.stops.lon[east])])
    req = Request(id="p1", requested_time_s=now, origin_lat=lat, origin_lon=lon, destination_stop=far_east)
    offer = backend.quote(req, now)
    assert isinstance(offer, Offer)
    west = np.flatnonzero(zone == 0)
    assert offer.pickup_stop == int(west[np.argmin(dist[west])])  # ... but it walks to the nearest west stop
    assert offer.walk_to_pickup_m == pytest.approx(dist[offer.pickup_stop], abs=5)
    assert zone_of_vehicle(offer.vehicle_id) == 0 and offer.dropoff_stop == far_east
    outside = Request(id="p2", requested_time_s=now, origin_lat=37.45, origin_lon=127.0, destination_stop=far_east)
    rejected = backend.quote(outside, now)
    assert not isinstance(rejected, Offer) and rejected.reason.value == "outside_zone"


def test_compare_with_the_undivided_zone(data_dir: Path) -> None:
    result = compare_with_undivided(split_scenario(data_dir, "transfer"))
    split, whole = result["rows"]
    assert split["vehicles"] == whole["vehicles"] == 4
    assert split["journeys"] == whole["journeys"] == 80  # the same requests
    assert split["crossing_share"] == whole["crossing_share"] > 0
    assert whole["transfer_wait_p50_s"] is None and split["transfer_wait_p50_s"] is not None
    assert whole["stranded"] == 0
    table = comparison_markdown(result)
    assert table.count("\n| ") == 3 and "| undivided | 4 | 80 |" in table


# ---------------------------------------------------------------------------------- bad input
def zones_doc(**second: Any) -> dict[str, Any]:
    east = {"name": "east", "polygon": EAST, "vehicles": 2, **second}
    return {"crossing": "transfer", "zones": [{"name": "west", "polygon": WEST, "vehicles": 2}, east]}


@pytest.mark.parametrize(
    ("table", "field", "words"),
    [
        (zones_doc(polygon=[[37.50, 127.10], [37.54, 127.10], [37.54, 127.13], [37.50, 127.13]]),
         "subzones.zones[1].polygon", "overlaps zones[0] ('west')"),
        (zones_doc(polygon=[[37.50, 127.105], [37.52, 127.13], [37.54, 127.105], [37.54, 127.13], [37.50, 127.13]]),
         "subzones.zones[1].polygon", "not a simple polygon"),
        (zones_doc(polygon=[[127.105, 37.50], [127.105, 37.54], [127.13, 37.54]]),
         "subzones.zones[1].polygon[0].lat", "lat and lon look swapped"),
        (zones_doc(vehicles=0), "subzones.zones[1].vehicles", "got 0"),
        (zones_doc(name="west"), "subzones.zones[1].name", "two sub-zones are called 'west'"),
        (zones_doc(name="a b"), "subzones.zones[1].name", "got 'a b'"),
        (zones_doc(colour="red"), "subzones.zones[1].colour", "unknown key"),
        ({**zones_doc(), "crossing": "teleport"}, "subzones.crossing", "got 'teleport'"),
        ({"zones": [{"name": "west", "polygon": WEST, "vehicles": 2}]}, "subzones.zones", "at least 2"),
    ],
)  # fmt: skip
def test_bad_subzones_name_the_field(data_dir: Path, table: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(ConfigError) as err:
        small_scenario(data_dir, subzones=table)
    assert err.value.field == field
    assert words in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("table", "service", "words"),
    [
        # a polygon elsewhere on the map: no stops
        (zones_doc(polygon=[[37.60, 127.20], [37.62, 127.20], [37.62, 127.22]]), {}, "contains none of the"),
        # reaching beyond the service zone
        (zones_doc(), {"zone": [[37.50, 127.07], [37.54, 127.07], [37.54, 127.12], [37.50, 127.12]]},
         "reaches outside the service zone"),
    ],
)  # fmt: skip
def test_subzones_that_do_not_fit_the_map_name_the_field(
    data_dir: Path, table: dict[str, Any], service: dict[str, Any], words: str
) -> None:
    sim = Simulation(small_scenario(data_dir, subzones=table, service=service))
    with pytest.raises(ConfigError) as err:
        sim.setup()
    assert err.value.field == "subzones.zones[1].polygon"
    assert words in str(err.value) and "\n" not in str(err.value)


def test_a_geojson_subzone(data_dir: Path, tmp_path: Path) -> None:
    ring = [[lon, lat] for lat, lon in EAST] + [[EAST[0][1], EAST[0][0]]]
    feature = {
        "type": "Feature",
        "properties": {"name": "east"},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }
    path = tmp_path / "east.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    zones = [{"name": "west", "polygon": WEST, "vehicles": 2}, {"name": "east", "geojson": str(path), "vehicles": 3}]
    sc = small_scenario(data_dir, subzones={"zones": zones})
    assert sc.subzones.zones[1].polygon == tuple((lat, lon) for lat, lon in EAST)
    holed = {**feature, "geometry": {"type": "Polygon", "coordinates": [ring, ring[:3] + ring[:1]]}}
    path.write_text(json.dumps(holed))
    with pytest.raises(ConfigError) as err:
        small_scenario(data_dir, subzones={"zones": zones})
    assert err.value.field == "subzones.zones[1].geojson" and "holes" in str(err.value)


def test_the_command_line_prints_one_line_for_a_subzone_without_stops(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.test_cli_newuser import small_day

    path = small_day(tmp_path)
    day = "\n".join(line for line in path.read_text().splitlines() if not line.startswith("vehicles ="))
    path.write_text(
        day
        + '\n[subzones]\ncrossing = "transfer"\n'
        + f'[[subzones.zones]]\nname = "west"\nvehicles = 2\npolygon = {json.dumps(WEST)}\n'
        + '[[subzones.zones]]\nname = "far"\nvehicles = 2\n'
        + "polygon = [[37.60, 127.20], [37.62, 127.20], [37.62, 127.22]]\n"
    )
    code = main(["simulate", str(path), "--data-dir", str(data_dir), "--out", str(tmp_path / "run"), "--no-plots"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err == [err[0]] and err[0].startswith("mobility: error: subzones.zones[1].polygon: contains none of the")


def test_shifts_and_subzones_together_are_refused_naming_the_field(data_dir: Path) -> None:
    """A split zone's vehicles come from its sub-zones, all on the fleet's one shift: [fleet]
    shifts would be silently dropped, so the file is refused."""
    import tomllib

    path = Path(__file__).resolve().parents[2] / "scenarios" / "imod_split_jamsil.toml"
    doc = tomllib.loads(path.read_text(encoding="utf-8"))
    for key in ("vehicles", "shift_start", "shift_end"):
        doc.get("fleet", {}).pop(key, None)
    doc.setdefault("fleet", {})["shifts"] = [{"start": "06:00", "end": "14:00", "vehicles": 2}]
    with pytest.raises(ConfigError, match=r"^fleet\.shifts: .*subzones"):
        Scenario.from_dict(doc, base=path.parent, data_dir=data_dir)
