"""I-MOA, the shared taxi: door-to-door ride pooling matched in batches.

* :class:`PoolingParams` — the service's rules and the batch algorithm's budgets;
* :class:`BatchRequests`, :class:`BatchVehicles` — one batch's requests and vehicles as arrays
  (:mod:`matching.pooling.batch`), the input of the trip search and the assignment;
* :class:`Trips`, :class:`Assignment` — what the trip search finds and the assignment decides;
* :class:`PoolingLedger` — fares paid, drivers' revenue and the pooling KPIs;
* :class:`Rebalancer` (:class:`RebalanceParams`, :class:`DemandMemory`, :func:`plan_rebalancing`) —
  idle taxis sent toward recent unserved demand or a forecast by zone.
"""

from .batch import ASSIGNED, ONBOARD, OPEN, BatchRequests, BatchVehicles
from .ledger import PoolingLedger
from .params import PoolingParams
from .rebalance import DemandMemory, RebalanceParams, RebalancePlan, Rebalancer, ZoneGrid, plan_rebalancing
from .tripset import Assignment, Trips

__all__ = [
    "ASSIGNED",
    "ONBOARD",
    "OPEN",
    "Assignment",
    "BatchRequests",
    "BatchVehicles",
    "DemandMemory",
    "PoolingLedger",
    "PoolingParams",
    "RebalanceParams",
    "RebalancePlan",
    "Rebalancer",
    "Trips",
    "ZoneGrid",
    "plan_rebalancing",
]
