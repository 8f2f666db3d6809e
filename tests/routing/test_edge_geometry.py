"""Street shapes of the edges (``RoadNetwork.geom_*``): what the OSM import keeps of the nodes
the graph simplification removes, checked against the unsimplified graph of the same file,
against the edges' lengths, through the cache and through ``from_edges``."""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pytest
import shapely

import routing
from routing import BuildOptions, InvalidArgumentError, RoadNetwork, Router

#: osmnx's Earth radius (m), with which it measures the edges' ``length``.
EARTH_RADIUS_M = 6_371_009.0


def haversine_m(lat: np.ndarray, lon: np.ndarray) -> float:
    """Length (m) of the polyline through the points (great circle between neighbours)."""
    la, lo = np.radians(lat), np.radians(lon)
    h = np.sin(np.diff(la) / 2) ** 2 + np.cos(la[:-1]) * np.cos(la[1:]) * np.sin(np.diff(lo) / 2) ** 2
    return float((2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(h))).sum())


def shape_by_scan(net: RoadNetwork, u: int, v: int) -> tuple[list[float], list[float]]:
    """The shape of ``u -> v`` recounted slowly: scan ``u``'s row for ``v``, slice the CSR."""
    for e in range(int(net.indptr[u]), int(net.indptr[u + 1])):
        if int(net.indices[e]) == v:
            lo, hi = int(net.geom_indptr[e]), int(net.geom_indptr[e + 1])
            lat = [float(net.lat[u]), *net.geom_lat[lo:hi].tolist(), float(net.lat[v])]
            lon = [float(net.lon[u]), *net.geom_lon[lo:hi].tolist(), float(net.lon[v])]
            return lat, lon
    raise AssertionError(f"no edge {u} -> {v}")


@pytest.fixture(scope="module")
def jamsil_raw(data_dir: Path) -> RoadNetwork:
    """The Jamsil extract without the graph simplification: every OSM node of a drivable way."""
    return routing.load_network(data_dir / "osm" / "seoul_jamsil.osm", options=BuildOptions(simplify=False))


# ---------------------------------------------------------------------------- the bundled extract
def test_shapes_are_a_csr_over_the_edges(jamsil_net: RoadNetwork) -> None:
    net = jamsil_net
    assert net.geom_indptr.shape == (net.num_edges + 1,) and net.geom_indptr.dtype == np.int64
    assert net.geom_indptr[0] == 0 and net.geom_indptr[-1] == net.num_shape_points == net.geom_lat.size
    assert np.all(np.diff(net.geom_indptr) >= 0)
    # a real city has curved streets: many edges have a shape, and the points lie on the map
    assert (np.diff(net.geom_indptr) > 0).sum() > net.num_edges // 5
    assert net.lat.min() - 0.01 < net.geom_lat.min() and net.geom_lat.max() < net.lat.max() + 0.01
    assert net.lon.min() - 0.01 < net.geom_lon.min() and net.geom_lon.max() < net.lon.max() + 0.01


def test_polyline_lengths_agree_with_the_edge_lengths(jamsil_net: RoadNetwork) -> None:
    """Lengths are osmnx's great-circle sums over the raw segments, rounded to whole metres once:
    the shape's polyline must give the same length (to the rounding), and a straight edge's
    length is the straight distance between its nodes."""
    net = jamsil_net
    curved = straight = 0
    for e in range(net.num_edges):
        u, v = int(net.tail[e]), int(net.indices[e])
        lat, lon = net.edge_shape(u, v)
        assert (lat.tolist(), lon.tolist()) == shape_by_scan(net, u, v)
        poly = haversine_m(lat, lon)
        length = float(net.length_m[e])
        assert abs(poly - length) <= max(0.02 * length, 0.5 + 1e-6), (e, poly, length)
        straight += lat.size == 2
        curved += lat.size > 2
    assert curved > 100 and straight > 100
    curved_edges = np.flatnonzero(np.diff(net.geom_indptr) > 0)
    chords = [
        haversine_m(net.lat[[net.tail[e], net.indices[e]]], net.lon[[net.tail[e], net.indices[e]]])
        for e in curved_edges
    ]
    # without the shapes the curved edges would be drawn more than 1 % shorter than they are
    assert sum(chords) < 0.99 * float(net.length_m[curved_edges].sum())


def test_shapes_are_the_nodes_the_simplification_removed(jamsil_net: RoadNetwork, jamsil_raw: RoadNetwork) -> None:
    """Every shape, with its end nodes, is a chain of raw edges driven in its direction; every
    shape point is a removed OSM node; and every removed node is in some shape unless its
    street was dropped: a loop back to its own start, or a parallel of the faster edge kept."""
    net, raw = jamsil_net, jamsil_raw
    raw_at = {(float(a), float(b)): i for i, (a, b) in enumerate(zip(raw.lat, raw.lon, strict=True))}
    assert len(raw_at) == raw.num_nodes  # no two raw nodes share a point here
    kept_osm = {int(o) for o in net.osm_id}
    node_of_osm = {int(o): i for i, o in enumerate(net.osm_id)}
    in_shapes: set[int] = set()
    for e in range(net.num_edges):
        lat, lon = net.edge_shape(int(net.tail[e]), int(net.indices[e]))
        chain = [raw_at[(float(a), float(b))] for a, b in zip(lat, lon, strict=True)]
        assert all(raw.edge_id(a, b) >= 0 for a, b in itertools.pairwise(chain)), e
        inner = chain[1:-1]
        assert not any(int(raw.osm_id[i]) in kept_osm for i in inner)
        in_shapes.update(inner)
    removed = [i for i in range(raw.num_nodes) if int(raw.osm_id[i]) not in kept_osm]
    assert len(removed) > 300
    neighbours: list[set[int]] = [set() for _ in range(raw.num_nodes)]
    for a, b in zip(raw.tail.tolist(), raw.indices.tolist(), strict=True):
        neighbours[a].add(b)
        neighbours[b].add(a)
    dropped = 0
    for m in (i for i in removed if i not in in_shapes):
        ends = []
        for start in neighbours[m]:  # walk along the street both ways to the kept nodes
            prev, cur = m, start
            while int(raw.osm_id[cur]) not in kept_osm:
                (nxt,) = neighbours[cur] - {prev}
                prev, cur = cur, nxt
            ends.append(node_of_osm[int(raw.osm_id[cur])])
        a, b = ends
        assert a == b or net.edge_id(a, b) >= 0 or net.edge_id(b, a) >= 0, m
        dropped += 1
    assert dropped < 0.1 * len(removed)


def test_shapes_survive_the_cache(data_dir: Path, tmp_path: Path) -> None:
    path = data_dir / "osm" / "seoul_jamsil.osm"
    built = routing.load_network(path, cache_dir=tmp_path)
    again = routing.load_network(path, cache_dir=tmp_path)
    assert not built.meta["from_cache"] and again.meta["from_cache"]
    assert built.num_shape_points > 0
    for name in ("geom_indptr", "geom_lat", "geom_lon"):
        x, y = getattr(built, name), getattr(again, name)
        assert x.dtype == y.dtype and np.array_equal(x, y), name
    u, v = int(built.tail[0]), int(built.indices[0])
    assert all(np.array_equal(a, b) for a, b in zip(built.edge_shape(u, v), again.edge_shape(u, v), strict=True))


def test_variants_keep_the_shapes(jamsil_net: RoadNetwork) -> None:
    slower = jamsil_net.with_travel_times(jamsil_net.travel_time_s * 2)
    for name in ("geom_indptr", "geom_lat", "geom_lon"):
        assert np.array_equal(getattr(slower, name), getattr(jamsil_net, name))
    assert np.array_equal(slower.travel_time_s, jamsil_net.travel_time_s * 2)


# ---------------------------------------------------------------------------- paths
def test_a_routed_path_follows_the_streets(jamsil_net: RoadNetwork, jamsil_router: Router) -> None:
    net = jamsil_net
    # the path of the most nodes among some from node 0
    path = max((jamsil_router.path(0, t) for t in range(1, net.num_nodes, 7)), key=lambda p: len(p.nodes))
    nodes = np.asarray(path.nodes, np.int64)
    lat, lon = net.path_shape(nodes)
    want_lat: list[float] = []
    want_lon: list[float] = []
    for u, v in zip(nodes[:-1].tolist(), nodes[1:].tolist(), strict=True):
        a, b = shape_by_scan(net, u, v)
        want_lat += a[:-1]
        want_lon += b[:-1]
    want_lat.append(float(net.lat[nodes[-1]]))
    want_lon.append(float(net.lon[nodes[-1]]))
    assert lat.tolist() == want_lat and lon.tolist() == want_lon
    assert abs(haversine_m(lat, lon) - path.length_m) <= 0.5 * (nodes.size - 1) + 1e-6
    # several paths at once are the same shapes, one after the other
    assert nodes.size >= 4
    part = nodes[1:4]
    many_lat, many_lon, indptr = net.paths_shape(np.concatenate([nodes, part, nodes[:1]]), [nodes.size, 3, 1])
    assert many_lat[: indptr[1]].tolist() == want_lat and many_lon[: indptr[1]].tolist() == want_lon
    assert many_lat[indptr[1] : indptr[2]].tolist() == net.path_shape(part)[0].tolist()
    assert indptr[3] - indptr[2] == 1 and many_lat[-1] == net.lat[nodes[0]]
    # x/y: the nodes' own x_m/y_m at the nodes, the projected shape points between them
    x, y = net.path_shape(nodes, xy=True)
    assert x.size == lat.size and x[0] == net.x_m[nodes[0]] and y[-1] == net.y_m[nodes[-1]]
    step = np.hypot(np.diff(x), np.diff(y)).sum()
    assert step == pytest.approx(path.length_m, rel=0.01)


def test_a_path_must_follow_edges(jamsil_net: RoadNetwork) -> None:
    net = jamsil_net
    u = 0
    row = set(net.indices[net.indptr[u] : net.indptr[u + 1]].tolist())
    v = next(w for w in range(net.num_nodes) if w != u and w not in row)
    with pytest.raises(InvalidArgumentError, match=f"nodes.*no edge {u} -> {v}"):
        net.path_shape([u, v])
    with pytest.raises(InvalidArgumentError, match="no edge"):
        net.edge_shape(u, v)
    # not strict (a drawing of records): two nodes without an edge are joined straight
    w = int(net.indices[net.indptr[v]])  # v's first neighbour: v -> w is an edge
    lat, _ = net.path_shape([u, v, w], strict=False)
    assert lat.tolist() == [net.lat[u], *net.edge_shape(v, w)[0].tolist()]
    with pytest.raises(InvalidArgumentError, match="lengths"):
        net.paths_shape([0, 1, 2], [2])
    # a node repeated is a stay, not a street
    lat, _ = net.path_shape([u, u])
    assert lat.tolist() == [net.lat[u], net.lat[u]]


# ---------------------------------------------------------------------------- small and benchmark graphs
def test_benchmark_graph_has_empty_shapes(manhattan_net: RoadNetwork, synthetic_net: RoadNetwork) -> None:
    for net in (manhattan_net, synthetic_net):
        assert net.geom_indptr.shape == (net.num_edges + 1,) and not net.geom_indptr.any()
        assert net.num_shape_points == 0
        u, v = int(net.tail[5]), int(net.indices[5])
        x, y = net.edge_shape(u, v, xy=True)
        assert x.tolist() == [net.x_m[u], net.x_m[v]] and y.tolist() == [net.y_m[u], net.y_m[v]]
        x, y, indptr = net.edges_shape(np.arange(net.num_edges), xy=True)
        assert indptr.tolist() == list(range(0, 2 * net.num_edges + 1, 2))
        assert np.array_equal(x[0::2], net.x_m[net.tail]) and np.array_equal(x[1::2], net.x_m[net.indices])
        assert net.geom_xy()[0].size == 0


def _grid_with_shapes() -> RoadNetwork:
    """Four nodes; the edges 0 -> 1 twice (parallel: a slow straight one and a fast curved one),
    a self-loop on 1 with a shape, 1 -> 2, 2 -> 0 curved, and 3 -> 0 (3 unreachable: dropped)."""
    lat = np.array([37.50, 37.50, 37.51, 37.40])
    lon = np.array([127.00, 127.01, 127.005, 127.00])
    tail = np.array([0, 0, 1, 1, 2, 3])
    head = np.array([1, 1, 1, 2, 0, 0])
    time = np.array([90.0, 60.0, 5.0, 80.0, 80.0, 10.0])
    shape_lat = [[], [37.499, 37.498], [37.6], [], [37.508], []]
    shape_lon = [[], [127.003, 127.007], [127.01], [], [127.002], []]
    indptr = np.concatenate([[0], np.cumsum([len(s) for s in shape_lat])])
    return RoadNetwork.from_edges(
        tail=tail,
        head=head,
        travel_time_s=time,
        length_m=time * 10,
        lat=lat,
        lon=lon,
        x_m=lon * 1000,
        y_m=lat * 1000,
        crs="EPSG:32652",
        geom_indptr=indptr,
        geom_lat=[p for s in shape_lat for p in s],
        geom_lon=[p for s in shape_lon for p in s],
    )


def test_from_edges_keeps_the_shape_of_each_kept_edge() -> None:
    net = _grid_with_shapes()
    assert net.num_nodes == 3 and net.num_edges == 3  # node 3, the loop and the slow parallel dropped
    assert net.edge_shape(0, 1)[0].tolist() == [37.50, 37.499, 37.498, 37.50]  # the fast (curved) one
    assert net.edge_shape(0, 1)[1].tolist() == [127.00, 127.003, 127.007, 127.01]
    assert net.edge_shape(1, 2)[0].tolist() == [37.50, 37.51]
    assert net.edge_shape(2, 0)[0].tolist() == [37.51, 37.508, 37.50]
    assert net.num_shape_points == 3
    lat, _ = net.path_shape([0, 1, 2, 0])
    assert lat.tolist() == [37.50, 37.499, 37.498, 37.50, 37.51, 37.508, 37.50]
    # edges_shape: each edge from its tail to its head, in edge-id order
    _, elon, indptr = net.edges_shape([2, 0])
    assert indptr.tolist() == [0, 3, 7] and elon[3:].tolist() == [127.00, 127.003, 127.007, 127.01]


def test_bad_shapes_are_refused() -> None:
    common: dict[str, Any] = dict(
        tail=[0, 1], head=[1, 0], travel_time_s=[1, 1], length_m=[1, 1], lat=[0, 0], lon=[0, 0]
    )
    xy: dict[str, Any] = dict(x_m=[0, 1], y_m=[0, 0])
    with pytest.raises(InvalidArgumentError, match="geom_indptr"):
        RoadNetwork.from_edges(**common, **xy, geom_indptr=[0, 1], geom_lat=[0.5], geom_lon=[0.5])
    with pytest.raises(InvalidArgumentError, match="geom_indptr"):
        RoadNetwork.from_edges(**common, **xy, geom_indptr=[0, 2, 1], geom_lat=[0.5], geom_lon=[0.5])
    with pytest.raises(InvalidArgumentError, match="geom_lon"):
        RoadNetwork.from_edges(**common, **xy, geom_indptr=[0, 1, 1], geom_lat=[0.5], geom_lon=[])
    with pytest.raises(InvalidArgumentError, match="geom_indptr"):
        RoadNetwork.from_edges(**common, **xy, geom_lat=[0.5], geom_lon=[0.5])


def test_a_graphml_shape_drawn_backwards_is_turned_round(tmp_path: Path) -> None:
    """A GraphML edge whose LineString runs from its head to its tail gets its points in driving order."""
    import osmnx as ox

    point = {1: (127.0, 37.5), 2: (127.01, 37.5), 3: (127.005, 37.51)}
    bend = [(127.003, 37.499), (127.007, 37.498)]
    graph = nx.MultiDiGraph(crs="epsg:4326")
    for osm, (x, y) in point.items():
        graph.add_node(osm, x=x, y=y)

    def length(a: int, b: int) -> float:
        (x1, y1), (x2, y2) = point[a], point[b]
        return float(ox.distance.great_circle(y1, x1, y2, x2))

    curve = shapely.LineString([point[2], *bend[::-1], point[1]])  # from 2 to 1
    graph.add_edge(1, 2, length=900.0, highway="residential", geometry=curve)  # drawn backwards
    graph.add_edge(2, 1, length=900.0, highway="residential", geometry=curve)
    for a, b in [(2, 3), (3, 2), (3, 1), (1, 3)]:
        graph.add_edge(a, b, length=length(a, b), highway="residential")
    ox.save_graphml(graph, tmp_path / "curve.graphml")
    net = routing.load_network(tmp_path / "curve.graphml", cache=False)
    node = {int(o): i for i, o in enumerate(net.osm_id)}
    lat, lon = net.edge_shape(node[1], node[2])
    assert list(zip(lon.tolist(), lat.tolist(), strict=True)) == [point[1], *bend, point[2]]
    lat, lon = net.edge_shape(node[2], node[1])
    assert list(zip(lon.tolist(), lat.tolist(), strict=True)) == [point[2], *bend[::-1], point[1]]
    assert net.edge_shape(node[2], node[3])[0].size == 2
    # the edge keeps the GraphML length, not one of the shape's
    assert net.length_m[net.edge_id(node[1], node[2])] == 900
    assert not math.isclose(haversine_m(*net.edge_shape(node[1], node[2])), 900.0, rel_tol=0.01)
