"""I-MOA, the shared taxi: door-to-door ride pooling matched in batches.

* :class:`PoolingParams` — the service's rules and the batch algorithm's budgets;
* :class:`BatchRequests`, :class:`BatchVehicles` — one batch's requests and vehicles as arrays
  (:mod:`matching.pooling.batch`), the input of the trip search and the assignment;
* :class:`Trips`, :class:`Assignment` — what the trip search finds and the assignment decides.
"""

from .batch import ASSIGNED, ONBOARD, OPEN, BatchRequests, BatchVehicles
from .params import PoolingParams
from .tripset import Assignment, Trips

__all__ = ["ASSIGNED", "ONBOARD", "OPEN", "Assignment", "BatchRequests", "BatchVehicles", "PoolingParams", "Trips"]
