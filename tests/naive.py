"""Slow, obviously correct reference implementations (plain Python, no Numba, no scipy).

They are the oracles the fast code is checked against, so they favour clarity over speed:
use them on small graphs or for a handful of sources only.
"""

from __future__ import annotations

import heapq
import itertools
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


# ---------------------------------------------------------------------------- shared taxi (I-MOA)
def naive_trip_order(requests, vehicles, tt, params, v: int, trip: Sequence[int], relax: int = 0):
    """The cheapest stop order of taxi ``v`` serving ``trip`` (request rows) and its on-board
    riders, by enumerating every order with each pickup before its drop-off, in plain Python.

    ``tt(a, b)`` is the travel time between two nodes. ``relax`` 1 waives the time limits
    (pickup window, latest drop-off, ride time), 2 every limit. An order is dropped as soon as
    one of its stops breaks a limit (times only grow along an order, so no completion could
    mend it). Returns ``(cost, stops, times)`` (stop codes ``2 * r`` pickup, ``2 * r + 1``
    drop-off) or ``None`` when no order meets the limits. The cost is the
    :mod:`matching.pooling.tripset` contract: end of the last stop minus the start time, plus
    ``delay_weight`` times the summed delays (``max(0, drop-off - earliest - direct)``),
    rounded half up.
    """
    onboard = [r for r in range(len(requests.state)) if requests.state[r] == 2 and requests.vehicle[r] == v]
    pickups = [2 * int(r) for r in trip]
    drops = [2 * int(r) + 1 for r in trip] + [2 * r + 1 for r in onboard]
    start_node, start_time = int(vehicles.node[v]), int(vehicles.time[v])
    cap = int(vehicles.capacity[v])
    best: list = [None]

    def walk(order, node, leave, on_board, picked, delay):
        if len(order) == len(pickups) + len(drops):
            cost = leave - start_time + math.floor(params.delay_weight * delay + 0.5)
            if best[0] is None or cost < best[0][0]:
                best[0] = (cost, [s for s, _ in order], [t for _, t in order])
            return
        done = {s for s, _ in order}
        for s in pickups + drops:
            r = s // 2
            if s in done or (s % 2 == 1 and s - 1 in pickups and s - 1 not in done):
                continue
            dest = int(requests.origin[r] if s % 2 == 0 else requests.destination[r])
            t = leave + tt(node, dest)
            now_on = dict(on_board)
            if s % 2 == 0:
                t = max(t, int(requests.earliest_pickup[r]))
                now_on[r] = int(requests.passengers[r])
                if relax < 1 and t > requests.latest_pickup[r]:
                    continue
                solo_on = any(bool(requests.solo[x]) for x in now_on)
                if relax < 2 and (
                    sum(now_on.values()) > cap or len(now_on) > params.max_parties or (solo_on and len(now_on) > 1)
                ):
                    continue
                new_picked = {**picked, r: t}
                new_delay = delay
            else:
                del now_on[r]
                ride = t - picked[r]
                if relax < 1 and (t > requests.latest_dropoff[r] or ride > requests.max_ride[r]):
                    continue
                new_picked = picked
                new_delay = delay + max(0, t - int(requests.earliest_pickup[r]) - int(requests.direct[r]))
            walk([*order, (s, t)], dest, t + params.dwell_s, now_on, new_picked, new_delay)

    on_board = {r: int(requests.passengers[r]) for r in onboard}
    solo_on = any(bool(requests.solo[r]) for r in onboard)
    if relax >= 2 or not (
        sum(on_board.values()) > cap or len(on_board) > params.max_parties or (solo_on and len(on_board) > 1)
    ):
        walk([], start_node, start_time, on_board, {r: int(requests.picked_at[r]) for r in onboard}, 0)
    return best[0]


def naive_batch_optimum(requests, vehicles, tt, params) -> int:
    """The best objective of a batch by exhaustive enumeration: every way to give each taxi a
    set of the open and assigned requests (disjoint sets), each set priced by
    :func:`naive_trip_order`; an active taxi takes a set of at most ``max_trip_size``
    requests that meets the limits, or its EMPTY or CURRENT set (priced with the limits
    waived when they fail); an inactive taxi only those two. Assigned requests must be
    served; each unserved open request costs ``unserved_penalty_s``."""
    nr, nv = len(requests.state), len(vehicles.node)
    cands = [r for r in range(nr) if requests.state[r] != 2]
    options: list[dict[frozenset, int]] = []
    for v in range(nv):
        opts: dict[frozenset, int] = {}
        current = frozenset(r for r in cands if requests.state[r] == 1 and requests.vehicle[r] == v)
        for fixed in (frozenset(), current):
            for relax in (0, 1, 2):
                got = naive_trip_order(requests, vehicles, tt, params, v, sorted(fixed), relax)
                if got is not None:
                    opts[fixed] = got[0]
                    break
        if vehicles.active[v]:
            for size in range(1, params.max_trip_size + 1):
                for combo in itertools.combinations(cands, size):
                    got = naive_trip_order(requests, vehicles, tt, params, v, combo)
                    if got is not None:
                        opts[frozenset(combo)] = got[0]
        options.append(opts)
    must = frozenset(r for r in cands if requests.state[r] == 1)
    best = [math.inf]

    def choose(v, used, cost):
        if cost >= best[0]:
            return
        if v == nv:
            if must <= used:
                unserved = sum(1 for r in cands if r not in used)
                best[0] = min(best[0], cost + params.unserved_penalty_s * unserved)
            return
        for s, c in options[v].items():
            if not (s & used):
                choose(v + 1, used | s, cost + c)

    choose(0, frozenset(), 0)
    return int(best[0])


def naive_order_cost(requests, vehicles, tt, params, v: int, stops: Sequence[int]):
    """``(cost, times)`` of driving taxi ``v`` through the stop codes ``stops`` (its on-board
    riders' drop-offs among them), under the :mod:`matching.pooling.tripset` contract, limits
    not checked."""
    node, leave = int(vehicles.node[v]), int(vehicles.time[v])
    start = leave
    delay = 0
    times = []
    for s in stops:
        r = int(s) // 2
        dest = int(requests.origin[r] if s % 2 == 0 else requests.destination[r])
        t = leave + tt(node, dest)
        if s % 2 == 0:
            t = max(t, int(requests.earliest_pickup[r]))
        else:
            delay += max(0, t - int(requests.earliest_pickup[r]) - int(requests.direct[r]))
        times.append(t)
        node, leave = dest, t + params.dwell_s
    return leave - start + math.floor(params.delay_weight * delay + 0.5), times


def naive_transit_journeys(
    link_time: Sequence[Sequence[float]], routes: Sequence[Sequence[int]], penalty: float
) -> dict[tuple[int, int], tuple[float, int]]:
    """Best ``(time, transfers)`` of every journey ``o -> d`` (``o != d``) over a route set.

    Floyd-Warshall over the expanded route graph: a vertex per (route, position), ride edges
    both ways between consecutive stops of a route (the link times), a transfer edge of
    ``penalty`` minutes and one transfer between any two vertices at the same node. Labels are
    ``(time, transfers)`` compared lexicographically, the times summed exactly (as fractions,
    so that journeys of equal time tie whatever the order of the additions); a journey starts on
    any route at its origin for free and ends at any vertex of its destination. Pairs with no
    journey are absent; times are returned as floats.
    """
    from fractions import Fraction

    verts = [(r, k, int(v)) for r, route in enumerate(routes) for k, v in enumerate(route)]
    index = {(r, k): i for i, (r, k, _) in enumerate(verts)}
    size = len(verts)
    far: tuple[Fraction | float, int] = (math.inf, 0)
    dist = [[far] * size for _ in range(size)]
    for i in range(size):
        dist[i][i] = (Fraction(0), 0)
    for r, route in enumerate(routes):
        for k in range(len(route) - 1):
            a, b = int(route[k]), int(route[k + 1])
            i, j = index[(r, k)], index[(r, k + 1)]
            dist[i][j] = min(dist[i][j], (Fraction(float(link_time[a][b])), 0))
            dist[j][i] = min(dist[j][i], (Fraction(float(link_time[b][a])), 0))
    for i, (_, _, a) in enumerate(verts):
        for j, (_, _, b) in enumerate(verts):
            if i != j and a == b:
                dist[i][j] = min(dist[i][j], (Fraction(float(penalty)), 1))
    for m in range(size):
        row_m = dist[m]
        for i in range(size):
            dim = dist[i][m]
            if dim[0] == math.inf:
                continue
            row_i = dist[i]
            for j in range(size):
                dmj = row_m[j]
                if dmj[0] == math.inf:
                    continue
                cand = (dim[0] + dmj[0], dim[1] + dmj[1])
                if cand < row_i[j]:
                    row_i[j] = cand
    exact: dict[tuple[int, int], tuple[Fraction | float, int]] = {}
    for i, (_, _, o) in enumerate(verts):
        for j, (_, _, d) in enumerate(verts):
            label = dist[i][j]
            if o == d or label[0] == math.inf:
                continue
            if (o, d) not in exact or label < exact[(o, d)]:
                exact[(o, d)] = label
    return {pair: (float(t), x) for pair, (t, x) in exact.items()}


def naive_transit_scores(
    link_time: Sequence[Sequence[float]],
    demand: Sequence[Sequence[float]],
    routes: Sequence[Sequence[int]],
    penalty: float,
) -> dict[str, float]:
    """ATT, d0, d1, d2, dun, unserved, in-vehicle time and transfers per trip of a route set,
    from :func:`naive_transit_journeys` (shares of all demand; means over the served demand)."""
    journeys = naive_transit_journeys(link_time, routes, penalty)
    n = len(demand)
    total = served = time = transfers = 0.0
    by_transfers = [0.0, 0.0, 0.0, 0.0]
    for o in range(n):
        for d in range(n):
            q = float(demand[o][d])
            if o == d or q <= 0:
                continue
            total += q
            if (o, d) not in journeys:
                continue
            t, x = journeys[(o, d)]
            served += q
            time += q * t
            transfers += q * x
            by_transfers[min(x, 3)] += q
    mean = (lambda v: v / served) if served > 0 else (lambda v: math.inf)
    return {
        "att_min": mean(time),
        "in_vehicle_min": mean(time - penalty * transfers),
        "transfers_per_trip": mean(transfers),
        "d0": by_transfers[0] / total,
        "d1": by_transfers[1] / total,
        "d2": by_transfers[2] / total,
        "dun": (by_transfers[3] + total - served) / total,
        "unserved": (total - served) / total,
    }


def naive_route_shape(
    link_time: Sequence[Sequence[float]], routes: Sequence[Sequence[int]]
) -> tuple[list[float], list[float], list[float]]:
    """Per route: one-way time (its links as listed), circuity (time over the shortest time
    between its terminals, by Floyd-Warshall over the links; 1 when that is 0) and overlap (the
    share of its time on links, in either direction, that another route also runs)."""
    n = len(link_time)
    sp = [[float(link_time[i][j]) for j in range(n)] for i in range(n)]
    for i in range(n):
        sp[i][i] = 0.0
    for m in range(n):
        for i in range(n):
            for j in range(n):
                if sp[i][m] + sp[m][j] < sp[i][j]:
                    sp[i][j] = sp[i][m] + sp[m][j]
    times, circuity, overlap = [], [], []
    for r, route in enumerate(routes):
        legs = list(itertools.pairwise([int(v) for v in route]))
        total = sum(float(link_time[a][b]) for a, b in legs)
        others = {frozenset(p) for s, other in enumerate(routes) if s != r for p in itertools.pairwise(other)}
        mine = [frozenset(p) for p in legs]
        shared = sum(float(link_time[a][b]) for (a, b), key in zip(legs, mine, strict=True)
                     if key in others or mine.count(key) > 1)  # fmt: skip
        direct = sp[int(route[0])][int(route[-1])]
        times.append(total)
        circuity.append(total / direct if direct > 0 else 1.0)
        overlap.append(shared / total if total > 0 else 0.0)
    return times, circuity, overlap
