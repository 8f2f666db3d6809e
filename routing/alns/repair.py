"""Repair operators: how an ALNS iteration puts the removed requests back.

Greedy (cheapest insertion first), regret-2 and regret-3, greedy and regret-2 with noise on
the insertion costs, and sequential (each request in turn at its cheapest place, in random
order or by pickup window). Every insertion is checked exactly by :mod:`routing.schedule`;
a request that fits nowhere stays unassigned.
"""

from __future__ import annotations

import numpy as np

from ..config import kernel, leaf_kernel
from ..schedule import best_insertion, prepare_route
from .edits import idle_home, insert_nodes, mark_near, put_in, touch

R_GREEDY, R_REGRET2, R_REGRET3, R_GREEDY_NOISE, R_REGRET2_NOISE, R_SEQUENTIAL = 0, 1, 2, 3, 4, 5
NUM_REPAIR = 6
REPAIR_NAMES = ("greedy", "regret-2", "regret-3", "greedy+noise", "regret-2+noise", "sequential")


@leaf_kernel
def _column(a_lo, nu, v, unassigned, done, rq, pb, rt, w, noise, cost, pos_i, pos_j, sc):
    """Best insertion of every pending request into route ``v``."""
    pickup = rq.pickup
    delivery = rq.delivery
    request_vehicle = rq.request_vehicle
    for a in range(a_lo, nu):
        if done[a]:
            continue
        r = unassigned[a]
        if request_vehicle[r] >= 0 and request_vehicle[r] != v:
            cost[a, v] = np.inf
            continue
        mark_near(r, rq, sc, 1)
        c, i, j = best_insertion(v, pickup[r], delivery[r], pb, rt, w, sc)
        mark_near(r, rq, sc, 0)
        if noise > 0.0 and c < np.inf:
            c = max(0.0, c + noise * (2.0 * np.random.random() - 1.0))
        cost[a, v] = c
        pos_i[a, v] = i
        pos_j[a, v] = j


@leaf_kernel
def best_vehicle(r, rq, pb, rt, w, sc):
    """Cheapest insertion of request ``r`` over the vehicles it may use: ``(cost, v, i, j)``, v = -1 if none.

    The cost is what the solution's cost grows by: an empty route starts paying its whole route
    (see :func:`~routing.alns.edits.idle_home`).
    """
    best = np.inf
    best_v = -1
    best_i = -1
    best_j = -1
    vehicle_on = rq.vehicle_on
    own = rq.request_vehicle[r]
    p = rq.pickup[r]
    d = rq.delivery[r]
    mark_near(r, rq, sc, 1)
    for v in range(rt.length.shape[0]):
        if vehicle_on[v] == 0 or (own >= 0 and own != v):
            continue
        c, i, j = best_insertion(v, p, d, pb, rt, w, sc)
        c += idle_home(v, pb, rt)
        if c < best:
            best = c
            best_v = v
            best_i = i
            best_j = j
    mark_near(r, rq, sc, 0)
    return best, best_v, best_i, best_j


@kernel
def _repair_sequential(unassigned, nu, rq, assign, pb, rt, w, bk, sc):
    """Insert requests one after another, each at its cheapest place (after SISR's insertion).

    The order is the given (shuffled) one or, every other time on average, by the earliest
    start of the pickup window: a different route structure than the globally cheapest-first
    greedy and regret repairs build.
    """
    if np.random.random() < 0.5:
        key = np.empty(nu)
        for a in range(nu):
            r = unassigned[a]
            key[a] = pb.tw_early[rq.pickup[r]] if rq.pickup[r] >= 0 else pb.tw_early[rq.delivery[r]]
        unassigned[:nu] = unassigned[:nu][np.argsort(key, kind="mergesort")]
    left = 0
    for a in range(nu):
        r = unassigned[a]
        _, v, i, j = best_vehicle(r, rq, pb, rt, w, sc)
        if v < 0:
            unassigned[left] = r
            left += 1
            continue
        touch(v, rt, bk)
        put_in(r, v, i, j, rq, pb, rt, sc.position)
        assign[r] = v
    return left


@kernel
def repair(op, unassigned, nu, rq, assign, pb, rt, w, noise, bk, sc):
    """Insert the first ``nu`` requests of ``unassigned`` by repair operator ``op``.

    Every route changed is backed up in ``bk`` first. Returns how many could not be inserted;
    they are moved to the front of ``unassigned``.
    """
    nveh = rt.length.shape[0]
    if op == R_SEQUENTIAL:
        return _repair_sequential(unassigned, nu, rq, assign, pb, rt, w, bk, sc)
    regret = 3 if op == R_REGRET3 else (2 if op in (R_REGRET2, R_REGRET2_NOISE) else 1)
    eta = noise if op in (R_GREEDY_NOISE, R_REGRET2_NOISE) else 0.0
    cost = np.full((nu, nveh), np.inf)
    pos_i = np.full((nu, nveh), -1, np.int64)
    pos_j = np.full((nu, nveh), -1, np.int64)
    done = np.zeros(nu, np.uint8)
    stale = rq.vehicle_on.copy()  # routes whose column of insertion costs must be (re)computed
    # the vehicles the search may use: the others' costs stay inf (a Li & Lim instance offers a
    # hundred vehicles and uses a tenth of them)
    active = np.flatnonzero(rq.vehicle_on)
    for _ in range(nu):
        for k in range(active.shape[0]):
            v = int(active[k])
            if stale[v]:
                stale[v] = 0
                _column(0, nu, v, unassigned, done, rq, pb, rt, w, eta, cost, pos_i, pos_j, sc)
        best_a = -1
        best_v = -1
        best_score = -np.inf
        for a in range(nu):
            if done[a]:
                continue
            # the three cheapest costs of request a, by one pass (ranked[0] <= ranked[1] <= ranked[2])
            c1 = np.inf
            c2 = np.inf
            c3 = np.inf
            v1 = -1
            for k in range(active.shape[0]):
                v = int(active[k])
                c = cost[a, v]
                if c < c1:
                    c3 = c2
                    c2 = c1
                    c1 = c
                    v1 = v
                elif c < c2:
                    c3 = c2
                    c2 = c
                elif c < c3:
                    c3 = c
            if v1 < 0:
                continue
            if regret == 1:
                score = -c1
            else:
                score = -1e-9 * c1  # ties: the cheaper first
                for h in range(1, regret):
                    ch = c2 if h == 1 else c3
                    score += 1e9 if h >= nveh or ch == np.inf else ch - c1
            if score > best_score:
                best_score = score
                best_a = a
                best_v = v1
        if best_a < 0:
            break
        r = unassigned[best_a]
        v = best_v
        touch(v, rt, bk)
        insert_nodes(v, rq.pickup[r], rq.delivery[r], pos_i[best_a, v], pos_j[best_a, v], rt.nodes, rt.length)
        prepare_route(v, pb, rt, sc.position)
        assign[r] = v
        done[best_a] = 1
        stale[v] = 1
    left = 0
    for a in range(nu):
        if not done[a]:
            unassigned[left] = unassigned[a]
            left += 1
    return left
