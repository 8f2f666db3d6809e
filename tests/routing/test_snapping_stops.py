"""Snapping points to the network and choosing stops that cover it."""

from __future__ import annotations

import numpy as np
import pytest
from pyproj import Transformer
from scipy.spatial import cKDTree
from scipy.spatial.distance import cdist, pdist

import routing
from routing import InvalidArgumentError, RoadNetwork, SnapError
from routing.stops import NO_STOP_CLASSES, SOURCE_OSM, SOURCE_VIRTUAL
from tests import naive

STOP_GRAPHS = ("jamsil", "dongjak", "helsinki", "synthetic")


def to_xy(net: RoadNetwork, lat, lon) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 to the network's metric CRS, with pyproj directly (not through routing)."""
    x, y = Transformer.from_crs("EPSG:4326", net.crs, always_xy=True).transform(np.asarray(lon), np.asarray(lat))
    return np.asarray(x), np.asarray(y)


def random_points_in_bbox(net: RoadNetwork, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    lat = rng.uniform(net.lat.min(), net.lat.max(), count)
    lon = rng.uniform(net.lon.min(), net.lon.max(), count)
    return lat, lon


# ============================================================================ nearest nodes
def test_nearest_nodes_match_brute_force(jamsil_net):
    lat, lon = random_points_in_bbox(jamsil_net, 500, seed=11)
    res = routing.nearest_nodes(jamsil_net, lat, lon, max_distance_m=None)
    assert res.node.shape == res.distance_m.shape == (500,)
    x, y = to_xy(jamsil_net, lat, lon)
    xs, ys = jamsil_net.x_m.tolist(), jamsil_net.y_m.tolist()
    compared = 0
    for i in range(500):
        node, dist, runner_up = naive.nearest_node(xs, ys, float(x[i]), float(y[i]))
        assert res.distance_m[i] == pytest.approx(dist, abs=1e-6)
        if runner_up - dist > 1e-6:  # the nearest node is unique
            assert res.node[i] == node
            compared += 1
    assert compared > 450
    assert res.ok.all()


def test_nearest_nodes_keep_the_input_shape(dongjak_net):
    lat = np.full((2, 3), dongjak_net.lat[5])
    lon = np.full((2, 3), dongjak_net.lon[5])
    res = routing.nearest_nodes(dongjak_net, lat, lon)
    assert res.node.shape == (2, 3)
    assert np.all(res.node == 5)
    np.testing.assert_allclose(res.distance_m, 0.0, atol=1e-6)


def test_nodes_snap_to_themselves(helsinki_net):
    res = routing.nearest_nodes(helsinki_net, helsinki_net.lat, helsinki_net.lon)
    assert np.array_equal(res.node, np.arange(helsinki_net.num_nodes))
    assert res.distance_m.max() < 1e-6


def test_max_distance_marks_far_points(dongjak_net):
    north = dongjak_net.lat.max()
    lat = np.array([dongjak_net.lat[0], north + 0.045])  # the second is about 5 km north
    lon = np.array([dongjak_net.lon[0], dongjak_net.lon[dongjak_net.lat.argmax()]])
    res = routing.nearest_nodes(dongjak_net, lat, lon)  # default limit 500 m
    assert res.node[0] == 0
    assert res.node[1] == -1
    assert res.ok.tolist() == [True, False]
    assert 4900 < res.distance_m[1] < 5100  # the distance is still reported


def test_snap_returns_the_nearest_node(dongjak_net):
    node, dist = routing.snap(dongjak_net, float(dongjak_net.lat[17]), float(dongjak_net.lon[17]))
    assert node == 17 and isinstance(node, int)
    assert dist == pytest.approx(0.0, abs=1e-6)


def test_snap_beyond_the_maximum_distance(jamsil_net):
    lat = float(jamsil_net.lat.max()) + 0.045  # 5 km north of the northernmost node
    lon = float(jamsil_net.lon[jamsil_net.lat.argmax()])
    with pytest.raises(SnapError) as info:
        routing.snap(jamsil_net, lat, lon)
    err = info.value
    assert 4900 < err.distance_m < 5100
    assert err.max_distance_m == 500
    assert f"{err.distance_m:.0f} m" in str(err)
    assert "500 m" in str(err)
    # With a larger allowance the same point snaps.
    node, dist = routing.snap(jamsil_net, lat, lon, max_distance_m=6000)
    assert dist == pytest.approx(err.distance_m)
    assert 0 <= node < jamsil_net.num_nodes


@pytest.mark.parametrize(
    ("lat", "lon", "field"),
    [
        pytest.param(91.0, 127.0, "lat", id="lat-91"),
        pytest.param(-90.5, 127.0, "lat", id="lat-minus-90.5"),
        pytest.param(37.5, 181.0, "lon", id="lon-181"),
        pytest.param(37.5, -180.01, "lon", id="lon-minus-180.01"),
        pytest.param(float("nan"), 127.0, "lat", id="lat-nan"),
        pytest.param(37.5, float("nan"), "lon", id="lon-nan"),
        pytest.param(37.5, float("inf"), "lon", id="lon-inf"),
    ],
)
def test_invalid_coordinates(jamsil_net, lat, lon, field):
    for call in (
        lambda: routing.snap(jamsil_net, lat, lon),
        lambda: routing.nearest_nodes(jamsil_net, [37.51, lat], [127.1, lon]),
    ):
        with pytest.raises(InvalidArgumentError) as info:
            call()
        assert info.value.field == field
        assert "degrees" in str(info.value)  # the allowed range


def test_mismatched_coordinate_arrays(jamsil_net):
    with pytest.raises(InvalidArgumentError):
        routing.nearest_nodes(jamsil_net, [37.51, 37.52], [127.1])


def test_manhattan_has_no_geographic_coordinates(manhattan_net):
    assert not manhattan_net.has_lat_lon
    with pytest.raises(InvalidArgumentError) as info:
        routing.nearest_nodes(manhattan_net, [40.75], [-73.99])
    assert info.value.field == "network"
    assert "nearest_nodes_xy" in str(info.value)
    with pytest.raises(InvalidArgumentError):
        routing.snap(manhattan_net, 40.75, -73.99)


def test_nearest_nodes_xy_on_manhattan(manhattan_net):
    rng = np.random.default_rng(12)
    x = rng.uniform(manhattan_net.x_m.min(), manhattan_net.x_m.max(), 200)
    y = rng.uniform(manhattan_net.y_m.min(), manhattan_net.y_m.max(), 200)
    res = routing.nearest_nodes_xy(manhattan_net, x, y)
    xs, ys = manhattan_net.x_m.tolist(), manhattan_net.y_m.tolist()
    for i in range(200):
        node, dist, runner_up = naive.nearest_node(xs, ys, float(x[i]), float(y[i]))
        assert res.distance_m[i] == pytest.approx(dist, abs=1e-6)
        if runner_up - dist > 1e-6:
            assert res.node[i] == node
    limited = routing.nearest_nodes_xy(manhattan_net, x, y, max_distance_m=100.0)
    assert np.array_equal(limited.node, np.where(res.distance_m <= 100.0, res.node, -1))


def test_nearest_nodes_xy_validation(manhattan_net):
    with pytest.raises(InvalidArgumentError) as info:
        routing.nearest_nodes_xy(manhattan_net, [0.0, np.nan], [0.0, 0.0])
    assert info.value.field == "x/y"
    with pytest.raises(InvalidArgumentError) as info:
        routing.nearest_nodes_xy(manhattan_net, [0.0], [0.0], max_distance_m=-1.0)
    assert info.value.field == "max_distance_m"


# ============================================================================ virtual stops
def candidate_nodes(net: RoadNetwork) -> np.ndarray:
    """Nodes touching at least one road where a bus may stop (not motorway or trunk)."""
    allowed = np.array([c not in NO_STOP_CLASSES for c in net.road_classes])[net.road_class]
    return np.unique(np.concatenate([net.tail[allowed], net.indices[allowed]]))


@pytest.fixture(scope="module")
def stop_sets(request) -> dict[tuple[str, int], routing.StopSet]:
    """``virtual_stops`` of every stop graph at 300 m and 500 m, computed once."""
    out = {}
    for name in STOP_GRAPHS:
        net = request.getfixturevalue(f"{name}_net")
        for spacing in (300, 500):
            out[name, spacing] = routing.virtual_stops(net, spacing_m=spacing)
    return out


STOP_CASES = [pytest.param(name, spacing, id=f"{name}-{spacing}m") for name in STOP_GRAPHS for spacing in (300, 500)]


@pytest.mark.parametrize(("name", "spacing"), STOP_CASES)
def test_every_candidate_node_is_near_a_stop(request, stop_sets, name, spacing):
    net = request.getfixturevalue(f"{name}_net")
    stops = stop_sets[name, spacing]
    candidates = candidate_nodes(net)
    assert candidates.size > 0.8 * net.num_nodes
    cover = routing.coverage_m(net, stops, candidates)
    assert cover.shape == candidates.shape
    assert cover.max() <= spacing
    # The same with an independent KD-tree over the stop positions.
    dist, _ = cKDTree(np.column_stack([net.x_m[stops.node], net.y_m[stops.node]])).query(
        np.column_stack([net.x_m[candidates], net.y_m[candidates]])
    )
    np.testing.assert_allclose(cover, dist)


@pytest.mark.parametrize(("name", "spacing"), STOP_CASES)
def test_virtual_stops_are_spaced_apart(stop_sets, name, spacing):
    stops = stop_sets[name, spacing]
    virtual = stops.source == SOURCE_VIRTUAL
    osm = stops.source == SOURCE_OSM
    xy = np.column_stack([stops.x_m, stops.y_m])
    if virtual.sum() >= 2:
        assert pdist(xy[virtual]).min() >= spacing
    if virtual.any() and osm.any():
        assert cdist(xy[virtual], xy[osm]).min() >= spacing
    assert len(stops) >= 2
    assert stops.spacing_m == spacing


@pytest.mark.parametrize(("name", "spacing"), STOP_CASES)
def test_stops_are_distinct_network_nodes(request, stop_sets, name, spacing):
    net = request.getfixturevalue(f"{name}_net")
    stops = stop_sets[name, spacing]
    assert stops.node.min() >= 0 and stops.node.max() < net.num_nodes
    assert np.unique(stops.node).size == len(stops)
    assert np.array_equal(stops.x_m, net.x_m[stops.node])
    assert np.array_equal(stops.y_m, net.y_m[stops.node])
    assert np.array_equal(stops.lat, net.lat[stops.node])
    assert np.array_equal(stops.lon, net.lon[stops.node])
    assert np.all(stops.osm_id[stops.source == SOURCE_VIRTUAL] == -1)


@pytest.mark.parametrize("name", STOP_GRAPHS)
def test_virtual_stops_are_deterministic(request, stop_sets, name):
    net = request.getfixturevalue(f"{name}_net")
    again = routing.virtual_stops(net, spacing_m=300)
    first = stop_sets[name, 300]
    for field in ("node", "source", "osm_id", "x_m", "y_m"):
        assert np.array_equal(getattr(first, field), getattr(again, field))


def test_wider_spacing_gives_fewer_stops(stop_sets):
    for name in STOP_GRAPHS:
        assert len(stop_sets[name, 500]) < len(stop_sets[name, 300])


def test_seoul_and_synthetic_stops_are_all_virtual(stop_sets):
    for name in ("jamsil", "dongjak", "synthetic"):
        assert stop_sets[name, 300].num_osm == 0


def test_helsinki_uses_its_osm_stops(helsinki_net, stop_sets):
    stops = stop_sets["helsinki", 300]
    assert stops.num_osm > 0
    osm = stops.source == SOURCE_OSM
    assert np.all(stops.osm_id[osm] >= 0)
    assert set(stops.osm_id[osm].tolist()) <= set(helsinki_net.osm_stop_id.tolist())
    # Each OSM-sourced stop sits on a node within 60 m of that OSM stop's position.
    index = {int(sid): i for i, sid in enumerate(helsinki_net.osm_stop_id)}
    rows = [index[int(sid)] for sid in stops.osm_id[osm]]
    sx, sy = to_xy(helsinki_net, helsinki_net.osm_stop_lat[rows], helsinki_net.osm_stop_lon[rows])
    gap = np.hypot(stops.x_m[osm] - sx, stops.y_m[osm] - sy)
    assert gap.max() <= 60.0
    # OSM stops come first.
    assert np.all(stops.source[: stops.num_osm] == SOURCE_OSM)


def test_osm_stops_can_be_ignored(helsinki_net):
    stops = routing.virtual_stops(helsinki_net, spacing_m=300, use_osm_stops=False)
    assert stops.num_osm == 0
    assert pdist(np.column_stack([stops.x_m, stops.y_m])).min() >= 300


def test_nearest_stop_lookup(helsinki_net, stop_sets):
    stops = stop_sets["helsinki", 300]
    idx, dist = stops.nearest(helsinki_net, stops.lat, stops.lon, max_walk_m=10.0)
    assert np.array_equal(idx, np.arange(len(stops)))
    assert dist.max() < 1e-6
    idx, _ = stops.nearest(helsinki_net, [float(helsinki_net.lat.max()) + 0.05], [24.94], max_walk_m=400.0)
    assert idx.tolist() == [-1]
    with pytest.raises(InvalidArgumentError) as info:
        stops.nearest_xy([0.0], [0.0], max_walk_m=-1.0)
    assert info.value.field == "max_walk_m"


@pytest.mark.parametrize("spacing", [5.0, 9.99, 20_000.5, 1e6, float("nan")])
def test_bad_spacing_is_rejected(dongjak_net, spacing):
    with pytest.raises(InvalidArgumentError) as info:
        routing.virtual_stops(dongjak_net, spacing_m=spacing)
    assert info.value.field == "spacing_m"
    assert "10 .. 20000 m" in str(info.value)


def test_bad_osm_snap_distance_is_rejected(helsinki_net):
    with pytest.raises(InvalidArgumentError) as info:
        routing.virtual_stops(helsinki_net, osm_snap_m=-1.0)
    assert info.value.field == "osm_snap_m"
