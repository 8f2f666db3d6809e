"""What the trip search hands to the assignment, and what the assignment decides.

:class:`Trips` — every feasible trip of every taxi in one batch, with its best stop order
(:func:`matching.pooling.trips.generate_trips` makes it); :class:`Assignment` — one trip per
taxi (:func:`matching.pooling.assign.assign` chooses it). The contract in full:

* a trip is a set of OPEN and ASSIGNED requests for one taxi; the taxi's ON-BOARD requests
  are implied (their drop-offs are in every stop order of the taxi's trips);
* the route cost of a stop order for taxi ``v``: start at ``(vehicles.node[v],
  vehicles.time[v])``, drive, wait at a pickup until its ``earliest_pickup``, stand
  ``dwell_s`` at each stop; cost = (end of the last stop - ``vehicles.time[v]``) +
  ``round(delay_weight * sum(delay_r))`` over the trip's and the taxi's on-board requests,
  ``delay_r = dropoff_r - (earliest_pickup_r + direct_r)``;
* every active taxi has its EMPTY trip (no requests) and its CURRENT trip (exactly the
  requests now assigned to it), emitted even when no longer feasible (``feasible`` False),
  so that an assignment keeping every promise always exists.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray


class Trips(NamedTuple):
    """The feasible trips of one batch (``T`` trips)."""

    vehicle: NDArray[np.int64]
    """[T] the taxi of each trip."""
    req_ptr: NDArray[np.int64]
    """[T+1] trip ``t``'s requests are ``req[req_ptr[t]:req_ptr[t+1]]``, ascending."""
    req: NDArray[np.int64]
    """The trips' requests (open and assigned; on-board ones are implied)."""
    cost: NDArray[np.int64]
    """[T] route cost of the trip's best stop order (see the module docstring)."""
    feasible: NDArray[np.bool_]
    """[T] False only for a taxi's EMPTY or CURRENT trip that no longer meets its limits."""
    stop_ptr: NDArray[np.int64]
    """[T+1] trip ``t``'s best stop order is ``stops[stop_ptr[t]:stop_ptr[t+1]]``."""
    stops: NDArray[np.int64]
    """Each stop is ``2 * r`` (pickup of request ``r``) or ``2 * r + 1`` (its drop-off)."""
    stop_time: NDArray[np.int64]
    """Planned service start of each stop (indexed like ``stops``)."""

    @property
    def size(self) -> int:
        return int(self.vehicle.shape[0])

    def requests_of(self, t: int) -> NDArray[np.int64]:
        """The requests of trip ``t``."""
        return self.req[self.req_ptr[t] : self.req_ptr[t + 1]]

    def stops_of(self, t: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Trip ``t``'s stops and their planned times."""
        sl = slice(self.stop_ptr[t], self.stop_ptr[t + 1])
        return self.stops[sl], self.stop_time[sl]


class Assignment(NamedTuple):
    """One batch's decision: a trip per taxi."""

    trip_of_vehicle: NDArray[np.int64]
    """[V] the chosen trip of each taxi (its EMPTY trip when it takes nothing)."""
    served: NDArray[np.bool_]
    """[R] the request is in a chosen trip (on-board requests: True)."""
    objective: int
    """Sum of the chosen trips' costs plus ``unserved_penalty_s`` per unserved OPEN request."""
    status: str
    """``"optimal"``, ``"feasible"`` (the solver stopped at its limit) or ``"greedy"``."""
    solve_s: float
    """Wall-clock seconds of the assignment."""
