"""Dijkstra's algorithm as Numba kernels over the CSR arrays of a :class:`RoadNetwork`.

Public functions validate their arguments and call private ``@njit`` kernels that take
only arrays and scalars. Distances are integer seconds (``int64``); a node that cannot be
reached gets :data:`routing.config.UNREACHABLE`.

* :func:`dijkstra_one_to_all` — all distances from one source (and the tree);
* :func:`dijkstra_one_to_one` — one pair, stopping when the target is settled;
* :func:`dijkstra_one_to_many` — several targets, stopping when all are settled;
* :func:`bidirectional_dijkstra` — one pair, searching from both ends;
* :func:`dijkstra_within` — every node within a time of one node (forward or reverse).

These are the exact baselines that the contraction hierarchy is tested and benchmarked
against; dispatch code uses :class:`routing.Router`.
"""

from __future__ import annotations

import numpy as np
from numba import prange
from numpy.typing import ArrayLike, NDArray

from ._heap import heap_pop, heap_push
from .config import INF, UNREACHABLE, kernel, parallel_kernel
from .errors import InvalidArgumentError, plain_repr
from .network import RoadNetwork


# ---------------------------------------------------------------------------- kernels
@kernel
def _dijkstra(indptr, indices, weights, source, target_mark, num_targets, dist, pred_edge):
    """Plain Dijkstra from ``source``; fills ``dist`` and ``pred_edge`` (edge id into each node).

    ``dist`` must be all ``INF`` on entry. If ``num_targets > 0`` the search stops once that
    many nodes with ``target_mark[node] != 0`` are settled. Returns the touched nodes.
    """
    n = indptr.shape[0] - 1
    keys = np.empty(n, np.int64)
    items = np.empty(n, np.int32)
    pos = np.full(n, -1, np.int32)
    touched = np.empty(n, np.int32)
    ntouched = 0
    size = 0
    dist[source] = 0
    pred_edge[source] = -1
    touched[ntouched] = source
    ntouched += 1
    size = heap_push(keys, items, pos, size, source, 0)
    remaining = num_targets
    while size > 0:
        u, d, size = heap_pop(keys, items, pos, size)
        if remaining > 0 and target_mark[u] != 0:
            remaining -= 1
            if remaining == 0:
                break
        for e in range(indptr[u], indptr[u + 1]):
            v = indices[e]
            nd = d + weights[e]
            if nd < dist[v]:
                if dist[v] == INF:
                    touched[ntouched] = v
                    ntouched += 1
                dist[v] = nd
                pred_edge[v] = e
                size = heap_push(keys, items, pos, size, v, nd)
    return touched[:ntouched]


@kernel
def _one_to_all(indptr, indices, weights, source):
    n = indptr.shape[0] - 1
    dist = np.full(n, INF, np.int64)
    pred = np.full(n, -1, np.int32)
    mark = np.zeros(1, np.uint8)
    _dijkstra(indptr, indices, weights, source, mark, 0, dist, pred)
    for i in range(n):
        if dist[i] >= INF:
            dist[i] = UNREACHABLE
    return dist, pred


@kernel
def _one_to_many(indptr, indices, weights, source, targets):
    n = indptr.shape[0] - 1
    dist = np.full(n, INF, np.int64)
    pred = np.full(n, -1, np.int32)
    mark = np.zeros(n, np.uint8)
    count = 0
    for t in targets:
        if mark[t] == 0:
            mark[t] = 1
            count += 1
    _dijkstra(indptr, indices, weights, source, mark, count, dist, pred)
    out = np.empty(targets.shape[0], np.int64)
    for i in range(targets.shape[0]):
        d = dist[targets[i]]
        out[i] = UNREACHABLE if d >= INF else d
    return out, pred


@kernel
def _within(indptr, heads, weight_of, weights, source, max_s):
    """Nodes within ``max_s`` of ``source`` (and their times), in the order they are settled.

    The adjacency is ``indptr``/``heads``; slot ``e``'s weight is ``weights[weight_of[e]]``,
    or ``weights[e]`` when ``weight_of`` is empty (the forward graph).
    """
    n = indptr.shape[0] - 1
    dist = np.full(n, INF, np.int64)
    keys = np.empty(n, np.int64)
    items = np.empty(n, np.int32)
    pos = np.full(n, -1, np.int32)
    out_nodes = np.empty(n, np.int64)
    out_dist = np.empty(n, np.int64)
    count = 0
    size = 0
    mapped = weight_of.shape[0] > 0
    dist[source] = 0
    size = heap_push(keys, items, pos, size, source, 0)
    while size > 0:
        u, d, size = heap_pop(keys, items, pos, size)
        out_nodes[count] = u
        out_dist[count] = d
        count += 1
        for e in range(indptr[u], indptr[u + 1]):
            w = weights[weight_of[e]] if mapped else weights[e]
            nd = d + w
            v = heads[e]
            if nd <= max_s and nd < dist[v]:
                dist[v] = nd
                size = heap_push(keys, items, pos, size, v, nd)
    return out_nodes[:count], out_dist[:count]


@parallel_kernel
def _many_one_to_many(indptr, indices, weights, sources, targets):
    """Distance matrix by one Dijkstra per source (parallel over sources)."""
    ns = sources.shape[0]
    out = np.empty((ns, targets.shape[0]), np.int64)
    for i in prange(ns):
        row, _pred = _one_to_many(indptr, indices, weights, sources[i], targets)
        out[i, :] = row
    return out


@kernel
def _bidirectional(
    indptr,
    indices,
    weights,
    rev_indptr,
    rev_indices,
    rev_edge,
    s,
    t,
    dist_f,
    dist_b,
    pos_f,
    pos_b,
    keys_f,
    items_f,
    keys_b,
    items_b,
    touched_f,
    touched_b,
):
    """Bidirectional Dijkstra; workspace arrays are restored to their initial state on exit.

    Returns the distance (``INF`` if none).
    """
    if s == t:
        return 0
    nf = 0
    nb = 0
    size_f = 0
    size_b = 0
    dist_f[s] = 0
    touched_f[nf] = s
    nf += 1
    dist_b[t] = 0
    touched_b[nb] = t
    nb += 1
    size_f = heap_push(keys_f, items_f, pos_f, size_f, s, 0)
    size_b = heap_push(keys_b, items_b, pos_b, size_b, t, 0)
    best = INF
    while size_f > 0 and size_b > 0:
        if keys_f[0] + keys_b[0] >= best:
            break
        if keys_f[0] <= keys_b[0]:
            u, d, size_f = heap_pop(keys_f, items_f, pos_f, size_f)
            for e in range(indptr[u], indptr[u + 1]):
                v = indices[e]
                nd = d + weights[e]
                if nd < dist_f[v]:
                    if dist_f[v] == INF:
                        touched_f[nf] = v
                        nf += 1
                    dist_f[v] = nd
                    size_f = heap_push(keys_f, items_f, pos_f, size_f, v, nd)
                if dist_b[v] < INF and nd + dist_b[v] < best:
                    best = nd + dist_b[v]
        else:
            u, d, size_b = heap_pop(keys_b, items_b, pos_b, size_b)
            for k in range(rev_indptr[u], rev_indptr[u + 1]):
                v = rev_indices[k]
                nd = d + weights[rev_edge[k]]
                if nd < dist_b[v]:
                    if dist_b[v] == INF:
                        touched_b[nb] = v
                        nb += 1
                    dist_b[v] = nd
                    size_b = heap_push(keys_b, items_b, pos_b, size_b, v, nd)
                if dist_f[v] < INF and nd + dist_f[v] < best:
                    best = nd + dist_f[v]
    for i in range(nf):
        dist_f[touched_f[i]] = INF
        pos_f[touched_f[i]] = -1
    for i in range(nb):
        dist_b[touched_b[i]] = INF
        pos_b[touched_b[i]] = -1
    return best


@kernel
def _bidirectional_batch(indptr, indices, weights, rev_indptr, rev_indices, rev_edge, sources, targets):
    n = indptr.shape[0] - 1
    dist_f = np.full(n, INF, np.int64)
    dist_b = np.full(n, INF, np.int64)
    pos_f = np.full(n, -1, np.int32)
    pos_b = np.full(n, -1, np.int32)
    keys_f = np.empty(n, np.int64)
    keys_b = np.empty(n, np.int64)
    items_f = np.empty(n, np.int32)
    items_b = np.empty(n, np.int32)
    touched_f = np.empty(n, np.int32)
    touched_b = np.empty(n, np.int32)
    out = np.empty(sources.shape[0], np.int64)
    for i in range(sources.shape[0]):
        d = _bidirectional(
            indptr,
            indices,
            weights,
            rev_indptr,
            rev_indices,
            rev_edge,
            sources[i],
            targets[i],
            dist_f,
            dist_b,
            pos_f,
            pos_b,
            keys_f,
            items_f,
            keys_b,
            items_b,
            touched_f,
            touched_b,
        )
        out[i] = UNREACHABLE if d >= INF else d
    return out


# ---------------------------------------------------------------------------- public API
def _node_array(values: ArrayLike, n: int, field: str) -> NDArray[np.int64]:
    arr = np.atleast_1d(np.asarray(values))
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise InvalidArgumentError(field, f"node ids must be integers, got dtype {arr.dtype}", f"integers 0 .. {n - 1}")
    arr = arr.astype(np.int64).ravel()
    if arr.size and (arr.min() < 0 or arr.max() >= n):
        bad = int(arr[(arr < 0) | (arr >= n)][0])
        raise InvalidArgumentError(field, f"node id {bad} is not in the network", f"0 .. {n - 1}")
    return arr


def check_node(value: object, n: int, field: str) -> int:
    """Validate one node id and return it as ``int``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise InvalidArgumentError(
            field, f"node id must be an integer, got {plain_repr(value)}", f"integers 0 .. {n - 1}"
        )
    if not 0 <= int(value) < n:
        raise InvalidArgumentError(field, f"node id {int(value)} is not in the network", f"0 .. {n - 1}")
    return int(value)


def node_array(values: ArrayLike, n: int, field: str) -> NDArray[np.int64]:
    """Validate an array of node ids (any shape) and return it flattened as ``int64``."""
    return _node_array(values, n, field)


def dijkstra_one_to_all(network: RoadNetwork, source: int) -> tuple[NDArray[np.int64], NDArray[np.int32]]:
    """Travel times (s) from ``source`` to every node, and the predecessor edge of each node.

    Unreachable nodes get ``UNREACHABLE`` and predecessor -1; the source's predecessor is -1.
    """
    s = check_node(source, network.num_nodes, "source")
    dist, pred = _one_to_all(network.indptr, network.indices, network.travel_time_s, s)
    return dist, pred


def dijkstra_one_to_many(network: RoadNetwork, source: int, targets: ArrayLike) -> NDArray[np.int64]:
    """Travel times (s) from ``source`` to each of ``targets`` (stops when all are settled)."""
    s = check_node(source, network.num_nodes, "source")
    tg = _node_array(targets, network.num_nodes, "targets")
    out, _ = _one_to_many(network.indptr, network.indices, network.travel_time_s, s, tg)
    return out


def dijkstra_within(
    network: RoadNetwork, node: int, max_s: int, *, reverse: bool = False
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Every node within ``max_s`` seconds of ``node`` and its time, nearest first.

    Forward (default): the nodes ``node`` can reach in time; ``reverse=True``: the nodes that
    can reach ``node`` in time (e.g. the taxis that can get to a pickup within the maximum
    wait). The search is bounded by ``max_s``, not by the network's size.
    """
    s = check_node(node, network.num_nodes, "node")
    if isinstance(max_s, bool) or not isinstance(max_s, int | np.integer) or max_s < 0:
        raise InvalidArgumentError("max_s", f"got {plain_repr(max_s)}", "an integer >= 0 (seconds)")
    if reverse:
        return _within(network.rev_indptr, network.rev_indices, network.rev_edge, network.travel_time_s, s, int(max_s))
    none = np.zeros(0, np.int32)
    return _within(network.indptr, network.indices, none, network.travel_time_s, s, int(max_s))


def dijkstra_one_to_one(network: RoadNetwork, source: int, target: int) -> int:
    """Travel time (s) from ``source`` to ``target`` (search stops at the target)."""
    t = check_node(target, network.num_nodes, "target")
    return int(dijkstra_one_to_many(network, source, np.array([t]))[0])


def dijkstra_matrix(network: RoadNetwork, sources: ArrayLike, targets: ArrayLike) -> NDArray[np.int64]:
    """Travel-time matrix by one Dijkstra per source, in parallel (an exact baseline)."""
    src = _node_array(sources, network.num_nodes, "sources")
    tg = _node_array(targets, network.num_nodes, "targets")
    return _many_one_to_many(network.indptr, network.indices, network.travel_time_s, src, tg)


def bidirectional_dijkstra(network: RoadNetwork, sources: ArrayLike, targets: ArrayLike) -> NDArray[np.int64]:
    """Travel times (s) for the pairs ``(sources[i], targets[i])`` by bidirectional Dijkstra."""
    src = _node_array(sources, network.num_nodes, "sources")
    tg = _node_array(targets, network.num_nodes, "targets")
    if src.shape != tg.shape:
        raise InvalidArgumentError("targets", f"expected {src.size} targets to pair with the sources, got {tg.size}")
    return _bidirectional_batch(
        network.indptr,
        network.indices,
        network.travel_time_s,
        network.rev_indptr,
        network.rev_indices,
        network.rev_edge,
        src,
        tg,
    )


def path_from_predecessors(pred_edge: NDArray[np.int32], tail: NDArray[np.int32], target: int) -> NDArray[np.int32]:
    """Edge ids of the tree path ending at ``target`` (empty if it is the root)."""
    edges = []
    v = target
    while pred_edge[v] >= 0:
        e = int(pred_edge[v])
        edges.append(e)
        v = int(tail[e])
    return np.array(edges[::-1], dtype=np.int32)


class BidirectionalDijkstra:
    """One-to-one bidirectional Dijkstra with reusable buffers (a baseline for benchmarks).

    Not thread-safe: use one instance per thread.
    """

    def __init__(self, network: RoadNetwork) -> None:
        n = network.num_nodes
        self.network = network
        self._dist = np.full((2, n), INF, np.int64)
        self._keys = np.empty((2, n), np.int64)
        self._i32 = np.empty((6, n), np.int32)
        self._i32[0:2, :] = -1

    def travel_time(self, source: int, target: int) -> int:
        net = self.network
        s = check_node(source, net.num_nodes, "source")
        t = check_node(target, net.num_nodes, "target")
        i32 = self._i32
        d = _bidirectional(
            net.indptr,
            net.indices,
            net.travel_time_s,
            net.rev_indptr,
            net.rev_indices,
            net.rev_edge,
            s,
            t,
            self._dist[0],
            self._dist[1],
            i32[0],
            i32[1],
            self._keys[0],
            i32[2],
            self._keys[1],
            i32[3],
            i32[4],
            i32[5],
        )
        return UNREACHABLE if d >= INF else int(d)
