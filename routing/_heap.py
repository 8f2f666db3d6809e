"""An indexed binary min-heap over flat arrays, for use inside Numba kernels.

The heap holds ``size`` items in ``keys[0:size]`` / ``items[0:size]``; ``pos[item]`` is the
slot of ``item`` in the heap, or -1 when it is not in it. Keys may be integers or floats
(Numba compiles one version per key type). All functions are ``@njit`` and meant to be
called from other kernels only.
"""

from __future__ import annotations

from .config import kernel


@kernel
def heap_sift_up(keys, items, pos, slot):
    key = keys[slot]
    item = items[slot]
    while slot > 0:
        parent = (slot - 1) >> 1
        if keys[parent] <= key:
            break
        keys[slot] = keys[parent]
        items[slot] = items[parent]
        pos[items[slot]] = slot
        slot = parent
    keys[slot] = key
    items[slot] = item
    pos[item] = slot


@kernel
def heap_sift_down(keys, items, pos, size, slot):
    key = keys[slot]
    item = items[slot]
    while True:
        child = 2 * slot + 1
        if child >= size:
            break
        right = child + 1
        if right < size and keys[right] < keys[child]:
            child = right
        if keys[child] >= key:
            break
        keys[slot] = keys[child]
        items[slot] = items[child]
        pos[items[slot]] = slot
        slot = child
    keys[slot] = key
    items[slot] = item
    pos[item] = slot


@kernel
def heap_push(keys, items, pos, size, item, key):
    """Insert ``item`` with ``key``, or lower its key if it is already in the heap.

    Returns the new size. A key larger than the one already held is ignored.
    """
    slot = pos[item]
    if slot >= 0:
        if key < keys[slot]:
            keys[slot] = key
            heap_sift_up(keys, items, pos, slot)
        return size
    keys[size] = key
    items[size] = item
    pos[item] = size
    heap_sift_up(keys, items, pos, size)
    return size + 1


@kernel
def heap_update(keys, items, pos, size, item, key):
    """Set the key of ``item`` (up or down), inserting it if absent. Returns the new size."""
    slot = pos[item]
    if slot < 0:
        return heap_push(keys, items, pos, size, item, key)
    old = keys[slot]
    keys[slot] = key
    if key < old:
        heap_sift_up(keys, items, pos, slot)
    elif key > old:
        heap_sift_down(keys, items, pos, size, slot)
    return size


@kernel
def heap_pop(keys, items, pos, size):
    """Remove the smallest item. Returns ``(item, key, new_size)``; the heap must be non-empty."""
    item = items[0]
    key = keys[0]
    pos[item] = -1
    size -= 1
    if size > 0:
        keys[0] = keys[size]
        items[0] = items[size]
        pos[items[0]] = 0
        heap_sift_down(keys, items, pos, size, 0)
    return item, key, size
