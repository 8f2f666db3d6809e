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
:class:`routing.locations.LocationPool`). Per side (0 = forward search spaces, 1 = backward)
the bucket of each hierarchy node is a contiguous run of ``(slot, distance)`` entries in one
arena, with room to grow: a full bucket moves to the arena's top with twice the room, and a
full arena is compacted into a larger one. Contiguous buckets matter: the top nodes of the
hierarchy are in nearly every search space, so a new place's scans read a few hundred
thousand entries, and linked lists made that ten times slower (measured on Manhattan). A
slot's entries leave by swapping each with the last of its bucket. Distances are integer
seconds; :data:`~routing.config.UNREACHABLE` marks a pair without a path.
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
    """One side's buckets (forward or backward search spaces): the bucket of hierarchy node ``u``
    is ``slot[start[u] : start[u] + length[u]]`` (with ``dist``), in an arena with ``room[u]``
    places reserved for it; ``top[0]`` is the arena's first unreserved place."""

    start: NDArray[np.int64]
    length: NDArray[np.int64]
    room: NDArray[np.int64]
    slot: NDArray[np.int32]
    dist: NDArray[np.int64]
    top: NDArray[np.int64]


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
def remove_entries(slot, nodes, bk):
    """Take ``slot``'s entry out of the bucket of each of ``nodes`` (the last entry of a bucket
    takes its place)."""
    for u in nodes:
        lo = bk.start[u]
        last = lo + bk.length[u] - 1
        for e in range(lo, last + 1):
            if bk.slot[e] == slot:
                bk.slot[e] = bk.slot[last]
                bk.dist[e] = bk.dist[last]
                bk.length[u] -= 1
                break


@kernel
def file_entries(slot, side, ws, bk):
    """File ``slot``'s search space of ``side`` (in ``ws``) in the buckets ``bk``; a full bucket
    moves to the arena's top with twice the room. False (nothing filed past that point) if the
    arena has no room left: the caller grows it and files again from scratch."""
    nodes = ws.nodes[side]
    dists = ws.dist[side]
    arena = bk.slot.shape[0]
    for i in range(ws.found[side]):
        u = nodes[i]
        n = bk.length[u]
        if n == bk.room[u]:
            room = 2 * n if n >= 2 else 4
            if bk.top[0] + room > arena:
                for j in range(i):  # undo: the caller retries after growing
                    bk.length[nodes[j]] -= 1
                return False
            lo = bk.start[u]
            top = bk.top[0]
            for k in range(n):
                bk.slot[top + k] = bk.slot[lo + k]
                bk.dist[top + k] = bk.dist[lo + k]
            bk.start[u] = top
            bk.room[u] = room
            bk.top[0] = top + room
        e = bk.start[u] + n
        bk.slot[e] = slot
        bk.dist[e] = dists[i]
        bk.length[u] = n + 1
    return True


@kernel
def compacted(bk, arena):
    """The buckets copied into a fresh arena of ``arena`` places, each with room for twice its
    entries (at least 4), in node order."""
    n = bk.start.shape[0]
    start = np.empty(n, np.int64)
    room = np.empty(n, np.int64)
    slot = np.empty(arena, np.int32)
    dist = np.empty(arena, np.int64)
    top = 0
    for u in range(n):
        m = bk.length[u]
        r = 0 if m == 0 else max(4, 2 * m)
        lo = bk.start[u]
        for k in range(m):
            slot[top + k] = bk.slot[lo + k]
            dist[top + k] = bk.dist[lo + k]
        start[u] = top
        room[u] = r
        top += r
    return start, room, slot, dist, top


@kernel
def scan_into(slot, ws, fwd, bwd, held, matrix):
    """Write ``slot``'s row and column of ``matrix`` at the slots ``held`` (the others are left
    as they are: 0): row ``t`` = min over the forward space's nodes ``u`` of ``d(slot, u) +
    d(u, t)`` from the backward buckets at ``u``; the column likewise from the forward buckets.
    (Only the held slots are written: a column is a strided write, a cache miss per entry.)"""
    cap = matrix.shape[0]
    best = ws.keys  # scratch (at least ``cap`` long: the caller checks)
    for side in range(2):
        bk = bwd if side == 0 else fwd
        for t in range(cap):
            best[t] = INF
        nodes = ws.nodes[side]
        dists = ws.dist[side]
        for i in range(ws.found[side]):
            u = nodes[i]
            d = dists[i]
            lo = bk.start[u]
            for e in range(lo, lo + bk.length[u]):
                t = bk.slot[e]
                nd = d + bk.dist[e]
                if nd < best[t]:
                    best[t] = nd
        for t in held:
            val = float(UNREACHABLE) if best[t] >= INF else float(best[t])
            if side == 0:
                matrix[slot, t] = val
            else:
                matrix[t, slot] = val


# ============================================================================ Python side
def _empty_buckets(num_nodes: int, arena: int) -> Buckets:
    return Buckets(
        start=np.zeros(num_nodes, np.int64),
        length=np.zeros(num_nodes, np.int64),
        room=np.zeros(num_nodes, np.int64),
        slot=np.empty(arena, np.int32),
        dist=np.empty(arena, np.int64),
        top=np.zeros(1, np.int64),
    )


class BucketIndex:
    """Forward and backward search spaces of the places held in slots (see the module docstring).

    Args:
        ch: the contraction hierarchy of the road network (its upward arrays and ``rank``).
        slots: initial number of slots (grows with :meth:`grow_slots`).

    :meth:`attach` files a slot's place and writes its row and column of a slot-by-slot
    matrix; :meth:`detach` lets it go. ``nbytes`` is the memory held (buckets, workspace).
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
        self.sides = [_empty_buckets(n, 4096), _empty_buckets(n, 4096)]  # forward, backward
        #: per side and slot, the hierarchy nodes of its entries (to take them out again)
        self.entries: list[dict[int, NDArray[np.int32]]] = [{}, {}]

    @property
    def num_entries(self) -> int:
        """Bucket entries in use (both sides)."""
        return int(sum(int(bk.length.sum()) for bk in self.sides))

    @property
    def nbytes(self) -> int:
        own = sum(int(a.nbytes) for bk in self.sides for a in bk) + sum(int(a.nbytes) for a in self.space)
        return own + sum(int(a.nbytes) for side in self.entries for a in side.values())

    def grow_slots(self, slots: int) -> None:
        """Room for ``slots`` slots."""
        if self.space.keys.shape[0] < slots:
            self.space = self.space._replace(keys=np.empty(slots, np.int64))

    def _file(self, slot: int, side: int) -> None:
        bk = self.sides[side]
        while not file_entries(slot, side, self.space, bk):
            used = bk.length[bk.length > 0]
            packed = int(np.maximum(4, 2 * used).sum())  # what compaction reserves
            arena = max(2 * packed + 8 * int(self.space.found[side]), int(bk.slot.shape[0]))
            start, room, slots, dist, top = compacted(bk, arena)
            bk = Buckets(start, bk.length, room, slots, dist, np.array([top], np.int64))
            self.sides[side] = bk
        self.entries[side][slot] = self.space.nodes[side, : self.space.found[side]].copy()

    def attach(self, slot: int, node: int, held: NDArray[np.int64], matrix: NDArray[np.float64]) -> None:
        """File ``slot`` as the place at network node ``node`` and write its row and column of
        ``matrix`` (slot by slot, square) at the slots ``held`` (which must include ``slot``;
        the other entries are left as they are)."""
        rank = int(self.ch.rank[node])
        upward_space(rank, 0, self.graphs, self.space)
        upward_space(rank, 1, self.graphs, self.space)
        self._file(slot, 0)
        self._file(slot, 1)
        scan_into(slot, self.space, self.sides[0], self.sides[1], held, matrix)

    def detach(self, slot: int) -> None:
        """Let ``slot`` go: its entries leave the buckets."""
        for side in range(2):
            nodes = self.entries[side].pop(slot, None)
            if nodes is not None:
                remove_entries(slot, nodes, self.sides[side])
