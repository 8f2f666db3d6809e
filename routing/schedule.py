"""Schedules of pickup-and-delivery routes and the best insertion of a request (Numba kernels).

Data layout (built from a :class:`routing.problem.PDProblem` by :func:`kernel_arrays`)::

    nf[_E | _L | _S | _RIDE, node]     float64: time window, service duration, and for a
                                        delivery the maximum ride time of its request
    ni[_KIND | _LOC | _PAIR | _REQ, node]  int32: node kind, location, partner node
                                        (pickup <-> delivery; -1 for an on-board delivery),
                                        request id
    dem[node, dim]                      int64: load change
    vf[_T0 | _MAXDUR, v]                float64: earliest start at the start node, max duration
    vi[_START | _END, v]                int32: start node, end node (-1: open route)
    cap[v, dim], load0[v, dim]          int64: capacity, load on board at the start
    tt[loc, loc], cc[loc, loc]          float64: travel time and travel cost

A route of vehicle ``v`` is ``routes[v, 0:rlen[v]]``: its start node, the nodes it visits,
then its end node if it has one. Positions are indices into that row; "insert at ``i``"
places the new node right before the node now at position ``i`` (MATSim's convention:
position 1 = right after the vehicle's current position).

Schedule semantics. Service at a node starts at ``B`` with ``tw_early <= B <= tw_late``;
the vehicle leaves after the service duration and may wait. A route is feasible if some
schedule meets every time window, every ride limit (``B[delivery] - (B[pickup] +
service[pickup]) <= max_ride``) and the route's maximum duration. Those are difference
constraints, so the *earliest* feasible schedule exists whenever any does: it is computed
by :func:`route_schedule` as the least fixed point (forward propagation, then raising a
pickup or the start whenever a ride or duration limit needs it, repeated; Bellman-Ford in
disguise). Vehicles therefore leave as early as possible, except that they wait before a
pickup when leaving earlier would make a rider's ride too long.

Insertion. :func:`best_insertion` evaluates every pair of positions for a request's
pickup and delivery. For each pair it first applies exact-or-relaxed O(1) tests from
quantities prepared once per route in O(n) (:func:`prepare_route`): capacity (exact), the
new nodes' own time windows with the earliest possible times, the forward time slack of
the existing nodes (Savelsbergh; waiting absorbs a delay), and a lower bound of the new
ride. Only pairs that pass are candidates; they are then checked exactly, cheapest lower
bound first, by recomputing the schedule of the changed route, until no remaining lower
bound can beat the best exact cost (branch and bound). The result is exact: the same as
simulating every insertion, which the tests check against a brute-force oracle.

Cost of an insertion: ``w[_W_COST] * added travel cost + w[_W_DELAY] * sum over the other
riders' pickups and drop-offs of (passengers x delay of that stop) + w[_W_WAIT] * new
passengers x (pickup time - earliest pickup)``. Offline solvers use ``w = (1, 0, 0)``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .config import kernel
from .problem import DELIVERY, END, PICKUP, START, PDProblem

# Row indices of the packed arrays (see the module docstring).
_E, _L, _S, _RIDE = 0, 1, 2, 3
_KIND, _LOC, _PAIR, _REQ = 0, 1, 2, 3
_T0, _MAXDUR = 0, 1
_START, _END = 0, 1
# Route-state rows: service start, arrival, wait, prefix of waits, suffix slack, prefix of
# (service + travel) up to the arrival at a position, suffix minimum of the windows' ends.
_B, _A, _W, _CW, _SL, _TS, _LMIN = 0, 1, 2, 3, 4, 5, 6
#: rows of the route-state array ``rs`` (shape ``(RS_ROWS, vehicles, longest route)``)
RS_ROWS = 7
# Cost weights.
_W_COST, _W_DELAY, _W_WAIT = 0, 1, 2

EPS = 1e-6
BIG = 1e18

KIND_START, KIND_END, KIND_PICKUP, KIND_DELIVERY = START, END, PICKUP, DELIVERY


def kernel_arrays(problem: PDProblem) -> dict[str, NDArray[np.generic]]:
    """Pack a problem into the kernels' arrays (see the module docstring)."""
    n = problem.num_nodes
    nf = np.zeros((4, n), np.float64)
    nf[_E] = problem.tw_early
    nf[_L] = problem.tw_late
    nf[_S] = problem.service
    nf[_RIDE] = np.inf
    ni = np.full((4, n), -1, np.int32)
    ni[_KIND] = problem.kind
    ni[_LOC] = problem.node_location
    ni[_REQ] = problem.request_of_node()
    nf[_RIDE, problem.delivery] = problem.max_ride
    has = problem.pickup >= 0
    ni[_PAIR, problem.pickup[has]] = problem.delivery[has]
    ni[_PAIR, problem.delivery] = problem.pickup
    k = problem.num_vehicles
    vf = np.zeros((2, k), np.float64)
    vf[_T0] = problem.tw_early[problem.vehicle_start]
    vf[_MAXDUR] = problem.max_duration
    vi = np.zeros((2, k), np.int32)
    vi[_START] = problem.vehicle_start
    vi[_END] = problem.vehicle_end
    return {
        "nf": nf,
        "ni": ni,
        "dem": np.ascontiguousarray(problem.demand),
        "vf": vf,
        "vi": vi,
        "cap": np.ascontiguousarray(problem.capacity),
        "load0": np.ascontiguousarray(problem.start_load),
        "tt": problem.travel_time,
        "cc": problem.travel_cost,
    }


# ============================================================================ schedules
@kernel
def route_schedule(seq, m, t0, maxdur, nf, ni, tt, out_b, pos_scratch):
    """Earliest feasible schedule of the node sequence ``seq[0:m]`` (``seq[0]`` = start node).

    ``t0`` is the earliest service start at the start node; ``maxdur`` the maximum time
    between service start at the first and at the last node. Writes the service start
    times to ``out_b[0:m]`` and returns True if the sequence is time-feasible (windows, ride
    limits of the requests whose pickup and delivery are both in it, duration). Delivery
    nodes whose pickup is not in ``seq`` (on-board riders) carry their limit in their window.
    ``pos_scratch`` (one int per node, all -1) is used and restored.
    """
    for k in range(m):
        node = seq[k]
        pos_scratch[node] = k
        out_b[k] = nf[_E, node]
    if out_b[0] < t0:
        out_b[0] = t0
    feasible = True
    for _rounds in range(m + 2):
        # Forward: as early as the predecessor allows.
        for k in range(1, m):
            prev = seq[k - 1]
            arr = out_b[k - 1] + nf[_S, prev] + tt[ni[_LOC, prev], ni[_LOC, seq[k]]]
            if arr > out_b[k]:
                out_b[k] = arr
        for k in range(m):
            if out_b[k] > nf[_L, seq[k]] + EPS:
                feasible = False
                break
        if not feasible:
            break
        # Raise pickups (or the start) that leave too early for a ride / duration limit.
        changed = False
        for k in range(1, m):
            node = seq[k]
            if ni[_KIND, node] == KIND_DELIVERY:
                p = ni[_PAIR, node]
                if p >= 0:
                    a = pos_scratch[p]
                    if a >= 0 and a < k:
                        need = out_b[k] - nf[_S, p] - nf[_RIDE, node]
                        if need > out_b[a] + EPS:
                            out_b[a] = need
                            changed = True
        if m > 1 and out_b[m - 1] - out_b[0] > maxdur + EPS:
            out_b[0] = out_b[m - 1] - maxdur
            changed = True
        if not changed:
            break
    else:
        feasible = False  # still changing after m + 2 rounds: a positive cycle
    for k in range(m):
        pos_scratch[seq[k]] = -1
    return feasible


@kernel
def sequence_is_valid(seq, m, v, nf, ni, dem, cap, load0, pos_scratch):
    """Capacity and pairing of a node sequence for vehicle ``v`` (times not checked).

    Every pickup must be followed by its delivery; a delivery whose pickup is elsewhere
    must be an on-board one (pickup -1). Loads start at ``load0[v]``.
    """
    dims = dem.shape[1]
    load = load0[v].copy()
    ok = True
    for k in range(m):
        pos_scratch[seq[k]] = k
    for k in range(1, m):
        node = seq[k]
        kind = ni[_KIND, node]
        if kind == KIND_PICKUP:
            d = ni[_PAIR, node]
            if d < 0 or pos_scratch[d] < k:
                ok = False
        elif kind == KIND_DELIVERY:
            p = ni[_PAIR, node]
            if p >= 0 and (pos_scratch[p] < 0 or pos_scratch[p] > k):
                ok = False
        for d in range(dims):
            load[d] += dem[node, d]
            if load[d] > cap[v, d] or load[d] < 0:
                ok = False
    for k in range(m):
        pos_scratch[seq[k]] = -1
    return ok


@kernel
def prepare_route(v, routes, rlen, nf, ni, dem, vf, load0, tt, rs, rload, pos_scratch):
    """Compute the schedule and the insertion quantities of route ``v`` into ``rs``/``rload``.

    Returns False (and leaves garbage) if the route is not time-feasible.
    """
    m = rlen[v]
    seq = routes[v]
    ok = route_schedule(seq, m, vf[_T0, v], vf[_MAXDUR, v], nf, ni, tt, rs[_B, v], pos_scratch)
    dims = dem.shape[1]
    for d in range(dims):
        rload[v, 0, d] = load0[v, d]
    rs[_A, v, 0] = rs[_B, v, 0]
    rs[_W, v, 0] = 0.0
    rs[_CW, v, 0] = 0.0
    rs[_TS, v, 0] = 0.0
    for k in range(1, m):
        prev = seq[k - 1]
        node = seq[k]
        leg = nf[_S, prev] + tt[ni[_LOC, prev], ni[_LOC, node]]
        rs[_A, v, k] = rs[_B, v, k - 1] + leg
        w = rs[_B, v, k] - rs[_A, v, k]
        rs[_W, v, k] = w if w > 0.0 else 0.0
        rs[_CW, v, k] = rs[_CW, v, k - 1] + rs[_W, v, k]
        rs[_TS, v, k] = rs[_TS, v, k - 1] + leg
        for d in range(dims):
            rload[v, k, d] = rload[v, k - 1, d] + dem[node, d]
    # Suffix minima of (waits so far + slack to the window's end) and of the windows' ends.
    best = BIG
    lmin = BIG
    for k in range(m - 1, -1, -1):
        late = nf[_L, seq[k]]
        val = rs[_CW, v, k] + late - rs[_B, v, k]
        if val < best:
            best = val
        rs[_SL, v, k] = best
        if late < lmin:
            lmin = late
        rs[_LMIN, v, k] = lmin
    return ok


@kernel
def route_cost(v, routes, rlen, ni, cc):
    """Total travel cost of route ``v`` (0 for a route that visits nothing)."""
    m = rlen[v]
    total = 0.0
    if m <= 2 and (m < 2 or ni[_KIND, routes[v, m - 1]] == KIND_END):
        return 0.0
    for k in range(1, m):
        total += cc[ni[_LOC, routes[v, k - 1]], ni[_LOC, routes[v, k]]]
    return total


# ============================================================================ insertion
@kernel
def _build_candidate(seq, m, p, d, i, j, out):
    """Write ``seq`` with ``p`` inserted before position ``i`` and ``d`` before ``j`` (j >= i).

    ``p < 0`` inserts only ``d``. Returns the new length.
    """
    c = 0
    for k in range(m + 1):
        if k == i and p >= 0:
            out[c] = p
            c += 1
        if k == j:
            out[c] = d
            c += 1
        if k < m:
            out[c] = seq[k]
            c += 1
    return c


@kernel
def _exact_cost(v, seq, m, cand, cm, new_b, i, j, has_p, delta_cost, w, nf, ni, dem, rs):
    """Cost of a checked candidate: travel cost plus the delay and wait terms."""
    cost = w[_W_COST] * delta_cost
    if w[_W_DELAY] > 0.0:
        shift = 0
        for k in range(1, cm):
            node = cand[k]
            if (has_p and k == i) or k == j + (1 if has_p else 0):
                shift += 1
                continue
            old = k - shift
            delay = new_b[k] - rs[_B, v, old]
            if delay > EPS:
                pax = dem[node, 0]
                if pax < 0:
                    pax = -pax
                cost += w[_W_DELAY] * delay * pax
    if w[_W_WAIT] > 0.0 and has_p:
        p = cand[i]
        cost += w[_W_WAIT] * dem[p, 0] * (new_b[i] - nf[_E, p])
    return cost


@kernel
def insertion_candidates(v, p, d, routes, rlen, nf, ni, dem, vi, cap, tt, cc, rs, rload, w, cand_lb, cand_i, cand_j):
    """The candidate insertions of pickup ``p`` (or -1) and delivery ``d`` into route ``v``: the
    position pairs that pass the O(1) tests, with a lower bound of their cost, written to
    ``cand_lb``, ``cand_i``, ``cand_j`` (size >= (m + 1)^2); returns how many.

    The route's state must be prepared (:func:`prepare_route`).
    """
    m = rlen[v]
    seq = routes[v]
    dims = dem.shape[1]
    closed = vi[_END, v] >= 0
    last = m - 1 if closed else m  # last position before which a node may be inserted
    has_p = p >= 0
    loc_d = ni[_LOC, d]
    nc = 0
    if has_p:
        loc_p = ni[_LOC, p]
        e_p = nf[_E, p]
        l_p = nf[_L, p]
        s_p = nf[_S, p]
        e_d = nf[_E, d]
        l_d = nf[_L, d]
        ride = nf[_RIDE, d]
        t_pd = tt[loc_p, loc_d]
        # A stop that must be served before the pickup can even end cannot follow it: skip every
        # position with such a stop at or after it (a long plan and a request late in it). The
        # suffix minimum of the windows' ends only grows along the route: a binary search.
        first = 1
        right = last if last < m else m - 1  # the last position with a stop at or after it
        if right < 1:
            pass  # an open route without stops: nothing follows the pickup
        elif rs[_LMIN, v, right] + EPS < e_p + s_p:
            first = right + 1  # only an open route's end is left, if any
        else:
            left = 1
            while left < right:
                mid = (left + right) // 2
                if rs[_LMIN, v, mid] + EPS < e_p + s_p:
                    left = mid + 1
                else:
                    right = mid
            first = left
        for i in range(first, last + 1):
            prev = seq[i - 1]
            if rs[_B, v, i - 1] > l_p + EPS:
                break  # service starts only get later along the route
            loc_prev = ni[_LOC, prev]
            # Capacity right after the pickup.
            fits = True
            for q in range(dims):
                if rload[v, i - 1, q] + dem[p, q] > cap[v, q]:
                    fits = False
            if not fits:
                continue
            b_p = rs[_B, v, i - 1] + nf[_S, prev] + tt[loc_prev, loc_p]
            if b_p < e_p:
                b_p = e_p
            if b_p > l_p + EPS:
                continue
            dep_p = b_p + s_p
            wait_lb = w[_W_WAIT] * dem[p, 0] * (b_p - e_p)
            # --- delivery right after the pickup (j == i)
            if t_pd <= ride + EPS:
                b_d = dep_p + t_pd
                if b_d < e_d:
                    b_d = e_d
                if b_d <= l_d + EPS:
                    ok = True
                    dcost = cc[loc_prev, loc_p] + cc[loc_p, loc_d]
                    if i < m:
                        succ = seq[i]
                        loc_s = ni[_LOC, succ]
                        arr = b_d + nf[_S, d] + tt[loc_d, loc_s]
                        delta = arr - rs[_A, v, i]
                        slack = rs[_SL, v, i] - rs[_CW, v, i - 1]
                        if delta > slack + EPS:
                            ok = False
                        dcost += cc[loc_d, loc_s] - cc[loc_prev, loc_s]
                    if ok:
                        cand_lb[nc] = w[_W_COST] * dcost + wait_lb
                        cand_i[nc] = i
                        cand_j[nc] = i
                        nc += 1
            # --- delivery later (j > i): needs a successor of the pickup.
            if i >= last:
                continue
            succ_i = seq[i]
            loc_si = ni[_LOC, succ_i]
            delta1 = dep_p + tt[loc_p, loc_si] - rs[_A, v, i]
            base_cost = cc[loc_prev, loc_p] + cc[loc_p, loc_si] - cc[loc_prev, loc_si]
            run_min = BIG
            cw_before = rs[_CW, v, i - 1]
            for j in range(i + 1, last + 1):
                k = j - 1  # the node now right before the delivery
                node_k = seq[k]
                if rs[_B, v, k] > l_d + EPS:
                    break
                val = rs[_CW, v, k] + nf[_L, node_k] - rs[_B, v, k]
                if val < run_min:
                    run_min = val
                if delta1 > run_min - cw_before + EPS:
                    break  # a node in between would be late; later j only adds nodes
                over = False
                for q in range(dims):
                    if rload[v, k, q] + dem[p, q] > cap[v, q]:
                        over = True
                if over:
                    break
                loc_k = ni[_LOC, node_k]
                ride_lb = tt[loc_p, loc_si] + rs[_TS, v, k] - rs[_TS, v, i] + nf[_S, node_k] + tt[loc_k, loc_d]
                if ride_lb > ride + EPS:
                    break  # the ride only gets longer for later j
                shift = delta1 - (rs[_CW, v, k] - cw_before)
                if shift < 0.0:
                    shift = 0.0
                b_d = rs[_B, v, k] + shift + nf[_S, node_k] + tt[loc_k, loc_d]
                if b_d < e_d:
                    b_d = e_d
                if b_d > l_d + EPS:
                    continue
                dcost = base_cost + cc[loc_k, loc_d]
                ok = True
                if j < m:
                    succ = seq[j]
                    loc_s = ni[_LOC, succ]
                    arr = b_d + nf[_S, d] + tt[loc_d, loc_s]
                    delta2 = arr - rs[_A, v, j]
                    if delta2 > rs[_SL, v, j] - rs[_CW, v, j - 1] + EPS:
                        ok = False
                    dcost += cc[loc_d, loc_s] - cc[loc_k, loc_s]
                if ok:
                    cand_lb[nc] = w[_W_COST] * dcost + wait_lb
                    cand_i[nc] = i
                    cand_j[nc] = j
                    nc += 1
    else:
        # Only a delivery (an on-board rider): every position.
        e_d = nf[_E, d]
        l_d = nf[_L, d]
        for j in range(1, last + 1):
            prev = seq[j - 1]
            loc_prev = ni[_LOC, prev]
            b_d = rs[_B, v, j - 1] + nf[_S, prev] + tt[loc_prev, loc_d]
            if b_d < e_d:
                b_d = e_d
            if b_d > l_d + EPS:
                continue
            dcost = cc[loc_prev, loc_d]
            ok = True
            if j < m:
                succ = seq[j]
                loc_s = ni[_LOC, succ]
                arr = b_d + nf[_S, d] + tt[loc_d, loc_s]
                if arr - rs[_A, v, j] > rs[_SL, v, j] - rs[_CW, v, j - 1] + EPS:
                    ok = False
                dcost += cc[loc_d, loc_s] - cc[loc_prev, loc_s]
            if ok:
                cand_lb[nc] = w[_W_COST] * dcost
                cand_i[nc] = j
                cand_j[nc] = j
                nc += 1
    return nc


@kernel
def cheapest_candidate(v, p, d, routes, rlen, nf, ni, dem, vf, tt, cc, rs, w, cand_lb, cand_i, cand_j, nc, buf_seq,
                       buf_b, pos_scratch, upper):  # fmt: skip
    """The cheapest of the ``nc`` candidates of :func:`insertion_candidates` that is feasible and
    costs less than ``upper``, as ``(cost, i, j)`` (``(inf, -1, -1)`` if none): branch and bound,
    checking candidates exactly (the changed route's schedule) cheapest lower bound first, until
    no lower bound left can beat the best. Consumes the candidates (their bounds are overwritten).
    """
    m = rlen[v]
    seq = routes[v]
    has_p = p >= 0
    # Branch and bound over the candidates, cheapest lower bound first.
    best_cost = np.inf
    best_i = -1
    best_j = -1
    exact_needed = w[_W_DELAY] > 0.0 or w[_W_WAIT] > 0.0
    for _ in range(nc):
        arg = -1
        lo = np.inf
        for c in range(nc):
            if cand_lb[c] < lo:
                lo = cand_lb[c]
                arg = c
        if arg < 0 or lo >= best_cost - EPS or lo >= upper:
            break
        i = cand_i[arg]
        j = cand_j[arg]
        cand_lb[arg] = np.inf
        cm = _build_candidate(seq, m, p, d, i, j, buf_seq)
        if not route_schedule(buf_seq, cm, vf[_T0, v], vf[_MAXDUR, v], nf, ni, tt, buf_b, pos_scratch):
            continue
        if exact_needed:
            # The travel-cost part, exactly, from the two sequences.
            dc = 0.0
            for k in range(1, cm):
                dc += cc[ni[_LOC, buf_seq[k - 1]], ni[_LOC, buf_seq[k]]]
            for k in range(1, m):
                dc -= cc[ni[_LOC, seq[k - 1]], ni[_LOC, seq[k]]]
            cost = _exact_cost(v, seq, m, buf_seq, cm, buf_b, i, j, has_p, dc, w, nf, ni, dem, rs)
        else:
            cost = lo
        if cost < best_cost - EPS:
            best_cost = cost
            best_i = i
            best_j = j
    return best_cost, best_i, best_j


@kernel
def insertion_below(v, p, d, routes, rlen, nf, ni, dem, vf, vi, cap, tt, cc, rs, rload, w, cand_lb, cand_i, cand_j,
                    buf_seq, buf_b, pos_scratch, upper):  # fmt: skip
    """Cheapest feasible insertion of pickup ``p`` (or -1) and delivery ``d`` into route ``v``.

    The route's state must be prepared (:func:`prepare_route`). Returns ``(cost, i, j)``
    where ``i`` / ``j`` are the positions before which the pickup / delivery go (``j >= i``;
    equal when the delivery directly follows the pickup), or ``(inf, -1, -1)``. ``cand_*``
    (size >= (m + 1)^2), ``buf_seq`` and ``buf_b`` (size >= m + 2) are scratch.

    With ``upper``, an insertion is only looked for if it may cost less than ``upper``: candidates
    whose lower bound is at or above it are not checked (``(inf, -1, -1)`` if none is left).
    """
    nc = insertion_candidates(
        v, p, d, routes, rlen, nf, ni, dem, vi, cap, tt, cc, rs, rload, w, cand_lb, cand_i, cand_j
    )
    return cheapest_candidate(v, p, d, routes, rlen, nf, ni, dem, vf, tt, cc, rs, w, cand_lb, cand_i, cand_j, nc,
                              buf_seq, buf_b, pos_scratch, upper)  # fmt: skip


@kernel
def best_insertion(v, p, d, routes, rlen, nf, ni, dem, vf, vi, cap, tt, cc, rs, rload, w, cand_lb, cand_i, cand_j,
                   buf_seq, buf_b, pos_scratch):  # fmt: skip
    """:func:`insertion_below` without a bound: the cheapest feasible insertion, if any."""
    return insertion_below(v, p, d, routes, rlen, nf, ni, dem, vf, vi, cap, tt, cc, rs, rload, w, cand_lb, cand_i,
                           cand_j, buf_seq, buf_b, pos_scratch, np.inf)  # fmt: skip


@kernel
def fleet_insertions(cands, p, d, routes, rlen, nf, ni, dem, vf, vi, cap, tt, cc, rs, rload, w, out_cost, out_i, out_j,
                     cand_lb, cand_i, cand_j, buf_seq, buf_b, pos_scratch, first_best_only):  # fmt: skip
    """Best insertion of one request into each candidate vehicle (see :func:`best_insertion`).

    Writes ``out_cost[k], out_i[k], out_j[k]`` for vehicle ``cands[k]`` (cost ``inf`` when none).
    The scratch arrays are as :func:`best_insertion` needs them for the longest candidate route
    (the caller keeps them between calls: a live dispatcher quotes thousands of times a second).

    With ``first_best_only`` only the first vehicle of least cost matters (``argmin`` of the
    costs): every vehicle's candidates are listed first, then the vehicles are checked exactly in
    the order of their cheapest lower bound, each only below the cheapest cost found so far (with
    a small margin); the check stops at the first vehicle whose lower bound cannot beat it. A
    vehicle not checked gets ``inf``; the argmin is the same as with every cost computed, since a
    lower bound never exceeds the cost. (A busy fleet has one or two vehicles worth checking: the
    exact check recomputes a route's schedule, the listing does not.)
    """
    n = cands.shape[0]
    if not first_best_only:
        for k in range(n):
            c, i, j = insertion_below(cands[k], p, d, routes, rlen, nf, ni, dem, vf, vi, cap, tt, cc, rs, rload, w,
                                      cand_lb, cand_i, cand_j, buf_seq, buf_b, pos_scratch, np.inf)  # fmt: skip
            out_cost[k] = c
            out_i[k] = i
            out_j[k] = j
        return
    low = np.empty(n)
    for k in range(n):
        out_cost[k] = np.inf
        out_i[k] = -1
        out_j[k] = -1
        nc = insertion_candidates(cands[k], p, d, routes, rlen, nf, ni, dem, vi, cap, tt, cc, rs, rload, w, cand_lb,
                                  cand_i, cand_j)  # fmt: skip
        lo = np.inf
        for c in range(nc):
            if cand_lb[c] < lo:
                lo = cand_lb[c]
        low[k] = lo
    best = np.inf
    for k in np.argsort(low, kind="mergesort"):
        upper = best + 1e-9
        if low[k] >= upper:
            break  # this and every later vehicle: no candidate below the best
        c, i, j = insertion_below(cands[k], p, d, routes, rlen, nf, ni, dem, vf, vi, cap, tt, cc, rs, rload, w,
                                  cand_lb, cand_i, cand_j, buf_seq, buf_b, pos_scratch, upper)  # fmt: skip
        if c < best:
            best = c
        out_cost[k] = c
        out_i[k] = i
        out_j[k] = j


@kernel
def schedule_with_insertion(v, p, d, i, j, routes, rlen, nf, ni, vf, tt, out_seq, out_b, pos_scratch):
    """Node sequence and earliest schedule of route ``v`` with ``p``/``d`` inserted at ``i``/``j``
    (``p`` lands at position ``i``, ``d`` at ``j + 1``; ``pos_scratch`` as :func:`route_schedule`
    needs it).

    Returns the new length (0 if the result is not time-feasible).
    """
    m = rlen[v]
    cm = _build_candidate(routes[v], m, p, d, i, j, out_seq)
    if not route_schedule(out_seq, cm, vf[_T0, v], vf[_MAXDUR, v], nf, ni, tt, out_b, pos_scratch):
        return 0
    return cm
