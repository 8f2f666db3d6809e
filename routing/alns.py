"""Adaptive large neighbourhood search (ALNS) for pickup-and-delivery problems, in Numba.

One iteration removes some requests from the current solution (destroy) and puts them
back (repair); the result is accepted by simulated annealing, following Ropke & Pisinger
(2006). Operators:

* destroy — random, worst (largest saving), related (Shaw: close in space and time to a
  random seed request), whole routes, and strings (after Christiaens & Vanden Berghe's
  SISR: a run of consecutive stops from each of several routes near a seed request);
* repair — greedy (cheapest insertion first), regret-2 and regret-3, greedy and
  regret-2 with noise on the insertion costs, and sequential (each request in turn at its
  cheapest place, in random order or by pickup window).

Every new best solution is polished by two local searches: relocating single requests,
then moving a request into another route by ejecting one of that route's requests
(:func:`eject_polish`). Every candidate (with ``ip[IP_BLOCKS]``) gets a third,
:func:`block_polish`: exchanging blocks of stops between routes at points where the
vehicles are empty (CROSS exchange, including 2-opt* on the tails).

Operator weights adapt to how often each operator yields a new best, a better or an
accepted solution. A request that cannot be inserted stays unassigned at a large penalty,
so the search may pass through incomplete solutions. Every insertion is checked exactly by
:mod:`routing.schedule`.

The iteration kernel works in place on the current solution and keeps a backup of every
route it touches, so rejecting a candidate restores only those routes. The Python driver
(:mod:`routing.solve`) runs it in short batches between deadline checks.
"""

from __future__ import annotations

import numpy as np

from .config import kernel
from .schedule import (
    _B,
    _E,
    _KIND,
    _L,
    _LOC,
    _MAXDUR,
    _PAIR,
    _REQ,
    _S,
    _T0,
    EPS,
    KIND_DELIVERY,
    KIND_PICKUP,
    best_insertion,
    prepare_route,
    route_cost,
    route_schedule,
    sequence_is_valid,
)

D_RANDOM, D_WORST, D_RELATED, D_ROUTE, D_STRING = 0, 1, 2, 3, 4
NUM_DESTROY = 5
R_GREEDY, R_REGRET2, R_REGRET3, R_GREEDY_NOISE, R_REGRET2_NOISE, R_SEQUENTIAL = 0, 1, 2, 3, 4, 5
NUM_REPAIR = 6
DESTROY_NAMES = ("random", "worst", "related", "route", "string")
REPAIR_NAMES = ("greedy", "regret-2", "regret-3", "greedy+noise", "regret-2+noise", "sequential")
SIGMA_BEST, SIGMA_BETTER, SIGMA_ACCEPTED = 33.0, 9.0, 13.0

# Integer parameters (ip) and float parameters (fp) of alns_iterations.
IP_QMIN, IP_QMAX, IP_SEGMENT, IP_POLISH, IP_BLOCKS = 0, 1, 2, 3, 4  # polish: 0 none, 1 relocate, 2 relocate + ejection
FP_PENALTY, FP_NOISE, FP_REACTION, FP_TEMPERATURE = 0, 1, 2, 3


@kernel
def seed_rng(seed):
    """Seed Numba's random generator (separate from NumPy's)."""
    np.random.seed(seed)


# ============================================================================ route edits
@kernel
def _touch(v, touched, routes, rlen, rs, rload, bk_routes, bk_rlen, bk_rs, bk_rload):
    """Back up route ``v`` before its first change in this iteration."""
    if touched[v]:
        return
    touched[v] = 1
    m = rlen[v]
    bk_rlen[v] = m
    bk_routes[v, :m] = routes[v, :m]
    bk_rs[:, v, :m] = rs[:, v, :m]
    bk_rload[v, :m, :] = rload[v, :m, :]


@kernel
def _restore(touched, routes, rlen, rs, rload, bk_routes, bk_rlen, bk_rs, bk_rload):
    for v in range(touched.shape[0]):
        if touched[v]:
            m = bk_rlen[v]
            rlen[v] = m
            routes[v, :m] = bk_routes[v, :m]
            rs[:, v, :m] = bk_rs[:, v, :m]
            rload[v, :m, :] = bk_rload[v, :m, :]


@kernel
def insert_nodes(v, p, d, i, j, routes, rlen):
    """Insert pickup ``p`` (or -1) before position ``i`` and delivery ``d`` before ``j`` (j >= i)."""
    m = rlen[v]
    has_p = p >= 0
    extra = 2 if has_p else 1
    for k in range(m - 1, -1, -1):
        if k >= j:
            routes[v, k + extra] = routes[v, k]
        elif has_p and k >= i:
            routes[v, k + 1] = routes[v, k]
    if has_p:
        routes[v, i] = p
        routes[v, j + 1] = d
    else:
        routes[v, j] = d
    rlen[v] = m + extra


@kernel
def remove_marked(v, routes, rlen, mark):
    """Drop from route ``v`` every node with ``mark[node] != 0``."""
    c = 0
    for k in range(rlen[v]):
        node = routes[v, k]
        if mark[node] == 0:
            routes[v, c] = node
            c += 1
    rlen[v] = c


@kernel
def solution_cost(routes, rlen, ni, cc, assign, penalty):
    """Travel cost of all routes plus ``penalty`` per unassigned request."""
    total = 0.0
    for v in range(rlen.shape[0]):
        total += route_cost(v, routes, rlen, ni, cc)
    for r in range(assign.shape[0]):
        if assign[r] < 0:
            total += penalty
    return total


@kernel
def count_used(routes, rlen, vi):
    """Vehicles whose route visits at least one node."""
    used = 0
    for v in range(rlen.shape[0]):
        if rlen[v] > (2 if vi[1, v] >= 0 else 1):
            used += 1
    return used


# ============================================================================ destroy
@kernel
def _pick(weights):
    """Index drawn with probability proportional to ``weights``."""
    total = weights.sum()
    u = np.random.random() * total
    acc = 0.0
    for k in range(weights.shape[0]):
        acc += weights[k]
        if u < acc:
            return k
    return weights.shape[0] - 1


@kernel
def _node_positions(routes, rlen, pos):
    for v in range(rlen.shape[0]):
        for k in range(rlen[v]):
            pos[routes[v, k]] = k


@kernel
def _removal_gain(r, pickup, delivery, assign, routes, rlen, ni, cc, pos):
    """Travel cost saved by taking request ``r`` out of its route."""
    v = assign[r]
    p = pickup[r]
    d = delivery[r]
    m = rlen[v]
    seq = routes[v]
    kd = pos[d]
    after = seq[kd + 1] if kd + 1 < m else -1
    if p >= 0 and pos[p] == kd - 1:
        before = seq[kd - 2]
        gain = cc[ni[_LOC, before], ni[_LOC, p]] + cc[ni[_LOC, p], ni[_LOC, d]]
        if after >= 0:
            gain += cc[ni[_LOC, d], ni[_LOC, after]] - cc[ni[_LOC, before], ni[_LOC, after]]
        return gain
    gain = 0.0
    if p >= 0:
        kp = pos[p]
        a = seq[kp - 1]
        b = seq[kp + 1]
        gain += cc[ni[_LOC, a], ni[_LOC, p]] + cc[ni[_LOC, p], ni[_LOC, b]] - cc[ni[_LOC, a], ni[_LOC, b]]
    before = seq[kd - 1]
    gain += cc[ni[_LOC, before], ni[_LOC, d]]
    if after >= 0:
        gain += cc[ni[_LOC, d], ni[_LOC, after]] - cc[ni[_LOC, before], ni[_LOC, after]]
    return gain


@kernel
def _take_ranked(order, cand, q, power, out):
    """Take ``q`` of ``cand`` by rank ``order``, favouring the front (rank ~ U^power)."""
    n = order.shape[0]
    taken = np.zeros(n, np.uint8)
    for c in range(q):
        idx = int((np.random.random() ** power) * (n - c))
        seen = -1
        for k in range(n):
            if taken[k] == 0:
                seen += 1
                if seen == idx:
                    taken[k] = 1
                    out[c] = cand[order[k]]
                    break
    return q


MAX_STRING = 10


@kernel
def _select_strings(q, cand, pickup, delivery, assign, routes, rlen, ni, vi, tt, pos, out):
    """Strings of consecutive stops from the routes nearest a random seed request.

    Routes are visited in the order of their requests' distance to the seed; from each, a
    string of 1..MAX_STRING stops around the nearest request is cut, and every request with
    a stop in it is taken, until ``q`` are.
    """
    nc = cand.shape[0]
    nreq = assign.shape[0]
    free = np.zeros(nreq, np.uint8)
    for k in range(nc):
        free[cand[k]] = 1
    seed = cand[np.random.randint(nc)]
    anchor = pickup[seed] if pickup[seed] >= 0 else delivery[seed]
    loc0 = ni[_LOC, anchor]
    dist = np.empty(nc)
    for k in range(nc):
        r = cand[k]
        node = pickup[r] if pickup[r] >= 0 else delivery[r]
        dist[k] = tt[loc0, ni[_LOC, node]]
    order = np.argsort(dist)
    ruined = np.zeros(rlen.shape[0], np.uint8)
    c = 0
    for idx in range(nc):
        if c >= q:
            break
        r = cand[order[idx]]
        v = assign[r]
        if free[r] == 0 or ruined[v]:
            continue
        ruined[v] = 1
        lo = 1
        hi = rlen[v] - 1 if vi[1, v] >= 0 else rlen[v]  # stops are at positions lo .. hi-1
        span = min(hi - lo, MAX_STRING, 2 * (q - c))
        length = 1 + np.random.randint(span)
        at = pos[pickup[r]] if pickup[r] >= 0 else pos[delivery[r]]
        start = at - np.random.randint(length)
        start = max(lo, min(start, hi - length))
        for k in range(start, start + length):
            rr = ni[_REQ, routes[v, k]]
            if rr >= 0 and free[rr]:
                free[rr] = 0
                out[c] = rr
                c += 1
    return c


@kernel
def _select(op, q, pickup, delivery, assign, removable, routes, rlen, ni, vi, tt, cc, rs, tmax, pos, out):
    """Choose up to ``q`` assigned, removable requests by destroy operator ``op``."""
    nreq = assign.shape[0]
    cand = np.empty(nreq, np.int64)
    nc = 0
    for r in range(nreq):
        if assign[r] >= 0 and removable[r]:
            cand[nc] = r
            nc += 1
    if nc == 0:
        return 0
    cand = cand[:nc]
    q = min(q, nc)
    if op == D_RANDOM:
        for k in range(q):
            t = k + np.random.randint(nc - k)
            cand[k], cand[t] = cand[t], cand[k]
            out[k] = cand[k]
        return q
    _node_positions(routes, rlen, pos)
    if op == D_WORST:
        gains = np.empty(nc)
        for k in range(nc):
            gains[k] = -_removal_gain(cand[k], pickup, delivery, assign, routes, rlen, ni, cc, pos)
        return _take_ranked(np.argsort(gains), cand, q, 3.0, out)
    if op == D_RELATED:
        seed = cand[np.random.randint(nc)]
        vs = assign[seed]
        sp = pickup[seed]
        sd = delivery[seed]
        rel = np.empty(nc)
        for k in range(nc):
            r = cand[k]
            v = assign[r]
            p = pickup[r]
            d = delivery[r]
            val = tt[ni[_LOC, sd], ni[_LOC, d]] + 0.25 * abs(rs[_B, v, pos[d]] - rs[_B, vs, pos[sd]])
            if p >= 0 and sp >= 0:
                val += tt[ni[_LOC, sp], ni[_LOC, p]] + 0.25 * abs(rs[_B, v, pos[p]] - rs[_B, vs, pos[sp]])
            rel[k] = val / tmax
        return _take_ranked(np.argsort(rel), cand, q, 6.0, out)
    if op == D_STRING:
        return _select_strings(q, cand, pickup, delivery, assign, routes, rlen, ni, vi, tt, pos, out)
    # D_ROUTE: the requests of random routes until about q are taken.
    nveh = rlen.shape[0]
    c = 0
    for _ in range(2 * nveh):
        if c >= q:
            break
        v = np.random.randint(nveh)
        for k in range(nc):
            r = cand[k]
            if r >= 0 and assign[r] == v:
                out[c] = r
                c += 1
                cand[k] = -1
    return c


# ============================================================================ repair
@kernel
def _column(
    a_lo,
    nu,
    v,
    unassigned,
    done,
    pickup,
    delivery,
    request_vehicle,
    routes,
    rlen,
    nf,
    ni,
    dem,
    vf,
    vi,
    cap,
    tt,
    cc,
    rs,
    rload,
    w,
    noise,
    cost,
    pos_i,
    pos_j,
    cand_lb,
    cand_i,
    cand_j,
    buf_seq,
    buf_b,
    pos_scratch,
):
    """Best insertion of every pending request into route ``v``."""
    for a in range(a_lo, nu):
        if done[a]:
            continue
        r = unassigned[a]
        if request_vehicle[r] >= 0 and request_vehicle[r] != v:
            cost[a, v] = np.inf
            continue
        c, i, j = best_insertion(
            v,
            pickup[r],
            delivery[r],
            routes,
            rlen,
            nf,
            ni,
            dem,
            vf,
            vi,
            cap,
            tt,
            cc,
            rs,
            rload,
            w,
            cand_lb,
            cand_i,
            cand_j,
            buf_seq,
            buf_b,
            pos_scratch,
        )
        if noise > 0.0 and c < np.inf:
            c = max(0.0, c + noise * (2.0 * np.random.random() - 1.0))
        cost[a, v] = c
        pos_i[a, v] = i
        pos_j[a, v] = j


@kernel
def _take_out(r, v, pickup, delivery, routes, rlen, nf, ni, dem, vf, load0, tt, rs, rload, mark, pos_scratch):
    if pickup[r] >= 0:
        mark[pickup[r]] = 1
    mark[delivery[r]] = 1
    remove_marked(v, routes, rlen, mark)
    if pickup[r] >= 0:
        mark[pickup[r]] = 0
    mark[delivery[r]] = 0
    prepare_route(v, routes, rlen, nf, ni, dem, vf, load0, tt, rs, rload, pos_scratch)


@kernel
def _put_in(r, v, i, j, pickup, delivery, routes, rlen, nf, ni, dem, vf, load0, tt, rs, rload, pos_scratch):
    """Insert request ``r`` into route ``v`` before positions ``i`` / ``j`` and prepare the route."""
    insert_nodes(v, pickup[r], delivery[r], i, j, routes, rlen)
    prepare_route(v, routes, rlen, nf, ni, dem, vf, load0, tt, rs, rload, pos_scratch)


@kernel
def _idle_home(v, rlen, ni, vi, cc):
    """The leg from start to end of vehicle ``v``'s route when it visits nothing, else 0.

    An empty route costs nothing (:func:`routing.schedule.route_cost`), but the insertion and
    removal deltas of a route are taken against its start-to-end leg. Where a vehicle does not
    start where it ends (the live dispatcher's idle vans, away from their depots) that leg is
    not 0, and a delta that empties or fills the route must be corrected by it.
    """
    if vi[1, v] >= 0 and rlen[v] == 2:
        return cc[ni[_LOC, vi[0, v]], ni[_LOC, vi[1, v]]]
    return 0.0


@kernel
def _best_vehicle(r, pickup, delivery, vehicle_on, request_vehicle, routes, rlen, nf, ni, dem, vf, vi, cap, tt, cc, rs,
                  rload, w, cand_lb, cand_i, cand_j, buf_seq, buf_b, pos_scratch):  # fmt: skip
    """Cheapest insertion of request ``r`` over the vehicles it may use: ``(cost, v, i, j)``, v = -1 if none.

    The cost is what the solution's cost grows by: an empty route starts paying its whole route
    (see :func:`_idle_home`).
    """
    best = np.inf
    best_v = -1
    best_i = -1
    best_j = -1
    for v in range(rlen.shape[0]):
        if vehicle_on[v] == 0 or (request_vehicle[r] >= 0 and request_vehicle[r] != v):
            continue
        c, i, j = best_insertion(v, pickup[r], delivery[r], routes, rlen, nf, ni, dem, vf, vi, cap, tt, cc, rs, rload,
                                 w, cand_lb, cand_i, cand_j, buf_seq, buf_b, pos_scratch)  # fmt: skip
        c += _idle_home(v, rlen, ni, vi, cc)
        if c < best:
            best = c
            best_v = v
            best_i = i
            best_j = j
    return best, best_v, best_i, best_j


@kernel
def _repair_sequential(unassigned, nu, pickup, delivery, assign, vehicle_on, request_vehicle, routes, rlen, nf, ni, dem,
                       vf, vi, cap, load0, tt, cc, rs, rload, w, touched, bk_routes, bk_rlen, bk_rs, bk_rload, cand_lb,
                       cand_i, cand_j, buf_seq, buf_b, pos_scratch):  # fmt: skip
    """Insert requests one after another, each at its cheapest place (after SISR's insertion).

    The order is the given (shuffled) one or, every other time on average, by the earliest
    start of the pickup window: a different route structure than the globally cheapest-first
    greedy and regret repairs build.
    """
    if np.random.random() < 0.5:
        key = np.empty(nu)
        for a in range(nu):
            r = unassigned[a]
            key[a] = nf[_E, pickup[r]] if pickup[r] >= 0 else nf[_E, delivery[r]]
        unassigned[:nu] = unassigned[:nu][np.argsort(key, kind="mergesort")]
    left = 0
    for a in range(nu):
        r = unassigned[a]
        _, v, i, j = _best_vehicle(r, pickup, delivery, vehicle_on, request_vehicle, routes, rlen, nf, ni, dem, vf, vi,
                                   cap, tt, cc, rs, rload, w, cand_lb, cand_i, cand_j, buf_seq, buf_b,
                                   pos_scratch)  # fmt: skip
        if v < 0:
            unassigned[left] = r
            left += 1
            continue
        _touch(v, touched, routes, rlen, rs, rload, bk_routes, bk_rlen, bk_rs, bk_rload)
        _put_in(r, v, i, j, pickup, delivery, routes, rlen, nf, ni, dem, vf, load0, tt, rs, rload, pos_scratch)
        assign[r] = v
    return left


@kernel
def repair(
    op,
    unassigned,
    nu,
    pickup,
    delivery,
    assign,
    vehicle_on,
    request_vehicle,
    routes,
    rlen,
    nf,
    ni,
    dem,
    vf,
    vi,
    cap,
    load0,
    tt,
    cc,
    rs,
    rload,
    w,
    noise,
    touched,
    bk_routes,
    bk_rlen,
    bk_rs,
    bk_rload,
    cand_lb,
    cand_i,
    cand_j,
    buf_seq,
    buf_b,
    pos_scratch,
):
    """Insert the first ``nu`` requests of ``unassigned`` by repair operator ``op``.

    Returns how many could not be inserted; they are moved to the front of ``unassigned``.
    """
    nveh = rlen.shape[0]
    if op == R_SEQUENTIAL:
        return _repair_sequential(unassigned, nu, pickup, delivery, assign, vehicle_on, request_vehicle, routes, rlen,
                                  nf, ni, dem, vf, vi, cap, load0, tt, cc, rs, rload, w, touched, bk_routes, bk_rlen,
                                  bk_rs, bk_rload, cand_lb, cand_i, cand_j, buf_seq, buf_b, pos_scratch)  # fmt: skip
    regret = 3 if op == R_REGRET3 else (2 if op in (R_REGRET2, R_REGRET2_NOISE) else 1)
    eta = noise if op in (R_GREEDY_NOISE, R_REGRET2_NOISE) else 0.0
    cost = np.full((nu, nveh), np.inf)
    pos_i = np.full((nu, nveh), -1, np.int64)
    pos_j = np.full((nu, nveh), -1, np.int64)
    done = np.zeros(nu, np.uint8)
    stale = vehicle_on.copy()  # routes whose column of insertion costs must be (re)computed
    for _ in range(nu):
        for v in range(nveh):
            if stale[v]:
                stale[v] = 0
                _column(0, nu, v, unassigned, done, pickup, delivery, request_vehicle, routes, rlen, nf, ni, dem, vf,
                        vi, cap, tt, cc, rs, rload, w, eta, cost, pos_i, pos_j, cand_lb, cand_i, cand_j, buf_seq,
                        buf_b, pos_scratch)  # fmt: skip
        best_a = -1
        best_v = -1
        best_score = -np.inf
        for a in range(nu):
            if done[a]:
                continue
            c1 = np.inf
            v1 = -1
            for v in range(nveh):
                if cost[a, v] < c1:
                    c1 = cost[a, v]
                    v1 = v
            if v1 < 0:
                continue
            if regret == 1:
                score = -c1
            else:
                ranked = np.sort(cost[a])
                score = -1e-9 * c1  # ties: the cheaper first
                for h in range(1, regret):
                    score += 1e9 if h >= nveh or ranked[h] == np.inf else ranked[h] - c1
            if score > best_score:
                best_score = score
                best_a = a
                best_v = v1
        if best_a < 0:
            break
        r = unassigned[best_a]
        v = best_v
        _touch(v, touched, routes, rlen, rs, rload, bk_routes, bk_rlen, bk_rs, bk_rload)
        insert_nodes(v, pickup[r], delivery[r], pos_i[best_a, v], pos_j[best_a, v], routes, rlen)
        prepare_route(v, routes, rlen, nf, ni, dem, vf, load0, tt, rs, rload, pos_scratch)
        assign[r] = v
        done[best_a] = 1
        stale[v] = 1
    left = 0
    for a in range(nu):
        if not done[a]:
            unassigned[left] = unassigned[a]
            left += 1
    return left


# ============================================================================ iterations
@kernel
def alns_iterations(
    n_iter,
    ip,
    fp,
    pickup,
    delivery,
    request_vehicle,
    removable,
    vehicle_on,
    nf,
    ni,
    dem,
    vf,
    vi,
    cap,
    load0,
    tt,
    cc,
    w,
    routes,
    rlen,
    rs,
    rload,
    assign,
    best_routes,
    best_rlen,
    best_assign,
    state_f,
    d_weight,
    r_weight,
    d_score,
    r_score,
    d_used,
    r_used,
    stats,
):
    """Run ``n_iter`` ALNS iterations in place.

    ``state_f``: [current cost, best cost, tmax (largest travel time), iterations so far].
    ``stats``: [iterations, candidates with the current cost again, rejected candidates, -].
    Returns the number of new best solutions found.
    """
    nveh = rlen.shape[0]
    nreq = assign.shape[0]
    n_nodes = ni.shape[1]
    max_len = routes.shape[1]
    bk_routes = np.empty_like(routes)
    bk_rlen = np.empty_like(rlen)
    bk_rs = np.empty_like(rs)
    bk_rload = np.empty_like(rload)
    bk_assign = np.empty_like(assign)
    touched = np.zeros(nveh, np.uint8)
    dirty = np.zeros(nveh, np.uint8)
    ws = block_workspace(nveh, max_len)
    mark = np.zeros(n_nodes, np.uint8)
    pos = np.full(n_nodes, -1, np.int64)
    pos_scratch = np.full(n_nodes, -1, np.int32)
    size = (max_len + 2) * (max_len + 2)
    cand_lb = np.empty(size)
    cand_i = np.empty(size, np.int32)
    cand_j = np.empty(size, np.int32)
    buf_seq = np.empty(max_len + 2, np.int32)
    buf_b = np.empty(max_len + 2)
    chosen = np.empty(nreq, np.int64)
    unassigned = np.empty(nreq, np.int64)
    penalty = fp[FP_PENALTY]
    temperature = fp[FP_TEMPERATURE]
    cur_cost = state_f[0]
    best_cost = state_f[1]
    tmax = state_f[2]
    new_best = 0
    for _it in range(n_iter):
        d_op = _pick(d_weight)
        r_op = _pick(r_weight)
        q = ip[IP_QMIN] + np.random.randint(max(1, ip[IP_QMAX] - ip[IP_QMIN] + 1))
        touched[:] = 0
        bk_assign[:] = assign
        # --- destroy
        nsel = _select(
            d_op, q, pickup, delivery, assign, removable, routes, rlen, ni, vi, tt, cc, rs, tmax, pos, chosen
        )
        for k in range(nsel):
            r = chosen[k]
            v = assign[r]
            _touch(v, touched, routes, rlen, rs, rload, bk_routes, bk_rlen, bk_rs, bk_rload)
            if pickup[r] >= 0:
                mark[pickup[r]] = 1
            mark[delivery[r]] = 1
            assign[r] = -1
        for v in range(nveh):
            if touched[v]:
                remove_marked(v, routes, rlen, mark)
                prepare_route(v, routes, rlen, nf, ni, dem, vf, load0, tt, rs, rload, pos_scratch)
        for k in range(nsel):
            r = chosen[k]
            if pickup[r] >= 0:
                mark[pickup[r]] = 0
            mark[delivery[r]] = 0
        # --- repair: the removed requests and any left unassigned before
        nu = 0
        for k in range(nsel):
            unassigned[nu] = chosen[k]
            nu += 1
        for r in range(nreq):
            if assign[r] < 0 and bk_assign[r] < 0:
                unassigned[nu] = r
                nu += 1
        # shuffle, so that ties do not always favour the same requests
        for k in range(nu - 1, 0, -1):
            t = np.random.randint(k + 1)
            unassigned[k], unassigned[t] = unassigned[t], unassigned[k]
        repair(
            r_op,
            unassigned,
            nu,
            pickup,
            delivery,
            assign,
            vehicle_on,
            request_vehicle,
            routes,
            rlen,
            nf,
            ni,
            dem,
            vf,
            vi,
            cap,
            load0,
            tt,
            cc,
            rs,
            rload,
            w,
            fp[FP_NOISE] * tmax,
            touched,
            bk_routes,
            bk_rlen,
            bk_rs,
            bk_rload,
            cand_lb,
            cand_i,
            cand_j,
            buf_seq,
            buf_b,
            pos_scratch,
        )
        # --- evaluate
        new_cost = cur_cost
        for v in range(nveh):
            if touched[v]:
                new_cost += route_cost(v, routes, rlen, ni, cc)
                m_old = bk_rlen[v]
                old = 0.0
                if m_old > (2 if vi[1, v] >= 0 else 1):
                    for k in range(1, m_old):
                        old += cc[ni[_LOC, bk_routes[v, k - 1]], ni[_LOC, bk_routes[v, k]]]
                new_cost -= old
        for r in range(nreq):
            if assign[r] < 0 and bk_assign[r] >= 0:
                new_cost += penalty
            elif assign[r] >= 0 and bk_assign[r] < 0:
                new_cost -= penalty
        score = 0.0
        if ip[IP_BLOCKS]:
            # Every candidate gets the block exchange; the current solution already had it, so
            # only pairs of routes with one changed by this iteration can gain.
            dirty[:] = touched
            new_cost -= block_polish(request_vehicle, removable, vehicle_on, nf, ni, dem, vf, vi, cap, load0, tt, cc,
                                     routes, rlen, rs, rload, assign, pos_scratch, dirty, touched, bk_routes, bk_rlen,
                                     bk_rs, bk_rload, ws)  # fmt: skip
        if new_cost < best_cost - 1e-7:
            score = SIGMA_BEST
            if ip[IP_POLISH]:
                # every touched route is backed up already; polish may change any route
                for v in range(nveh):
                    _touch(v, touched, routes, rlen, rs, rload, bk_routes, bk_rlen, bk_rs, bk_rload)
                new_cost -= polish(pickup, delivery, request_vehicle, removable, vehicle_on, nf, ni, dem, vf, vi, cap,
                                   load0, tt, cc, w, routes, rlen, rs, rload, assign, cand_lb, cand_i, cand_j,
                                   buf_seq, buf_b, pos_scratch, pos)  # fmt: skip
                if ip[IP_POLISH] >= 2:
                    new_cost -= eject_polish(pickup, delivery, request_vehicle, removable, vehicle_on, nf, ni, dem,
                                             vf, vi, cap, load0, tt, cc, w, routes, rlen, rs, rload, assign, cand_lb,
                                             cand_i, cand_j, buf_seq, buf_b, pos_scratch)  # fmt: skip
                if ip[IP_BLOCKS]:
                    dirty[:] = 1
                    new_cost -= block_polish(request_vehicle, removable, vehicle_on, nf, ni, dem, vf, vi, cap, load0,
                                             tt, cc, routes, rlen, rs, rload, assign, pos_scratch, dirty, touched,
                                             bk_routes, bk_rlen, bk_rs, bk_rload, ws)  # fmt: skip
            best_cost = new_cost
            new_best += 1
            best_rlen[:] = rlen
            best_routes[:, :] = routes
            best_assign[:] = assign
            accept = True
        elif new_cost < cur_cost - 1e-7:
            score = SIGMA_BETTER
            accept = True
        else:
            accept = temperature > 0.0 and np.random.random() < np.exp(-(new_cost - cur_cost) / temperature)
            if accept and new_cost > cur_cost + 1e-7:
                score = SIGMA_ACCEPTED
        if abs(new_cost - cur_cost) <= 1e-7:
            stats[1] += 1  # the same cost again
        elif not accept:
            stats[2] += 1  # rejected
        if accept:
            cur_cost = new_cost
        else:
            _restore(touched, routes, rlen, rs, rload, bk_routes, bk_rlen, bk_rs, bk_rload)
            assign[:] = bk_assign
        d_score[d_op] += score
        r_score[r_op] += score
        d_used[d_op] += 1
        r_used[r_op] += 1
        stats[0] += 1
        # --- adapt the weights at the end of each segment
        if int(stats[0]) % ip[IP_SEGMENT] == 0:
            rho = fp[FP_REACTION]
            for k in range(d_weight.shape[0]):
                if d_used[k] > 0:
                    d_weight[k] = max(0.05, (1 - rho) * d_weight[k] + rho * d_score[k] / d_used[k])
                d_score[k] = 0.0
                d_used[k] = 0
            for k in range(r_weight.shape[0]):
                if r_used[k] > 0:
                    r_weight[k] = max(0.05, (1 - rho) * r_weight[k] + rho * r_score[k] / r_used[k])
                r_score[k] = 0.0
                r_used[k] = 0
    state_f[0] = cur_cost
    state_f[1] = best_cost
    return new_best


@kernel
def polish(pickup, delivery, request_vehicle, removable, vehicle_on, nf, ni, dem, vf, vi, cap, load0, tt, cc, w, routes,
           rlen, rs, rload, assign, cand_lb, cand_i, cand_j, buf_seq, buf_b, pos_scratch, pos):  # fmt: skip
    """Relocate local search: move single requests to their best position while that saves cost.

    Returns the total saving.
    """
    nreq = assign.shape[0]
    max_len = routes.shape[1]
    saved_route = np.empty(max_len, np.int32)
    mark = np.zeros(ni.shape[1], np.uint8)
    order = np.random.permutation(nreq)
    total = 0.0
    improved = True
    while improved:
        improved = False
        for idx in range(nreq):
            r = order[idx]
            v = assign[r]
            if v < 0 or not removable[r]:
                continue
            _node_positions(routes, rlen, pos)
            gain = _removal_gain(r, pickup, delivery, assign, routes, rlen, ni, cc, pos)
            m = rlen[v]
            saved_route[:m] = routes[v, :m]
            _take_out(r, v, pickup, delivery, routes, rlen, nf, ni, dem, vf, load0, tt, rs, rload, mark, pos_scratch)
            gain += _idle_home(v, rlen, ni, vi, cc)  # r was the route's last request: it now costs nothing
            best, best_u, best_i, best_j = _best_vehicle(r, pickup, delivery, vehicle_on, request_vehicle, routes,
                                                         rlen, nf, ni, dem, vf, vi, cap, tt, cc, rs, rload, w, cand_lb,
                                                         cand_i, cand_j, buf_seq, buf_b, pos_scratch)  # fmt: skip
            if best_u >= 0 and best < gain - 1e-7:
                _put_in(r, best_u, best_i, best_j, pickup, delivery, routes, rlen, nf, ni, dem, vf, load0, tt, rs,
                        rload, pos_scratch)  # fmt: skip
                assign[r] = best_u
                total += gain - best
                improved = True
            else:
                rlen[v] = m
                routes[v, :m] = saved_route[:m]
                prepare_route(v, routes, rlen, nf, ni, dem, vf, load0, tt, rs, rload, pos_scratch)
    return total


@kernel
def eject_polish(pickup, delivery, request_vehicle, removable, vehicle_on, nf, ni, dem, vf, vi, cap, load0, tt, cc, w,
                 routes, rlen, rs, rload, assign, cand_lb, cand_i, cand_j, buf_seq, buf_b, pos_scratch):  # fmt: skip
    """Move a request into another route by ejecting one of that route's requests.

    For request ``r`` on route ``v`` and request ``e`` on route ``u``: take both out, put
    ``r`` at its best place in ``u``, then ``e`` at its best place in ``u`` or ``v``; kept
    when the two routes get cheaper. This reaches what single relocations cannot: a request
    that fits a route only once a neighbour there is moved, swaps of requests, and the
    reordering of a route around a new request. First improvement, until none is left.
    Returns the total saving.
    """
    nreq = assign.shape[0]
    nveh = rlen.shape[0]
    max_len = routes.shape[1]
    save_v = np.empty(max_len, np.int32)  # route v as it was, with r
    short_v = np.empty(max_len, np.int32)  # route v without r
    save_u = np.empty(max_len, np.int32)
    mark = np.zeros(ni.shape[1], np.uint8)
    order = np.random.permutation(nreq)
    total = 0.0
    improved = True
    while improved:
        improved = False
        for idx in range(nreq):
            r = order[idx]
            v = assign[r]
            if v < 0 or not removable[r] or request_vehicle[r] >= 0 or pickup[r] < 0:
                continue
            cost_v = route_cost(v, routes, rlen, ni, cc)
            mv = rlen[v]
            save_v[:mv] = routes[v, :mv]
            _take_out(r, v, pickup, delivery, routes, rlen, nf, ni, dem, vf, load0, tt, rs, rload, mark, pos_scratch)
            ms = rlen[v]
            short_v[:ms] = routes[v, :ms]
            moved = False
            for u in range(nveh):
                if moved:
                    break
                if u == v or vehicle_on[u] == 0:
                    continue
                old = cost_v + route_cost(u, routes, rlen, ni, cc)
                mu = rlen[u]
                save_u[:mu] = routes[u, :mu]
                for k in range(1, mu):
                    node = save_u[k]
                    if ni[_KIND, node] != KIND_PICKUP:
                        continue
                    e = ni[_REQ, node]
                    if not removable[e] or request_vehicle[e] >= 0:
                        continue
                    _take_out(e, u, pickup, delivery, routes, rlen, nf, ni, dem, vf, load0, tt, rs, rload, mark,
                              pos_scratch)  # fmt: skip
                    t = -1  # the route e went back into
                    c1, i1, j1 = best_insertion(u, pickup[r], delivery[r], routes, rlen, nf, ni, dem, vf, vi, cap, tt,
                                                cc, rs, rload, w, cand_lb, cand_i, cand_j, buf_seq, buf_b,
                                                pos_scratch)  # fmt: skip
                    if c1 < np.inf:
                        _put_in(r, u, i1, j1, pickup, delivery, routes, rlen, nf, ni, dem, vf, load0, tt, rs, rload,
                                pos_scratch)  # fmt: skip
                        cu, iu, ju = best_insertion(u, pickup[e], delivery[e], routes, rlen, nf, ni, dem, vf, vi, cap,
                                                    tt, cc, rs, rload, w, cand_lb, cand_i, cand_j, buf_seq, buf_b,
                                                    pos_scratch)  # fmt: skip
                        cv, iv, jv = best_insertion(v, pickup[e], delivery[e], routes, rlen, nf, ni, dem, vf, vi, cap,
                                                    tt, cc, rs, rload, w, cand_lb, cand_i, cand_j, buf_seq, buf_b,
                                                    pos_scratch)  # fmt: skip
                        if cu < np.inf or cv < np.inf:
                            if cu <= cv:
                                t = u
                                _put_in(e, u, iu, ju, pickup, delivery, routes, rlen, nf, ni, dem, vf, load0, tt, rs,
                                        rload, pos_scratch)  # fmt: skip
                            else:
                                t = v
                                _put_in(e, v, iv, jv, pickup, delivery, routes, rlen, nf, ni, dem, vf, load0, tt, rs,
                                        rload, pos_scratch)  # fmt: skip
                            new = route_cost(v, routes, rlen, ni, cc) + route_cost(u, routes, rlen, ni, cc)
                            if new < old - 1e-7:
                                assign[r] = u
                                assign[e] = t
                                total += old - new
                                moved = True
                                improved = True
                                break
                    # undo: u as it was; v without r, if e went there
                    rlen[u] = mu
                    routes[u, :mu] = save_u[:mu]
                    prepare_route(u, routes, rlen, nf, ni, dem, vf, load0, tt, rs, rload, pos_scratch)
                    if t == v:
                        rlen[v] = ms
                        routes[v, :ms] = short_v[:ms]
                        prepare_route(v, routes, rlen, nf, ni, dem, vf, load0, tt, rs, rload, pos_scratch)
            if not moved:
                rlen[v] = mv
                routes[v, :mv] = save_v[:mv]
                prepare_route(v, routes, rlen, nf, ni, dem, vf, load0, tt, rs, rload, pos_scratch)
    return total


# ============================================================================ block exchange
@kernel
def _cat(a, b, delta):
    """Two time-window segments joined by a travel time ``delta`` (Vidal et al. 2013).

    A segment is ``(duration, earliest start, latest start, time warp)`` of a run of stops
    served in order: ``duration`` includes service and the least waiting; ``time warp`` is by
    how much windows would have to stretch (0: the windows can all be met).
    """
    gap = a[0] - a[3] + delta
    wait = max(b[1] - gap - a[2], 0.0)
    warp = max(a[1] + gap - b[2], 0.0)
    return (a[0] + b[0] + delta + wait, max(b[1] - gap, a[1]) - wait, min(b[2] - gap, a[2]) + warp, a[3] + b[3] + warp)


@kernel
def _block_data(x, routes, rlen, ni, nf, vf, vi, tt, cc, removable, request_vehicle, cuts, ncut, last, loc, pre,
                seg_pre, seg_suf, blk):  # fmt: skip
    """What :func:`block_polish` needs of route ``x``.

    ``cuts[x, :ncut[x]]``: the positions after which the route may be cut (nobody on board
    there, every stop after it free to change vehicle); ``last[x]``: position of its last
    stop; ``loc``/``pre``: location and prefix sum of arc costs by position; ``seg_pre[x, k]``
    / ``seg_suf[x, k]``: time-window segments of positions ``0..k`` / ``k..end``;
    ``blk[x, a]``: the segment of the stops between cuts ``a`` and ``a + 1``.
    """
    m = rlen[x]
    lst = m - 2 if vi[1, x] >= 0 else m - 1
    last[x] = lst
    # positions: locations, arc-cost prefix sums, window segments from the start
    for k in range(m):
        node = routes[x, k]
        loc[x, k] = ni[_LOC, node]
        e = nf[_E, node]
        if k == 0 and vf[_T0, x] > e:
            e = vf[_T0, x]
        one = (nf[_S, node], e, nf[_L, node], 0.0)
        if k == 0:
            pre[x, 0] = 0.0
            s = one
        else:
            pre[x, k] = pre[x, k - 1] + cc[loc[x, k - 1], loc[x, k]]
            s = _cat(s, one, tt[loc[x, k - 1], loc[x, k]])
        seg_pre[x, k, 0], seg_pre[x, k, 1], seg_pre[x, k, 2], seg_pre[x, k, 3] = s
    for k in range(m - 1, 0, -1):
        node = routes[x, k]
        one = (nf[_S, node], nf[_E, node], nf[_L, node], 0.0)
        s = one if k == m - 1 else _cat(one, s, tt[loc[x, k], loc[x, k + 1]])
        seg_suf[x, k, 0], seg_suf[x, k, 1], seg_suf[x, k, 2], seg_suf[x, k, 3] = s
    # cut points
    open_ = 0
    for k in range(1, lst + 1):
        node = routes[x, k]
        if ni[_KIND, node] == KIND_DELIVERY and ni[_PAIR, node] < 0:
            open_ += 1  # a rider on board from the start
    movable_from = lst  # every stop after this position may change vehicle
    for k in range(lst, 0, -1):
        r = ni[_REQ, routes[x, k]]
        if not removable[r] or request_vehicle[r] >= 0:
            break
        movable_from = k - 1
    n = 0
    for c in range(lst + 1):
        if c > 0:
            open_ += 1 if ni[_KIND, routes[x, c]] == KIND_PICKUP else -1
        if open_ == 0 and c >= movable_from:
            cuts[x, n] = c
            n += 1
    ncut[x] = n
    # segments between consecutive cuts
    for a in range(n - 1):
        k = cuts[x, a] + 1
        node = routes[x, k]
        s = (nf[_S, node], nf[_E, node], nf[_L, node], 0.0)
        while k < cuts[x, a + 1]:
            k += 1
            node = routes[x, k]
            s = _cat(s, (nf[_S, node], nf[_E, node], nf[_L, node], 0.0), tt[loc[x, k - 1], loc[x, k]])
        blk[x, a, 0], blk[x, a, 1], blk[x, a, 2], blk[x, a, 3] = s


@kernel
def _windows_allow(x, i, i2, y, y1, y2, j, j2, m_x, routes, loc, cuts, seg_pre, seg_suf, blk, tt, nf, maxdur):
    """Whether route ``x`` with its stops ``i+1 .. i2`` replaced by ``y``'s ``j+1 .. j2`` (the
    stops between ``y``'s cuts ``y1`` and ``y2``) can meet every time window and its maximum
    duration: a necessary condition (ride limits are not looked at), in O(blocks)."""
    s = (seg_pre[x, i, 0], seg_pre[x, i, 1], seg_pre[x, i, 2], seg_pre[x, i, 3])
    at = loc[x, i]
    last_node = routes[x, i]
    if j2 > j:
        for a in range(y1, y2):
            s = _cat(s, (blk[y, a, 0], blk[y, a, 1], blk[y, a, 2], blk[y, a, 3]), tt[at, loc[y, cuts[y, a] + 1]])
            at = loc[y, cuts[y, a + 1]]
        last_node = routes[y, j2]
    if i2 + 1 < m_x:
        k = i2 + 1
        s = _cat(s, (seg_suf[x, k, 0], seg_suf[x, k, 1], seg_suf[x, k, 2], seg_suf[x, k, 3]), tt[at, loc[x, k]])
        last_node = routes[x, m_x - 1]
    if s[3] > EPS:
        return False
    return s[0] - nf[_S, last_node] <= maxdur + EPS


@kernel
def _splice(x, a, a2, y, b, b2, routes, rlen, out):
    """Write route ``x`` with its stops ``a+1 .. a2`` replaced by ``y``'s ``b+1 .. b2``."""
    m = 0
    for k in range(a + 1):
        out[m] = routes[x, k]
        m += 1
    for k in range(b + 1, b2 + 1):
        out[m] = routes[y, k]
        m += 1
    for k in range(a2 + 1, rlen[x]):
        out[m] = routes[x, k]
        m += 1
    return m


@kernel
def _exchange(u, i, i2, v, j, j2, request_vehicle, removable, nf, ni, dem, vf, vi, cap, load0, tt, cc, routes, rlen, rs,
              rload, assign, pos_scratch, touched, bk_routes, bk_rlen, bk_rs, bk_rload, cuts, ncut, last, loc, pre,
              seg_pre, seg_suf, blk, new_u, new_v, b):  # fmt: skip
    """Swap ``u``'s stops ``i+1 .. i2`` with ``v``'s ``j+1 .. j2`` if both routes stay feasible
    (checked exactly); back up, rewrite and prepare both routes. Returns whether it did."""
    mu = _splice(u, i, i2, v, j, j2, routes, rlen, new_u)
    mv = _splice(v, j, j2, u, i, i2, routes, rlen, new_v)
    if not (
        sequence_is_valid(new_u, mu, u, nf, ni, dem, cap, load0, pos_scratch)
        and sequence_is_valid(new_v, mv, v, nf, ni, dem, cap, load0, pos_scratch)
        and route_schedule(new_u, mu, vf[_T0, u], vf[_MAXDUR, u], nf, ni, tt, b, pos_scratch)
        and route_schedule(new_v, mv, vf[_T0, v], vf[_MAXDUR, v], nf, ni, tt, b, pos_scratch)
    ):
        return False
    _touch(u, touched, routes, rlen, rs, rload, bk_routes, bk_rlen, bk_rs, bk_rload)
    _touch(v, touched, routes, rlen, rs, rload, bk_routes, bk_rlen, bk_rs, bk_rload)
    routes[u, :mu] = new_u[:mu]
    rlen[u] = mu
    routes[v, :mv] = new_v[:mv]
    rlen[v] = mv
    for y in (u, v):
        for k in range(1, rlen[y]):
            r = ni[_REQ, routes[y, k]]
            if r >= 0:
                assign[r] = y
        prepare_route(y, routes, rlen, nf, ni, dem, vf, load0, tt, rs, rload, pos_scratch)
        _block_data(y, routes, rlen, ni, nf, vf, vi, tt, cc, removable, request_vehicle, cuts, ncut, last, loc, pre,
                    seg_pre, seg_suf, blk)  # fmt: skip
    return True


@kernel
def block_workspace(nveh, max_len):
    """Scratch arrays for :func:`block_polish` (allocated once per run, not once per call)."""
    return (
        np.empty((nveh, max_len), np.int64),  # cut positions
        np.zeros(nveh, np.int64),  # number of cuts
        np.zeros(nveh, np.int64),  # position of the last stop
        np.empty((nveh, max_len), np.int32),  # locations by position
        np.empty((nveh, max_len)),  # prefix sums of arc costs
        np.empty((nveh, max_len, 4)),  # window segments from the start
        np.empty((nveh, max_len, 4)),  # window segments to the end
        np.empty((nveh, max_len, 4)),  # window segments between consecutive cuts
        np.zeros(nveh, np.uint8),  # routes moved in this pass
        np.empty(max_len, np.int32),  # new route u
        np.empty(max_len, np.int32),  # new route v
        np.empty(max_len),  # schedule scratch
    )


@kernel
def block_polish(request_vehicle, removable, vehicle_on, nf, ni, dem, vf, vi, cap, load0, tt, cc, routes, rlen, rs,
                 rload, assign, pos_scratch, dirty, touched, bk_routes, bk_rlen, bk_rs, bk_rload, ws):  # fmt: skip
    """Exchange blocks of stops between two routes where the vehicles are empty, while that saves.

    A block of a route runs from one point where nobody is on board to another (or to the end
    of the route). The move swaps a block of route ``u`` with one of route ``v``, either
    possibly empty: CROSS exchange, which includes swapping the tails of two routes (2-opt*)
    and moving a block into another route. The saving is known in O(1) from prefix sums of
    the arc costs, and a saving move is checked first against the time windows and route
    durations in O(1) (segment concatenation), then exactly (pairing, capacity, schedule with
    ride limits). First improvement, until none is left. The move re-plans a whole trip, or a
    route's afternoon, onto another vehicle, which removing and reinserting single requests
    reaches only through many worse steps.

    Only pairs with a route marked in ``dirty`` are looked at (the others are taken to have
    been looked at before, unchanged since); ``dirty`` is overwritten. A route is backed up
    (:func:`_touch`) before its first change. ``ws`` is scratch space from
    :func:`block_workspace`. Returns the total saving.
    """
    nveh = rlen.shape[0]
    cuts, ncut, last, loc, pre, seg_pre, seg_suf, blk, moved, new_u, new_v, b = ws
    moved[:] = 0
    if not dirty.any():
        return 0.0
    for x in range(nveh):
        _block_data(x, routes, rlen, ni, nf, vf, vi, tt, cc, removable, request_vehicle, cuts, ncut, last, loc, pre,
                    seg_pre, seg_suf, blk)  # fmt: skip
    total = 0.0
    improved = True
    while improved:
        improved = False
        for u in range(nveh):
            if vehicle_on[u] == 0:
                continue
            for v in range(u + 1, nveh):
                if vehicle_on[v] == 0 or (dirty[u] == 0 and dirty[v] == 0) or (last[u] == 0 and last[v] == 0):
                    continue
                m_u = rlen[u]
                m_v = rlen[v]
                nu = ncut[u]
                nv = ncut[v]
                last_u = last[u]
                last_v = last[v]
                # (a route without stops costs nothing: the vehicle stays home)
                old = (pre[u, m_u - 1] if last_u > 0 else 0.0) + (pre[v, m_v - 1] if last_v > 0 else 0.0)
                pre_u = pre[u]
                pre_v = pre[v]
                loc_u = loc[u]
                loc_v = loc[v]
                cut_u = cuts[u]
                cut_v = cuts[v]
                done = False
                for x1 in range(nu):
                    if done:
                        break
                    i = cut_u[x1]
                    for x2 in range(x1, nu):
                        if done:
                            break
                        i2 = cut_u[x2]
                        # (the saving is written out here: helper calls would cost more than it)
                        u_gone = i == 0 and i2 == last_u  # u keeps no stop of its own
                        u_out = i2 > i  # u gives a block away
                        u_first = loc_u[i + 1] if u_out else 0
                        u_last = loc_u[i2]
                        u_inner = pre_u[i2] - pre_u[i + 1] if u_out else 0.0
                        u_rest = i2 + 1 < m_u
                        u_next = loc_u[i2 + 1] if u_rest else 0
                        u_tail = pre_u[m_u - 1] - pre_u[i2 + 1] if u_rest else 0.0
                        for y1 in range(nv):
                            if done:
                                break
                            j = cut_v[y1]
                            for y2 in range(y1, nv):
                                j2 = cut_v[y2]
                                v_gone = j == 0 and j2 == last_v
                                v_out = j2 > j
                                if not u_out and not v_out:
                                    continue
                                # new u: u[..i] + v[j+1 .. j2] + u[i2+1 ..]
                                new = 0.0
                                if v_out or not u_gone:
                                    new = pre_u[i]
                                    at = loc_u[i]
                                    if v_out:
                                        new += cc[at, loc_v[j + 1]] + pre_v[j2] - pre_v[j + 1]
                                        at = loc_v[j2]
                                    if u_rest:
                                        new += cc[at, u_next] + u_tail
                                # new v: v[..j] + u[i+1 .. i2] + v[j2+1 ..]
                                if u_out or not v_gone:
                                    new += pre_v[j]
                                    at = loc_v[j]
                                    if u_out:
                                        new += cc[at, u_first] + u_inner
                                        at = u_last
                                    if j2 + 1 < m_v:
                                        new += cc[at, loc_v[j2 + 1]] + pre_v[m_v - 1] - pre_v[j2 + 1]
                                if new >= old - 1e-7:
                                    continue
                                if not _windows_allow(u, i, i2, v, y1, y2, j, j2, m_u, routes, loc, cuts, seg_pre,
                                                      seg_suf, blk, tt, nf, vf[_MAXDUR, u]):  # fmt: skip
                                    continue
                                if not _windows_allow(v, j, j2, u, x1, x2, i, i2, m_v, routes, loc, cuts, seg_pre,
                                                      seg_suf, blk, tt, nf, vf[_MAXDUR, v]):  # fmt: skip
                                    continue
                                if not _exchange(u, i, i2, v, j, j2, request_vehicle, removable, nf, ni, dem, vf, vi,
                                                 cap, load0, tt, cc, routes, rlen, rs, rload, assign, pos_scratch,
                                                 touched, bk_routes, bk_rlen, bk_rs, bk_rload, cuts, ncut, last, loc,
                                                 pre, seg_pre, seg_suf, blk, new_u, new_v, b):  # fmt: skip
                                    continue
                                total += old - new
                                improved = True
                                done = True
                                moved[u] = moved[v] = dirty[u] = dirty[v] = 1
                                break
        dirty[:] = moved
        moved[:] = 0
    return total


@kernel
def construct(
    pickup,
    delivery,
    request_vehicle,
    vehicle_on,
    nf,
    ni,
    dem,
    vf,
    vi,
    cap,
    load0,
    tt,
    cc,
    w,
    routes,
    rlen,
    rs,
    rload,
    assign,
    op,
):
    """Prepare every route and insert all unassigned requests with repair operator ``op``.

    Returns the number of requests left unassigned.
    """
    nveh = rlen.shape[0]
    n_nodes = ni.shape[1]
    max_len = routes.shape[1]
    pos_scratch = np.full(n_nodes, -1, np.int32)
    for v in range(nveh):
        prepare_route(v, routes, rlen, nf, ni, dem, vf, load0, tt, rs, rload, pos_scratch)
    unassigned = np.empty(assign.shape[0], np.int64)
    nu = 0
    for r in range(assign.shape[0]):
        if assign[r] < 0:
            unassigned[nu] = r
            nu += 1
    size = (max_len + 2) * (max_len + 2)
    touched = np.zeros(nveh, np.uint8)
    return repair(
        op,
        unassigned,
        nu,
        pickup,
        delivery,
        assign,
        vehicle_on,
        request_vehicle,
        routes,
        rlen,
        nf,
        ni,
        dem,
        vf,
        vi,
        cap,
        load0,
        tt,
        cc,
        rs,
        rload,
        w,
        0.0,
        touched,
        np.empty_like(routes),
        np.empty_like(rlen),
        np.empty_like(rs),
        np.empty_like(rload),
        np.empty(size),
        np.empty(size, np.int32),
        np.empty(size, np.int32),
        np.empty(max_len + 2, np.int32),
        np.empty(max_len + 2),
        pos_scratch,
    )
