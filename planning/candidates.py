"""Candidate routes: a pool of good single routes that the set cover (:mod:`planning.setcover`)
and the genetic search pick route sets from.

How the pool is built (:func:`candidate_routes`):

1. The *route graph* has the links usable by a bus both ways (a route is run in both
   directions); its edge weight is the mean of the two directions' times. From every node, a
   shortest-path tree over it (scipy's Dijkstra).
2. Every terminal pair ``(a, b)`` whose shortest path has at most ``rules.max_stops`` stops is
   scored by the demand its shortest path carries without transfer: the trips, both
   directions, between any two of its stops. Pairs far apart on a busy corridor score highest.
3. For the best ``max(50, 3 * max_routes / paths_per_pair)`` pairs, up to ``paths_per_pair``
   path variants: the shortest path, then the next shortest simple paths within the circuity
   limit (Yen's algorithm, networkx ``shortest_simple_paths``) on graphs of at most
   :data:`YEN_MAX_NODES` nodes for the best :data:`YEN_MAX_PAIRS` pairs, otherwise detours
   through a *via* node ``v`` (shortest ``a -> v`` then ``v -> b``), the vias drawn with the
   seed among those within the circuity limit.
4. A path with fewer than ``rules.min_stops`` stops is extended at its ends, one linked stop at
   a time, taking the stop that adds most direct demand while the circuity holds; every path
   also gets a "long" variant extended up to ``rules.max_stops`` (as far as the circuity
   allows). Paths with a repeated
   stop, too many stops or a circuity above the limit are dropped.
5. A *sweep family*: routes that together serve every node with few routes (from the busiest
   node, then again and again from an unserved node next to a served one, extended to
   ``rules.max_stops`` preferring unserved nodes), so that the set cover can serve every
   node with ``rules.num_routes`` routes even when that is tight; they are always in the pool.
6. Selection: the routes sorted by direct demand are taken greedily, skipping one whose stops
   overlap a kept route's by more than :data:`MAX_SIMILARITY` (Jaccard index of their stop
   sets), so the pool is not many copies of one corridor; if too few pass, the skipped ones
   fill up in score order. Then every node on none of the selected routes gets the best route
   through it (built from the node outwards when no candidate passes through it), in place of
   the lowest selected ones when the pool is full, so every node is on at least one candidate
   where the rules allow it at all.

A route's circuity is its one-way time (its stops in order, ``link_time_min[r[k], r[k+1]]``)
over the shortest time between its terminals over the whole planning graph
(``problem.shortest_time_min``), as :func:`planning.check_route_set` computes it; a route is kept
in the direction in which it is lower.

Why a hand-written kernel: step 2 scores up to ``n^2 / 2`` terminal pairs (a million on a
1,500-node city), each by walking its path back through the predecessor matrix and summing the
demand between its stops; in Python that is minutes, in a Numba kernel about a second. The
selection of step 6 compares each of thousands of candidates with every kept route (stop-set
overlaps), also a kernel for the same reason.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from routing.config import kernel

from .errors import InvalidArgumentError, whole_number
from .problem import TransitProblem

#: Yen's k shortest paths (networkx) only on route graphs up to this many nodes; above, only
#: via-node detours (Yen costs a Dijkstra per spur node per path, too slow in Python there).
YEN_MAX_NODES = 400
#: Yen's paths only for this many of the best terminal pairs (the rest get via-node detours):
#: a bound on the work that keeps the pool deterministic (a wall-clock budget would not).
YEN_MAX_PAIRS = 150
#: Two candidates whose stop sets have a Jaccard index above this are "near copies".
MAX_SIMILARITY = 0.7
#: Default circuity limit when the rules set none (the CEC benchmark has none).
DEFAULT_MAX_CIRCUITY = 1.5

_Route = NDArray[np.int32]


@dataclass(frozen=True, eq=False)
class CandidatePool:
    """Candidate routes with their one-way time and the demand each carries without transfer.

    Every route has ``rules.min_stops .. rules.max_stops`` stops, no repeated stop, consecutive
    stops linked both ways and a circuity within the pool's limit (``max_circuity``).
    Routes are sorted by ``direct_demand``, highest first."""

    routes: tuple[_Route, ...]
    #: one-way time per route (minutes), its stops in the stored order
    time_min: NDArray[np.float64]
    #: trips per day, both directions, between any two stops of the route
    direct_demand: NDArray[np.float64]
    max_circuity: float = DEFAULT_MAX_CIRCUITY

    def __len__(self) -> int:
        return len(self.routes)

    def covered_nodes(self, num_nodes: int) -> NDArray[np.bool_]:
        """Whether each node is on at least one candidate."""
        out = np.zeros(num_nodes, bool)
        for r in self.routes:
            out[r] = True
        return out


@kernel
def _pair_scores(pred, dsym, max_stops):  # pragma: no cover - compiled
    """Stops and direct demand of the shortest path of every pair ``a < b``.

    ``pred[a, v]``: predecessor of ``v`` on the shortest path from ``a`` (-9999 none).
    Returns ``stops[a, b]`` (0: no path or more than ``max_stops`` stops) and ``score[a, b]``."""
    n = pred.shape[0]
    stops = np.zeros((n, n), np.int32)
    score = np.zeros((n, n), np.float64)
    buf = np.empty(max_stops + 1, np.int64)
    for a in range(n):
        for b in range(a + 1, n):
            if pred[a, b] < 0:
                continue
            k = 0
            v = b
            ok = True
            while True:
                if k > max_stops - 1:
                    ok = False
                    break
                buf[k] = v
                k += 1
                if v == a:
                    break
                v = pred[a, v]
                if v < 0:
                    ok = False
                    break
            if not ok:
                continue
            s = 0.0
            for i in range(k):
                for j in range(i + 1, k):
                    s += dsym[buf[i], buf[j]]
            stops[a, b] = k
            score[a, b] = s
    return stops, score


def _path(pred: NDArray[np.int32], a: int, b: int) -> list[int]:
    """Nodes of the shortest path ``a -> b`` from the predecessor matrix (``[]`` if none)."""
    out = [b]
    v = b
    while v != a:
        v = int(pred[a, v])
        if v < 0:
            return []
        out.append(v)
    out.reverse()
    return out


class _Builder:
    """State shared by the steps of :func:`candidate_routes`."""

    def __init__(self, problem: TransitProblem, circuity: float) -> None:
        self.p = problem
        self.n = problem.num_nodes
        self.t = problem.link_time_min
        self.sp = problem.shortest_time_min
        self.circ = circuity
        self.rules = problem.rules
        both = np.isfinite(self.t) & np.isfinite(self.t.T)
        np.fill_diagonal(both, False)
        self.both = both
        self.nbrs = [np.flatnonzero(both[v]).astype(np.int64) for v in range(self.n)]
        d = problem.demand
        self.dsym = np.ascontiguousarray(d + d.T)
        self.found: dict[tuple[int, ...], tuple[_Route, float, float]] = {}

    def time_of(self, r: list[int] | _Route) -> float:
        a = np.asarray(r, np.int64)
        return float(self.t[a[:-1], a[1:]].sum())

    def score_of(self, r: list[int] | _Route) -> float:
        a = np.asarray(r, np.int64)
        return float(np.triu(self.dsym[np.ix_(a, a)], 1).sum())

    def circuity_ok(self, time_min: float, a: int, b: int) -> bool:
        direct = float(self.sp[a, b])
        if not math.isfinite(direct):
            return False
        return direct <= 0 or time_min / direct <= self.circ + 1e-9

    def admit(self, r: list[int]) -> _Route | None:
        """Store the route if it keeps every rule of the pool; returns it (as stored) or None."""
        rules = self.rules
        if not rules.min_stops <= len(r) <= rules.max_stops or len(set(r)) != len(r):
            return None
        key = tuple(r) if r[0] < r[-1] else tuple(reversed(r))
        if key in self.found:
            return self.found[key][0]
        fwd = self.time_of(r)
        back = self.time_of(r[::-1])
        options = []
        if self.circuity_ok(fwd, r[0], r[-1]):
            options.append((fwd, list(r)))
        if self.circuity_ok(back, r[-1], r[0]):
            options.append((back, list(reversed(r))))
        if not options:
            return None
        options.sort(key=lambda o: (o[0] / max(float(self.sp[o[1][0], o[1][-1]]), 1e-12), o[1]))
        t, best = options[0]
        arr = np.asarray(best, np.int32)
        self.found[key] = (arr, t, self.score_of(best))
        return arr

    def extend(self, r: list[int], target: int, prefer: NDArray[np.bool_] | None = None) -> list[int] | None:
        """Add linked stops at the ends (most added direct demand first; with ``prefer``, nodes
        it marks before others) while the circuity holds, until ``target`` stops; None if stuck
        before ``rules.min_stops``."""
        route = list(r)
        on = set(route)
        fwd = self.time_of(route) if len(route) > 1 else 0.0
        while len(route) < target:
            best: tuple[int, float, float, int, int] | None = None  # (-preferred, -gain, added time, end, node)
            idx = np.asarray(route, np.int64)
            for end in (0, 1):
                u = route[0] if end == 0 else route[-1]
                for c_raw in self.nbrs[u]:
                    c = int(c_raw)
                    if c in on:
                        continue
                    add = float(self.t[c, u]) if end == 0 else float(self.t[u, c])
                    a, b = (c, route[-1]) if end == 0 else (route[0], c)
                    if not (
                        self.circuity_ok(fwd + add, a, b) or self.circuity_ok(self.time_of_rev(route, c, end), b, a)
                    ):
                        continue
                    gain = float(self.dsym[c, idx].sum())
                    cand = (-int(prefer[c]) if prefer is not None else 0, -gain, add, end, c)
                    if best is None or cand < best:
                        best = cand
            if best is None:
                break
            _, _, add, end, c = best
            if end == 0:
                route.insert(0, c)
            else:
                route.append(c)
            on.add(c)
            fwd += add
        return route if len(route) >= self.rules.min_stops else None

    def time_of_rev(self, route: list[int], c: int, end: int) -> float:
        """One-way time of the extended route run backwards."""
        r = [c, *route] if end == 0 else [*route, c]
        return self.time_of(r[::-1])

    def add_variants(self, path: list[int]) -> int:
        """Admit the path (extended to ``min_stops`` if short) and its long variant; returns how many admitted."""
        if not path or len(path) > self.rules.max_stops:
            return 0
        got = 0
        base = path if len(path) >= self.rules.min_stops else self.extend(path, self.rules.min_stops)
        if base is not None and self.admit(base) is not None:
            got += 1
        if base is not None and len(base) < self.rules.max_stops:
            long = self.extend(base, self.rules.max_stops)
            if long is not None and len(long) > len(base) and self.admit(long) is not None:
                got += 1
        return got


def candidate_routes(
    problem: TransitProblem,
    *,
    max_routes: int = 2000,
    paths_per_pair: int = 5,
    max_circuity: float | None = None,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> CandidatePool:
    """A pool of up to ``max_routes`` candidate routes (see the module docstring for how).

    Args:
        problem: the planning graph, demand and rules (stops per route from ``problem.rules``).
        max_routes: the pool's size (1 .. 100,000); more only when the sweep family and the
            routes that put every node on a route do not fit in it.
        paths_per_pair: path variants tried per terminal pair (1 .. 100).
        max_circuity: the routes' circuity limit; ``None``: the rules' ``max_circuity``, or
            :data:`DEFAULT_MAX_CIRCUITY` (1.5) when the rules set none (``inf``).
        seed: draws the via-node detours; the same seed gives the same pool.
        progress: called as ``progress(done, total)`` over the terminal pairs.

    Returns:
        A :class:`CandidatePool`, routes sorted by direct demand. A node on no route (possible
        only when no route within the rules can pass through it) is reported by
        :func:`planning.set_cover`; :meth:`CandidatePool.covered_nodes` tells which.
    """
    max_routes = whole_number("max_routes", max_routes, 1, 100_000)
    paths_per_pair = whole_number("paths_per_pair", paths_per_pair, 1, 100)
    seed = whole_number("seed", seed, 0, 2**63 - 1)
    if max_circuity is None:
        circ = problem.rules.max_circuity if math.isfinite(problem.rules.max_circuity) else DEFAULT_MAX_CIRCUITY
    else:
        ok = isinstance(max_circuity, int | float) and not isinstance(max_circuity, bool) and max_circuity >= 1.0
        if not ok:
            raise InvalidArgumentError("max_circuity", f"got {max_circuity!r}", ">= 1, or None for the rules' limit")
        circ = float(max_circuity)
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import dijkstra

    b = _Builder(problem, circ)
    n = b.n
    rules = problem.rules
    rng = np.random.default_rng(seed)
    i, j = np.nonzero(b.both)
    w = 0.5 * (b.t[i, j] + b.t[j, i])
    graph = csr_matrix((w, (i, j)), shape=(n, n))
    dist, pred_raw = dijkstra(graph, directed=False, return_predecessors=True)
    pred = np.ascontiguousarray(pred_raw, np.int32)
    stops, score = _pair_scores(pred, b.dsym, rules.max_stops)

    # terminal pairs, best first (ties by index, so the order is fixed)
    ai, bi = np.nonzero(stops >= 2)
    order = np.lexsort((bi, ai, -score[ai, bi]))
    num_pairs = min(len(order), max(50, (3 * max_routes) // paths_per_pair))
    pairs = [(int(ai[k]), int(bi[k])) for k in order[:num_pairs]]

    nx_graph = None
    if n <= YEN_MAX_NODES and paths_per_pair > 1:
        import networkx as nx

        nx_graph = nx.Graph()
        nx_graph.add_nodes_from(range(n))
        nx_graph.add_weighted_edges_from((int(a), int(c), float(x)) for a, c, x in zip(i, j, w, strict=True) if a < c)

    total = len(pairs) + 1
    for k, (a, c) in enumerate(pairs):
        base = _path(pred, a, c)
        b.add_variants(base)
        limit = circ * float(dist[a, c])
        if nx_graph is not None and k < YEN_MAX_PAIRS:
            import networkx as nx

            gen = nx.shortest_simple_paths(nx_graph, a, c, weight="weight")
            for m, path in enumerate(gen):
                if m == 0:
                    continue
                if m >= paths_per_pair or nx.path_weight(nx_graph, path, "weight") > limit + 1e-9:
                    break
                b.add_variants([int(v) for v in path])
        else:
            vias = np.flatnonzero(dist[a] + dist[:, c] <= limit + 1e-9)
            on = set(base)
            vias = np.asarray([v for v in vias if v not in on], np.int64)
            if vias.size:
                take = rng.choice(vias, size=min(vias.size, 2 * (paths_per_pair - 1)), replace=False)
                made = 0
                for v in sorted(int(x) for x in take):
                    if made >= paths_per_pair - 1:
                        break
                    p1 = _path(pred, a, v)
                    p2 = _path(pred, v, c)
                    if p1 and p2:
                        made += min(1, b.add_variants(p1 + p2[1:]))
        if progress is not None and (k % 50 == 0):
            progress(k, total)

    # select: the best diverse routes, then for every node on none of them the best route
    # through it (replacing the lowest of the diverse ones when the pool is full)
    family = _sweep_family(b)
    keys = sorted(b.found, key=lambda key: (-b.found[key][2], key))
    routes = [b.found[key][0] for key in keys]
    scores = [b.found[key][2] for key in keys]
    diverse = _diverse(list(range(len(routes))), routes, n, max_routes)
    first_with = np.full(n, -1, np.int64)
    for idx in range(len(routes) - 1, -1, -1):
        first_with[routes[idx]] = idx
    position = {key: k for k, key in enumerate(keys)}
    cover: list[int] = [position[key] for key in family]
    hopeless: set[int] = set()
    while True:
        final = cover + [k for k in diverse if k not in cover][: max(0, max_routes - len(cover))]
        covered = np.zeros(n, bool)
        for k in final:
            covered[routes[k]] = True
        missing = [v for v in range(n) if not covered[v] and v not in hopeless]
        if not missing:
            break
        for v in missing:
            if covered[v]:
                continue
            idx = int(first_with[v])
            if idx < 0:
                idx = _route_through(b, v, pred, score, stops, routes, scores)
                if idx >= 0:
                    first_with[routes[idx]] = np.where(first_with[routes[idx]] < 0, idx, first_with[routes[idx]])
            if idx < 0:
                hopeless.add(v)
                continue
            cover.append(idx)
            covered[routes[idx]] = True
    final = sorted(set(final), key=lambda k: (-scores[k], k))
    if progress is not None:
        progress(total, total)
    return CandidatePool(
        routes=tuple(routes[k] for k in final),
        time_min=np.asarray([b.time_of(routes[k]) for k in final], np.float64),
        direct_demand=np.asarray([scores[k] for k in final], np.float64),
        max_circuity=circ,
    )


def _sweep_family(b: _Builder) -> list[tuple[int, ...]]:
    """Routes that together serve every node they can (the keys of ``b.found``), so that a pool
    holds a cover of few routes: from the busiest node, then repeatedly from an unserved node
    next to a served one (the route starts at the served one, so the routes are connected),
    extended to ``rules.max_stops`` preferring unserved nodes."""
    n = b.n
    served = np.zeros(n, bool)
    skipped = np.zeros(n, bool)
    weight = b.dsym.sum(axis=1)
    rank = np.lexsort((np.arange(n), -weight))
    out: list[tuple[int, ...]] = []
    while True:
        todo = ~served & ~skipped
        if not todo.any():
            return out
        frontier = todo & b.both[:, served].any(axis=1) if served.any() else np.zeros(n, bool)
        pool = frontier if frontier.any() else todo
        v = int(next(u for u in rank if pool[u]))
        start = [v]
        if frontier.any():
            nb = b.nbrs[v]
            u = int(nb[served[nb]][np.argmax(weight[nb[served[nb]]])])
            start = [u, v]
        r = b.extend(start, b.rules.max_stops, prefer=~served)
        arr = b.admit(r) if r is not None else None
        if arr is None and len(start) == 2:  # try from the node alone
            r = b.extend([v], b.rules.max_stops, prefer=~served)
            arr = b.admit(r) if r is not None else None
        if arr is None:
            skipped[v] = True
            continue
        served[arr] = True
        out.append(tuple(int(x) for x in arr) if arr[0] < arr[-1] else tuple(int(x) for x in arr[::-1]))


def _route_through(
    b: _Builder,
    v: int,
    pred: NDArray[np.int32],
    score: NDArray[np.float64],
    stops: NDArray[np.int32],
    routes: list[_Route],
    scores: list[float],
) -> int:
    """Build routes from node ``v`` outwards (its shortest paths to other nodes, extended at the
    ends); append the best to ``routes`` / ``scores`` and return its index, or -1 if none keeps
    the rules."""
    n = b.n
    others = np.arange(n)
    sc = np.where(others < v, score[others, v], score[v, others]) if n else np.zeros(0)
    st = np.where(others < v, stops[others, v], stops[v, others])
    cand = [int(u) for u in np.lexsort((others, -sc)) if st[u] >= 2]
    best: tuple[float, list[int]] | None = None
    tries = 0
    for u in cand:
        path = _path(pred, v, u)
        if not path:
            continue
        tries += 1
        for target in (b.rules.min_stops, b.rules.max_stops):
            r = path if len(path) >= target else b.extend(path, target)
            if r is None:
                continue
            arr = b.admit(r)
            if arr is not None:
                s = b.score_of(arr)
                if best is None or s > best[0]:
                    best = (s, [int(x) for x in arr])
        if tries >= 8 and best is not None:
            break
        if tries >= 64:
            break
    if best is None:
        return -1
    routes.append(np.asarray(best[1], np.int32))
    scores.append(best[0])
    return len(routes) - 1


def _diverse(order: list[int], routes: list[_Route], n: int, room: int) -> list[int]:
    """Up to ``room`` of ``order`` (best first): skip routes too similar to a kept one, then fill."""
    if room <= 0:
        return []
    nodes = np.concatenate([routes[k] for k in order]) if order else np.zeros(0, np.int32)
    offsets = np.zeros(len(order) + 1, np.int64)
    np.cumsum([len(routes[k]) for k in order], out=offsets[1:])
    keep = _diverse_kernel(nodes.astype(np.int32), offsets, n, room, MAX_SIMILARITY)
    picked = [order[k] for k in np.flatnonzero(keep)]
    if len(picked) < room:
        extra = [order[k] for k in np.flatnonzero(~keep)][: room - len(picked)]
        picked += extra
    return picked


@kernel
def _diverse_kernel(nodes, offsets, n, room, max_sim):  # pragma: no cover - compiled
    """Greedy: keep route ``k`` (in order) unless its stop set's Jaccard index with a kept one exceeds ``max_sim``."""
    m = offsets.shape[0] - 1
    keep = np.zeros(m, np.bool_)
    mark = np.zeros(n, np.bool_)
    kept = np.empty(m, np.int64)
    nk = 0
    for k in range(m):
        if nk >= room:
            break
        a0 = offsets[k]
        a1 = offsets[k + 1]
        for q in range(a0, a1):
            mark[nodes[q]] = True
        ok = True
        for z in range(nk):
            r = kept[z]
            inter = 0
            for q in range(offsets[r], offsets[r + 1]):
                if mark[nodes[q]]:
                    inter += 1
            union = (a1 - a0) + (offsets[r + 1] - offsets[r]) - inter
            if inter > max_sim * union:
                ok = False
                break
        for q in range(a0, a1):
            mark[nodes[q]] = False
        if ok:
            keep[k] = True
            kept[nk] = k
            nk += 1
    return keep
