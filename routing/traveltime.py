"""Travel times between road-network nodes without an all-pairs matrix.

A dispatcher on a city-wide network cannot hold a node-by-node (or even stop-by-stop) matrix:
on 100,000 nodes it would take 40 GB. It asks for what it needs instead:

* :meth:`TravelTimes.pair` — one pair, from a bounded cache or one hierarchy query;
* :meth:`TravelTimes.pairs` — element-wise pairs, the misses answered by one batched query;
* :meth:`TravelTimes.block` — a ``len(sources) x len(targets)`` block (many-to-many by the
  bucket method), for the blocks a batch of requests needs (vehicles x request ends, ...);
* :meth:`TravelTimes.within` — every node within a time of one node, forward or reverse
  (which taxis can reach a pickup within the maximum wait), by a bounded search.

Two implementations: :class:`HierarchyTimes` over a :class:`~routing.router.Router` (any
network; memory bounded by ``cache_pairs``), and :class:`MatrixTimes` over a dense matrix the
caller already has (small benchmark graphs and tests; it checks the shape). Times are integer
seconds; :data:`~routing.config.UNREACHABLE` marks a pair without a path.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .dijkstra import dijkstra_within, node_array
from .errors import InvalidArgumentError
from .router import Router

__all__ = ["HierarchyTimes", "MatrixTimes", "TravelTimes"]


@runtime_checkable
class TravelTimes(Protocol):
    """Travel times (integer seconds) between node ids of one road network."""

    @property
    def num_nodes(self) -> int:
        """Nodes of the network (ids are ``0 .. num_nodes - 1``)."""
        ...

    def pair(self, source: int, target: int) -> int:
        """Travel time from ``source`` to ``target``."""
        ...

    def pairs(self, sources: ArrayLike, targets: ArrayLike) -> NDArray[np.int64]:
        """Element-wise travel times of equally long arrays of sources and targets."""
        ...

    def block(self, sources: ArrayLike, targets: ArrayLike) -> NDArray[np.int64]:
        """The ``len(sources) x len(targets)`` travel-time block."""
        ...

    def within(self, node: int, max_s: int, *, reverse: bool = False) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """The nodes ``node`` reaches within ``max_s`` (``reverse``: that reach it), and their times."""
        ...


def _pair_arrays(sources: ArrayLike, targets: ArrayLike, n: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    src = node_array(sources, n, "sources")
    dst = node_array(targets, n, "targets")
    if src.shape != dst.shape:
        raise InvalidArgumentError("targets", f"{dst.size} targets for {src.size} sources", "as many as sources")
    return src, dst


class MatrixTimes:
    """Travel times read from a dense ``n x n`` matrix (for graphs small enough to hold one)."""

    def __init__(self, matrix: ArrayLike) -> None:
        m = np.asarray(matrix)
        if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] == 0:
            raise InvalidArgumentError("matrix", f"shape {m.shape}", "a square n x n matrix, n >= 1")
        if not np.issubdtype(m.dtype, np.integer):
            if not np.all(np.isfinite(m)):
                raise InvalidArgumentError("matrix", "has NaN or infinite entries", "finite seconds")
            m = np.rint(m)
        if m.size and int(m.min()) < 0:
            raise InvalidArgumentError("matrix", f"has a negative entry ({int(m.min())})", ">= 0 s")
        self.matrix = np.ascontiguousarray(m, np.int64)

    @property
    def num_nodes(self) -> int:
        return int(self.matrix.shape[0])

    def pair(self, source: int, target: int) -> int:
        s, t = _pair_arrays([source], [target], self.num_nodes)
        return int(self.matrix[s[0], t[0]])

    def pairs(self, sources: ArrayLike, targets: ArrayLike) -> NDArray[np.int64]:
        s, t = _pair_arrays(sources, targets, self.num_nodes)
        return self.matrix[s, t]

    def block(self, sources: ArrayLike, targets: ArrayLike) -> NDArray[np.int64]:
        s = node_array(sources, self.num_nodes, "sources")
        t = node_array(targets, self.num_nodes, "targets")
        return self.matrix[np.ix_(s, t)]

    def within(self, node: int, max_s: int, *, reverse: bool = False) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        s = node_array([node], self.num_nodes, "node")[0]
        line = self.matrix[:, s] if reverse else self.matrix[s]
        nodes = np.flatnonzero(line <= max_s).astype(np.int64)
        order = np.argsort(line[nodes], kind="stable")
        return nodes[order], line[nodes][order]


class HierarchyTimes:
    """Travel times by contraction-hierarchy queries, with a bounded cache of pairs.

    Args:
        router: the :class:`~routing.router.Router` of the network.
        cache_pairs: how many pairs the least-recently-used cache keeps (>= 0; 0 turns it
            off). Each entry costs about 100 bytes, so the default 200,000 stays near 20 MB
            whatever the network's size.

    ``hits`` and ``misses`` count the cache's answers to :meth:`pair` and :meth:`pairs`;
    :meth:`block` always queries (its blocks are the batch's own and rarely repeat).
    """

    def __init__(self, router: Router, *, cache_pairs: int = 200_000) -> None:
        if isinstance(cache_pairs, bool) or not isinstance(cache_pairs, int | np.integer) or cache_pairs < 0:
            raise InvalidArgumentError("cache_pairs", f"got {cache_pairs!r}", "an integer >= 0")
        self.router = router
        self.cache_pairs = int(cache_pairs)
        self._cache: OrderedDict[tuple[int, int], int] = OrderedDict()
        self.hits = 0
        self.misses = 0

    @property
    def num_nodes(self) -> int:
        return self.router.network.num_nodes

    def cached(self) -> int:
        """Pairs held in the cache now (at most ``cache_pairs``)."""
        return len(self._cache)

    def _remember(self, key: tuple[int, int], value: int) -> None:
        if self.cache_pairs == 0:
            return
        self._cache[key] = value
        if len(self._cache) > self.cache_pairs:
            self._cache.popitem(last=False)

    def pair(self, source: int, target: int) -> int:
        s, t = _pair_arrays([source], [target], self.num_nodes)
        key = (int(s[0]), int(t[0]))
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            self.hits += 1
            return hit
        self.misses += 1
        value = int(self.router.travel_time(key[0], key[1]))
        self._remember(key, value)
        return value

    def pairs(self, sources: ArrayLike, targets: ArrayLike) -> NDArray[np.int64]:
        s, t = _pair_arrays(sources, targets, self.num_nodes)
        out = np.empty(s.size, np.int64)
        missing: list[int] = []
        for i, key in enumerate(zip(s.tolist(), t.tolist(), strict=True)):
            hit = self._cache.get(key)
            if hit is None:
                missing.append(i)
            else:
                self._cache.move_to_end(key)
                out[i] = hit
        self.hits += s.size - len(missing)
        self.misses += len(missing)
        if missing:
            idx = np.asarray(missing, np.int64)
            got = np.asarray(self.router.travel_time(s[idx], t[idx]), np.int64)
            out[idx] = got
            for i, value in zip(missing, got.tolist(), strict=True):
                self._remember((int(s[i]), int(t[i])), value)
        return out

    def block(self, sources: ArrayLike, targets: ArrayLike) -> NDArray[np.int64]:
        return np.asarray(self.router.matrix(sources, targets), np.int64)

    def within(self, node: int, max_s: int, *, reverse: bool = False) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """A bounded Dijkstra search on the network (cost grows with the area in reach, not the city)."""
        return dijkstra_within(self.router.network, node, max_s, reverse=reverse)
