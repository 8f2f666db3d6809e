"""Route edits shared by the ALNS operators: backups, inserting and removing nodes, costs.

The search works in place on one :class:`~routing.schedule.RouteState` and keeps a
:class:`Backup` of every route it touches in an iteration, so that rejecting a candidate
restores only those routes.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from ..config import kernel, leaf_kernel
from ..schedule import RouteState, prepare_route, route_cost


class RequestArrays(NamedTuple):
    """What the search knows of the requests, by request (and which vehicles it may use).

    ``pickup`` / ``delivery``: nodes (pickup -1: on board); ``request_vehicle``: the vehicle a
    request is pinned to (-1: any); ``removable``: 1 if the search may move the request;
    ``vehicle_on`` (by vehicle): 1 if the search may give the vehicle requests;
    ``neighbours[r]``: the requests nearest ``r``, nearest first
    (:func:`~routing.alns.neighbours.request_neighbours`), the partners the ejection search tries.
    """

    pickup: NDArray[np.int32]
    delivery: NDArray[np.int32]
    request_vehicle: NDArray[np.int32]
    removable: NDArray[np.uint8]
    vehicle_on: NDArray[np.uint8]
    neighbours: NDArray[np.int32]


class Backup(NamedTuple):
    """Copies of the routes touched in this iteration (``touched[v] == 1``), as they were."""

    touched: NDArray[np.uint8]
    routes: RouteState


@kernel
def backup_for(rt):
    """An empty :class:`Backup` for routes shaped like ``rt``."""
    return Backup(
        np.zeros(rt.length.shape[0], np.uint8),
        RouteState(
            np.empty_like(rt.nodes),
            np.empty_like(rt.length),
            np.empty_like(rt.load),
            np.empty_like(rt.service_start),
            np.empty_like(rt.arrival),
            np.empty_like(rt.wait),
            np.empty_like(rt.cum_wait),
            np.empty_like(rt.slack),
            np.empty_like(rt.cum_leg),
            np.empty_like(rt.late_min),
        ),
    )


@leaf_kernel
def _copy_route(v, m, src, dst):
    """Copy route ``v`` (its first ``m`` positions) from one :class:`RouteState` to another
    (element by element: a slice assignment may allocate, which a leaf kernel must not)."""
    dst.length[v] = m
    for k in range(m):
        dst.nodes[v, k] = src.nodes[v, k]
        dst.service_start[v, k] = src.service_start[v, k]
        dst.arrival[v, k] = src.arrival[v, k]
        dst.wait[v, k] = src.wait[v, k]
        dst.cum_wait[v, k] = src.cum_wait[v, k]
        dst.slack[v, k] = src.slack[v, k]
        dst.cum_leg[v, k] = src.cum_leg[v, k]
        dst.late_min[v, k] = src.late_min[v, k]
        for d in range(src.load.shape[2]):
            dst.load[v, k, d] = src.load[v, k, d]


@leaf_kernel
def touch(v, rt, bk):
    """Back up route ``v`` before its first change in this iteration."""
    if bk.touched[v]:
        return
    bk.touched[v] = 1
    _copy_route(v, rt.length[v], rt, bk.routes)


@leaf_kernel
def restore(rt, bk):
    """Put every touched route back as it was backed up."""
    for v in range(bk.touched.shape[0]):
        if bk.touched[v]:
            _copy_route(v, bk.routes.length[v], bk.routes, rt)


@leaf_kernel
def insert_nodes(v, p, d, i, j, routes, rlen):
    """Insert pickup ``p`` (or -1) before position ``i`` and delivery ``d`` before ``j`` (j >= i)
    into route ``v`` of ``routes`` / ``rlen`` (a :class:`~routing.schedule.RouteState`'s ``nodes``
    and ``length``)."""
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


@leaf_kernel
def remove_marked(v, routes, rlen, mark):
    """Drop from route ``v`` every node with ``mark[node] != 0``."""
    c = 0
    for k in range(rlen[v]):
        node = routes[v, k]
        if mark[node] == 0:
            routes[v, c] = node
            c += 1
    rlen[v] = c


@leaf_kernel
def solution_cost(routes, rlen, pb, assign, penalty):
    """Travel cost of all routes plus ``penalty`` per unassigned request."""
    total = 0.0
    for v in range(rlen.shape[0]):
        total += route_cost(v, routes, rlen, pb)
    for r in range(assign.shape[0]):
        if assign[r] < 0:
            total += penalty
    return total


@leaf_kernel
def count_used(routes, rlen, pb):
    """Vehicles whose route visits at least one node."""
    used = 0
    for v in range(rlen.shape[0]):
        if rlen[v] > (2 if pb.vehicle_end[v] >= 0 else 1):
            used += 1
    return used


@leaf_kernel
def node_positions(routes, rlen, pos):
    """``pos[node]``: the position of every routed node in its route."""
    for v in range(rlen.shape[0]):
        for k in range(rlen[v]):
            pos[routes[v, k]] = k


@leaf_kernel
def removal_gain(r, rq, assign, rt, pb, pos):
    """Travel cost saved by taking request ``r`` out of its route (``pos`` from :func:`node_positions`)."""
    v = assign[r]
    p = rq.pickup[r]
    d = rq.delivery[r]
    m = rt.length[v]
    seq = rt.nodes[v]
    loc = pb.node_location
    cc = pb.travel_cost
    kd = pos[d]
    after = seq[kd + 1] if kd + 1 < m else -1
    if p >= 0 and pos[p] == kd - 1:
        before = seq[kd - 2]
        gain = cc[loc[before], loc[p]] + cc[loc[p], loc[d]]
        if after >= 0:
            gain += cc[loc[d], loc[after]] - cc[loc[before], loc[after]]
        return gain
    gain = 0.0
    if p >= 0:
        kp = pos[p]
        a = seq[kp - 1]
        b = seq[kp + 1]
        gain += cc[loc[a], loc[p]] + cc[loc[p], loc[b]] - cc[loc[a], loc[b]]
    before = seq[kd - 1]
    gain += cc[loc[before], loc[d]]
    if after >= 0:
        gain += cc[loc[d], loc[after]] - cc[loc[before], loc[after]]
    return gain


@leaf_kernel
def take_out(r, v, rq, pb, rt, mark, pos_scratch):
    """Remove request ``r`` from route ``v`` and prepare the route (``mark``: zeros, restored)."""
    if rq.pickup[r] >= 0:
        mark[rq.pickup[r]] = 1
    mark[rq.delivery[r]] = 1
    remove_marked(v, rt.nodes, rt.length, mark)
    if rq.pickup[r] >= 0:
        mark[rq.pickup[r]] = 0
    mark[rq.delivery[r]] = 0
    prepare_route(v, pb, rt, pos_scratch)


@leaf_kernel
def put_in(r, v, i, j, rq, pb, rt, pos_scratch):
    """Insert request ``r`` into route ``v`` before positions ``i`` / ``j`` and prepare the route."""
    insert_nodes(v, rq.pickup[r], rq.delivery[r], i, j, rt.nodes, rt.length)
    prepare_route(v, pb, rt, pos_scratch)


@leaf_kernel
def idle_home(v, pb, rt):
    """The leg from start to end of vehicle ``v``'s route when it visits nothing, else 0.

    An empty route costs nothing (:func:`routing.schedule.route_cost`), but the insertion and
    removal deltas of a route are taken against its start-to-end leg. Where a vehicle does not
    start where it ends (the live dispatcher's idle vans, away from their depots) that leg is
    not 0, and a delta that empties or fills the route must be corrected by it.
    """
    if pb.vehicle_end[v] >= 0 and rt.length[v] == 2:
        loc = pb.node_location
        return pb.travel_cost[loc[pb.vehicle_start[v]], loc[pb.vehicle_end[v]]]
    return 0.0


@leaf_kernel
def mark_near(r, rq, sc, value):
    """Set (``value`` 1) or clear (0) the flags ``sc.near`` of the stops of request ``r``'s
    neighbours (``rq.neighbours[r]``): where a granular insertion of ``r`` may go
    (:class:`~routing.schedule.InsertionScratch`). Does nothing when the scratch is not granular."""
    if sc.granular[0] == 0:
        return
    near = rq.neighbours
    for h in range(near.shape[1]):
        e = near[r, h]
        if rq.pickup[e] >= 0:
            sc.near[rq.pickup[e]] = value
        sc.near[rq.delivery[e]] = value
