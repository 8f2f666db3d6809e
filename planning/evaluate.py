"""Scoring a route set: passengers' journeys with transfers, and the operator's cost.

For each origin, a Dijkstra search over the *route graph*: one vertex per (route, stop) pair,
joined along each route in both directions by the link times, plus one *hub* per node; riding
into a node's hub (alighting) is free, and leaving the hub on a route (boarding again) costs the
transfer penalty and one transfer. A journey starts on any route at its origin without penalty
and ends at the destination's hub. Labels are compared by time, then by the number of
transfers, so that of equally fast journeys the one with fewer transfers is counted (the
benchmark's convention for d0..dun).

From the journeys of all demand:

* ATT: the demand-weighted mean journey time, in-vehicle time plus the transfer penalties, in
  minutes (over the demand that has a journey; ``unserved`` is the share that has none);
* d0, d1, d2, dun: shares of the demand with 0, 1, 2 transfers, and with more than 2 or none;
* TRT: total route time, the sum of the routes' one-way times (the operator's cost);
* per route: its time, circuity (its time over the shortest time between its terminals over
  the planning graph) and overlap (the share of its time on links other routes also run);
* with ``loads=True``: per route the boardings and the passengers on each link and direction
  (for headways, :mod:`planning.frequencies`).

Why a hand-written kernel: the genetic search scores hundreds of thousands of route sets per
run, each a search from every origin over a graph rebuilt for that set; a general graph library
(scipy's csgraph, networkx) would spend more time building its graph from Python than the
search takes here, and none of them orders labels by (time, transfers). The kernel allocates its
workspace once per call and is serial, so that the search can run one evaluation per thread.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from routing.config import kernel

from .errors import InvalidArgumentError
from .problem import TransitProblem
from .routeset import RouteSet, flatten, validate_route_set

_TIE = 1e-9


@kernel
def _before(t1: float, x1: int, t2: float, x2: int) -> bool:
    """Whether label (t1, x1) is strictly better than (t2, x2): by time, then by transfers."""
    if t2 == np.inf:
        return t1 < np.inf
    tol = _TIE * max(1.0, abs(t2))
    if t1 < t2 - tol:
        return True
    if t1 > t2 + tol:
        return False
    return x1 < x2


@kernel
def _push(ht, hx, hv, size, t, x, v):
    i = size
    ht[i] = t
    hx[i] = x
    hv[i] = v
    while i > 0:
        p = (i - 1) >> 1
        if _before(ht[i], hx[i], ht[p], hx[p]):
            ht[i], ht[p] = ht[p], ht[i]
            hx[i], hx[p] = hx[p], hx[i]
            hv[i], hv[p] = hv[p], hv[i]
            i = p
        else:
            break
    return size + 1


@kernel
def _pop(ht, hx, hv, size):
    """Remove the root; returns the new size (the root is read by the caller before)."""
    size -= 1
    ht[0] = ht[size]
    hx[0] = hx[size]
    hv[0] = hv[size]
    i = 0
    while True:
        left = 2 * i + 1
        if left >= size:
            break
        c = left
        right = left + 1
        if right < size and _before(ht[right], hx[right], ht[left], hx[left]):
            c = right
        if _before(ht[c], hx[c], ht[i], hx[i]):
            ht[i], ht[c] = ht[c], ht[i]
            hx[i], hx[c] = hx[c], hx[i]
            hv[i], hv[c] = hv[c], hv[i]
            i = c
        else:
            break
    return size


@kernel
def _journeys(
    link_time,  # (n, n) float64, inf where no link
    demand,  # (n, n) float64
    origins,  # int64 indices of nodes with outgoing demand
    nodes,  # int32 flat route stops
    offsets,  # int64 CSR offsets per route
    penalty,  # float transfer penalty, minutes
    want_loads,  # bool
    out_sums,  # float64[8]: served demand, sum time, sum in-vehicle, sum transfers, d0, d1, d2, d>2
    boardings,  # float64[num_routes] (written when want_loads)
    fwd_load,  # float64[len(nodes)]: passengers from stop v to v+1 of its route
    bwd_load,  # float64[len(nodes)]: passengers from stop v to v-1 of its route
):
    n = link_time.shape[0]
    nv = nodes.shape[0]
    num_routes = offsets.shape[0] - 1
    total = nv + n
    route_of = np.empty(nv, np.int64)
    for r in range(num_routes):
        for v in range(offsets[r], offsets[r + 1]):
            route_of[v] = r
    # route vertices at each node (CSR)
    at_start = np.zeros(n + 1, np.int64)
    for v in range(nv):
        at_start[nodes[v] + 1] += 1
    for p in range(n):
        at_start[p + 1] += at_start[p]
    fill = at_start[:-1].copy()
    at_list = np.empty(nv, np.int64)
    for v in range(nv):
        p = nodes[v]
        at_list[fill[p]] = v
        fill[p] += 1
    # time along each route to the next / previous stop
    t_next = np.full(nv, np.inf)
    t_prev = np.full(nv, np.inf)
    for r in range(num_routes):
        for v in range(offsets[r], offsets[r + 1] - 1):
            t_next[v] = link_time[nodes[v], nodes[v + 1]]
            t_prev[v + 1] = link_time[nodes[v + 1], nodes[v]]
    lt = np.empty(total, np.float64)
    lx = np.empty(total, np.int64)
    liv = np.empty(total, np.float64)  # in-vehicle part of the label's time
    pred = np.empty(total, np.int64)
    done = np.empty(total, np.bool_)
    cap = 4 * total + 4
    ht = np.empty(cap, np.float64)
    hx = np.empty(cap, np.int64)
    hv = np.empty(cap, np.int64)
    for k in range(out_sums.shape[0]):
        out_sums[k] = 0.0
    for oi in range(origins.shape[0]):
        o = origins[oi]
        if at_start[o + 1] == at_start[o]:
            continue  # no route serves the origin: its demand has no journey
        for u in range(total):
            lt[u] = np.inf
            lx[u] = 0
            liv[u] = 0.0
            pred[u] = -1
            done[u] = False
        size = 0
        hub_o = nv + o
        lt[hub_o] = 0.0
        done[hub_o] = True
        for k in range(at_start[o], at_start[o + 1]):
            v = at_list[k]
            lt[v] = 0.0
            pred[v] = hub_o
            size = _push(ht, hx, hv, size, 0.0, 0, v)
        while size > 0:
            t = ht[0]
            x = hx[0]
            u = hv[0]
            size = _pop(ht, hx, hv, size)
            if done[u]:
                continue
            done[u] = True
            if u < nv:
                iv = liv[u]
                r = route_of[u]
                if u + 1 < offsets[r + 1]:
                    w = u + 1
                    nt = t + t_next[u]
                    if not done[w] and _before(nt, x, lt[w], lx[w]):
                        lt[w] = nt
                        lx[w] = x
                        liv[w] = iv + t_next[u]
                        pred[w] = u
                        size = _push(ht, hx, hv, size, nt, x, w)
                if u > offsets[r]:
                    w = u - 1
                    nt = t + t_prev[u]
                    if not done[w] and _before(nt, x, lt[w], lx[w]):
                        lt[w] = nt
                        lx[w] = x
                        liv[w] = iv + t_prev[u]
                        pred[w] = u
                        size = _push(ht, hx, hv, size, nt, x, w)
                h = nv + nodes[u]
                if not done[h] and _before(t, x, lt[h], lx[h]):
                    lt[h] = t
                    lx[h] = x
                    liv[h] = iv
                    pred[h] = u
                    size = _push(ht, hx, hv, size, t, x, h)
            else:
                p = u - nv
                nt = t + penalty
                for k in range(at_start[p], at_start[p + 1]):
                    w = at_list[k]
                    if not done[w] and _before(nt, x + 1, lt[w], lx[w]):
                        lt[w] = nt
                        lx[w] = x + 1
                        liv[w] = liv[u]
                        pred[w] = u
                        size = _push(ht, hx, hv, size, nt, x + 1, w)
        for d in range(n):
            q = demand[o, d]
            if q <= 0.0 or d == o:
                continue
            h = nv + d
            if lt[h] == np.inf:
                continue
            out_sums[0] += q
            out_sums[1] += q * lt[h]
            out_sums[2] += q * liv[h]
            out_sums[3] += q * lx[h]
            xs = lx[h]
            if xs <= 2:
                out_sums[4 + xs] += q
            else:
                out_sums[7] += q
            if want_loads:
                # walk the journey back: route vertices carry the load of the link they were reached by
                w = pred[h]
                while w >= 0 and w < nv:
                    pv = pred[w]
                    if pv >= nv:  # boarded here (at the origin or after a transfer)
                        boardings[route_of[w]] += q
                    elif pv == w - 1:
                        fwd_load[pv] += q
                    elif pv == w + 1:
                        bwd_load[pv] += q
                    w = pv
                    if w >= nv:
                        w = pred[w]  # hub of a transfer: continue from the route we alighted


@kernel
def _rounds(
    link_time,  # (n, n) float64, inf where no link
    lanes,  # int64: the origins searched, one lane each
    tgt_start,  # int64 CSR per lane into tgt_node / tgt_weight
    tgt_node,  # int64 destinations of each origin
    tgt_weight,  # float64 demand counted for each (origin, destination)
    nodes,  # int32 flat route stops
    offsets,  # int64 CSR offsets per route
    penalty,  # float transfer penalty, minutes
    out_sums,  # float64[8]: as _journeys (the in-vehicle sum from time - penalty x transfers)
):
    """Round-based search from all origins at once, one lane per origin (see the module docstring)."""
    n = link_time.shape[0]
    m = lanes.shape[0]
    nv = nodes.shape[0]
    num_routes = offsets.shape[0] - 1
    t_next = np.full(nv, np.inf)
    t_prev = np.full(nv, np.inf)
    for r in range(num_routes):
        for v in range(offsets[r], offsets[r + 1] - 1):
            t_next[v] = link_time[nodes[v], nodes[v + 1]]
            t_prev[v + 1] = link_time[nodes[v + 1], nodes[v]]
    best = np.full((n, m), np.inf)  # best time so far from each lane's origin
    arr = np.full((n, m), np.inf)  # arrivals of the rounds so far (before the tie tolerance)
    board = np.full((n, m), np.inf)  # best time + penalty: boarding for the next round
    xfer = np.zeros((n, m), np.int64)  # the round (= transfers) that first reached the best time
    improved = np.zeros(n, np.bool_)  # any lane's best improved at the node in the last round
    carry = np.empty(m, np.float64)
    for j in range(m):
        o = lanes[j]
        best[o, j] = 0.0
        arr[o, j] = 0.0
        board[o, j] = 0.0  # journeys start on any route at the origin without penalty
        improved[o] = True
    rnd = 0
    more = True
    while more:
        for r in range(num_routes):
            first = -1
            last = -1
            for w in range(offsets[r], offsets[r + 1]):
                if improved[nodes[w]]:
                    if first < 0:
                        first = w
                    last = w
            if first < 0:
                continue
            for j in range(m):
                carry[j] = board[nodes[first], j]
            for w in range(first + 1, offsets[r + 1]):
                p = nodes[w]
                tt = t_next[w - 1]
                a = arr[p]
                b = board[p]
                for j in range(m):
                    c = carry[j] + tt
                    aj = a[j]
                    a[j] = c if c < aj else aj
                    bj = b[j]
                    carry[j] = bj if bj < c else c
            for j in range(m):
                carry[j] = board[nodes[last], j]
            for w in range(last - 1, offsets[r] - 1, -1):
                p = nodes[w]
                tt = t_prev[w + 1]
                a = arr[p]
                b = board[p]
                for j in range(m):
                    c = carry[j] + tt
                    aj = a[j]
                    a[j] = c if c < aj else aj
                    bj = b[j]
                    carry[j] = bj if bj < c else c
        rnd += 1
        more = False
        for p in range(n):
            improved[p] = False
            for j in range(m):
                a = arr[p, j]
                b = best[p, j]
                if a < b - _TIE * max(1.0, b) if b < np.inf else a < np.inf:
                    best[p, j] = a
                    board[p, j] = a + penalty
                    xfer[p, j] = rnd - 1
                    improved[p] = True
                    more = True
    for k in range(out_sums.shape[0]):
        out_sums[k] = 0.0
    for j in range(m):
        for i in range(tgt_start[j], tgt_start[j + 1]):
            d = tgt_node[i]
            t = best[d, j]
            if t == np.inf:
                continue
            q = tgt_weight[i]
            xs = xfer[d, j]
            out_sums[0] += q
            out_sums[1] += q * t
            out_sums[3] += q * xs
            if xs <= 2:
                out_sums[4 + xs] += q
            else:
                out_sums[7] += q
    out_sums[2] = out_sums[1] - penalty * out_sums[3]


@dataclass(frozen=True)
class Evaluation:
    """The score of one route set (see the module docstring). Shares are fractions of all
    demand (0..1); times are minutes; trips are per day, as the demand matrix."""

    att_min: float
    d0: float
    d1: float
    d2: float
    dun: float
    unserved: float
    trt_min: float
    in_vehicle_min: float
    transfers_per_trip: float
    route_time_min: NDArray[np.float64]
    circuity: NDArray[np.float64]
    overlap: NDArray[np.float64]
    num_stops: NDArray[np.int64]
    boardings: NDArray[np.float64] | None = None
    #: per route, passengers on link k of the route (stop k to k+1) forwards and backwards, (L-1, 2)
    link_load: tuple[NDArray[np.float64], ...] | None = None

    @property
    def served(self) -> float:
        """Share of the demand that has a journey."""
        return 1.0 - self.unserved

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "att_min": self.att_min,
            "d0": self.d0,
            "d1": self.d1,
            "d2": self.d2,
            "dun": self.dun,
            "unserved": self.unserved,
            "trt_min": self.trt_min,
            "in_vehicle_min": self.in_vehicle_min,
            "transfers_per_trip": self.transfers_per_trip,
            "routes": [
                {"time_min": float(t), "stops": int(s), "circuity": float(c), "overlap": float(v)}
                for t, s, c, v in zip(self.route_time_min, self.num_stops, self.circuity, self.overlap, strict=True)
            ],
        }
        if self.boardings is not None and self.link_load is not None:
            for row, b, ll in zip(out["routes"], self.boardings, self.link_load, strict=True):
                row["boardings"] = float(b)
                row["max_link_load"] = float(ll.max()) if ll.size else 0.0
        return out


class Evaluator:
    """Scores route sets of one :class:`TransitProblem` (the problem's arrays are prepared once)."""

    def __init__(self, problem: TransitProblem) -> None:
        self.problem = problem
        self._time = np.ascontiguousarray(problem.link_time_min, np.float64)
        self._demand = np.ascontiguousarray(problem.demand, np.float64)
        self._origins = np.flatnonzero(self._demand.sum(axis=1) > 0).astype(np.int64)
        self._total = float(self._demand.sum())
        self._penalty = float(problem.rules.transfer_penalty_min)
        #: demand and link times symmetric: the journey d -> o mirrors o -> d, so pairs o < d are
        #: searched and counted for both directions
        self.symmetric = bool((self._demand == self._demand.T).all() and (self._time == self._time.T).all())
        d = self._demand
        if self.symmetric:
            d = np.triu(d + d.T, 1)
        starts = [0]
        tgt_nodes: list[NDArray[np.int64]] = []
        origins = []
        for o in range(d.shape[0]):
            dest = np.flatnonzero(d[o] > 0)
            dest = dest[dest != o]
            if dest.size:
                origins.append(o)
                tgt_nodes.append(dest)
                starts.append(starts[-1] + dest.size)
        self._r_origins = np.array(origins, np.int64)
        self._r_start = np.array(starts, np.int64)
        self._r_node = np.concatenate(tgt_nodes).astype(np.int64) if tgt_nodes else np.zeros(0, np.int64)
        self._r_weight = np.ascontiguousarray(
            d[np.repeat(self._r_origins, np.diff(self._r_start)), self._r_node], np.float64
        )
        self.calls = 0

    def journey_sums(
        self, nodes: NDArray[np.int32], offsets: NDArray[np.int64], *, method: str = "rounds"
    ) -> NDArray[np.float64]:
        """The kernel's raw sums for a flattened, valid route set (the search's fast path):
        ``[served demand, sum of journey times, sum of in-vehicle times, sum of transfers,
        demand with 0, 1, 2 and more transfers]``. ``method``: ``"rounds"`` (the fast
        round-based search) or ``"dijkstra"`` (the reference kernel, which also gives paths)."""
        self.calls += 1
        return self._sums(nodes, offsets, method)

    def _sums(self, nodes: NDArray[np.int32], offsets: NDArray[np.int64], method: str) -> NDArray[np.float64]:
        sums = np.zeros(8, np.float64)
        if method == "rounds":
            _rounds(self._time, self._r_origins, self._r_start, self._r_node, self._r_weight, nodes, offsets,
                    self._penalty, sums)  # fmt: skip
        elif method == "dijkstra":
            empty = np.zeros(0, np.float64)
            _journeys(self._time, self._demand, self._origins, nodes, offsets, self._penalty, False, sums,
                      empty, empty, empty)  # fmt: skip
        else:
            raise InvalidArgumentError("method", f"got {method!r}", "'rounds' or 'dijkstra'")
        return sums

    def att(self, nodes: NDArray[np.int32], offsets: NDArray[np.int64]) -> tuple[float, float]:
        """``(ATT over the served demand, unserved share)`` of a flattened, valid route set."""
        s = self.journey_sums(nodes, offsets)
        served = s[0]
        att = s[1] / served if served > 0 else np.inf
        return float(att), float(1.0 - served / self._total) if self._total > 0 else 0.0

    def evaluate(self, routes: RouteSet | list[Any], *, loads: bool = False) -> Evaluation:
        """The full :class:`Evaluation` of ``routes`` (validated first)."""
        rs = validate_route_set(self.problem, routes)
        nodes, offsets = flatten(rs)
        num_routes = len(rs)
        boardings = np.zeros(num_routes if loads else 0, np.float64)
        fwd = np.zeros(nodes.size if loads else 0, np.float64)
        bwd = np.zeros(nodes.size if loads else 0, np.float64)
        if loads:  # the reference kernel, which keeps the paths
            sums = np.zeros(8, np.float64)
            _journeys(self._time, self._demand, self._origins, nodes, offsets, self._penalty, True, sums,
                      boardings, fwd, bwd)  # fmt: skip
        else:
            sums = self._sums(nodes, offsets, "rounds")
        self.calls += 1
        total = self._total
        served = sums[0]
        share = (lambda v: float(v / total)) if total > 0 else (lambda v: 0.0)
        route_time, circuity, overlap = route_shape(self.problem, rs)
        link_load = None
        if loads:
            link_load = tuple(
                np.column_stack([fwd[offsets[r] : offsets[r + 1] - 1], bwd[offsets[r] + 1 : offsets[r + 1]]])
                for r in range(num_routes)
            )
        return Evaluation(
            att_min=float(sums[1] / served) if served > 0 else float("inf"),
            d0=share(sums[4]),
            d1=share(sums[5]),
            d2=share(sums[6]),
            dun=share(sums[7] + (total - served)),
            unserved=share(total - served),
            trt_min=float(route_time.sum()),
            in_vehicle_min=float(sums[2] / served) if served > 0 else float("inf"),
            transfers_per_trip=float(sums[3] / served) if served > 0 else float("inf"),
            route_time_min=route_time,
            circuity=circuity,
            overlap=overlap,
            num_stops=np.array([r.size for r in rs], np.int64),
            boardings=boardings if loads else None,
            link_load=link_load,
        )


def route_shape(
    problem: TransitProblem, routes: RouteSet
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Per route: one-way time (minutes, the slower direction's links as given), circuity and overlap."""
    t = problem.link_time_min
    sp = problem.shortest_time_min
    count: dict[tuple[int, int], int] = {}
    for r in routes:
        for a, b in zip(r[:-1].tolist(), r[1:].tolist(), strict=True):
            key = (a, b) if a < b else (b, a)
            count[key] = count.get(key, 0) + 1
    times = np.empty(len(routes), np.float64)
    circ = np.empty(len(routes), np.float64)
    over = np.empty(len(routes), np.float64)
    for k, r in enumerate(routes):
        legs = t[r[:-1], r[1:]]
        total = float(legs.sum())
        times[k] = total
        direct = float(sp[r[0], r[-1]])
        circ[k] = total / direct if direct > 0 else 1.0
        shared = 0.0
        for (a, b), w in zip(zip(r[:-1].tolist(), r[1:].tolist(), strict=True), legs.tolist(), strict=True):
            if count[(a, b) if a < b else (b, a)] > 1:
                shared += w
        over[k] = shared / total if total > 0 else 0.0
    return times, circ, over


def evaluate(problem: TransitProblem, routes: RouteSet | list[Any], *, loads: bool = False) -> Evaluation:
    """Score ``routes`` on ``problem`` (see :class:`Evaluator` to score many sets)."""
    return Evaluator(problem).evaluate(routes, loads=loads)


def warm_up() -> float:
    """Compile the evaluation kernel (seconds taken; next to nothing once cached on disk)."""
    from .problem import RouteRules

    t0 = time.perf_counter()
    t = np.array([[0, 1, np.inf], [1, 0, 2], [np.inf, 2, 0]], np.float64)
    d = np.ones((3, 3))
    p = TransitProblem("warm-up", t, d, np.zeros(3), np.zeros(3), RouteRules(num_routes=2))
    ev = Evaluator(p)
    ev.evaluate([[0, 1], [1, 2]], loads=True)
    ev.att(*flatten(validate_route_set(p, [[0, 1, 2]])))
    return time.perf_counter() - t0
