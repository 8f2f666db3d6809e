"""Demand at addresses: points weighted by road length or by a layer, and the walks they cost.

The samplers are checked on networks and layers small enough to count by hand (statistical
checks with a fixed seed and a tolerance of several standard deviations); the walks on a short
day on a grid network (:func:`tests.matching.test_deployment_inputs.grid_osm`), recounted
from the riders' points and their stops.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
from shapely.geometry import Polygon

from matching.deployment import ConfigError
from routing import RoadNetwork
from routing.snapping import project
from sim.demand import generate
from sim.demand_sources import layer_points, read_weight_layer, road_points
from sim.kpi import compute_kpis
from sim.report import format_summary
from sim.scenario import Scenario
from sim.simulator import Simulation
from tests.matching.test_deployment_inputs import grid_lat_lon, grid_osm

LAT0, LON0 = 37.5, 127.0
M_PER_DEG_LAT = 111_000.0


def line_network(lengths_m: list[float], *, oneway: list[bool] | None = None) -> RoadNetwork:
    """Nodes on a north-south line, ``lengths_m`` apart, with two-way roads between neighbours
    (``oneway[k]``: road k one way only, and a closing road from the last node back to the
    first, so that the network stays strongly connected)."""
    lat = LAT0 + np.concatenate([[0.0], np.cumsum(lengths_m)]) / M_PER_DEG_LAT
    n = lat.size
    tail, head, length = [], [], []
    for k, m in enumerate(lengths_m):
        tail.append(k)
        head.append(k + 1)
        length.append(m)
        if not (oneway and oneway[k]):
            tail.append(k + 1)
            head.append(k)
            length.append(m)
    if oneway and any(oneway):
        tail.append(n - 1)
        head.append(0)
        length.append(sum(lengths_m))
    from pyproj import Transformer

    x, y = Transformer.from_crs("EPSG:4326", "EPSG:32652", always_xy=True).transform(np.full(n, LON0), lat)
    return RoadNetwork.from_edges(
        tail=tail, head=head, travel_time_s=length, length_m=length, lat=lat, lon=np.full(n, LON0),
        x_m=x, y_m=y, crs="EPSG:32652",
    )  # fmt: skip


def test_a_road_ten_times_longer_gets_ten_times_the_points() -> None:
    net = line_network([100.0, 1000.0])  # A -100 m- B -1000 m- C
    lat, lon = road_points(net, 20_000, np.random.default_rng(5))
    assert np.all(lon == LON0)
    b = LAT0 + 100.0 / M_PER_DEG_LAT
    long_share = float(np.mean(lat > b))
    # expected 10/11 = 0.909; one standard deviation is 0.002
    assert long_share == pytest.approx(10 / 11, abs=0.01)
    # uniform along each road: the long road's points split evenly around its middle
    middle = b + 500.0 / M_PER_DEG_LAT
    assert np.mean(lat[lat > b] > middle) == pytest.approx(0.5, abs=0.02)


def test_a_two_way_street_counts_once() -> None:
    # A -> B one way, B <-> C two-way, C -> A one way (the closing road, 1,000 m): three roads,
    # whatever their directions, weighted 500 : 500 : 1,000
    net = line_network([500.0, 500.0], oneway=[True, False])
    assert net.num_edges == 4
    lat, _ = road_points(net, 30_000, np.random.default_rng(1))
    # the closing road A-C runs along the same line, so it spreads its points over both halves:
    # the half A-B gets 500 + 500 of the 2,000 m, as does the half B-C
    b = LAT0 + 500.0 / M_PER_DEG_LAT
    assert np.mean(lat < b) == pytest.approx(0.5, abs=0.015)


def test_road_points_stay_in_the_zone() -> None:
    net = line_network([100.0, 1000.0, 1000.0])
    top = LAT0 + 1100.0 / M_PER_DEG_LAT
    zone = [(LAT0 - 0.001, LON0 - 0.001), (LAT0 - 0.001, LON0 + 0.001), (top + 1e-6, LON0 + 0.001),
            (top + 1e-6, LON0 - 0.001)]  # fmt: skip
    lat, _ = road_points(net, 2000, np.random.default_rng(2), zone=zone)
    assert lat.max() <= top  # the third road leaves the zone
    assert np.mean(lat > LAT0 + 100.0 / M_PER_DEG_LAT) == pytest.approx(10 / 11, abs=0.03)


def square(lat: float, lon: float, side: float) -> list[list[float]]:
    return [[lon, lat], [lon + side, lat], [lon + side, lat + side], [lon, lat + side], [lon, lat]]


def write_layer(path: Path) -> Path:
    features = [
        {"type": "Feature", "properties": {"population": 100}, "geometry": {"type": "Polygon",
         "coordinates": [square(37.50, 127.00, 0.01)]}},
        {"type": "Feature", "properties": {"population": 300}, "geometry": {"type": "Polygon",
         "coordinates": [square(37.50, 127.02, 0.01)]}},
        {"type": "Feature", "properties": {"name": "no population"}, "geometry": {"type": "Polygon",
         "coordinates": [square(37.60, 127.02, 0.01)]}},
    ]  # fmt: skip
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    return path


def test_population_polygons_hold_every_point_and_share_by_population(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    layer = read_weight_layer(write_layer(tmp_path / "blocks.geojson"), {})
    assert "demand.weights: 1 of the 3 features" in caplog.text  # the one without a population
    assert "(first: feature 2: None)" in caplog.text
    lat, lon = layer_points(layer, 8000, np.random.default_rng(3))
    west = Polygon(square(37.50, 127.00, 0.01))
    east = Polygon(square(37.50, 127.02, 0.01))
    in_west = shapely.contains_xy(west, lon, lat)
    in_east = shapely.contains_xy(east, lon, lat)
    assert np.all(in_west | in_east)
    assert in_east.mean() == pytest.approx(0.75, abs=0.02)  # 300 of 400 people
    # uniform inside: a quarter of the west square's points in its south-west quarter
    sw = in_west & (lat < 37.505) & (lon < 127.005)
    assert sw.sum() / in_west.sum() == pytest.approx(0.25, abs=0.03)


def test_a_zone_clips_the_polygons_and_their_weight(tmp_path: Path) -> None:
    layer = read_weight_layer(write_layer(tmp_path / "blocks.geojson"), {})
    # the zone holds all of the west square and the west half of the east one
    zone = [(37.499, 126.999), (37.499, 127.025), (37.511, 127.025), (37.511, 126.999)]
    _, lon = layer_points(layer, 6000, np.random.default_rng(4), zone=zone)
    assert lon.max() <= 127.025
    # weights 100 and 300 x 1/2: the east part gets 150 / 250
    assert np.mean(lon >= 127.02) == pytest.approx(0.6, abs=0.02)


def test_a_csv_layer_of_weighted_points(tmp_path: Path) -> None:
    path = tmp_path / "places.csv"
    path.write_text("y,x,people\n37.51,127.10,1\n37.52,127.11,3\n37.53,127.12,oops\n", encoding="utf-8")
    layer = read_weight_layer(path, {"lat": "y", "lon": "x", "weight": "people"})
    assert layer.lat.tolist() == [37.51, 37.52]  # the unreadable row skipped
    lat, _ = layer_points(layer, 4000, np.random.default_rng(0))
    assert set(np.unique(lat).tolist()) == {37.51, 37.52}
    assert np.mean(lat == 37.52) == pytest.approx(0.75, abs=0.025)
    with pytest.raises(ConfigError, match=r"demand\.columns\.weight: .*no weight column"):
        read_weight_layer(path, {"lat": "y", "lon": "x", "weight": "persons"})


# ------------------------------------------------------------------------------ a day at addresses
def grid_scenario(folder: Path, demand: dict[str, Any], **tables: Any) -> Scenario:
    doc: dict[str, Any] = {
        "scenario": {"name": "grid", "seed": 2, "start": "08:00", "end": "09:00"},
        "network": {"kind": "osm", "path": "grid.osm"},
        "stops": {"kind": "virtual", "spacing_m": 200},
        "fleet": {"vehicles": 3, "seats": 8, "shift_start": "08:00", "shift_end": "10:00"},
        "service": {"max_wait_s": 900, "max_walk_m": 400},
        "demand": {"lead_max_min": 5, "prebook_share": 0.0, "cancel_probability": 0.0,
                   "no_show_probability": 0.0, "profile": "flat", **demand},
        "traffic": {"model": "none"},
        "dispatch": {"reoptimise_every_s": 0},
    }  # fmt: skip
    for section, values in tables.items():
        doc.setdefault(section, {}).update(values)
    return Scenario.from_dict(doc, base=folder)


@pytest.fixture(scope="module")
def address_day(tmp_path_factory: pytest.TempPathFactory) -> tuple[Simulation, Any]:
    folder = tmp_path_factory.mktemp("addresses")
    grid_osm(folder / "grid.osm", side=8)
    sim = Simulation(grid_scenario(folder, {"kind": "addresses", "total": 40}))
    sim.setup()
    return sim, sim.run()


def test_address_requests_are_points_inside_the_grid(address_day: tuple[Simulation, Any]) -> None:
    sim, _ = address_day
    assert len(sim.demand) == 40
    top, right = grid_lat_lon(7, 7)
    for item in sim.demand:
        r = item.request
        assert r.origin_stop is None and r.destination_stop is None
        for lat, lon in ((r.origin_lat, r.origin_lon), (r.destination_lat, r.destination_lon)):
            assert lat is not None and lon is not None
            assert grid_lat_lon(0, 0)[0] - 1e-9 <= lat <= top + 1e-9
            assert grid_lat_lon(0, 0)[1] - 1e-9 <= lon <= right + 1e-9


def test_walks_are_the_distances_from_the_points_to_the_stops(address_day: tuple[Simulation, Any]) -> None:
    sim, out = address_day
    done = [r for r in out.rides if r.outcome == "completed"]
    assert len(done) >= 20
    walked = 0
    for rec in done:
        req = sim.items[rec.ride_id].request
        x, y = project(sim.network, [req.origin_lat, req.destination_lat], [req.origin_lon, req.destination_lon])
        to_pickup = np.hypot(x[0] - sim.stops.x_m[rec.origin_stop], y[0] - sim.stops.y_m[rec.origin_stop])
        from_dropoff = np.hypot(x[1] - sim.stops.x_m[rec.destination_stop], y[1] - sim.stops.y_m[rec.destination_stop])
        assert abs(rec.walk_to_pickup_m - to_pickup) <= 1.0
        assert abs(rec.walk_from_dropoff_m - from_dropoff) <= 1.0
        walked += rec.walk_to_pickup_m + rec.walk_from_dropoff_m
    assert walked > 0  # points along the roads are mostly not at a stop
    kpis = compute_kpis(out)
    walking = kpis["walking"]
    assert walking["total"]["count"] == len(done)
    assert walking["total_m"] == pytest.approx(walked / len(done), abs=0.05)
    totals = sorted(r.walk_to_pickup_m + r.walk_from_dropoff_m for r in done)
    assert walking["total"]["max"] == totals[-1]
    assert walking["total"]["p50"] == pytest.approx(float(np.percentile(totals, 50)), abs=0.05)
    assert walking["to_pickup"]["max"] <= 400  # within max_walk_m
    assert "walk p50" in format_summary(kpis)


def test_addresses_need_the_network(tmp_path: Path) -> None:
    grid_osm(tmp_path / "grid.osm")
    scenario = grid_scenario(tmp_path, {"kind": "addresses", "total": 5})
    with pytest.raises(ConfigError, match=r"demand\.kind"):
        generate(scenario, 10)


@pytest.mark.parametrize(
    ("demand", "field"),
    [
        ({"kind": "addresses", "weights": "land_use"}, "demand.weights"),
        ({"kind": "addresses", "weights": "missing.geojson"}, "demand.weights"),
        ({"kind": "addresses", "columns": {"time": "t"}}, "demand.columns.time"),
        ({"kind": "addresses", "replay": "time_of_day"}, "demand.replay"),
        ({"kind": "addresses", "path": "grid.osm"}, "demand.path"),
        ({"kind": "profile", "weights": "road_length"}, "demand.weights"),
        ({"kind": "addresses", "destination_weights": "jobs.shp"}, "demand.destination_weights"),
        ({"kind": "trips", "path": "grid.osm", "destination_weights": "road_length"}, "demand.destination_weights"),
        ({"kind": "random"}, "demand.kind"),
    ],
)
def test_bad_address_demand_names_the_field(tmp_path: Path, demand: dict[str, Any], field: str) -> None:
    grid_osm(tmp_path / "grid.osm")
    with pytest.raises(ConfigError) as err:
        grid_scenario(tmp_path, demand)
    assert err.value.field == field
    assert "\n" not in str(err.value)


def test_destinations_from_their_own_layer(tmp_path: Path) -> None:
    from matching.deployment import load_world

    grid_osm(tmp_path / "grid.osm")
    (tmp_path / "jobs.csv").write_text(
        "lat,lon,weight\n{:.6f},{:.6f},1\n{:.6f},{:.6f},4\n".format(*grid_lat_lon(1, 1), *grid_lat_lon(4, 3)),
        encoding="utf-8",
    )
    sc = grid_scenario(tmp_path, {"kind": "addresses", "total": 400, "destination_weights": "jobs.csv"})
    net, _, stops = load_world(sc.deployment)
    items = generate(sc, len(stops), network=net, stops=stops)
    dest = Counter((round(it.request.destination_lat, 6), round(it.request.destination_lon, 6)) for it in items)
    jobs = {tuple(round(v, 6) for v in grid_lat_lon(1, 1)), tuple(round(v, 6) for v in grid_lat_lon(4, 3))}
    assert set(dest) == jobs
    assert dest[tuple(round(v, 6) for v in grid_lat_lon(4, 3))] / 400 == pytest.approx(0.8, abs=0.06)
    origins = {(it.request.origin_lat, it.request.origin_lon) for it in items}
    assert len(origins) == 400  # along the roads: all different
