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
(:func:`eject_polish`).

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
from .schedule import _B, _E, _KIND, _LOC, _REQ, KIND_PICKUP, best_insertion, prepare_route, route_cost

D_RANDOM, D_WORST, D_RELATED, D_ROUTE, D_STRING = 0, 1, 2, 3, 4
NUM_DESTROY = 5
R_GREEDY, R_REGRET2, R_REGRET3, R_GREEDY_NOISE, R_REGRET2_NOISE, R_SEQUENTIAL = 0, 1, 2, 3, 4, 5
NUM_REPAIR = 6
DESTROY_NAMES = ("random", "worst", "related", "route", "string")
REPAIR_NAMES = ("greedy", "regret-2", "regret-3", "greedy+noise", "regret-2+noise", "sequential")
SIGMA_BEST, SIGMA_BETTER, SIGMA_ACCEPTED = 33.0, 9.0, 13.0

# Integer parameters (ip) and float parameters (fp) of alns_iterations.
IP_QMIN, IP_QMAX, IP_SEGMENT, IP_POLISH = 0, 1, 2, 3  # polish: 0 none, 1 relocate, 2 relocate + ejection
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
def _best_vehicle(r, pickup, delivery, vehicle_on, request_vehicle, routes, rlen, nf, ni, dem, vf, vi, cap, tt, cc, rs,
                  rload, w, cand_lb, cand_i, cand_j, buf_seq, buf_b, pos_scratch):  # fmt: skip
    """Cheapest insertion of request ``r`` over the vehicles it may use: ``(cost, v, i, j)``, v = -1 if none."""
    best = np.inf
    best_v = -1
    best_i = -1
    best_j = -1
    for v in range(rlen.shape[0]):
        if vehicle_on[v] == 0 or (request_vehicle[r] >= 0 and request_vehicle[r] != v):
            continue
        c, i, j = best_insertion(v, pickup[r], delivery[r], routes, rlen, nf, ni, dem, vf, vi, cap, tt, cc, rs, rload,
                                 w, cand_lb, cand_i, cand_j, buf_seq, buf_b, pos_scratch)  # fmt: skip
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
