"""Scenario inputs of a deployment: ``[network] speeds``, ``[stops]`` from a file, ``[fares]``.

The road network is a small grid written here as OSM XML (:func:`grid_osm`): its streets are
all of one class, so a class speed sets every travel time and the expectations can be counted
by hand; the grid builds in a moment, so the cache can be checked with fresh folders.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from matching import ImodFare, RiderClass, SharedTaxiFare, format_money
from matching.deployment import ConfigError, Deployment, build_stops, load_world
from routing import StopSet, load_network, network_cache_path

#: South-west corner of the grid (Jamsil, Seoul) and its spacing in degrees.
GRID_LAT0, GRID_LON0 = 37.510, 127.100
GRID_DLAT, GRID_DLON = 0.001, 0.00125  # about 111 m and 110 m


def grid_lat_lon(row: int, col: int) -> tuple[float, float]:
    return GRID_LAT0 + row * GRID_DLAT, GRID_LON0 + col * GRID_DLON


def grid_osm(path: Path, *, side: int = 6, highway: str = "residential", main: str | None = None) -> Path:
    """A ``side x side`` grid of two-way streets of class ``highway`` as OSM XML (no maxspeed
    tags); with ``main``, the middle row is a street of that class instead."""
    nodes = []
    for r in range(side):
        for c in range(side):
            lat, lon = grid_lat_lon(r, c)
            nodes.append(f'  <node id="{1 + r * side + c}" lat="{lat:.6f}" lon="{lon:.6f}"/>')
    ways = []
    wid = 1000
    for r in range(side):
        refs = "".join(f'<nd ref="{1 + r * side + c}"/>' for c in range(side))
        cls = main if main is not None and r == side // 2 else highway
        ways.append(f'  <way id="{wid}">{refs}<tag k="highway" v="{cls}"/></way>')
        wid += 1
    for c in range(side):
        refs = "".join(f'<nd ref="{1 + r * side + c}"/>' for r in range(side))
        ways.append(f'  <way id="{wid}">{refs}<tag k="highway" v="{highway}"/></way>')
        wid += 1
    text = '<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6" generator="mobility tests">\n'
    text += "\n".join(nodes + ways) + "\n</osm>\n"
    path.write_text(text, encoding="utf-8")
    return path


def deployment(tmp: Path, **tables: Any) -> Deployment:
    doc: dict[str, Any] = {"network": {"kind": "osm", "path": str(tmp / "grid.osm")}}
    doc.update(tables)
    return Deployment.from_dict(doc, base=tmp)


@pytest.fixture(scope="module")
def grid_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("grid")
    grid_osm(folder / "grid.osm")
    return folder


# ------------------------------------------------------------------------------ speeds
def test_speeds_set_the_travel_times_and_key_the_cache(grid_dir: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    slow = deployment(grid_dir, network={"kind": "osm", "path": "grid.osm", "speeds": {"residential": 15}})
    fast = deployment(grid_dir, network={"kind": "osm", "path": "grid.osm", "speeds": {"residential": 60}})
    default = deployment(grid_dir, network={"kind": "osm", "path": "grid.osm"})
    a = load_network(slow.network.path, options=slow.network.build_options(), cache_dir=cache)
    b = load_network(fast.network.path, options=fast.network.build_options(), cache_dir=cache)
    c = load_network(default.network.path, options=default.network.build_options(), cache_dir=cache)
    assert not b.meta["from_cache"]  # a new build, not the slow network read back
    paths = {network_cache_path(d.network.path, d.network.build_options(), cache) for d in (slow, fast, default)}
    assert len(paths) == 3
    np.testing.assert_array_equal(a.length_m, b.length_m)
    # time = length / speed: 15 km/h is 0.24 s per metre, 60 km/h 0.06 s, the default 30 km/h 0.12 s
    for net, s_per_m in ((a, 3.6 / 15), (b, 3.6 / 60), (c, 3.6 / 30)):
        expected = np.maximum(np.rint(net.length_m * s_per_m), 1)
        assert np.abs(net.travel_time_s - expected).max() <= 1
    # read again: the cache returns each one's own times
    again = load_network(fast.network.path, options=fast.network.build_options(), cache_dir=cache)
    assert again.meta["from_cache"]
    np.testing.assert_array_equal(again.travel_time_s, b.travel_time_s)


def test_load_world_builds_with_the_speeds(grid_dir: Path) -> None:
    net, router, _ = load_world(
        deployment(grid_dir, network={"kind": "osm", "path": "grid.osm", "speeds": {"residential": 20}})
    )
    far = int(np.argmax(net.x_m + net.y_m))
    near = int(np.argmin(net.x_m + net.y_m))
    path = router.path(near, far)
    # 10 blocks of about 110 m at 20 km/h (0.18 s per metre)
    assert path.travel_time_s == pytest.approx(path.length_m * 3.6 / 20, rel=0.02)


def test_a_class_not_in_the_defaults_is_added(tmp_path: Path) -> None:
    grid_osm(tmp_path / "grid.osm", main="busway")
    without = load_world(deployment(tmp_path))[0]
    with_it = load_world(deployment(tmp_path, network={"kind": "osm", "path": "grid.osm", "speeds": {"busway": 25}}))[0]
    # 6 x 6 grid: 6 rows and 6 columns of 5 blocks, both ways: 120 directed edges. Simplification
    # merges degree-2 nodes: the 4 corners (-8 edges). Without the busway row its 5 blocks go
    # (-10) and its 6 nodes become degree 2 on their columns (-12).
    assert with_it.num_edges == 120 - 8
    assert without.num_edges == 120 - 8 - 10 - 12


@pytest.mark.parametrize(
    ("network", "field"),
    [
        ({"speeds": {"residential": 0}}, "network.speeds.residential"),
        ({"speeds": {"residential": 400}}, "network.speeds.residential"),
        ({"speeds": {"Main Road": 30}}, "network.speeds.Main Road"),
        ({"speeds": {"primary": "fast"}}, "network.speeds.primary"),
        ({"speeds": [30]}, "network.speeds"),
        ({"use_maxspeed": "no"}, "network.use_maxspeed"),
    ],
)
def test_bad_speeds_name_the_field(grid_dir: Path, network: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as err:
        deployment(grid_dir, network={"kind": "osm", "path": "grid.osm", **network})
    assert err.value.field == field
    assert "\n" not in str(err.value)


def test_speeds_are_refused_for_benchmark_graphs(data_dir: Path) -> None:
    with pytest.raises(ConfigError, match=r"network\.speeds"):
        Deployment.from_dict(
            {"network": {"kind": "benchmark", "path": "rideshare/manhattan/Manhattan", "speeds": {"primary": 30}}},
            data_dir=data_dir,
        )


# ------------------------------------------------------------------------------ stops from files
#: Five stops: four at grid nodes (one 5 m off), one far away (about 2 km south); corners are not
#: nodes (simplification merges them away).
STOPS = [
    ("S1", "North", *grid_lat_lon(5, 1)),
    ("S2", "Centre", grid_lat_lon(2, 2)[0] + 0.00005, grid_lat_lon(2, 2)[1]),
    ("S3", "East", *grid_lat_lon(3, 5)),
    ("S4", "South", *grid_lat_lon(0, 3)),
    ("FAR", "Far away", GRID_LAT0 - 0.02, GRID_LON0),
]


def write_stops_csv(path: Path) -> Path:
    rows = ["stop_id;stop_name;stop_lat;stop_lon"] + [f"{i};{n};{la:.6f};{lo:.6f}" for i, n, la, lo in STOPS]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def write_stops_geojson(path: Path) -> Path:
    features = [
        {"type": "Feature", "id": i, "properties": {"name": n}, "geometry": {"type": "Point", "coordinates": [lo, la]}}
        for i, n, la, lo in STOPS
    ]
    features.append(
        {"type": "Feature", "properties": {}, "geometry": {"type": "LineString", "coordinates": [[0, 0], [1, 1]]}}
    )
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    return path


def write_gtfs(path: Path) -> Path:
    """A GTFS feed written by hand: the five stops, a station (skipped) and one trip over them."""
    stops = ["stop_id,stop_name,stop_lat,stop_lon,location_type,parent_station"]
    stops += [f"{i},{n},{la:.6f},{lo:.6f},0," for i, n, la, lo in STOPS]
    stops.append(f"STATION,A station,{GRID_LAT0:.6f},{GRID_LON0:.6f},1,")
    files = {
        "agency.txt": "agency_id,agency_name,agency_url,agency_timezone\nA,Test,https://example.org,Asia/Seoul\n",
        "stops.txt": "\n".join(stops) + "\n",
        "routes.txt": "route_id,agency_id,route_short_name,route_type\nR,A,1,3\n",
        "calendar.txt": "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,end_date\n"
        "WK,1,1,1,1,1,0,0,20260101,20261231\n",
        "trips.txt": "route_id,service_id,trip_id\nR,WK,T1\n",
        "stop_times.txt": "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"
        + "".join(f"T1,08:0{k}:00,08:0{k}:00,{s[0]},{k}\n" for k, s in enumerate(STOPS[:4])),
    }
    with zipfile.ZipFile(path, "w") as z:
        for name, text in files.items():
            z.writestr(name, text)
    return path


@pytest.mark.parametrize(("kind", "writer", "name"), [
    ("csv", write_stops_csv, "stops.csv"),
    ("geojson", write_stops_geojson, "stops.geojson"),
    ("gtfs", write_gtfs, "feed.zip"),
])  # fmt: skip
def test_stops_from_a_file_snap_to_the_network(
    grid_dir: Path, tmp_path: Path, kind: str, writer: Any, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    writer(tmp_path / name)
    d = Deployment.from_dict(
        {"network": {"kind": "osm", "path": str(grid_dir / "grid.osm")}, "stops": {"kind": kind, "path": name}},
        base=tmp_path,
    )
    net, _, stops = load_world(d)
    assert isinstance(stops, StopSet)
    assert stops.ids == ("S1", "S2", "S3", "S4")  # FAR dropped, the station skipped, the order kept
    assert stops.names == ("North", "Centre", "East", "South")
    assert "1 of the 5 stops" in caplog.text and "'FAR'" in caplog.text
    for k, (_, _, lat, lon) in enumerate(STOPS[:4]):  # each on the grid node nearest its point
        node = int(stops.node[k])
        assert abs(net.lat[node] - lat) < 1e-4 and abs(net.lon[node] - lon) < 1e-4
        assert stops.lat[k] == net.lat[node] and stops.x_m[k] == net.x_m[node]
    assert stops.index_of_ids() == {"S1": 0, "S2": 1, "S3": 2, "S4": 3}
    sub = stops.subset(np.array([False, True, False, True]))
    assert sub.ids == ("S2", "S4") and list(sub.node) == [stops.node[1], stops.node[3]]


def test_max_snap_m_keeps_a_far_stop_when_wide_enough(grid_dir: Path, tmp_path: Path) -> None:
    write_stops_csv(tmp_path / "stops.csv")
    d = deployment(grid_dir, stops={"kind": "csv", "path": str(tmp_path / "stops.csv"), "max_snap_m": 3000})
    net = load_network(d.network.path, options=d.network.build_options())
    assert build_stops(d.stops, net).ids == ("S1", "S2", "S3", "S4", "FAR")


@pytest.mark.parametrize(
    ("stops", "field"),
    [
        ({"kind": "shapefile", "path": "x"}, "stops.kind"),
        ({"kind": "csv"}, "stops.path"),
        ({"kind": "csv", "path": "missing.csv"}, "stops.path"),
        ({"kind": "virtual", "path": "grid.osm"}, "stops.path"),
        ({"kind": "csv", "path": "grid.osm", "spacing_m": 200}, "stops.spacing_m"),
        ({"kind": "csv", "path": "grid.osm", "max_snap_m": -1}, "stops.max_snap_m"),
    ],
)
def test_bad_stops_tables_name_the_field(grid_dir: Path, stops: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as err:
        deployment(grid_dir, stops=stops)
    assert err.value.field == field
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("id,lat\nA,37.5\n", "no longitude column"),
        ("stop_id,stop_lat,stop_lon\nA,north,127.1\n", "line 2: latitude 'north' is not a number"),
        ("stop_id,stop_lat,stop_lon\nA,37.51,127.1\nA,37.52,127.1\n", "stop id 'A' appears more than once"),
        ("stop_id,stop_lat,stop_lon\nA,127.1,37.51\n", "is not a latitude/longitude"),
        ("stop_id,stop_lat,stop_lon\nA,37.0,126.0\n", "none of the 1 stops lies within 100 m"),
    ],
)
def test_bad_stop_files_give_one_line(grid_dir: Path, tmp_path: Path, text: str, needle: str) -> None:
    (tmp_path / "stops.csv").write_text(text, encoding="utf-8")
    d = deployment(grid_dir, stops={"kind": "csv", "path": str(tmp_path / "stops.csv")})
    net = load_network(d.network.path, options=d.network.build_options())
    with pytest.raises(ConfigError) as err:
        build_stops(d.stops, net)
    assert needle in str(err.value)
    assert err.value.field in ("stops.path", "stops.max_snap_m")
    assert "\n" not in str(err.value)


# ------------------------------------------------------------------------------ fares
def test_fares_table_sets_the_imod_amounts_and_currency(grid_dir: Path) -> None:
    d = deployment(
        grid_dir,
        fares={
            "policy": "imod",
            "currency": "EUR",
            "base": {"adult": 250, "youth": 180, "child": 100},
            "base_distance_m": 5000,
            "per_km": 20,
        },
    )
    fares = d.fares()
    assert isinstance(fares, ImodFare)
    assert d.currency == "EUR"
    assert fares.fare(RiderClass.ADULT, 5000) == 250  # within the base distance
    assert fares.fare(RiderClass.ADULT, 5001) == 270  # one started km beyond
    assert fares.fare(RiderClass.CHILD, 7500, passengers=2) == 2 * (100 + 3 * 20)
    assert fares.fare(RiderClass.YOUTH, 0) == 180
    assert format_money(270, "EUR") == "2.70 EUR"
    assert format_money(1800, "KRW") == "1,800 KRW"


def test_another_currency_needs_every_amount(grid_dir: Path) -> None:
    """The default amounts are won: in another currency a missing one would be read as euro
    cents (a youth fare of 12.00 EUR), so it is refused, naming what is missing."""
    with pytest.raises(ConfigError, match=r"^fares\.currency: EUR: .*\(missing: base\.youth\)$"):
        deployment(
            grid_dir,
            fares={"currency": "EUR", "base": {"adult": 250, "child": 100}, "per_km": 20},
        )
    with pytest.raises(ConfigError, match=r"missing: base_fare, per_step, round_to"):
        deployment(grid_dir, fares={"policy": "shared_taxi", "currency": "EUR"})
    assert deployment(grid_dir, fares={"currency": "KRW"}).currency == "KRW"  # won: the defaults stand


def test_fares_table_of_the_shared_taxi(grid_dir: Path) -> None:
    d = deployment(
        grid_dir, fares={"policy": "shared_taxi", "base_fare": 3000, "step_m": 100, "per_step": 50, "round_to": 10}
    )
    fares = d.fares()
    assert isinstance(fares, SharedTaxiFare)
    assert d.currency == "KRW"
    # 1,600 m included; 1,850 m is 3 started steps of 100 m: 3,000 + 150
    assert fares.fare(RiderClass.ADULT, 1850) == 3150
    assert fares.fare(RiderClass.ADULT, 1850, pooled=True) == 2210  # 70 % of 3,150 = 2,205, to 10: 2,210


@pytest.mark.parametrize(
    ("fares", "field"),
    [
        ({"policy": "metro"}, "fares.policy"),
        ({"currency": "euro"}, "fares.currency"),
        ({"currency": "eur"}, "fares.currency"),
        ({"base": {"adult": -5}}, "fares.base.adult"),
        ({"base": {"senior": 500}}, "fares.base.senior"),
        ({"base": 1800}, "fares.base"),
        ({"per_km": 1.5}, "fares.per_km"),
        ({"per_km": 100, "per_step": 100}, "fares.per_step"),
        ({"step_m": 0}, "fares.step_m"),
        ({"base_fare": 3000}, "fares.base_fare"),  # a shared-taxi key under the imod policy
        ({"policy": "shared_taxi", "pooled_discount_pct": 120}, "fares.pooled_discount_pct"),
        ({"policy": "shared_taxi", "base": {"adult": 1}}, "fares.base"),
    ],
)
def test_bad_fares_name_the_field(grid_dir: Path, fares: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as err:
        deployment(grid_dir, fares=fares)
    assert err.value.field == field
    assert "\n" not in str(err.value)
