"""Travel times between a changing set of locations: an incremental bucket index over a hierarchy.

A live dispatcher needs the travel times between the few hundred places its vehicles' plans
visit now (vehicle positions, planned stops, the two ends of the request being quoted), and
that set changes by a place or two per request. :meth:`Router.matrix` answers a whole block at
once by the bucket method (Knopp et al. 2007): one upward search per target fills per-node
buckets, one upward search per source scans them. Computing the row and the column of *one*
new place that way would redo the searches of every other place. The index below keeps the
buckets between calls instead (as Geisberger's "bucket-based" many-to-many and its dynamic
variants do): every place held has its forward search space in the forward buckets and its
backward search space in the backward buckets, so a new place costs one forward and one
backward upward search plus the scans of the buckets they meet, and a place let go removes its
entries again. Written by hand because no library keeps such an index over our hierarchy's
arrays; the kernels below are small and tested against :meth:`Router.travel_time`.

Layout. Places are held in *slots* ``0 .. capacity - 1`` (the caller numbers them; see
:class:`routing.locations.LocationPool`). Bucket entries live in flat arrays, each in two
doubly linked lists: the list of its hierarchy node (per side: 0 = forward search spaces,
1 = backward) and the list of its slot (per side), so that removing a slot touches only its
own entries. Free entries form a singly linked list. Distances are integer seconds;
:data:`~routing.config.UNREACHABLE` marks a pair without a path.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from ._heap import heap_pop, heap_push
from .ch import ContractionHierarchy
from .config import INF, UNREACHABLE, kernel

__all__ = ["BucketIndex"]


class UpwardGraphs(NamedTuple):
    """The hierarchy's upward graphs, over ranks (:class:`~routing.ch.ContractionHierarchy`)."""

    fwd_ptr: NDArray[np.int64]
    fwd_head: NDArray[np.int32]
    fwd_w: NDArray[np.int64]
    bwd_ptr: NDArray[np.int64]
    bwd_head: NDArray[np.int32]
    bwd_w: NDArray[np.int64]


class SearchSpace(NamedTuple):
    """Workspace of the upward searches (one int or two per hierarchy node) and their results:
    ``nodes[side, :found[side]]`` and ``dist[side, :found[side]]`` (side 0 forward, 1 backward)."""

    label: NDArray[np.int64]  # tentative distances, INF between searches
    keys: NDArray[np.int64]
    items: NDArray[np.int32]
    pos: NDArray[np.int32]  # -1 between searches
    touched: NDArray[np.int32]
    nodes: NDArray[np.int32]  # [2, n]
    dist: NDArray[np.int64]  # [2, n]
    found: NDArray[np.int64]  # [2]


class Buckets(NamedTuple):
    """The bucket entries (see the module docstring); ``free[0]`` heads the free list, ``free[1]``
    counts its entries."""

    node_first: NDArray[np.int64]  # [2, n] first entry of a node's list, -1 if none
    slot_first: NDArray[np.int64]  # [2, slots] first entry of a slot's list
    slot: NDArray[np.int32]  # per entry: its slot (-1: free)
    node: NDArray[np.int32]  # per entry: its hierarchy node (rank)
    dist: NDArray[np.int64]  # per entry: distance between the slot's place and the node
    node_next: NDArray[np.int64]
    node_prev: NDArray[np.int64]
    slot_next: NDArray[np.int64]  # also the free list's links
    free: NDArray[np.int64]


# ============================================================================ kernels
@kernel
def upward_space(start, side, g, ws):
    """Upward Dijkstra with stall-on-demand from rank ``start`` over the forward (``side`` 0) or
    backward (1) graph; writes the settled, non-stalled nodes and their distances to
    ``ws.nodes[side]`` / ``ws.dist[side]`` and their number to ``ws.found[side]``."""
    if side == 0:
        own_ptr, own_head, own_w = g.fwd_ptr, g.fwd_head, g.fwd_w
        other_ptr, other_head, other_w = g.bwd_ptr, g.bwd_head, g.bwd_w
    else:
        own_ptr, own_head, own_w = g.bwd_ptr, g.bwd_head, g.bwd_w
        other_ptr, other_head, other_w = g.fwd_ptr, g.fwd_head, g.fwd_w
    label = ws.label
    out_nodes = ws.nodes[side]
    out_dist = ws.dist[side]
    label[start] = 0
    ws.touched[0] = start
    touched = 1
    size = heap_push(ws.keys, ws.items, ws.pos, 0, start, 0)
    count = 0
    while size > 0:
        u, d, size = heap_pop(ws.keys, ws.items, ws.pos, size)
        stalled = False
        for k in range(other_ptr[u], other_ptr[u + 1]):
            x = other_head[k]
            if label[x] < INF and label[x] + other_w[k] < d:
                stalled = True
                break
        if stalled:
            continue
        out_nodes[count] = u
        out_dist[count] = d
        count += 1
        for k in range(own_ptr[u], own_ptr[u + 1]):
            v = own_head[k]
            nd = d + own_w[k]
            if nd < label[v]:
                if label[v] == INF:
                    ws.touched[touched] = v
                    touched += 1
                label[v] = nd
                size = heap_push(ws.keys, ws.items, ws.pos, size, v, nd)
    for i in range(touched):
        label[ws.touched[i]] = INF
    ws.found[side] = count


@kernel
def remove_slot(slot, bk):
    """Take every bucket entry of ``slot`` out of its node's list and onto the free list."""
    for side in range(2):
        e = bk.slot_first[side, slot]
        while e >= 0:
            nxt = bk.slot_next[e]
            prev = bk.node_prev[e]
            after = bk.node_next[e]
            if prev >= 0:
                bk.node_next[prev] = after
            else:
                bk.node_first[side, bk.node[e]] = after
            if after >= 0:
                bk.node_prev[after] = prev
            bk.slot[e] = -1
            bk.slot_next[e] = bk.free[0]
            bk.free[0] = e
            bk.free[1] += 1
            e = nxt
        bk.slot_first[side, slot] = -1


@kernel
def add_and_scan(slot, bk, ws, held, matrix):
    """File the search spaces in ``ws`` as ``slot``'s entries (the free list must hold enough),
    then write ``slot``'s row and column of ``matrix`` for every slot with ``held`` set (0 for
    the others): row ``t`` = min over the forward space's nodes ``u`` of ``d(slot, u) + d(u, t)``
    from the backward buckets at ``u``; the column likewise the other way round."""
    for side in range(2):
        nodes = ws.nodes[side]
        dists = ws.dist[side]
        last = -1
        for i in range(ws.found[side]):
            e = bk.free[0]
            bk.free[0] = bk.slot_next[e]
            bk.free[1] -= 1
            u = nodes[i]
            bk.slot[e] = slot
            bk.node[e] = u
            bk.dist[e] = dists[i]
            first = bk.node_first[side, u]
            bk.node_next[e] = first
            bk.node_prev[e] = -1
            if first >= 0:
                bk.node_prev[first] = e
            bk.node_first[side, u] = e
            bk.slot_next[e] = -1
            if last >= 0:
                bk.slot_next[last] = e
            else:
                bk.slot_first[side, slot] = e
            last = e
    cap = matrix.shape[0]
    best = ws.keys  # scratch (at least ``cap`` long: the caller checks)
    for side in range(2):
        for t in range(cap):
            best[t] = INF
        nodes = ws.nodes[side]
        dists = ws.dist[side]
        other = 1 - side
        for i in range(ws.found[side]):
            d = dists[i]
            e = bk.node_first[other, nodes[i]]
            while e >= 0:
                t = bk.slot[e]
                nd = d + bk.dist[e]
                if nd < best[t]:
                    best[t] = nd
                e = bk.node_next[e]
        for t in range(cap):
            val = 0.0
            if held[t]:
                val = float(UNREACHABLE) if best[t] >= INF else float(best[t])
            if side == 0:
                matrix[slot, t] = val
            else:
                matrix[t, slot] = val


# ============================================================================ Python side
def _empty_buckets(num_nodes: int, slots: int, entries: int) -> Buckets:
    bk = Buckets(
        node_first=np.full((2, num_nodes), -1, np.int64),
        slot_first=np.full((2, slots), -1, np.int64),
        slot=np.full(entries, -1, np.int32),
        node=np.zeros(entries, np.int32),
        dist=np.zeros(entries, np.int64),
        node_next=np.full(entries, -1, np.int64),
        node_prev=np.full(entries, -1, np.int64),
        slot_next=np.arange(1, entries + 1, dtype=np.int64),
        free=np.array([0 if entries else -1, entries], np.int64),
    )
    if entries:
        bk.slot_next[-1] = -1
    return bk


class BucketIndex:
    """Forward and backward search spaces of the places held in slots (see the module docstring).

    Args:
        ch: the contraction hierarchy of the road network (its upward arrays and ``rank``).
        slots: initial number of slots (grows with :meth:`grow_slots`).

    :meth:`attach` files a slot's place and writes its row and column of a slot-by-slot
    matrix; :meth:`detach` lets it go. ``nbytes`` is the memory held (entries and per-node heads).
    """

    def __init__(self, ch: ContractionHierarchy, *, slots: int = 64) -> None:
        self.ch = ch
        n = ch.num_nodes
        self.graphs = UpwardGraphs(ch.fwd_ptr, ch.fwd_head, ch.fwd_w, ch.bwd_ptr, ch.bwd_head, ch.bwd_w)
        self.space = SearchSpace(
            label=np.full(n, INF, np.int64),
            keys=np.empty(max(n, slots), np.int64),
            items=np.empty(n, np.int32),
            pos=np.full(n, -1, np.int32),
            touched=np.empty(n, np.int32),
            nodes=np.empty((2, n), np.int32),
            dist=np.empty((2, n), np.int64),
            found=np.zeros(2, np.int64),
        )
        self.buckets = _empty_buckets(n, slots, 1024)

    @property
    def num_entries(self) -> int:
        """Bucket entries in use (both sides)."""
        return int(self.buckets.slot.shape[0] - self.buckets.free[1])

    @property
    def nbytes(self) -> int:
        return sum(int(a.nbytes) for a in self.buckets) + sum(int(a.nbytes) for a in self.space)

    def grow_slots(self, slots: int) -> None:
        """Room for ``slots`` slots (at least as many as now)."""
        bk = self.buckets
        old = bk.slot_first.shape[1]
        if slots <= old:
            return
        first = np.full((2, slots), -1, np.int64)
        first[:, :old] = bk.slot_first
        self.buckets = bk._replace(slot_first=first)
        if self.space.keys.shape[0] < slots:
            self.space = self.space._replace(keys=np.empty(slots, np.int64))

    def _reserve(self, need: int) -> None:
        """At least ``need`` free entries (the entry arrays double as often as needed)."""
        bk = self.buckets
        if bk.free[1] >= need:
            return
        size = bk.slot.shape[0]
        new_size = max(2 * size, size + need)
        grown = {}
        for name in ("slot", "node", "dist", "node_next", "node_prev", "slot_next"):
            arr = getattr(bk, name)
            new = np.full(new_size, -1 if name != "dist" else 0, arr.dtype)
            new[:size] = arr
            grown[name] = new
        # the new entries go to the front of the free list, linked in order
        links = grown["slot_next"]
        links[size : new_size - 1] = np.arange(size + 1, new_size, dtype=np.int64)
        links[new_size - 1] = bk.free[0]
        free = np.array([size, bk.free[1] + (new_size - size)], np.int64)
        self.buckets = bk._replace(free=free, **grown)

    def attach(self, slot: int, node: int, held: NDArray[np.bool_], matrix: NDArray[np.float64]) -> None:
        """File ``slot`` as the place at network node ``node`` and write its row and column of
        ``matrix`` (slot by slot, square) for the slots ``held`` (which must include ``slot``)."""
        rank = int(self.ch.rank[node])
        upward_space(rank, 0, self.graphs, self.space)
        upward_space(rank, 1, self.graphs, self.space)
        self._reserve(int(self.space.found.sum()))
        add_and_scan(slot, self.buckets, self.space, held, matrix)

    def detach(self, slot: int) -> None:
        """Let ``slot`` go: its entries leave the buckets."""
        remove_slot(slot, self.buckets)
