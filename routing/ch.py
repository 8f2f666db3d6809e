"""Contraction hierarchies (Geisberger et al. 2008) as Numba kernels.

Construction
    Nodes are contracted one at a time, least important first. Contracting ``v`` removes it
    from the remaining graph and, for every in-neighbour ``u`` and out-neighbour ``w``, adds a
    shortcut ``u -> w`` of weight ``w(u,v) + w(v,w)`` unless a local *witness search*
    (Dijkstra from ``u`` that avoids ``v``, limited to ``witness_settle_limit`` settled
    nodes) finds a path that is no longer. Importance is computed by simulating the
    contraction: ``500 * level + 1500 * added_arcs / removed_arcs + 1000 * added_hops /
    removed_hops``, where ``level`` grows with the levels of contracted neighbours (on the
    100,000-node synthetic city these weights, against 1000 for each term, give 9 % fewer
    shortcuts and 14 % fewer queue pops per query; on Manhattan they are neutral). All
    importances are first computed in parallel, then kept up to date by lazy updates only
    (the top of the queue is re-evaluated before it is contracted); the evaluation that
    confirms a node also yields its shortcuts, so no search is run twice. An omitted
    shortcut is always justified by a witness path, so distances stay exact whatever limit
    is used; the limit trades build time for the number of shortcuts.

Data
    After contraction node ids are replaced by ranks (``rank[node]``), so the nodes
    contracted last sit together in memory. ``fwd_*`` is the upward graph searched from a
    source: for each rank ``r``, arcs ``r -> h`` with ``h > r``. ``bwd_*`` is the upward
    graph searched from a target: for each rank ``r``, arcs ``h -> r`` with ``h > r``, stored
    at ``r`` with ``h`` as head. Every arc has an id into the arc table: an original edge
    (``arc_child1 == -1``, ``arc_child2`` = the network's edge id) or a shortcut made of
    arcs ``arc_child1`` then ``arc_child2``.

Queries
    One-to-one: bidirectional upward Dijkstra with stall-on-demand, stopping when both
    queues' minimum keys reach the best meeting distance. Distance-only queries run on a
    packed copy of the upward graphs with lazy 4-ary heaps (see "fast distance queries");
    path queries keep predecessors on the CSR arrays. Many-to-many: the bucket method
    (Knopp et al. 2007) — one backward upward search per target fills per-node buckets of
    ``(target, distance)``, then one forward upward search per source scans the buckets of
    the nodes it settles; both phases run in parallel over sources/targets.

Changing weights
    :meth:`ContractionHierarchy.with_travel_times` re-contracts the network in the existing
    node order (no importance computation), which is exact for any new weights.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numba import get_num_threads, prange
from numpy.typing import NDArray

from ._heap import heap_pop, heap_push, heap_update
from .config import INF, UNREACHABLE, kernel, parallel_kernel
from .errors import InvalidArgumentError
from .network import RoadNetwork
from .npz import load_npz, save_npz

_FORMAT_VERSION = 1

#: Numba's default 'workqueue' threading layer must not run two parallel kernels at once;
#: parallel calls from different Python threads take turns through this lock.
_PARALLEL_LOCK = threading.Lock()
#: Below this many nodes the first importances are computed on the calling thread: handing
#: the work to Numba's threads cost more than it saved on the 347-node Jamsil graph (about
#: 10 ms, three times its whole build).
_PARALLEL_IMPORTANCE_NODES = 20_000


# ============================================================================ construction
#
# The graph being contracted lives in a few packed arrays, passed explicitly between the
# kernels below (packing keeps argument lists short without the cost of tuples of arrays):
#
#   lists[6, n]   int64   per node: start, length and capacity of its slice of the arena,
#                         for the outgoing (_OUT_*) and the incoming (_IN_*) arc lists;
#   arena[2, cap] int32   arc ids: row 0 outgoing lists, row 1 incoming lists;
#   arcs[5, cap]  int32   arc table: tail, head, first child, second child, hop count;
#                         an original edge has child1 == -1 and child2 == its edge id;
#   arc_w[cap]    int64   arc weights;
#   counters[3]   int64   next free arena slot (outgoing, incoming) and the number of arcs;
#   wb64[2, n], wb32[4, n]  witness-search buffers: dist, keys / items, pos, touched, mark.
#
# Kernels that may grow ``arena``, ``arcs`` or ``arc_w`` return the (possibly new) arrays.
_OUT_START, _OUT_LEN, _OUT_CAP, _IN_START, _IN_LEN, _IN_CAP = 0, 1, 2, 3, 4, 5
_TAIL, _HEAD, _C1, _C2, _HOPS = 0, 1, 2, 3, 4
_DIST, _KEYS = 0, 1
_ITEMS, _POS, _TOUCHED, _MARK = 0, 1, 2, 3


@kernel
def _grow(arr, need):
    """``arr`` if it holds ``need`` items, else a copy with at least double the capacity."""
    if need <= arr.shape[0]:
        return arr
    cap = arr.shape[0] * 2
    while cap < need:
        cap *= 2
    out = np.empty(cap, arr.dtype)
    out[: arr.shape[0]] = arr
    return out


@kernel
def _grow_cols(arr, need):
    """Like ``_grow`` for the columns of a 2-D array."""
    if need <= arr.shape[1]:
        return arr
    cap = arr.shape[1] * 2
    while cap < need:
        cap *= 2
    out = np.empty((arr.shape[0], cap), arr.dtype)
    out[:, : arr.shape[1]] = arr
    return out


@kernel
def _list_append(lists, arena, counters, side, node, value):
    """Append arc ``value`` to ``node``'s outgoing (side 0) or incoming (side 1) list.

    Returns the arena, reallocated if it had to grow.
    """
    start, length, cap = 3 * side, 3 * side + 1, 3 * side + 2
    if lists[length, node] == lists[cap, node]:
        top = counters[side]
        new_cap = max(4, 2 * lists[cap, node])
        arena = _grow_cols(arena, top + new_cap)
        s = lists[start, node]
        for k in range(lists[length, node]):
            arena[side, top + k] = arena[side, s + k]
        lists[start, node] = top
        lists[cap, node] = new_cap
        counters[side] = top + new_cap
    arena[side, lists[start, node] + lists[length, node]] = value
    lists[length, node] += 1
    return arena


@kernel
def _list_remove(lists, arena, arcs, side, node, other):
    """Remove from ``node``'s list the arc whose other end is ``other``."""
    s = lists[3 * side, node]
    n = lists[3 * side + 1, node]
    end = _HEAD if side == 0 else _TAIL
    for k in range(n):
        if arcs[end, arena[side, s + k]] == other:
            arena[side, s + k] = arena[side, s + n - 1]
            lists[3 * side + 1, node] = n - 1
            return


@kernel
def _witness_search(source, skip, max_dist, settle_limit, num_targets, lists, arena, arcs, arc_w, wb64, wb32):
    """Dijkstra from ``source`` over the remaining graph, avoiding ``skip``.

    Stops after ``settle_limit`` settled nodes, when the next key exceeds ``max_dist`` or when
    ``num_targets`` marked nodes are settled. ``wb64[_DIST]`` holds the result for the touched
    nodes; returns their number (the caller resets them).
    """
    dist = wb64[_DIST]
    keys = wb64[_KEYS]
    items = wb32[_ITEMS]
    pos = wb32[_POS]
    touched = wb32[_TOUCHED]
    mark = wb32[_MARK]
    dist[source] = 0
    touched[0] = source
    ntouched = 1
    size = heap_push(keys, items, pos, 0, source, 0)
    settled = 0
    remaining = num_targets
    while size > 0:
        if keys[0] > max_dist:
            break
        u, d, size = heap_pop(keys, items, pos, size)
        settled += 1
        if mark[u] != 0:
            remaining -= 1
            if remaining <= 0:
                break
        if settled > settle_limit:
            break
        s = lists[_OUT_START, u]
        for k in range(lists[_OUT_LEN, u]):
            a = arena[0, s + k]
            v = arcs[_HEAD, a]
            if v == skip:
                continue
            nd = d + arc_w[a]
            if nd < dist[v]:
                if dist[v] == INF:
                    touched[ntouched] = v
                    ntouched += 1
                dist[v] = nd
                size = heap_push(keys, items, pos, size, v, nd)
    for i in range(size):  # leave the heap positions clean
        pos[items[i]] = -1
    return ntouched


@kernel
def _add_shortcut(lists, arena, arcs, arc_w, counters, u, w, via, a_in, a_out):
    """Add the arc ``u -> w`` made of ``a_in`` then ``a_out``, replacing a heavier ``u -> w``
    (a ``u -> w`` that is no heavier is kept and nothing is added).

    Returns ``(arena, arcs, arc_w)``, reallocated if they had to grow.
    """
    s = lists[_OUT_START, u]
    existing = -1
    for k in range(lists[_OUT_LEN, u]):
        if arcs[_HEAD, arena[0, s + k]] == w:
            existing = k
            break
    if existing >= 0 and arc_w[arena[0, s + existing]] <= via:
        return arena, arcs, arc_w
    a_new = counters[2]
    arcs = _grow_cols(arcs, a_new + 1)
    arc_w = _grow(arc_w, a_new + 1)
    arcs[_TAIL, a_new] = u
    arcs[_HEAD, a_new] = w
    arcs[_C1, a_new] = a_in
    arcs[_C2, a_new] = a_out
    arcs[_HOPS, a_new] = arcs[_HOPS, a_in] + arcs[_HOPS, a_out]
    arc_w[a_new] = via
    counters[2] = a_new + 1
    if existing >= 0:
        arena[0, s + existing] = a_new
        s = lists[_IN_START, w]
        for q in range(lists[_IN_LEN, w]):
            if arcs[_TAIL, arena[1, s + q]] == u:
                arena[1, s + q] = a_new
                break
        return arena, arcs, arc_w
    arena = _list_append(lists, arena, counters, 0, u, a_new)
    arena = _list_append(lists, arena, counters, 1, w, a_new)
    return arena, arcs, arc_w


@kernel
def _find_shortcuts(v, settle_limit, lists, arena, arcs, arc_w, wb64, wb32, pend):
    """The shortcuts that contracting ``v`` now would add, without changing the graph.

    Writes them to ``pend`` (rows: arc in, arc out, weight) and returns ``(count, total hops,
    pend)``, ``pend`` reallocated if it had to grow. The same call serves to rank ``v`` and,
    when ``v`` is then contracted, as the list of shortcuts to add (nothing changed in between).
    """
    count = 0
    hops = 0
    n_in = lists[_IN_LEN, v]
    n_out = lists[_OUT_LEN, v]
    if n_in == 0 or n_out == 0:
        return count, hops, pend
    in_s = lists[_IN_START, v]
    out_s = lists[_OUT_START, v]
    dist = wb64[_DIST]
    touched = wb32[_TOUCHED]
    mark = wb32[_MARK]
    max_out = 0
    for j in range(n_out):
        max_out = max(max_out, arc_w[arena[0, out_s + j]])
    for i in range(n_in):
        a_in = arena[1, in_s + i]
        u = arcs[_TAIL, a_in]
        w_in = arc_w[a_in]
        num_targets = 0
        for j in range(n_out):
            w = arcs[_HEAD, arena[0, out_s + j]]
            if w != u and mark[w] == 0:
                mark[w] = 1
                num_targets += 1
        if num_targets == 0:
            continue
        ntouched = _witness_search(
            u, v, w_in + max_out, settle_limit, num_targets, lists, arena, arcs, arc_w, wb64, wb32
        )
        for j in range(n_out):
            a_out = arena[0, out_s + j]
            w = arcs[_HEAD, a_out]
            if w == u:
                continue
            mark[w] = 0
            via = w_in + arc_w[a_out]
            if dist[w] <= via:
                continue  # a witness path is no longer: no shortcut needed
            pend = _grow_cols(pend, count + 1)
            pend[0, count] = a_in
            pend[1, count] = a_out
            pend[2, count] = via
            count += 1
            hops += arcs[_HOPS, a_in] + arcs[_HOPS, a_out]
        for k in range(ntouched):
            dist[touched[k]] = INF
    return count, hops, pend


@kernel
def _importance(v, level, settle_limit, lists, arena, arcs, arc_w, wb64, wb32, pend):
    """Importance of contracting ``v`` now (the least important is contracted first).

    Returns ``(importance, shortcuts, pend)``; ``pend[:, :shortcuts]`` are the shortcuts
    contracting ``v`` would add (see :func:`_find_shortcuts`).
    """
    added, added_hops, pend = _find_shortcuts(v, settle_limit, lists, arena, arcs, arc_w, wb64, wb32, pend)
    removed = lists[_IN_LEN, v] + lists[_OUT_LEN, v]
    removed_hops = 0
    for side in range(2):
        s = lists[3 * side, v]
        for k in range(lists[3 * side + 1, v]):
            removed_hops += arcs[_HOPS, arena[side, s + k]]
    prio = 1.0 + 500.0 * level[v] + 1500.0 * added / max(removed, 1) + 1000.0 * added_hops / max(removed_hops, 1)
    return prio, added, pend


@kernel
def _initial_graph(indptr, indices, weights):
    """The packed arrays for the network itself: arc id = edge id, lists with slack."""
    n = indptr.shape[0] - 1
    m = indices.shape[0]
    cap = max(2 * m + 16, 64)
    arcs = np.empty((5, cap), np.int32)
    arc_w = np.empty(cap, np.int64)
    lists = np.zeros((6, n), np.int64)
    for e in range(m):
        lists[_IN_CAP, indices[e]] += 2
    out_top = 0
    in_top = 0
    for u in range(n):
        lists[_OUT_START, u] = out_top
        lists[_OUT_CAP, u] = 2 * (indptr[u + 1] - indptr[u]) + 2
        out_top += lists[_OUT_CAP, u]
        lists[_IN_START, u] = in_top
        lists[_IN_CAP, u] += 2
        in_top += lists[_IN_CAP, u]
    arena = np.empty((2, 2 * max(out_top, in_top)), np.int32)
    for u in range(n):
        for e in range(indptr[u], indptr[u + 1]):
            v = indices[e]
            arcs[_TAIL, e] = u
            arcs[_HEAD, e] = v
            arcs[_C1, e] = -1
            arcs[_C2, e] = e
            arcs[_HOPS, e] = 1
            arc_w[e] = weights[e]
            arena[0, lists[_OUT_START, u] + lists[_OUT_LEN, u]] = e
            lists[_OUT_LEN, u] += 1
            arena[1, lists[_IN_START, v] + lists[_IN_LEN, v]] = e
            lists[_IN_LEN, v] += 1
    counters = np.array([out_top, in_top, m], np.int64)
    return lists, arena, arcs, arc_w, counters


@kernel
def _new_buffers(n):
    """Witness-search buffers (``wb64``, ``wb32``, clean) and a shortcut buffer ``pend``."""
    wb64 = np.empty((2, n), np.int64)
    wb64[_DIST, :] = INF
    wb32 = np.zeros((4, n), np.int32)
    wb32[_POS, :] = -1
    return wb64, wb32, np.empty((3, 64), np.int64)


@kernel
def _importance_range(lo, hi, prio, lists, arena, arcs, arc_w, settle_limit):
    """``prio[v]``, the importance of node ``v`` in the uncontracted graph, for ``lo <= v < hi``
    (the graph is only read; the search buffers are this call's own)."""
    n = lists.shape[1]
    level = np.zeros(n, np.int64)
    wb64, wb32, pend = _new_buffers(n)
    for v in range(lo, hi):
        prio[v], _, pend = _importance(v, level, settle_limit, lists, arena, arcs, arc_w, wb64, wb32, pend)


@parallel_kernel
def _initial_importance(lists, arena, arcs, arc_w, settle_limit, num_chunks):
    """The importance of every node of the uncontracted graph, in parallel chunks."""
    n = lists.shape[1]
    prio = np.empty(n, np.float64)
    for c in prange(num_chunks):
        lo = c * n // num_chunks
        hi = (c + 1) * n // num_chunks
        if lo < hi:
            _importance_range(lo, hi, prio, lists, arena, arcs, arc_w, settle_limit)
    return prio


@kernel
def _contract(lists, arena, arcs, arc_w, counters, prio, fixed_order, settle_limit):
    """Contract the graph of :func:`_initial_graph`, all nodes, and return the hierarchy.

    If ``fixed_order`` has one entry per node it is the contraction order (node ids, first
    contracted first); otherwise the least important node goes next, starting from the
    importances ``prio`` (:func:`_initial_importance`) kept up to date by *lazy updates*
    only: the node at the top of the queue is re-evaluated and contracted if it is still the
    minimum, else it goes back with its new importance. (Re-evaluating every neighbour of each
    contracted node as well, as this module first did, took about 3x the build time on the
    100,000-node synthetic city and gave no faster queries.) The evaluation that confirms a
    node also lists its shortcuts, which are then added without searching again.

    Returns the order, the upward arcs recorded at each step (``up_out`` / ``up_in`` with
    pointers by step) and the arc table (tail, head, weight, child1, child2).
    """
    n = lists.shape[1]
    m = counters[2]
    wb64, wb32, pend = _new_buffers(n)
    level = np.zeros(n, np.int64)
    order = np.empty(n, np.int32)
    up_ptr = np.zeros((2, n + 1), np.int64)  # row 0: upward out-arcs, row 1: upward in-arcs
    up_out = np.empty(max(m, 16), np.int32)
    up_in = np.empty(max(m, 16), np.int32)

    use_fixed = fixed_order.shape[0] == n
    # Priority queue over importance, with lazy updates.
    pq_keys = np.empty(n, np.float64)
    pq_items = np.empty(n, np.int32)
    pq_pos = np.full(n, -1, np.int32)
    pq_size = 0
    if not use_fixed:
        for v in range(n):
            pq_size = heap_push(pq_keys, pq_items, pq_pos, pq_size, v, prio[v])

    for r in range(n):
        if use_fixed:
            v = fixed_order[r]
            count, _, pend = _find_shortcuts(v, settle_limit, lists, arena, arcs, arc_w, wb64, wb32, pend)
        else:
            while True:
                # Contract the minimum only if it is still the minimum after an update.
                v = pq_items[0]
                p, count, pend = _importance(v, level, settle_limit, lists, arena, arcs, arc_w, wb64, wb32, pend)
                pq_size = heap_update(pq_keys, pq_items, pq_pos, pq_size, v, p)
                if pq_items[0] == v:
                    v, _k, pq_size = heap_pop(pq_keys, pq_items, pq_pos, pq_size)
                    break
        order[r] = v
        # v's remaining arcs all lead to nodes contracted later: they are its upward arcs.
        no = lists[_OUT_LEN, v]
        ni = lists[_IN_LEN, v]
        o0 = up_ptr[0, r]
        i0 = up_ptr[1, r]
        up_out = _grow(up_out, o0 + no)
        up_in = _grow(up_in, i0 + ni)
        up_out[o0 : o0 + no] = arena[0, lists[_OUT_START, v] : lists[_OUT_START, v] + no]
        up_in[i0 : i0 + ni] = arena[1, lists[_IN_START, v] : lists[_IN_START, v] + ni]
        up_ptr[0, r + 1] = o0 + no
        up_ptr[1, r + 1] = i0 + ni
        for q in range(count):
            a_in = pend[0, q]
            a_out = pend[1, q]
            arena, arcs, arc_w = _add_shortcut(
                lists, arena, arcs, arc_w, counters, arcs[_TAIL, a_in], arcs[_HEAD, a_out], pend[2, q], a_in, a_out
            )
        # Detach v from its neighbours, which move up a level.
        for k in range(i0, i0 + ni):
            u = arcs[_TAIL, up_in[k]]
            _list_remove(lists, arena, arcs, 0, u, v)
            level[u] = max(level[u], level[v] + 1)
        for k in range(o0, o0 + no):
            w = arcs[_HEAD, up_out[k]]
            _list_remove(lists, arena, arcs, 1, w, v)
            level[w] = max(level[w], level[v] + 1)
        lists[_OUT_LEN, v] = 0
        lists[_IN_LEN, v] = 0
    num_arcs = counters[2]
    return (
        order,
        up_ptr[0].copy(),
        up_out[: up_ptr[0, n]].copy(),
        up_ptr[1].copy(),
        up_in[: up_ptr[1, n]].copy(),
        arcs[_TAIL, :num_arcs].copy(),
        arcs[_HEAD, :num_arcs].copy(),
        arc_w[:num_arcs].copy(),
        arcs[_C1, :num_arcs].copy(),
        arcs[_C2, :num_arcs].copy(),
    )


@kernel
def _upward_csr(order, up_ptr, up_arcs, arc_other, arc_w):
    """Turn arcs recorded per contraction step into a CSR over ranks (heads as ranks)."""
    n = order.shape[0]
    rank = np.empty(n, np.int32)
    for r in range(n):
        rank[order[r]] = r
    m = up_arcs.shape[0]
    head = np.empty(m, np.int32)
    weight = np.empty(m, np.int64)
    for k in range(m):
        a = up_arcs[k]
        head[k] = rank[arc_other[a]]
        weight[k] = arc_w[a]
    return rank, head, weight


# ============================================================================ queries
@kernel
def _ch_query(fwd_ptr, fwd_head, fwd_w, bwd_ptr, bwd_head, bwd_w, s, t, ws_i64, ws_i32):
    """Bidirectional upward search with stall-on-demand between ranks ``s`` and ``t``.

    ``ws_i64`` rows: dist_f, dist_b, keys_f, keys_b; ``ws_i32`` rows: pred_f, pred_b,
    pos_f, pos_b, items_f, items_b, touched_f, touched_b (see ``QueryWorkspace``).
    ``pred_f[x]`` / ``pred_b[x]`` receive the CSR position of the arc that reached ``x``.
    Returns ``(distance, meeting rank, touched_f count, touched_b count)``; the caller resets
    ``dist_*`` for the touched nodes (``pos_*`` are left clean).
    """
    dist_f = ws_i64[0]
    dist_b = ws_i64[1]
    keys_f = ws_i64[2]
    keys_b = ws_i64[3]
    pred_f = ws_i32[0]
    pred_b = ws_i32[1]
    pos_f = ws_i32[2]
    pos_b = ws_i32[3]
    items_f = ws_i32[4]
    items_b = ws_i32[5]
    touched_f = ws_i32[6]
    touched_b = ws_i32[7]
    nf = 1
    nb = 1
    dist_f[s] = 0
    pred_f[s] = -1
    touched_f[0] = s
    dist_b[t] = 0
    pred_b[t] = -1
    touched_b[0] = t
    size_f = heap_push(keys_f, items_f, pos_f, 0, s, 0)
    size_b = heap_push(keys_b, items_b, pos_b, 0, t, 0)
    best = INF
    meet = -1
    # The two directions are written out in full: factoring them into one helper kernel
    # made queries about 1.6x slower (measured on the 100k-node benchmark graph).
    while True:
        kf = keys_f[0] if size_f > 0 else INF
        kb = keys_b[0] if size_b > 0 else INF
        if kf >= best and kb >= best:
            break
        if kf <= kb:
            u, d, size_f = heap_pop(keys_f, items_f, pos_f, size_f)
            if dist_b[u] < INF and d + dist_b[u] < best:
                best = d + dist_b[u]
                meet = u
            stalled = False
            for k in range(bwd_ptr[u], bwd_ptr[u + 1]):
                x = bwd_head[k]
                if dist_f[x] < INF and dist_f[x] + bwd_w[k] < d:
                    stalled = True
                    break
            if stalled:
                continue
            for k in range(fwd_ptr[u], fwd_ptr[u + 1]):
                v = fwd_head[k]
                nd = d + fwd_w[k]
                if nd < dist_f[v]:
                    if dist_f[v] == INF:
                        touched_f[nf] = v
                        nf += 1
                    dist_f[v] = nd
                    pred_f[v] = k
                    size_f = heap_push(keys_f, items_f, pos_f, size_f, v, nd)
        else:
            u, d, size_b = heap_pop(keys_b, items_b, pos_b, size_b)
            if dist_f[u] < INF and d + dist_f[u] < best:
                best = d + dist_f[u]
                meet = u
            stalled = False
            for k in range(fwd_ptr[u], fwd_ptr[u + 1]):
                x = fwd_head[k]
                if dist_b[x] < INF and dist_b[x] + fwd_w[k] < d:
                    stalled = True
                    break
            if stalled:
                continue
            for k in range(bwd_ptr[u], bwd_ptr[u + 1]):
                v = bwd_head[k]
                nd = d + bwd_w[k]
                if nd < dist_b[v]:
                    if dist_b[v] == INF:
                        touched_b[nb] = v
                        nb += 1
                    dist_b[v] = nd
                    pred_b[v] = k
                    size_b = heap_push(keys_b, items_b, pos_b, size_b, v, nd)
    for i in range(size_f):
        pos_f[items_f[i]] = -1
    for i in range(size_b):
        pos_b[items_b[i]] = -1
    return best, meet, nf, nb


@kernel
def _reset(dist, touched, count):
    for i in range(count):
        dist[touched[i]] = INF


@kernel
def _unpack_arc(arc, arc_c1, arc_c2, out, count, stack):
    """Append the original edge ids of ``arc`` (in driving order) to ``out``."""
    top = 0
    stack[0] = arc
    top = 1
    while top > 0:
        top -= 1
        a = stack[top]
        if arc_c1[a] < 0:
            out[count] = arc_c2[a]
            count += 1
        else:
            stack[top] = arc_c2[a]
            stack[top + 1] = arc_c1[a]
            top += 2
    return count


@kernel
def _row_of(ptr, k):
    """The row of a CSR whose range ``ptr[row] .. ptr[row + 1] - 1`` holds position ``k``."""
    lo = 0
    hi = ptr.shape[0] - 1
    while lo < hi:
        mid = (lo + hi + 1) >> 1
        if ptr[mid] <= k:
            lo = mid
        else:
            hi = mid - 1
    return lo


@kernel
def _path_arcs(fwd_ptr, fwd_head, fwd_w, fwd_arc, bwd_ptr, bwd_head, bwd_w, bwd_arc, s, t, ws_i64, ws_i32):
    """A shortest path between ranks ``s`` and ``t`` as hierarchy arcs in driving order:
    ``(distance, arcs)``, ``(UNREACHABLE, no arcs)`` if there is none. Leaves the workspace clean."""
    if s == t:
        return 0, np.empty(0, np.int64)
    best, meet, nf, nb = _ch_query(fwd_ptr, fwd_head, fwd_w, bwd_ptr, bwd_head, bwd_w, s, t, ws_i64, ws_i32)
    pred_f = ws_i32[0]
    pred_b = ws_i32[1]
    arcs = np.empty(nf + nb, np.int64)  # a path visits each settled node once at most
    c = 0
    if best < INF:
        x = meet  # up-arcs s -> meet, collected from meet backwards ...
        while x != s:
            k = pred_f[x]
            arcs[c] = fwd_arc[k]
            c += 1
            x = _row_of(fwd_ptr, k)
        arcs[:c] = arcs[:c][::-1].copy()  # ... so turned around
        x = meet  # then meet -> t
        while x != t:
            k = pred_b[x]
            arcs[c] = bwd_arc[k]
            c += 1
            x = _row_of(bwd_ptr, k)
    _reset(ws_i64[0], ws_i32[6], nf)
    _reset(ws_i64[1], ws_i32[7], nb)
    return (UNREACHABLE if best >= INF else best), arcs[:c]


@kernel
def _ch_path(fwd_ptr, fwd_head, fwd_w, fwd_arc, bwd_ptr, bwd_head, bwd_w, bwd_arc, arc_c1, arc_c2, arc_edges, s, t,
             ws_i64, ws_i32):  # fmt: skip
    """Distance and original edge ids of a shortest path between ranks ``s`` and ``t``
    (``arc_edges``: how many original edges each arc stands for, :func:`_arc_totals` of ones; the
    output is allocated at its size, not the network's)."""
    best, arcs = _path_arcs(fwd_ptr, fwd_head, fwd_w, fwd_arc, bwd_ptr, bwd_head, bwd_w, bwd_arc, s, t, ws_i64,
                            ws_i32)  # fmt: skip
    total = 0
    for a in arcs:
        total += arc_edges[a]
    out = np.empty(total, np.int32)
    stack = np.empty(total + 2, np.int64)  # an arc's unpacking holds at most its edges + 1
    count = 0
    for a in arcs:
        count = _unpack_arc(a, arc_c1, arc_c2, out, count, stack)
    return best, out


@kernel
def _arc_totals(arc_c1, arc_c2, per_edge):
    """A value per arc from one per original edge: an original edge's own, a shortcut's the sum of
    its two arcs' (a path's total length, or its number of edges, is then a sum over its arcs,
    without unpacking them)."""
    n = arc_c1.shape[0]
    out = np.zeros(n, np.int64)
    done = np.zeros(n, np.bool_)
    stack = np.empty(2 * n + 2, np.int64)  # a chain of shortcuts and one sibling per level
    for a in range(n):
        if done[a]:
            continue
        stack[0] = a
        top = 1
        while top > 0:
            x = stack[top - 1]
            if done[x]:
                top -= 1
            elif arc_c1[x] < 0:
                out[x] = per_edge[arc_c2[x]]
                done[x] = True
                top -= 1
            elif done[arc_c1[x]] and done[arc_c2[x]]:
                out[x] = out[arc_c1[x]] + out[arc_c2[x]]
                done[x] = True
                top -= 1
            else:
                if not done[arc_c1[x]]:
                    stack[top] = arc_c1[x]
                    top += 1
                if not done[arc_c2[x]]:
                    stack[top] = arc_c2[x]
                    top += 1
    return out


@kernel
def _ch_path_length(fwd_ptr, fwd_head, fwd_w, fwd_arc, bwd_ptr, bwd_head, bwd_w, bwd_arc, arc_len, s, t, ws_i64,
                    ws_i32):  # fmt: skip
    """Distance and length of a shortest path between ranks ``s`` and ``t`` (``arc_len`` from
    :func:`_arc_totals`): the length of :func:`_ch_path`'s path without listing its edges."""
    best, arcs = _path_arcs(fwd_ptr, fwd_head, fwd_w, fwd_arc, bwd_ptr, bwd_head, bwd_w, bwd_arc, s, t, ws_i64,
                            ws_i32)  # fmt: skip
    length = 0
    for a in arcs:
        length += arc_len[a]
    return best, length


@kernel
def _upward_search(
    start,
    own_ptr,
    own_head,
    own_w,
    other_ptr,
    other_head,
    other_w,
    dist,
    keys,
    items,
    pos,
    settled_nodes,
    settled_dist,
):
    """Full upward Dijkstra with stall-on-demand from ``start``.

    Writes the non-stalled settled nodes and their distances to ``settled_*``; returns their
    count. ``dist`` is reset before returning.
    """
    dist[start] = 0
    size = heap_push(keys, items, pos, 0, start, 0)
    count = 0
    ntouched = 0
    # settled_nodes doubles as the touched list: stalled nodes are appended from the end.
    n_stalled_end = settled_nodes.shape[0]
    while size > 0:
        u, d, size = heap_pop(keys, items, pos, size)
        stalled = False
        for k in range(other_ptr[u], other_ptr[u + 1]):
            x = other_head[k]
            if dist[x] < INF and dist[x] + other_w[k] < d:
                stalled = True
                break
        if stalled:
            n_stalled_end -= 1
            settled_nodes[n_stalled_end] = u
            continue
        settled_nodes[count] = u
        settled_dist[count] = d
        count += 1
        for k in range(own_ptr[u], own_ptr[u + 1]):
            v = own_head[k]
            nd = d + own_w[k]
            if nd < dist[v]:
                dist[v] = nd
                size = heap_push(keys, items, pos, size, v, nd)
    ntouched = count
    for i in range(ntouched):
        dist[settled_nodes[i]] = INF
    for i in range(n_stalled_end, settled_nodes.shape[0]):
        dist[settled_nodes[i]] = INF
    return count


@parallel_kernel
def _search_spaces(
    ptr, head, w, other_ptr, other_head, other_w, starts, offsets, num_chunks,
    ws_dist, ws_keys, ws_items, ws_pos, ws_nodes, ws_dvals,
):  # fmt: skip
    """Upward search (with stalling) from every start, in parallel chunks.

    Chunk ``c`` searches with row ``c`` of the ``ws_*`` workspaces (:func:`m2m_workspace`:
    allocated once, left clean by every search), so that a small query does not pay for
    filling arrays the size of the network.

    With an empty ``offsets`` only the search-space sizes are returned (first pass); given
    the prefix sums of those sizes, the entries ``(node, distance)`` of start ``i`` are
    written at ``offsets[i]`` (second pass). Returns ``(sizes, ent_node, ent_dist)``.
    """
    q = starts.shape[0]
    write = offsets.shape[0] == q + 1
    total = offsets[q] if write else 0
    sizes = np.empty(q, np.int64)
    ent_node = np.empty(total, np.int32)
    ent_dist = np.empty(total, np.int64)
    for c in prange(num_chunks):
        lo = c * q // num_chunks
        hi = (c + 1) * q // num_chunks
        if lo >= hi:
            continue
        dist = ws_dist[c]
        keys = ws_keys[c]
        items = ws_items[c]
        pos = ws_pos[c]
        nodes = ws_nodes[c]
        dvals = ws_dvals[c]
        for i in range(lo, hi):
            cnt = _upward_search(
                starts[i], ptr, head, w, other_ptr, other_head, other_w, dist, keys, items, pos, nodes, dvals
            )
            sizes[i] = cnt
            if write:
                o = offsets[i]
                for k in range(cnt):
                    ent_node[o + k] = nodes[k]
                    ent_dist[o + k] = dvals[k]
    return sizes, ent_node, ent_dist


@kernel
def _bucket_csr(n, offsets, ent_node, ent_dist):
    """Group search-space entries by node: bucket of node v = (target index, distance)."""
    q = offsets.shape[0] - 1
    total = ent_node.shape[0]
    bptr = np.zeros(n + 1, np.int64)
    for k in range(total):
        bptr[ent_node[k] + 1] += 1
    for v in range(n):
        bptr[v + 1] += bptr[v]
    fill = bptr[:-1].copy()
    btarget = np.empty(total, np.int32)
    bdist = np.empty(total, np.int64)
    for j in range(q):
        for k in range(offsets[j], offsets[j + 1]):
            v = ent_node[k]
            p = fill[v]
            btarget[p] = j
            bdist[p] = ent_dist[k]
            fill[v] = p + 1
    return bptr, btarget, bdist


@parallel_kernel
def _bucket_scan(
    fwd_ptr,
    fwd_head,
    fwd_w,
    bwd_ptr,
    bwd_head,
    bwd_w,
    sources,
    bptr,
    btarget,
    bdist,
    num_targets,
    num_chunks,
    ws_dist,
    ws_keys,
    ws_items,
    ws_pos,
    ws_nodes,
    ws_dvals,
):
    """Forward upward search from each source, scanning buckets; returns the distance matrix.

    Chunk ``c`` uses row ``c`` of the ``ws_*`` workspaces (see :func:`_search_spaces`)."""
    q = sources.shape[0]
    out = np.empty((q, num_targets), np.int64)
    for c in prange(num_chunks):
        lo = c * q // num_chunks
        hi = (c + 1) * q // num_chunks
        if lo >= hi:
            continue
        dist = ws_dist[c]
        keys = ws_keys[c]
        items = ws_items[c]
        pos = ws_pos[c]
        nodes = ws_nodes[c]
        dvals = ws_dvals[c]
        for i in range(lo, hi):
            row = out[i]
            row[:] = INF
            cnt = _upward_search(
                sources[i], fwd_ptr, fwd_head, fwd_w, bwd_ptr, bwd_head, bwd_w, dist, keys, items, pos, nodes, dvals
            )
            for k in range(cnt):
                v = nodes[k]
                d = dvals[k]
                for b in range(bptr[v], bptr[v + 1]):
                    nd = d + bdist[b]
                    j = btarget[b]
                    if nd < row[j]:
                        row[j] = nd
            for j in range(num_targets):
                if row[j] >= INF:
                    row[j] = UNREACHABLE
    return out


# ============================================================================ fast distance queries
#
# Distance-only queries (one-to-one and batched) run on a packed copy of the two upward graphs,
# made once per hierarchy by :func:`_query_layout`: all arcs of rank ``r`` sit in one block,
# upward (``fwd``) arcs at ``qidx[r, 0] .. qidx[r, 1] - 1`` then downward-into-``r`` (``bwd``)
# arcs at ``qidx[r, 1] .. qidx[r + 1, 0] - 1``, each arc a row ``(head, weight)`` of ``qarc``
# (int32 when every weight fits, so an arc is 8 bytes). The two directions' distances share a
# row ``qdist[r] = (forward, backward)``, and the priority queues are lazy binary heaps (stale
# entries are skipped when popped) of arity 4, so no position array is read or written and a
# settled node costs about three cache lines instead of eight. On the 100,000-node synthetic
# city this took batched queries from about 22 to about 16 us per query on one thread.
@kernel
def _query_layout(fwd_ptr, fwd_head, fwd_w, bwd_ptr, bwd_head, bwd_w, qidx, qarc):
    """Fill ``qidx`` (n + 1 x 2) and ``qarc`` (arcs x 2, int32 or int64) with the two upward
    graphs packed per rank (see above)."""
    n = fwd_ptr.shape[0] - 1
    k = 0
    for r in range(n):
        qidx[r, 0] = k
        for a in range(fwd_ptr[r], fwd_ptr[r + 1]):
            qarc[k, 0] = fwd_head[a]
            qarc[k, 1] = fwd_w[a]
            k += 1
        qidx[r, 1] = k
        for a in range(bwd_ptr[r], bwd_ptr[r + 1]):
            qarc[k, 0] = bwd_head[a]
            qarc[k, 1] = bwd_w[a]
            k += 1
    qidx[n, 0] = k
    qidx[n, 1] = k
    return qidx, qarc


@kernel
def _lazy_push(keys, items, size, item, key):
    """Push ``(key, item)`` on a 4-ary min-heap without a position index; returns the new size."""
    slot = size
    while slot > 0:
        parent = (slot - 1) >> 2
        if keys[parent] <= key:
            break
        keys[slot] = keys[parent]
        items[slot] = items[parent]
        slot = parent
    keys[slot] = key
    items[slot] = item
    return size + 1


@kernel
def _lazy_pop(keys, items, size):
    """Remove the smallest entry; returns ``(item, key, new_size)`` (the heap must be non-empty)."""
    item = items[0]
    key = keys[0]
    size -= 1
    if size > 0:
        last_k = keys[size]
        last_i = items[size]
        slot = 0
        while True:
            first = 4 * slot + 1
            if first >= size:
                break
            best = first
            best_k = keys[first]
            end = min(first + 4, size)
            for c in range(first + 1, end):
                if keys[c] < best_k:
                    best = c
                    best_k = keys[c]
            if best_k >= last_k:
                break
            keys[slot] = best_k
            items[slot] = items[best]
            slot = best
        keys[slot] = last_k
        items[slot] = last_i
    return item, key, size


@kernel
def _fast_distance(qidx, qarc, s, t, qdist, hkeys, hitems, touched):
    """Distance between ranks ``s`` and ``t`` by bidirectional upward search with stall-on-demand.

    ``qdist`` (n x 2, all ``INF``) is left clean; ``hkeys`` / ``hitems`` (2 x capacity) are the
    two heaps and ``touched`` (2 x n) the nodes each direction reached.
    """
    if s == t:
        return 0
    keys_f = hkeys[0]
    keys_b = hkeys[1]
    items_f = hitems[0]
    items_b = hitems[1]
    touched_f = touched[0]
    touched_b = touched[1]
    qdist[s, 0] = 0
    qdist[t, 1] = 0
    touched_f[0] = s
    touched_b[0] = t
    nf = 1
    nb = 1
    size_f = _lazy_push(keys_f, items_f, 0, s, 0)
    size_b = _lazy_push(keys_b, items_b, 0, t, 0)
    best = INF
    while True:
        kf = keys_f[0] if size_f > 0 else INF
        kb = keys_b[0] if size_b > 0 else INF
        if kf >= best and kb >= best:
            break
        if kf <= kb:
            u, d, size_f = _lazy_pop(keys_f, items_f, size_f)
            if d > qdist[u, 0]:
                continue  # stale entry
            db = qdist[u, 1]
            if db < INF and d + db < best:
                best = d + db
            mid = qidx[u, 1]
            end = qidx[u + 1, 0]
            stalled = False
            for k in range(mid, end):
                if qdist[qarc[k, 0], 0] + qarc[k, 1] < d:
                    stalled = True
                    break
            if stalled:
                continue
            for k in range(qidx[u, 0], mid):
                v = qarc[k, 0]
                nd = d + qarc[k, 1]
                old = qdist[v, 0]
                if nd < old:
                    if old == INF:
                        touched_f[nf] = v
                        nf += 1
                    qdist[v, 0] = nd
                    size_f = _lazy_push(keys_f, items_f, size_f, v, nd)
        else:
            u, d, size_b = _lazy_pop(keys_b, items_b, size_b)
            if d > qdist[u, 1]:
                continue
            df = qdist[u, 0]
            if df < INF and d + df < best:
                best = d + df
            mid = qidx[u, 1]
            stalled = False
            for k in range(qidx[u, 0], mid):
                if qdist[qarc[k, 0], 1] + qarc[k, 1] < d:
                    stalled = True
                    break
            if stalled:
                continue
            for k in range(mid, qidx[u + 1, 0]):
                v = qarc[k, 0]
                nd = d + qarc[k, 1]
                old = qdist[v, 1]
                if nd < old:
                    if old == INF:
                        touched_b[nb] = v
                        nb += 1
                    qdist[v, 1] = nd
                    size_b = _lazy_push(keys_b, items_b, size_b, v, nd)
    for i in range(nf):
        qdist[touched_f[i], 0] = INF
    for i in range(nb):
        qdist[touched_b[i], 1] = INF
    return UNREACHABLE if best >= INF else best


@kernel
def _fast_workspace(n, m):
    """Fresh buffers for :func:`_fast_distance`: ``(qdist, hkeys, hitems, touched)``."""
    qdist = np.full((n, 2), INF, np.int64)
    cap = m + 1  # a heap holds at most one entry per relaxed arc, plus the start
    return qdist, np.empty((2, cap), np.int64), np.empty((2, cap), np.int32), np.empty((2, n), np.int32)


@parallel_kernel
def _fast_distance_batch(qidx, qarc, src, dst, num_chunks):
    """Pairwise distances ``src[i] -> dst[i]`` (ranks), in parallel chunks."""
    n = qidx.shape[0] - 1
    m = qarc.shape[0]
    q = src.shape[0]
    out = np.empty(q, np.int64)
    for c in prange(num_chunks):
        lo = c * q // num_chunks
        hi = (c + 1) * q // num_chunks
        if lo >= hi:
            continue
        qdist, hkeys, hitems, touched = _fast_workspace(n, m)
        for i in range(lo, hi):
            out[i] = _fast_distance(qidx, qarc, src[i], dst[i], qdist, hkeys, hitems, touched)
    return out


# ============================================================================ Python side
class QueryWorkspace:
    """Per-thread query buffers, packed into a few arrays to keep kernel calls cheap: ``i64`` /
    ``i32`` for path queries (:func:`_ch_query`), ``qdist`` / ``hkeys`` / ``hitems`` /
    ``touched`` for distance queries (:func:`_fast_distance`). ``n`` and ``num_arcs`` are the
    hierarchy's nodes and packed arcs: make one with :meth:`ContractionHierarchy.new_workspace`."""

    def __init__(self, n: int, num_arcs: int) -> None:
        self.i64 = np.empty((4, n), np.int64)
        self.i64[0, :] = INF
        self.i64[1, :] = INF
        self.i32 = np.empty((8, n), np.int32)
        self.i32[2, :] = -1
        self.i32[3, :] = -1
        self.qdist, self.hkeys, self.hitems, self.touched = _fast_workspace(n, num_arcs)


@dataclass(frozen=True, eq=False)
class ContractionHierarchy:
    """A contraction hierarchy over a :class:`RoadNetwork` (see the module docstring).

    Build with :meth:`build`; query through :class:`routing.Router`. Ranks are internal:
    the public API takes and returns network node ids.
    """

    rank: NDArray[np.int32]
    order: NDArray[np.int32]
    fwd_ptr: NDArray[np.int64]
    fwd_head: NDArray[np.int32]
    fwd_w: NDArray[np.int64]
    fwd_arc: NDArray[np.int32]
    bwd_ptr: NDArray[np.int64]
    bwd_head: NDArray[np.int32]
    bwd_w: NDArray[np.int64]
    bwd_arc: NDArray[np.int32]
    arc_c1: NDArray[np.int32]
    arc_c2: NDArray[np.int32]
    num_edges: int
    fingerprint: str
    meta: dict[str, Any] = field(default_factory=dict)
    #: The upward graphs packed for distance queries (see "fast distance queries" above):
    #: ``query_index[r] = (first upward arc, first downward arc)`` of rank ``r`` and
    #: ``query_arcs[k] = (head rank, weight)``; derived from ``fwd_*`` / ``bwd_*``, not saved.
    query_index: NDArray[np.int64] = field(init=False, repr=False)
    query_arcs: NDArray[np.integer] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        n = self.rank.shape[0]
        m = self.fwd_head.shape[0] + self.bwd_head.shape[0]
        heaviest = max(int(self.fwd_w.max(initial=0)), int(self.bwd_w.max(initial=0)))
        index = np.empty((n + 1, 2), np.int64)
        arcs = np.empty((m, 2), np.int32 if heaviest < 2**31 else np.int64)
        _query_layout(self.fwd_ptr, self.fwd_head, self.fwd_w, self.bwd_ptr, self.bwd_head, self.bwd_w, index, arcs)
        object.__setattr__(self, "query_index", index)
        object.__setattr__(self, "query_arcs", arcs)

    @property
    def num_nodes(self) -> int:
        return int(self.rank.shape[0])

    @property
    def num_shortcuts(self) -> int:
        return int(self.arc_c1.shape[0] - self.num_edges)

    @classmethod
    def build(
        cls, network: RoadNetwork, *, witness_settle_limit: int = 500, order: NDArray[np.int32] | None = None
    ) -> ContractionHierarchy:
        """Contract ``network``; with ``order`` (node ids, first contracted first) skip ordering."""
        if not 1 <= witness_settle_limit <= 1_000_000:
            raise InvalidArgumentError("witness_settle_limit", f"got {witness_settle_limit}", "1 .. 1000000")
        n = network.num_nodes
        fixed = np.zeros(0, np.int32)
        if order is not None:
            fixed = np.ascontiguousarray(order, dtype=np.int32)
            if fixed.shape != (n,) or not np.array_equal(np.sort(fixed), np.arange(n, dtype=np.int32)):
                raise InvalidArgumentError("order", "must be a permutation of the network's node ids")
        t0 = time.perf_counter()
        lists, arena, arcs, weights, counters = _initial_graph(
            network.indptr, network.indices, network.travel_time_s.astype(np.int64)
        )
        prio = np.zeros(0, np.float64)
        if order is None and n < _PARALLEL_IMPORTANCE_NODES:
            prio = np.empty(n, np.float64)
            _importance_range(0, n, prio, lists, arena, arcs, weights, witness_settle_limit)
        elif order is None:
            chunks = max(1, min(get_num_threads() * 8, n // 256 + 1))
            with _PARALLEL_LOCK:
                prio = _initial_importance(lists, arena, arcs, weights, witness_settle_limit, chunks)
        (order_out, up_out_ptr, up_out, up_in_ptr, up_in, arc_tail, arc_head, arc_w, arc_c1, arc_c2) = _contract(
            lists, arena, arcs, weights, counters, prio, fixed, witness_settle_limit
        )
        rank, fwd_head, fwd_w = _upward_csr(order_out, up_out_ptr, up_out, arc_head, arc_w)
        _, bwd_head, bwd_w = _upward_csr(order_out, up_in_ptr, up_in, arc_tail, arc_w)
        build_s = time.perf_counter() - t0
        return cls(
            rank=rank,
            order=order_out,
            fwd_ptr=up_out_ptr,
            fwd_head=fwd_head,
            fwd_w=fwd_w,
            fwd_arc=up_out,
            bwd_ptr=up_in_ptr,
            bwd_head=bwd_head,
            bwd_w=bwd_w,
            bwd_arc=up_in,
            arc_c1=arc_c1,
            arc_c2=arc_c2,
            num_edges=network.num_edges,
            fingerprint=network.weights_fingerprint(),
            meta={
                "build_s": round(build_s, 4),
                "witness_settle_limit": witness_settle_limit,
                "order": "computed" if order is None else "reused",
                "shortcuts": int(arc_c1.shape[0] - network.num_edges),
            },
        )

    def with_travel_times(self, network: RoadNetwork) -> ContractionHierarchy:
        """Re-contract ``network`` (same topology, new times) in this hierarchy's node order."""
        if network.num_nodes != self.num_nodes or network.num_edges != self.num_edges:
            raise InvalidArgumentError("network", "has a different topology from the one this hierarchy was built on")
        return ContractionHierarchy.build(
            network, witness_settle_limit=int(self.meta.get("witness_settle_limit", 500)), order=self.order
        )

    # ------------------------------------------------------------------ queries (ranks)
    def new_workspace(self) -> QueryWorkspace:
        return QueryWorkspace(self.num_nodes, int(self.query_arcs.shape[0]))

    def distance(self, s: int, t: int, ws: QueryWorkspace) -> int:
        """Distance between node ids ``s`` and ``t`` (unchecked; see Router)."""
        return int(
            _fast_distance(
                self.query_index,
                self.query_arcs,
                self.rank[s],
                self.rank[t],
                ws.qdist,
                ws.hkeys,
                ws.hitems,
                ws.touched,
            )
        )

    def _path_arrays(
        self,
    ) -> tuple[NDArray[np.int64], NDArray[np.int32], NDArray[np.int64], NDArray[np.int32], NDArray[np.int64],
               NDArray[np.int32], NDArray[np.int64], NDArray[np.int32]]:  # fmt: skip
        """The upward and downward graphs with their arcs' ids, as the path kernels take them."""
        return (self.fwd_ptr, self.fwd_head, self.fwd_w, self.fwd_arc, self.bwd_ptr, self.bwd_head, self.bwd_w,
                self.bwd_arc)  # fmt: skip

    def path_edges(
        self, s: int, t: int, ws: QueryWorkspace, arc_edges: NDArray[np.int64]
    ) -> tuple[int, NDArray[np.int32]]:
        """Distance and original edge ids of a shortest path from ``s`` to ``t`` (``arc_edges``:
        :meth:`arc_totals` of one per edge)."""
        d, edges = _ch_path(
            *self._path_arrays(),
            self.arc_c1,
            self.arc_c2,
            arc_edges,
            self.rank[s],
            self.rank[t],
            ws.i64,
            ws.i32,
        )
        return int(d), edges

    def arc_totals(self, per_edge: NDArray[np.integer]) -> NDArray[np.int64]:
        """Per arc of the hierarchy, the total of ``per_edge`` (an integer per original edge) over
        the edges it stands for (lengths for :meth:`path_length`, ones for :meth:`path_edges`)."""
        return _arc_totals(self.arc_c1, self.arc_c2, np.ascontiguousarray(per_edge, np.int64))

    def path_length(self, s: int, t: int, ws: QueryWorkspace, arc_len: NDArray[np.int64]) -> tuple[int, int]:
        """Distance of a shortest path from ``s`` to ``t`` and its length by ``arc_len`` (from
        :meth:`arc_totals`): what :meth:`path_edges` gives, summed, without the edges."""
        d, length = _ch_path_length(
            *self._path_arrays(),
            arc_len,
            self.rank[s],
            self.rank[t],
            ws.i64,
            ws.i32,
        )
        return int(d), int(length)

    def distances(self, sources: NDArray[np.int64], targets: NDArray[np.int64]) -> NDArray[np.int64]:
        """Distances ``sources[i] -> targets[i]`` (node ids, unchecked; see Router), in parallel."""
        chunks = max(1, min(get_num_threads() * 4, sources.shape[0] // 64 + 1))
        with _PARALLEL_LOCK:
            return _fast_distance_batch(
                self.query_index, self.query_arcs, self.rank[sources], self.rank[targets], chunks
            )

    def matrix(self, sources: NDArray[np.int64], targets: NDArray[np.int64]) -> NDArray[np.int64]:
        """Bucket-based many-to-many distance matrix (node ids in, ``len(sources) x len(targets)`` out)."""
        src = self.rank[sources].astype(np.int32)
        dst = self.rank[targets].astype(np.int32)
        with _PARALLEL_LOCK:
            return self._matrix(src, dst)

    def _matrix(self, src: NDArray[np.int32], dst: NDArray[np.int32]) -> NDArray[np.int64]:
        n = self.num_nodes
        threads = get_num_threads()
        tchunks = max(1, min(threads * 4, dst.shape[0]))
        bwd = (self.bwd_ptr, self.bwd_head, self.bwd_w, self.fwd_ptr, self.fwd_head, self.fwd_w)
        ws = self._m2m_workspace(threads * 4)
        sizes, _, _ = _search_spaces(*bwd, dst, np.zeros(0, np.int64), tchunks, *ws)
        offsets = np.zeros(dst.shape[0] + 1, np.int64)
        np.cumsum(sizes, out=offsets[1:])
        _, ent_node, ent_dist = _search_spaces(*bwd, dst, offsets, tchunks, *ws)
        bptr, btarget, bdist = _bucket_csr(n, offsets, ent_node, ent_dist)
        schunks = max(1, min(threads * 4, src.shape[0]))
        return _bucket_scan(
            self.fwd_ptr,
            self.fwd_head,
            self.fwd_w,
            self.bwd_ptr,
            self.bwd_head,
            self.bwd_w,
            src,
            bptr,
            btarget,
            bdist,
            dst.shape[0],
            schunks,
            *ws,
        )

    def _m2m_workspace(self, chunks: int) -> tuple[NDArray[Any], ...]:
        """Per-chunk search buffers of the matrix queries, made once per hierarchy and chunk count.

        Every search leaves them clean (distances back to infinity, heap positions to -1), so
        a matrix of a few rows costs its searches, not a fill of ``chunks x n`` entries. Used
        under ``_PARALLEL_LOCK`` only (one matrix query at a time).
        """
        memo: dict[int, tuple[NDArray[Any], ...]] = self.__dict__.setdefault("_m2m_ws", {})
        ws = memo.get(chunks)
        if ws is None:
            n = self.num_nodes
            ws = (
                np.full((chunks, n), INF, np.int64),
                np.empty((chunks, n), np.int64),
                np.empty((chunks, n), np.int32),
                np.full((chunks, n), -1, np.int32),
                np.empty((chunks, n), np.int32),
                np.empty((chunks, n), np.int64),
            )
            memo.clear()
            memo[chunks] = ws
        return ws

    # ------------------------------------------------------------------ persistence
    #: The fields saved as arrays, one per field (:meth:`save`, :meth:`load`).
    ARRAY_FIELDS = (
        "rank",
        "order",
        "fwd_ptr",
        "fwd_head",
        "fwd_w",
        "fwd_arc",
        "bwd_ptr",
        "bwd_head",
        "bwd_w",
        "bwd_arc",
        "arc_c1",
        "arc_c2",
    )

    def save(self, path: str | Path) -> Path:
        header = {"num_edges": self.num_edges, "fingerprint": self.fingerprint, "meta": self.meta}
        arrays = {k: getattr(self, k) for k in self.ARRAY_FIELDS}
        return save_npz(path, header, arrays, format_version=_FORMAT_VERSION)

    @classmethod
    def load(cls, path: str | Path) -> ContractionHierarchy:
        header, arrays = load_npz(path, cls.ARRAY_FIELDS, format_version=_FORMAT_VERSION, what="contraction hierarchy")
        return cls(**arrays, num_edges=int(header["num_edges"]), fingerprint=header["fingerprint"], meta=header["meta"])
