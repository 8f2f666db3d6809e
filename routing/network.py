"""The road network as flat arrays: CSR forward and reverse adjacency.

Node ids are ``0 .. num_nodes - 1``; edge ids are ``0 .. num_edges - 1`` and follow the
forward CSR order, so the edges leaving node ``u`` are ``indptr[u] .. indptr[u + 1] - 1``
with heads ``indices[...]``. The reverse CSR lists, for each node ``v``, the edges that
enter it: ``rev_indptr[v] .. rev_indptr[v + 1] - 1`` with tails ``rev_indices[...]`` and the
forward edge ids ``rev_edge[...]``.

Travel times are integer seconds and lengths integer metres, rounded once when the network
is built. Between any ordered pair of nodes there is at most one edge (the fastest of any
parallel edges in the source) and there are no self-loops.

Each edge may keep the shape of its street: the *interior* points between its two end nodes
(the nodes an OSM import merged away when it simplified the graph), as a CSR over edges
aligned with ``indices``: the points of edge ``e`` are ``geom_lat[geom_indptr[e] ..
geom_indptr[e + 1] - 1]`` (and ``geom_lon``), in driving order from tail to head. A straight
edge, and every edge of a network without geographic coordinates, has none.
:meth:`RoadNetwork.edge_shape`, :meth:`RoadNetwork.path_shape` and
:meth:`RoadNetwork.paths_shape` give the full polylines (end nodes included).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray
from scipy.sparse.csgraph import connected_components

from .config import INDEX_DTYPE, WEIGHT_DTYPE
from .errors import InvalidArgumentError, plain_repr
from .npz import load_npz, save_npz

#: The major roads: motorways, trunk, primary and secondary roads and their links (the
#: simulator's traffic model loads them apart from the minor roads).
MAJOR_ROAD_CLASSES: tuple[str, ...] = (
    "motorway",
    "motorway_link",
    "trunk",
    "trunk_link",
    "primary",
    "primary_link",
    "secondary",
    "secondary_link",
)

#: Road classes known to the engine, major roads first; ``RoadNetwork.road_class`` holds
#: indices into the network's own ``road_classes`` tuple, which starts with these.
DEFAULT_ROAD_CLASSES: tuple[str, ...] = (
    *MAJOR_ROAD_CLASSES,
    "tertiary",
    "tertiary_link",
    "unclassified",
    "residential",
    "living_street",
    "service",
    "road",
    "busway",
    "other",
)

#: Largest travel time accepted for one edge (about 116 days); keeps path sums in range.
MAX_EDGE_TIME_S = 10_000_000

#: Mean free-flow speeds (km/h) a road network of a city plausibly has; outside them the
#: file's units or speeds are almost certainly misread (:func:`speed_warning`).
PLAUSIBLE_SPEED_KPH: tuple[float, float] = (10.0, 150.0)

_FORMAT_VERSION = 2  # 2: edge shapes (geom_indptr, geom_lat, geom_lon)

log = logging.getLogger(__name__)
T = TypeVar("T")


def _as_array(values: ArrayLike, dtype: Any, name: str, size: int | None = None) -> NDArray[Any]:
    arr = np.ascontiguousarray(values, dtype=dtype)
    if arr.ndim != 1:
        raise InvalidArgumentError(name, f"expected a 1-D array, got shape {arr.shape}")
    if size is not None and arr.shape[0] != size:
        raise InvalidArgumentError(name, f"expected {size} values, got {arr.shape[0]}")
    return arr


def _round_times(values: ArrayLike, name: str, size: int) -> NDArray[np.int32]:
    """Round travel times (s) to integers in ``1 .. MAX_EDGE_TIME_S``, or raise."""
    arr = np.asarray(values)
    if arr.ndim != 1 or arr.shape[0] != size:
        raise InvalidArgumentError(name, f"expected {size} values (one per edge), got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.number):
        raise InvalidArgumentError(name, f"expected numbers, got dtype {arr.dtype}")
    farr = arr.astype(np.float64)
    if not np.all(np.isfinite(farr)):
        bad = int(np.flatnonzero(~np.isfinite(farr))[0])
        raise InvalidArgumentError(name, f"edge {bad} has a non-finite travel time", "finite seconds")
    rounded = np.rint(farr)
    if rounded.size and (rounded.min() < 1 or rounded.max() > MAX_EDGE_TIME_S):
        bad = int(np.flatnonzero((rounded < 1) | (rounded > MAX_EDGE_TIME_S))[0])
        raise InvalidArgumentError(
            name,
            f"edge {bad} has travel time {plain_repr(farr[bad])} s",
            f"1 .. {MAX_EDGE_TIME_S} s after rounding",
        )
    return rounded.astype(WEIGHT_DTYPE)


def project_to_crs(lat: ArrayLike, lon: ArrayLike, crs: str) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """WGS84 latitudes and longitudes projected into ``crs`` (pyproj): the ``x_m``, ``y_m`` of a
    network whose ``crs`` it is (the OSM import makes the nodes' so)."""
    from pyproj import Transformer

    tr = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    x, y = tr.transform(np.asarray(lon, np.float64), np.asarray(lat, np.float64))
    return np.asarray(x, np.float64), np.asarray(y, np.float64)


def concat_ranges(starts: NDArray[np.int64], counts: NDArray[np.int64]) -> NDArray[np.int64]:
    """``concatenate([arange(s, s + c) for s, c in zip(starts, counts)])``, vectorised."""
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, np.int64)
    offsets = np.zeros(counts.size, np.int64)
    np.cumsum(counts[:-1], out=offsets[1:])
    return np.repeat(starts - offsets, counts) + np.arange(total, dtype=np.int64)


def _take_shapes(
    indptr: NDArray[np.int64], lat: NDArray[np.float64], lon: NDArray[np.float64], edges: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
    """The shape CSR of the edges ``edges`` (in that order) taken out of a shape CSR."""
    counts = (indptr[edges + 1] - indptr[edges]).astype(np.int64)
    out = np.zeros(edges.size + 1, np.int64)
    np.cumsum(counts, out=out[1:])
    src = concat_ranges(indptr[edges].astype(np.int64), counts)
    return out, lat[src], lon[src]


@dataclass(frozen=True, eq=False)
class RoadNetwork:
    """A directed road network as flat arrays (see the module docstring for conventions).

    Build one with :func:`routing.load_network` (OSM, GraphML, cached), with
    :func:`routing.read_manhattan` (benchmark ``.xy``/``.d``), or with
    :meth:`RoadNetwork.from_edges`. Instances are immutable; variants are made with
    :meth:`with_travel_times`.
    """

    indptr: NDArray[np.int64]
    indices: NDArray[np.int32]
    travel_time_s: NDArray[np.int32]
    length_m: NDArray[np.int32]
    road_class: NDArray[np.int8]
    rev_indptr: NDArray[np.int64]
    rev_indices: NDArray[np.int32]
    rev_edge: NDArray[np.int32]
    lat: NDArray[np.float64]
    lon: NDArray[np.float64]
    x_m: NDArray[np.float64]
    y_m: NDArray[np.float64]
    osm_id: NDArray[np.int64]
    name: str = "network"
    crs: str = ""
    road_classes: tuple[str, ...] = DEFAULT_ROAD_CLASSES
    #: OSM public-transport stops found in the source (may be empty).
    osm_stop_id: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    osm_stop_lat: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0, np.float64))
    osm_stop_lon: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0, np.float64))
    #: The street shape of each edge, as a CSR over edges (module docstring): ``num_edges + 1``
    #: offsets into ``geom_lat`` / ``geom_lon``, the interior points (end nodes excluded). Left
    #: empty, it is made all zeros (no edge has interior points).
    geom_indptr: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    geom_lat: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0, np.float64))
    geom_lon: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0, np.float64))
    #: Free-form provenance: source file, build options, counts before filtering, ...
    meta: dict[str, Any] = field(default_factory=dict)
    _memo: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        m = int(self.indices.shape[0])
        if self.geom_indptr.size == 0 and self.geom_lat.size == 0 and self.geom_lon.size == 0:
            object.__setattr__(self, "geom_indptr", np.zeros(m + 1, np.int64))
        ptr = self.geom_indptr
        if ptr.ndim != 1 or ptr.shape[0] != m + 1:
            raise InvalidArgumentError("geom_indptr", f"expected {m + 1} offsets (edges + 1), got shape {ptr.shape}")
        points = int(self.geom_lat.shape[0])
        if self.geom_lon.shape != (points,):
            raise InvalidArgumentError("geom_lon", f"expected {points} values (as geom_lat), got {self.geom_lon.shape}")
        if ptr[0] != 0 or ptr[-1] != points or (m and np.any(np.diff(ptr) < 0)):
            raise InvalidArgumentError(
                "geom_indptr", "offsets must rise from 0 to the number of interior points", f"0 .. {points}"
            )

    def memo(self, key: str, build: Callable[[], T]) -> T:
        """A value derived from this network (a spatial index, a projection), built by ``build``
        on first use and kept with the network (whose arrays do not change)."""
        if key not in self._memo:
            self._memo[key] = build()
        return cast(T, self._memo[key])

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_edges(
        cls,
        *,
        tail: ArrayLike,
        head: ArrayLike,
        travel_time_s: ArrayLike,
        length_m: ArrayLike,
        lat: ArrayLike,
        lon: ArrayLike,
        x_m: ArrayLike,
        y_m: ArrayLike,
        osm_id: ArrayLike | None = None,
        road_class: ArrayLike | None = None,
        road_classes: Sequence[str] = DEFAULT_ROAD_CLASSES,
        name: str = "network",
        crs: str = "",
        largest_component: bool = True,
        meta: dict[str, Any] | None = None,
        osm_stop_id: ArrayLike | None = None,
        osm_stop_lat: ArrayLike | None = None,
        osm_stop_lon: ArrayLike | None = None,
        geom_indptr: ArrayLike | None = None,
        geom_lat: ArrayLike | None = None,
        geom_lon: ArrayLike | None = None,
    ) -> RoadNetwork:
        """Build a network from an edge list and per-node coordinates.

        Travel times (s) and lengths (m) may be floats; they are rounded here, once
        (travel times to at least 1 s). Self-loops are dropped; of parallel edges the
        fastest is kept. With ``largest_component`` (the default) only the largest strongly
        connected component is kept and nodes are renumbered ``0 .. n-1`` in their original
        order.

        ``geom_indptr`` (one offset per given edge, plus one), ``geom_lat`` and ``geom_lon``
        give the edges' interior points (their street shape, tail to head, end nodes
        excluded) in the order of the given edges; each kept edge keeps its own. Without
        them no edge has interior points.
        """
        lat_a = _as_array(lat, np.float64, "lat")
        n = lat_a.shape[0]
        lon_a = _as_array(lon, np.float64, "lon", n)
        x_a = _as_array(x_m, np.float64, "x_m", n)
        y_a = _as_array(y_m, np.float64, "y_m", n)
        osm_a = np.arange(n, dtype=np.int64) if osm_id is None else _as_array(osm_id, np.int64, "osm_id", n)
        tail_a = _as_array(tail, np.int64, "tail")
        m = tail_a.shape[0]
        head_a = _as_array(head, np.int64, "head", m)
        if m and (min(tail_a.min(), head_a.min()) < 0 or max(tail_a.max(), head_a.max()) >= n):
            raise InvalidArgumentError("tail/head", "node index out of range", f"0 .. {n - 1}")
        # Times may be fractional here; a time in [0, 1) s becomes 1 s (zero-length OSM
        # segments exist), a negative or non-finite one is an error.
        time_f = np.asarray(travel_time_s, dtype=np.float64)
        if time_f.shape == (m,) and m and not (np.all(np.isfinite(time_f)) and time_f.min() >= 0):
            bad = int(np.flatnonzero(~np.isfinite(time_f) | (time_f < 0))[0])
            raise InvalidArgumentError(
                "travel_time_s", f"edge {bad} has travel time {plain_repr(time_f[bad])} s", ">= 0 s"
            )
        time_f = np.maximum(time_f, 1.0)
        time_a = _round_times(time_f, "travel_time_s", m)
        len_f = _as_array(length_m, np.float64, "length_m", m)
        if m and (not np.all(np.isfinite(len_f)) or len_f.min() < 0):
            raise InvalidArgumentError("length_m", "lengths must be finite and >= 0", ">= 0 m")
        len_a = np.rint(len_f).astype(WEIGHT_DTYPE)
        cls_a = (
            np.full(m, len(road_classes) - 1, np.int8)
            if road_class is None
            else _as_array(road_class, np.int8, "road_class", m)
        )
        if geom_indptr is None:
            if geom_lat is not None or geom_lon is not None:
                raise InvalidArgumentError("geom_indptr", "geom_lat and geom_lon need their offsets")
            g_ptr, g_lat, g_lon = np.zeros(m + 1, np.int64), np.zeros(0), np.zeros(0)
        else:
            g_ptr = _as_array(geom_indptr, np.int64, "geom_indptr", m + 1)
            g_lat = _as_array(np.zeros(0) if geom_lat is None else geom_lat, np.float64, "geom_lat")
            g_lon = _as_array(np.zeros(0) if geom_lon is None else geom_lon, np.float64, "geom_lon", g_lat.shape[0])
            if g_ptr[0] != 0 or g_ptr[-1] != g_lat.shape[0] or np.any(np.diff(g_ptr) < 0):
                raise InvalidArgumentError(
                    "geom_indptr", "offsets must rise from 0 to the number of interior points", f"0 .. {g_lat.shape[0]}"
                )
        eid = np.arange(m, dtype=np.int64)  # each kept edge's index among the given ones

        # Drop self-loops, keep the fastest of parallel edges.
        keep = tail_a != head_a
        tail_a, head_a, time_a, len_a, cls_a, eid = (
            tail_a[keep],
            head_a[keep],
            time_a[keep],
            len_a[keep],
            cls_a[keep],
            eid[keep],
        )
        order = np.lexsort((len_a, time_a, head_a, tail_a))
        tail_a, head_a, time_a, len_a, cls_a, eid = (
            tail_a[order],
            head_a[order],
            time_a[order],
            len_a[order],
            cls_a[order],
            eid[order],
        )
        if tail_a.size:
            first = np.ones(tail_a.size, dtype=bool)
            first[1:] = (tail_a[1:] != tail_a[:-1]) | (head_a[1:] != head_a[:-1])
            tail_a, head_a, time_a, len_a, cls_a, eid = (
                tail_a[first],
                head_a[first],
                time_a[first],
                len_a[first],
                cls_a[first],
                eid[first],
            )

        info = dict(meta or {})
        if largest_component and n:
            adj = sp.csr_matrix((np.ones(tail_a.size), (tail_a, head_a)), shape=(n, n))
            ncomp, labels = connected_components(adj, directed=True, connection="strong")
            if ncomp > 1:
                biggest = np.bincount(labels).argmax()
                node_keep = labels == biggest
                info.setdefault("nodes_before_scc", int(n))
                info.setdefault("edges_before_scc", int(tail_a.size))
                new_id = np.full(n, -1, np.int64)
                new_id[node_keep] = np.arange(int(node_keep.sum()))
                ekeep = node_keep[tail_a] & node_keep[head_a]
                tail_a, head_a = new_id[tail_a[ekeep]], new_id[head_a[ekeep]]
                time_a, len_a, cls_a, eid = time_a[ekeep], len_a[ekeep], cls_a[ekeep], eid[ekeep]
                lat_a, lon_a, x_a, y_a, osm_a = (
                    lat_a[node_keep],
                    lon_a[node_keep],
                    x_a[node_keep],
                    y_a[node_keep],
                    osm_a[node_keep],
                )
                n = int(node_keep.sum())

        if tail_a.size == 0:
            raise InvalidArgumentError("edges", "the network has no edges left after filtering")

        indptr = np.zeros(n + 1, np.int64)
        np.cumsum(np.bincount(tail_a, minlength=n), out=indptr[1:])
        rev_order = np.lexsort((tail_a, head_a)).astype(INDEX_DTYPE)
        rev_indptr = np.zeros(n + 1, np.int64)
        np.cumsum(np.bincount(head_a, minlength=n), out=rev_indptr[1:])

        def stops(values: ArrayLike | None, dtype: Any) -> NDArray[Any]:
            return np.zeros(0, dtype) if values is None else np.ascontiguousarray(values, dtype)

        # the edges are in CSR order already (sorted by tail, then head)
        shape_ptr, shape_lat, shape_lon = _take_shapes(g_ptr, g_lat, g_lon, eid)

        return cls(
            indptr=indptr,
            indices=head_a.astype(INDEX_DTYPE),
            travel_time_s=time_a.astype(WEIGHT_DTYPE),
            length_m=len_a.astype(WEIGHT_DTYPE),
            road_class=cls_a.astype(np.int8),
            rev_indptr=rev_indptr,
            rev_indices=tail_a[rev_order].astype(INDEX_DTYPE),
            rev_edge=rev_order,
            lat=lat_a,
            lon=lon_a,
            x_m=x_a,
            y_m=y_a,
            osm_id=osm_a,
            name=name,
            crs=crs,
            road_classes=tuple(road_classes),
            osm_stop_id=stops(osm_stop_id, np.int64),
            osm_stop_lat=stops(osm_stop_lat, np.float64),
            osm_stop_lon=stops(osm_stop_lon, np.float64),
            geom_indptr=shape_ptr,
            geom_lat=shape_lat,
            geom_lon=shape_lon,
            meta=info,
        )

    # ------------------------------------------------------------------ basic facts
    @property
    def num_nodes(self) -> int:
        return int(self.indptr.shape[0] - 1)

    @property
    def num_edges(self) -> int:
        return int(self.indices.shape[0])

    @property
    def tail(self) -> NDArray[np.int32]:
        """Tail node of every edge (derived from ``indptr``; memoised)."""
        t = self._memo.get("tail")
        if t is None:
            t = np.repeat(np.arange(self.num_nodes, dtype=INDEX_DTYPE), np.diff(self.indptr))
            self._memo["tail"] = t
        return t

    @property
    def has_lat_lon(self) -> bool:
        """False for benchmark graphs whose coordinates are not geographic."""
        return bool(self.crs) and bool(np.all(np.isfinite(self.lat)))

    def edge_id(self, u: int, v: int) -> int:
        """Id of the edge ``u -> v``, or -1 if there is none."""
        lo, hi = int(self.indptr[u]), int(self.indptr[u + 1])
        hits = np.flatnonzero(self.indices[lo:hi] == v)
        return int(lo + hits[0]) if hits.size else -1

    def edge_ids(self, tails: ArrayLike, heads: ArrayLike) -> NDArray[np.int64]:
        """Id of the edge ``tails[i] -> heads[i]`` for every ``i``, -1 where there is none.

        Vectorised over the pairs, each found by scanning its tail's CSR row; of parallel
        edges (which :meth:`from_edges` never keeps) the fastest, as the router would drive.
        """
        t = np.asarray(tails, np.int64).ravel()
        h = np.asarray(heads, np.int64).ravel()
        if t.shape != h.shape:
            raise InvalidArgumentError("heads", f"{h.size} heads for {t.size} tails")
        n = self.num_nodes
        for name, arr in (("tails", t), ("heads", h)):
            if arr.size and (arr.min() < 0 or arr.max() >= n):
                raise InvalidArgumentError(name, "node index out of range", f"0 .. {n - 1}")
        out = np.full(t.size, -1, np.int64)
        degree = (self.indptr[t + 1] - self.indptr[t]).astype(np.int64)
        cand = concat_ranges(self.indptr[t].astype(np.int64), degree)
        owner = np.repeat(np.arange(t.size, dtype=np.int64), degree)
        hit = self.indices[cand] == h[owner]
        cand, owner = cand[hit], owner[hit]
        if cand.size:
            order = np.lexsort((self.travel_time_s[cand], owner))  # the fastest first per pair
            cand, owner = cand[order], owner[order]
            first = np.ones(owner.size, bool)
            first[1:] = owner[1:] != owner[:-1]
            out[owner[first]] = cand[first]
        return out

    def street_edges(self) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
        """The streets as a map draws them: one edge per pair of joined nodes, in edge order,
        and whether each street is one-way. A two-way street (``u -> v`` and ``v -> u``) is its
        edge from the lower node ``u < v``; of parallel edges the first; a self-loop is none."""
        tail, head = self.tail.astype(np.int64), self.indices.astype(np.int64)
        lo, hi, backward = np.minimum(tail, head), np.maximum(tail, head), tail > head
        # by pair, the u < v direction first (stable: of parallel edges the lowest id first)
        order = np.lexsort((backward, hi, lo))
        order = order[tail[order] != head[order]]
        first = np.ones(order.size, bool)
        first[1:] = (lo[order][1:] != lo[order][:-1]) | (hi[order][1:] != hi[order][:-1])
        last = np.ones(order.size, bool)
        last[:-1] = first[1:]
        # two-way: the pair's first edge runs u -> v and its last v -> u
        two_way = ~backward[order[first]] & backward[order[last]]
        edges = order[first]
        by_id = np.argsort(edges)
        return edges[by_id], ~two_way[by_id]

    # ------------------------------------------------------------------ street shapes
    @property
    def num_shape_points(self) -> int:
        """Interior points kept over all edges (0 when every edge is drawn straight)."""
        return int(self.geom_lat.shape[0])

    def geom_xy(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """The interior points in the network's metric coordinates (projected into ``crs`` as
        the nodes' ``x_m``, ``y_m`` are, by :func:`project_to_crs`; memoised)."""
        if self.num_shape_points == 0:
            return np.zeros(0), np.zeros(0)
        if not self.has_lat_lon:
            raise InvalidArgumentError("network", f"{self.name!r} has edge shapes but no geographic coordinates")
        return self.memo("geom_xy", lambda: project_to_crs(self.geom_lat, self.geom_lon, self.crs))

    def edge_shape(self, u: int, v: int, *, xy: bool = False) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """The street of the edge ``u -> v`` (the fastest, if parallel): ``(lat, lon)`` of ``u``,
        its interior points and ``v``, in driving order; ``(x_m, y_m)`` with ``xy``.

        Raises:
            InvalidArgumentError: there is no edge ``u -> v``.
        """
        if self.edge_ids([u], [v])[0] < 0:
            raise InvalidArgumentError("v", f"no edge {u} -> {v}")
        return self.path_shape([u, v], xy=xy)

    def path_shape(
        self, nodes: ArrayLike, *, xy: bool = False, strict: bool = True
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """The street shape of a path: ``(lat, lon)`` of its nodes with the interior points of
        the edges between them; ``(x_m, y_m)`` with ``xy``. See :meth:`paths_shape`."""
        nodes_a = np.asarray(nodes, np.int64).ravel()
        a, b, _ = self.paths_shape(nodes_a, [nodes_a.size], xy=xy, strict=strict)
        return a, b

    def paths_shape(
        self, nodes: ArrayLike, lengths: ArrayLike, *, xy: bool = False, strict: bool = True
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
        """The street shapes of many paths at once (vectorised).

        ``nodes`` holds the paths one after the other, ``lengths[k]`` nodes for path ``k``.
        Between two consecutive nodes ``u``, ``v`` of a path come the interior points of the
        edge ``u -> v`` (found as :meth:`edge_ids` does); a repeated node (``u == v``) adds
        nothing. Returns ``(lat, lon, indptr)``: path ``k``'s points are ``indptr[k] ..
        indptr[k + 1] - 1``; ``(x_m, y_m, indptr)`` with ``xy``.

        Raises:
            InvalidArgumentError: two consecutive nodes of a path are not joined by an edge
                (with ``strict=False`` they are joined straight instead, as for a drawing).
        """
        nodes_a = np.asarray(nodes, np.int64).ravel()
        len_a = np.asarray(lengths, np.int64).ravel()
        if (len_a.size and len_a.min() < 0) or int(len_a.sum()) != nodes_a.size:
            raise InvalidArgumentError("lengths", f"must be >= 0 and add up to the {nodes_a.size} nodes")
        last = np.zeros(nodes_a.size, bool)
        ends = np.cumsum(len_a)[len_a > 0] - 1
        last[ends] = True
        j = np.flatnonzero(~last)  # node j is followed by node j + 1 of its path
        j = j[nodes_a[j] != nodes_a[j + 1]]
        edges = self.edge_ids(nodes_a[j], nodes_a[j + 1])
        if np.any(edges < 0):
            if strict:
                bad = int(j[np.flatnonzero(edges < 0)[0]])
                raise InvalidArgumentError("nodes", f"no edge {nodes_a[bad]} -> {nodes_a[bad + 1]} on a path")
            j, edges = j[edges >= 0], edges[edges >= 0]
        count = np.zeros(nodes_a.size, np.int64)
        count[j] = self.geom_indptr[edges + 1] - self.geom_indptr[edges]
        node_pos = np.arange(nodes_a.size, dtype=np.int64)
        node_pos[1:] += np.cumsum(count)[:-1]
        total = nodes_a.size + int(count.sum())
        inner_pos = concat_ranges(node_pos[j] + 1, count[j])
        inner_src = concat_ranges(self.geom_indptr[edges].astype(np.int64), count[j])
        if xy:
            node_a, node_b = self.x_m, self.y_m
            inner_a, inner_b = self.geom_xy()
        else:
            node_a, node_b = self.lat, self.lon
            inner_a, inner_b = self.geom_lat, self.geom_lon
        a = np.empty(total, np.float64)
        b = np.empty(total, np.float64)
        a[node_pos], b[node_pos] = node_a[nodes_a], node_b[nodes_a]
        a[inner_pos], b[inner_pos] = inner_a[inner_src], inner_b[inner_src]
        owner = np.repeat(np.arange(len_a.size), len_a)
        per_path = len_a + np.bincount(owner, weights=count, minlength=len_a.size).astype(np.int64)
        indptr = np.zeros(len_a.size + 1, np.int64)
        np.cumsum(per_path, out=indptr[1:])
        return a, b, indptr

    def edges_shape(
        self, edges: ArrayLike, *, xy: bool = False
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
        """The street shapes of the edges ``edges`` (ids), each from its tail to its head:
        ``(lat, lon, indptr)`` as :meth:`paths_shape` gives (``(x_m, y_m, indptr)`` with ``xy``)."""
        e = np.asarray(edges, np.int64).ravel()
        if e.size and (e.min() < 0 or e.max() >= self.num_edges):
            raise InvalidArgumentError("edges", "edge id out of range", f"0 .. {self.num_edges - 1}")
        nodes = np.column_stack([self.tail[e], self.indices[e]]).ravel()
        return self.paths_shape(nodes, np.full(e.size, 2, np.int64), xy=xy)

    def weights_fingerprint(self) -> str:
        """A short hash of topology and travel times; keys caches of derived structures."""
        fp = self._memo.get("fingerprint")
        if fp is None:
            h = hashlib.sha256()
            for arr in (self.indptr, self.indices, self.travel_time_s):
                h.update(np.ascontiguousarray(arr).tobytes())
            fp = h.hexdigest()[:24]
            self._memo["fingerprint"] = fp
        return fp

    def to_scipy(self, weight: str = "travel_time_s") -> sp.csr_matrix:
        """The network as a ``scipy.sparse.csr_matrix`` of ``travel_time_s`` or ``length_m``."""
        if weight not in ("travel_time_s", "length_m"):
            raise InvalidArgumentError("weight", f"unknown weight {weight!r}", "travel_time_s, length_m")
        data = getattr(self, weight).astype(np.float64)
        return sp.csr_matrix((data, self.indices, self.indptr), shape=(self.num_nodes, self.num_nodes))

    # ------------------------------------------------------------------ variants
    def with_travel_times(self, travel_time_s: ArrayLike) -> RoadNetwork:
        """A copy of this network with new per-edge travel times (same topology).

        ``travel_time_s`` holds one value per edge in edge-id order; values are rounded to
        whole seconds and must lie in ``1 .. MAX_EDGE_TIME_S``.
        """
        times = _round_times(travel_time_s, "travel_time_s", self.num_edges)
        # every other field (edge shapes included) is shared; the memo starts afresh
        return dataclasses.replace(self, travel_time_s=times, meta=dict(self.meta))

    # ------------------------------------------------------------------ summary
    def edges_of_class(self, classes: Iterable[str]) -> NDArray[np.bool_]:
        """Per edge, whether its road class is one of ``classes`` (names this network does not know match nothing)."""
        codes = [self.road_classes.index(c) for c in classes if c in self.road_classes]
        return np.isin(self.road_class, codes)

    def mean_speed_kph(self) -> float:
        """Mean free-flow speed over the edges, weighted by length (km/h; 0 without edges)."""
        if self.num_edges == 0:
            return 0.0
        speeds = self.length_m / np.maximum(self.travel_time_s, 1) * 3.6
        return float(np.average(speeds, weights=np.maximum(self.length_m, 1)))

    def summary(self) -> dict[str, Any]:
        """Counts and extents, for printing and for reports."""
        length_km = float(self.length_m.sum()) / 1000.0
        by_class: dict[str, float] = {}
        for code, km in enumerate(
            np.bincount(self.road_class.astype(np.int64), weights=self.length_m, minlength=len(self.road_classes))
        ):
            if km > 0:
                by_class[self.road_classes[code]] = round(float(km) / 1000.0, 2)
        out: dict[str, Any] = {
            "name": self.name,
            "nodes": self.num_nodes,
            "edges": self.num_edges,
            "road_km": round(length_km, 2),
            "road_km_by_class": by_class,
            "osm_stops": int(self.osm_stop_id.shape[0]),
            "crs": self.crs or "(not geographic)",
        }
        if self.has_lat_lon:
            out["bbox"] = {
                "south": round(float(self.lat.min()), 6),
                "west": round(float(self.lon.min()), 6),
                "north": round(float(self.lat.max()), 6),
                "east": round(float(self.lon.max()), 6),
            }
        out["mean_speed_kph"] = round(self.mean_speed_kph(), 1)
        for key in ("nodes_before_scc", "edges_before_scc"):
            if key in self.meta:
                out[key] = self.meta[key]
        return out

    # ------------------------------------------------------------------ persistence
    #: The fields saved as arrays, one per field (:meth:`save`, :meth:`load`).
    ARRAY_FIELDS = (
        "indptr",
        "indices",
        "travel_time_s",
        "length_m",
        "road_class",
        "rev_indptr",
        "rev_indices",
        "rev_edge",
        "lat",
        "lon",
        "x_m",
        "y_m",
        "osm_id",
        "osm_stop_id",
        "osm_stop_lat",
        "osm_stop_lon",
        "geom_indptr",
        "geom_lat",
        "geom_lon",
    )

    def save(self, path: str | Path) -> Path:
        """Write the network to an ``.npz`` file (uncompressed, fast to load)."""
        header = {"name": self.name, "crs": self.crs, "road_classes": list(self.road_classes), "meta": self.meta}
        arrays = {k: getattr(self, k) for k in self.ARRAY_FIELDS}
        return save_npz(path, header, arrays, format_version=_FORMAT_VERSION)

    @classmethod
    def load(cls, path: str | Path) -> RoadNetwork:
        """Read a network written by :meth:`save`."""
        header, arrays = load_npz(path, cls.ARRAY_FIELDS, format_version=_FORMAT_VERSION, what="network")
        return cls(
            **arrays,
            name=header["name"],
            crs=header["crs"],
            road_classes=tuple(header["road_classes"]),
            meta=header["meta"],
        )


def speed_warning(network: RoadNetwork) -> str | None:
    """One line for the user when the network's mean free-flow speed is implausible, else ``None``.

    Outside :data:`PLAUSIBLE_SPEED_KPH` the file's units (benchmark graphs: the coordinate and
    time units, which the ``.xy`` and ``.d`` files do not state) or its speeds (OSM: speeds by
    road class, ``maxspeed`` tags) are almost certainly misread; the line names the options
    that set them. The loaders (:func:`routing.load_network`, :func:`routing.read_manhattan`)
    log it as a warning.
    """
    lo, hi = PLAUSIBLE_SPEED_KPH
    speed = network.mean_speed_kph()
    if network.num_edges == 0 or lo <= speed <= hi:
        return None
    head = (
        f"network {network.name!r}: mean free-flow speed {speed:.1f} km/h is outside {lo:g} .. {hi:g} km/h, "
        "so distances, times, vehicle-km and fares will be wrong; "
    )
    meta = network.meta
    if meta.get("format") == "xy+d":
        return head + (
            f"the .xy/.d files do not state their units (read with coord_unit_m = {meta.get('coord_unit_m'):.10g} m "
            f"per coordinate unit, time_unit_s = {meta.get('time_unit_s'):.10g} s per time unit): set coord_unit_m "
            "and time_unit_s (the [network] table of a scenario, or --coord-unit-m and --time-unit-s of "
            "`mobility network build`)"
        )
    return head + (
        "check the speeds it was built with: speeds_kph and max_speed_kph (BuildOptions, or the [network] "
        "table of `mobility network build --options`), or use_maxspeed = false if the file's maxspeed tags "
        "are wrong"
    )


def warn_if_implausible(network: RoadNetwork) -> None:
    """Log :func:`speed_warning` (logger ``routing.network``, level WARNING) when there is one."""
    message = speed_warning(network)
    if message is not None:
        log.warning("%s", message)
