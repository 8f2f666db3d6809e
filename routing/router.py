"""The shortest-path API used by the rest of the engine.

>>> router = Router.from_network(network)          # builds or loads the cached CH
>>> router.travel_time(12, 345)                    # int seconds
>>> router.travel_time(sources, targets)           # element-wise, arrays broadcast
>>> router.matrix(sources, targets)                # len(sources) x len(targets)
>>> router.path(12, 345)                           # ShortestPath(nodes, edges, travel_time_s, length_m)
>>> router2 = router.with_travel_times(new_times)  # same roads, new edge times

All times are integer seconds; a pair with no path gets :data:`UNREACHABLE`. Queries may
run from several threads at once (each thread has its own buffers).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .cache import default_cache_dir
from .ch import ContractionHierarchy, QueryWorkspace
from .config import UNREACHABLE
from .dijkstra import check_node, node_array
from .errors import InvalidArgumentError, NetworkFileError, RoutingError
from .network import RoadNetwork

log = logging.getLogger(__name__)

__all__ = ["UNREACHABLE", "NoPathError", "Router", "ShortestPath", "warm_up"]


class NoPathError(RoutingError):
    """There is no path between two nodes (only possible on networks that are not strongly connected)."""

    def __init__(self, source: int, target: int) -> None:
        self.source = source
        self.target = target
        super().__init__(f"no path from node {source} to node {target}")


@dataclass(frozen=True)
class ShortestPath:
    """A shortest path: ``nodes[0] = source``, ``nodes[-1] = target``, ``edges[i]`` joins
    ``nodes[i]`` and ``nodes[i + 1]``; times and lengths are the sums over ``edges``."""

    nodes: NDArray[np.int32]
    edges: NDArray[np.int32]
    travel_time_s: int
    length_m: int


class Router:
    """Exact travel times and paths over a :class:`RoadNetwork`, by contraction hierarchy."""

    def __init__(
        self, network: RoadNetwork, ch: ContractionHierarchy | None = None, *, witness_settle_limit: int = 500
    ) -> None:
        if ch is None:
            ch = ContractionHierarchy.build(network, witness_settle_limit=witness_settle_limit)
        elif ch.fingerprint != network.weights_fingerprint():
            raise InvalidArgumentError("ch", "the contraction hierarchy was built for other travel times or roads")
        self.network = network
        self.ch = ch
        self._local = threading.local()
        self._arc_totals: dict[str, NDArray[np.int64]] = {}  # see _per_arc

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_network(
        cls,
        network: RoadNetwork,
        *,
        cache: bool = True,
        cache_dir: str | Path | None = None,
        witness_settle_limit: int = 500,
    ) -> Router:
        """A router for ``network``; the hierarchy is read from or written to the disk cache.

        The cache file sits next to the network's own cache file when it has one, and is
        keyed by the network's roads and travel times.
        """
        if not cache:
            return cls(network, witness_settle_limit=witness_settle_limit)
        path = ch_cache_path(network, cache_dir=cache_dir, witness_settle_limit=witness_settle_limit)
        if path.exists():
            try:
                ch = ContractionHierarchy.load(path)
                if ch.fingerprint == network.weights_fingerprint():
                    ch.meta["cache_path"] = str(path)
                    ch.meta["from_cache"] = True
                    return cls(network, ch)
            except NetworkFileError as exc:
                log.warning("ignoring unreadable CH cache %s: %s", path, exc)
        router = cls(network, witness_settle_limit=witness_settle_limit)
        router.ch.save(path)
        router.ch.meta["cache_path"] = str(path)
        router.ch.meta["from_cache"] = False
        return router

    def with_travel_times(self, travel_time_s: ArrayLike) -> Router:
        """A router over the same roads with new per-edge travel times (seconds, edge order).

        The hierarchy is re-contracted in its existing node order, which is exact for any
        times and faster than building from scratch; ``ch.meta['build_s']`` says how long it took.
        """
        network = self.network.with_travel_times(travel_time_s)
        return Router(network, self.ch.with_travel_times(network))

    # ------------------------------------------------------------------ queries
    def _ws(self) -> QueryWorkspace:
        ws: QueryWorkspace | None = getattr(self._local, "ws", None)
        if ws is None:
            ws = self.ch.new_workspace()
            self._local.ws = ws
        return ws

    def travel_time(self, source: ArrayLike, target: ArrayLike) -> int | NDArray[np.int64]:
        """Travel time (s) from ``source`` to ``target``.

        Two node ids give an ``int``; arrays (broadcast against each other) give an array of
        that shape, computed in parallel.
        """
        n = self.network.num_nodes
        if np.ndim(source) == 0 and np.ndim(target) == 0:
            s = check_node(_scalar(source), n, "source")
            t = check_node(_scalar(target), n, "target")
            return self.ch.distance(s, t, self._ws())
        try:
            src_b, dst_b = np.broadcast_arrays(np.asarray(source), np.asarray(target))
        except ValueError as exc:
            raise InvalidArgumentError(
                "target", f"cannot pair shapes {np.shape(source)} and {np.shape(target)}"
            ) from exc
        shape = src_b.shape
        src = node_array(src_b, n, "source")
        dst = node_array(dst_b, n, "target")
        if src.size == 0:
            return np.zeros(shape, np.int64)
        return self.ch.distances(src, dst).reshape(shape)

    def matrix(self, sources: ArrayLike, targets: ArrayLike) -> NDArray[np.int64]:
        """Travel-time matrix (s), ``len(sources) x len(targets)``, by the bucket method."""
        n = self.network.num_nodes
        src = node_array(sources, n, "sources")
        dst = node_array(targets, n, "targets")
        if src.size == 0 or dst.size == 0:
            return np.zeros((src.size, dst.size), np.int64)
        return self.ch.matrix(src, dst)

    def _endpoints(self, source: int, target: int) -> tuple[int, int]:
        n = self.network.num_nodes
        return check_node(source, n, "source"), check_node(target, n, "target")

    def _per_arc(self, what: str) -> NDArray[np.int64]:
        """Per arc of the hierarchy, its total over the original edges it stands for of their
        ``"length_m"`` or of one (``"edges"``); computed on first use (two threads may both
        compute it: the same result)."""
        totals = self._arc_totals.get(what)
        if totals is None:
            net = self.network
            per_edge = net.length_m if what == "length_m" else np.ones(net.num_edges, np.int64)
            totals = self._arc_totals[what] = self.ch.arc_totals(per_edge)
        return totals

    def path_length_m(self, source: int, target: int) -> int:
        """The length (m, whole metres) of the shortest path from ``source`` to ``target``: the
        ``length_m`` of :meth:`path`, summed over the hierarchy's arcs instead of the path's edges
        (a fare's distance, quoted thousands of times a second); the same number, as lengths are
        whole metres.

        Raises:
            NoPathError: if ``target`` cannot be reached from ``source``.
        """
        s, t = self._endpoints(source, target)
        dist, length = self.ch.path_length(s, t, self._ws(), self._per_arc("length_m"))
        if dist >= UNREACHABLE:
            raise NoPathError(s, t)
        return length

    def path(self, source: int, target: int) -> ShortestPath:
        """The shortest path from ``source`` to ``target`` as nodes and edges.

        Raises:
            NoPathError: if ``target`` cannot be reached from ``source``.
        """
        s, t = self._endpoints(source, target)
        dist, edges = self.ch.path_edges(s, t, self._ws(), self._per_arc("edges"))
        if dist >= UNREACHABLE:
            raise NoPathError(s, t)
        nodes = np.empty(edges.size + 1, np.int32)
        nodes[0] = s
        if edges.size:
            nodes[1:] = self.network.indices[edges]
        return ShortestPath(
            nodes=nodes, edges=edges, travel_time_s=int(dist), length_m=int(self.network.length_m[edges].sum())
        )


def _scalar(value: ArrayLike) -> object:
    return value.item() if isinstance(value, np.ndarray | np.generic) else value


def ch_cache_path(
    network: RoadNetwork, *, cache_dir: str | Path | None = None, witness_settle_limit: int = 500
) -> Path:
    """Cache file of the hierarchy of ``network`` (next to the network's cache file if any)."""
    if cache_dir is not None:
        folder = Path(cache_dir) / "networks"
    elif "cache_path" in network.meta:
        folder = Path(network.meta["cache_path"]).parent
    else:
        folder = default_cache_dir() / "networks"
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in network.name)[:40]
    return folder / f"{safe}-{network.weights_fingerprint()}-ch{witness_settle_limit}.npz"


def warm_up() -> float:
    """Compile (or load from Numba's cache) every routing kernel; returns the seconds taken."""
    from .dijkstra import bidirectional_dijkstra, dijkstra_matrix, dijkstra_one_to_all, dijkstra_one_to_many
    from .synthetic import synthetic_city

    t0 = time.perf_counter()
    net = synthetic_city(64, seed=1)
    router = Router(net)
    router.travel_time(0, net.num_nodes - 1)
    router.travel_time(np.array([0, 1]), np.array([2, 3]))
    router.matrix([0, 1], [2, 3])
    router.path(0, net.num_nodes - 1)
    router.with_travel_times(net.travel_time_s + 1)
    dijkstra_one_to_all(net, 0)
    dijkstra_one_to_many(net, 0, [1, 2])
    dijkstra_matrix(net, [0], [1])
    bidirectional_dijkstra(net, [0], [1])
    return time.perf_counter() - t0
