"""One batch of the shared taxi's matching, as flat arrays.

The trip search (:mod:`matching.pooling.trips`) and the assignment
(:mod:`matching.pooling.assign`) read these; the dispatcher builds them from its rides and
taxis at each batch. Rows are indices: request ``r`` is row ``r`` of every
:class:`BatchRequests` array, vehicle ``v`` row ``v`` of every :class:`BatchVehicles` array.
Nodes are road-network node ids; times are integer seconds on the service clock.

A request is in one of three states: :data:`OPEN` (waiting for its first match),
:data:`ASSIGNED` (promised to ``vehicle[r]``, not yet picked up; a batch may move it to
another taxi, but must serve it), :data:`ONBOARD` (in ``vehicle[r]``; only its drop-off is
left, in that taxi).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

#: A request waiting for its first match.
OPEN = 0
#: A request promised to a taxi and not yet picked up.
ASSIGNED = 1
#: A request in its taxi.
ONBOARD = 2


class BatchRequests(NamedTuple):
    """Every request a batch plans: open, assigned and on board (``R`` rows)."""

    origin: NDArray[np.int64]
    """Pickup node."""
    destination: NDArray[np.int64]
    """Drop-off node."""
    passengers: NDArray[np.int64]
    """Seats the party takes."""
    earliest_pickup: NDArray[np.int64]
    """Not picked up before this (the request time)."""
    latest_pickup: NDArray[np.int64]
    """Picked up by this (request + max wait; for an assigned request, its promise)."""
    latest_dropoff: NDArray[np.int64]
    """Dropped off by this (request + direct + max delay; a large number when unlimited)."""
    max_ride: NDArray[np.int64]
    """Longest time in the taxi."""
    direct: NDArray[np.int64]
    """Direct travel time from origin to destination."""
    solo: NDArray[np.bool_]
    """Rides alone: nobody else is on board while this party is."""
    state: NDArray[np.int8]
    """:data:`OPEN`, :data:`ASSIGNED` or :data:`ONBOARD`."""
    vehicle: NDArray[np.int64]
    """The taxi of an assigned or on-board request; -1 for an open one."""
    picked_at: NDArray[np.int64]
    """Pickup time of an on-board request; -1 otherwise."""

    @property
    def size(self) -> int:
        return int(self.origin.shape[0])


class BatchVehicles(NamedTuple):
    """The taxis of a batch (``V`` rows)."""

    node: NDArray[np.int64]
    """Where the taxi's new plan starts: its position, or the next node it will reach."""
    time: NDArray[np.int64]
    """When it is there (at or after the batch's time)."""
    capacity: NDArray[np.int64]
    """Seats."""
    active: NDArray[np.bool_]
    """On shift and taking new requests (an inactive taxi still finishes its on-board riders)."""

    @property
    def size(self) -> int:
        return int(self.node.shape[0])
