"""Stops for stop-based service (I-MOD runs from bus stop to bus stop).

:func:`virtual_stops` picks a set of network nodes that covers the network:

1. Bus stops tagged in the OSM extract (``highway=bus_stop``, bus platforms) are snapped to
   their nearest node (within ``osm_snap_m``) and kept.
2. The remaining candidate nodes — nodes on roads where a bus may stop (not motorways or
   trunk roads by default) — are visited from the most important road class down, and a
   node becomes a stop when no stop lies within ``spacing_m`` of it (straight-line).

So every candidate node is within ``spacing_m`` of a stop, and the stops added in step 2
are at least ``spacing_m`` from each other and from the OSM stops.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .config import kernel
from .errors import InvalidArgumentError, plain_repr
from .network import RoadNetwork
from .snapping import nearest_nodes

NO_STOP_CLASSES: tuple[str, ...] = ("motorway", "motorway_link", "trunk", "trunk_link")

SOURCE_OSM = 0
SOURCE_VIRTUAL = 1
SOURCE_FILE = 2  # from the service's stop file (routing.stop_files)


@dataclass(frozen=True, eq=False)
class StopSet:
    """Stops as arrays; stop ``i`` sits on network node ``node[i]``.

    ``ids`` and ``names`` (empty, or one per stop) are the stops' own ids and names when they
    come from a stop file (:func:`routing.stop_files.stops_from_points`); without ids a stop is
    known by its index.
    """

    node: NDArray[np.int32]
    x_m: NDArray[np.float64]
    y_m: NDArray[np.float64]
    lat: NDArray[np.float64]
    lon: NDArray[np.float64]
    source: NDArray[np.int8]  # SOURCE_OSM or SOURCE_VIRTUAL
    osm_id: NDArray[np.int64]  # -1 for virtual stops
    spacing_m: float
    ids: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    _tree: Any = field(default=None, init=False, repr=False, compare=False)

    def __len__(self) -> int:
        return int(self.node.shape[0])

    def subset(self, keep: ArrayLike) -> StopSet:
        """The stops where ``keep`` is true, in order (with their ids and names)."""
        idx = np.flatnonzero(np.asarray(keep, dtype=bool))
        return StopSet(
            node=self.node[idx],
            x_m=self.x_m[idx],
            y_m=self.y_m[idx],
            lat=self.lat[idx],
            lon=self.lon[idx],
            source=self.source[idx],
            osm_id=self.osm_id[idx],
            spacing_m=self.spacing_m,
            ids=tuple(self.ids[i] for i in idx) if self.ids else (),
            names=tuple(self.names[i] for i in idx) if self.names else (),
        )

    def index_of_ids(self) -> dict[str, int]:
        """Stop index by stop id (empty when the stops have no ids)."""
        return {sid: k for k, sid in enumerate(self.ids)}

    @property
    def num_osm(self) -> int:
        return int(np.count_nonzero(self.source == SOURCE_OSM))

    def nearest(
        self, network: RoadNetwork, lat: ArrayLike, lon: ArrayLike, *, max_walk_m: float
    ) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """Index of the nearest stop to each point (-1 beyond ``max_walk_m``) and the distance (m)."""
        from .snapping import project

        x, y = project(network, lat, lon)
        return self.nearest_xy(x, y, max_walk_m=max_walk_m)

    def nearest_xy(
        self, x: ArrayLike, y: ArrayLike, *, max_walk_m: float
    ) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        from scipy.spatial import cKDTree

        if not max_walk_m >= 0:
            raise InvalidArgumentError("max_walk_m", f"got {plain_repr(max_walk_m)}", ">= 0 m")
        tree = self._tree
        if tree is None:
            tree = cKDTree(np.column_stack([self.x_m, self.y_m]))
            object.__setattr__(self, "_tree", tree)
        xa = np.atleast_1d(np.asarray(x, np.float64))
        ya = np.atleast_1d(np.asarray(y, np.float64))
        dist, idx = tree.query(np.column_stack([xa, ya]))
        idx = np.where(dist <= max_walk_m, idx, -1).astype(np.int64)
        return idx, np.asarray(dist, np.float64)


@kernel
def _greedy_cover(x, y, order, num_fixed, radius):
    """Keep ``order[:num_fixed]``; then add each ``order[i]`` with no kept point within ``radius``.

    Uses a uniform grid of ``radius``-sized cells. Returns a 0/1 mask over ``order``.
    """
    k = order.shape[0]
    keep = np.zeros(k, np.uint8)
    if k == 0:
        return keep
    xmin = x[order[0]]
    ymin = y[order[0]]
    xmax = xmin
    ymax = ymin
    for i in range(k):
        v = order[i]
        xmin = min(xmin, x[v])
        xmax = max(xmax, x[v])
        ymin = min(ymin, y[v])
        ymax = max(ymax, y[v])
    ncx = int((xmax - xmin) / radius) + 1
    ncy = int((ymax - ymin) / radius) + 1
    head = np.full(ncx * ncy, -1, np.int64)
    nxt = np.full(k, -1, np.int64)
    r2 = radius * radius
    for i in range(k):
        v = order[i]
        cx = int((x[v] - xmin) / radius)
        cy = int((y[v] - ymin) / radius)
        if i >= num_fixed:
            close = False
            for gx in range(max(cx - 1, 0), min(cx + 2, ncx)):
                for gy in range(max(cy - 1, 0), min(cy + 2, ncy)):
                    j = head[gx * ncy + gy]
                    while j >= 0:
                        u = order[j]
                        dx = x[u] - x[v]
                        dy = y[u] - y[v]
                        if dx * dx + dy * dy < r2:
                            close = True
                            break
                        j = nxt[j]
                    if close:
                        break
                if close:
                    break
            if close:
                continue
        keep[i] = 1
        c = cx * ncy + cy
        nxt[i] = head[c]
        head[c] = i
    return keep


def virtual_stops(
    network: RoadNetwork,
    *,
    spacing_m: float = 300.0,
    use_osm_stops: bool = True,
    osm_snap_m: float = 60.0,
    no_stop_classes: Sequence[str] = NO_STOP_CLASSES,
) -> StopSet:
    """Stops covering ``network`` about ``spacing_m`` apart (see the module docstring)."""
    if not 10.0 <= spacing_m <= 20_000.0:
        raise InvalidArgumentError("spacing_m", f"got {plain_repr(spacing_m)}", "10 .. 20000 m")
    if not 0.0 <= osm_snap_m <= 1_000.0:
        raise InvalidArgumentError("osm_snap_m", f"got {plain_repr(osm_snap_m)}", "0 .. 1000 m")
    n = network.num_nodes
    excluded = np.array([c in set(no_stop_classes) for c in network.road_classes], dtype=bool)
    # Best (lowest-code) allowed road class touching each node.
    big = np.int64(len(network.road_classes))
    best = np.full(n, big, np.int64)
    allowed = ~excluded[network.road_class.astype(np.int64)]
    codes = np.where(allowed, network.road_class.astype(np.int64), big)
    np.minimum.at(best, network.tail, codes)
    np.minimum.at(best, network.indices, codes)
    candidates = np.flatnonzero(best < big)
    if candidates.size == 0:  # e.g. a motorway-only graph: fall back to every node
        candidates = np.arange(n)

    fixed_nodes = np.zeros(0, np.int64)
    fixed_osm = np.zeros(0, np.int64)
    if use_osm_stops and network.osm_stop_id.size and network.has_lat_lon:
        res = nearest_nodes(network, network.osm_stop_lat, network.osm_stop_lon, max_distance_m=osm_snap_m)
        ok = res.node >= 0
        fixed_nodes, first = np.unique(res.node[ok], return_index=True)
        fixed_osm = network.osm_stop_id[ok][first]
    rest = np.setdiff1d(candidates, fixed_nodes)
    rest = rest[np.lexsort((rest, best[rest]))]
    order = np.concatenate([fixed_nodes, rest]).astype(np.int64)
    keep = _greedy_cover(network.x_m, network.y_m, order, fixed_nodes.size, float(spacing_m)).astype(bool)
    nodes = order[keep]
    source = np.where(np.arange(order.size)[keep] < fixed_nodes.size, SOURCE_OSM, SOURCE_VIRTUAL).astype(np.int8)
    osm_id = np.full(nodes.size, -1, np.int64)
    osm_id[: fixed_nodes.size] = fixed_osm
    return StopSet(
        node=nodes.astype(np.int32),
        x_m=network.x_m[nodes],
        y_m=network.y_m[nodes],
        lat=network.lat[nodes],
        lon=network.lon[nodes],
        source=source,
        osm_id=osm_id,
        spacing_m=float(spacing_m),
    )


def coverage_m(network: RoadNetwork, stops: StopSet, nodes: ArrayLike | None = None) -> NDArray[np.float64]:
    """Straight-line distance (m) from each node (default: all nodes) to its nearest stop."""
    idx = np.arange(network.num_nodes) if nodes is None else np.asarray(nodes, np.int64)
    _, dist = stops.nearest_xy(network.x_m[idx], network.y_m[idx], max_walk_m=np.inf)
    return dist


def all_node_stops(network: RoadNetwork) -> StopSet:
    """Every node of ``network`` as a stop (door-to-door service, or node-based benchmarks)."""
    n = network.num_nodes
    return StopSet(
        node=np.arange(n, dtype=np.int32),
        x_m=network.x_m.copy(),
        y_m=network.y_m.copy(),
        lat=network.lat.copy(),
        lon=network.lon.copy(),
        source=np.full(n, SOURCE_VIRTUAL, np.int8),
        osm_id=np.full(n, -1, np.int64),
        spacing_m=0.0,
    )
