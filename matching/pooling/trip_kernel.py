"""Numba kernels of the shared taxi's trip search: the exact best stop order of a small trip,
the request-vehicle and request-request graphs, and the growth of trips by size.

Why hand-written kernels: a batch checks tens of thousands of candidate trips (sets of up to
``max_trip_size`` requests plus the taxi's on-board riders), each by an exact search over its
stop orders. The sets are tiny (at most a dozen stops) but many, and each check must be a few
microseconds; a general solver (OR-Tools routing) costs milliseconds per call to set up, and
:mod:`routing.schedule` works on a whole :class:`~routing.problem.PDProblem`'s node arrays, not
on a batch's request rows. So the order search is a depth-first search over flat arrays with
the pruning the rules allow (below), called from kernels that loop over taxis and candidates.

Data. :class:`TripArrays` holds one batch (or one :func:`~matching.pooling.trips.evaluate_trips`
call) as flat arrays, indexed by batch request row ``r`` and taxi row ``v``, and the travel
times the batch fetched: ``tt_vo[row[v], col_o[r]]`` from taxi ``v``'s start node to request
``r``'s origin, ``first_ob[r]`` from an on-board request's taxi to its destination, and
``tt_ss[a, b]`` between the batch's stop nodes (``stop_o[r]``, ``stop_d[r]`` index them).

Schedule of a stop order (the :class:`~matching.pooling.tripset.Trips` contract): the taxi
leaves its start node at ``start_time[v]``; at a stop the service starts on arrival (at a
pickup, not before ``earliest``), and the taxi leaves ``dwell`` seconds later. Cost = end of
the last stop - ``start_time[v]`` + ``round(delay_weight * sum of delays)`` (rounded half up),
a request's delay = max(0, drop-off - earliest - direct), over the trip's and the taxi's
on-board requests. Rules (``relax`` 0): pickup by ``latest_pickup``, drop-off by
``latest_dropoff``, ride (drop-off - pickup, or - ``picked_at`` on board) at most
``max_ride``, passengers at most ``capacity[v]``, at most ``max_parties`` parties on board,
and a solo party never on board with another. ``relax`` 1 waives the time rules (windows and
ride times), ``relax`` 2 every rule but the order of each pickup before its drop-off; they
price a taxi's EMPTY and CURRENT trips when those no longer meet the rules.

Pruning of the search (exact when travel times obey the triangle inequality, as shortest-path
times do): a stop that breaks a rule ends its branch (times only grow along an order); after
each stop, a branch ends when some stop left cannot be reached in time even directly, or when
a lower bound of its cost (the farthest stop left reached directly, the delays of the drop-offs
left reached directly) is no better than the best complete order so far.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from routing import UNREACHABLE
from routing.config import kernel, leaf_kernel

#: Kind of a stop in the search: a pickup, the drop-off of a trip's request, an on-board drop-off.
PICK, DROP, DROP_ONBOARD = 0, 1, 2

# Rows of the search's scratch array (``scratch[row, i]``; see :func:`new_scratch`).
_NODE, _REQ, _KIND, _PARTNER, _VISITED, _CHOICE, _LEAVE, _LOAD = 0, 1, 2, 3, 4, 5, 6, 7
_PARTIES, _SOLO, _DELAY, _SERVICE, _ORDER, _BEST_ORDER, _BEST_TIME = 8, 9, 10, 11, 12, 13, 14
_ROWS = 15

#: Cost of an order with an unreachable leg (a taxi's EMPTY or CURRENT trip on a broken network).
NO_ORDER_COST = UNREACHABLE


class TripArrays(NamedTuple):
    """One batch as the trip kernels read it (see the module docstring)."""

    stop_o: NDArray[np.int64]
    """[R] index of the origin among the stop nodes (-1 for an on-board request)."""
    stop_d: NDArray[np.int64]
    """[R] index of the destination among the stop nodes."""
    col_o: NDArray[np.int64]
    """[R] column of the origin in ``tt_vo`` (-1 for an on-board request)."""
    first_ob: NDArray[np.int64]
    """[R] on board: travel time from its taxi's start node to its destination (else -1)."""
    passengers: NDArray[np.int64]
    earliest: NDArray[np.int64]
    latest_pickup: NDArray[np.int64]
    latest_dropoff: NDArray[np.int64]
    max_ride: NDArray[np.int64]
    direct: NDArray[np.int64]
    picked_at: NDArray[np.int64]
    solo: NDArray[np.bool_]
    row: NDArray[np.int64]
    """[V] row of the taxi's start node in ``tt_vo``."""
    start_time: NDArray[np.int64]
    """[V] when the taxi is at its start node."""
    capacity: NDArray[np.int64]
    ob_ptr: NDArray[np.int64]
    """[V+1] taxi ``v``'s on-board requests are ``ob_req[ob_ptr[v]:ob_ptr[v+1]]``."""
    ob_req: NDArray[np.int64]
    cur_ptr: NDArray[np.int64]
    """[V+1] taxi ``v``'s assigned requests (its CURRENT trip) are ``cur_req[cur_ptr[v]:cur_ptr[v+1]]``, ascending."""
    cur_req: NDArray[np.int64]
    tt_vo: NDArray[np.int64]
    """[taxi start nodes, origins] travel times (s)."""
    tt_ss: NDArray[np.int64]
    """[stop nodes, stop nodes] travel times (s)."""
    dwell: int
    max_parties: int
    delay_weight: float


@kernel
def new_scratch(max_stops: int) -> NDArray[np.int64]:
    """The search's scratch for orders of up to ``max_stops`` stops."""
    return np.zeros((_ROWS, max_stops + 1), np.int64)


@leaf_kernel
def _round_half_up(x: float) -> int:
    return int(np.floor(x + 0.5))


@leaf_kernel
def _leg(a: TripArrays, v: int, prev: int, stop: int, sc: NDArray[np.int64]) -> int:
    """Travel time from the stop ``prev`` (-1: the taxi's start) to ``stop``."""
    if prev < 0:
        r = sc[_REQ, stop]
        if sc[_KIND, stop] == DROP_ONBOARD:
            return a.first_ob[r]
        if sc[_KIND, stop] == PICK:
            return a.tt_vo[a.row[v], a.col_o[r]]
        return UNREACHABLE  # a drop-off before its pickup: never asked
    return a.tt_ss[sc[_NODE, prev], sc[_NODE, stop]]


@leaf_kernel
def best_order(a: TripArrays, v: int, reqs: NDArray[np.int64], relax: int, sc: NDArray[np.int64]) -> int:
    """The cheapest stop order of taxi ``v`` serving ``reqs`` (and its on-board riders).

    Returns its cost, or -1 when no order meets the rules (``relax``: see the module
    docstring). The order is left in ``sc[_BEST_ORDER, :n]`` as stop codes (``2 * r`` pickup,
    ``2 * r + 1`` drop-off) with service times in ``sc[_BEST_TIME, :n]``, ``n = 2 * len(reqs)
    + on-board riders``. ``sc`` must have room for ``n + 1`` columns.
    """
    k = reqs.shape[0]
    ob0 = a.ob_ptr[v]
    n_ob = a.ob_ptr[v + 1] - ob0
    n = 2 * k + n_ob
    t0 = a.start_time[v]
    cap = a.capacity[v]
    load = 0
    solo = 0
    for j in range(k):
        r = reqs[j]
        sc[_NODE, 2 * j] = a.stop_o[r]
        sc[_REQ, 2 * j] = r
        sc[_KIND, 2 * j] = PICK
        sc[_PARTNER, 2 * j] = 2 * j + 1
        sc[_NODE, 2 * j + 1] = a.stop_d[r]
        sc[_REQ, 2 * j + 1] = r
        sc[_KIND, 2 * j + 1] = DROP
        sc[_PARTNER, 2 * j + 1] = 2 * j
    for j in range(n_ob):
        r = a.ob_req[ob0 + j]
        s = 2 * k + j
        sc[_NODE, s] = a.stop_d[r]
        sc[_REQ, s] = r
        sc[_KIND, s] = DROP_ONBOARD
        sc[_PARTNER, s] = -1
        sc[_SERVICE, s] = a.picked_at[r]
        load += a.passengers[r]
        if a.solo[r]:
            solo += 1
    if relax < 2 and (load > cap or n_ob > a.max_parties or (solo > 0 and n_ob > 1)):
        return -1
    for s in range(n):
        sc[_VISITED, s] = 0
    if n == 0:
        return 0
    best = -1
    d = 0
    sc[_CHOICE, 0] = -1
    sc[_LEAVE, 0] = t0
    sc[_LOAD, 0] = load
    sc[_PARTIES, 0] = n_ob
    sc[_SOLO, 0] = solo
    sc[_DELAY, 0] = 0
    w = a.delay_weight
    while d >= 0:
        # undo the stop tried last at this depth, then try the next one
        j = sc[_CHOICE, d]
        if j >= 0:
            sc[_VISITED, j] = 0
        prev = sc[_ORDER, d - 1] if d > 0 else -1
        j += 1
        moved = False
        while j < n:
            if sc[_VISITED, j] == 0 and (sc[_KIND, j] != DROP or sc[_VISITED, sc[_PARTNER, j]] == 1):
                sc[_CHOICE, d] = j
                leg = _leg(a, v, prev, j, sc)
                if leg >= UNREACHABLE and relax < 2:
                    j += 1
                    continue
                if leg >= UNREACHABLE:
                    leg = 0
                t = sc[_LEAVE, d] + leg
                r = sc[_REQ, j]
                kind = sc[_KIND, j]
                ld = sc[_LOAD, d]
                parties = sc[_PARTIES, d]
                nsolo = sc[_SOLO, d]
                delay = sc[_DELAY, d]
                ok = True
                if kind == PICK:
                    if t < a.earliest[r]:
                        t = a.earliest[r]
                    ld += a.passengers[r]
                    parties += 1
                    if a.solo[r]:
                        nsolo += 1
                    if relax < 1 and t > a.latest_pickup[r]:
                        ok = False
                    if relax < 2 and (ld > cap or parties > a.max_parties or (nsolo > 0 and parties > 1)):
                        ok = False
                else:
                    pick = sc[_SERVICE, sc[_PARTNER, j]] if kind == DROP else a.picked_at[r]
                    ld -= a.passengers[r]
                    parties -= 1
                    if a.solo[r]:
                        nsolo -= 1
                    if relax < 1 and (t > a.latest_dropoff[r] or t - pick > a.max_ride[r]):
                        ok = False
                    late = t - a.earliest[r] - a.direct[r]
                    if late > 0:
                        delay += late
                if ok:
                    sc[_SERVICE, j] = t
                    leave = t + a.dwell
                    # look ahead: every stop left reachable in time, and a lower bound of the cost
                    far = 0
                    lb_delay = delay
                    for s in range(n):
                        if sc[_VISITED, s] == 1 or s == j:
                            continue
                        tt = a.tt_ss[sc[_NODE, j], sc[_NODE, s]]
                        if tt >= UNREACHABLE:
                            if relax < 2:
                                ok = False
                                break
                            tt = 0
                        arrive = leave + tt
                        if tt + a.dwell > far:
                            far = tt + a.dwell
                        rs = sc[_REQ, s]
                        ks = sc[_KIND, s]
                        if ks == PICK:
                            if relax < 1 and arrive > a.latest_pickup[rs]:
                                ok = False
                                break
                        else:
                            if relax < 1 and arrive > a.latest_dropoff[rs]:
                                ok = False
                                break
                            if ks == DROP_ONBOARD or sc[_VISITED, sc[_PARTNER, s]] == 1 or sc[_PARTNER, s] == j:
                                pk = a.picked_at[rs] if ks == DROP_ONBOARD else sc[_SERVICE, sc[_PARTNER, s]]
                                if relax < 1 and arrive - pk > a.max_ride[rs]:
                                    ok = False
                                    break
                            late = arrive - a.earliest[rs] - a.direct[rs]
                            if late > 0:
                                lb_delay += late
                    if ok and best >= 0:
                        end = leave + far if d + 1 < n else leave
                        if end - t0 + _round_half_up(w * lb_delay) >= best:
                            ok = False
                if ok:
                    sc[_VISITED, j] = 1
                    sc[_ORDER, d] = j
                    if d + 1 == n:
                        cost = leave - t0 + _round_half_up(w * delay)
                        if best < 0 or cost < best:
                            best = cost
                            for s in range(n):
                                st = sc[_ORDER, s]
                                code = 2 * sc[_REQ, st] + (0 if sc[_KIND, st] == PICK else 1)
                                sc[_BEST_ORDER, s] = code
                                sc[_BEST_TIME, s] = sc[_SERVICE, st]
                        sc[_VISITED, j] = 0
                        j += 1
                        continue
                    sc[_LEAVE, d + 1] = leave
                    sc[_LOAD, d + 1] = ld
                    sc[_PARTIES, d + 1] = parties
                    sc[_SOLO, d + 1] = nsolo
                    sc[_DELAY, d + 1] = delay
                    sc[_CHOICE, d + 1] = -1
                    d += 1
                    moved = True
                    break
            j += 1
        if not moved:
            d -= 1
    return best


@leaf_kernel
def priced_order(
    a: TripArrays, v: int, reqs: NDArray[np.int64], allow_relax: bool, sc: NDArray[np.int64]
) -> tuple[int, bool]:
    """:func:`best_order` under the rules, or, when ``allow_relax`` and none meets them, with the
    time rules waived, then every rule: ``(cost, feasible)``; cost -1 when none (and not
    ``allow_relax``), :data:`NO_ORDER_COST` when no order exists at all (unreachable stops; the
    order left is then pickups and drop-offs in request order, times -1)."""
    cost = best_order(a, v, reqs, 0, sc)
    if cost >= 0 or not allow_relax:
        return cost, cost >= 0
    for relax in (1, 2):
        cost = best_order(a, v, reqs, relax, sc)
        if cost >= 0:
            return cost, False
    n = 0
    for j in range(a.ob_ptr[v], a.ob_ptr[v + 1]):
        sc[_BEST_ORDER, n] = 2 * a.ob_req[j] + 1
        sc[_BEST_TIME, n] = -1
        n += 1
    for j in range(reqs.shape[0]):
        for x in range(2):
            sc[_BEST_ORDER, n] = 2 * reqs[j] + x
            sc[_BEST_TIME, n] = -1
            n += 1
    return NO_ORDER_COST, False


@kernel
def rv_graph(
    a: TripArrays,
    candidates: NDArray[np.int64],
    active: NDArray[np.bool_],
    assigned_to: NDArray[np.int64],
    per_vehicle: int,
    per_request: int,
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """Request-vehicle edges ``(vehicle, request, travel time to the origin)``, by vehicle then request.

    A taxi ``v`` (active) and a candidate request ``r`` are linked when the taxi reaches the
    origin by ``latest_pickup[r]`` and ``r`` is among the ``per_vehicle`` earliest-reached
    requests of ``v`` and ``v`` among the ``per_request`` earliest arrivals at ``r`` (ties by
    index); a request assigned to ``v`` (``assigned_to[r] == v``) is always linked to it.
    """
    nv = a.row.shape[0]
    nc = candidates.shape[0]
    arrive = np.empty((nv, nc), np.int64)
    for v in range(nv):
        for c in range(nc):
            r = candidates[c]
            tt = a.tt_vo[a.row[v], a.col_o[r]]
            if not active[v] or tt >= UNREACHABLE or a.start_time[v] + tt > a.latest_pickup[r]:
                arrive[v, c] = -1
            else:
                arrive[v, c] = a.start_time[v] + tt
    keep_v = np.zeros((nv, nc), np.bool_)
    buf = np.empty(max(nv, nc), np.int64)
    for v in range(nv):
        m = 0
        for c in range(nc):
            if arrive[v, c] >= 0:
                buf[m] = c
                m += 1
        if m > per_vehicle:
            order = np.argsort(arrive[v, buf[:m]], kind="mergesort")
            for i in range(per_vehicle):
                keep_v[v, buf[order[i]]] = True
        else:
            for i in range(m):
                keep_v[v, buf[i]] = True
    keep = np.zeros((nv, nc), np.bool_)
    for c in range(nc):
        m = 0
        for v in range(nv):
            if arrive[v, c] >= 0:
                buf[m] = v
                m += 1
        col = np.empty(m, np.int64)
        for i in range(m):
            col[i] = arrive[buf[i], c]
        order = np.argsort(col, kind="mergesort")
        for i in range(min(m, per_request)):
            vv = buf[order[i]]
            keep[vv, c] = keep_v[vv, c]
        r = candidates[c]
        if assigned_to[r] >= 0 and active[assigned_to[r]]:
            keep[assigned_to[r], c] = True
    count = 0
    for v in range(nv):
        for c in range(nc):
            if keep[v, c]:
                count += 1
    ev = np.empty(count, np.int64)
    er = np.empty(count, np.int64)
    et = np.empty(count, np.int64)
    i = 0
    for v in range(nv):
        for c in range(nc):
            if keep[v, c]:
                ev[i] = v
                er[i] = candidates[c]
                et[i] = a.tt_vo[a.row[v], a.col_o[candidates[c]]]
                i += 1
    return ev, er, et


@leaf_kernel
def _pair_order_ok(
    a: TripArrays, i: int, j: int, second_pick_first: bool, j_drop_last: bool, max_capacity: int
) -> bool:
    """Whether the order i+, then (j+ i- or i- j+), then the last drop-off can meet both
    requests' rules, starting at i's origin at its earliest pickup; times are lower bounds of
    any taxi's (waits at pickups included), ride times are bounded below by the legs alone."""
    dw = a.dwell
    oi, di, oj, dj = a.stop_o[i], a.stop_d[i], a.stop_o[j], a.stop_d[j]
    pi = a.earliest[i]
    if pi > a.latest_pickup[i]:
        return False
    if second_pick_first:  # i+ j+ then drops
        if a.solo[i] or a.solo[j] or a.max_parties < 2:
            return False
        t1 = a.tt_ss[oi, oj]
        if t1 >= UNREACHABLE:
            return False
        pj = max(pi + dw + t1, a.earliest[j])
        if pj > a.latest_pickup[j]:
            return False
        if j_drop_last:  # i+ j+ i- j-
            t2 = a.tt_ss[oj, di]
            t3 = a.tt_ss[di, dj]
            if t2 >= UNREACHABLE or t3 >= UNREACHABLE:
                return False
            xi = pj + dw + t2
            xj = xi + dw + t3
            ride_i = dw + t1 + dw + t2
            ride_j = dw + t2 + dw + t3
        else:  # i+ j+ j- i-
            t2 = a.tt_ss[oj, dj]
            t3 = a.tt_ss[dj, di]
            if t2 >= UNREACHABLE or t3 >= UNREACHABLE:
                return False
            xj = pj + dw + t2
            xi = xj + dw + t3
            ride_j = dw + t2
            ride_i = dw + t1 + dw + t2 + dw + t3
        load = a.passengers[i] + a.passengers[j]
        if load > max_capacity:
            return False
    else:  # i+ i- j+ j-
        t2 = a.tt_ss[di, oj]
        if t2 >= UNREACHABLE:
            return False
        xi = pi + dw + a.tt_ss[oi, di]
        pj = max(xi + dw + t2, a.earliest[j])
        if pj > a.latest_pickup[j]:
            return False
        xj = pj + dw + a.tt_ss[oj, dj]
        ride_i = dw + a.tt_ss[oi, di]
        ride_j = dw + a.tt_ss[oj, dj]
    return (
        xi <= a.latest_dropoff[i] and xj <= a.latest_dropoff[j] and ride_i <= a.max_ride[i] and ride_j <= a.max_ride[j]
    )


@kernel
def rr_graph(a: TripArrays, candidates: NDArray[np.int64], max_capacity: int) -> NDArray[np.bool_]:
    """``[C, C]`` whether candidates ``c`` and ``d`` can share a taxi (of ``max_capacity`` seats).

    Some order of their four stops (each of the two first, then each interleaving or one after
    the other) meets both requests' rules in :func:`_pair_order_ok`'s relaxation, which no
    real taxi's schedule can beat: a pair that fails it is in no feasible trip.
    """
    nc = candidates.shape[0]
    out = np.zeros((nc, nc), np.bool_)
    for c in range(nc):
        i = candidates[c]
        for e in range(c + 1, nc):
            j = candidates[e]
            ok = False
            for first in range(2):
                x, y = (i, j) if first == 0 else (j, i)
                if (
                    _pair_order_ok(a, x, y, False, False, max_capacity)
                    or _pair_order_ok(a, x, y, True, True, max_capacity)
                    or _pair_order_ok(a, x, y, True, False, max_capacity)
                ):
                    ok = True
                    break
            out[c, e] = ok
            out[e, c] = ok
    return out


@kernel
def _grow(buf: NDArray[np.int64], need: int) -> NDArray[np.int64]:
    if need <= buf.shape[0]:
        return buf
    out = np.empty(max(need, 2 * buf.shape[0]), np.int64)
    out[: buf.shape[0]] = buf
    return out


@kernel
def fixed_trips(
    a: TripArrays, max_stops: int
) -> tuple[
    NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], NDArray[np.bool_], NDArray[np.int64], NDArray[np.int64]
]:
    """Every taxi's EMPTY trip, then its CURRENT trip if it has assigned requests, priced with
    the rules relaxed when they no longer hold: ``(vehicle, which (0 EMPTY, 1 CURRENT), cost,
    feasible, stop_ptr, stops_and_times [2, total])``."""
    nv = a.row.shape[0]
    sc = new_scratch(max_stops)
    m = 0
    for v in range(nv):
        m += 2 if a.cur_ptr[v + 1] > a.cur_ptr[v] else 1
    veh = np.empty(m, np.int64)
    which = np.empty(m, np.int64)
    cost = np.empty(m, np.int64)
    feas = np.empty(m, np.bool_)
    ptr = np.zeros(m + 1, np.int64)
    total = 0
    for v in range(nv):
        n_ob = a.ob_ptr[v + 1] - a.ob_ptr[v]
        total += n_ob + (n_ob + 2 * (a.cur_ptr[v + 1] - a.cur_ptr[v]) if a.cur_ptr[v + 1] > a.cur_ptr[v] else 0)
    st = np.empty((2, total), np.int64)
    t = 0
    empty = np.zeros(0, np.int64)
    for v in range(nv):
        for w in range(2):
            if w == 0:
                reqs = empty
            else:
                reqs = a.cur_req[a.cur_ptr[v] : a.cur_ptr[v + 1]]
                if reqs.shape[0] == 0:
                    break
            c, ok = priced_order(a, v, reqs, True, sc)
            n = 2 * reqs.shape[0] + a.ob_ptr[v + 1] - a.ob_ptr[v]
            veh[t] = v
            which[t] = w
            cost[t] = c
            feas[t] = ok
            ptr[t + 1] = ptr[t] + n
            for s in range(n):
                st[0, ptr[t] + s] = sc[_BEST_ORDER, s]
                st[1, ptr[t] + s] = sc[_BEST_TIME, s]
            t += 1
    return veh, which, cost, feas, ptr, st


@leaf_kernel
def _row_less(rows: NDArray[np.int64], i: int, key: NDArray[np.int64], skip: int) -> int:
    """Compare row ``i`` of ``rows`` with ``key`` without its element ``skip``: -1, 0 or 1."""
    k = rows.shape[1]
    p = 0
    for q in range(k):
        if p == skip:
            p += 1
        x = rows[i, q]
        y = key[p]
        if x < y:
            return -1
        if x > y:
            return 1
        p += 1
    return 0


@leaf_kernel
def _has_row(rows: NDArray[np.int64], lo: int, hi: int, key: NDArray[np.int64], skip: int) -> bool:
    """Whether ``key`` without its element ``skip`` is among the lexicographically sorted
    ``rows[lo:hi]`` (binary search)."""
    while lo < hi:
        mid = (lo + hi) // 2
        c = _row_less(rows, mid, key, skip)
        if c == 0:
            return True
        if c < 0:
            lo = mid + 1
        else:
            hi = mid
    return False


@kernel
def grow_level(
    a: TripArrays,
    k: int,
    vehicles: NDArray[np.int64],
    prev_ptr: NDArray[np.int64],
    prev_req: NDArray[np.int64],
    ext_ptr: NDArray[np.int64],
    ext_req: NDArray[np.int64],
    rr: NDArray[np.bool_],
    cand_index: NDArray[np.int64],
    room: NDArray[np.int64],
    max_stops: int,
) -> tuple[
    NDArray[np.int64],
    NDArray[np.int64],
    NDArray[np.int64],
    NDArray[np.bool_],
    NDArray[np.int64],
    NDArray[np.int64],
]:
    """The feasible trips of size ``k`` of ``vehicles`` (ascending), grown from size ``k - 1``.

    Taxi ``v``'s trips of size ``k - 1`` are the lexicographically sorted rows
    ``prev_req[prev_ptr[v]:prev_ptr[v+1]]`` (one empty row per taxi for ``k == 1``); its
    extensions ``ext_req[ext_ptr[v]:ext_ptr[v+1]]`` (ascending: its request-vehicle edges for
    ``k == 1``, then its feasible single-request trips). A candidate is a row ``p`` plus an
    extension ``y > max(p)`` such that every other ``k - 1``-subset is a trip of ``v`` too and,
    for ``k == 2``, the pair is in ``rr`` (``cand_index`` maps a request to its row there). Each
    candidate is checked by :func:`best_order`; when more than ``room[v]`` pass, the cheapest
    ``room[v]`` are kept (``room`` is decreased). Returns ``(vehicle, req [m, k], cost,
    is_current, stop_ptr, stops_and_times [2, total])``, by taxi, rows sorted.
    """
    sc = new_scratch(max_stops)
    cap = 64
    veh = np.empty(cap, np.int64)
    req = np.empty(cap * k, np.int64)
    cost = np.empty(cap, np.int64)
    cur = np.empty(cap, np.int64)
    ptr = np.zeros(cap + 1, np.int64)
    st0 = np.empty(cap * 4, np.int64)
    st1 = np.empty(cap * 4, np.int64)
    m = 0
    key = np.empty(k, np.int64)
    for vi in range(vehicles.shape[0]):
        v = vehicles[vi]
        if room[v] <= 0:
            continue
        m0 = m
        n = 2 * k + a.ob_ptr[v + 1] - a.ob_ptr[v]
        ncur = a.cur_ptr[v + 1] - a.cur_ptr[v]
        for p in range(prev_ptr[v], prev_ptr[v + 1]):
            last = prev_req[p, k - 2] if k >= 2 else -1
            for e in range(ext_ptr[v], ext_ptr[v + 1]):
                y = ext_req[e]
                if y <= last:
                    continue
                for q in range(k - 1):
                    key[q] = prev_req[p, q]
                key[k - 1] = y
                if k == 2 and not rr[cand_index[key[0]], cand_index[y]]:
                    continue
                ok = True
                for skip in range(k - 1):
                    if not _has_row(prev_req, prev_ptr[v], prev_ptr[v + 1], key, skip):
                        ok = False
                        break
                if not ok:
                    continue
                c = best_order(a, v, key, 0, sc)
                if c < 0:
                    continue
                if m + 1 > veh.shape[0]:
                    veh = _grow(veh, m + 1)
                    cost = _grow(cost, m + 1)
                    cur = _grow(cur, m + 1)
                    req = _grow(req, (m + 1) * k)
                    ptr = _grow(ptr, m + 2)
                if ptr[m] + n > st0.shape[0]:
                    st0 = _grow(st0, ptr[m] + n)
                    st1 = _grow(st1, ptr[m] + n)
                veh[m] = v
                cost[m] = c
                same = ncur == k
                for q in range(k):
                    req[m * k + q] = key[q]
                    if same and a.cur_req[a.cur_ptr[v] + q] != key[q]:
                        same = False
                cur[m] = 1 if same else 0
                for s in range(n):
                    st0[ptr[m] + s] = sc[_BEST_ORDER, s]
                    st1[ptr[m] + s] = sc[_BEST_TIME, s]
                ptr[m + 1] = ptr[m] + n
                m += 1
        found = m - m0
        if found > room[v]:
            # keep the cheapest room[v] (ties: the earlier row), in row order
            order = np.argsort(cost[m0:m], kind="mergesort")
            keep = np.zeros(found, np.bool_)
            for i in range(room[v]):
                keep[order[i]] = True
            w = m0
            for i in range(found):
                if keep[i]:
                    src = m0 + i
                    veh[w] = veh[src]
                    cost[w] = cost[src]
                    cur[w] = cur[src]
                    for q in range(k):
                        req[w * k + q] = req[src * k + q]
                    start = ptr[src]
                    for s in range(n):
                        st0[ptr[w] + s] = st0[start + s]
                        st1[ptr[w] + s] = st1[start + s]
                    ptr[w + 1] = ptr[w] + n
                    w += 1
            m = w
        room[v] -= m - m0
    stops = np.empty((2, ptr[m]), np.int64)
    stops[0] = st0[: ptr[m]]
    stops[1] = st1[: ptr[m]]
    return (
        veh[:m].copy(),
        req[: m * k].reshape((m, k)).copy(),
        cost[:m].copy(),
        cur[:m] == 1,
        ptr[: m + 1].copy(),
        stops,
    )


@kernel
def evaluate_sets(
    a: TripArrays,
    vehicles: NDArray[np.int64],
    set_ptr: NDArray[np.int64],
    set_req: NDArray[np.int64],
    allow_relax: NDArray[np.bool_],
    max_stops: int,
) -> tuple[NDArray[np.int64], NDArray[np.bool_], NDArray[np.int64], NDArray[np.int64]]:
    """Best order of each ``set_req[set_ptr[i]:set_ptr[i+1]]`` for taxi ``vehicles[i]``
    (:func:`priced_order`): ``(cost (-1: none), feasible, stop_ptr, stops_and_times [2, total])``."""
    m = vehicles.shape[0]
    sc = new_scratch(max_stops)
    cost = np.empty(m, np.int64)
    feas = np.empty(m, np.bool_)
    ptr = np.zeros(m + 1, np.int64)
    total = 0
    for i in range(m):
        v = vehicles[i]
        total += 2 * (set_ptr[i + 1] - set_ptr[i]) + a.ob_ptr[v + 1] - a.ob_ptr[v]
    st = np.empty((2, total), np.int64)
    for i in range(m):
        v = vehicles[i]
        reqs = set_req[set_ptr[i] : set_ptr[i + 1]]
        c, ok = priced_order(a, v, reqs, allow_relax[i], sc)
        cost[i] = c
        feas[i] = ok
        n = 2 * reqs.shape[0] + a.ob_ptr[v + 1] - a.ob_ptr[v] if c >= 0 else 0
        ptr[i + 1] = ptr[i] + n
        for s in range(n):
            st[0, ptr[i] + s] = sc[_BEST_ORDER, s]
            st[1, ptr[i] + s] = sc[_BEST_TIME, s]
    return cost, feas, ptr, st[:, : ptr[m]].copy()
