"""The places a fleet's plans visit now, held in a bounded pool of slots with their travel times.

The schedule kernels read ``travel_time[node_location[a], node_location[b]]``. Indexed by
stop, that matrix is ``stops x stops``: 150 MB on Manhattan (4,333 stops), 2.5 GB on a
9,691-node city, impossible on a city-wide network. Yet a plan only ever visits a few hundred
places at once: each vehicle's position, its planned stops, the two ends of the request being
quoted. A :class:`LocationPool` holds those places in *slots* and keeps the slot-by-slot
matrix the kernels read (``pool.matrix``; a node's ``node_location`` is its slot):

* :meth:`LocationPool.acquire` gives the slot of a place (one more reference); a place new to
  the pool takes a free slot, and its row and column come from the contraction hierarchy by
  the incremental bucket index of :mod:`routing.buckets` (one forward and one backward upward
  search, and the scans of the buckets they meet);
* :meth:`LocationPool.release` drops a reference. A slot nobody references keeps its place and
  times (a cache: the place may come back, e.g. a busy stop) until its slot is needed for
  another place, least recently released first;
* when every slot is referenced the pool doubles (the matrix with it), so it holds at most
  ``max(initial_slots, 2 x the most places referenced at once)`` slots (and never more than
  there are places), whatever the number of stops and nodes: memory ``O(slots^2)`` for the
  matrix plus ``O(nodes + slots x search space)`` for the buckets.

:meth:`LocationPool.dense` wraps a stop-by-stop matrix the caller already holds instead: every
place is its own slot (small networks and tests; nothing is computed).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .buckets import BucketIndex
from .errors import InvalidArgumentError
from .router import Router

__all__ = ["LocationPool", "longest_travel_time"]


class LocationPool:
    """Slots for the places in use and the slot-by-slot travel times (see the module docstring).

    Args:
        router: the network's :class:`Router` (its contraction hierarchy gives the times).
        place_node: the road-network node of each place (e.g. ``stops.node``): places are
            ``0 .. len(place_node) - 1``.
        initial_slots: slots to start with (>= 2).

    Attributes: ``matrix`` (``capacity x capacity`` float64 seconds; a slot not held has zeros;
    the array is replaced when the pool grows), ``place`` (per slot its place, -1 if none),
    ``refs`` (per slot its references).
    """

    def __init__(self, router: Router, place_node: ArrayLike, *, initial_slots: int = 64) -> None:
        nodes = np.asarray(place_node)
        if nodes.ndim != 1 or not np.issubdtype(nodes.dtype, np.integer):
            raise InvalidArgumentError("place_node", f"shape {nodes.shape}, dtype {nodes.dtype}", "1-D node ids")
        n = router.network.num_nodes
        if nodes.size and (int(nodes.min()) < 0 or int(nodes.max()) >= n):
            raise InvalidArgumentError("place_node", "has ids outside the network", f"0 .. {n - 1}")
        if isinstance(initial_slots, bool) or not isinstance(initial_slots, int | np.integer) or initial_slots < 2:
            raise InvalidArgumentError("initial_slots", f"got {initial_slots!r}", "an integer >= 2")
        self.place_node = np.ascontiguousarray(nodes, np.int64)
        self.router: Router | None = router
        self.identity = False
        cap = min(int(initial_slots), max(2, int(nodes.size)))
        self.index: BucketIndex | None = BucketIndex(router.ch, slots=cap)
        self._setup(cap)

    @classmethod
    def dense(cls, matrix: NDArray[np.float64]) -> LocationPool:
        """A pool over a place-by-place ``matrix`` the caller holds: place ``p`` is slot ``p``
        and ``pool.matrix`` is ``matrix`` itself (nothing is computed or evicted)."""
        tt = np.ascontiguousarray(matrix, np.float64)
        if tt.ndim != 2 or tt.shape[0] != tt.shape[1] or tt.shape[0] == 0:
            raise InvalidArgumentError("travel_time", f"shape {tt.shape}", "a square places x places matrix")
        pool = cls.__new__(cls)
        pool.place_node = np.arange(tt.shape[0], dtype=np.int64)
        pool.router = None
        pool.identity = True
        pool.index = None
        pool.matrix = tt
        pool.place = np.arange(tt.shape[0], dtype=np.int64)
        pool.refs = np.zeros(tt.shape[0], np.int64)
        pool._slot_of = {}
        pool._idle = OrderedDict()
        pool._empty = []
        pool._referenced = 0
        pool.peak_referenced = 0
        pool.computed = 0
        return pool

    def _setup(self, cap: int) -> None:
        self.matrix = np.zeros((cap, cap))
        self.place = np.full(cap, -1, np.int64)
        self.refs = np.zeros(cap, np.int64)
        self._slot_of: dict[int, int] = {}
        #: slots held but referenced by nobody, least recently released first
        self._idle: OrderedDict[int, None] = OrderedDict()
        self._empty = list(range(cap - 1, -1, -1))  # slots holding no place (lowest last)
        self._referenced = 0
        #: the most slots referenced at once so far
        self.peak_referenced = 0
        #: how many rows and columns were computed (places that were not in the pool)
        self.computed = 0

    # ------------------------------------------------------------------ sizes
    @property
    def capacity(self) -> int:
        """Slots (the matrix is ``capacity x capacity``)."""
        return int(self.matrix.shape[0])

    @property
    def num_places(self) -> int:
        return int(self.place_node.shape[0])

    @property
    def referenced(self) -> int:
        """Slots referenced now."""
        return self._referenced

    @property
    def held(self) -> int:
        """Slots holding a place (referenced or idle)."""
        return len(self._slot_of) if not self.identity else self.capacity

    @property
    def nbytes(self) -> int:
        """Memory of the matrix, the per-slot arrays and the bucket index."""
        own = int(self.matrix.nbytes + self.place.nbytes + self.refs.nbytes)
        return own + (self.index.nbytes if self.index is not None else 0)

    # ------------------------------------------------------------------ slots
    def slot_of(self, place: int) -> int:
        """The slot holding ``place`` (:class:`InvalidArgumentError` if it holds none)."""
        if self.identity:
            return int(place)
        slot = self._slot_of.get(int(place))
        if slot is None:
            raise InvalidArgumentError("place", f"{place} is not in the pool")
        return slot

    def acquire(self, place: int) -> int:
        """The slot of ``place``, with one more reference (its times computed if it is new)."""
        if self.identity:
            return int(place)
        place = int(place)
        slot = self._slot_of.get(place)
        if slot is None:
            if not 0 <= place < self.place_node.shape[0]:
                raise InvalidArgumentError("place", f"got {place}", f"0 .. {self.place_node.shape[0] - 1}")
            slot = self._new_slot(place)
        elif self.refs[slot] == 0:
            del self._idle[slot]
        if self.refs[slot] == 0:
            self._referenced += 1
            self.peak_referenced = max(self.peak_referenced, self._referenced)
        self.refs[slot] += 1
        return slot

    def retain(self, slot: int) -> None:
        """One more reference to a slot already referenced (a node copies another's location)."""
        if not self.identity:
            self.refs[slot] += 1

    def release(self, slot: int) -> None:
        """One reference fewer; a slot nobody references stays as a cache (see the module docstring)."""
        if self.identity:
            return
        left = self.refs[slot] - 1
        if left < 0:
            raise InvalidArgumentError("slot", f"slot {slot} is not referenced")
        self.refs[slot] = left
        if left == 0:
            self._idle[slot] = None
            self._referenced -= 1

    def _new_slot(self, place: int) -> int:
        if not self._empty:
            if self._idle:
                slot, _ = self._idle.popitem(last=False)
                self._evict(slot)
            else:
                self._grow(min(2 * self.capacity, self.num_places))
        slot = self._empty.pop()
        self.place[slot] = place
        self._slot_of[place] = slot
        self._fill(slot)
        return slot

    def _evict(self, slot: int) -> None:
        del self._slot_of[int(self.place[slot])]
        self.place[slot] = -1
        if self.index is not None:
            self.index.detach(slot)
        self.matrix[slot, :] = 0.0
        self.matrix[:, slot] = 0.0
        self._empty.append(slot)

    def _grow(self, cap: int) -> None:
        old = self.capacity
        m = np.zeros((cap, cap))
        m[:old, :old] = self.matrix
        self.matrix = m
        place = np.full(cap, -1, np.int64)
        place[:old] = self.place
        self.place = place
        refs = np.zeros(cap, np.int64)
        refs[:old] = self.refs
        self.refs = refs
        self._empty.extend(range(cap - 1, old - 1, -1))
        if self.index is not None:
            self.index.grow_slots(cap)

    def _fill(self, slot: int) -> None:
        """Row and column of ``slot`` against every slot held."""
        assert self.index is not None
        self.computed += 1
        held = np.flatnonzero(self.place >= 0)
        self.index.attach(slot, int(self.place_node[self.place[slot]]), held, self.matrix)

    # ------------------------------------------------------------------ new times
    def retime(self, router: Router) -> None:
        """New travel times (a traffic update): the idle slots are let go, the referenced ones
        are computed again with ``router``'s hierarchy (same network)."""
        if self.identity:
            raise InvalidArgumentError("router", "a dense pool takes a new matrix, not a router")
        if self.router is not None and router.network.num_nodes != self.router.network.num_nodes:
            raise InvalidArgumentError("router", "is for another road network")
        self.router = router
        for slot in list(self._idle):
            self._evict(slot)
        self._idle.clear()
        self.index = BucketIndex(router.ch, slots=self.capacity)
        self.matrix[:] = 0.0
        slots = np.flatnonzero(self.place >= 0)
        for k, slot in enumerate(slots.tolist()):  # each against the ones before it and itself
            self.index.attach(slot, int(self.place_node[self.place[slot]]), slots[: k + 1], self.matrix)
            self.computed += 1

    def check(self) -> dict[str, Any]:
        """The pool's accounting as a dict: slots, slots holding a place, referenced, idle, peak referenced."""
        return {
            "capacity": self.capacity,
            "held": self.held,
            "referenced": self.referenced,
            "idle": len(self._idle),
            "peak_referenced": self.peak_referenced,
        }


def longest_travel_time(
    router: Router, nodes: ArrayLike, *, block_pairs: int = 4_000_000, max_pairs: int | None = None
) -> int:
    """The longest travel time between two of ``nodes`` (both ways), by many-to-many blocks of at
    most ``block_pairs`` pairs: ``O(len(nodes)^2)`` time, memory bounded by the block.

    With ``max_pairs`` and more pairs than that, the longest over a sample instead (a lower
    bound): from evenly spaced nodes to all, and from all to them, ``max_pairs`` pairs in all."""
    src = np.asarray(nodes, np.int64)
    if src.size == 0:
        return 0
    if max_pairs is not None and src.size * src.size > max_pairs:
        picked = src[np.linspace(0, src.size - 1, max(1, max_pairs // (2 * src.size))).astype(np.int64)]
        return max(_longest(router, picked, src, block_pairs), _longest(router, src, picked, block_pairs))
    return _longest(router, src, src, block_pairs)


def _longest(router: Router, sources: NDArray[np.int64], targets: NDArray[np.int64], block_pairs: int) -> int:
    rows = max(1, block_pairs // targets.size)
    best = 0
    for lo in range(0, sources.size, rows):
        best = max(best, int(router.matrix(sources[lo : lo + rows], targets).max()))
    return best
