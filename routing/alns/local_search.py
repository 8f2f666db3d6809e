"""Local searches on a new best solution: relocating single requests (:func:`polish`), then
moving a request into another route by ejecting one of that route's requests
(:func:`eject_polish`). Both are first improvement, until no move saves."""

from __future__ import annotations

import numpy as np

from ..config import kernel
from ..schedule import best_insertion, prepare_route, route_cost
from .edits import idle_home, node_positions, put_in, removal_gain, take_out
from .repair import best_vehicle


@kernel
def polish(rq, pb, w, rt, assign, sc, pos):
    """Relocate local search: move single requests to their best position while that saves cost.

    Returns the total saving.
    """
    routes = rt.nodes
    rlen = rt.length
    nreq = assign.shape[0]
    max_len = routes.shape[1]
    saved_route = np.empty(max_len, np.int32)
    mark = np.zeros(pb.kind.shape[0], np.uint8)
    order = np.random.permutation(nreq)
    total = 0.0
    improved = True
    while improved:
        improved = False
        for idx in range(nreq):
            r = order[idx]
            v = assign[r]
            if v < 0 or not rq.removable[r]:
                continue
            node_positions(routes, rlen, pos)
            gain = removal_gain(r, rq, assign, rt, pb, pos)
            m = rlen[v]
            saved_route[:m] = routes[v, :m]
            take_out(r, v, rq, pb, rt, mark, sc.position)
            gain += idle_home(v, pb, rt)  # r was the route's last request: it now costs nothing
            best, best_u, best_i, best_j = best_vehicle(r, rq, pb, rt, w, sc)
            if best_u >= 0 and best < gain - 1e-7:
                put_in(r, best_u, best_i, best_j, rq, pb, rt, sc.position)
                assign[r] = best_u
                total += gain - best
                improved = True
            else:
                rlen[v] = m
                routes[v, :m] = saved_route[:m]
                prepare_route(v, pb, rt, sc.position)
    return total


@kernel
def eject_polish(rq, pb, w, rt, assign, sc):
    """Move a request into another route by ejecting one of that route's requests.

    For request ``r`` on route ``v`` and request ``e`` on another route ``u``: take both out,
    put ``r`` at its best place in ``u``, then ``e`` at its best place in ``u`` or ``v``; kept
    when the two routes get cheaper. This reaches what single relocations cannot: a request
    that fits a route only once a neighbour there is moved, swaps of requests, and the
    reordering of a route around a new request. The partners ``e`` of ``r`` are its nearest
    requests, ``rq.neighbours[r]``, nearest first (a granular neighbourhood: a pass costs
    requests x neighbours x 3 insertions, not requests x requests x 3). First improvement,
    until none is left. Returns the total saving.
    """
    routes = rt.nodes
    rlen = rt.length
    pickup = rq.pickup
    delivery = rq.delivery
    near = rq.neighbours
    pos_scratch = sc.position
    nreq = assign.shape[0]
    max_len = routes.shape[1]
    save_v = np.empty(max_len, np.int32)  # route v as it was, with r
    short_v = np.empty(max_len, np.int32)  # route v without r
    save_u = np.empty(max_len, np.int32)
    mark = np.zeros(pb.kind.shape[0], np.uint8)
    order = np.random.permutation(nreq)
    granular = sc.granular[0]
    sc.granular[0] = 0  # every position: the partner was just taken out of the route
    total = 0.0
    improved = True
    while improved:
        improved = False
        for idx in range(nreq):
            r = order[idx]
            v = assign[r]
            if v < 0 or not rq.removable[r] or rq.request_vehicle[r] >= 0 or pickup[r] < 0:
                continue
            cost_v = route_cost(v, routes, rlen, pb)
            mv = rlen[v]
            save_v[:mv] = routes[v, :mv]
            take_out(r, v, rq, pb, rt, mark, pos_scratch)
            ms = rlen[v]
            short_v[:ms] = routes[v, :ms]
            moved = False
            for h in range(near.shape[1]):
                e = near[r, h]
                u = assign[e]
                if u < 0 or u == v or rq.vehicle_on[u] == 0:
                    continue
                if not rq.removable[e] or rq.request_vehicle[e] >= 0 or pickup[e] < 0:
                    continue
                old = cost_v + route_cost(u, routes, rlen, pb)
                mu = rlen[u]
                save_u[:mu] = routes[u, :mu]
                take_out(e, u, rq, pb, rt, mark, pos_scratch)
                t = -1  # the route e went back into
                c1, i1, j1 = best_insertion(u, pickup[r], delivery[r], pb, rt, w, sc)
                if c1 < np.inf:
                    put_in(r, u, i1, j1, rq, pb, rt, pos_scratch)
                    cu, iu, ju = best_insertion(u, pickup[e], delivery[e], pb, rt, w, sc)
                    cv, iv, jv = best_insertion(v, pickup[e], delivery[e], pb, rt, w, sc)
                    if cu < np.inf or cv < np.inf:
                        if cu <= cv:
                            t = u
                            put_in(e, u, iu, ju, rq, pb, rt, pos_scratch)
                        else:
                            t = v
                            put_in(e, v, iv, jv, rq, pb, rt, pos_scratch)
                        new = route_cost(v, routes, rlen, pb) + route_cost(u, routes, rlen, pb)
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
                prepare_route(u, pb, rt, pos_scratch)
                if t == v:
                    rlen[v] = ms
                    routes[v, :ms] = short_v[:ms]
                    prepare_route(v, pb, rt, pos_scratch)
            if not moved:
                rlen[v] = mv
                routes[v, :mv] = save_v[:mv]
                prepare_route(v, pb, rt, pos_scratch)
    sc.granular[0] = granular
    return total
