"""Where things are, for maps: node and stop positions, the streets as polylines, and vehicles'
positions along their legs.

* :class:`MapPoints` — the latitude and longitude of every road node and stop. A network without
  geographic coordinates (a benchmark graph such as Manhattan's ``.xy``) is drawn at lat 0, lon 0:
  its metres ``(y_m, x_m)`` become degrees at :data:`PLANAR_M_PER_DEGREE` metres per degree, so a
  map shows it true to shape (:attr:`MapPoints.planar` says so).
* :func:`street_polylines` — the network's streets, each two-way street once, chained through
  the nodes where nothing branches into longer polylines (what ``GetServiceMap`` sends).
* :class:`LegPaths` — the street path between two road nodes (the router's shortest path with
  the streets' shapes), with the share of the drive time at each of its points, in a bounded
  LRU cache keyed by ``(from node, to node)``: a poll of thousands of moving vehicles a second
  unpacks each leg once. :meth:`LegPaths.point_at` moves along a leg by a fraction of its drive time.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from routing import NoPathError, RoadNetwork, Router, StopSet
from routing.network import concat_ranges

#: Metres per degree used to draw a network without geographic coordinates (the equator's).
PLANAR_M_PER_DEGREE = 111_320.0
#: Points kept by a :class:`LegPaths` over all its legs (24 bytes each: about 50 MB; a leg of a
#: city with street shapes has tens to hundreds of points, so some ten thousand legs).
DEFAULT_LEG_POINTS = 2_000_000


@dataclass(frozen=True)
class MapPoints:
    """Positions (degrees) of the road nodes and the stops of a service (see the module docstring)."""

    node_lat: NDArray[np.float64]
    node_lon: NDArray[np.float64]
    stop_lat: NDArray[np.float64]
    stop_lon: NDArray[np.float64]
    #: Interior points of the edges' shapes (empty on a planar network).
    geom_lat: NDArray[np.float64]
    geom_lon: NDArray[np.float64]
    planar: bool

    @classmethod
    def of(cls, network: RoadNetwork, stops: StopSet | None = None) -> MapPoints:
        """The positions of ``network``'s nodes (and of ``stops``, if given)."""
        empty = np.zeros(0, np.float64)
        if network.has_lat_lon:
            return cls(
                network.lat, network.lon,
                stops.lat if stops is not None else empty, stops.lon if stops is not None else empty,
                network.geom_lat, network.geom_lon, False,
            )  # fmt: skip
        k = PLANAR_M_PER_DEGREE
        return cls(
            network.y_m / k, network.x_m / k,
            stops.y_m / k if stops is not None else empty, stops.x_m / k if stops is not None else empty,
            empty, empty, True,
        )  # fmt: skip


def edges_points(
    network: RoadNetwork, points: MapPoints, edges: NDArray[np.int64], reverse: NDArray[np.bool_], first: int
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
    """The polyline of a chain of edges driven from node ``first``: edge ``edges[i]`` is driven
    backwards where ``reverse[i]`` (from its head to its tail). ``(lat, lon, node_pos)``:
    ``node_pos[i]`` is the index of the chain's ``i``-th node in the polyline."""
    ptr = network.geom_indptr
    counts = (ptr[edges + 1] - ptr[edges]).astype(np.int64) if points.geom_lat.size else np.zeros(edges.size, np.int64)
    heads = np.where(reverse, network.tail[edges], network.indices[edges]).astype(np.int64)
    nodes = np.concatenate([[first], heads]).astype(np.int64)
    node_pos = np.arange(nodes.size, dtype=np.int64)
    node_pos[1:] += np.cumsum(counts)
    total = nodes.size + int(counts.sum())
    lat = np.empty(total, np.float64)
    lon = np.empty(total, np.float64)
    lat[node_pos] = points.node_lat[nodes]
    lon[node_pos] = points.node_lon[nodes]
    if counts.sum():
        src = concat_ranges(ptr[edges].astype(np.int64), counts)
        # within a reversed edge its interior points run backwards
        within = src - np.repeat(ptr[edges].astype(np.int64), counts)
        rev = np.repeat(reverse, counts)
        src = np.where(rev, np.repeat(ptr[edges + 1].astype(np.int64) - 1, counts) - within, src)
        dst = concat_ranges(node_pos[:-1] + 1, counts)
        lat[dst] = points.geom_lat[src]
        lon[dst] = points.geom_lon[src]
    return lat, lon, node_pos


def street_polylines(
    network: RoadNetwork, points: MapPoints
) -> tuple[NDArray[np.int32], NDArray[np.float64], NDArray[np.float64]]:
    """The streets of ``network`` as polylines in flat arrays ``(offsets, lat, lon)``: street ``i``
    has the points ``offsets[i]`` up to ``offsets[i + 1]``.

    Every edge is drawn once per pair of nodes (:meth:`routing.RoadNetwork.street_edges`): a two-way
    street (``u -> v`` and ``v -> u``) is one street, drawn along the shape of ``u -> v``, ``u < v``.
    Streets are chained through the nodes that join exactly two streets, so one polyline runs from
    a crossing (or a dead end) to the next; a ring with no crossing is one polyline that closes.
    """
    tail, head = network.tail.astype(np.int64), network.indices.astype(np.int64)
    streets, _ = network.street_edges()  # one edge per pair of nodes, by (lower, higher) node
    pair_edge = streets[np.lexsort((np.maximum(tail, head)[streets], np.minimum(tail, head)[streets]))]
    a, b = tail[pair_edge], head[pair_edge]
    n = network.num_nodes
    degree = np.bincount(a, minlength=n) + np.bincount(b, minlength=n)
    # adjacency of the undirected streets: for node x, the streets (pair indices) at it
    ends = np.concatenate([a, b])
    pair_ids = np.concatenate([np.arange(a.size), np.arange(a.size)])
    by_node = np.argsort(ends, kind="stable")
    adj_ptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(ends, minlength=n), out=adj_ptr[1:])
    adj = pair_ids[by_node].tolist()
    ptr = adj_ptr.tolist()
    a_l, b_l, deg = a.tolist(), b.tolist(), degree.tolist()
    used = [False] * a.size
    chains: list[tuple[int, list[int], list[bool]]] = []

    def walk(start: int, pair: int) -> None:
        node, edges, rev = start, [], []
        while True:
            used[pair] = True
            forward = a_l[pair] == node
            edges.append(pair)
            rev.append(not forward)
            node = b_l[pair] if forward else a_l[pair]
            if deg[node] != 2 or node == start:
                break
            nxt = next((p for p in adj[ptr[node] : ptr[node + 1]] if not used[p]), None)
            if nxt is None:
                break
            pair = nxt
        chains.append((start, edges, rev))

    for x in range(n):
        if deg[x] != 2:
            for p in adj[ptr[x] : ptr[x + 1]]:
                if not used[p]:
                    walk(x, p)
    for p in range(a.size):  # rings where every node joins two streets
        if not used[p]:
            walk(a_l[p], p)
    if not chains:
        return np.zeros(1, np.int32), np.zeros(0), np.zeros(0)
    # every chain at once: its edges (the pair's directed edge, reversed where driven backwards)
    lengths = np.fromiter((len(c[1]) for c in chains), np.int64, len(chains))
    pairs = np.fromiter((p for c in chains for p in c[1]), np.int64, int(lengths.sum()))
    rev_all = np.fromiter((r for c in chains for r in c[2]), np.bool_, int(lengths.sum()))
    lats, lons, sizes = [], [], []
    starts = np.zeros(lengths.size + 1, np.int64)
    np.cumsum(lengths, out=starts[1:])
    for k, (first, _, _) in enumerate(chains):
        sl = slice(int(starts[k]), int(starts[k + 1]))
        lat, lon, _ = edges_points(network, points, pair_edge[pairs[sl]], rev_all[sl], first)
        lats.append(lat)
        lons.append(lon)
        sizes.append(lat.size)
    offsets = np.zeros(len(sizes) + 1, np.int64)
    np.cumsum(sizes, out=offsets[1:])
    return offsets.astype(np.int32), np.concatenate(lats), np.concatenate(lons)


@dataclass(frozen=True)
class Leg:
    """The street path of a drive between two road nodes: its points and, at each, the share of
    the drive time elapsed there (0 at the first point, 1 at the last; along an edge's shape the
    edge's time is spread by distance)."""

    lat: NDArray[np.float64]
    lon: NDArray[np.float64]
    share: NDArray[np.float64]
    seconds: float = 0.0  # the drive time along the path (the edges' travel times)

    def point_at(self, fraction: float) -> tuple[float, float]:
        """Where the vehicle is after ``fraction`` (clamped to 0 .. 1) of the drive time."""
        f = min(1.0, max(0.0, fraction))
        share = self.share
        k = int(share.searchsorted(f, side="right"))  # share[k - 1] <= f < share[k]
        if k >= share.size:
            return float(self.lat[-1]), float(self.lon[-1])
        if k == 0:
            return float(self.lat[0]), float(self.lon[0])
        lo, hi = float(share[k - 1]), float(share[k])
        w = (f - lo) / (hi - lo) if hi > lo else 0.0
        lat0, lon0 = float(self.lat[k - 1]), float(self.lon[k - 1])
        return lat0 + w * (float(self.lat[k]) - lat0), lon0 + w * (float(self.lon[k]) - lon0)

    def rest_after(self, fraction: float) -> tuple[list[float], list[float]]:
        """The points of the leg still ahead after ``fraction`` of the drive time (the end included)."""
        k = int(np.searchsorted(self.share, min(1.0, max(0.0, fraction)), side="right"))
        k = min(k, self.lat.size - 1)
        return self.lat[k:].tolist(), self.lon[k:].tolist()


class LegPaths:
    """Street paths between road nodes (:class:`Leg`), computed by ``router`` on first use and kept
    in an LRU cache of at most ``max_points`` points over all its legs (the least recently used
    legs go first). A new router (new travel times) starts a new cache. Thread-safe."""

    def __init__(self, network: RoadNetwork, points: MapPoints, max_points: int = DEFAULT_LEG_POINTS) -> None:
        self.network = network
        self.points = points
        self.max_points = max_points
        self._router: Router | None = None
        self._legs: OrderedDict[tuple[int, int], Leg] = OrderedDict()
        self._size = 0  # points held
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._legs)

    @property
    def size(self) -> int:
        """The points the cached legs hold."""
        return self._size

    def leg(self, router: Router, source: int, target: int) -> Leg:
        """The leg from road node ``source`` to ``target`` along ``router``'s shortest path (a single
        point when they are the same node, or when no path joins them: then the two end points)."""
        key = (int(source), int(target))
        with self._lock:
            if router is not self._router:
                self._router = router
                self._legs.clear()
                self._size = 0
            found = self._legs.get(key)
            if found is not None:
                self._legs.move_to_end(key)
                return found
        leg = self._build(router, *key)
        with self._lock:
            if key not in self._legs and router is self._router:
                self._legs[key] = leg
                self._size += leg.lat.size
                while self._size > self.max_points and len(self._legs) > 1:
                    self._size -= self._legs.popitem(last=False)[1].lat.size
        return leg

    def _build(self, router: Router, source: int, target: int) -> Leg:
        p = self.points
        if source == target:
            return Leg(p.node_lat[[source]], p.node_lon[[source]], np.zeros(1), 0.0)
        try:
            path = router.path(source, target)
        except NoPathError:  # a straight line (a drawing only)
            return Leg(p.node_lat[[source, target]], p.node_lon[[source, target]], np.array([0.0, 1.0]), 0.0)
        edges = path.edges.astype(np.int64)
        lat, lon, node_pos = edges_points(self.network, p, edges, np.zeros(edges.size, bool), source)
        step = np.hypot(np.diff(lat), np.diff(lon) * np.cos(np.radians(lat[:-1])))
        dist = np.concatenate([[0.0], np.cumsum(step)])
        node_time = np.concatenate([[0.0], np.cumsum(router.network.travel_time_s[edges].astype(np.float64))])
        if node_time[-1] <= 0:
            node_time = dist[node_pos]
        total = node_time[-1]
        times = np.interp(dist, dist[node_pos], node_time) if dist[-1] > 0 else np.linspace(0.0, total, lat.size)
        share = times / total if total > 0 else np.linspace(0.0, 1.0, lat.size)
        return Leg(lat, lon, np.maximum.accumulate(share), float(node_time[-1]))


def route_path(
    legs: LegPaths,
    router: Router,
    position: tuple[float, float],
    here: tuple[int, float, float, int] | int,
    nodes: list[int],
    points: list[tuple[float, float]],
    clock_s: float,
) -> dict[str, list[Any]]:
    """A vehicle's path along the streets from ``position`` through its planned stops in order
    (road nodes ``nodes``, drawn at ``points``): ``here`` is the road node it is at, or, on its
    way, ``(from node, depart_s, arrive_s, to node)`` of the leg it drives (the path goes on from
    where it is on that leg at ``clock_s``). ``{"stop_points", "path", "stop_path_index"}``: the
    path passes through each stop's point, at ``path[stop_path_index[k]]`` for stop ``k``."""
    lat, lon = [position[0]], [position[1]]
    if isinstance(here, tuple):
        source, depart, arrive, node = here
        leg = legs.leg(router, source, node)
        rest_lat, rest_lon = leg.rest_after((clock_s - depart) / (arrive - depart) if arrive > depart else 1.0)
        lat += rest_lat
        lon += rest_lon
    else:
        node = here
    index = []
    for target, (p_lat, p_lon) in zip(nodes, points, strict=True):
        if target != node:
            leg = legs.leg(router, node, target)
            lat += leg.lat[1:].tolist()
            lon += leg.lon[1:].tolist()
        if (lat[-1], lon[-1]) != (p_lat, p_lon):
            lat.append(p_lat)
            lon.append(p_lon)
        index.append(len(lat) - 1)
        node = target
    return {"stop_points": list(points), "path": list(zip(lat, lon, strict=True)), "stop_path_index": index}
