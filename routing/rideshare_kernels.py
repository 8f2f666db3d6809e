"""The ride-sharing solver: cheapest insertion, then ruin-and-recreate with simulated annealing.

Why hand-written kernels rather than the general ALNS of :mod:`routing.alns`: that search
evaluates an insertion through the time-window schedule of the route, O(L^2) per route of ``L``
stops. With no time windows and no ride limits, the only side constraint is the van's capacity,
and the best insertion of a request into a route is found exactly in ONE pass, O(L)
(:func:`best_insertion`): scan the drop-off position ``j`` from left to right keeping the
cheapest pickup position ``i <= j`` that can reach ``j`` without crossing a position where the
van is already full (the best pickup is reset wherever the load after a stop equals the
capacity); the pickup and the drop-off next to each other is the case ``i == j``, and past the
route's end (routes are open) only the arc into the new last stop is paid. With routes of
hundreds of stops (10,000 requests in about 90 routes) this is what makes the city-scale
instance tractable.

Routes are rows of arrays ``[K, W]`` (:class:`Routes`): ``stop`` (position 0 is the driver's
start, code 0; ``r + 1`` is the pickup of request ``r``, ``-(r + 1)`` its drop-off), ``loc``
(the location index of each stop), ``load`` (riders on board after the stop) and ``arc`` (the
travel time to the next stop, so that a scan reads no scattered matrix entries); ``length[k]``
counts the positions including the start, ``cost[k]`` is the route's travel time. Inserting
"after position ``i``" puts the new stop between positions ``i`` and ``i + 1``.

The search (after Christiaens & Vanden Berghe's SISR, 2020):

* construction: every request in random order, at its cheapest insertion over all routes
  (an empty route costs ``d(driver, o) + d(o, d)``);
* improvement: each iteration removes 1 to MAX_REMOVE requests (strings of consecutive stops on
  routes holding a random seed request and its most related requests, or the seed's most
  related requests, or random requests; relatedness is ``d(o_a, o_b) + d(d_a, d_b)``) and
  reinserts them greedily, in random or sorted order, each at its cheapest position over the
  routes holding one of its GRANULAR most related requests and the empty routes (all routes if
  none of these can take it), skipping a position with a small probability ("blinks"). The
  result is accepted by simulated annealing with a temperature that falls exponentially over
  the run (time or iterations). A rejected iteration restores the routes it touched from a
  backup. The insertion scans read float32 copies of the matrix (half the cache); every cost
  kept or reported is float64.

The clock is checked between chunks of iterations (each at most 50 ms and 0.5% of the budget),
so a time-limited run stops within about 1% of its limit; with ``iterations`` (and no time limit)
the chunks and the temperatures are fixed by the iteration count and the run is reproducible bit
for bit for a seed.

Memory, for ``L`` locations, ``R`` requests and ``K`` drivers: the instance's float64 matrix
(``8 L^2`` bytes) and two float32 copies (``8 L^2``), the neighbour lists (``4 * 60 R``), and
route arrays of ``44 K W`` bytes (current and backup: stop, loc, load, arc; best: stop), where
the width ``W`` starts at ``max(64, 8 R / K + 1) + 100`` and doubles whenever the longest route
comes within 100 positions of it. Manhattan, 10,000 requests, 200 drivers: 64 + 64 MB of
matrices, 2.4 MB of neighbours, 4.4 MB of routes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from .config import kernel
from .errors import InvalidArgumentError, plain_repr
from .rideshare import RideshareInstance, RideshareSolution

INF = np.inf
#: Neighbours per request for the related removals.
NUM_NEIGHBOURS = 60
#: Reinsert a request only into routes holding one of its GRANULAR most related requests (and
#: empty routes); 0: into every route.
GRANULAR = 40
#: Largest number of requests removed by one ruin (strings may add up to MAX_STRING more).
MAX_REMOVE = 30
#: Longest string of consecutive stops removed from one route.
MAX_STRING = 20
#: Simulated annealing: the temperature falls exponentially from TEMP_START to TEMP_END times the
#: construction's mean travel time per request (a worse result is accepted with probability
#: exp(-increase / temperature)).
TEMP_START = 0.02
TEMP_END = 0.0005
#: Probability of skipping an insertion position during a reinsertion ("blink").
BLINK_RATE = 0.01


class Data(NamedTuple):
    """The instance as the kernels read it (location indices, travel times in file units)."""

    origin_loc: NDArray[np.int64]  # [R] pickup location of each request
    destination_loc: NDArray[np.int64]  # [R] drop-off location
    capacity: int  # riders per van
    dist: NDArray[np.float64]  # [L, L] travel time from row to column
    scan: NDArray[np.float32]  # [L, L] dist in float32, for the insertion scans (half the cache)
    scan_t: NDArray[np.float32]  # [L, L] its transpose (scan_t[b, a] = scan[a, b]), read row-wise
    neighbours: NDArray[np.int32]  # [R, m] most related requests first


class Routes(NamedTuple):
    """Routes as rows (see the module docstring); ``route_of[r]`` is request ``r``'s route or -1."""

    stop: NDArray[np.int32]  # [K, W] stop codes: 0 start, r + 1 pickup of r, -(r + 1) its drop-off
    loc: NDArray[np.int32]  # [K, W] location index of each stop
    load: NDArray[np.int32]  # [K, W] riders on board after each stop
    arc: NDArray[np.float64]  # [K, W] travel time from each stop to the next (0 after the last)
    length: NDArray[np.int32]  # [K] positions in use, the start included
    cost: NDArray[np.float64]  # [K] travel time of each route
    route_of: NDArray[np.int32]  # [R]


# kernel status codes
_DONE = 0
_GROW = 1
_STUCK = 2


@kernel
def _seed(seed):
    np.random.seed(seed)


@kernel
def _neighbours(origin_loc, destination_loc, dist, m):
    """``[R, m]`` the ``m`` requests most related to each request (smallest d(o_a,o_b)+d(d_a,d_b))."""
    n = origin_loc.shape[0]
    out = np.empty((n, m), dtype=np.int32)
    heap_v = np.empty(m, dtype=np.float64)
    heap_i = np.empty(m, dtype=np.int32)
    for a in range(n):
        oa = origin_loc[a]
        da = destination_loc[a]
        size = 0
        for b in range(n):
            if b == a:
                continue
            v = dist[oa, origin_loc[b]] + dist[da, destination_loc[b]]
            if size < m:
                # sift up into a max-heap
                pos = size
                size += 1
                while pos > 0:
                    parent = (pos - 1) >> 1
                    if heap_v[parent] >= v:
                        break
                    heap_v[pos] = heap_v[parent]
                    heap_i[pos] = heap_i[parent]
                    pos = parent
                heap_v[pos] = v
                heap_i[pos] = b
            elif v < heap_v[0]:
                pos = 0
                while True:
                    c = 2 * pos + 1
                    if c >= m:
                        break
                    if c + 1 < m and heap_v[c + 1] > heap_v[c]:
                        c += 1
                    if heap_v[c] <= v:
                        break
                    heap_v[pos] = heap_v[c]
                    heap_i[pos] = heap_i[c]
                    pos = c
                heap_v[pos] = v
                heap_i[pos] = b
        order = np.argsort(heap_v[:size])
        for t in range(size):
            out[a, t] = heap_i[order[t]]
        for t in range(size, m):
            out[a, t] = heap_i[order[0]] if size > 0 else a
    return out


@kernel
def best_insertion(k, o, d, capacity, dist, dist_t, loc, load, arc, length, blink):
    """Cheapest insertion of a request (pickup location ``o``, drop-off ``d``) into route ``k``.

    Returns ``(extra travel time, i, j)``: the pickup goes after position ``i``, the drop-off
    after position ``j`` of the current route (``i <= j``; ``i == j``: next to each other), or
    ``(inf, -1, -1)`` when no position is feasible. One pass over the route (see the module
    docstring); ``dist_t`` is the transpose of ``dist``, read row-wise (both may be float32 copies:
    the choice is then exact up to float32 rounding). With ``blink > 0`` each position is skipped
    with that probability (the gaps between skipped positions are drawn from the geometric distribution).
    """
    n = length[k]
    next_blink = n
    if blink > 0.0:
        next_blink = np.random.geometric(blink) - 1
    best = INF
    bi = -1
    bj = -1
    pick = INF  # cheapest pickup after some i < j with room on board from i to j
    pick_i = -1
    d_od = dist[o, d]
    for j in range(n):
        if load[k, j] >= capacity:
            pick = INF
            pick_i = -1
            continue
        if j >= next_blink:
            next_blink += np.random.geometric(blink)
            continue
        lj = loc[k, j]
        to_o = dist_t[o, lj]
        to_d = dist_t[d, lj]
        if j + 1 < n:
            ln = loc[k, j + 1]
            a = arc[k, j]
            c_both = to_o + d_od + dist[d, ln] - a
            c_drop = to_d + dist[d, ln] - a
            c_pick = to_o + dist[o, ln] - a
        else:
            c_both = to_o + d_od
            c_drop = to_d
            c_pick = INF
        if c_both < best:
            best = c_both
            bi = j
            bj = j
        if pick + c_drop < best:
            best = pick + c_drop
            bi = pick_i
            bj = j
        if c_pick < pick:
            pick = c_pick
            pick_i = j
    return best, bi, bj


@kernel
def insert_at(k, r, i, j, o, d, dist, routes):
    """Insert request ``r`` into route ``k``: pickup after position ``i``, drop-off after ``j``."""
    stop, loc, load, arc, length, cost, route_of = routes
    n = length[k]
    # extra travel time, from the current neighbours
    li = loc[k, i]
    lj = loc[k, j]
    if i == j:
        delta = dist[li, o] + dist[o, d]
        if j + 1 < n:
            delta += dist[d, loc[k, j + 1]] - dist[li, loc[k, j + 1]]
    else:
        delta = dist[li, o] + dist[o, loc[k, i + 1]] - dist[li, loc[k, i + 1]] + dist[lj, d]
        if j + 1 < n:
            delta += dist[d, loc[k, j + 1]] - dist[lj, loc[k, j + 1]]
    drop_load = load[k, j]
    for p in range(n - 1, j, -1):
        stop[k, p + 2] = stop[k, p]
        loc[k, p + 2] = loc[k, p]
        load[k, p + 2] = load[k, p]
        arc[k, p + 2] = arc[k, p]
    stop[k, j + 2] = -(r + 1)
    loc[k, j + 2] = d
    load[k, j + 2] = drop_load
    for p in range(j, i, -1):
        stop[k, p + 1] = stop[k, p]
        loc[k, p + 1] = loc[k, p]
        load[k, p + 1] = load[k, p] + 1
        arc[k, p + 1] = arc[k, p]
    stop[k, i + 1] = r + 1
    loc[k, i + 1] = o
    load[k, i + 1] = load[k, i] + 1
    n += 2
    length[k] = n
    for p in (i, i + 1, j + 1, j + 2):
        arc[k, p] = dist[loc[k, p], loc[k, p + 1]] if p + 1 < n else 0.0
    cost[k] += delta
    route_of[r] = k
    return delta


@kernel
def remove_request(k, r, dist, routes):
    """Remove request ``r`` from route ``k``; returns the change of travel time (<= 0 for metric times)."""
    stop, loc, load, arc, length, cost, route_of = routes
    n = length[k]
    ip = -1
    jp = -1
    for p in range(1, n):
        if stop[k, p] == r + 1:
            ip = p
        elif stop[k, p] == -(r + 1):
            jp = p
            break
    o = loc[k, ip]
    d = loc[k, jp]
    a = loc[k, ip - 1]
    if jp == ip + 1:
        delta = -dist[a, o] - dist[o, d]
        if jp + 1 < n:
            b = loc[k, jp + 1]
            delta += dist[a, b] - dist[d, b]
    else:
        b1 = loc[k, ip + 1]
        delta = dist[a, b1] - dist[a, o] - dist[o, b1]
        a2 = loc[k, jp - 1]
        delta -= dist[a2, d]
        if jp + 1 < n:
            b2 = loc[k, jp + 1]
            delta += dist[a2, b2] - dist[d, b2]
    for p in range(ip, jp - 1):
        stop[k, p] = stop[k, p + 1]
        loc[k, p] = loc[k, p + 1]
        load[k, p] = load[k, p + 1] - 1
        arc[k, p] = arc[k, p + 1]
    for p in range(jp - 1, n - 2):
        stop[k, p] = stop[k, p + 2]
        loc[k, p] = loc[k, p + 2]
        load[k, p] = load[k, p + 2]
        arc[k, p] = arc[k, p + 2]
    n -= 2
    length[k] = n
    for p in (ip - 1, jp - 2):
        if p >= 0:
            arc[k, p] = dist[loc[k, p], loc[k, p + 1]] if p + 1 < n else 0.0
    if length[k] == 1:
        delta = -cost[k]  # exactly zero for an empty route, whatever the rounding so far
    cost[k] += delta
    route_of[r] = -1
    return delta


@kernel
def insert_cheapest(r, data, routes, blink):
    """Insert request ``r`` at its cheapest position over all routes; returns the route or -1."""
    o = data.origin_loc[r]
    d = data.destination_loc[r]
    loc = routes.loc
    load = routes.load
    length = routes.length
    width = loc.shape[1]
    best = INF
    bk = -1
    bi = -1
    bj = -1
    for k in range(length.shape[0]):
        if length[k] + 2 > width:
            continue
        c, i, j = best_insertion(k, o, d, data.capacity, data.scan, data.scan_t, loc, load, routes.arc, length, blink)
        if c < best:
            best = c
            bk = k
            bi = i
            bj = j
    if bk < 0:
        return -1
    insert_at(bk, r, bi, bj, o, d, data.dist, routes)
    return bk


@kernel
def _construct(order, start, data, routes):
    """Insert ``order[start:]`` one by one at their cheapest positions. Returns ``(status, next)``:
    ``_GROW`` when a route is too long for the arrays (grow and call again from ``next``),
    ``_STUCK`` when request ``order[next]`` fits nowhere (no path)."""
    width = routes.stop.shape[1]
    for t in range(start, order.shape[0]):
        if routes.length.max() + 2 > width:
            return _GROW, t
        if insert_cheapest(order[t], data, routes, 0.0) < 0:
            return _STUCK, t
    return _DONE, order.shape[0]


@kernel
def _touch(k, touched, touched_list, n_touched, routes, backup):
    """Back route ``k`` up unless this iteration already did; returns the new count of touched routes."""
    if touched[k]:
        return n_touched
    touched[k] = True
    touched_list[n_touched] = k
    n = routes.length[k]
    for p in range(n):
        backup.stop[k, p] = routes.stop[k, p]
        backup.loc[k, p] = routes.loc[k, p]
        backup.load[k, p] = routes.load[k, p]
        backup.arc[k, p] = routes.arc[k, p]
    backup.length[k] = n
    backup.cost[k] = routes.cost[k]
    return n_touched + 1


@kernel
def _improve(
    n_iter, temp_start, temp_end, granular, max_remove, data, routes, backup, best_stop, best_length, best_total
):
    """``n_iter`` ruin-and-recreate iterations, temperature falling from ``temp_start`` to
    ``temp_end`` over them. Returns ``(status, iterations done, current total, best total)``;
    ``_GROW`` (before an iteration) when the route arrays may be too narrow for the next one."""
    origin_loc = data.origin_loc
    destination_loc = data.destination_loc
    capacity = data.capacity
    dist = data.dist
    scan = data.scan
    scan_t = data.scan_t
    neighbours = data.neighbours
    stop, loc, load, arc, length, cost, route_of = routes
    num_req = origin_loc.shape[0]
    num_routes = length.shape[0]
    width = stop.shape[1]
    max_removed = max_remove + MAX_STRING
    removed = np.empty(max_removed, dtype=np.int32)
    removed_from = np.empty(max_removed, dtype=np.int32)
    is_removed = np.zeros(num_req, dtype=np.bool_)
    keys = np.empty(max_removed, dtype=np.float64)
    touched = np.zeros(num_routes, dtype=np.bool_)
    touched_list = np.empty(num_routes, dtype=np.int32)
    route_ruined = np.zeros(num_routes, dtype=np.bool_)
    candidate = np.zeros(num_routes, dtype=np.bool_)
    granular = min(granular, neighbours.shape[1])
    current = cost.sum()
    ratio = temp_end / temp_start
    num_nb = neighbours.shape[1]
    for it in range(n_iter):
        if length.max() + 2 * max_removed > width:
            return _GROW, it, current, best_total
        temp = temp_start * ratio ** (it / n_iter) if n_iter > 1 else temp_start
        n_touched = 0
        n_removed = 0
        target = 1 + np.random.randint(max_remove)
        seed_req = np.random.randint(num_req)
        method = np.random.randint(10)
        if method < 6:
            # strings of consecutive stops on routes holding the seed and its neighbours
            for t in range(-1, num_nb):
                if n_removed >= target:
                    break
                c = seed_req if t < 0 else neighbours[seed_req, t]
                if is_removed[c]:
                    continue
                k = route_of[c]
                if route_ruined[k]:
                    continue
                route_ruined[k] = True
                n = length[k]
                # position of c's pickup or drop-off
                pos = -1
                want = c + 1 if np.random.random() < 0.5 else -(c + 1)
                for p in range(1, n):
                    if stop[k, p] == want:
                        pos = p
                        break
                span = min(1 + np.random.randint(MAX_STRING), n - 1, target - n_removed)
                lo = max(1, pos - np.random.randint(span))
                hi = min(n - 1, lo + span - 1)
                n_touched = _touch(k, touched, touched_list, n_touched, routes, backup)
                # collect the requests with a stop in [lo, hi], then remove them
                first_new = n_removed
                for p in range(lo, hi + 1):
                    s = stop[k, p]
                    q = s - 1 if s > 0 else -s - 1
                    if not is_removed[q] and n_removed < max_removed:
                        is_removed[q] = True
                        removed[n_removed] = q
                        removed_from[n_removed] = k
                        n_removed += 1
                for u in range(first_new, n_removed):
                    remove_request(k, removed[u], dist, routes)
            for t in range(n_touched):
                route_ruined[touched_list[t]] = False
        else:
            for t in range(-1, num_nb):
                if n_removed >= target:
                    break
                # method 9: random removal, else related removal
                c = np.random.randint(num_req) if method == 9 else (seed_req if t < 0 else neighbours[seed_req, t])
                if is_removed[c]:
                    continue
                k = route_of[c]
                n_touched = _touch(k, touched, touched_list, n_touched, routes, backup)
                is_removed[c] = True
                removed[n_removed] = c
                removed_from[n_removed] = k
                n_removed += 1
                remove_request(k, c, dist, routes)
        # order of reinsertion
        how = np.random.randint(4)
        for u in range(n_removed):
            q = removed[u]
            if how == 0:
                keys[u] = np.random.random()
            elif how == 1:
                keys[u] = -dist[origin_loc[q], destination_loc[q]]
            elif how == 2:
                keys[u] = dist[origin_loc[q], destination_loc[q]]
            else:
                keys[u] = -dist[origin_loc[seed_req], origin_loc[q]]
        order = np.argsort(keys[:n_removed])
        ok = True
        for u in range(n_removed):
            q = removed[order[u]]
            o = origin_loc[q]
            dd = destination_loc[q]
            bestc = INF
            bk = -1
            bi = -1
            bj = -1
            for t in range(granular):
                k = route_of[neighbours[q, t]]
                if k >= 0:
                    candidate[k] = True
            for sweep in range(2):  # sweep 1 (every route) only if no candidate route had room
                for k in range(num_routes):
                    if sweep == 0 and granular > 0 and length[k] > 1:
                        if not candidate[k]:
                            continue
                        candidate[k] = False
                    c2, i2, j2 = best_insertion(k, o, dd, capacity, scan, scan_t, loc, load, arc, length, BLINK_RATE)
                    if c2 < bestc:
                        bestc = c2
                        bk = k
                        bi = i2
                        bj = j2
                if bk >= 0 or granular == 0:
                    break
            if bk < 0:
                ok = False
                break
            n_touched = _touch(bk, touched, touched_list, n_touched, routes, backup)
            insert_at(bk, q, bi, bj, o, dd, dist, routes)
        new_total = cost.sum()
        accept = ok and new_total < current - temp * math.log(np.random.random() + 1e-300)
        if accept:
            current = new_total
            if current < best_total - 1e-9:
                best_total = current
                for k in range(num_routes):
                    n = length[k]
                    best_length[k] = n
                    for p in range(n):
                        best_stop[k, p] = stop[k, p]
        else:
            for t in range(n_touched):
                k = touched_list[t]
                n = backup.length[k]
                for p in range(n):
                    stop[k, p] = backup.stop[k, p]
                    loc[k, p] = backup.loc[k, p]
                    load[k, p] = backup.load[k, p]
                    arc[k, p] = backup.arc[k, p]
                length[k] = n
                cost[k] = backup.cost[k]
            for u in range(n_removed):
                route_of[removed[u]] = removed_from[u]
        for t in range(n_touched):
            touched[touched_list[t]] = False
        for u in range(n_removed):
            is_removed[removed[u]] = False
    return _DONE, n_iter, current, best_total


# ------------------------------------------------------------------------------------- driver


def new_routes(num_routes: int, width: int, driver_loc: NDArray[np.int64], num_req: int) -> Routes:
    loc = np.zeros((num_routes, width), dtype=np.int32)
    loc[:, 0] = driver_loc
    return Routes(
        stop=np.zeros((num_routes, width), dtype=np.int32),
        loc=loc,
        load=np.zeros((num_routes, width), dtype=np.int32),
        arc=np.zeros((num_routes, width), dtype=np.float64),
        length=np.ones(num_routes, dtype=np.int32),
        cost=np.zeros(num_routes, dtype=np.float64),
        route_of=np.full(num_req, -1, dtype=np.int32),
    )


def _widen(routes: Routes, width: int) -> Routes:
    """The same routes in arrays of ``width`` columns."""
    out = {}
    for name in ("stop", "loc", "load", "arc"):
        old = getattr(routes, name)
        new = np.zeros((old.shape[0], width), dtype=old.dtype)
        new[:, : old.shape[1]] = old
        out[name] = new
    return routes._replace(**out)


def _recount(inst: RideshareInstance, routes: list[tuple[int, list[int]]]) -> float:
    index = {int(rid): i for i, rid in enumerate(inst.request_ids)}
    total = 0.0
    for k, stops in routes:
        prev = int(inst.driver_loc[k])
        for s in stops:
            r = index[abs(s)]
            here = int(inst.origin_loc[r] if s > 0 else inst.destination_loc[r])
            total += float(inst.dist[prev, here])
            prev = here
    return total


def _warm_up() -> float:
    """Compile (or load from the cache) every kernel on a 2-request toy; returns the seconds spent."""
    t0 = time.perf_counter()
    dist = np.array([[0.0, 1.0, 2.0], [1.0, 0.0, 1.0], [2.0, 1.0, 0.0]])
    o = np.array([1, 2], dtype=np.int64)
    d = np.array([2, 1], dtype=np.int64)
    scan = dist.astype(np.float32)
    data = Data(o, d, 1, dist, scan, np.ascontiguousarray(scan.T), _neighbours(o, d, dist, 1))
    width = 8 + 2 * (MAX_REMOVE + MAX_STRING)
    routes = new_routes(1, width, np.array([0]), 2)
    backup = new_routes(1, width, np.array([0]), 0)
    _seed(1)
    _construct(np.arange(2), 0, data, routes)
    _improve(2, 1.0, 0.5, 1, MAX_REMOVE, data, routes, backup, routes.stop.copy(), routes.length.copy(), np.inf)
    return time.perf_counter() - t0


def solve(
    inst: RideshareInstance,
    *,
    time_limit_s: float | None = 20.0,
    iterations: int | None = None,
    seed: int = 1,
    progress: Callable[[float, float], None] | None = None,
) -> RideshareSolution:
    """See :func:`routing.rideshare.solve_rideshare`."""
    if time_limit_s is None and iterations is None:
        raise InvalidArgumentError(
            "time_limit_s", "give a time limit or an iteration count", "> 0 s, or iterations >= 0"
        )
    if time_limit_s is not None and not (0 < time_limit_s < math.inf):
        raise InvalidArgumentError("time_limit_s", f"got {plain_repr(time_limit_s)}", "> 0 s")
    if iterations is not None and (not isinstance(iterations, int | np.integer) or iterations < 0):
        raise InvalidArgumentError("iterations", f"got {plain_repr(iterations)}", "a whole number >= 0")
    compile_s = _warm_up()
    t0 = time.perf_counter()
    deadline = t0 + time_limit_s if time_limit_s is not None else math.inf
    num_req = inst.num_requests
    num_routes = inst.num_drivers
    dist = inst.dist
    scan = dist.astype(np.float32)
    scan_t = np.ascontiguousarray(scan.T)
    o = inst.origin_loc
    d = inst.destination_loc
    _seed(seed)
    rng = np.random.default_rng(seed)
    order = rng.permutation(num_req)
    max_removed = MAX_REMOVE + MAX_STRING
    width = max(64, 4 * (2 * num_req // num_routes) + 1) + 2 * max_removed
    routes = new_routes(num_routes, width, inst.driver_loc, num_req)
    data = Data(o, d, inst.capacity, dist, scan, scan_t, np.zeros((num_req, 1), dtype=np.int32))
    start = 0
    while True:
        status, start = _construct(order, start, data, routes)
        if status == _GROW:
            routes = _widen(routes, 2 * routes.stop.shape[1])
            continue
        if status == _STUCK:
            r = int(order[start])
            raise InvalidArgumentError(
                "requests",
                f"request {inst.request_ids[r]} cannot be inserted into any route (no path)",
                "reachable requests",
            )
        break
    construction_total = float(routes.cost.sum())
    t_built = time.perf_counter()
    best_stop = routes.stop.copy()
    best_length = routes.length.copy()
    backup = new_routes(num_routes, routes.stop.shape[1], inst.driver_loc, 0)
    best_total = construction_total
    history = [(t_built - t0, best_total)]
    if progress is not None:
        progress(0.0, best_total)
    data = data._replace(neighbours=_neighbours(o, d, dist, min(NUM_NEIGHBOURS, max(1, num_req - 1))))
    scale = construction_total / num_req
    temp_start = TEMP_START * scale
    temp_end = TEMP_END * scale
    done = 0
    total_iter = iterations if iterations is not None else 2**62
    chunk = 64 if time_limit_s is not None else max(1, min(1000, (iterations or 1) // 100 or 1))
    budget_s = deadline - t_built
    while done < total_iter:
        now = time.perf_counter()
        if now >= deadline:
            break
        n = min(chunk, total_iter - done)
        if iterations is None:  # the temperature follows the clock
            frac0 = (now - t_built) / budget_s
            rate = done / max(1e-9, now - t_built)  # iterations per second so far
            frac1 = min(1.0, frac0 + n / rate / budget_s) if done else frac0
        else:  # the temperature follows the iteration count: reproducible
            frac0 = done / total_iter
            frac1 = (done + n) / total_iter
        t_a = temp_start * (temp_end / temp_start) ** frac0
        t_b = temp_start * (temp_end / temp_start) ** frac1
        status, n_done, _, new_best = _improve(
            n, t_a, t_b, GRANULAR, MAX_REMOVE, data, routes, backup, best_stop, best_length, best_total
        )
        done += n_done
        if status == _GROW:
            new_width = 2 * routes.stop.shape[1]
            routes = _widen(routes, new_width)
            backup = _widen(backup, new_width)
            best_stop = _widen(routes._replace(stop=best_stop), new_width).stop
        if new_best < best_total:
            best_total = new_best
            history.append((time.perf_counter() - t0, best_total))
        if progress is not None:
            p = done / total_iter if iterations is not None else 0.0
            if time_limit_s is not None:
                p = max(p, min(1.0, (time.perf_counter() - t0) / time_limit_s))
            progress(p, best_total)
        if iterations is None:
            spent = time.perf_counter() - now
            target_s = min(0.05, 0.005 * budget_s)
            if spent > 0 and n_done:
                chunk = max(1, min(4 * chunk, int(n_done * target_s / spent)))
    runtime = time.perf_counter() - t0
    out: list[tuple[int, list[int]]] = []
    for k in range(num_routes):
        n = int(best_length[k])
        if n > 1:
            codes = best_stop[k, 1:n]
            ids = inst.request_ids[np.abs(codes) - 1] * np.sign(codes)
            out.append((k, [int(x) for x in ids]))
    total = _recount(inst, out)
    return RideshareSolution(
        routes=out,
        total=total,
        runtime_s=runtime,
        iterations=done,
        compile_s=compile_s,
        history=history,
        construction_s=t_built - t0,
        construction_total=construction_total,
    )
