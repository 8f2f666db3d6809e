"""Block exchange between routes where the vehicles are empty (CROSS exchange, with 2-opt* on
the tails): :func:`block_polish`, run on every ALNS candidate when enabled."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from ..config import kernel, leaf_kernel
from ..schedule import EPS, KIND_DELIVERY, KIND_PICKUP, prepare_route, route_schedule, sequence_is_valid
from .edits import touch


class BlockWorkspace(NamedTuple):
    """Scratch of :func:`block_polish` (see :func:`_block_data` for the per-route fields)."""

    cuts: NDArray[np.int64]  # [v, a] cut positions
    ncut: NDArray[np.int64]  # number of cuts
    last: NDArray[np.int64]  # position of the last stop
    loc: NDArray[np.int32]  # locations by position
    pre: NDArray[np.float64]  # prefix sums of arc costs
    seg_pre: NDArray[np.float64]  # [v, k, 4] window segments from the start
    seg_suf: NDArray[np.float64]  # [v, k, 4] window segments to the end
    blk: NDArray[np.float64]  # [v, a, 4] window segments between consecutive cuts
    moved: NDArray[np.uint8]  # routes moved in this pass
    new_u: NDArray[np.int32]  # new route u
    new_v: NDArray[np.int32]  # new route v
    times: NDArray[np.float64]  # schedule scratch


@kernel
def block_workspace(nveh, max_len):
    """Scratch arrays for :func:`block_polish` (allocated once per run, not once per call)."""
    return BlockWorkspace(
        np.empty((nveh, max_len), np.int64),
        np.zeros(nveh, np.int64),
        np.zeros(nveh, np.int64),
        np.empty((nveh, max_len), np.int32),
        np.empty((nveh, max_len)),
        np.empty((nveh, max_len, 4)),
        np.empty((nveh, max_len, 4)),
        np.empty((nveh, max_len, 4)),
        np.zeros(nveh, np.uint8),
        np.empty(max_len, np.int32),
        np.empty(max_len, np.int32),
        np.empty(max_len),
    )


@leaf_kernel
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


@leaf_kernel
def _block_data(x, pb, rt, rq, ws):
    """What :func:`block_polish` needs of route ``x``.

    ``cuts[x, :ncut[x]]``: the positions after which the route may be cut (nobody on board
    there, every stop after it free to change vehicle); ``last[x]``: position of its last
    stop; ``loc``/``pre``: location and prefix sum of arc costs by position; ``seg_pre[x, k]``
    / ``seg_suf[x, k]``: time-window segments of positions ``0..k`` / ``k..end``;
    ``blk[x, a]``: the segment of the stops between cuts ``a`` and ``a + 1``.
    """
    routes = rt.nodes
    kind = pb.kind
    partner = pb.partner
    request = pb.request
    node_location = pb.node_location
    removable = rq.removable
    request_vehicle = rq.request_vehicle
    tw_early = pb.tw_early
    tw_late = pb.tw_late
    service = pb.service
    tt = pb.travel_time
    cc = pb.travel_cost
    cuts = ws.cuts
    loc = ws.loc
    pre = ws.pre
    seg_pre = ws.seg_pre
    seg_suf = ws.seg_suf
    blk = ws.blk
    m = rt.length[x]
    lst = m - 2 if pb.vehicle_end[x] >= 0 else m - 1
    ws.last[x] = lst
    # positions: locations, arc-cost prefix sums, window segments from the start
    for k in range(m):
        node = routes[x, k]
        loc[x, k] = node_location[node]
        e = tw_early[node]
        if k == 0 and pb.vehicle_early[x] > e:
            e = pb.vehicle_early[x]
        one = (service[node], e, tw_late[node], 0.0)
        if k == 0:
            pre[x, 0] = 0.0
            s = one
        else:
            pre[x, k] = pre[x, k - 1] + cc[loc[x, k - 1], loc[x, k]]
            s = _cat(s, one, tt[loc[x, k - 1], loc[x, k]])
        seg_pre[x, k, 0], seg_pre[x, k, 1], seg_pre[x, k, 2], seg_pre[x, k, 3] = s
    for k in range(m - 1, 0, -1):
        node = routes[x, k]
        one = (service[node], tw_early[node], tw_late[node], 0.0)
        s = one if k == m - 1 else _cat(one, s, tt[loc[x, k], loc[x, k + 1]])
        seg_suf[x, k, 0], seg_suf[x, k, 1], seg_suf[x, k, 2], seg_suf[x, k, 3] = s
    # cut points
    open_ = 0
    for k in range(1, lst + 1):
        node = routes[x, k]
        if kind[node] == KIND_DELIVERY and partner[node] < 0:
            open_ += 1  # a rider on board from the start
    movable_from = lst  # every stop after this position may change vehicle
    for k in range(lst, 0, -1):
        r = request[routes[x, k]]
        if not removable[r] or request_vehicle[r] >= 0:
            break
        movable_from = k - 1
    n = 0
    for c in range(lst + 1):
        if c > 0:
            open_ += 1 if kind[routes[x, c]] == KIND_PICKUP else -1
        if open_ == 0 and c >= movable_from:
            cuts[x, n] = c
            n += 1
    ws.ncut[x] = n
    # segments between consecutive cuts
    for a in range(n - 1):
        k = cuts[x, a] + 1
        node = routes[x, k]
        s = (service[node], tw_early[node], tw_late[node], 0.0)
        while k < cuts[x, a + 1]:
            k += 1
            node = routes[x, k]
            s = _cat(s, (service[node], tw_early[node], tw_late[node], 0.0), tt[loc[x, k - 1], loc[x, k]])
        blk[x, a, 0], blk[x, a, 1], blk[x, a, 2], blk[x, a, 3] = s


@leaf_kernel
def _windows_allow(x, i, i2, y, y1, y2, j, j2, m_x, routes, loc, cuts, seg_pre, seg_suf, blk, tt, service, maxdur):
    """Whether route ``x`` with its stops ``i+1 .. i2`` replaced by ``y``'s ``j+1 .. j2`` (the
    stops between ``y``'s cuts ``y1`` and ``y2``) can meet every time window and its maximum
    duration: a necessary condition (ride limits are not looked at), in O(blocks).

    It runs in :func:`block_polish`'s innermost loop, so it takes the arrays it reads, not the
    named tuples that hold them (a call copies its arguments whole)."""
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
    return s[0] - service[last_node] <= maxdur + EPS


@leaf_kernel
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
def _exchange(u, i, i2, v, j, j2, rq, pb, rt, assign, pos_scratch, bk, ws):
    """Swap ``u``'s stops ``i+1 .. i2`` with ``v``'s ``j+1 .. j2`` if both routes stay feasible
    (checked exactly); back up, rewrite and prepare both routes. Returns whether it did."""
    routes = rt.nodes
    rlen = rt.length
    new_u = ws.new_u
    new_v = ws.new_v
    b = ws.times
    mu = _splice(u, i, i2, v, j, j2, routes, rlen, new_u)
    mv = _splice(v, j, j2, u, i, i2, routes, rlen, new_v)
    if not (
        sequence_is_valid(new_u, mu, u, pb, pos_scratch)
        and sequence_is_valid(new_v, mv, v, pb, pos_scratch)
        and route_schedule(new_u, mu, pb.vehicle_early[u], pb.max_duration[u], pb, b, pos_scratch)
        and route_schedule(new_v, mv, pb.vehicle_early[v], pb.max_duration[v], pb, b, pos_scratch)
    ):
        return False
    touch(u, rt, bk)
    touch(v, rt, bk)
    routes[u, :mu] = new_u[:mu]
    rlen[u] = mu
    routes[v, :mv] = new_v[:mv]
    rlen[v] = mv
    for y in (u, v):
        for k in range(1, rlen[y]):
            r = pb.request[routes[y, k]]
            if r >= 0:
                assign[r] = y
        prepare_route(y, pb, rt, pos_scratch)
        _block_data(y, pb, rt, rq, ws)
    return True


@kernel
def block_polish(rq, pb, rt, assign, pos_scratch, dirty, bk, ws):
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
    in ``bk`` before its first change. ``ws`` is scratch space from :func:`block_workspace`.
    Returns the total saving.
    """
    routes = rt.nodes
    rlen = rt.length
    vehicle_on = rq.vehicle_on
    cc = pb.travel_cost
    tt = pb.travel_time
    service = pb.service
    max_duration = pb.max_duration
    nveh = rlen.shape[0]
    cuts = ws.cuts
    ncut = ws.ncut
    last = ws.last
    loc = ws.loc
    pre = ws.pre
    seg_pre = ws.seg_pre
    seg_suf = ws.seg_suf
    blk = ws.blk
    moved = ws.moved
    moved[:] = 0
    if not dirty.any():
        return 0.0
    for x in range(nveh):
        _block_data(x, pb, rt, rq, ws)
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
                                if not _windows_allow(
                                    u,
                                    i,
                                    i2,
                                    v,
                                    y1,
                                    y2,
                                    j,
                                    j2,
                                    m_u,
                                    routes,
                                    loc,
                                    cuts,
                                    seg_pre,
                                    seg_suf,
                                    blk,
                                    tt,
                                    service,
                                    max_duration[u],
                                ):
                                    continue
                                if not _windows_allow(
                                    v,
                                    j,
                                    j2,
                                    u,
                                    x1,
                                    x2,
                                    i,
                                    i2,
                                    m_v,
                                    routes,
                                    loc,
                                    cuts,
                                    seg_pre,
                                    seg_suf,
                                    blk,
                                    tt,
                                    service,
                                    max_duration[v],
                                ):
                                    continue
                                if not _exchange(u, i, i2, v, j, j2, rq, pb, rt, assign, pos_scratch, bk, ws):
                                    continue
                                total += old - new
                                improved = True
                                done = True
                                moved[u] = moved[v] = dirty[u] = dirty[v] = 1
                                break
        dirty[:] = moved
        moved[:] = 0
    return total
