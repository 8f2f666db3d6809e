"""Slow, obviously correct reference implementations (plain Python, no Numba, no scipy).

They are the oracles the fast code is checked against, so they favour clarity over speed:
use them on small graphs or for a handful of sources only.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Sequence

import numpy as np

from routing import UNREACHABLE, RoadNetwork

#: Distance of a node not reached yet; far above any real path length.
_NOT_REACHED = 1 << 62


def _heap_dijkstra(num_nodes: int, out_edges: Sequence[Sequence[tuple[int, int]]], source: int) -> list[int]:
    """Textbook Dijkstra with a lazy-deletion heap; ``out_edges[u]`` lists ``(head, weight)``."""
    dist = [_NOT_REACHED] * num_nodes
    dist[source] = 0
    queue = [(0, source)]
    done = [False] * num_nodes
    while queue:
        d, u = heapq.heappop(queue)
        if done[u]:
            continue
        done[u] = True
        for v, w in out_edges[u]:
            if d + w < dist[v]:
                dist[v] = d + w
                heapq.heappush(queue, (d + w, v))
    return dist


def _to_public(dist: list[int]) -> np.ndarray:
    """Map the internal sentinel to ``routing.UNREACHABLE`` and return ``int64``."""
    return np.array([UNREACHABLE if d >= _NOT_REACHED else d for d in dist], dtype=np.int64)


def csr_distances(indptr: Sequence[int], indices: Sequence[int], weights: Sequence[int], source: int) -> np.ndarray:
    """Travel times from ``source`` to every node over CSR arrays (``UNREACHABLE`` if none)."""
    n = len(indptr) - 1
    out_edges = [
        [(int(indices[e]), int(weights[e])) for e in range(int(indptr[u]), int(indptr[u + 1]))] for u in range(n)
    ]
    return _to_public(_heap_dijkstra(n, out_edges, int(source)))


def network_distances(network: RoadNetwork, source: int) -> np.ndarray:
    """Travel times (s) from ``source`` to every node of ``network``, from its forward CSR."""
    return csr_distances(network.indptr.tolist(), network.indices.tolist(), network.travel_time_s.tolist(), int(source))


def all_pairs_from_edges(num_nodes: int, edges: Iterable[tuple[int, int, int]]) -> np.ndarray:
    """``num_nodes x num_nodes`` travel times from a raw edge list ``(tail, head, weight)``.

    Self-loops and parallel edges are allowed (they cannot shorten a path).
    """
    out_edges: list[list[tuple[int, int]]] = [[] for _ in range(num_nodes)]
    for u, v, w in edges:
        out_edges[int(u)].append((int(v), int(w)))
    return np.stack([_to_public(_heap_dijkstra(num_nodes, out_edges, s)) for s in range(num_nodes)])


def nearest_node(x_m: Sequence[float], y_m: Sequence[float], x: float, y: float) -> tuple[int, float, float]:
    """Brute-force nearest node to ``(x, y)``: ``(node, distance, distance of the runner-up)``."""
    best, best_d, second_d = -1, math.inf, math.inf
    for i, (xi, yi) in enumerate(zip(x_m, y_m, strict=True)):
        d = math.hypot(xi - x, yi - y)
        if d < best_d:
            best, best_d, second_d = i, d, best_d
        elif d < second_d:
            second_d = d
    return best, best_d, second_d


# ---------------------------------------------------------------------------- schedules
def naive_schedule(problem, vehicle: int, seq: list[int], tol: float = 1e-6) -> list[float] | None:
    """Earliest feasible service start times of the node sequence ``seq`` (start node first) for
    ``vehicle``, or None. Difference constraints solved by plain Bellman-Ford (longest paths from
    a source), independently of the kernels."""
    from routing.problem import DELIVERY

    m = len(seq)
    loc = problem.node_location
    # Edges (u -> v, w) mean B[v] >= B[u] + w; node m is the zero source.
    edges: list[tuple[int, int, float]] = []
    t0 = max(problem.tw_early[seq[0]], problem.tw_early[problem.vehicle_start[vehicle]])
    for k, node in enumerate(seq):
        edges.append((m, k, float(problem.tw_early[node] if k else t0)))
        edges.append((k, m, -float(problem.tw_late[node])))  # B[k] <= late  <=>  0 >= B[k] - late
    for k in range(1, m):
        a, b = seq[k - 1], seq[k]
        edges.append((k - 1, k, float(problem.service[a] + problem.travel_time[loc[a], loc[b]])))
    pos = {node: k for k, node in enumerate(seq)}
    req = problem.request_of_node()
    for k, node in enumerate(seq):
        if problem.kind[node] == DELIVERY:
            r = req[node]
            p = int(problem.pickup[r])
            if p >= 0 and p in pos and pos[p] < k:
                # B[k] - B[a] - s_p <= ride  <=>  B[a] >= B[k] - s_p - ride
                edges.append((k, pos[p], -float(problem.service[p] + problem.max_ride[r])))
    dur = float(problem.max_duration[vehicle])
    if m > 1 and np.isfinite(dur):
        edges.append((m - 1, 0, -dur))
    dist = [-np.inf] * (m + 1)
    dist[m] = 0.0
    for _ in range(m + 2):
        changed = False
        for u, v, w in edges:
            if dist[u] > -np.inf and dist[u] + w > dist[v] + tol:
                dist[v] = dist[u] + w
                changed = True
        if not changed:
            break
    else:
        return None
    if dist[m] > tol:  # the source was pushed up: a violated upper bound
        return None
    return dist[:m]
