"""OR-Tools (routing library, ``pywrapcp``) as the DARP peer, modelled as fairly as we can.

Every time and cost is scaled by :data:`~benchmarks.peers.SCALE` (100) to an integer, rounded
so that a solution feasible in the integer model is feasible in the float model within the
checker's tolerance: travel-plus-service times and opening times round **up**, closing
times and limits round **down**; costs round to the nearest integer (they decide nothing
about feasibility, and the reported cost is recomputed in float by the checker). OR-Tools
node ``i`` is our node ``i``; vehicles keep their start and end nodes.

How each constraint is modelled:

* **Cost**: ``travel_cost`` as a transit matrix (``RegisterTransitMatrix``, evaluated in
  C++, no Python callback), the arc cost of every vehicle.
* **Time**: a dimension over the transit matrix ``service[i] + travel_time[i, j]``, so the
  cumul of a node is its service start; slack up to the horizon lets a vehicle wait; the
  cumul of every node (and of each vehicle's start and end) is bounded by its time window.
* **Capacity**: one dimension per load dimension over the node demands
  (``RegisterUnaryTransitVector``), capped by each vehicle's capacity, starting at its
  ``start_load``.
* **Pairing**: ``AddPickupAndDelivery`` for every request, with the two vehicle variables
  equal and the pickup's time cumul at most the delivery's (precedence).
* **Ride time**: ``SetPickupToDeliveryLimitFunctionForPair`` on the time dimension. OR-Tools
  bounds ``cumul(delivery) - cumul(pickup)``, a difference of service *starts*; our ride time
  is ``B[delivery] - (B[pickup] + service[pickup])``, so the limit passed is
  ``max_ride + service[pickup]`` (rounded down after scaling). OR-Tools' filters and its
  scheduling optimisers then enforce it in the search itself.
* **Route duration**: ``SetSpanUpperBoundForVehicle`` (end cumul minus start cumul).
* **Optional requests**: the pickup and the delivery of every request each sit in a
  disjunction with a penalty far above any possible routing cost, so a first solution always
  exists; a dropped request shows in the checker's verdict (``status == "infeasible"``).
* **Pinned / on-board requests**: ``SetAllowedVehiclesForIndex`` with the one vehicle.

Search: first solution ``PARALLEL_CHEAPEST_INSERTION``, then ``GUIDED_LOCAL_SEARCH`` until
the time limit. OR-Tools' routing search runs on one thread (9.x has no worker option in
its routing parameters; one is set if a future version adds it) and has no random seed:
``seed`` is accepted for a uniform peer interface and has no effect. Open routes
(``vehicle_end == -1``) are not supported.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from routing.errors import InvalidArgumentError
from routing.problem import END, START, PDProblem

from . import PeerResult, check_time_limit, judged, scale_down, scale_round, scale_up

#: Penalty for a dropped node, as a multiple of the largest possible total routing cost.
DROP_PENALTY_FACTOR = 100


def _import_ortools() -> tuple[Any, Any]:
    try:
        from ortools.constraint_solver import pywrapcp, routing_enums_pb2
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("the OR-Tools peer needs the 'ortools' package (pip install ortools)") from exc
    return pywrapcp, routing_enums_pb2


def _horizon(problem: PDProblem) -> int:
    """An upper bound on every scaled service start: the latest finite closing time, or a generous sum."""
    late = problem.tw_late[np.isfinite(problem.tw_late)]
    if late.size:
        return int(scale_down(np.array([late.max()]))[0])
    early = problem.tw_early[np.isfinite(problem.tw_early)]
    total = problem.travel_time.max(initial=0.0) * (problem.num_nodes + 1) + problem.service.sum()
    return int(scale_up(np.array([total + max(early.max(initial=0.0), 0.0)]))[0])


def _time_matrix(problem: PDProblem) -> list[list[int]]:
    transit = scale_up(problem.service[:, None] + problem.travel_time)
    return [[int(v) for v in row] for row in transit]


def _window(problem: PDProblem, node: int, horizon: int) -> tuple[int, int]:
    early, late = problem.tw_early[node], problem.tw_late[node]
    lo = int(scale_up(np.array([early]))[0]) if math.isfinite(early) else 0
    hi = int(scale_down(np.array([late]))[0]) if math.isfinite(late) else horizon
    return max(lo, 0), min(hi, horizon)


def _check_supported(problem: PDProblem) -> None:
    if (problem.vehicle_end < 0).any():
        raise InvalidArgumentError("problem", "open routes (vehicle_end -1) are not supported by the OR-Tools peer")
    if (problem.tw_late < 0).any():
        raise InvalidArgumentError("problem", "negative closing times are not supported by the OR-Tools peer", ">= 0")


class _Model:
    """The OR-Tools model of one problem; keeps every object OR-Tools calls back alive."""

    def __init__(self, problem: PDProblem) -> None:
        self.pywrapcp, self.enums = _import_ortools()
        self.problem = problem
        starts = [int(v) for v in problem.vehicle_start]
        ends = [int(v) for v in problem.vehicle_end]
        self.manager = self.pywrapcp.RoutingIndexManager(problem.num_nodes, problem.num_vehicles, starts, ends)
        self.routing = self.pywrapcp.RoutingModel(self.manager)
        self.horizon = _horizon(problem)
        self.keep_alive: list[Callable[[int, int], int]] = []
        self._add_cost()
        self.time = self._add_time()
        self._add_capacity()
        self._add_requests()
        self._deactivate_unused()

    def _index(self, node: int) -> int:
        return int(self.manager.NodeToIndex(node))

    def _add_cost(self) -> None:
        cost = scale_round(self.problem.travel_cost)
        callback = self.routing.RegisterTransitMatrix([[int(v) for v in row] for row in cost])
        self.routing.SetArcCostEvaluatorOfAllVehicles(callback)
        self.max_total_cost = int(cost.max(initial=0)) * (self.problem.num_nodes + self.problem.num_vehicles) + 1

    def _add_time(self) -> Any:
        problem, routing = self.problem, self.routing
        callback = routing.RegisterTransitMatrix(_time_matrix(problem))
        routing.AddDimension(callback, self.horizon, self.horizon, False, "time")
        dim = routing.GetDimensionOrDie("time")
        for node in range(problem.num_nodes):
            if problem.kind[node] in (START, END):  # depots: set per vehicle below
                continue
            dim.CumulVar(self._index(node)).SetRange(*_window(problem, node, self.horizon))
        for v in range(problem.num_vehicles):
            dim.CumulVar(routing.Start(v)).SetRange(*_window(problem, int(problem.vehicle_start[v]), self.horizon))
            dim.CumulVar(routing.End(v)).SetRange(*_window(problem, int(problem.vehicle_end[v]), self.horizon))
            if math.isfinite(problem.max_duration[v]):
                dim.SetSpanUpperBoundForVehicle(int(scale_down(problem.max_duration[v : v + 1])[0]), v)
        return dim

    def _add_capacity(self) -> None:
        problem, routing = self.problem, self.routing
        for d in range(problem.num_dims):
            callback = routing.RegisterUnaryTransitVector([int(x) for x in problem.demand[:, d]])
            caps = [int(c) for c in problem.capacity[:, d]]
            routing.AddDimensionWithVehicleCapacity(callback, 0, caps, False, f"load{d}")
            dim = routing.GetDimensionOrDie(f"load{d}")
            for v in range(problem.num_vehicles):
                dim.CumulVar(routing.Start(v)).SetValue(int(problem.start_load[v, d]))

    def _add_requests(self) -> None:
        problem, routing = self.problem, self.routing
        solver = routing.solver()
        penalty = DROP_PENALTY_FACTOR * self.max_total_cost
        pair = 0
        for q in range(problem.num_requests):
            p, d, vehicle = int(problem.pickup[q]), int(problem.delivery[q]), int(problem.request_vehicle[q])
            di = self._index(d)
            routing.AddDisjunction([di], penalty)
            if vehicle >= 0:
                routing.SetAllowedVehiclesForIndex([vehicle], di)
            if p < 0:
                continue
            pi = self._index(p)
            routing.AddDisjunction([pi], penalty)
            if vehicle >= 0:
                routing.SetAllowedVehiclesForIndex([vehicle], pi)
            routing.AddPickupAndDelivery(pi, di)
            solver.Add(routing.VehicleVar(pi) == routing.VehicleVar(di))
            solver.Add(self.time.CumulVar(pi) <= self.time.CumulVar(di))
            if math.isfinite(problem.max_ride[q]):
                limit = int(scale_down(np.array([problem.max_ride[q] + problem.service[p]]))[0])
                self._ride_limit(limit, pair)
            pair += 1

    def _deactivate_unused(self) -> None:
        """Nodes no vehicle starts or ends at and no request uses must stay unvisited."""
        problem = self.problem
        used = set(problem.vehicle_start.tolist()) | set(problem.vehicle_end.tolist())
        used |= set(problem.pickup.tolist()) | set(problem.delivery.tolist())
        solver = self.routing.solver()
        for node in range(problem.num_nodes):
            if node not in used:
                solver.Add(self.routing.ActiveVar(self._index(node)) == 0)

    def _ride_limit(self, limit: int, pair: int) -> None:
        def limit_function(pickup_alternative: int, delivery_alternative: int) -> int:
            return limit

        self.keep_alive.append(limit_function)
        self.time.SetPickupToDeliveryLimitFunctionForPair(limit_function, pair)

    def search_parameters(self, time_limit_s: float) -> Any:
        params = self.pywrapcp.DefaultRoutingSearchParameters()
        params.first_solution_strategy = self.enums.FirstSolutionStrategy.PARALLEL_CHEAPEST_INSERTION
        params.local_search_metaheuristic = self.enums.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
        params.time_limit.FromMilliseconds(max(1, int(time_limit_s * 1000)))
        fields = params.DESCRIPTOR.fields_by_name
        for name in ("num_search_workers", "number_of_workers", "num_workers"):
            if name in fields:
                setattr(params, name, 1)
        return params

    def routes(self, solution: Any) -> list[list[int]]:
        routing, manager = self.routing, self.manager
        out: list[list[int]] = []
        for v in range(self.problem.num_vehicles):
            stops: list[int] = []
            index = solution.Value(routing.NextVar(routing.Start(v)))
            while not routing.IsEnd(index):
                stops.append(int(manager.IndexToNode(index)))
                index = solution.Value(routing.NextVar(index))
            out.append(stops)
        return out

    def status_name(self) -> str:
        code = int(self.routing.status())
        statuses = getattr(self.enums, "RoutingSearchStatus", None)
        if statuses is None:
            return str(code)
        return str(dict((value, name) for name, value in statuses.Value.items()).get(code, code))


def solve_with_ortools(problem: PDProblem, time_limit_s: float, seed: int = 0) -> PeerResult:
    """Solve with OR-Tools' routing library (see the module docstring); routes judged by the checker.

    ``seed`` has no effect (OR-Tools' routing search has no random seed). The runtime covers
    building the model and the search.
    """
    limit = check_time_limit(time_limit_s)
    _check_supported(problem)
    started = time.perf_counter()
    model = _Model(problem)
    solution = model.routing.SolveWithParameters(model.search_parameters(limit))
    routes = None if solution is None else model.routes(solution)
    return judged(problem, routes, time.perf_counter() - started, model.status_name())
