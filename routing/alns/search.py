"""The ALNS search loop: destroy, repair, polish, accept, adapt the operator weights."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from ..config import kernel
from ..schedule import insertion_scratch, prepare_route, route_cost
from .blocks import block_polish, block_workspace
from .destroy import select_requests
from .edits import backup_for, remove_marked, restore, touch
from .local_search import eject_polish, polish
from .repair import repair

SIGMA_BEST, SIGMA_BETTER, SIGMA_ACCEPTED = 33.0, 9.0, 13.0
#: ``polish`` of :class:`AlnsParams`: none, relocate, relocate and then ejection
POLISH_NONE, POLISH_RELOCATE, POLISH_EJECT = 0, 1, 2


class AlnsParams(NamedTuple):
    """Parameters of :func:`alns_iterations`: requests removed per iteration (``q_min`` ..
    ``q_max``), iterations per weight update (``segment``), the local searches on a new best
    (``polish``: 0 none, 1 relocate, 2 relocate + ejection; ``polish_partial``: 0/1, whether also
    on a new best that leaves requests unassigned) and on every candidate (``blocks``: 0/1),
    whether the repair's insertions are granular (``granular``: 0/1, next to the stops of a
    request's ``rq.neighbours`` or a depot only; see :class:`~routing.schedule.InsertionScratch`),
    the penalty per unassigned request, the noise on insertion costs (a share of the
    largest travel time), the weights' reaction factor, and the annealing temperature."""

    q_min: int
    q_max: int
    segment: int
    polish: int
    polish_partial: int
    granular: int
    blocks: int
    penalty: float
    noise: float
    reaction: float
    temperature: float


class SearchState(NamedTuple):
    """What the search carries from one batch of iterations to the next.

    ``current_cost`` / ``best_cost`` (one-element arrays, updated in place), ``tmax`` (the
    largest travel time), the destroy and repair operators' weights, scores and uses in the
    current segment, and counters: ``iterations``, ``same_cost`` (candidates with the current
    cost again) and ``rejected``.
    """

    current_cost: NDArray[np.float64]
    best_cost: NDArray[np.float64]
    tmax: float
    d_weight: NDArray[np.float64]
    r_weight: NDArray[np.float64]
    d_score: NDArray[np.float64]
    r_score: NDArray[np.float64]
    d_used: NDArray[np.int64]
    r_used: NDArray[np.int64]
    iterations: NDArray[np.int64]
    same_cost: NDArray[np.int64]
    rejected: NDArray[np.int64]


class BestSolution(NamedTuple):
    """The best solution seen: its routes (``nodes``, ``length``) and request assignment."""

    nodes: NDArray[np.int32]
    length: NDArray[np.int32]
    assign: NDArray[np.int32]


@kernel
def seed_rng(seed):
    """Seed Numba's random generator (separate from NumPy's)."""
    np.random.seed(seed)


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
def alns_iterations(n_iter, prm, pb, rq, w, rt, assign, best, st):
    """Run ``n_iter`` ALNS iterations in place on the current solution (``rt``, ``assign``),
    keeping the best in ``best`` and the search's state in ``st`` (:class:`SearchState`).

    Returns the number of new best solutions found.
    """
    routes = rt.nodes
    rlen = rt.length
    pickup = rq.pickup
    delivery = rq.delivery
    loc = pb.node_location
    cc = pb.travel_cost
    nveh = rlen.shape[0]
    nreq = assign.shape[0]
    n_nodes = pb.kind.shape[0]
    max_len = routes.shape[1]
    bk = backup_for(rt)
    touched = bk.touched
    bk_assign = np.empty_like(assign)
    dirty = np.zeros(nveh, np.uint8)
    ws = block_workspace(nveh, max_len)
    mark = np.zeros(n_nodes, np.uint8)
    pos = np.full(n_nodes, -1, np.int64)
    sc = insertion_scratch(max_len, n_nodes)
    pos_scratch = sc.position
    if prm.granular:
        # granular insertions in the repair: next to the stops of a request's neighbours
        # (marked per request by mark_near) or to a depot
        sc.granular[0] = 1
        for v in range(nveh):
            sc.near[pb.vehicle_start[v]] = 1
            if pb.vehicle_end[v] >= 0:
                sc.near[pb.vehicle_end[v]] = 1
    chosen = np.empty(nreq, np.int64)
    unassigned = np.empty(nreq, np.int64)
    penalty = prm.penalty
    temperature = prm.temperature
    cur_cost = st.current_cost[0]
    best_cost = st.best_cost[0]
    tmax = st.tmax
    d_weight = st.d_weight
    r_weight = st.r_weight
    new_best = 0
    best_left = 0  # requests the best solution leaves unassigned
    for r in range(nreq):
        if best.assign[r] < 0:
            best_left += 1
    for _it in range(n_iter):
        d_op = _pick(d_weight)
        r_op = _pick(r_weight)
        q = prm.q_min + np.random.randint(max(1, prm.q_max - prm.q_min + 1))
        touched[:] = 0
        bk_assign[:] = assign
        # --- destroy
        nsel = select_requests(d_op, q, rq, assign, pb, rt, tmax, pos, chosen)
        for k in range(nsel):
            r = chosen[k]
            v = assign[r]
            touch(v, rt, bk)
            if pickup[r] >= 0:
                mark[pickup[r]] = 1
            mark[delivery[r]] = 1
            assign[r] = -1
        for v in range(nveh):
            if touched[v]:
                remove_marked(v, routes, rlen, mark)
                prepare_route(v, pb, rt, pos_scratch)
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
        # (np.int64: not the literal 0) left: requests unassigned after the repair
        left = repair(r_op, unassigned, np.int64(nu), rq, assign, pb, rt, w, prm.noise * tmax, bk, sc)
        # --- evaluate
        new_cost = cur_cost
        bk_routes = bk.routes.nodes
        for v in range(nveh):
            if touched[v]:
                new_cost += route_cost(v, routes, rlen, pb)
                m_old = bk.routes.length[v]
                old = 0.0
                if m_old > (2 if pb.vehicle_end[v] >= 0 else 1):
                    for k in range(1, m_old):
                        old += cc[loc[bk_routes[v, k - 1]], loc[bk_routes[v, k]]]
                new_cost -= old
        for r in range(nreq):
            if assign[r] < 0 and bk_assign[r] >= 0:
                new_cost += penalty
            elif assign[r] >= 0 and bk_assign[r] < 0:
                new_cost -= penalty
        score = 0.0
        if prm.blocks:
            # Every candidate gets the block exchange; the current solution already had it, so
            # only pairs of routes with one changed by this iteration can gain.
            dirty[:] = touched
            new_cost -= block_polish(rq, pb, rt, assign, pos_scratch, dirty, bk, ws)
        if new_cost < best_cost - 1e-7:
            score = SIGMA_BEST
            # Polish a new best that is cheaper by distance, not one that merely serves more
            # requests; and, without ``polish_partial``, only one that serves every request: while
            # a route is being removed, the solutions that leave some of its requests out pass
            # (the search either places them all or gives up), and the local searches, whose cost
            # grows with fleet x requests, would spend the time on them.
            if prm.polish and left >= best_left and (left == 0 or prm.polish_partial):
                # every touched route is backed up already; polish may change any route
                for v in range(nveh):
                    touch(v, rt, bk)
                new_cost -= polish(rq, pb, w, rt, assign, sc, pos)
                if prm.polish >= POLISH_EJECT:
                    new_cost -= eject_polish(rq, pb, w, rt, assign, sc)
                if prm.blocks:
                    dirty[:] = 1
                    new_cost -= block_polish(rq, pb, rt, assign, pos_scratch, dirty, bk, ws)
            best_cost = new_cost
            best_left = left
            new_best += 1
            best.length[:] = rlen
            best.nodes[:, :] = routes
            best.assign[:] = assign
            accept = True
        elif new_cost < cur_cost - 1e-7:
            score = SIGMA_BETTER
            accept = True
        else:
            accept = temperature > 0.0 and np.random.random() < np.exp(-(new_cost - cur_cost) / temperature)
            if accept and new_cost > cur_cost + 1e-7:
                score = SIGMA_ACCEPTED
        if abs(new_cost - cur_cost) <= 1e-7:
            st.same_cost[0] += 1
        elif not accept:
            st.rejected[0] += 1
        if accept:
            cur_cost = new_cost
        else:
            restore(rt, bk)
            assign[:] = bk_assign
        st.d_score[d_op] += score
        st.r_score[r_op] += score
        st.d_used[d_op] += 1
        st.r_used[r_op] += 1
        st.iterations[0] += 1
        # --- adapt the weights at the end of each segment
        if st.iterations[0] % prm.segment == 0:
            rho = prm.reaction
            for k in range(d_weight.shape[0]):
                if st.d_used[k] > 0:
                    d_weight[k] = max(0.05, (1 - rho) * d_weight[k] + rho * st.d_score[k] / st.d_used[k])
                st.d_score[k] = 0.0
                st.d_used[k] = 0
            for k in range(r_weight.shape[0]):
                if st.r_used[k] > 0:
                    r_weight[k] = max(0.05, (1 - rho) * r_weight[k] + rho * st.r_score[k] / st.r_used[k])
                st.r_score[k] = 0.0
                st.r_used[k] = 0
    st.current_cost[0] = cur_cost
    st.best_cost[0] = best_cost
    return new_best
