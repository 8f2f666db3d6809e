"""Destroy operators: which requests an ALNS iteration takes out of the solution.

Random, worst (largest saving), related (Shaw: close in space and time to a random seed
request), whole routes, and strings (after Christiaens & Vanden Berghe's SISR: a run of
consecutive stops from each of several routes near a seed request).
"""

from __future__ import annotations

import numpy as np

from ..config import kernel
from .edits import node_positions, removal_gain

D_RANDOM, D_WORST, D_RELATED, D_ROUTE, D_STRING = 0, 1, 2, 3, 4
NUM_DESTROY = 5
DESTROY_NAMES = ("random", "worst", "related", "route", "string")
#: the longest string of stops cut from one route
MAX_STRING = 10


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


@kernel
def select_strings(q, cand, rq, assign, pb, rt, pos, out):
    """Strings of consecutive stops from the routes nearest a random seed request.

    Routes are visited in the order of their requests' distance to the seed; from each, a
    string of 1..MAX_STRING stops around the nearest request is cut, and every request with
    a stop in it is taken, until ``q`` are. ``pos`` as :func:`~routing.alns.edits.node_positions`
    leaves it.
    """
    pickup = rq.pickup
    delivery = rq.delivery
    loc = pb.node_location
    tt = pb.travel_time
    nc = cand.shape[0]
    nreq = assign.shape[0]
    free = np.zeros(nreq, np.uint8)
    for k in range(nc):
        free[cand[k]] = 1
    seed = cand[np.random.randint(nc)]
    anchor = pickup[seed] if pickup[seed] >= 0 else delivery[seed]
    loc0 = loc[anchor]
    dist = np.empty(nc)
    for k in range(nc):
        r = cand[k]
        node = pickup[r] if pickup[r] >= 0 else delivery[r]
        dist[k] = tt[loc0, loc[node]]
    order = np.argsort(dist)
    ruined = np.zeros(rt.length.shape[0], np.uint8)
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
        hi = rt.length[v] - 1 if pb.vehicle_end[v] >= 0 else rt.length[v]  # stops are at positions lo .. hi-1
        span = min(hi - lo, MAX_STRING, 2 * (q - c))
        length = 1 + np.random.randint(span)
        at = pos[pickup[r]] if pickup[r] >= 0 else pos[delivery[r]]
        start = at - np.random.randint(length)
        start = max(lo, min(start, hi - length))
        for k in range(start, start + length):
            rr = pb.request[rt.nodes[v, k]]
            if rr >= 0 and free[rr]:
                free[rr] = 0
                out[c] = rr
                c += 1
    return c


@kernel
def select_requests(op, q, rq, assign, pb, rt, tmax, pos, out):
    """Choose up to ``q`` assigned, removable requests by destroy operator ``op`` into ``out``;
    returns how many."""
    pickup = rq.pickup
    delivery = rq.delivery
    nreq = assign.shape[0]
    cand = np.empty(nreq, np.int64)
    nc = 0
    for r in range(nreq):
        if assign[r] >= 0 and rq.removable[r]:
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
    node_positions(rt.nodes, rt.length, pos)
    if op == D_WORST:
        gains = np.empty(nc)
        for k in range(nc):
            gains[k] = -removal_gain(cand[k], rq, assign, rt, pb, pos)
        return _take_ranked(np.argsort(gains), cand, q, 3.0, out)
    if op == D_RELATED:
        loc = pb.node_location
        tt = pb.travel_time
        b = rt.service_start
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
            val = tt[loc[sd], loc[d]] + 0.25 * abs(b[v, pos[d]] - b[vs, pos[sd]])
            if p >= 0 and sp >= 0:
                val += tt[loc[sp], loc[p]] + 0.25 * abs(b[v, pos[p]] - b[vs, pos[sp]])
            rel[k] = val / tmax
        return _take_ranked(np.argsort(rel), cand, q, 6.0, out)
    if op == D_STRING:
        return select_strings(q, cand, rq, assign, pb, rt, pos, out)
    # D_ROUTE: the requests of random routes until about q are taken.
    nveh = rt.length.shape[0]
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
