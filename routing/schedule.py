"""Schedules of pickup-and-delivery routes and the best insertion of a request (Numba kernels).

Data layout. The kernels take the problem as one :class:`ProblemArrays` (built from a
:class:`routing.problem.PDProblem` by :func:`kernel_arrays`, or kept by the live
:class:`routing.fleet.FleetPlan`) and the routes as one :class:`RouteState`; both are named
tuples of arrays, which Numba compiles like any tuple, so a kernel reads ``pb.tw_late[node]``
or ``rt.service_start[v, k]``. Fields, per node, per vehicle and per location:

    kind, node_location, partner, request   int32 per node: node kind, location, partner node
                                            (pickup <-> delivery; -1 for an on-board delivery),
                                            request id (-1 for depots)
    tw_early, tw_late, service, max_ride    float64 per node: time window, service duration, and
                                            for a delivery the maximum ride time of its request
    demand[node, dim]                       int64: load change
    vehicle_start, vehicle_end              int32 per vehicle: start node, end node (-1: open)
    vehicle_early, max_duration             float64 per vehicle: earliest start at the start
                                            node, maximum duration
    capacity[v, dim], start_load[v, dim]    int64: capacity, load on board at the start
    travel_time[loc, loc], travel_cost      float64

A route of vehicle ``v`` is ``rt.nodes[v, 0:rt.length[v]]``: its start node, the nodes it
visits, then its end node if it has one. Positions are indices into that row; "insert at
``i``" places the new node right before the node now at position ``i`` (MATSim's
convention: position 1 = right after the vehicle's current position). The other fields of
:class:`RouteState` hold, by vehicle and position, what :func:`prepare_route` computes.

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
simulating every insertion, which the tests check against a brute-force oracle. A granular
scratch (:class:`InsertionScratch` ``granular``, used by the offline search on request) lists
only the pairs next to marked stops, and the result is the best among those.

Cost of an insertion (:class:`CostWeights`): ``travel * added travel cost + delay * sum over
the other riders' pickups and drop-offs of (passengers x delay of that stop) + wait * new
passengers x (pickup time - earliest pickup)``. Offline solvers use ``(1, 0, 0)``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from .config import kernel, leaf_kernel
from .problem import DELIVERY, END, PICKUP, START, PDProblem

EPS = 1e-6
BIG = 1e18

KIND_START, KIND_END, KIND_PICKUP, KIND_DELIVERY = START, END, PICKUP, DELIVERY


class ProblemArrays(NamedTuple):
    """The problem as the kernels read it (see the module docstring for each field)."""

    kind: NDArray[np.int32]
    node_location: NDArray[np.int32]
    partner: NDArray[np.int32]
    request: NDArray[np.int32]
    tw_early: NDArray[np.float64]
    tw_late: NDArray[np.float64]
    service: NDArray[np.float64]
    max_ride: NDArray[np.float64]
    demand: NDArray[np.int64]
    vehicle_start: NDArray[np.int32]
    vehicle_end: NDArray[np.int32]
    vehicle_early: NDArray[np.float64]
    max_duration: NDArray[np.float64]
    capacity: NDArray[np.int64]
    start_load: NDArray[np.int64]
    travel_time: NDArray[np.float64]
    travel_cost: NDArray[np.float64]


class RouteState(NamedTuple):
    """Routes and their prepared schedules, by vehicle and position (``[v, k]``).

    ``nodes[v, :length[v]]`` is route ``v``; :func:`prepare_route` fills the rest: ``load``
    after each position (``[v, k, dim]``), ``service_start`` (B), ``arrival``, ``wait``
    (B - arrival, >= 0), ``cum_wait`` (prefix sum of waits), ``slack`` (suffix minimum of
    waits so far + room to the window's end), ``cum_leg`` (prefix sum of service + travel up
    to the arrival at a position) and ``late_min`` (suffix minimum of the windows' ends).
    """

    nodes: NDArray[np.int32]
    length: NDArray[np.int32]
    load: NDArray[np.int64]
    service_start: NDArray[np.float64]
    arrival: NDArray[np.float64]
    wait: NDArray[np.float64]
    cum_wait: NDArray[np.float64]
    slack: NDArray[np.float64]
    cum_leg: NDArray[np.float64]
    late_min: NDArray[np.float64]


class InsertionScratch(NamedTuple):
    """Scratch arrays of the insertion kernels: candidates (lower bound and positions) of size
    at least ``(m + 1)^2``, a candidate route and its schedule of size at least ``m + 2``
    (``m``: the longest route looked at), and one int per node, all -1 (used and restored).

    ``granular[0] == 1`` makes the insertion granular: a pickup only goes right before or after
    a node marked in ``near`` (one flag per node), and a delivery right after its pickup or next
    to a marked node; the offline search marks the stops of the request's nearest requests and
    the depots (:func:`routing.alns.neighbours`). ``granular[0] == 0`` (the default of
    :func:`insertion_scratch`): every position, and ``near`` is not read."""

    bound: NDArray[np.float64]
    pickup_at: NDArray[np.int32]
    dropoff_at: NDArray[np.int32]
    seq: NDArray[np.int32]
    times: NDArray[np.float64]
    position: NDArray[np.int32]
    near: NDArray[np.uint8]
    granular: NDArray[np.int64]


class CostWeights(NamedTuple):
    """Weights of an insertion's cost: added travel cost, delay of the other riders' stops
    (per passenger), and the new riders' wait after the earliest pickup (per passenger)."""

    travel: float
    delay: float
    wait: float


#: What the offline solvers minimise: travel cost only.
TRAVEL_ONLY = CostWeights(1.0, 0.0, 0.0)


def kernel_arrays(problem: PDProblem) -> ProblemArrays:
    """The kernels' view of ``problem`` (see the module docstring)."""
    n = problem.num_nodes
    max_ride = np.full(n, np.inf)
    max_ride[problem.delivery] = problem.max_ride
    partner = np.full(n, -1, np.int32)
    has = problem.pickup >= 0
    partner[problem.pickup[has]] = problem.delivery[has]
    partner[problem.delivery] = problem.pickup
    return ProblemArrays(
        kind=problem.kind.astype(np.int32),
        node_location=np.ascontiguousarray(problem.node_location, np.int32),
        partner=partner,
        request=problem.request_of_node(),
        tw_early=np.ascontiguousarray(problem.tw_early, np.float64),
        tw_late=np.ascontiguousarray(problem.tw_late, np.float64),
        service=np.ascontiguousarray(problem.service, np.float64),
        max_ride=max_ride,
        demand=np.ascontiguousarray(problem.demand),
        vehicle_start=np.ascontiguousarray(problem.vehicle_start, np.int32),
        vehicle_end=np.ascontiguousarray(problem.vehicle_end, np.int32),
        vehicle_early=problem.tw_early[problem.vehicle_start].astype(np.float64),
        max_duration=np.ascontiguousarray(problem.max_duration, np.float64),
        capacity=np.ascontiguousarray(problem.capacity),
        start_load=np.ascontiguousarray(problem.start_load),
        travel_time=problem.travel_time,
        travel_cost=problem.travel_cost,
    )


def empty_route_state(num_vehicles: int, max_len: int, num_dims: int) -> RouteState:
    """A :class:`RouteState` of zeros with room for routes of ``max_len`` nodes."""
    k = num_vehicles

    def f() -> NDArray[np.float64]:
        return np.zeros((k, max_len))

    return RouteState(
        nodes=np.zeros((k, max_len), np.int32),
        length=np.zeros(k, np.int32),
        load=np.zeros((k, max_len, num_dims), np.int64),
        service_start=f(),
        arrival=f(),
        wait=f(),
        cum_wait=f(),
        slack=f(),
        cum_leg=f(),
        late_min=f(),
    )


def grown_route_state(rt: RouteState, max_len: int) -> RouteState:
    """A copy of ``rt`` with room for routes of ``max_len`` nodes (at least its own)."""
    out = empty_route_state(rt.nodes.shape[0], max_len, rt.load.shape[2])
    m = rt.nodes.shape[1]
    olds: tuple[NDArray[np.generic], ...] = tuple(rt)
    news: tuple[NDArray[np.generic], ...] = tuple(out)
    for old, new in zip(olds, news, strict=True):
        if old.ndim == 1:
            new[:] = old
        else:
            new[:, :m] = old
    return out


@kernel
def insertion_scratch(max_len: int, num_nodes: int) -> InsertionScratch:
    """Scratch for routes of up to ``max_len`` nodes (with the new ones) over ``num_nodes`` nodes.

    A kernel, so that the search kernels (construct, search) allocate theirs with it too.
    """
    size = (max_len + 2) * (max_len + 2)
    return InsertionScratch(  # positional: bound, pickup_at, dropoff_at, seq, times, position, near, granular
        np.empty(size),
        np.empty(size, np.int32),
        np.empty(size, np.int32),
        np.empty(max_len + 2, np.int32),
        np.empty(max_len + 2),
        np.full(num_nodes, -1, np.int32),
        np.zeros(num_nodes, np.uint8),
        np.zeros(1, np.int64),
    )


# ============================================================================ schedules
@leaf_kernel
def route_schedule(seq, m, t0, maxdur, pb, out_b, pos_scratch):
    """Earliest feasible schedule of the node sequence ``seq[0:m]`` (``seq[0]`` = start node).

    ``t0`` is the earliest service start at the start node; ``maxdur`` the maximum time
    between service start at the first and at the last node. Writes the service start
    times to ``out_b[0:m]`` and returns True if the sequence is time-feasible (windows, ride
    limits of the requests whose pickup and delivery are both in it, duration). Delivery
    nodes whose pickup is not in ``seq`` (on-board riders) carry their limit in their window.
    ``pos_scratch`` (one int per node, all -1) is used and restored.
    """
    tw_early = pb.tw_early
    tw_late = pb.tw_late
    service = pb.service
    loc = pb.node_location
    tt = pb.travel_time
    for k in range(m):
        node = seq[k]
        pos_scratch[node] = k
        out_b[k] = tw_early[node]
    if out_b[0] < t0:
        out_b[0] = t0
    feasible = True
    for _rounds in range(m + 2):
        # Forward: as early as the predecessor allows.
        for k in range(1, m):
            prev = seq[k - 1]
            arr = out_b[k - 1] + service[prev] + tt[loc[prev], loc[seq[k]]]
            if arr > out_b[k]:
                out_b[k] = arr
        for k in range(m):
            if out_b[k] > tw_late[seq[k]] + EPS:
                feasible = False
                break
        if not feasible:
            break
        # Raise pickups (or the start) that leave too early for a ride / duration limit.
        changed = False
        for k in range(1, m):
            node = seq[k]
            if pb.kind[node] == KIND_DELIVERY:
                p = pb.partner[node]
                if p >= 0:
                    a = pos_scratch[p]
                    if a >= 0 and a < k:
                        need = out_b[k] - service[p] - pb.max_ride[node]
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
def sequence_is_valid(seq, m, v, pb, pos_scratch):
    """Capacity and pairing of a node sequence for vehicle ``v`` (times not checked).

    Every pickup must be followed by its delivery; a delivery whose pickup is elsewhere
    must be an on-board one (pickup -1). Loads start at ``pb.start_load[v]``.
    """
    dem = pb.demand
    dims = dem.shape[1]
    load = pb.start_load[v].copy()
    ok = True
    for k in range(m):
        pos_scratch[seq[k]] = k
    for k in range(1, m):
        node = seq[k]
        kind = pb.kind[node]
        if kind == KIND_PICKUP:
            d = pb.partner[node]
            if d < 0 or pos_scratch[d] < k:
                ok = False
        elif kind == KIND_DELIVERY:
            p = pb.partner[node]
            if p >= 0 and (pos_scratch[p] < 0 or pos_scratch[p] > k):
                ok = False
        for d in range(dims):
            load[d] += dem[node, d]
            if load[d] > pb.capacity[v, d] or load[d] < 0:
                ok = False
    for k in range(m):
        pos_scratch[seq[k]] = -1
    return ok


@leaf_kernel
def prepare_routes(vehicles, pb, rt, pos_scratch, ok):
    """:func:`prepare_route` for each vehicle of ``vehicles``; ``ok[k]`` says whether route
    ``vehicles[k]`` is time-feasible (one call from Python instead of one per route)."""
    for k in range(vehicles.shape[0]):
        ok[k] = prepare_route(vehicles[k], pb, rt, pos_scratch)


@leaf_kernel
def prepare_route(v, pb, rt, pos_scratch):
    """Compute the schedule and the insertion quantities of route ``v`` into ``rt``.

    Returns False (and leaves garbage) if the route is not time-feasible.
    """
    m = rt.length[v]
    seq = rt.nodes[v]
    loc = pb.node_location
    tt = pb.travel_time
    dem = pb.demand
    b = rt.service_start[v]
    arrival = rt.arrival[v]
    wait = rt.wait[v]
    cum_wait = rt.cum_wait[v]
    cum_leg = rt.cum_leg[v]
    rload = rt.load[v]
    ok = route_schedule(seq, m, pb.vehicle_early[v], pb.max_duration[v], pb, b, pos_scratch)
    dims = dem.shape[1]
    for d in range(dims):
        rload[0, d] = pb.start_load[v, d]
    arrival[0] = b[0]
    wait[0] = 0.0
    cum_wait[0] = 0.0
    cum_leg[0] = 0.0
    for k in range(1, m):
        prev = seq[k - 1]
        node = seq[k]
        leg = pb.service[prev] + tt[loc[prev], loc[node]]
        arrival[k] = b[k - 1] + leg
        w = b[k] - arrival[k]
        wait[k] = w if w > 0.0 else 0.0
        cum_wait[k] = cum_wait[k - 1] + wait[k]
        cum_leg[k] = cum_leg[k - 1] + leg
        for d in range(dims):
            rload[k, d] = rload[k - 1, d] + dem[node, d]
    # Suffix minima of (waits so far + slack to the window's end) and of the windows' ends.
    slack = rt.slack[v]
    late_min = rt.late_min[v]
    best = BIG
    lmin = BIG
    for k in range(m - 1, -1, -1):
        late = pb.tw_late[seq[k]]
        val = cum_wait[k] + late - b[k]
        if val < best:
            best = val
        slack[k] = best
        if late < lmin:
            lmin = late
        late_min[k] = lmin
    return ok


@leaf_kernel
def route_cost(v, nodes, length, pb):
    """Total travel cost of route ``v`` of ``nodes`` / ``length`` (0 for a route that visits nothing)."""
    m = length[v]
    total = 0.0
    if m <= 2 and (m < 2 or pb.kind[nodes[v, m - 1]] == KIND_END):
        return 0.0
    loc = pb.node_location
    cc = pb.travel_cost
    for k in range(1, m):
        total += cc[loc[nodes[v, k - 1]], loc[nodes[v, k]]]
    return total


# ============================================================================ insertion
@leaf_kernel
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


@leaf_kernel
def _exact_cost(v, cand, cm, new_b, i, j, has_p, delta_cost, w, pb, rt):
    """Cost of a checked candidate: travel cost plus the delay and wait terms."""
    cost = w.travel * delta_cost
    if w.delay > 0.0:
        shift = 0
        for k in range(1, cm):
            node = cand[k]
            if (has_p and k == i) or k == j + (1 if has_p else 0):
                shift += 1
                continue
            old = k - shift
            delay = new_b[k] - rt.service_start[v, old]
            if delay > EPS:
                pax = pb.demand[node, 0]
                if pax < 0:
                    pax = -pax
                cost += w.delay * delay * pax
    if w.wait > 0.0 and has_p:
        p = cand[i]
        cost += w.wait * pb.demand[p, 0] * (new_b[i] - pb.tw_early[p])
    return cost


@leaf_kernel
def insertion_candidates(v, p, d, pb, rt, w, sc):
    """The candidate insertions of pickup ``p`` (or -1) and delivery ``d`` into route ``v``: the
    position pairs that pass the O(1) tests, with a lower bound of their cost, written to
    ``sc.bound``, ``sc.pickup_at``, ``sc.dropoff_at``; returns how many.

    The route's state must be prepared (:func:`prepare_route`).
    """
    m = rt.length[v]
    seq = rt.nodes[v]
    dem = pb.demand
    cap = pb.capacity
    tt = pb.travel_time
    cc = pb.travel_cost
    loc = pb.node_location
    tw_early = pb.tw_early
    tw_late = pb.tw_late
    service = pb.service
    rs_b = rt.service_start[v]
    rs_a = rt.arrival[v]
    rs_cw = rt.cum_wait[v]
    rs_sl = rt.slack[v]
    rs_ts = rt.cum_leg[v]
    rs_lmin = rt.late_min[v]
    rload = rt.load[v]
    cand_lb = sc.bound
    cand_i = sc.pickup_at
    cand_j = sc.dropoff_at
    dims = dem.shape[1]
    closed = pb.vehicle_end[v] >= 0
    last = m - 1 if closed else m  # last position before which a node may be inserted
    has_p = p >= 0
    loc_d = loc[d]
    gran = sc.granular[0] != 0
    near = sc.near
    nc = 0
    if has_p:
        loc_p = loc[p]
        e_p = tw_early[p]
        l_p = tw_late[p]
        s_p = service[p]
        e_d = tw_early[d]
        l_d = tw_late[d]
        ride = pb.max_ride[d]
        t_pd = tt[loc_p, loc_d]
        # A stop that must be served before the pickup can even end cannot follow it: skip every
        # position with such a stop at or after it (a long plan and a request late in it). The
        # suffix minimum of the windows' ends only grows along the route: a binary search.
        first = 1
        right = last if last < m else m - 1  # the last position with a stop at or after it
        if right < 1:
            pass  # an open route without stops: nothing follows the pickup
        elif rs_lmin[right] + EPS < e_p + s_p:
            first = right + 1  # only an open route's end is left, if any
        else:
            left = 1
            while left < right:
                mid = (left + right) // 2
                if rs_lmin[mid] + EPS < e_p + s_p:
                    left = mid + 1
                else:
                    right = mid
            first = left
        for i in range(first, last + 1):
            prev = seq[i - 1]
            if rs_b[i - 1] > l_p + EPS:
                break  # service starts only get later along the route
            if gran and near[prev] == 0 and (i >= m or near[seq[i]] == 0):
                continue  # granular: the pickup goes next to a near stop only
            loc_prev = loc[prev]
            # Capacity right after the pickup.
            fits = True
            for q in range(dims):
                if rload[i - 1, q] + dem[p, q] > cap[v, q]:
                    fits = False
            if not fits:
                continue
            b_p = rs_b[i - 1] + service[prev] + tt[loc_prev, loc_p]
            if b_p < e_p:
                b_p = e_p
            if b_p > l_p + EPS:
                continue
            dep_p = b_p + s_p
            wait_lb = w.wait * dem[p, 0] * (b_p - e_p)
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
                        loc_s = loc[succ]
                        arr = b_d + service[d] + tt[loc_d, loc_s]
                        delta = arr - rs_a[i]
                        slack = rs_sl[i] - rs_cw[i - 1]
                        if delta > slack + EPS:
                            ok = False
                        dcost += cc[loc_d, loc_s] - cc[loc_prev, loc_s]
                    if ok:
                        cand_lb[nc] = w.travel * dcost + wait_lb
                        cand_i[nc] = i
                        cand_j[nc] = i
                        nc += 1
            # --- delivery later (j > i): needs a successor of the pickup.
            if i >= last:
                continue
            succ_i = seq[i]
            loc_si = loc[succ_i]
            delta1 = dep_p + tt[loc_p, loc_si] - rs_a[i]
            base_cost = cc[loc_prev, loc_p] + cc[loc_p, loc_si] - cc[loc_prev, loc_si]
            run_min = BIG
            cw_before = rs_cw[i - 1]
            for j in range(i + 1, last + 1):
                k = j - 1  # the node now right before the delivery
                node_k = seq[k]
                if rs_b[k] > l_d + EPS:
                    break
                val = rs_cw[k] + tw_late[node_k] - rs_b[k]
                if val < run_min:
                    run_min = val
                if delta1 > run_min - cw_before + EPS:
                    break  # a node in between would be late; later j only adds nodes
                over = False
                for q in range(dims):
                    if rload[k, q] + dem[p, q] > cap[v, q]:
                        over = True
                if over:
                    break
                loc_k = loc[node_k]
                ride_lb = tt[loc_p, loc_si] + rs_ts[k] - rs_ts[i] + service[node_k] + tt[loc_k, loc_d]
                if ride_lb > ride + EPS:
                    break  # the ride only gets longer for later j
                shift = delta1 - (rs_cw[k] - cw_before)
                if shift < 0.0:
                    shift = 0.0
                b_d = rs_b[k] + shift + service[node_k] + tt[loc_k, loc_d]
                if b_d < e_d:
                    b_d = e_d
                if b_d > l_d + EPS:
                    continue
                if gran and near[node_k] == 0 and (j >= m or near[seq[j]] == 0):
                    continue  # granular: the delivery goes next to a near stop only
                dcost = base_cost + cc[loc_k, loc_d]
                ok = True
                if j < m:
                    succ = seq[j]
                    loc_s = loc[succ]
                    arr = b_d + service[d] + tt[loc_d, loc_s]
                    delta2 = arr - rs_a[j]
                    if delta2 > rs_sl[j] - rs_cw[j - 1] + EPS:
                        ok = False
                    dcost += cc[loc_d, loc_s] - cc[loc_k, loc_s]
                if ok:
                    cand_lb[nc] = w.travel * dcost + wait_lb
                    cand_i[nc] = i
                    cand_j[nc] = j
                    nc += 1
    else:
        # Only a delivery (an on-board rider): every position.
        e_d = tw_early[d]
        l_d = tw_late[d]
        for j in range(1, last + 1):
            prev = seq[j - 1]
            loc_prev = loc[prev]
            b_d = rs_b[j - 1] + service[prev] + tt[loc_prev, loc_d]
            if b_d < e_d:
                b_d = e_d
            if b_d > l_d + EPS:
                continue
            dcost = cc[loc_prev, loc_d]
            ok = True
            if j < m:
                succ = seq[j]
                loc_s = loc[succ]
                arr = b_d + service[d] + tt[loc_d, loc_s]
                if arr - rs_a[j] > rs_sl[j] - rs_cw[j - 1] + EPS:
                    ok = False
                dcost += cc[loc_d, loc_s] - cc[loc_prev, loc_s]
            if ok:
                cand_lb[nc] = w.travel * dcost
                cand_i[nc] = j
                cand_j[nc] = j
                nc += 1
    return nc


@leaf_kernel
def cheapest_candidate(v, p, d, pb, rt, w, sc, nc, upper):
    """The cheapest of the ``nc`` candidates of :func:`insertion_candidates` that is feasible and
    costs less than ``upper``, as ``(cost, i, j)`` (``(inf, -1, -1)`` if none): branch and bound,
    checking candidates exactly (the changed route's schedule) cheapest lower bound first, until
    no lower bound left can beat the best. Consumes the candidates (their bounds are overwritten).
    """
    m = rt.length[v]
    seq = rt.nodes[v]
    loc = pb.node_location
    cc = pb.travel_cost
    cand_lb = sc.bound
    buf_seq = sc.seq
    buf_b = sc.times
    has_p = p >= 0
    # Branch and bound over the candidates, cheapest lower bound first.
    best_cost = np.inf
    best_i = -1
    best_j = -1
    exact_needed = w.delay > 0.0 or w.wait > 0.0
    for _ in range(nc):
        arg = -1
        lo = np.inf
        for c in range(nc):
            if cand_lb[c] < lo:
                lo = cand_lb[c]
                arg = c
        if arg < 0 or lo >= best_cost - EPS or lo >= upper:
            break
        i = sc.pickup_at[arg]
        j = sc.dropoff_at[arg]
        cand_lb[arg] = np.inf
        cm = _build_candidate(seq, m, p, d, i, j, buf_seq)
        if not route_schedule(buf_seq, cm, pb.vehicle_early[v], pb.max_duration[v], pb, buf_b, sc.position):
            continue
        if exact_needed:
            # The travel-cost part, exactly, from the two sequences.
            dc = 0.0
            for k in range(1, cm):
                dc += cc[loc[buf_seq[k - 1]], loc[buf_seq[k]]]
            for k in range(1, m):
                dc -= cc[loc[seq[k - 1]], loc[seq[k]]]
            cost = _exact_cost(v, buf_seq, cm, buf_b, i, j, has_p, dc, w, pb, rt)
        else:
            cost = lo
        if cost < best_cost - EPS:
            best_cost = cost
            best_i = i
            best_j = j
    return best_cost, best_i, best_j


@leaf_kernel
def insertion_below(v, p, d, pb, rt, w, sc, upper):
    """Cheapest feasible insertion of pickup ``p`` (or -1) and delivery ``d`` into route ``v``.

    The route's state must be prepared (:func:`prepare_route`). Returns ``(cost, i, j)``
    where ``i`` / ``j`` are the positions before which the pickup / delivery go (``j >= i``;
    equal when the delivery directly follows the pickup), or ``(inf, -1, -1)``. ``sc`` is
    scratch (:class:`InsertionScratch`) for the route's length.

    With ``upper``, an insertion is only looked for if it may cost less than ``upper``: candidates
    whose lower bound is at or above it are not checked (``(inf, -1, -1)`` if none is left).
    """
    nc = insertion_candidates(v, p, d, pb, rt, w, sc)
    return cheapest_candidate(v, p, d, pb, rt, w, sc, nc, upper)


@leaf_kernel
def best_insertion(v, p, d, pb, rt, w, sc):
    """:func:`insertion_below` without a bound: the cheapest feasible insertion, if any."""
    return insertion_below(v, p, d, pb, rt, w, sc, np.inf)


@kernel
def fleet_insertions(cands, p, d, pb, rt, w, sc, out_cost, out_i, out_j, first_best_only):
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
            c, i, j = insertion_below(cands[k], p, d, pb, rt, w, sc, np.inf)
            out_cost[k] = c
            out_i[k] = i
            out_j[k] = j
        return
    low = np.empty(n)
    for k in range(n):
        out_cost[k] = np.inf
        out_i[k] = -1
        out_j[k] = -1
        nc = insertion_candidates(cands[k], p, d, pb, rt, w, sc)
        lo = np.inf
        for c in range(nc):
            if sc.bound[c] < lo:
                lo = sc.bound[c]
        low[k] = lo
    best = np.inf
    for k in np.argsort(low, kind="mergesort"):
        upper = best + 1e-9
        if low[k] >= upper:
            break  # this and every later vehicle: no candidate below the best
        c, i, j = insertion_below(cands[k], p, d, pb, rt, w, sc, upper)
        if c < best:
            best = c
        out_cost[k] = c
        out_i[k] = i
        out_j[k] = j


@leaf_kernel
def schedule_with_insertion(v, p, d, i, j, pb, rt, out_seq, out_b, pos_scratch):
    """Node sequence and earliest schedule of route ``v`` with ``p``/``d`` inserted at ``i``/``j``
    (``p`` lands at position ``i``, ``d`` at ``j + 1``; ``pos_scratch`` as :func:`route_schedule`
    needs it).

    Returns the new length (0 if the result is not time-feasible).
    """
    m = rt.length[v]
    cm = _build_candidate(rt.nodes[v], m, p, d, i, j, out_seq)
    if not route_schedule(out_seq, cm, pb.vehicle_early[v], pb.max_duration[v], pb, out_b, pos_scratch):
        return 0
    return cm
