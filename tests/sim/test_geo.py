"""The report's GeoJSON and the geographic columns of rides.csv, read back by GDAL (pyogrio) and
shapely and checked against the day's own records."""

from __future__ import annotations

import csv
import datetime
import itertools
import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
from pyogrio import read_dataframe

from routing import RoadNetwork, StopSet
from routing.network import project_to_crs
from sim.geo import COORD_DIGITS, SIMPLIFY_TOLERANCE_DEG, clock, track_lines
from sim.plots import street_lines, street_loads
from sim.records import Drive, SimOutput, VehicleRecord
from sim.report import write_report
from sim.scenario import Scenario
from sim.simulator import Simulation
from tests.sim.sample_day import sample_day

#: A quadrilateral around most of the Jamsil extract, given clockwise in (lon, lat) on purpose:
#: the written polygon must come out counter-clockwise (RFC 7946 § 3.1.6).
ZONE = ((37.535, 127.085), (37.530, 127.125), (37.505, 127.110), (37.505, 127.075))


def small_day(data_dir: Path) -> SimOutput:
    """Two hours on Jamsil with a zone (most of the extract): three minibuses, 60 requests."""
    doc: dict[str, Any] = {
        "scenario": {"name": "geo-small", "seed": 5, "start": "07:00", "end": "09:00"},
        "network": {"kind": "osm", "path": "osm/seoul_jamsil.osm"},
        "stops": {"kind": "virtual", "spacing_m": 300},
        "fleet": {"vehicles": 3, "seats": 6, "shift_start": "07:00", "shift_end": "09:30"},
        "service": {
            "max_wait_s": 600,
            "service_start_s": 6 * 3600,
            "service_end_s": 23 * 3600,
            "zone": [list(v) for v in ZONE],
        },
        "demand": {"kind": "profile", "total": 60, "profile": "flat", "prebook_share": 0.2, "lead_max_min": 2},
        "traffic": {"model": "none"},
        "dispatch": {"reoptimise_every_s": 600, "reoptimise_iterations": 10},
    }
    sim = Simulation(Scenario.from_dict(doc, data_dir=data_dir))
    sim.setup()
    return sim.run()


@pytest.fixture(scope="module")
def day(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[SimOutput, dict[str, Path]]:
    out = small_day(data_dir)
    return out, write_report(out, tmp_path_factory.mktemp("geo"), plots=False)


def street_points(net: RoadNetwork, nodes: list[int]) -> np.ndarray:
    """``[lon, lat]`` of a path's nodes with the shape points of the edges between them, recounted
    by scanning each node's CSR row for the next node."""
    out = []
    for u, v in itertools.pairwise(nodes):
        out.append((net.lon[u], net.lat[u]))
        row = range(int(net.indptr[u]), int(net.indptr[u + 1]))
        (e,) = [e for e in row if net.indices[e] == v]
        lo, hi = int(net.geom_indptr[e]), int(net.geom_indptr[e + 1])
        out += zip(net.geom_lon[lo:hi], net.geom_lat[lo:hi], strict=True)
    out.append((net.lon[nodes[-1]], net.lat[nodes[-1]]))
    return np.array(out, np.float64)


def csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def hhmm(values: Any) -> list[str]:
    """HH:MM strings of a column GDAL read (it reads HH:MM strings as times; nulls as None)."""
    out = []
    for v in values:
        if isinstance(v, datetime.time):
            out.append(v.strftime("%H:%M"))
        else:
            out.append("" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v))
    return out


def _json(path: Path) -> dict[str, Any]:
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["type"] == "FeatureCollection"
    assert "crs" not in doc  # RFC 7946 has no crs member: WGS84 is implied
    return doc


# ---------------------------------------------------------------------------------- clock
def test_clock() -> None:
    assert clock(0) == "00:00"
    assert clock(3599) == "00:59"
    assert clock(7 * 3600 + 5 * 60 + 59) == "07:05"
    assert clock(7 * 3600 + 5 * 60 + 59, seconds=True) == "07:05:59"
    assert clock(25 * 3600 + 61, seconds=True) == "25:01:01"  # past midnight, as in GTFS
    assert clock(-1) == "" and clock(None) == ""


# ---------------------------------------------------------------------------------- files
def test_day_has_what_the_checks_need(day: tuple[SimOutput, dict[str, Path]]) -> None:
    out, files = day
    assert {"stops_geojson", "zone_geojson", "tracks_geojson", "rides_geojson"} <= set(files)
    outcomes = {r.outcome for r in out.rides}
    assert "completed" in outcomes and len(out.drives) > 20


def test_stops_read_back(day: tuple[SimOutput, dict[str, Path]]) -> None:
    out, files = day
    frame = read_dataframe(files["stops_geojson"])
    stops = out.stops
    assert len(frame) == len(stops)
    assert set(frame.geometry.geom_type) == {"Point"}
    assert str(frame.crs).upper().endswith("4326")
    # [lon, lat] order: x is the longitude, within the network's longitudes
    x, y = frame.geometry.x.to_numpy(), frame.geometry.y.to_numpy()
    net = out.network
    assert np.all((x >= net.lon.min() - 1e-6) & (x <= net.lon.max() + 1e-6))
    np.testing.assert_allclose(x, stops.lon, atol=0.51 * 10**-COORD_DIGITS)
    np.testing.assert_allclose(y, stops.lat, atol=0.51 * 10**-COORD_DIGITS)
    assert frame["stop"].tolist() == list(range(len(stops)))
    # in_zone recounted with shapely on the zone as (lon, lat)
    zone = shapely.Polygon([(lon, lat) for lat, lon in ZONE])
    inside = [zone.covers(shapely.Point(a, b)) for a, b in zip(stops.lon, stops.lat, strict=True)]
    assert frame["in_zone"].astype(bool).tolist() == inside
    assert 0 < sum(inside) < len(stops)


def test_zone_read_back(day: tuple[SimOutput, dict[str, Path]]) -> None:
    _, files = day
    frame = read_dataframe(files["zone_geojson"])
    assert len(frame) == 1 and frame.geometry.iloc[0].geom_type == "Polygon"
    poly = shapely.geometry.shape(_json(files["zone_geojson"])["features"][0]["geometry"])
    assert poly.is_valid and poly.exterior.is_ccw  # right-hand rule, though given clockwise
    ring = list(poly.exterior.coords)
    assert ring[0] == ring[-1] and len(ring) == len(ZONE) + 1
    assert {(lat, lon) for lon, lat in ring} == set(ZONE)
    props = frame.iloc[0]
    # about 2.6 km x 4 km: a plausible area in km², from the projected polygon
    assert 5 < props["area_km2"] < 15


def test_tracks_read_back(day: tuple[SimOutput, dict[str, Path]]) -> None:
    out, files = day
    frame = read_dataframe(files["tracks_geojson"])
    drawn = [d for d in out.drives if len(d.nodes) >= 2]
    assert len(frame) == len(drawn) > 0
    assert set(frame.geometry.geom_type) == {"LineString"}
    assert frame["vehicle_id"].tolist() == [d.vehicle_id for d in drawn]
    assert frame["depart_s"].tolist() == [d.depart_s for d in drawn]
    assert frame["onboard"].tolist() == [d.onboard for d in drawn]
    assert hhmm(frame["depart"]) == [clock(d.depart_s) for d in drawn]
    assert [str(t) for t in frame["arrive_time"]] == [clock(d.arrive_s, seconds=True) for d in drawn]
    net = out.network
    tol = SIMPLIFY_TOLERANCE_DEG + 10**-COORD_DIGITS
    bent = 0  # shape points the tracks pass through that lie off the straight node-to-node line
    for d, line in zip(drawn, frame.geometry, strict=True):
        pts = np.asarray(line.coords)
        street = street_points(net, d.nodes)
        nodes = np.column_stack([net.lon[d.nodes], net.lat[d.nodes]])
        # the ends are the drive's first and last road nodes ([lon, lat]); every point is a node
        # or a point of the shape of a street it drove
        np.testing.assert_allclose(pts[0], nodes[0], atol=10**-COORD_DIGITS)
        np.testing.assert_allclose(pts[-1], nodes[-1], atol=10**-COORD_DIGITS)
        gaps = np.abs(pts[:, None, :] - street[None, :, :]).max(axis=2).min(axis=1)
        assert gaps.max() <= 10**-COORD_DIGITS
        # and no point dropped, node or shape point, lies farther from the line than the tolerance
        assert max(line.distance(shapely.Point(p)) for p in street) <= tol
        assert len(pts) <= len(street)
        straight = shapely.LineString(nodes) if len(nodes) >= 2 else None
        if straight is not None:
            bent += sum(straight.distance(shapely.Point(p)) > 10 * tol for p in pts)
    assert bent > 0  # Jamsil has curved streets, and the tracks follow them


def test_track_coordinates_are_rounded(day: tuple[SimOutput, dict[str, Path]]) -> None:
    _, files = day
    text = files["tracks_geojson"].read_text(encoding="utf-8")
    assert not re.search(r"\d\.\d{" + str(COORD_DIGITS + 1) + ",}", text)


def test_rides_read_back_and_match_rides_csv(day: tuple[SimOutput, dict[str, Path]]) -> None:
    out, files = day
    rows = csv_rows(files["rides"])
    frame = read_dataframe(files["rides_geojson"])
    assert len(frame) == len(rows) == len(out.rides)
    assert frame["ride_id"].tolist() == [r["ride_id"] for r in rows]
    assert frame["outcome"].tolist() == [r["outcome"] for r in rows]
    assert hhmm(frame["requested"]) == [r["requested_hhmm"] for r in rows]
    assert hhmm(frame["dropoff"]) == [r["dropoff_hhmm"] for r in rows]
    for row, geom, wait in zip(rows, frame.geometry, frame["wait_s"], strict=True):
        if row["origin_lat"] == "":
            assert geom is None
            continue
        assert geom.geom_type == "LineString"
        (x0, y0), (x1, y1) = geom.coords
        assert (x0, y0) == (float(row["origin_lon"]), float(row["origin_lat"]))
        assert (x1, y1) == (float(row["destination_lon"]), float(row["destination_lat"]))
        if row["outcome"] == "completed":
            assert int(wait) == int(row["wait_s"])
        else:
            assert wait is None or math.isnan(wait)


def test_rides_csv_coordinates_are_the_stops(day: tuple[SimOutput, dict[str, Path]]) -> None:
    out, files = day
    stops = out.stops
    rows = csv_rows(files["rides"])
    placed = 0
    for row in rows:
        for end in ("origin", "destination"):
            stop = int(row[f"{end}_stop"])
            if stop < 0:
                assert row[f"{end}_lat"] == row[f"{end}_lon"] == ""
                continue
            placed += 1
            assert float(row[f"{end}_lat"]) == pytest.approx(stops.lat[stop], abs=1e-6)
            assert float(row[f"{end}_lon"]) == pytest.approx(stops.lon[stop], abs=1e-6)
    assert placed >= len(rows)


def _seconds(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 3600 + int(m) * 60


def test_rides_csv_clock_columns(day: tuple[SimOutput, dict[str, Path]]) -> None:
    _, files = day
    seen = 0
    for row in csv_rows(files["rides"]):
        for key in ("requested", "pickup", "dropoff"):
            seconds = int(row[f"{key}_s"])
            if seconds < 0:
                assert row[f"{key}_hhmm"] == ""
                continue
            assert re.fullmatch(r"\d\d:\d\d", row[f"{key}_hhmm"])
            assert 0 <= seconds - _seconds(row[f"{key}_hhmm"]) < 60
            seen += 1
    assert seen > 0


# ---------------------------------------------------------------------------------- small cases
def _line_network(*, bulge: bool = False) -> RoadNetwork:
    """Nodes 0..4 due east, 100 m apart, then node 5 100 m north of node 4 (two-way). With
    ``bulge``, the street from node 1 to node 2 curves 30 m north through two shape points."""
    x = np.array([0.0, 100, 200, 300, 400, 400])
    y = np.array([0.0, 0, 0, 0, 0, 100])
    lat = 37.5 + y / 111_000
    lon = 127.0 + x / (111_000 * math.cos(math.radians(37.5)))
    a, b = np.array([0, 1, 2, 3, 4]), np.array([1, 2, 3, 4, 5])
    length = np.hypot(x[a] - x[b], y[a] - y[b])
    shape: dict[str, Any] = {}
    if bulge:  # edges in the order given: 0->1, 1->2, ..., then 1->0, 2->1, ...
        north = 37.5 + 30 / 111_000
        east = 127.0 + np.array([130.0, 170.0]) / (111_000 * math.cos(math.radians(37.5)))
        counts = np.zeros(10, np.int64)
        counts[[1, 6]] = 2
        shape = {
            "geom_indptr": np.concatenate([[0], np.cumsum(counts)]),
            "geom_lat": [north, north, north, north],
            "geom_lon": [east[0], east[1], east[1], east[0]],
        }
    return RoadNetwork.from_edges(
        tail=np.concatenate([a, b]),
        head=np.concatenate([b, a]),
        travel_time_s=np.concatenate([length, length]) / 10,
        length_m=np.concatenate([length, length]),
        lat=lat,
        lon=lon,
        x_m=x,
        y_m=y,
        crs="EPSG:32652",
        **shape,
    )


def _line_day(drives: list[Drive], *, bulge: bool = False) -> SimOutput:
    net = _line_network(bulge=bulge)
    node = np.array([0, 4, 5], np.int32)
    stops = StopSet(
        node=node,
        x_m=net.x_m[node],
        y_m=net.y_m[node],
        lat=net.lat[node],
        lon=net.lon[node],
        source=np.ones(3, np.int8),
        osm_id=np.full(3, -1, np.int64),
        spacing_m=100.0,
    )
    vehicles = [VehicleRecord("V1", 4, 0, 0, 3600)]
    return SimOutput("line", 0, 0, 3600, [], drives, [], vehicles, network=net, stops=stops)


def test_the_streets_are_one_edge_per_pair_of_nodes() -> None:
    """routing.RoadNetwork.street_edges, which streets.geojson and GetServiceMap both draw: a
    two-way street once (from its lower node), a one-way street as it runs, in edge order."""
    net = RoadNetwork.from_edges(
        tail=[0, 1, 2, 2, 3], head=[1, 0, 1, 3, 2], travel_time_s=[5] * 5, length_m=[50] * 5,
        lat=[37.5, 37.501, 37.502, 37.503], lon=[127.0] * 4, x_m=[0.0] * 4, y_m=[0.0, 100.0, 200.0, 300.0],
        crs="EPSG:5186", largest_component=False,
    )  # fmt: skip
    edges, oneway = net.street_edges()
    pairs = [(int(net.tail[e]), int(net.indices[e])) for e in edges]
    assert pairs == [(0, 1), (2, 1), (2, 3)]
    assert oneway.tolist() == [False, True, False]


def test_straight_streets_cost_two_points_and_bends_stay() -> None:
    out = _line_day(
        [
            Drive("V1", 0, 40, 0, 1, 400, 0, [0, 1, 2, 3, 4]),  # straight: 5 nodes -> 2 points
            Drive("V1", 100, 150, 0, 2, 500, 1, [0, 1, 2, 3, 4, 5]),  # one bend at node 4
            Drive("V1", 200, 200, 1, 1, 0, 0, [4]),  # a single node: no track
        ]
    )
    which, lines = track_lines(out)
    assert which == [0, 1]
    net = out.network
    lonlat = np.round(np.column_stack([net.lon, net.lat]), COORD_DIGITS)
    np.testing.assert_array_equal(lines[0], lonlat[[0, 4]])
    np.testing.assert_array_equal(lines[1], lonlat[[0, 4, 5]])


def test_a_track_follows_a_curved_street() -> None:
    out = _line_day(
        [
            Drive("V1", 0, 40, 0, 1, 460, 0, [0, 1, 2, 3, 4]),  # east, over the bulge
            Drive("V1", 100, 150, 1, 0, 460, 1, [4, 3, 2, 1, 0]),  # west: the bulge backwards
        ],
        bulge=True,
    )
    net = out.network
    _, lines = track_lines(out)
    lonlat = np.round(np.column_stack([net.lon, net.lat]), COORD_DIGITS)
    bend = np.round(np.column_stack([net.geom_lon[:2], net.geom_lat[:2]]), COORD_DIGITS)
    # node 1, the two points of the bulge, node 2, then straight on to node 4 (3 dropped)
    np.testing.assert_array_equal(lines[0], np.vstack([lonlat[[0, 1]], bend, lonlat[[2, 4]]]))
    np.testing.assert_array_equal(lines[1], np.vstack([lonlat[[4, 2]], bend[::-1], lonlat[[1, 0]]]))


def test_the_map_draws_the_streets_along_their_shapes() -> None:
    out = _line_day([Drive("V1", 0, 40, 0, 1, 460, 0, [0, 1, 2, 3])], bulge=True)
    net = out.network
    pairs, _riders, passes = street_loads(out)
    assert pairs.tolist() == [[0, 1], [1, 2], [2, 3]] and passes.tolist() == [1, 1, 1]
    lines = street_lines(out, pairs)
    # the straight streets are their two nodes; the curved one bends through its two shape points
    np.testing.assert_array_equal(lines[0], [[0.0, 0.0], [100.0, 0.0]])
    assert len(lines[1]) == 4 and len(lines[2]) == 2
    bx, by = project_to_crs(net.geom_lat[:2], net.geom_lon[:2], net.crs)
    np.testing.assert_array_equal(lines[1], [[100.0, 0.0], [bx[0], by[0]], [bx[1], by[1]], [200.0, 0.0]])
    # a pair given the other way round is drawn from its first node (the edge 2 -> 1)
    backwards = street_lines(out, np.array([[2, 1]]))
    np.testing.assert_array_equal(backwards[0][[0, -1]], [[200.0, 0.0], [100.0, 0.0]])
    # two nodes no street joins (a record made by hand): a straight line
    np.testing.assert_array_equal(street_lines(out, np.array([[0, 5]]))[0], [[0.0, 0.0], [400.0, 100.0]])


def test_benchmark_graph_has_no_geojson_and_empty_coordinates(tmp_path: Path) -> None:
    out = sample_day(geographic=False)
    files = write_report(out, tmp_path, plots=False)
    assert not any(key.endswith("_geojson") for key in files)
    assert not list(tmp_path.glob("*.geojson"))
    rows = csv_rows(files["rides"])
    assert all(r["origin_lat"] == r["destination_lon"] == "" for r in rows)
    assert rows[0]["requested_hhmm"] == "00:01" and rows[0]["pickup_hhmm"] == "00:06"


def test_a_ride_without_a_stop_has_no_geometry(tmp_path: Path) -> None:
    out = sample_day()
    out.rides[5].origin_stop = -1  # r6, turned away outside the zone before it had a stop
    files = write_report(out, tmp_path, plots=False)
    features = _json(files["rides_geojson"])["features"]
    assert [f["properties"]["ride_id"] for f in features] == [r.ride_id for r in out.rides]
    assert features[5]["geometry"] is None
    assert features[0]["geometry"]["type"] == "LineString"
    assert features[0]["properties"]["pickup"] == "00:06" and features[0]["properties"]["wait_min"] == 5.0
    assert features[3]["properties"]["pickup"] is None and features[3]["properties"]["wait_s"] is None
    row = csv_rows(files["rides"])[5]
    assert row["origin_lat"] == row["origin_lon"] == "" and row["destination_lat"] != ""


def test_stops_from_a_file_keep_their_ids_names_and_source(data_dir: Path) -> None:
    """Stops read from a stop file appear in stops.geojson with the file's id and name and
    source "file" (not as anonymous virtual stops)."""
    import numpy as np

    from routing import load_network
    from routing.stop_files import StopPoints, stops_from_points
    from sim.geo import stops_geojson

    net = load_network(data_dir / "osm" / "seoul_jamsil.osm")
    k = [10, 20, 30]
    points = StopPoints(("A1", "B2", "C3"), ("Alpha", "Beta", "Gamma"), net.lat[k].copy(), net.lon[k].copy())
    stops, kept = stops_from_points(net, points, max_snap_m=100.0)
    assert kept.all()
    out = SimOutput("s", 1, 0, 3600, [], [], [], [], network=net, stops=stops)
    props = [f["properties"] for f in stops_geojson(out)["features"]]
    assert [(p["id"], p["name"], p["source"]) for p in props] == [
        ("A1", "Alpha", "file"),
        ("B2", "Beta", "file"),
        ("C3", "Gamma", "file"),
    ]
    assert np.allclose([f["geometry"]["coordinates"][0] for f in stops_geojson(out)["features"]], net.lon[k])


def test_rides_csv_names_stops_by_the_stop_files_ids(data_dir: Path) -> None:
    """With stops from a stop file, rides.csv gives each ride's stops by the file's ids beside
    the indices; with virtual stops those columns stay empty."""
    from routing import load_network
    from routing.stop_files import StopPoints, stops_from_points
    from sim.records import RideRecord
    from sim.report import ride_rows

    net = load_network(data_dir / "osm" / "seoul_jamsil.osm")
    k = [10, 20, 30]
    points = StopPoints(("A1", "B2", "C3"), ("Alpha", "Beta", "Gamma"), net.lat[k].copy(), net.lon[k].copy())
    stops, _kept = stops_from_points(net, points, max_snap_m=100.0)
    ride = RideRecord("r1", 0, 60, 2, 0, 1, "adult", False, outcome="rejected")
    out = SimOutput("s", 1, 0, 3600, [ride], [], [], [], network=net, stops=stops)
    row = next(ride_rows(out))
    assert (row["origin_stop"], row["origin_stop_id"], row["destination_stop_id"]) == (2, "C3", "A1")
    assert row["origin_lat"] == round(float(net.lat[30]), 6)
    from routing import virtual_stops

    virtual = SimOutput("s", 1, 0, 3600, [ride], [], [], [], network=net, stops=virtual_stops(net, spacing_m=300))
    assert next(ride_rows(virtual))["origin_stop_id"] is None
