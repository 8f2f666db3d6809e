"""A real city as a planning problem: road network + stops + trips -> :class:`TransitProblem`.

:func:`build_city` (and :func:`city_problem`, which returns only the problem) works in five steps:

1. **Stops.** ``stops="osm"``: the bus stops tagged in the OSM extract (``highway=bus_stop`` and
   bus platforms, kept by :func:`routing.load_network`); an extract with fewer than
   :data:`MIN_OSM_STOPS` of them is refused with a message that offers the alternatives.
   ``stops="virtual"``: stops about ``stop_spacing_m`` apart along the roads where a bus may stop
   (:func:`routing.virtual_stops`). Otherwise a stops CSV or a GTFS feed
   (:func:`planning.stops_io.read_stops`). Stops farther than ``max_snap_m`` from the nearest
   road-network node are dropped and counted (a warning is logged).
2. **Planning nodes.** Nearby stops are aggregated, deterministically (:func:`cluster_points`):
   stops are taken in order of how many stops lie within ``cluster_m`` of them (most first, then
   file order); each stop not yet taken opens a cluster and takes every untaken stop within
   ``cluster_m`` of it (straight line). A cluster's node sits on the road node nearest the mean
   position of its stops; clusters that land on the same road node are one node. Nodes are named ``"N1"``,
   ``"N2"``, ... in order of position (west to east, then south to north);
   :attr:`CityBuild.node_stops` says which stops each holds.
3. **Links.** Road shortest-path times between the planning nodes come from the contraction
   hierarchy's many-to-many matrix over the planning nodes only (never over road nodes).
   The planning graph is undirected: the time of a link is the **mean** of the two directions'
   road times, so a route run out and back takes exactly its round trip on the roads. Candidate
   links join each node to its ``neighbours`` nearest nodes by time, plus a minimum spanning tree
   over all nodes (so the graph is connected). Candidates are taken shortest first and a link
   i-j is kept only when the links already kept offer no path from i to j within
   ``(1 + detour) * t_ij`` (the greedy spanner; with one intermediate node k it is the rule
   "drop i-j when t_ik + t_kj <= (1 + detour) t_ij"). So a link joins neighbours and a bus that
   passes a node on its way stops there. Nodes that cannot reach or be reached from the largest
   group of mutually reachable nodes (only on a road network that is not strongly connected) are
   dropped and listed in :attr:`CityBuild.dropped_nodes`.
4. **Demand.** With an OD CSV (:mod:`planning.od`): trips by stop id go to the node holding the
   stop; trips by position go to the node of the nearest stop within ``max_walk_m``; trips from a
   node to itself, to unknown stops, to stops dropped in step 1 or 3, or beyond the walk are
   dropped and counted (:attr:`CityBuild.trips_dropped`). Without one: a gravity model
   (:func:`planning.od.gravity_demand`) whose trip-end weight of a node is the length of road
   (both directions) nearer to it than to any other node and within ``2 * cluster_m + 250`` m,
   with a decay of ``gravity_decay_min`` minutes, ``gravity_trips`` trips in all (default 500
   per node) and ``seed``; the problem's ``source`` then says "synthetic gravity model".
5. **The problem.** :class:`TransitProblem` with ``lat``/``lon`` and ``x``/``y`` (metres in the
   network's projection) of each node's road node, ``node_ids`` ``"N1"..``, and in ``source``
   where the stops and the demand came from, with the counts dropped.

**Planning specs.** :func:`load_problem` reads a CEC-2013 instance folder (:func:`planning.read_cec`)
or a TOML planning spec (the numbers shown for optional keys are their defaults, but for
``seed``, whose default is 0, and the gravity model's trips)::

    [city]
    name = "jamsil"                  # optional (default: the network's name)
    osm = "osm/seoul_jamsil.osm"     # road network: OSM XML / PBF / GraphML / saved .npz
    stops = "virtual"                # "osm" (default), "virtual", or a stops CSV / GTFS feed path
    stop_spacing_m = 400             # for "virtual" stops (50 .. 5000)
    od = "trips.csv"                 # optional OD CSV; without it a gravity model (synthetic)
    od_window = ["07:00", "09:00"]   # optional: keep the OD rows in this time window
    cluster_m = 250                  # aggregation radius (0 .. 5000; 0: one node per road node)
    seed = 1                         # gravity model seed (whole number >= 0)
    max_snap_m = 500                 # stops farther from the roads are dropped (10 .. 5000)
    max_walk_m = 500                 # OD positions farther from a stop are dropped (10 .. 5000)
    neighbours = 6                   # candidate links per node (1 .. 50)
    detour = 0.15                    # link pruning tolerance (0 .. 2)
    gravity_trips = 10000            # gravity model: trips in all (default 500 per node)
    gravity_decay_min = 10           # gravity model: decay time (0.1 .. 1000 minutes)

    [rules]                          # planning.RouteRules; num_routes is required
    num_routes = 8
    min_stops = 3
    max_stops = 12
    max_circuity = 1.5               # optional (default: no limit)
    max_overlap = 1.0                # optional
    transfer_penalty_min = 5         # optional

Paths are absolute, or relative to the data folder (``data_dir``, default ``$MOBILITY_DATA_DIR``
or ``../shared/data`` beside the repository) or to the spec's own folder, in that order, as the
simulator's scenario files are. Other tables of the file are left to their readers (the command
line's design settings). A bad key or value is one :class:`~planning.errors.PlanningFileError`
line naming the file and the key. The bundled specs are ``scenarios/plan_*.toml``: the prefix
keeps them out of the simulator's list of service-day scenarios in the same folder.
"""

from __future__ import annotations

import heapq
import logging
import math
import os
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from routing import RoadNetwork, Router, load_network, nearest_nodes_xy, virtual_stops
from routing.config import UNREACHABLE
from routing.snapping import project

from .errors import InvalidArgumentError, PlanningFileError, whole_number
from .od import gravity_demand, read_od
from .problem import RouteRules, TransitProblem
from .stops_io import StopTable, read_stops

__all__ = [
    "MIN_OSM_STOPS",
    "CityBuild",
    "build_city",
    "city_problem",
    "cluster_points",
    "load_city",
    "load_problem",
]

log = logging.getLogger(__name__)

#: Fewer OSM bus stops than this in an extract and ``stops="osm"`` is refused (with the alternatives).
MIN_OSM_STOPS = 10

#: Gravity model trips per planning node when ``gravity_trips`` is not given (a scale only: the
#: ATT does not depend on it).
GRAVITY_TRIPS_PER_NODE = 500

Progress = Callable[[str], None]


@dataclass(frozen=True, eq=False)
class CityBuild:
    """A city's planning problem and how it was made (see the module docstring).

    Attributes:
        problem: the planning problem.
        network: the road network.
        road_node: the road-network node each planning node sits on (``n``).
        node_names: a readable name per planning node (its first stop's name, else its id).
        node_stops: the ids of the stops each planning node holds.
        stops: the stops kept (on the network, in a kept node); ``stop_node[k]`` is the planning
            node (index) of ``stops.ids[k]``.
        stops_read: how many stops the source had.
        stops_far: stops dropped for lying farther than ``max_snap_m`` from the roads.
        dropped_nodes: nodes dropped outside the largest mutually reachable group (their
            would-be names), with their stops.
        trips_read: trips in the OD table (or drawn by the gravity model).
        trips_dropped: trips dropped, by reason.
        timings_s: seconds per step ("network", "stops", "nodes", "links", "demand").
    """

    problem: TransitProblem
    network: RoadNetwork
    road_node: NDArray[np.int64]
    node_names: tuple[str, ...]
    node_stops: tuple[tuple[str, ...], ...]
    stops: StopTable
    stop_node: NDArray[np.int64]
    stops_read: int
    stops_far: int
    dropped_nodes: tuple[str, ...]
    trips_read: float
    trips_dropped: dict[str, float] = field(default_factory=dict)
    timings_s: dict[str, float] = field(default_factory=dict)

    @property
    def trips_kept(self) -> float:
        return self.problem.total_demand


# ---------------------------------------------------------------------------- helpers
def _number(field_name: str, value: Any, lo: float, hi: float, unit: str = "") -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise InvalidArgumentError(field_name, f"got {value!r}", f"{lo:g} .. {hi:g}{unit}")
    v = float(value)
    if not (math.isfinite(v) and lo <= v <= hi):
        raise InvalidArgumentError(field_name, f"got {value!r}", f"{lo:g} .. {hi:g}{unit}")
    return v


def _city_stops(network: RoadNetwork, stops: str | Path, spacing_m: float) -> StopTable:
    if isinstance(stops, str) and stops == "osm":
        k = int(network.osm_stop_id.size)
        if k < MIN_OSM_STOPS:
            raise InvalidArgumentError(
                "stops",
                f'"osm": the extract {network.name!r} has {k} OSM bus stops (highway=bus_stop or bus '
                f"platforms), fewer than {MIN_OSM_STOPS}",
                'stops="virtual" (stops spaced along the roads) or a stops CSV or GTFS feed',
            )
        return StopTable(
            ids=tuple(str(int(s)) for s in network.osm_stop_id),
            lat=np.asarray(network.osm_stop_lat, np.float64),
            lon=np.asarray(network.osm_stop_lon, np.float64),
            names=("",) * k,
            source=f"{k} OSM bus stops of {network.name}",
        )
    if isinstance(stops, str) and stops == "virtual":
        vs = virtual_stops(network, spacing_m=spacing_m)
        ids = tuple(str(int(o)) if o >= 0 else f"V{k + 1}" for k, o in enumerate(vs.osm_id))
        extra = f" (with its {vs.num_osm} OSM bus stops)" if vs.num_osm else ""
        return StopTable(
            ids=ids,
            lat=np.asarray(vs.lat, np.float64),
            lon=np.asarray(vs.lon, np.float64),
            names=("",) * len(vs),
            source=f"{len(vs)} virtual stops {spacing_m:g} m apart along the roads of {network.name}{extra}",
        )
    if isinstance(stops, str) and not Path(stops).exists() and not any(c in stops for c in "./\\"):
        raise InvalidArgumentError(
            "stops", f"got {stops!r}", '"osm", "virtual", or the path of a stops CSV or GTFS feed'
        )
    return read_stops(stops)


def _stops_problem(stops: str | Path, reason: str) -> Exception:
    if isinstance(stops, str) and stops in ("osm", "virtual"):
        return InvalidArgumentError("stops", f'"{stops}": {reason}')
    return PlanningFileError(stops, reason)


def cluster_points(
    x: NDArray[np.float64], y: NDArray[np.float64], radius_m: float
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Leader clustering of points (metres): the cluster of each point and each cluster's leader.

    Points are taken in order of how many points lie within ``radius_m`` of them (most first,
    then index); each point not yet in a cluster leads a new one and takes every point not yet
    in a cluster within ``radius_m`` of it (itself included). So every point is within
    ``radius_m`` of its leader, and farther than that from every leader chosen before its own.
    Clusters are numbered in the order their leaders were chosen; ``radius_m = 0`` gives one
    cluster per point. A KD-tree finds the neighbours; the loop is linear in the points.
    """
    n = x.shape[0]
    if radius_m <= 0:
        return np.arange(n, dtype=np.int64), np.arange(n, dtype=np.int64)
    label = np.full(n, -1, np.int64)
    tree = cKDTree(np.column_stack([x, y]))
    near = tree.query_ball_point(np.column_stack([x, y]), r=radius_m)
    density = np.array([len(a) for a in near], np.int64)
    order = np.lexsort((np.arange(n), -density))
    leaders: list[int] = []
    for i in order:
        if label[i] >= 0:
            continue
        members = np.asarray(near[i], np.int64)
        members = members[label[members] < 0]
        label[members] = len(leaders)
        leaders.append(int(i))
    return label, np.asarray(leaders, np.int64)


def _greedy_spanner(
    times: NDArray[np.float64], candidates: set[tuple[int, int]], detour: float
) -> list[tuple[int, int]]:
    """The candidate links kept, shortest first, unless the kept ones already join their ends
    within ``(1 + detour)`` times their time (a bounded Dijkstra over the kept links)."""
    n = times.shape[0]
    adj: list[list[tuple[int, float]]] = [[] for _ in range(n)]
    kept: list[tuple[int, int]] = []
    for i, j in sorted(candidates, key=lambda e: (times[e[0], e[1]], e)):
        limit = (1.0 + detour) * times[i, j]
        best = {i: 0.0}
        heap = [(0.0, i)]
        reached = False
        while heap:
            d, u = heapq.heappop(heap)
            if u == j:
                reached = True
                break
            if d > best.get(u, math.inf):
                continue
            for v, w in adj[u]:
                nd = d + w
                if nd <= limit and nd < best.get(v, math.inf):
                    best[v] = nd
                    heapq.heappush(heap, (nd, v))
        if reached:
            continue
        adj[i].append((j, float(times[i, j])))
        adj[j].append((i, float(times[i, j])))
        kept.append((i, j))
    return kept


def _catchment_length(
    network: RoadNetwork, node_x: NDArray[np.float64], node_y: NDArray[np.float64], reach_m: float
) -> NDArray[np.float64]:
    """Road length (m, both directions) nearer to each planning node than to any other, within ``reach_m``."""
    tree = cKDTree(np.column_stack([node_x, node_y]))
    dist, owner = tree.query(np.column_stack([network.x_m, network.y_m]))
    per_road_node = np.zeros(network.num_nodes, np.float64)
    np.add.at(per_road_node, network.tail, network.length_m.astype(np.float64) / 2.0)
    np.add.at(per_road_node, network.indices, network.length_m.astype(np.float64) / 2.0)
    ok = dist <= reach_m
    out = np.zeros(node_x.shape[0], np.float64)
    np.add.at(out, owner[ok], per_road_node[ok])
    return out


# ---------------------------------------------------------------------------- the build
def build_city(
    network: RoadNetwork | str | Path,
    *,
    rules: RouteRules,
    stops: str | Path = "osm",
    od: str | Path | None = None,
    cluster_m: float = 250.0,
    seed: int = 0,
    name: str | None = None,
    progress: Progress | None = None,
    stop_spacing_m: float = 400.0,
    od_window: tuple[str, str] | None = None,
    max_snap_m: float = 500.0,
    max_walk_m: float = 500.0,
    neighbours: int = 6,
    detour: float = 0.15,
    gravity_trips: int | None = None,
    gravity_decay_min: float = 10.0,
    router: Router | None = None,
) -> CityBuild:
    """A city's planning problem and the record of how it was made (see the module docstring).

    Raises:
        InvalidArgumentError: an argument is out of range, or ``stops="osm"`` on an extract
            with too few OSM bus stops.
        PlanningFileError: a stops or OD file cannot be read, or nothing in it is usable.
        NetworkFileError: the road-network file cannot be read.
    """
    say = progress or (lambda _msg: None)
    if not isinstance(rules, RouteRules):
        raise InvalidArgumentError("rules", f"got {type(rules).__name__}", "a planning.RouteRules")
    cluster_m = _number("cluster_m", cluster_m, 0.0, 5000.0, " m")
    stop_spacing_m = _number("stop_spacing_m", stop_spacing_m, 50.0, 5000.0, " m")
    max_snap_m = _number("max_snap_m", max_snap_m, 10.0, 5000.0, " m")
    max_walk_m = _number("max_walk_m", max_walk_m, 10.0, 5000.0, " m")
    detour = _number("detour", detour, 0.0, 2.0)
    neighbours = whole_number("neighbours", neighbours, 1, 50)
    seed = whole_number("seed", seed, 0, 2**63 - 1)
    gravity_decay_min = _number("gravity_decay_min", gravity_decay_min, 0.1, 1000.0, " min")
    if gravity_trips is not None:
        gravity_trips = whole_number("gravity_trips", gravity_trips, 1, 10**12)
    timings: dict[str, float] = {}

    # 1. network and stops
    t0 = time.perf_counter()
    if isinstance(network, str | Path):
        say(f"loading the road network {Path(network).name}")
        network = load_network(network, on_stage=say)
    if not isinstance(network, RoadNetwork):
        raise InvalidArgumentError("network", f"got {type(network).__name__}", "a RoadNetwork or an OSM file path")
    if not network.has_lat_lon:
        raise InvalidArgumentError("network", f"{network.name!r} has no geographic coordinates", "an OSM road network")
    if router is None:
        say("contraction hierarchy (cached)")
        router = Router.from_network(network)
    elif router.network is not network:
        raise InvalidArgumentError("router", "was built for another road network", "Router.from_network(network)")
    timings["network"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    say("reading the stops")
    table = _city_stops(network, stops, stop_spacing_m)
    stops_read = len(table)
    all_stop_ids = frozenset(table.ids)
    sx, sy = project(network, table.lat, table.lon)
    snap = nearest_nodes_xy(network, sx, sy)
    near = snap.distance_m <= max_snap_m
    stops_far = int((~near).sum())
    if not near.any():
        k = int(np.argmin(snap.distance_m))
        hint = ""
        lat, lon = float(table.lat[k]), float(table.lon[k])
        if abs(lon) <= 90:
            swapped = nearest_nodes_xy(network, *project(network, lon, lat))
            if float(swapped.distance_m[0]) <= max_snap_m:
                hint = "; are the latitude and longitude swapped?"
        raise _stops_problem(
            stops,
            f"none of the {stops_read} stops lies within {max_snap_m:g} m of the road network of {network.name} "
            f"(the nearest is {snap.distance_m[k] / 1000:.1f} km away{hint})",
        )
    if stops_far:
        log.warning("%d of %d stops are farther than %g m from the road network: dropped", stops_far, stops_read,
                    max_snap_m)  # fmt: skip
        say(f"{stops_far} of {stops_read} stops farther than {max_snap_m:g} m from the roads: dropped")
    table = table.subset(near)
    sx, sy = sx[near], sy[near]
    timings["stops"] = time.perf_counter() - t0

    # 2. planning nodes
    t0 = time.perf_counter()
    say(f"aggregating {len(table)} stops within {cluster_m:g} m")
    label, _ = cluster_points(sx, sy, cluster_m)
    nc = int(label.max()) + 1
    cx = np.bincount(label, sx, nc) / np.bincount(label, minlength=nc)
    cy = np.bincount(label, sy, nc) / np.bincount(label, minlength=nc)
    cluster_road = nearest_nodes_xy(network, cx, cy).node
    road_nodes, stop_node = np.unique(cluster_road[label], return_inverse=True)
    stop_node = stop_node.astype(np.int64).ravel()
    timings["nodes"] = time.perf_counter() - t0

    # 3. links
    t0 = time.perf_counter()
    say(f"road times between {road_nodes.size} planning nodes")
    secs = router.matrix(road_nodes, road_nodes)
    reach = secs < UNREACHABLE
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components, minimum_spanning_tree

    _, comp = connected_components(csr_matrix(reach.astype(np.int8)), directed=True, connection="strong")
    main = np.argmax(np.bincount(comp))
    keep_node = comp == main
    dropped_nodes: tuple[str, ...] = ()
    if not keep_node.all():
        dropped_nodes = tuple(f"road node {int(network.osm_id[r])}" for r in road_nodes[~keep_node])
        say(f"{len(dropped_nodes)} planning nodes outside the largest mutually reachable group: dropped")
        log.warning("%d planning nodes cannot reach the others: dropped", len(dropped_nodes))
    remap = np.full(road_nodes.size, -1, np.int64)
    remap[keep_node] = np.arange(int(keep_node.sum()))
    secs = secs[np.ix_(keep_node, keep_node)]
    road_nodes = road_nodes[keep_node]
    stop_node = remap[stop_node]
    kept_stop = stop_node >= 0
    table = table.subset(kept_stop)
    sx, sy, stop_node = sx[kept_stop], sy[kept_stop], stop_node[kept_stop]
    # Names N1.. in order of position (west to east, then south to north).
    pos_order = np.lexsort((network.y_m[road_nodes], network.x_m[road_nodes]))
    rank = np.empty_like(pos_order)
    rank[pos_order] = np.arange(pos_order.size)
    road_nodes = road_nodes[pos_order]
    secs = secs[np.ix_(pos_order, pos_order)]
    stop_node = rank[stop_node]
    n = int(road_nodes.size)
    if n < max(2, rules.min_stops):
        raise _stops_problem(
            stops,
            f"only {n} planning node{'s' if n != 1 else ''} after aggregating the stops within {cluster_m:g} m; "
            "the rules need "
            f"at least {max(2, rules.min_stops)} (min_stops) - lower cluster_m or give more stops",
        )
    t_min = (secs + secs.T).astype(np.float64) / 120.0  # mean of the two directions, minutes
    np.fill_diagonal(t_min, 0.0)
    candidates: set[tuple[int, int]] = set()
    k = min(neighbours, n - 1)
    masked = t_min + np.diag(np.full(n, np.inf))
    nearest = np.argpartition(masked, k - 1, axis=1)[:, :k]
    for i in range(n):
        for j in nearest[i]:
            candidates.add((min(i, int(j)), max(i, int(j))))
    mst = minimum_spanning_tree(csr_matrix(t_min)).tocoo()
    for i, j in zip(mst.row.tolist(), mst.col.tolist(), strict=True):
        candidates.add((min(i, j), max(i, j)))
    kept = _greedy_spanner(t_min, candidates, detour)
    link = np.full((n, n), np.inf)
    np.fill_diagonal(link, 0.0)
    for i, j in kept:
        link[i, j] = link[j, i] = t_min[i, j]
    timings["links"] = time.perf_counter() - t0

    # 4. demand
    t0 = time.perf_counter()
    dropped: dict[str, float] = {}
    demand = np.zeros((n, n), np.float64)
    if od is None:
        trips = gravity_trips if gravity_trips is not None else GRAVITY_TRIPS_PER_NODE * n
        say(f"synthetic gravity model: {trips} trips, seed {seed}")
        node_x, node_y = network.x_m[road_nodes], network.y_m[road_nodes]
        weights = _catchment_length(network, node_x, node_y, 2.0 * cluster_m + 250.0)
        if weights.sum() <= 0:
            weights = np.ones(n)
        road_min = secs.astype(np.float64) / 60.0
        demand = gravity_demand(weights, road_min, trips=int(trips), decay_min=gravity_decay_min, seed=seed)
        trips_read = float(trips)
        demand_source = (
            f"synthetic gravity model (seed {seed}, {trips} trips, trip ends by road length around each node, "
            f"decay {gravity_decay_min:g} min)"
        )
    else:
        say(f"reading the OD table {Path(od).name}")
        table_od = read_od(od, window=od_window)
        trips_read = table_od.total
        if table_od.by_stop:
            assert table_od.origin is not None and table_od.destination is not None
            index = {sid: int(stop_node[k]) for k, sid in enumerate(table.ids)}
            o = np.array([index.get(s, -1) for s in table_od.origin], np.int64)
            d = np.array([index.get(s, -1) for s in table_od.destination], np.int64)
            unknown_o = np.array([s not in all_stop_ids for s in table_od.origin])
            unknown_d = np.array([s not in all_stop_ids for s in table_od.destination])
            unknown = unknown_o | unknown_d
            if unknown.all() and len(table_od):
                raise PlanningFileError(
                    od,
                    f"none of its stop ids is a stop of the planning graph's stops ({table.source}); "
                    f"e.g. line {table_od.lines[0]}: {table_od.origin[0]!r}",
                )
            dropped["unknown stop id"] = float(table_od.count[unknown].sum())
            off = ~unknown & ((o < 0) | (d < 0))
            dropped["stop not in the planning graph"] = float(table_od.count[off].sum())
        else:
            assert table_od.o_lat is not None and table_od.o_lon is not None
            assert table_od.d_lat is not None and table_od.d_lon is not None
            tree = cKDTree(np.column_stack([sx, sy]))
            ox, oy = project(network, table_od.o_lat, table_od.o_lon)
            dx, dy = project(network, table_od.d_lat, table_od.d_lon)
            od_dist, o_stop = tree.query(np.column_stack([ox, oy]))
            dd_dist, d_stop = tree.query(np.column_stack([dx, dy]))
            o = np.where(od_dist <= max_walk_m, stop_node[o_stop], -1)
            d = np.where(dd_dist <= max_walk_m, stop_node[d_stop], -1)
            far = (o < 0) | (d < 0)
            if far.all() and len(table_od):
                raise PlanningFileError(
                    od,
                    f"no trip has both ends within {max_walk_m:g} m of a stop (e.g. line {table_od.lines[0]}: "
                    f"{min(od_dist[0], dd_dist[0]) / 1000:.1f} km or more away; are lat and lon swapped?)",
                )
            dropped[f"farther than {max_walk_m:g} m from a stop"] = float(table_od.count[far].sum())
        ok = (o >= 0) & (d >= 0)
        same = ok & (o == d)
        dropped["within one node"] = float(table_od.count[same].sum())
        use = ok & ~same
        np.add.at(demand, (o[use], d[use]), table_od.count[use])
        if demand.sum() <= 0:
            parts = ", ".join(f"{v:g} {r}" for r, v in dropped.items() if v)
            raise PlanningFileError(od, f"no trip left between two planning nodes ({trips_read:g} read; {parts})")
        dropped = {r: v for r, v in dropped.items() if v}
        window = f" between {od_window[0]} and {od_window[1]}" if od_window else ""
        demand_source = f"{trips_read:g} trips{window} from {Path(od).name}"
        if dropped:
            demand_source += " (dropped: " + ", ".join(f"{v:g} {r}" for r, v in dropped.items()) + ")"
    timings["demand"] = time.perf_counter() - t0

    # 5. the problem
    node_ids = tuple(f"N{i + 1}" for i in range(n))
    members: list[list[int]] = [[] for _ in range(n)]
    for k, v in enumerate(stop_node.tolist()):
        members[v].append(k)
    node_stops = tuple(tuple(table.ids[k] for k in m) for m in members)
    node_names = tuple(
        next((table.names[k] for k in m if table.names[k]), f"stop {table.ids[m[0]]}") if m else node_ids[i]
        for i, m in enumerate(members)
    )
    stop_text = table.source
    if stops_far:
        stop_text += f" ({stops_far} farther than {max_snap_m:g} m from the roads dropped)"
    if dropped_nodes:
        stop_text += f" ({len(dropped_nodes)} unreachable nodes dropped)"
    source = (
        f"roads: {network.name}; stops: {stop_text}, aggregated within {cluster_m:g} m into {n} nodes, "
        f"{len(kept)} links (mean of both directions' road times); demand: {demand_source}"
    )
    problem = TransitProblem(
        name=name or network.name,
        link_time_min=link,
        demand=demand,
        x=network.x_m[road_nodes].astype(np.float64),
        y=network.y_m[road_nodes].astype(np.float64),
        rules=rules,
        node_ids=node_ids,
        lat=network.lat[road_nodes].astype(np.float64),
        lon=network.lon[road_nodes].astype(np.float64),
        source=source,
    )
    say(f"{n} planning nodes, {len(kept)} links, {problem.total_demand:g} trips")
    return CityBuild(
        problem=problem,
        network=network,
        road_node=road_nodes.astype(np.int64),
        node_names=node_names,
        node_stops=node_stops,
        stops=table,
        stop_node=stop_node,
        stops_read=stops_read,
        stops_far=stops_far,
        dropped_nodes=dropped_nodes,
        trips_read=trips_read,
        trips_dropped=dropped,
        timings_s={k: round(v, 4) for k, v in timings.items()},
    )


def city_problem(
    network: RoadNetwork | str | Path,
    *,
    rules: RouteRules,
    stops: str | Path = "osm",
    od: str | Path | None = None,
    cluster_m: float = 250.0,
    seed: int = 0,
    name: str | None = None,
    progress: Progress | None = None,
    **options: Any,
) -> TransitProblem:
    """The planning problem of a city (:func:`build_city`'s ``problem``; ``options`` as there)."""
    return build_city(
        network, rules=rules, stops=stops, od=od, cluster_m=cluster_m, seed=seed, name=name, progress=progress,
        **options,
    ).problem  # fmt: skip


# ---------------------------------------------------------------------------- planning specs
#: ``[city]`` keys of a planning spec and the :func:`build_city` argument each sets.
CITY_KEYS = (
    "name", "osm", "stops", "stop_spacing_m", "od", "od_window", "cluster_m", "seed", "max_snap_m", "max_walk_m",
    "neighbours", "detour", "gravity_trips", "gravity_decay_min",
)  # fmt: skip
RULE_KEYS = tuple(f.name for f in fields(RouteRules))
PATH_KEYS = ("osm", "od")


def default_data_dir() -> Path:
    """``$MOBILITY_DATA_DIR``, else ``../shared/data`` beside the repository (as the command line's)."""
    env = os.environ.get("MOBILITY_DATA_DIR")
    if env:
        return Path(env)
    return (Path(__file__).resolve().parents[1] / ".." / "shared" / "data").resolve()


def _locate(spec: Path, key: str, value: Any, data_dir: Path) -> Path:
    if not isinstance(value, str) or not value:
        raise PlanningFileError(spec, f"[city] {key}: got {value!r} (allowed: a file path)")
    p = Path(value).expanduser()
    if p.is_absolute():
        if p.exists():
            return p
        raise PlanningFileError(spec, f"[city] {key}: file not found ({p})")
    tried = [data_dir / p, spec.parent / p]
    for q in tried:
        if q.exists():
            return q
    raise PlanningFileError(spec, f"[city] {key}: file not found (tried {tried[0]} and {tried[1]})")


def read_spec(path: str | Path, *, data_dir: str | Path | None = None) -> tuple[dict[str, Any], RouteRules]:
    """The :func:`build_city` arguments (``network`` and the rest) and the rules of a planning spec."""
    spec = Path(path)
    if not spec.is_file():
        raise PlanningFileError(spec, "is a folder, not a planning spec" if spec.is_dir() else "file not found")
    try:
        with open(spec, "rb") as fh:
            doc = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise PlanningFileError(spec, f"not valid TOML ({exc})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanningFileError(spec, f"cannot be read ({exc})") from None
    city = doc.get("city")
    if not isinstance(city, dict):
        raise PlanningFileError(spec, "no [city] table (a planning spec needs [city] osm = ... and [rules])")
    rules_doc = doc.get("rules", {})
    if not isinstance(rules_doc, dict):
        raise PlanningFileError(spec, "[rules] must be a table")
    for key in city:
        if key not in CITY_KEYS:
            raise PlanningFileError(spec, f"[city] {key}: unknown key (allowed: {', '.join(CITY_KEYS)})")
    for key in rules_doc:
        if key not in RULE_KEYS:
            raise PlanningFileError(spec, f"[rules] {key}: unknown key (allowed: {', '.join(RULE_KEYS)})")
    if "osm" not in city:
        raise PlanningFileError(spec, "[city] osm: missing (the road network file)")
    folder = Path(data_dir) if data_dir is not None else default_data_dir()
    args: dict[str, Any] = {k: v for k, v in city.items() if k not in PATH_KEYS}
    args["network"] = _locate(spec, "osm", city["osm"], folder)
    if "od" in city:
        args["od"] = _locate(spec, "od", city["od"], folder)
    stops = city.get("stops", "osm")
    if stops not in ("osm", "virtual"):
        stops = _locate(spec, "stops", stops, folder)
    args["stops"] = stops
    if "od_window" in city:
        if "od" not in city:
            raise PlanningFileError(
                spec, "[city] od_window: given without od (the window selects rows of the OD table)"
            )
        w = city["od_window"]
        if not (isinstance(w, list) and len(w) == 2 and all(isinstance(t, str) for t in w)):
            raise PlanningFileError(spec, f'[city] od_window: got {w!r} (allowed: two times, e.g. ["07:00", "09:00"])')
        args["od_window"] = (w[0], w[1])
    if "name" in city and not isinstance(city["name"], str):
        raise PlanningFileError(spec, f"[city] name: got {city['name']!r} (allowed: a string)")
    if "num_routes" not in rules_doc:
        raise PlanningFileError(spec, "[rules] num_routes: missing (how many routes the network has)")
    try:
        rules = RouteRules(**rules_doc)
    except InvalidArgumentError as exc:
        raise PlanningFileError(spec, f"[rules] {exc}") from None
    return args, rules


def load_city(
    path: str | Path,
    *,
    data_dir: str | Path | None = None,
    progress: Progress | None = None,
    **rule_changes: Any,
) -> CityBuild:
    """The city of a TOML planning spec (see the module docstring); ``rule_changes`` override [rules]."""
    spec = Path(path)
    args, rules = read_spec(spec, data_dir=data_dir)
    if rule_changes:
        bad = [k for k in rule_changes if k not in RULE_KEYS]
        if bad:
            raise InvalidArgumentError(bad[0], "is not a route rule", ", ".join(RULE_KEYS))
        from dataclasses import replace

        rules = replace(rules, **rule_changes)
    try:
        return build_city(rules=rules, progress=progress, **args)
    except InvalidArgumentError as exc:
        if exc.field in CITY_KEYS:  # a value of the spec
            raise PlanningFileError(spec, f"[city] {exc}") from None
        raise


def load_problem(
    source: str | Path,
    *,
    data_dir: str | Path | None = None,
    progress: Progress | None = None,
    **rule_changes: Any,
) -> TransitProblem:
    """A planning problem from a CEC-2013 instance folder (:func:`planning.read_cec`) or a TOML
    planning spec (:func:`load_city`); ``rule_changes`` (``num_routes=...``) override its rules."""
    p = Path(source)
    if p.is_dir():
        from .cec import read_cec

        return read_cec(p, **rule_changes)
    if p.suffix.lower() == ".toml":
        return load_city(p, data_dir=data_dir, progress=progress, **rule_changes).problem
    if not p.exists():
        raise PlanningFileError(p, "not found (expected a CEC instance folder or a .toml planning spec)")
    raise PlanningFileError(p, "not a CEC instance folder or a .toml planning spec")
